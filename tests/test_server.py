"""`voxrelay serve` on scripted models: a real uvicorn server and real WebSocket clients.

Every server event a test receives is validated with the `openai` package's own GA or beta
types (strictly, as the Agents SDK does), so naming or shape drift fails here first.
"""

from __future__ import annotations

import asyncio
import base64
import json
from collections.abc import Callable, Iterator
from typing import Annotated, Any

import httpx
import pytest
from openai.types.beta.realtime.realtime_server_event import RealtimeServerEvent as BetaEvent
from openai.types.realtime.realtime_server_event import RealtimeServerEvent as GAEvent
from pydantic import Field, TypeAdapter
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import InvalidStatus

from voxrelay.audio.pcm import silence
from voxrelay.config import Settings
from voxrelay.engine import Engine
from voxrelay.engine.speech import SpeechStack
from voxrelay.server import BackgroundServer, KeyStore, create_app
from voxrelay.testing import ScriptedChatModel, ScriptedSTT, ScriptedTTS, ScriptedVAD, say
from voxrelay.testing.chat import Step

GA_EVENTS: TypeAdapter[Any] = TypeAdapter(Annotated[GAEvent, Field(discriminator="type")])
BETA_EVENTS: TypeAdapter[Any] = TypeAdapter(Annotated[BetaEvent, Field(discriminator="type")])
KEY = "sk-test-key"
RATE = 24000


def check_ga(event: dict[str, Any]) -> None:
    """Fail unless the openai GA types accept this server event."""
    GA_EVENTS.validate_python(event)


def check_beta(event: dict[str, Any]) -> None:
    """Fail unless the openai beta types accept it (their session.model is a closed list)."""
    BETA_EVENTS.validate_python(event)


class Client:
    """A raw WebSocket client that validates and records every server event."""

    def __init__(self, ws: ClientConnection, beta: bool = False) -> None:
        self.ws = ws
        self.beta = beta
        self.seen: list[dict[str, Any]] = []

    async def send(self, event: dict[str, Any] | str | bytes) -> None:
        await self.ws.send(event if isinstance(event, str | bytes) else json.dumps(event))

    async def recv(self) -> dict[str, Any]:
        async with asyncio.timeout(10):
            event: dict[str, Any] = json.loads(await self.ws.recv())
        (check_beta if self.beta else check_ga)(event)
        self.seen.append(event)
        return event

    async def until(self, kind: str) -> list[dict[str, Any]]:
        """Events up to and including the first of type `kind`."""
        got = [await self.recv()]
        while got[-1]["type"] != kind:
            got.append(await self.recv())
        return got

    async def say(self, text: str) -> list[dict[str, Any]]:
        """Send a user message and ask for a response; the events up to response.done."""
        content = [{"type": "input_text", "text": text}]
        item = {"type": "message", "role": "user", "content": content}
        await self.send({"type": "conversation.item.create", "item": item})
        await self.send({"type": "response.create"})
        return await self.until("response.done")


class Engines:
    """An engine factory over scripted models that remembers what it made."""

    def __init__(self, steps: list[Step], speech: SpeechStack | None = None) -> None:
        self.chat = ScriptedChatModel(steps)
        self.speech = speech
        self.made: list[TrackedEngine] = []
        self.models = {"llm": "scripted"}

    def __call__(self) -> Engine:
        engine = TrackedEngine(self.chat, speech=self.speech)
        self.made.append(engine)
        return engine


class TrackedEngine(Engine):
    """An Engine that records being closed."""

    closed = False

    async def close(self) -> None:
        self.closed = True
        await super().close()


Serve = Callable[..., BackgroundServer]


@pytest.fixture
def serve() -> Iterator[Serve]:
    servers: list[BackgroundServer] = []

    def start(factory: Callable[[], Engine], keys: KeyStore | None = None, **kw: Any):
        settings = Settings(**kw)
        server = BackgroundServer(create_app(settings, factory, keys=keys), settings)
        server.start()
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop()


def url(server: BackgroundServer, model: str = "voxrelay-test") -> str:
    return f"{server.ws_url}/v1/realtime?model={model}"


def user_text(text: str) -> dict[str, Any]:
    content = [{"type": "input_text", "text": text}]
    return {
        "type": "conversation.item.create",
        "item": {"type": "message", "role": "user", "content": content},
    }


# ---- connection, GA and beta naming -------------------------------------------------------------


async def test_session_created_first_with_the_requested_model(serve: Serve) -> None:
    server = serve(Engines([]))
    async with connect(url(server, "gpt-realtime")) as ws:
        first = await Client(ws).recv()
    assert first["type"] == "session.created"
    assert first["session"]["type"] == "realtime"
    assert first["session"]["model"] == "gpt-realtime"


