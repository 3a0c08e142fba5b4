"""The local default ChatModel: Qwen2.5 GGUF on llama.cpp, tool calls by constrained decoding.

Generation runs in two phases on one llama.cpp context:
1. free text, streamed token by token; if the first token is Qwen's `<tool_call>` token,
2. the call is decoded again under a JSON-schema grammar admitting exactly one call of one
   offered tool with schema-valid arguments.
The shared prompt prefix stays in the KV cache, so phase 2 costs only a few tokens of prefill.
"""

from __future__ import annotations

import asyncio
import codecs
import json
import threading
from collections import OrderedDict
from collections.abc import AsyncIterator, Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from voxrelay.config import Settings, get_settings
from voxrelay.errors import ContextOverflow, ModelError
from voxrelay.models import cache, llama_state
from voxrelay.models.base import (
    CONTEXT_HEADING,
    Message,
    ModelSettings,
    StreamItem,
    TextDelta,
    ToolCall,
    ToolChoice,
    ToolSpec,
    Usage,
)
from voxrelay.models.budget import fit_history
from voxrelay.models.chatml import (
    IM_START,
    TOOL_CALL_OPEN,
    complete_json,
    format_prompt,
    parse_tool_call,
    tool_call_schema,
)
from voxrelay.models.grammar import schema_to_gbnf

MAX_TEXT_TOKENS = 512
MAX_SAVED_STATES = 8
MAX_CALL_TOKENS = 256
WARM_CHUNK = 64
"""Tokens per step of a background warm-up (~0.4 s on the 0.5B, ~1 s on the 1.5B)."""
CALL_OVERHEAD = 8
"""Tokens a call adds before its arguments (`<tool_call>`, a newline) plus a margin."""
_DONE = object()


