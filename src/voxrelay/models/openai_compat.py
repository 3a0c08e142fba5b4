"""A ChatModel over any OpenAI-compatible `/chat/completions` endpoint (streaming, tools)."""

from __future__ import annotations

import json
import os
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import httpx

from voxrelay.config import Settings, get_settings
from voxrelay.errors import ContextOverflow, ModelError
from voxrelay.models.base import (
    Message,
    ModelSettings,
    StreamItem,
    TextDelta,
    ToolCall,
    ToolChoice,
    ToolSpec,
    Usage,
)


def to_openai_messages(messages: Sequence[Message]) -> list[dict[str, Any]]:
    """Messages in the chat-completions wire shape."""
    out: list[dict[str, Any]] = []
    for m in messages:
        entry: dict[str, Any] = {"role": m.role, "content": m.content}
        if m.tool_calls:
            entry["content"] = m.content or None
            entry["tool_calls"] = [
                {
                    "id": c.call_id,
                    "type": "function",
                    "function": {"name": c.name, "arguments": c.arguments},
                }
                for c in m.tool_calls
            ]
        if m.role == "tool":
            entry["tool_call_id"] = m.tool_call_id
        out.append(entry)
    return out


def to_openai_tool_choice(choice: ToolChoice) -> str | dict[str, Any]:
    """`auto`/`none`/`required`, or the object form naming one function."""
    if choice in ("auto", "none", "required"):
        return choice
    return {"type": "function", "function": {"name": choice}}


def _overflowed(detail: str) -> bool:
    """Whether an error body says the prompt was longer than the model's context."""
    text = detail.lower()
    return "context_length_exceeded" in text or "maximum context length" in text


@dataclass
class _PendingCall:
    call_id: str = ""
    name: str = ""
    arguments: list[str] = field(default_factory=list)


class OpenAIChatModel:
    """Streams chat completions from an OpenAI-compatible server."""

    def __init__(
        self,
        model: str,
        *,
        base_url: str = "https://api.openai.com/v1",
        api_key: str | None = None,
        client: httpx.AsyncClient | None = None,
        timeout_s: float = 60.0,
    ) -> None:
        self.model = model
        self.base_url = base_url.rstrip("/")
        self.api_key = api_key
        self._client = client or httpx.AsyncClient(timeout=timeout_s)

    @classmethod
    def from_settings(cls, settings: Settings | None = None) -> OpenAIChatModel:
        """Configure from VOXRELAY_OPENAI_* settings (the key falls back to OPENAI_API_KEY)."""
        s = settings or get_settings()
        key = s.openai_api_key or os.environ.get("OPENAI_API_KEY")
        return cls(s.openai_model, base_url=s.openai_base_url, api_key=key)

    async def stream(
        self,
        messages: Sequence[Message],
        tools: Sequence[ToolSpec] = (),
        tool_choice: ToolChoice = "auto",
        settings: ModelSettings | None = None,
    ) -> AsyncIterator[StreamItem]:
        """Stream text deltas, then any tool calls, then usage."""
        body = self._body(messages, tools, tool_choice, settings or ModelSettings())
        headers = {"Authorization": f"Bearer {self.api_key}"} if self.api_key else {}
        url = f"{self.base_url}/chat/completions"
        try:
            async with self._client.stream("POST", url, json=body, headers=headers) as resp:
                if resp.status_code >= 400:
                    detail = (await resp.aread()).decode(errors="replace")[:500]
                    if resp.status_code == 400 and _overflowed(detail):
                        raise ContextOverflow(f"{url} answered 400: {detail}")
                    retryable = resp.status_code == 429 or resp.status_code >= 500
                    raise ModelError(
                        f"{url} answered {resp.status_code}: {detail}", retryable=retryable
                    )
                async for item in self._parse(resp.aiter_lines()):
                    yield item
        except httpx.HTTPError as exc:
            raise ModelError(
                f"cannot reach {url}: {exc}; check VOXRELAY_OPENAI_BASE_URL", retryable=True
            ) from exc

    def _body(
        self,
        messages: Sequence[Message],
        tools: Sequence[ToolSpec],
        choice: ToolChoice,
        s: ModelSettings,
    ) -> dict[str, Any]:
        body: dict[str, Any] = {
            "model": self.model,
            "messages": to_openai_messages(messages),
            "stream": True,
            "stream_options": {"include_usage": True},
            "temperature": s.temperature,
        }
        if s.max_tokens:
            body["max_tokens"] = s.max_tokens
        if tools:
            body["tools"] = [
                {
                    "type": "function",
                    "function": {
                        "name": t.name,
                        "description": t.description,
                        "parameters": t.parameters,
                    },
                }
                for t in tools
            ]
            body["tool_choice"] = to_openai_tool_choice(choice)
        return body

    async def _parse(self, lines: AsyncIterator[str]) -> AsyncIterator[StreamItem]:
        calls: dict[int, _PendingCall] = {}
        usage: Usage | None = None
        async for line in lines:
            if not line.startswith("data:"):
                continue
            data = line[5:].strip()
            if data == "[DONE]":
                break
            try:
                chunk = json.loads(data)
            except json.JSONDecodeError as exc:
                raise ModelError(
                    f"the endpoint sent a malformed stream chunk: {data[:200]!r}"
                ) from exc
            if chunk.get("error"):
                error = chunk["error"]
                message = error.get("message", error) if isinstance(error, dict) else error
                raise ModelError(f"the endpoint reported an error mid-stream: {message}")
            if chunk.get("usage"):
                u = chunk["usage"]
                cached = (u.get("prompt_tokens_details") or {}).get("cached_tokens", 0)
                usage = Usage(u.get("prompt_tokens", 0), u.get("completion_tokens", 0), cached or 0)
            for choice in chunk.get("choices") or []:
                delta = choice.get("delta") or {}
                if delta.get("content"):
                    yield TextDelta(delta["content"])
                for tc in delta.get("tool_calls") or []:
                    pending = calls.setdefault(tc.get("index", 0), _PendingCall())
                    pending.call_id = tc.get("id") or pending.call_id
                    fn = tc.get("function") or {}
                    pending.name = fn.get("name") or pending.name
                    pending.arguments.append(fn.get("arguments") or "")
        for _, p in sorted(calls.items()):
            yield ToolCall(p.call_id, p.name, "".join(p.arguments) or "{}")
        if usage:
            yield usage
