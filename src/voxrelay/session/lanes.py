"""The session's lanes: the one sender of client events, and the app event stream.

Control events (barge-in, playback, transcripts) are handled on the reader lane and never wait
for a tool, a guardrail or a slow consumer: sending is done by the outbox's own task, and app
events are queued without blocking.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import logging
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable

from voxrelay.realtime.events import ClientEvent
from voxrelay.session import events as app

log = logging.getLogger(__name__)

Send = Callable[[ClientEvent], Awaitable[None]]
Listener = Callable[[app.AppEventBase], Awaitable[None] | None]
"""Told of every app event, in order (sync or async)."""
MAX_QUEUED_AUDIO = 1000
"""`assistant_audio` events kept for a consumer that reads none; later ones are dropped."""


class Outbox:
    """Sends client events in order from one task; posting never blocks the caller."""

    def __init__(self, send: Send, on_error: Callable[[ClientEvent, Exception], None]) -> None:
        self._send = send
        self._on_error = on_error
        self._queue: deque[tuple[ClientEvent, asyncio.Future[None] | None]] = deque()
        self._ready = asyncio.Event()
        self._idle = asyncio.Event()
        self._idle.set()

    def post(self, event: ClientEvent) -> None:
        """Queue `event` to be sent; a failure is reported to `on_error`."""
        self._queue.append((event, None))
        self._wake()

    async def send(self, event: ClientEvent) -> None:
        """Queue `event` and wait until it was sent; a failure is raised here."""
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._queue.append((event, done))
        self._wake()
        await done

    async def flushed(self) -> None:
        """Wait until every queued event has been sent."""
        await self._idle.wait()

    def _wake(self) -> None:
        self._idle.clear()
        self._ready.set()

    async def run(self) -> None:
        """Send queued events until cancelled."""
        try:
            while True:
                await self._ready.wait()
                self._ready.clear()
                while self._queue:
                    event, done = self._queue.popleft()
                    await self._deliver(event, done)
                self._idle.set()
        finally:
            self._abandon()

    async def _deliver(self, event: ClientEvent, done: asyncio.Future[None] | None) -> None:
        try:
            await self._send(event)
        except Exception as exc:
            if done is None:
                self._on_error(event, exc)
            elif not done.done():
                done.set_exception(exc)
            return
        if done is not None and not done.done():
            done.set_result(None)

    def _abandon(self) -> None:
        """Fail the waiters of events that will never be sent (the session is closing)."""
        while self._queue:
            _, done = self._queue.popleft()
            if done is not None and not done.done():
                done.cancel()


class AppEventStream:
    """App events in order, for one reader of `events()` and any number of listeners.

    Putting never blocks. Text events are never dropped; audio events are dropped (and counted)
    once `MAX_QUEUED_AUDIO` wait unread. The stream ends when `end()` is called.
    """

    def __init__(self) -> None:
        self._queue: deque[app.AppEventBase] = deque()
        self._audio = 0
        self._ready = asyncio.Event()
        self._ended = False
        self.dropped_audio = 0
        """`assistant_audio` events dropped because nobody read the stream."""
        self._listeners: list[Listener] = []
        self._fanout: deque[app.AppEventBase] = deque()
        self._fanout_ready = asyncio.Event()

    @property
    def ended(self) -> bool:
        """True once the session has ended (queued events may still be read)."""
        return self._ended

    def put(self, event: app.AppEventBase) -> None:
        """Publish `event` (never blocks)."""
        if self._ended:
            return
        if isinstance(event, app.AssistantAudio):
            if self._audio >= MAX_QUEUED_AUDIO:
                self.dropped_audio += 1
                return
            self._audio += 1
        self._queue.append(event)
        self._ready.set()
        if self._listeners:
            self._fanout.append(event)
            self._fanout_ready.set()

    def end(self) -> None:
        """End the stream: readers get what is queued, then the iteration stops."""
        self._ended = True
        self._ready.set()
        self._fanout_ready.set()

    def _pop(self) -> app.AppEventBase:
        event = self._queue.popleft()
        if isinstance(event, app.AssistantAudio):
            self._audio -= 1
        return event

    async def next(self) -> app.AppEventBase | None:
        """The next event, waiting for it; None once the stream has ended and is drained."""
        while not self._queue:
            if self._ended:
                return None
            self._ready.clear()
            await self._ready.wait()
        return self._pop()

    def drain(self) -> list[app.AppEventBase]:
        """Every queued event, without waiting."""
        return [self._pop() for _ in range(len(self._queue))]

    async def iterate(self) -> AsyncIterator[app.AppEventBase]:
        """Events as they come, until the stream ends."""
        while (event := await self.next()) is not None:
            yield event

    def add_listener(self, listener: Listener) -> None:
        """Call `listener` with every later event (from the fan-out task)."""
        self._listeners.append(listener)

    async def fan_out(self) -> None:
        """Deliver events to listeners until the stream ends; a raising listener is reported."""
        while True:
            while self._fanout:
                event = self._fanout.popleft()
                for listener in list(self._listeners):
                    await self._tell(listener, event)
            if self._ended:
                return
            self._fanout_ready.clear()
            await self._fanout_ready.wait()

    async def _tell(self, listener: Listener, event: app.AppEventBase) -> None:
        try:
            result = listener(event)
            if inspect.isawaitable(result):
                await result
        except Exception:
            log.exception("app event listener %r raised", listener)
            error = app.ErrorOccurred(
                agent=event.agent,
                code="listener_failed",
                text=f"an app event listener failed on a {type(event).__name__} event",
            )
            with contextlib.suppress(Exception):
                self._queue.append(error)  # to the stream only: never back to the listeners
                self._ready.set()
