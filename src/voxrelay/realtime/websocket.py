"""WebSocketRealtime: a RealtimeModel over a WebSocket, for the OpenAI Realtime API (GA or beta)
or any compatible server, such as `voxrelay serve`.

Reconnects: when the connection drops without `close()`, the client reconnects with
exponential backoff (capped, jittered). The fresh server session gets the merged session
configuration again and, with `replay_items`, the finished conversation items as text. A
response that was running is reported as failed (`response.done`, status `failed`, code
`connection_lost`). After `max_retries` failed attempts an `error` event with code
`connection_lost` ends the stream. What the client knows of the session (configuration,
conversation, running response) is kept in `state`, an I/O-free `ClientState`.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import json
import logging
import random
import typing
from collections.abc import AsyncIterator
from typing import Any, Literal
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from pydantic import ValidationError
from websockets.asyncio.client import ClientConnection
from websockets.asyncio.client import connect as ws_connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidStatus, InvalidURI

from voxrelay.errors import RealtimeConnectionError
from voxrelay.realtime import events as ev
from voxrelay.realtime.beta import BetaServerDecoder, client_to_beta
from voxrelay.realtime.model import ModelHabits
from voxrelay.realtime.replay import JSON
from voxrelay.realtime.state import ClientState
from voxrelay.realtime.types import ErrorDetail, SessionConfig

log = logging.getLogger(__name__)

ProtocolVersion = Literal["ga", "beta"]

SERVER_EVENT_TYPES = frozenset(
    m.model_fields["type"].default for m in typing.get_args(typing.get_args(ev.ServerEvent)[0])
)


class WebSocketRealtime:
    """A RealtimeModel that speaks the Realtime protocol to a server over a WebSocket."""

    def __init__(
        self,
        url: str,
        api_key: str | None = None,
        *,
        protocol: ProtocolVersion = "ga",
        model: str | None = None,
        headers: dict[str, str] | None = None,
        max_retries: int = 5,
        backoff: float = 0.5,
        max_backoff: float = 8.0,
        replay_items: bool = True,
        queue_size: int = 256,
        open_timeout: float = 10.0,
        max_message_bytes: int = 16 * 1024 * 1024,
        habits: ModelHabits | None = None,
    ) -> None:
        self.url = _with_model(url, model)
        self.protocol = protocol
        self.max_retries = max_retries
        """Reconnect attempts after a drop (and connect attempts at start) before giving up."""
        self.backoff = backoff
        """Delay before the first retry, in seconds; it doubles per attempt."""
        self.max_backoff = max_backoff
        """The cap on one retry delay, in seconds."""
        self.replay_items = replay_items
        """Re-create the finished conversation items (as text) on a fresh server session."""
        self.queue_size = queue_size
        """Client events that may wait while disconnected; one more raises."""
        self.open_timeout = open_timeout
        self.max_message_bytes = max_message_bytes
        self.habits = habits or ModelHabits()
        """How the agent runtime adapts to the server's model (plain defaults unless given)."""
        self.state = ClientState()
        """This client's record of the session: configuration, conversation, response."""
        self.reconnects = 0
        """Successful reconnections so far."""
        self.dropped_audio = 0
        """`input_audio_buffer.append` events dropped while disconnected (stale audio)."""
        self._headers = _headers(api_key, protocol, headers)
        self._ws: ClientConnection | None = None
        self._reader: asyncio.Task[None] | None = None
        self._events: asyncio.Queue[ev.ServerEvent | None] = asyncio.Queue(maxsize=1024)
        self._backlog: collections.deque[str] = collections.deque()
        self._decoder = BetaServerDecoder()
        self._closed = False
        self._ended = False
        self._gave_up: str | None = None

    @property
    def connected(self) -> bool:
        """True while a connection is open; False while reconnecting and once closed."""
        return self._ws is not None

    # ---- the RealtimeModel interface ---------------------------------------------------------

    async def connect(self, session: SessionConfig | None = None) -> None:
        """Open the connection (retrying transient failures) and apply `session`."""
        self._ws = await self._open_with_retries()
        self._reader = asyncio.create_task(self._run(), name=f"realtime reader {self.url}")
        if session is not None:
            await self.send(ev.SessionUpdate(session=session))

    async def send(self, event: ev.ClientEvent) -> None:
        """Send one client event; while reconnecting it waits in a bounded backlog."""
        if self._closed or self._gave_up:
            why = self._gave_up or "close() was called"
            raise RealtimeConnectionError(f"cannot send {event.type}: the session is over ({why})")
        ws = self._ws if not self._backlog else None
        if ws is None:
            self._check_room(event)  # refuse before the event counts as sent
        message = self._encode(self.state.sent(event))
        if ws is not None:
            with contextlib.suppress(ConnectionClosed):
                await ws.send(message)
                return
        self._hold(event, message)

    def events(self) -> AsyncIterator[ev.ServerEvent]:
        """Server events as typed models, until the session closes or the link is given up."""
        return self._iterate()

    async def close(self) -> None:
        """Close the connection for good: no reconnect, the reader task is cancelled."""
        if self._closed:
            return
        self._closed = True
        if self._reader is not None:
            self._reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._reader
        if self._ws is not None:
            await self._ws.close()
            self._ws = None
        self._end()

    async def __aenter__(self) -> WebSocketRealtime:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    # ---- sending -----------------------------------------------------------------------------

    def _encode(self, data: JSON) -> str:
        return json.dumps(client_to_beta(data) if self.protocol == "beta" else data)

    def _hold(self, event: ev.ClientEvent, message: str) -> None:
        """Keep an event for the next connection (audio is dropped: it would be stale)."""
        if isinstance(event, ev.InputAudioBufferAppend):
            self.dropped_audio += 1  # never block a microphone on a reconnect
            return
        self._check_room(event)
        self._backlog.append(message)

    def _check_room(self, event: ev.ClientEvent) -> None:
        """Refuse an event clearly when the backlog is full."""
        if len(self._backlog) >= self.queue_size and event.type != "input_audio_buffer.append":
            raise RealtimeConnectionError(
                f"cannot send {event.type}: {self.url} is unreachable and {self.queue_size} "
                "events already wait for the reconnect; retry later or raise queue_size",
                retryable=True,
            )

    # ---- receiving ---------------------------------------------------------------------------

    async def _iterate(self) -> AsyncIterator[ev.ServerEvent]:
        while not (self._ended and self._events.empty()):
            event = await self._events.get()
            if event is None:
                return
            yield event

    def _end(self) -> None:
        """Mark the end of the event stream (the consumer drains what is queued first)."""
        self._ended = True
        with contextlib.suppress(asyncio.QueueFull):
            self._events.put_nowait(None)

    async def _run(self) -> None:
        """Read until closed; reconnect after each unexpected drop."""
        try:
            while self._ws is not None:
                await self._pump(self._ws)
                if self._closed or not await self._recover():
                    return
        finally:
            self._end()

    async def _pump(self, ws: ClientConnection) -> None:
        """Deliver this connection's events until it drops."""
        try:
            async for raw in ws:
                for event in self._decode(raw):
                    await self._deliver(event)
        except ConnectionClosed as exc:
            log.warning("realtime connection to %s dropped: %s", self.url, exc)
        else:
            log.warning("realtime server %s closed the connection", self.url)
        self._ws = None

    def _decode(self, raw: str | bytes) -> list[ev.ServerEvent]:
        """One message → typed events; unknown types are skipped, malformed ones reported."""
        try:
            data = json.loads(raw)
        except (json.JSONDecodeError, UnicodeDecodeError):
            log.warning("skipping a server message that is not JSON: %.200r", raw)
            return []
        if not isinstance(data, dict):
            log.warning("skipping a server message that is not an object: %.200r", raw)
            return []
        events = self._decoder.decode(data) if self.protocol == "beta" else [data]
        return [e for d in events if (e := _parse(d)) is not None]

    async def _deliver(self, event: ev.ServerEvent) -> None:
        echo = self.state.is_echo(event)  # our own replay: the consumer saw the item before
        self.state.received(event)
        if not echo:
            await self._events.put(event)

    # ---- connecting and reconnecting ---------------------------------------------------------

    async def _open(self) -> ClientConnection:
        """One connection attempt; RealtimeConnectionError says whether to try again."""
        try:
            return await ws_connect(
                self.url,
                additional_headers=self._headers,
                open_timeout=self.open_timeout,
                max_size=self.max_message_bytes,
            )
        except InvalidStatus as exc:
            status = exc.response.status_code
            raise RealtimeConnectionError(
                f"{self.url} refused the connection with HTTP {status}"
                + (" (check the API key)" if status in (401, 403) else ""),
                retryable=status >= 500 or status in (408, 429),
            ) from exc
        except InvalidURI as exc:
            raise RealtimeConnectionError(f"not a WebSocket URL: {self.url}") from exc
        except (OSError, TimeoutError, InvalidHandshake) as exc:
            raise RealtimeConnectionError(
                f"cannot connect to {self.url}: {str(exc) or type(exc).__name__}", retryable=True
            ) from exc

    async def _open_with_retries(self) -> ClientConnection:
        """Connect, retrying transient failures with backoff; raise after the last attempt."""
        for attempt in range(self.max_retries + 1):
            try:
                return await self._open()
            except RealtimeConnectionError as exc:
                if not exc.retryable or attempt == self.max_retries:
                    raise
                log.info("realtime connect failed (%s); retrying", exc)
                await asyncio.sleep(self.retry_delay(attempt))
        raise AssertionError("unreachable")

    def retry_delay(self, attempt: int) -> float:
        """Exponential backoff, capped, with jitter (half fixed, half random)."""
        delay: float = min(self.max_backoff, self.backoff * 2.0**attempt)
        return delay / 2 + random.uniform(0, delay / 2)

    async def _recover(self) -> bool:
        """Reconnect and rebuild the session; False (after an error event) when giving up."""
        await self._fail_running_response()
        last = "the server closed the connection"
        for attempt in range(self.max_retries):
            await asyncio.sleep(self.retry_delay(attempt))
            try:
                ws = await self._open()
            except RealtimeConnectionError as exc:
                last = str(exc)
                if not exc.retryable:
                    break
                continue
            if await self._restore(ws):
                self._ws = ws
                self.reconnects += 1
                log.info("reconnected to %s (attempt %d)", self.url, attempt + 1)
                return True
            last = "the connection dropped again while the session was being restored"
        await self._give_up(last)
        return False

    async def _restore(self, ws: ClientConnection) -> bool:
        """Replay config, conversation and backlog on a fresh connection; False if it drops."""
        try:
            for data in self.state.restore(items=self.replay_items):
                await ws.send(self._encode(data))
            while self._backlog:
                await ws.send(self._backlog[0])
                self._backlog.popleft()
        except ConnectionClosed:
            await ws.close()
            return False
        except BaseException:
            await ws.close()
            raise
        return True

    async def _fail_running_response(self) -> None:
        """A response cut off by the drop ends as failed, so nobody waits for it forever."""
        response = self.state.connection_lost()
        if response is not None:
            await self._events.put(ev.ResponseDone(response=response))

    async def _give_up(self, reason: str) -> None:
        tries = f"{self.max_retries} reconnect attempt{'s' * (self.max_retries != 1)}"
        self._gave_up = f"lost the connection to {self.url}; gave up after {tries}: {reason}"
        self._backlog.clear()
        await self._fail_running_response()  # one requested while reconnecting, too
        log.error("%s", self._gave_up)
        detail = ErrorDetail(type="connection_error", code="connection_lost", message=self._gave_up)
        await self._events.put(ev.ErrorEvent(error=detail))


