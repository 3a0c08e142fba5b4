"""Self-checking fakes: each records its failed expectations, and a watch collects the fakes.

Code under test often turns an exception into data (a `failed` response, a
`transcription.failed` event), so a fake's `ScriptError` may never reach the test. Each fake
therefore records every failure in `fake.failures` at the moment it raises, and a
`FakeWatch` (which the test suite keeps open around every test) lists the fakes built while it
is open, so the harness can fail a test whose fake was called wrongly.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Self

from voxrelay.errors import VoxrelayError

SABOTAGE_ENV = "VOXRELAY_TESTING_SABOTAGE"
"""Set to 1 to make every scripted fake's expectation check fail (proves the tests can fail)."""


class ScriptError(VoxrelayError, AssertionError):
    """The code under test called a fake in a way its script did not allow."""


def sabotaged() -> bool:
    """Whether `VOXRELAY_TESTING_SABOTAGE=1` asks every fake's check to fail."""
    return os.environ.get(SABOTAGE_ENV) == "1"


class ScriptedFake:
    """Base of the scripted fakes: records each failed expectation as it raises."""

    def __init__(self) -> None:
        self.failures: list[ScriptError] = []
        """Every expectation that failed, in order, whether or not the error was caught."""
        self.failures_expected = False
        """Set by `expect_failures()`: the end-of-test check then skips this fake."""
        _watches.register(self)

    def fail(self, message: str) -> ScriptError:
        """Record a failed expectation and return the error for the caller to raise."""
        error = ScriptError(f"{type(self).__name__}: {message}")
        self.failures.append(error)
        return error

    def check_call(self) -> None:
        """The check every call passes first: fails only under the sabotage switch."""
        if sabotaged():
            raise self.fail(f"sabotaged by {SABOTAGE_ENV}=1")

    def expect_failures(self) -> Self:
        """Declare that the test provokes this fake's failures on purpose; checks skip them."""
        self.failures_expected = True
        return self

    def check(self) -> None:
        """Raise if any expectation failed, even one the code under test swallowed."""
        if self.failures and not self.failures_expected:
            raise ScriptError(_summary(self.failures))

    def assert_complete(self) -> None:
        """Raise if any expectation failed or any scripted step was never played."""
        self.check()
        if left := self.unplayed():
            raise ScriptError(f"{type(self).__name__}: {left}")

    def unplayed(self) -> str:
        """What the script still holds, in words ("" once it is all played)."""
        return ""


class FakeWatch:
    """The fakes built while the watch is open; `check()` raises each unexpected failure once."""

    def __init__(self) -> None:
        self.fakes: list[ScriptedFake] = []
        self._reported: set[int] = set()

    def unreported(self) -> list[ScriptError]:
        """Failures of fakes not marked `expect_failures()` that no check has raised yet."""
        return [
            failure
            for fake in self.fakes
            if not fake.failures_expected
            for failure in fake.failures
            if id(failure) not in self._reported
        ]

    def mark_reported(self) -> None:
        """Count every failure so far as reported (the test already failed)."""
        self._reported.update(id(f) for fake in self.fakes for f in fake.failures)

    def check(self) -> None:
        """Raise one ScriptError naming every unexpected failure not reported before."""
        failures = self.unreported()
        self.mark_reported()
        if failures:
            raise ScriptError(_summary(failures))


class _Watches:
    """The open watches, innermost last; a new fake joins the innermost."""

    def __init__(self) -> None:
        self.open: list[FakeWatch] = []

    def register(self, fake: ScriptedFake) -> None:
        """Add `fake` to the innermost open watch, if any."""
        if self.open:
            self.open[-1].fakes.append(fake)


_watches = _Watches()


@contextmanager
def watch_fakes() -> Iterator[FakeWatch]:
    """Collect every scripted fake built inside the block."""
    watch = FakeWatch()
    _watches.open.append(watch)
    try:
        yield watch
    finally:
        _watches.open.remove(watch)


def _summary(failures: list[ScriptError]) -> str:
    lines = "\n".join(f"  - {failure}" for failure in failures)
    return (
        f"{len(failures)} scripted-fake expectation(s) failed (the code under test may have "
        f"caught them); fix the code or the script, or call expect_failures():\n{lines}"
    )


__all__ = [
    "SABOTAGE_ENV",
    "FakeWatch",
    "ScriptError",
    "ScriptedFake",
    "sabotaged",
    "watch_fakes",
]
