"""Ephemeral client secrets: minted over HTTP, accepted on `/v1/realtime` until they expire."""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from voxrelay.errors import ProtocolError
from voxrelay.realtime.beta import session_from_beta
from voxrelay.realtime.inbound import check_depth, invalid_field
from voxrelay.realtime.rules import apply_update, default_session
from voxrelay.realtime.types import SessionConfig

MIN_TTL_S = 10
MAX_TTL_S = 7200
DEFAULT_TTL_S = 600
MAX_KEYS = 10_000
"""Live keys kept at once; minting more first forgets the oldest."""

JSON = dict[str, Any]


@dataclass(frozen=True)
class EphemeralKey:
    """A minted client secret and the session configuration it starts connections with."""

    value: str
    expires_at: int
    """Unix time in seconds."""
    session: SessionConfig
    """Only the fields the minting request set (merged over each new session's defaults)."""


@dataclass(frozen=True)
class MintRequest:
    """A validated request for a client secret."""

    ttl_s: int
    session: SessionConfig


class KeyStore:
    """Live ephemeral keys by value; expired keys are forgotten as they are met."""

    def __init__(self, clock: Callable[[], float] = time.time, capacity: int = MAX_KEYS) -> None:
        self._clock = clock
        self._capacity = capacity
        self._keys: dict[str, EphemeralKey] = {}

    def __len__(self) -> int:
        return len(self._keys)

    def mint(self, request: MintRequest) -> EphemeralKey:
        """A fresh `ek_…` secret valid for `request.ttl_s` seconds."""
        self._prune()
        while len(self._keys) >= self._capacity:
            self._keys.pop(next(iter(self._keys)))
        key = EphemeralKey(
            value=f"ek_{secrets.token_urlsafe(24)}",
            expires_at=int(self._clock()) + request.ttl_s,
            session=request.session,
        )
        self._keys[key.value] = key
        return key

    def get(self, value: str) -> EphemeralKey | None:
        """The live key with this value, or None if unknown or expired."""
        key = self._keys.get(value)
        if key is not None and key.expires_at <= self._clock():
            del self._keys[value]
            return None
        return key

    def _prune(self) -> None:
        now = self._clock()
        for value in [v for v, k in self._keys.items() if k.expires_at <= now]:
            del self._keys[value]


def ga_mint_request(body: Any) -> MintRequest:
    """Validate a GA `POST /v1/realtime/client_secrets` body."""
    check_depth(body, "request body")
    body = _object(body, "request body")
    expires = _object(body.get("expires_after") or {}, "expires_after")
    if expires.get("anchor", "created_at") != "created_at":
        raise ProtocolError(
            "invalid_value", "expires_after.anchor must be created_at", param="expires_after.anchor"
        )
    ttl = _ttl(expires.get("seconds", DEFAULT_TTL_S), "expires_after.seconds")
    session = _object(body.get("session") or {"type": "realtime"}, "session")
    if session.get("type", "realtime") != "realtime":
        raise ProtocolError(
            "unsupported_session_type",
            f"session.type {session.get('type')!r} is not served here; use realtime",
            param="session.type",
        )
    return MintRequest(ttl, validate_session(session, "session"))


def beta_mint_request(body: Any) -> MintRequest:
    """Validate a beta `POST /v1/realtime/sessions` body (a flat beta session)."""
    check_depth(body, "request body")
    body = dict(_object(body, "request body"))
    secret = _object(body.pop("client_secret", None) or {}, "client_secret")
    expires = _object(secret.get("expires_after") or {}, "client_secret.expires_after")
    ttl = _ttl(expires.get("seconds", DEFAULT_TTL_S), "client_secret.expires_after.seconds")
    return MintRequest(ttl, validate_session(session_from_beta(body), ""))


def validate_session(data: JSON, where: str) -> SessionConfig:
    """A session patch that a new session can take; ProtocolError says what is wrong."""
    try:
        patch = SessionConfig.model_validate(data)
    except ValidationError as exc:
        raise invalid_field(exc, where) from None
    apply_update(default_session(), patch, where=where)
    return patch


def _object(value: Any, what: str) -> JSON:
    if not isinstance(value, dict):
        raise ProtocolError("invalid_value", f"{what} must be a JSON object", param=what)
    return value


def _ttl(value: Any, param: str) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or not MIN_TTL_S <= value <= MAX_TTL_S:
        raise ProtocolError(
            "invalid_value",
            f"{param} must be an integer from {MIN_TTL_S} to {MAX_TTL_S}, got {repr(value)[:40]}",
            param=param,
        )
    return value
