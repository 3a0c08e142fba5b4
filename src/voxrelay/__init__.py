"""voxrelay: multi-agent realtime voice agents, offline by default."""

from voxrelay.agents import (
    Agent,
    FunctionTool,
    Grounded,
    GuardrailResult,
    HistoryEntry,
    KeywordGuardrail,
    OutputGuardrail,
    RunContext,
    Scenario,
    function_tool,
    output_guardrail,
    tool,
)
from voxrelay.config import Settings, get_settings
from voxrelay.errors import (
    ConfigError,
    ModelError,
    ModelNotFoundError,
    ProtocolError,
    ToolError,
    VoxrelayError,
)
from voxrelay.session import Session

__version__ = "0.1.0"

__all__ = [
    "Agent",
    "ConfigError",
    "FunctionTool",
    "Grounded",
    "GuardrailResult",
    "HistoryEntry",
    "KeywordGuardrail",
    "ModelError",
    "ModelNotFoundError",
    "OutputGuardrail",
    "ProtocolError",
    "RunContext",
    "Scenario",
    "Session",
    "Settings",
    "ToolError",
    "VoxrelayError",
    "__version__",
    "function_tool",
    "get_settings",
    "output_guardrail",
    "tool",
]
