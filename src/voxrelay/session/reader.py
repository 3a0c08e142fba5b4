"""The reader lane: server events in, control handled at once, finished responses handed on.

Nothing here waits: barge-in, playback, transcripts and errors are decided by `VoiceControl`
and `TurnDriver`, client events are posted to the outbox, and app events are put on a stream
that never blocks.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from voxrelay.realtime import events as ev
from voxrelay.realtime.model import RealtimeModel
from voxrelay.realtime.types import InputAudio, MessageItem
from voxrelay.session import events as app
from voxrelay.session.core import Conversation
from voxrelay.session.lanes import AppEventStream, Outbox
from voxrelay.session.turns import TurnDriver
from voxrelay.session.voice_control import Actions, VoiceControl

log = logging.getLogger(__name__)

ALREADY_ACTIVE = "conversation_already_has_active_response"
STREAM_FAILED = "the connection to the realtime model failed; start a new session"

Finished = tuple[ev.ResponseDone, int]
"""A finished response and the user turn it belongs to."""


class ControlLane:
    """Reads one model's server events for a session."""

    def __init__(
        self,
        conv: Conversation,
        voice: VoiceControl,
        driver: TurnDriver,
        stream: AppEventStream,
        outbox: Outbox,
        work: asyncio.Queue[Finished],
    ) -> None:
        self.conv = conv
        self.voice = voice
        self.driver = driver
        self.stream = stream
        self.outbox = outbox
        self.work = work

    async def run(self, model: RealtimeModel) -> None:
        """Handle server events until the stream ends; then the session's events end too."""
        try:
            async for event in model.events():
                self.dispatch(event)
        except Exception:
            log.exception("realtime event stream failed")
            error = app.ErrorOccurred(agent=self._agent, code="stream_failed", text=STREAM_FAILED)
            self.stream.put(error)
        self.stream.put(app.TurnDone(agent=self._agent))
        self.stream.end()

    @property
    def _agent(self) -> str:
        return self.conv.agent.name

    def dispatch(self, event: ev.ServerEvent) -> None:
        """Handle one server event without waiting for anything."""
        requested = self.driver.state.requested_response
        self.driver.state.received(event)
        match event:
            case ev.ResponseDone():
                self._response_done(event)
            case ev.ErrorEvent():
                self._error(event, requested)
            case ev.SpeechStarted():
                active = self.driver.active_response
                self._apply(self.voice.speech_started(event, self._agent, active))
            case ev.SpeechStopped():
                self.stream.put(
                    app.UserSpeechStopped(
                        agent=self._agent, item_id=event.item_id, audio_end_ms=event.audio_end_ms
                    )
                )
            case ev.InputAudioBufferCommitted():
                self._committed()
            case ev.InputAudioBufferCleared():
                self.voice.speaking = False
            case ev.ConversationItemAdded():
                self._item_added(event.item)
            case ev.TranscriptionCompleted():
                self._transcript(event)
            case ev.TranscriptionFailed():
                self._transcription_failed(event)
            case ev.OutputAudioDelta():
                if (audio := self.voice.audio(event, self._agent)) is not None:
                    self.stream.put(audio)
            case ev.OutputAudioDone():
                self.voice.playback.finished(event.item_id)
            case _:
                pass

    def _apply(self, actions: Actions) -> None:
        for event in actions.events:
            self.stream.put(event)
        for client_event in actions.sends:
            self.outbox.post(client_event)

    def _response_done(self, event: ev.ResponseDone) -> None:
        for item in event.response.output:
            if isinstance(item, MessageItem) and item.id:
                self.voice.playback.finished(item.id)
        self.work.put_nowait((event, self.driver.turn))

    def _error(self, event: ev.ErrorEvent, requested: str | None) -> None:
        error = event.error
        self.stream.put(app.ErrorOccurred(agent=self._agent, code=error.code, text=error.message))
        ours = requested is not None and error.event_id == requested
        if ours and error.code != ALREADY_ACTIVE:
            self.stream.put(app.TurnDone(agent=self._agent))  # this turn gets no response

    def _committed(self) -> None:
        self.voice.committed()
        self.driver.new_turn()

    def _item_added(self, item: Any) -> None:
        """Hold the caller's place in the history until their words are transcribed."""
        if not isinstance(item, MessageItem) or item.role != "user" or item.id is None:
            return
        if any(isinstance(p, InputAudio) for p in item.content) and not item.text():
            self.voice.hold_slot(item.id, self._agent, self.conv.history)

    def _transcript(self, event: ev.TranscriptionCompleted) -> None:
        text = event.transcript.strip()
        self.voice.fill_slot(event.item_id, text, self._agent, self.conv.history)
        if text:
            self.stream.put(app.UserMessage(agent=self._agent, text=text, item_id=event.item_id))

    def _transcription_failed(self, event: ev.TranscriptionFailed) -> None:
        self.voice.fill_slot(event.item_id, "", self._agent, self.conv.history)
        text = f"could not transcribe the caller's audio: {event.error.message}"
        self.stream.put(
            app.ErrorOccurred(agent=self._agent, code="transcription_failed", text=text)
        )
