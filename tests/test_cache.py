"""The model cache: assembling parts from installed packages, checksums, readiness, errors."""

import hashlib
import importlib
import json
import sys
from pathlib import Path

import pytest

from voxrelay.errors import ConfigError, ModelNotFoundError
from voxrelay.models import cache
from voxrelay.models.cache import ModelSpec

PARTS = [b"GGUF-head-" * 3, b"middle-bytes-" * 5, b"", b"the-tail"]


def make_package(root: Path, name: str, files: dict[str, bytes]) -> None:
    """A fake installed package `name` under `root` holding `files`."""
    pkg = root / name
    pkg.mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    for rel, data in files.items():
        path = pkg / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)


@pytest.fixture
def site(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A directory on sys.path holding two fake part packages."""
    root = tmp_path / "site"
    make_package(
        root, "fake_model_part1", {"data/part01.bin": PARTS[0], "data/part02.bin": PARTS[1]}
    )
    make_package(
        root,
        "fake_model_part2",
        {"data/part03.bin": PARTS[2], "data/part04.bin": PARTS[3], "data/config.json": b"{}"},
    )
    monkeypatch.syspath_prepend(str(root))
    importlib.invalidate_caches()
    return root


@pytest.fixture
def model_dir(tmp_path: Path) -> Path:
    return tmp_path / "models"


SPEC = ModelSpec(
    name="fake-llm",
    role="llm",
    description="A fake model for tests",
    target="fake/fake-llm.gguf",
    parts=(
        ("fake_model_part1", "data/part01.bin"),
        ("fake_model_part1", "data/part02.bin"),
        ("fake_model_part2", "data/part03.bin"),
        ("fake_model_part2", "data/part04.bin"),
    ),
    extras=(("fake_model_part2", "data/config.json", "config.json"),),
)
WHOLE = b"".join(PARTS)


@pytest.fixture
def registered(monkeypatch: pytest.MonkeyPatch) -> ModelSpec:
    monkeypatch.setitem(cache.SPECS, SPEC.name, SPEC)
    return SPEC


def test_package_file_and_sources(site: Path) -> None:
    assert cache.package_file("fake_model_part1", "data/part01.bin") == (
        site / "fake_model_part1" / "data" / "part01.bin"
    )
    assert cache.package_file("fake_model_part1", "data/nope.bin") is None
    assert cache.package_file("fake_model_absent", "data/part01.bin") is None
    sources = cache.sources(SPEC)
    assert sources is not None
    assert [p.name for p in sources] == ["part01.bin", "part02.bin", "part03.bin", "part04.bin"]


def test_package_that_is_a_plain_module_is_not_a_source(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "fake_single_module.py").write_text("")
    monkeypatch.syspath_prepend(str(tmp_path))
    importlib.invalidate_caches()
    assert cache.package_file("fake_single_module", "data/x.bin") is None


def test_assemble_concatenates_in_order(site: Path, model_dir: Path) -> None:
    assert not cache.is_ready(SPEC, model_dir)
    target = cache.assemble(SPEC, model_dir)
    assert target == model_dir / "fake" / "fake-llm.gguf"
    assert target == SPEC.path(model_dir)
    assert target.read_bytes() == WHOLE
    assert (target.parent / "config.json").read_bytes() == b"{}"
    assert not target.with_name(target.name + ".partial").exists()


def test_assemble_writes_sha256_sidecar(site: Path, model_dir: Path) -> None:
    target = cache.assemble(SPEC, model_dir)
    sidecar = target.with_name("fake-llm.gguf.sha256.json")
    assert json.loads(sidecar.read_text()) == {
        "size": len(WHOLE),
        "sha256": hashlib.sha256(WHOLE).hexdigest(),
    }


def test_progress_reaches_total(
    site: Path, model_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(cache, "CHUNK", 7)
    calls: list[tuple[int, int]] = []
    cache.assemble(SPEC, model_dir, progress=lambda done, total: calls.append((done, total)))
    assert len(calls) > len(PARTS)
    assert {total for _, total in calls} == {len(WHOLE)}
    dones = [done for done, _ in calls]
    assert dones == sorted(dones)
    assert len(set(dones)) == len(dones), "every call reports new bytes"
    assert dones[-1] == len(WHOLE)


def test_ready_verify_require(site: Path, model_dir: Path, registered: ModelSpec) -> None:
    cache.assemble(registered, model_dir)
    assert cache.is_ready(registered, model_dir)
    assert cache.verify(registered, model_dir)
    assert cache.require("fake-llm", model_dir) == registered.path(model_dir)


def test_reassemble_is_idempotent(site: Path, model_dir: Path) -> None:
    cache.assemble(SPEC, model_dir)
    cache.assemble(SPEC, model_dir)
    assert SPEC.path(model_dir).read_bytes() == WHOLE
    assert cache.verify(SPEC, model_dir)


def test_corrupted_file_fails_verify(site: Path, model_dir: Path) -> None:
    target = cache.assemble(SPEC, model_dir)
    data = bytearray(target.read_bytes())
    data[5] ^= 0xFF
    target.write_bytes(bytes(data))
    assert cache.is_ready(SPEC, model_dir), "is_ready only compares sizes (cheap)"
    assert not cache.verify(SPEC, model_dir)


def test_truncated_file_is_not_ready(site: Path, model_dir: Path, registered: ModelSpec) -> None:
    target = cache.assemble(SPEC, model_dir)
    target.write_bytes(WHOLE[:-1])
    assert not cache.is_ready(SPEC, model_dir)
    assert not cache.verify(SPEC, model_dir)
    with pytest.raises(ModelNotFoundError):
        cache.require("fake-llm", model_dir)


def test_missing_sidecar_is_not_ready(site: Path, model_dir: Path) -> None:
    target = cache.assemble(SPEC, model_dir)
    target.with_name(target.name + ".sha256.json").unlink()
    assert not cache.is_ready(SPEC, model_dir)
    assert not cache.verify(SPEC, model_dir)


def test_require_missing_model_says_how_to_prepare(model_dir: Path, registered: ModelSpec) -> None:
    assert not cache.verify(registered, model_dir)
    with pytest.raises(ModelNotFoundError) as info:
        cache.require("fake-llm", model_dir)
    err = info.value
    assert err.name == "fake-llm"
    assert err.path == str(registered.path(model_dir))
    assert "voxrelay models --prepare" in str(err)
    assert str(registered.path(model_dir)) in str(err)


def test_assemble_with_missing_package_names_it(
    site: Path, model_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    spec = ModelSpec(
        name="half",
        role="llm",
        description="",
        target="half.gguf",
        parts=(("fake_model_part1", "data/part01.bin"), ("fake_model_gone", "data/x.bin")),
    )
    assert cache.sources(spec) is None
    with pytest.raises(ModelNotFoundError, match="fake_model_gone") as info:
        cache.assemble(spec, model_dir)
    assert "fake_model_part1" not in str(info.value)
    assert not spec.path(model_dir).exists()


def test_missing_extra_leaves_nothing_behind(site: Path, model_dir: Path) -> None:
    spec = ModelSpec(
        name="no-extra",
        role="llm",
        description="",
        target="no-extra.gguf",
        parts=SPEC.parts,
        extras=(("fake_model_part2", "data/missing.json", "missing.json"),),
    )
    with pytest.raises(ModelNotFoundError, match=r"data/missing\.json"):
        cache.assemble(spec, model_dir)
    assert not model_dir.exists() or list(model_dir.iterdir()) == []


def test_unknown_spec_lists_known_names() -> None:
    with pytest.raises(ConfigError) as info:
        cache.spec("gpt-5")
    message = str(info.value)
    assert "'gpt-5'" in message
    for name in ("qwen2.5-0.5b", "qwen2.5-1.5b", "whisper-base"):
        assert name in message


def test_require_unknown_name_is_config_error(model_dir: Path) -> None:
    with pytest.raises(ConfigError, match="known models"):
        cache.require("nope", model_dir)


def test_builtin_specs_are_well_formed() -> None:
    for name, spec in cache.SPECS.items():
        assert spec.name == name
        assert spec.parts
        assert cache.spec(name) is spec
    qwen = cache.spec("qwen2.5-0.5b")
    assert qwen.target.endswith(".gguf")
    assert [rel for _, rel in qwen.parts] == [f"data/part0{n}.bin" for n in range(1, 7)]


def test_spec_path_defaults_to_settings_model_dir(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from voxrelay.config import get_settings

    monkeypatch.setenv("VOXRELAY_MODEL_DIR", str(tmp_path))
    get_settings.cache_clear()
    try:
        assert SPEC.path() == tmp_path / "fake" / "fake-llm.gguf"
    finally:
        monkeypatch.undo()
        get_settings.cache_clear()


def test_fake_packages_are_not_imported(site: Path, model_dir: Path) -> None:
    cache.assemble(SPEC, model_dir)
    assert "fake_model_part1" not in sys.modules


REENCODED = ModelSpec(
    name="fake-reencoded",
    role="llm",
    description="A fake model converted after assembly",
    target="fake/fake-q8.gguf",
    parts=SPEC.parts,
    reencode="q8_0",
)


def test_reencoded_model_records_the_converted_file(
    site: Path, model_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from voxrelay.models import gguf

    def fake_reencode(src: Path, dst: Path, encoding: str, threads: int = 0) -> None:
        dst.write_bytes(encoding.encode() + src.read_bytes()[:8])

    monkeypatch.setattr(gguf, "reencode", fake_reencode)
    stages: list[str] = []
    path = cache.assemble(REENCODED, model_dir, stage=stages.append)
    assert path.read_bytes() == b"q8_0" + WHOLE[:8]
    assert stages == [
        "assembling fake-reencoded",
        "re-encoding fake-reencoded as Q8_0",
        "hashing fake-reencoded",
    ]
    assert cache.is_ready(REENCODED, model_dir) and cache.verify(REENCODED, model_dir)
    assert sorted(p.name for p in path.parent.iterdir()) == [
        "fake-q8.gguf",
        "fake-q8.gguf.sha256.json",
    ]


def test_failed_reencode_leaves_nothing_behind(
    site: Path, model_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from voxrelay.errors import ModelError
    from voxrelay.models import gguf

    def broken(src: Path, dst: Path, encoding: str, threads: int = 0) -> None:
        dst.write_bytes(b"half")
        raise ModelError("llama.cpp could not re-encode")

    monkeypatch.setattr(gguf, "reencode", broken)
    with pytest.raises(ModelError, match="re-encode"):
        cache.assemble(REENCODED, model_dir)
    assert not cache.is_ready(REENCODED, model_dir)
    assert list((model_dir / "fake").iterdir()) == []


def test_reencode_reports_bad_input(tmp_path: Path) -> None:
    from voxrelay.errors import ModelError
    from voxrelay.models.gguf import reencode

    with pytest.raises(ModelError, match="unknown GGUF encoding 'q3'"):
        reencode(tmp_path / "a.gguf", tmp_path / "b.gguf", "q3")
    pytest.importorskip("llama_cpp")
    garbage = tmp_path / "garbage.gguf"
    garbage.write_bytes(b"not a gguf file")
    with pytest.raises(ModelError, match="could not re-encode"):
        reencode(garbage, tmp_path / "out.gguf", "q8_0")
