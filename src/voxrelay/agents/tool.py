"""`@tool`: turn a typed Python function into a strictly validated model tool."""

from __future__ import annotations

import asyncio
import inspect
import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Any, get_args, get_origin, get_type_hints, overload

from pydantic import BaseModel, ConfigDict, Field, ValidationError, create_model

from voxrelay.agents.context import RunContext
from voxrelay.agents.grounding import Grounded
from voxrelay.errors import ToolError, VoxrelayError

ToolFn = Callable[..., Any]


class ToolArgumentsError(VoxrelayError, ValueError):
    """The model's arguments for a tool do not match its schema."""


@dataclass(frozen=True)
class FunctionTool:
    """A tool the model may call: name, description, strict JSON schema and the function."""

    name: str
    description: str
    parameters: dict[str, Any]
    """Strict JSON schema of the arguments (all properties required, no extras)."""
    fn: ToolFn
    args_model: type[BaseModel]
    takes_context: bool = False
    timeout_s: float | None = None
    """Per-tool timeout; None uses the session default."""
    grounded: tuple[str, ...] = ()
    """Parameters whose values must occur in the conversation (see `Grounded`)."""

    def spec(self) -> dict[str, Any]:
        """The Realtime `tools[]` entry for this tool."""
        return {
            "type": "function",
            "name": self.name,
            "description": self.description,
            "parameters": self.parameters,
        }

    def parse_arguments(self, arguments: str) -> dict[str, Any]:
        """Validate a JSON argument string; raise ToolArgumentsError with a readable reason."""
        try:
            raw = json.loads(arguments or "{}")
        except json.JSONDecodeError as exc:
            raise ToolArgumentsError(f"arguments are not valid JSON ({exc.msg})") from exc
        if not isinstance(raw, dict):
            raise ToolArgumentsError("arguments must be a JSON object")
        defaults = {n: f.default for n, f in self.args_model.model_fields.items()}
        raw = {k: (defaults.get(k) if v is None else v) for k, v in raw.items()}
        try:
            model = self.args_model.model_validate(raw)
        except ValidationError as exc:
            raise ToolArgumentsError(_describe_validation_error(exc)) from exc
        return {name: getattr(model, name) for name in self.args_model.model_fields}

    async def invoke(self, ctx: RunContext, args: dict[str, Any]) -> Any:
        """Call the function with validated arguments; sync functions run in a thread."""
        call_args: list[Any] = [ctx] if self.takes_context else []
        if inspect.iscoroutinefunction(self.fn):
            return await self.fn(*call_args, **args)
        result = await asyncio.to_thread(self.fn, *call_args, **args)
        if inspect.isawaitable(result):
            return await result
        return result


def _describe_validation_error(exc: ValidationError) -> str:
    parts = []
    for err in exc.errors():
        where = ".".join(str(p) for p in err["loc"]) or "arguments"
        parts.append(f"{where}: {err['msg']}")
    return "; ".join(parts)


@overload
def tool(fn: ToolFn, /) -> FunctionTool: ...
@overload
def tool(
    *, name: str | None = None, description: str | None = None, timeout_s: float | None = None
) -> Callable[[ToolFn], FunctionTool]: ...


def tool(
    fn: ToolFn | None = None,
    /,
    *,
    name: str | None = None,
    description: str | None = None,
    timeout_s: float | None = None,
) -> FunctionTool | Callable[[ToolFn], FunctionTool]:
    """Decorate a function to make it a tool; its schema comes from type hints and docstring."""

    def build(f: ToolFn) -> FunctionTool:
        return function_tool(f, name=name, description=description, timeout_s=timeout_s)

    return build(fn) if fn is not None else build


