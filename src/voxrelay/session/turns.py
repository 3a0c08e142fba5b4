"""The turn driver: starts user turns and responses, and follows which response is due."""

from __future__ import annotations

from voxrelay.agents import Agent
from voxrelay.agents.flow import call_for, line_for
from voxrelay.realtime import events as ev
from voxrelay.realtime.state import ClientState
from voxrelay.realtime.types import MessageItem, OutputText, ResponseParams, SessionConfig, new_id
from voxrelay.session import events as app
from voxrelay.session.core import Conversation
from voxrelay.session.lanes import AppEventStream, Outbox
from voxrelay.session.policy import TurnPolicy

FALLBACK = {"voxrelay": "fallback"}
"""Metadata of a response that speaks the fallback line."""
SAID = {"voxrelay": "said"}
"""Metadata of a response that speaks a step's exact words."""


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
        if step is not None:
            if step.name != conv.sent_step:
                await self._enter_step(step.name)
            call = call_for(step, conv.context()) if conv.call_due == step.name else None
            if call and not _words_only(params):  # words-only leaves the call for the next one
                conv.call_due = None
                params = ResponseParams(tool_choice={"type": "function", "name": call})
            elif conv.say_due == step.name:
                conv.say_due = None
                if line := line_for(step, conv.context()):
                    await self.say(line)
                    return
        instructions = conv.instructions(conv.agent)
        if instructions.error is not None:
            self.stream.put(instructions.error)
        if instructions.text != conv.sent_instructions:
            update = SessionConfig(instructions=instructions.text)
            await self.outbox.send(ev.SessionUpdate(session=update))
            conv.sent_instructions = instructions.text
        await self.outbox.send(ev.ResponseCreate(response=params, event_id=new_id("event")))

    async def say(self, line: str, metadata: dict[str, str] | None = None) -> None:
        """Say exact words: published as they are in text; spoken by the model in voice."""
        conv = self.conv
        agent = conv.agent.name
        if conv.voice is not None:
            params = ResponseParams(
                instructions=f"Say exactly this, and nothing else: {line}",
                tools=[],
                tool_choice="none",
                input=[],
                metadata=metadata or dict(SAID),
            )
            await self.outbox.send(ev.ResponseCreate(response=params, event_id=new_id("event")))
            return
        fallback = metadata == FALLBACK
        self.stream.put(app.AssistantMessage(agent=agent, text=line, fallback=fallback or None))
        if not fallback:  # an apology from the runtime: a model that sees it copies it
            conv.remember("assistant", line)
            item = MessageItem(role="assistant", content=[OutputText(text=line)])
            await self.outbox.send(ev.ConversationItemCreate(item=item))
        self.stream.put(app.TurnDone(agent=agent))

    async def _enter_step(self, name: str) -> None:
        """Send the active agent's new step: its instructions and only its tools."""
        conv = self.conv
        previous = conv.sent_step
        conv.enter(conv.agent)
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
        self.conv.enter(target)
        self.stream.put(
            app.AgentChanged(agent=target.name, from_=previous, to=target.name, reason=reason)
        )


def _words_only(params: ResponseParams | None) -> bool:
    """The response was asked to be words (a tool limit, a repeat, a handoff habit)."""
    return params is not None and params.tool_choice == "none"
