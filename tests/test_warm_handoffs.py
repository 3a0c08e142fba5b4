"""Warming handoff targets in the background: which prompts, in what order, and that it yields."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from typing import Any

import pytest

from voxrelay.engine import Engine
from voxrelay.models.base import Message, ModelSettings, TextDelta, ToolSpec, tool_specs
from voxrelay.models.chatml import IM_END, format_prompt
from voxrelay.realtime import InProcessRealtime
from voxrelay.scenarios import load_scenario
from voxrelay.session import Session
from voxrelay.session import events as app
from voxrelay.session.handoffs import reachable
from voxrelay.testing import ScriptedChatModel, Step, call, say


def test_reachable_is_breadth_first_and_skips_the_start() -> None:
    graph = {"a": ["b", "c"], "b": ["d", "a"], "c": ["d"], "d": [], "lonely": ["a"]}
    assert reachable(graph, "a") == ["b", "c", "d"]
    assert reachable(graph, "d") == []
    assert reachable({}, "x") == []


class WarmRecorder(ScriptedChatModel):
    """A scripted model that also records warm-ups: (first line of instructions, background)."""

    def __init__(self, steps: Sequence[Step] = ()) -> None:
        super().__init__(steps)
        self.warmed: list[tuple[str, bool]] = []
        self.prompts: list[str] = []
        """The local model's prompt for each warm-up."""

    async def warm(
        self,
        messages: Sequence[Message],
        tools: Sequence[ToolSpec] = (),
        *,
        background: bool = False,
    ) -> None:
        self.warmed.append((messages[0].content.splitlines()[0], background))
        self.prompts.append(format_prompt(messages, tools))


async def _warmed_after_start(warm_handoffs: bool) -> tuple[list[tuple[str, bool]], list[str]]:
    chat = WarmRecorder()
    scenario = load_scenario("customer_service_retail")
    session = Session(scenario, InProcessRealtime(Engine(chat)), warm_handoffs=warm_handoffs)
    async with session:
        for _ in range(20):
            await asyncio.sleep(0)
    order = [scenario.start_agent_name, *reachable(scenario.graph(), scenario.start_agent_name)]
    firsts = [scenario.agent(name).instructions.splitlines()[0] for name in order]
    return chat.warmed, firsts


def test_session_warms_every_reachable_agent_in_the_background() -> None:
    warmed, firsts = asyncio.run(_warmed_after_start(warm_handoffs=True))
    assert len(firsts) == 4  # front desk, then returns, sales, simulatedHuman
    assert warmed[0] == (firsts[0], False)  # the starting agent, from session.update
    assert warmed[1:] == [(first, True) for first in firsts[1:]]


def test_session_can_skip_warming_handoff_targets() -> None:
    warmed, firsts = asyncio.run(_warmed_after_start(warm_handoffs=False))
    assert warmed == [(firsts[0], False)]


def test_a_handoff_target_is_warmed_as_far_as_a_real_transfer_reaches() -> None:
    """The warm-up includes the note about the transfer, so only the caller's words are left."""
    chat = WarmRecorder(
        [call("transfer_to_sales", '{"reason": "a purchase"}'), say("Which board?")]
    )
    scenario = load_scenario("customer_service_retail")
    engine = Engine(chat)

    async def run() -> None:
        async with Session(scenario, InProcessRealtime(engine)) as session:
            await engine.warmed()
            await session.send_text("I want to buy a snowboard.")
            async for event in session.events():
                if isinstance(event, app.TurnDone):
                    break

    asyncio.run(run())
    messages, tools, _ = chat.requests[-1]
    system = format_prompt(messages, tools).split(IM_END)[0]
    assert "transfer_to_sales returned" in system
    background = [p for p, (_, bg) in zip(chat.prompts, chat.warmed, strict=True) if bg]
    assert system in [p.split(IM_END)[0] for p in background]  # before the caller spoke
    assert chat.prompts[-1].split(IM_END)[0] == system  # and on the switch, in case it was not


@pytest.mark.real
def test_background_warm_yields_to_a_reply_and_keeps_one_state_per_prompt(small_llm: Any) -> None:
    model = small_llm
    scenario = load_scenario("customer_service_retail")
    returns = scenario.agent("returns")
    tools = tool_specs(scenario.tools_for(returns))
    system = [Message("system", returns.instructions)]
    chat = [Message("system", "You are brief."), Message("user", "Say hi.")]

    async def run() -> tuple[float, float]:
        await model.warm(chat)
        started = time.perf_counter()

        async def warm_returns() -> float:
            await model.warm(system, tools, background=True)
            return time.perf_counter() - started

        warming = asyncio.create_task(warm_returns())
        await asyncio.sleep(0.3)  # the warm-up is a few chunks in
        first_token = None
        async for item in model.stream(chat, (), "none", ModelSettings(max_tokens=4)):
            if isinstance(item, TextDelta) and first_token is None:
                first_token = time.perf_counter() - started
        return first_token or float("inf"), await warming

    first_token, warmed_at = asyncio.run(run())
    assert first_token < warmed_at  # the reply did not wait for the whole prompt
    assert len(model._states) == 2  # one per system prompt, not one per chunk
