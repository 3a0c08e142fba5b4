"""Speech benchmarks: STT and TTS real-time factor, TTS first-chunk latency, VAD cost per frame.

Run `python benchmarks/speech.py` (after `make setup`). Progress goes to stderr; the tables
go to stdout as Markdown, ready for docs/speech.md. Audio is made with Piper at run time.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import numpy as np
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from voxrelay.audio import frames, resample, silence
from voxrelay.speech.stt import WhisperSTT
from voxrelay.speech.tts import PiperTTS
from voxrelay.speech.vad import EnergyVAD, SileroVAD, WebRtcVAD

console = Console(stderr=True)

SENTENCES = [
    "Hello.",
    "Yes, please.",
    "Can you check my order?",
    "My phone number is 555 867 5309.",
    "I would like to book a table for four people tomorrow evening.",
    "The package was supposed to arrive on Monday, but it still has not shown up.",
    "Could you tell me the opening hours of the store on Baker Street in London?",
    "I have been a customer for six years and I have never had a problem like this before.",
    "Please transfer me to someone in billing, because I was charged twice for the same "
    "pair of boots last week.",
    "After the last update the app keeps logging me out, and I cannot see my saved cards, "
    "my past orders, or the tracking number for the snowboard I bought in March.",
]
BUCKETS = [(0.5, 3.0), (3.0, 5.0), (5.0, 8.0), (8.0, 15.0)]


def pct(values: list[float], q: float) -> float:
    """The q-th percentile."""
    return float(np.percentile(np.asarray(values), q))


def table(headers: list[str], rows: list[list[str]]) -> str:
    """A Markdown table."""
    lines = ["| " + " | ".join(headers) + " |", "|" + "|".join("---" for _ in headers) + "|"]
    return "\n".join([*lines, *("| " + " | ".join(r) + " |" for r in rows)])


@contextmanager
def progress(label: str, total: int) -> Iterator[Callable[[], None]]:
    """A progress bar on stderr; yields a function that advances it."""
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn())
    with Progress(*columns, TimeElapsedColumn(), console=console, transient=False) as bar:
        task = bar.add_task(label, total=total)
        yield lambda: bar.advance(task)


def utterances(tts: PiperTTS, per_bucket: int) -> dict[tuple[float, float], list[bytes]]:
    """16 kHz utterances whose lengths fill each bucket, made by joining Piper sentences."""
    clips = [resample(tts.speak_sync(s), 22050, 16000) for s in SENTENCES]
    out: dict[tuple[float, float], list[bytes]] = {b: [] for b in BUCKETS}
    rng = np.random.default_rng(7)
    with progress("making test speech", per_bucket * len(BUCKETS)) as step:
        for lo, hi in BUCKETS:
            while len(out[(lo, hi)]) < per_bucket:
                audio = b""
                for i in rng.permutation(len(clips)):
                    piece = clips[i] + silence(250, 16000)
                    if (len(audio) + len(piece)) / 32000 <= hi:
                        audio += piece
                    if len(audio) / 32000 >= lo:
                        break
                if lo <= len(audio) / 32000 <= hi:
                    out[(lo, hi)].append(audio)
                    step()
    return out


def bench_stt(clips: dict[tuple[float, float], list[bytes]]) -> str:
    """RTF and latency of local Whisper per utterance length, short and full windows."""
    rows = []
    for short in (True, False):
        stt = WhisperSTT.from_settings()
        stt.short_window = short
        stt.load()
        mode = "short window" if short else "30 s window"
        total = sum(len(v) for v in clips.values())
        with progress(f"STT ({mode})", total) as step:
            for (lo, hi), items in clips.items():
                rtf, lat = [], []
                for pcm in items:
                    t0 = time.perf_counter()
                    stt.transcribe_sync(pcm, 16000)
                    elapsed = time.perf_counter() - t0
                    rtf.append(elapsed / (len(pcm) / 32000))
                    lat.append(elapsed * 1000)
                    step()
                rows.append(_stt_row(mode, lo, hi, items, rtf, lat))
        if short:
            console.print(f"short-window loop fallbacks: {stt.fallbacks} of {total}")
    headers = ["window", "utterance", "n", "RTF p50", "RTF p95", "latency p50", "latency p95"]
    return table(headers, rows)


def _stt_row(mode: str, lo: float, hi: float, items: list[bytes], rtf: list[float],
             lat: list[float]) -> list[str]:  # fmt: skip
    return [
        mode, f"{lo:g}-{hi:g} s", str(len(items)), f"{pct(rtf, 50):.3f}", f"{pct(rtf, 95):.3f}",
        f"{pct(lat, 50):.0f} ms", f"{pct(lat, 95):.0f} ms",
    ]  # fmt: skip


async def _first_chunk(tts: PiperTTS, text: str) -> tuple[float, float, float]:
    """(first-chunk latency s, total time s, audio s) for one text."""
    t0 = time.perf_counter()
    first = None
    audio = 0.0
    async for chunk in tts.synthesize(text):
        if first is None:
            first = time.perf_counter() - t0
        audio += chunk.duration_s
    return first or 0.0, time.perf_counter() - t0, audio


def bench_tts(tts: PiperTTS, repeats: int) -> str:
    """Piper first-chunk latency and RTF for short, medium and long replies."""
    replies = {
        "one short sentence": [SENTENCES[2]],
        "one long sentence": [SENTENCES[8]],
        "three sentences": [SENTENCES[2], SENTENCES[5], SENTENCES[7]],
    }
    rows = []
    with progress("TTS", repeats * len(replies)) as step:
        for name, parts in replies.items():
            first, rtf = [], []
            for _ in range(repeats):
                f, total, audio = asyncio.run(_first_chunk(tts, " ".join(parts)))
                first.append(f * 1000)
                rtf.append(total / audio)
                step()
            rows.append([
                name, str(repeats), f"{pct(first, 50):.0f} ms", f"{pct(first, 95):.0f} ms",
                f"{pct(rtf, 50):.3f}", f"{pct(rtf, 95):.3f}",
            ])  # fmt: skip
    headers = ["reply", "n", "first chunk p50", "first chunk p95", "RTF p50", "RTF p95"]
    return table(headers, rows)


def bench_vad(speech: bytes) -> str:
    """Cost per frame of each VAD over real speech with pauses."""
    rows = []
    vads = {"silero": SileroVAD(), "webrtc": WebRtcVAD(), "energy": EnergyVAD()}
    with progress("VAD", len(vads)) as step:
        for name, vad in vads.items():
            frame_ms = vad.frame_samples * 1000 / vad.sample_rate
            cost = []
            for frame in frames(speech, 16000, frame_ms):
                t0 = time.perf_counter()
                vad.probability(frame)
                cost.append((time.perf_counter() - t0) * 1000)
            rows.append([
                name, f"{frame_ms:g} ms", str(len(cost)), f"{pct(cost, 50):.3f} ms",
                f"{pct(cost, 95):.3f} ms", f"{np.mean(cost) / frame_ms:.4f}",
            ])  # fmt: skip
            step()
    headers = ["VAD", "frame", "frames", "cost p50", "cost p95", "RTF"]
    return table(headers, rows)


def main() -> None:
    """Run every benchmark and print the tables."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--per-bucket", type=int, default=6, help="STT utterances per length")
    parser.add_argument("--repeats", type=int, default=10, help="TTS runs per reply")
    args = parser.parse_args()
    os.environ["HF_HUB_OFFLINE"] = "1"
    console.print("loading Piper ...")
    tts = PiperTTS("joe")
    tts.load()
    clips = utterances(tts, args.per_bucket)
    vad_audio = b"".join(clips[BUCKETS[2]][:3])
    sections = [
        ("STT: local Whisper base (int8, 2 threads, beam 1)", bench_stt(clips)),
        ("TTS: local Piper (en_US-joe-medium, 22.05 kHz)", bench_tts(tts, args.repeats)),
        ("VAD: cost per frame", bench_vad(vad_audio)),
    ]
    cpu = f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs"
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    print(f"Measured with `python benchmarks/speech.py` on {cpu}, Python {sys.version.split()[0]}")
    print(f"(load average at the end: {load}; other work on the machine inflates these numbers).")
    for title, body in sections:
        print(f"\n**{title}**\n\n{body}")


if __name__ == "__main__":
    main()
