"""Transports: how audio reaches a voice Session (WAV files, local microphone and speaker)."""
