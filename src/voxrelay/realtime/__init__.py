"""The OpenAI Realtime protocol: typed events, the RealtimeModel interface, the beta codec."""

from voxrelay.realtime import events, types
from voxrelay.realtime.events import ClientEvent, ServerEvent, parse_client_event
from voxrelay.realtime.model import InProcessRealtime, RealtimeModel

__all__ = [
    "ClientEvent",
    "InProcessRealtime",
    "RealtimeModel",
    "ServerEvent",
    "events",
    "parse_client_event",
    "types",
]
