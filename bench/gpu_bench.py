"""GPU benchmarks and byte-identity checks against the CPU backend and arkworks (steps of bench/gpu_check.sh).

Each ``--step`` adds its results to one JSON file (``--out``, merged, labelled with the card's name); timings of
GPU work are CUDA-event times (``cupy.cuda.Event``), host baselines ``time.perf_counter``:

* ``load``: first module load of ``fr_kernels`` and ``msm`` (which format: fatbin = no JIT, ptx, nvrtc) and
  the first launch;
* ``msm20``: MSM of 2^20 points with 16-bit signed scalars, uniform and skewed (30 % of the scalars ±1), with
  the per-stage split, each checked against arkworks on the host;
* ``big``: Fr vectors of 2^27 + 3 elements (64-bit indexing, grids above 2^20 blocks, multi-pass reductions):
  add, mul, sum, checked against the CPU backend on a sample of indices and on the whole sum;
* ``sweep``: MSM 2^16 … 2^22 for 0/1, 16-bit signed and full scalars against arkworks on the host (the basis
  is 2^14 distinct points tiled; above 2^20 the 0/1 and 16-bit results are checked by folding the scalars of
  equal points onto the 2^14 distinct ones, full scalars are timed only);
* ``field``: the GPU backend's Fr operations at 2^20 against the CPU backend, bit-identical;
* ``sanitize``: a small workload of every Fr kernel and the MSM (for compute-sanitizer), checked.

    python bench/gpu_bench.py --step msm20 --out bench/results/gpu_check.json
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


def card_name(cp) -> str:
    name = cp.cuda.runtime.getDeviceProperties(0)["name"]
    return name.decode() if isinstance(name, bytes) else str(name)


def event_timed(cp, fn, reps: int = 5) -> tuple[float, object]:
    """Median seconds between two CUDA events around ``fn`` (after a warm-up call), and the last result."""
    out = fn()
    cp.cuda.Device().synchronize()
    ts = []
    for _ in range(reps):
        start, end = cp.cuda.Event(), cp.cuda.Event()
        start.record()
        out = fn()
        end.record()
        end.synchronize()
        ts.append(cp.cuda.get_elapsed_time(start, end) / 1e3)
    return statistics.median(ts), out


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
    u = a_h[:log_n].copy()
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

    from zkdl.commit.gpu_msm import points_to_limbs

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

    from zkdl.commit.gpu_msm import GpuMsm
    from zkdl.field.constants import MODULUS as R

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
        print(
            f"  msm {name:<12} gpu {tg * 1e3:9.3f} ms   arkworks {ta * 1e3:9.1f} ms   match={pg == pr}   "
            f"stages={ {k: round(v * 1e3, 3) for k, v in prof.items()} }",
            flush=True,
        )
    return out


def step_load() -> dict:
    """First module loads (run in a fresh process: nothing loaded before)."""
    from zkdl.field import gpu as gpu_mod

    t = time.perf_counter()
    cp, _ = gpu_mod.load_module("fr_kernels")
    arch = gpu_mod._default_arch(cp)
    out = {"fr_kernels": {**gpu_mod.LOAD_INFO[("fr_kernels", arch)], "wall_s": time.perf_counter() - t}}
    t = time.perf_counter()
    gpu_mod.load_module("msm")
    out["msm"] = {**gpu_mod.LOAD_INFO[("msm", arch)], "wall_s": time.perf_counter() - t}
    be = get_backend("gpu")
    z = be.asarray(np.zeros((1024, 4), np.uint64))
    t = time.perf_counter()
    be.add(z, z)
    cp.cuda.Device().synchronize()
    out["first_launch_s"] = time.perf_counter() - t
    for k in ("fr_kernels", "msm"):
        print(f"  load {k:<10} {out[k]['format']:<6} {out[k]['seconds']:.3f} s", flush=True)
    return out


def _skewed16(rng, n: int) -> np.ndarray:
    s = rng.integers(-(2**15), 2**15, n, dtype=np.int64)
    skew = rng.random(n) < 0.3
    s[skew] = rng.choice(np.array([-1, 1], np.int64), size=int(skew.sum()))
    return s


def _fold_check(distinct, nd: int, scal: np.ndarray):
    """Σ s_i P_(i mod nd) computed as Σ_j (Σ_(i ≡ j) s_i) P_j on the host with arkworks (exact for int64 sums)."""
    from py_arkworks_bls12381 import G1Point, Scalar

    from zkdl.field.constants import MODULUS as R

    folded = np.zeros(nd, dtype=np.int64)
    np.add.at(folded, np.arange(scal.shape[0]) % nd, scal.astype(np.int64))
    return G1Point.multiexp_unchecked(list(distinct), [Scalar(int(v) % R) for v in folded])


def step_msm20(reps: int, log_n: int = 20) -> dict:
    from zkdl.commit.gpu_msm import GpuMsm

    n = 1 << log_n
    nd = min(n, 1 << 14)
    rows, distinct = make_points(nd, n)
    msm = GpuMsm(rows)
    cp = msm._cp
    rng = np.random.default_rng(3)
    out = {"n": n}
    for name, s in (("uniform16", rng.integers(-(2**15), 2**15, n, dtype=np.int64)), ("skewed16", _skewed16(rng, n))):
        dev = cp.asarray(s)
        tg, pg = event_timed(cp, lambda dev=dev: msm.msm_small(dev, bits=16), reps)
        msm.profile = {}
        msm.msm_small(dev, bits=16)
        prof, msm.profile = dict(msm.profile), None
        t = time.perf_counter()
        ref = _fold_check(distinct, nd, s)
        out[name] = {
            "gpu_s": tg,
            "matches_arkworks": pg == ref,
            "arkworks_fold_s": time.perf_counter() - t,
            "stages_s": prof,
        }
        print(
            f"  msm 2^{log_n} {name:<10} gpu {tg * 1e3:9.3f} ms  match={pg == ref}  "
            f"stages={ {k: round(v * 1e3, 3) for k, v in prof.items()} }",
            flush=True,
        )
    out["skewed_over_uniform"] = out["skewed16"]["gpu_s"] / out["uniform16"]["gpu_s"]
    return out


def step_big(reps: int, n: int = (1 << 27) + 3) -> dict:
    gpu = get_backend("gpu")
    cpu = get_backend("cpu")
    cp = gpu.cp
    rng = np.random.default_rng(4)
    a_h = cpu.from_int64(rng.integers(-(2**62), 2**62, n))
    b_h = cpu.from_int64(rng.integers(-(2**62), 2**62, n))
    a, b = gpu.asarray(a_h), gpu.asarray(b_h)
    out = {"n": n}
    idx = np.concatenate([np.arange(5), rng.integers(0, n, 1000), np.arange(n - 5, n)])
    for name, g, c in (("add", gpu.add, cpu.add), ("mul", gpu.mul, cpu.mul)):
        tg, r = event_timed(cp, lambda g=g: g(a, b), reps)
        sample = cp.asnumpy(r[cp.asarray(idx)])
        ok = bool(np.array_equal(sample, c(a_h[idx], b_h[idx])))
        out[name] = {"gpu_s": tg, "sample_identical": ok}
        del r
        print(f"  n={n} {name:<4} gpu {tg * 1e3:9.3f} ms  sample identical={ok}", flush=True)
    tg, r = event_timed(cp, lambda: gpu.sum(a), reps)
    t = time.perf_counter()
    ref = cpu.sum(a_h)
    out["sum"] = {"gpu_s": tg, "cpu_s": time.perf_counter() - t, "identical": bool(np.array_equal(r, ref))}
    print(f"  n={n} sum  gpu {tg * 1e3:9.3f} ms  identical={out['sum']['identical']}", flush=True)
    return out


def step_sweep(reps: int, lo: int = 16, hi: int = 22, save=None) -> dict:
    """``save(partial results)`` is called after each size, so a step cut by its time cap keeps what it measured."""
    from py_arkworks_bls12381 import G1Point, Scalar

    from zkdl.commit.gpu_msm import GpuMsm
    from zkdl.field.constants import MODULUS as R

    nd = min(1 << 14, 1 << lo)
    rows, distinct = make_points(nd, 1 << hi)
    msm = GpuMsm(rows)
    cp = msm._cp
    rng = np.random.default_rng(5)
    out = {}
    for log_n in range(lo, hi + 1):
        n = 1 << log_n
        s16 = rng.integers(-(2**15), 2**15, n, dtype=np.int64)
        bits = rng.integers(0, 2, n).astype(np.uint8)
        full = rng.integers(0, 2**63, (n, 4), dtype=np.int64).view(np.uint64)
        full[:, 3] &= np.uint64(0x0FFFFFFFFFFFFFFF)  # < 2^252 < r: canonical
        for kind, dev, run in (
            ("bits", cp.asarray(bits), msm.msm_bits),
            ("small16", cp.asarray(s16), lambda d: msm.msm_small(d, bits=16)),
            ("full", cp.asarray(full), msm.msm_full),
        ):
            tg, pg = event_timed(cp, lambda dev=dev, run=run: run(dev), max(1, reps // 2))
            entry = {"gpu_s": tg}
            if kind != "full" or log_n <= 18:
                pts = [distinct[i % nd] for i in range(n)] if log_n <= 20 else None
                t = time.perf_counter()
                if pts is not None:
                    if kind == "full":
                        ks = [int.from_bytes(r.tobytes(), "little") for r in full]
                        ref = G1Point.multiexp_unchecked(pts, [Scalar(k % R) for k in ks])
                    else:
                        vals = s16 if kind == "small16" else bits
                        ref = G1Point.multiexp_unchecked(pts, [Scalar(int(v) % R) for v in vals])
                    entry["arkworks_s"] = time.perf_counter() - t
                else:
                    ref = _fold_check(distinct, nd, s16 if kind == "small16" else bits)
                entry["matches_arkworks"] = pg == ref
            out[f"{kind}_2^{log_n}"] = entry
            print(
                f"  msm {kind:<8} 2^{log_n}  gpu {tg * 1e3:9.3f} ms  "
                + "  ".join(
                    f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in entry.items() if k != "gpu_s"
                ),
                flush=True,
            )
        if save is not None:
            save(out)
    return out


def step_sanitize() -> dict:
    """Every Fr kernel and the MSM once at small sizes (above 1024, not multiples of the block size)."""
    gpu = get_backend("gpu")
    cpu = get_backend("cpu")
    rng = np.random.default_rng(6)
    n = 3001
    a_h = cpu.from_int64(rng.integers(-(2**62), 2**62, n))
    b_h = cpu.from_int64(rng.integers(-(2**62), 2**62, n))
    a, b = gpu.asarray(a_h), gpu.asarray(b_h)
    s = a_h[3]
    checks = {
        "add": np.array_equal(gpu.to_host(gpu.add(a, b)), cpu.add(a_h, b_h)),
        "mul": np.array_equal(gpu.to_host(gpu.mul(a, b)), cpu.mul(a_h, b_h)),
        "axpy": np.array_equal(gpu.to_host(gpu.axpy(s, a, b)), cpu.axpy(s, a_h, b_h)),
        "sum": np.array_equal(gpu.sum(a), cpu.sum(a_h)),
        "inner": np.array_equal(gpu.inner(a, b), cpu.inner(a_h, b_h)),
        "round_sums": np.array_equal(
            gpu.round_sums([a[:2048], b[:2048], a[1:2049]]), cpu.round_sums([a_h[:2048], b_h[:2048], a_h[1:2049]])
        ),
        "eq_table": np.array_equal(gpu.to_host(gpu.eq_table(a_h[:11])), cpu.eq_table(a_h[:11])),
        "powers": np.array_equal(gpu.to_host(gpu.powers(s, n)), cpu.powers(s, n)),
        "batch_inverse": np.array_equal(gpu.to_host(gpu.batch_inverse(a)[0]), cpu.batch_inverse(a_h)[0]),
        "contract": np.array_equal(
            gpu.to_host(gpu.contract(a[:3000], (10, 30, 10), b[:30])), cpu.contract(a_h[:3000], (10, 30, 10), b_h[:30])
        ),
    }
    from zkdl.commit.gpu_msm import GpuMsm

    rows, distinct = make_points(1100, 1100)
    msm = GpuMsm(rows)
    s16 = _skewed16(rng, 1100)
    checks["msm_small"] = msm.msm_small(s16, bits=16) == _fold_check(distinct, 1100, s16)
    bits = rng.integers(0, 2, 1100).astype(np.uint8)
    checks["msm_bits"] = msm.msm_bits(bits) == _fold_check(distinct, 1100, bits)
    checks = {k: bool(v) for k, v in checks.items()}
    print(f"  sanitize workload: {checks}", flush=True)
    return checks


STEPS = ("load", "msm20", "big", "sweep", "field", "sanitize")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--step", choices=STEPS, required=True)
    ap.add_argument("--out", default="bench/results/gpu_check.json")
    ap.add_argument("--log-n", type=int, default=20, help="field step size")
    ap.add_argument("--reps", type=int, default=5)
    args = ap.parse_args()
    try:
        gpu = get_backend("gpu") if args.step != "load" else None
        import cupy as cp
    except (BackendUnavailable, ImportError) as exc:
        print(f"GPU backend unavailable: {exc}", file=sys.stderr)
        return 2
    path = Path(args.out)

    def save(res) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        data = json.loads(path.read_text()) if path.is_file() else {}
        data["device"] = card_name(cp)
        data["host"] = platform.node()
        data[args.step] = res
        path.write_text(json.dumps(data, indent=2, default=str))

    if args.step == "load":
        res = step_load()
    elif args.step == "msm20":
        res = step_msm20(args.reps)
    elif args.step == "big":
        res = step_big(args.reps)
    elif args.step == "sweep":
        res = step_sweep(args.reps, save=save)
    elif args.step == "field":
        res = bench_field(gpu, args.log_n, args.reps)
    else:
        res = step_sanitize()
    save(res)
    flat = json.dumps(res, default=str)
    ok = not any(
        tok in flat for tok in ('"matches_arkworks": false', '"identical": false', '"sample_identical": false')
    )
    if args.step == "sanitize":
        ok = all(res.values())
    print(f"{args.step}: wrote {path}; checks passed: {ok}", flush=True)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
