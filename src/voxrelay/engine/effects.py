"""What the engine's protocol core asks its driver to do (I/O-free data)."""

from __future__ import annotations

from dataclasses import dataclass

from voxrelay.engine.response import ResponseState
from voxrelay.engine.trace import TurnTrace
from voxrelay.models.base import Message, ToolSpec
from voxrelay.realtime import events as ev
from voxrelay.realtime.types import ResponseParams


@dataclass(frozen=True)
class StartResponse:
    """Run this response now (the core counts it active until `response_finished`)."""

    state: ResponseState
    params: ResponseParams
    trace: TurnTrace | None = None
    """The voice turn it answers, for its latency trace."""
    after_transcripts: bool = False
    """Wait for the pending transcriptions first, then re-read the conversation."""


@dataclass(frozen=True)
class CancelResponse:
    """Cancel the active response."""

    response_id: str
    """The response the core meant (the driver ignores the request if another one runs)."""
    reason: str
    wait: bool = False
    """Hold the client event until the response has ended (a truncate of its own item)."""


@dataclass(frozen=True)
class Transcribe:
    """Transcribe a committed user turn, after the ones before it, then report back."""

    item_id: str
    audio: bytes
    """PCM16 mono at `STT_RATE`."""
    language: str | None = None


@dataclass(frozen=True)
class Warm:
    """The session's prompt changed: let a model that can, evaluate it ahead of time."""

    messages: list[Message]
    tools: list[ToolSpec]


@dataclass(frozen=True)
class TraceDone:
    """A voice turn's latency trace is complete: tell the trace listeners."""

    trace: TurnTrace


Effect = StartResponse | CancelResponse | Transcribe | Warm | TraceDone
Output = ev.ServerEvent | Effect
"""One thing the core produced: an event to send, or an effect to carry out, in order."""