def function_tool(
    fn: ToolFn,
    *,
    name: str | None = None,
    description: str | None = None,
    timeout_s: float | None = None,
) -> FunctionTool:
    """Build a FunctionTool from a function (the non-decorator form of `@tool`)."""
    tool_name = name or fn.__name__
    if not re.fullmatch(r"[a-zA-Z0-9_-]{1,64}", tool_name):
        raise ToolError(f"tool name {tool_name!r} must match [a-zA-Z0-9_-]{{1,64}}")
    summary, arg_docs = _parse_docstring(inspect.getdoc(fn) or "")
    hints = get_type_hints(fn, include_extras=True)
    params = list(inspect.signature(fn).parameters.values())
    takes_context = bool(params) and _is_context(hints.get(params[0].name))
    if takes_context:
        params = params[1:]
    fields: dict[str, Any] = {}
    grounded = tuple(p.name for p in params if _is_grounded(hints.get(p.name)))
    for p in params:
        if p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD):
            raise ToolError(f"tool {tool_name!r}: *args/**kwargs are not supported")
        if p.name not in hints:
            raise ToolError(f"tool {tool_name!r}: parameter {p.name!r} needs a type hint")
        fields[p.name] = _field_for(hints[p.name], p.default, arg_docs.get(p.name))
    model_config = ConfigDict(extra="forbid")
    args_model = create_model(f"{tool_name}_args", __config__=model_config, **fields)
    return FunctionTool(
        name=tool_name,
        description=description or summary or tool_name.replace("_", " "),
        parameters=strict_schema(args_model.model_json_schema()),
        fn=fn,
        args_model=args_model,
        takes_context=takes_context,
        timeout_s=timeout_s,
        grounded=grounded,
    )


def _is_context(annotation: Any) -> bool:
    return inspect.isclass(annotation) and issubclass(annotation, RunContext)


def _is_grounded(annotation: Any) -> bool:
    if get_origin(annotation) is not Annotated:
        return False
    return any(m is Grounded or isinstance(m, Grounded) for m in get_args(annotation)[1:])


def _field_for(annotation: Any, default: Any, doc: str | None) -> tuple[Any, Any]:
    """Turn `Annotated[T, "desc"]` into (T, Field(description=...)) for pydantic."""
    description = doc
    if get_origin(annotation) is Annotated:
        base, *meta = get_args(annotation)
        texts = [m for m in meta if isinstance(m, str)]
        others = [
            m
            for m in meta
            if not isinstance(m, str) and m is not Grounded and not isinstance(m, Grounded)
        ]
        description = texts[0] if texts else description
        annotation = Annotated[(base, *others)] if others else base
    has_default = default is not inspect.Parameter.empty
    field = Field(default=default if has_default else ..., description=description)
    return (annotation, field)


def _parse_docstring(doc: str) -> tuple[str, dict[str, str]]:
    """Split a Google-style docstring into its summary and per-argument descriptions."""
    summary_lines: list[str] = []
    args: dict[str, str] = {}
    in_args = False
    current: str | None = None
    for line in doc.splitlines():
        stripped = line.strip()
        if stripped.lower() in ("args:", "arguments:", "parameters:"):
            in_args = True
            continue
        if in_args:
            match = re.match(r"^(\w+)\s*(?:\([^)]*\))?\s*:\s*(.*)$", stripped)
            if match and not line.startswith(" " * 8):
                current = match.group(1)
                args[current] = match.group(2)
            elif stripped and current:
                args[current] += " " + stripped
            elif not stripped:
                current = None
            continue
        summary_lines.append(stripped)
    return " ".join(s for s in summary_lines if s).strip(), args


def strict_schema(schema: dict[str, Any]) -> dict[str, Any]:
    """Inline $defs, drop titles, require every property, forbid extras (OpenAI strict form)."""
    defs = schema.get("$defs", {})

    def walk(node: Any) -> Any:
        if isinstance(node, list):
            return [walk(n) for n in node]
        if not isinstance(node, dict):
            return node
        if "$ref" in node:
            target = defs[node["$ref"].split("/")[-1]]
            extra = {k: v for k, v in node.items() if k != "$ref"}
            return walk({**target, **extra})
        out = {k: walk(v) for k, v in node.items() if k not in ("title", "$defs")}
        if out.get("type") == "object":
            props = out.setdefault("properties", {})
            optional = [k for k in props if k not in out.get("required", [])]
            for key in optional:
                props[key] = _nullable(props[key])
            out["required"] = list(props)
            out["additionalProperties"] = False
        return out

    result: dict[str, Any] = walk(schema)
    return result


def _nullable(prop: dict[str, Any]) -> dict[str, Any]:
    """Make an optional property accept null, keeping its description at the top."""
    if prop.get("default", 0) is None and "anyOf" in prop:
        return prop
    desc = prop.pop("description", None)
    default = prop.pop("default", None)
    out: dict[str, Any] = {"anyOf": [prop, {"type": "null"}]}
    if desc:
        out["description"] = desc
    if default is not None:
        out["default"] = default
    return out
