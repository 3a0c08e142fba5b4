"""Sample-rate conversion of PCM16 audio with soxr (one-shot and streaming)."""

from __future__ import annotations

from typing import Any

import numpy as np

from voxrelay.audio.pcm import check_rate, to_bytes, to_int16
from voxrelay.errors import AudioFormatError

try:
    import soxr
except ImportError:  # pragma: no cover - depends on the install
    soxr = None


def _require_soxr() -> None:
    if soxr is None:
        raise AudioFormatError(
            "resampling needs the `soxr` package: pip install 'voxrelay[speech]'"
        )


def resample(pcm: bytes, from_rate: int, to_rate: int) -> bytes:
    """Convert a whole PCM16 buffer from `from_rate` to `to_rate` (high quality)."""
    check_rate(from_rate)
    check_rate(to_rate)
    samples = to_int16(pcm, allow_empty=True)
    if from_rate == to_rate or samples.size == 0:
        return bytes(pcm)
    _require_soxr()
    out = soxr.resample(samples, from_rate, to_rate, quality="HQ")
    return to_bytes(np.asarray(out, dtype=np.int16))


class StreamResampler:
    """Resamples a PCM16 stream pushed in pieces, keeping filter state between pushes."""

    def __init__(self, from_rate: int, to_rate: int) -> None:
        self.from_rate = check_rate(from_rate)
        self.to_rate = check_rate(to_rate)
        self._stream: Any = None
        if from_rate != to_rate:
            _require_soxr()
            self._stream = soxr.ResampleStream(from_rate, to_rate, 1, dtype="int16")

    def push(self, pcm: bytes) -> bytes:
        """Resample the next piece; output may lag input by the filter delay."""
        samples = to_int16(pcm, allow_empty=True)
        if self._stream is None:
            return bytes(pcm)
        return to_bytes(np.asarray(self._stream.resample_chunk(samples), dtype=np.int16))

    def flush(self) -> bytes:
        """Drain the samples still inside the filter at the end of the stream."""
        if self._stream is None:
            return b""
        empty = np.zeros(0, dtype=np.int16)
        return to_bytes(np.asarray(self._stream.resample_chunk(empty, last=True), dtype=np.int16))
