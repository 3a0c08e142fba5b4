"""Score a multi-turn task from its app events, turn by turn (I/O-free).

A task passes when its goal was reached within the turn cap and every failure counter is 0:
turns that spoke machine talk to the caller (`voxrelay.evals.junk`), identical tool calls
executed twice in one turn, executed calls with invented grounded arguments, and errors.
A call counts as executed when its `tool_result` is ok (the runtime ran it).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from voxrelay.evals.junk import Junk, find_junk
from voxrelay.evals.scoring import (
    Call,
    Event,
    GroundedParams,
    Invented,
    invented_arguments,
    parse_arguments,
)
from voxrelay.evals.tasks import Success, Task

COUNTERS = ("junk_turns", "repeated_calls", "invented_executed", "errors")
"""The failure counters every task reports; each must be 0 for a pass."""


@dataclass(frozen=True)
class Executed:
    """A tool call the runtime ran, with its output."""

    name: str
    arguments: dict[str, Any]
    output: str


@dataclass(frozen=True)
class TaskVerdict:
    """The score of one task run."""

    passed: bool
    reached: bool
    """The goal was reached."""
    reached_at: int | None
    """The caller turn (1-based) in which it was reached."""
    turns: int
    """Caller turns played."""
    counters: dict[str, int]
    """COUNTERS → count."""
    reasons: tuple[str, ...] = ()
    """Why it failed (empty when it passed)."""
    junk: tuple[str, ...] = ()
    """Each junk reply as `turn N: kind 'excerpt'`."""
    invented: tuple[Invented, ...] = ()
    """Executed calls' invented grounded arguments."""
    caught: int = 0
    """Grounded arguments the runtime refused (`argument_refused`); not a failure."""


def executed_calls(events: Iterable[Event]) -> list[Executed]:
    """Calls whose `tool_result` is ok, in order (a repeat answered with the earlier result was
    not executed: its result says `reused`)."""
    pending: dict[str, Event] = {}
    out = []
    for e in events:
        if e.get("type") == "tool_call":
            pending[str(e.get("call_id", ""))] = e
        elif e.get("type") == "tool_result" and e.get("ok", True) and not e.get("reused"):
            call = pending.pop(str(e.get("call_id", "")), None)
            if call is not None:
                arguments = parse_arguments(call.get("arguments", ""))
                out.append(Executed(call["name"], arguments, str(e.get("output", ""))))
    return out


def goal_reached(success: Success, events: Sequence[Event]) -> bool:
    """Whether everything `success` asks for has happened in these events."""
    if success.tool and not any(_goal_call(success, c) for c in executed_calls(events)):
        return False
    if success.agent and not any(
        e.get("type") == "agent_changed" and e.get("to") == success.agent for e in events
    ):
        return False
    pattern = success.reply_matching
    return not pattern or any(
        e.get("type") == "assistant_message"
        and (success.agent is None or e.get("agent") == success.agent)
        and re.search(pattern, e.get("text", ""), re.IGNORECASE)
        for e in events
    )


def _goal_call(success: Success, call: Executed) -> bool:
    if call.name != success.tool or _is_error(call.output):
        return False
    return all(_same(want, call.arguments.get(key)) for key, want in success.args.items())


def _is_error(output: str) -> bool:
    try:
        value = json.loads(output)
    except json.JSONDecodeError:
        return False
    return isinstance(value, dict) and "error" in value


def _same(want: Any, have: Any) -> bool:
    """Equal as JSON values: strings stripped and case-insensitive, a wanted list a subset."""
    if isinstance(want, str) and isinstance(have, str):
        return want.strip().casefold() == have.strip().casefold()
    if isinstance(want, list) and isinstance(have, list):
        return all(any(_same(w, h) for h in have) for w in want)
    return bool(want == have)


def junk_by_turn(turns: Sequence[Sequence[Event]]) -> dict[int, list[Junk]]:
    """Caller turn (1-based) → the machine talk in that turn's assistant messages."""
    out: dict[int, list[Junk]] = {}
    for n, events in enumerate(turns, 1):
        for e in events:
            if e.get("type") == "assistant_message" and (found := find_junk(e.get("text", ""))):
                out.setdefault(n, []).extend(found)
    return out


def repeated_calls(turns: Sequence[Sequence[Event]]) -> int:
    """Executed calls identical (name and canonical arguments) to one earlier in the turn."""
    count = 0
    for events in turns:
        seen: set[tuple[str, str]] = set()
        for call in executed_calls(events):
            key = (call.name, json.dumps(call.arguments, sort_keys=True))
            count += key in seen
            seen.add(key)
    return count


