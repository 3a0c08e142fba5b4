"""Speaking a response: streamed text → sentences → [gate] → TTS → wire audio deltas."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from voxrelay.audio.pcm import SAMPLE_WIDTH, samples_for
from voxrelay.audio.resample import resample
from voxrelay.engine.audio_in import encode_audio, format_rate
from voxrelay.engine.faults import SpeechFailed
from voxrelay.engine.trace import TurnTrace
from voxrelay.realtime.model import SentenceGate
from voxrelay.realtime.types import AudioFormat
from voxrelay.speech.base import TTS, AudioChunk
from voxrelay.speech.sentences import SentenceChunker
from voxrelay.tasks import TaskSet

log = logging.getLogger(__name__)

DELTA_MS = 200
"""Audio per `response.output_audio.delta`."""

OnText = Callable[[str], Awaitable[None]]
OnAudio = Callable[[str], Awaitable[None]]


@dataclass(frozen=True)
class Spoken:
    """One sentence and where its audio lies in the item's audio, in milliseconds."""

    text: str
    start_ms: int
    end_ms: int


class Speaker:
    """Speaks text as it streams in: one sentence at a time, in a task that `start` spawns."""

    def __init__(
        self,
        tts: TTS,
        fmt: AudioFormat | None,
        *,
        voice: str | None,
        on_text: OnText,
        on_audio: OnAudio,
        gate: SentenceGate | None = None,
        trace: TurnTrace | None = None,
    ) -> None:
        self.tts = tts
        self.fmt = fmt
        self.voice = voice
        self.rate = format_rate(fmt)
        self.on_text = on_text
        self.on_audio = on_audio
        self.gate = gate
        self.trace = trace
        self.spoken: list[Spoken] = []
        self.blocked: str | None = None
        """The first sentence the gate refused; nothing after it is spoken."""
        self._failure: Exception | None = None
        self._chunker = SentenceChunker(first_clause_chars=24)
        self._queue: asyncio.Queue[str | None] = asyncio.Queue(maxsize=64)
        self._samples = 0
        self._task: asyncio.Task[None] | None = None

    def start(self, tasks: TaskSet) -> None:
        """Start speaking queued sentences, in a task that `tasks` owns."""
        self._task = tasks.spawn(self._speak_all(), name="speaker")

    @property
    def duration_ms(self) -> int:
        """Audio emitted so far, in milliseconds."""
        return self._samples * 1000 // self.rate

    async def push(self, delta: str) -> None:
        """Add generated text; complete sentences are queued for speaking."""
        for sentence in self._chunker.push(delta):
            await self._enqueue(sentence)

    async def finish(self) -> None:
        """Speak what is left and wait until every sentence has been sent."""
        assert self._task is not None, "start() the speaker first"
        for sentence in self._chunker.flush():
            await self._enqueue(sentence)
        await self._queue.put(None)
        await self._task
        self._raise_failure()

    async def cancel(self) -> None:
        """Stop speaking now; what was sent stays in `spoken`."""
        if self._task is None:
            return
        self._task.cancel()
        await asyncio.wait([self._task])
        if self._failure is not None:
            log.warning("speech failed before the response ended", exc_info=self._failure)

    def _raise_failure(self) -> None:
        failure, self._failure = self._failure, None
        if failure is not None:
            raise failure

    async def _enqueue(self, sentence: str) -> None:
        self._raise_failure()
        if self.trace is not None:
            self.trace.mark("first_sentence")
        await self._queue.put(sentence)

    async def _speak_all(self) -> None:
        try:
            await self._speak_queued()
        except Exception as exc:  # finish() raises it in the response
            self._failure = exc

    async def _speak_queued(self) -> None:
        while (sentence := await self._queue.get()) is not None:
            if self.blocked is not None:
                continue
            if self.gate is not None and not await self.gate(sentence):
                self.blocked = sentence
                continue
            await self._speak(sentence)

    async def _speak(self, sentence: str) -> None:
        start = self.duration_ms
        await self.on_text(sentence if not self.spoken else " " + sentence)
        self.spoken.append(Spoken(sentence, start, start))
        try:
            async for chunk in self.tts.synthesize(sentence, voice=self.voice):
                await self._send(chunk, sentence, start)
        except Exception as exc:  # the TTS, or turning its audio into wire audio
            raise SpeechFailed() from exc

    async def _send(self, chunk: AudioChunk, sentence: str, start: int) -> None:
        pcm = resample(chunk.pcm, chunk.sample_rate, self.rate)
        for piece in _pieces(pcm, samples_for(DELTA_MS, self.rate) * SAMPLE_WIDTH):
            await self.on_audio(encode_audio(piece, self.fmt))
            self._samples += len(piece) // SAMPLE_WIDTH
            if self.trace is not None:
                self.trace.mark("first_audio")
            self.spoken[-1] = Spoken(sentence, start, self.duration_ms)


def _pieces(pcm: bytes, size: int) -> list[bytes]:
    return [pcm[i : i + size] for i in range(0, len(pcm), size)]


def heard_text(spoken: list[Spoken], audio_end_ms: int) -> str:
    """The words heard when playback stopped at `audio_end_ms` (a cut sentence by word share)."""
    words: list[str] = []
    for s in spoken:
        if s.end_ms <= audio_end_ms:
            words.append(s.text)
            continue
        if s.start_ms < audio_end_ms < s.end_ms:
            part = s.text.split()
            share = (audio_end_ms - s.start_ms) / (s.end_ms - s.start_ms)
            kept = int(len(part) * share)
            if kept:
                words.append(" ".join(part[:kept]))
        break
    return " ".join(words)
