"""Endpointing with OpenAI `server_vad` semantics, I/O-free: push audio, get turn events back."""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import numpy.typing as npt

from voxrelay.audio.pcm import SAMPLE_WIDTH, FrameBuffer, samples_for, to_int16
from voxrelay.audio.resample import StreamResampler
from voxrelay.errors import ConfigError
from voxrelay.speech.base import VAD


@dataclass(frozen=True)
class TurnConfig:
    """The `server_vad` knobs of the Realtime API."""

    threshold: float = 0.5
    """A frame is speech when the VAD probability reaches this."""
    prefix_padding_ms: int = 300
    """Audio kept before the detected start of speech."""
    silence_duration_ms: int = 500
    """Silence that ends a turn."""
    release: float = 0.15
    """Hysteresis: inside a turn a frame is silence only below `threshold - release`."""

    def __post_init__(self) -> None:
        if not 0.0 < self.threshold <= 1.0:
            raise ConfigError(f"turn detection threshold must be in (0, 1], got {self.threshold}")
        if self.prefix_padding_ms < 0 or self.silence_duration_ms <= 0:
            raise ConfigError(
                "prefix_padding_ms must be >= 0 and silence_duration_ms > 0, got "
                f"{self.prefix_padding_ms} and {self.silence_duration_ms}"
            )


@dataclass(frozen=True)
class SpeechStarted:
    """The VAD heard speech begin."""

    start_sample: int
    """First sample of the first speech frame, counted from the start of the stream."""
    audio_start_sample: int
    """Start of the turn's audio: `start_sample` minus the prefix padding."""
    sample_rate: int
    """Rate that the sample offsets count in."""
    type: Literal["speech_started"] = "speech_started"

    @property
    def audio_start_ms(self) -> int:
        """`audio_start_sample` in milliseconds (the Realtime API's `audio_start_ms`)."""
        return self.audio_start_sample * 1000 // self.sample_rate


@dataclass(frozen=True)
class SpeechStopped:
    """The turn ended: enough silence followed the last speech (or the input ended)."""

    start_sample: int
    """First sample of speech in this turn, refined to 10 ms from the audio level."""
    end_sample: int
    """Sample just after the last speech, refined to 10 ms from the audio level."""
    audio_start_sample: int
    """First sample of `audio` (start minus prefix padding)."""
    audio_end_sample: int
    """Sample just after `audio`: where the silence timer fired."""
    sample_rate: int
    """Rate that the sample offsets count in."""
    audio: bytes = field(repr=False)
    """The padded PCM16 audio of the whole turn."""
    type: Literal["speech_stopped"] = "speech_stopped"

    @property
    def audio_end_ms(self) -> int:
        """`audio_end_sample` in milliseconds (the Realtime API's `audio_end_ms`)."""
        return self.audio_end_sample * 1000 // self.sample_rate


TurnEvent = SpeechStarted | SpeechStopped


