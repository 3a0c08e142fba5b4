"""`voxrelay talk` and `devices`, the WAV transport and the device transport, on scripted fakes."""

from __future__ import annotations

import asyncio
import importlib.abc
import json
import struct
import sys
import types
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import typer
from typer.testing import CliRunner

from voxrelay.agents import Agent, Scenario
from voxrelay.audio import read_wav, silence, write_wav
from voxrelay.engine import Engine
from voxrelay.engine.speech import SpeechStack
from voxrelay.errors import AudioFileError, AudioFormatError
from voxrelay.realtime import InProcessRealtime
from voxrelay.session import Session
from voxrelay.session import events as app
from voxrelay.session.playback import PlaybackTracker
from voxrelay.testing import ScriptedChatModel, ScriptedSTT, ScriptedTTS, ScriptedVAD, call, say
from voxrelay.testing.chat import Step
from voxrelay.transports import cli as talk_cli
from voxrelay.transports.devices import AudioDeviceError, Microphone, Speaker, list_devices
from voxrelay.transports.wavfile import SimulatedSpeaker, WavCallOptions, load_wav_any, talk_wav

RATE = 24000
runner = CliRunner()

# ---- WAV input ---------------------------------------------------------------------------------


def wav_file(path: Path, body: bytes, *, tag: int = 1, channels: int = 1, rate: int, bits: int):
    """Write a RIFF/WAVE file by hand (any encoding tag, width and rate)."""
    block = channels * bits // 8
    fmt = struct.pack("<HHIIHH", tag, channels, rate, rate * block, block, bits)
    chunks = b"fmt " + struct.pack("<I", len(fmt)) + fmt + b"data" + struct.pack("<I", len(body))
    path.write_bytes(b"RIFF" + struct.pack("<I", 4 + len(chunks) + len(body)) + b"WAVE" + chunks)
    path.write_bytes(path.read_bytes() + body)
    return path


def ramp(n: int) -> np.ndarray:
    return np.sin(np.linspace(0, 40 * np.pi, n)) * 0.5


