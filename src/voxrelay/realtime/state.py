"""A client's record of one realtime session (I/O-free): configuration, conversation, response.

It is fed the client events a client sends and the server events it receives. Both clients
of the protocol keep one: the agent `Session` asks it whether a response is pending, and
`WebSocketRealtime` rebuilds a fresh server session from it after a dropped connection.
"""

from __future__ import annotations

from voxrelay.realtime import events as ev
from voxrelay.realtime.replay import JSON, ConversationMirror, wire_dict
from voxrelay.realtime.rules import deep_merge
from voxrelay.realtime.types import Response, StatusDetails, new_id

LOST_MESSAGE = "the connection to the realtime server dropped mid-response"
"""The message of the `failed` response that `connection_lost` reports."""


class ClientState:
    """A client's I/O-free record of one realtime session."""

    def __init__(self, item_limit: int = 200) -> None:
        self.session: JSON = {}
        """The configuration sent so far, merged (GA wire form); what a reconnect replays."""
        self.conversation = ConversationMirror(item_limit)
        """The server conversation's items, in order, as the server last reported them."""
        self.active_response: str | None = None
        """The id of the response between its `response.created` and `response.done`."""
        self.requested_response: str | None = None
        """The event that asked for a response not yet created.

        The `event_id` of a `response.create` this client sent, or of the server's
        `input_audio_buffer.committed` when the turn detection sent in `session` answers a
        turn by itself. `response.created` answers it, and so does an error naming it.
        """
        self._commits: list[str] = []
        """event_ids of `input_audio_buffer.commit`s not yet committed or refused."""
        self._echoes: set[str] = set()
        """Ids of items `restore` re-created whose server copies have not finished arriving."""

    @property
    def response_pending(self) -> bool:
        """A response was requested and not yet refused, or is running."""
        return self.active_response is not None or self.requested_response is not None

    def sent(self, event: ev.ClientEvent) -> JSON:
        """Record an outgoing event; its wire form, with an `event_id` when it had none."""
        data = wire_dict(event)
        data.setdefault("event_id", new_id("event"))
        match event:
            case ev.SessionUpdate():
                self.session = deep_merge(self.session, data["session"])
            case ev.ResponseCreate():
                self.requested_response = data["event_id"]
            case ev.InputAudioBufferCommit():
                self._commits.append(data["event_id"])
            case _:
                pass
        return data

    def received(self, event: ev.ServerEvent) -> None:
        """Follow the conversation and the response through one server event."""
        self.conversation.observe(event)
        match event:
            case ev.ResponseCreated(response=response):
                self.active_response = response.id
                self.requested_response = None
            case ev.ResponseDone(response=response):
                if response.id != self.active_response:  # never seen created: it answers
                    self.requested_response = None
                self.active_response = None
            case ev.ErrorEvent(error=error) if error.event_id is not None:
                self._refused(error.event_id)
            case ev.InputAudioBufferCommitted():
                self._committed(event.event_id)
            case ev.ConversationItemDone(item=item) if item.id in self._echoes:
                self._echoes.discard(item.id)
            case _:
                pass

    def is_echo(self, event: ev.ServerEvent) -> bool:
        """Whether `event` is the server's copy of an item `restore` re-created.

        Its reader saw the item before the drop; ask before passing the event to `received`.
        """
        if not isinstance(event, ev.ConversationItemAdded | ev.ConversationItemDone):
            return False
        return event.item.id is not None and event.item.id in self._echoes

    def connection_lost(self) -> Response | None:
        """The running or requested response as `failed` (it will never finish), or None."""
        pending = self.response_pending
        response_id = self.active_response or new_id("resp")
        self.active_response = self.requested_response = None
        self._commits.clear()
        self._echoes.clear()
        if not pending:
            return None
        error = {"type": "connection_error", "code": "connection_lost", "message": LOST_MESSAGE}
        details = StatusDetails(type="failed", error=error)
        return Response(id=response_id, status="failed", status_details=details)

    def restore(self, items: bool = True) -> list[JSON]:
        """The client events that rebuild this session on a fresh server session.

        First the merged configuration, then, with `items`, the finished conversation as text.
        The conversation then holds what was re-created (calling again sends the same), and
        the server's copies of those items are echoes.
        """
        out: list[JSON] = []
        if self.session:
            update = {"type": "session.update", "session": self.session}
            out.append({**update, "event_id": new_id("event")})
        replay = self.conversation.replay() if items else []
        self.conversation.reset(replay)
        self._echoes = {item.id for item in replay if item.id}
        for item in replay:
            out.append(wire_dict(ev.ConversationItemCreate(item=item, event_id=new_id("event"))))
        return out

    def _refused(self, event_id: str) -> None:
        """The server refused the client event `event_id`."""
        if event_id == self.requested_response:
            self.requested_response = None
        if event_id in self._commits:
            self._commits.remove(event_id)

    def _committed(self, event_id: str) -> None:
        """The input buffer became an item: by this client's commit, or by turn detection."""
        if self._commits:
            self._commits.pop(0)  # a client that commits asks for its response itself
        elif self._detection_responds():
            self.requested_response = event_id

    def _detection_responds(self) -> bool:
        """Whether the turn detection sent so far creates a response after each turn."""
        audio = self.session.get("audio")
        audio_in = audio.get("input") if isinstance(audio, dict) else None
        detection = audio_in.get("turn_detection") if isinstance(audio_in, dict) else None
        return isinstance(detection, dict) and detection.get("create_response") is not False
