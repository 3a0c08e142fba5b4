"""EventLog: reads an event stream on an owned task so a test waits on conditions, not sleeps."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterable, Callable
from typing import Generic, Self, TypeVar

T = TypeVar("T")


class EventLog(Generic[T]):
    """Every item of `source` in arrival order, read by a task that `aclose()` cancels."""

    def __init__(self, source: AsyncIterable[T]) -> None:
        self.items: list[T] = []
        """Everything read so far."""
        self.ended = False
        """Whether the source has ended."""
        self._taken = 0
        self._changed = asyncio.Event()
        self._task = asyncio.create_task(self._read(source), name="event log")

    async def _read(self, source: AsyncIterable[T]) -> None:
        try:
            async for item in source:
                self.items.append(item)
                self._changed.set()
        finally:
            self.ended = True
            self._changed.set()

    async def until(self, condition: Callable[[list[T]], bool], timeout_s: float = 10) -> list[T]:
        """Wait until `condition(items)` holds; fail after `timeout_s` or when the source ends."""
        async with asyncio.timeout(timeout_s):
            while not condition(self.items):
                if self.ended:
                    self._task.result()  # a reader error surfaces here
                    raise AssertionError(f"the stream ended first; it held {self.items!r}")
                self._changed.clear()
                await self._changed.wait()
        return self.items

    async def settle(self) -> list[T]:
        """Let the reader take everything the source has ready now (it drains in one step)."""
        for _ in range(3):
            await asyncio.sleep(0)
        return self.items

    async def take(self) -> list[T]:
        """The items that arrived since the last `take()`, once the reader has settled."""
        await self.settle()
        new = self.items[self._taken :]
        self._taken = len(self.items)
        return new

    async def aclose(self) -> None:
        """Stop reading."""
        self._task.cancel()
        await asyncio.gather(self._task, return_exceptions=True)

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()


__all__ = ["EventLog"]
