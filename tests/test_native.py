"""Telling whether llama.cpp's libraries already carry their own sonames."""

from __future__ import annotations

from pathlib import Path

from voxrelay.models.native import is_isolated, own_soname


def test_patched_libraries_are_isolated(tmp_path: Path) -> None:
    (tmp_path / "libllama.so").write_bytes(b"\x7fELF..." + own_soname("llama").encode())
    assert is_isolated(tmp_path)


def test_a_reinstall_over_a_patched_package_is_not_isolated(tmp_path: Path) -> None:
    """The renamed copy is left behind, but the reinstalled original names the shared soname."""
    (tmp_path / own_soname("llama")).write_bytes(b"old patched copy")
    (tmp_path / "libllama.so").write_bytes(b"\x7fELF...libllama.so.0")
    assert not is_isolated(tmp_path)
