"""End to end on the real local model (Qwen2.5-0.5B on llama.cpp): a return reaches returns."""

from __future__ import annotations

import json
import os
import shutil
import subprocess

import pytest

from voxrelay.config import get_settings
from voxrelay.engine import Engine
from voxrelay.models import cache
from voxrelay.realtime import InProcessRealtime
from voxrelay.realtime.types import MessageItem
from voxrelay.scenarios import load_scenario
from voxrelay.session import Session
from voxrelay.session import events as app

pytestmark = pytest.mark.real

RETURN_REQUEST = "Hi, I want to return the snowboard I bought"


@pytest.fixture(scope="module")
def llm():
    """The default local model; the suite's setup (`make setup`) must have prepared it."""
    from voxrelay.models.llama import LlamaChatModel

    settings = get_settings()
    cache.require(settings.llm, settings.model_dir)
    return LlamaChatModel.from_settings(settings)


async def test_return_request_hands_off_to_returns_with_context(llm):
    scenario = load_scenario("customer_service_retail", llm)
    engine = Engine(llm)
    async with Session(scenario, InProcessRealtime(engine)) as session:
        await session.send_text(RETURN_REQUEST)
        changed = None
        async for event in session.events():
            if isinstance(event, app.AgentChanged):
                changed = event
                break
            assert not isinstance(event, app.TurnDone), "the turn ended without a handoff"
        assert changed is not None and changed.to == "returns"
        assert session.agent.name == "returns"
        assert engine.session.instructions == scenario.agent("returns").instructions
        user_words = [
            i.text() for i in engine.conversation if isinstance(i, MessageItem) and i.role == "user"
        ]
        assert user_words == [RETURN_REQUEST]


def test_cli_chat_json_shows_the_handoff():
    voxrelay = shutil.which("voxrelay")
    assert voxrelay, "the voxrelay script is not installed; run `make setup`"
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
