"""STT: local Whisper round trip (real), the HTTP client against a mock server, bad input."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest

from voxrelay.audio import read_wav, silence
from voxrelay.config import Settings
from voxrelay.errors import AudioFormatError, ModelNotFoundError, SpeechError
from voxrelay.speech.base import STT
from voxrelay.speech.http import SpeechHTTP
from voxrelay.speech.stt import OpenAISTT, WhisperSTT
from voxrelay.speech.wer import normalize, word_error_rate

ROUND_TRIP = [
    "My name is Alice Johnson and I live in Boston.",
    "Please call me back at 555 867 5309.",
    "The meeting is on March 14 at noon.",
    "I was born on July 4, 1990.",
    "Your order number is 4 8 2 1 and it is ready for pickup.",
    "Robert Smith will arrive on Tuesday morning.",
    "The total comes to 42 dollars and 15 cents.",
    "We have 3 rooms available for 2 nights.",
    "Send the package to 221 Baker Street in London.",
    "Her flight leaves at 7 in the evening on Friday, June 21.",
    "Maria and David are flying to Chicago next week.",
    "The temperature today is 72 degrees.",
]


@pytest.fixture(scope="module")
def whisper() -> WhisperSTT:
    """The local STT, loaded once (needs `voxrelay models --prepare`)."""
    stt = WhisperSTT.from_settings()
    stt.load()
    return stt


@pytest.mark.real
async def test_tts_to_stt_round_trip_word_error_at_most_10_percent(whisper):
    """Piper speaks 12 sentences (names, numbers, dates, a phone number); Whisper hears them."""
    from speech_fixtures import piper

    heard = []
    for sentence in ROUND_TRIP:
        pcm = piper().speak_sync(sentence)
        heard.append((await whisper.transcribe(pcm, 22050)).text)
    wer = word_error_rate(ROUND_TRIP, heard)
    print(f"round-trip WER {wer:.3f}", *zip(ROUND_TRIP, heard, strict=True), sep="\n")
    assert wer <= 0.10


@pytest.mark.real
async def test_transcript_has_timed_segments(whisper):
    """Two sentences with a pause: segments are ordered, inside the audio, and cover the text."""
    from speech_fixtures import speech

    pcm = speech("Good morning.") + silence(800, 16000) + speech("How can I help you today?")
    t = await whisper.transcribe(pcm, 16000, language="en")
    assert t.language == "en"
    assert t.duration_s == pytest.approx(len(pcm) / 32000)
    assert t.segments
    assert all(0 <= s.start_s < s.end_s <= t.duration_s + 0.01 for s in t.segments)
    assert [s.start_s for s in t.segments] == sorted(s.start_s for s in t.segments)
    assert normalize(" ".join(s.text for s in t.segments)) == normalize(t.text)
    assert "help" in normalize(t.text)


@pytest.mark.real
async def test_silence_gives_an_empty_or_short_transcript(whisper):
    """Two seconds of silence do not produce a sentence."""
    t = await whisper.transcribe(silence(2000, 16000), 16000)
    assert len(t.text.split()) <= 2


@pytest.mark.parametrize(
    ("pcm", "rate", "match"),
    [
        (b"", 16000, "empty"),
        (b"\x00\x01\x02", 16000, "even number of bytes"),
        (bytes(320), 12000, "unsupported sample rate 12000"),
    ],
)
async def test_bad_audio_is_refused_before_any_model_work(pcm, rate, match):
    """Empty, odd-sized or wrong-rate audio fails with AudioFormatError."""
    stt = WhisperSTT(Path("/nonexistent"))
    with pytest.raises(AudioFormatError, match=match):
        await stt.transcribe(pcm, rate)


def test_missing_model_says_how_to_prepare(tmp_path: Path):
    """An empty model cache points at `voxrelay models --prepare`."""
    with pytest.raises(ModelNotFoundError, match="voxrelay models --prepare"):
        WhisperSTT.from_settings(Settings(model_dir=tmp_path))


def test_backends_follow_the_protocol():
    """Both STT backends are STTs."""
    assert isinstance(WhisperSTT(), STT)
    assert isinstance(OpenAISTT(http=SpeechHTTP("http://x")), STT)


# --- OpenAI-compatible HTTP ---------------------------------------------------------------


def client(handler) -> SpeechHTTP:
    """A SpeechHTTP over an httpx MockTransport."""
    mock = httpx.AsyncClient(transport=httpx.MockTransport(handler))
    return SpeechHTTP("http://speech.test/v1", "sk-test", client=mock)


async def test_http_stt_sends_wav_and_parses_segments():
    """The request is multipart with model, language and a WAV; verbose segments come back."""
    seen = {}

    def handler(request: httpx.Request) -> httpx.Response:
        seen["url"] = str(request.url)
        seen["auth"] = request.headers["authorization"]
        seen["body"] = request.read()
        return httpx.Response(
            200,
            json={
                "text": " Hello there. ",
                "language": "english",
                "segments": [{"start": 0.0, "end": 0.8, "text": " Hello there."}],
            },
        )

    stt = OpenAISTT(model="whisper-1", language="en", http=client(handler))
    t = await stt.transcribe(silence(1000, 24000), 24000, prompt="names: Alice")
    assert seen["url"] == "http://speech.test/v1/audio/transcriptions"
    assert seen["auth"] == "Bearer sk-test"
    body = seen["body"]
    for part in (b'name="model"', b"whisper-1", b'name="language"', b"verbose_json", b"Alice"):
        assert part in body
    wav = body[body.index(b"RIFF") :]
    assert read_wav(wav[: 44 + 48000]).sample_rate == 24000
    assert t.text == "Hello there."
    assert t.segments[0].end_s == 0.8
    assert t.duration_s == pytest.approx(1.0)


async def test_http_stt_plain_json_gets_one_segment():
    """Models without segments (gpt-4o-transcribe) get one segment spanning the audio."""

    bodies: list[bytes] = []

    def handler(request: httpx.Request) -> httpx.Response:
        bodies.append(request.read())
        return httpx.Response(200, json={"text": "Hi."})

    stt = OpenAISTT(model="gpt-4o-transcribe", http=client(handler))
    t = await stt.transcribe(silence(500, 16000), 16000)
    assert b'name="response_format"\r\n\r\njson\r\n' in bodies[0]  # not verbose_json
    assert [(s.start_s, s.end_s, s.text) for s in t.segments] == [(0.0, 0.5, "Hi.")]


@pytest.mark.parametrize(
    ("status", "retryable"), [(429, True), (503, True), (400, False), (401, False)]
)
async def test_http_stt_errors_are_translated(status, retryable):
    """HTTP errors become SpeechError with the server's message and a retryable flag."""

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(status, json={"error": {"message": "nope, try later"}})

    stt = OpenAISTT(http=client(handler))
    with pytest.raises(SpeechError, match=f"answered {status}: nope, try later") as info:
        await stt.transcribe(silence(100, 16000), 16000)
    assert info.value.retryable is retryable


