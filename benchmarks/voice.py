"""Voice-to-voice latency of the local engine, per stage, from generated speech.

Run: `python benchmarks/voice.py [--turns 12] [--fast]`.

Each turn is a question spoken by Piper, streamed into a fresh engine session in real time
(20 ms chunks) with the local Silero VAD, Whisper, LLM and Piper. The true end of speech is
known to the sample, so "end to end" runs from it to the first output audio delta; it is
reported with and without the endpointing silence (`server_vad` silence_duration_ms).
Progress goes to stderr; a Markdown table of p50/p95 per stage goes to stdout.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import time
from dataclasses import dataclass

import numpy as np
from llm import QUESTIONS, log, pct  # the sibling benchmark: same questions and helpers

from voxrelay.audio.pcm import SAMPLE_WIDTH, silence, to_int16
from voxrelay.audio.resample import resample
from voxrelay.config import get_settings
from voxrelay.engine import Engine
from voxrelay.engine.speech import SpeechStack, load_speech_stack
from voxrelay.engine.trace import TurnTrace
from voxrelay.models import load_chat_model
from voxrelay.models.base import ChatModel
from voxrelay.realtime import events as ev
from voxrelay.realtime.types import (
    AudioConfig,
    AudioFormat,
    AudioInput,
    AudioOutput,
    SessionConfig,
    TurnDetection,
)
from voxrelay.speech.tts import PiperTTS

RATE = 24000
CHUNK_MS = 20
SILENCE_MS = 500
INSTRUCTIONS = (
    "You are the voice assistant of Snowy Peak Boards, a snowboard shop. "
    "Answer in one or two short, friendly sentences."
)
STAGES = [
    ("endpoint", "endpoint (silence + VAD)"),
    ("stt", "STT final"),
    ("llm_first_token", "LLM first token"),
    ("first_sentence", "first sentence ready"),
    ("tts_first_audio", "TTS first audio"),
    ("stop_to_first_audio", "end to end, without endpointing"),
    ("speech_end_to_first_audio", "end to end, from true end of speech"),
]


@dataclass(frozen=True)
class Utterance:
    """A spoken question at 24 kHz and the sample where its speech really ends."""

    text: str
    pcm: bytes
    speech_end_ms: float


def speak(tts: PiperTTS, text: str) -> Utterance:
    """Piper speech with 300 ms of lead-in and 1.5 s of trailing silence."""
    voice = resample(tts.speak_sync(text), tts.sample_rate, RATE)
    samples = to_int16(voice)
    loud = np.nonzero(np.abs(samples) > 300)[0]
    end = int(loud[-1]) + 1 if loud.size else len(samples)
    pcm = silence(300, RATE) + voice[: end * SAMPLE_WIDTH] + silence(1500, RATE)
    return Utterance(text, pcm, 300 + end * 1000 / RATE)


def session_config() -> SessionConfig:
    """Audio in and out at 24 kHz PCM16, server VAD, no tools."""
    pcm = AudioFormat(type="audio/pcm", rate=RATE)
    return SessionConfig(
        instructions=INSTRUCTIONS,
        output_modalities=["audio"],
        audio=AudioConfig(
            input=AudioInput(
                format=pcm, turn_detection=TurnDetection(silence_duration_ms=SILENCE_MS)
            ),
            output=AudioOutput(format=pcm, voice="alloy"),
        ),
    )


async def run_turn(chat: ChatModel, speech: SpeechStack, u: Utterance, fast: bool) -> TurnTrace:
    """Stream one utterance into a fresh session; return its trace once a reply is done."""
    engine = Engine(chat, speech=speech)
    traces: list[TurnTrace] = []
    engine.add_trace_listener(traces.append)
    await engine.start()
    await engine.handle(ev.SessionUpdate(session=session_config()))
    events = engine.events()
    size = RATE * CHUNK_MS // 1000 * SAMPLE_WIDTH
    start = time.perf_counter()
    for n, i in enumerate(range(0, len(u.pcm), size)):
        audio = base64.b64encode(u.pcm[i : i + size]).decode()
        await engine.handle(ev.InputAudioBufferAppend(audio=audio))
        if not fast:  # real time: the next chunk is due at start + (n + 1) * CHUNK_MS
            await asyncio.sleep(max(0.0, start + (n + 1) * CHUNK_MS / 1000 - time.perf_counter()))
    async with asyncio.timeout(120):
        async for event in events:
            if isinstance(event, ev.ResponseDone):
                break
    await engine.close()
    if not traces:
        raise RuntimeError(f"no spoken reply for {u.text!r}")
    return traces[0]


async def bench(turns: int, fast: bool) -> dict[str, list[float]]:
    """Run `turns` measured turns after one warm-up turn."""
    settings = get_settings()
    log(f"loading the LLM ({settings.llm}) and the speech stack ...")
    chat = load_chat_model(settings)
    speech = load_speech_stack(settings)
    tts = speech.tts if isinstance(speech.tts, PiperTTS) else PiperTTS()
    log("generating the spoken questions with Piper ...")
    spoken = [speak(tts, q) for q in QUESTIONS]
    results: dict[str, list[float]] = {key: [] for key, _ in STAGES}
    for n in range(turns + 1):
        u = spoken[n % len(spoken)]
        trace = await run_turn(chat, speech, u, fast)
        stages = trace.stages_ms()
        label = "warm-up" if n == 0 else f"turn {n}/{turns}"
        log(f"  {label}: {u.text!r} → stop-to-audio {stages.get('stop_to_first_audio', 0):.0f} ms")
        if n == 0:
            continue
        if trace.speech_end_ms is not None:  # the VAD's refined end vs the true end
            stages["vad_end_error"] = trace.speech_end_ms - u.speech_end_ms
        for key in results:
            if key in stages:
                results[key].append(stages[key])
    return results


def table(results: dict[str, list[float]], fast: bool) -> str:
    """p50/p95 per stage as a Markdown table."""
    mode = "pushed as fast as possible" if fast else "streamed in real time"
    lines = [
        f"Audio {mode}; server_vad silence_duration_ms={SILENCE_MS}.",
        "",
        "| stage | p50 ms | p95 ms | n |",
        "|---|---:|---:|---:|",
    ]
    for key, label in STAGES:
        values = results[key]
        if values:
            lines.append(
                f"| {label} | {pct(values, 0.5):.0f} | {pct(values, 0.95):.0f} | {len(values)} |"
            )
    return "\n".join(lines)


def main() -> None:
    """Parse arguments, run, print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--turns", type=int, default=12, help="measured turns (plus a warm-up)")
    parser.add_argument(
        "--fast", action="store_true", help="push audio as fast as possible (no real-time pacing)"
    )
    args = parser.parse_args()
    results = asyncio.run(bench(args.turns, args.fast))
    print(table(results, args.fast))


if __name__ == "__main__":
    main()
