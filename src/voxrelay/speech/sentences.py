"""Split text into sentences for TTS, all at once or incrementally from streamed LLM deltas."""

from __future__ import annotations

import re

_ABBREVIATIONS = frozenset(
    "mr mrs ms dr prof sr jr st vs etc e.g i.e a.m p.m approx inc ltd co dept".split()
)
_BOUNDARY = re.compile(r"[.!?…]+[\"'”’)\]]*(?=\s)|\n+")


def _is_abbreviation(text: str, end: int) -> bool:
    """True when the period ending at `end` closes an abbreviation or an initial."""
    if text[end - 1] != ".":
        return False
    word = text[:end].rsplit(None, 1)[-1].rstrip(".").lower()
    return word in _ABBREVIATIONS or (len(word) == 1 and word.isalpha())


class SentenceChunker:
    """Collects text deltas and releases each sentence as soon as it is certainly complete."""

    def __init__(self, max_chars: int = 300) -> None:
        self.max_chars = max_chars
        """A run-on longer than this is cut at its last comma or space."""
        self._buf = ""

    def push(self, delta: str) -> list[str]:
        """Add a delta; return the sentences it completed."""
        self._buf += delta
        out: list[str] = []
        while (cut := self._next_cut()) is not None:
            sentence, self._buf = self._buf[:cut].strip(), self._buf[cut:]
            if sentence:
                out.append(sentence)
        return out

    def flush(self) -> list[str]:
        """End of text: return whatever is left as the last sentence."""
        rest, self._buf = self._buf.strip(), ""
        return [rest] if rest else []

    def _next_cut(self) -> int | None:
        for m in _BOUNDARY.finditer(self._buf):
            if m.group().startswith("\n") or not _is_abbreviation(self._buf, m.start() + 1):
                return m.end()
        if len(self._buf) > self.max_chars:
            head = self._buf[: self.max_chars]
            at = max(head.rfind(", "), head.rfind("; "))
            return at + 1 if at > 0 else max(head.rfind(" "), 0) or self.max_chars
        return None


def split_sentences(text: str, max_chars: int = 300) -> list[str]:
    """The sentences of a complete text, stripped, in order."""
    chunker = SentenceChunker(max_chars)
    return chunker.push(text) + chunker.flush()
