"""Grounded arguments: invented values are refused before a tool runs; spoken ones pass."""

from __future__ import annotations

from typing import Annotated, Any

import pytest
from pydantic import Field

from voxrelay.agents import Agent, Grounded, RunContext, Scenario, is_grounded, tool
from voxrelay.agents.grounding import dates_in, digit_spans
from voxrelay.engine import Engine
from voxrelay.realtime import InProcessRealtime
from voxrelay.scenarios import load_scenario
from voxrelay.session import Session
from voxrelay.session import events as app
from voxrelay.testing import ScriptedChatModel, call, say

SAID = "Hi, it's Alex. My number is 206 555 0142, born April 12th, 1990; card ends in 1234."


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("(206) 555-0142", True),
        ("(123) 456-7890", False),
        ("1990-04-12", True),
        ("1990-12-04", False),
        ("1234", True),
        ("4321", False),
        ("Alex", True),
        ("Jordan", False),
        ("", True),
        (None, True),
    ],
)
def test_is_grounded(value: Any, expected: bool) -> None:
    assert is_grounded(value, SAID) is expected


def test_spoken_digits_and_written_dates() -> None:
    assert is_grounded("(206) 555-0142", "two oh six, five five five, oh one four two")
    assert "2065550142" in digit_spans("call (206) 555-0142 please")
    assert {d.isoformat() for d in dates_in("04/12/1990 or 12 April 1990")} >= {"1990-04-12"}
    assert is_grounded("SPB-20431", "the order was spb 20431")


def test_digits_in_different_numbers_do_not_combine() -> None:
    assert not is_grounded("(206) 555-0142", "I have 206 boards and 555 boots; 0142")


@tool
def lookup(
    ctx: RunContext, phone_number: Annotated[str, Grounded, Field(pattern=r"^\d{10}$")]
) -> str:
    """Look up an account."""
    ctx.state["looked_up"] = phone_number
    return "order ORD-7781 found"


@tool
def cancel(ctx: RunContext, order_id: Annotated[str, Grounded, "Order id."]) -> str:
    """Cancel an order."""
    ctx.state["cancelled"] = order_id
    return "cancelled"


def test_tool_records_grounded_parameters_and_keeps_schema_clean() -> None:
    assert lookup.grounded == ("phone_number",)
    assert lookup.parameters["properties"]["phone_number"] == {
        "pattern": r"^\d{10}$",
        "type": "string",
    }


def scenario() -> Scenario:
    return Scenario("g", [Agent("desk", "Help.", tools=[lookup, cancel])])


async def turn(model: ScriptedChatModel, *texts: str) -> tuple[Session, list[app.AppEventBase]]:
    session = Session(scenario(), InProcessRealtime(Engine(model)))
    await session.start()
    events: list[app.AppEventBase] = []
    for text in texts:
        events += await session.run_turn(text)
    await session.close()
    return session, events


def said(events: list[app.AppEventBase]) -> list[str]:
    """What the assistant said, in order; the turns must have had no error."""
    assert not [e for e in events if isinstance(e, app.ErrorOccurred)]
    return [e.text for e in events if isinstance(e, app.AssistantMessage)]


async def test_invented_phone_number_is_refused_and_not_executed() -> None:
    model = ScriptedChatModel(
        [
            call("lookup", '{"phone_number": "1234567890"}'),
            say("What is your phone number?", expect_in_prompt=["never said this phone number"]),
        ]
    )
    session, events = await turn(model, "Can you look up my account?")
    refused = [e for e in events if isinstance(e, app.ArgumentRefused)]
    assert [(r.name, r.argument, r.value) for r in refused] == [
        ("lookup", "phone_number", "1234567890")
    ]
    result = next(e for e in events if isinstance(e, app.ToolResult))
    assert not result.ok and "1234567890" not in result.output  # never echoed back
    assert "looked_up" not in session.state
    assert said(events) == ["What is your phone number?"]  # the reply saw the refusal
    model.assert_complete()


async def test_spoken_phone_number_passes() -> None:
    model = ScriptedChatModel([call("lookup", '{"phone_number": "2065550142"}'), say("Found it.")])
    session, events = await turn(model, "My number is 206-555-0142.")
    assert not any(isinstance(e, app.ArgumentRefused) for e in events)
    assert session.state["looked_up"] == "2065550142"
    assert said(events) == ["Found it."]


async def test_values_from_tool_results_are_grounded_but_failed_results_are_not() -> None:
    model = ScriptedChatModel(
        [
            call("lookup", '{"phone_number": "2065550142"}'),
            call("cancel", '{"order_id": "ORD-7781"}'),
            say("Cancelled."),
            call("lookup", '{"phone_number": "9999999999"}'),
            call("cancel", '{"order_id": "9999999999"}'),
            say("What is your number?"),
        ]
    )
    session, events = await turn(model, "My number is 2065550142, cancel my order", "again")
    assert session.state["cancelled"] == "ORD-7781"  # came from lookup's result
    refused = [e for e in events if isinstance(e, app.ArgumentRefused)]
    assert [r.name for r in refused] == ["lookup", "cancel"]  # a refusal never grounds a value
    assert said(events) == ["Cancelled.", "What is your number?"]


def test_retail_and_supervisor_tools_ground_caller_details() -> None:
    retail = load_scenario("customer_service_retail")
    grounded = {t.name: t.grounded for a in retail.agents for t in a.tools}
    assert grounded["authenticate_user_information"] == (
        "phone_number",
        "date_of_birth",
        "last_4_digits",
    )
    assert grounded["lookup_orders"] == ("phone_number",)
    assert grounded["check_eligibility_and_possibly_initiate_return"] == ("order_id", "item_id")


async def test_a_repeated_invented_call_is_refused_again_with_an_event() -> None:
    model = ScriptedChatModel(
        [
            call("lookup", '{"phone_number": "1234567890"}'),
            call("lookup", '{"phone_number": "1234567890"}'),
            say("What is your phone number?"),
        ]
    )
    session, events = await turn(model, "Look me up")
    refused = [e for e in events if isinstance(e, app.ArgumentRefused)]
    assert [r.value for r in refused] == ["1234567890", "1234567890"]
    assert "looked_up" not in session.state
    assert said(events) == ["What is your phone number?"]
