"""JSON schema → GBNF grammar for constrained decoding (pure, I/O-free).

Keys are emitted in declared order, so `{"name": ..., "arguments": ...}` decodes the name first.
A `pattern` is translated when it uses the common regex subset (literals, escapes, classes,
groups, alternation, quantifiers); otherwise the string is left free and validation catches it.
"""

from __future__ import annotations

import json
from typing import Any

from voxrelay.errors import VoxrelayError

SPACE = 'space ::= " "?'
CHAR = r'char ::= [^"\\\x7F\x00-\x1F] | "\\" (["\\/bfnrt] | "u" [0-9a-fA-F]{4})'
MAX_STRING = 200
"""Characters in a free string argument: a small model otherwise loops inside one forever."""
STRING = rf'string ::= "\"" char{{0,{MAX_STRING}}} "\"" space'
NUMBER = 'number ::= "-"? [0-9]{1,15} ("." [0-9]{1,8})? space'
INTEGER = 'integer ::= "-"? [0-9]{1,15} space'
BOOLEAN = 'boolean ::= ("true" | "false") space'
NULL = 'null ::= "null" space'
BASE_RULES = [SPACE, CHAR, STRING, NUMBER, INTEGER, BOOLEAN, NULL]


class UnsupportedPattern(VoxrelayError, ValueError):
    """A regex uses syntax this translator does not handle."""


def literal(text: str) -> str:
    """A GBNF string literal."""
    escaped = text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
    return f'"{escaped}"'


class _Builder:
    def __init__(self) -> None:
        self.rules: list[str] = []
        self.count = 0

    def rule(self, body: str) -> str:
        self.count += 1
        name = f"r{self.count}"
        self.rules.append(f"{name} ::= {body}")
        return name

    def visit(self, schema: dict[str, Any]) -> str:
        if "const" in schema:
            return self.rule(f"{literal(json.dumps(schema['const']))} space")
        if "enum" in schema:
            options = " | ".join(literal(json.dumps(v)) for v in schema["enum"])
            return self.rule(f"({options}) space")
        for key in ("anyOf", "oneOf"):
            if key in schema:
                return self.rule(" | ".join(self.visit(s) for s in schema[key]))
        kind = schema.get("type")
        if isinstance(kind, list):
            return self.rule(" | ".join(self.visit({**schema, "type": k}) for k in kind))
        return self._typed(kind, schema)

    def _typed(self, kind: str | None, schema: dict[str, Any]) -> str:
        if kind == "object":
            return self._object(schema)
        if kind == "array":
            item = self.visit(schema.get("items") or {"type": "string"})
            return self.rule(f'"[" space ({item} ("," space {item})*)? "]" space')
        if kind == "string" and "pattern" in schema:
            try:
                body = regex_to_gbnf(schema["pattern"])
            except UnsupportedPattern:
                return "string"
            return self.rule(f'"\\"" {body} "\\"" space')
        simple = {"string", "number", "integer", "boolean", "null"}
        return kind if kind in simple else self.rule("string | number | boolean | null")

    def _object(self, schema: dict[str, Any]) -> str:
        props: dict[str, Any] = schema.get("properties") or {}
        required = schema.get("required")
        keys = [k for k in props if required is None or k in required]
        if not keys:
            return self.rule('"{" space "}" space')
        pairs = [f'{literal(json.dumps(k))} space ":" space {self.visit(props[k])}' for k in keys]
        return self.rule('"{" space ' + ' "," space '.join(pairs) + ' "}" space')


def schema_to_gbnf(schema: dict[str, Any]) -> str:
    """A GBNF grammar whose `root` matches exactly the JSON values valid for `schema`."""
    builder = _Builder()
    top = builder.visit(schema)
    return "\n".join([f"root ::= {top}", *builder.rules, *BASE_RULES]) + "\n"


# ---- regex subset → GBNF ---------------------------------------------------------------------

