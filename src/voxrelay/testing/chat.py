"""ScriptedChatModel: a ChatModel fake that plays a script and checks every call."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass, field

from voxrelay.models.base import (
    Message,
    ModelSettings,
    StreamItem,
    TextDelta,
    ToolCall,
    ToolChoice,
    ToolSpec,
    Usage,
)
from voxrelay.testing.checks import ScriptedFake, ScriptError

Check = Callable[[Sequence[Message], Sequence[ToolSpec]], None]


@dataclass
class Step:
    """One scripted generation: what to emit, and optional checks on the request."""

    text: str = ""
    calls: list[tuple[str, str]] = field(default_factory=list)
    """(tool name, JSON arguments) to emit as tool calls."""
    expect_tools: list[str] | None = None
    """If set, the request must offer exactly these tool names (order ignored)."""
    expect_in_prompt: list[str] = field(default_factory=list)
    """Strings that must occur somewhere in the request's messages."""
    check: Check | None = None
    """Called with the request; an exception it raises is a failed expectation."""
    delay_s: float = 0.0
    """Sleep before each emitted item (for cancel and timeout tests)."""
    raises: Exception | None = None
    """Raise this from the stream instead of emitting (for model-failure tests)."""


def say(text: str, **kw: object) -> Step:
    """A step that answers in text."""
    return Step(text=text, **kw)  # type: ignore[arg-type]


def call(name: str, arguments: str = "{}", **kw: object) -> Step:
    """A step that calls one tool."""
    return Step(calls=[(name, arguments)], **kw)  # type: ignore[arg-type]


class ScriptedChatModel(ScriptedFake):
    """Plays `steps` in order, one per `stream()` call; fails loudly on anything unplanned."""

    def __init__(self, steps: Sequence[Step]) -> None:
        super().__init__()
        self.steps = list(steps)
        self.requests: list[tuple[list[Message], list[ToolSpec], ToolChoice]] = []
        self._ids = itertools.count(1)
        self._requested = asyncio.Event()

    def stream(
        self,
        messages: Sequence[Message],
        tools: Sequence[ToolSpec] = (),
        tool_choice: ToolChoice = "auto",
        settings: ModelSettings | None = None,
    ) -> AsyncIterator[StreamItem]:
        """Check the request against the next step and stream that step."""
        self.check_call()
        if not self.steps:
            raise self.fail(f"unexpected ChatModel call #{len(self.requests) + 1}: script done")
        step = self.steps.pop(0)
        self.requests.append((list(messages), list(tools), tool_choice))
        self._requested.set()
        self._check(step, messages, tools)
        if step.calls and tool_choice == "none":
            raise self.fail(f"step calls {step.calls[0][0]} but the request says tool_choice=none")
        return self._play(step)

    def _check(self, step: Step, messages: Sequence[Message], tools: Sequence[ToolSpec]) -> None:
        if step.expect_tools is not None:
            got = sorted(t.name for t in tools)
            if got != sorted(step.expect_tools):
                raise self.fail(f"expected tools {sorted(step.expect_tools)}, got {got}")
        prompt = "\n".join(m.content for m in messages)
        for needle in step.expect_in_prompt:
            if needle not in prompt:
                raise self.fail(f"expected {needle!r} in the prompt:\n{prompt}")
        if step.check:
            try:
                step.check(messages, tools)
            except Exception as exc:
                raise self.fail(f"step check failed: {exc!r}") from exc

    async def _play(self, step: Step) -> AsyncIterator[StreamItem]:
        if step.raises is not None:
            await asyncio.sleep(step.delay_s)
            raise step.raises
        words = step.text.split(" ") if step.text else []
        for i, word in enumerate(words):
            await asyncio.sleep(step.delay_s)
            yield TextDelta(word if i == 0 else " " + word)
        for name, arguments in step.calls:
            await asyncio.sleep(step.delay_s)
            yield ToolCall(call_id=f"call_{next(self._ids)}", name=name, arguments=arguments)
        yield Usage(input_tokens=10, output_tokens=max(1, len(words)))

    async def requested(self, count: int = 1, timeout_s: float = 10) -> None:
        """Wait until the model has been called `count` times in all."""
        async with asyncio.timeout(timeout_s):
            while len(self.requests) < count:
                self._requested.clear()
                await self._requested.wait()

    def unplayed(self) -> str:
        """How many scripted steps were never used, in words."""
        return f"{len(self.steps)} scripted step(s) were never used" if self.steps else ""


__all__ = ["ScriptError", "ScriptedChatModel", "Step", "call", "say"]
