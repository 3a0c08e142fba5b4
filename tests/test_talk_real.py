"""End to end on the real local models: a spoken return request reaches returns, who answers aloud.

Piper speaks the request into request.wav; `voxrelay talk` runs in a child process (Silero,
Whisper, llama.cpp and Piper in one process, as a user runs it); Whisper then transcribes
reply.wav and must hear the words the returns agent said.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from voxrelay.audio import read_wav, rms, write_wav
from voxrelay.config import get_settings
from voxrelay.models import cache
from voxrelay.speech.wer import normalize, word_error_rate

pytestmark = pytest.mark.real

REQUEST = "Hi, I want to return the snowboard I bought last week."


def test_spoken_return_request_is_answered_aloud_by_returns(tmp_path: Path):
    from voxrelay.speech.stt import WhisperSTT
    from voxrelay.speech.tts import PiperTTS

    settings = get_settings()
    cache.require(settings.llm, settings.model_dir)  # prepared by `make setup`
    request = write_wav(tmp_path / "request.wav", PiperTTS().speak_sync(REQUEST), 22050)
    reply = tmp_path / "reply.wav"
    voxrelay = Path(sys.executable).with_name("voxrelay")
    assert voxrelay.exists(), "the voxrelay script is not installed; run `make setup`"
    args = ["--scenario", "customer_service_retail", "--input", str(request)]
    proc = subprocess.run(
        [voxrelay, "talk", *args, "--output", str(reply), "--json"],
        capture_output=True,
        text=True,
        timeout=900,
        env={**os.environ, "COLUMNS": "200"},
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    events = [json.loads(line) for line in proc.stdout.splitlines() if line.startswith("{")]
    print(*(e for e in events if e["type"] != "assistant_audio"), sep="\n")

    user = next(e for e in events if e["type"] == "user_message")
    assert word_error_rate([REQUEST], [user["text"]]) <= 0.2  # Whisper heard the caller
    changes = [e for e in events if e["type"] == "agent_changed"]
    assert changes and changes[0]["to"] == "returns"
    assert events[-1]["type"] == "turn_done"
    said = " ".join(
        e["text"] for e in events if e["type"] == "assistant_message" and e["agent"] == "returns"
    )
    assert said.strip(), "the returns agent said nothing"
    spoken_ms = sum(e["duration_ms"] for e in events if e["type"] == "assistant_audio")

    audio = read_wav(reply)
    assert audio.sample_rate == 24000
    assert audio.duration_s > 0.3 and rms(audio.pcm) > 0.01  # there is speech in it
    assert abs(audio.duration_s * 1000 - spoken_ms) <= 50  # all of it, nothing else
    heard = WhisperSTT.from_settings(settings).transcribe_sync(audio.pcm, audio.sample_rate).text
    print(f"returns said: {said!r}\nWhisper heard in reply.wav: {heard!r}")
    said_words, heard_words = set(normalize(said)), set(normalize(heard))
    overlap = len(said_words & heard_words) / max(1, len(said_words))
    assert overlap >= 0.6 or word_error_rate([said], [heard]) <= 0.4, (said, heard)
