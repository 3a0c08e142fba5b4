"""The context budget: tool results capped for the model, old turns dropped before overflow."""

from __future__ import annotations

import itertools
import json
from collections.abc import Sequence

from voxrelay.models.base import Message, ToolCall
from voxrelay.models.budget import (
    chunk_cuts,
    estimate_tokens,
    fit_history,
    last_turn,
    shorter_history,
)
from voxrelay.session.results import for_model

SYSTEM = Message("system", "You are the returns desk. " * 10)


def measure(messages: Sequence[Message]) -> int:
    """Tokens of a prompt, estimated the way a template would spend them."""
    return sum(
        4 + estimate_tokens(m.content) + sum(estimate_tokens(c.arguments) for c in m.tool_calls)
        for m in messages
    )


def turn(n: int, *, calls: int = 0, size: int = 300) -> list[Message]:
    """One user turn: the caller's words, `calls` tool steps with results, the reply."""
    out = [Message("user", f"turn {n}: " + "x" * 40)]
    for c in range(calls):
        call = ToolCall(f"call_{n}_{c}", "lookup_orders", '{"phone_number": "(206) 555-0142"}')
        out.append(Message("assistant", tool_calls=(call,)))
        out.append(Message("tool", "r" * size, tool_call_id=call.call_id, name=call.name))
    out.append(Message("assistant", f"reply {n}"))
    return out


def conversation(turns: int, **kw: int) -> list[Message]:
    return [SYSTEM] + [m for n in range(turns) for m in turn(n, **kw)]


def pairs_intact(messages: Sequence[Message]) -> bool:
    """Every tool result follows the call it answers."""
    called: set[str] = set()
    for m in messages:
        called.update(c.call_id for c in m.tool_calls)
        if m.role == "tool" and m.tool_call_id not in called:
            return False
    return True


# ---- fit_history ------------------------------------------------------------------------------


def test_a_conversation_that_fits_is_left_alone() -> None:
    messages = conversation(3)
    assert fit_history(messages, 10_000, measure) == messages


def test_the_oldest_turns_go_first_and_the_system_prompt_and_last_turn_stay() -> None:
    messages = conversation(12, calls=2)
    budget = measure(messages) // 3
    kept = fit_history(messages, budget, measure)
    assert measure(kept) <= budget
    assert kept[0] == SYSTEM and kept[1].role == "user"
    assert kept[-len(turn(11, calls=2)) :] == messages[-len(turn(11, calls=2)) :]
    assert kept[1:] == messages[-(len(kept) - 1) :]  # a suffix: only the oldest went
    assert pairs_intact(kept)


def test_the_kept_history_starts_at_the_same_message_while_the_call_goes_on() -> None:
    """Drops happen in chunks, so a cached prompt prefix survives most turns."""
    budget = 1500
    starts = []
    for turns in range(4, 30):
        kept = fit_history(conversation(turns, calls=1), budget, measure)
        assert measure(kept) <= budget
        starts.append(kept[1].content)
    changes = sum(a != b for a, b in itertools.pairwise(starts))
    assert 0 < changes < len(starts) // 2


def test_chunk_cuts_are_turn_starts_and_end_with_the_last_turn() -> None:
    rest = conversation(6, calls=1)[1:]
    cuts = chunk_cuts(rest, 200)
    assert cuts == sorted(set(cuts))
    assert all(rest[c].role == "user" for c in cuts)
    assert rest[cuts[-1]].content.startswith("turn 5")


def test_a_last_turn_too_big_alone_loses_its_oldest_tool_steps() -> None:
    messages = [SYSTEM, *turn(0), *turn(1, calls=8, size=900)]
    budget = measure([SYSTEM, *turn(1, calls=2, size=900)])
    kept = fit_history(messages, budget, measure)
    assert measure(kept) <= budget
    assert kept[1].content.startswith("turn 1")  # the caller's words stay
    assert kept[-1].content == "reply 1"
    assert pairs_intact(kept) and kept[2].role == "assistant"


def test_shorter_history_keeps_the_system_prompt_and_the_last_turn() -> None:
    messages = conversation(5, calls=1)
    assert shorter_history(messages) == [SYSTEM, *turn(4, calls=1)]
    assert last_turn(messages[1:]) == turn(4, calls=1)
    assert shorter_history([SYSTEM]) == [SYSTEM]


# ---- for_model: what the model is shown of a tool result ---------------------------------------

ORDERS = {
    "customer": "Alex Rivera",
    "orders": [
        {
            "order_id": f"SPB-{20000 + n}",
            "status": "delivered",
            "items": [{"item_id": f"SB-{n}", "name": "Summit Freeride 158 snowboard"}],
        }
        for n in range(12)
    ],
}


def test_a_short_result_is_shown_whole() -> None:
    assert for_model('{"verified": true}', 600) == '{"verified": true}'


def test_a_long_json_result_is_trimmed_by_structure_and_says_what_was_left_out() -> None:
    output = json.dumps(ORDERS)
    shown = for_model(output, 600)
    assert len(shown) <= 600
    value = json.loads(shown)  # still JSON
    assert value["customer"] == "Alex Rivera"
    assert value["orders"][0]["order_id"] == "SPB-20000"
    assert value["orders"][-1].endswith("more not shown")


def test_long_strings_are_cut_and_text_that_is_not_json_is_cut_short() -> None:
    shown = for_model(json.dumps({"policy": "y" * 2000}), 300)
    assert len(shown) <= 300 and json.loads(shown)["policy"].endswith("...")
    text = for_model("z" * 2000, 300)
    assert len(text) <= 300 and text.endswith("(cut short)")
