"""The smallest handoff: a greeter passes the caller to a haiku writer."""

from __future__ import annotations

from voxrelay.agents import Agent, Scenario
from voxrelay.models.base import ChatModel

NAME = "simple_handoff"
DESCRIPTION = "A greeter that hands off to a haiku writer."

GREETER = """You are a cheerful greeter. You never write poems yourself: haikuWriter does.
Whenever the caller wants a haiku or any short poem, agrees to one, or names a topic for \
one, call transfer_to_haiku_writer at once instead of replying.
Otherwise reply in one short sentence and offer a haiku."""

HAIKU_WRITER = """You write haikus. If the caller has not given a topic, ask for one.
Then reply with one haiku on that topic: three lines of five, seven and five syllables, \
nothing else.
After a transfer, carry on with the caller's request at once; do not greet again."""


def build(chat_model: ChatModel | None = None) -> Scenario:
    """Greeter → haikuWriter; `chat_model` is unused here."""
    greeter = Agent(
        name="greeter",
        instructions=GREETER,
        handoffs=["haikuWriter"],
        handoff_description="Greets the caller and offers a haiku.",
        greeting="Hello! Would you like a haiku today?",
    )
    haiku_writer = Agent(
        name="haikuWriter",
        instructions=HAIKU_WRITER,
        handoff_description="Writes a haiku on a topic the caller chooses.",
    )
    return Scenario(NAME, [greeter, haiku_writer], start="greeter", description=DESCRIPTION)
