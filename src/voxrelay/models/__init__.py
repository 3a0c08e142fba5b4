"""ChatModel backends: the local llama.cpp default and OpenAI-compatible endpoints."""

from __future__ import annotations

from voxrelay.config import Settings, get_settings
from voxrelay.models.base import ChatModel


def load_chat_model(settings: Settings | None = None) -> ChatModel:
    """The ChatModel the settings select (`VOXRELAY_LLM_BACKEND`: local or openai)."""
    s = settings or get_settings()
    if s.llm_backend == "openai":
        from voxrelay.models.openai_compat import OpenAIChatModel

        return OpenAIChatModel.from_settings(s)
    from voxrelay.models.llama import LlamaChatModel

    return LlamaChatModel.from_settings(s)


__all__ = ["ChatModel", "load_chat_model"]
