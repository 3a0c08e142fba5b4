"""ClientState, the I/O-free record of a realtime session, fed event sequences synchronously."""

from __future__ import annotations

from voxrelay.realtime import events as ev
from voxrelay.realtime.replay import wire_dict
from voxrelay.realtime.state import ClientState
from voxrelay.realtime.types import (
    AudioConfig,
    AudioInput,
    ErrorDetail,
    FunctionCallItem,
    FunctionCallOutputItem,
    FunctionToolDef,
    InputAudio,
    InputText,
    MessageItem,
    OutputAudio,
    OutputText,
    Response,
    SessionConfig,
    TurnDetection,
)

WEATHER = FunctionToolDef(name="get_weather", parameters={"type": "object"})


def user(item_id: str, text: str) -> MessageItem:
    return MessageItem(id=item_id, role="user", status="completed", content=[InputText(text=text)])


def flags(state: ClientState) -> tuple[str | None, str | None]:
    """The requested and the active response."""
    return state.requested_response, state.active_response


def created(response_id: str) -> ev.ResponseCreated:
    return ev.ResponseCreated(response=Response(id=response_id))


def done(response_id: str) -> ev.ResponseDone:
    return ev.ResponseDone(response=Response(id=response_id, status="completed"))


def refused(event_id: str | None, code: str = "invalid_value") -> ev.ErrorEvent:
    return ev.ErrorEvent(error=ErrorDetail(code=code, message="no", event_id=event_id))


def vad(create_response: bool | None = True) -> ev.SessionUpdate:
    detection = TurnDetection(create_response=create_response)
    audio = AudioConfig(input=AudioInput(turn_detection=detection))
    return ev.SessionUpdate(session=SessionConfig(audio=audio))


# ---- the session configuration ---------------------------------------------------------------


def test_session_updates_merge_as_sent_in_wire_form() -> None:
    state = ClientState()
    state.sent(ev.SessionUpdate(session=SessionConfig(instructions="Front desk.", tools=[WEATHER])))
    state.sent(ev.SessionUpdate(session=SessionConfig(instructions="Returns desk.")))
    ptt = AudioConfig(input=AudioInput(turn_detection=None))
    state.sent(ev.SessionUpdate(session=SessionConfig(audio=ptt)))
    assert state.session == {
        "type": "realtime",
        "instructions": "Returns desk.",
        "tools": [wire_dict(WEATHER)],
        "audio": {"input": {"turn_detection": None}},
    }


def test_sent_returns_the_wire_form_with_an_event_id() -> None:
    state = ClientState()
    data = state.sent(ev.ConversationItemCreate(item=user("u1", "hi")))
    assert data["type"] == "conversation.item.create" and data["event_id"].startswith("event_")
    assert data["item"]["content"] == [{"type": "input_text", "text": "hi"}]
    assert "previous_item_id" not in data, "unset fields are not sent"
    assert state.sent(ev.ResponseCancel(event_id="mine"))["event_id"] == "mine"
    assert state.session == {} and not state.response_pending and len(state.conversation) == 0


# ---- the response ----------------------------------------------------------------------------


def test_a_requested_response_is_pending_until_it_is_done() -> None:
    state = ClientState()
    request = state.sent(ev.ResponseCreate())["event_id"]
    assert flags(state) == (request, None)
    assert state.response_pending
    state.received(created("r1"))
    assert flags(state) == (None, "r1")
    assert state.response_pending
    state.received(done("r1"))
    assert flags(state) == (None, None)
    assert not state.response_pending


def test_an_error_naming_the_request_answers_it_and_others_do_not() -> None:
    state = ClientState()
    request = state.sent(ev.ResponseCreate())["event_id"]
    state.received(refused("event_other"))
    state.received(refused(None))
    assert state.requested_response == request
    state.received(refused(request, "conversation_already_has_active_response"))
    assert not state.response_pending


def test_a_request_during_a_running_response_outlives_its_done_until_refused() -> None:
    state = ClientState()
    state.received(created("r1"))  # the server started one by itself
    request = state.sent(ev.ResponseCreate())["event_id"]
    state.received(done("r1"))
    assert state.requested_response == request and state.response_pending
    state.received(refused(request))
    assert not state.response_pending


def test_a_done_never_seen_created_answers_the_request() -> None:
    state = ClientState()
    state.sent(ev.ResponseCreate())
    state.received(done("r9"))
    assert not state.response_pending


def test_server_vad_turn_is_a_requested_response_until_created() -> None:
    state = ClientState()
    state.sent(vad())
    state.received(created("r1"))
    committed = ev.InputAudioBufferCommitted(item_id="u1")
    state.received(committed)  # barge-in: the caller's turn ends while r1 still runs
    assert state.requested_response == committed.event_id
    state.received(done("r1"))  # r1 was cancelled; the turn's own response is still to come
    assert state.response_pending
    state.received(created("r2"))
    assert flags(state) == (None, "r2")


