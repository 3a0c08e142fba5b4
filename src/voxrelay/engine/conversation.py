"""The engine's conversation: an ordered item store and its view as chat messages (I/O-free)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from voxrelay.errors import ProtocolError
from voxrelay.models.base import Message, ToolCall
from voxrelay.realtime.types import (
    FunctionCallItem,
    FunctionCallOutputItem,
    InputAudio,
    InputText,
    Item,
    MessageItem,
    new_id,
)

MAX_ITEMS = 4096


class Conversation:
    """Items in order, addressable by id."""

    def __init__(self) -> None:
        self._items: list[Item] = []

    def __iter__(self) -> Iterator[Item]:
        return iter(list(self._items))

    def __len__(self) -> int:
        return len(self._items)

    def ids(self) -> list[str]:
        """Item ids in order."""
        return [i.id or "" for i in self._items]

    def last_id(self) -> str | None:
        """The id of the newest item, if any."""
        return self._items[-1].id if self._items else None

    def add(self, item: Item, previous_item_id: str | None = None) -> str | None:
        """Insert an item after `previous_item_id` (default: at the end); return that id."""
        if item.id is None:
            item.id = new_id("item")
        if any(i.id == item.id for i in self._items):
            raise ProtocolError(
                "item_already_exists", f"item {item.id!r} already exists", param="item.id"
            )
        if len(self._items) >= MAX_ITEMS:
            raise ProtocolError(
                "conversation_full", f"the conversation holds {MAX_ITEMS} items; delete some first"
            )
        if previous_item_id is None:
            before = self.last_id()
            self._items.append(item)
            return before
        if previous_item_id == "root":
            self._items.insert(0, item)
            return None
        index = self._index(previous_item_id, param="previous_item_id")
        self._items.insert(index + 1, item)
        return previous_item_id

    def get(self, item_id: str) -> Item:
        """The item with this id; ProtocolError if there is none."""
        return self._items[self._index(item_id)]

    def delete(self, item_id: str) -> None:
        """Remove an item."""
        del self._items[self._index(item_id)]

    def _index(self, item_id: str, param: str = "item_id") -> int:
        for n, item in enumerate(self._items):
            if item.id == item_id:
                return n
        raise ProtocolError("item_not_found", f"no item with id {item_id!r}", param=param)


def to_messages(instructions: str, items: Iterable[Item]) -> list[Message]:
    """The chat-completions view of a conversation: system prompt, then one message per item."""
    messages = [Message("system", instructions)] if instructions else []
    names: dict[str, str] = {}
    for item in items:
        if isinstance(item, MessageItem):
            if item.role == "user" and not _has_text(item):
                continue
            messages.append(Message(item.role, item.text()))
        elif isinstance(item, FunctionCallItem):
            names[item.call_id] = item.name
            call = ToolCall(item.call_id, item.name, item.arguments or "{}")
            messages.append(Message("assistant", tool_calls=(call,)))
        elif isinstance(item, FunctionCallOutputItem):
            name = names.get(item.call_id)
            messages.append(Message("tool", item.output, tool_call_id=item.call_id, name=name))
    return messages


def _has_text(item: MessageItem) -> bool:
    """True when a user message has text or a transcript (audio awaiting STT has neither)."""
    return any(
        (isinstance(p, InputText) and p.text) or (isinstance(p, InputAudio) and p.transcript)
        for p in item.content
    )
