"""A fast-forward clock for the running event loop: waiting on a timer takes no real time.

Inside `virtual_time()`, whenever the loop has nothing ready and would block until its next
timer (an `asyncio.sleep`, a scripted `delay_s`, an `asyncio.timeout`), the clock jumps to
that timer instead. Timers still fire in order, so a scripted 30 s call runs in milliseconds.
Use it where everything the test waits for runs on the loop (scripted fakes, in-process
engines); work in threads or on real sockets would see time jump while it is still running.
"""

from __future__ import annotations

import asyncio
import selectors
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from voxrelay.errors import ConfigError


class VirtualClock:
    """Monotonic time plus every wait skipped so far."""

    def __init__(self) -> None:
        self.skipped_s = 0.0
        """Seconds of timer waits skipped instead of slept."""

    def time(self) -> float:
        """The loop's time: real monotonic time plus the skipped waits."""
        return time.monotonic() + self.skipped_s

    def advance(self, seconds: float) -> None:
        """Move the clock forward without waiting."""
        self.skipped_s += seconds


class _SkippingSelector:
    """The loop's selector, which polls I/O and jumps the clock instead of blocking on a timer."""

    def __init__(self, real: selectors.BaseSelector, clock: VirtualClock) -> None:
        self.real = real
        self.clock = clock

    def select(self, timeout: float | None = None) -> list[tuple[selectors.SelectorKey, int]]:
        """Ready I/O now; with none, skip the `timeout` the loop would have slept."""
        if timeout is None:  # no timer pending: only I/O can wake the loop
            return self.real.select(None)
        ready = self.real.select(0)
        if not ready and timeout > 0:
            self.clock.advance(timeout)
        return ready

    def __getattr__(self, name: str) -> Any:
        return getattr(self.real, name)


@contextmanager
def virtual_time() -> Iterator[VirtualClock]:
    """Run the current event loop on a fast-forward clock inside the block."""
    loop = asyncio.get_running_loop()
    real = getattr(loop, "_selector", None)
    if not isinstance(real, selectors.BaseSelector):
        raise ConfigError("virtual_time() needs asyncio's selector event loop (the default one)")
    clock = VirtualClock()
    clock.skipped_s = loop.time() - clock.time()  # start where the loop's clock is now
    setattr(loop, "time", clock.time)  # noqa: B010 - an instance override of the method
    setattr(loop, "_selector", _SkippingSelector(real, clock))  # noqa: B010
    try:
        yield clock
    finally:
        setattr(loop, "_selector", real)  # noqa: B010
        # loop.time stays on the clock: timers set inside must not move back in time


__all__ = ["VirtualClock", "virtual_time"]
