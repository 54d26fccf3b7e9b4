#!/usr/bin/env bash
# The one-shot check for a lent GPU machine (docs/gpu.md, "On a lent GPU machine"). With the device tool:
#
#   run(command="bash bench/gpu_check.sh", carry=[".gpu-wheels", "cuda/build"], timeout_s=540)
#
# after, on this machine: `python -m zkdl.field.gpu_build` (fatbins: ~1 min of ptxas, so the device does not pay it)
# and `bash bench/gpu_wheels.sh` (fills .gpu-wheels/ with the cp312 wheels the device's Python lacks).
#
# It uses the machine's preinstalled Python 3.12 (numpy, numba, cupy-cuda13x, torch, pytest, hypothesis,
# scikit-learn there), installs only the carried wheels (pip --no-index), builds, and then runs the steps in the
# order of their value, each under its own `timeout`, the whole under BUDGET seconds (default 450 < 8 min):
#   load (first module load: fatbin, no JIT) -> GPU-only tests (incl. byte-identical proofs GPU vs CPU) ->
#   compute-sanitizer memcheck + racecheck -> MSM 2^20 uniform + skewed -> 2^27+3 elements -> W-paper (width 256)
#   -> MSM sweep 2^16..2^22 (0/1, 16-bit, full vs arkworks) -> Fr kernels at 2^20 -> W-digits -> W-paper at full
#   width 1024 with whatever budget is left.
# A step that would not fit in the remaining budget is skipped (recorded as such). ONLY=step,step,... runs just
# those steps (after setup and build), e.g. ONLY=w-paper-1024 BUDGET=540 for a follow-up call.
#
# Results (at most 8 files, as the device tool returns them) in $OUT (default bench/results/gpu-check):
#   gpu_check.json (every measurement, labelled with the card), steps.tsv (step, status, seconds),
#   gpu_check.log (everything printed), sanitizer.log, training.json.
# Exit status: 0 all passed, 1 a step failed, 2 no usable GPU (after the install and build steps), 3 setup failed.
set -u -o pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
RES=${OUT:-bench/results/gpu-check}
BUDGET=${BUDGET:-450}
WHEELS=${WHEELS:-.gpu-wheels}
mkdir -p "$RES"
LOG="$RES/gpu_check.log"
JSON="$RES/gpu_check.json"
: >"$LOG"
printf 'step\tstatus\tseconds\n' >"$RES/steps.tsv"
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
export ZKDL_HOME=${ZKDL_HOME:-/tmp/zkdl-home-gpu-check}
export PYTHONUNBUFFERED=1
fail=0
START=$SECONDS

say() { echo "$*" | tee -a "$LOG"; }
# step NAME CAP cmd... : runs cmd under min(CAP, what is left of the budget), logs, records status and time.
step() {
    local name=$1 cap=$2
    shift 2
    if [ -n "${ONLY:-}" ] && [ "$name" != setup ] && [ "$name" != build ] && [[ ",$ONLY," != *",$name,"* ]]; then
        printf '%s\tnot-selected\t0\n' "$name" >>"$RES/steps.tsv"
        return 0
    fi
    local left=$((BUDGET - (SECONDS - START)))
    if [ "$left" -lt 15 ]; then
        say "=== $name: skipped (budget spent)"
        printf '%s\tskipped\t0\n' "$name" >>"$RES/steps.tsv"
        return 0
    fi
    [ "$cap" -gt "$left" ] && cap=$left
    say "=== $name (cap ${cap}s, $(date +%T), ${left}s of the budget left)"
    local t0=$SECONDS rc
    timeout --kill-after=5 "$cap" "$@" 2>&1 | tee -a "$LOG" | tail -40
    rc=${PIPESTATUS[0]}
    local st=ok
    if [ "$rc" -eq 124 ] || [ "$rc" -eq 137 ]; then st=timeout; elif [ "$rc" -ne 0 ]; then st="failed($rc)"; fi
    [ "$st" = ok ] || fail=1
    printf '%s\t%s\t%s\n' "$name" "$st" "$((SECONDS - t0))" >>"$RES/steps.tsv"
    say "--- $name: $st in $((SECONDS - t0)) s"
}
finish() {
    "$PY" - "$JSON" "$RES/steps.tsv" "$((SECONDS - START))" <<'PYEOF' || true
import json, sys
from pathlib import Path
path, tsv, total = Path(sys.argv[1]), Path(sys.argv[2]), int(sys.argv[3])
data = json.loads(path.read_text()) if path.is_file() else {}
rows = [line.split("\t") for line in tsv.read_text().splitlines()[1:] if line]
data["steps"] = [{"step": s, "status": st, "seconds": int(sec)} for s, st, sec in rows]
data["total_seconds"] = total
path.write_text(json.dumps(data, indent=2))
PYEOF
    local verdict="ALL PASSED"
    [ "$fail" -eq 1 ] && verdict="SOME STEPS FAILED"
    [ "$fail" -eq 2 ] && verdict="NO USABLE GPU (setup and build only)"
    say "=== done in $((SECONDS - START)) s: $verdict; results in $RES"
}

