"""Who may connect: API keys, browser origins, beta vs GA detection."""

from __future__ import annotations

import hmac
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from urllib.parse import urlsplit

from voxrelay.errors import VoxrelayError
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


LOCAL_HOSTS = frozenset({"localhost", "127.0.0.1", "::1"})
"""Hosts whose pages a keyless server serves by default."""


class AuthRefused(VoxrelayError):
    """The client's credentials were missing, wrong or expired; the message says what to send."""

    status = 401
    """The HTTP status of the refusal."""
    code = "invalid_api_key"
    """The OpenAI-style error code of the refusal."""


class OriginRefused(AuthRefused):
    """A page from an origin this server does not serve; the message says how to allow it."""

    status = 403
    code = "origin_not_allowed"


@dataclass(frozen=True)
class OriginPolicy:
    """Which browser `Origin`s may connect and mint keys (requests without one always may)."""

    allowed: frozenset[str] = frozenset()
    """Origins allowed besides local ones, as `scheme://host[:port]`, lower case."""
    any_origin: bool = False
    """True: every origin is allowed."""

    @classmethod
    def from_settings(cls, allowed_origins: str | None, api_key: str | None) -> OriginPolicy:
        """VOXRELAY_ALLOWED_ORIGINS (comma-separated, `*` for any); unset: local only if keyless."""
        if allowed_origins is None:
            return cls(any_origin=api_key is not None)
        names = [o.strip() for o in allowed_origins.split(",") if o.strip()]
        return cls(allowed=frozenset(_normal(o) for o in names), any_origin="*" in names)

    def allows(self, origin: str | None) -> bool:
        """True for no Origin header, a local page, or a configured origin."""
        if origin is None or self.any_origin:
            return True
        return _is_local(origin) or _normal(origin) in self.allowed

    def check(self, origin: str | None) -> None:
        """OriginRefused unless `allows(origin)`."""
        if not self.allows(origin):
            shown = (origin or "")[:100]
            raise OriginRefused(
                f"Origin {shown!r} is not allowed: add it to VOXRELAY_ALLOWED_ORIGINS "
                "(comma-separated, * for any) when starting voxrelay serve; unset, a server "
                "without VOXRELAY_API_KEY serves pages from localhost only"
            )


def _normal(origin: str) -> str:
    return origin.strip().rstrip("/").lower()


def _is_local(origin: str) -> bool:
    try:
        parts = urlsplit(origin.strip())
        host = parts.hostname
    except ValueError:
        return False
    return parts.scheme in ("http", "https") and host in LOCAL_HOSTS


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

    def __init__(
        self, api_key: str | None, keys: KeyStore, origins: OriginPolicy | None = None
    ) -> None:
        self.api_key = api_key
        self.keys = keys
        self.origins = origins if origins is not None else OriginPolicy.from_settings(None, api_key)
        """Browser origins served (default: local pages only when keyless)."""

    def admit(self, key: str | None, origin: str | None = None) -> Grant:
        """Admit a realtime connection or raise AuthRefused (OriginRefused for the origin)."""
        self.origins.check(origin)
        minted = self.keys.get(key) if key else None
        if minted is not None:
            return Grant(session=minted.session)
        if self.api_key is None:
            return Grant()
        self.admit_owner(key)
        return Grant()

    def admit_owner(self, key: str | None, origin: str | None = None) -> None:
        """Only the server key itself (minting ephemeral keys needs it), from a served origin."""
        self.origins.check(origin)
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
