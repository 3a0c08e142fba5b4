"""The bundled scenarios: agent graphs, strict tool schemas, sample-data tools, supervisor loop."""

from __future__ import annotations

import json
from typing import Any, get_args

import pytest

from voxrelay.agents import FunctionTool, HistoryEntry, RunContext, ToolArgumentsError
from voxrelay.errors import ConfigError
from voxrelay.scenarios import SCENARIOS, load_scenario, scenario_names
from voxrelay.scenarios import chat_supervisor as cs
from voxrelay.scenarios import retail_tools as rt
from voxrelay.scenarios import telco_tools as tt
from voxrelay.testing.chat import ScriptedChatModel, call, say

ALEX = {"phone_number": "(206) 555-0142", "date_of_birth": "1990-04-12", "last_4_digits": "1234"}
PRIYA = {"phone_number": "(415) 555-0199", "date_of_birth": "1985-11-03", "last_4_digits": "9876"}


async def run(tool: FunctionTool, ctx: RunContext, **args: Any) -> Any:
    """Validate arguments as the runtime would, then invoke the tool."""
    return await tool.invoke(ctx, tool.parse_arguments(json.dumps(args)))


def assert_strict(schema: dict[str, Any]) -> None:
    """Every object in the schema requires all its properties and forbids extras."""
    if schema.get("type") == "object":
        assert schema["additionalProperties"] is False
        assert sorted(schema["required"]) == sorted(schema["properties"])
    for value in schema.values():
        children = value if isinstance(value, list) else [value]
        for child in children:
            if isinstance(child, dict):
                assert_strict(child)


# --- registry and graphs -------------------------------------------------------------------


def test_registry_lists_the_three_scenarios_default_first() -> None:
    assert scenario_names() == ["customer_service_retail", "simple_handoff", "chat_supervisor"]
    assert all(info.description for info in SCENARIOS.values())


def test_unknown_scenario_error_lists_valid_names() -> None:
    with pytest.raises(ConfigError) as err:
        load_scenario("nope")
    for name in scenario_names():
        assert name in str(err.value)


def test_simple_handoff_graph() -> None:
    scenario = load_scenario("simple_handoff")
    assert scenario.start_agent_name == "greeter"
    assert scenario.graph() == {"greeter": ["haikuWriter"], "haikuWriter": []}
    tools = scenario.tools_for(scenario.agent("greeter"))
    assert [t.name for t in tools] == ["transfer_to_haiku_writer"]
    assert "haiku" in tools[0].description


def test_customer_service_retail_graph() -> None:
    scenario = load_scenario("customer_service_retail")
    assert scenario.start_agent_name == "authentication"
    assert scenario.graph() == {
        "authentication": ["returns", "sales", "simulatedHuman"],
        "returns": ["authentication", "sales", "simulatedHuman"],
        "sales": ["authentication", "returns", "simulatedHuman"],
        "simulatedHuman": ["authentication", "returns", "sales"],
    }
    names = {a.name: [t.name for t in scenario.tools_for(a)] for a in scenario.agents}
    assert names["authentication"] == [
        "authenticate_user_information",
        "transfer_to_returns",
        "transfer_to_sales",
        "transfer_to_simulated_human",
    ]
    assert names["returns"][:4] == [
        "authenticate_user_information",
        "lookup_orders",
        "check_eligibility_and_possibly_initiate_return",
        "retrieve_policy",
    ]
    assert names["sales"][:4] == [
        "lookup_new_sales",
        "add_to_cart",
        "authenticate_user_information",
        "checkout",
    ]
    steps = {a.name: [s.name for s in a.steps] for a in scenario.agents}
    assert steps["returns"] == ["verify", "find_order", "choose", "done"]
    assert steps["sales"] == ["browse", "pick", "cart", "pay", "done"]
    assert names["simulatedHuman"] == [
        "transfer_to_authentication",
        "transfer_to_returns",
        "transfer_to_sales",
    ]


def test_chat_supervisor_graph() -> None:
    scenario = load_scenario("chat_supervisor")
    assert scenario.start_agent_name == "chatAgent"
    assert scenario.graph() == {"chatAgent": []}
    (tool,) = scenario.tools_for(scenario.agent("chatAgent"))
    assert tool.name == "getNextResponseFromSupervisor"
    assert list(tool.parameters["properties"]) == ["relevantContextFromLastUserMessage"]
    assert [t.name for t in tt.SUPERVISOR_TOOLS] == [
        "getUserAccountInfo",
        "lookupPolicyDocument",
        "findNearestStore",
    ]


@pytest.mark.parametrize("name", scenario_names())
def test_every_tool_schema_is_strict_and_described(name: str) -> None:
    scenario = load_scenario(name)
    tools = [t for a in scenario.agents for t in scenario.tools_for(a)]
    if name == "chat_supervisor":
        tools += tt.SUPERVISOR_TOOLS
    for tool in tools:
        assert tool.description, tool.name
        assert_strict(tool.parameters)
        for prop in tool.parameters["properties"].values():
            assert prop.get("description"), tool.name


