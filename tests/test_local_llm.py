"""The local model's pieces that need no weights: the call parser and model selection."""

from __future__ import annotations

import json

import pytest

from voxrelay.config import Settings
from voxrelay.errors import ConfigError, ModelError, ModelNotFoundError
from voxrelay.models import load_chat_model
from voxrelay.models.base import ToolSpec
from voxrelay.models.chatml import complete_json, parse_tool_call
from voxrelay.models.openai_compat import OpenAIChatModel

LOOKUP = ToolSpec("lookup_orders", "Find orders.", {"type": "object"})
RETURNS = ToolSpec("transfer_to_returns", "Returns.", {"type": "object"})
OFFERED = [LOOKUP, RETURNS]


@pytest.mark.parametrize(
    "raw",
    [
        b'{"name": "lookup_orders", "arguments": {"phone_number": "(206) 555-0142"}}',
        b'<tool_call>\n{"name": "lookup_orders", "arguments": {"phone_number": "(206) 555-0142"}}',
        b'```json\n{"name": "lookup_orders", "arguments": {"phone_number": "(206) 555-0142"}}\n```',
        b'{"name": "lookup_orders", "arguments": {"phone_number": "(206) 555-0142"}}\n</tool_call>',
        b'{"name": "lookup_orders", "arguments": "{\\"phone_number\\": \\"(206) 555-0142\\"}"}',
    ],
)
def test_parser_recovers_common_wrappings(raw: bytes) -> None:
    call = parse_tool_call(raw, OFFERED)
    assert call.name == "lookup_orders"
    assert json.loads(call.arguments) == {"phone_number": "(206) 555-0142"}
    assert call.call_id.startswith("call_")


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (b'{"name": "lookup_orders", "arguments": {"phone_nu', "unfinished"),
        (b"", "unfinished"),
        (b'{"arguments": {}}', "no name"),
        (b'["lookup_orders"]', "no name"),
        (b'{"name": "launch_rocket", "arguments": {}}', "not on offer"),
        (b'{"name": "lookup_orders", "arguments": "{broken"}', "not JSON"),
        (b'{"name": "lookup_orders", "arguments": [1, 2]}', "JSON object"),
    ],
)
def test_parser_reports_malformed_calls(raw: bytes, message: str) -> None:
    with pytest.raises(ModelError, match=message):
        parse_tool_call(raw, OFFERED)


def test_missing_arguments_mean_an_empty_object() -> None:
    assert parse_tool_call(b'{"name": "transfer_to_returns"}', OFFERED).arguments == "{}"


def test_complete_json_detects_the_end_of_the_first_object() -> None:
    assert not complete_json(b'{"name": "a", "arguments": {"x": "}"')
    assert complete_json(b'{"name": "a", "arguments": {"x": "}"}}')
    assert complete_json(b' {"a": 1} trailing')


def test_model_selection_by_setting(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:
    monkeypatch.setenv("VOXRELAY_LLM", "qwen2.5-1.5b")
    monkeypatch.setenv("VOXRELAY_MODEL_DIR", str(tmp_path))
    settings = Settings()
    assert settings.llm == "qwen2.5-1.5b"
    with pytest.raises(ModelNotFoundError) as info:
        load_chat_model(settings)
    assert info.value.name == "qwen2.5-1.5b"
    assert "voxrelay models --prepare" in str(info.value)


def test_unknown_local_model_lists_the_known_ones(tmp_path) -> None:
    with pytest.raises(ConfigError, match=r"qwen2\.5-0\.5b, qwen2\.5-1\.5b"):
        load_chat_model(Settings(llm="llama-70b", model_dir=tmp_path))


def test_openai_backend_by_setting() -> None:
    model = load_chat_model(
        Settings(llm_backend="openai", openai_model="gpt-4o-mini", openai_api_key="k")
    )
    assert isinstance(model, OpenAIChatModel)
    assert model.model == "gpt-4o-mini" and model.api_key == "k"
