"""Snowy Peak Boards tools: identity check, orders and returns, catalogue and cart."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from functools import cache
from typing import Annotated, Any, Literal

from pydantic import Field

from voxrelay.agents import Grounded, RunContext, tool
from voxrelay.scenarios._data import PhoneNumber, digits, load_json

DateOfBirth = Annotated[
    str, Grounded, "Date of birth as YYYY-MM-DD.", Field(pattern=r"^\d{4}-\d{2}-\d{2}$")
]
Last4 = Annotated[str, Grounded, "Last 4 digits of the card on file.", Field(pattern=r"^\d{4}$")]
ReturnReason = Literal[
    "defective", "damaged_in_shipping", "wrong_size", "not_as_described", "changed_mind"
]
PolicyTopic = Literal["returns", "exchanges", "defects", "final_sale", "refunds", "shipping"]
SaleCategory = Literal["snowboards", "bindings", "boots", "apparel", "accessories", "all"]

NOT_VERIFIED = (
    "caller not verified yet: ask for phone, date of birth and last 4 digits, "
    "then call authenticate_user_information"
)
DEFECT_REASONS = frozenset({"defective", "damaged_in_shipping"})


@dataclass(frozen=True)
class Customer:
    """A Snowy Peak Boards customer and the details that verify them."""

    customer_id: str
    name: str
    phone: str
    date_of_birth: str
    last_4_digits: str
    email: str
    loyalty_tier: str


@dataclass(frozen=True)
class OrderItem:
    """One line of a past order."""

    item_id: str
    name: str
    price: float
    final_sale: bool = False


@dataclass(frozen=True)
class Order:
    """A past order; its date is kept relative to today so the samples never go stale."""

    order_id: str
    customer_id: str
    placed_days_ago: int
    status: str
    items: tuple[OrderItem, ...]

    def summary(self, today: date) -> dict[str, Any]:
        """The order as a tool result."""
        placed = today - timedelta(days=self.placed_days_ago)
        return {
            "order_id": self.order_id,
            "order_date": placed.isoformat(),
            "status": self.status,
            "items": [
                {"item_id": i.item_id, "name": i.name, "price": i.price, "final_sale": i.final_sale}
                for i in self.items
            ],
        }


@dataclass(frozen=True)
class Product:
    """A catalogue entry; `sale_price` is set while the item is on sale."""

    item_id: str
    name: str
    category: str
    price: float
    sale_price: float | None = None

    @property
    def current_price(self) -> float:
        """What the caller pays today."""
        return self.sale_price if self.sale_price is not None else self.price


@dataclass(frozen=True)
class RetailData:
    """All Snowy Peak Boards sample data."""

    customers: tuple[Customer, ...]
    orders: tuple[Order, ...]
    catalogue: dict[str, Product]
    return_window_days: int
    warranty_days: int
    policy_topics: dict[str, str]


@cache
def retail_data() -> RetailData:
    """Parse `data/retail.json` once."""
    raw = load_json("retail")
    orders = tuple(
        Order(**{**o, "items": tuple(OrderItem(**i) for i in o["items"])}) for o in raw["orders"]
    )
    policy = raw["policy"]
    return RetailData(
        customers=tuple(Customer(**c) for c in raw["customers"]),
        orders=orders,
        catalogue={p["item_id"]: Product(**p) for p in raw["catalogue"]},
        return_window_days=policy["return_window_days"],
        warranty_days=policy["warranty_days"],
        policy_topics=policy["topics"],
    )


def find_customer(phone: str, date_of_birth: str, last_4: str) -> Customer | None:
    """The customer matching all three details, if any."""
    for c in retail_data().customers:
        if (digits(c.phone), c.date_of_birth, c.last_4_digits) == (
            digits(phone),
            date_of_birth,
            last_4,
        ):
            return c
    return None


def verified_customer(ctx: RunContext) -> Customer | None:
    """The caller verified earlier in this session, if any."""
    record = ctx.state.get("customer")
    if not record:
        return None
    by_id = {c.customer_id: c for c in retail_data().customers}
    return by_id.get(record["customer_id"])


def is_verified(ctx: RunContext) -> bool:
    """Whether the caller was verified in this session."""
    return verified_customer(ctx) is not None


def caller_context(ctx: RunContext) -> str | None:
    """The agents' live context: who the caller is, once verified, and their cart."""
    customer = verified_customer(ctx)
    facts = (
        [f"The caller is verified: {customer.name}, phone {customer.phone}."] if customer else []
    )
    if cart := ctx.state.get("cart"):
        facts.append(f"Cart: {', '.join(cart)} (total ${_total(cart)}).")
    return " ".join(facts) or None


