"""`voxrelay serve`: the local engine as an OpenAI Realtime-compatible server."""

from __future__ import annotations

import time
from typing import Annotated

import typer
import uvicorn

from voxrelay import assembly
from voxrelay.config import get_settings
from voxrelay.console import err, fail, loading
from voxrelay.errors import VoxrelayError


def register(app: typer.Typer) -> None:
    """Add the `serve` command to the voxrelay CLI."""
    app.command("serve")(serve)


def serve(
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port.")] = 8000,
    log_level: Annotated[str, typer.Option(help="uvicorn log level.")] = "info",
    text_only: Annotated[
        bool, typer.Option("--text-only", help="Skip loading speech models (no audio).")
    ] = False,
) -> None:
    """Serve the local models at /v1/realtime for any OpenAI Realtime client."""
    from voxrelay.server.app import create_app
    from voxrelay.server.serving import uvicorn_config

    settings = get_settings()
    started = time.monotonic()
    try:
        with loading() as step:
            engines = assembly.load_local_engines(settings, step, speech=not text_only)
    except VoxrelayError as exc:
        raise fail(str(exc), code=1) from None
    loaded = ", ".join(f"{role} {name}" for role, name in engines.models.items())
    err.print(f"loaded {loaded} in {time.monotonic() - started:.1f} s")
    app = create_app(settings, engines)
    shown = "localhost" if host in ("0.0.0.0", "::") else host
    auth = "VOXRELAY_API_KEY required" if settings.api_key else "no API key required"
    err.print(f"Realtime endpoint: [bold]ws://{shown}:{port}/v1/realtime[/] ({auth})")
    err.print(f"HTTP base URL:     http://{shown}:{port}/v1   health: http://{shown}:{port}/health")
    uvicorn.Server(uvicorn_config(app, settings, host=host, port=port, log_level=log_level)).run()
