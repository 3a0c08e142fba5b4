"""The session rules and the inbound JSON guards, synchronously (no server, no event loop)."""

from __future__ import annotations

import json
import logging
import typing
from typing import Any

import pytest
from openai.types.beta.realtime.session import Session as BetaSession
from pydantic import BaseModel, ValidationError

from voxrelay.errors import ProtocolError
from voxrelay.realtime import beta, inbound
from voxrelay.realtime.events import parse_client_event
from voxrelay.realtime.rules import (
    apply_update,
    check_schema,
    check_tools,
    default_session,
    tool_choice_name,
)
from voxrelay.realtime.types import AudioFormat, SessionConfig
from voxrelay.server.auth import Gate, OriginPolicy, OriginRefused
from voxrelay.server.keys import KeyStore, ga_mint_request
from voxrelay.server.serving import CredentialScrubber, scrub_query

LEAKS = ("Input should", "instance of", "SessionConfig", "pydantic", "Traceback", "Error(")
"""Library and exception text that must never reach a client."""


def update(session: dict[str, Any]) -> SessionConfig:
    """`session.update` applied to a new session, the way the engine applies it."""
    event = parse_client_event({"type": "session.update", "session": session})
    assert event.type == "session.update"
    return apply_update(default_session(), event.session)


def refusal(session: dict[str, Any]) -> ProtocolError:
    with pytest.raises(ProtocolError) as caught:
        update(session)
    assert not any(leak in str(caught.value) for leak in LEAKS), str(caught.value)
    return caught.value


def deep(levels: int, leaf: Any = 1) -> Any:
    for _ in range(levels - 1):
        leaf = [leaf]
    return [leaf]


def fmt(side: str, **format_: Any) -> dict[str, Any]:
    return {"audio": {side: {"format": format_}}}


def tool(parameters: Any, name: str = "f") -> dict[str, Any]:
    return {"type": "function", "name": name, "parameters": parameters}


# ---- audio formats --------------------------------------------------------------------------


@pytest.mark.parametrize("side", ["input", "output"])
@pytest.mark.parametrize(
    "format_",
    [
        {"type": "audio/pcm", "rate": 1},
        {"type": "audio/pcm", "rate": -24000},
        {"type": "audio/pcm", "rate": 0},
        {"type": "audio/pcm", "rate": 16000},
        {"rate": 48000},
        {"type": "audio/pcmu", "rate": 44100},
        {"type": "audio/pcma", "rate": 24000},
    ],
)
def test_rates_the_engine_cannot_carry_are_refused(side: str, format_: dict[str, Any]) -> None:
    error = refusal(fmt(side, **format_))
    assert error.param == f"session.audio.{side}.format.rate"
    assert "24000" in str(error) and "8000" in str(error)


@pytest.mark.parametrize(
    ("format_", "echoed"),
    [
        ({"type": "audio/pcm", "rate": 24000}, {"type": "audio/pcm", "rate": 24000}),
        ({"type": "audio/pcm"}, {"type": "audio/pcm", "rate": 24000}),
        ({"type": "audio/pcmu"}, {"type": "audio/pcmu", "rate": None}),
        ({"type": "audio/pcmu", "rate": 8000}, {"type": "audio/pcmu", "rate": 8000}),
        ({"type": "audio/pcma"}, {"type": "audio/pcma", "rate": None}),
    ],
)
def test_supported_formats_are_accepted(format_: dict[str, Any], echoed: dict[str, Any]) -> None:
    session = update(fmt("input", **format_))
    assert session.audio is not None and session.audio.input is not None
    assert session.audio.input.format == AudioFormat(**echoed)


def test_switching_back_to_pcm_takes_its_own_rate() -> None:
    g711 = update(fmt("output", type="audio/pcma"))
    back = parse_client_event(
        {"type": "session.update", "session": fmt("output", type="audio/pcm")}
    )
    assert back.type == "session.update"
    pcm = apply_update(g711, back.session)
    assert pcm.audio is not None and pcm.audio.output is not None
    assert pcm.audio.output.format == AudioFormat(type="audio/pcm", rate=24000)


def test_an_unknown_format_type_lists_the_known_ones() -> None:
    error = refusal(fmt("input", type="audio/wav"))
    assert error.param == "session.audio.input.format.type"
    assert "audio/pcmu" in str(error)


