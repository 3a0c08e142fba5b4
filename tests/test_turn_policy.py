"""The pure decisions: repeated calls, retries and the fallback, transfers straight back."""

from __future__ import annotations

import json

from voxrelay.agents import Agent, Scenario
from voxrelay.realtime.types import FunctionCallItem
from voxrelay.session.handoffs import (
    HandoffRecord,
    bounce_back,
    decide_handoff,
    gives_reason,
    reason_words,
)
from voxrelay.session.policy import TurnPolicy
from voxrelay.session.tools import ToolOutcome

ARGS = '{"phone_number": "(206) 555-0142"}'
SAME_ARGS = '{ "phone_number":"(206) 555-0142" }'
ORDERS = ToolOutcome('{"orders": []}', ok=True)

# ---- repeated identical calls ------------------------------------------------------------------


def test_a_repeat_of_a_successful_call_gets_the_earlier_result_and_words_follow() -> None:
    policy = TurnPolicy(max_tool_steps=4)
    assert policy.repeat_of("lookup_orders", ARGS) is None
    policy.record("lookup_orders", ARGS, ORDERS)
    assert policy.next_response() is None  # a new call: the model may call again
    assert policy.repeat_of("lookup_orders", SAME_ARGS) == ORDERS
    params = policy.next_response()
    assert params is not None and params.tool_choice == "none"


def test_a_repeat_of_a_failed_call_is_refused() -> None:
    policy = TurnPolicy(max_tool_steps=4)
    policy.record("checkout", "{}", ToolOutcome('{"error": "not verified"}', ok=False))
    refusal = policy.repeat_of("checkout", "{}")
    assert refusal is not None and not refusal.ok
    assert "not verified" in json.loads(refusal.output)["error"]


def test_other_arguments_or_a_new_turn_are_not_repeats() -> None:
    policy = TurnPolicy(max_tool_steps=4)
    policy.record("lookup_orders", ARGS, ORDERS)
    assert policy.repeat_of("lookup_orders", '{"phone_number": "(206) 555-0199"}') is None
    policy.new_turn()
    assert policy.repeat_of("lookup_orders", ARGS) is None


def test_a_blocked_reply_is_retried_once_and_the_fallback_is_said_once_per_turn() -> None:
    policy = TurnPolicy(max_tool_steps=4)
    note = policy.retry_note("it contained JSON", unspeakable=True)
    assert note is not None and "plain spoken sentences" in note
    assert policy.retry_note("it contained JSON", unspeakable=True) is None
    assert policy.take_fallback() and not policy.take_fallback()
    policy.new_turn()
    assert policy.retry_note("rude") is not None and policy.take_fallback()


# ---- transfers straight back ------------------------------------------------------------------

FRONT = Agent(
    "authentication",
    "Route.",
    handoffs=["returns", "simulatedHuman"],
    handoff_description="Front desk: greets callers, verifies identity and routes them.",
)
RETURNS = Agent(
    "returns",
    "Returns.",
    handoffs=["authentication", "simulatedHuman"],
    handoff_description="Returns, exchanges, refunds and defective items; looks up orders.",
)
HUMAN = Agent(
    "simulatedHuman",
    "A person.",
    handoffs=["authentication", "returns"],
    handoff_description="A human supervisor, for upset callers or anyone asking for a person.",
)
SCENARIO = Scenario("retail", [FRONT, RETURNS, HUMAN])
HANDED = HandoffRecord("authentication", "returns", "", 0.0, True, turn=3)


def back(words: str, turn: int = 4) -> str | None:
    return bounce_back(RETURNS, FRONT, HANDED, turn, words)


def test_a_transfer_straight_back_is_refused_without_a_reason() -> None:
    assert back("My phone is (206) 555-0142, born 1990-04-12, last 4 1234.") is not None
    assert back("anything", turn=3) is not None  # the same turn: no new words yet


def test_a_transfer_back_is_allowed_when_the_caller_gives_a_reason_or_later() -> None:
    assert back("Can you verify my identity first?") is None
    assert back("I need the front desk") is None
    assert back("no reason at all", turn=5) is None  # two turns on, it is no bounce


def test_only_the_agent_that_handed_over_counts() -> None:
    assert bounce_back(RETURNS, HUMAN, HANDED, 4, "") is None
    failed = HandoffRecord("authentication", "returns", "", 0.0, False, "no", turn=3)
    assert bounce_back(RETURNS, FRONT, failed, 4, "") is None


def test_reason_words_come_from_the_description_and_the_name() -> None:
    assert {"human", "simulated", "supervisor", "person", "upset"} <= reason_words(HUMAN)
    assert "anyone" not in reason_words(HUMAN)
    assert gives_reason("I want to talk to a human", HUMAN)
    assert gives_reason("I'd like a refund", RETURNS)
    assert gives_reason("it's defective", RETURNS)
    assert not gives_reason("my card ends in 1234", RETURNS)


def test_decide_handoff_refuses_the_bounce_with_a_note_and_records_the_turn() -> None:
    call = FunctionCallItem(call_id="c", name="transfer_to_authentication", arguments="{}")
    decision = decide_handoff(
        SCENARIO, RETURNS, call, again=False, at=1.0, turn=4, last=HANDED, caller_words="ok"
    )
    assert decision.target is None and not decision.outcome.ok
    assert "do not transfer them back" in json.loads(decision.outcome.output)["error"]
    assert decision.record.turn == 4 and not decision.record.success
    allowed = decide_handoff(
        SCENARIO, RETURNS, call, again=False, at=1.0, turn=4, last=HANDED, caller_words="verify me"
    )
    assert allowed.target is FRONT and allowed.record.success
