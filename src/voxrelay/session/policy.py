"""The turn policy: what the next response may do, from the turn's tool outcomes (I/O-free)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field

from voxrelay.realtime.types import ResponseParams
from voxrelay.session.tools import ToolOutcome, error_output


@dataclass
class TurnPolicy:
    """Per-turn limits and decisions; `new_turn()` starts each user turn afresh."""

    max_tool_steps: int
    """Tool calls per user turn before the agent must answer in words."""
    speak_after_handoff: bool = False
    """The new agent's first response after a handoff is words (a model habit)."""
    steps: int = 0
    """Tool calls so far this turn."""
    handed_off: bool = False
    """A handoff succeeded this turn (a second one is refused)."""
    retried_block: bool = False
    """A reply blocked by a guardrail (or not speech) was already retried this turn."""
    fell_back: bool = False
    """The fallback line was used this turn (it is not used twice)."""
    words_next: bool = False
    """The next response must be words."""
    calls: dict[tuple[str, str], ToolOutcome] = field(default_factory=dict)
    """Every call made this turn and its outcome, by (name, canonical arguments)."""

    def new_turn(self) -> None:
        """Reset the per-turn limits at the start of a user turn."""
        self.steps = 0
        self.handed_off = False
        self.retried_block = False
        self.fell_back = False
        self.words_next = False
        self.calls.clear()

    def repeat_of(self, name: str, arguments: str) -> ToolOutcome | None:
        """What an exact repeat of a call made this turn gets instead of running; None if new.

        A repeat of a call that succeeded gets the earlier result; one of a call that failed
        gets a refusal. Either way the next response must be words: a small model that
        repeats a call would otherwise repeat it until the step limit.
        """
        earlier = self.calls.get((name, canonical(arguments)))
        if earlier is None:
            return None
        self.words_next = True
        if earlier.ok:
            return earlier
        return error_output(
            f"you already made this exact call and it failed ({error_text(earlier.output)}). "
            "Do not repeat it: answer the caller in words.",
            earlier.ungrounded,  # refused again for the same invented values
        )

    def record(self, name: str, arguments: str, outcome: ToolOutcome) -> None:
        """Count one call and remember its outcome for the rest of the turn."""
        self.steps += 1
        self.calls.setdefault((name, canonical(arguments)), outcome)

    def record_handoff(self) -> None:
        """A handoff succeeded; the new agent may be made to speak first."""
        self.handed_off = True
        if self.speak_after_handoff:
            self.words_next = True

    def next_response(self) -> ResponseParams | None:
        """Parameters of the response after tool outputs; None means the session defaults."""
        words, self.words_next = self.words_next, False
        if words or self.steps >= self.max_tool_steps:
            return ResponseParams(tool_choice="none")
        return None

    def retry_note(self, rationale: str, *, unspeakable: bool = False) -> str | None:
        """The note that asks once per turn for another reply; None when that was done."""
        if self.retried_block:
            return None
        self.retried_block = True
        if unspeakable:
            return (
                f"\n\nYour last reply was not spoken: {rationale}. Reply again to the caller "
                "in one or two plain spoken sentences."
            )
        return f"\n\nYour last reply was blocked ({rationale}). Reply again, staying within policy."

    def take_fallback(self) -> bool:
        """True the first time this turn: the fallback line may be said (once per turn)."""
        if self.fell_back:
            return False
        self.fell_back = True
        return True


def canonical(arguments: str) -> str:
    """Arguments in a stable form, so the same call with other spacing compares equal."""
    try:
        return json.dumps(json.loads(arguments or "{}"), sort_keys=True)
    except json.JSONDecodeError:
        return arguments


def error_text(output: str) -> str:
    """The `error` of a failed call's JSON output, at most 200 characters."""
    try:
        value = json.loads(output)
    except json.JSONDecodeError:
        return output[:200]
    return str(value.get("error", output))[:200] if isinstance(value, dict) else output[:200]
