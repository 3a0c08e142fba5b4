"""Realtime client and server events as typed pydantic models (GA names)."""

from __future__ import annotations

import json
from typing import Annotated, Any, Literal

from pydantic import (
    Field,
    SerializerFunctionWrapHandler,
    TypeAdapter,
    ValidationError,
    field_serializer,
    field_validator,
)

from voxrelay.errors import ProtocolError
from voxrelay.realtime import inbound
from voxrelay.realtime.rules import check_tool_defs
from voxrelay.realtime.types import (
    ContentPart,
    ErrorDetail,
    Item,
    Model,
    Response,
    ResponseParams,
    SessionConfig,
    new_id,
)

# ---- client events ---------------------------------------------------------------------------


class ClientEventBase(Model):
    """Every client event may carry an `event_id`."""

    event_id: str | None = None


class SessionUpdate(ClientEventBase):
    """Change the session configuration (fields not sent are left as they were)."""

    type: Literal["session.update"] = "session.update"
    session: SessionConfig


class InputAudioBufferAppend(ClientEventBase):
    """Append base64 audio to the input buffer."""

    type: Literal["input_audio_buffer.append"] = "input_audio_buffer.append"
    audio: str


class InputAudioBufferCommit(ClientEventBase):
    """Turn the input buffer into a user message."""

    type: Literal["input_audio_buffer.commit"] = "input_audio_buffer.commit"


class InputAudioBufferClear(ClientEventBase):
    """Drop the input buffer."""

    type: Literal["input_audio_buffer.clear"] = "input_audio_buffer.clear"


class ConversationItemCreate(ClientEventBase):
    """Add an item to the conversation."""

    type: Literal["conversation.item.create"] = "conversation.item.create"
    item: Item
    previous_item_id: str | None = None


class ConversationItemRetrieve(ClientEventBase):
    """Ask for the server's copy of an item."""

    type: Literal["conversation.item.retrieve"] = "conversation.item.retrieve"
    item_id: str


class ConversationItemTruncate(ClientEventBase):
    """Cut an assistant audio item at what was actually played."""

    type: Literal["conversation.item.truncate"] = "conversation.item.truncate"
    item_id: str
    content_index: int = 0
    audio_end_ms: int


class ConversationItemDelete(ClientEventBase):
    """Remove an item from the conversation."""

    type: Literal["conversation.item.delete"] = "conversation.item.delete"
    item_id: str


class ResponseCreate(ClientEventBase):
    """Ask the model to respond."""

    type: Literal["response.create"] = "response.create"
    response: ResponseParams | None = None


class ResponseCancel(ClientEventBase):
    """Stop the active response."""

    type: Literal["response.cancel"] = "response.cancel"
    response_id: str | None = None


ClientEvent = Annotated[
    SessionUpdate
    | InputAudioBufferAppend
    | InputAudioBufferCommit
    | InputAudioBufferClear
    | ConversationItemCreate
    | ConversationItemRetrieve
    | ConversationItemTruncate
    | ConversationItemDelete
    | ResponseCreate
    | ResponseCancel,
    Field(discriminator="type"),
]

# ---- server events ---------------------------------------------------------------------------


class ServerEventBase(Model):
    """Every server event carries a fresh `event_id`."""

    event_id: str = Field(default_factory=lambda: new_id("event"))


class ErrorEvent(ServerEventBase):
    """Something the client sent could not be handled; the session goes on."""

    type: Literal["error"] = "error"
    error: ErrorDetail


class SessionCreated(ServerEventBase):
    """Sent first, on connect."""

    type: Literal["session.created"] = "session.created"
    session: SessionConfig


class SessionUpdated(ServerEventBase):
    """The session configuration after a `session.update`."""

    type: Literal["session.updated"] = "session.updated"
    session: SessionConfig


class SpeechStarted(ServerEventBase):
    """Server VAD heard speech begin."""

    type: Literal["input_audio_buffer.speech_started"] = "input_audio_buffer.speech_started"
    audio_start_ms: int
    item_id: str


class SpeechStopped(ServerEventBase):
    """Server VAD heard speech end."""

    type: Literal["input_audio_buffer.speech_stopped"] = "input_audio_buffer.speech_stopped"
    audio_end_ms: int
    item_id: str


class InputAudioBufferCommitted(ServerEventBase):
    """The input buffer became a user item."""

    type: Literal["input_audio_buffer.committed"] = "input_audio_buffer.committed"
    item_id: str
    previous_item_id: str | None = None


class InputAudioBufferCleared(ServerEventBase):
    """The input buffer was dropped."""

    type: Literal["input_audio_buffer.cleared"] = "input_audio_buffer.cleared"