async def test_ga_text_turn_event_sequence(serve: Serve) -> None:
    server = serve(Engines([say("Hello there.")]))
    async with connect(url(server)) as ws:
        client = Client(ws)
        await client.recv()
        events = await client.say("hi")
    kinds = [e["type"] for e in events if not e["type"].endswith(".delta")]
    assert kinds == [
        "conversation.item.added",
        "conversation.item.done",
        "response.created",
        "response.output_item.added",
        "conversation.item.added",
        "response.content_part.added",
        "response.output_text.done",
        "response.content_part.done",
        "conversation.item.done",
        "response.output_item.done",
        "response.done",
    ]
    text = "".join(e["delta"] for e in events if e["type"] == "response.output_text.delta")
    assert text == "Hello there."
    assert events[-1]["response"]["status"] == "completed"
    part = next(e for e in events if e["type"] == "response.content_part.added")
    assert part["part"]["type"] == "text"


@pytest.mark.parametrize(
    ("headers", "subprotocols"),
    [({"OpenAI-Beta": "realtime=v1"}, None), ({}, ["realtime", "openai-beta.realtime-v1"])],
    ids=["header", "subprotocol"],
)
async def test_beta_clients_get_beta_names(
    serve: Serve, headers: dict[str, str], subprotocols: list[str] | None
) -> None:
    server = serve(Engines([say("Hi.", expect_in_prompt=["Talk like a pirate."])]))
    async with connect(
        url(server),
        additional_headers=headers,
        subprotocols=subprotocols,  # type: ignore[arg-type]
    ) as ws:
        client = Client(ws, beta=True)
        created = await client.recv()
        assert "type" not in created["session"]
        assert created["session"]["modalities"] == ["text"]
        beta_session = {
            "modalities": ["text"],
            "instructions": "Talk like a pirate.",
            "voice": "ash",
        }
        await client.send({"type": "session.update", "session": beta_session})
        updated = await client.until("session.updated")
        assert updated[-1]["session"]["voice"] == "ash"
        events = await client.say("hi")
    kinds = {e["type"] for e in events}
    assert {"conversation.item.created", "response.text.delta", "response.text.done"} <= kinds
    assert not kinds & {"conversation.item.added", "conversation.item.done"}
    assert not any(k.startswith("response.output_text") for k in kinds)
    if subprotocols:
        assert ws.subprotocol == "realtime"


async def test_beta_assistant_text_content_is_accepted(serve: Serve) -> None:
    server = serve(Engines([]))
    item = {"type": "message", "role": "assistant", "content": [{"type": "text", "text": "Yo."}]}
    async with connect(url(server), additional_headers={"OpenAI-Beta": "realtime=v1"}) as ws:
        client = Client(ws, beta=True)
        await client.recv()
        await client.send({"type": "conversation.item.create", "item": item})
        (created,) = await client.until("conversation.item.created")
    assert created["item"]["content"] == [{"type": "text", "text": "Yo."}]


# ---- bad input: each gets an error event and the connection goes on ------------------------------


BAD_MESSAGES: list[tuple[str, str | bytes, str]] = [
    ("json", "{not json", "invalid_json"),
    ("not_object", "[1, 2]", "invalid_event"),
    ("unknown_type", '{"type": "response.explode"}', "unknown_event_type"),
    ("missing_field", '{"type": "conversation.item.retrieve"}', "invalid_value"),
    ("binary", b"\x00\x01\x02", "invalid_event"),
    ("too_large", json.dumps({"type": "response.create", "pad": "x" * 5000}), "message_too_large"),
]


@pytest.mark.parametrize(
    ("bad", "code"), [(m, c) for _, m, c in BAD_MESSAGES], ids=[n for n, _, _ in BAD_MESSAGES]
)
async def test_bad_input_gets_an_error_and_the_connection_survives(
    serve: Serve, bad: str | bytes, code: str
) -> None:
    server = serve(Engines([say("Still here.")]), max_message_bytes=4096)
    async with connect(url(server)) as ws:
        client = Client(ws)
        await client.recv()
        await client.send(bad)
        (error,) = await client.until("error")
        assert error["error"]["code"] == code
        assert error["error"]["message"]
        events = await client.say("are you there?")
    assert events[-1]["response"]["status"] == "completed"


