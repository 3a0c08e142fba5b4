"""Typed app events the Session emits for UIs, logs and `voxrelay chat --json`."""

from __future__ import annotations

import time
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, computed_field

from voxrelay.session.speakable import Reason


class AppEventBase(BaseModel):
    """Common fields: when it happened and which agent was active."""

    model_config = ConfigDict(frozen=True, populate_by_name=True)

    agent: str | None = None
    at: float = Field(default_factory=time.time)

    def to_json_dict(self) -> dict[str, Any]:
        """The event as one JSON object (`from` spelled as such, None fields dropped)."""
        return self.model_dump(by_alias=True, exclude_none=True)


class UserMessage(AppEventBase):
    """The user said or typed something (spoken words arrive as their transcript)."""

    type: Literal["user_message"] = "user_message"
    text: str
    item_id: str | None = None
    """The user audio item this transcript belongs to; None for typed text."""


class AssistantMessage(AppEventBase):
    """The active agent replied (after output guardrails passed); for audio, the transcript."""

    type: Literal["assistant_message"] = "assistant_message"
    text: str
    item_id: str | None = None
    """The assistant item, for spoken replies; None for text."""
    interrupted: bool | None = None
    """True when the caller barged in before hearing all of it; None otherwise."""
    fallback: bool | None = None
    """True for the runtime's fallback line, said when the agent had nothing fit to say."""


class ToolCalled(AppEventBase):
    """The agent called a tool (handoff tools included)."""

    type: Literal["tool_call"] = "tool_call"
    name: str
    arguments: str
    call_id: str


class ToolResult(AppEventBase):
    """A tool returned (or failed; `ok` says which) and its output went back to the model."""

    type: Literal["tool_result"] = "tool_result"
    name: str
    call_id: str
    output: str
    ok: bool = True
    reused: bool | None = None
    """True when the call repeated an identical one of this turn: the tool did not run again
    and the earlier result (or refusal) was sent; None otherwise."""
    shown: str | None = None
    """What the model was shown when `output` was too long for its context; None if all."""


class ArgumentRefused(AppEventBase):
    """A grounded argument's value never occurred in the conversation; the tool did not run."""

    type: Literal["argument_refused"] = "argument_refused"
    name: str
    """The tool."""
    argument: str
    value: str


class AgentChanged(AppEventBase):
    """A handoff moved the conversation to another agent."""

    type: Literal["agent_changed"] = "agent_changed"
    from_: str = Field(alias="from")
    to: str
    reason: str = ""


class StepChanged(AppEventBase):
    """An agent with a structured flow moved on to its next step."""

    type: Literal["step_changed"] = "step_changed"
    from_: str = Field(alias="from")
    to: str


class GuardrailTripped(AppEventBase):
    """An output guardrail blocked assistant text before the user saw it."""

    type: Literal["guardrail_tripped"] = "guardrail_tripped"
    name: str
    category: str
    rationale: str
    text: str


class OutputSuppressed(AppEventBase):
    """Assistant text was held back because it was not speech (tool syntax, JSON, code, or a
    runtime note echoed back); the agent is asked again in words. The text is not included."""

    type: Literal["output_suppressed"] = "output_suppressed"
    reason: Reason


class ErrorOccurred(AppEventBase):
    """Something went wrong; the session keeps running."""

    type: Literal["error"] = "error"
    code: str | None = None
    text: str


class UserSpeechStarted(AppEventBase):
    """Turn detection heard the caller start speaking."""

    type: Literal["user_speech_started"] = "user_speech_started"
    item_id: str
    """The user item the speech will become."""
    audio_start_ms: int


class UserSpeechStopped(AppEventBase):
    """Turn detection heard the caller stop speaking."""

    type: Literal["user_speech_stopped"] = "user_speech_stopped"
    item_id: str
    audio_end_ms: int


class AssistantAudio(AppEventBase):
    """A piece of the active agent's spoken reply (PCM16 mono; the bytes are not in JSON)."""

    type: Literal["assistant_audio"] = "assistant_audio"
    pcm: bytes = Field(exclude=True, repr=False)
    """16-bit signed little-endian mono samples."""
    sample_rate: int
    item_id: str

    @computed_field  # type: ignore[prop-decorator]
    @property
    def duration_ms(self) -> int:
        """Length of `pcm` in milliseconds."""
        return len(self.pcm) // 2 * 1000 // self.sample_rate


class Interrupted(AppEventBase):
    """The caller barged in: the assistant item was truncated at what they heard."""

    type: Literal["interrupted"] = "interrupted"
    item_id: str
    played_ms: int
    """Milliseconds of the item that were played; the truncate position."""


class PlaybackCleared(AppEventBase):
    """Queued assistant audio was dropped from the output without being played."""

    type: Literal["playback_cleared"] = "playback_cleared"
    item_id: str
    dropped_ms: int


class TurnLatency(AppEventBase):
    """How long each stage of a voice turn took, in ms (local engine only)."""

    type: Literal["turn_latency"] = "turn_latency"
    item_id: str
    stages: dict[str, float]
    """stt, llm_first_token, first_sentence, tts_first_audio, stop_to_first_audio, and with
    server VAD endpoint and speech_end_to_first_audio."""


class TurnDone(AppEventBase):
    """The agent finished answering the last user message."""

    type: Literal["turn_done"] = "turn_done"


AppEvent = Annotated[
    UserMessage
    | AssistantMessage
    | ToolCalled
    | ToolResult
    | ArgumentRefused
    | AgentChanged
    | StepChanged
    | GuardrailTripped
    | OutputSuppressed
    | ErrorOccurred
    | UserSpeechStarted
    | UserSpeechStopped
    | AssistantAudio
    | Interrupted
    | PlaybackCleared
    | TurnLatency
    | TurnDone,
    Field(discriminator="type"),
]
