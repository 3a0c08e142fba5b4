"""The turn driver: starts user turns and responses, and follows which response is due."""

from __future__ import annotations

from voxrelay.agents import Agent
from voxrelay.realtime import events as ev
from voxrelay.realtime.state import ClientState
from voxrelay.realtime.types import ResponseParams, SessionConfig, new_id
from voxrelay.session import events as app
from voxrelay.session.core import Conversation
from voxrelay.session.lanes import AppEventStream, Outbox
from voxrelay.session.policy import TurnPolicy


class TurnDriver:
    """Asks the model for responses and switches agents, in the order the lanes decide."""

    def __init__(
        self, conv: Conversation, policy: TurnPolicy, outbox: Outbox, stream: AppEventStream
    ) -> None:
        self.conv = conv
        self.policy = policy
        self.outbox = outbox
        self.stream = stream
        self.turn = 0
        """User turns so far (a new one means the caller spoke)."""
        self.state = ClientState()
        """The session as this client sees it: configuration, conversation, responses."""

    @property
    def active_response(self) -> str | None:
        """The response the model is running now."""
        return self.state.active_response

    def sent(self, event: ev.ClientEvent) -> None:
        """Record an event on its way to the model (caller audio is not recorded)."""
        if not isinstance(event, ev.InputAudioBufferAppend):
            self.state.sent(event)

    def new_turn(self) -> None:
        """A user turn begins: reset the turn policy; the step's own call is due again."""
        self.turn += 1
        self.policy.new_turn()
        self.conv.call_due = self.conv.sent_step

    async def request(self, params: ResponseParams | None) -> None:
        """Ask for a response, sending the step's tools or the instructions first if changed."""
        conv = self.conv
        step = conv.step(conv.agent)
        if step is not None and step.name != conv.sent_step:
            await self._enter_step(step.name)
        if step is not None and step.call and conv.call_due == step.name:
            if not _words_only(params):  # else the next response makes the step's first call
                conv.call_due = None
                params = ResponseParams(tool_choice={"type": "function", "name": step.call})
        instructions = conv.instructions(conv.agent)
        if instructions.error is not None:
            self.stream.put(instructions.error)
        if instructions.text != conv.sent_instructions:
            update = SessionConfig(instructions=instructions.text)
            await self.outbox.send(ev.SessionUpdate(session=update))
            conv.sent_instructions = instructions.text
        await self.outbox.send(ev.ResponseCreate(response=params, event_id=new_id("event")))

    async def _enter_step(self, name: str) -> None:
        """Send the active agent's new step: its instructions and only its tools."""
        conv = self.conv
        previous, conv.sent_step = conv.sent_step, name
        conv.call_due = name
        config = conv.config(conv.agent)
        update = SessionConfig(instructions=config.instructions, tools=config.tools)
        await self.outbox.send(ev.SessionUpdate(session=update))
        conv.sent_instructions = config.instructions
        self.stream.put(app.StepChanged(agent=conv.agent.name, from_=previous or "", to=name))

    async def switch_to(self, target: Agent, reason: str) -> None:
        """Make `target` the active agent: its instructions, tools and voice."""
        previous = self.conv.agent.name
        self.conv.agent = target
        config = self.conv.config(target)
        await self.outbox.send(ev.SessionUpdate(session=config))
        self.conv.sent_instructions = config.instructions
        self.conv.sent_step = self.conv.call_due = self.conv.steps.get(target.name)
        self.stream.put(
            app.AgentChanged(agent=target.name, from_=previous, to=target.name, reason=reason)
        )


def _words_only(params: ResponseParams | None) -> bool:
    """The response was asked to be words (a tool limit, a repeat, a handoff habit)."""
    return params is not None and params.tool_choice == "none"
