"""A WebSocket Realtime test harness: servers that wrap the local engine (scripted model)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest
from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.exceptions import ConnectionClosed

from voxrelay.agents import Agent, RunContext, Scenario, tool
from voxrelay.engine import Engine
from voxrelay.realtime import RealtimeModel, WebSocketRealtime
from voxrelay.realtime import events as ev
from voxrelay.realtime.beta import client_from_beta, server_to_beta
from voxrelay.realtime.types import FunctionToolDef, InputText, MessageItem
from voxrelay.testing import ScriptedChatModel
from voxrelay.testing.chat import Step

FAST = {"backoff": 0.001, "max_backoff": 0.005}
"""Reconnect quickly in tests (the delays are never asserted)."""

WEATHER = FunctionToolDef(
    name="get_weather",
    description="Weather in a city.",
    parameters={"type": "object", "properties": {"city": {"type": "string"}}},
)


class EngineServer:
    """A WebSocket Realtime server: one Engine per connection over a shared scripted model."""

    def __init__(self, chat: ScriptedChatModel, protocol: str = "ga") -> None:
        self.chat = chat
        self.protocol = protocol
        self.received: list[list[dict[str, Any]]] = []
        """Client events as they arrived, per connection (beta ones in beta shape)."""
        self.engines: list[Engine] = []
        self.sockets: list[ServerConnection] = []
        self.inject: list[str] = []
        """Raw messages sent first on every connection."""
        self.server: Server | None = None

    @property
    def url(self) -> str:
        assert self.server is not None
        port = self.server.sockets[0].getsockname()[1]
        return f"ws://127.0.0.1:{port}/v1/realtime"

    async def handle(self, ws: ServerConnection) -> None:
        engine = Engine(self.chat)
        log: list[dict[str, Any]] = []
        self.engines.append(engine)
        self.received.append(log)
        self.sockets.append(ws)
        for raw in self.inject:
            await ws.send(raw)
        await engine.start()
        writer = asyncio.create_task(self._write(engine, ws))
        try:
            async for raw in ws:
                data = json.loads(raw)
                log.append(data)
                await engine.handle_raw(client_from_beta(data) if self.protocol == "beta" else data)
        except ConnectionClosed:
            pass
        finally:
            writer.cancel()
            await asyncio.gather(writer, return_exceptions=True)
            await engine.close()

    async def _write(self, engine: Engine, ws: ServerConnection) -> None:
        async for event in engine.events():
            data = event.model_dump(mode="json", exclude_none=True)
            for out in server_to_beta(data) if self.protocol == "beta" else [data]:
                await ws.send(json.dumps(out))

    def drop(self) -> None:
        """Cut the newest connection without a closing handshake."""
        self.sockets[-1].transport.abort()

    def first(self, conn: int, kind: str) -> dict[str, Any]:
        return next(e for e in self.received[conn] if e["type"] == kind)


ServerMaker = Callable[..., Awaitable[EngineServer]]


@pytest.fixture
async def server() -> AsyncIterator[ServerMaker]:
    started: list[EngineServer] = []

    async def start(*steps: Step, protocol: str = "ga") -> EngineServer:
        s = EngineServer(ScriptedChatModel(steps), protocol)
        s.server = await serve(s.handle, "127.0.0.1", 0)
        started.append(s)
        return s

    yield start
    for s in started:
        assert s.server is not None
        s.server.close()
        await s.server.wait_closed()


@pytest.fixture
async def clients() -> AsyncIterator[Callable[..., WebSocketRealtime]]:
    made: list[WebSocketRealtime] = []

    def make(url: str, **kw: Any) -> WebSocketRealtime:
        kw = {**FAST, **kw}
        rt = WebSocketRealtime(url, kw.pop("api_key", "sk-test"), **kw)
        made.append(rt)
        return rt

    yield make
    for rt in made:
        await rt.close()


async def until(
    rt: RealtimeModel, kind: type[ev.ServerEventBase], events: list[ev.ServerEventBase]
) -> ev.ServerEventBase:
    """Collect events into `events` until one of `kind` arrives."""
    async for event in rt.events():
        events.append(event)
        if isinstance(event, kind):
            return event
    raise AssertionError(f"the stream ended before {kind.__name__}: {[e.type for e in events]}")


async def poll(condition: Callable[[], bool]) -> None:
    """Wait (boundedly) until `condition` holds; for state that offers no signal to wait on."""
    for _ in range(2000):
        if condition():
            return
        await asyncio.sleep(0.005)
    raise AssertionError("condition never held")


async def ask(rt: RealtimeModel, text: str) -> None:
    item = MessageItem(role="user", content=[InputText(text=text)])
    await rt.send(ev.ConversationItemCreate(item=item))
    await rt.send(ev.ResponseCreate())


@tool
def find_order(ctx: RunContext, order_id: str) -> dict[str, str]:
    """Find an order by its id."""
    ctx.state["order"] = order_id
    return {"order": order_id, "item": "Summit 158"}


def shop() -> Scenario:
    front = Agent("front", "Route callers.", handoffs=["returns"], greeting="Hi, what's up?")
    returns = Agent(
        "returns",
        "Handle returns.",
        tools=[find_order],
        handoffs=["front"],
        handoff_description="returns and refunds",
    )
    return Scenario("shop", [front, returns])
