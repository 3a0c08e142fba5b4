"""Test audio made at test time with the local Piper voice (never fetched)."""

from __future__ import annotations

from functools import cache

from voxrelay.audio import resample
from voxrelay.speech.tts import PiperTTS


@cache
def piper() -> PiperTTS:
    """One loaded Piper voice per test session."""
    tts = PiperTTS("joe")
    tts.load()
    return tts


@cache
def speech(text: str, rate: int = 16000) -> bytes:
    """PCM16 speech for `text` at `rate`, synthesized once and cached."""
    return resample(piper().speak_sync(text), PiperTTS.sample_rate, rate)
