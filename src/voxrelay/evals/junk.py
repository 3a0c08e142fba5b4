"""Spot machine talk in a reply meant for the caller: tool syntax, JSON, code, runtime notes.

An eval's own detector, kept apart from the runtime's guardrails so that it can judge them.
Each pattern names one way a small model leaks its plumbing into speech; prices, times,
dates, phone numbers and order ids in plain sentences are not junk.
"""

from __future__ import annotations

import re
from dataclasses import dataclass


@dataclass(frozen=True)
class Junk:
    """One piece of machine talk found in a reply."""

    kind: str
    """Which pattern matched, e.g. `tool_tag` or `json_object`."""
    excerpt: str
    """The matched text, cut to 60 characters."""


PATTERNS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("tool_tag", re.compile(r"</?\s*(tool_call|tool_response|tools|function|functions)\b[^>]*>")),
    ("chat_token", re.compile(r"<\|[a-z_]+\|>|\b(im_start|im_end)\b")),
    ("code_fence", re.compile(r"```")),
    ("runtime_note", re.compile(r"\b[A-Za-z_]\w*\s+returned\s*[{\[]")),
    (
        "runtime_note",
        re.compile(
            r"you already made this exact call|not executed: the caller never said"
            r"|invalid arguments for \w+|answer the caller in words|tool_choice|call_id",
            re.IGNORECASE,
        ),
    ),
    ("json_object", re.compile(r"\{\s*\"[^\"\n]{1,60}\"\s*:")),
    ("json_object", re.compile(r"\{\s*'[^'\n]{1,60}'\s*:")),
    ("tool_list", re.compile(r"\[\s*[\"'][A-Za-z]\w*[\"'](\s*,\s*[\"'][A-Za-z]\w*[\"'])*\s*\]")),
    ("function_call", re.compile(r"\b[A-Za-z_]\w*_\w*\s*\(|\b[a-z]+[A-Z]\w*\s*\(")),
    ("identifier", re.compile(r"\b[a-z][a-z0-9]*(_[a-z0-9]+)+\b")),
    ("identifier", re.compile(r"\b[a-z]{2,}[A-Z][a-z]+[A-Za-z]*\b")),
)
"""(kind, pattern) pairs; a reply is junk when any pattern occurs in it."""


def find_junk(text: str) -> list[Junk]:
    """Every pattern's first match in `text` (at most one per kind)."""
    found: dict[str, Junk] = {}
    for kind, pattern in PATTERNS:
        match = pattern.search(text)
        if match and kind not in found:
            found[kind] = Junk(kind, match[0][:60])
    return list(found.values())


def is_junk(text: str) -> bool:
    """Whether the reply would read tool syntax, JSON, code or a runtime note to the caller."""
    return any(pattern.search(text) for _, pattern in PATTERNS)
