"""WAV files: one reader for every command (any common WAV in, PCM16 mono out), and a writer.

`read_wav` reads 8/16/24/32-bit PCM, 32/64-bit float, μ-law and A-law WAV files, plain or
WAVE_FORMAT_EXTENSIBLE, with any number of channels (mixed down to mono). Anything else is an
AudioFormatError that says how to convert the file.
"""

from __future__ import annotations

import io
import struct
import wave
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

from voxrelay.audio.g711 import alaw_decode, ulaw_decode
from voxrelay.audio.pcm import (
    SAMPLE_RATES,
    SAMPLE_WIDTH,
    check_rate,
    duration_s,
    float_to_int16,
    to_bytes,
    to_int16,
)
from voxrelay.audio.resample import resample
from voxrelay.errors import AudioFileError, AudioFormatError

Floats = npt.NDArray[np.float64]

PCM, FLOAT, ALAW, MULAW, EXTENSIBLE = 1, 3, 6, 7, 0xFFFE
"""WAVE format tags voxrelay reads (EXTENSIBLE carries one of the others in its sub-format)."""
_TAG_NAMES = {2: "MS ADPCM", 0x11: "IMA ADPCM", 0x31: "GSM 6.10", 0x50: "MPEG", 0x55: "MP3"}
_MAGIC = {b"ID3": "MP3", b"OggS": "Ogg", b"fLaC": "FLAC", b"FORM": "AIFF", b"RF64": "RF64"}


@dataclass(frozen=True)
class WavAudio:
    """Mono PCM16 audio read from a WAV file."""

    pcm: bytes
    """16-bit signed little-endian mono samples."""
    sample_rate: int
    """Samples per second."""

    @property
    def duration_s(self) -> float:
        """Length in seconds."""
        return duration_s(self.pcm, self.sample_rate)


@dataclass(frozen=True)
class WavFormat:
    """What a WAV file's `fmt ` chunk says."""

    tag: int
    """Encoding: PCM, FLOAT, ALAW or MULAW (an EXTENSIBLE file's sub-format)."""
    channels: int
    rate: int
    bits: int
    """Bits per sample of one channel, as stored."""


def read_wav(source: str | Path | bytes, rate: int | None = None) -> WavAudio:
    """Read a WAV file (path or bytes) as PCM16 mono, at `rate` if given, else at its own rate.

    Without `rate`, the file's rate must be one voxrelay uses (`SAMPLE_RATES`); with it, any
    rate is converted.
    """
    name = "<bytes>" if isinstance(source, bytes) else str(source)
    data = source if isinstance(source, bytes) else _read_file(Path(source))
    fmt, raw = wav_chunks(name, data)
    samples = _samples(name, fmt, raw)
    if fmt.channels > 1:
        frames = len(samples) // fmt.channels
        samples = samples[: frames * fmt.channels].reshape(frames, fmt.channels).mean(axis=1)
    pcm = to_bytes(float_to_int16(samples))
    if not pcm:
        raise AudioFormatError(f"{name} holds no audio samples; record something first")
    if rate is None:
        return WavAudio(pcm, _own_rate(name, fmt.rate))
    return WavAudio(_convert_rate(pcm, fmt.rate, check_rate(rate)), rate)


def _read_file(path: Path) -> bytes:
    if not path.exists():
        raise AudioFileError(str(path), "no such file; check the path")
    if not path.is_file():
        raise AudioFileError(str(path), "not a regular file")
    try:
        return path.read_bytes()
    except OSError as e:
        raise AudioFileError(str(path), e.strerror or str(e)) from None


def wav_chunks(name: str, data: bytes) -> tuple[WavFormat, bytes]:
    """The format and the sample bytes of a RIFF/WAVE file; AudioFormatError if it is none."""
    if len(data) < 12 or data[:4] != b"RIFF" or data[8:12] != b"WAVE":
        raise AudioFormatError(_not_wav(name, data))
    fmt: WavFormat | None = None
    pos = 12
    while pos + 8 <= len(data):
        cid, size = data[pos : pos + 4], struct.unpack("<I", data[pos + 4 : pos + 8])[0]
        body = data[pos + 8 : pos + 8 + size]
        if cid == b"fmt ":
            fmt = _parse_fmt(name, body)
        elif cid == b"data":
            if fmt is None:
                raise AudioFormatError(f"{name} is not a valid WAV file (data before fmt)")
            return fmt, body
        pos += 8 + size + (size & 1)
    raise AudioFormatError(f"{name} is not a valid WAV file (missing fmt or data chunk)")


