"""Warm per-agent prompt states: the token-prefix helper, and save/restore on the real model."""

from __future__ import annotations

import asyncio
from typing import Any

import numpy as np
import pytest

from voxrelay.models import llama_state
from voxrelay.models.base import Message, ModelSettings, TextDelta, ToolSpec


@pytest.mark.parametrize(
    ("a", "b", "shared"),
    [
        ([], [1, 2], 0),
        ([1, 2, 3], [1, 2, 3], 3),
        ([1, 2, 3], [1, 2], 2),
        ([1, 9, 3], [1, 2, 3], 1),
        (np.array([4, 5, 6], dtype=np.intc), [4, 5, 7, 8], 2),
        ([7], [8], 0),
    ],
)
def test_common_prefix(a: list[int], b: list[int], shared: int) -> None:
    assert llama_state.common_prefix(a, b) == shared


LOOKUP = ToolSpec(
    "lookup_orders",
    "Find a caller's orders by phone number.",
    {"type": "object", "properties": {"phone_number": {"type": "string"}}},
)
SNOWY = [Message("system", "You are Snowy, a snowboard shop assistant. Answer briefly.")]
HAIKU = [Message("system", "You write one haiku about whatever the user names.")]


async def _reply(model: object, messages: list[Message]) -> str:
    parts = []
    async for item in model.stream(messages, [LOOKUP], "none", ModelSettings(max_tokens=12)):  # type: ignore[attr-defined]
        if isinstance(item, TextDelta):
            parts.append(item.text)
    return "".join(parts)


@pytest.mark.real
def test_switching_agents_restores_the_saved_prefix_exactly(small_llm: Any) -> None:
    """Back to an agent after another one ran: its saved KV state gives the same reply."""
    model = small_llm
    question = [*SNOWY, Message("user", "Do you sell boots?")]

    async def run() -> tuple[str, str, int]:
        await _reply(model, question)
        live = await _reply(model, question)  # same prompt, straight from the live cache
        await _reply(model, [*HAIKU, Message("user", "snow")])  # another agent takes the cache
        restored = await _reply(model, question)  # from the saved state
        return live, restored, max(len(s.data) for s in model._states.values())

    live, restored, biggest = asyncio.run(run())
    assert live and restored == live
    assert biggest < 64 * 1024 * 1024  # KV cells only, not the vocabulary-wide scores matrix


@pytest.mark.real
def test_a_warm_state_is_a_prefix_of_the_next_turn(small_llm: Any) -> None:
    """Warm-up reaches into the user turn's opening, and every warmed token is reused."""
    from voxrelay.models.chatml import format_prompt

    model = small_llm
    asyncio.run(model.warm(SNOWY, [LOOKUP]))
    (state,) = model._states.values()
    turn = format_prompt([*SNOWY, Message("user", "Do you sell boots?")], [LOOKUP])
    prompt = model._llm.tokenize(turn.encode(), add_bos=False, special=True)
    warmed = len(state.tokens)
    assert llama_state.common_prefix(state.tokens, prompt) == warmed
    assert model._llm.detokenize(prompt[warmed:]).startswith(b"Do you sell boots?")
