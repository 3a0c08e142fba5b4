"""The runtime's guards over the in-process engine with a scripted model (text sessions).

Nothing but speech reaches the caller, an identical call runs once a turn, a transfer does not
bounce straight back, and the model's context stays within its budget.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Sequence
from typing import Any

import pytest

from voxrelay.agents import Agent, RunContext, Scenario, tool
from voxrelay.config import Settings
from voxrelay.engine import Engine
from voxrelay.errors import ContextOverflow
from voxrelay.models.base import Message, ToolSpec
from voxrelay.realtime import InProcessRealtime
from voxrelay.realtime.types import MessageItem
from voxrelay.session import Session
from voxrelay.session import events as app
from voxrelay.testing import ScriptedChatModel, call, say
from voxrelay.testing.chat import Step

FALLBACK = Settings().fallback_line


@tool
def lookup_orders(ctx: RunContext, phone_number: str) -> dict[str, Any]:
    """Find orders by phone number."""
    ctx.state["lookups"] = ctx.state.get("lookups", 0) + 1
    orders = [{"order_id": f"SPB-{20000 + n}", "item": "Summit Freeride 158"} for n in range(30)]
    return {"customer": "Alex Rivera", "orders": orders}


def retail() -> Scenario:
    front = Agent(
        "front",
        "Route callers.",
        tools=[lookup_orders],
        handoffs=["returns"],
        handoff_description="Front desk: verifies identity and routes callers.",
    )
    returns = Agent(
        "returns",
        "Handle returns.",
        tools=[lookup_orders],
        handoffs=["front"],
        handoff_description="Returns, refunds and defective items.",
    )
    return Scenario("guards", [front, returns])


@pytest.fixture
async def run() -> AsyncIterator[Any]:
    sessions: list[Session] = []

    async def start(*steps: Step, speak_after_handoff: bool = True, **settings: Any) -> Any:
        model = ScriptedChatModel(steps)
        engine = Engine(model)
        session = Session(
            retail(),
            InProcessRealtime(engine),
            settings=Settings(**settings),
            speak_after_handoff=speak_after_handoff,
        )
        await session.start()
        sessions.append(session)
        return session, model, engine

    yield start
    for s in sessions:
        await s.close()


def kinds(events: list[app.AppEventBase]) -> list[str]:
    return [e.type for e in events]  # type: ignore[attr-defined]


def of(events: list[app.AppEventBase], kind: type[Any]) -> list[Any]:
    return [e for e in events if isinstance(e, kind)]


def said(engine: Engine) -> list[str]:
    return [i.text() for i in engine.conversation if isinstance(i, MessageItem)]


# ---- no tool syntax spoken ----------------------------------------------------------------------


async def test_a_list_of_tool_names_is_held_back_and_the_agent_asked_again_in_words(run):
    session, model, engine = await run(
        say('["transfer_to_returns", "lookup_orders"]'),
        say("Sure, which order is it?", expect_in_prompt=["was not spoken"]),
    )
    events = await session.run_turn("I want to return my board")
    assert kinds(events) == ["user_message", "output_suppressed", "assistant_message", "turn_done"]
    (suppressed,) = of(events, app.OutputSuppressed)
    assert suppressed.reason == "json" and "transfer" not in suppressed.model_dump_json()
    assert [r[2] for r in model.requests] == ["auto", "none"]
    assert not any("transfer_to" in t for t in said(engine))  # gone from the model's context
    model.assert_complete()


async def test_junk_twice_gives_the_fallback_line_and_the_next_turn_works(run):
    session, _, engine = await run(
        say('checkout returned {"error": "caller not verified"}'),
        say("```json\nyou already made this exact call\n```"),
        say("Hello again, how can I help?"),
    )
    events = await session.run_turn("any deals?")
    assert kinds(events) == [
        "user_message",
        "output_suppressed",
        "output_suppressed",
        "assistant_message",
        "turn_done",
    ]
    assert [e.reason for e in of(events, app.OutputSuppressed)] == ["json", "runtime_note"]
    (line,) = of(events, app.AssistantMessage)
    assert line.text == FALLBACK and line.fallback is True
    # kept out of the model's context and the history: a model that sees it copies it
    assert FALLBACK not in said(engine) and session.history[-1].text == "any deals?"
    again = await session.run_turn("hello?")
    assert [m.text for m in of(again, app.AssistantMessage)] == ["Hello again, how can I help?"]


async def test_a_failed_response_is_answered_with_the_fallback_line(run):
    session, _, _ = await run(Step(raises=RuntimeError("llama_decode returned -1")), say("Hi."))
    events = await session.run_turn("hello")
    assert kinds(events) == ["user_message", "error", "assistant_message", "turn_done"]
    assert of(events, app.AssistantMessage)[0].fallback is True
    assert kinds(await session.run_turn("hello?"))[-2:] == ["assistant_message", "turn_done"]


# ---- no repeated identical calls ----------------------------------------------------------------


async def test_an_identical_call_is_not_run_again_and_the_next_response_is_words(run):
    args = '{"phone_number": "(206) 555-0142"}'
    session, model, _ = await run(
        call("lookup_orders", args),
        call("lookup_orders", '{ "phone_number":"(206) 555-0142" }'),
        say("You have 30 orders."),
    )
    events = await session.run_turn("my orders please, (206) 555-0142")
    first, second = of(events, app.ToolResult)
    assert session.state["lookups"] == 1
    assert second.ok and second.reused is True and first.reused is None
    assert second.output == first.output
    assert [r[2] for r in model.requests] == ["auto", "auto", "none"]
    shown = [m.content for m in model.requests[2][0] if m.role == "tool"]
    assert shown[0] == shown[1]  # the earlier result stands for the new call id


async def test_a_repeated_transfer_in_one_turn_switches_once(run):
    session, model, _ = await run(
        call("transfer_to_returns"),
        call("transfer_to_returns"),
        say("I can help with that."),
        speak_after_handoff=False,
    )
    events = await session.run_turn("return please")
    assert len(of(events, app.AgentChanged)) == 1 and session.agent.name == "returns"
    assert of(events, app.ToolResult)[1].reused is True
    assert [r[2] for r in model.requests] == ["auto", "auto", "none"]


# ---- no bounce-back ---------------------------------------------------------------------------


async def test_a_transfer_straight_back_is_refused_and_the_agent_stays(run):
    session, model, _ = await run(
        call("transfer_to_returns"),
        say("Sure, what is your phone number?"),
        call("transfer_to_front"),
        say("Thanks, let me look.", expect_in_prompt=["do not transfer them back"]),
    )
    await session.run_turn("I want to return my board")
    events = await session.run_turn("(206) 555-0142")
    (refused,) = of(events, app.ToolResult)
    assert not refused.ok and session.agent.name == "returns"
    assert not of(events, app.AgentChanged)
    assert [h.success for h in session.handoffs] == [True, False]
    model.assert_complete()


async def test_a_transfer_back_with_the_callers_reason_goes_through(run):
    session, _, _ = await run(
        call("transfer_to_returns"),
        say("Sure, which order?"),
        call("transfer_to_front"),
        say("Front desk here."),
    )
    await session.run_turn("I want to return my board")
    events = await session.run_turn("wait, first verify my identity please")
    assert [e.to for e in of(events, app.AgentChanged)] == ["front"]


# ---- the context budget -------------------------------------------------------------------------


async def test_the_model_sees_a_capped_result_and_the_session_keeps_it_all(run):
    session, model, _ = await run(
        call("lookup_orders", '{"phone_number": "(206) 555-0142"}'),
        say("You have many orders."),
        tool_output_chars=400,
    )
    events = await session.run_turn("my orders, (206) 555-0142")
    (result,) = of(events, app.ToolResult)
    assert len(json.loads(result.output)["orders"]) == 30
    assert result.shown is not None and len(result.shown) <= 400
    (shown,) = [m.content for m in model.requests[1][0] if m.role == "tool"]
    assert shown == result.shown and "more not shown" in shown
    assert len(json.loads(session.history[-2].text)["orders"]) == 30


def only_the_last_turn(messages: Sequence[Message], tools: Sequence[ToolSpec]) -> None:
    users = [m.content for m in messages if m.role == "user"]
    assert users == ["and now?"], users


async def test_a_context_overflow_retries_once_with_the_last_turn_and_the_turn_goes_on(run):
    session, _, _ = await run(
        say("First answer."),
        Step(raises=ContextOverflow("no room")),
        say("Second answer.", check=only_the_last_turn),
    )
    await session.run_turn("hello")
    events = await session.run_turn("and now?")
    assert kinds(events) == ["user_message", "assistant_message", "turn_done"]


async def test_an_overflow_that_persists_ends_in_the_fallback_line(run):
    session, _, _ = await run(
        Step(raises=ContextOverflow("no room")), Step(raises=ContextOverflow("still none"))
    )
    events = await session.run_turn("hello")
    assert kinds(events) == ["user_message", "error", "assistant_message", "turn_done"]
    assert of(events, app.AssistantMessage)[0].text == FALLBACK


def test_the_console_says_what_was_held_back_and_what_was_not_run_again(capsys) -> None:
    from voxrelay.console import print_event

    print_event(app.OutputSuppressed(agent="sales", reason="json"))
    print_event(app.ToolResult(agent="sales", name="x", call_id="c", output="{}", reused=True))
    printed = capsys.readouterr().out
    assert "held back" in printed and "json" in printed and "not run again" in printed
