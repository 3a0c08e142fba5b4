"""The eval's junk detector and scripted caller: pure functions, checked on plain strings."""

from __future__ import annotations

import pytest

from voxrelay.evals import Caller, Rule, find_junk, is_junk

# ---- junk: machine talk spoken to the caller -------------------------------------------------

JUNK = [
    ('<tool_call>\n{"name": "lookup_orders", "arguments": {}}\n</tool_call>', "tool_tag"),
    ("Sure! <tools> lookup_orders </tools>", "tool_tag"),
    ("<|im_start|>assistant", "chat_token"),
    ("```json\n{}\n```", "code_fence"),
    ('- transfer_to_returns returned {"assistant": "returns"}', "runtime_note"),
    ("lookup_orders returned [] so I will try again", "runtime_note"),
    ("You already made this exact call and it failed. Do not repeat it.", "runtime_note"),
    ("Not executed: the caller never said this phone number.", "runtime_note"),
    ('{"phone_number": "(206) 555-0142"}', "json_object"),
    ("Okay {'order_id': 'SPB-20431'}", "json_object"),
    ('["lookup_orders", "checkout"]', "tool_list"),
    ("I'll call lookup_orders(phone_number) now.", "function_call"),
    ("Calling getUserAccountInfo(...) for you.", "function_call"),
    ("Let me use check_eligibility_and_possibly_initiate_return for that.", "identifier"),
    ("I'll ask getNextResponseFromSupervisor about it.", "identifier"),
    ("The nextResponse is: your bill is due.", "identifier"),
    ("That item is final_sale, sorry.", "identifier"),
]

CLEAN = [
    "Your total comes to $349.00, and orders over $100 ship free.",
    "The Park Rat is on sale for $349 (regularly $429).",
    "We're open Mon-Sat 9am-8pm and Sun 10am-6pm.",
    "Your balance is $82.47, due on 2025-07-05.",
    "Order SPB-20431 has the Summit Freeride 158 (SB-158-SUMMIT) and the Carve Pro bindings.",
    "Your return RMA-20431-1 is started; the refund arrives in 5-7 business days.",
    "You can call the store at (206) 555-0110, or visit 1520 4th Ave, Seattle.",
    "You've used 31.2 of your 50 GB of priority data.",
    "I'll send the label to alex.rivera@example.com.",
    "Sure: what are your phone number, date of birth and the last 4 digits of your card?",
    "It's 10:30 a.m. here, and your iPhone is covered for 14 days.",
    "Roaming costs $5/day [unless you add a travel pass] before the trip.",
    "Morning light on snow / a quiet board waits by the door / the mountain is calling",
    "Hi! How can I help you today? (I can look up orders or start a return.)",
    "The 3-for-2 deal ends at midnight, 50% off selected goggles.",
]


@pytest.mark.parametrize(("text", "kind"), JUNK)
def test_machine_talk_is_junk(text: str, kind: str) -> None:
    assert is_junk(text)
    assert kind in {j.kind for j in find_junk(text)}, find_junk(text)


@pytest.mark.parametrize("text", CLEAN)
def test_plain_sentences_with_numbers_prices_and_times_are_not_junk(text: str) -> None:
    assert find_junk(text) == [], find_junk(text)
    assert not is_junk(text)


def test_an_excerpt_is_cut_to_60_characters() -> None:
    (found, *_) = find_junk("<tool_call " + "x" * 100 + ">")
    assert found.kind == "tool_tag"
    assert len(found.excerpt) == 60


# ---- the rule-based caller ------------------------------------------------------------------

ALEX = {
    "phone": "(206) 555-0142",
    "dob": "April 12, 1990",
    "last4": "1234",
    "item": "the Summit board",
    "reason": "It's defective.",
    "confirm": "Yes, please.",
}


def test_the_caller_answers_every_fact_asked_for_in_profile_order() -> None:
    caller = Caller(ALEX)
    line = caller.reply("Sure. What are your date of birth, phone number and last 4 card digits?")
    assert line == (
        "My phone number is (206) 555-0142. My date of birth is April 12, 1990. "
        "The last four digits of my card are 1234."
    )


@pytest.mark.parametrize(
    ("agent", "said"),
    [
        ("Why would you like to return it?", "It's defective."),
        ("Which item from that order is it?", "It's the Summit board."),
        ("Shall I go ahead and start the return?", "Yes, please."),
        ("Could I get the number on your account?", "My phone number is (206) 555-0142."),
    ],
)
def test_the_caller_answers_one_question(agent: str, said: str) -> None:
    assert Caller(ALEX).reply(agent) == said


def test_an_order_number_question_does_not_get_the_phone() -> None:
    caller = Caller({**ALEX, "order": "SPB-20431"})
    assert caller.reply("What's the order number?") == "The order number is SPB-20431."


def test_a_fact_missing_from_the_profile_falls_back_in_order_then_repeats() -> None:
    caller = Caller({"phone": "(206) 555-0142"}, fallback=["I don't know it.", "Look it up?"])
    said = [caller.reply(text) for text in ("Order id?", "Anything else?", "Hmm?", "")]
    assert said == ["I don't know it.", "Look it up?", "Look it up?", "Look it up?"]


def test_the_default_fallback() -> None:
    assert Caller({}).reply("Okay!") == "Okay. Can you go ahead with that, please?"


def test_task_rules_come_first_and_fill_in_profile_facts() -> None:
    rules = [Rule(when=r"\bsize\b", say="Size 10, and my number is {phone}.")]
    caller = Caller(ALEX, rules)
    assert caller.reply("Which size do you need? And why the return?") == (
        "Size 10, and my number is (206) 555-0142. It's defective."
    )


def test_the_same_line_is_said_once() -> None:
    rules = [Rule(when="birth", say="My date of birth is {dob}.")]
    assert Caller(ALEX, rules).reply("Date of birth?") == "My date of birth is April 12, 1990."
