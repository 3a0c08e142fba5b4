"""The engine's protocol core and response state, fed events synchronously (no event loop)."""

from __future__ import annotations

import base64
from typing import TypeVar

from voxrelay.audio.pcm import silence
from voxrelay.engine.audio_out import Spoken
from voxrelay.engine.conversation import Conversation
from voxrelay.engine.core import EngineCore
from voxrelay.engine.effects import (
    CancelResponse,
    Output,
    StartResponse,
    TraceDone,
    Transcribe,
    Warm,
)
from voxrelay.engine.faults import (
    MODEL_FAILED,
    SERVER_FAILED,
    SPEECH_FAILED,
    TRANSCRIPTION_FAILED,
    ModelFailed,
    SpeechFailed,
    response_error,
)
from voxrelay.engine.response import ResponsePlan, ResponseState
from voxrelay.engine.speech import SpeechStack
from voxrelay.errors import ProtocolError
from voxrelay.models.base import Message, ModelSettings, Usage
from voxrelay.realtime import events as ev
from voxrelay.realtime.types import (
    AudioConfig,
    AudioFormat,
    AudioInput,
    AudioOutput,
    InputText,
    MessageItem,
    ResponseParams,
    SessionConfig,
    TurnDetection,
)
from voxrelay.testing import ScriptedSTT, ScriptedTTS, ScriptedVAD

RATE = 24000
T = TypeVar("T")


def kinds(outputs: list[Output]) -> list[str]:
    """Event types, and effect class names, in order."""
    return [o.type if isinstance(o, ev.ServerEventBase) else type(o).__name__ for o in outputs]


def user(text: str, event_id: str | None = None) -> ev.ConversationItemCreate:
    item = MessageItem(role="user", content=[InputText(text=text)])
    return ev.ConversationItemCreate(item=item, event_id=event_id)


def only(outputs: list[Output], kind: type[T]) -> T:
    (found,) = [o for o in outputs if isinstance(o, kind)]
    return found


def voice_core(spans_ms: list[tuple[int, int]]) -> EngineCore:
    """A core with a speech stack whose VAD hears speech in `spans_ms`."""
    vad = ScriptedVAD.from_spans(spans_ms, total_ms=10_000)
    stack = SpeechStack(stt=ScriptedSTT([]), tts=ScriptedTTS(), vad=lambda: vad)
    core = EngineCore(speech=stack)
    pcm = AudioFormat(type="audio/pcm", rate=RATE)
    session = SessionConfig(
        output_modalities=["audio"],
        audio=AudioConfig(
            input=AudioInput(format=pcm, turn_detection=TurnDetection(silence_duration_ms=500)),
            output=AudioOutput(format=pcm, voice="alloy"),
        ),
    )
    core.receive(ev.SessionUpdate(session=session))
    return core


def append(core: EngineCore, ms: int) -> list[Output]:
    """Feed `ms` of audio in 20 ms appends; everything the core produced."""
    out: list[Output] = []
    pcm = silence(ms, RATE)
    size = RATE * 20 // 1000 * 2
    for i in range(0, len(pcm), size):
        audio = base64.b64encode(pcm[i : i + size]).decode()
        out += core.receive(ev.InputAudioBufferAppend(audio=audio))
    return out


# ---- session and conversation ------------------------------------------------------------------


def test_start_announces_the_session():
    core = EngineCore(model_name="m")
    (created,) = core.start()
    assert isinstance(created, ev.SessionCreated) and created.session.model == "m"


def test_session_update_echoes_and_asks_to_warm_the_new_prompt():
    core = EngineCore()
    core.receive(user("earlier words"))
    out = core.receive(ev.SessionUpdate(session=SessionConfig(instructions="Be brief.")))
    assert kinds(out) == ["session.updated", "Warm"]
    warm = only(out, Warm)
    assert warm.messages[0] == Message("system", "Be brief.")
    assert warm.messages[1].content == "earlier words"
    assert core.session.instructions == "Be brief."


def test_refused_update_leaves_the_session_as_it_was():
    core = EngineCore()
    update = SessionConfig(output_modalities=["audio"])
    (error,) = core.receive(ev.SessionUpdate(session=update, event_id="u1"))
    assert isinstance(error, ev.ErrorEvent)
    assert (error.error.code, error.error.event_id) == ("audio_unavailable", "u1")
    assert core.session.output_modalities == ["text"]


def test_items_are_created_retrieved_and_deleted():
    core = EngineCore()
    assert kinds(core.receive(user("hi"))) == ["conversation.item.added", "conversation.item.done"]
    (item_id,) = core.conversation.ids()
    (retrieved,) = core.receive(ev.ConversationItemRetrieve(item_id=item_id))
    assert isinstance(retrieved, ev.ConversationItemRetrieved)
    assert kinds(core.receive(ev.ConversationItemDelete(item_id=item_id))) == [
        "conversation.item.deleted"
    ]
    (error,) = core.receive(ev.ConversationItemDelete(item_id=item_id, event_id="d2"))
    assert isinstance(error, ev.ErrorEvent) and error.error.code == "item_not_found"


