"""Qwen2.5 ChatML prompt formatting with tools (pure functions)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from voxrelay.models.base import Message, ToolSpec

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
    parts: list[str] = []
    system = [m.content for m in messages if m.role == "system"][:1]
    header = (system[0] if system else "You are a helpful assistant.") + (
        tools_block(tools) if tools else ""
    )
    parts.append(_turn("system", header))
    rest = list(messages)
    if system:
        rest.remove(next(m for m in messages if m.role == "system"))
    offered = {t.name for t in tools}
    foreign = _foreign_calls(rest, offered)
    for m in rest:
        parts.append(_render_foreign(m, foreign) if _is_foreign(m, foreign) else _render(m))
    parts.append(f"{IM_START}assistant\n")
    return "".join(parts)


def _foreign_calls(messages: Sequence[Message], offered: set[str]) -> dict[str, str]:
    """Call ids of earlier calls to tools this request does not offer (e.g. a handoff)."""
    return {c.call_id: c.name for m in messages for c in m.tool_calls if c.name not in offered}


def _is_foreign(m: Message, foreign: dict[str, str]) -> bool:
    if m.role == "tool":
        return m.tool_call_id in foreign
    return bool(m.tool_calls) and all(c.call_id in foreign for c in m.tool_calls)


def _render_foreign(m: Message, foreign: dict[str, str]) -> str:
    """Past calls of tools the model cannot call now become plain notes, not examples.

    A small model that sees a `<tool_call>` it cannot make (the handoff that brought the
    conversation here) tends to imitate it; as a note it reads as history instead.
    """
    if m.role == "tool":
        return _turn("system", f"{foreign[m.tool_call_id or '']} returned: {m.content}")
    calls = "; ".join(f"{c.name} was called with {c.arguments or '{}'}" for c in m.tool_calls)
    note = _turn("system", f"Earlier in this conversation: {calls}.")
    return (_turn("assistant", m.content) if m.content else "") + note


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
