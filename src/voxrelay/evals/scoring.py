"""Score one eval turn from its app events: pass/fail with reasons, and invented arguments."""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from voxrelay.agents.grounding import is_grounded
from voxrelay.evals.cases import Case

Event = dict[str, Any]
"""An app event as `AppEventBase.to_json_dict()` gives it."""
GroundedParams = Mapping[str, tuple[str, ...]]
"""Tool name → its parameters marked `Grounded`."""


@dataclass(frozen=True)
class Call:
    """One tool call seen in the turn, and whether grounding refused it."""

    agent: str
    name: str
    arguments: dict[str, Any]
    refused: bool = False


@dataclass(frozen=True)
class Invented:
    """A grounded argument whose value the caller never said."""

    tool: str
    argument: str
    value: str
    caught: bool
    """True when the runtime refused it (`argument_refused`), False when it was executed."""


@dataclass(frozen=True)
class Verdict:
    """The score of one case."""

    passed: bool
    reasons: tuple[str, ...] = ()
    """Why it failed (empty when it passed)."""
    invented: tuple[Invented, ...] = ()
    summary: str = ""
    """What happened, in one line: calls, handoffs and the first reply."""


@dataclass
class Turn:
    """The events of one scored turn plus what the caller said in the whole session."""

    events: list[Event] = field(default_factory=list)
    conversation: str = ""
    """What grounds arguments: the session's user messages and tool results so far."""
    grounded: GroundedParams = field(default_factory=dict)
    """The scenario's grounded parameters per tool."""


def calls_of(events: Iterable[Event]) -> list[Call]:
    """Tool calls in order; a call is refused when an `argument_refused` event names it."""
    calls: list[Call] = []
    for e in events:
        if e.get("type") == "tool_call":
            arguments = parse_arguments(e.get("arguments", ""))
            calls.append(Call(e.get("agent") or "", e["name"], arguments))
        elif e.get("type") == "argument_refused":
            for i in range(len(calls) - 1, -1, -1):
                if calls[i].name == e.get("name") and not calls[i].refused:
                    c = calls[i]
                    calls[i] = Call(c.agent, c.name, c.arguments, refused=True)
                    break
    return calls


def parse_arguments(arguments: str) -> dict[str, Any]:
    """A call's JSON arguments as a dict; anything else as {}."""
    try:
        value = json.loads(arguments or "{}")
    except json.JSONDecodeError:
        return {}
    return value if isinstance(value, dict) else {}


def invented_arguments(
    calls: Sequence[Call], events: Iterable[Event], conversation: str, grounded: GroundedParams
) -> list[Invented]:
    """Refused arguments (caught) plus executed grounded arguments not in the conversation."""
    found = [
        Invented(e.get("name", ""), e.get("argument", ""), str(e.get("value", "")), caught=True)
        for e in events
        if e.get("type") == "argument_refused"
    ]
    for c in calls:
        if c.refused:
            continue
        for key in grounded.get(c.name, ()):
            value = c.arguments.get(key)
            if value is not None and not is_grounded(value, conversation):
                found.append(Invented(c.name, key, str(value), caught=False))
    return found


def conversation_text(events: Iterable[Event]) -> str:
    """User messages and tool results, the text grounded arguments must occur in."""
    parts = [
        str(e.get("text") if e.get("type") == "user_message" else e.get("output"))
        for e in events
        if e.get("type") in ("user_message", "tool_result")
    ]
    return "\n".join(parts)


def score(case: Case, turn: Turn) -> Verdict:
    """Check a case's expectation against the turn's events."""
    x = case.expect
    calls = calls_of(turn.events)
    changes = [e.get("to") for e in turn.events if e.get("type") == "agent_changed"]
    replies = [e.get("text", "") for e in turn.events if e.get("type") == "assistant_message"]
    errors = [e.get("text", "") for e in turn.events if e.get("type") == "error"]
    first = calls[0] if calls else None
    reasons: list[str] = []
    if x.handoff_to and (not changes or changes[0] != x.handoff_to):
        got = changes[0] if changes else "none"
        reasons.append(f"expected a handoff to {x.handoff_to}, got {got}")
    if x.tool and (first is None or first.name != x.tool):
        reasons.append(f"expected first call {x.tool}, got {first.name if first else 'no call'}")
    elif x.tool and first is not None:
        reasons.extend(_arg_mismatches(x.args, first.arguments))
    if x.no_tool and calls:
        reasons.append(f"expected no tool call, got {', '.join(c.name for c in calls)}")
    executed = sorted({c.name for c in calls if c.name in x.not_tool and not c.refused})
    if executed:
        reasons.append(f"{', '.join(executed)} executed")
    reasons.extend(_reply_problems(case, replies[0] if replies else None))
    if errors:
        reasons.append(f"error: {errors[0]}")
    return Verdict(
        passed=not reasons,
        reasons=tuple(reasons),
        invented=tuple(invented_arguments(calls, turn.events, turn.conversation, turn.grounded)),
        summary=_summary(calls, changes, replies),
    )


def _arg_mismatches(expected: dict[str, Any], got: dict[str, Any]) -> list[str]:
    out = []
    for key, want in expected.items():
        have = got.get(key)
        if isinstance(want, str) and isinstance(have, str):
            same = want.strip().casefold() == have.strip().casefold()
        else:
            same = want == have
        if not same:
            out.append(f"argument {key}: expected {want!r}, got {have!r}")
    return out


def _reply_problems(case: Case, reply: str | None) -> list[str]:
    x = case.expect
    if not (x.reply_matching or x.reply_not_matching):
        return []
    if reply is None:
        return ["expected a reply, got none"]
    out = []
    if x.reply_matching and not re.search(x.reply_matching, reply, re.IGNORECASE):
        out.append(f"reply does not match /{x.reply_matching}/: {reply[:80]!r}")
    if x.reply_not_matching and re.search(x.reply_not_matching, reply, re.IGNORECASE):
        out.append(f"reply matches /{x.reply_not_matching}/: {reply[:80]!r}")
    return out


def _summary(calls: Sequence[Call], changes: Sequence[Any], replies: Sequence[str]) -> str:
    parts = [
        f"{c.name}({json.dumps(c.arguments, ensure_ascii=False)})"
        + (" [refused]" if c.refused else "")
        for c in calls
    ]
    parts += [f"→ {to}" for to in changes]
    if replies:
        parts.append(f"says {replies[0][:100]!r}")
    return "; ".join(parts) or "nothing"
