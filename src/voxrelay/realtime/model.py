"""The RealtimeModel swap point, its optional in-process hooks, and the model's habits."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol, runtime_checkable

from voxrelay.realtime.events import ClientEvent, ServerEvent, SessionUpdate
from voxrelay.realtime.types import Item, SessionConfig

if TYPE_CHECKING:
    from voxrelay.engine import Engine
    from voxrelay.engine.trace import TurnTrace

SentenceGate = Callable[[str], Awaitable[bool]]
"""Decides, before synthesis, whether a sentence may be spoken (False blocks it)."""
TraceListener = Callable[["TurnTrace"], None]
"""Told each voice turn's latency trace once its first audio went out."""
WarmPlan = tuple[SessionConfig, list[Item]]
"""A configuration the session may switch to, and the items it will be entered with."""


class RealtimeModel(Protocol):
    """The client side of a realtime session: send client events, iterate server events."""

    async def connect(self, session: SessionConfig | None = None) -> None:
        """Open the session and apply an initial configuration."""
        ...

    async def send(self, event: ClientEvent) -> None:
        """Send one client event."""
        ...

    def events(self) -> AsyncIterator[ServerEvent]:
        """Server events, in order, until the session closes."""
        ...

    async def close(self) -> None:
        """End the session."""
        ...


@runtime_checkable
class EngineHooks(Protocol):
    """What an in-process engine offers beyond the protocol (none of it goes over a wire)."""

    def set_sentence_gate(self, gate: SentenceGate | None) -> None:
        """Check each sentence with `gate` before it is spoken; None removes the gate."""
        ...

    def add_trace_listener(self, listener: TraceListener) -> None:
        """Call `listener` with each voice turn's latency trace."""
        ...

    def prewarm(self, plans: Sequence[WarmPlan]) -> None:
        """Evaluate prompts the session may switch to later, in the background."""
        ...


@dataclass(frozen=True)
class ModelHabits:
    """How the agent runtime adapts to a backend's model; the backend supplies it."""

    speak_after_handoff: bool = False
    """The new agent's first response after a handoff is words (`tool_choice: none`)."""
    greeting_in_context: bool = False
    """Whether the greeting joins the model's context (it is always shown to the caller)."""
    warm_handoffs: bool = False
    """Evaluate handoff targets' prompts in the background (needs EngineHooks)."""


SMALL_LOCAL_MODEL = ModelHabits(speak_after_handoff=True, warm_handoffs=True)
"""Measured on Qwen2.5-0.5B.

- A freshly handed-off agent almost always answers with another transfer; speaking first
  makes it take up the caller's request instead.
- With a greeting in context, the chance that the first reply is a needed handoff call drops
  from 0.99 to 0.05, because the model keeps chatting.
- The first transfer to an agent costs a full prompt evaluation unless warmed before.
"""


def hooks_of(model: RealtimeModel) -> EngineHooks | None:
    """The model's in-process engine hooks, or None for a remote model."""
    hooks = getattr(model, "hooks", None)
    return hooks if isinstance(hooks, EngineHooks) else None


def habits_of(model: RealtimeModel) -> ModelHabits:
    """The habits the model's backend declares; plain defaults when it declares none."""
    habits = getattr(model, "habits", None)
    return habits if isinstance(habits, ModelHabits) else ModelHabits()


class InProcessRealtime:
    """A RealtimeModel that hands event objects straight to a local Engine (no serialization)."""

    def __init__(self, engine: Engine, habits: ModelHabits = SMALL_LOCAL_MODEL) -> None:
        self.engine = engine
        self.habits = habits
        """The local models' habits (the runtime adapts its turns to them)."""

    @property
    def hooks(self) -> EngineHooks:
        """The engine's in-process hooks: sentence gate, latency traces, prewarm."""
        return self.engine

    async def connect(self, session: SessionConfig | None = None) -> None:
        """Start the engine and apply the initial session configuration."""
        await self.engine.start()
        if session is not None:
            await self.engine.handle(SessionUpdate(session=session))

    async def send(self, event: ClientEvent) -> None:
        """Deliver a client event to the engine."""
        await self.engine.handle(event)

    def events(self) -> AsyncIterator[ServerEvent]:
        """The engine's outgoing events."""
        return self.engine.events()

    async def close(self) -> None:
        """Stop the engine and its running response."""
        await self.engine.close()
