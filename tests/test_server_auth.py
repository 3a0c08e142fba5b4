"""The server's I/O-free parts: handshake parsing, the key gate, ephemeral keys, mint requests."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from voxrelay.cli import cli
from voxrelay.errors import ProtocolError
from voxrelay.realtime.types import SessionConfig
from voxrelay.server.auth import AuthRefused, Gate, bearer_key, read_handshake
from voxrelay.server.keys import KeyStore, MintRequest, beta_mint_request, ga_mint_request


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_bearer_key_parsing() -> None:
    assert bearer_key("Bearer sk-1") == "sk-1"
    assert bearer_key("bearer   sk-1 ") == "sk-1"
    assert bearer_key("Basic abc") is None
    assert bearer_key("Bearer ") is None
    assert bearer_key(None) is None


def test_handshake_from_headers() -> None:
    hello = read_handshake({"authorization": "Bearer k", "openai-beta": "realtime=v1"}, [])
    assert (hello.key, hello.beta, hello.subprotocol) == ("k", True, None)
    assert not read_handshake({}, []).beta


def test_handshake_from_browser_subprotocols() -> None:
    offered = ["realtime", "openai-insecure-api-key.ek_abc", "openai-beta.realtime-v1"]
    hello = read_handshake({}, offered)
    assert (hello.key, hello.beta, hello.subprotocol) == ("ek_abc", True, "realtime")


def test_header_key_wins_over_subprotocol_key() -> None:
    hello = read_handshake({"authorization": "Bearer h"}, ["openai-insecure-api-key.p"])
    assert hello.key == "h"


def test_open_gate_admits_anyone() -> None:
    gate = Gate(None, KeyStore())
    assert gate.admit(None).session is None
    gate.admit_owner(None)


def test_closed_gate_messages_say_what_to_send() -> None:
    gate = Gate("secret", KeyStore())
    with pytest.raises(AuthRefused, match="Authorization: Bearer"):
        gate.admit(None)
    with pytest.raises(AuthRefused, match="invalid API key"):
        gate.admit("wrong")
    with pytest.raises(AuthRefused, match="client_secrets"):
        gate.admit("ek_unknown")
    assert gate.admit("secret").session is None


def test_ephemeral_key_admits_with_its_session_until_it_expires() -> None:
    clock = Clock()
    keys = KeyStore(clock=clock)
    gate = Gate("secret", keys)
    session = SessionConfig(instructions="Hi.")
    key = keys.mint(MintRequest(60, session))
    assert key.value.startswith("ek_")
    assert key.expires_at == 160
    assert gate.admit(key.value).session == session
    with pytest.raises(AuthRefused):
        gate.admit_owner(key.value)
    clock.now = 160
    with pytest.raises(AuthRefused, match="expired"):
        gate.admit(key.value)
    assert len(keys) == 0


def test_key_store_forgets_the_oldest_past_capacity() -> None:
    keys = KeyStore(capacity=2)
    first, *_ = [keys.mint(MintRequest(60, SessionConfig())) for _ in range(3)]
    assert len(keys) == 2
    assert keys.get(first.value) is None


def test_ga_mint_request_defaults_and_session() -> None:
    request = ga_mint_request({})
    assert request.ttl_s == 600
    patch = ga_mint_request({"session": {"type": "realtime", "instructions": "X"}}).session
    assert patch.model_dump(exclude_unset=True) == {"type": "realtime", "instructions": "X"}


@pytest.mark.parametrize(
    ("body", "param"),
    [
        ([], "request body"),
        ({"expires_after": {"seconds": 9}}, "expires_after.seconds"),
        ({"expires_after": {"seconds": True}}, "expires_after.seconds"),
        ({"session": {"type": "transcription"}}, "session.type"),
        ({"session": {"tools": [{"name": "f"}, {"name": "f"}]}}, "session.tools"),
        ({"session": {"max_output_tokens": "lots"}}, "session.max_output_tokens"),
    ],
)
def test_ga_mint_request_errors_name_the_field(body: object, param: str) -> None:
    with pytest.raises(ProtocolError) as caught:
        ga_mint_request(body)
    assert caught.value.param is not None and caught.value.param.startswith(param)


def test_beta_mint_request_converts_the_flat_session() -> None:
    body = {
        "modalities": ["text"],
        "voice": "ash",
        "client_secret": {"expires_after": {"seconds": 30}},
    }
    request = beta_mint_request(body)
    assert request.ttl_s == 30
    assert request.session.output_modalities == ["text"]
    assert request.session.audio is not None and request.session.audio.output is not None
    assert request.session.audio.output.voice == "ash"


def test_serve_command_is_registered() -> None:
    result = CliRunner().invoke(cli, ["serve", "--help"])
    assert result.exit_code == 0
    assert "--port" in result.output
    assert "--text-only" in result.output
