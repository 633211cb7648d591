#!/usr/bin/env bash
# GPU check for trainkit: the test suite with its cupy twins, then trainkit on cupy against
# PyTorch on CUDA (benchmarks/gpu_bench.py). For a machine with an NVIDIA GPU, CUDA 12 or 13,
# x86-64, with cupy and torch (CUDA) preinstalled; about 8 minutes at most.
#
# How to run it
#   On the device machine, with the session's `run` tool, from the repository root:
#       run(command="bash benchmarks/gpu_check.sh", timeout_s=570, carry=[".whl"])
#   That machine cannot reach a package registry. The packages trainkit needs that its image
#   lacks (hydra-core, omegaconf, antlr4-python3-runtime, tensorboardX; plus setuptools>=77
#   and wheel in case the image's are older) travel as wheels in .whl/ (git-ignored), made
#   once here, where pip can reach PyPI, with:
#       bash benchmarks/gpu_check.sh --prepare-wheels        # about 1.4 MB; PYVER=3.12 by default
#   Anywhere else: `OUT=some/folder bash benchmarks/gpu_check.sh` (OUT defaults to
#   ./gpu_check_out). PYTHON picks the interpreter (default python3).
#
# Stages (each one runs even when an earlier one failed; everything is logged under $OUT):
#   0. nvidia-smi (and nvcc --version) -> $OUT/nvidia-smi.txt
#   1. install: pip install -e ".[test]", adding the cuda12/cuda13 extra (from nvcc /
#      nvidia-smi's CUDA version) only when cupy is not importable already. Offline it uses
#      .whl/ and --no-build-isolation, and falls back to --no-deps; then it says which
#      imports are missing and whether trainkit sees the GPU (cuda_unavailable_reason()).
#   2. tests: python -m pytest -q -m "gpu or not gpu" -p no:cacheprovider
#      --junitxml=$OUT/junit.xml. tests/conftest.py parametrises the `device` fixture as
#      numpy and cupy; the cupy twins are marked `gpu` and skip when cuda_available() is
#      False, so the run only counts if trainkit sees the GPU (stage 1 checks it, and this
#      stage counts the [cupy] twins that ran from junit.xml). pytest-xdist (-n $GPU_CHECK_XDIST,
#      default 8, 0 = serial) and pytest-timeout (120 s a test) are used when importable; the whole run is stopped with
#      SIGINT after GPU_CHECK_TEST_TIMEOUT s (default 240), which still writes junit.xml.
#      FAILED/ERROR lines -> $OUT/failures.txt.
#   3. benchmarks: benchmarks/gpu_bench.py --device cuda (copy bandwidth, fused Adam over 10M
#      params in 1 and 1,000 tensors, MLP 784-256-256-10, CIFAR CNN and transformer-block steps,
#      `trainkit train device=cuda` wall time; each library in its own fresh process,
#      interleaved rounds) -> $OUT/gpu_bench.md and $OUT/gpu_bench.json, within what is left
#      of GPU_CHECK_TOTAL_S (default 470 s since the start).
#
# Files back in $OUT (7; the run tool returns at most 8): gpu_check.log, nvidia-smi.txt,
# pytest.log, junit.xml, failures.txt, gpu_bench.md, gpu_bench.json.
set -uo pipefail   # no -e: a failing stage is logged and the next one runs

cd "$(dirname "$0")/.." || exit 1
PY="${PYTHON:-python3}"

if [[ "${1:-}" == "--prepare-wheels" ]]; then
    # Run HERE (with network), not on the device: wheels for the device's Python into .whl/.
    set -e
    pyver="${PYVER:-3.12}"
    mkdir -p .whl
    "$PY" -m pip download --no-deps --only-binary=:all: --python-version "$pyver" --implementation cp \
        --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 \
        -d .whl "hydra-core>=1.3,<1.4" "omegaconf>=2.3,<2.4" "tensorboardX>=2.6" "setuptools>=77" wheel
    # antlr4-python3-runtime 4.9.3 (what hydra-core 1.3 pins) is a source distribution only:
    # build its pure-Python wheel here.
    "$PY" -m pip wheel --no-deps -w .whl "antlr4-python3-runtime==4.9.3"
    ls -l .whl
    du -sh .whl
    exit 0
fi

