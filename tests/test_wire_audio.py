"""One wire-audio codec for the runtime and the engine, with one set of errors."""

from __future__ import annotations

import base64

import numpy as np
import pytest

from voxrelay.audio import alaw_decode, alaw_encode, ulaw_decode, ulaw_encode, wire
from voxrelay.engine import audio_in
from voxrelay.errors import AudioFormatError, ProtocolError
from voxrelay.realtime.types import AudioFormat
from voxrelay.session import voice

PCM = AudioFormat(type="audio/pcm", rate=24000)
PCMU = AudioFormat(type="audio/pcmu", rate=None)
PCMA = AudioFormat(type="audio/pcma")
SAMPLES = (np.sin(np.arange(480) / 5) * 12000).astype("<i2").tobytes()


def test_the_runtime_and_the_engine_share_one_codec() -> None:
    for name in ("encode_audio", "format_rate"):
        assert getattr(voice, name) is getattr(wire, name) is getattr(audio_in, name)
    assert voice.decode_audio is wire.decode_audio


@pytest.mark.parametrize(
    ("fmt", "rate"),
    [(None, 24000), (PCM, 24000), (AudioFormat(rate=16000), 16000), (PCMU, 8000), (PCMA, 8000)],
)
def test_format_rate(fmt: AudioFormat | None, rate: int) -> None:
    assert wire.format_rate(fmt) == rate == wire.check_format(fmt)


@pytest.mark.parametrize("rate", [1, 0, -24000, 11111])
def test_check_format_refuses_rates_it_cannot_carry(rate: int) -> None:
    with pytest.raises(AudioFormatError, match=r"audio/pcm at .* Hz is not supported; expected"):
        wire.check_format(AudioFormat(type="audio/pcm", rate=rate))


@pytest.mark.parametrize(
    ("fmt", "codec"),
    [
        (PCM, lambda pcm: pcm),
        (None, lambda pcm: pcm),
        (PCMU, lambda pcm: ulaw_decode(ulaw_encode(pcm))),
        (PCMA, lambda pcm: alaw_decode(alaw_encode(pcm))),
    ],
)
def test_round_trip(fmt: AudioFormat | None, codec) -> None:
    payload = wire.encode_audio(SAMPLES, fmt)
    assert wire.decode_audio(payload, fmt) == codec(SAMPLES)
    wire_bytes = base64.b64decode(payload)
    assert len(wire_bytes) == len(SAMPLES) // (1 if fmt in (PCM, None) else 2)


def test_errors_say_what_was_expected() -> None:
    with pytest.raises(AudioFormatError, match="not valid base64; expected base64-encoded audio"):
        wire.decode_audio("%%%not base64", PCM)
    odd = base64.b64encode(b"\x01\x02\x03").decode()
    with pytest.raises(AudioFormatError, match="whole 16-bit little-endian samples; got an odd 3"):
        wire.decode_audio(odd, PCM)
    assert wire.decode_audio(odd, PCMU) == ulaw_decode(b"\x01\x02\x03")  # G.711: any length
    with pytest.raises(AudioFormatError, match="even number of bytes"):
        wire.encode_audio(b"\x01\x02\x03", PCMU)
    assert wire.encode_audio(b"", PCM) == ""


def test_base64_errors_carry_no_library_text() -> None:
    with pytest.raises(AudioFormatError) as info:
        wire.decode_audio("abc", PCM)  # binascii: "Incorrect padding"
    assert "padding" not in str(info.value).lower()


def test_the_engine_turns_codec_errors_into_protocol_errors() -> None:
    with pytest.raises(ProtocolError, match="not valid base64") as info:
        audio_in.decode_audio("@@", PCM)
    assert (info.value.code, info.value.param) == ("invalid_audio", "audio")
    assert isinstance(info.value.__cause__, AudioFormatError)
    too_big = "A" * (audio_in.MAX_APPEND_BYTES * 4 // 3 + 8)
    with pytest.raises(ProtocolError) as info:
        audio_in.decode_audio(too_big, PCM)
    assert info.value.code == "audio_too_large"
