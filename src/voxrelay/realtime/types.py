"""Realtime protocol data: items, content parts, session config, response objects (GA names)."""

from __future__ import annotations

import uuid
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field


def new_id(prefix: str) -> str:
    """A fresh protocol id such as `item_3f2a…`."""
    return f"{prefix}_{uuid.uuid4().hex[:20]}"


class Model(BaseModel):
    """Base for protocol objects: unknown fields are kept so nothing a client sent is lost."""

    model_config = ConfigDict(extra="allow", populate_by_name=True)


# ---- content parts ---------------------------------------------------------------------------


class InputText(Model):
    """User or system text."""

    type: Literal["input_text"] = "input_text"
    text: str


class InputAudio(Model):
    """User audio (base64) and its transcript once known."""

    type: Literal["input_audio"] = "input_audio"
    audio: str | None = None
    transcript: str | None = None


class OutputText(Model):
    """Assistant text."""

    type: Literal["output_text"] = "output_text"
    text: str = ""


class OutputAudio(Model):
    """Assistant audio and its transcript."""

    type: Literal["output_audio"] = "output_audio"
    audio: str | None = None
    transcript: str | None = None


ContentPart = Annotated[
    InputText | InputAudio | OutputText | OutputAudio, Field(discriminator="type")
]

# ---- conversation items ----------------------------------------------------------------------

ItemStatus = Literal["in_progress", "completed", "incomplete"]


class MessageItem(Model):
    """A user, assistant or system message."""

    id: str | None = None
    object: Literal["realtime.item"] = "realtime.item"
    type: Literal["message"] = "message"
    role: Literal["user", "assistant", "system"]
    content: list[ContentPart] = Field(default_factory=list)
    status: ItemStatus | None = None

    def text(self) -> str:
        """All text and transcripts in the message, joined."""
        out = []
        for part in self.content:
            value = part.text if isinstance(part, InputText | OutputText) else part.transcript
            out.append(value or "")
        return "".join(out)


class FunctionCallItem(Model):
    """The model asks to run a function."""

    id: str | None = None
    object: Literal["realtime.item"] = "realtime.item"
    type: Literal["function_call"] = "function_call"
    call_id: str
    name: str
    arguments: str = ""
    status: ItemStatus | None = None


class FunctionCallOutputItem(Model):
    """The result of a function call, sent back by the client."""

    id: str | None = None
    object: Literal["realtime.item"] = "realtime.item"
    type: Literal["function_call_output"] = "function_call_output"
    call_id: str
    output: str
    status: ItemStatus | None = None


Item = Annotated[
    MessageItem | FunctionCallItem | FunctionCallOutputItem, Field(discriminator="type")
]

# ---- session configuration -------------------------------------------------------------------


class FunctionToolDef(Model):
    """A function the model may call."""

    type: Literal["function"] = "function"
    name: str
    description: str = ""
    parameters: dict[str, Any] = Field(default_factory=dict)


class AudioFormat(Model):
    """`audio/pcm` (with rate), `audio/pcmu` (G.711 μ-law) or `audio/pcma` (A-law)."""

    type: Literal["audio/pcm", "audio/pcmu", "audio/pcma"] = "audio/pcm"
    rate: int | None = 24000


class TurnDetection(Model):
    """Server-side turn detection (`server_vad` or `semantic_vad`)."""

    type: Literal["server_vad", "semantic_vad"] = "server_vad"
    threshold: float | None = 0.5
    prefix_padding_ms: int | None = 300
    silence_duration_ms: int | None = 500
    create_response: bool | None = True
    interrupt_response: bool | None = True
    idle_timeout_ms: int | None = None


class InputTranscription(Model):
    """How user audio is transcribed."""

    model: str | None = None
    language: str | None = None
    prompt: str | None = None


class AudioInput(Model):
    """Input audio settings."""

    format: AudioFormat | None = None
    transcription: InputTranscription | None = None
    turn_detection: TurnDetection | None = None


class AudioOutput(Model):
    """Output audio settings."""

    format: AudioFormat | None = None
    voice: str | None = None
    speed: float | None = None


class AudioConfig(Model):
    """Input and output audio settings."""

    input: AudioInput | None = None
    output: AudioOutput | None = None


ToolChoiceValue = str | dict[str, Any]
"""`auto`, `none`, `required`, or `{type: function, name}`."""


class SessionConfig(Model):
    """A realtime session's configuration (GA shape; `type` is always `realtime`)."""

    type: Literal["realtime"] = "realtime"
    id: str | None = None
    object: str | None = None
    model: str | None = None
    instructions: str | None = None
    tools: list[FunctionToolDef] | None = None
    tool_choice: ToolChoiceValue | None = None
    output_modalities: list[Literal["text", "audio"]] | None = None
    audio: AudioConfig | None = None
    max_output_tokens: int | Literal["inf"] | None = None


# ---- responses -------------------------------------------------------------------------------

ResponseStatus = Literal["in_progress", "completed", "cancelled", "failed", "incomplete"]


class StatusDetails(Model):
    """Why a response ended the way it did."""

    type: str | None = None
    reason: str | None = None
    error: dict[str, Any] | None = None


class Usage(Model):
    """Token counts for a response."""

    total_tokens: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    input_token_details: dict[str, Any] = Field(default_factory=dict)
    """Counts by kind; real servers nest objects here too (`cached_tokens_details`)."""
    output_token_details: dict[str, Any] = Field(default_factory=dict)


class ResponseParams(Model):
    """Options of `response.create` that override the session for one response."""

    output_modalities: list[Literal["text", "audio"]] | None = None
    instructions: str | None = None
    tools: list[FunctionToolDef] | None = None
    tool_choice: ToolChoiceValue | None = None
    conversation: Literal["auto", "none"] | str | None = None
    input: list[Item] | None = None
    metadata: dict[str, Any] | None = None
    max_output_tokens: int | Literal["inf"] | None = None


class Response(Model):
    """A response object as carried by `response.created` and `response.done`."""

    id: str = Field(default_factory=lambda: new_id("resp"))
    object: Literal["realtime.response"] = "realtime.response"
    status: ResponseStatus = "in_progress"
    status_details: StatusDetails | None = None
    output: list[Item] = Field(default_factory=list)
    conversation_id: str | None = None
    output_modalities: list[Literal["text", "audio"]] | None = None
    metadata: dict[str, Any] | None = None
    usage: Usage | None = None


class ErrorDetail(Model):
    """The body of an `error` event."""

    type: str = "invalid_request_error"
    code: str | None = None
    message: str
    param: str | None = None
    event_id: str | None = None
    """The client event that caused the error."""
