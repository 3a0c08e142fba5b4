"""voxrelay.testing itself: fakes record their failures, the suite's check, sabotage, time."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest

from voxrelay.models.base import Message
from voxrelay.testing import (
    SABOTAGE_ENV,
    EventLog,
    ScriptedChatModel,
    ScriptedSTT,
    ScriptedTTS,
    ScriptedVAD,
    ScriptError,
    Step,
    say,
    virtual_time,
    watch_fakes,
)

HI = [Message("user", "hi")]


async def swallow(model: ScriptedChatModel) -> None:
    """What an engine does with a model error: turn it into data and carry on."""
    try:
        [item async for item in model.stream(HI)]
    except Exception:
        pass


async def test_a_swallowed_failure_is_recorded_and_checked() -> None:
    with watch_fakes() as watch:
        model = ScriptedChatModel([say("ok", expect_in_prompt=["password"])])
        await swallow(model)
    assert watch.fakes == [model]
    assert [str(f) for f in model.failures] == [
        "ScriptedChatModel: expected 'password' in the prompt:\nhi"
    ]
    with pytest.raises(ScriptError, match="1 scripted-fake expectation"):
        model.check()
    with pytest.raises(ScriptError, match="expected 'password'"):
        watch.check()
    watch.check()  # each failure is reported once


async def test_expected_failures_are_left_out_of_the_checks() -> None:
    with watch_fakes() as watch:
        model = ScriptedChatModel([]).expect_failures()
        await swallow(model)
    assert len(model.failures) == 1 and "script done" in str(model.failures[0])
    model.assert_complete()
    watch.check()


async def test_a_failing_step_check_is_a_failure_and_raises_is_not() -> None:
    def no_hello(messages: object, tools: object) -> None:
        raise AssertionError("no hello")

    model = ScriptedChatModel([Step(check=no_hello), Step(raises=RuntimeError("down"))])
    with pytest.raises(ScriptError, match="no hello"):
        model.stream(HI)
    with pytest.raises(RuntimeError, match="down"):
        [item async for item in model.stream(HI)]
    assert len(model.failures) == 1  # the scripted model failure is not an expectation
    model.expect_failures()


def test_assert_complete_names_what_was_never_played() -> None:
    with pytest.raises(ScriptError, match="1 scripted step"):
        ScriptedChatModel([say("never")]).assert_complete()
    with pytest.raises(ScriptError, match="2 scripted VAD frame"):
        ScriptedVAD([0.1, 0.2]).assert_complete()
    with pytest.raises(ScriptError, match="1 scripted transcription"):
        ScriptedSTT(["hi"]).assert_complete()
    with pytest.raises(ScriptError, match="never spoke"):
        ScriptedTTS(expect=["Hi."]).assert_complete()


async def test_sabotage_fails_every_fake(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(SABOTAGE_ENV, "1")
    chat, stt = ScriptedChatModel([say("ok")]), ScriptedSTT(["hi"])
    tts, vad = ScriptedTTS(), ScriptedVAD([0.5])
    fakes = [chat, stt, tts, vad]
    for fake in fakes:
        fake.expect_failures()
    with pytest.raises(ScriptError, match="sabotaged"):
        chat.stream(HI)
    with pytest.raises(ScriptError, match="sabotaged"):
        await stt.transcribe(bytes(3200), 16000)
    with pytest.raises(ScriptError, match="sabotaged"):
        tts.synthesize("Hi.")
    with pytest.raises(ScriptError, match="sabotaged"):
        vad.probability(bytes(1024))
    assert [len(f.failures) for f in fakes] == [1, 1, 1, 1]


SWALLOWING_TEST = """
from voxrelay.models.base import Message
from voxrelay.testing import ScriptedChatModel, say

async def test_swallows():
    model = ScriptedChatModel([say("ok", expect_tools=["lookup"])])
    try:
        [item async for item in model.stream([Message("user", "hi")])]
    except Exception:
        pass  # the code under test turned the error into data

async def test_swallows_on_purpose():
    model = ScriptedChatModel([]).expect_failures()
    try:
        model.stream([Message("user", "hi")])
    except Exception:
        pass
"""


def test_the_suite_fails_a_test_whose_fake_error_was_swallowed(
    pytester: pytest.Pytester,
) -> None:
    pytester.makeconftest((Path(__file__).parent / "conftest.py").read_text())
    pytester.makepyfile(test_swallowing=SWALLOWING_TEST)
    result = pytester.runpytest(
        "-p",
        "no:cacheprovider",
        "-o",
        "asyncio_mode=auto",
        "-o",
        "asyncio_default_fixture_loop_scope=function",
    )
    result.assert_outcomes(passed=1, failed=1)
    assert "ScriptedChatModel: expected tools ['lookup'], got []" in result.stdout.str()


async def test_virtual_time_skips_timer_waits() -> None:
    model = ScriptedChatModel([say("one two three", delay_s=10)])
    started = time.monotonic()
    with virtual_time() as clock:
        loop_started = asyncio.get_running_loop().time()
        items = [item async for item in model.stream(HI)]
        async with asyncio.timeout(5):
            await asyncio.sleep(4)
        waited = asyncio.get_running_loop().time() - loop_started
    assert len(items) == 4 and waited == pytest.approx(34, abs=0.5)
    assert clock.skipped_s == pytest.approx(34, abs=0.5)
    assert time.monotonic() - started < 2


async def test_event_log_waits_for_a_condition() -> None:
    async def numbers():
        for n in range(5):
            await asyncio.sleep(1)
            yield n

    with virtual_time():
        async with EventLog(numbers()) as log:
            assert await log.until(lambda items: 2 in items) == [0, 1, 2]
            assert await log.take() == [0, 1, 2]
            await log.until(lambda items: len(items) == 5)
            assert await log.take() == [3, 4]
            with pytest.raises(AssertionError, match="ended first"):
                await log.until(lambda items: 9 in items)