def test_a_turn_commits_without_a_response_when_detection_does_not_answer() -> None:
    for update in (vad(create_response=False), None):
        state = ClientState()
        if update is not None:
            state.sent(update)
        state.received(ev.InputAudioBufferCommitted(item_id="u1"))
        assert not state.response_pending


def test_a_client_commit_asks_for_its_own_response_even_with_vad() -> None:
    state = ClientState()
    state.sent(vad())
    state.sent(ev.InputAudioBufferCommit())
    state.received(ev.InputAudioBufferCommitted(item_id="u1"))
    assert not state.response_pending
    refused_commit = state.sent(ev.InputAudioBufferCommit())["event_id"]
    state.received(refused(refused_commit, "input_audio_buffer_commit_empty"))
    state.received(ev.InputAudioBufferCommitted(item_id="u2"))  # the detector's, this time
    assert state.response_pending


def test_connection_lost_fails_the_running_response_and_clears_it() -> None:
    state = ClientState()
    assert state.connection_lost() is None
    state.sent(ev.ResponseCreate())
    state.received(created("r1"))
    failed = state.connection_lost()
    assert failed is not None and (failed.id, failed.status) == ("r1", "failed")
    assert failed.status_details is not None and failed.status_details.error is not None
    assert failed.status_details.error["code"] == "connection_lost"
    assert "dropped mid-response" in failed.status_details.error["message"]
    assert not state.response_pending and state.connection_lost() is None


def test_connection_lost_fails_a_request_not_yet_created_under_a_fresh_id() -> None:
    state = ClientState()
    state.sent(ev.ResponseCreate())
    failed = state.connection_lost()
    assert failed is not None and failed.status == "failed" and failed.id.startswith("resp_")
    assert not state.response_pending


# ---- the conversation ------------------------------------------------------------------------


def test_the_conversation_follows_added_done_deleted_and_beta_output_items() -> None:
    state = ClientState()
    state.received(ev.ConversationItemAdded(item=user("u1", "hi")))
    answer = MessageItem(id="a1", role="assistant", status="in_progress")
    state.received(ev.ConversationItemAdded(item=answer))
    final = MessageItem(
        id="a1", role="assistant", status="completed", content=[OutputText(text="hello")]
    )
    state.received(ev.OutputItemDone(response_id="r1", output_index=0, item=final))
    state.received(ev.ConversationItemDone(item=user("u2", "bye")))
    state.received(ev.ConversationItemDeleted(item_id="u2"))
    assert [i.id for i in state.conversation] == ["u1", "a1"]
    assert [i.text() for i in state.conversation.replay()] == ["hi", "hello"]  # type: ignore[union-attr]


def test_restore_replays_config_then_items_as_text_and_marks_their_echoes() -> None:
    state = ClientState()
    state.sent(ev.SessionUpdate(session=SessionConfig(instructions="Returns desk.")))
    items = [
        MessageItem(id="u1", role="user", content=[InputAudio(audio="AAAA", transcript="hello")]),
        MessageItem(id="a1", role="assistant", content=[OutputAudio(transcript="hi!")]),
        FunctionCallItem(id="f1", call_id="c1", name="x", arguments="{}", status="completed"),
        FunctionCallOutputItem(id="o1", call_id="c1", output="{}", status="completed"),
        MessageItem(id="p1", role="assistant", status="in_progress"),
    ]
    for item in items:
        state.received(ev.ConversationItemDone(item=item))
    events = state.restore()
    assert [e["type"] for e in events] == ["session.update"] + ["conversation.item.create"] * 4
    assert events[0]["session"] == {"type": "realtime", "instructions": "Returns desk."}
    assert [e["item"]["id"] for e in events[1:]] == ["u1", "a1", "f1", "o1"]
    assert events[1]["item"]["content"] == [{"type": "input_text", "text": "hello"}]
    assert "status" not in events[3]["item"], "server fields are not re-created"
    assert [i.id for i in state.conversation] == ["u1", "a1", "f1", "o1"]
    assert [e["item"] for e in state.restore()[1:]] == [e["item"] for e in events[1:]]
    echo = ev.ConversationItemAdded(item=user("u1", "hello"))
    assert state.is_echo(echo) and not state.is_echo(ev.ConversationItemAdded(item=user("n", "")))
    state.received(echo)
    state.received(ev.ConversationItemDone(item=user("u1", "hello")))
    assert not state.is_echo(echo), "an item's echo ends with its conversation.item.done"


def test_restore_without_items_sends_the_config_and_forgets_the_conversation() -> None:
    state = ClientState()
    assert state.restore() == []
    state.received(ev.ConversationItemDone(item=user("u1", "hi")))
    state.sent(ev.SessionUpdate(session=SessionConfig(instructions="x")))
    events = state.restore(items=False)
    assert [e["type"] for e in events] == ["session.update"]
    assert len(state.conversation) == 0
    assert not state.is_echo(ev.ConversationItemDone(item=user("u1", "hi")))
