"""Independent clients against `voxrelay serve` on scripted models: the Agents SDK (GA, strict)
and the `openai` SDK (GA and beta), including its ephemeral-key helpers."""

from __future__ import annotations

import asyncio
import base64
from collections.abc import Iterator
from typing import Any

import pytest
from agents import function_tool
from agents.realtime import RealtimeAgent, RealtimeRunner, RealtimeSession
from openai import AsyncOpenAI

from voxrelay.audio.pcm import silence
from voxrelay.config import Settings
from voxrelay.engine import Engine
from voxrelay.engine.speech import SpeechStack
from voxrelay.server import BackgroundServer, create_app
from voxrelay.speech.tts import OPENAI_VOICES, VoiceMap
from voxrelay.testing import ScriptedChatModel, ScriptedSTT, ScriptedTTS, ScriptedVAD, call, say
from voxrelay.testing.chat import Step

RATE = 24000


@function_tool
def get_weather(city: str) -> str:
    """Get the weather in a city."""
    return f"It is sunny in {city}."


def tts() -> ScriptedTTS:
    """A scripted TTS that, like Piper here, takes every OpenAI voice name."""
    return ScriptedTTS(voices=VoiceMap({v: v for v in OPENAI_VOICES}, "alloy"))


def start(steps: list[Step], speech: SpeechStack | None = None) -> BackgroundServer:
    chat = ScriptedChatModel(steps)
    settings = Settings()
    server = BackgroundServer(create_app(settings, lambda: Engine(chat, speech=speech)), settings)
    server.start()
    return server


@pytest.fixture
def servers() -> Iterator[list[BackgroundServer]]:
    made: list[BackgroundServer] = []
    yield made
    for server in made:
        server.stop()


async def run_agent(session: RealtimeSession, until: str, limit: int = 400) -> list[Any]:
    """Session events up to the first of type `until` (after a tool_end, if tools ran)."""
    events: list[Any] = []
    async with asyncio.timeout(30):
        async for event in session:
            events.append(event)
            if event.type == until or len(events) >= limit:
                break
    return events


def errors(events: list[Any]) -> list[Any]:
    return [e for e in events if e.type == "error"]


async def test_agents_sdk_tool_round_trip(servers: list[BackgroundServer]) -> None:
    server = start(
        [
            call("get_weather", '{"city": "Paris"}', expect_tools=["get_weather"]),
            say("It is sunny in Paris.", expect_in_prompt=["It is sunny in Paris."]),
        ]
    )
    servers.append(server)
    agent = RealtimeAgent(name="weather", instructions="Use tools.", tools=[get_weather])
    config: Any = {
        "url": f"{server.ws_url}/v1/realtime?model=voxrelay",
        "api_key": "x",
        "initial_model_settings": {"modalities": ["text"]},
    }
    async with await RealtimeRunner(agent).run(model_config=config) as session:
        await session.send_message("What is the weather in Paris?")
        events = await run_agent(session, "tool_end")
        # The call's own response may end (agent_end) after the tool already ran: read on
        # until the spoken answer's response is done.
        for _ in range(3):
            if any(d["type"] == "response.output_text.done" for d in raw_events(events)):
                break
            events += await run_agent(session, "agent_end")
    assert errors(events) == []
    tool_end = next(e for e in events if e.type == "tool_end")
    assert tool_end.output == "It is sunny in Paris."
    raw = raw_events(events)
    text = "".join(d["delta"] for d in raw if d["type"] == "response.output_text.delta")
    assert text == "It is sunny in Paris."


def raw_events(events: list[Any]) -> list[dict[str, Any]]:
    """The raw server events the SDK passed through, as dicts."""
    return [
        e.data.data
        for e in events
        if e.type == "raw_model_event" and e.data.type == "raw_server_event"
    ]


async def test_agents_sdk_voice_turn(servers: list[BackgroundServer]) -> None:
    vad = ScriptedVAD.from_spans([(200, 1200)], total_ms=60_000)
    speech = SpeechStack(stt=ScriptedSTT(["Hello"]), tts=tts(), vad=lambda: vad)
    server = start([say("Hi! How can I help?")], speech)
    servers.append(server)
    agent = RealtimeAgent(name="greeter", instructions="Be brief.")
    config: Any = {
        "url": f"{server.ws_url}/v1/realtime?model=voxrelay",
        "api_key": "x",
        "initial_model_settings": {"turn_detection": {"type": "server_vad"}},
    }
    async with await RealtimeRunner(agent).run(model_config=config) as session:
        pcm = silence(2200, RATE)
        for i in range(0, len(pcm), 4800):
            await session.send_audio(pcm[i : i + 4800])
        events = await run_agent(session, "agent_end")
    assert errors(events) == []
    audio = b"".join(e.audio.data for e in events if e.type == "audio")
    assert len(audio) > 0


