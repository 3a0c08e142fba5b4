"""ChatML prompt formatting: conversations, tools blocks and compact schemas."""

import json

from gbnf_support import PHONE, PING, WEATHER, lookup_order
from voxrelay.models.base import Message, ToolCall
from voxrelay.models.chatml import IM_END, IM_START, compact_schema, format_prompt, tools_block

# --- ChatML -------------------------------------------------------------------------------


def test_format_prompt_plain_conversation() -> None:
    prompt = format_prompt(
        [
            Message("system", "You are Snowy."),
            Message("user", "Hi"),
            Message("assistant", "Hello!"),
            Message("user", "Bye"),
        ],
        [],
    )
    assert prompt == (
        "<|im_start|>system\nYou are Snowy.<|im_end|>\n"
        "<|im_start|>user\nHi<|im_end|>\n"
        "<|im_start|>assistant\nHello!<|im_end|>\n"
        "<|im_start|>user\nBye<|im_end|>\n"
        "<|im_start|>assistant\n"
    )


def test_format_prompt_default_system() -> None:
    prompt = format_prompt([Message("user", "Hi")], [])
    assert prompt.startswith(f"{IM_START}system\nYou are a helpful assistant.{IM_END}\n")
    assert prompt.endswith(f"{IM_START}user\nHi{IM_END}\n{IM_START}assistant\n")


def test_format_prompt_with_tools_and_tool_turns() -> None:
    call = ToolCall("call_1", "get_weather", '{"city": "Oslo"}')
    prompt = format_prompt(
        [
            Message("system", "Be brief."),
            Message("user", "Weather in Oslo?"),
            Message("assistant", "", tool_calls=(call,)),
            Message("tool", '{"temp_c": 3}', tool_call_id="call_1", name="get_weather"),
            Message("assistant", "It is 3 degrees."),
        ],
        [WEATHER, PING],
    )
    system = prompt.split(IM_END)[0]
    assert system.startswith(f"{IM_START}system\nBe brief.\n\n# Tools")
    assert "<tools>\n" in system and "\n</tools>" in system
    tool_lines = system.split("<tools>\n")[1].split("\n</tools>")[0].splitlines()
    assert [json.loads(line)["name"] for line in tool_lines] == ["get_weather", "ping"]
    assert json.loads(tool_lines[0]) == {
        "name": "get_weather",
        "description": "Weather for a city.",
        "parameters": {"properties": {"city": {"type": "string"}}, "type": "object"},
    }
    assert (
        f"{IM_START}assistant\n<tool_call>\n"
        '{"name": "get_weather", "arguments": {"city": "Oslo"}}\n'
        f"</tool_call>{IM_END}\n"
    ) in prompt
    assert f'{IM_START}user\n<tool_response>\n{{"temp_c": 3}}\n</tool_response>{IM_END}\n' in prompt
    assert prompt.endswith(f"{IM_START}assistant\nIt is 3 degrees.{IM_END}\n{IM_START}assistant\n")
    assert prompt.count(f"{IM_START}system") == 1


def test_assistant_text_before_tool_call_and_empty_arguments() -> None:
    prompt = format_prompt(
        [Message("assistant", "One moment.", tool_calls=(ToolCall("c", "ping", ""),))], [PING]
    )
    assert (
        f'{IM_START}assistant\nOne moment.\n<tool_call>\n{{"name": "ping", "arguments": {{}}}}'
        f"\n</tool_call>{IM_END}\n"
    ) in prompt


def test_calls_of_tools_not_offered_render_as_notes() -> None:
    call = ToolCall("h1", "transfer_to_returns", '{"reason": "return"}')
    prompt = format_prompt(
        [
            Message("system", "You are returns."),
            Message("user", "I want to return my board"),
            Message("assistant", "Connecting you.", tool_calls=(call,)),
            Message("tool", '{"assistant": "returns"}', tool_call_id="h1"),
        ],
        [PING],
    )
    assert '<tool_call>\n{"name": "transfer_to_returns"' not in prompt
    assert "<tool_response>" not in prompt
    system, _, body = prompt.partition(IM_END)
    assert system.endswith(
        '# Earlier in this conversation\n- transfer_to_returns returned {"assistant": "returns"}'
    )
    assert '"reason"' not in prompt  # the arguments repeat the user's words
    assert body.index("I want to return my board") < body.index("Connecting you.")
    assert prompt.endswith(f"Connecting you.{IM_END}\n{IM_START}assistant\n")


def test_tools_block_tells_the_call_format() -> None:
    block = tools_block([PING])
    assert "<tool_call>" in block
    assert '{"name": "ping", "description": "Ping.", "parameters": {}}' in block


def test_compact_schema_drops_noise() -> None:
    compact = compact_schema(lookup_order.parameters)
    assert compact == {
        "properties": {
            "phone": {
                "description": "The caller's phone.",
                "pattern": PHONE,
                "type": "string",
            },
            "board": {"enum": ["snow", "wake"], "type": "string"},
            "limit": {"anyOf": [{"type": "integer"}, {"type": "null"}]},
        },
        "type": "object",
    }


def test_compact_schema_keeps_properties_named_like_keywords() -> None:
    schema = {
        "type": "object",
        "title": "Args",
        "properties": {
            "title": {"type": "string", "title": "Title"},
            "required": {"type": "boolean", "default": False},
        },
        "required": ["title", "required"],
        "additionalProperties": False,
    }
    assert compact_schema(schema) == {
        "type": "object",
        "properties": {"title": {"type": "string"}, "required": {"type": "boolean"}},
    }
