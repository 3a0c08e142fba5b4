"""Speech to text: faster-whisper locally, `/v1/audio/transcriptions` remotely."""

from __future__ import annotations

import asyncio
import logging
import os
import threading
from pathlib import Path
from typing import Any

import httpx

from voxrelay.audio.pcm import Float32Array, check_rate, duration_s, int16_to_float, to_int16
from voxrelay.audio.resample import resample
from voxrelay.audio.wav import wav_bytes
from voxrelay.config import Settings, get_settings
from voxrelay.errors import ConfigError, SpeechError
from voxrelay.speech.base import STT, Segment, Transcript
from voxrelay.speech.http import SpeechHTTP
from voxrelay.speech.whisper import MAX_WINDOW_S, decode_window, looks_looped, window_frames

log = logging.getLogger(__name__)

WHISPER_RATE = 16000


def check_audio(pcm: bytes, sample_rate: int) -> None:
    """Raise AudioFormatError for an empty or malformed buffer or an unsupported rate."""
    check_rate(sample_rate)
    to_int16(pcm)


class WhisperSTT:
    """Local faster-whisper (CTranslate2, int8, CPU) from the model cache; no hub access."""

    def __init__(
        self,
        model_dir: Path | None = None,
        *,
        language: str | None = "en",
        threads: int = 2,
        beam_size: int = 1,
        short_window: bool = True,
        pad_s: float = 2.0,
    ) -> None:
        self.model_dir = model_dir
        self.short_window = short_window
        """Encode only the utterance plus `pad_s` of silence (needs a language); see whisper.py."""
        self.pad_s = pad_s
        self.language = language
        self.threads = threads
        self.beam_size = beam_size
        self.fallbacks = 0
        """Short-window decodes that looked like loops and were redone with the full window."""
        self._model: Any = None
        self._lock = threading.Lock()

    @classmethod
    def from_settings(cls, settings: Settings | None = None) -> WhisperSTT:
        """A local STT configured from the settings (model, language, threads)."""
        from voxrelay.models.cache import require

        s = settings or get_settings()
        path = require(s.stt_model, s.model_dir).parent
        return cls(path, language=s.stt_language, threads=s.stt_threads)

    def load(self) -> None:
        """Load and warm up the model now (blocking) so the first transcription is fast."""
        self._whisper()
        self.transcribe_sync(bytes(WHISPER_RATE), WHISPER_RATE)

    def _whisper(self) -> Any:
        with self._lock:
            if self._model is None:
                self._model = _load_whisper(self._resolve_dir(), self.threads)
            return self._model

    def _resolve_dir(self) -> Path:
        if self.model_dir is not None:
            return self.model_dir
        from voxrelay.models.cache import require

        return require(get_settings().stt_model).parent

    async def transcribe(
        self, pcm: bytes, sample_rate: int, *, language: str | None = None, prompt: str = ""
    ) -> Transcript:
        """Transcribe PCM16 audio in a worker thread."""
        check_audio(pcm, sample_rate)
        return await asyncio.to_thread(self.transcribe_sync, pcm, sample_rate, language, prompt)

    def transcribe_sync(
        self, pcm: bytes, sample_rate: int, language: str | None = None, prompt: str = ""
    ) -> Transcript:
        """Blocking transcription (for the CLI and benchmarks)."""
        check_audio(pcm, sample_rate)
        audio = int16_to_float(to_int16(resample(pcm, sample_rate, WHISPER_RATE)))
        lang = language or self.language
        model = self._whisper()
        with self._lock:
            segments = self._decode(model, audio, lang, prompt)
        text = " ".join(s.text for s in segments if s.text).strip()
        return Transcript(text, segments, lang, duration_s(pcm, sample_rate))

    def _decode(
        self, model: Any, audio: Float32Array, language: str | None, prompt: str
    ) -> tuple[Segment, ...]:
        seconds = len(audio) / WHISPER_RATE
        if self.short_window and language and seconds + self.pad_s <= MAX_WINDOW_S:
            frames = window_frames(len(audio), self.pad_s)
            segments = decode_window(model, audio, language, frames, prompt)
            if not looks_looped(segments, seconds):
                return segments
            self.fallbacks += 1
            log.debug("short-window decode looked like a loop; retrying with 30 s: %s", segments)
        return self._decode_full(model, audio, language, prompt)

    def _decode_full(
        self, model: Any, audio: Float32Array, language: str | None, prompt: str
    ) -> tuple[Segment, ...]:
        raw, _info = model.transcribe(
            audio,
            language=language,
            beam_size=self.beam_size,
            condition_on_previous_text=False,
            initial_prompt=prompt or None,
            vad_filter=False,
        )
        return tuple(Segment(s.start, s.end, s.text.strip()) for s in raw)


def _load_whisper(path: Path, threads: int) -> Any:
    """Load CTranslate2 Whisper from a local directory only."""
    os.environ["HF_HUB_OFFLINE"] = "1"
    try:
        from faster_whisper import WhisperModel
    except ImportError:
        raise ConfigError(
            "local STT needs `faster-whisper`: pip install 'voxrelay[speech]'"
        ) from None
    return WhisperModel(
        str(path), device="cpu", compute_type="int8", cpu_threads=threads, local_files_only=True
    )


class OpenAISTT:
    """An OpenAI-compatible `/v1/audio/transcriptions` client (sends a WAV per utterance)."""

    def __init__(
        self,
        *,
        model: str | None = None,
        language: str | None = None,
        http: SpeechHTTP | None = None,
        settings: Settings | None = None,
    ) -> None:
        s = settings or get_settings()
        self.model = model or s.openai_stt_model
        self.language = language if language is not None else s.stt_language
        self.http = http or SpeechHTTP(settings=s)

    async def transcribe(
        self, pcm: bytes, sample_rate: int, *, language: str | None = None, prompt: str = ""
    ) -> Transcript:
        """Upload the audio as WAV and parse the (verbose) JSON reply."""
        check_audio(pcm, sample_rate)
        data = {"model": self.model, "response_format": self._format()}
        if lang := language or self.language:
            data["language"] = lang
        if prompt:
            data["prompt"] = prompt
        files = {"file": ("audio.wav", wav_bytes(pcm, sample_rate), "audio/wav")}
        response = await self.http.post("/audio/transcriptions", data=data, files=files)
        return _parse_transcription(response, duration_s(pcm, sample_rate), lang)

    def _format(self) -> str:
        """`verbose_json` (with segments) where the model supports it, else `json`."""
        return "verbose_json" if self.model.startswith("whisper") else "json"

    async def aclose(self) -> None:
        """Close the HTTP client."""
        await self.http.aclose()


def _parse_transcription(
    response: httpx.Response, seconds: float, language: str | None
) -> Transcript:
    try:
        body = response.json()
        text = str(body["text"]).strip()
    except (ValueError, KeyError, TypeError):
        raise SpeechError(
            f"transcription reply is not the expected JSON: {response.text[:200]!r}"
        ) from None
    segments = tuple(
        Segment(float(s["start"]), float(s["end"]), str(s["text"]).strip())
        for s in body.get("segments") or []
    ) or ((Segment(0.0, seconds, text),) if text else ())
    return Transcript(text, segments, body.get("language") or language, seconds)


def make_stt(settings: Settings | None = None, *, client: httpx.AsyncClient | None = None) -> STT:
    """The STT the settings ask for."""
    s = settings or get_settings()
    if s.stt_backend == "openai":
        return OpenAISTT(settings=s, http=SpeechHTTP(client=client, settings=s))
    return WhisperSTT.from_settings(s)
