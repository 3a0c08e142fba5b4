"""The work lane: what happens after a response ends (guardrails, tools, handoffs, next step).

It runs in a task of its own, so a slow tool or guardrail never holds up barge-in.
"""

from __future__ import annotations

import asyncio
import functools
import json
import logging
import time
from collections.abc import Awaitable, Callable

from voxrelay.agents import Agent
from voxrelay.agents.repair import repair_arguments
from voxrelay.realtime import events as ev
from voxrelay.realtime.types import (
    FunctionCallItem,
    FunctionCallOutputItem,
    MessageItem,
    OutputAudio,
    Response,
    ResponseParams,
)
from voxrelay.session import events as app
from voxrelay.session.core import Conversation
from voxrelay.session.guardrail_gate import Block, SentenceVerdicts, check_output
from voxrelay.session.handoffs import HandoffRecord, decide_handoff, handoff_reason, is_handoff
from voxrelay.session.lanes import AppEventStream
from voxrelay.session.reader import Finished
from voxrelay.session.results import for_model
from voxrelay.session.tools import ToolOutcome, error_output, run_tool
from voxrelay.session.turns import FALLBACK, TurnDriver
from voxrelay.session.voice_control import VoiceControl

log = logging.getLogger(__name__)

Emit = Callable[[app.AppEventBase], None]
Send = Callable[[ev.ClientEvent], Awaitable[None]]
Floor = Callable[[], bool]
"""True when the caller has spoken since the response began (the turn is theirs again)."""

RESPONSE_FAILED = "the model failed to respond"
TURN_FAILED = "the agent could not finish this turn; please say it again"


