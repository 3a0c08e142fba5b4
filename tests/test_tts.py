"""TTS: sentence streaming, voice mapping, Piper (real), the HTTP client against a mock."""

from __future__ import annotations

import json

import httpx
import pytest

from voxrelay.audio import rms
from voxrelay.errors import SpeechError, UnknownVoiceError
from voxrelay.speech.base import TTS
from voxrelay.speech.http import SpeechHTTP
from voxrelay.speech.tts import OpenAITTS, PiperTTS, SentenceTTS, VoiceMap


class RecordingTTS(SentenceTTS):
    """A SentenceTTS whose sentences are 10 ms of tone; it records when each is made."""

    sample_rate = 16000

    def __init__(self) -> None:
        super().__init__(VoiceMap({"alloy": "a", "joe": "j"}, "alloy"))
        self.made: list[tuple[str, str]] = []

    async def _speak(self, sentence: str, voice: str) -> bytes:
        self.made.append((sentence, voice))
        return b"\x10\x00" * 160


async def test_first_chunk_arrives_before_later_sentences_are_made():
    """Streaming by sentence: when chunk 1 is out, sentence 2 has not been synthesized."""
    tts = RecordingTTS()
    stream = tts.synthesize("First one. Second one! Third?")
    first = await anext(stream)
    assert first.text == "First one."
    assert tts.made == [("First one.", "a")]
    rest = [c.text async for c in stream]
    assert rest == ["Second one!", "Third?"]
    assert len(tts.made) == 3


async def test_unknown_voice_fails_before_any_audio():
    """An unknown voice raises at the call, naming the choices."""
    tts = RecordingTTS()
    with pytest.raises(UnknownVoiceError, match="unknown voice 'bob'; choose one of: alloy, joe"):
        tts.synthesize("Hi.", voice="bob")
    assert tts.made == []


def test_voice_map_defaults_and_case():
    """None means the default voice; names are case-insensitive; a bad default is refused."""
    voices = VoiceMap({"Alloy": "joe"}, "alloy")
    assert voices.resolve(None) == voices.resolve("ALLOY") == "joe"
    with pytest.raises(UnknownVoiceError):
        VoiceMap({"alloy": "joe"}, "nova")


async def test_empty_text_yields_nothing():
    """Nothing to say, no chunks."""
    assert [c async for c in RecordingTTS().synthesize("   ")] == []


@pytest.mark.real
async def test_piper_streams_one_chunk_per_sentence():
    """Piper speaks each sentence at 22.05 kHz with audible audio; OpenAI voice names map."""
    from speech_fixtures import piper

    tts = piper()
    assert isinstance(tts, TTS)
    chunks = [c async for c in tts.synthesize("Hello there. How are you today?", voice="alloy")]
    assert [c.text for c in chunks] == ["Hello there.", "How are you today?"]
    for c in chunks:
        assert c.sample_rate == 22050
        assert 0.3 < c.duration_s < 4
        assert rms(c.pcm) > 0.02
    with pytest.raises(UnknownVoiceError, match="joe"):
        tts.synthesize("Hi.", voice="bob")


# --- OpenAI-compatible HTTP ---------------------------------------------------------------


def client(handler) -> SpeechHTTP:
    """A SpeechHTTP over an httpx MockTransport."""
    mock = httpx.AsyncClient(transport=httpx.MockTransport(handler))
    return SpeechHTTP("http://speech.test/v1", "sk-test", client=mock)


async def test_http_tts_posts_one_request_per_sentence():
    """Each sentence is one /audio/speech request for raw PCM in the mapped voice."""
    bodies = []

    def handler(request: httpx.Request) -> httpx.Response:
        assert request.url.path == "/v1/audio/speech"
        bodies.append(json.loads(request.read()))
        return httpx.Response(200, content=b"\x01\x00" * 2400 + b"\x07")

    tts = OpenAITTS("alloy", model="tts-1", http=client(handler))
    chunks = [c async for c in tts.synthesize("One. Two.", voice="nova")]
    assert [b["input"] for b in bodies] == ["One.", "Two."]
    assert {(b["voice"], b["model"], b["response_format"]) for b in bodies} == {
        ("nova", "tts-1", "pcm")
    }
    assert [c.duration_s for c in chunks] == [0.1, 0.1]  # odd trailing byte dropped


async def test_http_tts_custom_voices_and_errors():
    """A custom voice list is enforced; server errors become SpeechError."""

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(500, json={"error": {"message": "boom"}})

    tts = OpenAITTS("af_bella", voices={"af_bella": "af_bella"}, http=client(handler))
    with pytest.raises(UnknownVoiceError):
        tts.synthesize("Hi.", voice="alloy")
    with pytest.raises(SpeechError, match="answered 500: boom") as info:
        await anext(tts.synthesize("Hi."))
    assert info.value.retryable


@pytest.mark.real
def test_piper_unknown_default_voice_is_refused():
    """A bad configured default fails when the TTS is built (needs the Piper voice installed)."""
    with pytest.raises(UnknownVoiceError, match="alloy"):
        PiperTTS("robot")
