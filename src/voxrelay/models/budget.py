"""Fitting a conversation into a model's context window (I/O-free).

The system prompt and the latest turns always stay; the oldest turns go first, whole (a turn
starts at a user message, so a tool call stays with its result). Turns are dropped in chunks
of about half the budget, measured from the start of the conversation, so the kept history
starts at the same message turn after turn: a model that caches its prompt prefix re-reads
the kept conversation only when another chunk goes (on the 0.5B at ~150 tokens/s, some
seconds every few turns of a long call), and a bigger chunk makes that rarer and cheaper.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from voxrelay.models.base import Message

Measure = Callable[[Sequence[Message]], int]
"""Tokens of the whole prompt built from these messages."""
CHARS_PER_TOKEN = 3
"""A conservative estimate for English and JSON (Qwen2.5 averages about four)."""


def estimate_tokens(text: str) -> int:
    """A cheap, conservative token count."""
    return len(text) // CHARS_PER_TOKEN + 1


def fit_history(messages: Sequence[Message], budget: int, measure: Measure) -> list[Message]:
    """`messages` with their oldest turns dropped until `measure` says they fit in `budget`.

    If even the last turn does not fit, its oldest tool steps go too; what is returned then
    may still be over budget (the caller's last message and the system prompt always stay).
    """
    messages = list(messages)
    if measure(messages) <= budget:
        return messages
    system = [m for m in messages[:1] if m.role == "system"]
    rest = messages[len(system) :]
    for cut in chunk_cuts(rest, max(budget // 2, 1)):
        kept = system + rest[cut:]
        if measure(kept) <= budget:
            return kept
    return system + _shrink_turn(last_turn(rest), budget, measure, system)


def chunk_cuts(rest: Sequence[Message], chunk: int) -> list[int]:
    """Where the kept history may start: the first turn start past each `chunk` of tokens.

    The last turn's start is always the final candidate.
    """
    starts = [i for i, m in enumerate(rest) if m.role == "user" and i > 0]
    last = starts[-1] if starts else 0
    cuts: list[int] = []
    total, goal = 0, chunk
    for i, message in enumerate(rest):
        if i in starts and total >= goal and i < last:
            cuts.append(i)
            while goal <= total:
                goal += chunk
        total += estimate_tokens(message.content) + sum(
            estimate_tokens(c.arguments) for c in message.tool_calls
        )
    return [*cuts, last] if last else cuts


def last_turn(messages: Sequence[Message]) -> list[Message]:
    """The latest user message and what follows it (everything, if there is none)."""
    starts = [i for i, m in enumerate(messages) if m.role == "user"]
    return list(messages[starts[-1] :]) if starts else list(messages)


def shorter_history(messages: Sequence[Message]) -> list[Message]:
    """A much shorter prompt for a retry after a context overflow: system and the last turn."""
    system = [m for m in messages[:1] if m.role == "system"]
    return system + last_turn(messages[len(system) :])


def _shrink_turn(
    turn: list[Message], budget: int, measure: Measure, system: list[Message]
) -> list[Message]:
    """The turn with its oldest tool steps (a call and its results) dropped until it fits."""
    head = turn[:1] if turn and turn[0].role == "user" else []
    steps = turn[len(head) :]
    while steps and measure(system + head + steps) > budget:
        steps = steps[1:]
        while steps and steps[0].role == "tool":  # results never lose their call
            steps = steps[1:]
    return head + steps
