"""The voice controller: barge-in, assistant audio, and the caller's transcript slots.

It decides; the Session sends. Each method returns the app events to publish and the client
events to send, so barge-in is tested without a loop or a model.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from voxrelay.agents import HistoryEntry
from voxrelay.realtime import events as ev
from voxrelay.session import events as app
from voxrelay.session.playback import AudioOutput as PlaybackOutput
from voxrelay.session.playback import PlaybackTracker
from voxrelay.session.voice import VoiceOptions, decode_audio, format_rate


@dataclass
class Actions:
    """What a voice decision asks for: app events to publish, client events to send."""

    events: list[app.AppEventBase] = field(default_factory=list)
    sends: list[ev.ClientEvent] = field(default_factory=list)


class VoiceControl:
    """Barge-in and playback for one session; `options` None is a text session."""

    def __init__(self, options: VoiceOptions | None) -> None:
        self.options = options
        rate = format_rate(options.output_format) if options else 24000
        self.playback = PlaybackTracker(rate)
        """What assistant audio was queued and what was played; transports report playback."""
        self.output: PlaybackOutput | None = None
        self.speaking = False
        """The caller is speaking (between speech_started and the commit)."""
        self.input_samples = 0
        """Caller samples appended since the last commit."""
        self._slots: dict[str, HistoryEntry] = {}

    @property
    def awaiting_transcripts(self) -> bool:
        """Some caller audio items still wait for their transcript."""
        return bool(self._slots)

    def interrupt(self, agent: str, active_response: str | None) -> Actions:
        """Barge-in: stop playback, truncate what was not heard, cancel a running reply."""
        cut = self.playback.interrupt()
        if cut is None:
            return Actions()
        out = Actions()
        if self.output is not None:
            self.output.clear()
            out.events.append(
                app.PlaybackCleared(agent=agent, item_id=cut.item_id, dropped_ms=cut.dropped_ms)
            )
        out.sends.append(
            ev.ConversationItemTruncate(
                item_id=cut.item_id, content_index=0, audio_end_ms=cut.played_ms
            )
        )
        out.events.append(
            app.Interrupted(agent=agent, item_id=cut.item_id, played_ms=cut.played_ms)
        )
        server_cancels = self.options is not None and self.options.server_cancels and self.speaking
        if active_response and not server_cancels:
            out.sends.append(ev.ResponseCancel(response_id=active_response))
        return out

    def speech_started(self, event: ev.SpeechStarted, agent: str, active: str | None) -> Actions:
        """The caller started speaking: say so, then barge in."""
        self.speaking = True
        started = app.UserSpeechStarted(
            agent=agent, item_id=event.item_id, audio_start_ms=event.audio_start_ms
        )
        cut = self.interrupt(agent, active)
        return Actions([started, *cut.events], cut.sends)

    def committed(self) -> None:
        """The caller's audio became an item."""
        self.speaking = False
        self.input_samples = 0

    def audio(self, event: ev.OutputAudioDelta, agent: str) -> app.AssistantAudio | None:
        """Play one assistant audio delta; None when it is dropped (its item was cut off)."""
        fmt = self.options.output_format if self.options else None
        if fmt is None:
            return None
        pcm = decode_audio(event.delta, fmt)
        if not pcm or not self.playback.queued(event.item_id, len(pcm) // 2):
            return None  # the caller cut this item off; its late audio is not played
        if self.output is not None:
            self.output.play(pcm)
        else:
            self.playback.played(len(pcm) // 2)  # nobody plays it: count it as heard
        rate = self.playback.sample_rate
        return app.AssistantAudio(agent=agent, pcm=pcm, sample_rate=rate, item_id=event.item_id)

    def hold_slot(self, item_id: str, agent: str, history: list[HistoryEntry]) -> None:
        """Hold the caller's place in the history until their words are transcribed."""
        slot = HistoryEntry(role="user", text="", agent=agent)
        history.append(slot)
        self._slots[item_id] = slot

    def fill_slot(self, item_id: str, text: str, agent: str, history: list[HistoryEntry]) -> None:
        """Put a transcript in its reserved slot (or append it); empty text drops the slot."""
        slot = self._slots.pop(item_id, None)
        entry = HistoryEntry(role="user", text=text, agent=agent) if text else None
        index = next((i for i, e in enumerate(history) if e is slot), None)
        if index is None:
            if entry is not None:
                history.append(entry)
        elif entry is None:
            del history[index]
        else:
            history[index] = entry
