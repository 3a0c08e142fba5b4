"""Who may connect: API keys from headers or browser subprotocols, beta vs GA detection."""

from __future__ import annotations

import hmac
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from voxrelay.realtime.types import SessionConfig
from voxrelay.server.keys import KeyStore

KEY_PROTOCOL_PREFIX = "openai-insecure-api-key."
BETA_PROTOCOL = "openai-beta.realtime-v1"
REALTIME_PROTOCOL = "realtime"
HOW_TO_AUTHENTICATE = (
    "send `Authorization: Bearer <key>`, or from a browser the WebSocket subprotocols "
    "`realtime` and `openai-insecure-api-key.<key>`; the key is VOXRELAY_API_KEY or an "
    "ephemeral key from POST /v1/realtime/client_secrets"
)


class AuthRefused(Exception):
    """The client's credentials were missing, wrong or expired; the message says what to send."""


@dataclass(frozen=True)
class Handshake:
    """What a WebSocket upgrade request says about the client."""

    key: str | None
    """The API key or ephemeral secret it presented, if any."""
    beta: bool
    """True for beta-protocol clients (`OpenAI-Beta: realtime=v1` or the beta subprotocol)."""
    subprotocol: str | None
    """The subprotocol to accept (`realtime` when offered)."""


@dataclass(frozen=True)
class Grant:
    """An admitted connection; `session` is the configuration minted with its ephemeral key."""

    session: SessionConfig | None = None


def read_handshake(headers: Mapping[str, str], offered: Sequence[str]) -> Handshake:
    """Credentials, protocol flavour and subprotocol from upgrade headers and subprotocols."""
    key = bearer_key(headers.get("authorization"))
    for protocol in offered:
        if protocol.startswith(KEY_PROTOCOL_PREFIX) and key is None:
            key = protocol.removeprefix(KEY_PROTOCOL_PREFIX) or None
    beta_header = "realtime=v1" in headers.get("openai-beta", "").replace(" ", "").lower()
    return Handshake(
        key=key,
        beta=beta_header or BETA_PROTOCOL in offered,
        subprotocol=REALTIME_PROTOCOL if REALTIME_PROTOCOL in offered else None,
    )


def bearer_key(authorization: str | None) -> str | None:
    """The token of an `Authorization: Bearer <token>` header."""
    if not authorization:
        return None
    scheme, _, token = authorization.strip().partition(" ")
    if scheme.lower() != "bearer":
        return None
    return token.strip() or None


class Gate:
    """Checks keys against the server key (None: open to all) and live ephemeral keys."""

    def __init__(self, api_key: str | None, keys: KeyStore) -> None:
        self.api_key = api_key
        self.keys = keys

    def admit(self, key: str | None) -> Grant:
        """Admit a realtime connection or raise AuthRefused."""
        minted = self.keys.get(key) if key else None
        if minted is not None:
            return Grant(session=minted.session)
        if self.api_key is None:
            return Grant()
        self.admit_owner(key)
        return Grant()

    def admit_owner(self, key: str | None) -> None:
        """Only the server key itself (minting ephemeral keys needs it)."""
        if self.api_key is None:
            return
        if key is None:
            raise AuthRefused(f"missing API key: {HOW_TO_AUTHENTICATE}")
        if hmac.compare_digest(key.encode(), self.api_key.encode()):
            return
        if key.startswith("ek_"):
            raise AuthRefused(
                "ephemeral key unknown or expired (ephemeral keys cannot mint keys either): "
                "mint a new one with POST /v1/realtime/client_secrets using the server key"
            )
        raise AuthRefused(f"invalid API key: {HOW_TO_AUTHENTICATE}")
