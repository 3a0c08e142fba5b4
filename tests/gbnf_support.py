"""The grammar tests' shared parts: a tiny GBNF reader and the sample schemas.

Our grammars are not recursive, so `gbnf_regex` inlines every rule into one Python regex;
that lets the tests check what a grammar accepts without loading a model.
"""

import re
from collections.abc import Iterator
from typing import Annotated, Any, Literal

from pydantic import Field

from voxrelay.agents import tool
from voxrelay.models.base import ToolSpec
from voxrelay.models.chatml import tool_call_schema
from voxrelay.models.grammar import regex_to_gbnf

# --- a tiny GBNF reader (non-recursive grammars only) ---------------------------------------

_TOKEN = re.compile(
    r"""\s*(?:
        (?P<lit>"(?:[^"\\]|\\.)*")
      | (?P<cls>\[(?:[^\]\\]|\\.)*\])
      | (?P<rep>\{\d+(?:,\d*)?\})
      | (?P<op>[()|*+?])
      | (?P<name>[a-zA-Z0-9_-]+)
    )""",
    re.VERBOSE,
)
_LIT_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", '"': '"', "\\": "\\"}


def _unescape(body: str) -> str:
    out, i = [], 0
    while i < len(body):
        if body[i] == "\\":
            nxt = body[i + 1]
            if nxt == "x":
                out.append(chr(int(body[i + 2 : i + 4], 16)))
                i += 4
                continue
            out.append(_LIT_ESCAPES[nxt])
            i += 2
            continue
        out.append(body[i])
        i += 1
    return "".join(out)


def _tokens(body: str) -> Iterator[tuple[str, str]]:
    pos = 0
    body = body.rstrip()
    while pos < len(body):
        match = _TOKEN.match(body, pos)
        assert match, f"cannot read GBNF at {body[pos:]!r}"
        kind = match.lastgroup
        assert kind is not None
        yield kind, match.group(kind)
        pos = match.end()


def parse_rules(grammar: str) -> dict[str, str]:
    """Rule name → body; checks names are unique and every reference is defined."""
    rules: dict[str, str] = {}
    for line in grammar.strip().splitlines():
        name, sep, body = line.partition(" ::= ")
        assert sep, f"not a rule: {line!r}"
        assert name not in rules, f"rule {name} defined twice"
        rules[name] = body
    for body in rules.values():
        for kind, text in _tokens(body):
            assert kind != "name" or text in rules, f"undefined rule {text}"
    assert "root" in rules
    return rules


def gbnf_regex(grammar: str) -> re.Pattern[str]:
    """A Python regex accepting what the grammar's `root` accepts."""
    rules = parse_rules(grammar)

    def expand(name: str, depth: int) -> str:
        assert depth < 50, "grammar is recursive"
        parts = []
        for kind, text in _tokens(rules[name]):
            if kind == "lit":
                parts.append(re.escape(_unescape(text[1:-1])))
            elif kind == "name":
                parts.append(f"(?:{expand(text, depth + 1)})")
            elif kind == "op" and text == "(":
                parts.append("(?:")
            else:
                parts.append(text)
        return "".join(parts)

    return re.compile(expand("root", 0), re.DOTALL)


def accepts(grammar: str, text: str) -> bool:
    return gbnf_regex(grammar).fullmatch(text) is not None


def fragment(pattern: str) -> str:
    """A whole grammar whose root is the translated regex."""
    return f"root ::= {regex_to_gbnf(pattern)}\n"


# --- sample patterns and tools ------------------------------------------------------------

PHONE = r"^\(\d{3}\) \d{3}-\d{4}$"
DATE = r"^\d{4}-\d{2}-\d{2}$"


@tool
def lookup_order(
    phone: Annotated[str, Field(pattern=PHONE), "The caller's phone."],
    board: Literal["snow", "wake"],
    limit: int = 3,
) -> str:
    """Look up an order."""
    return phone


@tool
def get_weather(city: str) -> str:
    """Weather for a city."""
    return city


LOOKUP = ToolSpec.from_realtime(lookup_order.spec())
WEATHER = ToolSpec.from_realtime(get_weather.spec())
PING = ToolSpec("ping", "Ping.")

ALL_SCHEMAS: list[dict[str, Any]] = [
    tool_call_schema([LOOKUP]),
    tool_call_schema([LOOKUP, WEATHER, PING]),
    {"type": "string", "pattern": PHONE},
    {"type": "string", "pattern": DATE},
    {"type": "string", "pattern": r"^(red|green|blue)$"},
    {"type": "string", "pattern": r"^(?=a)b$"},
    {"type": "string", "pattern": r"^[^0-9]+(\.\d{1,2})?$"},
    {"type": "array", "items": {"type": "number"}},
    {"anyOf": [{"type": "boolean"}, {"type": "null"}]},
    {"enum": ["a", 'say "hi"', "back\\slash"]},
    {"type": "object", "properties": {}},
    {"description": "free"},
]
