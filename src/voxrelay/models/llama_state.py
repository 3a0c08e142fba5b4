"""Saving and restoring one llama.cpp sequence's KV cache, without the logits matrix.

`Llama.save_state` copies every row of the scores matrix (n_batch x vocabulary floats, about
300 MB for Qwen2.5) on each save and load. A warm prefix needs only the tokens and their KV
cells, which for an 800-token prompt on the 0.5B model is about 10 MB.
"""

from __future__ import annotations

import ctypes
from dataclasses import dataclass
from typing import Any

import numpy as np

SEQ = 0


@dataclass(frozen=True)
class SavedPrefix:
    """The tokens a KV cache held and the bytes of that cache."""

    tokens: Any
    """numpy int array of the evaluated tokens."""
    data: bytes


def save(llm: Any) -> SavedPrefix:
    """Copy the live sequence's tokens and KV cells."""
    import llama_cpp

    size = llama_cpp.llama_state_seq_get_size(llm.ctx, SEQ)
    buffer = (ctypes.c_uint8 * size)()
    written = llama_cpp.llama_state_seq_get_data(llm.ctx, buffer, size, SEQ)
    tokens = np.array(llm.input_ids[: llm.n_tokens], dtype=np.intc)
    return SavedPrefix(tokens, bytes(memoryview(buffer)[:written]))


def restore(llm: Any, saved: SavedPrefix) -> None:
    """Replace the live sequence with a saved one; the next decode refreshes the logits."""
    import llama_cpp

    llm._ctx.kv_cache_clear()
    buffer = (ctypes.c_uint8 * len(saved.data)).from_buffer_copy(saved.data)
    if not llama_cpp.llama_state_seq_set_data(llm.ctx, buffer, len(saved.data), SEQ):
        llm.n_tokens = 0  # the cache is empty now; the next request evaluates from scratch
        return
    n = len(saved.tokens)
    llm.input_ids[:n] = saved.tokens
    llm.n_tokens = n
    llm._requires_eval = True


def common_prefix(a: Any, b: Any) -> int:
    """Length of the shared start of two token sequences."""
    n = min(len(a), len(b))
    if n == 0:
        return 0
    differ = np.asarray(a[:n]) != np.asarray(b[:n])
    return int(differ.argmax()) if differ.any() else n
