"""Whisper decoding on a short encoder window: the utterance plus silence, not a padded 30 s.

faster-whisper always pads audio to 30 s, so the encoder costs the same for a 2 s turn as for
30 s of speech. CTranslate2's encoder accepts shorter inputs, so for a short turn we pad with
real silence to `pad_s` past the end, decode greedily, and fall back to the full window when
the result looks like a repetition loop (the known failure of a tight window).
"""

from __future__ import annotations

import itertools
import math
import re
from typing import Any

import numpy as np
import numpy.typing as npt

from voxrelay.speech.base import Segment

RATE = 16000
HOP = 160
"""Samples per mel frame (10 ms)."""
MAX_WINDOW_S = 30
MIN_WINDOW_S = 8
"""Shorter windows make Whisper base loop on one-word turns ("Hello. Hello. Hello.")."""
TOKENS_PER_S = 12
"""Cap on generated tokens per second of audio (speech needs about 5)."""


def window_frames(samples: int, pad_s: float, min_s: int = MIN_WINDOW_S) -> int:
    """Mel frames of the encoder window: audio plus padding in whole seconds, in [min_s, 30]."""
    seconds = max(math.ceil(samples / RATE + pad_s), min_s)
    return min(seconds, MAX_WINDOW_S) * RATE // HOP


def decode_window(
    model: Any, audio: npt.NDArray[np.float32], language: str, frames: int, prompt: str = ""
) -> tuple[Segment, ...]:
    """Greedy-decode `audio` (16 kHz float) with an encoder window of `frames` mel frames."""
    import ctranslate2
    from faster_whisper.tokenizer import Tokenizer

    tok = Tokenizer(model.hf_tokenizer, model.model.is_multilingual, "transcribe", language)
    padded = np.pad(audio, (0, max(frames * HOP - len(audio), 0)))
    mel = model.feature_extractor(padded)[:, :frames]
    features = ctranslate2.StorageView.from_array(np.ascontiguousarray(mel[None], np.float32))
    start = [*_prompt_tokens(tok, prompt), *tok.sot_sequence]
    result = model.model.generate(
        features,
        [start],
        beam_size=1,
        max_length=min(448, len(start) + 16 + int(len(audio) / RATE * TOKENS_PER_S)),
        suppress_blank=True,
        suppress_tokens=[-1],
        max_initial_timestamp_index=50,
    )
    return segments_from_tokens(result[0].sequences_ids[0], tok, len(audio) / RATE)


def _prompt_tokens(tok: Any, prompt: str) -> list[int]:
    if not prompt:
        return []
    ids: list[int] = tok.encode(" " + prompt.strip())
    return [tok.sot_prev, *ids[-200:]]


def segments_from_tokens(ids: list[int], tok: Any, duration: float) -> tuple[Segment, ...]:
    """Split generated ids at timestamp tokens into timed segments."""
    segments: list[Segment] = []
    text: list[int] = []
    begin: float | None = None
    for i in ids:
        if i < tok.timestamp_begin:
            text.append(i)
            continue
        t = (i - tok.timestamp_begin) * 0.02
        if begin is None:
            begin = t
            continue
        segments.append(Segment(begin, min(t, duration), tok.decode(text).strip()))
        text, begin = [], None
    if text:
        segments.append(Segment(begin or 0.0, duration, tok.decode(text).strip()))
    # A segment that starts after the audio ends is the model re-reading the padding.
    return tuple(s for s in segments if s.text and s.start_s < duration)


def looks_looped(segments: tuple[Segment, ...], duration: float) -> bool:
    """True for signs of a decoding loop: too many words, a repeated stretch or sentence."""
    words = " ".join(s.text for s in segments).lower().split()
    if len(words) > 6 * max(duration, 1.0):
        return True
    n = 6
    grams = [tuple(words[i : i + n]) for i in range(len(words) - n + 1)]
    if len(grams) != len(set(grams)):
        return True
    sentences = [x.strip() for x in re.split(r"[.!?]+", " ".join(words)) if x.strip()]
    return any(a == b for a, b in itertools.pairwise(sentences))
