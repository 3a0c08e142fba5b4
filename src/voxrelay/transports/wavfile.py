"""The WAV-file transport: a caller's WAV streamed into a voice Session, the replies recorded.

`load_wav_any` reads the caller's WAV (through `voxrelay.audio.wav.read_wav`) at the call's rate;
`SimulatedSpeaker` plays assistant audio at real-time rate by an injectable clock, so
barge-in sees a true playback position; `talk_wav` runs one call to the end.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

from voxrelay.audio.pcm import SAMPLE_WIDTH, frames, silence
from voxrelay.audio.wav import read_wav
from voxrelay.errors import VoxrelayError
from voxrelay.session import Session
from voxrelay.session import events as app
from voxrelay.session.playback import PlaybackQueue, PlaybackTracker

Clock = Callable[[], float]
EventSink = Callable[[app.AppEventBase], Awaitable[None] | None]


def load_wav_any(path: str | Path, rate: int) -> bytes:
    """A caller's WAV file (any encoding `read_wav` reads, any rate) as PCM16 mono at `rate`."""
    return read_wav(path, rate).pcm


class SimulatedSpeaker:
    """An AudioOutput that 'plays' into memory at real-time rate by a clock, or instantly."""

    def __init__(
        self, tracker: PlaybackTracker, *, realtime: bool = True, clock: Clock = time.monotonic
    ) -> None:
        self.queue = PlaybackQueue(tracker)
        self.realtime = realtime
        self.clock = clock
        self.heard = bytearray()
        """Every sample played so far, in order: what the caller heard."""
        self._last: float | None = None
        self._carry = 0.0

    @property
    def sample_rate(self) -> int:
        """Rate of the audio it plays."""
        return self.queue.sample_rate

    def play(self, pcm: bytes) -> None:
        """Queue audio; playback of a new stretch starts now, not when the queue last ran dry."""
        if self.queue.pending_samples == 0:
            self.advance()
        self.queue.play(pcm)
        if not self.realtime:
            self.advance()

    def clear(self) -> None:
        """Drop what was not played yet."""
        self.queue.clear()

    def advance(self) -> int:
        """Play the audio due by now; returns the samples played."""
        now = self.clock()
        elapsed = 0.0 if self._last is None else now - self._last
        self._last = now
        if not self.realtime:
            due = self.queue.pending_samples
        else:
            exact = elapsed * self.sample_rate + self._carry
            due = int(exact)
            self._carry = exact - due if self.queue.pending_samples > due else 0.0
        out = self.queue.pull(due)
        self.heard += out
        return len(out) // SAMPLE_WIDTH

    @property
    def idle(self) -> bool:
        """Nothing left to play."""
        return self.queue.pending_samples == 0

    async def run(self, tick_s: float = 0.02) -> None:
        """Advance every `tick_s` until cancelled."""
        while True:
            self.advance()
            await asyncio.sleep(tick_s)


@dataclass(frozen=True)
class WavCallOptions:
    """How `talk_wav` feeds the caller's audio and decides the call is over."""

    realtime: bool = False
    """Stream input and play output at real-time rate (otherwise as fast as possible)."""
    chunk_ms: int = 20
    trailing_silence_ms: int = 1000
    """Silence appended to the input so turn detection ends the caller's turn."""
    settle_s: float = 1.0
    """Quiet time, with nothing pending, after which the agents are taken to be done."""
    timeout_s: float = 600.0


class CallTimeout(VoxrelayError):
    """The agents did not finish within the time allowed."""


async def talk_wav(
    session: Session,
    pcm: bytes,
    on_event: EventSink,
    options: WavCallOptions | None = None,
    speaker: SimulatedSpeaker | None = None,
) -> bytes:
    """Stream `pcm` (at `session.input_rate`) into a started voice session; return what it said."""
    opts = options or WavCallOptions()
    speaker = speaker or SimulatedSpeaker(session.playback, realtime=opts.realtime)
    session.attach_output(speaker)
    last_event = [time.monotonic()]

    async def consume() -> None:
        async for event in session.events():
            last_event[0] = time.monotonic()
            await _deliver(on_event, event)

    tasks = [asyncio.create_task(consume(), name="talk_wav events")]
    if speaker.realtime:
        tasks.append(asyncio.create_task(speaker.run(), name="talk_wav speaker"))
    try:
        async with asyncio.timeout(opts.timeout_s):
            await _feed(session, pcm, opts)
            await _until_done(session, speaker, last_event, opts.settle_s, tasks[0])
    except TimeoutError:
        raise CallTimeout(
            f"the agents did not finish within {opts.timeout_s:.0f} s; "
            "raise --timeout or check the model's speed"
        ) from None
    finally:
        await _cancel_and_wait(tasks)
    for event in session.pending():
        await _deliver(on_event, event)
    return bytes(speaker.heard)


async def _deliver(on_event: EventSink, event: app.AppEventBase) -> None:
    result = on_event(event)
    if result is not None:
        await result


async def _cancel_and_wait(tasks: list[asyncio.Task[None]]) -> None:
    for task in tasks:
        task.cancel()
    for task in tasks:
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def _feed(session: Session, pcm: bytes, opts: WavCallOptions) -> None:
    """Send the audio and the trailing silence in chunks, paced in real time if asked."""
    rate = session.input_rate
    audio = pcm + silence(opts.trailing_silence_ms, rate)
    start = time.monotonic()
    for i, chunk in enumerate(frames(audio, rate, opts.chunk_ms, pad=True)):
        await session.send_audio(chunk)
        if opts.realtime:
            due = start + (i + 1) * opts.chunk_ms / 1000
            await asyncio.sleep(max(0.0, due - time.monotonic()))
        else:
            await asyncio.sleep(0)


async def _until_done(
    session: Session,
    speaker: SimulatedSpeaker,
    last_event: list[float],
    settle_s: float,
    reader: asyncio.Task[None],
) -> None:
    """Wait until nothing is pending, nothing is playing, and no event came for `settle_s`."""
    while True:
        await asyncio.sleep(0.05)
        if reader.done():
            reader.result()  # an event handler failed: surface it
            return
        quiet = time.monotonic() - last_event[0] >= settle_s
        if quiet and not session.busy and speaker.idle:
            return


__all__ = [
    "CallTimeout",
    "SimulatedSpeaker",
    "WavCallOptions",
    "load_wav_any",
    "talk_wav",
]