_ESCAPES = {
    "d": "[0-9]",
    "w": "[a-zA-Z0-9_]",
    "s": "[ \\t\\n]",
    "D": '[^0-9"\\\\]',
    "W": '[^a-zA-Z0-9_"\\\\]',
    "S": '[^ \\t\\n"\\\\]',
    "n": "[\\n]",
    "t": "[\\t]",
}
_CLASS_ESCAPES = {"d": "0-9", "w": "a-zA-Z0-9_", "s": " \\t\\n"}
_LITERAL_ESCAPES = frozenset("\\.^$|?*+()[]{}/-")
_QUANT = set("*+?{")


def regex_to_gbnf(pattern: str) -> str:
    """Translate an anchored regex over plain characters into a GBNF fragment."""
    body = pattern.removeprefix("^")
    if body.endswith("$") and not body.endswith("\\$"):
        body = body[:-1]
    if '"' in body:
        raise UnsupportedPattern("quotes inside a pattern")
    out, pos = _alternation(body, 0)
    if pos != len(body):
        raise UnsupportedPattern(f"unbalanced pattern {pattern!r}")
    return out


def _alternation(p: str, i: int) -> tuple[str, int]:
    branches = []
    seq, i = _sequence(p, i)
    branches.append(seq)
    while i < len(p) and p[i] == "|":
        seq, i = _sequence(p, i + 1)
        branches.append(seq)
    return (branches[0] if len(branches) == 1 else "(" + " | ".join(branches) + ")"), i


def _sequence(p: str, i: int) -> tuple[str, int]:
    atoms: list[str] = []
    while i < len(p) and p[i] not in "|)":
        atom, i = _atom(p, i)
        quant, i = _quantifier(p, i)
        atoms.append(atom + quant)
    return (" ".join(atoms) if atoms else '""'), i


def _atom(p: str, i: int) -> tuple[str, int]:
    c = p[i]
    if c == "(":
        start = i + 3 if p.startswith("(?:", i) else i + 1
        if p.startswith("(?", i) and start == i + 1:
            raise UnsupportedPattern("lookaround or named groups")
        inner, j = _alternation(p, start)
        if j >= len(p) or p[j] != ")":
            raise UnsupportedPattern("unclosed group")
        return f"({inner})", j + 1
    if c == "[":
        return _char_class(p, i)
    if c == "\\":
        if i + 1 >= len(p):
            raise UnsupportedPattern("a trailing backslash")
        nxt = p[i + 1]
        if nxt in _ESCAPES:
            return _ESCAPES[nxt], i + 2
        if nxt in _LITERAL_ESCAPES:
            return literal(nxt), i + 2
        raise UnsupportedPattern(f"escape \\{nxt}")
    if c == ".":
        return '[^"\\\\\\n]', i + 1
    if c in _QUANT or c in "^$":
        raise UnsupportedPattern(f"unexpected {c!r}")
    return literal(c), i + 1


def _char_class(p: str, i: int) -> tuple[str, int]:
    """Copy a `[...]` class, expanding the escapes GBNF classes understand."""
    j = i + 1 + (p[i + 1 : i + 2] == "^")
    j += p[j : j + 1] == "]"
    out = ["["]
    k = i + 1
    end = p.find("]", j)
    if end < 0:
        raise UnsupportedPattern("unclosed character class")
    while k < end:
        if p[k] == "\\":
            nxt = p[k + 1]
            if nxt in _CLASS_ESCAPES:
                out.append(_CLASS_ESCAPES[nxt])
            elif nxt in _LITERAL_ESCAPES:
                out.append("\\" + nxt)
            else:
                raise UnsupportedPattern(f"escape \\{nxt} in a class")
            k += 2
        else:
            out.append(p[k])
            k += 1
    if p[i + 1 : i + 2] == "^":
        out.append('"\\\\')  # inside a JSON string: never a bare quote or backslash
    out.append("]")
    return "".join(out), end + 1


def _quantifier(p: str, i: int) -> tuple[str, int]:
    if i < len(p) and p[i] in "*+?":
        return p[i], i + 1
    if i < len(p) and p[i] == "{":
        j = p.index("}", i)
        return p[i : j + 1], j + 1
    return "", i
