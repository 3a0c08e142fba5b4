"""Inputs that once dropped a `/v1/realtime` connection or misled a client (issue 11).

Each probe goes to a real `voxrelay serve` app on a loopback port through the official `openai`
client or raw `websockets`. It must get an `error` event (or a JSON HTTP error) in fixed words
with no exception or library text, and the same connection must then finish a normal turn.
Every server event is checked with the `openai` package's own types, strictly.
"""

from __future__ import annotations

import asyncio
import base64
import json
import logging
from collections.abc import Callable, Iterator
from typing import Annotated, Any

import httpx
import pytest
from openai import AsyncOpenAI
from openai.types.beta.realtime.realtime_server_event import RealtimeServerEvent as BetaEvent
from openai.types.realtime.realtime_server_event import RealtimeServerEvent as GAEvent
from pydantic import Field, TypeAdapter
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import InvalidStatus

from voxrelay.audio.pcm import silence
from voxrelay.config import Settings
from voxrelay.engine import Engine
from voxrelay.engine.speech import SpeechStack
from voxrelay.realtime.beta import BETA_MODELS
from voxrelay.server import BackgroundServer, KeyStore, create_app
from voxrelay.server.keys import EphemeralKey, MintRequest
from voxrelay.testing import ScriptedChatModel, ScriptedSTT, ScriptedTTS, ScriptedVAD, say

GA_EVENTS: TypeAdapter[Any] = TypeAdapter(Annotated[GAEvent, Field(discriminator="type")])
BETA_EVENTS: TypeAdapter[Any] = TypeAdapter(Annotated[BetaEvent, Field(discriminator="type")])
REPLY = "Still here."
LEAKS = (
    "Input should",
    "instance of",
    "SessionConfig",
    "pydantic",
    "Traceback",
    "Error(",
    "RecursionError",
    "llama_decode",
    "jsonschema",
)
"""Exception and library text that must never reach a client."""
SECRET = "sk-probe-SECRET"

Serve = Callable[..., BackgroundServer]


class Exploding(Engine):
    """An engine whose event handling fails unexpectedly on one marked event."""

    async def handle_raw(self, data: str | bytes | dict[str, Any]) -> None:
        if isinstance(data, dict) and data.get("event_id") == "evt_explode":
            raise RuntimeError("llama_decode returned 1")
        await super().handle_raw(data)


class BrokenKeys(KeyStore):
    """A key store that fails unexpectedly, as a bug would."""

    def mint(self, request: MintRequest) -> EphemeralKey:
        raise RuntimeError("llama_decode returned 1")


def speech() -> SpeechStack:
    """Scripted speech that hears nothing, so audio appends are accepted and stay quiet."""
    vad = ScriptedVAD.from_spans([], total_ms=600_000)
    return SpeechStack(stt=ScriptedSTT([]), tts=ScriptedTTS(), vad=lambda: vad)


@pytest.fixture
def serve() -> Iterator[Serve]:
    servers: list[BackgroundServer] = []

    def start(
        engine: type[Engine] = Engine,
        log_level: str = "warning",
        keys: KeyStore | None = None,
        **kw: Any,
    ) -> BackgroundServer:
        chat = ScriptedChatModel([say(REPLY)])
        settings = Settings(**kw)
        app = create_app(settings, lambda: engine(chat, speech=speech()), keys=keys)
        server = BackgroundServer(app, settings, log_level=log_level)
        server.start()
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop()


def openai_client(server: BackgroundServer) -> AsyncOpenAI:
    return AsyncOpenAI(
        api_key="x", base_url=f"{server.http_url}/v1", websocket_base_url=f"{server.ws_url}/v1"
    )


def user_text(text: str) -> dict[str, Any]:
    content = [{"type": "input_text", "text": text}]
    return {
        "type": "conversation.item.create",
        "item": {"type": "message", "role": "user", "content": content},
    }


def nested(levels: int) -> str:
    """JSON text `levels` arrays deep (built as text: json.dumps itself would recurse)."""
    return "[" * levels + "]" * levels


