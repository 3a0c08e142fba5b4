"""The RealtimeModel swap point and its in-process implementation over the local engine."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Protocol

from voxrelay.realtime.events import ClientEvent, ServerEvent, SessionUpdate
from voxrelay.realtime.types import SessionConfig

if TYPE_CHECKING:
    from voxrelay.engine import Engine


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


class InProcessRealtime:
    """A RealtimeModel that hands event objects straight to a local Engine (no serialization)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

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
