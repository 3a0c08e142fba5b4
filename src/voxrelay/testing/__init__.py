"""Scripted fakes for testing code built on voxrelay; they check their own scripts.

Every fake (`ScriptedChatModel`, `ScriptedSTT`, `ScriptedTTS`, `ScriptedVAD`) records each
failed expectation in `fake.failures` when it raises, so a failure counts even where the code
under test turns the exception into data (a `failed` response, a `transcription.failed`
event). `fake.check()` raises if any was recorded; `fake.assert_complete()` also raises if
scripted steps were never played. `watch_fakes()` collects the fakes built inside it; the test
suite's conftest keeps one open around every test and fails the test on any recorded failure,
unless the test called `fake.expect_failures()` because it provokes them on purpose.

Sabotage: with `VOXRELAY_TESTING_SABOTAGE=1` in the environment every call to a scripted fake
fails its expectation check. Run the suite that way to see that each test using a fake can fail:

    VOXRELAY_TESTING_SABOTAGE=1 .venv/bin/python -m pytest -q -m "not real"

`virtual_time()` runs the current event loop on a fast-forward clock, so scripted delays and
timeouts take no real time; `EventLog` reads an event stream on an owned task so a test waits
for a condition instead of sleeping.
"""

from voxrelay.testing.chat import ScriptedChatModel, Step, call, say
from voxrelay.testing.checks import (
    SABOTAGE_ENV,
    FakeWatch,
    ScriptedFake,
    ScriptError,
    sabotaged,
    watch_fakes,
)
from voxrelay.testing.clock import VirtualClock, virtual_time
from voxrelay.testing.events import EventLog
from voxrelay.testing.speech import Heard, ScriptedSTT, ScriptedTTS, ScriptedVAD

__all__ = [
    "SABOTAGE_ENV",
    "EventLog",
    "FakeWatch",
    "Heard",
    "ScriptError",
    "ScriptedChatModel",
    "ScriptedFake",
    "ScriptedSTT",
    "ScriptedTTS",
    "ScriptedVAD",
    "Step",
    "VirtualClock",
    "call",
    "sabotaged",
    "say",
    "virtual_time",
    "watch_fakes",
]
