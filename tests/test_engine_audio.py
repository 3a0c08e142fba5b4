"""The engine's audio path (PROTOCOL.md sequences A and C) on scripted VAD, STT, TTS and LLM."""

from __future__ import annotations

import asyncio
import base64
from collections.abc import AsyncIterator, Callable

import pytest

from voxrelay.audio import g711
from voxrelay.audio.pcm import silence
from voxrelay.engine import Engine
from voxrelay.engine.audio_out import Spoken, heard_text
from voxrelay.engine.speech import SpeechStack
from voxrelay.engine.trace import TurnTrace
from voxrelay.realtime import events as ev
from voxrelay.realtime.types import (
    AudioConfig,
    AudioFormat,
    AudioInput,
    AudioOutput,
    InputAudio,
    MessageItem,
    OutputAudio,
    SessionConfig,
    TurnDetection,
)
from voxrelay.testing import ScriptedChatModel, ScriptedSTT, ScriptedTTS, ScriptedVAD, say
from voxrelay.testing.chat import Step

RATE = 24000


class Harness:
    """An engine with scripted speech, and every event it emitted, in order."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.events: list[ev.ServerEvent] = []
        self._changed = asyncio.Condition()
        self._reader = asyncio.create_task(self._read())

    async def _read(self) -> None:
        async for event in self.engine.events():
            async with self._changed:
                self.events.append(event)
                self._changed.notify_all()

    def types(self) -> list[str]:
        return [e.type for e in self.events]

    def of(self, kind: type[ev.ServerEventBase]) -> list[ev.ServerEventBase]:
        return [e for e in self.events if isinstance(e, kind)]

    async def until(self, done: Callable[[], bool]) -> None:
        async with asyncio.timeout(10), self._changed:
            await self._changed.wait_for(done)

    async def responses_done(self, n: int = 1) -> None:
        await self.until(lambda: len(self.of(ev.ResponseDone)) >= n)

    async def send_audio(self, pcm: bytes, chunk_ms: int = 20) -> None:
        size = RATE * chunk_ms // 1000 * 2
        for i in range(0, len(pcm), size):
            audio = base64.b64encode(pcm[i : i + size]).decode()
            await self.engine.handle(ev.InputAudioBufferAppend(audio=audio))

    async def close(self) -> None:
        await self.engine.close()
        await self._reader


def voice_session(detection: TurnDetection | None, out: AudioFormat | None = None) -> SessionConfig:
    return SessionConfig(
        instructions="Be brief.",
        output_modalities=["audio"],
        audio=AudioConfig(
            input=AudioInput(
                format=AudioFormat(type="audio/pcm", rate=RATE), turn_detection=detection
            ),
            output=AudioOutput(
                format=out or AudioFormat(type="audio/pcm", rate=RATE), voice="alloy"
            ),
        ),
    )


@pytest.fixture
async def make() -> AsyncIterator[Callable[..., Harness]]:
    made: list[Harness] = []

    def build(
        steps: list[Step],
        heard: list[str],
        spans_ms: list[tuple[int, int]] | None = None,
        tts: ScriptedTTS | None = None,
    ) -> Harness:
        spans = spans_ms or []
        vad = ScriptedVAD.from_spans(spans, total_ms=60_000)
        stack = SpeechStack(stt=ScriptedSTT(heard), tts=tts or ScriptedTTS(), vad=lambda: vad)
        harness = Harness(Engine(ScriptedChatModel(steps), speech=stack))
        made.append(harness)
        return harness

    yield build
    for harness in made:
        await harness.close()


async def start(h: Harness, session: SessionConfig) -> None:
    await h.engine.start()
    await h.engine.handle(ev.SessionUpdate(session=session))


async def test_server_vad_voice_turn_follows_sequence_a(make):
    h = make(
        [say("Hi there. How can I help?", expect_in_prompt=["I need help"])],
        ["I need help"],
        [(200, 1400)],
    )
    await start(h, voice_session(TurnDetection(silence_duration_ms=500)))
    await h.send_audio(silence(2500, RATE))
    await h.responses_done()
    kinds = [t for t in h.types() if not t.endswith(".delta")]
    assert kinds[:2] == ["session.created", "session.updated"]
    turn = kinds[2:7]
    assert turn == [
        "input_audio_buffer.speech_started",
        "input_audio_buffer.speech_stopped",
        "input_audio_buffer.committed",
        "conversation.item.added",
        "conversation.item.done",
    ]
    assert "conversation.item.input_audio_transcription.completed" in kinds
    reply = kinds[kinds.index("response.created") :]
    assert reply == [
        "response.created",
        "response.output_item.added",
        "conversation.item.added",
        "response.content_part.added",
        "response.output_audio.done",
        "response.output_audio_transcript.done",
        "response.content_part.done",
        "conversation.item.done",
        "response.output_item.done",
        "response.done",
    ]
    started = h.of(ev.SpeechStarted)[0]
    stopped = h.of(ev.SpeechStopped)[0]
    assert started.item_id == stopped.item_id == h.of(ev.InputAudioBufferCommitted)[0].item_id
    assert 0 <= started.audio_start_ms <= 200
    assert 1400 <= stopped.audio_end_ms <= 2100
    user = h.engine.conversation.get(started.item_id)
    assert isinstance(user, MessageItem) and isinstance(user.content[0], InputAudio)
    assert user.content[0].transcript == "I need help"
    done = h.of(ev.ResponseDone)[0].response
    assert done.status == "completed"
    part = done.output[0].content[0]
    assert isinstance(part, OutputAudio) and part.transcript == "Hi there. How can I help?"
    transcript = "".join(e.delta for e in h.of(ev.OutputAudioTranscriptDelta))
    assert transcript == "Hi there. How can I help?"
    audio = b"".join(base64.b64decode(e.delta) for e in h.of(ev.OutputAudioDelta))
    assert abs(len(audio) - 23 * 5 * 48) <= 480  # 5 ms per non-space character, 48 bytes per ms


async def test_transcript_and_audio_deltas_interleave_sentence_by_sentence(make):
    h = make([say("One two three. Four five six.")], ["go"], [(100, 900)])
    await start(h, voice_session(TurnDetection()))
    await h.send_audio(silence(2000, RATE))
    await h.responses_done()
    kinds = [t for t in h.types() if t.startswith("response.output_audio")]
    first_audio = kinds.index("response.output_audio.delta")
    second_text = kinds.index("response.output_audio_transcript.delta", first_audio)
    assert kinds[0] == "response.output_audio_transcript.delta"
    assert "response.output_audio.delta" in kinds[second_text:]


async def test_push_to_talk_commit_then_response_waits_for_transcript(make):
    h = make([say("Sure.", expect_in_prompt=["book a table"])], ["book a table"])
    await start(h, voice_session(None))
    await h.send_audio(silence(800, RATE))
    await h.engine.handle(ev.InputAudioBufferCommit())
    await h.engine.handle(ev.ResponseCreate())
    await h.responses_done()
    assert h.of(ev.ResponseDone)[0].response.status == "completed"
    assert "input_audio_buffer.speech_started" not in h.types()
    committed = h.types().index("input_audio_buffer.committed")
    completed = h.types().index("conversation.item.input_audio_transcription.completed")
    assert committed < completed


async def test_commit_too_short_is_an_error_and_the_session_goes_on(make):
    h = make([], ["later"])
    await start(h, voice_session(None))
    await h.send_audio(silence(40, RATE))
    await h.engine.handle(ev.InputAudioBufferCommit(event_id="c1"))
    await h.until(lambda: bool(h.of(ev.ErrorEvent)))
    error = h.of(ev.ErrorEvent)[0]
    assert error.error.code == "input_audio_buffer_commit_empty"
    assert error.error.event_id == "c1"
    await h.send_audio(silence(500, RATE))
    await h.engine.handle(ev.InputAudioBufferCommit())
    await h.until(lambda: bool(h.of(ev.TranscriptionCompleted)))


async def test_bad_audio_is_an_error_and_nothing_is_lost(make):
    h = make([], ["still here"])
    await start(h, voice_session(None))
    await h.send_audio(silence(300, RATE))
    await h.engine.handle_raw(
        {"type": "input_audio_buffer.append", "audio": "%%%not base64", "event_id": "b1"}
    )
    await h.engine.handle(
        ev.InputAudioBufferAppend(audio=base64.b64encode(b"\x01\x02\x03").decode())
    )
    await h.engine.handle(ev.InputAudioBufferCommit())
    await h.until(lambda: bool(h.of(ev.TranscriptionCompleted)))
    codes = [e.error.code for e in h.of(ev.ErrorEvent)]
    assert codes == ["invalid_audio", "invalid_audio"]
    assert "base64" in h.of(ev.ErrorEvent)[0].error.message
    stt = h.engine.speech.stt
    assert isinstance(stt, ScriptedSTT) and len(stt.calls[0][0]) >= 16000 * 2 * 3 // 10 - 400


async def test_clear_drops_buffered_audio(make):
    h = make([], [])
    await start(h, voice_session(None))
    await h.send_audio(silence(500, RATE))
    await h.engine.handle(ev.InputAudioBufferClear())
    await h.engine.handle(ev.InputAudioBufferCommit())
    await h.until(lambda: bool(h.of(ev.ErrorEvent)))
    assert h.types()[-2:] == ["input_audio_buffer.cleared", "error"]


async def test_g711_output_is_8khz_ulaw(make):
    tts = ScriptedTTS(sample_rate=22050)
    h = make([say("Hello there.")], ["hi"], [(100, 700)], tts)
    await start(h, voice_session(TurnDetection(), out=AudioFormat(type="audio/pcmu", rate=None)))
    await h.send_audio(silence(1500, RATE))
    await h.responses_done()
    ulaw = b"".join(base64.b64decode(e.delta) for e in h.of(ev.OutputAudioDelta))
    expected = int(len("Hello there.") * 5.0 * 8)  # 5 ms per character at 8 kHz, 1 byte each
    assert abs(len(ulaw) - expected) <= 16
    assert max(abs(s) for s in memoryview(g711.ulaw_decode(ulaw)).cast("h")) > 4000


async def test_barge_in_cancels_and_truncate_removes_the_unheard_text(make):
    tts = ScriptedTTS(delay_s=0.05, ms_per_char=20)
    steps = [say("First sentence here. Second sentence here. Third one."), say("Okay, stopping.")]
    h = make(steps, ["tell me a story", "stop"], [(100, 800), (3000, 3600)], tts)
    await start(h, voice_session(TurnDetection(interrupt_response=True)))
    await h.send_audio(silence(1500, RATE))
    await h.until(lambda: len(h.of(ev.OutputAudioDelta)) >= 3)
    await h.send_audio(silence(2200, RATE))  # speech at 3000 ms: the caller barges in
    await h.responses_done()
    first = h.of(ev.ResponseDone)[0].response
    assert first.status == "cancelled" and first.status_details.reason == "turn_detected"
    item = first.output[0]
    assert item.status == "incomplete"
    played_ms = 300  # the client heard 0.3 s of the 0.4 s first sentence (20 ms per character)
    await h.engine.handle(
        ev.ConversationItemTruncate(item_id=item.id, content_index=0, audio_end_ms=played_ms)
    )
    await h.until(lambda: bool(h.of(ev.ConversationItemTruncated)))
    kept = h.engine.conversation.get(item.id)
    assert kept.text() == "First sentence"  # three quarters of its three words
    await h.send_audio(silence(1500, RATE))
    await h.responses_done(2)
    chat = h.engine.chat
    assert isinstance(chat, ScriptedChatModel)
    second_prompt = "\n".join(m.content for m in chat.requests[1][0])
    assert "Second sentence" not in second_prompt and "stop" in second_prompt


async def test_truncate_past_the_audio_is_an_error(make):
    h = make([say("Short.")], ["hi"], [(100, 700)])
    await start(h, voice_session(TurnDetection()))
    await h.send_audio(silence(1500, RATE))
    await h.responses_done()
    item = h.of(ev.ResponseDone)[0].response.output[0]
    await h.engine.handle(
        ev.ConversationItemTruncate(item_id=item.id, content_index=0, audio_end_ms=99_000)
    )
    await h.until(lambda: bool(h.of(ev.ErrorEvent)))
    assert "past the end" in h.of(ev.ErrorEvent)[0].error.message
    assert h.engine.conversation.get(item.id).text() == "Short."


async def test_sentence_gate_stops_speech_before_synthesis(make):
    tts = ScriptedTTS(expect=["Fine words."])
    h = make([say("Fine words. Bad words here. More.")], ["hi"], [(100, 700)], tts)

    async def gate(sentence: str) -> bool:
        return "Bad" not in sentence

    h.engine.set_sentence_gate(gate)
    await start(h, voice_session(TurnDetection()))
    await h.send_audio(silence(1500, RATE))
    await h.responses_done()
    done = h.of(ev.ResponseDone)[0].response
    assert done.status == "incomplete" and done.status_details.reason == "content_filter"
    assert done.output[0].content[0].transcript == "Fine words."
    tts.assert_complete()


async def test_each_voice_turn_reports_a_latency_trace(make):
    h = make([say("Hello. Nice to meet you.")], ["hi"], [(100, 900)])
    traces: list[TurnTrace] = []
    h.engine.add_trace_listener(traces.append)
    await start(h, voice_session(TurnDetection(silence_duration_ms=500)))
    await h.send_audio(silence(2000, RATE))
    await h.responses_done()
    assert len(traces) == 1
    stages = traces[0].stages_ms()
    for stage in ("stt", "llm_first_token", "first_sentence", "tts_first_audio", "endpoint"):
        assert stages[stage] >= 0
    assert 400 <= stages["endpoint"] <= 700
    assert stages["speech_end_to_first_audio"] > stages["stop_to_first_audio"]


async def test_audio_events_without_speech_stack_are_refused():
    engine = Engine(ScriptedChatModel([]))
    await engine.start()
    await engine.handle(
        ev.InputAudioBufferAppend(audio=base64.b64encode(silence(100, RATE)).decode())
    )
    await engine.handle(ev.SessionUpdate(session=SessionConfig(output_modalities=["audio"])))
    await engine.close()
    events = [e async for e in engine.events()]
    codes = [e.error.code for e in events if isinstance(e, ev.ErrorEvent)]
    assert codes == ["audio_unavailable", "audio_unavailable"]


def test_heard_text_cuts_by_word_share():
    spoken = [Spoken("One two three four.", 0, 1000), Spoken("Five six.", 1000, 1500)]
    assert heard_text(spoken, 1500) == "One two three four. Five six."
    assert heard_text(spoken, 1000) == "One two three four."
    assert heard_text(spoken, 500) == "One two"
    assert heard_text(spoken, 100) == ""


async def test_failed_transcription_is_reported_and_the_response_still_runs(make):
    class BrokenSTT:
        async def transcribe(self, pcm, sample_rate, *, language=None, prompt=""):
            raise RuntimeError("decoder crashed")

    h = make([say("Sorry, I did not catch that.")], [], [(100, 700)])
    h.engine.speech = SpeechStack(stt=BrokenSTT(), tts=h.engine.speech.tts, vad=h.engine.speech.vad)
    await start(h, voice_session(TurnDetection()))
    await h.send_audio(silence(1500, RATE))
    await h.responses_done()
    failed = h.of(ev.TranscriptionFailed)
    assert len(failed) == 1 and failed[0].error.code == "transcription_failed"
    assert "decoder crashed" not in failed[0].error.message  # the detail goes to the log
    assert h.of(ev.ResponseDone)[0].response.status == "completed"


async def test_unknown_voice_is_refused_at_session_update(make):
    h = make([], [])
    await h.engine.start()
    bad = SessionConfig(audio=AudioConfig(output=AudioOutput(voice="nobody")))
    await h.engine.handle(ev.SessionUpdate(session=bad, event_id="v1"))
    await h.until(lambda: bool(h.of(ev.ErrorEvent)))
    error = h.of(ev.ErrorEvent)[0].error
    assert error.param == "session.audio.output.voice" and "nobody" in error.message
    assert h.engine.session.audio.output.voice == "alloy"


async def test_tts_failure_ends_the_response_failed_with_every_done_event(make):
    class BrokenTTS(ScriptedTTS):
        async def _stream(self, sentences, voice):
            raise RuntimeError("synthesizer crashed")
            yield  # pragma: no cover

    h = make([say("Hello there.")], ["hi"], [(100, 700)], BrokenTTS())
    await start(h, voice_session(TurnDetection()))
    await h.send_audio(silence(1500, RATE))
    await h.responses_done()
    done = h.of(ev.ResponseDone)[0].response
    assert done.status == "failed" and done.status_details.error["code"] == "speech_error"
    assert "synthesizer crashed" not in str(done.status_details.error)  # the detail: the log
    for kind in (ev.OutputAudioDone, ev.ContentPartDone, ev.OutputItemDone):
        assert len(h.of(kind)) == 1


async def test_close_does_not_block_when_nobody_reads():
    engine = Engine(ScriptedChatModel([]), queue_size=2)
    await engine.start()
    await engine.handle(ev.SessionUpdate(session=SessionConfig(instructions="x")))
    async with asyncio.timeout(2):
        await engine.close()
