"""The turn driver: starts user turns and responses, and follows which response is due."""

from __future__ import annotations

from voxrelay.agents import Agent
from voxrelay.realtime import events as ev
from voxrelay.realtime.types import ResponseParams, SessionConfig, new_id
from voxrelay.session import events as app
from voxrelay.session.core import Conversation
from voxrelay.session.lanes import AppEventStream, Outbox
from voxrelay.session.policy import TurnPolicy

SERVER_TURN = "server_vad"
"""Stands for the response the server starts itself after a detected turn."""


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
        self.active_response: str | None = None
        """The response the model is running now."""
        self.requested: str | None = None
        """event_id of a `response.create` not yet answered (or SERVER_TURN)."""

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
        create = ev.ResponseCreate(response=params, event_id=new_id("event"))
        self.requested = create.event_id
        await self.outbox.send(create)

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

    def created(self, response_id: str) -> None:
        """The model started a response."""
        self.active_response = response_id
        self.requested = None

    def refused(self, event_id: str | None) -> bool:
        """An error answered a request; True when it was our pending `response.create`."""
        if self.requested is not None and event_id == self.requested:
            self.requested = None
            return True
        return False
