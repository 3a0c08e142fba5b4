"""Shared fixtures, and the check that fails a test whose scripted fake was called wrongly."""

from __future__ import annotations

from collections.abc import Generator, Iterator
from typing import Any

import pytest

from voxrelay.models import cache as model_cache
from voxrelay.testing import FakeWatch, ScriptError, watch_fakes

WATCH = "scripted_fakes"

pytest_plugins = [
    "pytester",  # tests/test_testing.py runs this conftest on a sample test
    "ws_harness",  # the `server` and `clients` fixtures of the WebSocket tests
]


@pytest.fixture(autouse=True)
def scripted_fakes() -> Iterator[FakeWatch]:
    """Every scripted fake the test builds; a failure it recorded fails the test."""
    with watch_fakes() as watch:
        yield watch
        watch.check()  # failures recorded while fixtures tore down


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Generator[None, Any, Any]:
    """Fail a test whose body passed although a fake recorded a failure it never saw."""
    watch = getattr(item, "funcargs", {}).get(WATCH)
    try:
        result = yield
    except Exception as exc:
        if watch is not None:
            _raise_swallowed(watch, exc)
        raise
    if watch is not None:
        watch.check()
    return result


def _raise_swallowed(watch: FakeWatch, exc: Exception) -> None:
    """Put the fakes' failures in front of the test's own error when it did not see them."""
    failures = [f for f in watch.unreported() if f is not exc]
    watch.mark_reported()
    if failures and not isinstance(exc, ScriptError):
        watch_error = ScriptError(
            "the test failed after a scripted fake recorded failures it may have swallowed:\n"
            + "\n".join(f"  - {f}" for f in failures)
        )
        raise watch_error from exc


@pytest.fixture
def small_llm() -> Any:
    """The default local LLM (Qwen2.5-0.5B) on real llama.cpp; skips when it is not prepared."""
    spec = model_cache.spec("qwen2.5-0.5b")
    if not model_cache.is_ready(spec):
        pytest.skip("local LLM not prepared (voxrelay models --prepare)")
    from voxrelay.models.llama import LlamaChatModel

    return LlamaChatModel(spec.path())
