"""What a client must remember to rebuild a realtime session on a fresh connection (I/O-free)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from pydantic import BaseModel

from voxrelay.realtime import events as ev
from voxrelay.realtime.types import (
    ContentPart,
    FunctionCallItem,
    FunctionCallOutputItem,
    InputAudio,
    InputText,
    Item,
    MessageItem,
    OutputAudio,
    OutputText,
)

JSON = dict[str, Any]


def wire_dict(model: BaseModel) -> JSON:
    """A protocol object as sent on the wire: unset `None`s left out, explicit `None`s kept.

    An explicit null means something (`turn_detection: null` is push-to-talk), while a field
    nobody set must not overwrite the server's value.
    """
    full = model.model_dump(mode="json")
    given = model.model_dump(mode="json", exclude_unset=True)
    pruned: JSON = _prune(full, given)
    return pruned


def _prune(full: Any, given: Any) -> Any:
    if isinstance(full, dict):
        given = given if isinstance(given, dict) else {}
        return {
            k: _prune(v, given.get(k))
            for k, v in full.items()
            if v is not None or (k in given and given[k] is None)
        }
    if isinstance(full, list):
        given = given if isinstance(given, list) and len(given) == len(full) else [None] * len(full)
        return [_prune(v, g) for v, g in zip(full, given, strict=True)]
    return full


class ConversationMirror:
    """The server conversation's finished items, in order, kept to re-create them later."""

    def __init__(self, limit: int = 200) -> None:
        self.limit = limit
        """At most this many items are kept (the oldest go first)."""
        self._items: dict[str, Item] = {}

    def __len__(self) -> int:
        return len(self._items)

    def __iter__(self) -> Iterator[Item]:
        """The items in conversation order, as last seen."""
        return iter(list(self._items.values()))

    def observe(self, event: ev.ServerEvent) -> None:
        """Follow the conversation through one server event."""
        if isinstance(event, ev.ConversationItemAdded | ev.ConversationItemDone):
            self._put(event.item)
        elif isinstance(event, ev.OutputItemDone):
            self._put(event.item)  # beta's only word on an assistant item's final content
        elif isinstance(event, ev.ConversationItemDeleted):
            self._items.pop(event.item_id, None)

    def _put(self, item: Item) -> None:
        if not item.id:
            return
        self._items[item.id] = item.model_copy(deep=True)
        while len(self._items) > self.limit:
            del self._items[next(iter(self._items))]

    def replay(self) -> list[Item]:
        """Finished items as a client may create them again: text only, no server fields."""
        out: list[Item] = []
        calls: set[str] = set()
        for item in self._items.values():
            if item.status == "in_progress":
                continue
            if isinstance(item, FunctionCallItem):
                calls.add(item.call_id)
                out.append(
                    FunctionCallItem(
                        id=item.id, call_id=item.call_id, name=item.name, arguments=item.arguments
                    )
                )
            elif isinstance(item, FunctionCallOutputItem):
                if item.call_id in calls:  # an output whose call was trimmed would be refused
                    out.append(
                        FunctionCallOutputItem(id=item.id, call_id=item.call_id, output=item.output)
                    )
            elif (message := _as_text(item)) is not None:
                out.append(message)
        return out

    def clear(self) -> None:
        """Forget every item."""
        self._items.clear()

    def reset(self, items: list[Item]) -> None:
        """Hold exactly `items`, in order (what a fresh server session was given)."""
        self._items.clear()
        for item in items:
            self._put(item)


def _as_text(item: MessageItem) -> MessageItem | None:
    """A message with audio replaced by its transcript; None when nothing is left."""
    parts: list[ContentPart] = []
    for part in item.content:
        if isinstance(part, InputText | OutputText) and part.text:
            parts.append(type(part)(text=part.text))
        elif isinstance(part, InputAudio) and part.transcript:
            parts.append(InputText(text=part.transcript))
        elif isinstance(part, OutputAudio) and part.transcript:
            parts.append(OutputText(text=part.transcript))
    if not parts:
        return None
    return MessageItem(id=item.id, role=item.role, content=parts)
