"""The local realtime engine: the server side of the Realtime protocol over a ChatModel."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

from voxrelay.engine.conversation import Conversation, to_messages
from voxrelay.engine.response import ResponsePlan, ResponseRun, tool_specs
from voxrelay.errors import ProtocolError
from voxrelay.models.base import ChatModel, ModelSettings, Warmable
from voxrelay.realtime import events as ev
from voxrelay.realtime.types import (
    AudioConfig,
    AudioFormat,
    AudioInput,
    AudioOutput,
    ResponseParams,
    SessionConfig,
    ToolChoiceValue,
    TurnDetection,
    new_id,
)

log = logging.getLogger(__name__)

Handler = Callable[[Any], Awaitable[None]]


def default_session(model: str = "voxrelay-local") -> SessionConfig:
    """The configuration a new session starts with."""
    pcm = AudioFormat(type="audio/pcm", rate=24000)
    return SessionConfig(
        id=new_id("sess"),
        object="realtime.session",
        model=model,
        instructions="",
        tools=[],
        tool_choice="auto",
        output_modalities=["text"],
        max_output_tokens="inf",
        audio=AudioConfig(
            input=AudioInput(format=pcm, turn_detection=TurnDetection()),
            output=AudioOutput(format=pcm, voice="alloy"),
        ),
    )


def merge_session(current: SessionConfig, update: SessionConfig) -> SessionConfig:
    """Apply the fields an update actually sent; nested objects merge, lists replace."""
    merged = _deep_merge(
        current.model_dump(exclude_none=False), update.model_dump(exclude_unset=True)
    )
    return SessionConfig.model_validate(merged)


def _deep_merge(base: dict[str, Any], patch: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in patch.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _deep_merge(out[key], value)
        else:
            out[key] = value
    return out


def tool_choice_name(choice: ToolChoiceValue | None, tool_names: list[str]) -> str:
    """Normalize a Realtime tool_choice to `auto`/`none`/`required` or one tool's name."""
    if choice is None:
        return "auto"
    if isinstance(choice, dict):
        name = str(choice.get("name", ""))
        if name not in tool_names:
            known = ", ".join(tool_names) or "none"
            raise ProtocolError(
                "invalid_value",
                f"tool_choice names {name!r}, not a tool; tools: {known}",
                param="tool_choice",
            )
        return name
    if choice not in ("auto", "none", "required"):
        raise ProtocolError(
            "invalid_value",
            "tool_choice must be auto, none, required or {type: function, name}",
            param="tool_choice",
        )
    return choice


