"""Snowy Peak Boards: a front desk that routes to returns, sales or a human supervisor."""

from __future__ import annotations

from voxrelay.agents import Agent, Scenario
from voxrelay.models.base import ChatModel
from voxrelay.scenarios.retail_tools import (
    add_to_cart,
    authenticate_user_information,
    check_eligibility_and_possibly_initiate_return,
    checkout,
    lookup_new_sales,
    lookup_orders,
    retrieve_policy,
)

NAME = "customer_service_retail"
DESCRIPTION = "Snowy Peak Boards snowboard shop: front desk → returns, sales, human supervisor."

CONTINUE = "After a transfer, carry on with the caller's request at once; do not greet again."

AUTHENTICATION = f"""You are the front desk of Snowy Peak Boards, a snowboard shop.
Keep every reply to one or two short sentences.
When the caller's need is clear, transfer at once without greeting:
- return, exchange, refund or a defective item: call transfer_to_returns.
- buying, products, prices or deals: call transfer_to_sales.
- upset, or asks for a person or manager: call transfer_to_simulated_human.
Otherwise greet the caller and ask how you can help.
To verify identity, ask for phone number, date of birth and the last 4 digits of the card \
on file, then call authenticate_user_information. Ask for nothing else.
{CONTINUE}"""

RETURNS = f"""You handle returns and exchanges for Snowy Peak Boards. Keep replies short.
1. If the caller is not verified, ask for phone number, date of birth and the last 4 \
digits of the card on file, then call authenticate_user_information.
2. Call lookup_orders with their phone number and confirm which item they mean.
3. Ask why they are returning it, call check_eligibility_and_possibly_initiate_return \
and tell them the result.
For policy questions call retrieve_policy. Never promise what a tool did not approve.
Buying something new: call transfer_to_sales. Upset or wants a person: call \
transfer_to_simulated_human.
{CONTINUE}"""

SALES = f"""You sell snowboards and gear for Snowy Peak Boards. Keep replies short and friendly.
Call lookup_new_sales to find deals and suggest one or two items with their prices.
When the caller picks an item, call add_to_cart.
To buy, call checkout with the cart's item ids and the caller's phone number; if it says \
the caller is not verified, call transfer_to_authentication.
Returns or defects: call transfer_to_returns. Upset or wants a person: call \
transfer_to_simulated_human.
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
        tools=[authenticate_user_information],
        handoffs=["returns", "sales", "simulatedHuman"],
        handoff_description="Front desk: greets callers, verifies identity and routes them.",
        greeting="Hi, you've reached Snowy Peak Boards. How can I help you today?",
    )
    returns = Agent(
        name="returns",
        instructions=RETURNS,
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
        tools=[lookup_new_sales, add_to_cart, checkout],
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
