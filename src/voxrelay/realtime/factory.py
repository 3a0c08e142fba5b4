"""The RealtimeModel the settings select: the local engine, the OpenAI Realtime API, or a server."""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import TYPE_CHECKING

from voxrelay.config import Settings, get_settings
from voxrelay.errors import ConfigError
from voxrelay.realtime.model import InProcessRealtime, RealtimeModel
from voxrelay.realtime.websocket import WebSocketRealtime

if TYPE_CHECKING:
    from voxrelay.engine import Engine


def load_realtime_model(
    settings: Settings | None = None, engine_factory: Callable[[], Engine] | None = None
) -> RealtimeModel:
    """`VOXRELAY_REALTIME_BACKEND`: `local` (in-process engine), `openai` or `websocket`.

    `engine_factory` builds the local engine; by default one over `load_chat_model()`.
    """
    s = settings or get_settings()
    if s.realtime_backend == "local":
        return InProcessRealtime(engine_factory() if engine_factory else _default_engine(s))
    key = s.openai_api_key or os.environ.get("OPENAI_API_KEY")
    if s.realtime_backend == "openai" and not key:
        raise ConfigError(
            "VOXRELAY_REALTIME_BACKEND=openai needs an API key: set VOXRELAY_OPENAI_API_KEY "
            "or OPENAI_API_KEY (or use `websocket` for a server that needs none)"
        )
    return WebSocketRealtime(
        s.realtime_url, key, protocol=s.realtime_protocol, model=s.realtime_model
    )


def _default_engine(settings: Settings) -> Engine:
    from voxrelay.engine import Engine
    from voxrelay.models import load_chat_model

    return Engine(load_chat_model(settings))