class LlamaChatModel:
    """A ChatModel on a local GGUF file via llama-cpp-python."""

    def __init__(
        self,
        model_path: Path,
        *,
        n_ctx: int = 4096,
        n_threads: int = 2,
        call_threshold: float = 0.5,
    ) -> None:
        try:
            from llama_cpp import Llama
        except ImportError as exc:
            raise ModelError("llama-cpp-python is not installed: run `make setup`") from exc
        self.path = model_path
        self.n_ctx = n_ctx
        """The context window in tokens: prompt and reply must fit in it."""
        self.call_threshold = call_threshold
        """Probability of call syntax as the first token at which a reply becomes a call."""
        self._llm = Llama(
            model_path=str(model_path), n_ctx=n_ctx, n_threads=n_threads, verbose=False
        )
        self._tool_call_token = self._llm.tokenize(
            TOOL_CALL_OPEN.encode(), add_bos=False, special=True
        )
        self._im_end = self._llm.tokenize(b"<|im_end|>", add_bos=False, special=True)[0]
        self._stop = {self._llm.token_eos(), self._im_end}
        self._user_opener: list[int] = self._llm.tokenize(
            f"\n{IM_START}user\n".encode(), add_bos=False, special=True
        )
        self._states: OrderedDict[int, llama_state.SavedPrefix] = OrderedDict()
        """Saved KV states, one per agent (instructions and tools): warm per-agent prefixes."""
        self._grammars: dict[str, Any] = {}
        self._openers: list[int] | None = None
        self._bans: tuple[list[int], list[int]] | None = None
        self._lock = asyncio.Lock()

    @classmethod
    def from_settings(cls, settings: Settings | None = None) -> LlamaChatModel:
        """Load the model the settings name; ModelNotFoundError says how to prepare it."""
        s = settings or get_settings()
        path = cache.require(s.llm, s.model_dir)
        threshold = s.llm_call_threshold
        if threshold is None:
            threshold = cache.spec(s.llm).call_threshold
        return cls(path, n_ctx=s.llm_context, n_threads=s.llm_threads, call_threshold=threshold)

    async def stream(
        self,
        messages: Sequence[Message],
        tools: Sequence[ToolSpec] = (),
        tool_choice: ToolChoice = "auto",
        settings: ModelSettings | None = None,
    ) -> AsyncIterator[StreamItem]:
        """Stream text, or one tool call, then usage."""
        offered = _offered(tools, tool_choice)
        max_tokens = (settings.max_tokens if settings else None) or MAX_TEXT_TOKENS
        prompt = self.prompt_tokens(messages, tools, max_tokens)
        max_tokens = min(max_tokens, self.n_ctx - len(prompt) - CALL_OVERHEAD)
        key = agent_key(messages, tools)
        async with self._lock:
            cancel = threading.Event()
            loop = asyncio.get_running_loop()
            queue: asyncio.Queue[Any] = asyncio.Queue()

            def worker() -> None:
                try:
                    for item in self._generate(
                        prompt, key, offered, tool_choice, max_tokens, cancel
                    ):
                        loop.call_soon_threadsafe(queue.put_nowait, item)
                except Exception as exc:
                    loop.call_soon_threadsafe(queue.put_nowait, exc)
                finally:
                    loop.call_soon_threadsafe(queue.put_nowait, _DONE)

            thread = asyncio.ensure_future(asyncio.to_thread(worker))
            try:
                while (item := await queue.get()) is not _DONE:
                    if isinstance(item, Exception):
                        raise item
                    yield item
            finally:
                cancel.set()  # the worker stops at its next token; keep the lock until it has
                await asyncio.wait([thread])

    def prompt_tokens(
        self, messages: Sequence[Message], tools: Sequence[ToolSpec], max_tokens: int
    ) -> list[int]:
        """The prompt, its oldest turns dropped so that it and the reply fit in the context.

        ContextOverflow when even the system prompt and the last turn leave no room to reply.
        """
        memo: dict[str, list[int]] = {}

        def tokens(kept: Sequence[Message]) -> list[int]:
            text = format_prompt(kept, tools)
            if text not in memo:
                memo[text] = self._llm.tokenize(text.encode(), add_bos=False, special=True)
            return memo[text]

        reply = max(max_tokens, MAX_CALL_TOKENS) + CALL_OVERHEAD
        kept = fit_history(messages, self.n_ctx - reply, lambda m: len(tokens(m)))
        prompt = tokens(kept)
        if len(prompt) + CALL_OVERHEAD * 4 > self.n_ctx:
            raise ContextOverflow(
                f"the prompt needs {len(prompt)} tokens even with old turns dropped; the "
                f"context holds {self.n_ctx} (raise VOXRELAY_LLM_CONTEXT or shorten the "
                "instructions)"
            )
        return prompt

    async def reset(self) -> None:
        """Forget the KV cache and saved prompt states (the next request starts cold)."""
        async with self._lock:
            self._llm.reset()  # type: ignore[no-untyped-call, unused-ignore]
            self._states.clear()

    async def warm(
        self,
        messages: Sequence[Message],
        tools: Sequence[ToolSpec] = (),
        *,
        background: bool = False,
    ) -> None:
        """Evaluate the system prompt now, so the next response starts from a cached prefix.

        In the background it is evaluated WARM_CHUNK tokens at a time, releasing the model
        between chunks, so a response that arrives meanwhile waits for one chunk at most.
        """
        prompt = self._llm.tokenize(
            format_prompt(messages, tools).encode(), add_bos=False, special=True
        )
        system = self._warm_part(prompt)
        key = agent_key(messages, tools)
        step = WARM_CHUNK if background else max(1, len(system))
        for end in [*range(step, len(system), step), len(system)]:
            async with self._lock:
                work = asyncio.ensure_future(asyncio.to_thread(self._prefill, system[:end], key))
                try:
                    await asyncio.shield(work)
                finally:
                    await asyncio.wait([work])  # never release the lock while llama.cpp is busy

    # ---- runs in a worker thread -----------------------------------------------------------

    def _prefill(self, tokens: list[int], key: int) -> None:
        self._speech_bans()  # one-time vocabulary scans (~1 s), kept off the first reply
        self._prime(tokens)
        if self._shared_prefix(tokens) < len(tokens):
            for _ in self._llm.generate(tokens, temp=0.0, top_k=1):
                break
        self._remember(key)

    def _warm_part(self, prompt: list[int]) -> list[int]:
        """The system turn and the opening of the user turn that follows it in most prompts."""
        end = prompt.index(self._im_end) + 1 if self._im_end in prompt else len(prompt)
        return prompt[:end] + self._user_opener

    def _shared_prefix(self, prompt: list[int]) -> int:
        """Tokens the live KV cache already holds for this prompt."""
        return llama_state.common_prefix(self._llm.input_ids[: self._llm.n_tokens], prompt)

    def _prime(self, prompt: list[int]) -> None:
        """Restore the saved state that shares the most of this prompt, if it beats the live one.

        A handoff switches system prompts; restoring the new agent's saved KV state means
        only the conversation tail is evaluated, not the whole instructions-and-tools prefix.
        """
        best, best_len = None, self._shared_prefix(prompt)
        for key, state in self._states.items():
            shared = llama_state.common_prefix(state.tokens, prompt)
            if shared > best_len:
                best, best_len = key, shared
        if best is not None:
            llama_state.restore(self._llm, self._states[best])
            self._states.move_to_end(best)

    def _remember(self, key: int) -> None:
        """Save the live state in its agent's slot (one per agent, most recent first)."""
        self._states[key] = llama_state.save(self._llm)
        self._states.move_to_end(key)
        while len(self._states) > MAX_SAVED_STATES:
            self._states.popitem(last=False)

    def _generate(
        self,
        prompt: list[int],
        key: int,
        offered: list[ToolSpec],
        tool_choice: ToolChoice,
        max_tokens: int,
        cancel: threading.Event,
    ) -> Iterator[StreamItem]:
        self._prime(prompt)
        failed = False
        try:
            yield from self._generate_primed(prompt, offered, tool_choice, max_tokens, cancel)
        except RuntimeError as exc:  # llama.cpp's decode failed: its cache is not to be kept
            failed = True
            self._llm.reset()  # type: ignore[no-untyped-call]
            raise _translate(exc) from exc
        finally:
            if not failed:
                self._remember(key)

    def _generate_primed(
        self,
        prompt: list[int],
        offered: list[ToolSpec],
        tool_choice: ToolChoice,
        max_tokens: int,
        cancel: threading.Event,
    ) -> Iterator[StreamItem]:
        produced = 0
        forced = bool(offered) and tool_choice not in ("auto", "none")
        if not forced:
            allow_call = bool(offered) and tool_choice != "none"
            decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
            steer = self._lean_to_calls() if allow_call else self._ban_call_openers()
            tokens = self._tokens(prompt, None, max_tokens, cancel, steer)
            for n, token in enumerate(tokens):
                produced += 1
                text = decoder.decode(self._llm.detokenize([token]))
                if n == 0 and allow_call and self._starts_call(token, text):
                    break
                if text:
                    yield TextDelta(text)
            else:
                yield Usage(len(prompt), produced)
                return
        newline = self._llm.tokenize(b"\n", add_bos=False, special=True)
        yield self._decode_call(prompt + self._tool_call_token + newline, offered, cancel)
        yield Usage(len(prompt), produced)

    def _starts_call(self, token: int, text: str) -> bool:
        """Small models open a call with `<tool_call>`, bare JSON, or markup such as `<tools>`."""
        return [token] == self._tool_call_token or opens_call(text.encode())

    def _decode_call(
        self, prompt: list[int], offered: list[ToolSpec], cancel: threading.Event
    ) -> ToolCall:
        grammar = self._grammar(offered)
        raw = bytearray()
        for token in self._tokens(prompt, grammar, MAX_CALL_TOKENS, cancel, None):
            raw += self._llm.detokenize([token])
            if raw.rstrip().endswith(b"}") and complete_json(bytes(raw)):
                break
        return parse_tool_call(bytes(raw), offered)

    def _tokens(
        self, prompt: list[int], grammar: Any, limit: int, cancel: threading.Event, processors: Any
    ) -> Iterator[int]:
        count = 0
        for token in self._llm.generate(
            prompt, temp=0.0, top_k=1, grammar=grammar, logits_processor=processors
        ):
            if token in self._stop or cancel.is_set():
                return
            yield token
            count += 1
            if count >= limit:
                return

    def _ban_call_openers(self) -> Any:
        """For `tool_choice=none`: no call syntax anywhere, and no empty reply."""
        from llama_cpp import LogitsProcessorList

        anywhere, first = self._speech_bans()
        seen = [0]

        def ban(_ids: Any, scores: Any) -> Any:
            scores[first if seen[0] == 0 else anywhere] = -float("inf")
            seen[0] += 1
            return scores

        return LogitsProcessorList([ban])

    def _lean_to_calls(self) -> Any:
        """For `tool_choice=auto`: call when call syntax is likely enough, not only likeliest.

        Small models often rank a short reply just above the call they should make; the
        threshold (tuned on `voxrelay eval`) moves that boundary for every agent alike.
        """
        from llama_cpp import LogitsProcessorList

        anywhere, _ = self._call_openers()
        seen = [0]

        def lean(_ids: Any, scores: Any) -> Any:
            seen[0] += 1
            if seen[0] == 1 and call_share(scores, anywhere) >= self.call_threshold:
                scores[:] = -float("inf")
                scores[self._tool_call_token[0]] = 0.0
            return scores

        return LogitsProcessorList([lean])

    def _speech_bans(self) -> tuple[list[int], list[int]]:
        """Tokens a spoken reply never has: call syntax and backticks anywhere; a `[` first.

        A small model told to answer in words otherwise opens a code fence or a JSON list of
        tool names. Includes end-of-turn for the first token (no empty reply).
        """
        if self._bans is None:
            openers, _ = self._call_openers()
            ticks, brackets = set(), set()
            for token in range(self._llm.n_vocab()):
                text = self._llm.detokenize([token])
                if b"`" in text:
                    ticks.add(token)
                if text.lstrip().startswith(b"["):
                    brackets.add(token)
            anywhere = sorted({*openers, *ticks})
            self._bans = (anywhere, sorted({*anywhere, *brackets, *self._stop}))
        return self._bans

    def _call_openers(self) -> tuple[list[int], list[int]]:
        """Tokens that write call syntax (`{`, `<tool…`); plus end-of-turn for the first token."""
        if self._openers is None:
            openers = set(self._tool_call_token)
            for token in range(self._llm.n_vocab()):
                text = self._llm.detokenize([token])
                if b"{" in text or opens_call(text):
                    openers.add(token)
            self._openers = sorted(openers)
        return self._openers, sorted({*self._openers, *self._stop})

    def _grammar(self, tools: list[ToolSpec]) -> Any:
        from llama_cpp.llama_grammar import LlamaGrammar

        gbnf = schema_to_gbnf(tool_call_schema(tools))
        if gbnf not in self._grammars:
            self._grammars[gbnf] = LlamaGrammar.from_string(gbnf, verbose=False)
        return self._grammars[gbnf]