@pytest.mark.parametrize(
    ("bits", "tag", "encode"),
    [
        (8, 1, lambda x: (x * 127 + 128).astype(np.uint8).tobytes()),
        (16, 1, lambda x: (x * 32767).astype("<i2").tobytes()),
        (24, 1, lambda x: b"".join(int(v * 8388607).to_bytes(3, "little", signed=True) for v in x)),
        (32, 1, lambda x: (x * 2147483647).astype("<i4").tobytes()),
        (32, 3, lambda x: x.astype("<f4").tobytes()),
    ],
)
def test_any_width_is_read_as_pcm16_at_24khz(tmp_path: Path, bits, tag, encode):
    x = ramp(16000)
    path = wav_file(tmp_path / "in.wav", encode(x), tag=tag, rate=16000, bits=bits)
    pcm = load_wav_any(path, RATE)
    assert abs(len(pcm) // 2 - RATE) <= 2
    assert 0.45 < np.abs(np.frombuffer(pcm, "<i2")).max() / 32768 < 0.55


def test_stereo_at_an_unusual_rate_is_mixed_and_resampled(tmp_path: Path):
    x = (np.repeat(ramp(11025), 2) * 32767).astype("<i2").tobytes()
    path = wav_file(tmp_path / "in.wav", x, channels=2, rate=11025, bits=16)
    assert abs(len(load_wav_any(path, RATE)) // 2 - RATE) <= 2


def test_bad_wav_files_say_what_to_do(tmp_path: Path):
    with pytest.raises(AudioFileError, match="no such file"):
        load_wav_any(tmp_path / "missing.wav", RATE)
    junk = tmp_path / "junk.wav"
    junk.write_bytes(b"not a wav at all")
    with pytest.raises(AudioFormatError, match="not a WAV file"):
        load_wav_any(junk, RATE)
    adpcm = wav_file(tmp_path / "adpcm.wav", b"\0" * 100, tag=2, rate=8000, bits=4)
    with pytest.raises(AudioFormatError, match="sox"):
        load_wav_any(adpcm, RATE)
    empty = wav_file(tmp_path / "empty.wav", b"", rate=16000, bits=16)
    with pytest.raises(AudioFormatError, match="no audio"):
        load_wav_any(empty, RATE)


# ---- simulated playback ------------------------------------------------------------------------


class Clock:
    """A clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_simulated_speaker_plays_at_real_time_by_the_clock():
    clock, tracker = Clock(), PlaybackTracker(RATE)
    speaker = SimulatedSpeaker(tracker, clock=clock)
    clock.now += 5  # idle time before the reply is not playback
    tracker.queued("a", RATE)
    speaker.play(bytes(2 * RATE))
    clock.now += 0.25
    speaker.advance()
    assert tracker.played_ms("a") == 250 and len(speaker.heard) == 2 * RATE // 4
    speaker.clear()
    clock.now += 1
    speaker.advance()
    assert tracker.played_ms("a") == 250 and speaker.idle


def test_simulated_speaker_without_realtime_plays_at_once():
    tracker = PlaybackTracker(RATE)
    speaker = SimulatedSpeaker(tracker, realtime=False, clock=Clock())
    tracker.queued("a", 480)
    speaker.play(bytes(960))
    assert tracker.played_ms("a") == 20 and speaker.idle


# ---- a whole call over a WAV file, on the scripted engine --------------------------------------


def scenario() -> Scenario:
    front = Agent("front", "Route callers.", handoffs=["returns"], greeting="Hi, front desk.")
    returns = Agent("returns", "Handle returns.", handoff_description="returns")
    return Scenario("voice", [front, returns])


def scripted_session(steps: list[Step], heard: list[str], spans: list[tuple[int, int]]) -> Session:
    vad = ScriptedVAD.from_spans(spans, total_ms=60_000)
    stack = SpeechStack(stt=ScriptedSTT(heard), tts=ScriptedTTS(), vad=lambda: vad)
    engine = Engine(ScriptedChatModel(steps), speech=stack)
    return Session(scenario(), InProcessRealtime(engine), output_modalities=["audio"])


RETURN_STEPS = [call("transfer_to_returns", '{"reason": "return"}'), say("Sure, which order?")]


async def test_talk_wav_runs_the_call_to_the_end_and_returns_what_was_said():
    session = scripted_session(RETURN_STEPS, ["I want to return my board"], [(100, 900)])
    seen: list[app.AppEventBase] = []
    async with session:
        options = WavCallOptions(settle_s=0.2, timeout_s=20)
        heard = await talk_wav(session, silence(1200, RATE), seen.append, options)
    kinds = [e.type for e in seen]  # type: ignore[attr-defined]
    assert "agent_changed" in kinds and kinds[-1] == "turn_done"
    assert [e.text for e in seen if isinstance(e, app.AssistantMessage)][-1] == (
        "Sure, which order?"
    )
    spoken = sum(len(e.pcm) for e in seen if isinstance(e, app.AssistantAudio))
    assert len(heard) == spoken > 0


async def test_talk_wav_in_real_time_plays_the_reply_through_the_clock():
    session = scripted_session([say("Hello there.")], ["hi"], [(100, 500)])
    async with session:
        options = WavCallOptions(realtime=True, settle_s=0.1, timeout_s=20)
        heard = await talk_wav(session, silence(600, RATE), lambda e: None, options)
    assert len(heard) == len(ScriptedTTS().tone(len("Hello there.") * 5.0))


# ---- the CLI -----------------------------------------------------------------------------------


@pytest.fixture
def cli(monkeypatch) -> typer.Typer:
    """A bare app with the voice commands, whose sessions run on the scripted engine."""
    scripts: dict[str, Any] = {"steps": RETURN_STEPS, "heard": ["return"], "spans": [(100, 900)]}

    async def fake_session(scenario_name: str, agent: str | None) -> Session:
        return scripted_session(scripts["steps"], scripts["heard"], scripts["spans"])

    monkeypatch.setattr(talk_cli, "_voice_session", fake_session)
    app_ = typer.Typer()
    talk_cli.register(app_)

    @app_.callback()
    def main() -> None:
        """Test app."""

    app_.scripts = scripts  # type: ignore[attr-defined]
    return app_


def test_talk_json_prints_events_and_writes_the_reply(cli, tmp_path: Path):
    request = write_wav(tmp_path / "in.wav", silence(1200, 16000), 16000)
    reply = tmp_path / "out.wav"
    args = ["talk", "--input", str(request), "--output", str(reply), "--json", "--timeout", "30"]
    result = runner.invoke(cli, args)
    assert result.exit_code == 0, result.output
    events = [json.loads(line) for line in result.stdout.splitlines() if line.startswith("{")]
    kinds = [e["type"] for e in events]
    assert kinds[0] == "assistant_message"  # the greeting
    assert "user_message" in kinds and "agent_changed" in kinds and kinds[-1] == "turn_done"
    audio = [e for e in events if e["type"] == "assistant_audio"]
    assert audio and all("pcm" not in e and e["duration_ms"] > 0 for e in audio)
    out = read_wav(reply)
    assert out.sample_rate == RATE and out.duration_s > 0.05


def test_talk_readable_output(cli, tmp_path: Path):
    request = write_wav(tmp_path / "in.wav", silence(1200, RATE), RATE)
    result = runner.invoke(cli, ["talk", "--input", str(request)])
    assert result.exit_code == 0, result.output
    assert "you ▸ return" in result.stdout
    assert "front → returns" in result.stdout and "returns ▸ Sure, which order?" in result.stdout


def test_talk_reports_a_wav_without_speech(cli, tmp_path: Path):
    cli.scripts.update(steps=[], heard=[], spans=[])
    request = write_wav(tmp_path / "in.wav", silence(500, RATE), RATE)
    result = runner.invoke(cli, ["talk", "--input", str(request), "-o", str(tmp_path / "o.wav")])
    assert result.exit_code == 1
    assert "no speech was detected" in result.output
    assert not (tmp_path / "o.wav").exists()


def test_talk_bad_arguments_fail_before_models_load(cli, tmp_path: Path):
    result = runner.invoke(cli, ["talk", "--input", str(tmp_path / "nope.wav")])
    assert result.exit_code == 1 and "no such file" in result.output
    bad = tmp_path / "bad.wav"
    bad.write_bytes(b"RIFF1234WAVEjunk")
    result = runner.invoke(cli, ["talk", "--input", str(bad)])
    assert result.exit_code == 1 and "not a valid WAV" in result.output
    result = runner.invoke(cli, ["talk", "--output", str(tmp_path / "o.wav")])
    assert result.exit_code == 2 and "--output needs --input" in result.output
    result = runner.invoke(cli, ["talk", "--scenario", "nope", "--input", str(bad)])
    assert "unknown scenario 'nope'" in result.output


# ---- devices -----------------------------------------------------------------------------------


class FakeStream:
    """Stands in for a PortAudio stream: records how it was opened."""

    def __init__(self, **kwargs: Any) -> None:
        self.kwargs = kwargs
        self.started = self.closed = False

    def start(self) -> None:
        self.started = True

    def stop(self) -> None:
        pass

    def close(self) -> None:
        self.closed = True


def fake_sounddevice(devices: list[dict[str, Any]]) -> types.ModuleType:
    """A `sounddevice` stand-in with the given devices."""
    sd = types.ModuleType("sounddevice")

    class PortAudioError(Exception):
        pass

    def query_devices(device: int | None = None, kind: str | None = None) -> Any:
        if kind is None:
            return devices
        key = "max_input_channels" if kind == "input" else "max_output_channels"
        usable = [d for d in devices if d[key] > 0]
        if not usable:
            raise PortAudioError(f"no default {kind} device")
        return usable[0]

    opened: list[FakeStream] = []

    def open_stream(**kwargs: Any) -> FakeStream:
        opened.append(FakeStream(**kwargs))
        return opened[-1]

    sd.PortAudioError = PortAudioError  # type: ignore[attr-defined]
    sd.query_devices = query_devices  # type: ignore[attr-defined]
    sd.default = types.SimpleNamespace(device=(0, 1))  # type: ignore[attr-defined]
    sd.RawInputStream = open_stream  # type: ignore[attr-defined]
    sd.RawOutputStream = open_stream  # type: ignore[attr-defined]
    sd.opened = opened  # type: ignore[attr-defined]
    """The streams opened so far, in order."""
    return sd


DEVICES = [
    {"name": "Mic", "max_input_channels": 1, "max_output_channels": 0, "default_samplerate": 48e3},
    {
        "name": "Out",
        "max_input_channels": 0,
        "max_output_channels": 2,
        "default_samplerate": 44.1e3,
    },
]


def test_devices_lists_inputs_and_outputs(cli, monkeypatch):
    monkeypatch.setitem(sys.modules, "sounddevice", fake_sounddevice(DEVICES))
    found = list_devices()
    assert [(d.name, d.default_input, d.default_output) for d in found] == [
        ("Mic", True, False),
        ("Out", False, True),
    ]
    result = runner.invoke(cli, ["devices"], env={"COLUMNS": "200"})
    assert result.exit_code == 0 and "Mic" in result.output and "44100" in result.output


def test_devices_says_when_there_are_none(cli, monkeypatch):
    monkeypatch.setitem(sys.modules, "sounddevice", fake_sounddevice([]))
    result = runner.invoke(cli, ["devices"])
    assert result.exit_code == 1 and "no audio devices found" in result.output
    assert "--input" in result.output


class NoPortAudio(importlib.abc.MetaPathFinder):
    """Makes `import sounddevice` fail as it does without libportaudio."""

    def find_spec(self, name: str, path: Any, target: Any = None) -> Any:
        if name == "sounddevice":
            raise OSError("PortAudio library not found")
        return None


def test_missing_portaudio_says_how_to_install_it(cli, monkeypatch):
    monkeypatch.delitem(sys.modules, "sounddevice", raising=False)
    monkeypatch.setattr(sys, "meta_path", [NoPortAudio(), *sys.meta_path])
    for args in (["devices"], ["talk"]):
        result = runner.invoke(cli, args)
        assert result.exit_code == 1
        assert "libportaudio2" in result.output and "--input in.wav" in result.output


async def test_microphone_hands_resampled_blocks_to_the_loop():
    sd = fake_sounddevice(DEVICES)
    mic = Microphone(RATE, sd=sd)
    mic.start()
    (stream,) = sd.opened
    assert stream.kwargs["samplerate"] == 48000 and stream.started
    for _ in range(5):
        mic.callback(bytes(960 * 2), 960, None, None)  # 20 ms at 48 kHz
    await asyncio.sleep(0)  # the loop runs the blocks handed over with call_soon_threadsafe
    got = await read_queued(mic)
    assert 0 < len(got) <= 5 * 480 * 2
    mic.close()
    assert stream.closed


async def read_queued(mic: Microphone) -> bytes:
    """Every block the microphone holds now, without waiting for more."""
    got = b""
    while True:
        try:
            async with asyncio.timeout(0):  # expires only if read() has to wait
                got += await mic.read()
        except TimeoutError:
            return got


def test_speaker_fills_device_blocks_and_reports_playback():
    tracker = PlaybackTracker(RATE)
    sd = fake_sounddevice(DEVICES)
    speaker = Speaker(tracker, sd=sd)
    speaker.start()
    (stream,) = sd.opened
    assert stream.kwargs["samplerate"] == 44100
    tracker.queued("a", RATE)
    speaker.play(np.full(RATE, 1000, dtype="<i2").tobytes())
    block = bytearray(882 * 2)
    for _ in range(10):
        speaker.callback(block, 882, None, None)  # 20 ms blocks at 44.1 kHz
    assert 150 <= tracker.played_ms("a") <= 200
    speaker.clear()
    speaker.callback(block, 882, None, None)
    assert bytes(block) == bytes(len(block))  # silence after barge-in


def test_no_output_device_is_a_clear_error():
    only_mic = fake_sounddevice(DEVICES[:1])
    with pytest.raises(AudioDeviceError, match="no output device"):
        Speaker(PlaybackTracker(RATE), sd=only_mic).start()