def test_bad_wire_input_is_an_error_event():
    (error,) = EngineCore().receive_raw({"type": "nonsense", "event_id": "x1"})
    assert isinstance(error, ev.ErrorEvent)
    assert (error.error.code, error.error.event_id) == ("unknown_event_type", "x1")


def test_audio_events_need_a_speech_stack():
    core = EngineCore()
    events = [
        ev.InputAudioBufferAppend(audio=""),
        ev.InputAudioBufferCommit(),
        ev.InputAudioBufferClear(),
        ev.ConversationItemTruncate(item_id="i", content_index=0, audio_end_ms=0),
    ]
    codes = [o.error.code for e in events for o in core.receive(e) if isinstance(o, ev.ErrorEvent)]
    assert codes == ["audio_unavailable"] * 4


# ---- responses ---------------------------------------------------------------------------------


def test_response_create_starts_one_response_at_a_time():
    core = EngineCore()
    core.receive(user("hi"))
    (start,) = core.receive(ev.ResponseCreate())
    assert isinstance(start, StartResponse) and not start.after_transcripts
    assert start.state.plan.messages == [Message("user", "hi")]
    assert core.active is start.state
    (error,) = core.receive(ev.ResponseCreate(event_id="r2"))
    assert isinstance(error, ev.ErrorEvent)
    assert error.error.code == "conversation_already_has_active_response"
    assert core.response_finished(start.state) == []
    assert core.active is None


def test_response_cancel_names_the_active_response():
    core = EngineCore()
    (error,) = core.receive(ev.ResponseCancel())
    assert isinstance(error, ev.ErrorEvent) and error.error.code == "response_cancel_not_active"
    (start,) = core.receive(ev.ResponseCreate())
    assert isinstance(start, StartResponse)
    (error,) = core.receive(ev.ResponseCancel(response_id="resp_other"))
    assert isinstance(error, ev.ErrorEvent)
    assert core.receive(ev.ResponseCancel(response_id=start.state.id)) == [
        CancelResponse(start.state.id, "client_cancelled")
    ]


def test_response_overrides_reach_the_plan():
    core = EngineCore()
    core.receive(user("hi"))
    params = ResponseParams(instructions="Shout.", conversation="none", max_output_tokens=5)
    (start,) = core.receive(ev.ResponseCreate(response=params))
    assert isinstance(start, StartResponse)
    plan = start.state.plan
    assert plan.messages[0] == Message("system", "Shout.")
    assert not plan.in_conversation and plan.settings.max_tokens == 5


def plan(max_tokens: int | None = None, in_conversation: bool = True) -> ResponsePlan:
    settings = ModelSettings(max_tokens=max_tokens)
    return ResponsePlan([], [], "auto", settings, in_conversation=in_conversation)


def test_text_response_state_builds_the_event_sequence():
    conversation = Conversation()
    state = ResponseState(plan(), conversation)
    events = state.created() + state.open_message()
    events += [state.text_delta("Hello"), state.text_delta(" there")]
    state.usage = Usage(input_tokens=3, output_tokens=2)
    state.complete()
    events += state.finish()
    assert [e.type for e in events] == [
        "response.created",
        "response.output_item.added",
        "conversation.item.added",
        "response.content_part.added",
        "response.output_text.delta",
        "response.output_text.delta",
        "response.output_text.done",
        "response.content_part.done",
        "conversation.item.done",
        "response.output_item.done",
        "response.done",
    ]
    done = events[-1]
    assert isinstance(done, ev.ResponseDone) and done.response.status == "completed"
    assert done.response.usage is not None and done.response.usage.total_tokens == 5
    (item,) = conversation
    assert isinstance(item, MessageItem) and item.text() == "Hello there"


def test_function_call_after_text_and_token_limit():
    state = ResponseState(plan(max_tokens=2), Conversation())
    state.open_message()
    state.text_delta("Let me check.")
    events = state.close_message() + state.function_call("c1", "lookup", '{"q": 1}')
    assert [e.type for e in events][-4:] == [
        "response.function_call_arguments.delta",
        "response.function_call_arguments.done",
        "conversation.item.done",
        "response.output_item.done",
    ]
    state.usage = Usage(input_tokens=3, output_tokens=2)
    state.complete()
    done = state.finish()[-1]
    assert isinstance(done, ev.ResponseDone) and done.response.status == "incomplete"
    assert done.response.status_details is not None
    assert done.response.status_details.reason == "max_output_tokens"