def assert_clear(error: dict[str, Any]) -> None:
    """An error a client can act on: a code and a message with no internals in it."""
    assert error["code"] and error["message"]
    assert not any(leak in error["message"] for leak in LEAKS), error["message"]


# ---- the official openai client (GA) ----------------------------------------------------------


class GAProbe:
    """An `openai` GA realtime connection that validates every event it reads."""

    def __init__(self, conn: Any) -> None:
        self.conn = conn

    async def recv(self) -> dict[str, Any]:
        async with asyncio.timeout(10):
            event: dict[str, Any] = json.loads(await self.conn.recv_bytes())
        GA_EVENTS.validate_python(event)
        return event

    async def until(self, kind: str) -> dict[str, Any]:
        event = await self.recv()
        while event["type"] != kind:
            event = await self.recv()
        return event

    async def error(self) -> dict[str, Any]:
        """The next `error` event's body; fails on a session change on the way."""
        event = await self.recv()
        while event["type"] != "error":
            assert event["type"] != "session.updated", "the probe was accepted"
            event = await self.recv()
        assert_clear(event["error"])
        return dict(event["error"])

    async def turn(self) -> None:
        """A normal text turn on this connection completes with the scripted reply."""
        await self.conn.conversation.item.create(item=user_text("are you there?")["item"])
        await self.conn.response.create()
        text, event = "", await self.recv()
        while event["type"] != "response.done":
            assert event["type"] != "error", event
            if event["type"] == "response.output_text.delta":
                text += event["delta"]
            event = await self.recv()
        assert event["response"]["status"] == "completed"
        assert text == REPLY


async def ga_probe(server: BackgroundServer, send: Callable[[Any], Any]) -> dict[str, Any]:
    """Connect with the openai GA client, send a probe, read its error, then finish a turn."""
    async with openai_client(server).realtime.connect(model="voxrelay-local") as conn:
        probe = GAProbe(conn)
        assert (await probe.recv())["type"] == "session.created"
        await send(conn)
        error = await probe.error()
        await conn.input_audio_buffer.append(audio=base64.b64encode(silence(100, 24000)).decode())
        await probe.turn()
    return error


RATE_PROBES = [
    ("input", {"type": "audio/pcm", "rate": 1}),
    ("input", {"type": "audio/pcm", "rate": -24000}),
    ("input", {"type": "audio/pcm", "rate": 0}),
    ("input", {"type": "audio/pcm", "rate": 16000}),
    ("input", {"type": "audio/pcm", "rate": 48000}),
    ("input", {"type": "audio/pcmu", "rate": 44100}),
    ("output", {"type": "audio/pcm", "rate": 16000}),
    ("output", {"type": "audio/pcma", "rate": 44100}),
]


@pytest.mark.parametrize(("side", "format_"), RATE_PROBES)
async def test_impossible_audio_rates(serve: Serve, side: str, format_: dict[str, Any]) -> None:
    session = {"type": "realtime", "audio": {side: {"format": format_}}}
    error = await ga_probe(serve(), lambda conn: conn.session.update(session=session))
    assert error["param"] == f"session.audio.{side}.format.rate"
    assert "24000" in error["message"]


async def test_supported_formats_echo_what_the_ga_types_accept(serve: Serve) -> None:
    server = serve()
    g711 = {
        "input": {"format": {"type": "audio/pcmu"}},
        "output": {"format": {"type": "audio/pcma"}},
    }
    async with openai_client(server).realtime.connect(model="voxrelay-local") as conn:
        probe = GAProbe(conn)
        await probe.recv()
        await conn.session.update(session={"type": "realtime", "audio": g711})
        audio = (await probe.until("session.updated"))["session"]["audio"]
        assert audio["input"]["format"]["type"] == "audio/pcmu"
        assert audio["output"]["format"]["rate"] in (None, 8000)
        pcm = {"input": {"format": {"type": "audio/pcm"}}}
        await conn.session.update(session={"type": "realtime", "audio": pcm})
        audio = (await probe.until("session.updated"))["session"]["audio"]
        assert audio["input"]["format"] == {"type": "audio/pcm", "rate": 24000}
        await probe.turn()


