"""Sample data for the scenarios, shipped as JSON package data."""

from __future__ import annotations

import json
import re
from functools import cache
from importlib.resources import files
from typing import Annotated, Any

from pydantic import Field

from voxrelay.agents import Grounded

PhoneNumber = Annotated[
    str,
    Grounded,
    "The caller's phone number as (xxx) xxx-xxxx.",
    Field(pattern=r"^\(\d{3}\) \d{3}-\d{4}$"),
]
"""A US phone number in the one format the sample data and the tools share."""


@cache
def load_json(name: str) -> dict[str, Any]:
    """Load `data/<name>.json` from the package (cached; treat the result as read-only)."""
    text = files("voxrelay.scenarios").joinpath("data", f"{name}.json").read_text("utf-8")
    data: dict[str, Any] = json.loads(text)
    return data


def digits(phone: str) -> str:
    """The last ten digits of a phone number, so `(206) 555-0142` matches `2065550142`."""
    return re.sub(r"\D", "", phone)[-10:]
