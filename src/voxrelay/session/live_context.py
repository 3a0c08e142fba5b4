"""Live context: an agent's instructions with facts from session state (I/O-free)."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from voxrelay.agents import Agent, RunContext, Step
from voxrelay.models.base import CONTEXT_HEADING
from voxrelay.session import events as app

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Instructions:
    """An agent's instructions as sent, and an error event if its context function failed."""

    text: str
    error: app.ErrorOccurred | None = None


def instructions_for(agent: Agent, ctx: RunContext, step: Step | None = None) -> Instructions:
    """The agent's instructions with its live context under CONTEXT_HEADING.

    The live context is the current step's instructions (last, where a small model attends)
    and the agent's context function's facts. One that raises is logged and left out, with
    an `error` event.
    """
    facts: list[str] = []
    error = None
    if agent.context is not None:
        try:
            facts.extend(filter(None, [agent.context(ctx)]))
        except Exception:
            log.exception(
                "%s's context function failed; its instructions go without it", agent.name
            )
            text = f"{agent.name}'s context function failed; it answers without that context"
            error = app.ErrorOccurred(agent=agent.name, code="context_failed", text=text)
    if step is not None:
        facts.append(f"Now: {step.instructions}")
    context = "\n".join(facts)
    return Instructions(agent.instructions + (CONTEXT_HEADING + context if context else ""), error)