def test_out_of_band_response_stays_out_of_the_conversation():
    conversation = Conversation()
    state = ResponseState(plan(in_conversation=False), conversation)
    events = state.open_message()
    assert "conversation.item.added" not in [e.type for e in events]
    assert len(conversation) == 0


# ---- voice turns -------------------------------------------------------------------------------


def test_server_vad_turn_commits_transcribes_then_responds():
    core = voice_core([(100, 700)])
    out = append(core, 1500)
    assert kinds(out) == [
        "input_audio_buffer.speech_started",
        "input_audio_buffer.speech_stopped",
        "input_audio_buffer.committed",
        "conversation.item.added",
        "conversation.item.done",
        "Transcribe",
        "StartResponse",
    ]
    job, start = only(out, Transcribe), only(out, StartResponse)
    assert start.after_transcripts and core.voice_in.transcribing
    assert start.trace is not None and start.trace.item_id == job.item_id
    out = core.transcribed(job.item_id, "hello there")
    assert kinds(out) == [
        "conversation.item.input_audio_transcription.delta",
        "conversation.item.input_audio_transcription.completed",
    ]
    assert not core.voice_in.transcribing
    assert core.messages_for(ResponseParams())[-1] == Message("user", "hello there")


def test_failed_transcription_gets_a_fixed_message():
    core = voice_core([(100, 700)])
    job = only(append(core, 1500), Transcribe)
    (failed,) = core.transcribed(job.item_id, None)
    assert isinstance(failed, ev.TranscriptionFailed)
    assert failed.error.code == "transcription_failed"
    assert failed.error.message == TRANSCRIPTION_FAILED


def test_speech_during_a_response_cancels_it():
    core = voice_core([(100, 700), (2000, 2600)])
    start = only(append(core, 1500), StartResponse)
    out = append(core, 700)
    assert kinds(out) == ["input_audio_buffer.speech_started", "CancelResponse"]
    assert only(out, CancelResponse) == CancelResponse(start.state.id, "turn_detected")
    assert core.active is start.state  # active until the driver reports it ended


def test_truncating_the_active_response_waits_for_it_to_end():
    core = voice_core([])
    (start,) = [o for o in core.receive(ev.ResponseCreate()) if isinstance(o, StartResponse)]
    state = start.state
    state.open_message()
    state.transcript_delta("One two three four.")
    item_id = state.message_id
    assert item_id is not None
    cut = ev.ConversationItemTruncate(item_id=item_id, content_index=0, audio_end_ms=500)
    assert core.receive(cut) == [CancelResponse(state.id, "client_cancelled", wait=True)]
    state.set_status("cancelled")
    state.finish(spoken=[Spoken("One two three four.", 0, 1000)])
    (truncated,) = core.response_finished(state)
    assert isinstance(truncated, ev.ConversationItemTruncated)
    item = core.conversation.get(item_id)
    assert isinstance(item, MessageItem) and item.text() == "One two"


def test_truncate_past_the_audio_end_is_refused():
    core = voice_core([])
    (start,) = [o for o in core.receive(ev.ResponseCreate()) if isinstance(o, StartResponse)]
    start.state.open_message()
    item_id = start.state.message_id
    assert item_id is not None
    start.state.complete()
    start.state.finish(spoken=[Spoken("Short.", 0, 400)])
    core.response_finished(start.state)
    cut = ev.ConversationItemTruncate(item_id=item_id, content_index=0, audio_end_ms=900)
    (error,) = core.receive(cut)
    assert isinstance(error, ev.ErrorEvent) and "past the end" in error.error.message


def test_a_complete_trace_is_handed_over_when_the_response_ends():
    core = voice_core([(100, 700)])
    out = append(core, 1500)
    start = only(out, StartResponse)
    core.transcribed(only(out, Transcribe).item_id, "hi")
    assert start.trace is not None
    for stage in ("first_token", "first_sentence", "first_audio"):
        start.trace.mark(stage)  # type: ignore[arg-type]
    assert core.response_finished(start.state) == [TraceDone(start.trace)]


# ---- fixed error messages ----------------------------------------------------------------------


def test_failures_reach_the_wire_as_fixed_messages():
    try:
        raise ModelFailed() from RuntimeError("llama_decode returned 1")
    except ModelFailed as exc:
        model = response_error(exc)
    assert model == {"type": "server_error", "code": "model_error", "message": MODEL_FAILED}
    speech = response_error(SpeechFailed())
    assert speech["code"] == "speech_error" and speech["message"] == SPEECH_FAILED
    other = response_error(AssertionError("internal detail"))
    assert other["code"] == "server_error" and other["message"] == SERVER_FAILED
    ours = response_error(ProtocolError("conversation_full", "delete some items first"))
    assert ours["code"] == "conversation_full" and ours["message"] == "delete some items first"
