"""Run multi-turn tasks: a scripted caller talks to a fresh Session until the goal or the cap."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass

from voxrelay.config import Settings
from voxrelay.evals.caller import Caller
from voxrelay.evals.runner import (
    CASE_TIMEOUT_S,
    grounded_params,
    open_session,
    supervisor_inventions,
    timeout_event,
)
from voxrelay.evals.scoring import Event, Invented, conversation_text
from voxrelay.evals.task_scoring import TaskVerdict, goal_reached, score_task
from voxrelay.evals.tasks import Task
from voxrelay.models.base import ChatModel
from voxrelay.session.events import AppEventBase


@dataclass(frozen=True)
class TaskResult:
    """One task run on one model."""

    task: Task
    model: str
    verdict: TaskVerdict
    seconds: float
    """Wall time of the whole conversation."""
    turns: tuple[tuple[Event, ...], ...]
    """App events of each caller turn, the caller's message first."""
    supervisor_invented: tuple[Invented, ...] = ()
    """Grounded arguments the chat supervisor's own tool calls made up (run inside a tool)."""


async def run_task(
    task: Task,
    chat: ChatModel,
    model_name: str,
    *,
    settings: Settings | None = None,
    turn_timeout_s: float = CASE_TIMEOUT_S,
) -> TaskResult:
    """Play the task's caller against a fresh Session on `chat` and score the conversation."""
    session, supervisor = open_session(
        chat, task.scenario, agent=task.agent, state=task.state, settings=settings
    )
    grounded = grounded_params(session.scenario)
    caller = Caller(task.facts, task.rules, task.fallback)
    turns: list[list[Event]] = []
    started = time.perf_counter()
    async with session:
        session.pending()  # the greeting
        stream = session.events()
        line = task.opening
        while len(turns) < task.max_turns:
            await session.send_text(line)
            events, finished = await collect_turn(stream, turn_timeout_s)
            turns.append(events)
            if not finished or goal_reached(task.success, [e for t in turns for e in t]):
                break
            line = caller.reply(last_reply(events))
    seconds = time.perf_counter() - started
    conversation = conversation_text(e for t in turns for e in t)
    return TaskResult(
        task=task,
        model=model_name,
        verdict=score_task(task, turns, grounded),
        seconds=seconds,
        turns=tuple(tuple(t) for t in turns),
        supervisor_invented=supervisor_inventions(supervisor, conversation, grounded),
    )


async def collect_turn(
    stream: AsyncIterator[AppEventBase], timeout_s: float
) -> tuple[list[Event], bool]:
    """One caller turn's app events, and whether the turn finished within `timeout_s`."""
    events: list[Event] = []
    try:
        async with asyncio.timeout(timeout_s):
            while True:
                event = (await anext(stream)).to_json_dict()
                events.append(event)
                if event.get("type") == "turn_done":
                    return events, True
    except StopAsyncIteration:
        events.append({"type": "error", "text": "the session ended during the turn"})
    except TimeoutError:
        events.append(timeout_event(timeout_s))
    return events, False


def last_reply(events: Sequence[Event]) -> str:
    """The turn's last assistant message ("" when the agent said nothing)."""
    replies = [e.get("text", "") for e in events if e.get("type") == "assistant_message"]
    return str(replies[-1]) if replies else ""


async def run_tasks(
    tasks: Sequence[Task],
    chat: ChatModel,
    model_name: str,
    *,
    settings: Settings | None = None,
    on_result: Callable[[TaskResult], None] | None = None,
) -> list[TaskResult]:
    """Run tasks one after another on one loaded model."""
    results = []
    for task in tasks:
        result = await run_task(task, chat, model_name, settings=settings)
        results.append(result)
        if on_result is not None:
            on_result(result)
    return results