class ConversationItemAdded(ServerEventBase):
    """An item entered the conversation (it may still be in progress)."""

    type: Literal["conversation.item.added"] = "conversation.item.added"
    item: Item
    previous_item_id: str | None = None


class ConversationItemDone(ServerEventBase):
    """An item is final."""

    type: Literal["conversation.item.done"] = "conversation.item.done"
    item: Item
    previous_item_id: str | None = None


class ConversationItemRetrieved(ServerEventBase):
    """The server's copy of an item."""

    type: Literal["conversation.item.retrieved"] = "conversation.item.retrieved"
    item: Item


class ConversationItemTruncated(ServerEventBase):
    """An assistant audio item was cut; its unheard text is gone."""

    type: Literal["conversation.item.truncated"] = "conversation.item.truncated"
    item_id: str
    content_index: int
    audio_end_ms: int


class ConversationItemDeleted(ServerEventBase):
    """An item left the conversation."""

    type: Literal["conversation.item.deleted"] = "conversation.item.deleted"
    item_id: str


class TranscriptionDelta(ServerEventBase):
    """Part of a user audio transcript."""

    type: Literal["conversation.item.input_audio_transcription.delta"] = (
        "conversation.item.input_audio_transcription.delta"
    )
    item_id: str
    content_index: int = 0
    delta: str


class TranscriptionCompleted(ServerEventBase):
    """A user audio transcript is final."""

    type: Literal["conversation.item.input_audio_transcription.completed"] = (
        "conversation.item.input_audio_transcription.completed"
    )
    item_id: str
    content_index: int = 0
    transcript: str
    usage: dict[str, Any] | None = Field(default_factory=lambda: {"type": "duration", "seconds": 0})
    """Required by strict clients: `{type: duration, seconds}` (pass the audio's real length)
    or `{type: tokens, …}`."""


class TranscriptionFailed(ServerEventBase):
    """A user audio transcript could not be made."""

    type: Literal["conversation.item.input_audio_transcription.failed"] = (
        "conversation.item.input_audio_transcription.failed"
    )
    item_id: str
    content_index: int = 0
    error: ErrorDetail


class ResponseCreated(ServerEventBase):
    """A response started."""

    type: Literal["response.created"] = "response.created"
    response: Response


class ResponseDone(ServerEventBase):
    """A response ended (completed, cancelled, incomplete or failed)."""

    type: Literal["response.done"] = "response.done"
    response: Response


class OutputItemAdded(ServerEventBase):
    """A response began an output item."""

    type: Literal["response.output_item.added"] = "response.output_item.added"
    response_id: str
    output_index: int
    item: Item


class OutputItemDone(ServerEventBase):
    """A response finished an output item."""

    type: Literal["response.output_item.done"] = "response.output_item.done"
    response_id: str
    output_index: int
    item: Item


class _PartEvent(ServerEventBase):
    response_id: str
    item_id: str
    output_index: int
    content_index: int


_PART_TO_WIRE = {"output_text": "text", "output_audio": "audio"}
_PART_FROM_WIRE = {v: k for k, v in _PART_TO_WIRE.items()}


class _PartCarrier(_PartEvent):
    """On the wire a response's content part is typed `text`/`audio` (GA and beta alike)."""

    part: ContentPart

    @field_validator("part", mode="before")
    @classmethod
    def _part_from_wire(cls, value: Any) -> Any:
        if isinstance(value, dict) and value.get("type") in _PART_FROM_WIRE:
            return {**value, "type": _PART_FROM_WIRE[value["type"]]}
        return value

    @field_serializer("part", mode="wrap")
    def _part_to_wire(self, part: ContentPart, handler: SerializerFunctionWrapHandler) -> Any:
        data = handler(part)
        if isinstance(data, dict) and data.get("type") in _PART_TO_WIRE:
            data["type"] = _PART_TO_WIRE[data["type"]]
        return data


class ContentPartAdded(_PartCarrier):
    """A content part began."""

    type: Literal["response.content_part.added"] = "response.content_part.added"


class ContentPartDone(_PartCarrier):
    """A content part is final."""

    type: Literal["response.content_part.done"] = "response.content_part.done"


class OutputTextDelta(_PartEvent):
    """Streamed assistant text."""

    type: Literal["response.output_text.delta"] = "response.output_text.delta"
    delta: str


class OutputTextDone(_PartEvent):
    """The whole assistant text of a part."""

    type: Literal["response.output_text.done"] = "response.output_text.done"
    text: str


