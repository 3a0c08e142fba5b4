"""Every voxrelay exception derives from VoxrelayError and is drawn in errors.py's tree."""

from __future__ import annotations

import importlib
import inspect
import pkgutil

import pytest

import voxrelay
from voxrelay import errors
from voxrelay.errors import VoxrelayError


def voxrelay_exceptions() -> dict[str, type[BaseException]]:
    """Each exception class defined in a voxrelay module that imports here, by name."""
    found: dict[str, type[BaseException]] = {}
    for info in pkgutil.walk_packages(voxrelay.__path__, "voxrelay."):
        try:
            module = importlib.import_module(info.name)
        except ImportError as exc:  # an optional extra that is not installed
            if (exc.name or "").startswith("voxrelay"):
                raise
            continue
        for name, obj in vars(module).items():
            defined_here = getattr(obj, "__module__", None) == info.name
            if inspect.isclass(obj) and issubclass(obj, BaseException) and defined_here:
                found[name] = obj
    return found


EXCEPTIONS = voxrelay_exceptions()
EXCEPTIONS.pop("VoxrelayError")  # the root


def test_the_scan_finds_exceptions_outside_errors_py() -> None:
    assert {"AuthRefused", "ToolArgumentsError", "AudioDeviceError", "EvalCaseError"} <= set(
        EXCEPTIONS
    )


@pytest.mark.parametrize("name", sorted(EXCEPTIONS))
def test_every_exception_is_a_voxrelay_error_in_the_tree(name: str) -> None:
    assert issubclass(EXCEPTIONS[name], VoxrelayError)
    tree = errors.__doc__ or ""
    assert f"── {name} " in tree, f"{name} is missing from the tree in errors.py"


def test_stdlib_bases_that_callers_catch_are_kept() -> None:
    assert issubclass(EXCEPTIONS["ToolArgumentsError"], ValueError)
    assert issubclass(EXCEPTIONS["UnsupportedPattern"], ValueError)


def tree_parents() -> dict[str, str]:
    """Each exception in errors.py's tree, and the parent it is drawn under."""
    parents: dict[str, str] = {}
    stack = ["VoxrelayError"]
    for line in (errors.__doc__ or "").splitlines():
        if "── " not in line:
            continue
        depth = line.index("── ") // 4 + 1
        name = line.split("── ", 1)[1].split()[0]
        del stack[depth:]
        parents[name] = stack[-1]
        stack.append(name)
    return parents


def test_the_tree_draws_each_exception_under_its_base() -> None:
    for name, parent in tree_parents().items():
        base = getattr(errors, parent, None) or EXCEPTIONS.get(parent) or VoxrelayError
        assert issubclass(EXCEPTIONS[name], base), f"{name} is drawn under {parent}"