async def test_openai_beta_client_text_turn(servers: list[BackgroundServer]) -> None:
    server = start([say("Hello from beta.", expect_in_prompt=["Answer in one line."])])
    servers.append(server)
    client = AsyncOpenAI(
        api_key="x", base_url=f"{server.http_url}/v1", websocket_base_url=f"{server.ws_url}/v1"
    )
    async with client.beta.realtime.connect(model="gpt-4o-realtime-preview") as conn:
        await conn.session.update(
            session={"modalities": ["text"], "instructions": "Answer in one line."}
        )
        await conn.conversation.item.create(
            item={
                "type": "message",
                "role": "user",
                "content": [{"type": "input_text", "text": "hi"}],
            }
        )
        await conn.response.create()
        kinds, text = [], ""
        async with asyncio.timeout(20):
            async for event in conn:
                kinds.append(event.type)
                if event.type == "response.text.delta":
                    text += event.delta
                if event.type == "response.done":
                    break
    assert kinds[0] == "session.created"
    assert "error" not in kinds
    assert "conversation.item.created" in kinds
    assert text == "Hello from beta."


async def test_openai_beta_client_audio_turn(servers: list[BackgroundServer]) -> None:
    vad = ScriptedVAD.from_spans([], total_ms=60_000)
    speech = SpeechStack(stt=ScriptedSTT(["Hello there"]), tts=tts(), vad=lambda: vad)
    server = start([say("Hi. Nice to meet you.", expect_in_prompt=["Hello there"])], speech)
    servers.append(server)
    client = AsyncOpenAI(
        api_key="x", base_url=f"{server.http_url}/v1", websocket_base_url=f"{server.ws_url}/v1"
    )
    async with client.beta.realtime.connect(model="gpt-4o-realtime-preview") as conn:
        await conn.session.update(session={"modalities": ["text", "audio"], "turn_detection": None})
        audio = base64.b64encode(silence(800, RATE)).decode()
        await conn.input_audio_buffer.append(audio=audio)
        await conn.input_audio_buffer.commit()
        await conn.response.create()
        kinds, transcript, pcm = [], "", b""
        async with asyncio.timeout(20):
            async for event in conn:
                kinds.append(event.type)
                if event.type == "response.audio.delta":
                    pcm += base64.b64decode(event.delta)
                if event.type == "response.audio_transcript.done":
                    transcript = event.transcript
                if event.type == "response.done":
                    break
    assert "error" not in kinds
    assert "input_audio_buffer.committed" in kinds
    assert transcript == "Hi. Nice to meet you."
    assert len(pcm) > 0


async def test_openai_ga_client_text_turn(servers: list[BackgroundServer]) -> None:
    server = start([say("Hello from GA.")])
    servers.append(server)
    client = AsyncOpenAI(
        api_key="x", base_url=f"{server.http_url}/v1", websocket_base_url=f"{server.ws_url}/v1"
    )
    async with client.realtime.connect(model="gpt-realtime") as conn:
        await conn.session.update(session={"type": "realtime", "output_modalities": ["text"]})
        await conn.conversation.item.create(
            item={
                "type": "message",
                "role": "user",
                "content": [{"type": "input_text", "text": "hi"}],
            }
        )
        await conn.response.create()
        text = ""
        async with asyncio.timeout(20):
            async for event in conn:
                assert event.type != "error", event
                if event.type == "response.output_text.delta":
                    text += event.delta
                if event.type == "response.done":
                    break
    assert text == "Hello from GA."


async def test_openai_sdk_mints_ephemeral_keys(servers: list[BackgroundServer]) -> None:
    server = start([])
    servers.append(server)
    async with AsyncOpenAI(api_key="x", base_url=f"{server.http_url}/v1") as client:
        ga = await client.realtime.client_secrets.create(
            expires_after={"anchor": "created_at", "seconds": 120},
            session={"type": "realtime", "instructions": "Be kind."},
        )
        beta = await client.beta.realtime.sessions.create(
            instructions="Be kind.", modalities=["text"]
        )
    assert ga.value.startswith("ek_")
    assert ga.session.type == "realtime"
    assert beta.client_secret.value.startswith("ek_")
    assert beta.instructions == "Be kind."
