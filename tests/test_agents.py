"""The agent SDK: `@tool` schemas and validation, handoff naming, scenarios, guardrails."""

import asyncio
import threading
from enum import Enum
from typing import Annotated, Any, Literal

import pytest
from pydantic import Field

from voxrelay.agents import (
    Agent,
    FunctionTool,
    GuardrailResult,
    KeywordGuardrail,
    OutputGuardrail,
    RunContext,
    Scenario,
    ToolArgumentsError,
    function_tool,
    handoff_tool_name,
    output_guardrail,
    snake_case,
    tool,
)
from voxrelay.errors import ConfigError, ToolError


class Size(Enum):
    SMALL = "small"
    LARGE = "large"


@tool
def lookup_order(
    ctx: RunContext,
    phone: Annotated[str, Field(pattern=r"^\(\d{3}\) \d{3}-\d{4}$"), "The caller's phone."],
    board: Literal["snow", "wake"],
    size: Size,
    note: Annotated[str, "Anything else the caller said."] = "none",
    limit: int = 3,
    coupon: str | None = None,
) -> dict[str, Any]:
    """Look up the caller's most recent order.

    Args:
        phone: ignored, the Annotated text wins.
        board: Which kind of board
            the order was for.
        size: The board size.
    """
    return {"agent": ctx.agent_name, "phone": phone, "board": board, "size": size.value}


def _walk(node: Any) -> list[dict[str, Any]]:
    """Every dict in a JSON schema, depth first."""
    if isinstance(node, list):
        return [d for n in node for d in _walk(n)]
    if isinstance(node, dict):
        return [node, *(d for v in node.values() for d in _walk(v))]
    return []


# --- @tool schema -------------------------------------------------------------------------


def test_tool_spec_shape() -> None:
    spec = lookup_order.spec()
    assert spec["type"] == "function"
    assert spec["name"] == "lookup_order"
    assert spec["description"] == "Look up the caller's most recent order."
    assert spec["parameters"] is lookup_order.parameters


def test_schema_is_strict_form() -> None:
    params = lookup_order.parameters
    assert params["type"] == "object"
    assert params["additionalProperties"] is False
    assert params["required"] == ["phone", "board", "size", "note", "limit", "coupon"]
    assert list(params["properties"]) == params["required"]
    for node in _walk(params):
        assert "title" not in node
        assert "$defs" not in node
        assert "$ref" not in node


def test_context_parameter_is_not_in_schema() -> None:
    assert lookup_order.takes_context is True
    assert "ctx" not in lookup_order.parameters["properties"]


def test_annotated_string_is_the_description() -> None:
    props = lookup_order.parameters["properties"]
    assert props["phone"]["description"] == "The caller's phone."
    assert props["note"]["description"] == "Anything else the caller said."


def test_field_pattern_is_kept() -> None:
    phone = lookup_order.parameters["properties"]["phone"]
    assert phone["type"] == "string"
    assert phone["pattern"] == r"^\(\d{3}\) \d{3}-\d{4}$"


def test_literal_becomes_enum_with_docstring_description() -> None:
    board = lookup_order.parameters["properties"]["board"]
    assert board["type"] == "string"
    assert board["enum"] == ["snow", "wake"]
    assert board["description"] == "Which kind of board the order was for."


def test_enum_class_is_inlined() -> None:
    size = lookup_order.parameters["properties"]["size"]
    assert size["enum"] == ["small", "large"]
    assert size["type"] == "string"
    assert size["description"] == "The board size."


def test_defaults_become_nullable_but_required() -> None:
    props = lookup_order.parameters["properties"]
    assert props["note"]["anyOf"] == [{"type": "string"}, {"type": "null"}]
    assert props["note"]["default"] == "none"
    assert props["limit"]["anyOf"] == [{"type": "integer"}, {"type": "null"}]
    assert props["limit"]["default"] == 3
    assert props["coupon"]["anyOf"] == [{"type": "string"}, {"type": "null"}]
    assert {"note", "limit", "coupon"} <= set(lookup_order.parameters["required"])


