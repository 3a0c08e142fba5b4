"""What a tool sees of the running conversation."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

Role = Literal["user", "assistant", "tool_call", "tool_result", "system"]


@dataclass(frozen=True)
class HistoryEntry:
    """One line of the conversation as the runtime mirrors it."""

    role: Role
    text: str
    agent: str | None = None
    """The agent that was active when this entry was added."""
    name: str | None = None
    """Tool name, for tool calls and results."""
    ok: bool = True
    """False for a failed tool result (its text is an error, not data)."""


@dataclass
class RunContext:
    """Passed to tools that ask for it as their first parameter."""

    agent_name: str
    """The agent whose tool is running."""
    history: list[HistoryEntry] = field(default_factory=list)
    """The conversation so far, shared across handoffs."""
    state: dict[str, Any] = field(default_factory=dict)
    """Mutable per-session state (e.g. verified customer details); survives handoffs."""

    def user_text(self) -> str:
        """Everything the user has said, joined."""
        return "\n".join(e.text for e in self.history if e.role == "user")

    def grounding_text(self) -> str:
        """What grounded arguments may come from: the user's words and tool results."""
        sources = [
            e.text for e in self.history if e.role == "user" or (e.role == "tool_result" and e.ok)
        ]
        return "\n".join(sources)