TOOL_PROBES: list[tuple[str, dict[str, Any]]] = [
    ("nonsense_type", {"type": "nonsense"}),
    (
        "bad_pattern",
        {"type": "object", "properties": {"code": {"type": "string", "pattern": "(["}}},
    ),
    ("unresolved_ref", {"type": "object", "properties": {"a": {"$ref": "#/$defs/Missing"}}}),
    ("deep_parameters", {"type": "object", "properties": json.loads(nested(100))}),
]


@pytest.mark.parametrize(("schema"), [s for _, s in TOOL_PROBES], ids=[n for n, _ in TOOL_PROBES])
async def test_bad_tool_schemas(serve: Serve, schema: dict[str, Any]) -> None:
    tools = [{"type": "function", "name": "lookup", "parameters": schema}]
    session = {"type": "realtime", "tools": tools, "tool_choice": "required"}
    error = await ga_probe(serve(), lambda conn: conn.session.update(session=session))
    assert error["code"] in ("invalid_value", "nesting_too_deep")


async def test_bad_tool_schema_in_response_create(serve: Serve) -> None:
    tools = [{"type": "function", "name": "lookup", "parameters": {"type": "nonsense"}}]
    error = await ga_probe(serve(), lambda conn: conn.response.create(response={"tools": tools}))
    assert error["param"] == "response.tools.0.parameters.type"


async def test_tool_choice_required_without_tools(serve: Serve) -> None:
    session = {"type": "realtime", "tool_choice": "required"}
    error = await ga_probe(serve(), lambda conn: conn.session.update(session=session))
    assert error["param"] == "tool_choice"


@pytest.mark.parametrize(
    "event",
    [
        {"type": "session.update", "session": "not an object"},
        {"type": "session.update", "session": {"type": "realtime", "tools": "x"}},
        {"type": "session.update", "session": {"type": "realtime", "max_output_tokens": []}},
        {"type": "conversation.item.create", "item": {"type": "message", "role": "bot"}},
        {"type": "input_audio_buffer.append", "audio": 5},
    ],
)
async def test_validation_errors_name_the_field_in_fixed_words(
    serve: Serve, event: dict[str, Any]
) -> None:
    error = await ga_probe(serve(), lambda conn: conn.send(event))
    assert error["code"] == "invalid_value" and error["param"]


async def test_an_unexpected_exception_is_a_fixed_error(serve: Serve) -> None:
    event = {"type": "response.cancel", "event_id": "evt_explode"}
    error = await ga_probe(serve(Exploding), lambda conn: conn.send(event))
    assert error["code"] == "internal_error"
    assert error["event_id"] == "evt_explode"


# ---- raw websockets: frames the SDK cannot even build -----------------------------------------


class RawProbe(GAProbe):
    """A raw `websockets` connection with the same checks (GA or beta types)."""

    def __init__(self, ws: ClientConnection, beta: bool = False) -> None:
        self.ws = ws
        self.beta = beta

    async def recv(self) -> dict[str, Any]:
        async with asyncio.timeout(10):
            event: dict[str, Any] = json.loads(await self.ws.recv())
        (BETA_EVENTS if self.beta else GA_EVENTS).validate_python(event)
        return event

    async def turn(self) -> None:
        await self.ws.send(json.dumps(user_text("are you there?")))
        await self.ws.send(json.dumps({"type": "response.create"}))
        delta = "response.text.delta" if self.beta else "response.output_text.delta"
        text, event = "", await self.recv()
        while event["type"] != "response.done":
            assert event["type"] != "error", event
            text += event["delta"] if event["type"] == delta else ""
            event = await self.recv()
        assert event["response"]["status"] == "completed"
        assert text == REPLY


DEEP = nested(1000)
DEEP_FRAMES = [
    ("bare_array", nested(1000)),
    ("in_metadata", '{"type":"response.create","response":{"metadata":{"x":' + DEEP + "}}}"),
    (
        "in_tool_parameters",
        '{"type":"session.update","session":{"tools":[{"type":"function","name":"f",'
        '"parameters":{"type":"object","properties":{"a":' + DEEP + "}}}]}}",
    ),
    ("very_deep", nested(200_000)),
]


