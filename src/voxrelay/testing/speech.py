"""Scripted speech fakes: ScriptedVAD, ScriptedSTT and ScriptedTTS check their scripts."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

from voxrelay.audio.pcm import SAMPLE_WIDTH, duration_s, float_to_int16, samples_for, to_bytes
from voxrelay.errors import AudioFormatError
from voxrelay.speech.base import AudioChunk, Segment, Transcript
from voxrelay.speech.sentences import split_sentences
from voxrelay.speech.tts import VoiceMap
from voxrelay.testing.checks import ScriptedFake, ScriptError


class ScriptedVAD(ScriptedFake):
    """Returns one scripted probability per frame; fails on a wrong frame or a frame too many."""

    def __init__(
        self, probabilities: Sequence[float], sample_rate: int = 16000, frame_ms: int = 32
    ):
        super().__init__()
        self.probabilities = list(probabilities)
        self.sample_rate = sample_rate
        self.frame_samples = samples_for(frame_ms, sample_rate)
        self.frames_seen = 0
        self.resets = 0

    @classmethod
    def from_spans(
        cls, spans_ms: Sequence[tuple[int, int]], total_ms: int, frame_ms: int = 32
    ) -> ScriptedVAD:
        """A script that says 1.0 for frames overlapping the (start, end) spans, 0.0 elsewhere."""
        n = -(-total_ms // frame_ms)
        probs = [
            1.0 if any(s < (i + 1) * frame_ms and e > i * frame_ms for s, e in spans_ms) else 0.0
            for i in range(n)
        ]
        return cls(probs, frame_ms=frame_ms)

    def probability(self, frame: bytes) -> float:
        """The next scripted probability."""
        self.check_call()
        if len(frame) != self.frame_samples * SAMPLE_WIDTH:
            raise AudioFormatError(
                f"ScriptedVAD expects {self.frame_samples}-sample frames, got {len(frame) // 2}"
            )
        if self.frames_seen >= len(self.probabilities):
            raise self.fail(f"unexpected VAD frame #{self.frames_seen + 1}: script done")
        self.frames_seen += 1
        return self.probabilities[self.frames_seen - 1]

    def reset(self) -> None:
        """Count resets; the script position is kept."""
        self.resets += 1

    def unplayed(self) -> str:
        """How many scripted frames were never asked for, in words."""
        left = len(self.probabilities) - self.frames_seen
        return f"{left} scripted VAD frame(s) were never used" if left else ""


STTCheck = Callable[[bytes, int], None]


@dataclass
class Heard:
    """One scripted transcription and optional checks on the audio it is given."""

    text: str
    min_duration_s: float = 0.0
    """The audio must last at least this long."""
    max_duration_s: float | None = None
    """If set, the audio must last at most this long."""
    check: STTCheck | None = None
    delay_s: float = 0.0
    """Sleep before answering (for cancel and timeout tests)."""


class ScriptedSTT(ScriptedFake):
    """Answers each `transcribe()` with the next scripted text; fails loudly on anything else."""

    def __init__(self, script: Sequence[str | Heard]) -> None:
        super().__init__()
        self.script = [h if isinstance(h, Heard) else Heard(h) for h in script]
        self.calls: list[tuple[bytes, int, str | None]] = []

    async def transcribe(
        self, pcm: bytes, sample_rate: int, *, language: str | None = None, prompt: str = ""
    ) -> Transcript:
        """Check the audio against the next step and return its text."""
        self.check_call()
        if not self.script:
            raise self.fail(f"unexpected STT call #{len(self.calls) + 1}: script done")
        step = self.script.pop(0)
        self.calls.append((pcm, sample_rate, language))
        seconds = self._check(step, pcm, sample_rate)
        await asyncio.sleep(step.delay_s)
        segments = (Segment(0.0, seconds, step.text),) if step.text else ()
        return Transcript(step.text, segments, language or "en", seconds)

    def _check(self, step: Heard, pcm: bytes, sample_rate: int) -> float:
        if not pcm or len(pcm) % SAMPLE_WIDTH:
            raise self.fail(f"STT got {len(pcm)} bytes, not PCM16 audio")
        seconds = duration_s(pcm, sample_rate)
        too_long = step.max_duration_s is not None and seconds > step.max_duration_s
        if seconds < step.min_duration_s or too_long:
            raise self.fail(
                f"STT audio for {step.text!r} lasts {seconds:.3f} s, expected "
                f"{step.min_duration_s}..{step.max_duration_s} s"
            )
        if step.check:
            try:
                step.check(pcm, sample_rate)
            except Exception as exc:
                raise self.fail(f"audio check for {step.text!r} failed: {exc!r}") from exc
        return seconds

    def unplayed(self) -> str:
        """How many scripted transcriptions were never used, in words."""
        left = len(self.script)
        return f"{left} scripted transcription(s) were never used" if left else ""


@dataclass
class ScriptedTTS(ScriptedFake):
    """Speaks a tone per sentence (`ms_per_char` long) and checks sentences against `expect`."""

    expect: list[str] | None = None
    """If set, the sentences must be exactly these, in order, across all calls."""
    sample_rate: int = 24000
    ms_per_char: float = 5.0
    delay_s: float = 0.0
    """Sleep before each chunk (for barge-in and cancel tests)."""
    voices: VoiceMap = field(default_factory=lambda: VoiceMap({"alloy": "alloy"}, "alloy"))
    spoken: list[tuple[str, str]] = field(default_factory=list)
    """(sentence, voice) pairs synthesized so far."""

    def __post_init__(self) -> None:
        super().__init__()

    def synthesize(self, text: str, *, voice: str | None = None) -> AsyncIterator[AudioChunk]:
        """Check the voice now and stream one tone chunk per sentence."""
        self.check_call()
        return self._stream(split_sentences(text), self.voices.resolve(voice))

    async def _stream(self, sentences: list[str], voice: str) -> AsyncIterator[AudioChunk]:
        for sentence in sentences:
            self._check(sentence)
            self.spoken.append((sentence, voice))
            await asyncio.sleep(self.delay_s)
            yield AudioChunk(
                self.tone(len(sentence) * self.ms_per_char), self.sample_rate, sentence
            )

    def _check(self, sentence: str) -> None:
        if self.expect is None:
            return
        if not self.expect:
            raise self.fail(f"unexpected TTS sentence {sentence!r}: script done")
        wanted = self.expect.pop(0)
        if sentence != wanted:
            raise self.fail(f"TTS expected {wanted!r}, got {sentence!r}")

    def tone(self, ms: float) -> bytes:
        """A 440 Hz tone at -12 dBFS lasting `ms`."""
        t = np.arange(samples_for(ms, self.sample_rate)) / self.sample_rate
        return to_bytes(float_to_int16(0.25 * np.sin(2 * np.pi * 440 * t)))

    def unplayed(self) -> str:
        """The expected sentences never spoken, in words."""
        return f"TTS never spoke {self.expect!r}" if self.expect else ""


__all__ = ["Heard", "ScriptError", "ScriptedSTT", "ScriptedTTS", "ScriptedVAD"]
