"""The local model's call threshold: how likely call syntax must be for a reply to become a call."""

from __future__ import annotations

import asyncio
import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from voxrelay.config import Settings
from voxrelay.models.base import Message, TextDelta, ToolCall, tool_specs


def test_call_share_is_the_probability_of_the_opener_tokens() -> None:
    from voxrelay.models.llama import call_share

    logits = np.log(np.array([0.5, 0.25, 0.125, 0.125], dtype=np.float32))
    assert math.isclose(call_share(logits + 7.0, [1, 3]), 0.375, rel_tol=1e-5)
    assert call_share(np.array([0.0, -np.inf], dtype=np.float32), [1]) == 0.0


@pytest.mark.parametrize(
    ("first", "opens"),
    [
        (b'{"', True),
        (b" {", True),
        (b"<tool_call>", True),
        (b"<tools", True),
        (b"<", True),  # the 1.5B opened `<tools>` + a call this way
        (b"<to", True),
        (b"Sure", False),
        (b"<b", False),
        (b" ", False),
        (b"", False),
    ],
)
def test_which_first_tokens_open_a_call(first: bytes, opens: bool) -> None:
    from voxrelay.models.llama import opens_call

    assert opens_call(first) is opens


def test_threshold_setting_is_checked(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VOXRELAY_LLM_CALL_THRESHOLD", "0.2")
    assert Settings().llm_call_threshold == 0.2
    monkeypatch.setenv("VOXRELAY_LLM_CALL_THRESHOLD", "2")
    with pytest.raises(ValueError, match="less than or equal to 1"):
        Settings()


@pytest.mark.parametrize(
    ("llm", "setting", "expected"),
    [("qwen2.5-0.5b", None, 0.1), ("qwen2.5-1.5b", None, 0.5), ("qwen2.5-0.5b", 0.7, 0.7)],
)
def test_each_model_has_its_tuned_threshold_unless_set(
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    llm: str,
    setting: float | None,
    expected: float,
) -> None:
    from voxrelay.models import llama

    seen: dict[str, Any] = {}
    monkeypatch.setattr(llama.cache, "require", lambda name, model_dir: tmp_path / name)
    monkeypatch.setattr(llama.LlamaChatModel, "__init__", lambda self, path, **kw: seen.update(kw))
    llama.LlamaChatModel.from_settings(Settings(llm=llm, llm_call_threshold=setting))
    assert seen["call_threshold"] == expected


@pytest.mark.real
def test_threshold_moves_the_reply_or_call_boundary(small_llm: Any) -> None:
    """The greeter answers "How are you?" in words unless the threshold is 0 (always call)."""
    from voxrelay.scenarios import load_scenario

    model = small_llm
    scenario = load_scenario("simple_handoff")
    greeter = scenario.agent("greeter")
    tools = tool_specs(scenario.tools_for(greeter))
    messages = [Message("system", greeter.instructions), Message("user", "How are you today?")]

    async def first_item(threshold: float) -> object:
        model.call_threshold = threshold
        async for item in model.stream(messages, tools):
            return item
        return None

    assert isinstance(asyncio.run(first_item(0.0)), ToolCall)
    for threshold in (0.1, 1.0):  # call syntax has well under 1% here
        assert isinstance(asyncio.run(first_item(threshold)), TextDelta)
