"""Speech: VAD, endpointing, STT and TTS interfaces with local and HTTP backends.

Heavy engines (faster-whisper, Piper, Silero) load lazily, on first use or on `load()`.
"""

from voxrelay.speech.base import STT, TTS, VAD, AudioChunk, Segment, Transcript
from voxrelay.speech.sentences import SentenceChunker, split_sentences
from voxrelay.speech.stt import OpenAISTT, WhisperSTT, make_stt
from voxrelay.speech.tts import OPENAI_VOICES, OpenAITTS, PiperTTS, SentenceTTS, VoiceMap, make_tts
from voxrelay.speech.turns import (
    SpeechStarted,
    SpeechStopped,
    TurnConfig,
    TurnDetector,
    TurnEvent,
)
from voxrelay.speech.vad import EnergyVAD, SileroVAD, WebRtcVAD, make_vad

__all__ = [
    "OPENAI_VOICES",
    "STT",
    "TTS",
    "VAD",
    "AudioChunk",
    "EnergyVAD",
    "OpenAISTT",
    "OpenAITTS",
    "PiperTTS",
    "Segment",
    "SentenceChunker",
    "SentenceTTS",
    "SileroVAD",
    "SpeechStarted",
    "SpeechStopped",
    "Transcript",
    "TurnConfig",
    "TurnDetector",
    "TurnEvent",
    "VoiceMap",
    "WebRtcVAD",
    "WhisperSTT",
    "make_stt",
    "make_tts",
    "make_vad",
    "split_sentences",
]
