"""What may be said to a caller: tool syntax, JSON, code and runtime notes never are."""

from __future__ import annotations

import json

import pytest

from voxrelay.agents import Agent, Scenario
from voxrelay.models.base import Message, ToolSpec
from voxrelay.models.chatml import format_prompt, tools_block
from voxrelay.realtime.types import FunctionCallItem
from voxrelay.session.handoffs import HandoffRecord, bounce_back, decide_handoff
from voxrelay.session.policy import TurnPolicy
from voxrelay.session.speakable import repeats, unspeakable
from voxrelay.session.tools import ToolOutcome

# ---- what small models said to callers (the retail call that went wrong) ------------------------

SEEN = [
    ('["transfer_to_authentication", "transfer_to_sales", "transfer_to_simulated_human"]', "json"),
    ('["lookup_new_sales", "add_to_cart", "checkout"]', "json"),
    ('checkout returned {"error": "caller not verified yet"}', "json"),
    (
        '```json\n{"error": "you already made this exact call and it failed (x). '
        'Do not repeat it: answer the caller in words."}\n```',
        "runtime_note",
    ),
    ("```\nlookup_orders\n```", "code"),
    ('<tool_call>\n{"name": "lookup_orders", "arguments": {}}\n</tool_call>', "tool_syntax"),
    ("I will call lookup_orders for you.", "tool_syntax"),
    ("transfer_to_returns", "tool_syntax"),
    ("[transfer_to_sales, checkout]", "tool_syntax"),
    ('{"verified": true, "name": "Alex Rivera"}', "json"),
    ('"verified": true, "name": "Alex Rivera"', "json"),
    ("checkout()", "code"),
    ("Sure.<|im_end|>", "tool_syntax"),
    ("You already made this exact call, so let me answer.", "runtime_note"),
    ("The caller never said this phone number. Not executed: ask for it.", "runtime_note"),
]


@pytest.mark.parametrize(("text", "reason"), SEEN)
def test_tool_syntax_json_code_and_notes_are_not_speech(text: str, reason: str) -> None:
    assert unspeakable(text) == reason


SPEECH = [
    "Sure! What are your phone number, date of birth and the last 4 digits of your card?",
    "The Park Rat board is on sale for $129.99, down from $179.99.",
    "Your order SPB-20431 from 2024-01-05 was delivered at 10:30 a.m.",
    "Order ORD-1001 (Summit Freeride 158 snowboard): $549.00.",
    "Your number is (206) 555-0142; is that right?",
    "A return label was emailed to alex_rivera@example.com.",
    "You can also read it at https://snowypeak.example/returns_policy.",
    'The return reason is "too stiff", which counts as changed mind.',
    "Here are two deals: 1) the Park Rat board, 2) Carve Pro bindings.",
    "Let me check that for you — one moment.",
    "I've added it to your cart. Total: $129.99. Ready to check out?",
    "I'll transfer you to our returns team now.",
    "Refund: 5-7 business days; RMA-20431-1.",
    "",
]


@pytest.mark.parametrize("text", SPEECH)
def test_ordinary_sentences_pass(text: str) -> None:
    assert unspeakable(text) is None


# ---- every note the runtime writes to the model is caught when echoed ---------------------------


def runtime_notes() -> list[str]:
    """The runtime's own notes, made by the code that writes them."""
    policy = TurnPolicy(max_tool_steps=4)
    policy.record("lookup_orders", "{}", ToolOutcome('{"error": "no"}', ok=False))
    refusal = policy.repeat_of("lookup_orders", "{}")
    assert refusal is not None
    notes = [
        json.loads(refusal.output)["error"],
        policy.retry_note("it contained JSON", unspeakable=True) or "",
    ]
    policy.new_turn()
    notes.append(policy.retry_note("rude") or "")
    front = Agent("front", "Route.", handoffs=["returns"])
    returns = Agent("returns", "Returns.", handoffs=["front"])
    scenario = Scenario("s", [front, returns])
    for name, agent, again in [
        ("transfer_to_nobody", front, False),
        ("transfer_to_front", front, False),
        ("transfer_to_returns", front, True),
    ]:
        call = FunctionCallItem(call_id="c", name=name, arguments="{}")
        decision = decide_handoff(scenario, agent, call, again=again, at=0.0)
        notes.append(json.loads(decision.outcome.output)["error"])
    last = HandoffRecord("front", "returns", "", 0.0, True, turn=1)
    notes.append(bounce_back(returns, front, last, 1, "") or "")
    notes.append("Say exactly this, and nothing else: Sorry.")
    return notes


def test_every_runtime_note_is_caught_when_echoed() -> None:
    notes = runtime_notes()
    assert all(notes)
    for note in notes:
        assert unspeakable(note) == "runtime_note", note
        assert unspeakable(f"Okay. {note}") is not None


def test_the_prompts_headings_are_caught_when_echoed() -> None:
    tool = ToolSpec("lookup", "Find orders.", {"type": "object", "properties": {}})
    prompt = format_prompt([Message("system", "Be brief."), Message("user", "hi")], [tool])
    assert unspeakable(tools_block([tool])) is not None
    assert unspeakable(prompt) is not None


def test_a_near_copy_of_an_earlier_long_reply_is_a_repeat() -> None:
    said = [
        "Your return for the Summit Freeride 158 snowboard is started, number RMA-20431-1. "
        "A prepaid label is on its way by email. Is there anything else I can help you with?"
    ]
    copy = said[0].replace("Summit Freeride 158 snowboard", "Park Rat board").replace("-1.", "-2.")
    assert repeats(copy, said)
    assert not repeats("Is there anything else I can help you with?", said)  # short: may recur
    assert not repeats("The Park Rat board is on sale for $299 and ships in two days.", said)
