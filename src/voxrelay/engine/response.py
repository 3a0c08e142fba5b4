"""One response: stream a ChatModel into Realtime output items and their event sequence."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from voxrelay.engine.audio_out import SentenceGate, Speaker, Spoken
from voxrelay.engine.trace import TurnTrace
from voxrelay.models.base import ChatModel, Message, ModelSettings, TextDelta, ToolSpec, Usage
from voxrelay.realtime import events as ev
from voxrelay.realtime.types import (
    AudioFormat,
    FunctionCallItem,
    Item,
    MessageItem,
    OutputAudio,
    OutputText,
    Response,
    StatusDetails,
    new_id,
)
from voxrelay.realtime.types import Usage as RealtimeUsage
from voxrelay.speech.base import TTS

log = logging.getLogger(__name__)

Emit = Callable[[ev.ServerEvent], Awaitable[None]]
AddItem = Callable[[Item], str | None]
"""Adds an item to the conversation and returns the previous item's id."""


@dataclass
class ResponsePlan:
    """Everything a response needs, resolved from the session and `response.create`."""

    messages: list[Message]
    tools: list[ToolSpec]
    tool_choice: str
    settings: ModelSettings
    in_conversation: bool = True
    """False for out-of-band responses (`conversation: "none"`)."""
    output_modalities: list[str] = field(default_factory=lambda: ["text"])
    metadata: dict[str, object] | None = None
    voice: str | None = None
    output_format: AudioFormat | None = None


@dataclass
class Voice:
    """What a response needs to speak: the TTS, an optional sentence gate, the turn's trace."""

    tts: TTS
    gate: SentenceGate | None = None
    trace: TurnTrace | None = None


class SentenceBlocked(Exception):
    """The sentence gate refused a sentence; the response ends without speaking it."""


