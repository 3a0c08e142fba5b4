"""CLI commands for speech: `voxrelay transcribe FILE.wav` and `voxrelay say TEXT -o OUT.wav`."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Annotated

import typer

from voxrelay.audio.wav import read_wav, write_wav
from voxrelay.config import Settings, get_settings
from voxrelay.errors import ConfigError, VoxrelayError
from voxrelay.speech.base import AudioChunk, Transcript
from voxrelay.speech.stt import make_stt
from voxrelay.speech.tts import make_tts

TRANSCRIBE_RATE = 16000
"""`transcribe` reads every file at Whisper's rate, so any rate `talk` takes works here too."""


def register(app: typer.Typer) -> None:
    """Add the `transcribe` and `say` commands to the voxrelay CLI."""
    app.command("transcribe")(transcribe)
    app.command("say")(say)


def _settings(**overrides: str | None) -> Settings:
    update = {k: v for k, v in overrides.items() if v is not None}
    for key in ("stt_backend", "tts_backend"):
        if update.get(key, "local") not in ("local", "openai"):
            raise ConfigError(f"unknown backend {update[key]!r}; use local or openai")
    return get_settings().model_copy(update=update)


def _fail(e: VoxrelayError) -> typer.Exit:
    typer.secho(f"error: {e}", fg=typer.colors.RED, err=True)
    return typer.Exit(1)


def transcribe(
    file: Annotated[
        Path, typer.Argument(help="A WAV file: PCM, float, μ-law or A-law; any rate or channels.")
    ],
    language: Annotated[
        str | None, typer.Option("--language", "-l", help="ISO 639-1 code, e.g. en.")
    ] = None,
    backend: Annotated[
        str | None, typer.Option(help="local (faster-whisper) or openai (HTTP).")
    ] = None,
    timestamps: Annotated[bool, typer.Option("--timestamps", "-t", help="Timed segments.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print the transcript as JSON.")] = False,
) -> None:
    """Transcribe a WAV file with the configured STT."""
    try:
        audio = read_wav(file, TRANSCRIBE_RATE)
        stt = make_stt(_settings(stt_backend=backend, stt_language=language))
        result = asyncio.run(stt.transcribe(audio.pcm, audio.sample_rate))
    except VoxrelayError as e:
        raise _fail(e) from None
    typer.echo(_render(result, timestamps=timestamps, as_json=as_json))


def _render(t: Transcript, *, timestamps: bool, as_json: bool) -> str:
    if as_json:
        segments = [
            {"start": round(s.start_s, 3), "end": round(s.end_s, 3), "text": s.text}
            for s in t.segments
        ]
        body = {"text": t.text, "language": t.language, "duration": round(t.duration_s, 3)}
        return json.dumps({**body, "segments": segments}, ensure_ascii=False)
    if timestamps:
        return "\n".join(f"[{s.start_s:6.2f} → {s.end_s:6.2f}] {s.text}" for s in t.segments)
    return t.text


def say(
    text: Annotated[str, typer.Argument(help="What to say.")],
    output: Annotated[Path, typer.Option("--output", "-o", help="WAV file to write.")],
    voice: Annotated[str | None, typer.Option(help="Voice name, e.g. alloy or joe.")] = None,
    backend: Annotated[str | None, typer.Option(help="local (Piper) or openai (HTTP).")] = None,
) -> None:
    """Speak TEXT with the configured TTS and write it to a WAV file."""
    if not text.strip():
        typer.secho("error: nothing to say; give some text", fg=typer.colors.RED, err=True)
        raise typer.Exit(1)
    try:
        tts = make_tts(_settings(tts_backend=backend, tts_voice=voice))
        pcm = asyncio.run(_collect(tts.synthesize(text, voice=voice)))
        write_wav(output, pcm, tts.sample_rate)
    except VoxrelayError as e:
        raise _fail(e) from None
    seconds = len(pcm) / 2 / tts.sample_rate
    typer.echo(f"wrote {output} ({seconds:.2f} s, {tts.sample_rate} Hz)")


async def _collect(chunks: AsyncIterator[AudioChunk]) -> bytes:
    return b"".join([c.pcm async for c in chunks])