OUT="${OUT:-$PWD/gpu_check_out}"
mkdir -p "$OUT"
exec > >(tee -a "$OUT/gpu_check.log") 2>&1
TEE_PID=$!
# Let tee write the last lines before the script (and the run tool's command) ends.
trap 'exec >&- 2>&-; wait "$TEE_PID" 2>/dev/null' EXIT
START=$SECONDS
TOTAL_S="${GPU_CHECK_TOTAL_S:-470}"
TEST_TIMEOUT="${GPU_CHECK_TEST_TIMEOUT:-240}"
export PYTHONUNBUFFERED=1 PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_ROOT_USER_ACTION=ignore PIP_DEFAULT_TIMEOUT=10 PIP_RETRIES=0
stage() { echo; echo "gpu_check: ==== $* ($((SECONDS - START)) s)"; }

# ------------------------------------------------------------------ 0. the machine
stage "0. machine"
{
    date -u
    nvidia-smi || echo "nvidia-smi failed (exit $?)"
    echo
    nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.max.sm,clocks.max.mem --format=csv \
        || true
    echo
    command -v nvcc >/dev/null && nvcc --version || echo "no nvcc on PATH"
} > "$OUT/nvidia-smi.txt" 2>&1
head -20 "$OUT/nvidia-smi.txt"
echo "python: $(command -v "$PY") $("$PY" --version 2>&1); git: $(git rev-parse --short HEAD 2>/dev/null || echo -)"

# ------------------------------------------------------------------ 1. install
stage "1. install"
driver_cuda=$(sed -n 's/.*CUDA Version: *\([0-9][0-9]*\)\..*/\1/p' "$OUT/nvidia-smi.txt" | head -1)
nvcc_cuda=$(sed -n 's/.*release \([0-9][0-9]*\)\..*/\1/p' "$OUT/nvidia-smi.txt" | head -1)
echo "CUDA major: driver (nvidia-smi) ${driver_cuda:-?}, toolkit (nvcc) ${nvcc_cuda:-?}"
extras="test"
if cupy_info=$("$PY" -c "import cupy; print(cupy.__version__, cupy.cuda.runtime.runtimeGetVersion())" 2>&1); then
    echo "cupy already importable (version, CUDA runtime): $cupy_info; not installing a cuda extra"
else
    echo "cupy is not importable: ${cupy_info##*$'\n'}"
    major="${nvcc_cuda:-$driver_cuda}"
    if [[ -n "$driver_cuda" && -n "$nvcc_cuda" && "$driver_cuda" -lt "$nvcc_cuda" ]]; then
        major="$driver_cuda"   # the driver caps what runs
    fi
    case "$major" in
        12|13) extras="test,cuda$major"; echo "adding the extra cuda$major" ;;
        *) echo "no CUDA 12/13 found (got '${major:-none}'): no cuda extra; the cupy twins will skip" ;;
    esac
fi
specs=(".[${extras}]")
[[ "$extras" != test ]] && specs+=(".[test]")   # offline, the cuda extra's cupy cannot be had
installed=""
try_install() {  # try_install LABEL PIP-ARGS...: each spec in turn; sets $installed on success
    local label=$1 s
    shift
    for s in "${specs[@]}"; do
        echo "+ $PY -m pip install -q $* -e '$s'"
        if "$PY" -m pip install -q "$@" -e "$s"; then
            installed="$label: -e '$s'"
            return 0
        fi
    done
    return 1
}
if [[ -d .whl ]]; then
    echo "wheels carried in .whl/: $(ls .whl | tr '\n' ' ')"
    # Build tools first: --no-build-isolation builds with whatever setuptools is installed.
    "$PY" -m pip install -q --no-index --find-links .whl "setuptools>=77" wheel \
        || echo "setuptools>=77/wheel from .whl failed; keeping the installed ones"
    try_install "offline from .whl" --no-index --find-links .whl --no-build-isolation
fi
[[ -n "$installed" ]] || try_install "the README's way (index, build isolation)"
[[ -n "$installed" ]] || try_install "index, --no-build-isolation" --no-build-isolation
if [[ -z "$installed" ]]; then
    echo "+ $PY -m pip install -q --no-deps --no-build-isolation -e ."
    "$PY" -m pip install -q --no-deps --no-build-isolation -e . \
        && installed="--no-deps only: the dependencies are what the image has"
