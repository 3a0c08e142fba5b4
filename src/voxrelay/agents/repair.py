"""Repairing a grounded argument from the caller's own words (I/O-free).

A small model must turn "twelve April 1990" or "four one five, five five five, zero one nine
nine" into `1990-04-12` or `(415) 555-0199` to fit a parameter's pattern, and often gets the
digits wrong. When a grounded value does not occur in what the caller just said but those
words hold exactly one value of the parameter's shape, that value is used instead: still never
an invented one.
"""

from __future__ import annotations

import re
from typing import Any

from voxrelay.agents.grounding import dates_in, digit_spans, is_grounded

ISO_DATE = r"^\d{4}-\d{2}-\d{2}$"
_DIGIT_SLOT = re.compile(r"\\d(?:\{(\d+)\})?")
_LITERAL = re.compile(r"\\?[^\\^$\[\]{}()*+?.|]|\\[().\-\s]")


def repair_arguments(
    arguments: dict[str, Any],
    grounded: tuple[str, ...],
    schema: dict[str, Any],
    conversation: str,
    latest: str,
) -> dict[str, Any]:
    """`arguments` with each grounded value that is not in the `conversation` replaced, where
    the caller's `latest` words hold exactly one value of that parameter's shape."""
    properties = schema.get("properties", {})
    fixed = dict(arguments)
    for name in grounded:
        value = arguments.get(name)
        if not isinstance(value, str) or is_grounded(value, conversation):
            continue
        pattern = properties.get(name, {}).get("pattern")
        better = repair_value(pattern, latest) if isinstance(pattern, str) else None
        if better is not None:
            fixed[name] = better
    return fixed


def repair_value(pattern: str, conversation: str) -> str | None:
    """The one value of `pattern`'s shape the conversation holds (an ISO date, or digits in a
    fixed template such as `(ddd) ddd-dddd`); None when there are none or several."""
    if pattern == ISO_DATE:
        dates = dates_in(conversation)
        return next(iter(dates)).isoformat() if len(dates) == 1 else None
    template = digit_template(pattern)
    if template is None:
        return None
    needed = template.count("#")
    spans = {s for s in digit_spans(conversation) if len(s) == needed}
    if len(spans) != 1:
        return None
    digits = iter(spans.pop())
    return "".join(next(digits) if c == "#" else c for c in template)


def digit_template(pattern: str) -> str | None:
    """`^\\(\\d{3}\\) \\d{3}-\\d{4}$` → `(###) ###-####`; None for any other kind of pattern."""
    body = pattern.removeprefix("^").removesuffix("$")
    out: list[str] = []
    i = 0
    while i < len(body):
        if slot := _DIGIT_SLOT.match(body, i):
            out.append("#" * int(slot.group(1) or 1))
            i = slot.end()
        elif literal := _LITERAL.match(body, i):
            out.append(literal.group(0).removeprefix("\\"))
            i = literal.end()
        else:
            return None
    template = "".join(out)
    return template if "#" in template else None
