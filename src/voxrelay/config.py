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
    openai_base_url: str = "https://api.openai.com/v1"
    """Base URL of the OpenAI-compatible endpoint."""
    openai_api_key: str | None = None
    """API key for the OpenAI-compatible endpoint (falls back to OPENAI_API_KEY)."""
    openai_model: str = "gpt-4o-mini"
    """Model name sent to the OpenAI-compatible endpoint."""
    tool_timeout_s: float = 10.0
    """Seconds a tool may run before its call fails with a timeout result."""
    max_tool_steps: int = 6
    """Tool calls allowed in one user turn before the agent must answer in words."""


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings, read once."""
    return Settings()
