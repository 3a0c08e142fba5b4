"""Output guardrails: classify assistant text before the user sees or hears it."""

from __future__ import annotations

import inspect
import re
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import Literal, Protocol, runtime_checkable

from voxrelay.agents.context import RunContext

Category = Literal["OFFENSIVE", "OFF_BRAND", "VIOLENCE", "NONE"] | str


@dataclass(frozen=True)
class GuardrailResult:
    """The verdict on one piece of assistant text."""

    tripped: bool
    category: Category = "NONE"
    rationale: str = ""


@runtime_checkable
class OutputGuardrail(Protocol):
    """Anything with a name and an async `check(text, ctx)`."""

    name: str

    async def check(self, text: str, ctx: RunContext) -> GuardrailResult: ...


GuardrailFn = Callable[[str, RunContext], GuardrailResult | Awaitable[GuardrailResult]]


@dataclass(frozen=True)
class FunctionGuardrail:
    """A guardrail backed by a plain (sync or async) function."""

    name: str
    fn: GuardrailFn

    async def check(self, text: str, ctx: RunContext) -> GuardrailResult:
        """Run the function, awaiting it if needed."""
        result = self.fn(text, ctx)
        if inspect.isawaitable(result):
            return await result
        return result


def output_guardrail(fn: GuardrailFn) -> FunctionGuardrail:
    """Decorate `fn(text, ctx) -> GuardrailResult` to make an output guardrail."""
    return FunctionGuardrail(name=fn.__name__, fn=fn)


@dataclass(frozen=True)
class KeywordGuardrail:
    """Trips when any pattern (case-insensitive regex) occurs in the text."""

    name: str
    category: Category
    patterns: tuple[str, ...]
    rationale: str = "matched a blocked phrase"

    @classmethod
    def of(cls, name: str, category: Category, patterns: Iterable[str]) -> KeywordGuardrail:
        """Build from any iterable of patterns."""
        return cls(name=name, category=category, patterns=tuple(patterns))

    async def check(self, text: str, ctx: RunContext) -> GuardrailResult:
        """Search every pattern in the text."""
        for pattern in self.patterns:
            match = re.search(pattern, text, flags=re.IGNORECASE)
            if match:
                return GuardrailResult(True, self.category, f"{self.rationale}: {match[0]!r}")
        return GuardrailResult(False)
