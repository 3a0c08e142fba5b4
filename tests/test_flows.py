"""Structured flows: steps offer only their tools and move on when a tool succeeds."""

from __future__ import annotations

from typing import Any

import pytest

from voxrelay.agents import Agent, RunContext, Scenario, Step, Transition, tool
from voxrelay.agents.flow import advance, step_named
from voxrelay.engine import Engine
from voxrelay.errors import ConfigError
from voxrelay.realtime import InProcessRealtime
from voxrelay.session import Session
from voxrelay.session import events as app
from voxrelay.testing import ScriptedChatModel, call, say


@tool
def verify(ctx: RunContext, code: str) -> dict[str, Any]:
    """Check the caller's code."""
    ok = code == "1234"
    if ok:
        ctx.state["verified"] = True
    return {"verified": ok}


@tool
def find_order(ctx: RunContext) -> str:
    """Look up the caller's order."""
    return "order A-1: one board"


@tool
def start_return(ctx: RunContext, order_id: str) -> str:
    """Start a return."""
    return f"return started for {order_id}"


def verified(ctx: RunContext) -> bool:
    return bool(ctx.state.get("verified"))


STEPS = [
    Step(
        "verify",
        "Ask for the code, then call verify.",
        ("verify", "transfer_to_human"),
        (Transition("order", when=verified),),
    ),
    Step(
        "order", "Call find_order.", ("find_order",), (Transition("confirm", after="find_order"),)
    ),
    Step("confirm", "Ask which order, then call start_return.", ("start_return",)),
]


def scenario() -> Scenario:
    returns = Agent(
        "returns",
        "You handle returns.",
        tools=[verify, find_order, start_return],
        handoffs=["human"],
        steps=STEPS,
    )
    return Scenario("flows", [returns, Agent("human", "A person.")])


async def start(*steps: Any, state: dict[str, Any] | None = None) -> Session:
    session = Session(scenario(), InProcessRealtime(Engine(ScriptedChatModel(list(steps)))))
    session.state.update(state or {})
    await session.start()
    return session


def of(events: list[app.AppEventBase], kind: type[Any]) -> list[Any]:
    return [e for e in events if isinstance(e, kind)]


# ---- the pure rules ----------------------------------------------------------------------------


def test_entry_conditions_skip_steps_already_done() -> None:
    ctx = RunContext(agent_name="returns", state={"verified": True})
    first = step_named(STEPS, None)
    assert first is not None and advance(STEPS, first, ctx, None).name == "order"
    assert advance(STEPS, first, RunContext(agent_name="returns"), None).name == "verify"


def test_a_transition_after_a_tool_needs_that_tool_to_succeed() -> None:
    ctx = RunContext(agent_name="returns")
    order = STEPS[1]
    assert advance(STEPS, order, ctx, "find_order").name == "confirm"
    assert advance(STEPS, order, ctx, "find_order", ok=False).name == "order"
    assert advance(STEPS, order, ctx, None).name == "order"


@pytest.mark.parametrize(
    ("steps", "problem"),
    [
        ([Step("a", "x", ("nope",))], "unknown tool 'nope'"),
        ([Step("a", "x", ("verify",), (Transition("b"),))], "unknown step 'b'"),
        ([Step("a", "x", ("verify",), (Transition("a", after="find_order"),))], "not offer"),
        ([Step("a", "x"), Step("a", "y")], "two steps with the same name"),
    ],
)
def test_bad_steps_name_the_agent_and_step(steps: list[Step], problem: str) -> None:
    with pytest.raises(ConfigError, match=problem):
        Scenario("bad", [Agent("returns", "x", tools=[verify, find_order], steps=steps)])


# ---- in a session ------------------------------------------------------------------------------


async def test_each_step_offers_only_its_tools_and_moves_on_after_success() -> None:
    session = await start(
        call("verify", '{"code": "1234"}', expect_tools=["transfer_to_human", "verify"]),
        call("find_order", expect_tools=["find_order"], expect_in_prompt=["Call find_order."]),
        say("I found order A-1. Which item?", expect_tools=["start_return"]),
    )
    events = await session.run_turn("my code is 1234")
    changes = [(e.from_, e.to) for e in of(events, app.StepChanged)]
    assert changes == [("verify", "order"), ("order", "confirm")]
    assert of(events, app.AssistantMessage)[-1].text == "I found order A-1. Which item?"
    await session.close()


async def test_a_failed_check_stays_in_the_step() -> None:
    session = await start(
        call("verify", '{"code": "9999"}'),
        say(
            "That code did not match. Could you repeat it?",
            expect_tools=["transfer_to_human", "verify"],
        ),
    )
    events = await session.run_turn("my code is 9999")
    assert of(events, app.StepChanged) == []
    await session.close()


async def test_a_tool_of_another_step_is_refused_and_not_run() -> None:
    session = await start(
        call("start_return", '{"order_id": "A-1"}'), say("Let me verify you first.")
    )
    events = await session.run_turn("start the return on A-1")
    (result,) = of(events, app.ToolResult)
    assert not result.ok and "available tools: verify, transfer_to_human" in result.output
    await session.close()


async def test_a_caller_verified_earlier_starts_past_the_check() -> None:
    session = await start(
        say("Let me find your order.", expect_tools=["find_order"]), state={"verified": True}
    )
    await session.run_turn("hi")
    await session.close()


async def test_free_form_agents_are_unchanged() -> None:
    agent = Agent("front", "Help.", tools=[find_order])
    model = ScriptedChatModel([say("Hello.", expect_tools=["find_order"])])
    session = Session(Scenario("plain", [agent]), InProcessRealtime(Engine(model)))
    await session.start()
    events = await session.run_turn("hi")
    assert of(events, app.StepChanged) == []
    await session.close()


async def test_a_step_can_make_its_first_response_call_a_tool() -> None:
    steps = [STEPS[0], Step("order", "Call find_order.", ("find_order",), call="find_order")]
    returns = Agent(
        "returns", "Returns.", tools=[verify, find_order], handoffs=["human"], steps=steps
    )
    model = ScriptedChatModel(
        [call("verify", '{"code": "1234"}'), call("find_order"), say("Found it.")]
    )
    session = Session(
        Scenario("f", [returns, Agent("human", "x")]), InProcessRealtime(Engine(model))
    )
    await session.start()
    await session.run_turn("1234")
    choices = [choice for _, _, choice in model.requests]
    assert choices[0] == "auto" and choices[1] == "find_order"
    assert choices[2] == "auto"  # forced once, on entering the step
    await session.close()
