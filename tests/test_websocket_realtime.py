"""WebSocketRealtime against real WebSocket servers that wrap the local engine (scripted model)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import socket
import subprocess
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.exceptions import ConnectionClosed

from voxrelay.agents import Agent, RunContext, Scenario, tool
from voxrelay.assembly import load_realtime_model
from voxrelay.config import Settings, get_settings
from voxrelay.engine import Engine
from voxrelay.errors import ConfigError, RealtimeConnectionError
from voxrelay.models import cache
from voxrelay.realtime import InProcessRealtime, RealtimeModel, WebSocketRealtime
from voxrelay.realtime import events as ev
from voxrelay.realtime.beta import (
    BetaServerDecoder,
    client_from_beta,
    client_to_beta,
    server_to_beta,
)
from voxrelay.realtime.replay import ConversationMirror, wire_dict
from voxrelay.realtime.types import (
    AudioConfig,
    AudioInput,
    FunctionCallItem,
    FunctionCallOutputItem,
    FunctionToolDef,
    InputAudio,
    InputText,
    MessageItem,
    OutputAudio,
    SessionConfig,
)
from voxrelay.scenarios import load_scenario
from voxrelay.session import Session
from voxrelay.session import events as app
from voxrelay.testing import ScriptedChatModel, call, say
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
    """Wait (boundedly) until `condition` holds."""
    for _ in range(2000):
        if condition():
            return
        await asyncio.sleep(0.005)
    raise AssertionError("condition never held")


async def ask(rt: RealtimeModel, text: str) -> None:
    item = MessageItem(role="user", content=[InputText(text=text)])
    await rt.send(ev.ConversationItemCreate(item=item))
    await rt.send(ev.ResponseCreate())


# ---- turns over GA and beta ------------------------------------------------------------------


async def test_ga_text_turn(server: ServerMaker, clients: Any) -> None:
    s = await server(say("Hello there, skier."))
    rt = clients(s.url, model="gpt-realtime")
    await rt.connect(SessionConfig(instructions="Be brief.", output_modalities=["text"]))
    await ask(rt, "hi")
    seen: list[ev.ServerEventBase] = []
    done = await until(rt, ev.ResponseDone, seen)
    kinds = [e.type for e in seen]
    assert kinds[:2] == ["session.created", "session.updated"]
    assert "response.output_text.delta" in kinds and "conversation.item.done" in kinds
    assert isinstance(done, ev.ResponseDone) and done.response.status == "completed"
    (message,) = done.response.output
    assert isinstance(message, MessageItem) and message.text() == "Hello there, skier."
    headers = s.sockets[0].request.headers  # type: ignore[union-attr]
    assert headers["Authorization"] == "Bearer sk-test" and "OpenAI-Beta" not in headers
    assert s.sockets[0].request.path == "/v1/realtime?model=gpt-realtime"  # type: ignore[union-attr]
    update = s.first(0, "session.update")
    assert update["session"]["type"] == "realtime" and update["session"]["instructions"]
    assert "audio" not in update["session"], "unset fields are not sent"


async def test_beta_text_turn_speaks_beta_on_the_wire(server: ServerMaker, clients: Any) -> None:
    s = await server(say("Beta works."), protocol="beta")
    rt = clients(s.url, protocol="beta")
    await rt.connect(SessionConfig(instructions="Be brief.", output_modalities=["text"]))
    await ask(rt, "hi")
    seen: list[ev.ServerEventBase] = []
    done = await until(rt, ev.ResponseDone, seen)
    assert s.sockets[0].request.headers["OpenAI-Beta"] == "realtime=v1"  # type: ignore[union-attr]
    update = s.first(0, "session.update")["session"]
    assert update["modalities"] == ["text"] and "type" not in update
    kinds = [e.type for e in seen]
    assert "response.output_text.delta" in kinds  # beta's response.text.delta, renamed
    assert "conversation.item.added" in kinds and "conversation.item.done" in kinds
    assert isinstance(done, ev.ResponseDone)
    assert done.response.output_modalities == ["text"]
    (message,) = done.response.output
    assert isinstance(message, MessageItem) and message.content[0].type == "output_text"
    assert message.text() == "Beta works."


@pytest.mark.parametrize("protocol", ["ga", "beta"])
async def test_tool_call_round_trip(server: ServerMaker, clients: Any, protocol: str) -> None:
    s = await server(
        call("get_weather", '{"city": "Oslo"}'),
        say("Sunny in Oslo.", expect_in_prompt=["18 C"]),
        protocol=protocol,
    )
    rt = clients(s.url, protocol=protocol)
    await rt.connect(SessionConfig(instructions="Weather bot.", tools=[WEATHER]))
    await ask(rt, "weather in Oslo?")
    seen: list[ev.ServerEventBase] = []
    await until(rt, ev.ResponseDone, seen)
    args = next(e for e in seen if isinstance(e, ev.FunctionCallArgumentsDone))
    assert (args.name, json.loads(args.arguments)) == ("get_weather", {"city": "Oslo"})
    output = FunctionCallOutputItem(call_id=args.call_id, output='{"temp": "18 C"}')
    await rt.send(ev.ConversationItemCreate(item=output))
    await rt.send(ev.ResponseCreate())
    done = await until(rt, ev.ResponseDone, seen)
    assert isinstance(done, ev.ResponseDone)
    assert done.response.output[0].text() == "Sunny in Oslo."  # type: ignore[union-attr]
    s.chat.assert_complete()


# ---- the agent runtime over the socket -------------------------------------------------------


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


def handoff_script() -> list[Step]:
    return [
        call("transfer_to_returns", '{"reason": "return"}'),
        say("Sure, which order?", expect_in_prompt=["I want to return my board"]),
        call(
            "find_order",
            '{"order_id": "SP-1001"}',
            expect_tools=["find_order", "transfer_to_front"],
        ),
        say("Found your Summit 158.", expect_in_prompt=["Summit 158"]),
    ]


async def run_scenario(model: RealtimeModel) -> tuple[list[dict[str, Any]], Session]:
    session = Session(shop(), model, settings=Settings())
    async with session:
        events = session.pending()
        events += await session.run_turn("I want to return my board")
        events += await session.run_turn("It is order SP-1001")
    return [{k: v for k, v in e.to_json_dict().items() if k != "at"} for e in events], session


async def test_session_handoff_over_websocket_matches_in_process(
    server: ServerMaker, clients: Any
) -> None:
    local_chat = ScriptedChatModel(handoff_script())
    local, _ = await run_scenario(InProcessRealtime(Engine(local_chat)))
    s = await server(*handoff_script())
    remote, remote_session = await run_scenario(clients(s.url))
    assert remote == local
    assert [e["type"] for e in remote].count("agent_changed") == 1
    assert remote_session.agent.name == "returns" and remote_session.state == {"order": "SP-1001"}
    assert s.engines[0].session.instructions == "Handle returns."
    local_chat.assert_complete()
    s.chat.assert_complete()


async def test_session_handoff_over_voxrelay_serve_app(clients: Any) -> None:
    from voxrelay.server import BackgroundServer, create_app

    chat = ScriptedChatModel(handoff_script())
    settings = Settings()
    with BackgroundServer(create_app(settings, lambda: Engine(chat)), settings) as http:
        events, session = await run_scenario(clients(f"{http.ws_url}/v1/realtime", api_key=None))
    kinds = [e["type"] for e in events]
    assert kinds.count("agent_changed") == 1 and kinds.count("turn_done") == 2
    assert session.agent.name == "returns"
    chat.assert_complete()


# ---- reconnects ------------------------------------------------------------------------------


async def test_reconnect_replays_session_config_and_conversation(
    server: ServerMaker, clients: Any
) -> None:
    s = await server(
        say("First answer."),
        say("Second answer.", expect_in_prompt=["remember the blue board", "First answer."]),
    )
    # The first retry waits 0.1-0.2 s, so the poll below (every 5 ms) sees the link down.
    rt = clients(s.url, backoff=0.2, max_backoff=0.2)
    await rt.connect(SessionConfig(instructions="Front desk.", tools=[WEATHER]))
    await rt.send(ev.SessionUpdate(session=SessionConfig(instructions="Returns desk.")))
    await ask(rt, "remember the blue board")
    seen: list[ev.ServerEventBase] = []
    await until(rt, ev.ResponseDone, seen)
    s.drop()
    await poll(lambda: not rt.connected)
    await ask(rt, "which board?")  # waits in the backlog for the fresh server session
    done = await until(rt, ev.ResponseDone, seen)
    assert isinstance(done, ev.ResponseDone) and done.response.status == "completed"
    assert rt.reconnects == 1 and len(s.engines) == 2
    old, new = s.engines
    assert new.session.instructions == old.session.instructions == "Returns desk."
    assert new.session.tools == old.session.tools == [WEATHER]
    replay = s.received[1]
    assert replay[0]["type"] == "session.update"
    assert replay[0]["session"]["instructions"] == "Returns desk."
    created = [e["item"] for e in replay if e["type"] == "conversation.item.create"]
    assert [i["role"] for i in created] == ["user", "assistant", "user"]
    assert created[2]["content"][0]["text"] == "which board?"
    assert replay[-1]["type"] == "response.create"
    assert [i["id"] for i in created[:2]] == [i.id for i in list(old.conversation)[:2]]
    echoes = [e for e in seen if isinstance(e, ev.ConversationItemAdded)]
    assert len({e.item.id for e in echoes}) == len(echoes), "replayed items are not echoed"
    s.chat.assert_complete()


async def test_drop_mid_response_ends_the_turn_then_the_session_goes_on(
    server: ServerMaker, clients: Any
) -> None:
    s = await server(say("a b c d e f g h", delay_s=0.05), say("Back again."))
    session = Session(shop(), clients(s.url), agent="returns", settings=Settings())
    async with session:
        await session.send_text("slow please")
        await poll(lambda: bool(s.chat.requests))  # the reply has started
        s.drop()
        first: list[app.AppEventBase] = []
        async for event in session.events():
            first.append(event)
            if isinstance(event, app.TurnDone):
                break
        second = await session.run_turn("hello?")
    errors = [e for e in first if isinstance(e, app.ErrorOccurred)]
    assert errors and "dropped mid-response" in errors[0].text
    assert [e.type for e in second][-2:] == ["assistant_message", "turn_done"]
    s.chat.assert_complete()


async def test_gives_up_after_max_retries(server: ServerMaker, clients: Any) -> None:
    s = await server()
    rt = clients(s.url, max_retries=2)
    await rt.connect(SessionConfig(instructions="x"))
    assert s.server is not None
    s.server.close()  # drops the connection and refuses new ones
    await poll(lambda: not rt.connected)  # so the server can never receive what follows
    await rt.send(ev.ResponseCreate())  # never answered: it must end as failed
    seen: list[ev.ServerEventBase] = []
    async for event in rt.events():
        seen.append(event)
    failed = [e for e in seen if isinstance(e, ev.ResponseDone)]
    assert [d.response.status for d in failed] == ["failed"]
    error = seen[-1]
    assert isinstance(error, ev.ErrorEvent) and error.error.code == "connection_lost"
    assert "2 reconnect attempts" in error.error.message
    assert len(s.engines) == 1
    with pytest.raises(RealtimeConnectionError, match="session is over"):
        await rt.send(ev.ResponseCreate())


async def test_events_wait_while_disconnected_in_a_bounded_backlog(
    server: ServerMaker, clients: Any
) -> None:
    s = await server()
    rt = clients(s.url, backoff=60.0, max_backoff=60.0, queue_size=2)
    await rt.connect()
    s.drop()
    await poll(lambda: not rt.connected)
    await rt.send(ev.InputAudioBufferAppend(audio="AAAA"))
    await rt.send(ev.ResponseCreate())
    await rt.send(ev.ResponseCancel())
    with pytest.raises(RealtimeConnectionError, match="2 events already wait"):
        await rt.send(ev.ResponseCreate())
    assert rt.dropped_audio == 1


async def test_first_connect_failure_is_a_clear_error() -> None:
    rt = WebSocketRealtime("ws://127.0.0.1:9/v1/realtime", max_retries=1, **FAST)
    with pytest.raises(RealtimeConnectionError, match=r"cannot connect to ws://127\.0\.0\.1:9"):
        await rt.connect()
    await rt.close()


# ---- robustness and lifecycle ----------------------------------------------------------------


async def test_unknown_and_malformed_server_events_do_not_break_the_stream(
    server: ServerMaker, clients: Any
) -> None:
    s = await server(say("Still fine."))
    s.inject = [
        "not json",
        json.dumps({"type": "conversation.created", "conversation": {"id": "conv_1"}}),
        json.dumps({"type": "output_audio_buffer.started", "response_id": "r"}),
        json.dumps({"type": "response.output_text.delta", "delta": "x"}),  # ids missing
    ]
    rt = clients(s.url)
    await rt.connect()
    await ask(rt, "hi")
    seen: list[ev.ServerEventBase] = []
    done = await until(rt, ev.ResponseDone, seen)
    assert isinstance(seen[0], ev.ErrorEvent) and seen[0].error.code == "invalid_server_event"
    assert "response.output_text.delta" in seen[0].error.message
    assert seen[1].type == "session.created"
    assert done.response.status == "completed"  # type: ignore[attr-defined]


async def test_clean_close_does_not_reconnect_or_leak_tasks(
    server: ServerMaker, clients: Any
) -> None:
    s = await server()
    before = asyncio.all_tasks()
    rt = clients(s.url)
    await rt.connect(SessionConfig(instructions="x"))
    seen: list[ev.ServerEventBase] = []
    await until(rt, ev.SessionUpdated, seen)
    await rt.close()
    assert [e async for e in rt.events()] == []  # the stream has ended
    for _ in range(5):
        await asyncio.sleep(0.01)  # longer than any FAST backoff
    assert len(s.engines) == 1 and rt.reconnects == 0 and not rt.connected
    leftover = {t for t in asyncio.all_tasks() - before if t.get_name().startswith("realtime")}
    assert leftover == set()
    with pytest.raises(RealtimeConnectionError, match="close"):
        await rt.send(ev.ResponseCreate())


# ---- the I/O-free parts ----------------------------------------------------------------------


def test_wire_dict_keeps_explicit_nulls_only() -> None:
    ptt = SessionConfig(audio=AudioConfig(input=AudioInput(turn_detection=None)))
    data = wire_dict(ev.SessionUpdate(session=ptt))
    assert data["session"]["audio"] == {"input": {"turn_detection": None}}
    assert "instructions" not in data["session"] and data["session"]["type"] == "realtime"


def test_client_to_beta_round_trips_through_client_from_beta() -> None:
    ga = wire_dict(
        ev.ResponseCreate.model_validate(
            {"response": {"output_modalities": ["audio"], "max_output_tokens": 50}}
        )
    )
    beta = client_to_beta(ga)
    assert beta["response"] == {"modalities": ["text", "audio"], "max_response_output_tokens": 50}
    assert client_from_beta(beta)["response"] == {
        "output_modalities": ["audio"],
        "max_output_tokens": 50,
    }
    item = {
        "type": "message",
        "role": "assistant",
        "content": [{"type": "output_text", "text": "a"}],
    }
    sent = client_to_beta({"type": "conversation.item.create", "item": item})
    assert sent["item"]["content"][0]["type"] == "text"


def test_beta_decoder_fills_the_function_name_and_marks_items_done() -> None:
    decoder = BetaServerDecoder()
    fc = {
        "type": "function_call",
        "id": "i1",
        "call_id": "c1",
        "name": "get_weather",
        "arguments": "",
    }
    decoder.decode(
        {"type": "response.output_item.added", "response_id": "r", "output_index": 0, "item": fc}
    )
    (done,) = decoder.decode(
        {
            "type": "response.function_call_arguments.done",
            "response_id": "r",
            "item_id": "i1",
            "output_index": 0,
            "call_id": "c1",
            "arguments": "{}",
        }
    )
    assert ev.parse_server_event(done).name == "get_weather"  # type: ignore[union-attr]
    user = {
        "id": "u1",
        "type": "message",
        "role": "user",
        "status": "completed",
        "content": [{"type": "input_text", "text": "hi"}],
    }
    added, final = decoder.decode({"type": "conversation.item.created", "item": user})
    assert (added["type"], final["type"]) == ("conversation.item.added", "conversation.item.done")


def test_mirror_replays_text_and_drops_orphan_outputs() -> None:
    mirror = ConversationMirror(limit=3)
    items = [
        FunctionCallItem(id="f", call_id="c0", name="x", status="completed"),
        FunctionCallOutputItem(id="o", call_id="c0", output="{}", status="completed"),
        MessageItem(id="u", role="user", content=[InputAudio(audio="AAAA", transcript="hello")]),
        MessageItem(id="a", role="assistant", content=[OutputAudio(transcript="hi!")]),
        MessageItem(id="p", role="assistant", status="in_progress"),
    ]
    for item in items:
        mirror.observe(ev.ConversationItemDone(item=item))
    replay = mirror.replay()  # "f" was trimmed (limit 3), so its output "o" goes too
    assert [i.id for i in replay] == ["u", "a"]
    assert [wire_dict(i)["content"] for i in replay] == [
        [{"type": "input_text", "text": "hello"}],
        [{"type": "output_text", "text": "hi!"}],
    ]


def test_backoff_doubles_up_to_the_cap_with_jitter() -> None:
    rt = WebSocketRealtime("ws://x", backoff=1.0, max_backoff=4.0)
    for attempt, full in [(0, 1.0), (1, 2.0), (2, 4.0), (5, 4.0)]:
        assert all(full / 2 <= rt._delay(attempt) <= full for _ in range(50))


# ---- settings --------------------------------------------------------------------------------


def test_factory_picks_the_backend(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    local = load_realtime_model(Settings(), lambda: Engine(ScriptedChatModel([])))
    assert isinstance(local, InProcessRealtime)
    with pytest.raises(ConfigError, match="OPENAI_API_KEY"):
        load_realtime_model(Settings(realtime_backend="openai"))
    monkeypatch.setenv("OPENAI_API_KEY", "sk-env")
    cloud = load_realtime_model(Settings(realtime_backend="openai"))
    assert isinstance(cloud, WebSocketRealtime)
    assert cloud.url == "wss://api.openai.com/v1/realtime?model=gpt-realtime"
    assert cloud._headers == {"Authorization": "Bearer sk-env"}
    other = load_realtime_model(
        Settings(
            realtime_backend="websocket",
            realtime_url="ws://box:8000/v1/realtime?model=mine",
            realtime_protocol="beta",
            openai_api_key="k",
        )
    )
    assert isinstance(other, WebSocketRealtime) and other.protocol == "beta"
    assert other.url == "ws://box:8000/v1/realtime?model=mine"
    assert other._headers == {"Authorization": "Bearer k", "OpenAI-Beta": "realtime=v1"}


# ---- end to end on the real local model ------------------------------------------------------

RETURN_REQUEST = "Hi, I want to return the snowboard I bought"


@pytest.mark.real
async def test_retail_handoff_over_a_voxrelay_serve_subprocess(tmp_path: Path) -> None:
    settings = get_settings()
    cache.require(settings.llm, settings.model_dir)  # prepared by `make setup`
    port = _free_port()
    voxrelay = Path(sys.executable).with_name("voxrelay")
    log = (tmp_path / "serve.log").open("w")
    server = await asyncio.create_subprocess_exec(
        voxrelay,
        *("serve", "--port", str(port), "--log-level", "warning"),
        stdout=log,
        stderr=subprocess.STDOUT,
        env={k: v for k, v in os.environ.items() if not k.startswith("VOXRELAY_REALTIME")},
    )
    try:
        await _wait_healthy(f"http://127.0.0.1:{port}/health", server)
        model = WebSocketRealtime(f"ws://127.0.0.1:{port}/v1/realtime", None, max_retries=0)
        session = Session(load_scenario("customer_service_retail"), model, settings=Settings())
        async with asyncio.timeout(600), session:
            await session.send_text(RETURN_REQUEST)
            async for event in session.events():
                if isinstance(event, app.AgentChanged | app.TurnDone):
                    break
    finally:
        server.terminate()
        await asyncio.wait_for(server.wait(), 60)
        log.close()
    assert isinstance(event, app.AgentChanged), (tmp_path / "serve.log").read_text()[-2000:]
    assert (event.from_, event.to) == ("authentication", "returns")
    assert session.agent.name == "returns"
    assert [h.text for h in session.history if h.role == "user"] == [RETURN_REQUEST]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


async def _wait_healthy(url: str, server: asyncio.subprocess.Process) -> None:
    """Poll /health while the server loads its models (bounded; fails if it exits)."""
    async with httpx.AsyncClient() as client:
        for _ in range(600):
            assert server.returncode is None, "voxrelay serve exited before it was ready"
            with contextlib.suppress(httpx.TransportError):
                if (await client.get(url)).status_code == 200:
                    return
            await asyncio.sleep(0.5)
    raise AssertionError("voxrelay serve did not become healthy")
