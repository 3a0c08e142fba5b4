"""The agent runtime over the in-process engine, with a scripted ChatModel."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Annotated, Any

import pytest
from pydantic import Field

from voxrelay.agents import Agent, KeywordGuardrail, RunContext, Scenario, tool
from voxrelay.config import Settings
from voxrelay.engine import Engine
from voxrelay.realtime import InProcessRealtime
from voxrelay.realtime import events as ev
from voxrelay.realtime.types import MessageItem, SessionConfig
from voxrelay.session import Session
from voxrelay.session import events as app
from voxrelay.testing import ScriptedChatModel, call, say
from voxrelay.testing.chat import Step

PHONE = Annotated[str, Field(pattern=r"^\(\d{3}\) \d{3}-\d{4}$"), "Phone as (xxx) xxx-xxxx."]


@tool
def lookup_orders(ctx: RunContext, phone_number: PHONE) -> dict[str, Any]:
    """Find orders by phone number."""
    ctx.state["looked_up"] = phone_number
    return {"orders": [{"id": "SP-1001", "item": "Summit 158"}]}


@tool
def broken_tool() -> str:
    """Always fails."""
    raise ValueError("database is down")


@tool(timeout_s=0.05)
async def slow_tool() -> str:
    """Takes too long."""
    await asyncio.sleep(5)
    return "late"


@tool
def remembered(ctx: RunContext) -> str:
    """Reads what an earlier agent's tool stored."""
    return str(ctx.state.get("looked_up"))


class Recording:
    """A RealtimeModel wrapper that records the client events the session sends."""

    def __init__(self, inner: InProcessRealtime) -> None:
        self.inner = inner
        self.sent: list[ev.ClientEvent] = []

    async def connect(self, session: SessionConfig | None = None) -> None:
        await self.inner.connect(session)

    async def send(self, event: ev.ClientEvent) -> None:
        self.sent.append(event)
        await self.inner.send(event)

    def events(self) -> AsyncIterator[ev.ServerEvent]:
        return self.inner.events()

    async def close(self) -> None:
        await self.inner.close()


def retail() -> Scenario:
    front = Agent(
        "front",
        "Route callers.",
        tools=[lookup_orders, broken_tool, slow_tool],
        handoffs=["returns"],
        greeting="Hi, how can I help?",
    )
    returns = Agent(
        "returns",
        "Handle returns.",
        tools=[remembered],
        handoffs=["front"],
        handoff_description="returns and refunds",
        output_guardrails=[KeywordGuardrail.of("no_rivals", "OFF_BRAND", [r"\bburton\b"])],
    )
    return Scenario("test", [front, returns])


@pytest.fixture
async def run():
    sessions: list[Session] = []

    async def start(
        *steps: Step, agent: str | None = None, speak_after_handoff: bool = True, **settings: Any
    ):
        model = ScriptedChatModel(steps)
        engine = Engine(model)
        recorder = Recording(InProcessRealtime(engine))
        session = Session(
            retail(),
            recorder,
            agent=agent,
            settings=Settings(**settings),
            speak_after_handoff=speak_after_handoff,
        )
        await session.start()
        sessions.append(session)
        return session, model, engine, recorder

    yield start
    for s in sessions:
        await s.close()


def kinds(events: list[app.AppEventBase]) -> list[str]:
    return [e.type for e in events]  # type: ignore[attr-defined]


def results(events: list[app.AppEventBase]) -> list[app.ToolResult]:
    return [e for e in events if isinstance(e, app.ToolResult)]


def tool_message(model: ScriptedChatModel, request: int) -> str:
    return model.requests[request][0][-1].content


async def test_handoff_sends_output_then_updates_session_then_response(run):
    session, model, engine, rec = await run(
        call("transfer_to_returns", '{"reason": "wants a return"}'),
        say("Sure, which order?", expect_in_prompt=["I want to return my board"]),
    )
    events = (await session.run_turn("I want to return my board"))[1:]  # after the greeting
    assert kinds(events) == [
        "user_message",
        "tool_call",
        "tool_result",
        "agent_changed",
        "assistant_message",
        "turn_done",
    ]
    changed = events[3]
    assert isinstance(changed, app.AgentChanged)
    assert changed.to_json_dict()["from"] == "front" and changed.to == "returns"
    assert changed.reason == "wants a return"
    assert events[4].agent == "returns"  # type: ignore[attr-defined]
    sent = [e.type for e in rec.sent]
    # the output first: the engine warms the new agent's prompt on session.update, note included
    assert sent[-3:] == ["conversation.item.create", "session.update", "response.create"]
    assert engine.session.instructions == "Handle returns."
    assert sorted(t.name for t in engine.session.tools or []) == ["remembered", "transfer_to_front"]
    returns_request = model.requests[1]
    assert returns_request[0][0].content == "Handle returns."
    assert any(m.content == "I want to return my board" for m in returns_request[0])
    (record,) = session.handoffs
    assert (record.from_agent, record.to_agent, record.success) == ("front", "returns", True)
    assert returns_request[2] == "none"  # the new agent speaks first
    model.assert_complete()


async def test_unknown_handoff_is_refused_with_a_result(run):
    session, model, _, _ = await run(call("transfer_to_billing", "{}"), say("I can help."))
    events = await session.run_turn("billing please")
    (result,) = results(events)
    assert not result.ok
    assert "transfer_to_billing" in result.output and "returns" in result.output
    assert session.agent.name == "front"
    assert "agent_changed" not in kinds(events)
    assert not session.handoffs[0].success
    assert "error" in json.loads(tool_message(model, 1))


