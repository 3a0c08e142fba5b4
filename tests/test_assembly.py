"""One assembly: `chat`, `talk`, `serve` and `eval` all build their runtime in voxrelay.assembly.

Each entry point runs for real on scripted models; a spy around the assembly's functions shows
that it went through them. `talk` and `chat` then follow VOXRELAY_REALTIME_BACKEND, down to a
`voxrelay serve` app on a loopback port.
"""

from __future__ import annotations

import ast
import asyncio
import json
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from typer.testing import CliRunner

from voxrelay import assembly
from voxrelay.audio import silence, write_wav
from voxrelay.cli import cli
from voxrelay.config import Settings, get_settings
from voxrelay.engine import Engine
from voxrelay.engine.speech import SpeechStack
from voxrelay.evals import run_case
from voxrelay.evals.cases import load_file
from voxrelay.evals.runner import RecordingChatModel
from voxrelay.realtime import InProcessRealtime, WebSocketRealtime
from voxrelay.server import BackgroundServer, create_app
from voxrelay.session import Session
from voxrelay.speech.tts import OPENAI_VOICES, VoiceMap
from voxrelay.testing import ScriptedChatModel, ScriptedSTT, ScriptedTTS, ScriptedVAD, call, say
from voxrelay.testing.chat import Step

SRC = Path(__file__).resolve().parent.parent / "src" / "voxrelay"
RATE = 24000
runner = CliRunner()


@dataclass
class Spy:
    """Records each call of the assembly's functions and what they returned."""

    sessions: list[tuple[dict[str, Any], Session]] = field(default_factory=list)
    loads: list[dict[str, Any]] = field(default_factory=list)
    engines: list[assembly.LocalEngines] = field(default_factory=list)
    """What `load_local_engines` hands out, in order (set by the test)."""


@pytest.fixture
def spy(monkeypatch: pytest.MonkeyPatch) -> Iterator[Spy]:
    """Wraps `build_session`; `load_local_engines` returns the test's scripted engines."""
    found = Spy()
    build = assembly.build_session

    def build_session(settings: Settings, scenario: str, **kw: Any) -> Session:
        session = build(settings, scenario, **kw)
        found.sessions.append(({"scenario": scenario, **kw}, session))
        return session

    def load_local_engines(
        settings: Settings, progress: Any = None, *, speech: bool = True
    ) -> assembly.LocalEngines:
        found.loads.append({"speech": speech})
        return found.engines.pop(0)

    monkeypatch.setattr(assembly, "build_session", build_session)
    monkeypatch.setattr(assembly, "load_local_engines", load_local_engines)
    for name in ("VOXRELAY_REALTIME_BACKEND", "VOXRELAY_REALTIME_URL", "OPENAI_API_KEY"):
        monkeypatch.delenv(name, raising=False)
    get_settings.cache_clear()
    yield found
    get_settings.cache_clear()


def use_backend(monkeypatch: pytest.MonkeyPatch, backend: str, url: str | None = None) -> None:
    monkeypatch.setenv("VOXRELAY_REALTIME_BACKEND", backend)
    if url is not None:
        monkeypatch.setenv("VOXRELAY_REALTIME_URL", url)
    get_settings.cache_clear()


def voice_engines(steps: list[Step], heard: list[str]) -> assembly.LocalEngines:
    """Scripted chat and speech: the caller speaks from 100 to 900 ms of the input."""
    vad = ScriptedVAD.from_spans([(100, 900)], total_ms=60_000)
    tts = ScriptedTTS(voices=VoiceMap({v: v for v in OPENAI_VOICES}, "alloy"))
    stack = SpeechStack(stt=ScriptedSTT(heard), tts=tts, vad=lambda: vad)
    return assembly.LocalEngines(ScriptedChatModel(steps), stack, {"llm": "scripted"})


def caller_wav(tmp_path: Path) -> Path:
    return write_wav(tmp_path / "in.wav", silence(1200, 16000), 16000)


def json_events(stdout: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in stdout.splitlines() if line.startswith("{")]


# ---- no import cycles ---------------------------------------------------------------------------

ALONE = [
    "voxrelay.assembly",
    "voxrelay.console",
    "voxrelay.cli",
    "voxrelay.transports.cli",
    "voxrelay.transports.wavfile",
    "voxrelay.server",
    "voxrelay.server.cli",
    "voxrelay.evals.cli",
    "voxrelay.evals.runner",
    "voxrelay.speech.cli",
    "voxrelay.audio.wav",
    "voxrelay.audio.wire",
    "voxrelay.session.voice",
    "voxrelay.engine.audio_in",
]


