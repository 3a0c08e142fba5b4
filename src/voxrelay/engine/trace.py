"""Per-turn latency trace: when each stage of a voice turn finished (I/O-free)."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Literal

Stage = Literal["transcript_final", "first_token", "first_sentence", "first_audio"]


@dataclass
class TurnTrace:
    """Timestamps (time.perf_counter seconds) of one user voice turn, up to its first audio."""

    item_id: str
    speech_stopped: float = field(default_factory=time.perf_counter)
    """When the turn was committed: the VAD's silence timer fired, or the client committed."""
    speech_end_ms: int | None = None
    """True end of speech in the input stream, in ms (server VAD only)."""
    audio_end_ms: int | None = None
    """End of the committed audio in the input stream, in ms (server VAD only)."""
    transcript_final: float | None = None
    first_token: float | None = None
    first_sentence: float | None = None
    first_audio: float | None = None

    def mark(self, stage: Stage) -> bool:
        """Record `stage` now unless already recorded; True when this call recorded it."""
        if getattr(self, stage) is not None:
            return False
        setattr(self, stage, time.perf_counter())
        return True

    @property
    def endpoint_ms(self) -> float | None:
        """The endpointing silence: from the true end of speech to the commit, in stream ms."""
        if self.speech_end_ms is None or self.audio_end_ms is None:
            return None
        return float(self.audio_end_ms - self.speech_end_ms)

    @property
    def complete(self) -> bool:
        """True once the first audio went out."""
        return self.first_audio is not None

    def stages_ms(self) -> dict[str, float]:
        """Each stage's own duration and the end-to-end totals, in milliseconds."""
        points = [
            ("stt", self.speech_stopped, self.transcript_final),
            ("llm_first_token", self.transcript_final, self.first_token),
            ("first_sentence", self.first_token, self.first_sentence),
            ("tts_first_audio", self.first_sentence, self.first_audio),
            ("stop_to_first_audio", self.speech_stopped, self.first_audio),
        ]
        out = {
            name: (end - start) * 1000
            for name, start, end in points
            if start is not None and end is not None
        }
        endpoint = self.endpoint_ms
        if endpoint is not None:
            out["endpoint"] = endpoint
            if "stop_to_first_audio" in out:
                out["speech_end_to_first_audio"] = out["stop_to_first_audio"] + endpoint
        return out