def agent_key(messages: Sequence[Message], tools: Sequence[ToolSpec]) -> int:
    """Identifies an agent's prompt prefix: its instructions and tools, not the conversation.

    Keying by the whole system turn would give every conversation its own slot, since notes
    about earlier handoffs and live context go there, and push the agents' states out of the
    cache.
    """
    system = next((m.content for m in messages if m.role == "system"), "")
    instructions = system.partition(CONTEXT_HEADING)[0]  # live context changes per caller
    return hash((instructions, *(json.dumps([t.name, t.description, t.parameters]) for t in tools)))


def _translate(exc: RuntimeError) -> Exception:
    """`llama_decode returned 1` means no room was left in the KV cache: a context overflow."""
    if "llama_decode returned 1" in str(exc):
        return ContextOverflow(f"the local model ran out of context: {exc}")
    return ModelError(f"the local model failed: {exc}")


def opens_call(text: bytes) -> bool:
    """True for a reply's first token that starts call syntax: `{`, `<tool…`, or `<`, `<to`.

    A spoken reply never starts with markup, so a bare `<` is the start of `<tool_call>` or
    of the `<tools>` tag a model copies from its prompt.
    """
    head = text.lstrip()
    return head.startswith((b"{", b"<tool")) or (head != b"" and b"<tool".startswith(head))


def call_share(logits: Any, openers: list[int]) -> float:
    """The probability the next token opens a call, from the logits of the whole vocabulary."""
    weights = np.exp(logits - logits.max())
    return float(weights[openers].sum() / weights.sum())


def _offered(tools: Sequence[ToolSpec], tool_choice: ToolChoice) -> list[ToolSpec]:
    """The tools a call may name under this tool_choice."""
    if tool_choice in ("auto", "none", "required"):
        return list(tools) if tool_choice != "none" else []
    return [t for t in tools if t.name == tool_choice]