def test_description_override_and_fallback() -> None:
    def no_doc(x: int) -> int:
        return x

    assert function_tool(no_doc).description == "no doc"
    assert function_tool(no_doc, description="Echo x.").description == "Echo x."
    named = tool(name="echo_x")(no_doc)
    assert isinstance(named, FunctionTool)
    assert named.name == "echo_x"


def test_tool_without_context() -> None:
    @tool(timeout_s=2.5)
    def add(a: int, b: int) -> int:
        """Add two numbers."""
        return a + b

    assert add.takes_context is False
    assert add.timeout_s == 2.5
    assert add.parameters["required"] == ["a", "b"]


def test_context_subclass_is_detected() -> None:
    class MyContext(RunContext):
        pass

    def with_sub(ctx: MyContext, x: int) -> int:
        return x

    built = function_tool(with_sub)
    assert built.takes_context is True
    assert list(built.parameters["properties"]) == ["x"]


def test_context_only_in_first_position() -> None:
    def later(x: int, ctx: RunContext) -> int:
        return x

    # Only the first parameter is checked: a RunContext later on is an ordinary argument.
    built = function_tool(later)
    assert built.takes_context is False
    assert built.parameters["required"] == ["x", "ctx"]


# --- parse_arguments ----------------------------------------------------------------------


VALID = '{"phone": "(555) 123-4567", "board": "snow", "size": "large", "note": "hi", "limit": 1, "coupon": null}'  # noqa: E501


def test_parse_valid_arguments() -> None:
    assert lookup_order.parse_arguments(VALID) == {
        "phone": "(555) 123-4567",
        "board": "snow",
        "size": Size.LARGE,
        "note": "hi",
        "limit": 1,
        "coupon": None,
    }


def test_null_means_default() -> None:
    args = lookup_order.parse_arguments(
        '{"phone": "(555) 123-4567", "board": "wake", "size": "small",'
        ' "note": null, "limit": null, "coupon": null}'
    )
    assert (args["note"], args["limit"], args["coupon"]) == ("none", 3, None)


def test_omitted_optional_means_default() -> None:
    args = lookup_order.parse_arguments(
        '{"phone": "(555) 123-4567", "board": "wake", "size": "small"}'
    )
    assert (args["note"], args["limit"], args["coupon"]) == ("none", 3, None)


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ("{not json", "not valid JSON"),
        ("[1, 2]", "must be a JSON object"),
        ('"text"', "must be a JSON object"),
        ('{"board": "snow", "size": "small"}', "phone: Field required"),
        ('{"phone": "5551234567", "board": "snow", "size": "small"}', "phone: String should match"),
        ('{"phone": "(555) 123-4567", "board": "ski", "size": "small"}', "board: Input should be"),
        ('{"phone": "(555) 123-4567", "board": "snow", "size": "huge"}', "size: Input should be"),
        (
            '{"phone": "(555) 123-4567", "board": "snow", "size": "small", "extra": 1}',
            "extra: Extra inputs are not permitted",
        ),
        ('{"phone": null, "board": "snow", "size": "small"}', "phone:"),
    ],
)
def test_parse_rejects(arguments: str, message: str) -> None:
    with pytest.raises(ToolArgumentsError) as info:
        lookup_order.parse_arguments(arguments)
    assert message in str(info.value)


def test_empty_arguments_are_an_empty_object() -> None:
    @tool
    def ping() -> str:
        """Ping."""
        return "pong"

    assert ping.parse_arguments("") == {}
    assert ping.parameters["properties"] == {}
    assert ping.parameters["additionalProperties"] is False


# --- invoke -------------------------------------------------------------------------------


