"""The engine's protocol core: client events in, server events and effects out (I/O-free).

Like the `websockets` library's protocol objects, `EngineCore` never awaits anything. Each call
returns what to do next, in order: server events to send, and effects for the driver
(`engine.Engine`) to carry out: run or cancel a response, transcribe a turn, warm a prompt.
The driver reports back what those produced (`transcribed`, `response_finished`, …), and the
core answers with the events that follow.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any, assert_never

from voxrelay.engine.audio_out import Spoken, heard_text
from voxrelay.engine.conversation import Conversation, to_messages
from voxrelay.engine.effects import (
    CancelResponse,
    Output,
    StartResponse,
    TraceDone,
    Warm,
)
from voxrelay.engine.response import ResponsePlan, ResponseState
from voxrelay.engine.speech import SpeechStack
from voxrelay.engine.voice_in import SpeechBegan, Step, TurnEnded, VoiceInput
from voxrelay.errors import ProtocolError, UnknownVoiceError
from voxrelay.models.base import Message, ModelSettings, tool_specs
from voxrelay.realtime import events as ev
from voxrelay.realtime.rules import apply_update, default_session, tool_choice_name
from voxrelay.realtime.types import (
    Item,
    MessageItem,
    OutputAudio,
    ResponseParams,
    SessionConfig,
    TurnDetection,
)
from voxrelay.speech.base import VAD
from voxrelay.speech.tts import VoiceMap

log = logging.getLogger(__name__)

MAX_ALIGNED_ITEMS = 64
"""Spoken items whose sentence timing is kept for truncation."""

AudioEvent = (
    ev.InputAudioBufferAppend
    | ev.InputAudioBufferCommit
    | ev.InputAudioBufferClear
    | ev.ConversationItemTruncate
)


class EngineCore:
    """One session's state: its configuration, conversation, input audio and active response."""

    def __init__(self, *, speech: SpeechStack | None = None, model_name: str = "voxrelay-local"):
        self.speech = speech
        """The speech stack; without one, audio events are refused."""
        self.session = default_session(model_name)
        self.conversation = Conversation()
        self.voice_in = VoiceInput(lambda: _vad_of(self.speech), self.conversation)
        """Input audio: the buffer, turn detection, turns awaiting their transcript."""
        self._out: list[Output] = []
        self._active: ResponseState | None = None
        self._spoken: dict[str, list[Spoken]] = {}
        self._deferred: list[ev.ConversationItemTruncate] = []
        """Truncations of the active response's items, applied once it has ended."""

    @property
    def active(self) -> ResponseState | None:
        """The response running now, if any."""
        return self._active

    # ---- calls from the driver ---------------------------------------------------------------

    def start(self) -> list[Output]:
        """Announce the session (`session.created`)."""
        return [ev.SessionCreated(session=self.session.model_copy(deep=True))]

    def receive(self, event: ev.ClientEvent) -> list[Output]:
        """Apply one client event; protocol errors become `error` events, never exceptions."""
        self._out = []
        self._receive(event)
        return self._take()

    def receive_raw(self, data: str | bytes | dict[str, Any]) -> list[Output]:
        """Parse then apply a client event from the wire; bad input becomes an `error` event."""
        try:
            event = ev.parse_client_event(data)
        except ProtocolError as exc:
            caused_by = data.get("event_id") if isinstance(data, dict) else None
            return [ev.error_event(exc, caused_by)]
        return self.receive(event)

    def transcribed(self, item_id: str, text: str | None) -> list[Output]:
        """The STT's transcript of a committed turn; None when the STT failed (and logged why)."""
        self._out = []
        if text is None:
            self._follow(self.voice_in.transcription_failed(item_id))
        else:
            self._follow(self.voice_in.transcribed(item_id, text))
        return self._take()

    def response_finished(self, state: ResponseState) -> list[Output]:
        """The response ended (its `response.done` went out); apply what waited for that."""
        self._out = []
        if self._active is state:
            self._active = None
        self._keep_alignment(state.spoken)
        trace = self.voice_in.trace
        if trace is not None and trace.complete:
            self._send(TraceDone(trace))
            self.voice_in.trace = None
        deferred, self._deferred = self._deferred, []
        for event in deferred:
            self._receive(event)
        return self._take()

    def messages_for(self, params: ResponseParams) -> list[Message]:
        """The prompt of a response over the conversation as it is now."""
        s = self.session
        instructions = params.instructions if params.instructions is not None else s.instructions
        return to_messages(instructions or "", list(self.conversation))

    # ---- dispatch ----------------------------------------------------------------------------

    def _receive(self, event: ev.ClientEvent) -> None:
        try:
            self._dispatch(event)
        except ProtocolError as exc:
            log.info("client event %s refused: %s", event.type, exc)
            self._send(ev.error_event(exc, event.event_id))

    def _dispatch(self, event: ev.ClientEvent) -> None:
        match event:
            case ev.SessionUpdate():
                self._session_update(event)
            case ev.ConversationItemCreate():
                self._item_create(event)
            case ev.ConversationItemRetrieve():
                item = self.conversation.get(event.item_id)
                self._send(ev.ConversationItemRetrieved(item=item.model_copy(deep=True)))
            case ev.ConversationItemDelete():
                self.conversation.delete(event.item_id)
                self._send(ev.ConversationItemDeleted(item_id=event.item_id))
            case ev.ResponseCreate():
                self._response_create(event)
            case ev.ResponseCancel():
                self._response_cancel(event)
            case _:
                self._audio_event(event)

    def _audio_event(self, event: AudioEvent) -> None:
        if self.speech is None:
            raise ProtocolError(
                "audio_unavailable",
                f"{event.type}: this engine runs the text modality only (no speech stack "
                "attached); send text with conversation.item.create instead",
            )
        audio_in = self.session.audio.input if self.session.audio else None
        match event:
            case ev.InputAudioBufferAppend():
                self._follow(self.voice_in.append(event.audio, audio_in))
            case ev.InputAudioBufferCommit():
                self._follow(self.voice_in.commit(audio_in))
            case ev.InputAudioBufferClear():
                self._follow(self.voice_in.clear(audio_in))
            case ev.ConversationItemTruncate():
                self._item_truncate(event)
            case _:
                assert_never(event)

    def _follow(self, steps: list[Step]) -> None:
        """Send what the voice input produced, deciding in place of its signals."""
        for step in steps:
            match step:
                case SpeechBegan():
                    detection = self._detection()
                    if self._active is not None and detection and detection.interrupt_response:
                        self._send(CancelResponse(self._active.id, "turn_detected"))
                case TurnEnded():
                    if self._active is None:
                        self._start_response(ResponseParams())
                    else:
                        log.info("a turn ended while a response is active; not starting another")
                case _:
                    self._send(step)

    def _send(self, output: Output) -> None:
        self._out.append(output)

    def _take(self) -> list[Output]:
        out, self._out = self._out, []
        return out

    # ---- session and conversation ------------------------------------------------------------

    def _session_update(self, event: ev.SessionUpdate) -> None:
        merged = apply_update(self.session, event.session)
        _check_audio(self.speech, merged.output_modalities, "session.output_modalities")
        _check_voice(self.speech, merged)
        if _input_key(self.session) != _input_key(merged):
            self.voice_in.reset()  # a new format or turn detection: a new buffer
        self.session = merged
        self._send(ev.SessionUpdated(session=merged.model_copy(deep=True)))
        # With the conversation so far, so that what the instructions say about it (a handoff
        # that brought the caller here) is part of the warm prefix, not evaluated again.
        messages = to_messages(merged.instructions or "", list(self.conversation))
        self._send(Warm(messages, tool_specs(merged.tools or [])))

    def _item_create(self, event: ev.ConversationItemCreate) -> None:
        item = event.item.model_copy(deep=True)
        item.status = "completed"
        previous = self.conversation.add(item, event.previous_item_id)
        self._send_item(item, previous)

    def _send_item(self, item: Item, previous: str | None) -> None:
        """`conversation.item.added` then `.done` for an item that is already complete."""
        self._send(
            ev.ConversationItemAdded(item=item.model_copy(deep=True), previous_item_id=previous)
        )
        self._send(
            ev.ConversationItemDone(item=item.model_copy(deep=True), previous_item_id=previous)
        )

    # ---- responses ---------------------------------------------------------------------------

    def _response_create(self, event: ev.ResponseCreate) -> None:
        if self._active is not None:
            raise ProtocolError(
                "conversation_already_has_active_response",
                f"Conversation already has an active response in progress: {self._active.id}. "
                "Wait until the response is finished before creating a new one.",
            )
        self._start_response(event.response or ResponseParams())

    def _start_response(self, params: ResponseParams) -> None:
        state = ResponseState(_plan(self, params), self.conversation)
        self._active = state
        waits = params.input is None and self.voice_in.transcribing  # the user's words are due
        trace = self.voice_in.trace
        self._send(StartResponse(state, params, trace=trace, after_transcripts=waits))

    def _response_cancel(self, event: ev.ResponseCancel) -> None:
        active = self._active
        if active is None or (event.response_id and event.response_id != active.id):
            raise ProtocolError(
                "response_cancel_not_active", "Cancellation failed: no active response found."
            )
        self._send(CancelResponse(active.id, "client_cancelled"))

    def _keep_alignment(self, spoken: dict[str, list[Spoken]]) -> None:
        self._spoken.update(spoken)
        while len(self._spoken) > MAX_ALIGNED_ITEMS:
            del self._spoken[next(iter(self._spoken))]

    def _detection(self) -> TurnDetection | None:
        audio_in = self.session.audio.input if self.session.audio else None
        return audio_in.turn_detection if audio_in else None

    # ---- truncation --------------------------------------------------------------------------

    def _item_truncate(self, event: ev.ConversationItemTruncate) -> None:
        item = self.conversation.get(event.item_id)
        part = _spoken_part(item, event.content_index)
        active = self._active
        if active is not None and any(i.id == item.id for i in active.response.output):
            self._deferred.append(event)  # applied by response_finished
            self._send(CancelResponse(active.id, "client_cancelled", wait=True))
            return
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
        self._send(
            ev.ConversationItemTruncated(
                item_id=event.item_id,
                content_index=event.content_index,
                audio_end_ms=event.audio_end_ms,
            )
        )