@pytest.mark.parametrize("name", scenario_names())
def test_instructions_are_short_and_each_scenario_builds_fresh_agents(name: str) -> None:
    first, second = load_scenario(name), load_scenario(name)
    assert first.agents[0] is not second.agents[0]
    for agent in first.agents:
        assert len(agent.instructions.split()) <= 120, agent.name


def test_retail_literals_match_the_sample_data() -> None:
    data = rt.retail_data()
    assert set(get_args(rt.PolicyTopic)) == set(data.policy_topics)
    categories = {p.category for p in data.catalogue.values()}
    assert set(get_args(rt.SaleCategory)) == categories | {"all"}


# --- Snowy Peak Boards tools ---------------------------------------------------------------


async def test_authentication_sets_the_customer() -> None:
    ctx = RunContext("authentication")
    result = await run(rt.authenticate_user_information, ctx, **ALEX)
    assert result["verified"] is True
    assert ctx.state["customer"]["name"] == "Alex Rivera"


async def test_authentication_rejects_wrong_details() -> None:
    ctx = RunContext("authentication")
    result = await run(rt.authenticate_user_information, ctx, **{**ALEX, "last_4_digits": "0000"})
    assert result["verified"] is False
    assert "customer" not in ctx.state


def test_authentication_enforces_formats() -> None:
    with pytest.raises(ToolArgumentsError, match="phone_number"):
        rt.authenticate_user_information.parse_arguments(
            json.dumps({**ALEX, "phone_number": "206-555-0142"})
        )


async def test_account_tools_refuse_until_verified() -> None:
    ctx = RunContext("returns")
    orders = await run(rt.lookup_orders, ctx, phone_number=ALEX["phone_number"])
    assert orders["error"] == rt.NOT_VERIFIED
    assert "authenticate_user_information" in orders["error"]
    check = rt.check_eligibility_and_possibly_initiate_return
    result = await run(
        check, ctx, order_id="SPB-20431", item_id="SB-158-SUMMIT", reason="wrong_size"
    )
    assert result["error"] == rt.NOT_VERIFIED


async def test_lookup_orders_after_verification() -> None:
    ctx = RunContext("returns")
    await run(rt.authenticate_user_information, ctx, **ALEX)
    result = await run(rt.lookup_orders, ctx, phone_number="(206) 555-0142")
    ids = [o["order_id"] for o in result["orders"]]
    assert ids == ["SPB-20431", "SPB-19877"]
    assert result["orders"][0]["items"][0]["item_id"] == "SB-158-SUMMIT"
    other = await run(rt.lookup_orders, ctx, phone_number="(415) 555-0199")
    assert "not the verified caller" in other["error"]


async def test_recent_snowboard_return_is_initiated_once() -> None:
    ctx = RunContext("returns")
    await run(rt.authenticate_user_information, ctx, **ALEX)
    check = rt.check_eligibility_and_possibly_initiate_return
    args = {"order_id": "SPB-20431", "item_id": "SB-158-SUMMIT", "reason": "wrong_size"}
    first = await run(check, ctx, **args)
    assert first["eligible"] and first["return_initiated"]
    assert first["refund_amount"] == 549.0
    again = await run(check, ctx, **args)
    assert again["rma_number"] == first["rma_number"]
    assert ctx.state["returns"] == {"SPB-20431/SB-158-SUMMIT": first["rma_number"]}


@pytest.mark.parametrize(
    ("who", "order_id", "item_id", "reason", "eligible"),
    [
        (ALEX, "SPB-19877", "GG-ARCTIC", "changed_mind", False),  # 74 days: past the window
        (ALEX, "SPB-19877", "GG-ARCTIC", "defective", True),  # but under warranty
        (PRIYA, "SPB-20502", "JK-S-ALPINE", "wrong_size", False),  # final sale
        (PRIYA, "SPB-20502", "JK-S-ALPINE", "damaged_in_shipping", True),
        (PRIYA, "SPB-20502", "BT-W8-DRIFT", "wrong_size", True),
    ],
)
async def test_eligibility_follows_the_policy(
    who: dict[str, str], order_id: str, item_id: str, reason: str, eligible: bool
) -> None:
    ctx = RunContext("returns")
    await run(rt.authenticate_user_information, ctx, **who)
    check = rt.check_eligibility_and_possibly_initiate_return
    result = await run(check, ctx, order_id=order_id, item_id=item_id, reason=reason)
    assert result["eligible"] is eligible
    assert result["return_initiated"] is eligible


async def test_eligibility_rejects_someone_elses_order_and_unknown_items() -> None:
    ctx = RunContext("returns")
    await run(rt.authenticate_user_information, ctx, **ALEX)
    check = rt.check_eligibility_and_possibly_initiate_return
    other = await run(check, ctx, order_id="SPB-20502", item_id="BT-W8-DRIFT", reason="wrong_size")
    assert "lookup_orders" in other["error"]
    missing = await run(check, ctx, order_id="SPB-20431", item_id="NOPE", reason="wrong_size")
    assert "SB-158-SUMMIT" in missing["error"]