async def test_message_over_the_hard_limit_closes_with_1009(serve: Serve) -> None:
    server = serve(Engines([]), max_message_bytes=1024)
    async with connect(url(server), max_size=None) as ws:
        client = Client(ws)
        await client.recv()
        await client.send("x" * (3 * 1024 * 1024))
        with pytest.raises(Exception, match="1009"):
            await client.recv()


async def test_error_names_the_client_event_id(serve: Serve) -> None:
    server = serve(Engines([]))
    async with connect(url(server)) as ws:
        client = Client(ws)
        await client.recv()
        await client.send({"type": "response.cancel", "event_id": "evt_mine"})
        (error,) = await client.until("error")
    assert error["error"]["code"] == "response_cancel_not_active"
    assert error["error"]["event_id"] == "evt_mine"


async def test_bad_base64_audio_is_an_error(serve: Serve) -> None:
    server = serve(Engines([say("Fine.")], speech=scripted_speech([], [])))
    async with connect(url(server)) as ws:
        client = Client(ws)
        await client.recv()
        await client.send({"type": "input_audio_buffer.append", "audio": "@@not base64@@"})
        (error,) = await client.until("error")
        assert error["error"]["code"] == "invalid_audio"
        events = await client.say("hi")
    assert events[-1]["response"]["status"] == "completed"


# ---- auth ---------------------------------------------------------------------------------------


async def test_missing_key_is_refused_with_401_and_instructions(serve: Serve) -> None:
    server = serve(Engines([]), api_key=KEY)
    with pytest.raises(InvalidStatus) as caught:
        async with connect(url(server)):
            pass
    response = caught.value.response
    assert response.status_code == 401
    message = json.loads(response.body or b"{}")["error"]["message"]
    assert "Authorization: Bearer" in message


async def test_wrong_key_is_refused(serve: Serve) -> None:
    server = serve(Engines([]), api_key=KEY)
    with pytest.raises(InvalidStatus) as caught:
        async with connect(url(server), additional_headers={"Authorization": "Bearer nope"}):
            pass
    assert caught.value.response.status_code == 401


@pytest.mark.parametrize("how", ["header", "subprotocol"])
async def test_right_key_is_admitted(serve: Serve, how: str) -> None:
    server = serve(Engines([]), api_key=KEY)
    headers = {"Authorization": f"Bearer {KEY}"} if how == "header" else {}
    protocols = ["realtime", f"openai-insecure-api-key.{KEY}"] if how == "subprotocol" else None
    async with connect(
        url(server),
        additional_headers=headers,
        subprotocols=protocols,  # type: ignore[arg-type]
    ) as ws:
        assert (await Client(ws).recv())["type"] == "session.created"
        assert ws.subprotocol == ("realtime" if protocols else None)


# ---- ephemeral keys -----------------------------------------------------------------------------


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


async def test_client_secret_mints_a_key_that_carries_its_session(serve: Serve) -> None:
    clock = Clock()
    server = serve(Engines([]), keys=KeyStore(clock=clock), api_key=KEY)
    body = {
        "expires_after": {"anchor": "created_at", "seconds": 60},
        "session": {"type": "realtime", "instructions": "Be a robot."},
    }
    async with httpx.AsyncClient(base_url=server.http_url) as http:
        refused = await http.post("/v1/realtime/client_secrets", json=body)
        reply = await http.post(
            "/v1/realtime/client_secrets", json=body, headers={"Authorization": f"Bearer {KEY}"}
        )
    assert refused.status_code == 401
    secret = reply.json()
    assert secret["value"].startswith("ek_")
    assert secret["expires_at"] == int(clock.now) + 60
    assert secret["session"]["instructions"] == "Be a robot."
    headers = {"Authorization": f"Bearer {secret['value']}"}
    async with connect(url(server), additional_headers=headers) as ws:
        created = await Client(ws).recv()
    assert created["session"]["instructions"] == "Be a robot."
    clock.now += 61
    with pytest.raises(InvalidStatus) as caught:
        async with connect(url(server), additional_headers=headers):
            pass
    assert caught.value.response.status_code == 401


@pytest.mark.parametrize(
    "body",
    [
        {"expires_after": {"seconds": 5}},
        {"expires_after": {"seconds": 7201}},
        {"expires_after": {"anchor": "now"}},
        {"session": {"type": "transcription"}},
        {"session": {"type": "realtime", "tool_choice": "sometimes"}},
        {"session": {"output_modalities": ["smell"]}},
    ],
)
async def test_bad_client_secret_requests_get_400(serve: Serve, body: dict[str, Any]) -> None:
    server = serve(Engines([]))
    async with httpx.AsyncClient(base_url=server.http_url) as http:
        reply = await http.post("/v1/realtime/client_secrets", json=body)
    assert reply.status_code == 400
    assert reply.json()["error"]["message"]