# ---- tools ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("parameters", "param"),
    [
        ({"type": "nonsense"}, "session.tools.0.parameters.type"),
        (
            {"type": "object", "properties": {"code": {"type": "string", "pattern": "(["}}},
            "session.tools.0.parameters.properties.code.pattern",
        ),
        ({"type": "object", "patternProperties": {"(": {}}}, "session.tools.0.parameters"),
        (
            {"type": "object", "properties": {"a": {"$ref": "#/$defs/Missing"}}},
            "session.tools.0.parameters",
        ),
        ({"$ref": "https://example.com/schema.json"}, "session.tools.0.parameters"),
    ],
    ids=["bad_type", "bad_pattern", "bad_pattern_key", "unresolved_ref", "remote_ref"],
)
def test_bad_tool_schemas_are_refused(parameters: dict[str, Any], param: str) -> None:
    error = refusal({"tools": [tool(parameters)]})
    assert error.param is not None and error.param.startswith(param)


@pytest.mark.parametrize(
    "parameters",
    [
        {},
        {"type": "object", "properties": {"city": {"type": "string", "pattern": "^[A-Z]"}}},
        {
            "type": "object",
            "properties": {"item": {"$ref": "#/$defs/Item"}},
            "$defs": {"Item": {"type": "string", "enum": [{"$ref": "not a ref: data"}]}},
        },
        {"type": "object", "properties": {"$ref": {"type": "string"}}, "required": ["$ref"]},
        {"$schema": "http://json-schema.org/draft-07/schema#", "items": [{"type": "string"}]},
    ],
    ids=["empty", "pattern", "local_ref", "property_named_ref", "draft_07"],
)
def test_good_tool_schemas_are_accepted(parameters: dict[str, Any]) -> None:
    assert update({"tools": [tool(parameters)]}).tools


def test_a_deep_schema_is_refused_before_the_meta_schema_walks_it() -> None:
    with pytest.raises(ProtocolError) as caught:
        check_schema({"items": deep(1000, {})}, "tools.0.parameters")
    assert (caught.value.code, caught.value.param) == ("nesting_too_deep", "tools.0.parameters")


def test_a_schema_64_levels_deep_is_still_checked_without_recursion_errors() -> None:
    schema: dict[str, Any] = {"type": "string", "pattern": "("}
    for _ in range(63):
        schema = {"items": schema}
    with pytest.raises(ProtocolError, match="regular expression"):
        check_schema(schema, "parameters")


def test_tool_choice_required_needs_a_tool() -> None:
    error = refusal({"tool_choice": "required"})
    assert error.param == "tool_choice"
    assert tool_choice_name("required", ["f"]) == "required"
    with pytest.raises(ProtocolError, match="at least one tool"):
        tool_choice_name("required", [])


def test_check_tools_reports_duplicates_under_where() -> None:
    config = SessionConfig.model_validate({"tools": [tool({}), tool({})]})
    with pytest.raises(ProtocolError) as caught:
        check_tools(config, "session")
    assert caught.value.param == "session.tools"


def test_response_create_tools_are_checked_too() -> None:
    event = {"type": "response.create", "response": {"tools": [tool({"type": "nonsense"})]}}
    with pytest.raises(ProtocolError) as caught:
        parse_client_event(event)
    assert caught.value.param == "response.tools.0.parameters.type"


def test_mint_requests_apply_the_same_rules() -> None:
    for session in (fmt("input", rate=16000), {"tool_choice": "required"}):
        with pytest.raises(ProtocolError):
            ga_mint_request({"session": session})


# ---- JSON depth and fixed messages ----------------------------------------------------------


def test_depth_is_measured_without_recursion() -> None:
    assert not inbound.depth_over(deep(64), 64)
    assert inbound.depth_over(deep(65), 64)
    assert inbound.depth_over(deep(5000), 64)
    assert not inbound.depth_over("scalar", 0)


@pytest.mark.parametrize("levels", [65, 1000, 100_000])
def test_deep_json_text_is_refused(levels: int) -> None:
    text = "[" * levels + "]" * levels
    with pytest.raises(ProtocolError) as caught:
        inbound.loads(text)
    assert caught.value.code == "nesting_too_deep"
    with pytest.raises(ProtocolError):
        parse_client_event(json.dumps({"type": "session.update", "x": deep(70)}))


def test_deep_dict_events_are_refused() -> None:
    with pytest.raises(ProtocolError) as caught:
        parse_client_event({"type": "response.create", "response": {"metadata": deep(1000)}})
    assert caught.value.code == "nesting_too_deep"


