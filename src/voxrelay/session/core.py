"""What the session's parts share: the scenario, the active agent, history and state."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from voxrelay.agents import Agent, HistoryEntry, RunContext, Scenario
from voxrelay.agents.context import Role
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

    def context(self) -> RunContext:
        """The RunContext tools of the active agent receive."""
        return RunContext(agent_name=self.agent.name, history=self.history, state=self.state)

    def remember(self, role: Role, text: str, name: str | None = None, ok: bool = True) -> None:
        """Add an entry to the shared history, attributed to the active agent."""
        entry = HistoryEntry(role=role, text=text, agent=self.agent.name, name=name, ok=ok)
        self.history.append(entry)

    def instructions(self, agent: Agent) -> Instructions:
        """`agent`'s instructions with its live context from this conversation."""
        ctx = RunContext(agent_name=agent.name, history=self.history, state=self.state)
        return instructions_for(agent, ctx)

    def config(self, agent: Agent) -> SessionConfig:
        """The session fields that belong to an agent: instructions, tools, voice."""
        tools = [FunctionToolDef.model_validate(t.spec()) for t in self.scenario.tools_for(agent)]
        config = SessionConfig(
            instructions=self.instructions(agent).text, tools=tools, tool_choice="auto"
        )
        voice = agent.voice or (self.voice.voice if self.voice else None)
        if voice:
            config.audio = AudioConfig(output=AudioOutput(voice=voice))
        return config
