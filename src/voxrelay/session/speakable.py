"""Whether assistant text may reach the caller: tool syntax is never spoken (I/O-free).

A small model sometimes writes, as its reply, what it should have called or only read: a JSON
list of tool names, a fenced block, `<tool_call>` markup, `name returned {…}`, a raw JSON
object, or the runtime's own notes to it ("you already made this exact call …"). `unspeakable`
names what such text is; the session holds it back and asks again in words.

The check is conservative: ordinary sentences with numbers, prices ($129.99), times, dates,
order ids (SPB-20431), colons, parentheses and e-mail addresses pass. Curly braces, code
fences, chat markup, snake_case identifiers and JSON keys do not occur in speech.
"""

from __future__ import annotations

import re
from typing import Literal

Reason = Literal["tool_syntax", "json", "code", "runtime_note", "repeat"]
"""What the text was: a tool name or call markup, JSON, code, a runtime note echoed back, or a
near copy of an earlier reply (a small model copies a read-back line with other facts)."""

DESCRIPTIONS: dict[Reason, str] = {
    "tool_syntax": "tool names or call syntax",
    "json": "JSON",
    "code": "code",
    "runtime_note": "a note that was meant for you, not for the caller",
    "repeat": "a copy of something already said; answer what the caller just asked",
}
"""Each reason in words, for the note that asks the agent to reply again."""

NOTE_MARKERS = (
    "already made this exact call",
    "do not repeat it",
    "answer the caller in words",
    "your last reply was",
    "not executed:",
    "never guess it",
    "invalid arguments for",
    "there is no tool",
    "available tools:",
    "no agent is reached by",
    "this agent can transfer to",
    "do not transfer again",
    "was just transferred to you",
    "do not transfer them back",
    "help them directly",
    "say exactly this",
    "# earlier in this conversation",
    "# tools",
    "# context",
    "to call a function, reply with",
)
"""Phrases of the runtime's notes to the model (tool refusals, retry notes, prompt headings).

Each addresses the model, not the caller, so a reply containing one is an echo.
tests/test_speakable.py checks that every note the runtime writes is caught.
"""

_FENCE = re.compile(r"```")
_MARKUP = re.compile(r"</?\|?[A-Za-z_]+\|?>")
_EMPTY_CALL = re.compile(r"\b[A-Za-z_]\w*\(\s*\)")
_BRACE = re.compile(r"[{}]")
_QUOTED_LIST = re.compile(r"\[\s*[\"']|[\"']\s*\]")
_JSON_KEY = re.compile(r"\"[^\"\n]{1,40}\"\s*:\s*(?:[\"\[{\d-]|true\b|false\b|null\b)")
_SNAKE = re.compile(r"(?<![\w-])[A-Za-z][A-Za-z0-9]*(?:_[A-Za-z0-9]+)+(?![\w-])")


def unspeakable(text: str) -> Reason | None:
    """What makes `text` unfit to say to a caller; None when it is plain speech."""
    lowered = text.lower()
    if any(marker in lowered for marker in NOTE_MARKERS):
        return "runtime_note"
    if _FENCE.search(text) or _EMPTY_CALL.search(text):
        return "code"
    if _MARKUP.search(text):
        return "tool_syntax"
    if _BRACE.search(text) or _QUOTED_LIST.search(text) or _JSON_KEY.search(text):
        return "json"
    if _has_identifier(text):
        return "tool_syntax"
    return None


def _has_identifier(text: str) -> bool:
    """A snake_case name (a tool, an argument) outside an e-mail address or a web address."""
    for match in _SNAKE.finditer(text):
        start = text.rfind(" ", 0, match.start()) + 1
        end = text.find(" ", match.end())
        word = text[start : end if end >= 0 else len(text)]
        if "@" not in word and "/" not in word:
            return True
    return False


REPEAT_MIN_WORDS = 12
"""Shorter replies ("Is there anything else I can help with?") may well recur."""
REPEAT_OVERLAP = 0.6
"""Share of the reply's word trigrams found in one earlier reply that makes it a near copy."""


def repeats(text: str, earlier: list[str]) -> bool:
    """Whether `text` is a near copy of one of the `earlier` replies (long replies only)."""
    mine = _trigrams(text)
    if len(mine) < REPEAT_MIN_WORDS - 2:
        return False
    for other in earlier:
        theirs = _trigrams(other)
        if len(mine & theirs) / len(mine) >= REPEAT_OVERLAP:
            return True
    return False


def _trigrams(text: str) -> set[tuple[str, ...]]:
    words = re.findall(r"[a-z0-9]+", text.lower())
    return {tuple(words[i : i + 3]) for i in range(len(words) - 2)}
