"""Snowy Peak Boards: a front desk that routes to returns, sales or a human supervisor."""

from __future__ import annotations

from voxrelay.agents import Agent, Scenario
from voxrelay.models.base import ChatModel
from voxrelay.scenarios.retail_flows import RETURN_STEPS, SALE_STEPS
from voxrelay.scenarios.retail_tools import (
    add_to_cart,
    authenticate_user_information,
    caller_context,
    check_eligibility_and_possibly_initiate_return,
    checkout,
    lookup_new_sales,
    lookup_orders,
    retrieve_policy,
)

NAME = "customer_service_retail"
DESCRIPTION = "Snowy Peak Boards snowboard shop: front desk → returns, sales, human supervisor."

CONTINUE = "After a transfer, continue the caller's request; do not greet again."

AUTHENTICATION = f"""You are the front desk of Snowy Peak Boards, a snowboard shop. Route callers:
- Returns, exchanges, refunds, broken or defective items: call transfer_to_returns.
- Buying, products, prices, sales: call transfer_to_sales.
- Angry, or wants a person: call transfer_to_simulated_human.
Transfer on the first message when the need is clear; do not greet first.
Examples:
"I want to return my board" -> transfer_to_returns
"My board cracked, can I swap it?" -> transfer_to_returns
"Get me a real person" -> transfer_to_simulated_human
"Hello" -> no tool; say "Hi! How can I help you today?"
Call authenticate_user_information only with the phone number, date of birth and last 4 \
card digits the caller gave.
{CONTINUE}"""

RETURNS = f"""You handle returns and exchanges for Snowy Peak Boards. Keep replies short \
and spoken: one or two plain sentences, no lists. Promise only what a tool approved.
{CONTINUE}"""

SALES = f"""You sell snowboards and gear for Snowy Peak Boards. Keep replies short, friendly \
and spoken: one or two plain sentences, no lists.
{CONTINUE}"""

SIMULATED_HUMAN = f"""You are Morgan, a human shift supervisor at Snowy Peak Boards.
Speak calmly and warmly in short sentences. Apologise once, listen, and offer one \
concrete next step. You have no tools of your own.
Returns: call transfer_to_returns. Purchases: call transfer_to_sales. Identity checks: \
call transfer_to_authentication.
{CONTINUE}"""


def build(chat_model: ChatModel | None = None) -> Scenario:
    """The four Snowy Peak Boards agents; `chat_model` is unused here."""
    authentication = Agent(
        name="authentication",
        instructions=AUTHENTICATION,
        context=caller_context,
        tools=[authenticate_user_information],
        handoffs=["returns", "sales", "simulatedHuman"],
        handoff_description="Front desk: greets callers, verifies identity and routes them.",
        greeting="Hi, you've reached Snowy Peak Boards. How can I help you today?",
    )
    returns = Agent(
        name="returns",
        instructions=RETURNS,
        context=caller_context,
        steps=RETURN_STEPS,
        tools=[
            authenticate_user_information,
            lookup_orders,
            check_eligibility_and_possibly_initiate_return,
            retrieve_policy,
        ],
        handoffs=["authentication", "sales", "simulatedHuman"],
        handoff_description="Returns, exchanges, refunds and defective items; looks up orders.",
    )
    sales = Agent(
        name="sales",
        instructions=SALES,
        context=caller_context,
        tools=[lookup_new_sales, add_to_cart, authenticate_user_information, checkout],
        steps=SALE_STEPS,
        handoffs=["authentication", "returns", "simulatedHuman"],
        handoff_description="Buying: products, prices, current deals, cart and checkout.",
    )
    human = Agent(
        name="simulatedHuman",
        instructions=SIMULATED_HUMAN,
        handoffs=["authentication", "returns", "sales"],
        handoff_description="A human supervisor, for upset callers or anyone asking for a person.",
    )
    agents = [authentication, returns, sales, human]
    return Scenario(NAME, agents, start="authentication", description=DESCRIPTION)