def return_decision(item: OrderItem, days_since: int, reason: str) -> tuple[bool, str]:
    """Apply the return policy to one item: (eligible, why)."""
    data = retail_data()
    if reason in DEFECT_REASONS:
        if days_since <= data.warranty_days:
            return True, f"defects are covered for {data.warranty_days} days"
        return False, f"the {data.warranty_days}-day defect warranty has ended"
    if item.final_sale:
        return False, "final-sale items can only be returned for a defect"
    if days_since <= data.return_window_days:
        return True, f"within the {data.return_window_days}-day return window"
    return False, f"bought {days_since} days ago, past the {data.return_window_days}-day window"


@tool
def authenticate_user_information(
    ctx: RunContext, phone_number: PhoneNumber, date_of_birth: DateOfBirth, last_4_digits: Last4
) -> dict[str, Any]:
    """Verify the caller's identity from phone number, date of birth and last 4 card digits."""
    customer = find_customer(phone_number, date_of_birth, last_4_digits)
    if customer is None:
        failures = ctx.state["auth_failures"] = ctx.state.get("auth_failures", 0) + 1
        hint = "offer a transfer to a human" if failures >= 3 else "ask the caller to repeat them"
        return {"verified": False, "message": f"No customer matches these details: {hint}."}
    ctx.state["customer"] = {
        "customer_id": customer.customer_id,
        "name": customer.name,
        "phone": customer.phone,
    }
    return {"verified": True, "name": customer.name, "loyalty_tier": customer.loyalty_tier}


@tool
def lookup_orders(ctx: RunContext, phone_number: PhoneNumber) -> dict[str, Any]:
    """List the verified caller's past orders with dates, items and prices."""
    customer = verified_customer(ctx)
    if customer is None:
        return {"error": NOT_VERIFIED}
    if digits(phone_number) != digits(customer.phone):
        return {"error": "that phone number is not the verified caller's number"}
    today = date.today()
    orders = [
        o.summary(today) for o in retail_data().orders if o.customer_id == customer.customer_id
    ]
    ctx.state["orders"] = orders
    return {"customer": customer.name, "orders": orders}


@tool
def check_eligibility_and_possibly_initiate_return(
    ctx: RunContext,
    order_id: Annotated[str, Grounded, "The order id, e.g. SPB-20431."],
    item_id: Annotated[str, Grounded, "The item id within that order, e.g. SB-158-SUMMIT."],
    reason: Annotated[
        ReturnReason,
        "Why the caller wants to return it: defective (broken, faulty), damaged_in_shipping, "
        "wrong_size, not_as_described, or changed_mind (it does not suit them or is no "
        "longer wanted, e.g. too stiff).",
    ],
) -> dict[str, Any]:
    """Check whether an item may be returned and, if it may, start the return."""
    customer = verified_customer(ctx)
    if customer is None:
        return {"error": NOT_VERIFIED}
    order = next((o for o in retail_data().orders if o.order_id == order_id.upper()), None)
    if order is None or order.customer_id != customer.customer_id:
        return {"error": f"no order {order_id!r} for this caller: call lookup_orders first"}
    item = next((i for i in order.items if i.item_id == item_id.upper()), None)
    if item is None:
        valid = ", ".join(i.item_id for i in order.items)
        return {"error": f"item {item_id!r} is not in {order.order_id}; items: {valid}"}
    return _start_return(ctx, customer, order, item, reason)


