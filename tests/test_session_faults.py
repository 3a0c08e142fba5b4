"""Failure containment and the two lanes: faults become error events, barge-in never waits."""

from __future__ import annotations

import asyncio
import base64
from collections.abc import AsyncIterator
from typing import Any

import pytest

from voxrelay.agents import Agent, GuardrailResult, RunContext, Scenario, output_guardrail, tool
from voxrelay.config import Settings
from voxrelay.engine import Engine
from voxrelay.realtime import InProcessRealtime
from voxrelay.realtime import events as ev
from voxrelay.realtime.types import (
    ErrorDetail,
    FunctionCallItem,
    InputAudio,
    MessageItem,
    OutputAudio,
    Response,
)
from voxrelay.session import Session
from voxrelay.session import events as app
from voxrelay.session.playback import PlaybackQueue
from voxrelay.testing import ScriptedChatModel, call, say
from voxrelay.testing.realtime import ManualRealtime

gate = asyncio.Event
"""Tools below wait on one of these instead of sleeping, so the test decides when they end."""


def kinds(events: list[app.AppEventBase]) -> list[str]:
    return [e.type for e in events]  # type: ignore[attr-defined]


def errors(events: list[app.AppEventBase]) -> list[app.ErrorOccurred]:
    return [e for e in events if isinstance(e, app.ErrorOccurred)]


async def start(scenario: Scenario, *steps: Any, queue_size: int = 1024, **kw: Any) -> Session:
    engine = Engine(ScriptedChatModel(list(steps)), queue_size=queue_size)
    session = Session(scenario, InProcessRealtime(engine), **kw)
    await session.start()
    return session


def one_agent(**agent: Any) -> Scenario:
    return Scenario("faults", [Agent("front", "Help callers.", **agent)])


# ---- faults in user code become error events; the next turn works ------------------------------


async def test_a_raising_guardrail_holds_the_reply_back_and_the_session_goes_on() -> None:
    calls = 0

    @output_guardrail
    def flaky(text: str, ctx: RunContext) -> GuardrailResult:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise RuntimeError("classifier is down")
        return GuardrailResult(False)

    session = await start(
        one_agent(output_guardrails=[flaky]), say("First try."), say("Second try."), say("Next.")
    )
    first = await session.run_turn("hello")
    assert kinds(first) == ["user_message", "error", "assistant_message", "turn_done"]
    (error,) = errors(first)
    assert error.code == "guardrail_failed" and "classifier is down" not in error.text
    assert [e.text for e in first if isinstance(e, app.AssistantMessage)] == ["Second try."]
    second = await session.run_turn("and now?")
    assert kinds(second) == ["user_message", "assistant_message", "turn_done"]
    await session.close()


async def test_a_guardrail_that_always_raises_ends_each_turn_without_hanging() -> None:
    @output_guardrail
    def broken(text: str, ctx: RunContext) -> GuardrailResult:
        raise RuntimeError("always")

    steps = [say("One."), say("Two."), say("Three."), say("Four.")]
    session = await start(one_agent(output_guardrails=[broken]), *steps)
    for text in ("hello", "still there?"):
        events = await session.run_turn(text)
        assert kinds(events) == ["user_message", "error", "error", "turn_done"]
    await session.close()


async def test_a_raising_tool_is_an_error_result_and_the_next_turn_works() -> None:
    @tool
    def explode() -> str:
        """Always raises."""
        raise ValueError("secret-db-password in a stack trace")

    session = await start(
        one_agent(tools=[explode]), call("explode"), say("Sorry, that failed."), say("Hi again.")
    )
    first = await session.run_turn("do it")
    result = next(e for e in first if isinstance(e, app.ToolResult))
    assert not result.ok
    assert kinds(first)[-2:] == ["assistant_message", "turn_done"]
    second = await session.run_turn("hello")
    assert kinds(second) == ["user_message", "assistant_message", "turn_done"]
    await session.close()


async def test_a_raising_context_function_is_an_error_event_and_the_agent_still_answers() -> None:
    def context(ctx: RunContext) -> str:
        raise KeyError("customer")

    session = await start(one_agent(context=context), say("Hello."), say("Again."))
    for text in ("hi", "hi again"):
        events = await session.run_turn(text)
        assert [e.code for e in errors(events)] == ["context_failed"]
        assert kinds(events)[-2:] == ["assistant_message", "turn_done"]
    await session.close()


async def test_a_raising_event_listener_is_reported_and_the_session_goes_on() -> None:
    seen: list[str] = []

    def listener(event: app.AppEventBase) -> None:
        seen.append(event.type)  # type: ignore[attr-defined]
        raise RuntimeError("dashboard crashed")

    session = await start(one_agent(), say("Hello."), say("Again."))
    session.add_listener(listener)
    first = await session.run_turn("hi")
    second = await session.run_turn("hi again")
    assert kinds(second)[-2:] == ["assistant_message", "turn_done"]
    await session.settle()
    later = session.pending()
    reported = [e for e in first + second + later if isinstance(e, app.ErrorOccurred)]
    assert reported and all(e.code == "listener_failed" for e in reported)
    assert all("dashboard crashed" not in e.text for e in reported)
    assert "assistant_message" in seen and "error" not in seen  # never fed its own failures
    await session.close()


# ---- nothing waits forever ------------------------------------------------------------------


class BrokenStream(ManualRealtime):
    """A model whose event stream fails after the session has started."""

    async def events(self) -> AsyncIterator[ev.ServerEvent]:
        async for event in super().events():
            yield event
        raise ConnectionResetError("peer vanished")


