"""The agent SDK: agents, tools, handoffs, guardrails and run context."""

from voxrelay.agents.agent import (
    HANDOFF_PREFIX,
    Agent,
    Scenario,
    handoff_tool,
    handoff_tool_name,
    snake_case,
)
from voxrelay.agents.context import HistoryEntry, RunContext
from voxrelay.agents.flow import Step, Transition
from voxrelay.agents.grounding import Grounded, is_grounded
from voxrelay.agents.guardrails import (
    FunctionGuardrail,
    GuardrailResult,
    KeywordGuardrail,
    OutputGuardrail,
    output_guardrail,
)
from voxrelay.agents.tool import FunctionTool, ToolArgumentsError, function_tool, tool

__all__ = [
    "HANDOFF_PREFIX",
    "Agent",
    "FunctionGuardrail",
    "FunctionTool",
    "Grounded",
    "GuardrailResult",
    "HistoryEntry",
    "KeywordGuardrail",
    "OutputGuardrail",
    "RunContext",
    "Scenario",
    "Step",
    "ToolArgumentsError",
    "Transition",
    "function_tool",
    "handoff_tool",
    "handoff_tool_name",
    "is_grounded",
    "output_guardrail",
    "snake_case",
    "tool",
]
