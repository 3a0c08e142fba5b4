"""ManualRealtime: a RealtimeModel whose server events the test pushes."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any, Protocol

from voxrelay.realtime import events as ev
from voxrelay.realtime.types import SessionConfig


class Settles(Protocol):
    """Anything `push` can wait for (a Session)."""

    async def settle(self) -> None: ...


class ManualRealtime:
    """Records the client events it is sent; serves the server events the test pushes."""

    def __init__(self) -> None:
        self.config: SessionConfig | None = None
        """The configuration `connect` was given."""
        self.sent: list[ev.ClientEvent] = []
        """Every client event sent, in order."""
        self.session: Settles | None = None
        """When set, `push` also waits until this session has settled."""
        self._queue: asyncio.Queue[ev.ServerEvent | None] = asyncio.Queue()
        self._sent = asyncio.Condition()

    async def connect(self, session: SessionConfig | None = None) -> None:
        """Remember the initial configuration."""
        self.config = session

    async def send(self, event: ev.ClientEvent) -> None:
        """Record one client event."""
        self.sent.append(event)
        async with self._sent:
            self._sent.notify_all()

    async def wait_sent(self, kind: type[Any]) -> list[Any]:
        """Wait until at least one client event of this type was sent; all of them."""
        async with self._sent:
            await self._sent.wait_for(lambda: bool(self.sent_of(kind)))
        return self.sent_of(kind)

    async def events(self) -> AsyncIterator[ev.ServerEvent]:
        """The pushed server events, until `close()`."""
        while (event := await self._queue.get()) is not None:
            yield event
            self._queue.task_done()

    async def close(self) -> None:
        """End the event stream."""
        await self._queue.put(None)

    async def push(self, *events: ev.ServerEvent) -> None:
        """Deliver server events and wait until the reader has handled each one."""
        for event in events:
            await self._queue.put(event)
        await self._queue.join()
        if self.session is not None:
            await self.session.settle()

    def sent_of(self, kind: type[Any]) -> list[Any]:
        """The sent client events of one type."""
        return [e for e in self.sent if isinstance(e, kind)]
