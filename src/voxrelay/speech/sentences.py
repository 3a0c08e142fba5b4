"""Split text into sentences for TTS, all at once or incrementally from streamed LLM deltas."""

from __future__ import annotations

import re

_ABBREVIATIONS = frozenset(
    "mr mrs ms dr prof sr jr st vs etc e.g i.e a.m p.m approx inc ltd co dept".split()
)
_BOUNDARY = re.compile(r"[.!?…]+[\"'”’)\]]*(?=\s)|\n+")
_CLAUSE = re.compile(r"[,;:—–](?=\s)")


def _is_abbreviation(text: str, end: int) -> bool:
    """True when the period ending at `end` closes an abbreviation or an initial."""
    if text[end - 1] != ".":
        return False
    word = text[:end].rsplit(None, 1)[-1].rstrip(".").lower()
    return word in _ABBREVIATIONS or (len(word) == 1 and word.isalpha())


class SentenceChunker:
    """Collects text deltas and releases each sentence as soon as it is certainly complete."""

    def __init__(self, max_chars: int = 300, first_clause_chars: int | None = None) -> None:
        self.max_chars = max_chars
        """A run-on longer than this is cut at its last comma or space."""
        self.first_clause_chars = first_clause_chars
        """If set, the first piece may end at a comma once it has this many characters."""
        self._buf = ""
        self._first = True

    def push(self, delta: str) -> list[str]:
        """Add a delta; return the sentences it completed."""
        self._buf += delta
        out: list[str] = []
        while (cut := self._next_cut()) is not None:
            sentence, self._buf = self._buf[:cut].strip(), self._buf[cut:]
            if sentence:
                out.append(sentence)
                self._first = False
        return out

    def flush(self) -> list[str]:
        """End of text: return whatever is left as the last sentence."""
        rest, self._buf, self._first = self._buf.strip(), "", True
        return [rest] if rest else []

    def _next_cut(self) -> int | None:
        if self._first and self.first_clause_chars:
            clause = first_clause_end(self._buf, self.first_clause_chars)
            sentence = _BOUNDARY.search(self._buf)
            if clause is not None and (sentence is None or clause < sentence.start()):
                return clause
        for m in _BOUNDARY.finditer(self._buf):
            if m.group().startswith("\n") or not _is_abbreviation(self._buf, m.start() + 1):
                return m.end()
        if len(self._buf) > self.max_chars:
            head = self._buf[: self.max_chars]
            at = max(head.rfind(", "), head.rfind("; "))
            return at + 1 if at > 0 else max(head.rfind(" "), 0) or self.max_chars
        return None


def first_clause_end(text: str, min_chars: int) -> int | None:
    """End of the first clause (at a comma, semicolon, colon or dash) of at least `min_chars`."""
    for m in _CLAUSE.finditer(text):
        if m.end() >= min_chars:
            return m.end()
    return None


def split_sentences(
    text: str, max_chars: int = 300, first_clause_chars: int | None = None
) -> list[str]:
    """The sentences of a complete text, stripped, in order (the first maybe cut at a comma)."""
    chunker = SentenceChunker(max_chars, first_clause_chars)
    return chunker.push(text) + chunker.flush()
