"""Run one tool call: validate, execute with a timeout, and turn every failure into a result."""

from __future__ import annotations

import asyncio
import json
import logging
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel

from voxrelay.agents import FunctionTool, RunContext, ToolArgumentsError, is_grounded

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ToolOutcome:
    """What goes back to the model, and whether the call succeeded."""

    output: str
    ok: bool
    ungrounded: tuple[tuple[str, str], ...] = ()
    """(argument, value) pairs refused because the conversation never contained the value."""


def error_output(message: str, ungrounded: tuple[tuple[str, str], ...] = ()) -> ToolOutcome:
    """A failed call's result: a JSON object with an `error` the model can read and act on."""
    return ToolOutcome(json.dumps({"error": message}, ensure_ascii=False), False, ungrounded)


def check_grounding(
    tool: FunctionTool, args: dict[str, Any], conversation: str
) -> ToolOutcome | None:
    """Refuse a call whose grounded arguments were never said; None when all are grounded."""
    invented = tuple(
        (name, str(args[name]))
        for name in tool.grounded
        if not is_grounded(args.get(name), conversation)
    )
    if not invented:
        return None
    asks = " and ".join(name.replace("_", " ") for name, _ in invented)
    return error_output(
        f"not executed: the caller never said this {asks}. Never guess it; "
        f"ask the caller for their {asks}.",
        invented,
    )


def serialize(result: Any) -> str:
    """A tool's return value as the string the model sees."""
    if isinstance(result, str):
        return result
    if isinstance(result, BaseModel):
        return result.model_dump_json()
    return json.dumps(result, ensure_ascii=False, default=str)


async def run_tool(
    tool: FunctionTool, arguments: str, ctx: RunContext, default_timeout_s: float
) -> ToolOutcome:
    """Validate the arguments, run the tool under its timeout, and report any failure as data."""
    try:
        args = tool.parse_arguments(arguments)
    except ToolArgumentsError as exc:
        return error_output(
            f"invalid arguments for {tool.name}: {exc}. Fix them and call {tool.name} again, "
            "or ask the user for the missing information."
        )
    refused = check_grounding(tool, args, ctx.grounding_text())
    if refused is not None:
        return refused
    timeout = tool.timeout_s if tool.timeout_s is not None else default_timeout_s
    try:
        result = await asyncio.wait_for(tool.invoke(ctx, args), timeout)
    except TimeoutError:
        return error_output(
            f"{tool.name} timed out after {timeout:g} s; tell the user and offer to retry."
        )
    except Exception as exc:
        log.exception("tool %s raised", tool.name)
        return error_output(f"{tool.name} failed: {type(exc).__name__}: {exc}")
    return ToolOutcome(serialize(result), ok=True)
