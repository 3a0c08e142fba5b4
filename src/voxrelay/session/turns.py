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
        """A user turn begins: reset the turn policy."""
        self.turn += 1
        self.policy.new_turn()

    async def request(self, params: ResponseParams | None) -> None:
        """Ask for a response, sending the instructions first if the live context changed."""
        conv = self.conv
        instructions = conv.instructions(conv.agent)
        if instructions.error is not None:
            self.stream.put(instructions.error)
        if instructions.text != conv.sent_instructions:
            update = SessionConfig(instructions=instructions.text)
            await self.outbox.send(ev.SessionUpdate(session=update))
            conv.sent_instructions = instructions.text
        await self.outbox.send(ev.ResponseCreate(response=params, event_id=new_id("event")))

    async def switch_to(self, target: Agent, reason: str) -> None:
        """Make `target` the active agent: its instructions, tools and voice."""
        previous = self.conv.agent.name
        self.conv.agent = target
        config = self.conv.config(target)
        await self.outbox.send(ev.SessionUpdate(session=config))
        self.conv.sent_instructions = config.instructions
        self.stream.put(
            app.AgentChanged(agent=target.name, from_=previous, to=target.name, reason=reason)
        )
