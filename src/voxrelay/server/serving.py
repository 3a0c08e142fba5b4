"""Running the app with uvicorn: the shared config, and a background server for tests."""

from __future__ import annotations

import asyncio
import threading
import time
from types import TracebackType

import uvicorn
from fastapi import FastAPI

from voxrelay.config import Settings

HARD_LIMIT_MARGIN = 1024 * 1024
"""Bytes past `max_message_bytes` that uvicorn still reads, so the app can answer with an
`error` event; bigger messages close the socket (1009) before the app sees them."""


def uvicorn_config(
    app: FastAPI, settings: Settings, host: str = "127.0.0.1", port: int = 8000, **kw: object
) -> uvicorn.Config:
    """The uvicorn configuration `voxrelay serve` uses."""
    return uvicorn.Config(
        app,
        host=host,
        port=port,
        ws="websockets-sansio",
        ws_max_size=2 * settings.max_message_bytes + HARD_LIMIT_MARGIN,
        lifespan="off",
        **kw,  # type: ignore[arg-type]
    )


class BackgroundServer:
    """Serves an app from a daemon thread on a free local port; a context manager."""

    def __init__(self, app: FastAPI, settings: Settings, host: str = "127.0.0.1") -> None:
        config = uvicorn_config(app, settings, host=host, port=0, log_level="warning")
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
