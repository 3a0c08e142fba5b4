"""The input audio buffer: wire formats in, turn events and committed turns out (I/O-free)."""

from __future__ import annotations

from dataclasses import dataclass

from voxrelay.audio import wire
from voxrelay.audio.pcm import SAMPLE_WIDTH, samples_for
from voxrelay.audio.resample import resample
from voxrelay.audio.wire import encode_audio as encode_audio
from voxrelay.audio.wire import format_rate as format_rate
from voxrelay.errors import AudioFormatError, ProtocolError
from voxrelay.realtime.types import AudioFormat, TurnDetection
from voxrelay.speech.base import VAD
from voxrelay.speech.turns import SpeechStarted, SpeechStopped, TurnConfig, TurnDetector

STT_RATE = 16000
MIN_COMMIT_MS = 100
MAX_APPEND_BYTES = 15 * 1024 * 1024
MAX_BUFFER_S = 300
"""Uncommitted audio kept for a manual commit; older audio is dropped."""


@dataclass(frozen=True)
class Turn:
    """Committed user audio, ready for transcription."""

    audio: bytes
    """PCM16 mono at `STT_RATE`."""
    speech_end_ms: int | None = None
    """Where speech really ended, in ms of the input stream (known with server VAD)."""
    audio_end_ms: int | None = None
    """Where the turn's audio ends (the VAD fired), in ms of the input stream."""


def decode_audio(data: str, fmt: AudioFormat | None) -> bytes:
    """Base64 wire audio to PCM16 at `format_rate(fmt)`; ProtocolError on bad input."""
    if len(data) > MAX_APPEND_BYTES * 4 // 3 + 4:
        raise ProtocolError(
            "audio_too_large",
            f"one append may carry at most {MAX_APPEND_BYTES // (1024 * 1024)} MiB of audio; "
            "send it in smaller pieces",
            param="audio",
        )
    try:
        return wire.decode_audio(data, fmt)
    except AudioFormatError as exc:
        raise ProtocolError("invalid_audio", str(exc), param="audio") from exc


def turn_config(detection: TurnDetection) -> TurnConfig:
    """The detector's knobs from a session's `server_vad` settings."""
    default = TurnConfig()
    return TurnConfig(
        threshold=detection.threshold or default.threshold,
        prefix_padding_ms=(
            default.prefix_padding_ms
            if detection.prefix_padding_ms is None
            else detection.prefix_padding_ms
        ),
        silence_duration_ms=detection.silence_duration_ms or default.silence_duration_ms,
    )


class InputBuffer:
    """Uncommitted user audio, with optional server-side turn detection over it."""

    def __init__(self, rate: int, detector: TurnDetector | None) -> None:
        self.rate = rate
        self.detector = detector
        self._pcm = bytearray()
        self._max_bytes = samples_for(MAX_BUFFER_S * 1000, rate) * SAMPLE_WIDTH

    @classmethod
    def create(
        cls, fmt: AudioFormat | None, detection: TurnDetection | None, vad: VAD | None
    ) -> InputBuffer:
        """A buffer for a session's input format and turn detection (None: push-to-talk)."""
        rate = format_rate(fmt)
        detector = None
        if detection is not None and vad is not None:
            detector = TurnDetector(vad, turn_config(detection), input_rate=rate)
        return cls(rate, detector)

    def append(self, pcm: bytes) -> list[SpeechStarted | SpeechStopped]:
        """Add audio at `rate`; return the turn events it caused."""
        self._pcm += pcm
        if len(self._pcm) > self._max_bytes:
            del self._pcm[: len(self._pcm) - self._max_bytes]
        if self.detector is None:
            return []
        events = self.detector.push(pcm)
        if any(isinstance(e, SpeechStopped) for e in events):
            self._pcm.clear()
        return events

    def commit(self) -> Turn:
        """Commit the buffer (closing an open detected turn); AudioFormatError if too short."""
        if self.detector is not None and self.detector.in_speech:
            stops = [e for e in self.detector.flush() if isinstance(e, SpeechStopped)]
            if stops:
                self._pcm.clear()
                return detected_turn(stops[-1])
        pcm, self._pcm = bytes(self._pcm), bytearray()
        if self.detector is not None:
            self.detector.reset()
        if len(pcm) < samples_for(MIN_COMMIT_MS, self.rate) * SAMPLE_WIDTH:
            got = len(pcm) // SAMPLE_WIDTH * 1000 // self.rate
            raise AudioFormatError(
                f"buffer too small: expected at least {MIN_COMMIT_MS} ms of audio, got {got} ms"
            )
        return Turn(resample(pcm, self.rate, STT_RATE))

    def clear(self) -> None:
        """Drop uncommitted audio and any turn in progress."""
        self._pcm.clear()
        if self.detector is not None:
            self.detector.reset()


def detected_turn(stop: SpeechStopped) -> Turn:
    """A Turn from the detector's speech-stopped event."""
    audio = resample(stop.audio, stop.sample_rate, STT_RATE)
    return Turn(
        audio,
        speech_end_ms=stop.end_sample * 1000 // stop.sample_rate,
        audio_end_ms=stop.audio_end_ms,
    )
