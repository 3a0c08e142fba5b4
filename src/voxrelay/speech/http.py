"""Shared plumbing for the OpenAI-compatible speech endpoints: client, auth, error mapping."""

from __future__ import annotations

from typing import Any

import httpx

from voxrelay.config import Settings, get_settings
from voxrelay.errors import SpeechError

RETRYABLE_STATUS = frozenset({408, 409, 429, 500, 502, 503, 504})


class SpeechHTTP:
    """An httpx client bound to one OpenAI-compatible base URL; owns it unless given one."""

    def __init__(
        self,
        base_url: str | None = None,
        api_key: str | None = None,
        *,
        client: httpx.AsyncClient | None = None,
        timeout_s: float = 30.0,
        settings: Settings | None = None,
    ) -> None:
        s = settings or get_settings()
        self.base_url = (base_url or s.speech_base_url or s.openai_base_url).rstrip("/")
        key = api_key or s.openai_api_key
        self._headers = {"Authorization": f"Bearer {key}"} if key else {}
        self._owned = client is None
        self._client = client or httpx.AsyncClient(timeout=timeout_s)

    async def post(self, path: str, **kwargs: Any) -> httpx.Response:
        """POST to `base_url + path`; backend failures become SpeechError."""
        url = f"{self.base_url}{path}"
        try:
            response = await self._client.post(url, headers=self._headers, **kwargs)
        except httpx.TimeoutException as e:
            raise SpeechError(f"{url} timed out ({e}); try again", retryable=True) from e
        except httpx.TransportError as e:
            raise SpeechError(
                f"cannot reach {url} ({e}); check VOXRELAY_SPEECH_BASE_URL", retryable=True
            ) from e
        if response.status_code >= 400:
            raise SpeechError(
                f"{url} answered {response.status_code}: {_detail(response)}",
                retryable=response.status_code in RETRYABLE_STATUS,
            )
        return response

    async def aclose(self) -> None:
        """Close the client if this object created it."""
        if self._owned:
            await self._client.aclose()


def _detail(response: httpx.Response) -> str:
    """The error message from an OpenAI-style error body, or the start of the body."""
    try:
        body = response.json()
    except ValueError:
        return response.text[:200] or response.reason_phrase
    if isinstance(body, dict) and isinstance(body.get("error"), dict):
        return str(body["error"].get("message", body["error"]))
    return str(body)[:200]
