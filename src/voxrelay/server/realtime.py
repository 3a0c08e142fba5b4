"""`/v1/realtime`: one client WebSocket bridged to one Engine by a reader and a writer task."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Callable

from fastapi import WebSocket
from fastapi.responses import JSONResponse
from starlette.websockets import WebSocketDisconnect

from voxrelay.engine import Engine
from voxrelay.errors import ProtocolError
from voxrelay.realtime import events as ev
from voxrelay.realtime import inbound
from voxrelay.realtime.beta import client_from_beta, server_to_beta
from voxrelay.realtime.rules import merge_session
from voxrelay.realtime.types import ErrorDetail
from voxrelay.server.auth import AuthRefused, Gate, Grant, Handshake, read_handshake

log = logging.getLogger(__name__)

EngineFactory = Callable[[], Engine]
"""Makes a fresh Engine per connection (sharing the loaded models)."""

POLICY_VIOLATION = 1008
"""WebSocket close code for refused credentials when no HTTP denial response is possible."""
EVENT_FAILED = (
    "the server failed to handle this event; the session goes on (the details are in the "
    "server log)"
)
"""The only text a client sees of an unexpected exception while its event was handled."""


class RealtimeConnection:
    """Serves one accepted WebSocket: client events in, the engine's server events out."""

    def __init__(self, ws: WebSocket, engine: Engine, *, beta: bool, max_bytes: int) -> None:
        self.ws = ws
        self.engine = engine
        self.beta = beta
        self.max_bytes = max_bytes
        self._send_lock = asyncio.Lock()
        """The writer and the reader (for edge errors) never send at the same time."""

    async def run(self) -> None:
        """Serve until the client leaves or the link fails; then stop both tasks and the engine."""
        await self.engine.start()
        reader = asyncio.create_task(self._read(), name="realtime reader")
        writer = asyncio.create_task(self._write(), name="realtime writer")
        try:
            done, _ = await asyncio.wait({reader, writer}, return_when=asyncio.FIRST_COMPLETED)
            for task in done:
                _log_failure(task)
        finally:
            await self._shutdown(reader, writer)

    async def _shutdown(self, *tasks: asyncio.Task[None]) -> None:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        drain = asyncio.create_task(self._drain(), name="realtime drain")
        try:
            await self.engine.close()
        finally:
            await drain

    async def _drain(self) -> None:
        """Consume what the engine still emits, so its close never waits on a full queue."""
        async for _ in self.engine.events():
            pass

    # ---- client → engine -----------------------------------------------------------------------

    async def _read(self) -> None:
        while True:
            message = await self.ws.receive()
            if message["type"] == "websocket.disconnect":
                return
            text = message.get("text")
            if text is None:
                await self._refuse(
                    ProtocolError(
                        "invalid_event",
                        "binary frames are not supported: send each event as a JSON text frame",
                    )
                )
                continue
            await self._handle_text(text)

    async def _handle_text(self, text: str) -> None:
        if _utf8_size_over(text, self.max_bytes):
            await self._refuse(
                ProtocolError(
                    "message_too_large",
                    f"message is larger than {self.max_bytes} bytes; send audio in smaller "
                    "input_audio_buffer.append chunks",
                )
            )
            return
        try:
            data = inbound.loads(text)
        except ProtocolError as exc:
            await self._refuse(exc)
            return
        try:
            if self.beta and isinstance(data, dict):
                data = client_from_beta(data)
            await self.engine.handle_raw(data)
        except Exception:
            log.exception("realtime event failed")
            await self._send(_failed(data))

    async def _refuse(self, exc: ProtocolError) -> None:
        log.info("client message refused: %s", exc)
        await self._send(ev.error_event(exc))

    # ---- engine → client -----------------------------------------------------------------------

    async def _write(self) -> None:
        async for event in self.engine.events():
            await self._send(event)

    async def _send(self, event: ev.ServerEvent) -> None:
        for text in self._encode(event):
            async with self._send_lock:
                await self.ws.send_text(text)

    def _encode(self, event: ev.ServerEvent) -> list[str]:
        if not self.beta:
            return [event.model_dump_json()]
        beta = server_to_beta(event.model_dump(mode="json"))
        return [json.dumps(e, separators=(",", ":"), ensure_ascii=False) for e in beta]


def _failed(data: object) -> ev.ErrorEvent:
    """The fixed `error` event for an event whose handling raised unexpectedly."""
    caused_by = data.get("event_id") if isinstance(data, dict) else None
    detail = ErrorDetail(
        type="server_error",
        code="internal_error",
        message=EVENT_FAILED,
        event_id=caused_by if isinstance(caused_by, str) else None,
    )
    return ev.ErrorEvent(error=detail)


async def serve_realtime(
    ws: WebSocket, gate: Gate, factory: EngineFactory, *, model: str | None, max_bytes: int
) -> None:
    """Authenticate, accept and serve one `/v1/realtime` WebSocket."""
    hello = read_handshake(ws.headers, ws.scope.get("subprotocols", []))
    try:
        grant = gate.admit(hello.key, ws.headers.get("origin"))
    except AuthRefused as exc:
        await _deny(ws, exc)
        return
    engine = _new_engine(factory, grant, model)
    await ws.accept(subprotocol=hello.subprotocol)
    log.info("realtime connection opened (%s)", _flavour(hello))
    with contextlib.suppress(WebSocketDisconnect):
        await RealtimeConnection(ws, engine, beta=hello.beta, max_bytes=max_bytes).run()
    log.info("realtime connection closed")


def _new_engine(factory: EngineFactory, grant: Grant, model: str | None) -> Engine:
    """A fresh engine whose session carries the requested model and any minted configuration."""
    engine = factory()
    if model:
        engine.session = engine.session.model_copy(update={"model": model})
    if grant.session is not None:
        engine.session = merge_session(engine.session, grant.session)
    return engine


async def _deny(ws: WebSocket, refusal: AuthRefused) -> None:
    """Refuse the upgrade with HTTP 401/403 and an OpenAI-style error body (close 1008 if not)."""
    message = str(refusal)
    error = {"type": "invalid_request_error", "code": refusal.code, "message": message}
    if "websocket.http.response" in ws.scope.get("extensions", {}):
        await ws.send_denial_response(JSONResponse({"error": error}, status_code=refusal.status))
        return
    await ws.close(code=POLICY_VIOLATION, reason=message[:120])


def _flavour(hello: Handshake) -> str:
    return "beta" if hello.beta else "GA"


def _log_failure(task: asyncio.Task[None]) -> None:
    exc = task.exception()
    if exc is not None and not isinstance(exc, WebSocketDisconnect):
        log.error("realtime %s failed", task.get_name(), exc_info=exc)


def _utf8_size_over(text: str, limit: int) -> bool:
    """True when `text` takes more than `limit` bytes as UTF-8 (encodes only when it may)."""
    if len(text) > limit:
        return True
    return len(text) * 4 > limit and len(text.encode("utf-8")) > limit
