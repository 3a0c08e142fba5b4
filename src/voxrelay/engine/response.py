"""One response's protocol state: model output in, its Realtime event sequence out (I/O-free)."""

from __future__ import annotations

from dataclasses import dataclass, field

from voxrelay.engine.audio_out import Spoken
from voxrelay.engine.conversation import Conversation
from voxrelay.models.base import Message, ModelSettings, ToolSpec, Usage
from voxrelay.realtime import events as ev
from voxrelay.realtime.types import (
    AudioFormat,
    FunctionCallItem,
    Item,
    MessageItem,
    OutputAudio,
    OutputText,
    Response,
    ResponseStatus,
    StatusDetails,
    new_id,
)
from voxrelay.realtime.types import Usage as RealtimeUsage

Events = list[ev.ServerEvent]


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

    @property
    def spoken(self) -> bool:
        """True when the reply is audio (its text goes out as the audio's transcript)."""
        return "audio" in self.output_modalities


class ResponseState:
    """The items of one response and the events that build them, in protocol order."""

    def __init__(self, plan: ResponsePlan, conversation: Conversation) -> None:
        self.plan = plan
        self.conversation = conversation
        self.response = Response(
            output_modalities=plan.output_modalities,
            metadata=plan.metadata,
            conversation_id=None,
        )
        self.usage: Usage | None = None
        self.spoken: dict[str, list[Spoken]] = {}
        """Sentence timing of each spoken item, by item id (for truncation)."""
        self._message: MessageItem | None = None
        self._message_index = 0

    @property
    def id(self) -> str:
        """The response id."""
        return self.response.id

    @property
    def message_open(self) -> bool:
        """True while an assistant message item is being written."""
        return self._message is not None

    @property
    def message_id(self) -> str | None:
        """The open message item's id, if any."""
        return self._message.id if self._message is not None else None

    def created(self) -> Events:
        """`response.created`."""
        return [ev.ResponseCreated(response=self.response.model_copy(deep=True))]

    def open_message(self) -> Events:
        """Start the assistant message item and its text or audio part."""
        item = MessageItem(id=new_id("item"), role="assistant", status="in_progress", content=[])
        events, self._message_index = self._open_item(item)
        self._message = item
        part: OutputText | OutputAudio = (
            OutputAudio(transcript="") if self.plan.spoken else OutputText(text="")
        )
        item.content.append(part)
        events.append(ev.ContentPartAdded(**self._part_ids(), part=part.model_copy()))
        return events

    def text_delta(self, delta: str) -> ev.OutputTextDelta:
        """Text of a text reply (the message is open)."""
        part = self._part()
        assert isinstance(part, OutputText)
        part.text += delta
        return ev.OutputTextDelta(**self._part_ids(), delta=delta)

    def transcript_delta(self, delta: str) -> ev.OutputAudioTranscriptDelta:
        """Transcript of the audio about to be spoken."""
        part = self._part()
        assert isinstance(part, OutputAudio)
        part.transcript = (part.transcript or "") + delta
        return ev.OutputAudioTranscriptDelta(**self._part_ids(), delta=delta)

    def audio_delta(self, audio: str) -> ev.OutputAudioDelta:
        """A piece of spoken audio, base64 in the output format."""
        return ev.OutputAudioDelta(**self._part_ids(), delta=audio)

    def close_message(self, spoken: list[Spoken] | None = None) -> Events:
        """End the open message item (if any); `spoken` is its audio's sentence timing."""
        item = self._message
        if item is None:
            return []
        self._message = None
        if spoken is not None:
            self.spoken[item.id or ""] = spoken
        part = item.content[0]
        index = self._message_index
        ids = {"response_id": self.id, "item_id": item.id or "", "output_index": index}
        events: Events = []
        if isinstance(part, OutputAudio):
            transcript = part.transcript or ""
            events.append(ev.OutputAudioDone(**ids, content_index=0))
            events.append(
                ev.OutputAudioTranscriptDone(**ids, content_index=0, transcript=transcript)
            )
        else:
            assert isinstance(part, OutputText)
            events.append(ev.OutputTextDone(**ids, content_index=0, text=part.text))
        events.append(ev.ContentPartDone(**ids, content_index=0, part=part.model_copy(deep=True)))
        item.status = "completed" if self.response.status == "completed" else "incomplete"
        return events + self._done_item(item, index)

    def function_call(self, call_id: str, name: str, arguments: str) -> Events:
        """A complete tool call item (the message before it must be closed)."""
        item = FunctionCallItem(
            id=new_id("item"), call_id=call_id, name=name, arguments="", status="in_progress"
        )
        events, index = self._open_item(item)
        ids = {"response_id": self.id, "item_id": item.id or "", "output_index": index}
        events.append(ev.FunctionCallArgumentsDelta(**ids, call_id=call_id, delta=arguments))
        item.arguments = arguments
        item.status = "completed"
        events.append(
            ev.FunctionCallArgumentsDone(**ids, call_id=call_id, name=name, arguments=arguments)
        )
        return events + self._done_item(item, index)

    def set_status(self, status: ResponseStatus, details: StatusDetails | None = None) -> None:
        """How the response ended (before `finish`)."""
        self.response.status = status
        self.response.status_details = details

    def complete(self) -> None:
        """The model finished: `completed`, or `incomplete` when it hit the token limit."""
        limit = self.plan.settings.max_tokens
        if limit and self.usage and self.usage.output_tokens >= limit:
            details = StatusDetails(type="incomplete", reason="max_output_tokens")
            self.set_status("incomplete", details)
        else:
            self.set_status("completed")

    def finish(self, spoken: list[Spoken] | None = None) -> Events:
        """Close what is open and end with `response.done` (status set before)."""
        events = self.close_message(spoken)
        self.response.usage = _usage(self.usage)
        events.append(ev.ResponseDone(response=self.response.model_copy(deep=True)))
        return events

    def _open_item(self, item: Item) -> tuple[Events, int]:
        index = len(self.response.output)
        self.response.output.append(item)
        events: Events = [
            ev.OutputItemAdded(
                response_id=self.id, output_index=index, item=item.model_copy(deep=True)
            )
        ]
        if self.plan.in_conversation:
            previous = self.conversation.add(item)
            events.append(
                ev.ConversationItemAdded(item=item.model_copy(deep=True), previous_item_id=previous)
            )
        return events, index

    def _done_item(self, item: Item, index: int) -> Events:
        events: Events = []
        if self.plan.in_conversation:
            events.append(ev.ConversationItemDone(item=item.model_copy(deep=True)))
        events.append(
            ev.OutputItemDone(
                response_id=self.id, output_index=index, item=item.model_copy(deep=True)
            )
        )
        return events

    def _part(self) -> OutputText | OutputAudio:
        assert self._message is not None
        part = self._message.content[0]
        assert isinstance(part, OutputText | OutputAudio)
        return part

    def _part_ids(self) -> dict[str, str | int]:
        assert self._message is not None and self._message.id is not None
        return {
            "response_id": self.id,
            "item_id": self._message.id,
            "output_index": self._message_index,
            "content_index": 0,
        }


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
