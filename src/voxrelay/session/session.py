"""The agent runtime: runs a scenario's agents over any RealtimeModel."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from voxrelay.agents import Agent, HistoryEntry, RunContext, Scenario
from voxrelay.agents.agent import HANDOFF_PREFIX, handoff_output, handoff_tool_name
from voxrelay.agents.context import Role
from voxrelay.config import Settings, get_settings
from voxrelay.engine.trace import TurnTrace
from voxrelay.errors import ConfigError
from voxrelay.models.base import CONTEXT_HEADING
from voxrelay.realtime import events as ev
from voxrelay.realtime.model import RealtimeModel
from voxrelay.realtime.types import (
    AudioConfig,
    AudioOutput,
    FunctionCallItem,
    FunctionCallOutputItem,
    FunctionToolDef,
    InputAudio,
    InputText,
    Item,
    MessageItem,
    OutputAudio,
    Response,
    ResponseParams,
    SessionConfig,
)
from voxrelay.session import events as app
from voxrelay.session.playback import AudioOutput as PlaybackOutput
from voxrelay.session.playback import PlaybackTracker
from voxrelay.session.tools import ToolOutcome, error_output, run_tool
from voxrelay.session.voice import VoiceOptions, decode_audio, encode_audio, format_rate

log = logging.getLogger(__name__)

Handler = Callable[[Any], Awaitable[None]]
MIN_COMMIT_MS = 100
"""A commit needs at least this much audio (the Realtime API refuses shorter buffers)."""


@dataclass(frozen=True)
class HandoffRecord:
    """One attempted handoff."""

    from_agent: str
    to_agent: str
    reason: str
    at: float
    success: bool
    error: str | None = None


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
        speak_after_handoff: bool = True,
        voice: VoiceOptions | None = None,
        warm_handoffs: bool = True,
    ) -> None:
        self.scenario = scenario
        self.model = model
        self.settings = settings or get_settings()
        self.agent: Agent = scenario.agent(agent or scenario.start_agent_name)
        self.history: list[HistoryEntry] = []
        self.state: dict[str, Any] = state if state is not None else {}
        self.handoffs: list[HandoffRecord] = []
        self._sent_instructions: str | None = None
        """The active agent's instructions as last sent, live context included."""
        if voice is None and output_modalities is not None and "audio" in output_modalities:
            voice = VoiceOptions()
        self.voice = voice
        """Audio settings; None for a text session."""
        self.output_modalities = output_modalities or (["audio"] if voice else ["text"])
        self.speak_after_handoff = speak_after_handoff
        """The new agent's first response after a handoff is words, not another tool call.

        Measured on Qwen2.5-0.5B: a freshly handed-off agent almost always answers with
        another transfer; speaking first makes it take up the caller's request instead.
        """
        self.warm_handoffs = warm_handoffs
        """On the in-process engine, evaluate the prompts of agents reachable by handoff in the
        background after start, so even the first transfer to each starts warm."""
        self._just_handed_off = False
        self._failed_calls: dict[tuple[str, str], ToolOutcome] = {}
        """Calls that failed this turn, by (name, arguments): a repeat is not run again."""
        self._force_words = False
        self._events: asyncio.Queue[app.AppEventBase] = asyncio.Queue(maxsize=1000)
        self._pump: asyncio.Task[None] | None = None
        self._tool_steps = 0
        self._handed_off_this_turn = False
        self._retried_guardrail = False
        self._gate_rationale: str | None = None
        """Why the sentence gate stopped the current spoken response, if it did."""
        out_rate = format_rate(voice.output_format) if voice else 24000
        self.playback = PlaybackTracker(out_rate)
        """What assistant audio was queued and what was played; transports report playback."""
        self._output: PlaybackOutput | None = None
        self._active_response: str | None = None
        self._awaiting_response = False
        self._speaking = False
        self._pending_user: dict[str, HistoryEntry] = {}
        """User audio items waiting for their transcript, by item id, with their history slot."""
        self._input_samples = 0
        self.dropped_audio_events = 0
        """`assistant_audio` app events dropped because nobody read the event queue."""

    # ---- lifecycle ---------------------------------------------------------------------------

    async def start(self) -> None:
        """Connect with the first agent's configuration and say its greeting, if any."""
        config = self._config(self.agent)
        config.output_modalities = self.output_modalities  # type: ignore[assignment]
        if self.voice is not None:
            config.audio = self.voice.audio_config(self.agent.voice)
        await self.model.connect(config)
        self._sent_instructions = config.instructions
        self._install_sentence_gate()
        self._warm_handoff_targets()
        self._pump = asyncio.create_task(self._read(), name="session events")
        if self.agent.greeting:
            await self._greet(self.agent.greeting)

    async def close(self) -> None:
        """Stop reading events and close the model."""
        await self.model.close()
        if self._pump is not None:
            self._pump.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._pump

    async def __aenter__(self) -> Session:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    # ---- input and output --------------------------------------------------------------------

    async def send_text(self, text: str) -> None:
        """Add a user message and ask the active agent to respond."""
        self._new_turn()
        item = MessageItem(role="user", content=[InputText(text=text)])
        self._remember("user", text)
        await self._emit(app.UserMessage(agent=self.agent.name, text=text))
        await self.model.send(ev.ConversationItemCreate(item=item))
        await self._create_response()

    def _new_turn(self) -> None:
        """Reset the per-turn limits: tool steps, handoff, guardrail retry, failed calls."""
        self._tool_steps = 0
        self._handed_off_this_turn = False
        self._retried_guardrail = False
        self._failed_calls.clear()

    async def _create_response(self, params: ResponseParams | None = None) -> None:
        await self._refresh_context()
        self._awaiting_response = True
        await self.model.send(ev.ResponseCreate(response=params))

    async def _refresh_context(self) -> None:
        """Send the active agent's instructions again if its live context has changed."""
        instructions = self._instructions(self.agent)
        if instructions != self._sent_instructions:
            await self.model.send(
                ev.SessionUpdate(session=SessionConfig(instructions=instructions))
            )
            self._sent_instructions = instructions

    def _instructions(self, agent: Agent) -> str:
        """The agent's instructions, with its live context (if any) under CONTEXT_HEADING."""
        if agent.context is None:
            return agent.instructions
        ctx = RunContext(agent_name=agent.name, history=self.history, state=self.state)
        try:
            context = agent.context(ctx)
        except Exception:
            log.exception(
                "%s's context function failed; its instructions go without it", agent.name
            )
            context = None
        return agent.instructions + (CONTEXT_HEADING + context if context else "")

    def events(self) -> AsyncIterator[app.AppEventBase]:
        """App events as they happen."""
        return self._iterate()

    async def _iterate(self) -> AsyncIterator[app.AppEventBase]:
        while True:
            yield await self._events.get()

    def pending(self) -> list[app.AppEventBase]:
        """App events already emitted and not yet consumed (e.g. the greeting)."""
        out = []
        while not self._events.empty():
            out.append(self._events.get_nowait())
        return out

    async def run_turn(self, text: str) -> list[app.AppEventBase]:
        """Send a user message and collect app events until the turn is done."""
        await self.send_text(text)
        out: list[app.AppEventBase] = []
        while True:
            event = await self._events.get()
            out.append(event)
            if isinstance(event, app.TurnDone):
                return out

    def context(self) -> RunContext:
        """The RunContext tools of the active agent receive."""
        return RunContext(agent_name=self.agent.name, history=self.history, state=self.state)

    async def _emit(self, event: app.AppEventBase) -> None:
        await self._events.put(event)

    def _emit_audio(self, event: app.AssistantAudio) -> None:
        """Audio events never stall the session: with nobody reading, they are dropped."""
        try:
            self._events.put_nowait(event)
        except asyncio.QueueFull:
            self.dropped_audio_events += 1

    def _remember(self, role: Role, text: str, name: str | None = None, ok: bool = True) -> None:
        entry = HistoryEntry(role=role, text=text, agent=self.agent.name, name=name, ok=ok)
        self.history.append(entry)

    # ---- server events -----------------------------------------------------------------------

    def _handlers(self) -> dict[str, Handler]:
        return {
            "response.created": self._response_created,
            "response.done": self._on_response_done,
            "error": self._error,
            **self._voice_handlers(),
        }

    async def _read(self) -> None:
        handlers = self._handlers()
        try:
            async for event in self.model.events():
                handler = handlers.get(event.type)
                if handler is not None:
                    await handler(event)
        except Exception as exc:
            log.exception("realtime event stream failed")
            await self._emit(
                app.ErrorOccurred(agent=self.agent.name, code="stream_failed", text=str(exc))
            )
            await self._emit(app.TurnDone(agent=self.agent.name))

    async def _response_created(self, event: ev.ResponseCreated) -> None:
        self._active_response = event.response.id
        self._awaiting_response = False

    async def _on_response_done(self, event: ev.ResponseDone) -> None:
        self._active_response = None
        for item in event.response.output:
            if isinstance(item, MessageItem) and item.id:
                self.playback.finished(item.id)
        await self._response_done(event.response)

    async def _error(self, event: ev.ErrorEvent) -> None:
        if event.error.code != "conversation_already_has_active_response":
            self._awaiting_response = False
        await self._emit(
            app.ErrorOccurred(
                agent=self.agent.name, code=event.error.code, text=event.error.message
            )
        )

    async def _response_done(self, response: Response) -> None:
        if response.status == "failed":
            detail = (response.status_details.error or {}) if response.status_details else {}
            text = detail.get("message", "the model failed to respond")
            await self._emit(
                app.ErrorOccurred(agent=self.agent.name, code="response_failed", text=text)
            )
        texts = [i for i in response.output if isinstance(i, MessageItem)]
        calls = [i for i in response.output if isinstance(i, FunctionCallItem)]
        for item in texts:
            if not await self._deliver_text(item):
                return
        blocked, self._gate_rationale = self._gate_rationale, None
        if blocked is not None:
            await self._retry_blocked(blocked)
            return
        if calls and response.status == "completed":
            await self._run_calls(calls)
        else:
            await self._emit(app.TurnDone(agent=self.agent.name))

    async def _deliver_text(self, item: MessageItem) -> bool:
        """Run output guardrails, then publish; False when a guardrail blocked the text."""
        text = item.text()
        if not text.strip():
            return True
        for guardrail in self.agent.output_guardrails:
            verdict = await guardrail.check(text, self.context())
            if verdict.tripped:
                await self._emit(
                    app.GuardrailTripped(
                        agent=self.agent.name,
                        name=guardrail.name,
                        category=str(verdict.category),
                        rationale=verdict.rationale,
                        text=text,
                    )
                )
                await self._retract(item, verdict.rationale)
                return False
        self._remember("assistant", text)
        spoken = item.id is not None and any(isinstance(p, OutputAudio) for p in item.content)
        await self._emit(
            app.AssistantMessage(
                agent=self.agent.name,
                text=text,
                item_id=item.id if spoken else None,
                interrupted=True if spoken and self.playback.was_cut(item.id or "") else None,
            )
        )
        return True

    async def _retract(self, item: MessageItem, rationale: str) -> None:
        """Remove blocked text from the model's context; ask once for a compliant reply."""
        if item.id:
            await self.model.send(ev.ConversationItemDelete(item_id=item.id))
        await self._retry_blocked(rationale)

    def _warm_handoff_targets(self) -> None:
        """On the in-process engine: warm every agent reachable by handoff, nearest first."""
        prewarm = getattr(getattr(self.model, "engine", None), "prewarm", None)
        if self.warm_handoffs and prewarm is not None:
            order = reachable(self.scenario.graph(), self.agent.name)
            prewarm([(self._config(self.scenario.agent(name)), arrival(name)) for name in order])

    def _install_sentence_gate(self) -> None:
        """On the in-process engine: guardrails gate each sentence; latency traces become events."""
        engine = getattr(self.model, "engine", None)
        if engine is not None and hasattr(engine, "sentence_gate"):
            engine.sentence_gate = self._gate_sentence
            engine.trace_listeners.append(self._on_trace)

    def _on_trace(self, trace: TurnTrace) -> None:
        """Publish a voice turn's latency trace; dropped if nobody reads the events."""
        event = app.TurnLatency(
            agent=self.agent.name, item_id=trace.item_id, stages=trace.stages_ms()
        )
        with contextlib.suppress(asyncio.QueueFull):
            self._events.put_nowait(event)

    async def _gate_sentence(self, sentence: str) -> bool:
        """False (and a guardrail_tripped event) when an output guardrail trips on `sentence`."""
        for guardrail in self.agent.output_guardrails:
            verdict = await guardrail.check(sentence, self.context())
            if verdict.tripped:
                self._gate_rationale = verdict.rationale
                await self._emit(
                    app.GuardrailTripped(
                        agent=self.agent.name,
                        name=guardrail.name,
                        category=str(verdict.category),
                        rationale=verdict.rationale,
                        text=sentence,
                    )
                )
                return False
        return True

    async def _retry_blocked(self, rationale: str) -> None:
        """Ask once per turn for a reply within policy; the second block ends the turn."""
        if self._retried_guardrail:
            await self._emit(app.TurnDone(agent=self.agent.name))
            return
        self._retried_guardrail = True
        note = f"\n\nYour last reply was blocked ({rationale}). Reply again, staying within policy."
        params = ResponseParams(instructions=self.agent.instructions + note)
        await self._create_response(params)

    # ---- voice -------------------------------------------------------------------------------

    def attach_output(self, output: PlaybackOutput | None) -> None:
        """Send assistant audio to `output` as it arrives; it reports playback to `playback`."""
        self._output = output

    async def send_audio(self, pcm: bytes) -> None:
        """Append caller audio: PCM16 mono at `input_rate` (24 kHz unless configured)."""
        voice = self._require_voice("send_audio")
        if not pcm:
            return
        self._input_samples += len(pcm) // 2
        audio = encode_audio(pcm, voice.input_format)
        await self.model.send(ev.InputAudioBufferAppend(audio=audio))

    async def commit_audio(self) -> None:
        """Push-to-talk: end the caller's turn (commit) and, without server VAD, ask for a reply."""
        voice = self._require_voice("commit_audio")
        heard_ms = self._input_samples * 1000 // self.input_rate
        if heard_ms < MIN_COMMIT_MS:
            text = f"only {heard_ms} ms of audio to commit; hold to talk for at least 100 ms"
            await self._emit(
                app.ErrorOccurred(agent=self.agent.name, code="commit_too_short", text=text)
            )
            return
        self._input_samples = 0
        await self.interrupt()
        self._new_turn()
        await self.model.send(ev.InputAudioBufferCommit())
        if voice.turn_detection is None:
            await self._create_response()

    async def clear_audio(self) -> None:
        """Drop the caller audio appended since the last commit."""
        self._require_voice("clear_audio")
        self._input_samples = 0
        await self.model.send(ev.InputAudioBufferClear())

    @property
    def input_rate(self) -> int:
        """Sample rate `send_audio` expects."""
        return format_rate(self.voice.input_format) if self.voice else 24000

    @property
    def output_rate(self) -> int:
        """Sample rate of `assistant_audio` events."""
        return self.playback.sample_rate

    @property
    def busy(self) -> bool:
        """The caller is speaking, a reply is pending or running, or a transcript is due."""
        return bool(
            self._speaking or self._active_response or self._awaiting_response or self._pending_user
        )

    async def interrupt(self) -> app.Interrupted | None:
        """Barge-in: stop playback, truncate what was not heard, cancel a running reply."""
        cut = self.playback.interrupt()
        if cut is None:
            return None
        if self._output is not None:
            self._output.clear()
            await self._emit(
                app.PlaybackCleared(
                    agent=self.agent.name, item_id=cut.item_id, dropped_ms=cut.dropped_ms
                )
            )
        await self.model.send(
            ev.ConversationItemTruncate(
                item_id=cut.item_id, content_index=0, audio_end_ms=cut.played_ms
            )
        )
        event = app.Interrupted(agent=self.agent.name, item_id=cut.item_id, played_ms=cut.played_ms)
        await self._emit(event)
        server_cancels = self.voice is not None and self.voice.server_cancels and self._speaking
        if self._active_response and not server_cancels:
            await self.model.send(ev.ResponseCancel(response_id=self._active_response))
        return event

    def _require_voice(self, what: str) -> VoiceOptions:
        if self.voice is None:
            raise ConfigError(
                f"{what} needs a voice session: create it with "
                "Session(..., output_modalities=['audio']) or voice=VoiceOptions()"
            )
        return self.voice

    def _voice_handlers(self) -> dict[str, Handler]:
        return {
            "input_audio_buffer.speech_started": self._speech_started,
            "input_audio_buffer.speech_stopped": self._speech_stopped,
            "input_audio_buffer.committed": self._committed,
            "input_audio_buffer.cleared": self._cleared,
            "conversation.item.added": self._item_added,
            "conversation.item.input_audio_transcription.completed": self._transcribed,
            "conversation.item.input_audio_transcription.failed": self._transcription_failed,
            "response.output_audio.delta": self._audio_delta,
            "response.output_audio.done": self._audio_done,
        }

    async def _speech_started(self, event: ev.SpeechStarted) -> None:
        self._speaking = True
        await self._emit(
            app.UserSpeechStarted(
                agent=self.agent.name, item_id=event.item_id, audio_start_ms=event.audio_start_ms
            )
        )
        await self.interrupt()

    async def _speech_stopped(self, event: ev.SpeechStopped) -> None:
        await self._emit(
            app.UserSpeechStopped(
                agent=self.agent.name, item_id=event.item_id, audio_end_ms=event.audio_end_ms
            )
        )

    async def _committed(self, event: ev.InputAudioBufferCommitted) -> None:
        self._speaking = False
        self._input_samples = 0
        self._new_turn()
        td = self.voice.turn_detection if self.voice else None
        if td is not None and td.create_response is not False:
            self._awaiting_response = True

    async def _cleared(self, event: ev.InputAudioBufferCleared) -> None:
        self._speaking = False

    async def _item_added(self, event: ev.ConversationItemAdded) -> None:
        """Hold the caller's place in the history until their words are transcribed."""
        item = event.item
        if not isinstance(item, MessageItem) or item.role != "user" or item.id is None:
            return
        if any(isinstance(p, InputAudio) for p in item.content) and not item.text():
            slot = HistoryEntry(role="user", text="", agent=self.agent.name)
            self.history.append(slot)
            self._pending_user[item.id] = slot

    async def _transcribed(self, event: ev.TranscriptionCompleted) -> None:
        text = event.transcript.strip()
        entry = HistoryEntry(role="user", text=text, agent=self.agent.name)
        slot = self._pending_user.pop(event.item_id, None)
        self._fill_slot(slot, entry if text else None)
        if text:
            await self._emit(
                app.UserMessage(agent=self.agent.name, text=text, item_id=event.item_id)
            )

    async def _transcription_failed(self, event: ev.TranscriptionFailed) -> None:
        self._fill_slot(self._pending_user.pop(event.item_id, None), None)
        text = f"could not transcribe the caller's audio: {event.error.message}"
        await self._emit(
            app.ErrorOccurred(agent=self.agent.name, code="transcription_failed", text=text)
        )

    def _fill_slot(self, slot: HistoryEntry | None, entry: HistoryEntry | None) -> None:
        """Put a transcript in its reserved history slot (or append it); None drops the slot."""
        index = next((i for i, e in enumerate(self.history) if e is slot), None)
        if index is None:
            if entry is not None:
                self.history.append(entry)
        elif entry is None:
            del self.history[index]
        else:
            self.history[index] = entry

    async def _audio_delta(self, event: ev.OutputAudioDelta) -> None:
        fmt = self.voice.output_format if self.voice else None
        if fmt is None:
            return
        pcm = decode_audio(event.delta, fmt)
        if not pcm or not self.playback.queued(event.item_id, len(pcm) // 2):
            return  # the caller cut this item off; its late audio is not played
        if self._output is not None:
            self._output.play(pcm)
        else:
            self.playback.played(len(pcm) // 2)  # nobody plays it: count it as heard
        self._emit_audio(
            app.AssistantAudio(
                agent=self.agent.name, pcm=pcm, sample_rate=self.output_rate, item_id=event.item_id
            )
        )

    async def _audio_done(self, event: ev.OutputAudioDone) -> None:
        self.playback.finished(event.item_id)

    # ---- tools and handoffs ------------------------------------------------------------------

    async def _run_calls(self, calls: list[FunctionCallItem]) -> None:
        new_agent: Agent | None = None
        for call in calls:
            self._tool_steps += 1
            await self._emit(
                app.ToolCalled(
                    agent=self.agent.name,
                    name=call.name,
                    arguments=call.arguments,
                    call_id=call.call_id,
                )
            )
            self._remember("tool_call", f"{call.name}({call.arguments})", name=call.name)
            key = (call.name, _canonical(call.arguments))
            if key in self._failed_calls:
                failed = self._failed_calls[key]
                why = _error_text(failed.output)
                outcome = error_output(
                    f"you already made this exact call and it failed ({why}). "
                    "Do not repeat it: answer the caller in words.",
                    failed.ungrounded,  # refused again for the same invented values
                )
                self._force_words = True
            elif call.name.startswith(HANDOFF_PREFIX) and new_agent is None:
                outcome, new_agent = await self._handoff(call)
            else:
                outcome = await self._call_tool(call)
            if not outcome.ok:
                self._failed_calls.setdefault(key, outcome)
            for argument, value in outcome.ungrounded:
                await self._emit(
                    app.ArgumentRefused(
                        agent=self.agent.name, name=call.name, argument=argument, value=value
                    )
                )
            self._remember("tool_result", outcome.output, name=call.name, ok=outcome.ok)
            await self._emit(
                app.ToolResult(
                    agent=self.agent.name,
                    name=call.name,
                    call_id=call.call_id,
                    output=outcome.output,
                    ok=outcome.ok,
                )
            )
            output = FunctionCallOutputItem(call_id=call.call_id, output=outcome.output)
            await self.model.send(ev.ConversationItemCreate(item=output))
            if new_agent is not None and outcome.ok:
                # after the output, so the engine warms the new agent with the whole handoff
                await self._switch_to(new_agent, _reason(call.arguments))
        await self._continue()

    async def _continue(self) -> None:
        """Ask for the next response; past the step limit the agent must answer in words."""
        just_handed_off, self._just_handed_off = self._just_handed_off, False
        force_words, self._force_words = self._force_words, False
        if (
            force_words
            or self._tool_steps >= self.settings.max_tool_steps
            or (just_handed_off and self.speak_after_handoff)
        ):
            await self._create_response(ResponseParams(tool_choice="none"))
        else:
            await self._create_response()

    async def _call_tool(self, call: FunctionCallItem) -> ToolOutcome:
        tools = {t.name: t for t in self.agent.tools}
        tool = tools.get(call.name)
        if tool is None:
            known = ", ".join(t.name for t in self.scenario.tools_for(self.agent))
            return error_output(f"there is no tool {call.name!r}; available tools: {known}")
        return await run_tool(tool, call.arguments, self.context(), self.settings.tool_timeout_s)

    async def _handoff(self, call: FunctionCallItem) -> tuple[ToolOutcome, Agent | None]:
        """Check a transfer; on success the output names the new agent."""
        target = self.scenario.handoff_target(call.name)
        allowed = ", ".join(self.agent.handoff_names()) or "nobody"
        problem = None
        if target is None:
            problem = f"no agent is reached by {call.name}; this agent can transfer to: {allowed}"
        elif target.name == self.agent.name:
            problem = f"the caller is already talking to {target.name}; help them directly"
        elif target.name not in self.agent.handoff_names():
            problem = f"{self.agent.name} cannot transfer to {target.name}; allowed: {allowed}"
        elif self._handed_off_this_turn:
            problem = (
                f"the caller was just transferred to you ({self.agent.name}); do not transfer "
                "again now. Answer the caller's request yourself."
            )
        to_name = target.name if target else call.name.removeprefix(HANDOFF_PREFIX)
        record = HandoffRecord(
            self.agent.name, to_name, _reason(call.arguments), time.time(), problem is None, problem
        )
        self.handoffs.append(record)
        if problem is not None or target is None:
            return error_output(problem or "unknown agent"), None
        # Kept minimal: the new agent reads every token of it before its first word (~8 ms
        # per token on 2 cores), and a 0.5B model echoes longer notes back to the caller.
        return ToolOutcome(handoff_output(target.name), ok=True), target

    async def _switch_to(self, target: Agent, reason: str) -> None:
        previous = self.agent.name
        self.agent = target
        self._handed_off_this_turn = True
        self._just_handed_off = True
        config = self._config(target)
        await self.model.send(ev.SessionUpdate(session=config))
        self._sent_instructions = config.instructions
        await self._emit(
            app.AgentChanged(agent=target.name, from_=previous, to=target.name, reason=reason)
        )

    def _config(self, agent: Agent) -> SessionConfig:
        """The session fields that belong to an agent: instructions, tools, voice."""
        tools = [FunctionToolDef.model_validate(t.spec()) for t in self.scenario.tools_for(agent)]
        config = SessionConfig(
            instructions=self._instructions(agent), tools=tools, tool_choice="auto"
        )
        voice = agent.voice or (self.voice.voice if self.voice else None)
        if voice:
            config.audio = AudioConfig(output=AudioOutput(voice=voice))
        return config

    async def _greet(self, text: str) -> None:
        """Say the greeting without adding it to the model's context.

        Measured on Qwen2.5-0.5B: with a greeting in context, the chance that the first reply
        is a needed handoff call drops from 0.99 to 0.05, because the model keeps chatting.
        """
        self._remember("assistant", text)
        await self._emit(app.AssistantMessage(agent=self.agent.name, text=text))


def arrival(agent_name: str) -> list[Item]:
    """The conversation items a transfer to `agent_name` adds: its call and its result."""
    call = FunctionCallItem(call_id="warm", name=handoff_tool_name(agent_name), arguments="{}")
    return [call, FunctionCallOutputItem(call_id="warm", output=handoff_output(agent_name))]


def reachable(graph: dict[str, list[str]], start: str) -> list[str]:
    """Agents reachable from `start` by handoffs, breadth first, `start` excluded."""
    seen, queue, order = {start}, [start], []
    while queue:
        for name in graph.get(queue.pop(0), []):
            if name not in seen:
                seen.add(name)
                queue.append(name)
                order.append(name)
    return order


def _canonical(arguments: str) -> str:
    """Arguments in a stable form, so the same call with other spacing compares equal."""
    try:
        return json.dumps(json.loads(arguments or "{}"), sort_keys=True)
    except json.JSONDecodeError:
        return arguments


def _error_text(output: str) -> str:
    try:
        value = json.loads(output)
    except json.JSONDecodeError:
        return output[:200]
    return str(value.get("error", output))[:200] if isinstance(value, dict) else output[:200]


def _reason(arguments: str) -> str:
    try:
        value = json.loads(arguments or "{}")
    except json.JSONDecodeError:
        return ""
    return str(value.get("reason", "")) if isinstance(value, dict) else ""
