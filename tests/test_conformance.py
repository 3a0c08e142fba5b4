"""Conformance: clients nobody here wrote, against `voxrelay serve` on the real local models.

- the OpenAI Agents SDK (GA; validates every server event strictly): a function-tool round
  trip and a voice turn, with no `error` event;
- the `openai` SDK's beta client: a text turn and an audio turn (push-to-talk);
- a raw client: malformed events get `error` events and the connection keeps working.

The server runs as a child process (`voxrelay serve`), as a user would start it.
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from functools import cache as memo
from pathlib import Path
from typing import Any

import httpx
import pytest
from agents import function_tool
from agents.realtime import RealtimeAgent, RealtimeRunner, RealtimeSession
from openai import AsyncOpenAI
from websockets.asyncio.client import connect

from voxrelay.audio import resample
from voxrelay.audio.pcm import silence
from voxrelay.config import get_settings
from voxrelay.models import cache

pytestmark = pytest.mark.real

RATE = 24000
"""The wire rate of `audio/pcm` (beta `pcm16`)."""
QUESTION = "What is the weather like in Paris today?"
SPOKEN_QUESTION = "Please tell me about the weather today."
START_TIMEOUT_S = 600
TURN_TIMEOUT_S = 300


class Served:
    """A running `voxrelay serve` child process."""

    def __init__(self, port: int, proc: subprocess.Popen[bytes], log: Path) -> None:
        self.port = port
        self.proc = proc
        self.log = log
        self.http = f"http://127.0.0.1:{port}"
        self.ws = f"ws://127.0.0.1:{port}"

    def url(self, model: str = "voxrelay") -> str:
        return f"{self.ws}/v1/realtime?model={model}"

    def wait_ready(self) -> dict[str, Any]:
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                pytest.fail(f"voxrelay serve exited:\n{self.log.read_text()[-3000:]}")
            try:
                health: dict[str, Any] = httpx.get(f"{self.http}/health", timeout=2).json()
                return health
            except httpx.HTTPError:
                time.sleep(0.5)
        pytest.fail(f"voxrelay serve did not start:\n{self.log.read_text()[-3000:]}")

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(10)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    settings = get_settings()
    cache.require(settings.llm, settings.model_dir)  # prepared by `make setup`
    voxrelay = Path(sys.executable).with_name("voxrelay")
    assert voxrelay.exists(), "the voxrelay script is not installed; run `make setup`"
    port = free_port()
    log = tmp_path_factory.mktemp("serve") / "serve.log"
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    env.pop("VOXRELAY_API_KEY", None)
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [voxrelay, "serve", "--port", str(port), "--log-level", "warning"],
            stdout=out,
            stderr=subprocess.STDOUT,
            env=env,
        )
    server = Served(port, proc, log)
    try:
        health = server.wait_ready()
        assert health["status"] == "ok"
        assert {"llm", "stt", "tts"} <= set(health["models"])
        yield server
    finally:
        server.stop()


@memo
def spoken(text: str) -> bytes:
    """`text` spoken by the local Piper voice, PCM16 at the wire rate, with silence after."""
    from voxrelay.speech.tts import PiperTTS

    tts = PiperTTS("joe")
    tts.load()
    return resample(tts.speak_sync(text), PiperTTS.sample_rate, RATE) + silence(1500, RATE)


def chunks(pcm: bytes, ms: int = 100) -> Iterator[bytes]:
    size = RATE * ms // 1000 * 2
    for i in range(0, len(pcm), size):
        yield pcm[i : i + size]


# ---- the OpenAI Agents SDK (GA, strict) ------------------------------------------------------


@function_tool
def get_weather(city: str) -> str:
    """Get the current weather for a city."""
    return f"Sunny and 22 degrees in {city}."


async def session_events(session: RealtimeSession, turns: int) -> list[Any]:
    """Session events until `turns` responses have ended."""
    events: list[Any] = []
    async with asyncio.timeout(TURN_TIMEOUT_S):
        async for event in session:
            events.append(event)
            if event.type == "error" or sum(e.type == "agent_end" for e in events) >= turns:
                break
    return events


def server_events(events: list[Any]) -> list[dict[str, Any]]:
    return [
        e.data.data
        for e in events
        if e.type == "raw_model_event" and e.data.type == "raw_server_event"
    ]


async def test_agents_sdk_function_tool_round_trip(served: Served) -> None:
    agent = RealtimeAgent(
        name="weather",
        instructions="You are a weather assistant. Use get_weather to answer weather questions.",
        tools=[get_weather],
    )
    config: Any = {
        "url": served.url(),
        "api_key": "x",
        "initial_model_settings": {"modalities": ["text"]},
    }
    async with await RealtimeRunner(agent).run(model_config=config) as session:
        await session.send_message(QUESTION)
        events = await session_events(session, turns=2)
    assert [e.error for e in events if e.type == "error"] == []
    (tool_end, *_) = [e for e in events if e.type == "tool_end"]
    assert tool_end.tool.name == "get_weather"
    assert "Paris" in tool_end.output
    raw = server_events(events)
    done = [e["response"] for e in raw if e["type"] == "response.done"]
    assert len(done) == 2  # the call, then the response to its output
    assert all(r["status"] == "completed" for r in done)
    outputs = [i for i in raw if i["type"] == "conversation.item.done"]
    assert any(i["item"]["type"] == "function_call_output" for i in outputs)


async def test_agents_sdk_voice_turn(served: Served) -> None:
    agent = RealtimeAgent(name="assistant", instructions="Answer in one short sentence.")
    config: Any = {
        "url": served.url(),
        "api_key": "x",
        "initial_model_settings": {"max_output_tokens": 40},
    }
    audio = spoken(SPOKEN_QUESTION)
    async with await RealtimeRunner(agent).run(model_config=config) as session:
        for chunk in chunks(audio):
            await session.send_audio(chunk)
        events = await session_events(session, turns=1)
    assert [e.error for e in events if e.type == "error"] == []
    raw = server_events(events)
    heard = [e["transcript"] for e in raw if e["type"].endswith("transcription.completed")]
    assert heard and "weather" in heard[0].lower()
    reply = b"".join(e.audio.data for e in events if e.type == "audio")
    assert len(reply) > RATE * 2 // 4  # at least a quarter second of speech
    transcripts = [e["transcript"] for e in raw if e["type"].endswith("audio_transcript.done")]
    assert transcripts and transcripts[0].strip()


# ---- the openai SDK's beta client ------------------------------------------------------------


def beta_client(served: Served) -> AsyncOpenAI:
    return AsyncOpenAI(
        api_key="x", base_url=f"{served.http}/v1", websocket_base_url=f"{served.ws}/v1"
    )


async def beta_turn(conn: Any) -> tuple[list[str], dict[str, Any]]:
    """Event types until response.done, and the text, audio and transcripts gathered."""
    kinds: list[str] = []
    got: dict[str, Any] = {"text": "", "audio": b"", "transcript": "", "heard": ""}
    async with asyncio.timeout(TURN_TIMEOUT_S):
        async for event in conn:
            kinds.append(event.type)
            if event.type == "response.text.delta":
                got["text"] += event.delta
            elif event.type == "response.audio.delta":
                got["audio"] += base64.b64decode(event.delta)
            elif event.type == "response.audio_transcript.done":
                got["transcript"] = event.transcript
            elif event.type == "conversation.item.input_audio_transcription.completed":
                got["heard"] = event.transcript
            elif event.type in ("response.done", "error"):
                break
    return kinds, got


async def test_openai_beta_client_text_turn(served: Served) -> None:
    async with beta_client(served) as client:
        async with client.beta.realtime.connect(model="gpt-4o-realtime-preview") as conn:
            await conn.session.update(
                session={
                    "modalities": ["text"],
                    "instructions": "Answer in one short sentence.",
                    "max_response_output_tokens": 40,
                }
            )
            content = [{"type": "input_text", "text": "Say hello to Ada."}]
            await conn.conversation.item.create(
                item={"type": "message", "role": "user", "content": content}
            )
            await conn.response.create()
            kinds, got = await beta_turn(conn)
    assert "error" not in kinds
    assert kinds[0] == "session.created"
    assert "conversation.item.created" in kinds
    assert kinds[-1] == "response.done"
    assert got["text"].strip()


async def test_openai_beta_client_audio_turn(served: Served) -> None:
    async with beta_client(served) as client:
        async with client.beta.realtime.connect(model="gpt-4o-realtime-preview") as conn:
            await conn.session.update(
                session={
                    "modalities": ["text", "audio"],
                    "instructions": "Answer in one short sentence.",
                    "turn_detection": None,
                    "input_audio_transcription": {"model": "whisper-1"},
                    "max_response_output_tokens": 40,
                }
            )
            for chunk in chunks(spoken(SPOKEN_QUESTION)):
                await conn.input_audio_buffer.append(audio=base64.b64encode(chunk).decode())
            await conn.input_audio_buffer.commit()
            await conn.response.create()
            kinds, got = await beta_turn(conn)
    assert "error" not in kinds
    assert "input_audio_buffer.committed" in kinds
    assert "weather" in got["heard"].lower()
    assert len(got["audio"]) > RATE * 2 // 4
    assert got["transcript"].strip()


# ---- a raw client: malformed events --------------------------------------------------------


async def test_malformed_events_get_errors_and_the_connection_survives(served: Served) -> None:
    bad: list[str | bytes] = [
        "{oops",
        '{"type": "response.explode"}',
        '{"type": "input_audio_buffer.append", "audio": "***"}',
        b"\x00binary",
    ]
    async with connect(served.url()) as ws:
        assert json.loads(await ws.recv())["type"] == "session.created"
        for message in bad:
            await ws.send(message)
            async with asyncio.timeout(10):
                event = json.loads(await ws.recv())
            assert event["type"] == "error", event
            assert event["error"]["message"]
        item = {
            "type": "message",
            "role": "user",
            "content": [{"type": "input_text", "text": "Say OK."}],
        }
        await ws.send(json.dumps({"type": "conversation.item.create", "item": item}))
        await ws.send(
            json.dumps({"type": "response.create", "response": {"max_output_tokens": 20}})
        )
        async with asyncio.timeout(TURN_TIMEOUT_S):
            while (event := json.loads(await ws.recv()))["type"] != "response.done":
                assert event["type"] != "error", event
    assert event["response"]["status"] in ("completed", "incomplete")
