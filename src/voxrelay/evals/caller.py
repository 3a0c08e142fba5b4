"""A scripted caller for multi-turn tasks: answers what the agent asks from a profile (I/O-free).

The caller reads the agent's last message. Each profile fact whose trigger (a regex) occurs
in it is said, in the order of FACTS, after the lines of any task rule that matches; when
nothing matches, the caller says its next fallback line (the last one repeats).
"""

from __future__ import annotations

import re
import string
from collections.abc import Mapping, Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class FactPrompt:
    """When the caller gives one fact, and how it says it."""

    trigger: str
    """A regex searched (case-insensitively) in the agent's last message."""
    line: str
    """What the caller says; `{value}` is the fact from the profile."""


FACTS: dict[str, FactPrompt] = {
    "name": FactPrompt(
        r"your (full )?name|who am i (speaking|talking) (to|with)|who('s| is) calling",
        "My name is {value}.",
    ),
    "phone": FactPrompt(
        r"phone|mobile|cell|(?<!order )(?<!item )(?<!card )(?<!tracking )\bnumber\b",
        "My phone number is {value}.",
    ),
    "dob": FactPrompt(r"birth|\bborn\b|\bdob\b|birthday", "My date of birth is {value}."),
    "last4": FactPrompt(
        r"last (4|four)|\bcard\b|digits", "The last four digits of my card are {value}."
    ),
    "order": FactPrompt(
        r"order (number|id|#|no\b)|which order|what order", "The order number is {value}."
    ),
    "item": FactPrompt(
        r"which (item|one|product|board|of (these|those|them))|what (item|product)"
        r"|item (id|number)|what did you (buy|order|purchase)|which [^.?!]* return",
        "It's {value}.",
    ),
    "reason": FactPrompt(
        r"\bwhy\b|reason|what'?s wrong|what happened|what('s| is| was) the (problem|issue)"
        r"|describe",
        "{value}",
    ),
    "zip": FactPrompt(
        r"\bzip\b|postal|where are you|your (location|area|city|address)",
        "My zip code is {value}.",
    ),
    "topic": FactPrompt(
        r"topic|subject|theme|about what|what (should|would you like) (it|the haiku|a haiku)"
        r"|what .* (haiku|poem) (to be )?about",
        "{value}",
    ),
    "confirm": FactPrompt(
        r"(?<!why )(?<!what )(?<!how )would you like|do you want|shall i|should i|can i go ahead"
        r"|go ahead\?|proceed"
        r"|is that (right|correct|ok|okay)|confirm|ready to",
        "{value}",
    ),
}
"""The facts a caller profile may hold, in the order the caller says them."""

DEFAULT_FALLBACK = ("Okay. Can you go ahead with that, please?",)


@dataclass(frozen=True)
class Rule:
    """A task's own trigger: when the agent's last message matches `when`, say `say`."""

    when: str
    """A regex searched case-insensitively in the agent's last message."""
    say: str
    """What to say; `{phone}`, `{item}` and the other profile facts are filled in."""


def template_fields(text: str) -> set[str]:
    """The `{name}` fields a template uses."""
    return {name for _, name, _, _ in string.Formatter().parse(text) if name is not None}


class Caller:
    """Answers each agent message from the profile; deterministic, no model."""

    def __init__(
        self,
        facts: Mapping[str, str],
        rules: Sequence[Rule] = (),
        fallback: Sequence[str] = DEFAULT_FALLBACK,
    ) -> None:
        self.facts = dict(facts)
        self.rules = tuple(rules)
        self.fallback = tuple(fallback) or DEFAULT_FALLBACK
        self.fallbacks_used = 0

    def reply(self, agent_text: str) -> str:
        """What the caller says after the agent said `agent_text`."""
        lines = [r.say.format(**self.facts) for r in self.rules if _found(r.when, agent_text)]
        lines += [
            prompt.line.format(value=self.facts[key])
            for key, prompt in FACTS.items()
            if key in self.facts and _found(prompt.trigger, agent_text)
        ]
        if lines:
            return " ".join(dict.fromkeys(lines))
        return self._next_fallback()

    def _next_fallback(self) -> str:
        line = self.fallback[min(self.fallbacks_used, len(self.fallback) - 1)]
        self.fallbacks_used += 1
        return line


def _found(pattern: str, text: str) -> bool:
    return re.search(pattern, text, re.IGNORECASE) is not None
