"""Grounded arguments: values a tool may only use if they occur in the conversation (I/O-free).

Small models invent phone numbers, dates of birth and order ids when none was said. A tool
parameter annotated with `Grounded` is checked before the call: digit strings by their
digits (so "(206) 555-0142" matches "two oh six, 555 0142"), ISO dates against dates written
in common forms, and anything else as a case-insensitive phrase.
"""

from __future__ import annotations

import re
from datetime import date
from typing import Any


class Grounded:
    """Marks a tool parameter whose value the caller must have said: `Annotated[str, Grounded]`."""


_DIGIT_WORDS = {
    "zero": "0", "oh": "0", "o": "0", "one": "1", "two": "2", "three": "3", "four": "4",
    "five": "5", "six": "6", "seven": "7", "eight": "8", "nine": "9",
}  # fmt: skip
_MONTHS = {
    name: n
    for n, names in enumerate(
        [
            ("january", "jan"), ("february", "feb"), ("march", "mar"), ("april", "apr"),
            ("may",), ("june", "jun"), ("july", "jul"), ("august", "aug"),
            ("september", "sep", "sept"), ("october", "oct"), ("november", "nov"),
            ("december", "dec"),
        ],
        start=1,
    )
    for name in names
}  # fmt: skip
_ISO = re.compile(r"^(\d{4})-(\d{2})-(\d{2})$")
_NUMBER_SPAN = re.compile(r"\d[\d\s\-().,/]*\d|\d")
_MONTH_NAMES = "|".join(sorted(_MONTHS, key=len, reverse=True))
_MONTH_FIRST = re.compile(rf"\b({_MONTH_NAMES})\.?\s+(\d{{1,2}})(?:st|nd|rd|th)?,?\s+(\d{{4}})\b")
_DAY_FIRST = re.compile(
    rf"\b(\d{{1,2}})(?:st|nd|rd|th)?\s+(?:of\s+)?({_MONTH_NAMES})\.?,?\s+(\d{{4}})\b"
)
_NUMERIC = re.compile(r"\b(\d{1,4})[/.\-](\d{1,2})[/.\-](\d{1,4})\b")


def is_grounded(value: Any, conversation: str) -> bool:
    """True when `value` occurs in `conversation` (digits, dates or words, normalized)."""
    if value is None or value == "":
        return True
    text = str(value)
    match = _ISO.match(text)
    if match:
        wanted = _date(*match.groups())
        if wanted is not None and wanted in dates_in(conversation):
            return True
    digits = re.sub(r"\D", "", text)
    if len(digits) >= 3 and len(digits) * 2 >= len(re.sub(r"\W", "", text)):
        return any(digits in span for span in digit_spans(conversation))
    return _words(text) in _words(conversation)


def digit_spans(text: str) -> list[str]:
    """Each number-like stretch of the text as bare digits; spoken digits count too."""
    spoken = re.sub(
        r"\b(" + "|".join(_DIGIT_WORDS) + r")\b",
        lambda m: _DIGIT_WORDS[m[1].lower()],
        text,
        flags=re.IGNORECASE,
    )
    return [re.sub(r"\D", "", m[0]) for m in _NUMBER_SPAN.finditer(spoken)]


def dates_in(text: str) -> set[date]:
    """Dates written as 1990-04-12, 04/12/1990, 12.04.1990, April 12th 1990 or 12 April 1990."""
    found: set[date] = set()
    lowered = text.lower()
    for month, day, year in _MONTH_FIRST.findall(lowered):
        found.add(_date(year, _MONTHS[month], day) or date.min)
    for day, month, year in _DAY_FIRST.findall(lowered):
        found.add(_date(year, _MONTHS[month], day) or date.min)
    for a, b, c in _NUMERIC.findall(lowered):
        if len(a) == 4:
            found.add(_date(a, b, c) or date.min)
        else:  # both month-first and day-first readings
            found.add(_date(c, a, b) or date.min)
            found.add(_date(c, b, a) or date.min)
    found.discard(date.min)
    return found


def _date(year: str | int, month: str | int, day: str | int) -> date | None:
    try:
        return date(int(year), int(month), int(day))
    except ValueError:
        return None


def _words(text: str) -> str:
    return " " + " ".join(re.findall(r"[a-z0-9]+", text.lower())) + " "
