"""Agents, handoff tools and the scenario graph that resolves handoffs by name."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Annotated, Any

from voxrelay.agents.context import RunContext
from voxrelay.agents.flow import Step, check_steps
from voxrelay.agents.guardrails import OutputGuardrail
from voxrelay.agents.tool import FunctionTool, function_tool
from voxrelay.errors import ConfigError

HANDOFF_PREFIX = "transfer_to_"


@dataclass
class Agent:
    """An agent: who it is, what it may call, and whom it may hand the caller to."""

    name: str
    instructions: str
    tools: list[FunctionTool] = field(default_factory=list)
    handoffs: list[Agent | str] = field(default_factory=list)
    """Agents (or their names, resolved in the scenario) this agent may transfer to."""
    handoff_description: str | None = None
    """What this agent is for; shown to other agents in the handoff tool."""
    voice: str | None = None
    greeting: str | None = None
    """Said first when a conversation starts with this agent."""
    output_guardrails: list[OutputGuardrail] = field(default_factory=list)
    context: Callable[[RunContext], str | None] | None = None
    """Live facts from session state for the prompt (who the verified caller is), or None.

    Called before every response the session asks for; the text goes at the end of the
    instructions under CONTEXT_HEADING, where changing it keeps the prompt prefix cached.
    """
    steps: list[Step] = field(default_factory=list)
    """A structured flow (see `voxrelay.agents.flow`); empty for a free-form agent."""

    def handoff_names(self) -> list[str]:
        """Names of the agents this one may hand off to."""
        return [h if isinstance(h, str) else h.name for h in self.handoffs]


def snake_case(name: str) -> str:
    """`simulatedHuman` → `simulated_human`; `Returns Agent` → `returns_agent`."""
    name = re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", name)
    return re.sub(r"[^a-zA-Z0-9]+", "_", name).strip("_").lower()


def handoff_tool_name(agent_name: str) -> str:
    """The tool that transfers to an agent: `transfer_to_<snake_name>`."""
    return HANDOFF_PREFIX + snake_case(agent_name)


def handoff_output(agent_name: str) -> str:
    """What a transfer to `agent_name` returns, as the conversation records it."""
    return json.dumps({"assistant": agent_name})


def handoff_tool(target: Agent) -> FunctionTool:
    """A tool whose call asks the runtime to transfer the conversation to `target`."""

    def transfer(
        reason: Annotated[str, "One short sentence: why the caller needs this agent."],
    ) -> dict[str, Any]:
        return {"assistant": target.name}

    about = target.handoff_description or f"the {target.name} agent"
    description = f"Transfer the caller to {target.name}: {about}"
    return function_tool(transfer, name=handoff_tool_name(target.name), description=description)


@dataclass
class Scenario:
    """A named set of agents with a starting agent; handoffs resolve by name within it."""

    name: str
    agents: list[Agent]
    start: str | None = None
    """Name of the first agent; defaults to the first in the list."""
    description: str = ""

    def __post_init__(self) -> None:
        if not self.agents:
            raise ConfigError(f"scenario {self.name!r} has no agents")
        self._by_name = {a.name: a for a in self.agents}
        self._by_tool = {handoff_tool_name(a.name): a for a in self.agents}
        for agent in self.agents:
            for target in agent.handoff_names():
                self.agent(target)
            check_steps(agent.name, agent.steps, {t.name for t in self.tools_for(agent)})
        self.agent(self.start_agent_name)

    @property
    def start_agent_name(self) -> str:
        """The agent a conversation starts with."""
        return self.start or self.agents[0].name

    def names(self) -> list[str]:
        """Agent names in declaration order."""
        return [a.name for a in self.agents]

    def agent(self, name: str) -> Agent:
        """Look an agent up by name; the error lists the valid names."""
        try:
            return self._by_name[name]
        except KeyError:
            valid = ", ".join(self.names())
            raise ConfigError(
                f"unknown agent {name!r} in scenario {self.name!r}; valid agents: {valid}"
            ) from None

    def handoff_target(self, tool_name: str) -> Agent | None:
        """The agent a `transfer_to_*` tool name points at, if any."""
        return self._by_tool.get(tool_name)

    def tools_for(self, agent: Agent, step: Step | None = None) -> list[FunctionTool]:
        """The agent's own tools plus one handoff tool per target; only the step's, in a step."""
        tools = [*agent.tools, *(handoff_tool(self.agent(n)) for n in agent.handoff_names())]
        if step is None:
            return tools
        by_name = {t.name: t for t in tools}
        return [by_name[name] for name in step.tools]

    def graph(self) -> dict[str, list[str]]:
        """Adjacency list of handoffs, by agent name."""
        return {a.name: a.handoff_names() for a in self.agents}
