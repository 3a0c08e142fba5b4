"""PCM16 mono buffers: validation, conversion, fixed-duration frames and levels."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import numpy.typing as npt

from voxrelay.errors import AudioFormatError

Int16Array = npt.NDArray[np.int16]
Float32Array = npt.NDArray[np.float32]

SAMPLE_RATES = (8000, 16000, 22050, 24000, 32000, 44100, 48000)
"""The sample rates voxrelay converts between."""
SAMPLE_WIDTH = 2
"""Bytes per sample: voxrelay audio is always 16-bit signed little-endian mono."""


def check_rate(sample_rate: int) -> int:
    """Return `sample_rate` if voxrelay supports it, else raise AudioFormatError."""
    if sample_rate not in SAMPLE_RATES:
        rates = ", ".join(str(r) for r in SAMPLE_RATES)
        raise AudioFormatError(f"unsupported sample rate {sample_rate} Hz; use one of {rates}")
    return sample_rate


def to_int16(pcm: bytes | bytearray | memoryview, *, allow_empty: bool = False) -> Int16Array:
    """View PCM16 bytes as int16 samples; odd lengths and (unless allowed) empty input fail."""
    if len(pcm) % SAMPLE_WIDTH:
        raise AudioFormatError(
            f"PCM16 audio must have an even number of bytes, got {len(pcm)}; "
            "is it 8-bit or G.711? Decode it to 16-bit PCM first"
        )
    if not pcm and not allow_empty:
        raise AudioFormatError("audio buffer is empty; send at least one frame of PCM16 audio")
    samples: Int16Array = np.frombuffer(pcm, dtype="<i2").astype(np.int16, copy=False)
    return samples


def to_bytes(samples: Int16Array) -> bytes:
    """PCM16 little-endian bytes of int16 samples."""
    return samples.astype("<i2", copy=False).tobytes()


def int16_to_float(samples: Int16Array) -> Float32Array:
    """Scale int16 samples to float32 in [-1, 1)."""
    return (samples.astype(np.float32) / 32768.0).astype(np.float32, copy=False)


def float_to_int16(samples: npt.NDArray[np.floating]) -> Int16Array:
    """Scale float samples in [-1, 1] to int16, clipping anything outside."""
    scaled = np.clip(np.rint(np.asarray(samples, dtype=np.float64) * 32768.0), -32768, 32767)
    out: Int16Array = scaled.astype(np.int16)
    return out


def samples_for(ms: float, sample_rate: int) -> int:
    """How many samples last `ms` milliseconds at `sample_rate`."""
    return round(ms * sample_rate / 1000)


def duration_s(pcm: bytes, sample_rate: int) -> float:
    """Seconds of audio in a PCM16 buffer."""
    return len(pcm) / SAMPLE_WIDTH / sample_rate


def frames(pcm: bytes, sample_rate: int, frame_ms: float, *, pad: bool = False) -> Iterator[bytes]:
    """Cut PCM16 audio into frames of `frame_ms`; a short tail is zero-padded or dropped."""
    to_int16(pcm, allow_empty=True)
    size = samples_for(frame_ms, sample_rate) * SAMPLE_WIDTH
    if size <= 0:
        raise AudioFormatError(f"frame of {frame_ms} ms at {sample_rate} Hz holds no samples")
    for start in range(0, len(pcm), size):
        chunk = pcm[start : start + size]
        if len(chunk) == size:
            yield chunk
        elif pad:
            yield chunk + bytes(size - len(chunk))


class FrameBuffer:
    """Collects PCM16 pushes of any size and hands back whole frames of a fixed size."""

    def __init__(self, frame_samples: int) -> None:
        if frame_samples <= 0:
            raise AudioFormatError(f"frame size must be positive, got {frame_samples}")
        self.frame_bytes = frame_samples * SAMPLE_WIDTH
        self._pending = bytearray()

    def push(self, pcm: bytes) -> list[bytes]:
        """Add audio; return every whole frame now available."""
        to_int16(pcm, allow_empty=True)
        self._pending += pcm
        n = len(self._pending) // self.frame_bytes * self.frame_bytes
        size = self.frame_bytes
        out = [bytes(self._pending[i : i + size]) for i in range(0, n, size)]
        del self._pending[:n]
        return out

    def flush(self) -> bytes:
        """The leftover partial frame, zero-padded to a whole frame (empty if none)."""
        if not self._pending:
            return b""
        frame = bytes(self._pending) + bytes(self.frame_bytes - len(self._pending))
        self._pending.clear()
        return frame

    @property
    def pending_samples(self) -> int:
        """Samples held back waiting for a whole frame."""
        return len(self._pending) // SAMPLE_WIDTH


def rms(pcm: bytes) -> float:
    """Root-mean-square level of PCM16 audio, as a fraction of full scale (0 for empty)."""
    x = int16_to_float(to_int16(pcm, allow_empty=True)).astype(np.float64)
    return float(np.sqrt(np.mean(x * x))) if x.size else 0.0


def peak(pcm: bytes) -> float:
    """Peak absolute level of PCM16 audio, as a fraction of full scale (0 for empty)."""
    x = to_int16(pcm, allow_empty=True)
    return float(np.max(np.abs(x.astype(np.int32)))) / 32768.0 if x.size else 0.0


def dbfs(level: float) -> float:
    """A level as decibels relative to full scale (-120 for silence)."""
    return 20.0 * float(np.log10(level)) if level > 1e-6 else -120.0


def silence(ms: float, sample_rate: int) -> bytes:
    """PCM16 silence of `ms` milliseconds."""
    return bytes(samples_for(ms, sample_rate) * SAMPLE_WIDTH)
