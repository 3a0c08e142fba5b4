"""Run eval cases against a ChatModel: a fresh Session per case, one loaded model throughout."""

from __future__ import annotations

import asyncio
import copy
import time
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass
from typing import Any

from voxrelay import assembly
from voxrelay.agents import Scenario
from voxrelay.agents.agent import HANDOFF_PREFIX
from voxrelay.config import Settings, get_settings
from voxrelay.evals.cases import Case
from voxrelay.evals.scoring import (
    Call,
    Event,
    GroundedParams,
    Invented,
    Turn,
    Verdict,
    conversation_text,
    invented_arguments,
    parse_arguments,
    score,
)
from voxrelay.models.base import (
    ChatModel,
    Message,
    ModelSettings,
    StreamItem,
    ToolCall,
    ToolChoice,
    ToolSpec,
)
from voxrelay.scenarios.telco_tools import SUPERVISOR_TOOLS
from voxrelay.session import Session

CASE_TIMEOUT_S = 180.0
"""A scored turn that takes longer fails with a timeout (the supervisor loop is the slow part)."""


@dataclass(frozen=True)
class CaseResult:
    """One case run on one model."""

    case: Case
    model: str
    verdict: Verdict
    seconds: float
    """Wall time of the whole case: session start, prior turns and the scored turn."""
    supervisor_invented: tuple[Invented, ...] = ()
    """Grounded arguments the chat supervisor's own tool calls made up (run inside a tool)."""


class RecordingChatModel:
    """Passes generations through to a ChatModel and records the tool calls it makes."""

    def __init__(self, inner: ChatModel) -> None:
        self.inner = inner
        self.calls: list[ToolCall] = []

    async def stream(
        self,
        messages: Sequence[Message],
        tools: Sequence[ToolSpec] = (),
        tool_choice: ToolChoice = "auto",
        settings: ModelSettings | None = None,
    ) -> AsyncIterator[StreamItem]:
        """The inner model's stream, noting each ToolCall."""
        async for item in self.inner.stream(messages, tools, tool_choice, settings):
            if isinstance(item, ToolCall):
                self.calls.append(item)
            yield item


def open_session(
    chat: ChatModel,
    scenario: str,
    *,
    agent: str | None = None,
    state: dict[str, Any] | None = None,
    settings: Settings | None = None,
) -> tuple[Session, RecordingChatModel]:
    """A fresh in-process Session on `chat`, and the recorder of the supervisor's calls."""
    supervisor = RecordingChatModel(chat)
    session = assembly.build_session(
        settings or get_settings(),
        scenario,
        agent=agent,
        backend="local",
        engines=assembly.LocalEngines(chat),
        helper=supervisor,
        state=copy.deepcopy(state or {}),
    )
    return session, supervisor


def supervisor_inventions(
    supervisor: RecordingChatModel, conversation: str, grounded: GroundedParams
) -> tuple[Invented, ...]:
    """Grounded arguments the chat supervisor's own tool calls made up."""
    calls = [Call("supervisor", c.name, parse_arguments(c.arguments)) for c in supervisor.calls]
    return tuple(invented_arguments(calls, [], conversation, grounded))


async def run_case(
    case: Case,
    chat: ChatModel,
    model_name: str,
    *,
    settings: Settings | None = None,
    timeout_s: float = CASE_TIMEOUT_S,
) -> CaseResult:
    """Run one case in a fresh Session over `chat` (always in process) and score it."""
    session, supervisor = open_session(
        chat, case.scenario, agent=case.agent, state=case.state, settings=settings
    )
    turn = Turn(grounded=grounded_params(session.scenario))
    before: list[Event] = []
    started = time.perf_counter()
    async with session:
        session.pending()  # the greeting
        try:
            async with asyncio.timeout(timeout_s):
                for text in case.prior:
                    before += [e.to_json_dict() for e in await session.run_turn(text)]
                supervisor.calls.clear()
                await collect_turn(session, case, turn)
        except TimeoutError:
            turn.events.append(timeout_event(timeout_s))
    seconds = time.perf_counter() - started
    turn.conversation = conversation_text([*before, *turn.events])
    return CaseResult(
        case=case,
        model=model_name,
        verdict=score(case, turn),
        seconds=seconds,
        supervisor_invented=supervisor_inventions(supervisor, turn.conversation, turn.grounded),
    )


def timeout_event(timeout_s: float) -> Event:
    """The error event a turn that ran too long is scored with."""
    return {"type": "error", "text": f"timed out after {timeout_s:.0f} s"}


def grounded_params(scenario: Scenario) -> dict[str, tuple[str, ...]]:
    """Each tool's grounded parameters: the agents' tools and the chat supervisor's."""
    tools = [t for a in scenario.agents for t in scenario.tools_for(a)] + SUPERVISOR_TOOLS
    return {t.name: t.grounded for t in tools if t.grounded}


async def collect_turn(session: Session, case: Case, turn: Turn) -> None:
    """Send the case's message and gather app events until the verdict cannot change."""
    await session.send_text(case.message)
    stream = session.events()
    while True:
        turn.events.append((await anext(stream)).to_json_dict())
        if settled(case, turn.events, turn.grounded):
            break
    for _ in range(3):  # let events emitted right after the deciding one arrive
        await asyncio.sleep(0)
    turn.events.extend(e.to_json_dict() for e in session.pending())


def settled(case: Case, events: Sequence[Event], grounded: GroundedParams) -> bool:
    """Whether the events seen so far decide the case (so the rest of the turn can be skipped).

    A call of a tool without grounded parameters decides a tool or routing case before it
    runs, which skips slow tools (the chat supervisor's whole loop) when nothing about their
    execution is scored. Handoffs run on, so that `agent_changed` is seen.
    """
    event = events[-1]
    last = event.get("type")
    x = case.expect
    if last == "turn_done":
        return True
    if x.not_tool:
        return False  # a later step of the turn might still execute it
    if x.reply_matching or x.reply_not_matching:
        return last == "assistant_message"
    name = str(event.get("name", ""))
    handoff = name.startswith(HANDOFF_PREFIX)
    if last == "tool_call" and (x.no_tool or not (handoff or grounded.get(name))):
        return True
    if last == "tool_result":
        return not (handoff and event.get("ok", True))
    return last == "agent_changed"


async def run_cases(
    cases: Sequence[Case],
    chat: ChatModel,
    model_name: str,
    *,
    settings: Settings | None = None,
    on_result: Callable[[CaseResult], None] | None = None,
) -> list[CaseResult]:
    """Run cases one after another on one loaded model (its prompt cache carries over)."""
    results = []
    for case in cases:
        result = await run_case(case, chat, model_name, settings=settings)
        results.append(result)
        if on_result is not None:
            on_result(result)
    return results
