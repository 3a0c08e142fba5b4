"""Session rules shared by every side of the protocol (I/O-free): defaults, merge, tool choice.

The engine, the ephemeral-key endpoints and the clients' own session records all apply
`session.update` the same way; this module is the one place that says how.
"""

from __future__ import annotations

from typing import Any

from voxrelay.errors import ProtocolError
from voxrelay.realtime.types import (
    AudioConfig,
    AudioFormat,
    AudioInput,
    AudioOutput,
    SessionConfig,
    ToolChoiceValue,
    TurnDetection,
    new_id,
)

JSON = dict[str, Any]


def default_session(model: str = "voxrelay-local") -> SessionConfig:
    """The configuration a new session starts with."""
    pcm = AudioFormat(type="audio/pcm", rate=24000)
    return SessionConfig(
        id=new_id("sess"),
        object="realtime.session",
        model=model,
        instructions="",
        tools=[],
        tool_choice="auto",
        output_modalities=["text"],
        max_output_tokens="inf",
        audio=AudioConfig(
            input=AudioInput(format=pcm, turn_detection=TurnDetection()),
            output=AudioOutput(format=pcm, voice="alloy"),
        ),
    )


def deep_merge(base: JSON, patch: JSON) -> JSON:
    """`patch` over `base` the way `session.update` applies: objects merge, the rest replaces."""
    out = dict(base)
    for key, value in patch.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = deep_merge(out[key], value)
        else:
            out[key] = value
    return out


def merge_session(current: SessionConfig, update: SessionConfig) -> SessionConfig:
    """Apply the fields an update actually sent; nested objects merge, lists replace."""
    merged = deep_merge(
        current.model_dump(exclude_none=False), update.model_dump(exclude_unset=True)
    )
    return SessionConfig.model_validate(merged)


def tool_choice_name(choice: ToolChoiceValue | None, tool_names: list[str]) -> str:
    """Normalize a Realtime tool_choice to `auto`/`none`/`required` or one tool's name."""
    if choice is None:
        return "auto"
    if isinstance(choice, dict):
        name = str(choice.get("name", ""))
        if name not in tool_names:
            known = ", ".join(tool_names) or "none"
            raise ProtocolError(
                "invalid_value",
                f"tool_choice names {name!r}, not a tool; tools: {known}",
                param="tool_choice",
            )
        return name
    if choice not in ("auto", "none", "required"):
        raise ProtocolError(
            "invalid_value",
            "tool_choice must be auto, none, required or {type: function, name}",
            param="tool_choice",
        )
    return choice


def check_tools(config: SessionConfig, where: str = "session") -> None:
    """Tool names are unique and tool_choice names one of them; ProtocolError if not."""
    names = [t.name for t in config.tools or []]
    if len(set(names)) != len(names):
        raise ProtocolError("invalid_value", "tool names must be unique", param=f"{where}.tools")
    tool_choice_name(config.tool_choice, names)


def apply_update(current: SessionConfig, update: SessionConfig) -> SessionConfig:
    """The session after `update`, checked; ProtocolError says what to fix."""
    merged = merge_session(current, update)
    check_tools(merged)
    return merged