@pytest.mark.parametrize(
    ("event", "param"),
    [
        ({"type": "session.update", "session": "x"}, "session"),
        ({"type": "session.update", "session": {"tools": "x"}}, "session.tools"),
        ({"type": "session.update", "session": {"max_output_tokens": "lots"}}, None),
        ({"type": "conversation.item.create", "item": {"type": "nope"}}, "item"),
        ({"type": "conversation.item.create", "item": {"role": "user"}}, "item"),
        ({"type": {"not": "hashable"}}, "type"),
    ],
)
def test_validation_messages_are_fixed_words(event: dict[str, Any], param: str | None) -> None:
    with pytest.raises(ProtocolError) as caught:
        parse_client_event(event)
    message = str(caught.value)
    assert not any(leak in message for leak in LEAKS), message
    if param is not None:
        assert caught.value.param == param


def test_invalid_field_joins_the_alternatives_of_a_union() -> None:
    class Limit(BaseModel):
        tokens: int | typing.Literal["inf"]

    with pytest.raises(ValidationError) as caught:
        Limit.model_validate({"tokens": "lots"})
    error = inbound.invalid_field(caught.value, "session")
    assert error.param == "session.tokens"
    assert str(error) == "session.tokens: must be an integer or must be one of 'inf'"


# ---- beta model names -----------------------------------------------------------------------


def test_beta_model_list_matches_the_openai_beta_types() -> None:
    annotation = BetaSession.model_fields["model"].annotation
    (literal,) = [a for a in typing.get_args(annotation) if a is not type(None)]
    assert set(beta.BETA_MODELS) == set(typing.get_args(literal))


@pytest.mark.parametrize(
    ("model", "shown"),
    [("voxrelay-local", "gpt-4o-realtime-preview"), ("gpt-4o-mini-realtime-preview",) * 2],
)
def test_beta_sessions_report_an_accepted_name_and_keep_the_real_one(
    model: str, shown: str
) -> None:
    session = beta.beta_model_names({"model": model, "instructions": ""})
    assert session == {"model": shown, "voxrelay_model": model, "instructions": ""}
    BetaSession.model_validate(session)
    decoded = beta.BetaServerDecoder().decode({"type": "session.created", "session": session})
    assert decoded[0]["session"]["model"] == model


# ---- origins and log scrubbing --------------------------------------------------------------


@pytest.mark.parametrize(
    ("setting", "api_key", "origin", "allowed"),
    [
        (None, None, None, True),
        (None, None, "http://localhost:5173", True),
        (None, None, "https://127.0.0.1", True),
        (None, None, "http://[::1]:8080", True),
        (None, None, "https://evil.example", False),
        (None, None, "null", False),
        (None, None, "http://localhost.evil.example", False),
        (None, "sk", "https://evil.example", True),
        ("https://app.example, https://b.example/", None, "https://B.example", True),
        ("https://app.example", "sk", "https://evil.example", False),
        ("*", None, "https://evil.example", True),
    ],
)
def test_origin_policy(
    setting: str | None, api_key: str | None, origin: str | None, allowed: bool
) -> None:
    assert OriginPolicy.from_settings(setting, api_key).allows(origin) is allowed


def test_a_keyless_gate_refuses_foreign_origins_with_instructions() -> None:
    gate = Gate(None, KeyStore())
    with pytest.raises(OriginRefused, match="VOXRELAY_ALLOWED_ORIGINS") as caught:
        gate.admit(None, "https://evil.example")
    assert caught.value.status == 403
    with pytest.raises(OriginRefused):
        gate.admit_owner(None, "https://evil.example")
    assert gate.admit(None, "http://localhost:3000").session is None


@pytest.mark.parametrize(
    "query",
    [
        "/v1/realtime?model=x&api_key=sk-SECRET",
        "/v1/realtime?key=sk-SECRET&model=x",
        "/v1/realtime?access_token=sk-SECRET",
        "/v1/realtime?client_secret=sk-SECRET",
        "/v1/realtime?X-Api-Key=sk-SECRET",
    ],
)
def test_credentials_are_scrubbed_from_request_lines(query: str) -> None:
    scrubbed = scrub_query(query)
    assert "sk-SECRET" not in scrubbed and "=***" in scrubbed
    assert scrub_query("/v1/realtime?model=gpt-realtime") == "/v1/realtime?model=gpt-realtime"
    record = logging.LogRecord("uvicorn.access", 20, "", 0, '%s "%s"', ("1.2.3.4", query), None)
    CredentialScrubber().filter(record)
    assert "sk-SECRET" not in record.getMessage()
