"""Realtime protocol: the beta codec, client side and server side (beta ↔ GA)."""

from typing import Any

import pytest

from protocol_examples import CLIENT_EXAMPLES, server_events
from voxrelay.realtime import events as ev
from voxrelay.realtime import types as t
from voxrelay.realtime.beta import (
    client_from_beta,
    server_to_beta,
    session_from_beta,
    session_to_beta,
)
from voxrelay.realtime.events import parse_client_event

# --- beta codec: client side --------------------------------------------------------------


def test_beta_session_update_becomes_ga() -> None:
    beta = {
        "type": "session.update",
        "event_id": "evt_1",
        "session": {
            "modalities": ["text", "audio"],
            "instructions": "Be kind.",
            "voice": "ash",
            "input_audio_format": "pcm16",
            "output_audio_format": "g711_ulaw",
            "input_audio_transcription": {"model": "whisper-1"},
            "turn_detection": {"type": "server_vad", "silence_duration_ms": 400},
            "max_response_output_tokens": 300,
            "temperature": 0.8,
            "tools": [{"type": "function", "name": "f", "parameters": {}}],
        },
    }
    ga = client_from_beta(beta)
    assert ga["type"] == "session.update"
    assert ga["event_id"] == "evt_1"
    assert ga["session"] == {
        "type": "realtime",
        "output_modalities": ["audio"],
        "instructions": "Be kind.",
        "max_output_tokens": 300,
        "tools": [{"type": "function", "name": "f", "parameters": {}}],
        "audio": {
            "input": {
                "format": {"type": "audio/pcm", "rate": 24000},
                "transcription": {"model": "whisper-1"},
                "turn_detection": {"type": "server_vad", "silence_duration_ms": 400},
            },
            "output": {"voice": "ash", "format": {"type": "audio/pcmu"}},
        },
    }
    assert beta["session"]["modalities"] == ["text", "audio"], "input must not be mutated"
    assert isinstance(parse_client_event(ga), ev.SessionUpdate)


@pytest.mark.parametrize(
    ("beta_format", "ga_format"),
    [
        ("pcm16", {"type": "audio/pcm", "rate": 24000}),
        ("g711_ulaw", {"type": "audio/pcmu"}),
        ("g711_alaw", {"type": "audio/pcma"}),
    ],
)
def test_beta_audio_formats(beta_format: str, ga_format: dict[str, Any]) -> None:
    ga = session_from_beta({"input_audio_format": beta_format, "output_audio_format": beta_format})
    assert ga["audio"]["input"]["format"] == ga_format
    assert ga["audio"]["output"]["format"] == ga_format
    assert session_to_beta(ga)["input_audio_format"] == beta_format
    assert session_to_beta(ga)["output_audio_format"] == beta_format


def test_beta_text_modalities_and_null_turn_detection() -> None:
    ga = session_from_beta({"modalities": ["text"], "turn_detection": None})
    assert ga == {
        "type": "realtime",
        "output_modalities": ["text"],
        "audio": {"input": {"turn_detection": None}, "output": {}},
    }


def test_beta_assistant_content_renamed() -> None:
    beta = {
        "type": "conversation.item.create",
        "item": {
            "type": "message",
            "role": "assistant",
            "content": [{"type": "text", "text": "Earlier reply."}],
        },
    }
    ga = client_from_beta(beta)
    assert ga["item"]["content"] == [{"type": "output_text", "text": "Earlier reply."}]
    parsed = parse_client_event(ga)
    assert isinstance(parsed, ev.ConversationItemCreate)
    assert isinstance(parsed.item, t.MessageItem)
    assert isinstance(parsed.item.content[0], t.OutputText)


def test_beta_user_content_unchanged() -> None:
    beta = {
        "type": "conversation.item.create",
        "item": {
            "type": "message",
            "role": "user",
            "content": [{"type": "input_text", "text": "x"}],
        },
    }
    assert client_from_beta(beta) == beta


def test_beta_response_create() -> None:
    ga = client_from_beta(
        {
            "type": "response.create",
            "response": {
                "modalities": ["text"],
                "max_response_output_tokens": 50,
                "voice": "ash",
                "output_audio_format": "pcm16",
                "temperature": 0.7,
                "instructions": "Short.",
            },
        }
    )
    assert ga["response"] == {
        "output_modalities": ["text"],
        "max_output_tokens": 50,
        "instructions": "Short.",
    }
    assert isinstance(parse_client_event(ga), ev.ResponseCreate)


def test_beta_other_client_events_pass_through() -> None:
    for data, _ in CLIENT_EXAMPLES[1:4]:
        assert client_from_beta(data) == data


# --- beta codec: server side --------------------------------------------------------------


def _dump(event: Any) -> dict[str, Any]:
    data: dict[str, Any] = event.model_dump(mode="json", exclude_none=True)
    return data


