"""Local microphone and speaker through `sounddevice` (PortAudio), and a live call loop.

The PortAudio callbacks run on their own thread: the microphone hands blocks to the event
loop through a bounded queue (a full queue drops and counts, capture never blocks), and the
speaker pulls from a PlaybackQueue, which reports what was played to the session's tracker.
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass
from types import ModuleType
from typing import Any

from voxrelay.audio.resample import StreamResampler
from voxrelay.errors import VoxrelayError
from voxrelay.session import Session
from voxrelay.session.playback import PlaybackQueue, PlaybackTracker

BLOCK_MS = 20
INSTALL_HINT = (
    "install PortAudio (Debian/Ubuntu: `sudo apt-get install libportaudio2`; "
    "macOS: `brew install portaudio`), or talk through WAV files instead: "
    "`voxrelay talk --input in.wav --output out.wav`"
)


class AudioDeviceError(VoxrelayError):
    """No usable microphone or speaker: PortAudio is missing, or the device failed."""


def sounddevice() -> ModuleType:
    """The `sounddevice` module, or AudioDeviceError saying how to get PortAudio."""
    try:
        import sounddevice as sd
    except ImportError:
        raise AudioDeviceError(
            "live audio needs the `sounddevice` package: pip install sounddevice; or "
            "talk through WAV files: `voxrelay talk --input in.wav --output out.wav`"
        ) from None
    except OSError as exc:  # raised at import when libportaudio is not installed
        raise AudioDeviceError(f"PortAudio is not available ({exc}); {INSTALL_HINT}") from None
    module: ModuleType = sd
    return module


@dataclass(frozen=True)
class Device:
    """One audio device as PortAudio reports it."""

    index: int
    name: str
    inputs: int
    """Input channels (0: not a microphone)."""
    outputs: int
    """Output channels (0: not a speaker)."""
    default_rate: int
    default_input: bool = False
    default_output: bool = False


def list_devices(sd: ModuleType | None = None) -> list[Device]:
    """The input and output devices PortAudio can see."""
    sd = sd or sounddevice()
    try:
        found = list(sd.query_devices())
        default_in, default_out = _defaults(sd)
    except sd.PortAudioError as exc:
        raise AudioDeviceError(f"cannot list audio devices ({exc}); {INSTALL_HINT}") from None
    return [
        Device(
            index=int(d.get("index", i)),
            name=str(d["name"]),
            inputs=int(d["max_input_channels"]),
            outputs=int(d["max_output_channels"]),
            default_rate=int(d["default_samplerate"]),
            default_input=int(d.get("index", i)) == default_in,
            default_output=int(d.get("index", i)) == default_out,
        )
        for i, d in enumerate(found)
    ]


def _defaults(sd: ModuleType) -> tuple[int, int]:
    pair = sd.default.device
    return int(pair[0]), int(pair[1])


class Microphone:
    """Captures PCM16 mono from an input device, resampled to the session's input rate."""

    def __init__(
        self, rate: int, *, device: int | None = None, max_blocks: int = 100, sd: Any = None
    ) -> None:
        self.sd = sd or sounddevice()
        self.rate = rate
        self.device = device
        self.dropped_blocks = 0
        """Blocks lost because the session fell behind (the queue was full)."""
        self._queue: asyncio.Queue[bytes] = asyncio.Queue(max_blocks)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stream: Any = None
        self._resampler: StreamResampler | None = None

    def start(self) -> None:
        """Open and start the input stream (at the device's own rate)."""
        self._loop = asyncio.get_running_loop()
        device_rate = _device_rate(self.sd, self.device, "input")
        self._resampler = StreamResampler(device_rate, self.rate)
        self._stream = _open(
            self.sd.RawInputStream, device_rate, self.device, self.callback, "microphone"
        )

    def callback(self, indata: Any, frames: int, time: Any, status: Any) -> None:
        """PortAudio thread: resample the block and hand it to the event loop."""
        assert self._resampler is not None and self._loop is not None
        pcm = self._resampler.push(bytes(indata))
        if pcm:
            self._loop.call_soon_threadsafe(self._put, pcm)

    def _put(self, pcm: bytes) -> None:
        try:
            self._queue.put_nowait(pcm)
        except asyncio.QueueFull:
            self.dropped_blocks += 1

    async def read(self) -> bytes:
        """The next captured block."""
        return await self._queue.get()

    def close(self) -> None:
        """Stop capturing."""
        _close(self._stream)
        self._stream = None


class Speaker:
    """Plays assistant audio on an output device; an AudioOutput for `Session.attach_output`."""

    def __init__(self, tracker: PlaybackTracker, *, device: int | None = None, sd: Any = None):
        self.sd = sd or sounddevice()
        self.tracker = tracker
        self.device = device
        self.queue: PlaybackQueue | None = None
        self._resampler: StreamResampler | None = None
        self._stream: Any = None

    def start(self) -> None:
        """Open and start the output stream (at the device's own rate)."""
        device_rate = _device_rate(self.sd, self.device, "output")
        self.queue = PlaybackQueue(self.tracker, sample_rate=device_rate)
        self._resampler = StreamResampler(self.tracker.sample_rate, device_rate)
        self._stream = _open(
            self.sd.RawOutputStream, device_rate, self.device, self.callback, "speaker"
        )

    def play(self, pcm: bytes) -> None:
        """Queue assistant audio at the session's output rate."""
        if self.queue is not None and self._resampler is not None:
            self.queue.play(self._resampler.push(pcm))

    def clear(self) -> None:
        """Barge-in: silence at once (the resampler's tail of the old reply goes too)."""
        if self.queue is not None:
            self.queue.clear()
            self._resampler = StreamResampler(self.tracker.sample_rate, self.queue.sample_rate)

    def callback(self, outdata: Any, frames: int, time: Any, status: Any) -> None:
        """PortAudio thread: fill the block from the queue (silence when empty)."""
        assert self.queue is not None
        outdata[:] = self.queue.pull_padded(frames)

    def close(self) -> None:
        """Stop playing."""
        _close(self._stream)
        self._stream = None


def _device_rate(sd: Any, device: int | None, kind: str) -> int:
    try:
        info = sd.query_devices(device, kind)
    except (sd.PortAudioError, ValueError) as exc:
        raise AudioDeviceError(
            f"no {kind} device ({exc}); connect one, pick another with --device "
            "(see `voxrelay devices`), or use --input/--output WAV files"
        ) from None
    return int(info["default_samplerate"])


def _open(factory: Any, rate: int, device: int | None, callback: Any, what: str) -> Any:
    try:
        stream = factory(
            samplerate=rate,
            blocksize=rate * BLOCK_MS // 1000,
            device=device,
            channels=1,
            dtype="int16",
            callback=callback,
        )
        stream.start()
    except Exception as exc:  # PortAudio reports device trouble in many ways
        raise AudioDeviceError(
            f"cannot open the {what} ({exc}); check `voxrelay devices`, or use --input/--output"
        ) from None
    return stream


def _close(stream: Any) -> None:
    if stream is not None:
        with contextlib.suppress(Exception):
            stream.stop()
            stream.close()


async def talk_live(session: Session, mic: Microphone, speaker: Speaker) -> None:
    """Stream the microphone into a started voice session until cancelled (Ctrl-C)."""
    speaker.start()
    session.attach_output(speaker)
    mic.start()
    try:
        while True:
            await session.send_audio(await mic.read())
    finally:
        mic.close()
        speaker.close()
        session.attach_output(None)