@pytest.mark.parametrize("beta", [False, True], ids=["ga", "beta"])
@pytest.mark.parametrize("frame", [f for _, f in DEEP_FRAMES], ids=[n for n, _ in DEEP_FRAMES])
async def test_deeply_nested_frames(serve: Serve, frame: str, beta: bool) -> None:
    server = serve()
    headers = {"OpenAI-Beta": "realtime=v1"} if beta else {}
    async with connect(f"{server.ws_url}/v1/realtime", additional_headers=headers) as ws:
        probe = RawProbe(ws, beta)
        await probe.recv()
        await ws.send(frame)
        error = await probe.error()
        assert error["code"] == "nesting_too_deep"
        await probe.turn()


# ---- beta clients -------------------------------------------------------------------------------


@pytest.mark.parametrize("model", ["voxrelay-local", "gpt-4o-realtime-preview"])
async def test_beta_sessions_report_a_model_the_beta_types_accept(serve: Serve, model: str) -> None:
    server = serve()
    async with openai_client(server).beta.realtime.connect(model=model) as conn:
        created = json.loads(await conn.recv_bytes())
        BETA_EVENTS.validate_python(created)
        assert created["session"]["model"] in BETA_MODELS
        assert created["session"]["voxrelay_model"] == model
        await conn.session.update(session={"instructions": "Be brief.", "modalities": ["text"]})
        updated = json.loads(await conn.recv_bytes())
        BETA_EVENTS.validate_python(updated)
        assert updated["type"] == "session.updated"
        assert updated["session"]["voxrelay_model"] == model
        await conn.conversation.item.create(item=user_text("are you there?")["item"])
        await conn.response.create()
        async with asyncio.timeout(10):
            async for event in conn:
                assert event.type != "error", event
                if event.type == "response.done":
                    break
        assert event.response.status == "completed"


@pytest.mark.parametrize(
    "event",
    [
        {"type": "session.update", "session": {"input_audio_format": "mp3"}},
        {"type": "session.update", "session": {"output_audio_format": {"rate": 8000}}},
        {"type": "session.update", "session": {"modalities": 5}},
        {"type": "response.create", "response": {"modalities": "audio"}},
    ],
)
async def test_bad_beta_fields_are_refused(serve: Serve, event: dict[str, Any]) -> None:
    server = serve()
    headers = {"OpenAI-Beta": "realtime=v1"}
    async with connect(f"{server.ws_url}/v1/realtime", additional_headers=headers) as ws:
        probe = RawProbe(ws, beta=True)
        await probe.recv()
        await ws.send(json.dumps(event))
        assert (await probe.error())["code"] == "invalid_value"
        await probe.turn()


async def test_beta_session_endpoint_reports_an_accepted_model(serve: Serve) -> None:
    server = serve()
    async with httpx.AsyncClient(base_url=server.http_url) as http:
        reply = (await http.post("/v1/realtime/sessions", json={"modalities": ["text"]})).json()
    assert reply["model"] in BETA_MODELS
    assert reply["voxrelay_model"] == "voxrelay-local"


# ---- HTTP ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/v1/realtime/client_secrets", "/v1/realtime/sessions"])
@pytest.mark.parametrize(
    "body",
    [
        nested(1000),
        '{"session":{"type":"realtime","tools":[{"type":"function","name":"f",'
        '"parameters":{"properties":' + DEEP + "}}]}}",
        '{"session":' + '{"a":' * 5000 + "1" + "}" * 5000 + "}",
    ],
    ids=["bare", "tool_parameters", "objects"],
)
async def test_deep_json_bodies_get_a_json_400(serve: Serve, path: str, body: str) -> None:
    server = serve()
    async with httpx.AsyncClient(base_url=server.http_url) as http:
        reply = await http.post(path, content=body, headers={"Content-Type": "application/json"})
    assert reply.status_code == 400
    error = reply.json()["error"]
    assert set(error) == {"type", "code", "message", "param"}
    assert error["code"] == "nesting_too_deep"
    assert_clear(error)


