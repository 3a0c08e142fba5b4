"""The engine's asyncio driver: it owns every task, never deadlocks, and contains model faults."""

from __future__ import annotations

import asyncio
import base64
import logging
from collections.abc import AsyncIterator, Sequence

import pytest

from voxrelay.audio.pcm import silence
from voxrelay.engine import Engine
from voxrelay.engine.audio_out import Speaker
from voxrelay.engine.speech import SpeechStack
from voxrelay.models.base import Message, ModelSettings, StreamItem, ToolChoice, ToolSpec
from voxrelay.realtime import events as ev
from voxrelay.realtime.model import EngineHooks
from voxrelay.realtime.types import (
    AudioConfig,
    AudioFormat,
    AudioInput,
    AudioOutput,
    FunctionCallOutputItem,
    FunctionToolDef,
    InputText,
    MessageItem,
    SessionConfig,
    TurnDetection,
)
from voxrelay.tasks import TaskSet
from voxrelay.testing import (
    EventLog,
    ScriptedChatModel,
    ScriptedSTT,
    ScriptedTTS,
    ScriptedVAD,
    Step,
    call,
    say,
)

RATE = 24000
LOOKUP = FunctionToolDef(name="lookup", description="Look up.", parameters={"type": "object"})


def user(text: str) -> ev.ConversationItemCreate:
    return ev.ConversationItemCreate(item=MessageItem(role="user", content=[InputText(text=text)]))


def voice_session(create_response: bool, interrupt: bool = True) -> SessionConfig:
    pcm = AudioFormat(type="audio/pcm", rate=RATE)
    detection = TurnDetection(
        silence_duration_ms=500, create_response=create_response, interrupt_response=interrupt
    )
    return SessionConfig(
        output_modalities=["audio"],
        audio=AudioConfig(
            input=AudioInput(format=pcm, turn_detection=detection),
            output=AudioOutput(format=pcm, voice="alloy"),
        ),
    )


async def send_audio(engine: Engine, ms: int) -> None:
    pcm = silence(ms, RATE)
    size = RATE * 20 // 1000 * 2
    for i in range(0, len(pcm), size):
        audio = base64.b64encode(pcm[i : i + size]).decode()
        await engine.handle(ev.InputAudioBufferAppend(audio=audio))


def responses_done(n: int):
    return lambda events: sum(isinstance(e, ev.ResponseDone) for e in events) >= n


class WarmingChat(ScriptedChatModel):
    """A scripted chat model whose prompt warm-ups never end (until cancelled)."""

    def __init__(self, steps: Sequence[Step]) -> None:
        super().__init__(steps)
        self.warm_calls = 0

    async def warm(
        self, messages: Sequence[Message], tools: Sequence[ToolSpec] = (), *, background=False
    ) -> None:
        self.warm_calls += 1
        await asyncio.Event().wait()


class StuckSTT:
    """An STT that never answers (until cancelled)."""

    async def transcribe(self, pcm, sample_rate, *, language=None, prompt=""):
        await asyncio.Event().wait()


def engine_tasks(before: set[asyncio.Task]) -> set[asyncio.Task]:
    current = asyncio.current_task()
    return {t for t in asyncio.all_tasks() if t not in before and t is not current}


# ---- task ownership ----------------------------------------------------------------------------


async def test_close_leaves_no_task_during_speech_transcription_and_warm_ups():
    before = asyncio.all_tasks()
    chat = WarmingChat([Step(text="One. Two. Three. Four.", delay_s=0.01)])
    vad = ScriptedVAD.from_spans([(100, 700)], total_ms=10_000)
    stack = SpeechStack(stt=StuckSTT(), tts=ScriptedTTS(delay_s=30), vad=lambda: vad)
    engine = Engine(chat, speech=stack)
    log = EventLog(engine.events())
    await engine.start()
    session = voice_session(create_response=False, interrupt=False)
    await engine.handle(ev.SessionUpdate(session=session))
    await engine.handle(user("tell me"))
    await engine.handle(ev.ResponseCreate())
    await send_audio(engine, 1500)  # a committed turn whose transcription never ends
    engine.prewarm([(SessionConfig(instructions="Other agent."), [])])
    await log.until(lambda events: any(isinstance(e, ev.InputAudioBufferCommitted) for e in events))
    await log.until(
        lambda events: any(isinstance(e, ev.OutputAudioTranscriptDelta) for e in events)
    )
    assert engine.active_response is not None and chat.warm_calls == 2
    assert len(engine_tasks(before)) >= 6  # log, response, generation, speaker, stt, 2 warm-ups
    await engine.close()
    await log.until(lambda _: log.ended)
    await log.aclose()
    assert engine_tasks(before) == set()


