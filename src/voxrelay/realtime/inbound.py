"""Reading client JSON safely (I/O-free): bounded nesting, and fixed messages for bad fields.

Every client event and HTTP body passes through here before pydantic or jsonschema walks it,
so no input can exhaust the recursion limit, and no library's error text (pydantic's
`instance of SessionConfig`, a decoder's internals) ever reaches a wire client.
"""

from __future__ import annotations

import json
import re
from typing import Any

from pydantic import ValidationError
from pydantic_core import ErrorDetails

from voxrelay.errors import ProtocolError

MAX_JSON_DEPTH = 64
"""Deepest nesting of objects and arrays accepted in a client event, HTTP body or schema."""

_FIELD = re.compile(r"[a-z_][a-z0-9_]*")
_TYPE_LABELS = frozenset({"int", "str", "float", "bool", "none", "dict", "list"})
"""Names pydantic gives union members in an error location (not client field names)."""
_UNION_TAGS = frozenset({"message", "function_call", "function_call_output"}) | frozenset(
    {"input_text", "input_audio", "output_text", "output_audio"}
)
"""Discriminator tags pydantic puts in an error location (the client never wrote them)."""

_PHRASES = {
    "missing": "is required",
    "string_type": "must be a string",
    "int_type": "must be an integer",
    "int_parsing": "must be an integer",
    "int_from_float": "must be an integer",
    "float_type": "must be a number",
    "float_parsing": "must be a number",
    "bool_type": "must be true or false",
    "bool_parsing": "must be true or false",
    "dict_type": "must be a JSON object",
    "model_type": "must be a JSON object",
    "model_attributes_type": "must be a JSON object",
    "list_type": "must be a JSON array",
    "union_tag_not_found": "needs a `type`",
    "none_required": "must be null",
}
"""Fixed wording per pydantic error type; anything else gets `_FALLBACK`."""
_FALLBACK = "has a value this server cannot use (see docs/server.md for the accepted shapes)"


def loads(text: str | bytes, what: str = "event") -> Any:
    """Parse client JSON; ProtocolError if it is not JSON or nests too deeply.

    The C decoder stops at the interpreter's recursion limit (a RecursionError, refused
    here); anything that parses is then measured before any other code walks it.
    """
    try:
        data = json.loads(text)
    except RecursionError:
        raise too_deep(what) from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        reason = exc.msg if isinstance(exc, json.JSONDecodeError) else "not UTF-8"
        raise ProtocolError("invalid_json", f"{what} is not valid JSON: {reason}") from None
    check_depth(data, what)
    return data


def check_depth(data: Any, what: str = "event", param: str | None = None) -> None:
    """ProtocolError when `data` nests objects and arrays deeper than MAX_JSON_DEPTH."""
    if depth_over(data, MAX_JSON_DEPTH):
        raise too_deep(what, param)


def depth_over(data: Any, limit: int) -> bool:
    """True when `data` nests dicts and lists deeper than `limit` (level by level, no recursion)."""
    level = [data] if isinstance(data, dict | list) else []
    depth = 0
    while level:
        depth += 1
        if depth > limit:
            return True
        deeper: list[Any] = []
        for node in level:
            for child in node.values() if isinstance(node, dict) else node:
                if isinstance(child, dict | list):
                    deeper.append(child)
        level = deeper
    return False


def too_deep(what: str, param: str | None = None) -> ProtocolError:
    """The refusal for input nested past MAX_JSON_DEPTH."""
    return ProtocolError(
        "nesting_too_deep",
        f"{what} nests objects and arrays deeper than {MAX_JSON_DEPTH} levels; "
        "send a flatter structure (tool parameter schemas included)",
        param=param,
    )


def invalid_field(exc: ValidationError, prefix: str = "", what: str = "") -> ProtocolError:
    """A ProtocolError naming the first bad field, in fixed words (never pydantic's text)."""
    errors = exc.errors()
    path = field_path(prefix, errors[0]["loc"])
    phrases = [_phrase(e) for e in errors if field_path(prefix, e["loc"]) == path]
    head = f"{what}: " if what else ""
    message = f"{head}{path or 'the value'}: {' or '.join(dict.fromkeys(phrases))}"
    return ProtocolError("invalid_value", message, param=path or None)


def field_path(prefix: str, loc: tuple[int | str, ...]) -> str:
    """An error location as the client wrote it: no union labels, no discriminator tags."""
    parts = [prefix] if prefix else []
    parts += [str(p) for p in loc if isinstance(p, int) or _is_field(p)]
    return ".".join(parts)


def _is_field(part: str) -> bool:
    return bool(_FIELD.fullmatch(part)) and part not in _TYPE_LABELS | _UNION_TAGS


def _phrase(error: ErrorDetails) -> str:
    """What the client must send instead, from pydantic's error type and our own values."""
    kind = error["type"]
    ctx = error.get("ctx") or {}
    if kind == "literal_error":
        return f"must be one of {ctx.get('expected', 'the documented values')}"
    if kind == "union_tag_invalid":
        return f"has an unknown `type`; use one of {ctx.get('expected_tags', '')}".rstrip()
    return _PHRASES.get(kind, _FALLBACK)