say "=== device"
nvidia-smi --query-gpu=name,driver_version,memory.total,compute_cap --format=csv 2>&1 | tee -a "$LOG" || true
command -v nvcc >/dev/null && nvcc --version | tail -1 | tee -a "$LOG" || say "(no nvcc: carried fatbins/PTX, else NVRTC)"
command -v compute-sanitizer >/dev/null || [ -x /usr/local/cuda/bin/compute-sanitizer ] || say "(no compute-sanitizer)"
"$PY" --version 2>&1 | tee -a "$LOG"

# --- setup: carried wheels only (the machine has no network) --------------------------------------------------
pipi() {  # install from the carried wheel directory, no index; PEP 668 environments need the extra flag
    "$PY" -m pip install -q --no-index --find-links "$WHEELS" "$@" 2>&1 ||
        "$PY" -m pip install -q --no-index --find-links "$WHEELS" --break-system-packages "$@" 2>&1
}
setup() {
    local need=()
    "$PY" -c "import py_arkworks_bls12381" 2>/dev/null || need+=("py-arkworks-bls12381==0.5.0")
    "$PY" -c "import pyblst" 2>/dev/null || need+=("pyblst==0.3.15")
    "$PY" -c "import py_ecc" 2>/dev/null || need+=("py_ecc==8.0.0")
    if [ ${#need[@]} -gt 0 ]; then
        [ -d "$WHEELS" ] || { echo "missing ${need[*]} and no wheel directory $WHEELS (carry it)"; return 1; }
        echo "installing ${need[*]} from $WHEELS"
        pipi "${need[@]}" || return 1
    fi
    # the CPU kernels are tested with numba 0.68.1 / llvmlite 0.50; llvmlite's wheel (60 MB) does not fit the
    # carry limit, so numba 0.68.1 is installed only where the machine's llvmlite already matches
    "$PY" - <<'PYEOF'
import numba, llvmlite
print("numba", numba.__version__, "llvmlite", llvmlite.__version__)
PYEOF
    if ! "$PY" -c "import numba,sys; sys.exit(numba.__version__ != '0.68.1')" 2>/dev/null &&
        "$PY" -c "import llvmlite,sys; sys.exit(not llvmlite.__version__.startswith('0.50'))" 2>/dev/null; then
        pipi "numba==0.68.1" --no-deps || true
    fi
    "$PY" -c "import numpy, numba, pytest, py_arkworks_bls12381, pyblst, py_ecc; print('imports ok')"
}
export PY WHEELS
export -f pipi setup
step setup 120 bash -c setup
grep -q "^setup	ok" "$RES/steps.tsv" || { finish; exit 3; }

# numba compiles the CPU kernels once (about a minute on one core): start it now, next to the build
( "$PY" -c "from zkdl.field import get_backend; import numpy as np; b = get_backend('cpu'); \
b.mul(b.from_int64(np.arange(8)), b.from_int64(np.arange(8))); print('cpu backend compiled')" \
    >"$RES/.numba_warmup.log" 2>&1 ) &
WARM=$!

# --- build: fatbins (carried in cuda/build when built on the CPU machine) and the host harness ------------------
if command -v nvcc >/dev/null || [ -x /usr/local/cuda/bin/nvcc ]; then
    step build 240 "$PY" -m zkdl.field.gpu_build --arch sm_90
else
    say "=== build: no nvcc here, the carried cuda/build (or NVRTC) is used"
fi

# --- is there a GPU at all? ------------------------------------------------------------------------------------
if ! "$PY" - 2>&1 <<'PYEOF' | tee -a "$LOG"; then
import sys
try:
    import cupy
    n = cupy.cuda.runtime.getDeviceCount()
except Exception as exc:
    print(f"no usable GPU: {exc}")
    sys.exit(2)
print("cupy", cupy.__version__, "devices:", n, "runtime:", cupy.cuda.runtime.runtimeGetVersion(),
      "driver:", cupy.cuda.runtime.driverGetVersion())
sys.exit(0 if n > 0 else 2)
PYEOF
    wait "$WARM" 2>/dev/null
    cat "$RES/.numba_warmup.log" >>"$LOG"
    rm -f "$RES/.numba_warmup.log"
    printf 'gpu\tnone\t0\n' >>"$RES/steps.tsv"
    [ "$fail" -eq 0 ] && fail=2
    finish
    say "no usable GPU: exit $fail after the install and build steps"
    exit "$fail"
fi

B="$PY bench/gpu_bench.py --out $JSON"
step load 60 $B --step load
wait "$WARM"
cat "$RES/.numba_warmup.log" >>"$LOG"
rm -f "$RES/.numba_warmup.log"
# the `cuda` parameter of tests/cuda (marker gpu), including the training proof and the sumcheck proof made
# through the GPU that must be byte-identical to the CPU's
step gpu-tests 150 "$PY" -m pytest -q -rs -m gpu tests/cuda -p no:cacheprovider
SAN=$(command -v compute-sanitizer || echo /usr/local/cuda/bin/compute-sanitizer)
if [ -x "$SAN" ]; then
    for tool in memcheck racecheck; do
        step "sanitizer-$tool" 90 bash -c "'$SAN' --tool $tool --error-exitcode 9 --target-processes all \
            $PY bench/gpu_bench.py --out $RES/sanitize.json --step sanitize >>'$RES/sanitizer.log' 2>&1; \
            rc=\$?; tail -5 '$RES/sanitizer.log'; exit \$rc"
    done
    rm -f "$RES/sanitize.json"
else
    say "=== sanitizer: compute-sanitizer not found, skipped"
fi
step msm20 90 $B --step msm20
step big 90 $B --step big --reps 3
# bench/training.py exits 0 even when a run fails (the error goes into its JSON): this turns that into a failure
training() {  # training <out.json> <bench/training.py arguments>...
    local out=$1
    shift
    "$PY" bench/training.py --backend gpu --ranges lookup --mem-gb 100 --out "$out" "$@" || return 1
    "$PY" -c "import json,sys; r=json.load(open(sys.argv[1]))['results']; bad=[x for x in r if 'error' in x]; \
print('\n'.join('training run failed: ' + x['error'] for x in bad)); sys.exit(1 if bad or not r else 0)" "$out"
}
export -f training
# W-paper at width 256 first (likely to finish inside its cap); full width 1024 at the end with what is left
step w-paper-256 120 bash -c 'training "$0" --only paper --paper-steps 1 --paper-width 256' "$RES/training.json"
step sweep 120 $B --step sweep --reps 3
step field 60 $B --step field
step w-digits 90 bash -c 'training "$0" --only digits' "$RES/training-digits.json"
step w-paper-1024 300 bash -c 'training "$0" --only paper --paper-steps 1 --paper-width 1024' \
    "$RES/training-paper-full.json"
for extra in digits paper-full; do  # one training file comes back: merge the other runs into training.json
    [ -f "$RES/training-$extra.json" ] || continue
    "$PY" -c "import json,os,sys; a=json.load(open(sys.argv[1])) if os.path.exists(sys.argv[1]) else {}; \
a[sys.argv[3]]=json.load(open(sys.argv[2])); json.dump(a, open(sys.argv[1],'w'), indent=2)" \
        "$RES/training.json" "$RES/training-$extra.json" "$extra" && rm -f "$RES/training-$extra.json"
done
finish
exit $fail
