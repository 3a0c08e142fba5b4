"""The WebSocket client's I/O-free parts (wire dicts, beta decoding, mirror, backoff), settings."""

from __future__ import annotations

import pytest

from voxrelay.assembly import load_realtime_model
from voxrelay.config import Settings
from voxrelay.engine import Engine
from voxrelay.errors import ConfigError
from voxrelay.realtime import InProcessRealtime, WebSocketRealtime
from voxrelay.realtime import events as ev
from voxrelay.realtime.beta import BetaServerDecoder, client_from_beta, client_to_beta
from voxrelay.realtime.replay import ConversationMirror, wire_dict
from voxrelay.realtime.types import (
    AudioConfig,
    AudioInput,
    FunctionCallItem,
    FunctionCallOutputItem,
    InputAudio,
    MessageItem,
    OutputAudio,
    SessionConfig,
)
from voxrelay.testing import ScriptedChatModel

# ---- the I/O-free parts ----------------------------------------------------------------------


def test_wire_dict_keeps_explicit_nulls_only() -> None:
    ptt = SessionConfig(audio=AudioConfig(input=AudioInput(turn_detection=None)))
    data = wire_dict(ev.SessionUpdate(session=ptt))
    assert data["session"]["audio"] == {"input": {"turn_detection": None}}
    assert "instructions" not in data["session"] and data["session"]["type"] == "realtime"


def test_client_to_beta_round_trips_through_client_from_beta() -> None:
    ga = wire_dict(
        ev.ResponseCreate.model_validate(
            {"response": {"output_modalities": ["audio"], "max_output_tokens": 50}}
        )
    )
    beta = client_to_beta(ga)
    assert beta["response"] == {"modalities": ["text", "audio"], "max_response_output_tokens": 50}
    assert client_from_beta(beta)["response"] == {
        "output_modalities": ["audio"],
        "max_output_tokens": 50,
    }
    item = {
        "type": "message",
        "role": "assistant",
        "content": [{"type": "output_text", "text": "a"}],
    }
    sent = client_to_beta({"type": "conversation.item.create", "item": item})
    assert sent["item"]["content"][0]["type"] == "text"


def test_beta_decoder_fills_the_function_name_and_marks_items_done() -> None:
    decoder = BetaServerDecoder()
    fc = {
        "type": "function_call",
        "id": "i1",
        "call_id": "c1",
        "name": "get_weather",
        "arguments": "",
    }
    decoder.decode(
        {"type": "response.output_item.added", "response_id": "r", "output_index": 0, "item": fc}
    )
    (done,) = decoder.decode(
        {
            "type": "response.function_call_arguments.done",
            "response_id": "r",
            "item_id": "i1",
            "output_index": 0,
            "call_id": "c1",
            "arguments": "{}",
        }
    )
    assert ev.parse_server_event(done).name == "get_weather"  # type: ignore[union-attr]
    user = {
        "id": "u1",
        "type": "message",
        "role": "user",
        "status": "completed",
        "content": [{"type": "input_text", "text": "hi"}],
    }
    added, final = decoder.decode({"type": "conversation.item.created", "item": user})
    assert (added["type"], final["type"]) == ("conversation.item.added", "conversation.item.done")


def test_mirror_replays_text_and_drops_orphan_outputs() -> None:
    mirror = ConversationMirror(limit=3)
    items = [
        FunctionCallItem(id="f", call_id="c0", name="x", status="completed"),
        FunctionCallOutputItem(id="o", call_id="c0", output="{}", status="completed"),
        MessageItem(id="u", role="user", content=[InputAudio(audio="AAAA", transcript="hello")]),
        MessageItem(id="a", role="assistant", content=[OutputAudio(transcript="hi!")]),
        MessageItem(id="p", role="assistant", status="in_progress"),
    ]
    for item in items:
        mirror.observe(ev.ConversationItemDone(item=item))
    replay = mirror.replay()  # "f" was trimmed (limit 3), so its output "o" goes too
    assert [i.id for i in replay] == ["u", "a"]
    assert [wire_dict(i)["content"] for i in replay] == [
        [{"type": "input_text", "text": "hello"}],
        [{"type": "output_text", "text": "hi!"}],
    ]


def test_backoff_doubles_up_to_the_cap_with_jitter() -> None:
    rt = WebSocketRealtime("ws://x", backoff=1.0, max_backoff=4.0)
    for attempt, full in [(0, 1.0), (1, 2.0), (2, 4.0), (5, 4.0)]:
        assert all(full / 2 <= rt.retry_delay(attempt) <= full for _ in range(50))


# ---- settings --------------------------------------------------------------------------------


def test_factory_picks_the_backend(monkeypatch: pytest.MonkeyPatch) -> None:
    """Which client each backend gets; the headers they send are checked over a socket."""
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    local = load_realtime_model(Settings(), lambda: Engine(ScriptedChatModel([])))
    assert isinstance(local, InProcessRealtime)
    with pytest.raises(ConfigError, match="OPENAI_API_KEY"):
        load_realtime_model(Settings(realtime_backend="openai"))
    monkeypatch.setenv("OPENAI_API_KEY", "sk-env")
    cloud = load_realtime_model(Settings(realtime_backend="openai"))
    assert isinstance(cloud, WebSocketRealtime)
    assert cloud.url == "wss://api.openai.com/v1/realtime?model=gpt-realtime"
    other = load_realtime_model(
        Settings(
            realtime_backend="websocket",
            realtime_url="ws://box:8000/v1/realtime?model=mine",
            realtime_protocol="beta",
            openai_api_key="k",
        )
    )
    assert isinstance(other, WebSocketRealtime) and other.protocol == "beta"
    assert other.url == "ws://box:8000/v1/realtime?model=mine"
