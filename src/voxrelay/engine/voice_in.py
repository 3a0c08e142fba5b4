"""A session's input audio: buffer, turn detection, committed turns, transcripts (I/O-free).

`VoiceInput` turns `input_audio_buffer.*` events into server events and `Transcribe` effects.
Where the rest of the session must decide (cancel the active response on speech, respond to a
finished turn), it returns a signal in the output's place; `EngineCore` replaces the signal.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from voxrelay.engine.audio_in import STT_RATE, InputBuffer, Turn, decode_audio, detected_turn
from voxrelay.engine.conversation import Conversation
from voxrelay.engine.effects import Output, Transcribe
from voxrelay.engine.faults import transcription_error
from voxrelay.engine.trace import TurnTrace
from voxrelay.errors import AudioFormatError, ProtocolError
from voxrelay.realtime import events as ev
from voxrelay.realtime.types import AudioInput, InputAudio, MessageItem, new_id
from voxrelay.speech.base import VAD
from voxrelay.speech.turns import SpeechStarted, SpeechStopped


@dataclass(frozen=True)
class SpeechBegan:
    """The VAD heard the user start speaking (a barge-in, if a response is running)."""


@dataclass(frozen=True)
class TurnEnded:
    """The VAD ended a turn, and the session's turn detection wants a response to it."""


Signal = SpeechBegan | TurnEnded
Step = Output | Signal


class VoiceInput:
    """Uncommitted user audio, the turn being spoken, and turns awaiting their transcript."""

    def __init__(self, vad: Callable[[], VAD], conversation: Conversation) -> None:
        self._vad = vad
        self._conversation = conversation
        self._buffer: InputBuffer | None = None
        self._speech_item: str | None = None
        self._pending: dict[str, tuple[MessageItem, float]] = {}
        """Items awaiting their transcript, with their audio's length in seconds."""
        self.trace: TurnTrace | None = None
        """The latency trace of the newest committed turn."""

    @property
    def transcribing(self) -> bool:
        """True while some committed turn still awaits its transcript."""
        return bool(self._pending)

    def reset(self) -> None:
        """The input format or turn detection changed: start a new buffer on the next event."""
        self._buffer = None

    def append(self, audio: str, audio_in: AudioInput | None) -> list[Step]:
        """Add base64 wire audio; what the turn detector made of it."""
        pcm = decode_audio(audio, audio_in.format if audio_in else None)
        steps: list[Step] = []
        for turn_event in self._buffer_for(audio_in).append(pcm):
            if isinstance(turn_event, SpeechStarted):
                self._speech_item = new_id("item")
                item_id, start_ms = self._speech_item, turn_event.audio_start_ms
                steps += [ev.SpeechStarted(audio_start_ms=start_ms, item_id=item_id), SpeechBegan()]
            else:
                steps += self._speech_stopped(turn_event, audio_in)
        return steps

    def commit(self, audio_in: AudioInput | None) -> list[Step]:
        """Commit the buffer as a user turn (`input_audio_buffer.commit`)."""
        try:
            turn = self._buffer_for(audio_in).commit()
        except AudioFormatError as exc:
            raise ProtocolError("input_audio_buffer_commit_empty", str(exc)) from exc
        item_id = self._speech_item or new_id("item")
        steps: list[Step] = []
        if self._speech_item is not None:
            steps.append(ev.SpeechStopped(audio_end_ms=turn.audio_end_ms or 0, item_id=item_id))
            self._speech_item = None
        return steps + self._commit(turn, item_id, audio_in)

    def clear(self, audio_in: AudioInput | None) -> list[Step]:
        """Drop the uncommitted audio (`input_audio_buffer.clear`)."""
        self._buffer_for(audio_in).clear()
        self._speech_item = None
        return [ev.InputAudioBufferCleared()]

    def transcribed(self, item_id: str, text: str) -> list[Step]:
        """The STT's transcript of a committed turn."""
        item, seconds = self._pending.pop(item_id)
        _audio_part(item).transcript = text
        if self.trace is not None and self.trace.item_id == item_id:
            self.trace.mark("transcript_final")
        steps: list[Step] = []
        if text:
            steps.append(ev.TranscriptionDelta(item_id=item_id, delta=text))
        usage = {"type": "duration", "seconds": seconds}
        steps.append(ev.TranscriptionCompleted(item_id=item_id, transcript=text, usage=usage))
        return steps

    def transcription_failed(self, item_id: str) -> list[Step]:
        """The STT failed on a committed turn; the client gets a fixed message."""
        item, _ = self._pending.pop(item_id)
        _audio_part(item).transcript = ""
        return [ev.TranscriptionFailed(item_id=item_id, error=transcription_error())]

    def _buffer_for(self, audio_in: AudioInput | None) -> InputBuffer:
        if self._buffer is None:
            detection = audio_in.turn_detection if audio_in else None
            vad = self._vad() if detection is not None else None
            self._buffer = InputBuffer.create(audio_in.format if audio_in else None, detection, vad)
        return self._buffer

    def _speech_stopped(self, stop: SpeechStopped, audio_in: AudioInput | None) -> list[Step]:
        item_id = self._speech_item or new_id("item")
        self._speech_item = None
        steps: list[Step] = [ev.SpeechStopped(audio_end_ms=stop.audio_end_ms, item_id=item_id)]
        steps += self._commit(detected_turn(stop), item_id, audio_in)
        detection = audio_in.turn_detection if audio_in else None
        if detection is not None and detection.create_response:
            steps.append(TurnEnded())
        return steps

    def _commit(self, turn: Turn, item_id: str, audio_in: AudioInput | None) -> list[Step]:
        """Add the user audio item, and ask for its transcript."""
        item = MessageItem(
            id=item_id, role="user", status="completed", content=[InputAudio(transcript=None)]
        )
        previous = self._conversation.add(item)
        self.trace = TurnTrace(
            item_id, speech_end_ms=turn.speech_end_ms, audio_end_ms=turn.audio_end_ms
        )
        self._pending[item_id] = (item, round(len(turn.audio) / 2 / STT_RATE, 3))
        transcription = audio_in.transcription if audio_in else None
        language = transcription.language if transcription else None
        return [
            ev.InputAudioBufferCommitted(item_id=item_id, previous_item_id=previous),
            ev.ConversationItemAdded(item=item.model_copy(deep=True), previous_item_id=previous),
            ev.ConversationItemDone(item=item.model_copy(deep=True), previous_item_id=previous),
            Transcribe(item_id, turn.audio, language),
        ]


def _audio_part(item: MessageItem) -> InputAudio:
    part = item.content[0]
    assert isinstance(part, InputAudio)
    return part
