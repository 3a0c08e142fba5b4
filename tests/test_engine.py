"""The local engine's Realtime event sequences, on a scripted ChatModel."""

from __future__ import annotations

import pytest

from voxrelay.engine import Engine
from voxrelay.realtime import events as ev
from voxrelay.realtime.types import (
    FunctionCallItem,
    FunctionCallOutputItem,
    FunctionToolDef,
    InputText,
    MessageItem,
    OutputText,
    ResponseParams,
    SessionConfig,
)
from voxrelay.testing import EventLog, ScriptedChatModel, Step, call, say, virtual_time

LOOKUP = FunctionToolDef(name="lookup", description="Look up.", parameters={"type": "object"})


def user(text: str) -> ev.ConversationItemCreate:
    return ev.ConversationItemCreate(item=MessageItem(role="user", content=[InputText(text=text)]))


LOGS: dict[Engine, EventLog[ev.ServerEvent]] = {}
"""What each open engine emitted, read through its public `events()`."""


async def drain(engine: Engine) -> list[ev.ServerEvent]:
    """The events the engine emitted since the last drain (after the active response ends)."""
    await engine.wait_idle()
    return await LOGS[engine].take()


def types(events: list[ev.ServerEvent]) -> list[str]:
    return [e.type for e in events]


def completed(events: list[ev.ServerEvent]) -> ev.ResponseDone:
    """The last event, which must be a `response.done` with status `completed`."""
    done = events[-1]
    assert isinstance(done, ev.ResponseDone), types(events)
    assert done.response.status == "completed", done.response.status_details
    return done


def output_text(done: ev.ResponseDone) -> str:
    """The text of the response's one output message."""
    (item,) = done.response.output
    assert isinstance(item, MessageItem)
    return item.text()


@pytest.fixture
async def engine_for():
    """Builds engines on scripted models, on a fast-forward clock; closes them at the end."""

    def make(*steps: Step) -> Engine:
        engine = Engine(ScriptedChatModel(steps))
        LOGS[engine] = EventLog(engine.events())
        return engine

    with virtual_time():
        yield make
        for engine, log in list(LOGS.items()):
            await engine.close()
            await log.aclose()
            del LOGS[engine]


async def test_session_created_first_and_update_merges(engine_for):
    engine = engine_for()
    await engine.start()
    await engine.handle(ev.SessionUpdate(session=SessionConfig(instructions="Be brief.")))
    await engine.handle(ev.SessionUpdate(session=SessionConfig(tools=[LOOKUP])))
    events = await drain(engine)
    assert types(events) == ["session.created", "session.updated", "session.updated"]
    final = events[-1]
    assert isinstance(final, ev.SessionUpdated)
    assert final.session.type == "realtime"
    assert final.session.instructions == "Be brief."  # kept: not sent in the second update
    assert [t.name for t in final.session.tools or []] == ["lookup"]