async def test_self_handoff_is_refused(run):
    session, _, _, _ = await run(call("transfer_to_returns", "{}"), say("Go on."), agent="returns")
    (result,) = results(await session.run_turn("returns please"))
    assert not result.ok and "already talking to returns" in result.output
    assert session.agent.name == "returns"


async def test_second_handoff_in_one_turn_is_refused(run):
    session, _, _, _ = await run(
        call("transfer_to_returns", "{}"),
        call("transfer_to_front", "{}"),
        say("Let's go."),
        speak_after_handoff=False,
    )
    events = await session.run_turn("return")
    first, second = results(events)
    assert first.ok and not second.ok
    assert "do not transfer again" in second.output
    assert session.agent.name == "returns"


async def test_invalid_arguments_go_back_to_the_model(run):
    session, model, _, _ = await run(
        call("lookup_orders", '{"phone_number": "555"}'), say("What is your number?")
    )
    (result,) = results(await session.run_turn("my orders?"))
    assert not result.ok
    assert "invalid arguments for lookup_orders" in result.output
    assert "phone_number" in result.output
    assert "invalid arguments" in tool_message(model, 1)
    assert "looked_up" not in session.state


async def test_tool_exception_is_a_result(run):
    session, _, _, _ = await run(call("broken_tool"), say("Sorry about that."))
    events = await session.run_turn("do it")
    (result,) = results(events)
    assert not result.ok
    assert "ValueError: database is down" in result.output
    assert kinds(events)[-2:] == ["assistant_message", "turn_done"]


async def test_tool_timeout_is_a_result(run):
    session, _, _, _ = await run(call("slow_tool"), say("It is slow today."))
    (result,) = results(await session.run_turn("slow"))
    assert not result.ok and "timed out after 0.05 s" in result.output


async def test_unknown_tool_is_a_result(run):
    session, _, _, _ = await run(call("launch_rocket", "{}"), say("I can't do that."))
    (result,) = results(await session.run_turn("launch"))
    assert not result.ok and "lookup_orders" in result.output


async def test_valid_tool_runs_and_state_survives_a_handoff(run):
    session, _, _, _ = await run(
        call("lookup_orders", '{"phone_number": "(206) 555-0142"}'),
        call("transfer_to_returns", '{"reason": "return"}'),
        call("remembered", "{}"),
        say("Found it."),
        speak_after_handoff=False,
    )
    events = await session.run_turn("my number is (206) 555-0142")
    outputs = [r.output for r in results(events)]
    assert "SP-1001" in outputs[0]
    assert outputs[2] == "(206) 555-0142"
    assert [r.ok for r in results(events)] == [True, True, True]
    assert [h.role for h in session.history][:3] == ["assistant", "user", "tool_call"]


async def test_step_limit_forces_a_spoken_answer(run):
    session, model, _, _ = await run(
        call("broken_tool"), call("broken_tool"), say("Let me answer instead."), max_tool_steps=2
    )
    events = await session.run_turn("try twice")
    assert kinds(events)[-2:] == ["assistant_message", "turn_done"]
    assert [r[2] for r in model.requests] == ["auto", "auto", "none"]


async def test_output_guardrail_blocks_and_retries_once(run):
    session, model, engine, _ = await run(
        say("You should buy a Burton board."),
        say("Our Summit boards are great.", expect_in_prompt=["blocked"]),
        agent="returns",
    )
    events = await session.run_turn("what board?")
    assert kinds(events) == ["user_message", "guardrail_tripped", "assistant_message", "turn_done"]
    tripped = events[1]
    assert isinstance(tripped, app.GuardrailTripped)
    assert tripped.category == "OFF_BRAND" and "Burton" in tripped.rationale
    texts = [i.text() for i in engine.conversation if isinstance(i, MessageItem)]
    assert not any("Burton" in t for t in texts)
    assert "Our Summit boards are great." in texts
    model.assert_complete()


async def test_greeting_is_shown_but_kept_out_of_model_context(run):
    session, model, _, _ = await run(say("Hello!"))
    first = await anext(session.events())
    assert isinstance(first, app.AssistantMessage) and first.text == "Hi, how can I help?"
    await session.run_turn("hi")
    assert all("how can I help" not in m.content for m in model.requests[0][0])


async def test_engine_errors_surface_as_app_events_and_session_continues(run):
    session, _, _, rec = await run(say("Still here."))
    await rec.send(ev.ResponseCancel())
    error = await anext(session.events())
    while not isinstance(error, app.ErrorOccurred):
        error = await anext(session.events())
    assert error.code == "response_cancel_not_active"
    events = await session.run_turn("hello")
    assert kinds(events)[-2:] == ["assistant_message", "turn_done"]


async def test_a_repeated_failed_call_is_not_run_again_and_words_follow(run):
    session, model, _, _ = await run(
        call("lookup_orders", '{"phone_number": "555"}'),
        call("lookup_orders", '{"phone_number":"555"}'),
        say("What is your phone number?"),
    )
    events = await session.run_turn("look up my orders")
    first, second = results(events)
    assert not first.ok and not second.ok
    assert "already made this exact call" in second.output
    assert [r[2] for r in model.requests] == ["auto", "auto", "none"]
    assert kinds(events)[-2:] == ["assistant_message", "turn_done"]
