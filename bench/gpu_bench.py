"""GPU benchmarks and byte-identity checks against the CPU backend (run by bench/gpu_check.sh on a GPU machine).

Times the GPU backend's Fr vector operations at 2^20 (CPU backend alongside), checks every GPU result equals
the CPU result bit for bit, and times GPU MSMs (2^20 signed 16-bit scalars, 2^20 0/1 scalars, 2^16 full
scalars) with a per-stage breakdown, each checked against arkworks. Writes JSON (``--out``).

    python bench/gpu_bench.py --out bench/results/gpu_bench.json [--log-n 20] [--quick]
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from zkdl.errors import BackendUnavailable  # noqa: E402
from zkdl.field import get_backend  # noqa: E402


def timed(fn, sync, reps: int = 5) -> tuple[float, object]:
    out = fn()  # warm-up (kernel load, numba compile)
    sync()
    ts = []
    for _ in range(reps):
        t = time.perf_counter()
        out = fn()
        sync()
        ts.append(time.perf_counter() - t)
    return statistics.median(ts), out


def bench_field(gpu, log_n: int, reps: int) -> dict:
    cpu = get_backend("cpu")
    cp = gpu.cp
    n = 1 << log_n
    rng = np.random.default_rng(1)
    a_h, b_h, c_h = (cpu.from_int64(rng.integers(-(2**62), 2**62, n)) for _ in range(3))
    a_h, b_h = cpu.mul(a_h, b_h), cpu.mul(b_h, c_h)  # full-width field elements
    s = a_h[7].copy()
    u = a_h[: log_n].copy()
    sync = cp.cuda.Device().synchronize
    t_up, a = timed(lambda: gpu.asarray(a_h), sync, reps)
    b, c = gpu.asarray(b_h), gpu.asarray(c_h)
    t_down, _ = timed(lambda: gpu.to_host(a), sync, reps)
    ops = {
        "mul": (lambda: gpu.mul(a, b), lambda: cpu.mul(a_h, b_h)),
        "add": (lambda: gpu.add(a, b), lambda: cpu.add(a_h, b_h)),
        "axpy": (lambda: gpu.axpy(s, a, b), lambda: cpu.axpy(s, a_h, b_h)),
        "fold": (lambda: gpu.fold(a, s), lambda: cpu.fold(a_h, s)),
        "sum": (lambda: gpu.sum(a), lambda: cpu.sum(a_h)),
        "inner": (lambda: gpu.inner(a, b), lambda: cpu.inner(a_h, b_h)),
        "round_sums_3": (lambda: gpu.round_sums([a, b, c]), lambda: cpu.round_sums([a_h, b_h, c_h])),
        "eq_table": (lambda: gpu.eq_table(u), lambda: cpu.eq_table(u)),
        "powers": (lambda: gpu.powers(s, n), lambda: cpu.powers(s, n)),
        "batch_inverse": (lambda: gpu.batch_inverse(a)[0], lambda: cpu.batch_inverse(a_h)[0]),
        "from_mont": (lambda: gpu.from_mont(a), lambda: cpu.from_mont(a_h)),
    }
    res = {"n": n, "h2d_s": t_up, "d2h_s": t_down, "ops": {}}
    for name, (g, c_fn) in ops.items():
        tg, og = timed(g, sync, reps)
        tc, oc = timed(c_fn, lambda: None, max(1, reps // 2))
        og = og if isinstance(og, np.ndarray) else cp.asnumpy(og)
        res["ops"][name] = {"gpu_s": tg, "cpu_s": tc, "identical": bool(np.array_equal(og, oc))}
        same = res["ops"][name]["identical"]
        print(f"  {name:<14} gpu {tg * 1e3:9.3f} ms   cpu {tc * 1e3:9.2f} ms   identical={same}", flush=True)
    return res


def make_points(n_distinct: int, n: int) -> np.ndarray:
    from py_arkworks_bls12381 import G1Point, Scalar

    from zkdl.gpu_msm import points_to_limbs

    p = G1Point() * Scalar(123456789)
    q = G1Point() * Scalar(987654321987654321)
    pts = []
    for _ in range(n_distinct):
        pts.append(p)
        p = p + q
    rows = points_to_limbs(pts)
    return np.tile(rows, (n // n_distinct + 1, 1))[:n], pts


def bench_msm(log_n: int, reps: int) -> dict:
    from py_arkworks_bls12381 import G1Point, Scalar

    from zkdl.field.constants import MODULUS as R
    from zkdl.gpu_msm import GpuMsm

    n = 1 << log_n
    nd = min(n, 1 << 16)
    t = time.perf_counter()
    rows, distinct = make_points(nd, n)
    print(f"  basis of {n} points ({nd} distinct) in {time.perf_counter() - t:.1f} s", flush=True)
    all_pts = [distinct[i % nd] for i in range(n)]
    msm = GpuMsm(rows)
    cp = msm._cp
    sync = cp.cuda.Device().synchronize
    rng = np.random.default_rng(2)
    out = {"n": n}

    def ark(ks):
        return G1Point.multiexp_unchecked(all_pts[: len(ks)], [Scalar(int(k) % R) for k in ks])

    s16 = rng.integers(-(2**15), 2**15, n, dtype=np.int64)
    s16_dev = cp.asarray(s16)
    bits = rng.integers(0, 2, n).astype(np.uint8)
    bits_dev = cp.asarray(bits)
    m_full = min(n, 1 << 16)
    full = [int(x) for x in rng.integers(0, 2**63, m_full)]
    full = [(x << 190 | x << 64 | x) % R for x in full]
    full_limbs = np.frombuffer(b"".join(x.to_bytes(32, "little") for x in full), "<u8").reshape(-1, 4)
    full_dev = cp.asarray(full_limbs)
    cases = {
        "small16": (lambda: msm.msm_small(s16_dev, bits=16), lambda: ark(s16)),
        "bits": (lambda: msm.msm_bits(bits_dev), lambda: ark(bits)),
        f"full_2^{m_full.bit_length() - 1}": (lambda: msm.msm_full(full_dev), lambda: ark(full)),
    }
    for name, (g, ref) in cases.items():
        tg, pg = timed(g, sync, reps)
        msm.profile = {}
        g()
        prof = {k: v for k, v in msm.profile.items()}
        msm.profile = None
        t = time.perf_counter()
        pr = ref()
        ta = time.perf_counter() - t
        out[name] = {"gpu_s": tg, "arkworks_s": ta, "matches_arkworks": pg == pr, "stages_s": prof}
        print(f"  msm {name:<12} gpu {tg * 1e3:9.3f} ms   arkworks {ta * 1e3:9.1f} ms   match={pg == pr}   "
              f"stages={ {k: round(v * 1e3, 3) for k, v in prof.items()} }", flush=True)
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default="bench/results/gpu_bench.json")
    ap.add_argument("--log-n", type=int, default=20)
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--quick", action="store_true", help="2^16 and 2 repetitions")
    args = ap.parse_args()
    log_n, reps = (16, 2) if args.quick else (args.log_n, args.reps)
    try:
        gpu = get_backend("gpu")
    except BackendUnavailable as exc:
        print(f"GPU backend unavailable: {exc}", file=sys.stderr)
        return 2
    dev = gpu.cp.cuda.runtime.getDeviceProperties(0)
    result = {"device": dev["name"].decode() if isinstance(dev["name"], bytes) else str(dev["name"]),
              "host": platform.node(), "log_n": log_n}
    print(f"device: {result['device']}", flush=True)
    result["field"] = bench_field(gpu, log_n, reps)
    result["msm"] = bench_msm(log_n, reps)
    ok = all(v["identical"] for v in result["field"]["ops"].values()) and all(
        v["matches_arkworks"] for k, v in result["msm"].items() if k != "n")
    result["all_identical"] = ok
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(result, indent=2))
    print(f"wrote {args.out}; all identical: {ok}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