fi
echo "install: ${installed:-FAILED (tests run from the checkout; the trainkit command may be missing)}"
"$PY" - <<'PY'
import importlib
missing = []
for name in ["trainkit", "numpy", "hydra", "omegaconf", "pluggy", "tensorboardX", "tqdm", "numba",
             "pytest", "sklearn", "tensorboard", "cupy", "torch"]:
    try:
        mod = importlib.import_module(name)
        print(f"  {name:13s} {getattr(mod, '__version__', '?')}")
    except Exception as exc:
        missing.append(name)
        print(f"  {name:13s} MISSING: {type(exc).__name__}: {exc}")
try:
    import torch
    print(f"  torch CUDA: {torch.version.cuda}, available: {torch.cuda.is_available()}")
except Exception:
    pass
print("missing:", ", ".join(missing) or "none")
PY
# The tests import cupy under pytest's filterwarnings=error: probe the same way.
"$PY" -W error - <<'PY' || echo "gpu_check: trainkit does NOT see the GPU: the cupy twins will be skipped"
import sys
from trainkit.backend import cuda_available, cuda_unavailable_reason
print(f"trainkit cuda_available() under -W error: {cuda_available()}"
      + ("" if cuda_available() else f" ({cuda_unavailable_reason()})"))
sys.exit(0 if cuda_available() else 1)
PY

# ------------------------------------------------------------------ 2. tests
stage "2. tests (timeout ${TEST_TIMEOUT} s)"
pytest_args=(-q -m "gpu or not gpu" -p no:cacheprovider --junitxml="$OUT/junit.xml" --tb=short)
XDIST="${GPU_CHECK_XDIST:-8}"
if [[ "$XDIST" != 0 ]] && "$PY" -c "import xdist" 2>/dev/null; then
    pytest_args+=(-n "$XDIST")
fi
if "$PY" -c "import pytest_timeout" 2>/dev/null; then
    pytest_args+=(--timeout=120)
fi
echo "+ $PY -m pytest $(printf '%q ' "${pytest_args[@]}")"
timeout -s INT -k 30 "$TEST_TIMEOUT" "$PY" -m pytest "${pytest_args[@]}" > "$OUT/pytest.log" 2>&1
rc=$?
case $rc in
    0) echo "tests: passed" ;;
    124|130|137) echo "tests: stopped at the ${TEST_TIMEOUT} s limit (exit $rc); junit.xml holds what ran" ;;
    *) echo "tests: exit code $rc" ;;
esac
grep -E "^(FAILED|ERROR) " "$OUT/pytest.log" > "$OUT/failures.txt" || echo "none" > "$OUT/failures.txt"
echo "failures/errors: $(grep -cE '^(FAILED|ERROR) ' "$OUT/pytest.log" || true) (in failures.txt)"
tail -5 "$OUT/pytest.log"
"$PY" - "$OUT/junit.xml" <<'PY' || true
import collections, sys, xml.etree.ElementTree as ET
try:
    root = ET.parse(sys.argv[1]).getroot()
except Exception as exc:
    sys.exit(f"junit.xml unreadable: {exc}")
counts = collections.Counter()
reasons = collections.Counter()
for case in root.iter("testcase"):
    kind = "cupy" if "[cupy" in case.get("name", "") or "-cupy" in case.get("name", "") else "other"
    status = next((c.tag for c in case if c.tag in ("failure", "error", "skipped")), "passed")
    counts[kind, status] += 1
    if kind == "cupy" and status == "skipped":
        reasons[(next(c for c in case if c.tag == "skipped").get("message") or "")[:160]] += 1
for kind in ("cupy", "other"):
    print(f"{kind:5s} tests: " + ", ".join(f"{counts[kind, s]} {s}" for s in ("passed", "failure", "error", "skipped")))
ran = sum(counts["cupy", s] for s in ("passed", "failure", "error"))
print(f"cupy twins that ran: {ran}" + ("" if ran else "  <-- none ran: the GPU part of the suite was NOT exercised"))
for reason, n in reasons.most_common(5):
    print(f"  cupy skip x{n}: {reason}")
PY

# ------------------------------------------------------------------ 3. benchmarks
left=$((TOTAL_S - (SECONDS - START)))
budget=$((left - 40))
if (( budget < 60 )); then budget=60; fi
stage "3. benchmarks (budget ${budget} s)"
timeout -s INT -k 20 $((budget + 30)) "$PY" benchmarks/gpu_bench.py --device cuda --out-dir "$OUT" \
    --budget-s "$budget" --child-timeout-s 120
echo "benchmarks: exit code $?"

stage "done; files in $OUT: $(ls "$OUT" | tr '\n' ' ')"
