"""One assembly: settings and a scenario in, a Session on the selected RealtimeModel out.

Every entry point builds its runtime here: `chat`, `talk` and `eval` call `build_session`,
and `serve` shares one set of loaded models through `load_local_engines`. The RealtimeModel
follows `VOXRELAY_REALTIME_BACKEND`: the in-process engine (`local`), the OpenAI Realtime API
(`openai`) or any compatible server such as `voxrelay serve` (`websocket`).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any, Literal

from voxrelay.config import Settings, get_settings
from voxrelay.engine import Engine
from voxrelay.engine.speech import SpeechStack, load_speech_stack
from voxrelay.errors import ConfigError
from voxrelay.models import ChatModel, load_chat_model
from voxrelay.realtime.model import InProcessRealtime, RealtimeModel
from voxrelay.realtime.websocket import WebSocketRealtime
from voxrelay.scenarios import load_scenario
from voxrelay.session import Session, VoiceOptions

Backend = Literal["local", "openai", "websocket"]
"""Where the realtime model runs (`VOXRELAY_REALTIME_BACKEND`)."""
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
        """A fresh engine for one connection or session."""
        return Engine(self.chat, speech=self.speech)


def load_local_engines(
    settings: Settings, progress: Progress | None = None, *, speech: bool = True
) -> LocalEngines:
    """Load the configured chat model and (unless `speech` is False) the speech stack, once."""
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


def load_realtime_model(
    settings: Settings | None = None,
    engine_factory: Callable[[], Engine] | None = None,
    *,
    backend: Backend | None = None,
) -> RealtimeModel:
    """The RealtimeModel for `backend` (default: `VOXRELAY_REALTIME_BACKEND`).

    `local` runs `engine_factory()` in process (by default an engine over the configured chat
    model); `openai` and `websocket` connect to `VOXRELAY_REALTIME_URL`.
    """
    s = settings or get_settings()
    kind = backend or s.realtime_backend
    if kind == "local":
        if engine_factory is None:
            engine_factory = load_local_engines(s, speech=False)
        return InProcessRealtime(engine_factory())
    key = s.openai_api_key or os.environ.get("OPENAI_API_KEY")
    if kind == "openai" and not key:
        raise ConfigError(
            "VOXRELAY_REALTIME_BACKEND=openai needs an API key: set VOXRELAY_OPENAI_API_KEY "
            "or OPENAI_API_KEY (or use `websocket` for a server that needs none)"
        )
    return WebSocketRealtime(
        s.realtime_url, key, protocol=s.realtime_protocol, model=s.realtime_model
    )


def build_session(
    settings: Settings,
    scenario: str,
    *,
    agent: str | None = None,
    voice: VoiceOptions | None = None,
    backend: Backend | None = None,
    engines: LocalEngines | None = None,
    helper: ChatModel | None = None,
    state: dict[str, Any] | None = None,
    progress: Progress | None = None,
) -> Session:
    """A Session for a scenario by name: text, or voice when `voice` is given.

    `engines` are models already loaded (otherwise they load here, only if the backend or a
    helper needs them); `helper` is the ChatModel the scenario's own tools use (the chat
    supervisor), by default the engines' chat model.
    """
    kind = backend or settings.realtime_backend
    if agent is not None:
        load_scenario(scenario).agent(agent)  # fail fast, before loading models
    if engines is None and _needs_models(settings, kind):
        speech = voice is not None and kind == "local"
        engines = load_local_engines(settings, progress, speech=speech)
    if helper is None and engines is not None:
        helper = engines.chat
    model = load_realtime_model(settings, engines, backend=kind)
    return Session(
        load_scenario(scenario, helper),
        model,
        agent=agent,
        settings=settings,
        state=state,
        voice=voice,
    )


def _needs_models(settings: Settings, backend: Backend) -> bool:
    """Whether to load a chat model: for the local engine, or as a cloud session's helper."""
    # A cloud realtime model needs no local LLM; a helper model (the chat supervisor) then
    # needs VOXRELAY_LLM_BACKEND=openai.
    return backend == "local" or settings.llm_backend == "openai"


def _llm_name(s: Settings) -> str:
    return s.llm if s.llm_backend == "local" else f"openai:{s.openai_model}"


def _stt_name(s: Settings) -> str:
    return s.stt_model if s.stt_backend == "local" else f"openai:{s.openai_stt_model}"


def _tts_name(s: Settings) -> str:
    return "piper" if s.tts_backend == "local" else f"openai:{s.openai_tts_model}"


__all__ = [
    "Backend",
    "LocalEngines",
    "Progress",
    "build_session",
    "load_local_engines",
    "load_realtime_model",
]
