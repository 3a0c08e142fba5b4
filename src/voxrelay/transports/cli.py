"""CLI commands for voice: `voxrelay talk` (microphone or WAV files) and `voxrelay devices`."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from voxrelay import assembly
from voxrelay.audio.pcm import duration_s
from voxrelay.audio.wav import read_wav, write_wav
from voxrelay.config import get_settings
from voxrelay.console import err, fail, fail_with, out, print_event, print_json
from voxrelay.errors import VoxrelayError
from voxrelay.scenarios import SCENARIOS, scenario_names
from voxrelay.session import Session, VoiceOptions
from voxrelay.session import events as app
from voxrelay.transports.devices import AudioDeviceError, list_devices, sounddevice
from voxrelay.transports.wavfile import WavCallOptions, talk_wav

INPUT_RATE = 24000
QUIET = (app.AssistantAudio, app.UserSpeechStopped, app.PlaybackCleared)
"""Voice events the readable output leaves out (they still appear with --json)."""


def register(cli: typer.Typer) -> None:
    """Add the `talk` and `devices` commands to the voxrelay CLI."""
    cli.command("talk")(talk)
    cli.command("devices")(devices)


def talk(
    scenario: Annotated[
        str, typer.Option("--scenario", "-s", help="Scenario name.")
    ] = "customer_service_retail",
    agent: Annotated[
        str | None, typer.Option("--agent", "-a", help="Start with this agent.")
    ] = None,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print one JSON object per app event.")
    ] = False,
    input_wav: Annotated[
        Path | None, typer.Option("--input", "-i", help="Caller audio: a WAV file (any rate).")
    ] = None,
    output_wav: Annotated[
        Path | None, typer.Option("--output", "-o", help="Write the agents' speech here (WAV).")
    ] = None,
    realtime: Annotated[
        bool, typer.Option("--realtime", help="Stream --input at real-time speed.")
    ] = False,
    timeout: Annotated[
        float, typer.Option("--timeout", help="Seconds to wait for the agents to finish.")
    ] = 600.0,
    mic: Annotated[int | None, typer.Option("--mic", help="Input device index.")] = None,
    speaker: Annotated[int | None, typer.Option("--speaker", help="Output device index.")] = None,
) -> None:
    """Talk by voice with a scenario's agents: live on microphone and speaker, or WAV files."""
    if scenario not in SCENARIOS:
        raise fail(
            f"unknown scenario {scenario!r}; valid scenarios: {', '.join(scenario_names())}",
            code=1,
        )
    if output_wav is not None and input_wav is None:
        raise fail("--output needs --input: live calls play through the speaker", code=2)
    try:
        if input_wav is not None:
            pcm = read_wav(input_wav, INPUT_RATE).pcm  # a bad file fails before models load
            call = WavCall(pcm, str(input_wav), output_wav, realtime, timeout)
            asyncio.run(_talk(scenario, agent, Printer(as_json), call))
        else:
            sounddevice()  # fail on missing PortAudio before loading models
            asyncio.run(_talk(scenario, agent, Printer(as_json), LiveCall(mic, speaker)))
    except KeyboardInterrupt:
        raise typer.Exit(0 if input_wav is None else 130) from None
    except VoxrelayError as exc:
        raise fail_with(exc) from None


@dataclass(frozen=True)
class WavCall:
    """A call whose caller is a WAV file."""

    pcm: bytes
    name: str
    output: Path | None
    realtime: bool
    timeout_s: float


@dataclass(frozen=True)
class LiveCall:
    """A call on the local microphone and speaker."""

    mic: int | None
    speaker: int | None


async def _talk(
    scenario_name: str, agent: str | None, show: Printer, call: WavCall | LiveCall
) -> None:
    session = await _voice_session(scenario_name, agent)
    async with session:
        for event in session.pending():
            show(event)
        if isinstance(call, WavCall):
            await _wav(session, show, call)
        else:
            await _live(session, show, call)


async def _voice_session(scenario_name: str, agent: str | None) -> Session:
    """The scenario as a voice session on the backend the settings select."""
    # Built on the loop's thread, as `serve` loads its models; nothing runs yet.
    voice = VoiceOptions()
    return assembly.build_session(get_settings(), scenario_name, agent=agent, voice=voice)


async def _wav(session: Session, show: Printer, call: WavCall) -> None:
    options = WavCallOptions(realtime=call.realtime, timeout_s=call.timeout_s)
    heard = await talk_wav(session, call.pcm, show, options)
    if not show.seen(app.UserSpeechStarted):
        raise VoxrelayError(
            f"no speech was detected in {call.name}; check that it holds audible speech "
            "(try `voxrelay transcribe` on it)"
        )
    if call.output is not None:
        write_wav(call.output, heard, session.output_rate)
        seconds = duration_s(heard, session.output_rate)
        err.print(f"[dim]wrote {call.output} ({seconds:.2f} s, {session.output_rate} Hz)[/]")


async def _live(session: Session, show: Printer, call: LiveCall) -> None:
    from voxrelay.transports.devices import Microphone, Speaker, talk_live

    mic = Microphone(session.input_rate, device=call.mic)
    speaker = Speaker(session.playback, device=call.speaker)

    async def print_events() -> None:
        async for event in session.events():
            show(event)

    printer = asyncio.create_task(print_events(), name="talk events")
    if not show.as_json:
        err.print(f"[dim]talking to {session.agent.name}; speak now. Ctrl-C to quit.[/]")
    try:
        await talk_live(session, mic, speaker)
    finally:
        printer.cancel()
        await asyncio.gather(printer, return_exceptions=True)


@dataclass
class Printer:
    """Prints app events as `voxrelay chat` does: readable, or one JSON object per line."""

    as_json: bool
    kinds: set[str] = field(default_factory=set)

    def __call__(self, event: app.AppEventBase) -> None:
        self.kinds.add(str(getattr(event, "type", "")))
        if self.as_json:
            print_json(event)
        else:
            _print_readable(event)

    def seen(self, kind: type[app.AppEventBase]) -> bool:
        """Whether an event of this class was printed."""
        return kind.model_fields["type"].default in self.kinds


def _print_readable(event: app.AppEventBase) -> None:
    if isinstance(event, QUIET):
        return
    if isinstance(event, app.UserSpeechStarted):
        out.print("  [dim]… caller speaking[/]")
    elif isinstance(event, app.Interrupted):
        out.print(f"  [yellow]✂ interrupted after {event.played_ms} ms[/]")
    elif isinstance(event, app.TurnLatency):
        stages = event.stages
        if "stop_to_first_audio" in stages:
            out.print(
                f"  [dim]⏱ first audio {stages['stop_to_first_audio']:.0f} ms after you stopped[/]"
            )
    else:
        print_event(event, echo_user=True)


def devices() -> None:
    """List the microphones and speakers that `voxrelay talk` can use."""
    try:
        found = list_devices()
    except AudioDeviceError as exc:
        raise fail(str(exc), code=1) from None
    if not found:
        raise fail(
            "no audio devices found; connect a microphone and speaker, "
            "or talk through WAV files: voxrelay talk --input in.wav --output out.wav",
            code=1,
        )
    table = Table("index", "name", "in", "out", "rate")
    for d in found:
        mark_in = "*" if d.default_input else ""
        mark_out = "*" if d.default_output else ""
        table.add_row(
            str(d.index),
            d.name,
            f"{d.inputs}{mark_in}",
            f"{d.outputs}{mark_out}",
            str(d.default_rate),
        )
    out.print(table)
    out.print("* marks the default input and output; pick others with --mic / --speaker")
