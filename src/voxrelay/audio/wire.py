"""The Realtime wire audio codec: base64 payloads in a session's format <-> PCM16 (I/O-free).

Both sides of the protocol use it: the agent runtime (`session`) for the audio it sends and
receives, and the local engine for `input_audio_buffer.append` and output audio deltas.
Every failure is an AudioFormatError that says what was expected.
"""

from __future__ import annotations

import base64
import binascii

from voxrelay.audio.g711 import alaw_decode, alaw_encode, ulaw_decode, ulaw_encode
from voxrelay.audio.pcm import SAMPLE_RATES, SAMPLE_WIDTH, to_int16
from voxrelay.errors import AudioFormatError
from voxrelay.realtime.types import AudioFormat

PCM_RATE = 24000
"""Rate of `audio/pcm` when a format names none (the Realtime default)."""
G711_RATE = 8000
"""Rate of `audio/pcmu` and `audio/pcma`, fixed by G.711."""
FORMATS = ("audio/pcm", "audio/pcmu", "audio/pcma")


def format_rate(fmt: AudioFormat | None) -> int:
    """Sample rate of a wire format: G.711 is 8 kHz; PCM is its rate, 24 kHz by default."""
    if fmt is None:
        return PCM_RATE
    if fmt.type in ("audio/pcmu", "audio/pcma"):
        return G711_RATE
    return fmt.rate or PCM_RATE


def check_format(fmt: AudioFormat | None) -> int:
    """The format's sample rate, or AudioFormatError if voxrelay cannot carry it."""
    kind = fmt.type if fmt is not None else "audio/pcm"
    if kind not in FORMATS:
        raise AudioFormatError(f"unknown audio format {kind!r}; expected one of {FORMATS}")
    if kind != "audio/pcm":
        return G711_RATE
    rate = fmt.rate if fmt is not None and fmt.rate is not None else PCM_RATE
    if rate not in SAMPLE_RATES:
        rates = ", ".join(str(r) for r in SAMPLE_RATES)
        raise AudioFormatError(f"audio/pcm at {rate} Hz is not supported; expected one of {rates}")
    return rate


def encode_audio(pcm: bytes, fmt: AudioFormat | None) -> str:
    """PCM16 mono at `format_rate(fmt)` -> the base64 payload of an audio event."""
    to_int16(pcm, allow_empty=True)
    kind = fmt.type if fmt is not None else "audio/pcm"
    if kind == "audio/pcmu":
        pcm = ulaw_encode(pcm)
    elif kind == "audio/pcma":
        pcm = alaw_encode(pcm)
    return base64.b64encode(pcm).decode("ascii")


def decode_audio(payload: str, fmt: AudioFormat | None) -> bytes:
    """The base64 payload of an audio event -> PCM16 mono at `format_rate(fmt)`."""
    try:
        data = base64.b64decode(payload, validate=True)
    except (binascii.Error, ValueError):
        raise AudioFormatError(
            "audio is not valid base64; expected base64-encoded audio in the session's format"
        ) from None
    kind = fmt.type if fmt is not None else "audio/pcm"
    if kind == "audio/pcmu":
        return ulaw_decode(data)
    if kind == "audio/pcma":
        return alaw_decode(data)
    if len(data) % SAMPLE_WIDTH:
        raise AudioFormatError(
            f"audio/pcm must be whole 16-bit little-endian samples; got an odd {len(data)} bytes"
        )
    return data
