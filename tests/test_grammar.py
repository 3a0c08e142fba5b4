"""JSON schema → GBNF and the regex subset translator, checked with a tiny GBNF reader."""

import json
import re
from typing import Any

import pytest

from gbnf_support import DATE, LOOKUP, PHONE, PING, WEATHER, accepts, fragment, parse_rules
from voxrelay.models.chatml import tool_call_schema
from voxrelay.models.grammar import UnsupportedPattern, regex_to_gbnf, schema_to_gbnf


def test_reader_self_check() -> None:
    grammar = 'root ::= "a" b{2} ("x" | [0-9]+)?\nb ::= "\\"" space\nspace ::= " "?\n'
    assert accepts(grammar, 'a" "x')
    assert accepts(grammar, 'a""7')
    assert not accepts(grammar, 'a"x')
    with pytest.raises(AssertionError, match="undefined rule"):
        parse_rules("root ::= missing\n")


# --- regex → GBNF -------------------------------------------------------------------------


def test_phone_pattern() -> None:
    assert regex_to_gbnf(PHONE) == '"(" [0-9]{3} ")" " " [0-9]{3} "-" [0-9]{4}'
    g = fragment(PHONE)
    assert accepts(g, "(555) 123-4567")
    for bad in ["555-123-4567", "(555)123-4567", "(555) 123-456", "(55a) 123-4567", ""]:
        assert not accepts(g, bad), bad


def test_date_pattern() -> None:
    assert regex_to_gbnf(DATE) == '[0-9]{4} "-" [0-9]{2} "-" [0-9]{2}'
    g = fragment(DATE)
    assert accepts(g, "2024-02-29")
    assert not accepts(g, "2024-2-29")
    assert not accepts(g, "24-02-29")


def test_four_digits() -> None:
    assert regex_to_gbnf(r"^\d{4}$") == "[0-9]{4}"
    assert accepts(fragment(r"^\d{4}$"), "0042")
    assert not accepts(fragment(r"^\d{4}$"), "00420")


def test_alternation_group() -> None:
    g = fragment(r"^(red|green|blue)$")
    assert "|" in regex_to_gbnf(r"^(red|green|blue)$")
    assert [accepts(g, s) for s in ["red", "green", "blue", "redgreen", "re", ""]] == [
        True,
        True,
        True,
        False,
        False,
        False,
    ]


def test_non_capturing_group_and_quantifiers() -> None:
    g = fragment(r"^(?:ab)+c?d*$")
    for s, ok in [("ab", True), ("ababc", True), ("abcddd", True), ("a", False), ("c", False)]:
        assert accepts(g, s) is ok, s


def test_top_level_alternation() -> None:
    g = fragment(r"^yes|no$")
    assert accepts(g, "yes")
    assert accepts(g, "no")
    assert not accepts(g, "yesno")


@pytest.mark.parametrize(
    ("pattern", "good", "bad"),
    [
        (r"^[A-Z]{2}[0-9]+$", ["AB1", "ZZ123"], ["A1", "ab1", "AB"]),
        (r"^[a-z_]\w*$", ["x", "snake_case9"], ["9x", "a-b"]),
        (r"^[^0-9]+$", ["abc"], ["a1"]),
        (r"^\d+(\.\d{1,2})?$", ["10", "10.5", "0.25"], ["10.", "1.234", ".5"]),
        (r"^#[\dA-F]{6}$", ["#00FF7A"], ["#00ff7a", "00FF7A"]),
        (r"^a.c$", ["abc", "a c"], ["ac", "abbc"]),
        (r"^\D\s\d$", ["x 1", "x\t1"], ["1 1", "x1"]),
    ],
)
def test_classes_and_escapes(pattern: str, good: list[str], bad: list[str]) -> None:
    g = fragment(pattern)
    for s in good:
        assert re.fullmatch(pattern, s), s
        assert accepts(g, s), s
    for s in bad:
        assert not re.fullmatch(pattern, s), s
        assert not accepts(g, s), s


