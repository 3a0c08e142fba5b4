"""HTTP probes of `voxrelay serve`: deep bodies, bad minted sessions, leaks, origins (issue 11)."""

from __future__ import annotations

import json
import logging
from typing import Any

import httpx
import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus

from probing import (
    DEEP,
    SECRET,
    BrokenKeys,
    RawProbe,
    Serve,
    assert_clear,
    nested,
    serve_fixture,  # noqa: F401 (the `serve` fixture)
)

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
