"""One WAV reader: every format both `transcribe` and `talk` take, and clear errors for the rest."""

from __future__ import annotations

import struct
import wave
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pytest
import typer
from typer.testing import CliRunner

from voxrelay import assembly
from voxrelay.audio import alaw_encode, read_wav, to_int16, ulaw_encode
from voxrelay.audio.wav import EXTENSIBLE
from voxrelay.config import Settings, get_settings
from voxrelay.engine.speech import SpeechStack
from voxrelay.errors import AudioFormatError
from voxrelay.speech import cli as speech_cli
from voxrelay.testing import Heard, ScriptedChatModel, ScriptedSTT, ScriptedTTS, ScriptedVAD, say
from voxrelay.transports import cli as talk_cli

RATE = 16000
N = RATE  # one second
runner = CliRunner()
KSDATAFORMAT_TAIL = b"\x00\x00\x00\x00\x10\x00\x80\x00\x00\xaa\x00\x38\x9b\x71"
"""The sub-format GUID of WAVE_FORMAT_EXTENSIBLE after its two-byte format tag."""


def tone() -> np.ndarray:
    """One second of a 440 Hz sine at half scale."""
    return 0.5 * np.sin(2 * np.pi * 440 * np.arange(N) / RATE)


def pcm16(x: np.ndarray) -> bytes:
    return (x * 32767).astype("<i2").tobytes()


def int24(x: np.ndarray) -> bytes:
    v = (x * 8388607).astype("<i4").tobytes()
    return b"".join(v[i : i + 3] for i in range(0, len(v), 4))


def stdlib_wav(path: Path, body: bytes, width: int, channels: int = 1, rate: int = RATE) -> Path:
    """A PCM WAV written by the stdlib `wave` module."""
    with wave.open(str(path), "wb") as w:
        w.setnchannels(channels)
        w.setsampwidth(width)
        w.setframerate(rate)
        w.writeframes(body)
    return path