async def test_close_during_a_response_waiting_for_its_transcript():
    before = asyncio.all_tasks()
    vad = ScriptedVAD.from_spans([(100, 700)], total_ms=10_000)
    stack = SpeechStack(stt=StuckSTT(), tts=ScriptedTTS(), vad=lambda: vad)
    engine = Engine(ScriptedChatModel([]), speech=stack)
    await engine.handle(ev.SessionUpdate(session=voice_session(create_response=True)))
    await send_audio(engine, 1500)
    assert engine.active_response is not None  # it waits for the transcript
    await engine.close()
    assert engine_tasks(before) == set()
    assert [e async for e in engine.events()][-1].type == "conversation.item.done"


async def test_events_after_close_start_nothing_that_outlives_it():
    before = asyncio.all_tasks()
    engine = Engine(ScriptedChatModel([]))
    await engine.close()
    await engine.handle(user("late"))
    await engine.handle(ev.ResponseCreate())
    await asyncio.sleep(0)
    assert engine_tasks(before) == set()


async def test_a_speaker_starts_no_task_until_started_by_its_owner():
    async def ignore(_: str) -> None:
        pass

    before = asyncio.all_tasks()
    speaker = Speaker(ScriptedTTS(), None, voice=None, on_text=ignore, on_audio=ignore)
    assert engine_tasks(before) == set()
    tasks = TaskSet()
    speaker.start(tasks)
    assert len(tasks) == 1
    await tasks.cancel_and_wait()
    assert engine_tasks(before) == set()


# ---- no deadlock with the smallest queue -------------------------------------------------------


async def test_queue_of_one_runs_text_turns_with_tools():
    engine = Engine(ScriptedChatModel([call("lookup"), say("It is sunny.")]), queue_size=1)
    log = EventLog(engine.events())
    async with asyncio.timeout(10):
        await engine.start()
        await engine.handle(ev.SessionUpdate(session=SessionConfig(tools=[LOOKUP])))
        await engine.handle(user("weather?"))
        await engine.handle(ev.ResponseCreate())
        events = await log.until(responses_done(1))
        (call_done,) = [e for e in events if isinstance(e, ev.FunctionCallArgumentsDone)]
        output = FunctionCallOutputItem(call_id=call_done.call_id, output="sunny")
        await engine.handle(ev.ConversationItemCreate(item=output))
        await engine.handle(ev.ResponseCreate())
        events = await log.until(responses_done(2))
    await engine.close()
    await log.aclose()
    done = [e for e in events if isinstance(e, ev.ResponseDone)]
    assert [d.response.status for d in done] == ["completed", "completed"]


async def test_queue_of_one_runs_a_voice_turn_with_barge_in():
    chat = ScriptedChatModel([Step(text="One two. Three four. Five six.", delay_s=0.01)])
    vad = ScriptedVAD.from_spans([(100, 700), (1600, 2200)], total_ms=10_000)
    tts = ScriptedTTS(delay_s=0.05)
    stack = SpeechStack(stt=ScriptedSTT(["hello", "stop"]), tts=tts, vad=lambda: vad)
    engine = Engine(chat, speech=stack, queue_size=1)
    log = EventLog(engine.events())
    async with asyncio.timeout(10):
        await engine.start()
        await engine.handle(ev.SessionUpdate(session=voice_session(create_response=False)))
        await send_audio(engine, 1500)
        await engine.handle(ev.ResponseCreate())
        await log.until(lambda es: any(isinstance(e, ev.OutputAudioDelta) for e in es))
        await send_audio(engine, 1500)  # speech at 1600 ms cancels the response
        events = await log.until(responses_done(1))
        await log.until(lambda es: sum(e.type.endswith("completed") for e in es) >= 2)
    await engine.close()
    await log.aclose()
    done = next(e for e in events if isinstance(e, ev.ResponseDone))
    assert done.response.status == "cancelled"


# ---- faults are contained, logged, and never reach the wire ------------------------------------


class FailsOnce:
    """A chat model whose first stream raises `error`; later ones answer `text`."""

    def __init__(self, error: BaseException, text: str) -> None:
        self.error = error
        self.inner = ScriptedChatModel([say(text)])
        self.calls = 0

    def stream(
        self,
        messages: Sequence[Message],
        tools: Sequence[ToolSpec] = (),
        tool_choice: ToolChoice = "auto",
        settings: ModelSettings | None = None,
    ) -> AsyncIterator[StreamItem]:
        self.calls += 1
        if self.calls == 1:
            raise self.error
        return self.inner.stream(messages, tools, tool_choice, settings)


