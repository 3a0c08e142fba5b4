"""WebSocketRealtime owns its tasks: close() leaves none, after a drop and mid-reconnect too."""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
import threading
from collections.abc import AsyncIterator, Callable, Iterator

import pytest
from websockets.exceptions import ConnectionClosed
from websockets.sync.server import Server, ServerConnection, serve

from voxrelay.realtime import WebSocketRealtime
from voxrelay.realtime import events as ev
from voxrelay.realtime.model import ModelHabits
from voxrelay.realtime.types import SessionConfig
from ws_harness import poll

Leftovers = Callable[[], set[asyncio.Task[object]]]
"""The tasks started since the test began that are still running."""

CREATED = json.dumps({"type": "session.created", "session": {"type": "realtime"}})


class ThreadServer:
    """A Realtime-ish server on its own thread, so the test's loop holds only client tasks."""

    def __init__(self) -> None:
        self.connections: list[ServerConnection] = []
        self.hold = threading.Event()
        """While set, new handshakes wait (a reconnect attempt hangs) until `release`."""
        self.release = threading.Event()
        self.waiting = 0
        """Handshakes that `hold` is keeping waiting."""
        self.server: Server = serve(self._handle, "127.0.0.1", 0, process_request=self._gate)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"ws://127.0.0.1:{self.server.socket.getsockname()[1]}/v1/realtime"

    def _gate(self, connection: ServerConnection, request: object) -> None:
        if self.hold.is_set():
            self.waiting += 1
            self.release.wait(10)

    def _handle(self, connection: ServerConnection) -> None:
        self.connections.append(connection)
        with contextlib.suppress(ConnectionClosed):  # the client may be gone already
            connection.send(CREATED)
            for _ in connection:  # read (and ignore) client events until the connection ends
                pass

    async def drop(self) -> None:
        """Cut the newest connection without a closing handshake."""
        await poll(lambda: bool(self.connections))
        self.connections[-1].socket.shutdown(socket.SHUT_RDWR)

    def stop(self) -> None:
        self.release.set()
        self.server.shutdown()
        self.thread.join(10)


@pytest.fixture
def server() -> Iterator[ThreadServer]:
    s = ThreadServer()
    yield s
    s.stop()


@pytest.fixture
async def leftovers() -> AsyncIterator[Leftovers]:
    before = asyncio.all_tasks()
    yield lambda: {
        t for t in asyncio.all_tasks() - before if t is not asyncio.current_task() and not t.done()
    }


async def test_close_leaves_no_task(server: ThreadServer, leftovers: Leftovers) -> None:
    rt = WebSocketRealtime(server.url)
    await rt.connect(SessionConfig(instructions="x"))
    assert leftovers(), "the reader runs while connected"
    await rt.close()
    assert leftovers() == set()


async def test_close_while_waiting_to_reconnect_leaves_no_task(
    server: ThreadServer, leftovers: Leftovers
) -> None:
    rt = WebSocketRealtime(server.url, backoff=60.0, max_backoff=60.0)
    await rt.connect()
    await server.drop()
    await poll(lambda: not rt.connected)
    await rt.close()
    assert leftovers() == set()
    assert len(server.connections) == 1


async def test_close_during_a_reconnect_attempt_leaves_no_task(
    server: ThreadServer, leftovers: Leftovers
) -> None:
    rt = WebSocketRealtime(server.url, backoff=0.001, max_backoff=0.001, open_timeout=30.0)
    await rt.connect()
    server.hold.set()
    await server.drop()
    await poll(lambda: server.waiting > 0)  # the reconnect's handshake hangs
    await rt.close()
    assert leftovers() == set()
    assert rt.reconnects == 0


async def test_close_after_a_reconnect_leaves_no_task(
    server: ThreadServer, leftovers: Leftovers
) -> None:
    rt = WebSocketRealtime(server.url, backoff=0.001, max_backoff=0.001)
    await rt.connect(SessionConfig(instructions="x"))
    await server.drop()
    await poll(lambda: rt.reconnects == 1 and rt.connected)
    await rt.send(ev.ResponseCreate())
    assert rt.state.response_pending and rt.state.session["instructions"] == "x"
    await rt.close()
    assert leftovers() == set()


def test_habits_are_plain_unless_given() -> None:
    assert WebSocketRealtime("ws://x").habits == ModelHabits()
    mine = ModelHabits(speak_after_handoff=True)
    assert WebSocketRealtime("ws://x", habits=mine).habits is mine
