"""Barge-in on the real local stack: Piper speech in, Silero, Whisper, Qwen and Piper out."""

from __future__ import annotations

import asyncio
import base64
import time
from collections.abc import AsyncIterator, Sequence

import numpy as np
import pytest

from voxrelay.audio.pcm import SAMPLE_WIDTH, silence, to_int16
from voxrelay.audio.resample import resample
from voxrelay.config import get_settings
from voxrelay.engine import Engine
from voxrelay.engine.speech import load_speech_stack
from voxrelay.models import cache, load_chat_model
from voxrelay.models.base import ChatModel, Message, ModelSettings, StreamItem, ToolChoice, ToolSpec
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

pytestmark = pytest.mark.real
RATE = 24000
CHUNK = RATE * 20 // 1000 * SAMPLE_WIDTH
STORYTELLER = (
    "You are a storyteller on a phone line. Whatever the caller asks first, tell a long story "
    "of at least ten sentences about a snowboarder. If the caller interrupts with a question, "
    "answer that question in one short sentence."
)


class Recording:
    """A ChatModel that keeps every prompt it was given."""

    def __init__(self, inner: ChatModel) -> None:
        self.inner = inner
        self.prompts: list[str] = []

    def stream(
        self,
        messages: Sequence[Message],
        tools: Sequence[ToolSpec] = (),
        tool_choice: ToolChoice = "auto",
        settings: ModelSettings | None = None,
    ) -> AsyncIterator[StreamItem]:
        self.prompts.append("\n".join(m.content for m in messages))
        return self.inner.stream(messages, tools, tool_choice, settings)


def spoken(tts: PiperTTS, text: str) -> bytes:
    """Piper speech at 24 kHz, trimmed, with 1 s of silence after it."""
    pcm = resample(tts.speak_sync(text), tts.sample_rate, RATE)
    loud = np.nonzero(np.abs(to_int16(pcm)) > 300)[0]
    return pcm[: (int(loud[-1]) + 1) * SAMPLE_WIDTH] + silence(1000, RATE)


async def stream(engine: Engine, pcm: bytes, realtime: bool) -> None:
    for i in range(0, len(pcm), CHUNK):
        audio = base64.b64encode(pcm[i : i + CHUNK]).decode()
        await engine.handle(ev.InputAudioBufferAppend(audio=audio))
        if realtime:
            await asyncio.sleep(0.02)


@pytest.fixture(scope="module")
def stack():
    settings = get_settings()
    cache.require(settings.llm, settings.model_dir)
    return load_chat_model(settings), load_speech_stack(settings)


async def test_barge_in_cancels_truncates_and_answers_the_interruption(stack):
    chat, speech = stack
    recording = Recording(chat)
    engine = Engine(recording, speech=speech)
    tts = speech.tts if isinstance(speech.tts, PiperTTS) else PiperTTS()
    await engine.start()
    pcm = AudioFormat(type="audio/pcm", rate=RATE)
    detection = TurnDetection(silence_duration_ms=500, interrupt_response=True)
    config = SessionConfig(
        instructions=STORYTELLER,
        output_modalities=["audio"],
        audio=AudioConfig(
            input=AudioInput(format=pcm, turn_detection=detection),
            output=AudioOutput(format=pcm),
        ),
    )
    await engine.handle(ev.SessionUpdate(session=config))
    events: list[ev.ServerEvent] = []
    first_audio = asyncio.Event()
    played_from: list[float] = []
    received_ms = 0.0

    async def client() -> None:
        """Plays audio in real time from its first delta; truncates at what was played."""
        nonlocal received_ms
        async for event in engine.events():
            events.append(event)
            if isinstance(event, ev.OutputAudioDelta):
                received_ms += len(base64.b64decode(event.delta)) / SAMPLE_WIDTH / RATE * 1000
                if not played_from:
                    played_from.append(time.perf_counter())
                    first_audio.set()
            elif isinstance(event, ev.SpeechStarted) and played_from:
                played = min(received_ms, (time.perf_counter() - played_from[0]) * 1000)
                item = next(e for e in events if isinstance(e, ev.OutputItemAdded)).item
                truncate = ev.ConversationItemTruncate(
                    item_id=item.id or "", content_index=0, audio_end_ms=int(played)
                )
                asyncio.get_running_loop().create_task(engine.handle(truncate))
            elif (
                isinstance(event, ev.ResponseDone)
                and len([e for e in events if isinstance(e, ev.ResponseDone)]) == 2
            ):
                return

    reader = asyncio.create_task(client())
    await stream(engine, spoken(tts, "Hello! Please tell me a story."), realtime=False)
    async with asyncio.timeout(120):
        await first_audio.wait()
    await asyncio.sleep(0.5)
    await stream(engine, spoken(tts, "Wait, stop. What time do you open on Saturday?"), True)
    async with asyncio.timeout(180):
        await reader
    await engine.close()

    done = [e.response for e in events if isinstance(e, ev.ResponseDone)]
    assert done[0].status == "cancelled", done[0]
    assert done[0].status_details is not None and done[0].status_details.reason == "turn_detected"
    truncated = [e for e in events if isinstance(e, ev.ConversationItemTruncated)]
    assert len(truncated) == 1
    story_id = truncated[0].item_id
    said = "".join(
        e.delta
        for e in events
        if isinstance(e, ev.OutputAudioTranscriptDelta) and e.item_id == story_id
    )
    kept = engine.conversation.get(story_id).text()
    assert len(kept) < len(said), (kept, said)
    assert said.startswith(kept.split(" ")[0])
    unheard = said[len(kept) :].strip()
    assert unheard and unheard not in recording.prompts[-1]
    assert "saturday" in recording.prompts[-1].lower()
    assert done[1].status == "completed"
    answer = [
        e for e in events if isinstance(e, ev.OutputAudioDelta) and e.response_id == done[1].id
    ]
    assert answer, "the interruption got no spoken answer"