def _start_return(
    ctx: RunContext, customer: Customer, order: Order, item: OrderItem, reason: str
) -> dict[str, Any]:
    """Record an eligible return in the session state and describe the next steps."""
    returns: dict[str, str] = ctx.state.setdefault("returns", {})
    key = f"{order.order_id}/{item.item_id}"
    if key in returns:
        started = {"rma_number": returns[key], "message": "a return was already started"}
        return {"eligible": True, "return_initiated": True, **started}
    eligible, why = return_decision(item, order.placed_days_ago, reason)
    if not eligible:
        ctx.state["last_return"] = {"item": item.name, "eligible": False, "why": why}
        return {"eligible": False, "return_initiated": False, "why": why}
    rma = f"RMA-{order.order_id.removeprefix('SPB-')}-{len(returns) + 1}"
    returns[key] = rma
    ctx.state["last_return"] = {"item": item.name, "eligible": True, "rma_number": rma}
    return {
        "eligible": True,
        "return_initiated": True,
        "why": why,
        "rma_number": rma,
        "refund_amount": item.price,
        "next_steps": f"A prepaid return label was emailed to {customer.email}; the refund "
        "arrives 5-7 business days after we receive the item.",
    }


@tool
def retrieve_policy(topic: Annotated[PolicyTopic, "The policy area the caller asks about."]) -> str:
    """Read Snowy Peak Boards' policy on returns, exchanges, defects, refunds or shipping."""
    return retail_data().policy_topics[topic]


@tool
def lookup_new_sales(
    ctx: RunContext,
    category: Annotated[SaleCategory, "Product category, or all."],
) -> dict[str, Any]:
    """List items currently on sale, with ids and prices."""
    items = [
        {"item_id": p.item_id, "name": p.name, "price": p.price, "sale_price": p.sale_price}
        for p in retail_data().catalogue.values()
        if p.sale_price is not None and category in ("all", p.category)
    ]
    ctx.state["deals"] = items
    if not items:
        return {"category": category, "items": [], "message": "no sales in this category now"}
    return {"category": category, "items": items}


def _unknown_items(item_ids: list[str]) -> list[str]:
    """The ids in `item_ids` that are not in the catalogue."""
    return [i for i in item_ids if i.upper() not in retail_data().catalogue]


@tool
def add_to_cart(
    ctx: RunContext, item_id: Annotated[str, "Catalogue item id, e.g. SB-152-POWDER."]
) -> dict[str, Any]:
    """Add one catalogue item to the caller's cart."""
    if _unknown_items([item_id]):
        return {"error": f"unknown item_id {item_id!r}: call lookup_new_sales for ids"}
    product = retail_data().catalogue[item_id.upper()]
    cart: list[str] = ctx.state.setdefault("cart", [])
    cart.append(product.item_id)
    return {"added": product.name, "cart": list(cart), "cart_total": _total(cart)}


def _total(item_ids: list[str]) -> float:
    """Sum of today's prices for the given catalogue ids."""
    catalogue = retail_data().catalogue
    return round(sum(catalogue[i.upper()].current_price for i in item_ids), 2)


@tool
def checkout(
    ctx: RunContext,
    item_ids: Annotated[list[str], "Catalogue item ids to buy."],
    phone_number: PhoneNumber,
) -> dict[str, Any]:
    """Place an order for the given items for the verified caller."""
    customer = verified_customer(ctx)
    if customer is None:
        return {"error": NOT_VERIFIED}
    if digits(phone_number) != digits(customer.phone):
        return {"error": "that phone number is not the verified caller's number"}
    unknown = _unknown_items(item_ids)
    if not item_ids or unknown:
        return {"error": f"nothing to buy or unknown item ids: {unknown}"}
    placed: list[str] = ctx.state.setdefault("orders_placed", [])
    order_id = f"SPB-{30001 + len(placed)}"
    placed.append(order_id)
    cart: list[str] = ctx.state.get("cart", [])
    bought = [i.upper() for i in item_ids]
    ctx.state["cart"] = [i for i in cart if i not in bought]
    placed_order = {"order_id": order_id, "total": _total(bought), "email": customer.email}
    ctx.state["last_order"] = placed_order
    return {"order_id": order_id, "items": bought, "total": _total(bought), "email": customer.email}