class OutputAudioDelta(_PartEvent):
    """Streamed assistant audio (base64)."""

    type: Literal["response.output_audio.delta"] = "response.output_audio.delta"
    delta: str


class OutputAudioDone(_PartEvent):
    """Assistant audio for a part is complete."""

    type: Literal["response.output_audio.done"] = "response.output_audio.done"


class OutputAudioTranscriptDelta(_PartEvent):
    """Streamed transcript of assistant audio."""

    type: Literal["response.output_audio_transcript.delta"] = (
        "response.output_audio_transcript.delta"
    )
    delta: str


class OutputAudioTranscriptDone(_PartEvent):
    """The whole transcript of assistant audio."""

    type: Literal["response.output_audio_transcript.done"] = "response.output_audio_transcript.done"
    transcript: str


class FunctionCallArgumentsDelta(ServerEventBase):
    """Streamed function-call arguments."""

    type: Literal["response.function_call_arguments.delta"] = (
        "response.function_call_arguments.delta"
    )
    response_id: str
    item_id: str
    output_index: int
    call_id: str
    delta: str


class FunctionCallArgumentsDone(ServerEventBase):
    """Complete function-call arguments."""

    type: Literal["response.function_call_arguments.done"] = "response.function_call_arguments.done"
    response_id: str
    item_id: str
    output_index: int
    call_id: str
    name: str
    arguments: str


class RateLimitsUpdated(ServerEventBase):
    """Rate limits after a response (informational)."""

    type: Literal["rate_limits.updated"] = "rate_limits.updated"
    rate_limits: list[dict[str, Any]] = Field(default_factory=list)


ServerEvent = Annotated[
    ErrorEvent
    | SessionCreated
    | SessionUpdated
    | SpeechStarted
    | SpeechStopped
    | InputAudioBufferCommitted
    | InputAudioBufferCleared
    | ConversationItemAdded
    | ConversationItemDone
    | ConversationItemRetrieved
    | ConversationItemTruncated
    | ConversationItemDeleted
    | TranscriptionDelta
    | TranscriptionCompleted
    | TranscriptionFailed
    | ResponseCreated
    | ResponseDone
    | OutputItemAdded
    | OutputItemDone
    | ContentPartAdded
    | ContentPartDone
    | OutputTextDelta
    | OutputTextDone
    | OutputAudioDelta
    | OutputAudioDone
    | OutputAudioTranscriptDelta
    | OutputAudioTranscriptDone
    | FunctionCallArgumentsDelta
    | FunctionCallArgumentsDone
    | RateLimitsUpdated,
    Field(discriminator="type"),
]

CLIENT_EVENTS: TypeAdapter[ClientEvent] = TypeAdapter(ClientEvent)
SERVER_EVENTS: TypeAdapter[ServerEvent] = TypeAdapter(ServerEvent)
CLIENT_EVENT_TYPES = frozenset(
    m.model_fields["type"].default
    for m in ClientEvent.__origin__.__args__  # type: ignore[attr-defined]
)


def parse_client_event(data: str | bytes | dict[str, Any]) -> ClientEvent:
    """Parse and validate a client event; ProtocolError says what is wrong, in fixed words."""
    if isinstance(data, str | bytes):
        data = inbound.loads(data)
    else:
        inbound.check_depth(data)
    if not isinstance(data, dict):
        raise ProtocolError("invalid_event", "an event must be a JSON object with a `type`")
    kind = data.get("type")
    if not isinstance(kind, str) or kind not in CLIENT_EVENT_TYPES:
        known = ", ".join(sorted(CLIENT_EVENT_TYPES))
        raise ProtocolError(
            "unknown_event_type",
            f"unknown event type {str(kind)[:64]!r}; expected one of: {known}",
            param="type",
        )
    try:
        event = CLIENT_EVENTS.validate_python(data)
    except ValidationError as exc:
        raise inbound.invalid_field(exc, what=str(kind)) from None
    if isinstance(event, ResponseCreate) and event.response and event.response.tools:
        check_tool_defs(event.response.tools, "response.tools")
    return event


def parse_server_event(data: str | bytes | dict[str, Any]) -> ServerEvent:
    """Parse a server event (used by clients of a realtime server)."""
    if isinstance(data, str | bytes):
        data = json.loads(data)
    return SERVER_EVENTS.validate_python(data)


def error_event(exc: ProtocolError, caused_by: str | None = None) -> ErrorEvent:
    """An `error` event for a ProtocolError."""
    return ErrorEvent(
        error=ErrorDetail(code=exc.code, message=str(exc), param=exc.param, event_id=caused_by)
    )
