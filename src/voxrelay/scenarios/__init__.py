"""Ready-made scenarios, looked up by name: `load_scenario("customer_service_retail")`."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from voxrelay.agents import Scenario
from voxrelay.errors import ConfigError
from voxrelay.models.base import ChatModel
from voxrelay.scenarios import chat_supervisor, customer_service_retail, simple_handoff

ScenarioFactory = Callable[[ChatModel | None], Scenario]


@dataclass(frozen=True)
class ScenarioInfo:
    """A registered scenario: its name, a one-line description and how to build it."""

    name: str
    description: str
    factory: ScenarioFactory
    """Builds fresh agents; takes the chat model that helper models (a supervisor) use."""


SCENARIOS: dict[str, ScenarioInfo] = {
    m.NAME: ScenarioInfo(m.NAME, m.DESCRIPTION, m.build)
    for m in (customer_service_retail, simple_handoff, chat_supervisor)
}


def scenario_names() -> list[str]:
    """Registered scenario names, default first."""
    return list(SCENARIOS)


def load_scenario(name: str, chat_model: ChatModel | None = None) -> Scenario:
    """Build a scenario by name; `chat_model` drives the chat supervisor's supervisor."""
    info = SCENARIOS.get(name)
    if info is None:
        valid = ", ".join(scenario_names())
        raise ConfigError(f"unknown scenario {name!r}; valid scenarios: {valid}")
    return info.factory(chat_model)


__all__ = ["SCENARIOS", "ScenarioInfo", "load_scenario", "scenario_names"]
