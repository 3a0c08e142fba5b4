"""The FastAPI app: `/v1/realtime`, ephemeral keys and health."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from fastapi import FastAPI, Request, WebSocket
from fastapi.responses import JSONResponse

from voxrelay.config import Settings
from voxrelay.errors import ProtocolError
from voxrelay.realtime import inbound
from voxrelay.realtime.beta import beta_model_names, session_to_beta
from voxrelay.realtime.rules import default_session, merge_session
from voxrelay.server.auth import AuthRefused, Gate, OriginPolicy, bearer_key
from voxrelay.server.keys import (
    EphemeralKey,
    KeyStore,
    MintRequest,
    beta_mint_request,
    ga_mint_request,
)
from voxrelay.server.realtime import EngineFactory, serve_realtime
from voxrelay.server.serving import install_log_scrubber

log = logging.getLogger(__name__)

INTERNAL_ERROR = "the server failed to handle this request; the details are in its log"
"""The only text a client sees of an unexpected server-side exception."""
MAX_BODY_BYTES = 1024 * 1024
"""Largest JSON body the HTTP endpoints read."""


@dataclass
class ServerState:
    """What the routes share: settings, the key gate, the engine factory, live connections."""

    settings: Settings
    factory: EngineFactory
    gate: Gate
    models: Mapping[str, str] = field(default_factory=dict)
    connections: int = 0


def create_app(
    settings: Settings,
    engine_factory: EngineFactory,
    *,
    models: Mapping[str, str] | None = None,
    keys: KeyStore | None = None,
) -> FastAPI:
    """An app serving `engine_factory()` engines; `models` is what /health reports as loaded."""
    origins = OriginPolicy.from_settings(settings.allowed_origins, settings.api_key)
    state = ServerState(
        settings=settings,
        factory=engine_factory,
        gate=Gate(settings.api_key, keys if keys is not None else KeyStore(), origins),
        models=dict(models or getattr(engine_factory, "models", {})),
    )
    app = FastAPI(title="voxrelay", summary="OpenAI Realtime-compatible local voice agents")
    app.state.voxrelay = state
    app.add_exception_handler(Exception, _internal_error)
    _routes(app, state)
    install_log_scrubber()
    return app


async def _internal_error(request: Request, exc: Exception) -> JSONResponse:
    """Any unexpected exception: logged whole, answered with a fixed JSON 500."""
    log.error("%s %s failed", request.method, request.url.path, exc_info=exc)
    error = {"type": "server_error", "code": "internal_error", "message": INTERNAL_ERROR}
    return JSONResponse({"error": {**error, "param": None}}, status_code=500)


def _routes(app: FastAPI, state: ServerState) -> None:
    @app.get("/health")
    @app.get("/healthz", include_in_schema=False)
    async def health() -> dict[str, Any]:
        """Liveness, the loaded models and how many realtime connections are open."""
        return {
            "status": "ok",
            "models": dict(state.models),
            "connections": state.connections,
            "auth": state.settings.api_key is not None,
        }

    @app.post("/v1/realtime/client_secrets")
    async def client_secrets(request: Request) -> JSONResponse:
        """GA: mint an ephemeral key carrying a session configuration."""
        return await _mint(request, state, ga_mint_request, _ga_reply)

    @app.post("/v1/realtime/sessions")
    async def sessions(request: Request) -> JSONResponse:
        """Beta: mint an ephemeral key; the reply is the session plus `client_secret`."""
        return await _mint(request, state, beta_mint_request, _beta_reply)

    @app.websocket("/v1/realtime")
    async def realtime(ws: WebSocket, model: str | None = None) -> None:
        """The OpenAI Realtime protocol, GA or beta, over the local engine."""
        state.connections += 1
        try:
            await serve_realtime(
                ws,
                state.gate,
                state.factory,
                model=model,
                max_bytes=state.settings.max_message_bytes,
            )
        finally:
            state.connections -= 1


async def _mint(
    request: Request,
    state: ServerState,
    parse: Callable[[Any], MintRequest],
    reply: Callable[[EphemeralKey], dict[str, Any]],
) -> JSONResponse:
    """Check the origin and server key, validate the body, mint a key and render the reply."""
    key = bearer_key(request.headers.get("authorization"))
    try:
        state.gate.admit_owner(key, request.headers.get("origin"))
    except AuthRefused as exc:
        return _error(exc.status, exc.code, str(exc))
    try:
        minted = parse(await _json_body(request))
    except ProtocolError as exc:
        return _error(400, exc.code, str(exc), exc.param)
    return JSONResponse(reply(state.gate.keys.mint(minted)))


async def _json_body(request: Request) -> Any:
    raw = await request.body()
    if len(raw) > MAX_BODY_BYTES:
        raise ProtocolError("invalid_request", f"body is larger than {MAX_BODY_BYTES} bytes")
    if not raw.strip():
        return {}
    return inbound.loads(raw, "body")


def _full_session(key: EphemeralKey) -> dict[str, Any]:
    session = merge_session(default_session(), key.session)
    data: dict[str, Any] = session.model_dump(mode="json")
    return data


def _ga_reply(key: EphemeralKey) -> dict[str, Any]:
    return {"value": key.value, "expires_at": key.expires_at, "session": _full_session(key)}


def _beta_reply(key: EphemeralKey) -> dict[str, Any]:
    secret = {"value": key.value, "expires_at": key.expires_at}
    return {**beta_model_names(session_to_beta(_full_session(key))), "client_secret": secret}


def _error(status: int, code: str, message: str, param: str | None = None) -> JSONResponse:
    """An OpenAI-style HTTP error body."""
    error = {"type": "invalid_request_error", "code": code, "message": message, "param": param}
    return JSONResponse({"error": error}, status_code=status)
