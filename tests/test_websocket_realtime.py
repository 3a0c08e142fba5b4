"""WebSocketRealtime against real WebSocket servers that wrap the local engine (scripted model)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest

from voxrelay.assembly import Backend, load_realtime_model
from voxrelay.config import Settings, get_settings
from voxrelay.engine import Engine
from voxrelay.errors import RealtimeConnectionError
from voxrelay.models import cache
from voxrelay.realtime import InProcessRealtime, RealtimeModel, WebSocketRealtime
from voxrelay.realtime import events as ev
from voxrelay.realtime.types import FunctionCallOutputItem, MessageItem, SessionConfig
from voxrelay.realtime.websocket import ProtocolVersion
from voxrelay.scenarios import load_scenario
from voxrelay.session import Session
from voxrelay.session import events as app
from voxrelay.testing import ScriptedChatModel, call, say
from voxrelay.testing.chat import Step
from ws_harness import WEATHER, ServerMaker, ask, shop, until

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


@pytest.mark.parametrize(
    ("backend", "protocol", "key", "expected"),
    [
        ("openai", "ga", None, {"authorization": "Bearer sk-env"}),
        ("websocket", "beta", "k", {"authorization": "Bearer k", "openai-beta": "realtime=v1"}),
    ],
)
async def test_factory_clients_send_their_headers(
    server: ServerMaker,
    monkeypatch: pytest.MonkeyPatch,
    backend: Backend,
    protocol: ProtocolVersion,
    key: str | None,
    expected: dict[str, str],
) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-env")
    s = await server(protocol=protocol)
    settings = Settings(
        realtime_backend=backend,
        realtime_url=s.url,
        realtime_protocol=protocol,
        openai_api_key=key,
    )
    rt = load_realtime_model(settings)
    await rt.connect()
    await until(rt, ev.SessionCreated, [])
    await rt.close()
    headers = s.sockets[0].request.headers  # type: ignore[union-attr]
    sent = {name: headers.get(name) for name in ("authorization", "openai-beta")}
    assert sent == {"openai-beta": None, **expected}


# ---- the agent runtime over the socket -------------------------------------------------------


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
    # No realtime task outlives close(), so nothing is left that could reconnect later.
    assert len(s.engines) == 1 and rt.reconnects == 0 and not rt.connected
    leftover = {t for t in asyncio.all_tasks() - before if t.get_name().startswith("realtime")}
    assert leftover == set()
    with pytest.raises(RealtimeConnectionError, match="close"):
        await rt.send(ev.ResponseCreate())


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
