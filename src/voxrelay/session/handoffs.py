"""Handoffs: which transfers are allowed, their records, and what a transfer adds (I/O-free)."""

from __future__ import annotations

import json
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
    scenario: Scenario, agent: Agent, call: FunctionCallItem, *, again: bool, at: float
) -> HandoffDecision:
    """Check a transfer call from `agent`; `again` is true after a handoff this turn."""
    target = scenario.handoff_target(call.name)
    problem = _problem(agent, target, call.name, again)
    to_name = target.name if target else call.name.removeprefix(HANDOFF_PREFIX)
    reason = handoff_reason(call.arguments)
    record = HandoffRecord(agent.name, to_name, reason, at, problem is None, problem)
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