async def test_http_stt_unreachable_and_bad_json():
    """A connection failure is retryable; a non-JSON reply is reported."""

    def down(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused")

    with pytest.raises(SpeechError, match="cannot reach") as info:
        await OpenAISTT(http=client(down)).transcribe(silence(100, 16000), 16000)
    assert info.value.retryable

    def garbage(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, text="<html>")

    with pytest.raises(SpeechError, match="not the expected JSON"):
        await OpenAISTT(http=client(garbage)).transcribe(silence(100, 16000), 16000)


def test_wer_normalizer_treats_spoken_and_written_numbers_alike():
    """Digits, number words, ordinals, money and phone formats compare equal."""
    assert normalize("Call 555-867-5309.") == normalize("call five five five 867 53 09")
    assert normalize("March 14th, 2024") == normalize("march fourteenth twenty twenty four")
    assert normalize("$42.15") == normalize("42 dollars and 15 cents")
    assert normalize("one hundred and five") == ["1", "0", "5"]
    assert word_error_rate(["a b c d"], ["a x c"]) == 0.5
    assert json.dumps(normalize("Don't stop!")) == '["dont", "stop"]'


class FakeTokenizer:
    """Ids below 100 are words; 100 + k is the timestamp k × 20 ms."""

    timestamp_begin = 100

    def decode(self, ids: list[int]) -> str:
        return " ".join(f"w{i}" for i in ids)


def test_segments_from_timestamp_tokens():
    """Timestamp pairs bound segments; an unclosed tail runs to the end of the audio."""
    from voxrelay.speech.whisper import segments_from_tokens

    ids = [100, 1, 2, 150, 150, 3, 200, 200, 4]
    segs = segments_from_tokens(ids, FakeTokenizer(), duration=5.0)
    assert [(s.start_s, s.end_s, s.text) for s in segs] == [
        (0.0, 1.0, "w1 w2"),
        (1.0, 2.0, "w3"),
        (2.0, 5.0, "w4"),
    ]


def test_segments_after_the_audio_are_dropped():
    """Text timed after the end of the audio is the model re-reading the silence padding."""
    from voxrelay.speech.whisper import segments_from_tokens

    ids = [100, 1, 140, 140, 1, 160, 160, 1]
    segs = segments_from_tokens(ids, FakeTokenizer(), duration=0.8)
    assert [(s.start_s, s.end_s, s.text) for s in segs] == [(0.0, 0.8, "w1")]


def test_loop_detection():
    """A repeated six-word stretch or too many words per second means a decoding loop."""
    from voxrelay.speech.base import Segment
    from voxrelay.speech.whisper import looks_looped

    once = "my name is alice johnson and i live in boston"
    assert not looks_looped((Segment(0, 3, once),), 3.0)
    assert looks_looped((Segment(0, 3, once + " " + once),), 6.0)
    assert looks_looped((Segment(0, 1, "a b c d e f g h"),), 1.0)
    assert looks_looped((Segment(0, 1, "Hello. Hello."),), 1.0)
    assert not looks_looped((Segment(0, 1, "Hi. Hi there."),), 1.0)


@pytest.mark.real
async def test_one_word_turns_do_not_loop(whisper):
    """One-word turns come back once, not as "Hello. Hello. Hello." (a tight-window loop)."""
    from speech_fixtures import piper

    for word in ["Hello.", "Yes.", "Okay.", "Thanks."] * 3:
        pcm = piper().speak_sync(word) + silence(250, 22050)
        assert normalize((await whisper.transcribe(pcm, 22050)).text) == normalize(word)