@pytest.mark.parametrize(
    "session",
    [
        {"type": "realtime", "audio": {"input": {"format": {"type": "audio/pcm", "rate": 8000}}}},
        {"type": "realtime", "tools": [{"type": "function", "name": "f", "parameters": []}]},
        {"type": "realtime", "tools": "x"},
        {"type": "realtime", "tool_choice": "required"},
    ],
)
async def test_bad_minted_sessions_get_a_clear_400(serve: Serve, session: dict[str, Any]) -> None:
    server = serve()
    async with httpx.AsyncClient(base_url=server.http_url) as http:
        reply = await http.post("/v1/realtime/client_secrets", json={"session": session})
    assert reply.status_code == 400
    error = reply.json()["error"]
    assert error["param"]
    assert_clear(error)


async def test_an_unexpected_http_failure_is_a_fixed_json_500(serve: Serve) -> None:
    server = serve(keys=BrokenKeys())
    async with httpx.AsyncClient(base_url=server.http_url) as http:
        reply = await http.post("/v1/realtime/client_secrets", json={})
    assert reply.status_code == 500
    error = reply.json()["error"]
    assert error["code"] == "internal_error"
    assert_clear(error)


async def test_query_string_credentials_stay_out_of_the_logs(
    serve: Serve, caplog: pytest.LogCaptureFixture
) -> None:
    server = serve(log_level="info")
    loggers = [logging.getLogger(name) for name in ("uvicorn.access", "uvicorn.error")]
    for logger in loggers:
        logger.addHandler(caplog.handler)
    try:
        async with httpx.AsyncClient(base_url=server.http_url) as http:
            assert (await http.get(f"/health?api_key={SECRET}&x=1")).status_code == 200
            await http.post(f"/v1/realtime/client_secrets?token={SECRET}")
        url = f"{server.ws_url}/v1/realtime?model=m&api_key={SECRET}&client_secret={SECRET}"
        async with connect(url) as ws:
            probe = RawProbe(ws)
            await probe.recv()
            await probe.turn()
    finally:
        for logger in loggers:
            logger.removeHandler(caplog.handler)
    lines = caplog.text
    assert "/health?api_key=***&x=1" in lines
    assert "WebSocket /v1/realtime?model=m&api_key=***&client_secret=***" in lines
    assert SECRET not in lines


# ---- origins ------------------------------------------------------------------------------------


async def test_a_keyless_server_refuses_foreign_origins(serve: Serve) -> None:
    server = serve()
    with pytest.raises(InvalidStatus) as caught:
        async with connect(f"{server.ws_url}/v1/realtime", origin="https://evil.example"):  # type: ignore[arg-type]
            pass
    assert caught.value.response.status_code == 403
    error = json.loads(caught.value.response.body or b"{}")["error"]
    assert error["code"] == "origin_not_allowed"
    assert "VOXRELAY_ALLOWED_ORIGINS" in error["message"]
    async with httpx.AsyncClient(base_url=server.http_url) as http:
        minted = await http.post(
            "/v1/realtime/client_secrets", headers={"Origin": "https://evil.example"}
        )
    assert minted.status_code == 403
    assert minted.json()["error"]["code"] == "origin_not_allowed"


@pytest.mark.parametrize("origin", [None, "http://localhost:5173", "http://127.0.0.1:8000"])
async def test_a_keyless_server_serves_local_pages(serve: Serve, origin: str | None) -> None:
    server = serve()
    async with connect(f"{server.ws_url}/v1/realtime", origin=origin) as ws:  # type: ignore[arg-type]
        probe = RawProbe(ws)
        await probe.recv()
        await probe.turn()
    headers = {"Origin": origin} if origin else {}
    async with httpx.AsyncClient(base_url=server.http_url) as http:
        minted = await http.post("/v1/realtime/client_secrets", headers=headers)
    assert minted.status_code == 200


async def test_allowed_origins_are_configurable(serve: Serve) -> None:
    server = serve(allowed_origins="https://app.example")
    async with connect(f"{server.ws_url}/v1/realtime", origin="https://app.example") as ws:  # type: ignore[arg-type]
        probe = RawProbe(ws)
        await probe.recv()
        await probe.turn()
