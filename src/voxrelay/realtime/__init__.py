"""The OpenAI Realtime protocol: typed events, the RealtimeModel interface, the beta codec."""

from voxrelay.realtime import events, types
from voxrelay.realtime.events import ClientEvent, ServerEvent, parse_client_event
from voxrelay.realtime.model import InProcessRealtime, RealtimeModel
from voxrelay.realtime.websocket import WebSocketRealtime

__all__ = [
    "ClientEvent",
    "InProcessRealtime",
    "RealtimeModel",
    "ServerEvent",
    "WebSocketRealtime",
    "events",
    "parse_client_event",
    "types",
]
