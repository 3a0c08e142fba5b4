"""What the model is shown of a tool result: at most a few hundred characters (I/O-free).

A small model's context is a few thousand tokens, and every result stays in it for the rest of
the call. JSON results are trimmed by structure: long lists keep their first items and say how
many were left out, long strings are cut. The full result stays in the session's history and
its `tool_result` app event.
"""

from __future__ import annotations

import json
from typing import Any

LEVELS = ((8, 160), (5, 100), (3, 60), (2, 40), (1, 24))
"""(items kept per list, characters kept per string), tried in turn until the result fits."""


def for_model(output: str, limit: int) -> str:
    """`output` as the model sees it: unchanged when it fits in `limit` characters."""
    if len(output) <= limit:
        return output
    try:
        value = json.loads(output)
    except json.JSONDecodeError:
        return _cut(output, limit)
    text = output
    for items, chars in LEVELS:
        text = json.dumps(trim(value, items, chars), ensure_ascii=False)
        if len(text) <= limit:
            return text
    return _cut(text, limit)


def trim(value: Any, items: int, chars: int) -> Any:
    """`value` with lists cut to `items` (plus a count of the rest) and strings to `chars`."""
    if isinstance(value, dict):
        return {k: trim(v, items, chars) for k, v in value.items()}
    if isinstance(value, list):
        kept = [trim(v, items, chars) for v in value[:items]]
        left = len(value) - len(kept)
        return [*kept, f"... {left} more not shown"] if left > 0 else kept
    if isinstance(value, str) and len(value) > chars:
        return value[: chars - 3].rstrip() + "..."
    return value


def _cut(text: str, limit: int) -> str:
    """The start of a text that has no structure to trim, marked as cut."""
    return text[: max(limit - 20, 0)].rstrip() + " ... (cut short)"