@pytest.mark.parametrize(
    "pattern",
    [r"^(?=a)b$", r"^(?!x)\w+$", r"^(?<=a)b$", r"^(?P<year>\d{4})$", r'^say "hi"$', r"^(ab$"],
)
def test_unsupported_patterns(pattern: str) -> None:
    with pytest.raises(UnsupportedPattern):
        regex_to_gbnf(pattern)


@pytest.mark.parametrize(
    ("pattern", "sample"),
    [
        pytest.param(r"^\W$", "W", id="non-word-escape"),
        pytest.param(r"^\S+$", "x", id="non-space-escape"),
        pytest.param(r"^a\bb$", "abb", id="word-boundary"),
        pytest.param(r"^a\nb$", "anb", id="newline-escape"),
        pytest.param(r"^[a\D]$", "x", id="negated-escape-in-class"),
    ],
)
def test_escapes_are_translated_or_rejected(pattern: str, sample: str) -> None:
    try:
        g = fragment(pattern)
    except UnsupportedPattern:
        return
    assert accepts(g, sample) is bool(re.fullmatch(pattern, sample))


def test_escaped_dollar_falls_back() -> None:
    grammar = schema_to_gbnf({"type": "string", "pattern": r"^\d+\$"})
    assert accepts(grammar, '"12$"')


# --- schema → GBNF ------------------------------------------------------------------------


def test_unsupported_pattern_falls_back_to_free_string() -> None:
    g = schema_to_gbnf({"type": "string", "pattern": r"^(?=a)\w+$"})
    assert g.startswith("root ::= string\n")
    assert accepts(g, '"anything at all"')
    assert not accepts(g, "42")


def test_pattern_string_in_schema() -> None:
    g = schema_to_gbnf({"type": "string", "pattern": PHONE})
    assert accepts(g, '"(555) 123-4567"')
    assert accepts(g, '"(555) 123-4567" ')
    assert not accepts(g, '"555 123 4567"')
    assert not accepts(g, "(555) 123-4567")


@pytest.mark.parametrize(
    ("schema", "good", "bad"),
    [
        ({"enum": ["snow", "wake"]}, ['"snow"', '"wake"'], ['"ski"', "snow"]),
        ({"enum": [1, "a", None]}, ["1", '"a"', "null"], ["2", "a"]),
        ({"const": "lookup"}, ['"lookup"'], ['"lookups"', '"other"']),
        (
            {"anyOf": [{"type": "string"}, {"type": "null"}]},
            ['"x"', "null", '""'],
            ["1", "nul"],
        ),
        ({"type": ["integer", "null"]}, ["7", "null"], ["7.5", '"7"']),
        ({"type": "integer"}, ["0", "-12", "123456"], ["1.5", "1e3", "+1", '"1"']),
        ({"type": "number"}, ["0", "-1.25", "3"], ["1.", ".5", '"1"']),
        ({"type": "boolean"}, ["true", "false"], ["True", "1", "null"]),
        ({"type": "null"}, ["null"], ["None", '""']),
        ({"type": "string"}, ['""', '"a \\"q\\" \\u00e9"'], ['"a', '"\n"', "a"]),
        ({"type": "object", "properties": {}}, ["{}", "{ }"], ['{"a": 1}', "[]"]),
        ({"type": "object"}, ["{}"], ['{"a": 1}']),
        (
            {"type": "array", "items": {"type": "integer"}},
            ["[]", "[1]", "[1, 2,3]"],
            ['["a"]', "[1,]", "[,]"],
        ),
        ({"type": "array"}, ['["a", "b"]', "[]"], ["[1]"]),
        ({"description": "anything"}, ['"a"', "1", "true", "null"], ["{}", "[]"]),
    ],
)
def test_schema_kinds(schema: dict[str, Any], good: list[str], bad: list[str]) -> None:
    g = schema_to_gbnf(schema)
    for text in good:
        assert accepts(g, text), text
    for text in bad:
        assert not accepts(g, text), text