def _not_wav(name: str, data: bytes) -> str:
    """Why a file is not a WAV, and how to convert it."""
    kind = next((k for magic, k in _MAGIC.items() if data.startswith(magic)), None)
    if kind is None and len(data) > 1 and data[0] == 0xFF and data[1] & 0xE0 == 0xE0:
        kind = "MP3"  # an MPEG audio frame without an ID3 tag
    what = f"it looks like {kind}" if kind else "no RIFF/WAVE header"
    return (
        f"{name} is not a WAV file ({what}); convert it to WAV first, e.g. "
        f"`ffmpeg -i {name} -ac 1 -ar 16000 out.wav` or `sox {name} out.wav`"
    )


def _parse_fmt(name: str, body: bytes) -> WavFormat:
    if len(body) < 16:
        raise AudioFormatError(f"{name} is not a valid WAV file (short fmt chunk)")
    tag, channels, rate, _, _, bits = struct.unpack("<HHIIHH", body[:16])
    if tag == EXTENSIBLE and len(body) >= 26:
        tag = struct.unpack("<H", body[24:26])[0]  # the sub-format GUID starts with the tag
    if tag not in (PCM, FLOAT, ALAW, MULAW) or channels < 1 or rate < 1:
        encoding = _TAG_NAMES.get(tag, f"format tag {tag}")
        raise AudioFormatError(
            f"{name} uses WAV encoding {encoding} ({channels} ch, {rate} Hz); voxrelay reads "
            "PCM, float, μ-law or A-law WAV; convert it, e.g. "
            f"`sox {name} -b 16 -e signed-integer out.wav`"
        )
    return WavFormat(tag, channels, rate, bits)


def _samples(name: str, fmt: WavFormat, raw: bytes) -> Floats:
    """Interleaved samples as floats in [-1, 1)."""
    width = (fmt.bits + 7) // 8
    raw = raw[: len(raw) // max(width, 1) * max(width, 1)]
    if fmt.tag in (ALAW, MULAW) and width == 1:
        pcm = ulaw_decode(raw) if fmt.tag == MULAW else alaw_decode(raw)
        return to_int16(pcm, allow_empty=True).astype(np.float64) / 32768.0
    if fmt.tag == FLOAT and width in (4, 8):
        return np.frombuffer(raw, dtype=f"<f{width}").astype(np.float64)
    if fmt.tag == PCM and width == 1:
        return (np.frombuffer(raw, dtype=np.uint8).astype(np.float64) - 128.0) / 128.0
    if fmt.tag == PCM and width in (2, 4):
        wide = np.frombuffer(raw, dtype=f"<i{width}").astype(np.float64)
        return wide / float(2 ** (8 * width - 1))
    if fmt.tag == PCM and width == 3:
        b = np.frombuffer(raw, dtype=np.uint8).reshape(-1, 3).astype(np.int32)
        packed = b[:, 0] | (b[:, 1] << 8) | (b[:, 2] << 16)
        signed = np.where(packed >= 1 << 23, packed - (1 << 24), packed)
        return signed.astype(np.float64) / float(1 << 23)
    raise AudioFormatError(
        f"{name} has {fmt.bits}-bit samples, which voxrelay cannot read; it reads 8/16/24/32-bit "
        f"PCM and 32/64-bit float; convert it, e.g. `sox {name} -b 16 out.wav`"
    )


def _own_rate(name: str, rate: int) -> int:
    if rate not in SAMPLE_RATES:
        rates = ", ".join(str(r) for r in SAMPLE_RATES)
        raise AudioFormatError(
            f"{name} is sampled at {rate} Hz; voxrelay works at {rates} Hz "
            f"(convert it, e.g. `sox {name} -r 16000 out.wav`)"
        )
    return rate


def _convert_rate(pcm: bytes, from_rate: int, to_rate: int) -> bytes:
    if from_rate in SAMPLE_RATES:
        return resample(pcm, from_rate, to_rate)
    try:
        import soxr
    except ImportError:
        raise AudioFormatError(
            f"converting {from_rate} Hz audio needs `soxr`: pip install 'voxrelay[speech]'"
        ) from None
    x = to_int16(pcm)
    return to_bytes(np.asarray(soxr.resample(x, from_rate, to_rate), dtype=np.int16))


def wav_bytes(pcm: bytes, sample_rate: int) -> bytes:
    """A complete mono 16-bit WAV file holding `pcm`."""
    to_int16(pcm, allow_empty=True)
    check_rate(sample_rate)
    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(SAMPLE_WIDTH)
        w.setframerate(sample_rate)
        w.writeframes(pcm)
    return buf.getvalue()


def write_wav(path: str | Path, pcm: bytes, sample_rate: int) -> Path:
    """Write mono PCM16 audio to a WAV file; returns the path."""
    target = Path(path)
    data = wav_bytes(pcm, sample_rate)
    try:
        target.write_bytes(data)
    except OSError as e:
        raise AudioFileError(str(target), e.strerror or str(e)) from None
    return target
