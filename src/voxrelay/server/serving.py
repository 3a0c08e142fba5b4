"""Running the app with uvicorn: the shared config, log scrubbing, a background server."""

from __future__ import annotations

import asyncio
import logging
import re
import threading
import time
from types import TracebackType

import uvicorn
from fastapi import FastAPI

from voxrelay.config import Settings

HARD_LIMIT_MARGIN = 1024 * 1024
"""Bytes past `max_message_bytes` that uvicorn still reads, so the app can answer with an
`error` event; bigger messages close the socket (1009) before the app sees them."""
SCRUBBED_LOGGERS = ("uvicorn.access", "uvicorn.error")
"""uvicorn's loggers that write request lines (HTTP and WebSocket) with their query string."""
_CREDENTIAL = re.compile(
    r"([?&][^=&#\s\"]*(?:key|token|secret|password|auth)[^=&#\s\"]*=)[^&#\s\"]*",
    re.IGNORECASE,
)
"""A query parameter whose name looks like a credential (api_key, token, client_secret…)."""


def scrub_query(text: str) -> str:
    """`text` with the values of credential-like query parameters replaced by `***`."""
    return _CREDENTIAL.sub(r"\1***", text) if "=" in text else text


class CredentialScrubber(logging.Filter):
    """Masks credential-like query parameters in the request lines uvicorn logs."""

    def filter(self, record: logging.LogRecord) -> bool:
        """Rewrite the record's arguments (and message) in place; never drops a record."""
        if isinstance(record.args, tuple):
            record.args = tuple(scrub_query(a) if isinstance(a, str) else a for a in record.args)
        if isinstance(record.msg, str):
            record.msg = scrub_query(record.msg)
        return True


def install_log_scrubber() -> None:
    """Add the scrubber to uvicorn's request loggers (once; uvicorn's log config keeps it)."""
    for name in SCRUBBED_LOGGERS:
        logger = logging.getLogger(name)
        if not any(isinstance(f, CredentialScrubber) for f in logger.filters):
            logger.addFilter(CredentialScrubber())


def uvicorn_config(
    app: FastAPI, settings: Settings, host: str = "127.0.0.1", port: int = 8000, **kw: object
) -> uvicorn.Config:
    """The uvicorn configuration `voxrelay serve` uses."""
    config = uvicorn.Config(
        app,
        host=host,
        port=port,
        ws="websockets-sansio",
        ws_max_size=2 * settings.max_message_bytes + HARD_LIMIT_MARGIN,
        lifespan="off",
        **kw,  # type: ignore[arg-type]
    )
    install_log_scrubber()
    return config


class BackgroundServer:
    """Serves an app from a daemon thread on a free local port; a context manager."""

    def __init__(
        self,
        app: FastAPI,
        settings: Settings,
        host: str = "127.0.0.1",
        log_level: str = "warning",
    ) -> None:
        config = uvicorn_config(app, settings, host=host, port=0, log_level=log_level)
        self.server = uvicorn.Server(config)
        self.host = host
        self.port = 0
        self.loop: asyncio.AbstractEventLoop | None = None
        """The server's event loop, once started."""
        self._thread = threading.Thread(target=self._run, name="voxrelay server", daemon=True)

    @property
    def http_url(self) -> str:
        """`http://host:port`."""
        return f"http://{self.host}:{self.port}"

    @property
    def ws_url(self) -> str:
        """`ws://host:port`."""
        return f"ws://{self.host}:{self.port}"

    def start(self, timeout_s: float = 30.0) -> None:
        """Start serving and wait until the socket is bound."""
        self._thread.start()
        deadline = time.monotonic() + timeout_s
        while not self.server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the background server did not start")
            time.sleep(0.01)
        self.port = self.server.servers[0].sockets[0].getsockname()[1]

    def stop(self, timeout_s: float = 30.0) -> None:
        """Ask uvicorn to shut down and wait for its thread."""
        self.server.should_exit = True
        self._thread.join(timeout_s)

    def _run(self) -> None:
        asyncio.run(self._serve())

    async def _serve(self) -> None:
        self.loop = asyncio.get_running_loop()
        await self.server.serve()

    def __enter__(self) -> BackgroundServer:
        self.start()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()
