"""The local realtime engine (server side of the Realtime protocol)."""

from voxrelay.engine.conversation import Conversation, to_messages
from voxrelay.engine.core import EngineCore
from voxrelay.engine.engine import Engine
from voxrelay.realtime.rules import default_session, merge_session

__all__ = [
    "Conversation",
    "Engine",
    "EngineCore",
    "default_session",
    "merge_session",
    "to_messages",
]
