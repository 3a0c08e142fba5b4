"""Running one response: stream the ChatModel, speak it, and emit what its ResponseState says."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass

from voxrelay.engine.audio_out import Speaker, Spoken
from voxrelay.engine.faults import ModelFailed, response_error
from voxrelay.engine.response import Events, ResponseState
from voxrelay.engine.trace import TurnTrace
from voxrelay.errors import ContextOverflow, VoxrelayError
from voxrelay.models.base import ChatModel, StreamItem, TextDelta, Usage
from voxrelay.models.budget import shorter_history
from voxrelay.realtime import events as ev
from voxrelay.realtime.model import SentenceGate
from voxrelay.realtime.types import Response, StatusDetails
from voxrelay.speech.base import TTS
from voxrelay.tasks import TaskSet

log = logging.getLogger(__name__)

Emit = Callable[[ev.ServerEvent], Awaitable[None]]


@dataclass
class Voice:
    """What a response needs to speak: the TTS, an optional sentence gate, the turn's trace."""

    tts: TTS
    gate: SentenceGate | None = None
    trace: TurnTrace | None = None


class SentenceBlocked(VoxrelayError):
    """The sentence gate refused a sentence; the response ends without speaking it."""


class ResponseRun:
    """Runs one response; `cancel()` ends it early with status `cancelled`."""

    def __init__(
        self, chat: ChatModel, state: ResponseState, emit: Emit, voice: Voice | None = None
    ) -> None:
        self.chat = chat
        self.state = state
        self.emit = emit
        self.voice = voice if state.plan.spoken else None
        self.cancel_reason: str | None = None
        self._tasks = TaskSet()
        """The generation and the speaker: they end with the run."""
        self._generation: asyncio.Task[Exception | None] | None = None
        self._speaker: Speaker | None = None

    @property
    def id(self) -> str:
        """The response id."""
        return self.state.id

    @property
    def response(self) -> Response:
        """The response as built so far."""
        return self.state.response

    @property
    def spoken(self) -> dict[str, list[Spoken]]:
        """Sentence timing of each spoken item, by item id (for truncation)."""
        return self.state.spoken

    def cancel(self, reason: str = "client_cancelled") -> None:
        """Stop generating; the response ends with `cancelled` and open items `incomplete`."""
        if self.cancel_reason is None:
            self.cancel_reason = reason
        if self._generation is not None:
            self._generation.cancel()

    async def run(self) -> Response:
        """Emit `response.created`, stream the model, then close items and emit `response.done`."""
        try:
            await self._emit_all(self.state.created())
            self._generation = self._tasks.spawn(
                self._generate_contained(), name=f"generate {self.id}"
            )
            if self.cancel_reason is not None:  # cancelled before it began
                self._generation.cancel()
            await self._conclude(self._generation)
            spoken = await self._stop_speaker()
            await self._emit_all(self.state.finish(spoken))
        finally:
            await self._tasks.cancel_and_wait()
        return self.state.response

    async def _conclude(self, generation: asyncio.Task[Exception | None]) -> None:
        """Wait for the generation and set the response's status from how it ended."""
        try:
            failure = await generation
        except asyncio.CancelledError:
            current = asyncio.current_task()
            if self.cancel_reason is None or (current is not None and current.cancelling()):
                raise
            details = StatusDetails(type="cancelled", reason=self.cancel_reason)
            self.state.set_status("cancelled", details)
            return
        if failure is None:
            self.state.complete()
        elif isinstance(failure, SentenceBlocked):
            details = StatusDetails(type="incomplete", reason="content_filter")
            self.state.set_status("incomplete", details)
        else:  # contained: the session goes on; the log keeps the detail
            log.error("response %s failed", self.id, exc_info=failure)
            details = StatusDetails(type="failed", error=response_error(failure))
            self.state.set_status("failed", details)

    async def _generate_contained(self) -> Exception | None:
        """Generate; how it failed, if it did (a failed task would be logged twice)."""
        try:
            await self._generate()
        except Exception as exc:
            return exc
        return None

    async def _generate(self) -> None:
        trace = self.voice.trace if self.voice else None
        items = self._model_stream()
        started = shortened = False
        while True:
            try:
                item = await items.__anext__()
            except StopAsyncIteration:
                break
            except ContextOverflow as exc:
                if started or shortened:
                    raise ModelFailed() from exc
                # The turn degrades rather than fails: once, with only the last turn.
                log.warning("response %s overflowed the context; retrying shorter", self.id)
                shortened = True
                plan = self.state.plan
                plan.messages = shorter_history(plan.messages)
                items = self._model_stream()
                continue
            except Exception as exc:
                raise ModelFailed() from exc
            started = True
            if trace is not None and not isinstance(item, Usage):
                trace.mark("first_token")
            if isinstance(item, TextDelta):
                await self._text(item.text)
            elif isinstance(item, Usage):
                self.state.usage = item
            else:
                await self._finish_speech()
                await self._emit_all(self.state.close_message(await self._stop_speaker()))
                await self._emit_all(
                    self.state.function_call(item.call_id, item.name, item.arguments)
                )
        await self._finish_speech()

    def _model_stream(self) -> AsyncIterator[StreamItem]:
        p = self.state.plan
        try:
            return self.chat.stream(p.messages, p.tools, p.tool_choice, p.settings)
        except Exception as exc:
            raise ModelFailed() from exc

    async def _text(self, delta: str) -> None:
        if not self.state.message_open:
            await self._emit_all(self.state.open_message())
            if self.voice is not None:
                self._speaker = self._new_speaker(self.voice)
        if self._speaker is None:
            await self.emit(self.state.text_delta(delta))
            return
        await self._speaker.push(delta)
        if self._speaker.blocked is not None:
            raise SentenceBlocked(self._speaker.blocked)

    def _new_speaker(self, voice: Voice) -> Speaker:
        speaker = Speaker(
            voice.tts,
            self.state.plan.output_format,
            voice=self.state.plan.voice,
            on_text=self._transcript_delta,
            on_audio=self._audio_delta,
            gate=voice.gate,
            trace=voice.trace,
        )
        speaker.start(self._tasks)
        return speaker

    async def _transcript_delta(self, delta: str) -> None:
        await self.emit(self.state.transcript_delta(delta))

    async def _audio_delta(self, audio: str) -> None:
        await self.emit(self.state.audio_delta(audio))

    async def _finish_speech(self) -> None:
        """Wait until every generated sentence is spoken (inside the cancellable generation)."""
        if self._speaker is not None:
            await self._speaker.finish()
            if self._speaker.blocked is not None:
                raise SentenceBlocked(self._speaker.blocked)

    async def _stop_speaker(self) -> list[Spoken] | None:
        """Stop a speaker that is still running (cancel, failure); its sentence timing."""
        speaker, self._speaker = self._speaker, None
        if speaker is None:
            return None
        await speaker.cancel()
        return list(speaker.spoken)

    async def _emit_all(self, events: Events) -> None:
        for event in events:
            await self.emit(event)
