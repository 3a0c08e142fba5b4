"""The engine's speech stack: a VAD per session, and the STT and TTS that sessions share."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from voxrelay.config import Settings, get_settings
from voxrelay.speech.base import STT, TTS, VAD


@dataclass(frozen=True)
class SpeechStack:
    """What the engine needs for audio; `vad` makes a fresh detector (VADs keep state)."""

    stt: STT
    tts: TTS
    vad: Callable[[], VAD]


def load_speech_stack(settings: Settings | None = None, *, warm: bool = True) -> SpeechStack:
    """The configured local or HTTP speech stack; `warm` loads local models now."""
    from voxrelay.speech import make_stt, make_tts, make_vad

    s = settings or get_settings()
    stt, tts = make_stt(s), make_tts(s)
    if warm:
        for model in (stt, tts):
            load = getattr(model, "load", None)
            if callable(load):
                load()
    return SpeechStack(stt=stt, tts=tts, vad=lambda: make_vad(s.vad_backend))
