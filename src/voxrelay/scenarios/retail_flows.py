"""Snowy Peak Boards' returns and sales agents as structured flows, with their spoken lines.

The runtime makes each step's key call (its arguments still come from the caller's words)
and says the lines that open a step or read a tool's outcome back; the model answers
everything else in words.
"""

from __future__ import annotations

import re
from typing import Any

from voxrelay.agents import RunContext, Step, Transition
from voxrelay.scenarios.retail_tools import is_verified

ANYTHING_ELSE = "Is there anything else I can help you with?"
IDENTITY = "your phone number, your date of birth and the last 4 digits of your card"


def _and(names: list[str]) -> str:
    """`a`, `a and b`, `a, b and c`."""
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]


def which_item(ctx: RunContext) -> str | None:
    """Read the caller's items back and ask which one goes back, and why."""
    orders: list[dict[str, Any]] = ctx.state.get("orders") or []
    names = [f"the {item['name']}" for order in orders for item in order["items"]]
    if not names:
        return f"I don't see any orders for you. {ANYTHING_ELSE}"
    return f"I can see {_and(names[:4])}. Which one would you like to return, and why?"


def return_outcome(ctx: RunContext) -> str | None:
    """The return's outcome, read back."""
    result: dict[str, Any] | None = ctx.state.get("last_return")
    if result is None:
        return None
    if not result["eligible"]:
        return (
            f"I'm sorry, the {result['item']} can't be returned: {result['why']}. {ANYTHING_ELSE}"
        )
    return (
        f"Your return for the {result['item']} is started, number {result['rma_number']}. "
        f"A prepaid label is on its way by email, and the refund follows once we receive it. "
        f"{ANYTHING_ELSE}"
    )


def deals(ctx: RunContext) -> str | None:
    """The deals found, read out, and a question."""
    items: list[dict[str, Any]] = ctx.state.get("deals") or []
    if not items:
        return "There are no deals in that category right now. Can I help you find something else?"
    offers = [f"the {i['name']} for ${i['sale_price']:g}" for i in items[:3]]
    return f"On sale right now: {_and(offers)}. Would you like one of them?"


def cart(ctx: RunContext) -> str | None:
    """The cart's content and total, and the way to check out."""
    items: list[str] = ctx.state.get("cart") or []
    if not items:
        return None
    end = (
        "Shall I place the order?"
        if is_verified(ctx)
        else f"To place the order, what are {IDENTITY}?"
    )
    return f"It's in your cart: {len(items)} item(s). {end}"


def order_placed(ctx: RunContext) -> str | None:
    """The order's number and total, read back."""
    order: dict[str, Any] | None = ctx.state.get("last_order")
    if order is None:
        return None
    return (
        f"Your order {order['order_id']} is placed, ${order['total']:g} in all; the receipt goes "
        f"to your email. {ANYTHING_ELSE}"
    )


GENERIC = frozenset({"size", "with", "pair", "from", "order", "item", "black", "blue", "pro"})
"""Words in product names that do not tell one product from another."""


def named(ctx: RunContext, names: list[str]) -> bool:
    """Whether the caller's last words name one of these products (a distinctive word)."""
    words = set(re.findall(r"[a-z]+", last_words(ctx)))
    for name in names:
        distinct = {w for w in re.findall(r"[a-z]+", name.lower()) if len(w) >= 4} - GENERIC
        if words & distinct or any(w.rstrip("s") in distinct for w in words):
            return True
    return False


def return_call(ctx: RunContext) -> str | None:
    """Start the return once the caller names one of their items; until then, talk."""
    orders: list[dict[str, Any]] = ctx.state.get("orders") or []
    names = [item["name"] for order in orders for item in order["items"]]
    return "check_eligibility_and_possibly_initiate_return" if named(ctx, names) else None


def cart_call(ctx: RunContext) -> str | None:
    """Add a deal to the cart once the caller names one; until then, talk."""
    items: list[dict[str, Any]] = ctx.state.get("deals") or []
    return "add_to_cart" if named(ctx, [i["name"] for i in items]) else None


def last_words(ctx: RunContext) -> str:
    """What the caller said last, in lower case."""
    return next((e.text for e in reversed(ctx.history) if e.role == "user"), "").lower()


def verify_call(ctx: RunContext) -> str | None:
    """Verify once the caller's words hold numbers (phone, birth date, card digits)."""
    return "authenticate_user_information" if len(re.findall(r"\d", last_words(ctx))) >= 4 else None


def has_cart(ctx: RunContext) -> bool:
    """Whether the caller has something in the cart."""
    return bool(ctx.state.get("cart"))


YES = frozenset("yes yeah yep sure ok okay please place buy checkout check go ahead".split())
"""Words of a caller agreeing to place the order."""


def buy_call(ctx: RunContext) -> str | None:
    """Checkout when a verified caller agrees; verification once an unverified one gives numbers."""
    if not is_verified(ctx):
        return verify_call(ctx)
    return "checkout" if set(re.findall(r"[a-z]+", last_words(ctx))) & YES else None


RETURN_STEPS = [
    Step(
        "verify",
        "Ask for the caller's phone number, date of birth and the last 4 digits of their card.",
        ("authenticate_user_information", "transfer_to_simulated_human"),
        (Transition("find_order", when=is_verified),),
        call=verify_call,
        say=f"Sure, I can help with that. First, what are {IDENTITY}?",
    ),
    Step(
        "find_order",
        "The caller is verified. Look up their orders.",
        ("lookup_orders",),
        (Transition("choose", after="lookup_orders"),),
        call="lookup_orders",
    ),
    Step(
        "choose",
        "Ask which item from their orders they want to return, and why.",
        (
            "check_eligibility_and_possibly_initiate_return",
            "retrieve_policy",
            "transfer_to_simulated_human",
        ),
        (Transition("done", after="check_eligibility_and_possibly_initiate_return"),),
        call=return_call,
        call_on_entry=False,
        say=which_item,
    ),
    Step(
        "done",
        "Answer the caller's questions about their return in one or two sentences.",
        ("retrieve_policy", "transfer_to_sales", "transfer_to_simulated_human"),
        say=return_outcome,
    ),
]

SALE_STEPS = [
    Step(
        "browse",
        "Find deals in what the caller wants (call lookup_new_sales), or add the item they "
        "name to the cart (call add_to_cart).",
        ("lookup_new_sales", "add_to_cart", "transfer_to_returns", "transfer_to_simulated_human"),
        (
            Transition("cart", when=has_cart),
            Transition("pick", after="lookup_new_sales"),
            Transition("cart", after="add_to_cart"),
        ),
    ),
    Step(
        "pick",
        "Help the caller pick one of the deals above.",
        ("add_to_cart", "lookup_new_sales", "transfer_to_returns"),
        (Transition("cart", after="add_to_cart"),),
        call=cart_call,
        call_on_entry=False,
        say=deals,
    ),
    Step(
        "cart",
        "The caller's cart is in the context. Help them check out.",
        ("authenticate_user_information", "checkout", "add_to_cart"),
        (
            Transition("done", after="checkout"),
            Transition("pay", after="authenticate_user_information", when=is_verified),
        ),
        call=buy_call,
        call_on_entry=False,
        say=cart,
    ),
    Step(
        "pay",
        "The caller is verified. Place the order.",
        ("checkout",),
        (Transition("done", after="checkout"),),
        call="checkout",
    ),
    Step(
        "done",
        "Answer the caller's questions about their order in one or two sentences.",
        ("lookup_new_sales", "transfer_to_returns", "transfer_to_simulated_human"),
        say=order_placed,
    ),
]
