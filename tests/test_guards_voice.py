"""Voice sessions: text that is not speech is held back at the sentence gate, before TTS."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Sequence
from typing import Any

import pytest

from voxrelay.agents import Agent, Scenario
from voxrelay.audio.pcm import silence
from voxrelay.config import Settings
from voxrelay.engine import Engine
from voxrelay.engine.speech import SpeechStack
from voxrelay.models.base import Message, ToolSpec
from voxrelay.realtime import InProcessRealtime
from voxrelay.session import Session
from voxrelay.session import events as app
from voxrelay.testing import ScriptedChatModel, ScriptedSTT, ScriptedTTS, ScriptedVAD, say
from voxrelay.testing.chat import Step

RATE = 24000
FALLBACK = Settings().fallback_line


class Call:
    """A voice Session over a scripted Engine, and the app events seen so far."""

    def __init__(self, session: Session, model: ScriptedChatModel, tts: ScriptedTTS) -> None:
        self.session, self.model, self.tts = session, model, tts
        self.events: list[app.AppEventBase] = []

    async def turn(self) -> None:
        """The caller speaks once; wait until the agent's turn is done."""
        for _ in range(0, 1600, 20):
            await self.session.send_audio(silence(20, RATE))
        async with asyncio.timeout(10):
            async for event in self.session.events():
                self.events.append(event)
                if isinstance(event, app.TurnDone):
                    return

    def of(self, kind: type[Any]) -> list[Any]:
        return [e for e in self.events if isinstance(e, kind)]

    @property
    def spoken(self) -> list[str]:
        return [sentence for sentence, _ in self.tts.spoken]


@pytest.fixture
async def voice_call() -> AsyncIterator[Callable[..., Any]]:
    made: list[Session] = []

    async def start(*steps: Step) -> Call:
        tts = ScriptedTTS()
        vad = ScriptedVAD.from_spans([(100, 900)], total_ms=60_000)
        stack = SpeechStack(stt=ScriptedSTT(["any deals?"]), tts=tts, vad=lambda: vad)
        model = ScriptedChatModel(steps)
        scenario = Scenario("voice", [Agent("sales", "Sell boards.")])
        session = Session(
            scenario, InProcessRealtime(Engine(model, speech=stack)), output_modalities=["audio"]
        )
        await session.start()
        made.append(session)
        return Call(session, model, tts)

    yield start
    for session in made:
        await session.close()


async def test_a_junk_first_sentence_is_never_spoken_and_the_retry_is(voice_call):
    c = await voice_call(
        say('["lookup_new_sales", "add_to_cart", "checkout"] Sure.'),
        say("We have two boards on sale."),
    )
    await c.turn()
    assert c.spoken == ["We have two boards on sale."]
    assert [e.reason for e in c.of(app.OutputSuppressed)] == ["json"]
    assert [m.text for m in c.of(app.AssistantMessage)] == ["We have two boards on sale."]
    assert [r[2] for r in c.model.requests] == ["auto", "none"]
    retry_prompt = c.model.requests[1][0]
    assert [m.role for m in retry_prompt] == ["system", "user"]  # no empty reply left behind


async def test_a_junk_sentence_after_a_spoken_one_is_held_back(voice_call):
    c = await voice_call(
        say('Let me check. checkout returned {"error": "not verified"} Okay.'),
        say("You need to verify first."),
    )
    await c.turn()
    assert c.spoken == ["Let me check.", "You need to verify first."]
    assert [m.text for m in c.of(app.AssistantMessage)] == [
        "Let me check.",
        "You need to verify first.",
    ]


def fallback_prompt(messages: Sequence[Message], tools: Sequence[ToolSpec]) -> None:
    assert [m.role for m in messages] == ["system"] and FALLBACK in messages[0].content
    assert not tools


async def test_junk_twice_has_the_model_speak_the_fallback_line_alone(voice_call):
    c = await voice_call(
        say('{"error": "caller not verified"}'),
        say("```json ok```"),
        say(FALLBACK, check=fallback_prompt),
    )
    await c.turn()
    assert " ".join(c.spoken) == FALLBACK
    (line,) = c.of(app.AssistantMessage)
    assert line.text == FALLBACK and line.fallback is True
    assert [r[2] for r in c.model.requests] == ["auto", "none", "none"]
    c.model.assert_complete()


async def test_a_fallback_that_is_junk_too_ends_the_turn_in_silence_not_a_loop(voice_call):
    c = await voice_call(say("{}"), say("{}"), say('{"x": 1}'))
    await c.turn()
    assert c.spoken == [] and len(c.of(app.OutputSuppressed)) == 3
    c.model.assert_complete()