async def test_plain_text_reply_sequence(engine_for):
    engine = engine_for(say("Hello there"))
    await engine.handle(user("hi"))
    await engine.handle(ev.ResponseCreate())
    events = await drain(engine)
    assert types(events) == [
        "conversation.item.added",
        "conversation.item.done",
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
    assert isinstance(done, ev.ResponseDone)
    assert done.response.status == "completed"
    assert done.response.usage is not None and done.response.usage.output_tokens == 2
    text_done = next(e for e in events if isinstance(e, ev.OutputTextDone))
    assert text_done.text == "Hello there"
    ids = {e.response_id for e in events if hasattr(e, "response_id")}
    assert ids == {done.response.id}
    assistant = engine.conversation.get(text_done.item_id)
    assert isinstance(assistant, MessageItem) and assistant.text() == "Hello there"
    assert assistant.status == "completed"


async def test_item_added_before_mutation_is_a_snapshot(engine_for):
    engine = engine_for(say("one two three"))
    await engine.handle(user("hi"))
    await engine.handle(ev.ResponseCreate())
    events = await drain(engine)
    added = next(e for e in events if isinstance(e, ev.OutputItemAdded))
    assert isinstance(added.item, MessageItem)
    assert added.item.content == [] and added.item.status == "in_progress"


async def test_tool_call_sequence(engine_for):
    engine = engine_for(call("lookup", '{"order": "A1"}'))
    await engine.handle(ev.SessionUpdate(session=SessionConfig(tools=[LOOKUP])))
    await engine.handle(user("where is my order A1"))
    await engine.handle(ev.ResponseCreate())
    events = (await drain(engine))[3:]
    assert types(events) == [
        "response.created",
        "response.output_item.added",
        "conversation.item.added",
        "response.function_call_arguments.delta",
        "response.function_call_arguments.done",
        "conversation.item.done",
        "response.output_item.done",
        "response.done",
    ]
    added = events[1]
    assert isinstance(added, ev.OutputItemAdded) and isinstance(added.item, FunctionCallItem)
    assert added.item.arguments == ""
    args_done = events[4]
    assert isinstance(args_done, ev.FunctionCallArgumentsDone)
    assert (args_done.name, args_done.arguments) == ("lookup", '{"order": "A1"}')
    assert args_done.call_id == added.item.call_id


async def test_tool_result_round_trip_reaches_the_model(engine_for):
    engine = engine_for(call("lookup", "{}"), say("It ships Monday."))
    await engine.handle(ev.SessionUpdate(session=SessionConfig(tools=[LOOKUP])))
    await engine.handle(user("where is my order"))
    await engine.handle(ev.ResponseCreate())
    events = await drain(engine)
    fc = next(e for e in events if isinstance(e, ev.FunctionCallArgumentsDone))
    output = FunctionCallOutputItem(call_id=fc.call_id, output='{"eta": "Monday"}')
    await engine.handle(ev.ConversationItemCreate(item=output))
    await engine.handle(ev.ResponseCreate())
    await drain(engine)
    model = engine.chat
    assert isinstance(model, ScriptedChatModel)
    messages = model.requests[1][0]
    assert [m.role for m in messages] == ["user", "assistant", "tool"]
    assert messages[1].tool_calls[0].name == "lookup"
    assert messages[2].content == '{"eta": "Monday"}' and messages[2].name == "lookup"
    model.assert_complete()


async def test_second_response_while_active_is_an_error(engine_for):
    engine = engine_for(Step(text="slow reply here", delay_s=0.01))
    await engine.handle(user("hi"))
    await engine.handle(ev.ResponseCreate())
    await engine.handle(ev.ResponseCreate(event_id="evt_2"))
    events = await drain(engine)
    errors = [e for e in events if isinstance(e, ev.ErrorEvent)]
    assert len(errors) == 1
    assert errors[0].error.code == "conversation_already_has_active_response"
    assert errors[0].error.event_id == "evt_2"
    assert types(events).count("response.done") == 1  # the first response still finished
    assert output_text(completed(events)) == "slow reply here"


async def test_cancel_ends_response_cancelled_with_incomplete_item(engine_for):
    engine = engine_for(Step(text="a b c d e f g h", delay_s=0.25))
    await engine.handle(user("hi"))
    await engine.handle(ev.ResponseCreate())
    await LOGS[engine].until(lambda events: any(isinstance(e, ev.OutputTextDelta) for e in events))
    await engine.handle(ev.ResponseCancel())
    events = await drain(engine)
    tail = types(events)[-5:]
    assert tail == [
        "response.output_text.done",
        "response.content_part.done",
        "conversation.item.done",
        "response.output_item.done",
        "response.done",
    ]
    done = events[-1]
    assert isinstance(done, ev.ResponseDone)
    assert done.response.status == "cancelled"
    assert done.response.status_details is not None
    assert done.response.status_details.reason == "client_cancelled"
    item_done = next(e for e in events if isinstance(e, ev.OutputItemDone))
    assert item_done.item.status == "incomplete"
    partial = next(e for e in events if isinstance(e, ev.OutputTextDone)).text
    assert partial and partial != "a b c d e f g h"
    assert engine.active_response is None


async def test_cancel_without_active_response_is_an_error(engine_for):
    engine = engine_for()
    await engine.handle(ev.ResponseCancel(event_id="c1"))
    (error,) = await drain(engine)
    assert isinstance(error, ev.ErrorEvent)
    assert error.error.code == "response_cancel_not_active"
    assert error.error.event_id == "c1"


async def test_item_retrieve_delete_and_missing_item(engine_for):
    engine = engine_for()
    await engine.handle(user("one"))
    created = (await drain(engine))[0]
    assert isinstance(created, ev.ConversationItemAdded)
    item_id = created.item.id
    assert item_id
    await engine.handle(ev.ConversationItemRetrieve(item_id=item_id))
    await engine.handle(ev.ConversationItemDelete(item_id=item_id))
    await engine.handle(ev.ConversationItemRetrieve(item_id=item_id))
    retrieved, deleted, missing = await drain(engine)
    assert isinstance(retrieved, ev.ConversationItemRetrieved) and retrieved.item.id == item_id
    assert isinstance(deleted, ev.ConversationItemDeleted) and deleted.item_id == item_id
    assert isinstance(missing, ev.ErrorEvent) and missing.error.code == "item_not_found"
    assert len(engine.conversation) == 0


async def test_previous_item_id_inserts_in_place(engine_for):
    engine = engine_for()
    await engine.handle(user("first"))
    await engine.handle(user("third"))
    first = engine.conversation.ids()[0]
    await engine.handle(
        ev.ConversationItemCreate(
            item=MessageItem(role="user", content=[InputText(text="second")]),
            previous_item_id=first,
        )
    )
    await drain(engine)
    texts = [i.text() for i in engine.conversation if isinstance(i, MessageItem)]
    assert texts == ["first", "second", "third"]


async def test_response_overrides_and_out_of_band(engine_for):
    engine = engine_for(say("Classified.", expect_tools=[], expect_in_prompt=["Only classify."]))
    await engine.handle(ev.SessionUpdate(session=SessionConfig(tools=[LOOKUP])))
    await engine.handle(user("hi"))
    params = ResponseParams(conversation="none", instructions="Only classify.", tools=[])
    await engine.handle(ev.ResponseCreate(response=params))
    events = await drain(engine)
    assert output_text(completed(events)) == "Classified."
    assert "conversation.item.added" not in types(events[4:])
    assert len(engine.conversation) == 1  # the out-of-band reply stayed out


async def test_bad_tool_choice_and_raw_input_errors_keep_the_session(engine_for):
    engine = engine_for(say("still here"))
    bad_choice = SessionConfig(tool_choice={"type": "function", "name": "nope"})
    await engine.handle(ev.SessionUpdate(session=bad_choice))
    await engine.handle_raw("{not json")
    await engine.handle_raw({"type": "response.explode", "event_id": "x9"})
    await engine.handle_raw({"type": "conversation.item.create", "item": {"type": "message"}})
    await engine.handle_raw(b'{"type": "input_audio_buffer.commit"}')
    codes = [e.error.code for e in await drain(engine) if isinstance(e, ev.ErrorEvent)]
    assert codes == [
        "invalid_value",
        "invalid_json",
        "unknown_event_type",
        "invalid_value",
        "audio_unavailable",
    ]
    await engine.handle(user("hello?"))
    await engine.handle(ev.ResponseCreate())
    completed(await drain(engine))


async def test_failed_model_gives_failed_response(engine_for):
    engine = engine_for(Step(raises=RuntimeError("boom")))
    await engine.handle(user("hi"))
    await engine.handle(ev.ResponseCreate())
    done = (await drain(engine))[-1]
    assert isinstance(done, ev.ResponseDone) and done.response.status == "failed"
    assert done.response.status_details and done.response.status_details.error
    error = done.response.status_details.error
    assert error["code"] == "model_error" and "boom" not in error["message"]  # detail: the log


async def test_assistant_text_history_renders_for_the_model(engine_for):
    engine = engine_for(say("ok", expect_in_prompt=["Earlier answer"]))
    item = MessageItem(role="assistant", content=[OutputText(text="Earlier answer")])
    await engine.handle(ev.ConversationItemCreate(item=item))
    await engine.handle(user("and now?"))
    await engine.handle(ev.ResponseCreate())
    assert output_text(completed(await drain(engine))) == "ok"
