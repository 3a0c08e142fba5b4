"""OpenAIChatModel against httpx.MockTransport: SSE parsing, request bodies, error mapping."""

import json
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from voxrelay.errors import ContextOverflow, ModelError
from voxrelay.models.base import (
    Message,
    ModelSettings,
    StreamItem,
    TextDelta,
    ToolCall,
    ToolSpec,
    Usage,
    complete,
)
from voxrelay.models.openai_compat import (
    OpenAIChatModel,
    to_openai_messages,
    to_openai_tool_choice,
)

BASE = "http://llm.test/v1"
WEATHER = ToolSpec(
    "get_weather",
    "Weather for a city.",
    {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
)


def sse(*chunks: dict[str, Any] | str) -> bytes:
    """An SSE body: one `data:` line per chunk, then `[DONE]`."""
    lines = [f"data: {c if isinstance(c, str) else json.dumps(c)}\n\n" for c in chunks]
    return ("".join(lines) + "data: [DONE]\n\n").encode()


def text_chunk(text: str) -> dict[str, Any]:
    return {"choices": [{"index": 0, "delta": {"content": text}}]}


def call_chunk(index: int, **fields: Any) -> dict[str, Any]:
    call: dict[str, Any] = {"index": index}
    if "id" in fields:
        call["id"] = fields.pop("id")
        call["type"] = "function"
    call["function"] = fields
    return {"choices": [{"index": 0, "delta": {"tool_calls": [call]}}]}


USAGE = {
    "choices": [],
    "usage": {
        "prompt_tokens": 40,
        "completion_tokens": 7,
        "total_tokens": 47,
        "prompt_tokens_details": {"cached_tokens": 32},
    },
}


class Server:
    """A scripted endpoint: records every request and answers from a handler."""

    def __init__(self, answer: Callable[[httpx.Request], httpx.Response]) -> None:
        self.answer = answer
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        return self.answer(request)

    def body(self, n: int = 0) -> dict[str, Any]:
        data: dict[str, Any] = json.loads(self.requests[n].content)
        return data


def streaming(body: bytes, status: int = 200) -> Callable[[httpx.Request], httpx.Response]:
    def answer(request: httpx.Request) -> httpx.Response:
        return httpx.Response(status, content=body, headers={"content-type": "text/event-stream"})

    return answer


async def run(
    server: Server,
    messages: list[Message] | None = None,
    *,
    api_key: str | None = "sk-test",
    **kwargs: Any,
) -> list[StreamItem]:
    async with httpx.AsyncClient(transport=httpx.MockTransport(server)) as client:
        model = OpenAIChatModel("gpt-test", base_url=BASE + "/", api_key=api_key, client=client)
        return [item async for item in model.stream(messages or [Message("user", "hi")], **kwargs)]


# --- streaming ----------------------------------------------------------------------------


async def test_text_deltas_then_usage() -> None:
    server = Server(streaming(sse(text_chunk("Hel"), text_chunk("lo"), text_chunk("!"), USAGE)))
    assert await run(server) == [
        TextDelta("Hel"),
        TextDelta("lo"),
        TextDelta("!"),
        Usage(input_tokens=40, output_tokens=7, cached_tokens=32),
    ]


async def test_role_only_and_empty_deltas_are_skipped() -> None:
    body = sse(
        {"choices": [{"index": 0, "delta": {"role": "assistant", "content": ""}}]},
        text_chunk("ok"),
        {"choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]},
    )
    assert await run(Server(streaming(body))) == [TextDelta("ok")]


async def test_comments_and_blank_lines_are_ignored() -> None:
    body = b": keep-alive\n\n" + sse(text_chunk("a")) + b"data: " + json.dumps(USAGE).encode()
    items = await run(Server(streaming(body)))
    assert items == [TextDelta("a")], "nothing after [DONE] is read"


async def test_usage_without_cache_details() -> None:
    usage = {"choices": [], "usage": {"prompt_tokens": 5, "completion_tokens": 2}}
    assert await run(Server(streaming(sse(text_chunk("x"), usage)))) == [
        TextDelta("x"),
        Usage(5, 2, 0),
    ]


async def test_tool_call_fragments_assembled() -> None:
    body = sse(
        call_chunk(0, id="call_abc", name="get_weather", arguments=""),
        call_chunk(0, arguments='{"ci'),
        call_chunk(0, arguments='ty": "Os'),
        call_chunk(0, arguments='lo"}'),
        {"choices": [{"index": 0, "delta": {}, "finish_reason": "tool_calls"}]},
        USAGE,
    )
    items = await run(Server(streaming(body)), tools=[WEATHER])
    assert items == [
        ToolCall("call_abc", "get_weather", '{"city": "Oslo"}'),
        Usage(40, 7, 32),
    ]


async def test_parallel_tool_calls_in_index_order() -> None:
    body = sse(
        call_chunk(1, id="call_2", name="get_weather", arguments='{"city": '),
        call_chunk(0, id="call_1", name="get_weather", arguments='{"city": "Rome"}'),
        call_chunk(1, arguments='"Oslo"}'),
    )
    items = await run(Server(streaming(body)), tools=[WEATHER])
    assert items == [
        ToolCall("call_1", "get_weather", '{"city": "Rome"}'),
        ToolCall("call_2", "get_weather", '{"city": "Oslo"}'),
    ]


async def test_text_before_tool_call_and_empty_arguments() -> None:
    body = sse(text_chunk("Checking."), call_chunk(0, id="call_1", name="ping"))
    items = await run(Server(streaming(body)), tools=[ToolSpec("ping", "Ping.")])
    assert items == [TextDelta("Checking."), ToolCall("call_1", "ping", "{}")]


async def test_complete_gathers_stream() -> None:
    body = sse(text_chunk("Hi "), text_chunk("there"), USAGE)
    async with httpx.AsyncClient(transport=httpx.MockTransport(Server(streaming(body)))) as client:
        model = OpenAIChatModel("m", base_url=BASE, client=client)
        result = await complete(model, [Message("user", "hi")])
    assert result.text == "Hi there"
    assert result.tool_calls == ()
    assert result.usage == Usage(40, 7, 32)


# --- the request --------------------------------------------------------------------------


async def test_request_body_and_headers() -> None:
    server = Server(streaming(sse(text_chunk("ok"))))
    call = ToolCall("call_1", "get_weather", '{"city": "Oslo"}')
    messages = [
        Message("system", "Be brief."),
        Message("user", "Weather?"),
        Message("assistant", "", tool_calls=(call,)),
        Message("tool", '{"temp_c": 3}', tool_call_id="call_1", name="get_weather"),
    ]
    await run(
        server,
        messages,
        tools=[WEATHER],
        tool_choice="get_weather",
        settings=ModelSettings(temperature=0.3, max_tokens=64),
    )
    (request,) = server.requests
    assert request.method == "POST"
    assert str(request.url) == f"{BASE}/chat/completions"
    assert request.headers["authorization"] == "Bearer sk-test"
    assert server.body() == {
        "model": "gpt-test",
        "stream": True,
        "stream_options": {"include_usage": True},
        "temperature": 0.3,
        "max_tokens": 64,
        "messages": [
            {"role": "system", "content": "Be brief."},
            {"role": "user", "content": "Weather?"},
            {
                "role": "assistant",
                "content": None,
                "tool_calls": [
                    {
                        "id": "call_1",
                        "type": "function",
                        "function": {"name": "get_weather", "arguments": '{"city": "Oslo"}'},
                    }
                ],
            },
            {"role": "tool", "content": '{"temp_c": 3}', "tool_call_id": "call_1"},
        ],
        "tools": [
            {
                "type": "function",
                "function": {
                    "name": "get_weather",
                    "description": "Weather for a city.",
                    "parameters": WEATHER.parameters,
                },
            }
        ],
        "tool_choice": {"type": "function", "function": {"name": "get_weather"}},
    }


async def test_no_tools_no_key_defaults() -> None:
    server = Server(streaming(sse(text_chunk("ok"))))
    await run(server, api_key=None)
    assert "authorization" not in server.requests[0].headers
    body = server.body()
    assert "tools" not in body
    assert "tool_choice" not in body
    assert "max_tokens" not in body
    assert body["temperature"] == 0.0


@pytest.mark.parametrize("choice", ["auto", "none", "required"])
def test_tool_choice_strings_pass_through(choice: str) -> None:
    assert to_openai_tool_choice(choice) == choice


def test_assistant_text_with_tool_call_keeps_content() -> None:
    call = ToolCall("c", "ping", "{}")
    (entry,) = to_openai_messages([Message("assistant", "One moment.", tool_calls=(call,))])
    assert entry["content"] == "One moment."
    assert entry["tool_calls"][0]["id"] == "c"


# --- errors -------------------------------------------------------------------------------


@pytest.mark.parametrize(("status", "retryable"), [(429, True), (500, True), (503, True)])
async def test_retryable_http_errors(status: int, retryable: bool) -> None:
    server = Server(lambda r: httpx.Response(status, json={"error": {"message": "slow down"}}))
    with pytest.raises(ModelError) as info:
        await run(server)
    assert info.value.retryable is retryable
    assert str(status) in str(info.value)
    assert "slow down" in str(info.value)


@pytest.mark.parametrize("status", [400, 401, 404])
async def test_client_errors_are_not_retryable(status: int) -> None:
    server = Server(lambda r: httpx.Response(status, text="bad request: unknown model"))
    with pytest.raises(ModelError) as info:
        await run(server)
    assert info.value.retryable is False
    assert "unknown model" in str(info.value)


async def test_a_prompt_too_long_for_the_context_is_a_context_overflow() -> None:
    error = {"error": {"code": "context_length_exceeded", "message": "too many tokens"}}
    server = Server(lambda r: httpx.Response(400, json=error))
    with pytest.raises(ContextOverflow) as info:
        await run(server)
    assert info.value.retryable is True and "too many tokens" in str(info.value)


async def test_connection_error() -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    with pytest.raises(ModelError) as info:
        await run(Server(refuse))
    assert "cannot reach" in str(info.value)
    assert "VOXRELAY_OPENAI_BASE_URL" in str(info.value)
    assert isinstance(info.value.__cause__, httpx.ConnectError)


async def test_timeout_is_a_model_error() -> None:
    def slow(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("timed out", request=request)

    with pytest.raises(ModelError) as info:
        await run(Server(slow))
    assert info.value.retryable is True


async def test_malformed_chunk_is_a_model_error() -> None:
    with pytest.raises(ModelError):
        await run(Server(streaming(sse(text_chunk("a"), "{not json"))))


async def test_error_chunk_in_stream_is_a_model_error() -> None:
    body = sse({"error": {"message": "context length exceeded", "type": "invalid_request"}})
    with pytest.raises(ModelError, match="context length exceeded"):
        await run(Server(streaming(body)))
