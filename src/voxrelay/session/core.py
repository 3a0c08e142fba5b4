"""What the session's parts share: the scenario, the active agent, history and state."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from voxrelay.agents import Agent, HistoryEntry, RunContext, Scenario, Step
from voxrelay.agents.context import Role
from voxrelay.agents.flow import advance, step_named
from voxrelay.config import Settings
from voxrelay.realtime.types import AudioConfig, AudioOutput, FunctionToolDef, SessionConfig
from voxrelay.session.handoffs import HandoffRecord
from voxrelay.session.live_context import Instructions, instructions_for
from voxrelay.session.voice import VoiceOptions


@dataclass
class Conversation:
    """The agents' side of one conversation: who is active, what was said, session state."""

    scenario: Scenario
    agent: Agent
    settings: Settings
    voice: VoiceOptions | None = None
    history: list[HistoryEntry] = field(default_factory=list)
    state: dict[str, Any] = field(default_factory=dict)
    handoffs: list[HandoffRecord] = field(default_factory=list)
    sent_instructions: str | None = None
    """The active agent's instructions as last sent, live context included."""
    steps: dict[str, str] = field(default_factory=dict)
    """The current step of each agent with a structured flow, by agent name."""
    sent_step: str | None = None
    """The active agent's step whose tools were last sent (None for a free-form agent)."""
    say_due: str | None = None
    """The active agent's step whose entry line is still to be said."""
    call_due: str | None = None
    """The active agent's step whose `call` is due (set on entry and on each caller turn)."""

    def context(self) -> RunContext:
        """The RunContext tools of the active agent receive."""
        return RunContext(agent_name=self.agent.name, history=self.history, state=self.state)

    def remember(self, role: Role, text: str, name: str | None = None, ok: bool = True) -> None:
        """Add an entry to the shared history, attributed to the active agent."""
        entry = HistoryEntry(role=role, text=text, agent=self.agent.name, name=name, ok=ok)
        self.history.append(entry)

    def instructions(self, agent: Agent) -> Instructions:
        """`agent`'s instructions (in its current step) with live context from this conversation."""
        ctx = RunContext(agent_name=agent.name, history=self.history, state=self.state)
        return instructions_for(agent, ctx, self.step(agent))

    def step(self, agent: Agent) -> Step | None:
        """`agent`'s current step (entry conditions applied), or None for a free-form agent."""
        current = step_named(agent.steps, self.steps.get(agent.name))
        if current is None:
            return None
        ctx = RunContext(agent_name=agent.name, history=self.history, state=self.state)
        current = advance(agent.steps, current, ctx, None)
        self.steps[agent.name] = current.name
        return current

    def advance(self, tool: str, ok: bool) -> None:
        """Follow the active agent's flow after `tool` (the next request sends a new step)."""
        step = self.step(self.agent)
        if step is not None:
            moved = advance(self.agent.steps, step, self.context(), tool, ok)
            self.steps[self.agent.name] = moved.name

    def enter(self, agent: Agent) -> None:
        """`agent` became active in its current step: note the step sent and its due call."""
        step = self.step(agent)
        self.sent_step = step.name if step else None
        self.call_due = step.name if step and step.call and step.call_on_entry else None
        self.say_due = step.name if step and step.say is not None else None

    def offered(self, agent: Agent) -> list[str]:
        """Names of the tools `agent` is offered now (its step's, in a flow)."""
        return [t.name for t in self.scenario.tools_for(agent, self.step(agent))]

    def config(self, agent: Agent) -> SessionConfig:
        """The session fields that belong to an agent (in its current step): instructions, tools,
        voice."""
        step = self.step(agent)
        specs = self.scenario.tools_for(agent, step)
        tools = [FunctionToolDef.model_validate(t.spec()) for t in specs]
        config = SessionConfig(
            instructions=self.instructions(agent).text, tools=tools, tool_choice="auto"
        )
        voice = agent.voice or (self.voice.voice if self.voice else None)
        if voice:
            config.audio = AudioConfig(output=AudioOutput(voice=voice))
        return config
