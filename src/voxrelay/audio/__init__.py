"""Audio utilities: PCM16 frames, levels, resampling, G.711 and WAV; all I/O-free but WAV files."""

from voxrelay.audio.g711 import alaw_decode, alaw_encode, ulaw_decode, ulaw_encode
from voxrelay.audio.pcm import (
    SAMPLE_RATES,
    SAMPLE_WIDTH,
    FrameBuffer,
    check_rate,
    dbfs,
    duration_s,
    float_to_int16,
    frames,
    int16_to_float,
    peak,
    rms,
    samples_for,
    silence,
    to_bytes,
    to_int16,
)
from voxrelay.audio.resample import StreamResampler, resample
from voxrelay.audio.wav import WavAudio, read_wav, wav_bytes, write_wav

__all__ = [
    "SAMPLE_RATES",
    "SAMPLE_WIDTH",
    "FrameBuffer",
    "StreamResampler",
    "WavAudio",
    "alaw_decode",
    "alaw_encode",
    "check_rate",
    "dbfs",
    "duration_s",
    "float_to_int16",
    "frames",
    "int16_to_float",
    "peak",
    "read_wav",
    "resample",
    "rms",
    "samples_for",
    "silence",
    "to_bytes",
    "to_int16",
    "ulaw_decode",
    "ulaw_encode",
    "wav_bytes",
    "write_wav",
]
