"""Grounded values the model garbled are taken from the caller's words, never invented."""

from __future__ import annotations

import json

import pytest

from voxrelay.agents import Agent, Scenario
from voxrelay.agents.repair import digit_template, repair_arguments, repair_value
from voxrelay.engine import Engine
from voxrelay.realtime import InProcessRealtime
from voxrelay.scenarios.retail_tools import authenticate_user_information
from voxrelay.session import Session
from voxrelay.session import events as app
from voxrelay.testing import ScriptedChatModel, call, say

PHONE = r"^\(\d{3}\) \d{3}-\d{4}$"
ISO = r"^\d{4}-\d{2}-\d{2}$"


def test_digit_templates_come_from_fixed_patterns_only() -> None:
    assert digit_template(PHONE) == "(###) ###-####"
    assert digit_template(r"^\d{4}$") == "####"
    assert digit_template(r"^[A-Z]+-\d+$") is None
    assert digit_template(r"^abc$") is None


@pytest.mark.parametrize(
    ("pattern", "said", "value"),
    [
        (ISO, "My date of birth is 12 April 1990.", "1990-04-12"),
        (ISO, "born november 3rd 1985", "1985-11-03"),
        (PHONE, "my number is four one five five five five zero one nine nine", "(415) 555-0199"),
        (PHONE, "It's 206.555.0142.", "(206) 555-0142"),
    ],
)
def test_the_one_value_of_the_right_shape_is_found(pattern: str, said: str, value: str) -> None:
    assert repair_value(pattern, said) == value


@pytest.mark.parametrize(
    ("pattern", "said"),
    [
        (ISO, "no date here"),
        (ISO, "11/03/1985"),  # March 11 or November 3: ambiguous, so no repair
        (PHONE, "call 206 555 0142 or 415 555 0199"),
        (r"^\d{4}$", "born 1990, card ending 1234"),
    ],
)
def test_no_value_or_several_means_no_repair(pattern: str, said: str) -> None:
    assert repair_value(pattern, said) is None


def test_only_ungrounded_grounded_values_are_replaced() -> None:
    schema = {"properties": {"dob": {"pattern": ISO}, "note": {"pattern": ISO}}}
    args = {"dob": "1242-04-19", "note": "1242-04-19"}
    said = "I was born on 12 April 1990"
    fixed = repair_arguments(args, ("dob",), schema, said, said)
    assert fixed == {"dob": "1990-04-12", "note": "1242-04-19"}
    good = {"dob": "1990-04-12"}
    assert repair_arguments(good, ("dob",), schema, "born 1990-04-12", "12 May 1991") == good


def test_a_value_said_in_an_earlier_turn_is_kept() -> None:
    schema = {"properties": {"last4": {"pattern": r"^\d{4}$"}}}
    earlier = "my card ends 1234\nborn 12 April 1990, phone (206) 555-0142"
    latest = "born 12 April 1990, phone (206) 555-0142"
    assert repair_arguments({"last4": "1234"}, ("last4",), schema, earlier, latest) == {
        "last4": "1234"
    }


async def test_a_garbled_date_is_repaired_before_the_call_runs() -> None:
    garbled = {
        "phone_number": "(206) 555-0142",
        "date_of_birth": "1242-04-19",
        "last_4_digits": "1234",
    }
    model = ScriptedChatModel(
        [call("authenticate_user_information", json.dumps(garbled)), say("Thanks, Alex.")]
    )
    desk = Agent("desk", "Verify callers.", tools=[authenticate_user_information])
    session = Session(Scenario("r", [desk]), InProcessRealtime(Engine(model)))
    await session.start()
    events = await session.run_turn(
        "My phone is (206) 555-0142, I was born on 12 April 1990, card ending 1234"
    )
    (called,) = [e for e in events if isinstance(e, app.ToolCalled)]
    assert json.loads(called.arguments)["date_of_birth"] == "1990-04-12"
    (result,) = [e for e in events if isinstance(e, app.ToolResult)]
    assert json.loads(result.output)["verified"] is True
    await session.close()
