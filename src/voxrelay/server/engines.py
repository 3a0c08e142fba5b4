"""The default engine factory: local models loaded once, a fresh Engine per connection."""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any

from voxrelay.config import Settings
from voxrelay.engine import Engine
from voxrelay.models import ChatModel, load_chat_model

Progress = Callable[[str], None]
"""Told what is being loaded, one step at a time."""


class LocalEngines:
    """Makes engines over one shared ChatModel (and speech stack, when the engine has one)."""

    def __init__(self, chat: ChatModel, speech: Any = None, models: dict[str, str] | None = None):
        self.chat = chat
        self.speech = speech
        self.models = dict(models or {})
        """What /health reports as loaded, by role."""

    def __call__(self) -> Engine:
        """A fresh engine for one connection."""
        if self.speech is None:
            return Engine(self.chat)
        extra: dict[str, Any] = {"speech": self.speech}
        return Engine(self.chat, **extra)


def load_local_engines(settings: Settings, progress: Progress | None = None) -> LocalEngines:
    """Load the configured chat model and, if the engine supports audio, the speech stack."""
    say = progress or (lambda _: None)
    say(f"loading the language model ({_llm_name(settings)})")
    chat = load_chat_model(settings)
    models = {"llm": _llm_name(settings)}
    loader = _speech_loader()
    speech = None
    if loader is not None:
        say(f"loading speech (VAD {settings.vad_backend}, STT {settings.stt_model}, TTS)")
        speech = loader(settings)
        models.update(vad=settings.vad_backend, stt=_stt_name(settings), tts=_tts_name(settings))
    return LocalEngines(chat, speech, models)


def _speech_loader() -> Callable[[Settings], Any] | None:
    """`voxrelay.engine.speech.load_speech_stack` once the engine has audio, else None."""
    try:
        module = importlib.import_module("voxrelay.engine.speech")
    except ImportError:
        return None
    loader = getattr(module, "load_speech_stack", None)
    return loader if callable(loader) else None


def _llm_name(s: Settings) -> str:
    return s.llm if s.llm_backend == "local" else f"openai:{s.openai_model}"


def _stt_name(s: Settings) -> str:
    return s.stt_model if s.stt_backend == "local" else f"openai:{s.openai_stt_model}"


def _tts_name(s: Settings) -> str:
    return f"piper:{s.tts_voice}" if s.tts_backend == "local" else f"openai:{s.openai_tts_model}"
