"""Playback tracking: what assistant audio was queued and what the caller actually heard.

Only the client knows how much audio was played, so a barge-in truncates the assistant item
at the tracker's position (PROTOCOL.md sequence C). Everything here is I/O-free and
thread-safe: a sound-card callback thread may report playback while the event loop queues.
"""

from __future__ import annotations

import threading
from collections import deque
from dataclasses import dataclass
from typing import Protocol

from voxrelay.audio.pcm import SAMPLE_WIDTH


@dataclass(frozen=True)
class Interruption:
    """Playback stopped early: the item that was playing and how much of it was heard."""

    item_id: str
    """The assistant item whose audio was cut."""
    played_ms: int
    """Milliseconds of the item's audio actually played (the truncate position)."""
    audio_ms: int
    """Milliseconds of the item's audio received so far."""

    @property
    def dropped_ms(self) -> int:
        """Milliseconds received but never played."""
        return self.audio_ms - self.played_ms


@dataclass
class _ItemAudio:
    queued: int = 0
    """Samples received for the item."""
    played: int = 0
    """Samples of it played."""
    finished: bool = False
    """All of the item's audio has arrived."""


class PlaybackTracker:
    """Counts, per assistant item, the samples queued for playback and the samples played."""

    def __init__(self, sample_rate: int = 24000) -> None:
        self.sample_rate = sample_rate
        self._items: dict[str, _ItemAudio] = {}
        self._order: deque[tuple[str, int]] = deque()
        """Unplayed stretches in playback order: (item id, samples)."""
        self._cut: set[str] = set()
        self._lock = threading.Lock()

    def queued(self, item_id: str, samples: int) -> bool:
        """Record audio queued for `item_id`; False (nothing recorded) if the item was cut."""
        with self._lock:
            if item_id in self._cut:
                return False
            self._items.setdefault(item_id, _ItemAudio()).queued += samples
            if self._order and self._order[-1][0] == item_id:
                self._order[-1] = (item_id, self._order[-1][1] + samples)
            else:
                self._order.append((item_id, samples))
            return True

    def finished(self, item_id: str) -> None:
        """All audio of `item_id` has arrived (`response.output_audio.done`)."""
        with self._lock:
            self._items.setdefault(item_id, _ItemAudio()).finished = True

    def played(self, samples: int) -> None:
        """The transport played `samples` more samples of queued audio."""
        with self._lock:
            while samples > 0 and self._order:
                item_id, left = self._order[0]
                step = min(left, samples)
                self._items[item_id].played += step
                samples -= step
                if step == left:
                    self._order.popleft()
                else:
                    self._order[0] = (item_id, left - step)

    def current(self) -> str | None:
        """The item being heard now: the oldest with unplayed audio, or one still arriving."""
        with self._lock:
            return self._current()

    def _current(self) -> str | None:
        if self._order:
            return self._order[0][0]
        open_items = [i for i, a in self._items.items() if not a.finished and i not in self._cut]
        return open_items[-1] if open_items else None

    def interrupt(self) -> Interruption | None:
        """Stop playback: forget unplayed audio and cut the current item; None if none plays."""
        with self._lock:
            item_id = self._current()
            if item_id is None:
                return None
            self._order.clear()
            self._cut.add(item_id)
            audio = self._items.setdefault(item_id, _ItemAudio())
            audio.finished = True
            return Interruption(item_id, self._ms(audio.played), self._ms(audio.queued))

    def was_cut(self, item_id: str) -> bool:
        """Whether a barge-in cut this item's playback."""
        with self._lock:
            return item_id in self._cut

    def played_ms(self, item_id: str) -> int:
        """Milliseconds of the item's audio played so far."""
        with self._lock:
            audio = self._items.get(item_id)
            return self._ms(audio.played) if audio else 0

    def audio_ms(self, item_id: str) -> int:
        """Milliseconds of the item's audio received so far."""
        with self._lock:
            audio = self._items.get(item_id)
            return self._ms(audio.queued) if audio else 0

    @property
    def pending_samples(self) -> int:
        """Samples queued and not yet played."""
        with self._lock:
            return sum(n for _, n in self._order)

    def _ms(self, samples: int) -> int:
        """Whole milliseconds in `samples`, rounded down so a position never passes the end."""
        return samples * 1000 // self.sample_rate


class AudioOutput(Protocol):
    """Where a Session sends assistant audio: a speaker, a file, a phone call."""

    def play(self, pcm: bytes) -> None:
        """Queue PCM16 mono audio at the session's output rate; must not block."""
        ...

    def clear(self) -> None:
        """Drop everything queued and not yet played (barge-in)."""
        ...


class PlaybackQueue:
    """A bounded, thread-safe PCM16 FIFO that reports what is pulled out as played.

    It may hold audio at another rate than the tracker's (a sound card's own rate, after
    resampling); played samples are converted to the tracker's rate when reported.
    """

    def __init__(
        self, tracker: PlaybackTracker, sample_rate: int | None = None, max_s: float = 600.0
    ) -> None:
        self.tracker = tracker
        self.sample_rate = sample_rate or tracker.sample_rate
        self.max_bytes = int(max_s * self.sample_rate) * SAMPLE_WIDTH
        self.dropped_samples = 0
        """Samples refused because the queue was full."""
        self._buf = bytearray()
        self._carry = 0
        """Played samples times the tracker's rate, not yet a whole tracker sample."""
        self._lock = threading.Lock()

    def play(self, pcm: bytes) -> None:
        """Queue audio; past `max_s` the excess is dropped and counted, never blocking."""
        with self._lock:
            room = max(0, self.max_bytes - len(self._buf))
            self._buf += pcm[:room]
            self.dropped_samples += (len(pcm) - min(room, len(pcm))) // SAMPLE_WIDTH

    def pull(self, samples: int) -> bytes:
        """Take up to `samples` samples for playback and report them played."""
        with self._lock:
            n = min(samples * SAMPLE_WIDTH, len(self._buf))
            out = bytes(self._buf[:n])
            del self._buf[:n]
            scaled = n // SAMPLE_WIDTH * self.tracker.sample_rate + self._carry
            played, self._carry = divmod(scaled, self.sample_rate)
        self.tracker.played(played)
        return out

    def pull_padded(self, samples: int) -> bytes:
        """Exactly `samples` samples: queued audio, then silence."""
        out = self.pull(samples)
        return out + bytes(samples * SAMPLE_WIDTH - len(out))

    def clear(self) -> None:
        """Drop everything not yet played."""
        with self._lock:
            self._buf.clear()
            self._carry = 0

    @property
    def pending_samples(self) -> int:
        """Samples waiting to be played."""
        with self._lock:
            return len(self._buf) // SAMPLE_WIDTH