def invented_in(turns: Sequence[Sequence[Event]], grounded: GroundedParams) -> list[Invented]:
    """Executed calls' grounded arguments that the conversation before them never held."""
    conversation: list[str] = []
    pending: dict[str, Call] = {}
    found: list[Invented] = []
    for e in (e for events in turns for e in events):
        kind = e.get("type")
        if kind == "tool_call":
            arguments = parse_arguments(e.get("arguments", ""))
            pending[str(e.get("call_id", ""))] = Call(e.get("agent") or "", e["name"], arguments)
        elif kind == "tool_result" and e.get("ok", True):
            call = pending.pop(str(e.get("call_id", "")), None)
            if call is not None:
                found += invented_arguments([call], [], "\n".join(conversation), grounded)
        if kind == "user_message":
            conversation.append(str(e.get("text", "")))
        elif kind == "tool_result":
            conversation.append(str(e.get("output", "")))
    return found


def score_task(
    task: Task, turns: Sequence[Sequence[Event]], grounded: GroundedParams
) -> TaskVerdict:
    """Score a task's turns (each a list of app events, its user message first)."""
    flat = [e for events in turns for e in events]
    reached_at = next(
        (n for n in range(1, len(turns) + 1) if goal_reached(task.success, _upto(turns, n))),
        None,
    )
    junk = junk_by_turn(turns)
    invented = invented_in(turns, grounded)
    errors = [str(e.get("text", "")) for e in flat if e.get("type") == "error"]
    counters = {
        "junk_turns": len(junk),
        "repeated_calls": repeated_calls(turns),
        "invented_executed": len(invented),
        "errors": len(errors),
    }
    reasons = _reasons(task, reached_at, len(turns), counters, errors)
    return TaskVerdict(
        passed=not reasons,
        reached=reached_at is not None,
        reached_at=reached_at,
        turns=len(turns),
        counters=counters,
        reasons=tuple(reasons),
        junk=tuple(f"turn {n}: {j.kind} {j.excerpt!r}" for n, js in junk.items() for j in js),
        invented=tuple(invented),
        caught=sum(1 for e in flat if e.get("type") == "argument_refused"),
    )


def _upto(turns: Sequence[Sequence[Event]], n: int) -> list[Event]:
    return [e for events in turns[:n] for e in events]


def _reasons(
    task: Task, reached_at: int | None, played: int, counters: dict[str, int], errors: list[str]
) -> list[str]:
    reasons = []
    if reached_at is None:
        reasons.append(f"goal not reached in {played} turn(s): {describe(task.success)}")
    labels = {
        "junk_turns": "turn(s) spoke tool syntax, JSON, code or runtime notes",
        "repeated_calls": "identical tool call(s) executed again in the same turn",
        "invented_executed": "executed call(s) with invented grounded arguments",
        "errors": "error(s)",
    }
    reasons += [f"{counters[k]} {labels[k]}" for k in COUNTERS if counters[k]]
    if errors:
        reasons.append(f"first error: {errors[0]}")
    return reasons


def describe(success: Success) -> str:
    """The goal in words, e.g. `checkout({"item_ids": ["SB-155-PARK"]})`."""
    parts = []
    if success.tool:
        parts.append(f"{success.tool}({json.dumps(success.args, ensure_ascii=False)})")
    if success.agent:
        parts.append(f"reach {success.agent}")
    if success.reply_matching:
        parts.append(f"a reply matching /{success.reply_matching}/")
    return " and ".join(parts)


def transcript(turns: Sequence[Sequence[Event]]) -> list[dict[str, Any]]:
    """Each turn as `{caller, calls, agents, replies}`, for the JSON report."""
    out = []
    for events in turns:
        by_type: dict[str, list[Event]] = {}
        for e in events:
            by_type.setdefault(str(e.get("type")), []).append(e)
        out.append(
            {
                "caller": next((e.get("text") for e in by_type.get("user_message", [])), ""),
                "calls": [
                    f"{e['name']}({e.get('arguments', '')})" for e in by_type.get("tool_call", [])
                ],
                "agents": [e.get("to") for e in by_type.get("agent_changed", [])],
                "replies": [e.get("text", "") for e in by_type.get("assistant_message", [])],
            }
        )
    return out