class TurnDetector:
    """Runs a VAD over pushed PCM16 audio and reports where turns start and stop."""

    def __init__(
        self, vad: VAD, config: TurnConfig | None = None, *, input_rate: int | None = None
    ) -> None:
        self.vad = vad
        self.config = config or TurnConfig()
        self.sample_rate = vad.sample_rate
        """Rate of the offsets and of each turn's audio (the VAD's rate)."""
        self._resampler = (
            StreamResampler(input_rate, vad.sample_rate)
            if input_rate and input_rate != vad.sample_rate
            else None
        )
        self._frames = FrameBuffer(vad.frame_samples)
        self._prefix_samples = samples_for(self.config.prefix_padding_ms, self.sample_rate)
        self._silence_samples = samples_for(self.config.silence_duration_ms, self.sample_rate)
        self._position = 0
        self._reset_turn_state()

    @property
    def in_speech(self) -> bool:
        """True between speech-started and speech-stopped."""
        return self._start is not None

    @property
    def position(self) -> int:
        """Samples (at the VAD's rate) consumed so far."""
        return self._position

    def push(self, pcm: bytes) -> list[TurnEvent]:
        """Feed audio at `input_rate` (default: the VAD's rate); return the events it caused."""
        if self._resampler is not None:
            pcm = self._resampler.push(pcm)
        return self._push_frames(pcm)

    def _push_frames(self, pcm: bytes) -> list[TurnEvent]:
        events: list[TurnEvent] = []
        for frame in self._frames.push(pcm):
            event = self._frame(frame)
            if event is not None:
                events.append(event)
        return events

    def flush(self) -> list[TurnEvent]:
        """End of input: close an open turn with what is buffered."""
        events: list[TurnEvent] = []
        if self._resampler is not None:
            rs = self._resampler
            events = self._push_frames(rs.flush())
            self._resampler = StreamResampler(rs.from_rate, rs.to_rate)
        tail_samples = self._frames.pending_samples
        tail = self._frames.flush()[: tail_samples * SAMPLE_WIDTH]
        self._position += tail_samples
        if self._start is None:
            return events
        self._turn.append(tail)
        return [*events, self._stop()]

    def reset(self) -> None:
        """Drop any turn in progress and the VAD state; the sample clock keeps running."""
        self.vad.reset()
        self._position += self._frames.pending_samples
        self._frames.flush()
        if self._resampler is not None:
            self._resampler = StreamResampler(self._resampler.from_rate, self._resampler.to_rate)
        self._reset_turn_state()

    def _reset_turn_state(self) -> None:
        self._prefix: deque[bytes] = deque()
        self._turn: list[bytes] = []
        self._start: int | None = None
        self._audio_start = 0
        self._last_speech_end = 0

    def _frame(self, frame: bytes) -> TurnEvent | None:
        p = self.vad.probability(frame)
        start, self._position = self._position, self._position + len(frame) // SAMPLE_WIDTH
        if self._start is None:
            return self._idle_frame(frame, start, p)
        self._turn.append(frame)
        if p >= self.config.threshold - self.config.release:
            self._last_speech_end = self._position
        elif self._position - self._last_speech_end >= self._silence_samples:
            return self._stop()
        return None

    def _idle_frame(self, frame: bytes, start: int, p: float) -> SpeechStarted | None:
        if p < self.config.threshold:
            self._prefix.append(frame)
            self._trim_prefix()
            return None
        kept = sum(len(f) for f in self._prefix) // SAMPLE_WIDTH
        pad = min(kept, self._prefix_samples)
        self._turn = [self._prefix_tail(pad), frame]
        self._prefix.clear()
        self._start, self._audio_start = start, start - pad
        self._last_speech_end = self._position
        return SpeechStarted(start, self._audio_start, self.sample_rate)

    def _trim_prefix(self) -> None:
        size = self.vad.frame_samples
        while self._prefix and (len(self._prefix) - 1) * size >= self._prefix_samples:
            self._prefix.popleft()

    def _prefix_tail(self, samples: int) -> bytes:
        joined = b"".join(self._prefix)
        return joined[len(joined) - samples * SAMPLE_WIDTH :] if samples else b""

    def _stop(self) -> SpeechStopped:
        assert self._start is not None
        audio = b"".join(self._turn)
        base = self._audio_start
        start, end = refine_bounds(
            to_int16(audio), self._start - base, self._last_speech_end - base, self.sample_rate
        )
        event = SpeechStopped(
            start_sample=self._audio_start + start,
            end_sample=self._audio_start + end,
            audio_start_sample=self._audio_start,
            audio_end_sample=self._audio_start + len(audio) // SAMPLE_WIDTH,
            sample_rate=self.sample_rate,
            audio=audio,
        )
        self._reset_turn_state()
        return event


def refine_bounds(
    x: npt.NDArray[np.int16], start: int, end: int, sample_rate: int
) -> tuple[int, int]:
    """Snap VAD frame bounds to 10 ms windows: speech is within 30 dB of the turn's loud part."""
    win = sample_rate // 100
    n = len(x) // win
    if n == 0 or end <= start:
        return start, end
    level = _window_db(x[: n * win], win)
    first = start // win
    last = min(max(end // win, first + 1), n)
    floor = max(float(np.percentile(level[first:last], 90)) - 30.0, -60.0)
    loud = np.nonzero(level >= floor)[0]
    near_start = loud[(loud >= first - 6) & (loud <= first + 3)]  # -60 ms .. +30 ms
    near_end = loud[(loud >= last - 12) & (loud < last + 3)]  # -120 ms .. +30 ms
    new_start = int(near_start[0]) * win if near_start.size else start
    new_end = (int(near_end[-1]) + 1) * win if near_end.size else end
    return (new_start, new_end) if new_end > new_start else (start, end)


def _window_db(x: npt.NDArray[np.int16], win: int) -> npt.NDArray[np.float64]:
    """RMS level in dBFS of each `win`-sample window."""
    frames = x.reshape(-1, win).astype(np.float64) / 32768.0
    level: npt.NDArray[np.float64] = 20 * np.log10(np.sqrt(np.mean(frames**2, axis=1)) + 1e-9)
    return level
