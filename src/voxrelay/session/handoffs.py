"""Handoffs: which transfers are allowed, their records, and what a transfer adds (I/O-free)."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

from voxrelay.agents import Agent, Scenario
from voxrelay.agents.agent import HANDOFF_PREFIX, handoff_output, handoff_tool_name
from voxrelay.realtime.types import FunctionCallItem, FunctionCallOutputItem, Item
from voxrelay.session.tools import ToolOutcome, error_output


@dataclass(frozen=True)
class HandoffRecord:
    """One attempted handoff."""

    from_agent: str
    to_agent: str
    reason: str
    at: float
    success: bool
    error: str | None = None
    turn: int = 0
    """The user turn it happened in."""


@dataclass(frozen=True)
class HandoffDecision:
    """The verdict on a transfer call: its tool outcome, the target if allowed, the record."""

    outcome: ToolOutcome
    target: Agent | None
    record: HandoffRecord


def is_handoff(tool_name: str) -> bool:
    """Whether a call is a transfer (`transfer_to_<agent>`)."""
    return tool_name.startswith(HANDOFF_PREFIX)


def decide_handoff(
    scenario: Scenario,
    agent: Agent,
    call: FunctionCallItem,
    *,
    again: bool,
    at: float,
    turn: int = 0,
    last: HandoffRecord | None = None,
    caller_words: str = "",
) -> HandoffDecision:
    """Check a transfer call from `agent`.

    `again` is true after a handoff this turn; `last` is the latest successful handoff and
    `caller_words` what the caller said this turn (user turn `turn`).
    """
    target = scenario.handoff_target(call.name)
    problem = _problem(agent, target, call.name, again)
    if problem is None and target is not None:
        problem = bounce_back(agent, target, last, turn, caller_words)
    to_name = target.name if target else call.name.removeprefix(HANDOFF_PREFIX)
    reason = handoff_reason(call.arguments)
    record = HandoffRecord(agent.name, to_name, reason, at, problem is None, problem, turn)
    if problem is not None or target is None:
        return HandoffDecision(error_output(problem or "unknown agent"), None, record)
    # Kept minimal: the new agent reads every token of it before its first word (~8 ms
    # per token on 2 cores), and a 0.5B model echoes longer notes back to the caller.
    return HandoffDecision(ToolOutcome(handoff_output(target.name), ok=True), target, record)


def _problem(agent: Agent, target: Agent | None, tool_name: str, again: bool) -> str | None:
    allowed = ", ".join(agent.handoff_names()) or "nobody"
    if target is None:
        return f"no agent is reached by {tool_name}; this agent can transfer to: {allowed}"
    if target.name == agent.name:
        return f"the caller is already talking to {target.name}; help them directly"
    if target.name not in agent.handoff_names():
        return f"{agent.name} cannot transfer to {target.name}; allowed: {allowed}"
    if again:
        return (
            f"the caller was just transferred to you ({agent.name}); do not transfer "
            "again now. Answer the caller's request yourself."
        )
    return None


def bounce_back(
    agent: Agent, target: Agent, last: HandoffRecord | None, turn: int, caller_words: str
) -> str | None:
    """The refusal of a transfer straight back to the agent that just handed over; else None.

    "Straight back" is within the user turn of that handoff or the next one; it is allowed
    when the caller's words since give a reason, i.e. name what `target` handles.
    """
    if last is None or not last.success or turn - last.turn > 1:
        return None
    if (last.from_agent, last.to_agent) != (target.name, agent.name):
        return None
    if turn > last.turn and gives_reason(caller_words, target):
        return None
    return (
        f"the caller was just transferred to you from {target.name} and gave no reason to "
        "go back: do not transfer them back. Answer the caller in words, or use your own tools."
    )


_WORD = re.compile(r"[a-z]+")
_CAMEL = re.compile(r"(?<=[a-z])(?=[A-Z])")
_FILLER = frozenset(
    "about agent agents anyone asking callers caller from handles helps into looks "
    "that their them there they this with your".split()
)


def reason_words(agent: Agent) -> set[str]:
    """What an agent handles, as words: from its handoff description and its name."""
    text = f"{_CAMEL.sub(' ', agent.name)} {agent.handoff_description or ''}".replace("_", " ")
    return {w for w in _WORD.findall(text.lower()) if len(w) >= 4 and w not in _FILLER}


def gives_reason(words: str, target: Agent) -> bool:
    """True when the caller's `words` name something `target` handles (word stems compared)."""
    said = [w for w in _WORD.findall(words.lower()) if len(w) >= 4]
    return any(_same_stem(a, b) for a in said for b in reason_words(target))


def _same_stem(a: str, b: str) -> bool:
    """Words that differ only in their ending (return/returns, deal/deals, verify/verifies)."""
    shared = 0
    for x, y in zip(a, b, strict=False):
        if x != y:
            break
        shared += 1
    return shared >= max(4, min(len(a), len(b)) - 2)


def handoff_reason(arguments: str) -> str:
    """The `reason` argument of a transfer call, or ''."""
    try:
        value = json.loads(arguments or "{}")
    except json.JSONDecodeError:
        return ""
    return str(value.get("reason", "")) if isinstance(value, dict) else ""


def arrival(agent_name: str) -> list[Item]:
    """The conversation items a transfer to `agent_name` adds: its call and its result."""
    call = FunctionCallItem(call_id="handoff", name=handoff_tool_name(agent_name), arguments="{}")
    return [call, FunctionCallOutputItem(call_id="handoff", output=handoff_output(agent_name))]


def reachable(graph: dict[str, list[str]], start: str) -> list[str]:
    """Agents reachable from `start` by handoffs, breadth first, `start` excluded."""
    seen, queue, order = {start}, [start], []
    while queue:
        for name in graph.get(queue.pop(0), []):
            if name not in seen:
                seen.add(name)
                queue.append(name)
                order.append(name)
    return order
