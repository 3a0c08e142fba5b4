"""Session rules shared by every side of the protocol (I/O-free): defaults, merge and checks.

The engine, the ephemeral-key endpoints and the clients' own session records all apply
`session.update` the same way; this module is the one place that says how, and what a
session may hold: audio formats the engine can carry, valid tool schemas, a tool choice that
names a tool. Every refusal is a ProtocolError whose `param` names the field to fix.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from functools import lru_cache
from typing import Any
from urllib.parse import unquote

from jsonschema import Draft202012Validator
from jsonschema.exceptions import SchemaError
from jsonschema.validators import validator_for

from voxrelay.errors import ProtocolError
from voxrelay.realtime.inbound import check_depth
from voxrelay.realtime.types import (
    AudioConfig,
    AudioFormat,
    AudioInput,
    AudioOutput,
    FunctionToolDef,
    SessionConfig,
    ToolChoiceValue,
    TurnDetection,
    new_id,
)

JSON = dict[str, Any]

RATES: dict[str, tuple[int, ...]] = {
    "audio/pcm": (24000,),
    "audio/pcmu": (8000,),
    "audio/pcma": (8000,),
}
"""Sample rates the engine carries per wire format (a format may also omit its rate)."""
_RATE_WHEN_RETYPED: dict[str, int | None] = {"audio/pcm": 24000}
"""The rate a format gets when a client sends its `type` without a rate (G.711: none)."""
_DATA_KEYWORDS = frozenset({"enum", "const", "default", "examples"})
"""Schema keywords whose values are data, not schemas (a `$ref` key there is not a ref)."""


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


def deep_merge(base: JSON, patch: JSON) -> JSON:
    """`patch` over `base` the way `session.update` applies: objects merge, the rest replaces."""
    out = dict(base)
    for key, value in patch.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = deep_merge(out[key], value)
        else:
            out[key] = value
    return out


def merge_session(current: SessionConfig, update: SessionConfig) -> SessionConfig:
    """Apply the fields an update actually sent; nested objects merge, lists replace.

    An audio format sent with a new `type` (or a G.711 one) and no `rate` takes that type's
    own rate, 24000 for `audio/pcm` and none for G.711: the old rate belonged to the old type.
    """
    base = current.model_dump(exclude_none=False)
    patch = update.model_dump(exclude_unset=True)
    for side in ("input", "output"):
        _retype_format(_format_of(base, side), _format_of(patch, side))
    return SessionConfig.model_validate(deep_merge(base, patch))


def _format_of(session: JSON, side: str) -> JSON | None:
    audio = session.get("audio")
    end = audio.get(side) if isinstance(audio, dict) else None
    fmt = end.get("format") if isinstance(end, dict) else None
    return fmt if isinstance(fmt, dict) else None


def _retype_format(old: JSON | None, new: JSON | None) -> None:
    """A format patch with a new type (or a G.711 one) and no rate gets that type's rate."""
    if new is None or "type" not in new or "rate" in new:
        return
    kind = str(new["type"])
    if (old or {}).get("type") != kind or kind not in _RATE_WHEN_RETYPED:
        new["rate"] = _RATE_WHEN_RETYPED.get(kind)


def check_audio(
    config: SessionConfig, update: SessionConfig | None = None, where: str = "session"
) -> None:
    """Each audio format (those `update` sent, or all) is one the engine carries."""
    sent = update if update is not None else config
    for side in ("input", "output"):
        if _side_format(sent, side) is not None:
            param = f"{where}.audio.{side}.format".lstrip(".")
            check_format(_side_format(config, side), param)


def _side_format(config: SessionConfig, side: str) -> AudioFormat | None:
    end = getattr(config.audio, side, None) if config.audio else None
    fmt = end.format if end is not None else None
    return fmt if isinstance(fmt, AudioFormat) else None


def check_format(fmt: AudioFormat | None, param: str) -> None:
    """ProtocolError unless `fmt` is PCM16 at 24 kHz or G.711 at 8 kHz (rate may be omitted)."""
    if fmt is None or fmt.rate is None or fmt.rate in RATES[fmt.type]:
        return
    rates = " or ".join(str(r) for r in RATES[fmt.type])
    raise ProtocolError(
        "invalid_value",
        f"{param}.rate {fmt.rate} is not supported for {fmt.type}: send rate {rates} or omit "
        "it (audio/pcm is 24000 Hz PCM16; audio/pcmu and audio/pcma are 8000 Hz G.711)",
        param=f"{param}.rate",
    )


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
    if choice == "required" and not tool_names:
        raise ProtocolError(
            "invalid_value",
            "tool_choice required needs at least one tool: send tools, or use auto or none",
            param="tool_choice",
        )
    return choice


