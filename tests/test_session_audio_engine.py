"""The voice Session over the in-process Engine with scripted VAD, STT, TTS and LLM."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

from voxrelay.agents import Agent, RunContext, Scenario, tool
from voxrelay.audio.pcm import silence
from voxrelay.engine import Engine
from voxrelay.engine.speech import SpeechStack
from voxrelay.realtime import InProcessRealtime
from voxrelay.realtime.types import MessageItem
from voxrelay.session import Session
from voxrelay.session import events as app
from voxrelay.session.playback import PlaybackQueue
from voxrelay.speech.tts import VoiceMap
from voxrelay.testing import ScriptedChatModel, ScriptedSTT, ScriptedTTS, ScriptedVAD, call, say
from voxrelay.testing.chat import Step

RATE = 24000


@tool
def heard(ctx: RunContext) -> str:
    """What the caller said so far."""
    return ctx.user_text()


def scenario() -> Scenario:
    front = Agent("front", "Route callers.", tools=[heard], handoffs=["returns"])
    returns = Agent("returns", "Handle returns.", voice="verse", handoff_description="returns")
    return Scenario("voice", [front, returns])


class Call:
    """A voice Session over a scripted Engine, and the app events seen so far."""

    def __init__(self, session: Session, engine: Engine, tts: ScriptedTTS) -> None:
        self.session, self.engine, self.tts = session, engine, tts
        self.events: list[app.AppEventBase] = []

    async def speak(self, ms: int) -> None:
        """Stream `ms` of (scripted) caller audio in 20 ms chunks."""
        for chunk in range(0, ms, 20):
            await self.session.send_audio(silence(min(20, ms - chunk), RATE))

    async def until(self, done: Callable[[list[app.AppEventBase]], bool]) -> None:
        async with asyncio.timeout(10):
            async for event in self.session.events():
                self.events.append(event)
                if done(self.events):
                    return

    def of(self, kind: type[Any]) -> list[Any]:
        return [e for e in self.events if isinstance(e, kind)]


def turns_done(n: int) -> Callable[[list[app.AppEventBase]], bool]:
    return lambda events: sum(isinstance(e, app.TurnDone) for e in events) >= n


@pytest.fixture
async def voice_call() -> AsyncIterator[Callable[..., Any]]:
    made: list[Session] = []

    async def start(
        steps: list[Step], heard: list[str], spans_ms: list[tuple[int, int]], **tts: Any
    ) -> Call:
        voices = VoiceMap({"alloy": "alloy", "verse": "verse"}, "alloy")
        speaker = ScriptedTTS(voices=voices, **tts)
        vad = ScriptedVAD.from_spans(spans_ms, total_ms=60_000)
        stack = SpeechStack(stt=ScriptedSTT(heard), tts=speaker, vad=lambda: vad)
        engine = Engine(ScriptedChatModel(steps), speech=stack)
        session = Session(scenario(), InProcessRealtime(engine), output_modalities=["audio"])
        await session.start()
        made.append(session)
        return Call(session, engine, speaker)

    yield start
    for session in made:
        await session.close()


async def test_spoken_turn_with_handoff_speaks_in_the_new_voice(voice_call):
    steps = [
        call("transfer_to_returns", '{"reason": "return"}'),
        say("Sure, which order?", expect_in_prompt=["I want to return my board"]),
    ]
    c = await voice_call(steps, ["I want to return my board"], [(100, 900)])
    await c.speak(1600)
    await c.until(turns_done(1))
    quiet = ("assistant_audio", "turn_latency")
    kinds = [e.type for e in c.events if e.type not in quiet]  # type: ignore[attr-defined]
    assert kinds == [
        "user_speech_started",
        "user_speech_stopped",
        "user_message",
        "tool_call",
        "tool_result",
        "agent_changed",
        "assistant_message",
        "turn_done",
    ]
    (user,) = c.of(app.UserMessage)
    assert user.text == "I want to return my board" and user.item_id
    audio = c.of(app.AssistantAudio)
    assert audio and {a.agent for a in audio} == {"returns"}
    assert sum(len(a.pcm) for a in audio) > 0 and audio[0].sample_rate == RATE
    (reply,) = c.of(app.AssistantMessage)
    assert reply.text == "Sure, which order?" and reply.item_id == audio[0].item_id
    assert c.tts.spoken == [("Sure, which order?", "verse")]
    first = c.session.history[0]
    assert (first.role, first.agent, first.text) == ("user", "front", user.text)
    assert not c.session.busy


async def test_tool_sees_the_transcript(voice_call):
    steps = [call("heard", "{}"), say("Got it.")]
    c = await voice_call(steps, ["my number is 206 555 0142"], [(100, 900)])
    await c.speak(1600)
    await c.until(turns_done(1))
    (result,) = c.of(app.ToolResult)
    assert result.ok and "206 555 0142" in result.output


async def test_barge_in_truncates_the_engine_item_at_the_played_position(voice_call):
    steps = [say("First sentence here. Second sentence here. Third one."), say("Okay.")]
    c = await voice_call(
        steps, ["tell me a story", "stop"], [(100, 800), (3000, 3600)], delay_s=0.05, ms_per_char=20
    )
    speaker = PlaybackQueue(c.session.playback)
    c.session.attach_output(speaker)
    await c.speak(1500)
    await c.until(lambda events: bool(c.of(app.AssistantAudio)))
    speaker.pull(300 * RATE // 1000)  # the caller heard 0.3 s of the 0.4 s first sentence
    await c.speak(2200)  # speech at 3000 ms: the caller barges in
    await c.until(lambda events: bool(c.of(app.Interrupted)))
    (cut,) = c.of(app.Interrupted)
    assert cut.played_ms == 300
    assert speaker.pending_samples == 0
    await c.until(turns_done(1))
    first = c.of(app.AssistantMessage)[0]
    assert first.interrupted is True
    item = c.engine.conversation.get(cut.item_id)
    assert isinstance(item, MessageItem) and item.text() == "First sentence"
    await c.speak(1500)
    await c.until(turns_done(2))
    assert [e.text for e in c.of(app.UserMessage)] == ["tell me a story", "stop"]
    assert c.of(app.AssistantMessage)[-1].text == "Okay."


async def test_output_guardrail_stops_a_sentence_before_it_is_spoken(voice_call):
    from voxrelay.agents.guardrails import KeywordGuardrail

    steps = [say("Happy to help. Our rivals are frauds. Anyway."), say("Happy to help you today.")]
    c = await voice_call(steps, ["hello"], [(100, 900)])
    blocker = KeywordGuardrail.of("brand", "OFF_BRAND", ["frauds?"])
    c.session.agent.output_guardrails = [blocker]
    await c.speak(1600)
    await c.until(turns_done(1))
    (tripped,) = c.of(app.GuardrailTripped)
    assert tripped.text == "Our rivals are frauds." and tripped.category == "OFF_BRAND"
    spoken = [sentence for sentence, _ in c.tts.spoken]
    assert not any("frauds" in s for s in spoken)
    assert spoken[-1] == "Happy to help you today."
    assert [m.text for m in c.of(app.AssistantMessage)] == [
        "Happy to help.",
        "Happy to help you today.",
    ]


async def test_each_voice_turn_publishes_its_latency(voice_call):
    c = await voice_call([say("Hello there.")], ["hi"], [(100, 900)])
    await c.speak(1600)
    await c.until(lambda events: turns_done(1)(events) and bool(c.of(app.TurnLatency)))
    (latency,) = c.of(app.TurnLatency)
    assert {"stt", "llm_first_token", "tts_first_audio", "endpoint"} <= set(latency.stages)
    assert "stages" in latency.to_json_dict()
