"""Examples the protocol tests share: every client event type, and a run of server events."""

from typing import Any

from voxrelay.errors import ProtocolError
from voxrelay.realtime import events as ev
from voxrelay.realtime import types as t
from voxrelay.realtime.events import error_event

# One valid example of every client event type, with the class it parses to.
CLIENT_EXAMPLES: list[tuple[dict[str, Any], type]] = [
    (
        {
            "type": "session.update",
            "session": {
                "type": "realtime",
                "instructions": "Be brief.",
                "output_modalities": ["text"],
                "audio": {"input": {"turn_detection": None}},
            },
        },
        ev.SessionUpdate,
    ),
    ({"type": "input_audio_buffer.append", "audio": "AAAA"}, ev.InputAudioBufferAppend),
    ({"type": "input_audio_buffer.commit"}, ev.InputAudioBufferCommit),
    ({"type": "input_audio_buffer.clear"}, ev.InputAudioBufferClear),
    (
        {
            "type": "conversation.item.create",
            "previous_item_id": "item_1",
            "item": {
                "type": "message",
                "role": "user",
                "content": [{"type": "input_text", "text": "hi"}],
            },
        },
        ev.ConversationItemCreate,
    ),
    ({"type": "conversation.item.retrieve", "item_id": "item_1"}, ev.ConversationItemRetrieve),
    (
        {
            "type": "conversation.item.truncate",
            "item_id": "item_1",
            "content_index": 0,
            "audio_end_ms": 1500,
        },
        ev.ConversationItemTruncate,
    ),
    ({"type": "conversation.item.delete", "item_id": "item_1"}, ev.ConversationItemDelete),
    (
        {
            "type": "response.create",
            "response": {
                "output_modalities": ["text"],
                "instructions": "Say bye.",
                "tool_choice": {"type": "function", "name": "f"},
                "conversation": "none",
                "metadata": {"k": "v"},
            },
        },
        ev.ResponseCreate,
    ),
    ({"type": "response.cancel"}, ev.ResponseCancel),
]


def server_events() -> list[Any]:
    item = t.MessageItem(
        id="item_a",
        role="assistant",
        content=[t.OutputText(text="Hello")],
        status="completed",
    )
    part = {"response_id": "resp_1", "item_id": "item_a", "output_index": 0, "content_index": 0}
    return [
        ev.SessionCreated(session=t.SessionConfig(model="local")),
        ev.ResponseCreated(response=t.Response(id="resp_1")),
        ev.ConversationItemAdded(item=item),
        ev.OutputTextDelta(**part, delta="Hel"),
        ev.OutputTextDone(**part, text="Hello"),
        ev.FunctionCallArgumentsDone(
            response_id="resp_1",
            item_id="item_b",
            output_index=1,
            call_id="call_1",
            name="lookup",
            arguments="{}",
        ),
        ev.ConversationItemDone(item=item),
        ev.ResponseDone(response=t.Response(id="resp_1", status="completed", output=[item])),
        error_event(ProtocolError("invalid_json", "bad"), caused_by="evt_1"),
    ]
