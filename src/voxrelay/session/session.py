"""The agent runtime: runs a scenario's agents over any RealtimeModel.

`Session` only wires the parts together:

- the reader lane (`ControlLane`) reads server events and handles control at once
  (barge-in, playback, transcripts) through `VoiceControl`;
- the work lane (`Responder`) takes each finished response: guardrails, tools, handoffs and
  the next response, under the `TurnPolicy`, through the `TurnDriver`;
- the `Outbox` sends every client event, in order, from its own task;
- app events go to an `AppEventStream` that never blocks;
- every task belongs to one `TaskSet`, cancelled and awaited by `close()`.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from typing import Any

from voxrelay.agents import Agent, RunContext, Scenario
from voxrelay.config import Settings, get_settings
from voxrelay.errors import ConfigError
from voxrelay.realtime import events as ev
from voxrelay.realtime.model import RealtimeModel, habits_of, hooks_of
from voxrelay.realtime.types import InputText, MessageItem, OutputText
from voxrelay.session import events as app
from voxrelay.session.core import Conversation
from voxrelay.session.guardrail_gate import SentenceVerdicts
from voxrelay.session.handoffs import HandoffRecord
from voxrelay.session.hooks import LocalHooks
from voxrelay.session.lanes import AppEventStream, Listener, Outbox
from voxrelay.session.playback import AudioOutput as PlaybackOutput
from voxrelay.session.policy import TurnPolicy
from voxrelay.session.reader import ControlLane, Finished
from voxrelay.session.responder import Responder
from voxrelay.session.turns import TurnDriver
from voxrelay.session.voice import VoiceOptions, encode_audio, format_rate
from voxrelay.session.voice_control import VoiceControl
from voxrelay.tasks import TaskSet

log = logging.getLogger(__name__)

MIN_COMMIT_MS = 100
"""A commit needs at least this much audio (the Realtime API refuses shorter buffers)."""


class Session:
    """Runs agents over a RealtimeModel: tools, handoffs, guardrails and app events."""

    def __init__(
        self,
        scenario: Scenario,
        model: RealtimeModel,
        *,
        agent: str | None = None,
        settings: Settings | None = None,
        state: dict[str, Any] | None = None,
        output_modalities: list[str] | None = None,
        speak_after_handoff: bool | None = None,
        voice: VoiceOptions | None = None,
        warm_handoffs: bool = True,
    ) -> None:
        if voice is None and output_modalities is not None and "audio" in output_modalities:
            voice = VoiceOptions()
        self.model = model
        self.habits = habits_of(model)
        """How this session adapts to the model (the backend supplies it; see ModelHabits)."""
        self.scenario = scenario
        self.settings = settings or get_settings()
        self.voice = voice
        """Audio settings; None for a text session."""
        self.output_modalities = output_modalities or (["audio"] if voice else ["text"])
        self.warm_handoffs = warm_handoffs and self.habits.warm_handoffs
        """Evaluate the prompts of agents reachable by handoff in the background after start."""
        first = scenario.agent(agent or scenario.start_agent_name)
        state = state if state is not None else {}
        self._conv = Conversation(scenario, first, self.settings, voice, state=state)
        self.history = self._conv.history
        """What was said and done, in order, across agents."""
        self.state = self._conv.state
        """Session state that tools and context functions share."""
        self.handoffs: list[HandoffRecord] = self._conv.handoffs
        """Every attempted handoff, in order."""
        if speak_after_handoff is None:
            speak_after_handoff = self.habits.speak_after_handoff
        policy = TurnPolicy(self.settings.max_tool_steps, speak_after_handoff)
        self._voice = VoiceControl(voice)
        self.playback = self._voice.playback
        """What assistant audio was queued and what was played; transports report playback."""
        self.input_rate = format_rate(voice.input_format) if voice else 24000
        """Sample rate `send_audio` expects."""
        self.output_rate = self.playback.sample_rate
        """Sample rate of `assistant_audio` events."""
        self._stream = AppEventStream()
        self._tasks = TaskSet()
        self._outbox = Outbox(self._deliver, self._send_failed)
        self._driver = TurnDriver(self._conv, policy, self._outbox, self._stream)
        self._work: asyncio.Queue[Finished] = asyncio.Queue()
        verdicts = SentenceVerdicts()
        self._reader = ControlLane(
            self._conv, self._voice, self._driver, self._stream, self._outbox, self._work
        )
        self._responder = Responder(self._conv, self._driver, self._voice, verdicts, self._stream)
        self._hooks = LocalHooks(self._conv, verdicts, self._stream)
        self._closed = False

    @property
    def agent(self) -> Agent:
        """The active agent."""
        return self._conv.agent

    @property
    def dropped_audio_events(self) -> int:
        """`assistant_audio` app events dropped because nobody read the event stream."""
        return self._stream.dropped_audio

    @property
    def busy(self) -> bool:
        """The caller is speaking, a reply or tool is pending or running, or a transcript is due."""
        return bool(
            self._voice.speaking
            or self._driver.state.response_pending
            or self._responder.busy
            or not self._work.empty()
            or self._voice.awaiting_transcripts
        )

    @property
    def closed(self) -> bool:
        """True once the session has ended (closed, or its model's event stream ended)."""
        return self._stream.ended

    async def settle(self) -> None:
        """Wait until the session has handled every finished response and sent what it owes."""
        while True:
            await self._work.join()
            await self._outbox.flushed()
            if self._work.empty() and not self._responder.busy:
                return

    def context(self) -> RunContext:
        """The RunContext tools of the active agent receive."""
        return self._conv.context()

    # ---- lifecycle ---------------------------------------------------------------------------

    async def start(self) -> None:
        """Connect with the first agent's configuration and say its greeting, if any."""
        config = self._conv.config(self.agent)
        config.output_modalities = self.output_modalities  # type: ignore[assignment]
        if self.voice is not None:
            config.audio = self.voice.audio_config(self.agent.voice)
        self._tasks.spawn(self._reader.run(self.model), name="session reader")
        self._tasks.spawn(self._outbox.run(), name="session outbox")
        self._tasks.spawn(self._responder.run(self._work), name="session work")
        self._tasks.spawn(self._stream.fan_out(), name="session listeners")
        self._driver.sent(ev.SessionUpdate(session=config))
        await self.model.connect(config)
        self._conv.sent_instructions = config.instructions
        self._conv.enter(self.agent)
        self._conv.say_due = None  # the greeting opens the conversation
        hooks = hooks_of(self.model)
        if hooks is not None:
            self._hooks.attach(hooks, warm_handoffs=self.warm_handoffs)
        if self.agent.greeting:
            await self._greet(self.agent.greeting)

    async def close(self) -> None:
        """End the session: close the model, stop every task, end `events()`."""
        if self._closed:
            return
        self._closed = True
        try:
            await self.model.close()
        finally:
            await self._tasks.cancel_and_wait()
            self._stream.end()

    async def __aenter__(self) -> Session:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    # ---- app events --------------------------------------------------------------------------

    def events(self) -> AsyncIterator[app.AppEventBase]:
        """App events as they happen, until the session ends."""
        return self._stream.iterate()

    def pending(self) -> list[app.AppEventBase]:
        """App events already emitted and not yet consumed (e.g. the greeting)."""
        return self._stream.drain()

    def add_listener(self, listener: Listener) -> None:
        """Call `listener` (sync or async) with every later app event; its faults are reported."""
        self._stream.add_listener(listener)

    async def run_turn(self, text: str) -> list[app.AppEventBase]:
        """Send a user message and collect app events until the turn is done (or the end)."""
        await self.send_text(text)
        out: list[app.AppEventBase] = []
        while (event := await self._stream.next()) is not None:
            out.append(event)
            if isinstance(event, app.TurnDone):
                break
        return out

    # ---- input -------------------------------------------------------------------------------

    async def send_text(self, text: str) -> None:
        """Add a user message and ask the active agent to respond."""
        self._driver.new_turn()
        item = MessageItem(role="user", content=[InputText(text=text)])
        self._conv.remember("user", text)
        self._stream.put(app.UserMessage(agent=self.agent.name, text=text))
        await self._outbox.send(ev.ConversationItemCreate(item=item))
        await self._driver.request(None)

    def attach_output(self, output: PlaybackOutput | None) -> None:
        """Send assistant audio to `output` as it arrives; it reports playback to `playback`."""
        self._voice.output = output

    async def send_audio(self, pcm: bytes) -> None:
        """Append caller audio: PCM16 mono at `input_rate` (24 kHz unless configured)."""
        voice = self._require_voice("send_audio")
        if not pcm:
            return
        self._voice.input_samples += len(pcm) // 2
        audio = encode_audio(pcm, voice.input_format)
        await self._outbox.send(ev.InputAudioBufferAppend(audio=audio))

    async def commit_audio(self) -> None:
        """Push-to-talk: end the caller's turn (commit) and, without server VAD, ask for a reply."""
        voice = self._require_voice("commit_audio")
        heard_ms = self._voice.input_samples * 1000 // self.input_rate
        if heard_ms < MIN_COMMIT_MS:
            text = f"only {heard_ms} ms of audio to commit; hold to talk for at least 100 ms"
            error = app.ErrorOccurred(agent=self.agent.name, code="commit_too_short", text=text)
            self._stream.put(error)
            return
        self._voice.input_samples = 0
        await self.interrupt()
        self._driver.new_turn()
        await self._outbox.send(ev.InputAudioBufferCommit())
        if voice.turn_detection is None:
            await self._driver.request(None)

    async def clear_audio(self) -> None:
        """Drop the caller audio appended since the last commit."""
        self._require_voice("clear_audio")
        self._voice.input_samples = 0
        await self._outbox.send(ev.InputAudioBufferClear())

    async def interrupt(self) -> app.Interrupted | None:
        """Barge-in: stop playback, truncate what was not heard, cancel a running reply."""
        actions = self._voice.interrupt(self.agent.name, self._driver.active_response)
        for event in actions.events:
            self._stream.put(event)
        for client_event in actions.sends:
            await self._outbox.send(client_event)
        return next((e for e in actions.events if isinstance(e, app.Interrupted)), None)

    def _require_voice(self, what: str) -> VoiceOptions:
        if self.voice is None:
            raise ConfigError(
                f"{what} needs a voice session: create it with "
                "Session(..., output_modalities=['audio']) or voice=VoiceOptions()"
            )
        return self.voice

    async def _deliver(self, event: ev.ClientEvent) -> None:
        self._driver.sent(event)
        await self.model.send(event)

    def _send_failed(self, event: ev.ClientEvent, exc: Exception) -> None:
        log.warning("could not send %s: %s", event.type, exc)
        text = f"could not send {event.type} to the realtime model"
        self._stream.put(app.ErrorOccurred(agent=self.agent.name, code="send_failed", text=text))

    async def _greet(self, text: str) -> None:
        """Show the greeting; it joins the model's context only if the model's habits say so."""
        self._conv.remember("assistant", text)
        self._stream.put(app.AssistantMessage(agent=self.agent.name, text=text))
        if self.habits.greeting_in_context:
            item = MessageItem(role="assistant", content=[OutputText(text=text)])
            await self._outbox.send(ev.ConversationItemCreate(item=item))
