"""`voxrelay transcribe` and `voxrelay say`, on a Typer app that registers them."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from voxrelay.audio import read_wav, silence, write_wav
from voxrelay.speech.cli import register

runner = CliRunner()


@pytest.fixture
def app() -> typer.Typer:
    """A bare app with the speech commands."""
    app = typer.Typer()
    register(app)

    @app.callback()
    def main() -> None:
        """Test app."""

    return app


def test_transcribe_missing_file(app, tmp_path: Path):
    """A missing file is a one-line error and exit code 1."""
    result = runner.invoke(app, ["transcribe", str(tmp_path / "nope.wav")])
    assert result.exit_code == 1
    assert "error: cannot read audio file" in result.output
    assert "no such file" in result.output


def test_transcribe_corrupt_file(app, tmp_path: Path):
    """A corrupt WAV says so."""
    bad = tmp_path / "bad.wav"
    bad.write_bytes(b"RIFF1234WAVEjunk")
    result = runner.invoke(app, ["transcribe", str(bad)])
    assert result.exit_code == 1
    assert "not a valid WAV" in result.output


def test_say_refuses_empty_text_and_unknown_backend(app, tmp_path: Path):
    """Bad arguments fail before anything is synthesized."""
    out = tmp_path / "o.wav"
    assert "nothing to say" in runner.invoke(app, ["say", " ", "-o", str(out)]).output
    result = runner.invoke(app, ["say", "Hi.", "-o", str(out), "--backend", "cloud"])
    assert result.exit_code == 1
    assert "unknown backend 'cloud'" in result.output
    assert not out.exists()


@pytest.mark.real
def test_say_refuses_an_unknown_piper_voice(app, tmp_path: Path):
    """An unknown voice fails before anything is synthesized (Piper must be installed)."""
    out = tmp_path / "o.wav"
    result = runner.invoke(app, ["say", "Hi.", "-o", str(out), "--voice", "bob"])
    assert result.exit_code == 1
    assert "unknown voice 'bob'" in result.output
    assert not out.exists()


@pytest.mark.real
def test_say_then_transcribe(app, tmp_path: Path):
    """`say` writes a WAV that `transcribe` reads back, with timestamps and JSON."""
    out = tmp_path / "hello.wav"
    result = runner.invoke(app, ["say", "Hello, my name is Joe.", "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert "22050 Hz" in result.output
    assert read_wav(out).duration_s > 0.5
    result = runner.invoke(app, ["transcribe", str(out), "--json"])
    assert result.exit_code == 0, result.output
    body = json.loads(result.output)
    assert "my name is" in body["text"].lower()  # Piper's voice varies run to run: "Joe" or "Jill"
    assert body["segments"][0]["start"] == 0.0
    result = runner.invoke(app, ["transcribe", str(out), "-t"])
    assert result.output.startswith("[  0.00 →")


@pytest.mark.real
def test_transcribe_silence_file(app, tmp_path: Path):
    """Silence transcribes without error."""
    path = write_wav(tmp_path / "s.wav", silence(1000, 16000), 16000)
    assert runner.invoke(app, ["transcribe", str(path)]).exit_code == 0
