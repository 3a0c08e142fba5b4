"""The `voxrelay` command line, run as a real subprocess.

Every command runs against an empty model directory, so none of them loads a model; they all
start at once (module fixture) to keep the file fast.
"""

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

RETAIL_AGENTS = ["authentication", "returns", "sales", "simulatedHuman"]
SCENARIOS = ["customer_service_retail", "simple_handoff", "chat_supervisor"]

COMMANDS: dict[str, list[str]] = {
    "scenarios": ["scenarios"],
    "bad_scenario": ["chat", "--scenario", "nope"],
    "bad_agent": ["chat", "--agent", "bogus"],
    "bad_agent_handoff": ["chat", "-s", "simple_handoff", "-a", "bogus"],
    "no_model": ["chat"],
    "models": ["models"],
    "models_unknown": ["models", "--name", "nope"],
}


@dataclass(frozen=True)
class Run:
    returncode: int
    stdout: str
    stderr: str

    @property
    def flat_stderr(self) -> str:
        """stderr with rich's line wrapping undone."""
        return " ".join(self.stderr.split())


def _env(model_dir: Path) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("VOXRELAY_") and k != "OPENAI_API_KEY"
    }
    env.update(
        COLUMNS="200",
        NO_COLOR="1",
        TERM="dumb",
        VOXRELAY_MODEL_DIR=str(model_dir),
        VOXRELAY_LLM_BACKEND="local",
        PYTHONWARNINGS="ignore",
    )
    return env


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Run]:
    model_dir = tmp_path_factory.mktemp("empty-models")
    env = _env(model_dir)
    base = [sys.executable, "-c", "from voxrelay.cli import main; main()"]
    procs = {
        name: subprocess.Popen(
            [*base, *args],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
            cwd=model_dir,
        )
        for name, args in COMMANDS.items()
    }
    results = {}
    for name, proc in procs.items():
        try:
            stdout, stderr = proc.communicate(input="", timeout=120)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.communicate()
            raise
        results[name] = Run(proc.returncode, stdout, stderr)
    assert list(model_dir.iterdir()) == [], "no command may write into the model dir"
    return results


def test_scenarios_lists_scenarios_and_agents(runs: dict[str, Run]) -> None:
    run = runs["scenarios"]
    assert run.returncode == 0, run.stderr
    for name in [*SCENARIOS, *RETAIL_AGENTS, "greeter", "haikuWriter", "chatAgent"]:
        assert name in run.stdout
    positions = [run.stdout.index(name) for name in SCENARIOS]
    assert positions == sorted(positions)
    assert "* authentication → returns, sales, simulatedHuman" in run.stdout
    assert "* greeter → haikuWriter" in run.stdout
    assert "* marks the starting agent" in run.stdout


def test_unknown_scenario_lists_valid_ones(runs: dict[str, Run]) -> None:
    run = runs["bad_scenario"]
    assert run.returncode != 0
    assert "unknown scenario 'nope'" in run.flat_stderr
    assert "customer_service_retail, simple_handoff, chat_supervisor" in run.flat_stderr
    assert "Traceback" not in run.stderr
    assert run.stdout == ""


def test_unknown_agent_lists_retail_agents(runs: dict[str, Run]) -> None:
    run = runs["bad_agent"]
    assert run.returncode != 0
    assert "unknown agent 'bogus'" in run.flat_stderr
    assert "valid agents: " + ", ".join(RETAIL_AGENTS) in run.flat_stderr
    assert "Traceback" not in run.stderr


def test_unknown_agent_in_other_scenario(runs: dict[str, Run]) -> None:
    run = runs["bad_agent_handoff"]
    assert run.returncode != 0
    assert "valid agents: greeter, haikuWriter" in run.flat_stderr


def test_chat_without_model_says_how_to_prepare(runs: dict[str, Run]) -> None:
    run = runs["no_model"]
    assert run.returncode != 0
    assert "qwen2.5-0.5b" in run.flat_stderr
    assert "not prepared" in run.flat_stderr
    assert "Run `voxrelay models --prepare`" in run.flat_stderr
    assert "Traceback" not in run.stderr
    assert run.stdout == ""


def test_models_table(runs: dict[str, Run]) -> None:
    run = runs["models"]
    assert run.returncode == 0, run.stderr
    lines = run.stdout.splitlines()
    header = next(line for line in lines if "model" in line and "status" in line)
    for column in ("role", "size", "path"):
        assert column in header
    qwen = next(line for line in lines if "qwen2.5-0.5b" in line)
    assert "llm" in qwen
    assert "not prepared" in qwen or "packages not installed" in qwen
    assert "whisper-base" in run.stdout
    assert "LLM in use: qwen2.5-0.5b" in run.stdout


def test_models_unknown_name_is_a_clean_error(runs: dict[str, Run]) -> None:
    run = runs["models_unknown"]
    assert run.returncode != 0
    assert "known models: qwen2.5-0.5b, qwen2.5-1.5b, whisper-base" in run.flat_stderr
    assert "Traceback" not in run.stderr
    assert run.stderr.lstrip().startswith("error:")
