"""Word error rate with a normalizer that makes spoken and written numbers compare equal."""

from __future__ import annotations

import re
from collections.abc import Sequence

_UNITS = (
    "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen "
    "fifteen sixteen seventeen eighteen nineteen"
).split()
_TENS = "twenty thirty forty fifty sixty seventy eighty ninety".split()
_ORDINALS = {
    "first": "one", "second": "two", "third": "three", "fifth": "five", "eighth": "eight",
    "ninth": "nine", "twelfth": "twelve",
}  # fmt: skip
_WORD_VALUES = {w: i for i, w in enumerate(_UNITS)} | {w: 20 + 10 * i for i, w in enumerate(_TENS)}
_SCALES = {"hundred": 100, "thousand": 1000, "million": 1_000_000}


def _ordinal_to_cardinal(word: str) -> str:
    """'third' -> 'three', 'fourteenth' -> 'fourteen', 'twentieth' -> 'twenty'."""
    if word in _ORDINALS:
        return _ORDINALS[word]
    if word.endswith("ieth") and word[:-4] + "y" in _WORD_VALUES:
        return word[:-4] + "y"
    if word.endswith("th") and word[:-2] in _WORD_VALUES:
        return word[:-2]
    return word


def _continues(current: int, value: int) -> bool:
    """Whether `value` extends the number so far ('twenty' + 'one') or starts a new one."""
    tens_open = current % 10 == 0 and current % 100 >= 20 and value < 10
    return current % 100 == 0 or tens_open


def _words_to_digits(tokens: list[str]) -> list[str]:
    """Replace runs of number words with their value in digits."""
    out: list[str] = []
    total, current, in_number = 0, 0, False
    for tok in [*tokens, ""]:
        if tok in _WORD_VALUES and (not in_number or _continues(current, _WORD_VALUES[tok])):
            current += _WORD_VALUES[tok]
            in_number = True
            continue
        if tok in _SCALES and in_number:
            current = max(current, 1) * _SCALES[tok]
            if _SCALES[tok] >= 1000:
                total, current = total + current, 0
            continue
        if in_number:
            out.append(str(total + current))
            total, current, in_number = 0, 0, False
        if tok in _WORD_VALUES:  # e.g. "twenty twenty": a new number starts
            current, in_number = _WORD_VALUES[tok], True
        elif tok:
            out.append(tok)
    return out


def _drop_number_and(words: list[str]) -> list[str]:
    """Drop the 'and' of 'one hundred and five'."""
    return [
        w
        for i, w in enumerate(words)
        if not (
            w == "and"
            and 0 < i < len(words) - 1
            and words[i - 1] in _SCALES
            and words[i + 1] in _WORD_VALUES
        )
    ]


def normalize(text: str) -> list[str]:
    """Lowercase words without punctuation; numbers as single digits ('4,567' -> 4 5 6 7)."""
    t = text.lower().replace("%", " percent").replace("&", " and ")
    t = re.sub(r"\$(\d+)\.(\d\d)\b", r"\1 dollars and \2 cents", t)
    t = re.sub(r"\$(\d+)", r"\1 dollars", t)
    t = re.sub(r"(?<=\d)[,](?=\d{3})", "", t)
    t = re.sub(r"(\d+)(st|nd|rd|th)\b", r"\1", t)
    t = re.sub(r"[^a-z0-9' ]+", " ", t).replace("'", "")
    words = ["0" if w == "zero" else _ordinal_to_cardinal(w) for w in t.split()]
    tokens = _words_to_digits(_drop_number_and(words))
    return [d for tok in tokens for d in (list(tok) if tok.isdigit() else [tok])]


def edit_distance(ref: Sequence[str], hyp: Sequence[str]) -> int:
    """Word-level Levenshtein distance (substitutions, insertions, deletions)."""
    prev = list(range(len(hyp) + 1))
    for i, r in enumerate(ref, 1):
        cur = [i]
        for j, h in enumerate(hyp, 1):
            cur.append(min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (r != h)))
        prev = cur
    return prev[-1]


def word_error_rate(refs: Sequence[str], hyps: Sequence[str]) -> float:
    """Total word errors over total reference words, after `normalize`."""
    errors = words = 0
    for ref, hyp in zip(refs, hyps, strict=True):
        r, h = normalize(ref), normalize(hyp)
        errors += edit_distance(r, h)
        words += len(r)
    return errors / max(words, 1)
