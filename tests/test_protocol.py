"""Realtime protocol: client event parsing and errors, and server events."""

import json
from typing import Any

import pytest

from protocol_examples import CLIENT_EXAMPLES, server_events
from voxrelay.errors import ProtocolError
from voxrelay.realtime import events as ev
from voxrelay.realtime import types as t
from voxrelay.realtime.events import (
    CLIENT_EVENT_TYPES,
    error_event,
    parse_client_event,
    parse_server_event,
)


def test_examples_cover_every_client_event_type() -> None:
    assert {e["type"] for e, _ in CLIENT_EXAMPLES} == CLIENT_EVENT_TYPES


@pytest.mark.parametrize("form", ["dict", "str", "bytes"])
@pytest.mark.parametrize(("data", "cls"), CLIENT_EXAMPLES, ids=lambda v: getattr(v, "__name__", ""))
def test_parse_client_event(data: dict[str, Any], cls: type, form: str) -> None:
    raw: Any = {
        "dict": {**data, "event_id": "evt_1"},
        "str": json.dumps({**data, "event_id": "evt_1"}),
        "bytes": json.dumps({**data, "event_id": "evt_1"}).encode(),
    }[form]
    event = parse_client_event(raw)
    assert type(event) is cls
    assert event.type == data["type"]
    assert event.event_id == "evt_1"


def test_client_event_id_is_optional() -> None:
    assert parse_client_event({"type": "input_audio_buffer.commit"}).event_id is None


def test_parsed_fields_are_typed() -> None:
    create = parse_client_event(CLIENT_EXAMPLES[4][0])
    assert isinstance(create, ev.ConversationItemCreate)
    assert isinstance(create.item, t.MessageItem)
    assert create.item.text() == "hi"
    assert create.previous_item_id == "item_1"
    update = parse_client_event(CLIENT_EXAMPLES[0][0])
    assert isinstance(update, ev.SessionUpdate)
    assert update.session.audio is not None and update.session.audio.input is not None
    assert update.session.audio.input.turn_detection is None
    assert update.session.output_modalities == ["text"]


def test_function_call_output_item() -> None:
    event = parse_client_event(
        {
            "type": "conversation.item.create",
            "item": {"type": "function_call_output", "call_id": "call_1", "output": "{}"},
        }
    )
    assert isinstance(event, ev.ConversationItemCreate)
    assert isinstance(event.item, t.FunctionCallOutputItem)
    assert event.item.call_id == "call_1"


def test_unknown_fields_are_kept() -> None:
    event = parse_client_event({"type": "response.cancel", "x_custom": 1})
    assert event.model_dump()["x_custom"] == 1


# --- ProtocolError codes ------------------------------------------------------------------


@pytest.mark.parametrize("raw", ["{not json", b"{not json", "", b"[1,"])
def test_invalid_json(raw: str | bytes) -> None:
    with pytest.raises(ProtocolError) as info:
        parse_client_event(raw)
    assert info.value.code == "invalid_json"


def test_invalid_utf8_bytes_are_invalid_json() -> None:
    with pytest.raises(ProtocolError) as info:
        parse_client_event(b"\xff\xfe\x00")
    assert info.value.code == "invalid_json"


@pytest.mark.parametrize("raw", ["[]", "42", '"session.update"', "null", b"[1]"])
def test_non_object_is_invalid_event(raw: str | bytes) -> None:
    with pytest.raises(ProtocolError) as info:
        parse_client_event(raw)
    assert info.value.code == "invalid_event"


@pytest.mark.parametrize(
    "data",
    [{"type": "response.text.delta"}, {"type": "session.created"}, {}, {"type": 3}],
)
def test_unknown_event_type_lists_valid_types(data: dict[str, Any]) -> None:
    with pytest.raises(ProtocolError) as info:
        parse_client_event(data)
    assert info.value.code == "unknown_event_type"
    assert info.value.param == "type"
    message = str(info.value)
    for kind in CLIENT_EVENT_TYPES:
        assert kind in message


@pytest.mark.parametrize(
    ("data", "param"),
    [
        ({"type": "input_audio_buffer.append"}, "audio"),
        ({"type": "session.update"}, "session"),
        ({"type": "session.update", "session": {"type": "transcription"}}, "session.type"),
        (
            {
                "type": "session.update",
                "session": {"audio": {"input": {"format": {"type": "audio/wav"}}}},
            },
            "session.audio.input.format.type",
        ),
        (
            {"type": "conversation.item.truncate", "item_id": "i", "audio_end_ms": "soon"},
            "audio_end_ms",
        ),
        ({"type": "conversation.item.delete"}, "item_id"),
        (
            {"type": "response.create", "response": {"output_modalities": ["video"]}},
            "response.output_modalities.0",
        ),
    ],
)
def test_invalid_value_carries_param_path(data: dict[str, Any], param: str) -> None:
    with pytest.raises(ProtocolError) as info:
        parse_client_event(data)
    assert info.value.code == "invalid_value"
    assert info.value.param == param
    assert str(info.value).startswith(f"{data['type']}: {param}: ")


def test_invalid_value_param_path_skips_union_tags() -> None:
    with pytest.raises(ProtocolError) as info:
        parse_client_event(
            {"type": "conversation.item.create", "item": {"type": "message", "role": "bot"}}
        )
    assert info.value.param == "item.role"


def test_error_event_carries_cause() -> None:
    with pytest.raises(ProtocolError) as info:
        parse_client_event({"type": "input_audio_buffer.append", "event_id": "evt_9"})
    event = error_event(info.value, caused_by="evt_9")
    assert event.type == "error"
    assert event.event_id.startswith("event_")
    assert event.error.code == "invalid_value"
    assert event.error.param == "audio"
    assert event.error.event_id == "evt_9"
    assert event.error.type == "invalid_request_error"
    assert "audio" in event.error.message


def test_error_event_without_cause() -> None:
    event = error_event(ProtocolError("invalid_json", "bad"))
    assert event.error.event_id is None
    assert event.error.message == "bad"


# --- server events ------------------------------------------------------------------------


def test_server_events_serialize_with_event_id() -> None:
    events = server_events()
    ids = set()
    for event in events:
        data = json.loads(event.model_dump_json())
        assert data["event_id"].startswith("event_")
        assert data["type"] == event.type
        ids.add(data["event_id"])
    assert len(ids) == len(events)


def test_session_created_serializes_session_type() -> None:
    data = json.loads(ev.SessionCreated(session=t.SessionConfig()).model_dump_json())
    assert data["session"]["type"] == "realtime"


@pytest.mark.parametrize("form", ["dict", "str", "bytes"])
def test_parse_server_event_round_trips(form: str) -> None:
    for event in server_events():
        text = event.model_dump_json()
        raw: Any = {"dict": json.loads(text), "str": text, "bytes": text.encode()}[form]
        parsed = parse_server_event(raw)
        assert type(parsed) is type(event)
        assert parsed == event
