"""Qwen2.5 ChatML prompt formatting with tools (pure functions)."""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence
from typing import Any

from voxrelay.errors import ModelError
from voxrelay.models.base import CONTEXT_HEADING, Message, ToolCall, ToolSpec

IM_START = "<|im_start|>"
IM_END = "<|im_end|>"
TOOL_CALL_OPEN = "<tool_call>"


def compact_schema(schema: dict[str, Any]) -> dict[str, Any]:
    """Drop schema keys that cost prompt tokens but tell the model nothing."""
    drop = {"additionalProperties", "required", "title", "default"}
    if not isinstance(schema, dict):
        return schema
    out: dict[str, Any] = {}
    for key, value in schema.items():
        if key in drop:
            continue
        if isinstance(value, dict):
            out[key] = (
                {k: compact_schema(v) for k, v in value.items()}
                if key == "properties"
                else compact_schema(value)
            )
        elif isinstance(value, list):
            out[key] = [compact_schema(v) if isinstance(v, dict) else v for v in value]
        else:
            out[key] = value
    return out


def tools_block(tools: Sequence[ToolSpec]) -> str:
    """The tool section of the system prompt, in the tag format Qwen2.5 was trained on."""
    lines = [
        json.dumps(
            {
                "name": t.name,
                "description": t.description,
                "parameters": compact_schema(t.parameters),
            },
            ensure_ascii=False,
        )
        for t in tools
    ]
    return (
        "\n\n# Tools\n\nYou may call one function when it helps. "
        "The functions are listed inside <tools></tools>:\n<tools>\n"
        + "\n".join(lines)
        + "\n</tools>\n\nTo call a function, reply with only:\n"
        '<tool_call>\n{"name": <function-name>, "arguments": <args-json-object>}\n</tool_call>\n'
        "Use only values the user actually said; if a value is missing, ask for it."
    )


def format_prompt(messages: Sequence[Message], tools: Sequence[ToolSpec]) -> str:
    """Render messages (and tools) as a ChatML prompt ending with an open assistant turn."""
    system = next((m for m in messages if m.role == "system"), None)
    rest = [m for m in messages if m is not system]
    foreign = _foreign_calls(rest, {t.name for t in tools})
    instructions, heading, context = (
        system.content if system else "You are a helpful assistant."
    ).partition(CONTEXT_HEADING)
    header = instructions + (tools_block(tools) if tools else "")
    notes = [_note(m, foreign) for m in rest if m.role == "tool" and _is_foreign(m, foreign)]
    if notes:  # before the live context, so that the step's instructions come last
        header += "\n\n# Earlier in this conversation\n" + "\n".join(notes)
    header += heading + context
    parts = [_turn("system", header)]
    for m in rest:
        if not _is_foreign(m, foreign):
            parts.append(_render(m))
        elif m.role == "assistant" and m.content:
            parts.append(_turn("assistant", m.content))
    parts.append(f"{IM_START}assistant\n")
    return "".join(parts)


def _foreign_calls(messages: Sequence[Message], offered: set[str]) -> dict[str, str]:
    """Call ids of earlier calls to tools this request does not offer (e.g. a handoff)."""
    return {c.call_id: c.name for m in messages for c in m.tool_calls if c.name not in offered}


def _is_foreign(m: Message, foreign: dict[str, str]) -> bool:
    if m.role == "tool":
        return m.tool_call_id in foreign
    return bool(m.tool_calls) and all(c.call_id in foreign for c in m.tool_calls)


def _note(result: Message, foreign: dict[str, str]) -> str:
    """A past call of a tool the model cannot call now, as background rather than an example.

    A small model that sees a `<tool_call>` it cannot make (the handoff that brought the
    conversation here) imitates it, and one that sees a note just before its turn repeats
    it; in the system prompt it reads as context. The call's arguments are left out: they
    came from the user's words, which follow, and a note that depends only on the tool and
    its result is the same in every conversation, so it can be part of a warm prefix.
    """
    return f"- {foreign[result.tool_call_id or '']} returned {result.content}"


def _turn(role: str, content: str) -> str:
    return f"{IM_START}{role}\n{content}{IM_END}\n"


def _render(m: Message) -> str:
    if m.role == "tool":
        return _turn("user", f"<tool_response>\n{m.content}\n</tool_response>")
    if m.role == "assistant" and m.tool_calls:
        calls = "\n".join(_call_text(c.name, c.arguments) for c in m.tool_calls)
        text = f"{m.content}\n{calls}" if m.content else calls
        return _turn("assistant", text)
    return _turn(m.role, m.content)


def _call_text(name: str, arguments: str) -> str:
    body = f'{{"name": "{name}", "arguments": {arguments or "{}"}}}'
    return f"{TOOL_CALL_OPEN}\n{body}\n</tool_call>"


def tool_call_schema(tools: Sequence[ToolSpec]) -> dict[str, Any]:
    """A JSON schema admitting exactly one call of one of `tools` with valid arguments."""
    options = [
        {
            "type": "object",
            "properties": {
                "name": {"const": t.name},
                "arguments": t.parameters or {"type": "object", "properties": {}},
            },
            "required": ["name", "arguments"],
            "additionalProperties": False,
        }
        for t in tools
    ]
    return options[0] if len(options) == 1 else {"anyOf": options}


def complete_json(raw: bytes) -> bool:
    """True once `raw` starts with one whole JSON object (more may follow)."""
    try:
        json.JSONDecoder().raw_decode(raw.decode("utf-8", errors="replace").lstrip())
    except json.JSONDecodeError:
        return False
    return True


def parse_tool_call(raw: bytes, offered: Sequence[ToolSpec]) -> ToolCall:
    """Read one `{"name", "arguments"}` call from model output; ModelError says what is wrong.

    Tolerates what small models add around a call (a `<tool_call>` tag, a code fence, text
    after the object) and arguments given as a JSON string; a truncated or unknown call is
    reported, never guessed.
    """
    text = raw.decode("utf-8", errors="replace").strip()
    text = text.removeprefix(TOOL_CALL_OPEN).strip().removeprefix("```json").removeprefix("```")
    start = text.find("{")
    try:
        value, _ = json.JSONDecoder().raw_decode(text[start:] if start >= 0 else text)
    except json.JSONDecodeError:
        raise ModelError(f"the model produced an unfinished tool call: {text[:200]!r}") from None
    if not isinstance(value, dict) or "name" not in value:
        raise ModelError(f"the model's tool call has no name: {text[:200]!r}")
    name = str(value["name"])
    if name not in {t.name for t in offered}:
        known = ", ".join(t.name for t in offered) or "none"
        raise ModelError(f"the model called {name!r}, which is not on offer (tools: {known})")
    arguments = value.get("arguments") or {}
    if isinstance(arguments, str):
        try:
            arguments = json.loads(arguments)
        except json.JSONDecodeError:
            raise ModelError(f"the arguments of {name} are not JSON: {arguments[:200]!r}") from None
    if not isinstance(arguments, dict):
        raise ModelError(f"the arguments of {name} must be a JSON object")
    return ToolCall(
        f"call_{uuid.uuid4().hex[:16]}", name, json.dumps(arguments, ensure_ascii=False)
    )
