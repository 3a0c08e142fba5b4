"""Inputs that once dropped a `/v1/realtime` connection or misled a client (issue 11).

Each probe goes to a real `voxrelay serve` app on a loopback port through the official `openai`
client or raw `websockets`. It must get an `error` event in fixed words with no exception or
library text, and the same connection must then finish a normal turn. Every server event is
checked with the `openai` package's own types, strictly. HTTP probes: test_wire_probes_http.py.
"""

from __future__ import annotations

import asyncio
import base64
import json
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from websockets.asyncio.client import connect

from probing import (
    BETA_EVENTS,
    DEEP,
    Exploding,
    GAProbe,
    RawProbe,
    Serve,
    nested,
    openai_client,
    serve_fixture,  # noqa: F401 (the `serve` fixture)
    user_text,
)
from voxrelay.audio.pcm import silence
from voxrelay.realtime.beta import BETA_MODELS
from voxrelay.server import BackgroundServer

# ---- the official openai client (GA) ----------------------------------------------------------


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