class Responder:
    """Handles each finished response of one session, one at a time."""

    def __init__(
        self,
        conv: Conversation,
        driver: TurnDriver,
        voice: VoiceControl,
        verdicts: SentenceVerdicts,
        stream: AppEventStream,
    ) -> None:
        self.conv = conv
        self.driver = driver
        self.policy = driver.policy
        self.voice = voice
        self.playback = voice.playback
        self.verdicts = verdicts
        self.emit = stream.put
        self.send = driver.outbox.send
        self.request = driver.request
        self.switch = driver.switch_to
        self.busy = False
        """A finished response is being handled now (guardrails, tools)."""

    async def run(self, work: asyncio.Queue[Finished]) -> None:
        """Handle finished responses one at a time; a fault is reported and the lane goes on."""
        while True:
            done, turn = await work.get()
            self.busy = True
            try:
                await self.finished(done.response, functools.partial(self._spoke_since, turn))
            except Exception:
                log.exception("handling response %s failed", done.response.id)
                agent = self.conv.agent.name
                self.emit(app.ErrorOccurred(agent=agent, code="turn_failed", text=TURN_FAILED))
                self.emit(app.TurnDone(agent=agent))
            finally:
                self.busy = False
                work.task_done()

    def _spoke_since(self, turn: int) -> bool:
        """The caller has spoken (or is speaking) since user turn `turn`."""
        return self.voice.speaking or self.driver.turn != turn

    async def finished(self, response: Response, caller_spoke: Floor) -> None:
        """Publish the response's text, run its calls, and ask for the next step if any."""
        agent = self.conv.agent.name
        failed = response.status == "failed"
        if failed:
            detail = (response.status_details.error or {}) if response.status_details else {}
            text = str(detail.get("message") or RESPONSE_FAILED)
            self.emit(app.ErrorOccurred(agent=agent, code="response_failed", text=text))
        fallback = response.metadata == FALLBACK
        said = False
        for item in response.output:
            if isinstance(item, MessageItem):
                if block := await self._deliver(item, fallback):
                    await self._retract(item, block)
                    return
                said = said or bool(item.text().strip())
                if fallback and item.id:  # spoken, but kept from the model: it would copy it
                    await self.send(ev.ConversationItemDelete(item_id=item.id))
        block = self.verdicts.take()
        if block is not None:
            await self._drop_unheard(response)
            await self._retry(block)
            return
        calls = [i for i in response.output if isinstance(i, FunctionCallItem)]
        if calls and response.status == "completed":
            await self._run_calls(calls, caller_spoke)
        elif failed and not said and not caller_spoke():
            await self._fall_back()  # the caller hears a sentence, not silence
        else:
            self.emit(app.TurnDone(agent=agent))

    async def _deliver(self, item: MessageItem, fallback: bool = False) -> Block | None:
        """Check the text (speech, guardrails), then publish; the block if it was held back."""
        text = item.text()
        if not text.strip():
            return None
        block = await check_output(self.conv.agent, text, self.conv.context())
        if block is not None:
            for event in block.events:
                self.emit(event)
            return block
        if not fallback:
            self.conv.remember("assistant", text)
        spoken = item.id is not None and any(isinstance(p, OutputAudio) for p in item.content)
        cut = spoken and self.playback.was_cut(item.id or "")
        self.emit(
            app.AssistantMessage(
                agent=self.conv.agent.name,
                text=text,
                item_id=item.id if spoken else None,
                interrupted=True if cut else None,
                fallback=True if fallback else None,
            )
        )
        return None

    async def _drop_unheard(self, response: Response) -> None:
        """Remove the reply items the sentence gate left empty (the caller heard nothing)."""
        for item in response.output:
            if isinstance(item, MessageItem) and item.id and not item.text().strip():
                await self.send(ev.ConversationItemDelete(item_id=item.id))

    async def _retract(self, item: MessageItem, block: Block) -> None:
        """Remove blocked text from the model's context; ask once for a compliant reply."""
        if item.id:
            await self.send(ev.ConversationItemDelete(item_id=item.id))
        await self._retry(block)

    async def _retry(self, block: Block) -> None:
        """Ask once per turn for another reply (in words, if the last was not speech).

        After that, a guardrail's block ends the turn; text that is still not speech gives way
        to the fallback line.
        """
        note = self.policy.retry_note(block.rationale, unspeakable=block.unspeakable)
        if note is not None:
            instructions = self.conv.instructions(self.conv.agent).text
            params = ResponseParams(instructions=instructions + note)
            if block.unspeakable:
                params.tool_choice = "none"
            await self.request(params)
        elif block.unspeakable:
            await self._fall_back()
        else:
            self.emit(app.TurnDone(agent=self.conv.agent.name))

    async def _fall_back(self) -> None:
        """Say the fallback line (once per turn), so the caller is not left in silence.

        Text is published as it is; a voice session has the model speak it, alone, with no
        tools and none of the conversation in its prompt.
        """
        agent = self.conv.agent.name
        line = self.conv.settings.fallback_line
        if not self.policy.take_fallback():
            self.emit(app.TurnDone(agent=agent))
        else:
            await self.driver.say(line, dict(FALLBACK))

    async def _run_calls(self, calls: list[FunctionCallItem], caller_spoke: Floor) -> None:
        for call in calls:
            await self._run_call(call)
        if caller_spoke():
            # The caller spoke during the tools: their new turn gets the response, with the
            # outputs above already in the conversation.
            self.emit(app.TurnDone(agent=self.conv.agent.name))
            return
        await self.request(self.policy.next_response())

    async def _run_call(self, call: FunctionCallItem) -> None:
        agent = self.conv.agent.name
        call = self._repaired(call)
        self.emit(
            app.ToolCalled(
                agent=agent, name=call.name, arguments=call.arguments, call_id=call.call_id
            )
        )
        self.conv.remember("tool_call", f"{call.name}({call.arguments})", name=call.name)
        reused = self.policy.repeat_of(call.name, call.arguments)
        outcome, target = (reused, None) if reused is not None else await self._outcome(call)
        self.policy.record(call.name, call.arguments, outcome)
        for argument, value in outcome.ungrounded:
            self.emit(
                app.ArgumentRefused(agent=agent, name=call.name, argument=argument, value=value)
            )
        self.conv.remember("tool_result", outcome.output, name=call.name, ok=outcome.ok)
        shown = for_model(outcome.output, self.conv.settings.tool_output_chars)
        self.emit(
            app.ToolResult(
                agent=agent,
                name=call.name,
                call_id=call.call_id,
                output=outcome.output,
                ok=outcome.ok,
                reused=True if reused is not None else None,
                shown=shown if shown != outcome.output else None,
            )
        )
        output = FunctionCallOutputItem(call_id=call.call_id, output=shown)
        await self.send(ev.ConversationItemCreate(item=output))
        if target is None and reused is None:
            self.conv.advance(call.name, succeeded(outcome))  # the next request sends the step
        if target is not None:
            # after the output, so the engine warms the new agent with the whole handoff
            self.policy.record_handoff()
            await self.switch(target, handoff_reason(call.arguments))

    async def _outcome(self, call: FunctionCallItem) -> tuple[ToolOutcome, Agent | None]:
        """Run the call (or refuse it); the handoff target when a transfer succeeded."""
        offered = self.conv.offered(self.conv.agent)
        if call.name not in offered and (self.conv.agent.steps or not is_handoff(call.name)):
            known = ", ".join(offered) or "none"
            return error_output(f"there is no tool {call.name!r}; available tools: {known}"), None
        if is_handoff(call.name):
            decision = decide_handoff(
                self.conv.scenario,
                self.conv.agent,
                call,
                again=self.policy.handed_off,
                at=time.time(),
                turn=self.driver.turn,
                last=last_handoff(self.conv.handoffs),
                caller_words=self._caller_words(),
            )
            self.conv.handoffs.append(decision.record)
            return decision.outcome, decision.target
        return await self._call_tool(call), None

    def _repaired(self, call: FunctionCallItem) -> FunctionCallItem:
        """The call with grounded values the model garbled taken from the caller's last words."""
        tool = next((t for t in self.conv.agent.tools if t.name == call.name), None)
        if tool is None or not tool.grounded:
            return call
        try:
            args = json.loads(call.arguments or "{}")
        except json.JSONDecodeError:
            return call
        if not isinstance(args, dict):
            return call
        # values only from this turn's words: an earlier one may have been corrected since
        text = self.conv.context().grounding_text()
        fixed = repair_arguments(args, tool.grounded, tool.parameters, text, self._caller_words())
        if fixed == args:
            return call
        log.info("%s: grounded values repaired from the caller's words", call.name)
        return call.model_copy(update={"arguments": json.dumps(fixed, ensure_ascii=False)})

    def _caller_words(self) -> str:
        """What the caller said last (this turn's words, once transcribed)."""
        return next((e.text for e in reversed(self.conv.history) if e.role == "user"), "")

    async def _call_tool(self, call: FunctionCallItem) -> ToolOutcome:
        agent = self.conv.agent
        tool = next(t for t in agent.tools if t.name == call.name)  # offered, so it exists
        timeout = self.conv.settings.tool_timeout_s
        return await run_tool(tool, call.arguments, self.conv.context(), timeout)


def last_handoff(records: list[HandoffRecord]) -> HandoffRecord | None:
    """The latest handoff that succeeded, if any."""
    return next((r for r in reversed(records) if r.success), None)


def succeeded(outcome: ToolOutcome) -> bool:
    """The call ran and its result is not an `{"error": ...}` object."""
    if not outcome.ok:
        return False
    try:
        value = json.loads(outcome.output)
    except json.JSONDecodeError:
        return True
    return not (isinstance(value, dict) and "error" in value)
