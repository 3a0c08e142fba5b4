"""The speech swap points: VAD, STT and TTS interfaces, and the values they exchange."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

from voxrelay.audio.pcm import duration_s


@dataclass(frozen=True)
class AudioChunk:
    """A piece of synthesized speech: PCM16 mono audio and the text it speaks."""

    pcm: bytes
    """16-bit signed little-endian mono samples."""
    sample_rate: int
    """Samples per second of `pcm`."""
    text: str = ""
    """The sentence (or part) this audio speaks."""

    @property
    def duration_s(self) -> float:
        """Length in seconds."""
        return duration_s(self.pcm, self.sample_rate)


@dataclass(frozen=True)
class Segment:
    """A stretch of a transcript with its timing inside the audio."""

    start_s: float
    """Start, in seconds from the beginning of the audio."""
    end_s: float
    """End, in seconds from the beginning of the audio."""
    text: str
    """What was said in this stretch."""


@dataclass(frozen=True)
class Transcript:
    """The result of transcribing one utterance."""

    text: str
    """The whole text, stripped."""
    segments: tuple[Segment, ...] = field(default_factory=tuple)
    """Timed pieces of `text`, in order."""
    language: str | None = None
    """Language code that was used or detected."""
    duration_s: float = 0.0
    """Length of the audio that was transcribed, in seconds."""


@runtime_checkable
class VAD(Protocol):
    """A streaming voice activity detector: one fixed-size PCM16 frame in, a probability out."""

    @property
    def sample_rate(self) -> int:
        """The only sample rate the detector accepts."""
        ...

    @property
    def frame_samples(self) -> int:
        """Samples in each frame passed to `probability`."""
        ...

    def probability(self, frame: bytes) -> float:
        """Speech probability in [0, 1] for the next frame of the stream."""
        ...

    def reset(self) -> None:
        """Forget the stream so far (start of a new stream)."""
        ...


@runtime_checkable
class STT(Protocol):
    """Speech to text for one finished utterance."""

    async def transcribe(
        self, pcm: bytes, sample_rate: int, *, language: str | None = None, prompt: str = ""
    ) -> Transcript:
        """Transcribe PCM16 mono audio; `language` overrides the configured one."""
        ...


@runtime_checkable
class TTS(Protocol):
    """Text to speech that streams: the first chunk comes before the whole text is done."""

    @property
    def sample_rate(self) -> int:
        """Sample rate of every chunk this TTS yields."""
        ...

    def synthesize(self, text: str, *, voice: str | None = None) -> AsyncIterator[AudioChunk]:
        """Speak `text`, one chunk per sentence, in order."""
        ...