async def test_retrieve_policy_needs_no_verification() -> None:
    text = await run(rt.retrieve_policy, RunContext("returns"), topic="defects")
    assert "365 days" in text


async def test_lookup_new_sales_filters_by_category() -> None:
    boards = await run(rt.lookup_new_sales, RunContext("sales"), category="snowboards")
    assert {i["item_id"] for i in boards["items"]} == {"SB-152-POWDER", "SB-155-PARK"}
    everything = await run(rt.lookup_new_sales, RunContext("sales"), category="all")
    assert len(everything["items"]) > len(boards["items"])


async def test_cart_and_checkout() -> None:
    ctx = RunContext("sales")
    added = await run(rt.add_to_cart, ctx, item_id="SB-152-POWDER")
    assert added["cart"] == ["SB-152-POWDER"]
    await run(rt.add_to_cart, ctx, item_id="HM-VENT")
    unknown = await run(rt.add_to_cart, ctx, item_id="XX-1")
    assert "lookup_new_sales" in unknown["error"]
    items = ["SB-152-POWDER", "HM-VENT"]
    refused = await run(rt.checkout, ctx, item_ids=items, phone_number=ALEX["phone_number"])
    assert "authenticate_user_information" in refused["error"]
    await run(rt.authenticate_user_information, ctx, **ALEX)
    order = await run(rt.checkout, ctx, item_ids=items, phone_number=ALEX["phone_number"])
    assert order["total"] == 399.0 + 109.0
    assert order["order_id"].startswith("SPB-")
    assert ctx.state["cart"] == []


# --- chat supervisor -------------------------------------------------------------------------


def history() -> list[HistoryEntry]:
    return [
        HistoryEntry("assistant", "Hi, you've reached Brightline Mobile.", agent="chatAgent"),
        HistoryEntry("user", "Why is my bill higher? My number is (206) 555-0142."),
    ]


async def test_supervisor_calls_a_tool_then_answers() -> None:
    model = ScriptedChatModel(
        [
            call(
                "getUserAccountInfo",
                '{"phone_number": "(206) 555-0142"}',
                expect_tools=["getUserAccountInfo", "lookupPolicyDocument", "findNearestStore"],
                expect_in_prompt=["Why is my bill higher?", "bill question"],
            ),
            say(
                "Your bill includes $15 of roaming in Canada.",
                check=lambda messages, tools: _assert_tool_result(messages, "Unlimited Plus"),
            ),
        ]
    )
    scenario = load_scenario("chat_supervisor", chat_model=model)
    tool = scenario.agent("chatAgent").tools[0]
    ctx = RunContext("chatAgent", history=history())
    result = await run(tool, ctx, relevantContextFromLastUserMessage="bill question")
    assert result == {"nextResponse": "Your bill includes $15 of roaming in Canada."}
    model.assert_complete()


def _assert_tool_result(messages: Any, needle: str) -> None:
    tool_messages = [m for m in messages if m.role == "tool"]
    assert tool_messages and needle in tool_messages[-1].content
    assert tool_messages[-1].name == "getUserAccountInfo"


async def test_supervisor_tool_errors_go_back_to_the_model() -> None:
    model = ScriptedChatModel(
        [
            call("findNearestStore", '{"zip_code": "abc"}'),
            call("noSuchTool", "{}"),
            say("Which zip code are you in?"),
        ]
    )
    ctx = RunContext("chatAgent", history=history())
    text = await cs.ask_supervisor(model, ctx, "store", tt.SUPERVISOR_TOOLS)
    assert text == "Which zip code are you in?"
    tool_results = [m.content for m in model.requests[-1][0] if m.role == "tool"]
    assert "invalid arguments for findNearestStore" in tool_results[0]
    assert "unknown tool" in tool_results[1]


async def test_supervisor_loop_is_bounded() -> None:
    lookups = [call("lookupPolicyDocument", '{"topic": "roaming"}')] * (cs.MAX_SUPERVISOR_STEPS - 1)
    model = ScriptedChatModel([*lookups, say("Roaming costs $5 a day.")])
    ctx = RunContext("chatAgent", history=history())
    answer = await cs.ask_supervisor(model, ctx, "roaming", tt.SUPERVISOR_TOOLS)
    assert answer == "Roaming costs $5 a day."
    assert model.requests[-1][2] == "none"
    model.assert_complete()


async def test_supervisor_without_a_model_returns_an_error() -> None:
    tool = load_scenario("chat_supervisor").agent("chatAgent").tools[0]
    result = await run(tool, RunContext("chatAgent"), relevantContextFromLastUserMessage="bill")
    assert result == {"error": cs.NOT_CONFIGURED}
    assert "not configured" in result["error"]


async def test_telco_tools() -> None:
    ctx = RunContext("supervisor")
    store = await run(tt.findNearestStore, ctx, zip_code="98109")
    assert store["stores"][0]["zip_code"] == "98101"
    policy = await run(tt.lookupPolicyDocument, ctx, topic="late_payment")
    assert "$7" in policy["policy"]
    missing = await run(tt.getUserAccountInfo, ctx, phone_number="(999) 555-0000")
    assert "no account" in missing["error"]
