"""The local realtime engine: the asyncio driver of the protocol core, over a ChatModel.

`EngineCore` decides (client events in, server events and effects out); `Engine` carries the
effects out: it runs responses, transcriptions and prompt warm-ups in tasks it owns, and puts
every server event on one bounded queue that `events()` drains. `close()` cancels and awaits
every task it started.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Sequence
from typing import Any

from voxrelay.engine.audio_in import STT_RATE
from voxrelay.engine.conversation import Conversation
from voxrelay.engine.core import EngineCore
from voxrelay.engine.effects import (
    CancelResponse,
    Output,
    StartResponse,
    TraceDone,
    Transcribe,
    Warm,
)
from voxrelay.engine.respond import ResponseRun, Voice
from voxrelay.engine.speech import SpeechStack
from voxrelay.engine.trace import TurnTrace
from voxrelay.engine.warm import PromptWarmer
from voxrelay.models.base import ChatModel
from voxrelay.realtime import events as ev
from voxrelay.realtime.model import SentenceGate, TraceListener, WarmPlan
from voxrelay.realtime.types import SessionConfig
from voxrelay.tasks import TaskSet

log = logging.getLogger(__name__)


class Engine:
    """Holds one session's conversation and runs at most one response at a time."""

    def __init__(
        self,
        chat: ChatModel,
        *,
        speech: SpeechStack | None = None,
        model_name: str = "voxrelay-local",
        queue_size: int = 1024,
    ) -> None:
        self.chat = chat
        self.core = EngineCore(speech=speech, model_name=model_name)
        """The protocol state: session, conversation, input audio, active response."""
        self._sentence_gate: SentenceGate | None = None
        """Checks each sentence before it is spoken; a refusal ends the response."""
        self._trace_listeners: list[TraceListener] = []
        """Called with each voice turn's latency trace once its first audio went out."""
        self._out: asyncio.Queue[ev.ServerEvent | None] = asyncio.Queue(queue_size)
        self._tasks = TaskSet()
        """Responses and transcriptions."""
        self._warmer = PromptWarmer(chat)
        self._run: ResponseRun | None = None
        self._response: asyncio.Task[None] | None = None
        self._transcription: asyncio.Task[None] | None = None
        """The newest transcription; each waits for the one before, so items keep order."""
        self._closed = False

    # ---- state -------------------------------------------------------------------------------

    @property
    def speech(self) -> SpeechStack | None:
        """The speech stack (VAD, STT, TTS); None runs text only."""
        return self.core.speech

    @speech.setter
    def speech(self, speech: SpeechStack | None) -> None:
        self.core.speech = speech

    @property
    def session(self) -> SessionConfig:
        """The session configuration."""
        return self.core.session

    @session.setter
    def session(self, session: SessionConfig) -> None:
        self.core.session = session

    @property
    def conversation(self) -> Conversation:
        """The conversation's items, in order."""
        return self.core.conversation

    @property
    def active_response(self) -> ResponseRun | None:
        """The response being generated now, if any."""
        return self._run

    # ---- lifecycle ---------------------------------------------------------------------------

    async def start(self) -> None:
        """Announce the session (`session.created`)."""
        await self._apply(self.core.start())

    async def events(self) -> AsyncIterator[ev.ServerEvent]:
        """Outgoing server events until the engine closes."""
        while (event := await self._out.get()) is not None:
            yield event

    async def close(self) -> None:
        """Cancel and await every task (responses, transcriptions, warm-ups); end the events."""
        self._closed = True
        await self._tasks.cancel_and_wait()
        await self._warmer.close()
        while self._out.full():  # nobody is reading: make room for the end marker
            self._out.get_nowait()
        self._out.put_nowait(None)

    async def wait_idle(self) -> None:
        """Wait for the running response, if any, to finish."""
        if self._response is not None:
            await asyncio.shield(self._response)

    async def warmed(self) -> None:
        """Wait until the prompt warm-ups started so far have finished."""
        await self._warmer.wait()

    # ---- input -------------------------------------------------------------------------------

    async def handle(self, event: ev.ClientEvent) -> None:
        """Apply one client event; protocol errors become `error` events, never exceptions."""
        await self._apply(self.core.receive(event))

    async def handle_raw(self, data: str | bytes | dict[str, Any]) -> None:
        """Parse then apply a client event from the wire; bad input becomes an `error` event."""
        await self._apply(self.core.receive_raw(data))

    # ---- in-process hooks (EngineHooks) ------------------------------------------------------

    def set_sentence_gate(self, gate: SentenceGate | None) -> None:
        """Check each sentence with `gate` before it is spoken; None removes the gate."""
        self._sentence_gate = gate

    def add_trace_listener(self, listener: TraceListener) -> None:
        """Call `listener` with each voice turn's latency trace."""
        self._trace_listeners.append(listener)

    def prewarm(self, plans: Sequence[WarmPlan]) -> None:
        """Evaluate prompts the session may switch to later (handoff targets), in order.

        Each plan is a configuration and the conversation items it will be entered with (the
        handoff call and its result), so the warm prefix reaches as far as it can. Runs in the
        background and yields to responses between steps; prompts already evaluated cost
        nothing. Not part of the Realtime protocol: in-process callers only.
        """
        self._warmer.prewarm(plans)

    # ---- effects -----------------------------------------------------------------------------

    async def _apply(self, outputs: list[Output]) -> None:
        """Carry out what the core produced, in order; nothing once `close()` has begun."""
        for output in outputs:
            if self._closed:
                return
            match output:
                case StartResponse():
                    self._start_response(output)
                case CancelResponse():
                    await self._cancel_response(output)
                case Transcribe():
                    before, name = self._transcription, f"stt {output.item_id}"
                    self._transcription = self._tasks.spawn(
                        self._transcribe(output, before), name=name
                    )
                case Warm():
                    self._warmer.warm(output.messages, output.tools)
                case TraceDone():
                    self._tell_listeners(output.trace)
                case _:
                    await self._out.put(output)

    def _start_response(self, start: StartResponse) -> None:
        voice = None
        if self.speech is not None:
            voice = Voice(self.speech.tts, self._sentence_gate, start.trace)
        run = ResponseRun(self.chat, start.state, self._out.put, voice)
        self._run = run
        before = self._transcription if start.after_transcripts else None
        self._response = self._tasks.spawn(
            self._respond(run, start, before), name=f"response {run.id}"
        )

    async def _respond(
        self, run: ResponseRun, start: StartResponse, before: asyncio.Task[None] | None
    ) -> None:
        try:
            if before is not None:
                await asyncio.wait([before])  # the user's words must be in the prompt
                run.state.plan.messages = self.core.messages_for(start.params)
            await run.run()
        finally:
            if self._run is run:
                self._run = None
            outputs = self.core.response_finished(run.state)
        await self._apply(outputs)

    async def _cancel_response(self, cancel: CancelResponse) -> None:
        run = self._run
        if run is None or run.id != cancel.response_id:
            return
        run.cancel(cancel.reason)
        if cancel.wait and self._response is not None:
            await asyncio.wait([self._response])  # its end applies what waited for it

    async def _transcribe(self, job: Transcribe, before: asyncio.Task[None] | None) -> None:
        if before is not None:
            await asyncio.wait([before])
        assert self.speech is not None
        try:
            result = await self.speech.stt.transcribe(job.audio, STT_RATE, language=job.language)
        except Exception:  # contained: reported with a fixed message, the detail logged here
            log.exception("transcription of %s failed", job.item_id)
            text = None
        else:
            text = result.text
        await self._apply(self.core.transcribed(job.item_id, text))

    def _tell_listeners(self, trace: TurnTrace) -> None:
        for listener in self._trace_listeners:
            try:
                listener(trace)
            except Exception:
                log.exception("a trace listener failed; the session goes on")