class ResponseRun:
    """Runs one response; `cancel()` ends it early with status `cancelled`."""

    def __init__(
        self,
        chat: ChatModel,
        plan: ResponsePlan,
        emit: Emit,
        add_item: AddItem,
        voice: Voice | None = None,
    ) -> None:
        self.chat = chat
        self.plan = plan
        self.emit = emit
        self.add_item = add_item
        self.voice = voice if "audio" in plan.output_modalities else None
        self.spoken: dict[str, list[Spoken]] = {}
        """Sentence timing of each spoken item, by item id (for truncation)."""
        self._speaker: Speaker | None = None
        self.response = Response(
            output_modalities=plan.output_modalities,
            metadata=plan.metadata,
            conversation_id=None,
        )
        self.cancel_reason: str | None = None
        self._text_item: MessageItem | None = None
        self._text_index = 0
        self._usage: Usage | None = None
        self._generation: asyncio.Task[None] | None = None

    @property
    def id(self) -> str:
        """The response id."""
        return self.response.id

    def cancel(self, reason: str = "client_cancelled") -> None:
        """Stop generating; the response ends with `cancelled` and open items `incomplete`."""
        if self.cancel_reason is None:
            self.cancel_reason = reason
        if self._generation is not None:
            self._generation.cancel()

    async def run(self) -> Response:
        """Emit `response.created`, stream the model, then close items and emit `response.done`."""
        await self.emit(ev.ResponseCreated(response=self.response.model_copy(deep=True)))
        self._generation = asyncio.create_task(self._generate())
        try:
            await self._generation
        except asyncio.CancelledError:
            current = asyncio.current_task()
            if self.cancel_reason is None or (current is not None and current.cancelling()):
                self._generation.cancel()
                raise
            self._set_status(
                "cancelled", StatusDetails(type="cancelled", reason=self.cancel_reason)
            )
        except SentenceBlocked:
            details = StatusDetails(type="incomplete", reason="content_filter")
            self._set_status("incomplete", details)
        except Exception as exc:
            log.exception("response %s failed", self.id)
            error = {"type": "server_error", "code": "model_error", "message": str(exc)}
            self._set_status("failed", StatusDetails(type="failed", error=error))
        else:
            self._finish_status()
        await self._close_text_item()
        self.response.usage = _usage(self._usage)
        await self.emit(ev.ResponseDone(response=self.response.model_copy(deep=True)))
        return self.response

    async def _generate(self) -> None:
        p = self.plan
        trace = self.voice.trace if self.voice else None
        async for item in self.chat.stream(p.messages, p.tools, p.tool_choice, p.settings):
            if trace is not None and not isinstance(item, Usage):
                trace.mark("first_token")
            if isinstance(item, TextDelta):
                await self._text(item.text)
            elif isinstance(item, Usage):
                self._usage = item
            else:
                await self._finish_speech()
                await self._close_text_item()
                await self._function_call(item.call_id, item.name, item.arguments)
        await self._finish_speech()

    async def _finish_speech(self) -> None:
        """Wait until every generated sentence is spoken (inside the cancellable generation)."""
        if self._speaker is not None:
            await self._speaker.finish()
            if self._speaker.blocked is not None:
                raise SentenceBlocked(self._speaker.blocked)

    def _set_status(self, status: str, details: StatusDetails | None) -> None:
        self.response.status = status  # type: ignore[assignment]
        self.response.status_details = details

    def _finish_status(self) -> None:
        limit = self.plan.settings.max_tokens
        if limit and self._usage and self._usage.output_tokens >= limit:
            details = StatusDetails(type="incomplete", reason="max_output_tokens")
            self._set_status("incomplete", details)
        else:
            self._set_status("completed", None)

    async def _open_item(self, item: Item) -> int:
        """Announce a new output item; returns its output_index."""
        index = len(self.response.output)
        self.response.output.append(item)
        await self.emit(
            ev.OutputItemAdded(
                response_id=self.id, output_index=index, item=item.model_copy(deep=True)
            )
        )
        if self.plan.in_conversation:
            previous = self.add_item(item)
            await self.emit(
                ev.ConversationItemAdded(item=item.model_copy(deep=True), previous_item_id=previous)
            )
        return index

    async def _done_item(self, item: Item, index: int) -> None:
        if self.plan.in_conversation:
            await self.emit(ev.ConversationItemDone(item=item.model_copy(deep=True)))
        await self.emit(
            ev.OutputItemDone(
                response_id=self.id, output_index=index, item=item.model_copy(deep=True)
            )
        )

    async def _text(self, delta: str) -> None:
        if self._text_item is None:
            await self._open_message()
        if self._speaker is not None:
            await self._speaker.push(delta)
            if self._speaker.blocked is not None:
                raise SentenceBlocked(self._speaker.blocked)
            return
        assert self._text_item is not None
        part = self._text_item.content[0]
        assert isinstance(part, OutputText)
        part.text += delta
        await self.emit(ev.OutputTextDelta(**self._part_ids(), delta=delta))

    async def _open_message(self) -> None:
        item = MessageItem(id=new_id("item"), role="assistant", status="in_progress", content=[])
        self._text_item = item
        self._text_index = await self._open_item(item)
        part: OutputText | OutputAudio = (
            OutputText(text="") if self.voice is None else OutputAudio(transcript="")
        )
        item.content.append(part)
        await self.emit(ev.ContentPartAdded(**self._part_ids(), part=part.model_copy()))
        if self.voice is not None:
            self._speaker = Speaker(
                self.voice.tts,
                self.plan.output_format,
                voice=self.plan.voice,
                on_text=self._transcript_delta,
                on_audio=self._audio_delta,
                gate=self.voice.gate,
                trace=self.voice.trace,
            )

    async def _transcript_delta(self, delta: str) -> None:
        assert self._text_item is not None
        part = self._text_item.content[0]
        assert isinstance(part, OutputAudio)
        part.transcript = (part.transcript or "") + delta
        await self.emit(ev.OutputAudioTranscriptDelta(**self._part_ids(), delta=delta))

    async def _audio_delta(self, audio: str) -> None:
        await self.emit(ev.OutputAudioDelta(**self._part_ids(), delta=audio))

    def _part_ids(self) -> dict[str, str | int]:
        assert self._text_item is not None and self._text_item.id is not None
        return {
            "response_id": self.id,
            "item_id": self._text_item.id,
            "output_index": self._text_index,
            "content_index": 0,
        }

    async def _close_text_item(self) -> None:
        item = self._text_item
        if item is None:
            return
        self._text_item = None
        part = item.content[0]
        ids = {"response_id": self.id, "item_id": item.id or "", "output_index": self._text_index}
        if isinstance(part, OutputAudio):
            await self._close_speech(item)
            await self.emit(ev.OutputAudioDone(**ids, content_index=0))
            transcript = part.transcript or ""
            await self.emit(
                ev.OutputAudioTranscriptDone(**ids, content_index=0, transcript=transcript)
            )
        else:
            assert isinstance(part, OutputText)
            await self.emit(ev.OutputTextDone(**ids, content_index=0, text=part.text))
        await self.emit(ev.ContentPartDone(**ids, content_index=0, part=part.model_copy(deep=True)))
        item.status = "completed" if self.response.status == "completed" else "incomplete"
        await self._done_item(item, self._text_index)

    async def _close_speech(self, item: MessageItem) -> None:
        """Stop a speaker that is still running (cancel, failure) and keep its timing."""
        speaker, self._speaker = self._speaker, None
        if speaker is None:
            return
        await speaker.cancel()
        self.spoken[item.id or ""] = list(speaker.spoken)

    async def _function_call(self, call_id: str, name: str, arguments: str) -> None:
        item = FunctionCallItem(
            id=new_id("item"), call_id=call_id, name=name, arguments="", status="in_progress"
        )
        index = await self._open_item(item)
        ids = {"response_id": self.id, "item_id": item.id or "", "output_index": index}
        await self.emit(ev.FunctionCallArgumentsDelta(**ids, call_id=call_id, delta=arguments))
        item.arguments = arguments
        item.status = "completed"
        await self.emit(
            ev.FunctionCallArgumentsDone(**ids, call_id=call_id, name=name, arguments=arguments)
        )
        await self._done_item(item, index)


def _usage(usage: Usage | None) -> RealtimeUsage | None:
    if usage is None:
        return None
    return RealtimeUsage(
        total_tokens=usage.input_tokens + usage.output_tokens,
        input_tokens=usage.input_tokens,
        output_tokens=usage.output_tokens,
        input_token_details={
            "cached_tokens": usage.cached_tokens,
            "text_tokens": usage.input_tokens,
        },
        output_token_details={"text_tokens": usage.output_tokens},
    )