async def test_a_chat_model_assertion_is_logged_with_traceback_and_the_session_goes_on(caplog):
    engine = Engine(FailsOnce(AssertionError("fake misused: secret detail"), "Fine."))
    log = EventLog(engine.events())
    with caplog.at_level(logging.ERROR, logger="voxrelay.engine"):
        await engine.handle(user("hi"))
        await engine.handle(ev.ResponseCreate())
        await log.until(responses_done(1))
    await engine.handle(ev.ResponseCreate())
    events = await log.until(responses_done(2))
    await engine.close()
    await log.aclose()
    first, second = [e for e in events if isinstance(e, ev.ResponseDone)]
    assert first.response.status == "failed" and second.response.status == "completed"
    assert "secret detail" not in first.model_dump_json()
    (record,) = [r for r in caplog.records if r.exc_info]
    assert isinstance(record.exc_info[1].__cause__, AssertionError)


async def test_an_stt_assertion_is_logged_with_traceback_and_contained(caplog):
    class AssertingSTT:
        async def transcribe(self, pcm, sample_rate, *, language=None, prompt=""):
            raise AssertionError("stt misused: secret detail")

    vad = ScriptedVAD.from_spans([(100, 700)], total_ms=10_000)
    stack = SpeechStack(stt=AssertingSTT(), tts=ScriptedTTS(), vad=lambda: vad)
    engine = Engine(ScriptedChatModel([]), speech=stack)
    log = EventLog(engine.events())
    with caplog.at_level(logging.ERROR, logger="voxrelay.engine"):
        await engine.handle(ev.SessionUpdate(session=voice_session(create_response=False)))
        await send_audio(engine, 1500)
        events = await log.until(lambda es: any(isinstance(e, ev.TranscriptionFailed) for e in es))
    await engine.close()
    await log.aclose()
    (failed,) = [e for e in events if isinstance(e, ev.TranscriptionFailed)]
    assert "secret detail" not in failed.model_dump_json()
    (record,) = [r for r in caplog.records if r.exc_info]
    assert isinstance(record.exc_info[1], AssertionError)


async def test_a_tts_assertion_fails_the_response_with_a_fixed_message(caplog):
    class AssertingTTS(ScriptedTTS):
        async def _stream(self, sentences, voice):
            raise AssertionError("tts misused: secret detail")
            yield  # pragma: no cover

    vad = ScriptedVAD.from_spans([], total_ms=10_000)
    stack = SpeechStack(stt=ScriptedSTT([]), tts=AssertingTTS(), vad=lambda: vad)
    engine = Engine(ScriptedChatModel([say("Hello there.")]), speech=stack)
    log = EventLog(engine.events())
    with caplog.at_level(logging.ERROR, logger="voxrelay.engine"):
        await engine.handle(ev.SessionUpdate(session=voice_session(create_response=False)))
        await engine.handle(ev.ResponseCreate())
        events = await log.until(responses_done(1))
    await engine.close()
    await log.aclose()
    done = events[-1]
    assert isinstance(done, ev.ResponseDone) and done.response.status == "failed"
    assert done.response.status_details is not None and done.response.status_details.error
    assert done.response.status_details.error["code"] == "speech_error"
    assert "secret detail" not in done.model_dump_json()
    (record,) = [r for r in caplog.records if r.exc_info]
    assert isinstance(record.exc_info[1].__cause__, AssertionError)


@pytest.mark.parametrize("queue_size", [1, 1024])
async def test_truncate_of_the_speaking_item_waits_for_the_cancel(queue_size):
    chat = ScriptedChatModel([Step(text="One two three. Four five six.", delay_s=0.01)])
    stack = SpeechStack(
        stt=ScriptedSTT([]),
        tts=ScriptedTTS(delay_s=0.05, ms_per_char=20),
        vad=lambda: ScriptedVAD([]),
    )
    engine = Engine(chat, speech=stack, queue_size=queue_size)
    log = EventLog(engine.events())
    await engine.handle(ev.SessionUpdate(session=voice_session(create_response=False)))
    await engine.handle(ev.ResponseCreate())
    events = await log.until(lambda es: any(isinstance(e, ev.OutputAudioDelta) for e in es))
    delta = next(e for e in events if isinstance(e, ev.OutputAudioDelta))
    cut = ev.ConversationItemTruncate(item_id=delta.item_id, content_index=0, audio_end_ms=100)
    await engine.handle(cut)
    assert engine.active_response is None  # handle returned once the response had ended
    events = await log.until(
        lambda es: any(isinstance(e, ev.ConversationItemTruncated) for e in es)
    )
    await engine.close()
    await log.aclose()
    kinds = [e.type for e in events]
    assert kinds.index("response.done") < kinds.index("conversation.item.truncated")
    assert next(e for e in events if isinstance(e, ev.ResponseDone)).response.status == "cancelled"


def test_the_engine_offers_the_in_process_hooks():
    assert isinstance(Engine(ScriptedChatModel([])), EngineHooks)
