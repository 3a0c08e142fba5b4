"""Voice settings of a Session and the audio codecs at its edge (I/O-free)."""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass, field

from voxrelay.audio.g711 import alaw_decode, alaw_encode, ulaw_decode, ulaw_encode
from voxrelay.audio.pcm import to_int16
from voxrelay.errors import AudioFormatError
from voxrelay.realtime.types import (
    AudioConfig,
    AudioFormat,
    AudioInput,
    AudioOutput,
    InputTranscription,
    TurnDetection,
)


def pcm24k() -> AudioFormat:
    """The Realtime default: PCM16 mono at 24 kHz."""
    return AudioFormat(type="audio/pcm", rate=24000)


@dataclass(frozen=True)
class VoiceOptions:
    """How a voice Session exchanges audio with its RealtimeModel."""

    input_format: AudioFormat = field(default_factory=pcm24k)
    """Format of `input_audio_buffer.append` audio (`audio/pcm` 24 kHz, `pcmu` or `pcma`)."""
    output_format: AudioFormat = field(default_factory=pcm24k)
    """Format of `response.output_audio.delta` audio."""
    turn_detection: TurnDetection | None = field(default_factory=TurnDetection)
    """Server VAD by default (it cancels a response on barge-in); None is push-to-talk."""
    transcription: InputTranscription | None = field(
        default_factory=lambda: InputTranscription(model="whisper-1")
    )
    """How the model transcribes the caller (the local engine uses its own STT)."""
    voice: str | None = None
    """Voice for agents that name none; None keeps the model's default."""

    @property
    def server_cancels(self) -> bool:
        """Whether the model cancels its own response when the caller starts speaking."""
        td = self.turn_detection
        return td is not None and td.interrupt_response is not False

    def audio_config(self, voice: str | None) -> AudioConfig:
        """The `session.audio` block for these options and an agent's voice."""
        td = self.turn_detection
        return AudioConfig(
            input=AudioInput(
                format=self.input_format,
                transcription=self.transcription,
                turn_detection=td,
            ),
            output=AudioOutput(format=self.output_format, voice=voice or self.voice),
        )


def format_rate(fmt: AudioFormat) -> int:
    """Sample rate of a Realtime audio format (G.711 is always 8 kHz)."""
    if fmt.type == "audio/pcm":
        return fmt.rate or 24000
    return 8000


def encode_audio(pcm: bytes, fmt: AudioFormat) -> str:
    """PCM16 at the format's rate → base64 payload for `input_audio_buffer.append`."""
    to_int16(pcm)
    if fmt.type == "audio/pcmu":
        pcm = ulaw_encode(pcm)
    elif fmt.type == "audio/pcma":
        pcm = alaw_encode(pcm)
    return base64.b64encode(pcm).decode("ascii")


def decode_audio(payload: str, fmt: AudioFormat) -> bytes:
    """Base64 audio from `response.output_audio.delta` → PCM16 at the format's rate."""
    try:
        data = base64.b64decode(payload, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise AudioFormatError(f"output audio delta is not valid base64 ({exc})") from None
    if fmt.type == "audio/pcmu":
        return ulaw_decode(data)
    if fmt.type == "audio/pcma":
        return alaw_decode(data)
    to_int16(data, allow_empty=True)
    return data