async def test_invoke_sync_tool_passes_context_and_runs_off_loop() -> None:
    seen: list[str] = []

    @tool
    def where(ctx: RunContext, word: str) -> str:
        """Say where it ran."""
        seen.append(threading.current_thread().name)
        return f"{ctx.agent_name}:{word}"

    ctx = RunContext(agent_name="front")
    result = await where.invoke(ctx, where.parse_arguments('{"word": "hi"}'))
    assert result == "front:hi"
    assert seen and seen[0] != threading.current_thread().name


async def test_invoke_async_tool() -> None:
    @tool
    async def slow_echo(text: str) -> str:
        """Echo after a yield."""
        await asyncio.sleep(0)
        return text.upper()

    assert await slow_echo.invoke(RunContext(agent_name="a"), {"text": "ok"}) == "OK"


async def test_invoke_full_tool() -> None:
    ctx = RunContext(agent_name="returns")
    result = await lookup_order.invoke(ctx, lookup_order.parse_arguments(VALID))
    assert result == {
        "agent": "returns",
        "phone": "(555) 123-4567",
        "board": "snow",
        "size": "large",
    }


async def test_context_state_is_shared_with_tool() -> None:
    @tool
    def remember(ctx: RunContext, name: str) -> None:
        """Remember the caller's name."""
        ctx.state["name"] = name

    ctx = RunContext(agent_name="a")
    await remember.invoke(ctx, {"name": "Ada"})
    assert ctx.state == {"name": "Ada"}


# --- declaration errors -------------------------------------------------------------------


def test_bad_tool_name() -> None:
    def fine(x: int) -> int:
        return x

    with pytest.raises(ToolError, match="must match"):
        function_tool(fine, name="has space")
    with pytest.raises(ToolError):
        function_tool(fine, name="x" * 65)


def test_var_args_rejected() -> None:
    def star(*items: int) -> int:
        return len(items)

    def kw(**items: int) -> int:
        return len(items)

    with pytest.raises(ToolError, match=r"\*args"):
        function_tool(star)
    with pytest.raises(ToolError, match=r"\*args"):
        function_tool(kw)


def test_missing_type_hint_rejected() -> None:
    def untyped(x, y: int) -> int:  # type: ignore[no-untyped-def]
        return y

    with pytest.raises(ToolError, match="'x' needs a type hint"):
        function_tool(untyped)


# --- naming -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("simulatedHuman", "simulated_human"),
        ("Returns Agent", "returns_agent"),
        ("authentication", "authentication"),
        ("salesAgent2", "sales_agent2"),
        ("  weird--name!! ", "weird_name"),
    ],
)
def test_snake_case(name: str, expected: str) -> None:
    assert snake_case(name) == expected


def test_handoff_tool_name() -> None:
    assert handoff_tool_name("simulatedHuman") == "transfer_to_simulated_human"
    assert handoff_tool_name("returns") == "transfer_to_returns"


# --- Scenario -----------------------------------------------------------------------------


def _scenario(**kwargs: Any) -> Scenario:
    greeter = Agent(name="greeter", instructions="Greet.", handoffs=["haikuWriter"])
    haiku = Agent(
        name="haikuWriter",
        instructions="Write haiku.",
        handoffs=[greeter],
        handoff_description="Writes a haiku on any topic.",
    )
    return Scenario(name="demo", agents=[greeter, haiku], **kwargs)


def test_scenario_defaults_to_first_agent() -> None:
    scenario = _scenario()
    assert scenario.start_agent_name == "greeter"
    assert scenario.names() == ["greeter", "haikuWriter"]
    assert _scenario(start="haikuWriter").start_agent_name == "haikuWriter"


def test_unknown_handoff_target_lists_valid_names() -> None:
    a = Agent(name="a", instructions="", handoffs=["ghost"])
    b = Agent(name="b", instructions="")
    with pytest.raises(ConfigError) as info:
        Scenario(name="s", agents=[a, b])
    message = str(info.value)
    assert "'ghost'" in message
    assert "valid agents: a, b" in message


def test_unknown_start_agent_lists_valid_names() -> None:
    with pytest.raises(ConfigError, match=r"'nobody'.*valid agents: greeter, haikuWriter"):
        _scenario(start="nobody")


