"""Typed app events the Session emits for UIs, logs and `voxrelay chat --json`."""

from __future__ import annotations

import time
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field


class AppEventBase(BaseModel):
    """Common fields: when it happened and which agent was active."""

    model_config = ConfigDict(frozen=True, populate_by_name=True)

    agent: str | None = None
    at: float = Field(default_factory=time.time)

    def to_json_dict(self) -> dict[str, Any]:
        """The event as one JSON object (`from` spelled as such, None fields dropped)."""
        return self.model_dump(by_alias=True, exclude_none=True)


class UserMessage(AppEventBase):
    """The user said or typed something."""

    type: Literal["user_message"] = "user_message"
    text: str


class AssistantMessage(AppEventBase):
    """The active agent replied (after output guardrails passed)."""

    type: Literal["assistant_message"] = "assistant_message"
    text: str


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


class GuardrailTripped(AppEventBase):
    """An output guardrail blocked assistant text before the user saw it."""

    type: Literal["guardrail_tripped"] = "guardrail_tripped"
    name: str
    category: str
    rationale: str
    text: str


class ErrorOccurred(AppEventBase):
    """Something went wrong; the session keeps running."""

    type: Literal["error"] = "error"
    code: str | None = None
    text: str


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
    | GuardrailTripped
    | ErrorOccurred
    | TurnDone,
    Field(discriminator="type"),
]