def _plan(core: EngineCore, params: ResponseParams) -> ResponsePlan:
    """What a response runs on: the session's settings, overridden by `response.create`."""
    s = core.session
    tools = params.tools if params.tools is not None else (s.tools or [])
    choice = params.tool_choice if params.tool_choice is not None else s.tool_choice
    instructions = params.instructions if params.instructions is not None else s.instructions
    items = params.input if params.input is not None else list(core.conversation)
    limit = params.max_output_tokens or s.max_output_tokens
    output = s.audio.output if s.audio else None
    modalities = list(params.output_modalities or s.output_modalities or ["text"])
    _check_audio(core.speech, modalities, "response.output_modalities")
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


def _check_audio(speech: SpeechStack | None, modalities: Sequence[str] | None, param: str) -> None:
    if modalities and "audio" in modalities and speech is None:
        raise ProtocolError(
            "audio_unavailable",
            "output_modalities audio needs a speech stack; this engine runs text only",
            param=param,
        )


def _check_voice(speech: SpeechStack | None, config: SessionConfig) -> None:
    """Refuse a voice the TTS cannot speak now, rather than failing mid-response."""
    voice = config.audio.output.voice if config.audio and config.audio.output else None
    voices = getattr(speech.tts, "voices", None) if speech else None
    if voice is None or not isinstance(voices, VoiceMap):
        return
    try:
        voices.resolve(voice)
    except UnknownVoiceError as exc:
        raise ProtocolError("invalid_value", str(exc), param="session.audio.output.voice") from exc


def _input_key(config: SessionConfig) -> object:
    """What decides the input buffer: the input format and turn detection."""
    audio_in = config.audio.input if config.audio else None
    return None if audio_in is None else (audio_in.format, audio_in.turn_detection)


def _vad_of(speech: SpeechStack | None) -> VAD:
    assert speech is not None, "audio events are refused without a speech stack"
    return speech.vad()


def _spoken_part(item: Item, content_index: int) -> OutputAudio:
    """The assistant audio part a truncate names; ProtocolError for anything else."""
    if not isinstance(item, MessageItem) or item.role != "assistant":
        raise ProtocolError(
            "invalid_value",
            "only assistant message items with audio can be truncated",
            param="item_id",
        )
    parts = item.content
    if not 0 <= content_index < len(parts) or not isinstance(parts[content_index], OutputAudio):
        raise ProtocolError(
            "invalid_value",
            f"content_index {content_index} is not an audio part of this item",
            param="content_index",
        )
    part = parts[content_index]
    assert isinstance(part, OutputAudio)
    return part
