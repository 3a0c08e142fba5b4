"""The ChatModel swap point: a streaming text LLM that may answer with tool calls."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol, runtime_checkable

Role = Literal["system", "user", "assistant", "tool"]
CONTEXT_HEADING = "\n\n# Context\n"
"""Instructions may end with a section under this heading: facts that change during a session.

Local models put it after the tool list, so instructions and tools stay a cached prefix.
"""
ToolChoice = Literal["auto", "none", "required"] | str
"""`auto`, `none`, `required`, or the name of one tool that must be called."""


@dataclass(frozen=True)
class ToolCall:
    """The model asks for one tool call; `arguments` is a JSON object string."""

    call_id: str
    name: str
    arguments: str


@dataclass(frozen=True)
class Message:
    """One chat message in OpenAI chat-completions shape."""

    role: Role
    content: str = ""
    tool_calls: tuple[ToolCall, ...] = ()
    """Tool calls made by an assistant message."""
    tool_call_id: str | None = None
    """For role `tool`: the call this message answers."""
    name: str | None = None
    """For role `tool`: the tool's name."""


@dataclass(frozen=True)
class ToolSpec:
    """A tool the model may call: name, description and JSON schema."""

    name: str
    description: str
    parameters: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_realtime(cls, spec: dict[str, Any]) -> ToolSpec:
        """Build from a Realtime `tools[]` entry (`{type:function, name, ...}`)."""
        return cls(spec["name"], spec.get("description", ""), spec.get("parameters", {}))


class DescribedTool(Protocol):
    """Anything that names a tool, says what it does and has a JSON schema of its arguments."""

    @property
    def name(self) -> str: ...
    @property
    def description(self) -> str: ...
    @property
    def parameters(self) -> dict[str, Any]: ...


def tool_specs(tools: Iterable[DescribedTool]) -> list[ToolSpec]:
    """ToolSpecs from agent tools or Realtime tool definitions."""
    return [ToolSpec(t.name, t.description, t.parameters) for t in tools]


@dataclass(frozen=True)
class TextDelta:
    """A piece of assistant text."""

    text: str


@dataclass(frozen=True)
class Usage:
    """Token counts for one generation."""

    input_tokens: int = 0
    output_tokens: int = 0
    cached_tokens: int = 0


@dataclass(frozen=True)
class ModelSettings:
    """Per-call generation settings."""

    temperature: float = 0.0
    max_tokens: int | None = None


StreamItem = TextDelta | ToolCall | Usage


class ChatModel(Protocol):
    """A text LLM: streams text deltas, or tool calls, then usage."""

    def stream(
        self,
        messages: Sequence[Message],
        tools: Sequence[ToolSpec] = (),
        tool_choice: ToolChoice = "auto",
        settings: ModelSettings | None = None,
    ) -> AsyncIterator[StreamItem]: ...


@runtime_checkable
class Warmable(Protocol):
    """Optional ChatModel capability: pre-evaluate a prompt prefix before it is needed."""

    async def warm(
        self,
        messages: Sequence[Message],
        tools: Sequence[ToolSpec] = (),
        *,
        background: bool = False,
    ) -> None:
        """Prepare for requests that start with these messages and tools.

        With `background`, requests are not held up for long: the work yields between steps.
        """
        ...


@dataclass(frozen=True)
class Completion:
    """A whole generation gathered from a stream."""

    text: str
    tool_calls: tuple[ToolCall, ...]
    usage: Usage | None


async def complete(
    model: ChatModel,
    messages: Sequence[Message],
    tools: Sequence[ToolSpec] = (),
    tool_choice: ToolChoice = "auto",
    settings: ModelSettings | None = None,
) -> Completion:
    """Run a stream to the end and gather its text, tool calls and usage."""
    text: list[str] = []
    calls: list[ToolCall] = []
    usage: Usage | None = None
    async for item in model.stream(messages, tools, tool_choice, settings):
        if isinstance(item, TextDelta):
            text.append(item.text)
        elif isinstance(item, ToolCall):
            calls.append(item)
        else:
            usage = item
    return Completion("".join(text), tuple(calls), usage)
