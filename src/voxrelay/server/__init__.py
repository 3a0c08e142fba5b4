"""`voxrelay serve`: the local engine behind an OpenAI Realtime-compatible HTTP/WebSocket API."""

from voxrelay.assembly import LocalEngines, load_local_engines
from voxrelay.server.app import create_app
from voxrelay.server.keys import KeyStore
from voxrelay.server.serving import BackgroundServer, uvicorn_config

__all__ = [
    "BackgroundServer",
    "KeyStore",
    "LocalEngines",
    "create_app",
    "load_local_engines",
    "uvicorn_config",
]