def raw_wav(
    path: Path, body: bytes, *, tag: int, bits: int, channels: int = 1, rate: int = RATE
) -> Path:
    """A RIFF/WAVE file written by hand: any tag, WAVE_FORMAT_EXTENSIBLE when tag is given so."""
    block = channels * ((bits + 7) // 8)
    fmt = struct.pack("<HHIIHH", tag, channels, rate, rate * block, block, bits)
    if tag == EXTENSIBLE:
        sub = struct.pack("<H", 1) + KSDATAFORMAT_TAIL  # PCM
        fmt += struct.pack("<HHI", 22, bits, (1 << channels) - 1) + sub
    chunks = b"fmt " + struct.pack("<I", len(fmt)) + fmt
    chunks += b"data" + struct.pack("<I", len(body)) + body
    path.write_bytes(b"RIFF" + struct.pack("<I", 4 + len(chunks)) + b"WAVE" + chunks)
    return path


Maker = Callable[[Path], Path]
FORMATS: dict[str, Maker] = {
    "pcm8": lambda p: stdlib_wav(p, (tone() * 127 + 128).astype(np.uint8).tobytes(), 1),
    "pcm16": lambda p: stdlib_wav(p, pcm16(tone()), 2),
    "pcm24": lambda p: stdlib_wav(p, int24(tone()), 3),
    "pcm32": lambda p: stdlib_wav(p, (tone() * 2147483647).astype("<i4").tobytes(), 4),
    "float32": lambda p: raw_wav(p, tone().astype("<f4").tobytes(), tag=3, bits=32),
    "float64": lambda p: raw_wav(p, tone().astype("<f8").tobytes(), tag=3, bits=64),
    "mulaw": lambda p: raw_wav(p, ulaw_encode(pcm16(tone())), tag=7, bits=8),
    "alaw": lambda p: raw_wav(p, alaw_encode(pcm16(tone())), tag=6, bits=8),
    "extensible24": lambda p: raw_wav(p, int24(tone()), tag=EXTENSIBLE, bits=24),
    "stereo16": lambda p: stdlib_wav(p, pcm16(np.repeat(tone(), 2)), 2, channels=2),
    "6ch24": lambda p: stdlib_wav(p, int24(np.repeat(tone(), 6)), 3, channels=6),
    "44k1_16": lambda p: stdlib_wav(p, pcm16(tone()), 2, rate=44100),
}


def half_scale_tone(pcm: bytes, rate: int) -> None:
    """Check that audio holds the test tone: its peak is about half scale."""
    peak = np.abs(to_int16(pcm).astype(np.float64)).max() / 32768
    assert 0.47 < peak < 0.53, peak


@pytest.mark.parametrize("kind", FORMATS)
def test_read_wav_reads_the_format_as_pcm16_mono(tmp_path: Path, kind: str) -> None:
    path = FORMATS[kind](tmp_path / f"{kind}.wav")
    audio = read_wav(path)
    assert audio.sample_rate == (44100 if kind.startswith("44k1") else RATE)
    assert audio.duration_s == pytest.approx(N / audio.sample_rate, abs=0.001)
    half_scale_tone(audio.pcm, audio.sample_rate)
    at_24k = read_wav(path, 24000)
    assert at_24k.sample_rate == 24000
    assert abs(at_24k.duration_s - audio.duration_s) < 0.01


def test_channels_are_averaged(tmp_path: Path) -> None:
    frames = np.tile(np.array([1000, 2000, 6000], dtype="<i2"), 100)
    path = stdlib_wav(tmp_path / "3ch.wav", frames.tobytes(), 2, channels=3)
    assert set(to_int16(read_wav(path).pcm).tolist()) == {3000}


def test_an_unusual_rate_is_converted_when_a_rate_is_asked_for(tmp_path: Path) -> None:
    path = stdlib_wav(tmp_path / "11k.wav", pcm16(tone()[:11025]), 2, rate=11025)
    with pytest.raises(AudioFormatError, match=r"11025 Hz.*sox .* -r 16000"):
        read_wav(path)
    audio = read_wav(path, 16000)
    assert audio.sample_rate == 16000 and abs(audio.duration_s - 1.0) < 0.01


# ---- the same files through both commands ----------------------------------------------------


@pytest.fixture
def transcribe_app(monkeypatch: pytest.MonkeyPatch) -> typer.Typer:
    """`voxrelay transcribe` whose STT is scripted to hear the test tone."""
    stt = ScriptedSTT([Heard("a tone", min_duration_s=0.9, check=half_scale_tone)])
    monkeypatch.setattr(speech_cli, "make_stt", lambda settings: stt)
    app = typer.Typer()
    speech_cli.register(app)
    app.callback()(lambda: None)
    return app


@pytest.fixture
def talk_app(monkeypatch: pytest.MonkeyPatch) -> Iterator[typer.Typer]:
    """`voxrelay talk` on the local backend, its models scripted to hear the test tone."""

    def scripted(settings: Settings, progress: object = None, *, speech: bool = True) -> object:
        assert speech
        vad = ScriptedVAD.from_spans([(0, 300)], total_ms=10_000)
        stt = ScriptedSTT([Heard("a tone", check=half_scale_tone)])
        stack = SpeechStack(stt=stt, tts=ScriptedTTS(), vad=lambda: vad)
        return assembly.LocalEngines(ScriptedChatModel([say("Nice tone.")]), stack)

    monkeypatch.setattr(assembly, "load_local_engines", scripted)
    monkeypatch.setenv("VOXRELAY_REALTIME_BACKEND", "local")
    get_settings.cache_clear()
    app = typer.Typer()
    talk_cli.register(app)
    app.callback()(lambda: None)
    yield app
    get_settings.cache_clear()


@pytest.mark.parametrize("kind", ["pcm8", "pcm24", "float32", "mulaw", "extensible24", "6ch24"])
def test_transcribe_and_talk_take_the_same_files(
    tmp_path: Path, kind: str, transcribe_app: typer.Typer, talk_app: typer.Typer
) -> None:
    path = str(FORMATS[kind](tmp_path / f"{kind}.wav"))
    result = runner.invoke(transcribe_app, ["transcribe", path])
    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == "a tone"
    result = runner.invoke(talk_app, ["talk", "--input", path, "--timeout", "30"])
    assert result.exit_code == 0, result.output
    assert "you ▸ a tone" in result.stdout and "Nice tone." in result.stdout


# ---- what neither command reads ---------------------------------------------------------------


MP3 = b"ID3\x04\x00\x00\x00\x00\x00\x00" + b"\xff\xfb\x90\x00" * 8


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (MP3, r"is not a WAV file \(it looks like MP3\); .*`ffmpeg -i .*` or `sox "),
        (b"\xff\xfb\x90\x00" * 8, r"it looks like MP3"),
        (b"OggS" + bytes(40), r"it looks like Ogg"),
        (b"fLaC" + bytes(40), r"it looks like FLAC"),
        (b"just some text", r"not a WAV file \(no RIFF/WAVE header\)"),
        (b"RIFF1234WAVEjunk", r"not a valid WAV file \(missing fmt or data chunk\)"),
    ],
)
def test_files_that_are_not_wav_say_how_to_convert_them(
    tmp_path: Path, body: bytes, message: str
) -> None:
    path = tmp_path / "in.wav"
    path.write_bytes(body)
    with pytest.raises(AudioFormatError, match=message):
        read_wav(path)


def test_unreadable_encodings_and_widths_say_what_is_read(tmp_path: Path) -> None:
    adpcm = raw_wav(tmp_path / "adpcm.wav", bytes(100), tag=2, bits=4)
    with pytest.raises(AudioFormatError, match=r"MS ADPCM.*PCM, float, μ-law or A-law.*sox"):
        read_wav(adpcm)
    wide = raw_wav(tmp_path / "48.wav", bytes(600), tag=1, bits=48)
    with pytest.raises(AudioFormatError, match=r"48-bit samples.*8/16/24/32-bit PCM"):
        read_wav(wide)
    empty = stdlib_wav(tmp_path / "empty.wav", b"", 2)
    with pytest.raises(AudioFormatError, match="no audio samples"):
        read_wav(empty)


def test_both_commands_refuse_an_mp3_the_same_way(
    tmp_path: Path, transcribe_app: typer.Typer, talk_app: typer.Typer
) -> None:
    path = tmp_path / "song.mp3"
    path.write_bytes(MP3)
    for app, args in ((transcribe_app, ["transcribe"]), (talk_app, ["talk", "--input"])):
        result = runner.invoke(app, [*args, str(path)])
        assert result.exit_code == 1
        flat = " ".join(result.output.split())
        assert "is not a WAV file (it looks like MP3)" in flat and "ffmpeg -i" in flat
