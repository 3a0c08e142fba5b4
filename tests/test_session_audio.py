"""The Session over audio, on a RealtimeModel fake scripted with server events."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest

from voxrelay.agents import Agent, RunContext, Scenario, tool
from voxrelay.audio import ulaw_encode
from voxrelay.errors import ConfigError
from voxrelay.realtime import events as ev
from voxrelay.realtime.types import (
    AudioFormat,
    ErrorDetail,
    FunctionCallItem,
    InputAudio,
    MessageItem,
    OutputAudio,
    Response,
    TurnDetection,
)
from voxrelay.session import Session
from voxrelay.session import events as app
from voxrelay.session.playback import PlaybackQueue
from voxrelay.session.voice import VoiceOptions
from voxrelay.testing.realtime import ManualRealtime

RATE = 24000


@tool
def heard(ctx: RunContext) -> str:
    """What the caller said so far."""
    return ctx.user_text()


def scenario() -> Scenario:
    front = Agent("front", "Route callers.", tools=[heard], handoffs=["returns"])
    returns = Agent("returns", "Handle returns.", voice="verse", handoff_description="returns")
    return Scenario("voice", [front, returns])


@pytest.fixture
async def voice():
    sessions: list[Session] = []

    async def start(**options: Any) -> tuple[Session, ManualRealtime]:
        model = ManualRealtime()
        opts = VoiceOptions(**options) if options else None
        session = Session(scenario(), model, output_modalities=["audio"], voice=opts)
        model.session = session
        await session.start()
        sessions.append(session)
        return session, model

    yield start
    for s in sessions:
        await s.close()


def where(item_id: str, response_id: str = "r1") -> dict[str, Any]:
    """The ids and indexes every streamed part event carries."""
    return {"response_id": response_id, "item_id": item_id, "output_index": 0, "content_index": 0}


def tone(ms: int, rate: int = RATE) -> bytes:
    return bytes([1, 2]) * (ms * rate // 1000)


def b64(pcm: bytes) -> str:
    return base64.b64encode(pcm).decode()


def audio_reply(item_id: str, ms: int, transcript: str, resp: str = "r1") -> list[ev.ServerEvent]:
    """Sequence A from the assistant side: created, one audio delta, transcript, done."""
    part = where(item_id, resp)
    item = MessageItem(id=item_id, role="assistant", content=[OutputAudio(transcript=transcript)])
    return [
        ev.ResponseCreated(response=Response(id=resp)),
        ev.OutputAudioDelta(**part, delta=b64(tone(ms))),
        ev.OutputAudioTranscriptDelta(**part, delta=transcript),
        ev.OutputAudioDone(**part),
        ev.ResponseDone(response=Response(id=resp, status="completed", output=[item])),
    ]


def user_turn(item_id: str) -> list[ev.ServerEvent]:
    """Sequence A from the caller side, up to the user item (the transcript comes later)."""
    item = MessageItem(id=item_id, role="user", content=[InputAudio()])
    return [
        ev.SpeechStarted(audio_start_ms=100, item_id=item_id),
        ev.SpeechStopped(audio_end_ms=900, item_id=item_id),
        ev.InputAudioBufferCommitted(item_id=item_id),
        ev.ConversationItemAdded(item=item),
    ]


def kinds(events: list[app.AppEventBase]) -> list[str]:
    return [e.type for e in events]  # type: ignore[attr-defined]


async def test_voice_session_configures_audio_output_and_server_vad(voice):
    session, model = await voice()
    config = model.config
    assert config is not None and config.output_modalities == ["audio"]
    assert config.audio and config.audio.input and config.audio.output
    assert config.audio.input.format == AudioFormat(type="audio/pcm", rate=24000)
    assert config.audio.input.turn_detection and config.audio.input.turn_detection.type == (
        "server_vad"
    )
    assert config.audio.input.transcription is not None
    assert config.audio.output.format == AudioFormat(type="audio/pcm", rate=24000)
    assert session.input_rate == session.output_rate == RATE


async def test_send_audio_appends_base64_pcm(voice):
    session, model = await voice()
    await session.send_audio(tone(20))
    (append,) = model.sent_of(ev.InputAudioBufferAppend)
    assert base64.b64decode(append.audio) == tone(20)


async def test_g711_input_is_encoded_and_output_decoded(voice):
    ulaw = AudioFormat(type="audio/pcmu", rate=None)
    session, model = await voice(input_format=ulaw, output_format=ulaw)
    assert session.input_rate == session.output_rate == 8000
    pcm = tone(20, 8000)
    await session.send_audio(pcm)
    assert base64.b64decode(model.sent_of(ev.InputAudioBufferAppend)[0].audio) == ulaw_encode(pcm)
    part = where("a1", "r")
    await model.push(ev.OutputAudioDelta(**part, delta=b64(ulaw_encode(pcm))))
    (audio,) = [e for e in session.pending() if isinstance(e, app.AssistantAudio)]
    assert audio.sample_rate == 8000 and len(audio.pcm) == len(pcm) and audio.duration_ms == 20


async def test_push_to_talk_commits_then_asks_for_a_reply(voice):
    session, model = await voice(turn_detection=None)
    await session.send_audio(tone(300))
    await session.commit_audio()
    assert [e.type for e in model.sent] == [
        "input_audio_buffer.append",
        "input_audio_buffer.commit",
        "response.create",
    ]
    assert model.config and model.config.audio and model.config.audio.input
    assert model.config.audio.input.turn_detection is None


async def test_too_short_commit_is_an_error_event_and_sends_nothing(voice):
    session, model = await voice(turn_detection=None)
    await session.send_audio(tone(40))
    await session.commit_audio()
    (error,) = session.pending()
    assert isinstance(error, app.ErrorOccurred) and error.code == "commit_too_short"
    assert "100 ms" in error.text
    assert model.sent_of(ev.InputAudioBufferCommit) == []


async def test_text_session_refuses_audio_with_advice():
    session = Session(scenario(), ManualRealtime())
    await session.start()
    with pytest.raises(ConfigError, match="output_modalities=\\['audio'\\]"):
        await session.send_audio(tone(20))
    await session.close()


async def test_user_transcript_becomes_user_message_in_history_order(voice):
    session, model = await voice()
    await model.push(*user_turn("u1"), *audio_reply("a1", 200, "Sure."))
    assert [e.role for e in session.history] == ["user", "assistant"]
    await model.push(
        ev.TranscriptionCompleted(item_id="u1", transcript=" I want to return my board. ")
    )
    events = session.pending()
    assert kinds(events) == [
        "user_speech_started",
        "user_speech_stopped",
        "assistant_audio",
        "assistant_message",
        "turn_done",
        "user_message",
    ]
    user = events[-1]
    assert isinstance(user, app.UserMessage) and user.item_id == "u1"
    assert user.text == "I want to return my board."
    assert [(e.role, e.text) for e in session.history] == [
        ("user", "I want to return my board."),
        ("assistant", "Sure."),
    ]
    assert not session.busy


async def test_tools_see_the_spoken_words(voice):
    session, model = await voice()
    call = FunctionCallItem(id="f1", call_id="c1", name="heard", arguments="{}")
    await model.push(
        *user_turn("u1"),
        ev.TranscriptionCompleted(item_id="u1", transcript="my phone is 206 555 0142"),
        ev.ResponseCreated(response=Response(id="r1")),
        ev.ResponseDone(response=Response(id="r1", status="completed", output=[call])),
    )
    result = next(e for e in session.pending() if isinstance(e, app.ToolResult))
    assert result.ok and "206 555 0142" in result.output
    assert model.sent[-1].type == "response.create"
    assert session.busy  # the follow-up response is on its way


async def test_failed_transcription_is_an_error_and_leaves_no_gap(voice):
    session, model = await voice()
    error = ErrorDetail(code="stt_failed", message="decoder crashed")
    await model.push(*user_turn("u1"), ev.TranscriptionFailed(item_id="u1", error=error))
    (failure,) = [e for e in session.pending() if isinstance(e, app.ErrorOccurred)]
    assert failure.code == "transcription_failed" and "decoder crashed" in failure.text
    assert session.history == []


async def test_audio_deltas_become_assistant_audio_and_a_transcript_message(voice):
    session, model = await voice()
    await model.push(*audio_reply("a1", 500, "Hello there."))
    events = session.pending()
    audio, message = events[0], events[1]
    assert isinstance(audio, app.AssistantAudio)
    assert (audio.item_id, audio.sample_rate, len(audio.pcm)) == ("a1", RATE, len(tone(500)))
    assert "pcm" not in audio.to_json_dict() and audio.to_json_dict()["duration_ms"] == 500
    json.dumps(audio.to_json_dict())
    assert isinstance(message, app.AssistantMessage)
    assert (message.text, message.item_id, message.interrupted) == ("Hello there.", "a1", None)
    assert session.playback.audio_ms("a1") == 500  # no output attached: counted as heard
    assert session.playback.played_ms("a1") == 500


async def start_reply(session: Session, model: ManualRealtime, ms: int) -> PlaybackQueue:
    speaker = PlaybackQueue(session.playback)
    session.attach_output(speaker)
    part = where("a1", "r1")
    await model.push(
        ev.ResponseCreated(response=Response(id="r1")),
        ev.OutputAudioDelta(**part, delta=b64(tone(ms))),
    )
    return speaker


async def test_barge_in_truncates_at_what_was_played(voice):
    session, model = await voice()
    speaker = await start_reply(session, model, 1000)
    speaker.pull(300 * RATE // 1000)  # the sound card played 300 ms
    await model.push(ev.SpeechStarted(audio_start_ms=2000, item_id="u2"))
    (truncate,) = model.sent_of(ev.ConversationItemTruncate)
    assert (truncate.item_id, truncate.content_index, truncate.audio_end_ms) == ("a1", 0, 300)
    assert speaker.pending_samples == 0
    assert model.sent_of(ev.ResponseCancel) == []  # server_vad cancels by itself
    events = session.pending()
    assert kinds(events)[-3:] == ["user_speech_started", "playback_cleared", "interrupted"]
    cleared, interrupted = events[-2], events[-1]
    assert isinstance(cleared, app.PlaybackCleared) and cleared.dropped_ms == 700
    assert isinstance(interrupted, app.Interrupted) and interrupted.played_ms == 300
    # late audio for the cut item is dropped; the cancelled reply is marked interrupted
    part = where("a1", "r1")
    item = MessageItem(id="a1", role="assistant", content=[OutputAudio(transcript="Well, so.")])
    await model.push(
        ev.OutputAudioDelta(**part, delta=b64(tone(100))),
        ev.ResponseDone(response=Response(id="r1", status="cancelled", output=[item])),
    )
    assert speaker.pending_samples == 0
    message, done = session.pending()
    assert isinstance(message, app.AssistantMessage) and message.interrupted is True
    assert isinstance(done, app.TurnDone)


async def test_barge_in_cancels_when_the_server_does_not(voice):
    session, model = await voice(turn_detection=TurnDetection(interrupt_response=False))
    await start_reply(session, model, 400)
    await model.push(ev.SpeechStarted(audio_start_ms=0, item_id="u2"))
    (truncate,) = model.sent_of(ev.ConversationItemTruncate)
    assert truncate.audio_end_ms == 0
    (cancel,) = model.sent_of(ev.ResponseCancel)
    assert cancel.response_id == "r1"


async def test_truncate_never_passes_the_audio_end(voice):
    session, model = await voice()
    speaker = await start_reply(session, model, 200)
    speaker.pull(RATE)  # asked for a second; only 200 ms existed
    await model.push(ev.SpeechStarted(audio_start_ms=0, item_id="u2"))
    (truncate,) = model.sent_of(ev.ConversationItemTruncate)
    assert truncate.audio_end_ms == 200


async def test_speech_after_playback_finished_interrupts_nothing(voice):
    session, model = await voice()
    speaker = PlaybackQueue(session.playback)
    session.attach_output(speaker)
    await model.push(*audio_reply("a1", 100, "Hi."))
    speaker.pull(RATE)
    await model.push(ev.SpeechStarted(audio_start_ms=0, item_id="u2"))
    assert model.sent == []
    assert "interrupted" not in kinds(session.pending())


async def test_handoff_in_a_voice_session_speaks_with_the_new_voice(voice):
    session, model = await voice()
    call = FunctionCallItem(
        id="f1", call_id="c1", name="transfer_to_returns", arguments='{"reason": "return"}'
    )
    await model.push(
        *user_turn("u1"),
        ev.TranscriptionCompleted(item_id="u1", transcript="I want a return."),
        ev.ResponseCreated(response=Response(id="r1")),
        ev.ResponseDone(response=Response(id="r1", status="completed", output=[call])),
    )
    output, update, create = model.sent[-3:]
    assert isinstance(update, ev.SessionUpdate)
    assert update.session.audio and update.session.audio.output
    assert update.session.audio.output.voice == "verse"
    assert update.session.instructions == "Handle returns."
    assert isinstance(output, ev.ConversationItemCreate) and isinstance(create, ev.ResponseCreate)
    await model.push(*audio_reply("a2", 300, "Which order?", resp="r2"))
    events = session.pending()
    changed = next(e for e in events if isinstance(e, app.AgentChanged))
    assert (changed.from_, changed.to) == ("front", "returns")
    audio = next(e for e in events if isinstance(e, app.AssistantAudio))
    assert audio.agent == "returns"
    assert kinds(events)[-2:] == ["assistant_message", "turn_done"]
    assert not session.busy


async def test_busy_until_the_reply_after_a_commit_is_done(voice):
    session, model = await voice()
    assert not session.busy
    await model.push(ev.SpeechStarted(audio_start_ms=0, item_id="u1"))
    assert session.busy
    await model.push(*user_turn("u1")[1:])
    assert session.busy  # awaiting the transcript and the server's response
    await model.push(ev.TranscriptionCompleted(item_id="u1", transcript="hello"))
    assert session.busy
    await model.push(*audio_reply("a1", 100, "Hi."))
    assert not session.busy