def _parse(data: JSON) -> ev.ServerEvent | None:
    """A typed server event; None for a type this client does not know."""
    kind = data.get("type")
    if kind not in SERVER_EVENT_TYPES:
        log.debug("skipping unknown server event type %r", kind)
        return None
    try:
        return ev.parse_server_event(data)
    except ValidationError as exc:
        err = exc.errors()[0]
        where = ".".join(str(p) for p in err["loc"])
        message = f"the server sent a malformed {kind} event ({where}: {err['msg']}); skipped"
        log.warning("%s", message)
        return ev.ErrorEvent(error=ErrorDetail(code="invalid_server_event", message=message))


def _with_model(url: str, model: str | None) -> str:
    """`url` with `?model=` added when a model is given and the URL names none."""
    parts = urlsplit(url)
    query = parse_qsl(parts.query)
    if model is None or any(k == "model" for k, _ in query):
        return url
    return urlunsplit(parts._replace(query=urlencode([*query, ("model", model)])))


def _headers(
    api_key: str | None, protocol: ProtocolVersion, extra: dict[str, str] | None
) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if api_key:
        out["Authorization"] = f"Bearer {api_key}"
    if protocol == "beta":
        out["OpenAI-Beta"] = "realtime=v1"
    out.update(extra or {})
    return out
