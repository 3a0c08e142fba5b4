"""The agent runtime over a RealtimeModel, and its app events."""

from voxrelay.session import events
from voxrelay.session.session import HandoffRecord, Session

__all__ = ["HandoffRecord", "Session", "events"]
