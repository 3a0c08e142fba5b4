"""Brightline Mobile tools the chat supervisor calls: accounts, policies, stores."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Field

from voxrelay.agents import Grounded, tool
from voxrelay.scenarios._data import PhoneNumber, digits, load_json

PolicyTopic = Literal[
    "roaming", "late_payment", "plan_change", "data", "device_return", "cancellation"
]


@tool
def getUserAccountInfo(
    phone_number: PhoneNumber,
) -> dict[str, Any]:
    """Look up the account, plan, balance and recent charges for a phone number."""
    for account in load_json("telco")["accounts"]:
        if digits(account["phone"]) == digits(phone_number):
            return dict(account)
    return {"error": "no account for that number: ask the caller to check it"}


@tool
def lookupPolicyDocument(
    topic: Annotated[PolicyTopic, "The policy area the caller asks about."],
) -> dict[str, str]:
    """Read Brightline Mobile's policy on a topic."""
    return {"topic": topic, "policy": load_json("telco")["policies"][topic]}


@tool
def findNearestStore(
    zip_code: Annotated[
        str, Grounded, "The caller's 5-digit US zip code.", Field(pattern=r"^\d{5}$")
    ],
) -> dict[str, Any]:
    """Find the Brightline stores closest to a zip code, with address and hours."""
    stores: list[dict[str, Any]] = load_json("telco")["stores"]
    ranked = sorted(stores, key=lambda s: abs(int(s["zip_code"]) - int(zip_code)))
    return {"stores": ranked[:2]}


SUPERVISOR_TOOLS = [getUserAccountInfo, lookupPolicyDocument, findNearestStore]