@pytest.mark.parametrize(
    ("ga", "beta"),
    [
        ("response.output_text.delta", "response.text.delta"),
        ("response.output_text.done", "response.text.done"),
        ("response.output_audio.delta", "response.audio.delta"),
        ("response.output_audio.done", "response.audio.done"),
        ("response.output_audio_transcript.delta", "response.audio_transcript.delta"),
        ("response.output_audio_transcript.done", "response.audio_transcript.done"),
        ("conversation.item.added", "conversation.item.created"),
        ("response.function_call_arguments.done", "response.function_call_arguments.done"),
        ("input_audio_buffer.speech_started", "input_audio_buffer.speech_started"),
        ("error", "error"),
    ],
)
def test_server_event_renames(ga: str, beta: str) -> None:
    (out,) = server_to_beta({"type": ga, "event_id": "event_1", "delta": "x"})
    assert out["type"] == beta
    assert out["event_id"] == "event_1"


def test_item_done_has_no_beta_twin() -> None:
    item = t.MessageItem(role="assistant", content=[t.OutputText(text="x")])
    assert server_to_beta(_dump(ev.ConversationItemDone(item=item))) == []


def test_server_sequence_to_beta() -> None:
    beta = [b for e in server_events() for b in server_to_beta(_dump(e))]
    assert [b["type"] for b in beta] == [
        "session.created",
        "response.created",
        "conversation.item.created",
        "response.text.delta",
        "response.text.done",
        "response.function_call_arguments.done",
        "response.done",
        "error",
    ]


def test_server_content_types_renamed() -> None:
    item = t.MessageItem(
        id="item_a",
        role="assistant",
        content=[t.OutputText(text="Hi"), t.OutputAudio(transcript="Hi")],
    )
    (added,) = server_to_beta(_dump(ev.ConversationItemAdded(item=item)))
    assert [p["type"] for p in added["item"]["content"]] == ["text", "audio"]
    part = ev.ContentPartAdded(
        response_id="r", item_id="i", output_index=0, content_index=0, part=t.OutputText(text="")
    )
    (beta_part,) = server_to_beta(_dump(part))
    assert beta_part["type"] == "response.content_part.added"
    assert beta_part["part"] == {"type": "text", "text": ""}


def test_response_modalities_renamed() -> None:
    response = t.Response(id="r", output_modalities=["audio"])
    (created,) = server_to_beta(_dump(ev.ResponseCreated(response=response)))
    assert created["response"]["modalities"] == ["text", "audio"]
    assert "output_modalities" not in created["response"]


def test_server_session_flattened() -> None:
    session = t.SessionConfig(
        model="local",
        instructions="Hi.",
        output_modalities=["text"],
        max_output_tokens=100,
        audio=t.AudioConfig(
            input=t.AudioInput(
                format=t.AudioFormat(type="audio/pcmu"),
                turn_detection=t.TurnDetection(silence_duration_ms=700),
            ),
            output=t.AudioOutput(voice="alloy", format=t.AudioFormat()),
        ),
    )
    (updated,) = server_to_beta(_dump(ev.SessionUpdated(session=session)))
    s = updated["session"]
    assert updated["type"] == "session.updated"
    assert "type" not in s
    assert "audio" not in s
    assert "output_modalities" not in s
    assert s["modalities"] == ["text"]
    assert s["model"] == "gpt-4o-realtime-preview", "a name the beta types accept"
    assert s["voxrelay_model"] == "local"
    assert s["instructions"] == "Hi."
    assert s["max_response_output_tokens"] == 100
    assert s["input_audio_format"] == "g711_ulaw"
    assert s["output_audio_format"] == "pcm16"
    assert s["voice"] == "alloy"
    assert s["turn_detection"]["silence_duration_ms"] == 700


def test_session_round_trip_ga_beta_ga() -> None:
    ga = {
        "type": "realtime",
        "instructions": "hi",
        "output_modalities": ["audio"],
        "max_output_tokens": 200,
        "tools": [{"type": "function", "name": "f", "description": "", "parameters": {}}],
        "tool_choice": "auto",
        "audio": {
            "input": {
                "format": {"type": "audio/pcm", "rate": 24000},
                "transcription": {"model": "whisper-1"},
                "turn_detection": {"type": "server_vad", "threshold": 0.5},
            },
            "output": {"format": {"type": "audio/pcmu"}, "voice": "alloy"},
        },
    }
    assert session_from_beta(session_to_beta(ga)) == ga
    config = t.SessionConfig.model_validate(ga)
    back = session_from_beta(session_to_beta(config.model_dump(mode="json", exclude_none=True)))
    assert t.SessionConfig.model_validate(back) == config


def test_server_session_with_nulls_to_beta() -> None:
    data = ev.SessionCreated(session=t.SessionConfig()).model_dump(mode="json")
    (created,) = server_to_beta(data)
    assert "type" not in created["session"]
