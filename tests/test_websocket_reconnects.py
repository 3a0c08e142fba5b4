"""WebSocketRealtime reconnects: replay after a drop, a drop mid-response, giving up, backlog."""

from __future__ import annotations

from typing import Any

import pytest

from voxrelay.config import Settings
from voxrelay.errors import RealtimeConnectionError
from voxrelay.realtime import WebSocketRealtime
from voxrelay.realtime import events as ev
from voxrelay.realtime.types import SessionConfig
from voxrelay.session import Session
from voxrelay.session import events as app
from voxrelay.testing import say
from ws_harness import FAST, WEATHER, ServerMaker, ask, poll, shop, until

# ---- reconnects ------------------------------------------------------------------------------


async def test_reconnect_replays_session_config_and_conversation(
    server: ServerMaker, clients: Any
) -> None:
    s = await server(
        say("First answer."),
        say("Second answer.", expect_in_prompt=["remember the blue board", "First answer."]),
    )
    # The first retry waits 0.1-0.2 s, so the poll below (every 5 ms) sees the link down.
    rt = clients(s.url, backoff=0.2, max_backoff=0.2)
    await rt.connect(SessionConfig(instructions="Front desk.", tools=[WEATHER]))
    await rt.send(ev.SessionUpdate(session=SessionConfig(instructions="Returns desk.")))
    await ask(rt, "remember the blue board")
    seen: list[ev.ServerEventBase] = []
    await until(rt, ev.ResponseDone, seen)
    s.drop()
    await poll(lambda: not rt.connected)
    await ask(rt, "which board?")  # waits in the backlog for the fresh server session
    done = await until(rt, ev.ResponseDone, seen)
    assert isinstance(done, ev.ResponseDone) and done.response.status == "completed"
    assert rt.reconnects == 1 and len(s.engines) == 2
    old, new = s.engines
    assert new.session.instructions == old.session.instructions == "Returns desk."
    assert new.session.tools == old.session.tools == [WEATHER]
    replay = s.received[1]
    assert replay[0]["type"] == "session.update"
    assert replay[0]["session"]["instructions"] == "Returns desk."
    created = [e["item"] for e in replay if e["type"] == "conversation.item.create"]
    assert [i["role"] for i in created] == ["user", "assistant", "user"]
    assert created[2]["content"][0]["text"] == "which board?"
    assert replay[-1]["type"] == "response.create"
    assert [i["id"] for i in created[:2]] == [i.id for i in list(old.conversation)[:2]]
    echoes = [e for e in seen if isinstance(e, ev.ConversationItemAdded)]
    assert len({e.item.id for e in echoes}) == len(echoes), "replayed items are not echoed"
    s.chat.assert_complete()


async def test_drop_mid_response_ends_the_turn_then_the_session_goes_on(
    server: ServerMaker, clients: Any
) -> None:
    s = await server(say("a b c d e f g h", delay_s=0.05), say("Back again."))
    session = Session(shop(), clients(s.url), agent="returns", settings=Settings())
    async with session:
        await session.send_text("slow please")
        await s.chat.requested()  # the reply has started
        s.drop()
        first: list[app.AppEventBase] = []
        async for event in session.events():
            first.append(event)
            if isinstance(event, app.TurnDone):
                break
        second = await session.run_turn("hello?")
    errors = [e for e in first if isinstance(e, app.ErrorOccurred)]
    assert errors and "dropped mid-response" in errors[0].text
    assert [e.type for e in second][-2:] == ["assistant_message", "turn_done"]
    s.chat.assert_complete()


async def test_gives_up_after_max_retries(server: ServerMaker, clients: Any) -> None:
    s = await server()
    # Each retry waits 0.1-0.2 s, so the poll below (every 5 ms) sees the link down in time.
    rt = clients(s.url, max_retries=2, backoff=0.2, max_backoff=0.2)
    await rt.connect(SessionConfig(instructions="x"))
    assert s.server is not None
    s.server.close()  # drops the connection and refuses new ones
    await poll(lambda: not rt.connected)  # so the server can never receive what follows
    await rt.send(ev.ResponseCreate())  # never answered: it must end as failed
    seen: list[ev.ServerEventBase] = []
    async for event in rt.events():
        seen.append(event)
    failed = [e for e in seen if isinstance(e, ev.ResponseDone)]
    assert [d.response.status for d in failed] == ["failed"]
    error = seen[-1]
    assert isinstance(error, ev.ErrorEvent) and error.error.code == "connection_lost"
    assert "2 reconnect attempts" in error.error.message
    assert len(s.engines) == 1
    with pytest.raises(RealtimeConnectionError, match="session is over"):
        await rt.send(ev.ResponseCreate())


async def test_events_wait_while_disconnected_in_a_bounded_backlog(
    server: ServerMaker, clients: Any
) -> None:
    s = await server()
    rt = clients(s.url, backoff=60.0, max_backoff=60.0, queue_size=2)
    await rt.connect()
    s.drop()
    await poll(lambda: not rt.connected)
    await rt.send(ev.InputAudioBufferAppend(audio="AAAA"))
    await rt.send(ev.ResponseCreate())
    await rt.send(ev.ResponseCancel())
    with pytest.raises(RealtimeConnectionError, match="2 events already wait"):
        await rt.send(ev.ResponseCreate())
    assert rt.dropped_audio == 1


async def test_first_connect_failure_is_a_clear_error() -> None:
    rt = WebSocketRealtime("ws://127.0.0.1:9/v1/realtime", max_retries=1, **FAST)
    with pytest.raises(RealtimeConnectionError, match=r"cannot connect to ws://127\.0\.0\.1:9"):
        await rt.connect()
    await rt.close()
