"""The local realtime engine: the server side of the Realtime protocol over a ChatModel."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from typing import Any

from voxrelay.engine.audio_in import STT_RATE, InputBuffer, Turn, decode_audio, detected_turn
from voxrelay.engine.audio_out import SentenceGate, Spoken, heard_text
from voxrelay.engine.conversation import Conversation, to_messages
from voxrelay.engine.response import ResponsePlan, ResponseRun, Voice
from voxrelay.engine.speech import SpeechStack
from voxrelay.engine.trace import TurnTrace
from voxrelay.errors import AudioFormatError, ProtocolError, UnknownVoiceError
from voxrelay.models.base import ChatModel, ModelSettings, Warmable, tool_specs
from voxrelay.realtime import events as ev
from voxrelay.realtime.model import TraceListener, WarmPlan
from voxrelay.realtime.rules import apply_update, default_session, tool_choice_name
from voxrelay.realtime.types import (
    AudioConfig,
    AudioFormat,
    AudioInput,
    AudioOutput,
    InputAudio,
    Item,
    MessageItem,
    OutputAudio,
    ResponseParams,
    SessionConfig,
    ToolChoiceValue,
    TurnDetection,
    new_id,
)
from voxrelay.speech.tts import VoiceMap
from voxrelay.speech.turns import SpeechStarted, SpeechStopped

log = logging.getLogger(__name__)

Handler = Callable[[Any], Awaitable[None]]
MAX_ALIGNED_ITEMS = 64


def _input_changed(current: SessionConfig, new: SessionConfig) -> bool:
    """True when an update changes the input format or turn detection (a new buffer is due)."""

    def key(config: SessionConfig) -> object:
        audio_in = config.audio.input if config.audio else None
        if audio_in is None:
            return None
        return (audio_in.format, audio_in.turn_detection)

    return key(current) != key(new)


def _spoken_part(item: Item, content_index: int) -> OutputAudio:
    """The assistant audio part a truncate names; ProtocolError for anything else."""
    parts = item.content if isinstance(item, MessageItem) else []
    if not isinstance(item, MessageItem) or item.role != "assistant":
        raise ProtocolError(
            "invalid_value",
            "only assistant message items with audio can be truncated",
            param="item_id",
        )
    if not 0 <= content_index < len(parts) or not isinstance(parts[content_index], OutputAudio):
        raise ProtocolError(
            "invalid_value",
            f"content_index {content_index} is not an audio part of this item",
            param="content_index",
        )
    part = parts[content_index]
    assert isinstance(part, OutputAudio)
    return part


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
        self.speech = speech
        self.session = default_session(model_name)
        self.conversation = Conversation()
        self.sentence_gate: SentenceGate | None = None
        """Checks each sentence before it is spoken; a refusal ends the response."""
        self.trace_listeners: list[TraceListener] = []
        """Called with each voice turn's latency trace once its first audio went out."""
        self._out: asyncio.Queue[ev.ServerEvent | None] = asyncio.Queue(queue_size)
        self._active: ResponseRun | None = None
        self._task: asyncio.Task[None] | None = None
        self._warming: set[asyncio.Task[None]] = set()
        self._input: InputBuffer | None = None
        self._speech_item: str | None = None
        self._turns: asyncio.Task[None] | None = None
        """The latest transcription; each waits for the one before, so items keep order."""
        self._trace: TurnTrace | None = None
        self._spoken: dict[str, list[Spoken]] = {}
        audio: dict[str, Handler] = {
            "conversation.item.truncate": self._item_truncate,
            "input_audio_buffer.append": self._buffer_append,
            "input_audio_buffer.commit": self._buffer_commit,
            "input_audio_buffer.clear": self._buffer_clear,
        }
        self._handlers: dict[str, Handler] = {
            "session.update": self._session_update,
            "conversation.item.create": self._item_create,
            "conversation.item.retrieve": self._item_retrieve,
            "conversation.item.delete": self._item_delete,
            "response.create": self._response_create,
            "response.cancel": self._response_cancel,
        }
        for name, handler in audio.items():
            self._handlers[name] = handler if speech is not None else self._audio_unavailable

    # ---- lifecycle ---------------------------------------------------------------------------

    async def start(self) -> None:
        """Announce the session (`session.created`)."""
        await self._emit(ev.SessionCreated(session=self.session.model_copy(deep=True)))

    async def events(self) -> AsyncIterator[ev.ServerEvent]:
        """Outgoing server events until the engine closes."""
        while (event := await self._out.get()) is not None:
            yield event

    async def close(self) -> None:
        """Cancel any running response and end the event stream."""
        for task in (self._task, self._turns, *self._warming):
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        while self._out.full():  # nobody is reading: make room for the end marker
            self._out.get_nowait()
        self._out.put_nowait(None)

    async def wait_idle(self) -> None:
        """Wait for the running response, if any, to finish."""
        if self._task is not None:
            await asyncio.shield(self._task)

    @property
    def active_response(self) -> ResponseRun | None:
        """The response being generated now, if any."""
        return self._active

    # ---- input -------------------------------------------------------------------------------

    async def handle(self, event: ev.ClientEvent) -> None:
        """Apply one client event; protocol errors become `error` events, never exceptions."""
        try:
            await self._handlers[event.type](event)
        except ProtocolError as exc:
            log.info("client event %s refused: %s", event.type, exc)
            await self._emit(ev.error_event(exc, event.event_id))

    async def handle_raw(self, data: str | bytes | dict[str, Any]) -> None:
        """Parse then apply a client event from the wire; bad input becomes an `error` event."""
        try:
            event = ev.parse_client_event(data)
        except ProtocolError as exc:
            caused_by = data.get("event_id") if isinstance(data, dict) else None
            await self._emit(ev.error_event(exc, caused_by))
            return
        await self.handle(event)

    async def _emit(self, event: ev.ServerEvent) -> None:
        await self._out.put(event)

    # ---- handlers ----------------------------------------------------------------------------

    async def _session_update(self, event: ev.SessionUpdate) -> None:
        merged = apply_update(self.session, event.session)
        if merged.output_modalities and "audio" in merged.output_modalities and not self.speech:
            raise ProtocolError(
                "audio_unavailable",
                "output_modalities audio needs a speech stack; this engine runs text only",
                param="session.output_modalities",
            )
        self._check_voice(merged)
        if _input_changed(self.session, merged):
            self._input = None
        self.session = merged
        await self._emit(ev.SessionUpdated(session=merged.model_copy(deep=True)))
        self._warm()

    def _check_voice(self, config: SessionConfig) -> None:
        """Refuse a voice the TTS cannot speak now, rather than failing mid-response."""
        voice = config.audio.output.voice if config.audio and config.audio.output else None
        voices = getattr(self.speech.tts, "voices", None) if self.speech else None
        if voice is None or not isinstance(voices, VoiceMap):
            return
        try:
            voices.resolve(voice)
        except UnknownVoiceError as exc:
            raise ProtocolError(
                "invalid_value", str(exc), param="session.audio.output.voice"
            ) from exc

    def _warm(self) -> None:
        """Let a model that can pre-evaluate the new instructions and tools do it now.

        With the conversation so far, so that what the system turn says about it (a handoff
        that brought the caller here) is part of the warm prefix, not evaluated again.
        """
        if not isinstance(self.chat, Warmable):
            return
        messages = to_messages(self.session.instructions or "", list(self.conversation))
        tools = tool_specs(self.session.tools or [])
        task = asyncio.create_task(self._warm_quietly(self.chat, messages, tools))
        self._warming.add(task)
        task.add_done_callback(self._warming.discard)

    def prewarm(self, plans: Sequence[WarmPlan]) -> None:
        """Evaluate prompts the session may switch to later (handoff targets), in order.

        Each plan is a configuration and the conversation items it will be entered with (the
        handoff call and its result), so the warm prefix reaches as far as it can. Runs in the
        background and yields to responses between steps; prompts already evaluated cost
        nothing. Not part of the Realtime protocol: in-process callers only.
        """
        if not isinstance(self.chat, Warmable) or not plans:
            return
        task = asyncio.create_task(self._prewarm(self.chat, plans), name="prewarm")
        self._warming.add(task)
        task.add_done_callback(self._warming.discard)

    def set_sentence_gate(self, gate: SentenceGate | None) -> None:
        """Check each sentence with `gate` before it is spoken; None removes the gate."""
        self.sentence_gate = gate

    def add_trace_listener(self, listener: TraceListener) -> None:
        """Call `listener` with each voice turn's latency trace."""
        self.trace_listeners.append(listener)

    async def warmed(self) -> None:
        """Wait until the prompt warm-ups started so far have finished."""
        await asyncio.gather(*self._warming, return_exceptions=True)

    async def _prewarm(self, chat: Warmable, plans: Sequence[WarmPlan]) -> None:
        for config, items in plans:
            messages = to_messages(config.instructions or "", items)
            tools = tool_specs(config.tools or [])
            await self._warm_quietly(chat, messages, tools, background=True)

    @staticmethod
    async def _warm_quietly(
        chat: Warmable, messages: list[Any], tools: list[Any], background: bool = False
    ) -> None:
        try:
            await chat.warm(messages, tools, background=background)
        except Exception:
            log.warning(
                "prompt warm-up failed; the next response evaluates it instead", exc_info=True
            )

    async def _item_create(self, event: ev.ConversationItemCreate) -> None:
        item = event.item.model_copy(deep=True)
        item.status = "completed"
        previous = self.conversation.add(item, event.previous_item_id)
        await self._emit(
            ev.ConversationItemAdded(item=item.model_copy(deep=True), previous_item_id=previous)
        )
        await self._emit(
            ev.ConversationItemDone(item=item.model_copy(deep=True), previous_item_id=previous)
        )

    async def _item_retrieve(self, event: ev.ConversationItemRetrieve) -> None:
        item = self.conversation.get(event.item_id)
        await self._emit(ev.ConversationItemRetrieved(item=item.model_copy(deep=True)))

    async def _item_delete(self, event: ev.ConversationItemDelete) -> None:
        self.conversation.delete(event.item_id)
        await self._emit(ev.ConversationItemDeleted(item_id=event.item_id))

    async def _audio_unavailable(self, event: ev.ClientEvent) -> None:
        """Seam for the speech stack: audio events are refused until one is attached."""
        raise ProtocolError(
            "audio_unavailable",
            f"{event.type}: this engine runs the text modality only (no speech stack attached); "
            "send text with conversation.item.create instead",
        )

    async def _response_create(self, event: ev.ResponseCreate) -> None:
        if self._active is not None:
            raise ProtocolError(
                "conversation_already_has_active_response",
                f"Conversation already has an active response in progress: {self._active.id}. "
                "Wait until the response is finished before creating a new one.",
            )
        self._start_response(event.response or ResponseParams())

    def _start_response(self, params: ResponseParams) -> None:
        plan = self._plan(params)
        voice = None
        if self.speech is not None:
            voice = Voice(self.speech.tts, self.sentence_gate, self._trace)
        run = ResponseRun(self.chat, plan, self._emit, self.conversation.add, voice)
        self._active = run
        wait = self._turns
        self._task = asyncio.create_task(self._run(run, params, wait), name=f"response {run.id}")

    async def _run(
        self, run: ResponseRun, params: ResponseParams, wait: asyncio.Task[None] | None
    ) -> None:
        try:
            if wait is not None and params.input is None:
                with contextlib.suppress(Exception):  # a failed transcription is reported there
                    await asyncio.shield(wait)  # the user's words must be in the prompt
                run.plan.messages = self._plan(params).messages
            await run.run()
        finally:
            self._active = None
            self._keep_alignment(run.spoken)
            self._finish_trace()

    def _keep_alignment(self, spoken: dict[str, list[Spoken]]) -> None:
        self._spoken.update(spoken)
        while len(self._spoken) > MAX_ALIGNED_ITEMS:
            del self._spoken[next(iter(self._spoken))]

    def _finish_trace(self) -> None:
        trace = self._trace
        if trace is None or not trace.complete:
            return
        self._trace = None
        for listener in self.trace_listeners:
            listener(trace)

    async def _response_cancel(self, event: ev.ResponseCancel) -> None:
        run = self._active
        if run is None or (event.response_id and event.response_id != run.id):
            raise ProtocolError(
                "response_cancel_not_active", "Cancellation failed: no active response found."
            )
        run.cancel("client_cancelled")

    def _plan(self, params: ResponseParams) -> ResponsePlan:
        s = self.session
        tools = params.tools if params.tools is not None else (s.tools or [])
        choice = params.tool_choice if params.tool_choice is not None else s.tool_choice
        instructions = params.instructions if params.instructions is not None else s.instructions
        items = params.input if params.input is not None else list(self.conversation)
        limit = params.max_output_tokens or s.max_output_tokens
        output = s.audio.output if s.audio else None
        modalities = list(params.output_modalities or s.output_modalities or ["text"])
        if "audio" in modalities and self.speech is None:
            raise ProtocolError(
                "audio_unavailable",
                "output_modalities audio needs a speech stack; this engine runs text only",
                param="response.output_modalities",
            )
        return ResponsePlan(
            messages=to_messages(instructions or "", items),
            tools=tool_specs(tools),
            tool_choice=tool_choice_name(choice, [t.name for t in tools]),
            settings=ModelSettings(max_tokens=limit if isinstance(limit, int) else None),
            in_conversation=params.conversation != "none",
            output_modalities=modalities,
            metadata=params.metadata,
            voice=output.voice if output else None,
            output_format=output.format if output else None,
        )

    # ---- audio input -------------------------------------------------------------------------

    def _buffer(self) -> InputBuffer:
        if self._input is None:
            assert self.speech is not None
            audio_in = self.session.audio.input if self.session.audio else None
            fmt = audio_in.format if audio_in else None
            detection = audio_in.turn_detection if audio_in else None
            vad = self.speech.vad() if detection is not None else None
            self._input = InputBuffer.create(fmt, detection, vad)
        return self._input

    def _detection(self) -> TurnDetection | None:
        audio_in = self.session.audio.input if self.session.audio else None
        return audio_in.turn_detection if audio_in else None

    async def _buffer_append(self, event: ev.InputAudioBufferAppend) -> None:
        audio_in = self.session.audio.input if self.session.audio else None
        pcm = decode_audio(event.audio, audio_in.format if audio_in else None)
        for turn_event in self._buffer().append(pcm):
            if isinstance(turn_event, SpeechStarted):
                await self._speech_started(turn_event.audio_start_ms)
            else:
                await self._speech_stopped(turn_event)

    async def _speech_started(self, audio_start_ms: int) -> None:
        self._speech_item = new_id("item")
        await self._emit(ev.SpeechStarted(audio_start_ms=audio_start_ms, item_id=self._speech_item))
        detection = self._detection()
        if self._active is not None and detection is not None and detection.interrupt_response:
            self._active.cancel("turn_detected")

    async def _speech_stopped(self, stop: SpeechStopped) -> None:
        item_id = self._speech_item or new_id("item")
        self._speech_item = None
        await self._emit(ev.SpeechStopped(audio_end_ms=stop.audio_end_ms, item_id=item_id))
        detection = self._detection()
        respond = bool(detection and detection.create_response)
        await self._commit(detected_turn(stop), item_id, respond)

    async def _buffer_commit(self, event: ev.InputAudioBufferCommit) -> None:
        try:
            turn = self._buffer().commit()
        except AudioFormatError as exc:
            raise ProtocolError("input_audio_buffer_commit_empty", str(exc)) from exc
        item_id = self._speech_item or new_id("item")
        if self._speech_item is not None:
            await self._emit(ev.SpeechStopped(audio_end_ms=turn.audio_end_ms or 0, item_id=item_id))
            self._speech_item = None
        await self._commit(turn, item_id, respond=False)

    async def _buffer_clear(self, event: ev.InputAudioBufferClear) -> None:
        self._buffer().clear()
        self._speech_item = None
        await self._emit(ev.InputAudioBufferCleared())

    async def _commit(self, turn: Turn, item_id: str, respond: bool) -> None:
        """Add the user audio item; transcribe it (and respond) in order, in the background."""
        item = MessageItem(
            id=item_id, role="user", status="completed", content=[InputAudio(transcript=None)]
        )
        previous = self.conversation.add(item)
        self._trace = TurnTrace(
            item_id, speech_end_ms=turn.speech_end_ms, audio_end_ms=turn.audio_end_ms
        )
        await self._emit(ev.InputAudioBufferCommitted(item_id=item_id, previous_item_id=previous))
        await self._emit(
            ev.ConversationItemAdded(item=item.model_copy(deep=True), previous_item_id=previous)
        )
        await self._emit(
            ev.ConversationItemDone(item=item.model_copy(deep=True), previous_item_id=previous)
        )
        before = self._turns
        self._turns = asyncio.create_task(
            self._transcribe(item, turn, before), name=f"stt {item_id}"
        )
        if respond:
            if self._active is None:
                self._start_response(ResponseParams())
            else:
                log.info("turn %s: a response is still active; not starting another", item_id)

    async def _transcribe(
        self, item: MessageItem, turn: Turn, before: asyncio.Task[None] | None
    ) -> None:
        assert self.speech is not None
        if before is not None:
            with contextlib.suppress(Exception):
                await asyncio.shield(before)
        part = item.content[0]
        assert isinstance(part, InputAudio) and item.id is not None
        try:
            result = await self.speech.stt.transcribe(
                turn.audio, STT_RATE, language=self._language()
            )
        except Exception as exc:  # any STT failure is reported, never raised into the session
            log.warning("transcription of %s failed: %s", item.id, exc)
            error = {
                "type": "transcription_error",
                "code": "transcription_failed",
                "message": str(exc),
            }
            await self._emit(ev.TranscriptionFailed(item_id=item.id, error=error))
            part.transcript = ""
            return
        part.transcript = result.text
        if self._trace is not None and self._trace.item_id == item.id:
            self._trace.mark("transcript_final")
        if result.text:
            await self._emit(ev.TranscriptionDelta(item_id=item.id, delta=result.text))
        seconds = round(len(turn.audio) / 2 / STT_RATE, 3)
        usage = {"type": "duration", "seconds": seconds}
        await self._emit(
            ev.TranscriptionCompleted(item_id=item.id, transcript=result.text, usage=usage)
        )

    def _language(self) -> str | None:
        audio_in = self.session.audio.input if self.session.audio else None
        transcription = audio_in.transcription if audio_in else None
        return transcription.language if transcription else None

    # ---- truncation --------------------------------------------------------------------------

    async def _item_truncate(self, event: ev.ConversationItemTruncate) -> None:
        item = self.conversation.get(event.item_id)
        part = _spoken_part(item, event.content_index)
        run = self._active
        if run is not None and any(i.id == item.id for i in run.response.output):
            run.cancel("client_cancelled")
            await self.wait_idle()
        spoken = self._spoken.get(event.item_id, [])
        duration = spoken[-1].end_ms if spoken else 0
        if event.audio_end_ms > duration:
            raise ProtocolError(
                "invalid_value",
                f"audio_end_ms {event.audio_end_ms} is past the end of the item's audio "
                f"({duration} ms)",
                param="audio_end_ms",
            )
        part.transcript = heard_text(spoken, event.audio_end_ms)
        self._spoken[event.item_id] = [s for s in spoken if s.start_ms < event.audio_end_ms]
        await self._emit(
            ev.ConversationItemTruncated(
                item_id=event.item_id,
                content_index=event.content_index,
                audio_end_ms=event.audio_end_ms,
            )
        )
