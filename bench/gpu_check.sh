#!/usr/bin/env bash
# The one prepared script for a GPU machine (docs/gpu.md). Run from anywhere:
#
#   bash bench/gpu_check.sh [--quick]
#
# Steps: show the device; make sure the Python packages are importable (installing missing ones, CuPy included,
# from a carried wheel directory with pip --no-index); build PTX with nvcc if present (otherwise the cached PTX in
# cuda/build is used when carried, else CuPy compiles with NVRTC); run tests/cuda with the GPU tests enabled;
# run the field-level test suite on the GPU backend (ZKDL_BACKEND=gpu); benchmark and check bit-identity with
# the CPU backend and arkworks (bench/gpu_bench.py); run bench/training.py --backend gpu if it exists.
#
# Environment: PYTHON (default python3), WHEELS (wheel directory; default: shared/wheels, then wheels/),
# OUT (results directory; default bench/results; on the device machine pass OUT=$OUT), STEP_TIMEOUT (s, 300).
# Exit status: 0 when every step passed, 1 when a check failed, 2 when no usable GPU/CuPy.
set -u -o pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
RES=${OUT:-bench/results}
T=${STEP_TIMEOUT:-300}
QUICK=""
[ "${1:-}" = "--quick" ] && QUICK="--quick"
mkdir -p "$RES"
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
fail=0
step() { echo; echo "=== $* ($(date +%T))"; }

step "device"
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv 2>&1 || echo "(nvidia-smi unavailable)"
command -v nvcc >/dev/null && nvcc --version | tail -1 || echo "(no nvcc: cached PTX or NVRTC)"

step "python packages"
wheeldir=""
for d in "${WHEELS:-}" shared/wheels wheels; do
    if [ -n "$d" ] && [ -d "$d" ]; then wheeldir="$d"; break; fi
done
need() {  # need <module> <pip requirement>...
    local mod=$1; shift
    if "$PY" -c "import $mod" 2>/dev/null; then return 0; fi
    if [ -z "$wheeldir" ]; then echo "missing $mod and no wheel directory"; return 1; fi
    for req in "$@"; do
        "$PY" -m pip install -q --no-index --find-links "$wheeldir" "$req" && return 0
    done
    echo "could not install $mod from $wheeldir"; return 1
}
need numpy numpy
need numba "numba==0.68.1"
need py_arkworks_bls12381 "py-arkworks-bls12381==0.5.0"
need pytest pytest
need py_ecc "py_ecc==8.0.0"
need cupy cupy-cuda12x cupy-cuda13x
"$PY" - <<'PYEOF' || { echo "no usable CuPy/GPU"; exit 2; }
import cupy
n = cupy.cuda.runtime.getDeviceCount()
print("cupy", cupy.__version__, "devices:", n, "runtime:", cupy.cuda.runtime.runtimeGetVersion(),
      "driver:", cupy.cuda.runtime.driverGetVersion())
assert n > 0
PYEOF

step "build (nvcc -> cuda/build)"
if command -v nvcc >/dev/null; then
    timeout "$T" "$PY" -m zkdl.gpu_build --arch sm_90 || fail=1
fi

step "tests/cuda with the GPU (emulated + real kernels)"
timeout "$T" "$PY" -m pytest -q -rs tests/cuda -p no:cacheprovider 2>&1 | tee "$RES/gpu_tests.log" | tail -25
[ "${PIPESTATUS[0]}" -eq 0 ] || fail=1

step "field and sumcheck tests on the GPU backend (ZKDL_BACKEND=gpu)"
ZKDL_BACKEND=gpu timeout "$T" "$PY" -m pytest -q -x tests/zkdl/test_field.py tests/zkdl/test_sumcheck.py \
    -p no:cacheprovider 2>&1 | tee "$RES/gpu_backend_suite.log" | tail -15
[ "${PIPESTATUS[0]}" -eq 0 ] || fail=1

step "benchmarks + bit-identity vs CPU and arkworks"
timeout "$T" "$PY" bench/gpu_bench.py $QUICK --out "$RES/gpu_bench.json" 2>&1 | tee "$RES/gpu_bench.log"
[ "${PIPESTATUS[0]}" -eq 0 ] || fail=1

if [ -f bench/training.py ]; then
    step "training benchmark (W-paper) on the GPU backend"
    timeout "$T" "$PY" bench/training.py --backend gpu ${TRAINING_ARGS:-} 2>&1 | tee "$RES/gpu_training.log" | tail -30
    [ "${PIPESTATUS[0]}" -eq 0 ] || fail=1
fi

step "done: $([ $fail -eq 0 ] && echo ALL PASSED || echo SOME CHECKS FAILED); results in $RES"
exit $fail