def test_empty_scenario_rejected() -> None:
    with pytest.raises(ConfigError, match="no agents"):
        Scenario(name="empty", agents=[])


def test_tools_for_appends_handoff_tools() -> None:
    @tool
    def ping() -> str:
        """Ping."""
        return "pong"

    greeter = Agent(name="greeter", instructions="", tools=[ping], handoffs=["haikuWriter"])
    haiku = Agent(name="haikuWriter", instructions="", handoff_description="Writes haiku.")
    scenario = Scenario(name="s", agents=[greeter, haiku])
    tools = scenario.tools_for(greeter)
    assert [t.name for t in tools] == ["ping", "transfer_to_haiku_writer"]
    transfer = tools[1]
    assert "Writes haiku." in transfer.description
    assert "haikuWriter" in transfer.description
    assert transfer.parameters["required"] == ["reason"]
    assert transfer.parameters["additionalProperties"] is False
    assert scenario.tools_for(haiku) == []


def test_handoff_tool_without_description_names_the_agent() -> None:
    scenario = _scenario()
    (transfer,) = scenario.tools_for(scenario.agent("haikuWriter"))
    assert transfer.name == "transfer_to_greeter"
    assert "greeter" in transfer.description


async def test_handoff_tool_invocation_names_target() -> None:
    scenario = _scenario()
    (transfer,) = scenario.tools_for(scenario.agent("greeter"))
    args = transfer.parse_arguments('{"reason": "wants a poem"}')
    assert await transfer.invoke(RunContext(agent_name="greeter"), args) == {
        "assistant": "haikuWriter"
    }


def test_handoff_target_and_graph() -> None:
    scenario = _scenario()
    assert scenario.handoff_target("transfer_to_haiku_writer") is scenario.agent("haikuWriter")
    assert scenario.handoff_target("transfer_to_nobody") is None
    assert scenario.handoff_target("lookup_order") is None
    assert scenario.graph() == {"greeter": ["haikuWriter"], "haikuWriter": ["greeter"]}


# --- guardrails ---------------------------------------------------------------------------


async def test_keyword_guardrail() -> None:
    guard = KeywordGuardrail.of("brand", "OFF_BRAND", [r"\bcompetitor\b", "cheap ?skate"])
    assert isinstance(guard, OutputGuardrail)
    ctx = RunContext(agent_name="a")
    ok = await guard.check("Our boards are great.", ctx)
    assert ok == GuardrailResult(tripped=False, category="NONE", rationale="")
    hit = await guard.check("Try the COMPETITOR instead.", ctx)
    assert hit.tripped is True
    assert hit.category == "OFF_BRAND"
    assert "'COMPETITOR'" in hit.rationale


async def test_output_guardrail_decorator_sync_and_async() -> None:
    @output_guardrail
    def no_digits(text: str, ctx: RunContext) -> GuardrailResult:
        tripped = any(c.isdigit() for c in text)
        return GuardrailResult(tripped, "OFFENSIVE" if tripped else "NONE", ctx.agent_name)

    @output_guardrail
    async def never(text: str, ctx: RunContext) -> GuardrailResult:
        await asyncio.sleep(0)
        return GuardrailResult(False)

    ctx = RunContext(agent_name="seller")
    assert no_digits.name == "no_digits"
    assert isinstance(no_digits, OutputGuardrail)
    assert await no_digits.check("call 555", ctx) == GuardrailResult(True, "OFFENSIVE", "seller")
    assert (await no_digits.check("hello", ctx)).tripped is False
    assert await never.check("anything 1", ctx) == GuardrailResult(False)


def test_run_context_user_text() -> None:
    from voxrelay.agents import HistoryEntry

    ctx = RunContext(
        agent_name="a",
        history=[
            HistoryEntry("user", "hi"),
            HistoryEntry("assistant", "hello"),
            HistoryEntry("user", "my order"),
        ],
    )
    assert ctx.user_text() == "hi\nmy order"