async def test_ephemeral_keys_cannot_mint_keys(serve: Serve) -> None:
    server = serve(Engines([]), api_key=KEY)
    async with httpx.AsyncClient(base_url=server.http_url) as http:
        owner = {"Authorization": f"Bearer {KEY}"}
        value = (await http.post("/v1/realtime/client_secrets", headers=owner)).json()["value"]
        reply = await http.post(
            "/v1/realtime/client_secrets", headers={"Authorization": f"Bearer {value}"}
        )
    assert reply.status_code == 401


async def test_beta_sessions_endpoint(serve: Serve) -> None:
    server = serve(Engines([]))
    body = {"modalities": ["text"], "instructions": "Hi.", "voice": "ash"}
    async with httpx.AsyncClient(base_url=server.http_url) as http:
        reply = (await http.post("/v1/realtime/sessions", json=body)).json()
    assert reply["client_secret"]["value"].startswith("ek_")
    assert reply["instructions"] == "Hi."
    assert reply["modalities"] == ["text"]
    assert reply["voice"] == "ash"
    assert "audio" not in reply


# ---- health and lifecycle -----------------------------------------------------------------------


async def test_health_reports_models_and_connections(serve: Serve) -> None:
    server = serve(Engines([]))
    async with httpx.AsyncClient(base_url=server.http_url) as http:
        idle = (await http.get("/health")).json()
        async with connect(url(server)) as ws:
            await Client(ws).recv()
            busy = (await http.get("/healthz")).json()
    assert idle == {"status": "ok", "models": {"llm": "scripted"}, "connections": 0, "auth": False}
    assert busy["connections"] == 1


async def test_disconnect_mid_response_closes_the_engine_and_its_tasks(serve: Serve) -> None:
    engines = Engines([say("one two three four five six seven eight", delay_s=0.2)])
    server = serve(engines)
    async with connect(url(server)) as ws:
        client = Client(ws)
        await client.recv()
        await client.send(user_text("talk slowly"))
        await client.send({"type": "response.create"})
        await client.until("response.output_text.delta")
    await wait_for(lambda: engines.made[0].closed)
    await wait_for(
        lambda: not [n for n in _names(server) if n.startswith(("realtime", "response"))]
    )
    assert engines.made[0].active_response is None


async def _task_names() -> list[str]:
    return [t.get_name() for t in asyncio.all_tasks()]


def _names(server: BackgroundServer) -> list[str]:
    assert server.loop is not None
    return asyncio.run_coroutine_threadsafe(_task_names(), server.loop).result(5)


async def wait_for(condition: Callable[[], bool], timeout_s: float = 10) -> None:
    """Poll `condition` (it reads another thread's state, so no event can signal it)."""
    for _ in range(int(timeout_s / 0.02)):
        if condition():
            return
        await asyncio.sleep(0.02)
    raise AssertionError("condition not met in time")


# ---- voice over the wire ------------------------------------------------------------------------


def scripted_speech(heard: list[str], spans_ms: list[tuple[int, int]]) -> SpeechStack:
    vad = ScriptedVAD.from_spans(spans_ms, total_ms=60_000)
    return SpeechStack(stt=ScriptedSTT(heard), tts=ScriptedTTS(), vad=lambda: vad)


async def test_voice_turn_over_the_wire(serve: Serve) -> None:
    speech = scripted_speech(["What time is it"], [(200, 1200)])
    server = serve(Engines([say("It is noon.")], speech=speech))
    session = {"type": "realtime", "output_modalities": ["audio"]}
    async with connect(url(server)) as ws:
        client = Client(ws)
        await client.recv()
        await client.send({"type": "session.update", "session": session})
        await client.until("session.updated")
        pcm = silence(2200, RATE)
        for i in range(0, len(pcm), 9600):
            audio = base64.b64encode(pcm[i : i + 9600]).decode()
            await client.send({"type": "input_audio_buffer.append", "audio": audio})
        events = await client.until("response.done")
    kinds = [e["type"] for e in events]
    for kind in (
        "input_audio_buffer.speech_started",
        "input_audio_buffer.speech_stopped",
        "input_audio_buffer.committed",
        "conversation.item.input_audio_transcription.completed",
        "response.output_audio.delta",
        "response.output_audio_transcript.done",
    ):
        assert kind in kinds
    transcript = next(e for e in events if e["type"].endswith("transcription.completed"))
    assert transcript["transcript"] == "What time is it"
    assert events[-1]["response"]["status"] == "completed"
