"""Prompt warm-ups: a Warmable chat model evaluates prompts before a response needs them."""

from __future__ import annotations

import logging
from collections.abc import Sequence

from voxrelay.engine.conversation import to_messages
from voxrelay.models.base import ChatModel, Message, ToolSpec, Warmable, tool_specs
from voxrelay.realtime.model import WarmPlan
from voxrelay.tasks import TaskSet

log = logging.getLogger(__name__)


class PromptWarmer:
    """Runs a chat model's warm-ups in tasks it owns; does nothing for a model that can't warm."""

    def __init__(self, chat: ChatModel) -> None:
        self._chat = chat if isinstance(chat, Warmable) else None
        self._tasks = TaskSet()
        self._closed = False

    def warm(self, messages: list[Message], tools: list[ToolSpec]) -> None:
        """Evaluate the session's new prompt now."""
        if self._chat is not None and not self._closed:
            self._tasks.spawn(_warm_quietly(self._chat, messages, tools), name="warm")

    def prewarm(self, plans: Sequence[WarmPlan]) -> None:
        """Evaluate prompts the session may switch to later, in order, yielding to responses."""
        if self._chat is not None and plans and not self._closed:
            self._tasks.spawn(_prewarm(self._chat, plans), name="prewarm")

    async def wait(self) -> None:
        """Wait until the warm-ups started so far have finished."""
        await self._tasks.wait()

    async def close(self) -> None:
        """Cancel and await every warm-up; start no more."""
        self._closed = True
        await self._tasks.cancel_and_wait()


async def _prewarm(chat: Warmable, plans: Sequence[WarmPlan]) -> None:
    for config, items in plans:
        messages = to_messages(config.instructions or "", items)
        tools = tool_specs(config.tools or [])
        await _warm_quietly(chat, messages, tools, background=True)


async def _warm_quietly(
    chat: Warmable, messages: list[Message], tools: list[ToolSpec], background: bool = False
) -> None:
    try:
        await chat.warm(messages, tools, background=background)
    except Exception:
        log.warning("prompt warm-up failed; the next response evaluates it instead", exc_info=True)
