"""Shared parts of the wire probes: a served app, the openai-typed probes, leak checks.

Each probe goes to a real `voxrelay serve` app on a loopback port through the official `openai`
client or raw `websockets`. It must get an `error` event (or a JSON HTTP error) in fixed words
with no exception or library text, and the same connection must then finish a normal turn.
Every server event is checked with the `openai` package's own types, strictly.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Iterator
from typing import Annotated, Any

import pytest
from openai import AsyncOpenAI
from openai.types.beta.realtime.realtime_server_event import RealtimeServerEvent as BetaEvent
from openai.types.realtime.realtime_server_event import RealtimeServerEvent as GAEvent
from pydantic import Field, TypeAdapter
from websockets.asyncio.client import ClientConnection

from voxrelay.config import Settings
from voxrelay.engine import Engine
from voxrelay.engine.speech import SpeechStack
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


@pytest.fixture(name="serve")
def serve_fixture() -> Iterator[Serve]:
    """Starts apps on loopback ports (scripted models); stops them after the test."""
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
