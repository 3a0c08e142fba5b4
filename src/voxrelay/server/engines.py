"""The default engine factory: local models loaded once, a fresh Engine per connection."""

from __future__ import annotations

from collections.abc import Callable

from voxrelay.config import Settings
from voxrelay.engine import Engine
from voxrelay.engine.speech import SpeechStack, load_speech_stack
from voxrelay.models import ChatModel, load_chat_model

Progress = Callable[[str], None]
"""Told what is being loaded, one step at a time."""


class LocalEngines:
    """Makes engines over one shared ChatModel and speech stack (None: text only)."""

    def __init__(
        self,
        chat: ChatModel,
        speech: SpeechStack | None = None,
        models: dict[str, str] | None = None,
    ) -> None:
        self.chat = chat
        self.speech = speech
        self.models = dict(models or {})
        """What /health reports as loaded, by role."""

    def __call__(self) -> Engine:
        """A fresh engine for one connection."""
        return Engine(self.chat, speech=self.speech)


def load_local_engines(
    settings: Settings, progress: Progress | None = None, *, speech: bool = True
) -> LocalEngines:
    """Load the configured chat model and (unless `speech` is False) the speech stack."""
    say = progress or (lambda _: None)
    say(f"loading the language model ({_llm_name(settings)})")
    chat = load_chat_model(settings)
    models = {"llm": _llm_name(settings)}
    if not speech:
        return LocalEngines(chat, None, models)
    say(f"loading speech (VAD {settings.vad_backend}, STT {_stt_name(settings)}, TTS)")
    stack = load_speech_stack(settings)
    models.update(vad=settings.vad_backend, stt=_stt_name(settings), tts=_tts_name(settings))
    return LocalEngines(chat, stack, models)


def _llm_name(s: Settings) -> str:
    return s.llm if s.llm_backend == "local" else f"openai:{s.openai_model}"


def _stt_name(s: Settings) -> str:
    return s.stt_model if s.stt_backend == "local" else f"openai:{s.openai_stt_model}"


def _tts_name(s: Settings) -> str:
    return "piper" if s.tts_backend == "local" else f"openai:{s.openai_tts_model}"
