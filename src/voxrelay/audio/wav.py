"""WAV files: PCM16 read and write, with clear errors for anything else."""

from __future__ import annotations

import io
import wave
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from voxrelay.audio.pcm import SAMPLE_WIDTH, check_rate, duration_s, to_bytes, to_int16
from voxrelay.errors import AudioFileError, AudioFormatError


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


def read_wav(source: str | Path | bytes) -> WavAudio:
    """Read a 16-bit PCM WAV (path or bytes); stereo is mixed down to mono."""
    name = "<bytes>" if isinstance(source, bytes) else str(source)
    if isinstance(source, bytes):
        data = source
    else:
        data = _read_file(Path(source))
    try:
        with wave.open(io.BytesIO(data), "rb") as w:
            channels, width, rate = w.getnchannels(), w.getsampwidth(), w.getframerate()
            raw = w.readframes(w.getnframes())
    except (wave.Error, EOFError) as e:
        raise AudioFormatError(f"{name} is not a valid PCM WAV file ({e})") from None
    return _decode(name, raw, channels, width, rate)


def _read_file(path: Path) -> bytes:
    if not path.exists():
        raise AudioFileError(str(path), "no such file; check the path")
    if not path.is_file():
        raise AudioFileError(str(path), "not a regular file")
    try:
        return path.read_bytes()
    except OSError as e:
        raise AudioFileError(str(path), e.strerror or str(e)) from None


def _decode(name: str, raw: bytes, channels: int, width: int, rate: int) -> WavAudio:
    if width != SAMPLE_WIDTH:
        raise AudioFormatError(
            f"{name} has {8 * width}-bit samples; voxrelay reads 16-bit PCM WAV "
            f"(convert it, e.g. `sox {name} -b 16 out.wav`)"
        )
    check_rate(rate)
    if not raw:
        raise AudioFormatError(f"{name} holds no audio samples")
    samples = to_int16(raw[: len(raw) // (2 * channels) * 2 * channels])
    if channels > 1:
        mixed = samples.reshape(-1, channels).astype(np.int32).mean(axis=1)
        samples = np.rint(mixed).astype(np.int16)
    return WavAudio(pcm=to_bytes(samples), sample_rate=rate)


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
