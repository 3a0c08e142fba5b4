"""Shared fixtures."""

from __future__ import annotations

from typing import Any

import pytest

from voxrelay.models import cache as model_cache


@pytest.fixture
def small_llm() -> Any:
    """The default local LLM (Qwen2.5-0.5B) on real llama.cpp; skips when it is not prepared."""
    spec = model_cache.spec("qwen2.5-0.5b")
    if not model_cache.is_ready(spec):
        pytest.skip("local LLM not prepared (voxrelay models --prepare)")
    from voxrelay.models.llama import LlamaChatModel

    return LlamaChatModel(spec.path())