class Engine:
    """Holds one session's conversation and runs at most one response at a time."""

    def __init__(
        self, chat: ChatModel, *, model_name: str = "voxrelay-local", queue_size: int = 1024
    ) -> None:
        self.chat = chat
        self.session = default_session(model_name)
        self.conversation = Conversation()
        self._out: asyncio.Queue[ev.ServerEvent | None] = asyncio.Queue(queue_size)
        self._active: ResponseRun | None = None
        self._task: asyncio.Task[None] | None = None
        self._warming: set[asyncio.Task[None]] = set()
        self._handlers: dict[str, Handler] = {
            "session.update": self._session_update,
            "conversation.item.create": self._item_create,
            "conversation.item.retrieve": self._item_retrieve,
            "conversation.item.delete": self._item_delete,
            "conversation.item.truncate": self._audio_unavailable,
            "input_audio_buffer.append": self._audio_unavailable,
            "input_audio_buffer.commit": self._audio_unavailable,
            "input_audio_buffer.clear": self._audio_unavailable,
            "response.create": self._response_create,
            "response.cancel": self._response_cancel,
        }

    # ---- lifecycle ---------------------------------------------------------------------------

    async def start(self) -> None:
        """Announce the session (`session.created`)."""
        await self._emit(ev.SessionCreated(session=self.session.model_copy(deep=True)))

    async def events(self) -> AsyncIterator[ev.ServerEvent]:
        """Outgoing server events until the engine closes."""
        while (event := await self._out.get()) is not None:
            yield event

    async def close(self) -> None:
        """Cancel any running response and end the event stream."""
        for task in (self._task, *self._warming):
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        await self._out.put(None)

    async def wait_idle(self) -> None:
        """Wait for the running response, if any, to finish."""
        if self._task is not None:
            await asyncio.shield(self._task)

    @property
    def active_response(self) -> ResponseRun | None:
        """The response being generated now, if any."""
        return self._active

    # ---- input -------------------------------------------------------------------------------

    async def handle(self, event: ev.ClientEvent) -> None:
        """Apply one client event; protocol errors become `error` events, never exceptions."""
        try:
            await self._handlers[event.type](event)
        except ProtocolError as exc:
            log.info("client event %s refused: %s", event.type, exc)
            await self._emit(ev.error_event(exc, event.event_id))

    async def handle_raw(self, data: str | bytes | dict[str, Any]) -> None:
        """Parse then apply a client event from the wire; bad input becomes an `error` event."""
        try:
            event = ev.parse_client_event(data)
        except ProtocolError as exc:
            caused_by = data.get("event_id") if isinstance(data, dict) else None
            await self._emit(ev.error_event(exc, caused_by))
            return
        await self.handle(event)

    async def _emit(self, event: ev.ServerEvent) -> None:
        await self._out.put(event)

    # ---- handlers ----------------------------------------------------------------------------

    async def _session_update(self, event: ev.SessionUpdate) -> None:
        merged = merge_session(self.session, event.session)
        names = [t.name for t in merged.tools or []]
        if len(set(names)) != len(names):
            raise ProtocolError("invalid_value", "tool names must be unique", param="session.tools")
        tool_choice_name(merged.tool_choice, names)
        self.session = merged
        await self._emit(ev.SessionUpdated(session=merged.model_copy(deep=True)))
        self._warm()

    def _warm(self) -> None:
        """Let a model that can pre-evaluate the new instructions and tools do it now."""
        if not isinstance(self.chat, Warmable):
            return
        messages = to_messages(self.session.instructions or "", [])
        tools = tool_specs(self.session.tools or [])
        task = asyncio.create_task(self._warm_quietly(self.chat, messages, tools))
        self._warming.add(task)
        task.add_done_callback(self._warming.discard)

    @staticmethod
    async def _warm_quietly(chat: Warmable, messages: list[Any], tools: list[Any]) -> None:
        try:
            await chat.warm(messages, tools)
        except Exception:
            log.warning(
                "prompt warm-up failed; the next response evaluates it instead", exc_info=True
            )

    async def _item_create(self, event: ev.ConversationItemCreate) -> None:
        item = event.item.model_copy(deep=True)
        item.status = "completed"
        previous = self.conversation.add(item, event.previous_item_id)
        await self._emit(
            ev.ConversationItemAdded(item=item.model_copy(deep=True), previous_item_id=previous)
        )
        await self._emit(
            ev.ConversationItemDone(item=item.model_copy(deep=True), previous_item_id=previous)
        )

    async def _item_retrieve(self, event: ev.ConversationItemRetrieve) -> None:
        item = self.conversation.get(event.item_id)
        await self._emit(ev.ConversationItemRetrieved(item=item.model_copy(deep=True)))

    async def _item_delete(self, event: ev.ConversationItemDelete) -> None:
        self.conversation.delete(event.item_id)
        await self._emit(ev.ConversationItemDeleted(item_id=event.item_id))

    async def _audio_unavailable(self, event: ev.ClientEvent) -> None:
        """Seam for the speech stack: audio events are refused until one is attached."""
        raise ProtocolError(
            "audio_unavailable",
            f"{event.type}: this engine runs the text modality only (no speech stack attached); "
            "send text with conversation.item.create instead",
        )

    async def _response_create(self, event: ev.ResponseCreate) -> None:
        if self._active is not None:
            raise ProtocolError(
                "conversation_already_has_active_response",
                f"Conversation already has an active response in progress: {self._active.id}. "
                "Wait until the response is finished before creating a new one.",
            )
        plan = self._plan(event.response or ResponseParams())
        run = ResponseRun(self.chat, plan, self._emit, self.conversation.add)
        self._active = run
        self._task = asyncio.create_task(self._run(run), name=f"response {run.id}")

    async def _run(self, run: ResponseRun) -> None:
        try:
            await run.run()
        finally:
            self._active = None

    async def _response_cancel(self, event: ev.ResponseCancel) -> None:
        run = self._active
        if run is None or (event.response_id and event.response_id != run.id):
            raise ProtocolError(
                "response_cancel_not_active", "Cancellation failed: no active response found."
            )
        run.cancel("client_cancelled")

    def _plan(self, params: ResponseParams) -> ResponsePlan:
        s = self.session
        tools = params.tools if params.tools is not None else (s.tools or [])
        choice = params.tool_choice if params.tool_choice is not None else s.tool_choice
        instructions = params.instructions if params.instructions is not None else s.instructions
        items = params.input if params.input is not None else list(self.conversation)
        limit = params.max_output_tokens or s.max_output_tokens
        return ResponsePlan(
            messages=to_messages(instructions or "", items),
            tools=tool_specs(tools),
            tool_choice=tool_choice_name(choice, [t.name for t in tools]),
            settings=ModelSettings(max_tokens=limit if isinstance(limit, int) else None),
            in_conversation=params.conversation != "none",
            output_modalities=list(params.output_modalities or s.output_modalities or ["text"]),
            metadata=params.metadata,
        )