def test_object_keeps_declared_order_and_required_keys() -> None:
    schema = {
        "type": "object",
        "properties": {"b": {"type": "integer"}, "a": {"type": "string"}, "c": {"type": "null"}},
        "required": ["b", "a"],
    }
    g = schema_to_gbnf(schema)
    assert accepts(g, '{"b": 1, "a": "x"}')
    assert accepts(g, '{"b":1,"a":"x"}')
    assert not accepts(g, '{"a": "x", "b": 1}')
    assert not accepts(g, '{"b": 1}')
    assert not accepts(g, '{"b": 1, "a": "x", "c": null}')


def test_grammar_ends_with_base_rules_and_newline() -> None:
    g = schema_to_gbnf({"type": "string"})
    assert g.endswith("\n")
    assert g.splitlines()[0] == "root ::= string"
    assert {"space", "char", "string", "number", "integer", "boolean", "null"} <= set(
        parse_rules(g)
    )


# --- tool calls ---------------------------------------------------------------------------


def _call(name: str, args: dict[str, Any]) -> str:
    return json.dumps({"name": name, "arguments": args})


def test_tool_call_grammar_puts_name_first() -> None:
    g = schema_to_gbnf(tool_call_schema([LOOKUP]))
    root_rule = next(line for line in g.splitlines() if '"\\"name\\""' in line)
    assert root_rule.index('"\\"name\\""') < root_rule.index('"\\"arguments\\""')
    args = {"phone": "(555) 123-4567", "board": "snow", "limit": None}
    assert accepts(g, _call("lookup_order", args))
    assert accepts(g, _call("lookup_order", {**args, "limit": 5}))
    reordered = json.dumps({"arguments": args, "name": "lookup_order"})
    assert not accepts(g, reordered)


@pytest.mark.parametrize(
    "args",
    [
        {"phone": "555-123-4567", "board": "snow", "limit": None},
        {"phone": "(555) 123-4567", "board": "ski", "limit": None},
        {"phone": "(555) 123-4567", "board": "snow"},
        {"phone": "(555) 123-4567", "board": "snow", "limit": "3"},
        {"phone": "(555) 123-4567", "board": "snow", "limit": None, "extra": 1},
    ],
)
def test_tool_call_grammar_rejects_invalid_arguments(args: dict[str, Any]) -> None:
    assert not accepts(schema_to_gbnf(tool_call_schema([LOOKUP])), _call("lookup_order", args))


def test_tool_call_grammar_for_several_tools() -> None:
    schema = tool_call_schema([LOOKUP, WEATHER, PING])
    assert len(schema["anyOf"]) == 3
    g = schema_to_gbnf(schema)
    assert accepts(g, _call("get_weather", {"city": "Oslo"}))
    assert accepts(g, _call("ping", {}))
    assert not accepts(g, _call("get_weather", {"phone": "(555) 123-4567"}))
    assert not accepts(g, _call("ping", {"city": "Oslo"}))
    assert not accepts(g, _call("unknown", {}))


def test_single_tool_schema_is_not_wrapped() -> None:
    schema = tool_call_schema([PING])
    assert schema["properties"]["name"] == {"const": "ping"}
    assert schema["properties"]["arguments"] == {"type": "object", "properties": {}}
    assert list(schema["properties"]) == ["name", "arguments"]


def test_free_strings_are_bounded_so_a_looping_model_must_close_them() -> None:
    """A small model repeated a transfer reason until the call ran out of tokens."""
    from voxrelay.models.grammar import MAX_STRING

    gbnf = schema_to_gbnf({"type": "object", "properties": {"reason": {"type": "string"}}})
    assert f"char{{0,{MAX_STRING}}}" in gbnf