async def test_a_failed_event_stream_ends_run_turn_and_events() -> None:
    model = BrokenStream()
    session = Session(one_agent(), model)
    await session.start()
    turn = asyncio.create_task(session.run_turn("hello"))
    await asyncio.sleep(0)
    await model.close()  # the stream ends with an exception
    events = await turn
    (error,) = errors(events)
    assert error.code == "stream_failed" and "peer vanished" not in error.text
    assert [e async for e in session.events()] == []  # the stream ended
    assert session.closed
    await session.close()


async def test_a_refused_response_request_ends_the_turn() -> None:
    model = ManualRealtime()
    session = Session(one_agent(), model)
    await session.start()
    await session.send_text("hello")
    (create,) = model.sent_of(ev.ResponseCreate)
    detail = ErrorDetail(code="invalid_value", message="bad tool_choice", event_id=create.event_id)
    await model.push(ev.ErrorEvent(error=detail))
    assert kinds(session.pending()) == ["user_message", "error", "turn_done"]
    assert not session.busy
    await session.close()


# ---- two lanes: barge-in never waits behind a tool --------------------------------------------


def tone(ms: int) -> str:
    return base64.b64encode(bytes([1, 2]) * (ms * 24)).decode()


async def test_barge_in_during_a_long_tool_stops_playback_at_once_and_the_result_still_lands():
    release, running = gate(), gate()

    @tool(timeout_s=30)
    async def slow_lookup() -> str:
        """Takes as long as the test wants (it stands for a 5 s call)."""
        running.set()
        await release.wait()
        return "order SP-1001"

    model = ManualRealtime()
    session = Session(one_agent(tools=[slow_lookup]), model, output_modalities=["audio"])
    speaker = PlaybackQueue(session.playback)
    session.attach_output(speaker)
    await session.start()
    spoken = MessageItem(id="a1", role="assistant", content=[OutputAudio(transcript="One sec.")])
    call_item = FunctionCallItem(id="f1", call_id="c1", name="slow_lookup", arguments="{}")
    user = MessageItem(id="u1", role="user", content=[InputAudio()])
    await model.push(
        ev.SpeechStarted(audio_start_ms=0, item_id="u1"),
        ev.InputAudioBufferCommitted(item_id="u1"),
        ev.ConversationItemAdded(item=user),
        ev.TranscriptionCompleted(item_id="u1", transcript="where is my order"),
        ev.ResponseCreated(response=Response(id="r1")),
        ev.OutputAudioDelta(
            response_id="r1", item_id="a1", output_index=0, content_index=0, delta=tone(2000)
        ),
        ev.ResponseDone(response=Response(id="r1", status="completed", output=[spoken, call_item])),
    )
    await running.wait()  # the tool is running in the work lane
    assert speaker.pending_samples > 0
    # push() returns once the reader handled the event: while the tool still runs
    await model.push(ev.SpeechStarted(audio_start_ms=5000, item_id="u2"))
    assert not release.is_set() and speaker.pending_samples == 0
    cut = [e for e in session.pending() if isinstance(e, app.Interrupted | app.PlaybackCleared)]
    assert [e.type for e in cut] == ["playback_cleared", "interrupted"]
    (truncate,) = await model.wait_sent(ev.ConversationItemTruncate)
    assert truncate.item_id == "a1" and not release.is_set()
    release.set()
    await session.settle()
    result = next(e for e in session.pending() if isinstance(e, app.ToolResult))
    assert result.ok and "SP-1001" in result.output
    outputs = [
        e for e in model.sent_of(ev.ConversationItemCreate) if e.item.type.endswith("output")
    ]
    assert len(outputs) == 1
    assert model.sent_of(ev.ResponseCreate) == []  # the caller has the floor: no reply over them
    await session.close()


# ---- bounded queues and owned tasks ------------------------------------------------------------


def handoff_scenario() -> Scenario:
    @tool
    def lookup() -> str:
        """Finds something."""
        return "found"

    front = Agent("front", "Route.", tools=[lookup], handoffs=["back"], greeting="Hi.")
    back = Agent("back", "Help.", handoff_description="the back office")
    return Scenario("q", [front, back])


async def test_an_engine_queue_of_one_never_deadlocks() -> None:
    steps = [call("lookup"), call("transfer_to_back", '{"reason": "x"}'), say("Back here.")]
    session = await start(handoff_scenario(), *steps, say("Still here."), queue_size=1)
    events = await session.run_turn("help")
    assert kinds(events)[-3:] == ["agent_changed", "assistant_message", "turn_done"]
    assert kinds(await session.run_turn("thanks"))[-1] == "turn_done"
    await session.close()


async def test_close_leaves_no_task_running() -> None:
    release = gate()

    @tool(timeout_s=30)
    async def hang() -> str:
        """Never returns on its own."""
        await release.wait()
        return "late"

    scenario = one_agent(tools=[hang])
    session = await start(scenario, call("hang"), settings=Settings(tool_timeout_s=30))
    await session.send_text("go")
    async with asyncio.timeout(10):  # a model that fails never calls the tool: fail, never hang
        async for event in session.events():
            if isinstance(event, app.ToolCalled):
                break
    await session.close()
    assert asyncio.all_tasks() == {asyncio.current_task()}


@pytest.mark.parametrize("closes", ["twice", "once"])
async def test_close_is_idempotent_and_ends_events(closes: str) -> None:
    session = await start(one_agent(), say("Hi."))
    assert kinds(await session.run_turn("hello"))[-2:] == ["assistant_message", "turn_done"]
    await session.close()
    if closes == "twice":
        await session.close()
    assert [e async for e in session.events()] == []
    assert asyncio.all_tasks() == {asyncio.current_task()}