def check_tools(config: SessionConfig, where: str = "session") -> None:
    """Tool names are unique, schemas valid and tool_choice names one of them; ProtocolError."""
    tools = config.tools or []
    check_tool_defs(tools, f"{where}.tools".lstrip("."))
    tool_choice_name(config.tool_choice, [t.name for t in tools])


def check_tool_defs(tools: Sequence[FunctionToolDef], where: str = "tools") -> None:
    """Tool names are unique and every `parameters` is a usable JSON Schema."""
    names = [t.name for t in tools]
    if len(set(names)) != len(names):
        raise ProtocolError("invalid_value", "tool names must be unique", param=where)
    for i, tool in enumerate(tools):
        check_schema(tool.parameters, f"{where}.{i}.parameters")


def check_schema(schema: JSON, param: str) -> None:
    """A tool's `parameters`: bounded depth, valid against the meta-schema, refs resolved.

    The dialect is the schema's own `$schema` when jsonschema knows it, else draft 2020-12.
    The meta-schema's `regex` format compiles every `pattern` (and `patternProperties` key)
    with Python's `re`, so a pattern that cannot compile is refused here too. Schemas that
    passed are remembered, so a handoff's `session.update` does not check them again.
    """
    check_depth(schema, param, param)
    _check_schema_text(json.dumps(schema, sort_keys=True, default=str), param)


@lru_cache(maxsize=256)
def _check_schema_text(text: str, param: str) -> None:
    schema = json.loads(text)
    dialect = schema.get("$schema") if isinstance(schema, dict) else None
    meta = Draft202012Validator
    if isinstance(dialect, str):
        meta = validator_for({"$schema": dialect}, default=Draft202012Validator)
    try:
        meta.check_schema(schema)
    except SchemaError as exc:
        raise _schema_refusal(exc, param) from None
    for ref in _refs(schema):
        if _resolve(schema, ref) is None:
            raise ProtocolError(
                "invalid_value",
                f"{param} has a $ref {ref[:100]!r} that does not resolve: only local refs "
                "(#/$defs/Name) to schemas defined in the same parameters are allowed",
                param=param,
            )


def _schema_refusal(exc: SchemaError, param: str) -> ProtocolError:
    """A fixed message naming where the schema breaks the rules (never jsonschema's text)."""
    where = ".".join([param, *(str(p) for p in exc.absolute_path)])
    if exc.validator == "format":
        why = 'is not a regular expression Python\'s `re` compiles; send one such as "^[A-Z]{3}$"'
    else:
        why = (
            f"breaks the JSON Schema meta-schema (its `{exc.validator}` rule); send a JSON "
            'Schema (draft 2020-12) such as {"type": "object", "properties": {"city": '
            '{"type": "string"}}}'
        )
    return ProtocolError("invalid_value", f"{where} {why}", param=where)


def _refs(node: Any) -> Iterator[str]:
    """Every `$ref` in a schema, skipping data keywords (enum, const, default, examples)."""
    stack = [node]
    while stack:
        current = stack.pop()
        if isinstance(current, list):
            stack.extend(current)
        elif isinstance(current, dict):
            ref = current.get("$ref")
            if isinstance(ref, str):
                yield ref
            stack.extend(v for k, v in current.items() if k not in _DATA_KEYWORDS)


def _resolve(root: JSON, ref: str) -> Any:
    """The schema a local ref (`#`, `#/json/pointer` or `#anchor`) names, or None."""
    if ref == "#":
        return root
    if not ref.startswith("#"):
        return None
    if not ref.startswith("#/"):
        return _anchor(root, ref[1:])
    node: Any = root
    for token in unquote(ref[2:]).split("/"):
        node = _step(node, token.replace("~1", "/").replace("~0", "~"))
        if node is None:
            return None
    return node


def _step(node: Any, key: str) -> Any:
    if isinstance(node, dict):
        return node.get(key)
    if isinstance(node, list) and key.isdigit() and int(key) < len(node):
        return node[int(key)]
    return None


def _anchor(root: JSON, name: str) -> Any:
    stack: list[Any] = [root]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            if node.get("$anchor") == name:
                return node
            stack.extend(v for k, v in node.items() if k not in _DATA_KEYWORDS)
        elif isinstance(node, list):
            stack.extend(node)
    return None


def apply_update(
    current: SessionConfig, update: SessionConfig, *, where: str = "session"
) -> SessionConfig:
    """The session after `update`, checked; ProtocolError says what to fix.

    `where` prefixes the `param` of a refusal (`session` for session.update).
    """
    merged = merge_session(current, update)
    check_audio(merged, update, where)
    check_tools(merged, where)
    return merged