def test_each_module_imports_alone() -> None:
    procs = {
        name: subprocess.Popen(
            [sys.executable, "-c", f"import {name}"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for name in ALONE
    }
    failed = {}
    for name, proc in procs.items():
        _, stderr = proc.communicate(timeout=120)
        if proc.returncode:
            failed[name] = stderr.strip().splitlines()[-1:]
    assert not failed


def imported_modules(path: Path) -> set[str]:
    """Every voxrelay module a source file imports, at the top or inside a function."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text("utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
            found.update(f"{node.module}.{a.name}" for a in node.names)
        elif isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
    return {m for m in found if m.startswith("voxrelay")}


def test_the_command_modules_do_not_import_the_main_cli() -> None:
    for sub in ("transports/cli.py", "server/cli.py", "speech/cli.py", "evals/cli.py"):
        assert "voxrelay.cli" not in imported_modules(SRC / sub), sub
    assert "voxrelay.cli" not in imported_modules(SRC / "console.py")


def test_only_the_assembly_builds_realtime_models_and_sessions() -> None:
    """No entry point constructs a Session, an engine or a RealtimeModel itself."""
    built = ("Session(", "InProcessRealtime(", "WebSocketRealtime(", "Engine(", "load_chat_model(")
    for path in ("cli.py", "transports/cli.py", "server/cli.py", "evals/runner.py"):
        text = (SRC / path).read_text("utf-8")
        assert not [b for b in built if b in text], path


# ---- chat ---------------------------------------------------------------------------------------


def test_chat_goes_through_the_assembly(spy: Spy) -> None:
    chat = ScriptedChatModel([say("Hi! Want a haiku?")])
    spy.engines.append(assembly.LocalEngines(chat))
    result = runner.invoke(cli, ["chat", "-s", "simple_handoff", "--json"], input="hello\n")
    assert result.exit_code == 0, result.output
    texts = [e["text"] for e in json_events(result.stdout) if e["type"] == "assistant_message"]
    assert texts == ["Hello! Would you like a haiku today?", "Hi! Want a haiku?"]
    ((args, session),) = spy.sessions
    assert args == {"scenario": "simple_handoff", "agent": None}
    assert isinstance(session.model, InProcessRealtime) and session.voice is None
    assert spy.loads == [{"speech": False}]
    chat.assert_complete()


def test_chat_checks_the_agent_before_loading_models(spy: Spy) -> None:
    result = runner.invoke(cli, ["chat", "-s", "simple_handoff", "-a", "nobody"])
    assert result.exit_code == 2 and "valid agents: greeter, haikuWriter" in result.output
    assert spy.loads == []


# ---- talk ---------------------------------------------------------------------------------------

RETURN = [call("transfer_to_haiku_writer", '{"reason": "haiku"}'), say("Sure, on what topic?")]


def test_talk_goes_through_the_assembly(spy: Spy, tmp_path: Path) -> None:
    engines = voice_engines(RETURN, ["a haiku please"])
    spy.engines.append(engines)
    args = ["talk", "-s", "simple_handoff", "-i", str(caller_wav(tmp_path)), "--json"]
    result = runner.invoke(cli, args)
    assert result.exit_code == 0, result.output
    kinds = [e["type"] for e in json_events(result.stdout)]
    assert "user_message" in kinds and "agent_changed" in kinds and "assistant_audio" in kinds
    ((args_, session),) = spy.sessions
    assert args_["voice"] is not None and isinstance(session.model, InProcessRealtime)
    assert spy.loads == [{"speech": True}]
    assert isinstance(engines.chat, ScriptedChatModel)
    engines.chat.assert_complete()


@pytest.fixture
def served() -> Iterator[Callable[[assembly.LocalEngines], str]]:
    """Starts `voxrelay serve`'s app over given engines on a loopback port; returns its URL."""
    servers: list[BackgroundServer] = []

    def start(engines: assembly.LocalEngines) -> str:
        settings = Settings()
        server = BackgroundServer(create_app(settings, engines), settings)
        server.start()
        servers.append(server)
        return f"{server.ws_url}/v1/realtime"

    yield start
    for server in servers:
        server.stop()


class CountingEngines(assembly.LocalEngines):
    """The server's engines, counting the connections they served."""

    made: int = 0

    def __call__(self) -> Engine:
        self.made += 1
        return super().__call__()


def test_talk_follows_the_websocket_backend_to_voxrelay_serve(
    spy: Spy,
    served: Callable[[assembly.LocalEngines], str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    remote = voice_engines(RETURN, ["a haiku please"])
    engines = CountingEngines(remote.chat, remote.speech)
    use_backend(monkeypatch, "websocket", served(engines))
    args = ["talk", "-s", "simple_handoff", "-i", str(caller_wav(tmp_path)), "--timeout", "30"]
    result = runner.invoke(cli, args)
    assert result.exit_code == 0, result.output
    assert "you ▸ a haiku please" in result.stdout
    assert "haikuWriter ▸ Sure, on what topic?" in result.stdout
    ((_, session),) = spy.sessions
    assert isinstance(session.model, WebSocketRealtime)
    assert spy.loads == []  # no local model: the server did the work
    assert engines.made == 1
    assert isinstance(engines.chat, ScriptedChatModel)
    engines.chat.assert_complete()


def test_chat_follows_the_websocket_backend_too(
    spy: Spy, served: Callable[[assembly.LocalEngines], str], monkeypatch: pytest.MonkeyPatch
) -> None:
    chat = ScriptedChatModel([say("Hi from the server.")])
    use_backend(monkeypatch, "websocket", served(CountingEngines(chat)))
    result = runner.invoke(cli, ["chat", "-s", "simple_handoff"], input="hello\n")
    assert result.exit_code == 0, result.output
    assert "greeter ▸ Hi from the server." in result.stdout
    assert spy.loads == []
    chat.assert_complete()


# ---- serve --------------------------------------------------------------------------------------


def test_serve_loads_its_engines_through_the_assembly(
    spy: Spy, monkeypatch: pytest.MonkeyPatch
) -> None:
    chat = ScriptedChatModel([say("Served.")])
    spy.engines.append(assembly.LocalEngines(chat, None, {"llm": "scripted"}))
    apps: list[Any] = []
    monkeypatch.setattr(uvicorn.Server, "run", lambda self: apps.append(self.config.app))
    result = runner.invoke(cli, ["serve", "--text-only", "--port", "0"])
    assert result.exit_code == 0, result.output
    assert "loaded llm scripted" in result.output
    assert spy.loads == [{"speech": False}]
    settings = Settings()
    with BackgroundServer(apps[0], settings) as server:
        health = httpx.get(f"{server.http_url}/health").json()
        assert health["models"] == {"llm": "scripted"}
        remote = Settings(realtime_backend="websocket", realtime_url=f"{server.ws_url}/v1/realtime")
        replies = runner_turn(remote, "hello")
    assert replies == ["Hello! Would you like a haiku today?", "Served."]
    chat.assert_complete()


def runner_turn(settings: Settings, text: str) -> list[str]:
    """One text turn of simple_handoff through `build_session` on `settings`."""

    async def turn() -> list[str]:
        session = assembly.build_session(settings, "simple_handoff")
        async with session:
            events = [*session.pending(), *await session.run_turn(text)]
        return [e.text for e in events if e.type == "assistant_message"]  # type: ignore[attr-defined]

    return asyncio.run(turn())


# ---- eval ---------------------------------------------------------------------------------------


async def test_the_eval_runner_goes_through_the_assembly(spy: Spy, tmp_path: Path) -> None:
    path = tmp_path / "cases.toml"
    path.write_text(
        'scenario = "customer_service_retail"\n[[case]]\nid = "r"\ncategory = "routing"\n'
        'message = "I want to return my snowboard"\nhandoff_to = "returns"\n',
        "utf-8",
    )
    (case,) = load_file(path)
    chat = ScriptedChatModel([call("transfer_to_returns", '{"reason": "x"}'), say("Sure.")])
    result = await run_case(case, chat, "scripted")
    assert result.verdict.passed, result.verdict.reasons
    ((args, session),) = spy.sessions
    assert args["scenario"] == "customer_service_retail" and args["backend"] == "local"
    assert args["engines"].chat is chat and isinstance(args["helper"], RecordingChatModel)
    assert isinstance(session.model, InProcessRealtime) and spy.loads == []
