"""An agent's live context: facts from session state at the end of its instructions."""

from __future__ import annotations

from typing import Any

from test_session import Recording
from voxrelay.agents import Agent, RunContext, Scenario, tool
from voxrelay.engine import Engine
from voxrelay.models.base import CONTEXT_HEADING, Message, ToolSpec
from voxrelay.models.chatml import IM_END, format_prompt
from voxrelay.realtime import InProcessRealtime
from voxrelay.realtime import events as ev
from voxrelay.session import Session
from voxrelay.session import events as app
from voxrelay.testing import ScriptedChatModel, Step, call, say


@tool
def sign_in(ctx: RunContext, name: str) -> dict[str, Any]:
    """Sign the caller in."""
    ctx.state["user"] = name
    return {"signed_in": True}


def who(ctx: RunContext) -> str | None:
    """Live context: the signed-in caller."""
    return f"Signed in: {ctx.state['user']}." if "user" in ctx.state else None


def desk() -> Scenario:
    return Scenario("desk", [Agent("desk", "Help callers.", tools=[sign_in], context=who)])


async def _session(*steps: Step, state: dict[str, Any] | None = None):
    model = ScriptedChatModel(steps)
    recorder = Recording(InProcessRealtime(Engine(model)))
    session = Session(desk(), recorder, state=state)
    await session.start()
    return session, model, recorder


def said(events: list[app.AppEventBase]) -> list[str]:
    """What the assistant said in a turn, which must have had no error."""
    assert not [e for e in events if isinstance(e, app.ErrorOccurred)]
    return [e.text for e in events if isinstance(e, app.AssistantMessage)]


def _updates(recorder: Recording) -> list[str]:
    return [
        e.session.instructions or ""
        for e in recorder.sent
        if isinstance(e, ev.SessionUpdate) and e.session.instructions
    ]


async def test_context_follows_state_changes_within_a_turn() -> None:
    session, model, recorder = await _session(
        say("Who is calling?"),
        call("sign_in", '{"name": "Ada"}'),
        say("Welcome, Ada.", expect_in_prompt=["Signed in: Ada."]),
        say("Anything else?"),
    )
    assert said(await session.run_turn("Hi")) == ["Who is calling?"]
    assert CONTEXT_HEADING not in model.requests[0][0][0].content  # nothing known yet
    assert said(await session.run_turn("I'm Ada")) == ["Welcome, Ada."]  # saw the new context
    assert said(await session.run_turn("Thanks")) == ["Anything else?"]
    assert _updates(recorder) == ["Help callers." + CONTEXT_HEADING + "Signed in: Ada."]
    assert model.requests[-1][0][0].content.endswith("Signed in: Ada.")  # sent once, kept
    await session.close()


async def test_context_from_initial_state_is_in_the_first_prompt() -> None:
    session, model, recorder = await _session(say("Hello Bo."), state={"user": "Bo"})
    assert said(await session.run_turn("Hi")) == ["Hello Bo."]
    assert model.requests[0][0][0].content == "Help callers." + CONTEXT_HEADING + "Signed in: Bo."
    assert _updates(recorder) == []  # it came with the connection's configuration
    await session.close()


def test_local_prompt_puts_the_context_after_the_tools() -> None:
    """Instructions and tools stay one prefix; only the context after them changes."""
    tool_spec = ToolSpec("sign_in", "Sign the caller in.", {"type": "object", "properties": {}})

    def system_turn(context: str) -> str:
        instructions = "Help callers." + (CONTEXT_HEADING + context if context else "")
        prompt = format_prompt(
            [Message("system", instructions), Message("user", "Hi")], [tool_spec]
        )
        return prompt.split(IM_END)[0]

    before, after = system_turn(""), system_turn("Signed in: Ada.")
    assert before.endswith("if a value is missing, ask for it.")  # the tools block ends it
    assert after == before + CONTEXT_HEADING + "Signed in: Ada."


async def test_a_failing_context_function_leaves_the_session_running(caplog) -> None:
    def broken(ctx: RunContext) -> str | None:
        raise KeyError("customer")

    scenario = Scenario("desk", [Agent("desk", "Help callers.", context=broken)])
    model = ScriptedChatModel([say("Hello.")])
    session = Session(scenario, InProcessRealtime(Engine(model)))
    await session.start()
    events = await session.run_turn("Hi")
    assert events[-1].type == "turn_done"  # type: ignore[attr-defined]
    assert model.requests[0][0][0].content == "Help callers."
    assert "desk's context function failed" in caplog.text
    await session.close()


def test_saved_states_are_keyed_without_the_live_context() -> None:
    """One slot per agent: each caller's context must not push other agents' states out."""
    from voxrelay.models.llama import agent_key

    plain = [Message("system", "Help callers.")]
    ada = [Message("system", "Help callers." + CONTEXT_HEADING + "Signed in: Ada.")]
    assert agent_key(plain, []) == agent_key(ada, [])
