"""Voice settings of a Session; its wire audio codec is `voxrelay.audio.wire` (I/O-free)."""

from __future__ import annotations

from dataclasses import dataclass, field

from voxrelay.audio.wire import decode_audio, encode_audio, format_rate
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


__all__ = [
    "VoiceOptions",
    "decode_audio",
    "encode_audio",
    "format_rate",
    "pcm24k",
]
