"""The output gate: holds back text that is not speech, then runs the agent's output guardrails.

Both kinds of block take one path: the text is held back (before TTS for voice), the agent is
asked once more, and a second block ends the turn (a guardrail) or gives way to the fallback
line (text that is not speech).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from voxrelay.agents import Agent, RunContext
from voxrelay.session import events as app
from voxrelay.session.speakable import DESCRIPTIONS, repeats, unspeakable

log = logging.getLogger(__name__)

GUARDRAIL_FAILED = "the guardrail failed to give a verdict, so the text was held back"
"""The rationale of a block caused by a guardrail that raised (the gate fails closed)."""


@dataclass(frozen=True)
class Block:
    """Why a text was held back, and the app events that say so."""

    rationale: str
    events: tuple[app.AppEventBase, ...]
    unspeakable: bool = False
    """The text was not speech (tool syntax, JSON, code, a runtime note), not a policy breach."""


async def check_output(agent: Agent, text: str, ctx: RunContext) -> Block | None:
    """None when `text` is speech and every output guardrail passes it; else the first block.

    A guardrail that raises blocks the text (spoken words cannot be taken back) and adds an
    `error` event; the session goes on.
    """
    reason = unspeakable(text)
    if reason is None:
        said = [e.text for e in ctx.history if e.role == "assistant"]
        reason = "repeat" if repeats(text, said) else None
    if reason is not None:
        suppressed = app.OutputSuppressed(agent=agent.name, reason=reason)
        return Block(f"it contained {DESCRIPTIONS[reason]}", (suppressed,), unspeakable=True)
    for guardrail in agent.output_guardrails:
        try:
            verdict = await guardrail.check(text, ctx)
        except Exception:
            log.exception("output guardrail %s raised; the text is held back", guardrail.name)
            error = app.ErrorOccurred(
                agent=agent.name,
                code="guardrail_failed",
                text=f"output guardrail {guardrail.name!r} failed; the reply was held back",
            )
            return Block(GUARDRAIL_FAILED, (error,))
        if verdict.tripped:
            tripped = app.GuardrailTripped(
                agent=agent.name,
                name=guardrail.name,
                category=str(verdict.category),
                rationale=verdict.rationale,
                text=text,
            )
            return Block(verdict.rationale, (tripped,))
    return None


class SentenceVerdicts:
    """The in-process engine's sentence gate: the last block, taken when its response ends."""

    def __init__(self) -> None:
        self._block: Block | None = None

    def blocked(self, block: Block | None) -> bool:
        """Remember `block` (the first of a response); True when the sentence may be spoken."""
        if block is not None and self._block is None:
            self._block = block
        return block is None

    def take(self) -> Block | None:
        """The block of the response that just ended, if any (cleared)."""
        block, self._block = self._block, None
        return block
