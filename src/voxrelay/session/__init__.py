"""The agent runtime over a RealtimeModel, and its app events."""

from voxrelay.session import events
from voxrelay.session.handoffs import HandoffRecord
from voxrelay.session.playback import PlaybackQueue, PlaybackTracker
from voxrelay.session.session import Session
from voxrelay.session.voice import VoiceOptions

__all__ = [
    "HandoffRecord",
    "PlaybackQueue",
    "PlaybackTracker",
    "Session",
    "VoiceOptions",
    "events",
]
