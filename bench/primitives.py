"""Primitive benchmarks for zkdl (issue 2): Fr kernels, Hyrax-Pedersen commits, degree-2 sumcheck.

Every number is compared, as a ratio, with a baseline measured in the same run:

* Fr ``*`` / ``fold(c)`` / ``inner`` (numba kernels) at 2^16 … 2^max-log, in ns per element of the input
  table(s), against Python ints (lists, ``% r``) timed on a 2^16 subsample;
* ``commit_bits`` / ``commit_int`` (signed 16-bit) / ``commit_fr`` (full 255-bit scalars) at 2^16 … 2^20, in
  points per second, against ONE raw ``G1Point.multiexp_unchecked`` call of the same size and scalar kind
  (the commitment's column generators tiled to the full length; scalars prebuilt with ``Scalar.from_le_bytes``,
  not counted). Each commit is checked against the raw MSM: ``Σ_r C_r = MSM + (Σ_r ρ_r)·h``;
* ``sumcheck.prove`` / ``verify`` of ``Σ_x a(x)·b(x)`` over 2^20, against a Python-int cost estimated from the
  measured Python mul/add costs (and a pure-Python sumcheck timed on the subsample, scaled linearly).

Each kernel is warmed up once (numba compiles on first call); timings are the best of k repetitions.

    python bench/primitives.py [--max-log 22] [--quick] [--out bench/results/primitives.json]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from importlib import metadata
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from py_arkworks_bls12381 import G1Point, Scalar  # noqa: E402

from zkdl.commit import generators  # noqa: E402
from zkdl.commit.pedersen import Layout, commit_bits, commit_fr, commit_int  # noqa: E402
from zkdl.field import MODULUS as R  # noqa: E402
from zkdl.field import Fr  # noqa: E402
from zkdl.piop import sumcheck  # noqa: E402
from zkdl.piop.sumcheck import Relation  # noqa: E402
from zkdl.transcript import Transcript  # noqa: E402

TARGETS = {
    "fr_mul_ns_per_elem_2^20": 20.0,
    "commit_signed16_2^20_s": 1.5,
    "sumcheck_deg2_2^20_prove_s": 0.5,
}
PY_SUB_LOG = 16  # Python-int baselines run on 2^16 elements


# ---------------------------------------------------------------------------------------------------------
# timing helpers
# ---------------------------------------------------------------------------------------------------------
def best_of(fn, reps: int, budget_s: float = float("inf")) -> tuple[float, object]:
    """Best wall time of up to ``reps`` calls (at least one; stop early once ``budget_s`` is spent)."""
    best, out, spent = float("inf"), None, 0.0
    for _ in range(max(1, reps)):
        t = time.perf_counter()
        out = fn()
        dt = time.perf_counter() - t
        best, spent = min(best, dt), spent + dt
        if spent > budget_s:
            break
    return best, out


def machine_info() -> dict:
    info = {
        "platform": platform.platform(),
        "python": platform.python_version(),
        "cpu_count": os.cpu_count(),
        "load_average_start": list(os.getloadavg()),
    }
    try:
        import numba

        info["numba_threads"] = numba.get_num_threads()
    except Exception:  # pragma: no cover - informational only
        pass
    for pkg in ("numpy", "numba", "py-arkworks-bls12381"):
        try:
            info[f"version_{pkg}"] = metadata.version(pkg)
        except metadata.PackageNotFoundError:
            pass
    return info


# ---------------------------------------------------------------------------------------------------------
# Fr kernels vs Python ints
# ---------------------------------------------------------------------------------------------------------
def python_baselines(rng: np.random.Generator, reps: int) -> tuple[dict, tuple]:
    """ns per element for Python-int mul, add, fold and inner product on a 2^16 subsample (checked
    against the Fr kernels on the same values)."""
    n = 1 << PY_SUB_LOG
    a, b = Fr.random(n, rng=rng), Fr.random(n, rng=rng)
    c = int.from_bytes(rng.bytes(64), "little") % R
    xa, xb = a.to_ints(), b.to_ints()
    h = n // 2

    def py_mul():
        return [x * y % R for x, y in zip(xa, xb)]

    def py_add():
        return [(x + y) % R for x, y in zip(xa, xb)]

    def py_fold():
        return [(x + c * (y - x)) % R for x, y in zip(xa[:h], xa[h:])]

    def py_inner():
        return sum(x * y for x, y in zip(xa, xb)) % R

    res = {}
    for name, fn in (("mul", py_mul), ("add", py_add), ("fold", py_fold), ("inner", py_inner)):
        t, out = best_of(fn, reps)
        res[name] = {"n": n, "s": t, "ns_per_elem": t / n * 1e9}
        if name == "mul":
            assert (a * b).to_ints() == out, "Fr mul disagrees with Python ints"
        elif name == "fold":
            assert a.fold(c).to_ints() == out, "Fr fold disagrees with Python ints"
        elif name == "inner":
            assert a.inner(b) == out, "Fr inner disagrees with Python ints"
    return res, (xa, xb)


def bench_fr(logs: list[int], py: dict, rng: np.random.Generator, reps: int) -> list[dict]:
    warm = Fr.random(1024, rng=rng)
    _ = warm * warm, warm.fold(3), warm.inner(warm)  # numba compile / cache load
    rows = []
    for log_n in logs:
        n = 1 << log_n
        a, b = Fr.random(n, rng=rng), Fr.random(n, rng=rng)
        c = int.from_bytes(rng.bytes(64), "little") % R
        ops = {"mul": lambda a=a, b=b: a * b, "fold": lambda a=a, c=c: a.fold(c), "inner": lambda a=a, b=b: a.inner(b)}
        row = {"log_n": log_n, "n": n}
        for name, fn in ops.items():
            t, _ = best_of(fn, reps if n <= 1 << 20 else max(2, reps // 2))
            ns = t / n * 1e9
            row[name] = {
                "s": t,
                "ns_per_elem": ns,
                "python_ns_per_elem": py[name]["ns_per_elem"],
                "speedup_vs_python": py[name]["ns_per_elem"] / ns,
            }
        rows.append(row)
        print(
            f"  2^{log_n:<3}"
            + "".join(f"  {k} {row[k]['ns_per_elem']:7.2f} ns ({row[k]['speedup_vs_python']:6.1f}x)" for k in ops),
            flush=True,
        )
        del a, b
    return rows


# ---------------------------------------------------------------------------------------------------------
# commitments vs one raw arkworks MSM
# ---------------------------------------------------------------------------------------------------------
def _scalars_from_std_bytes(data: bytes) -> list[Scalar]:
    return [Scalar.from_le_bytes(data[i : i + 32]) for i in range(0, len(data), 32)]


def _scalars_small(mag: np.ndarray) -> list[Scalar]:
    k = np.zeros((mag.shape[0], 4), dtype="<u8")
    k[:, 0] = mag
    return _scalars_from_std_bytes(k.tobytes())


def make_params(n_cols: int, path: str | None) -> tuple[generators.PublicParams, dict]:
    t = time.perf_counter()
    if path is None:
        target = generators.default_cache_path()
        try:
            pp = generators.setup(n_cols, target)
        except Exception as e:  # unwritable or foreign cache: fall back to a temporary one
            print(f"  (default generator cache unusable: {e}; using a temporary cache)", flush=True)
            target = Path(tempfile.mkdtemp(prefix="zkdl-bench-")) / generators.CACHE_FILENAME
            pp = generators.setup(n_cols, target)
    else:
        target = Path(path)
        pp = generators.setup(n_cols, target)
    pp.gens(n_cols)  # load (and hash-check) the generators now, outside the timings
    return pp, {"path": str(target), "n_cols": n_cols, "setup_or_load_s": time.perf_counter() - t}


def bench_commit(params, logs: list[int], rng: np.random.Generator, reps: int, budget_s: float) -> list[dict]:
    # warm up every path once at a small size (small-scalar table, negated generators, h table, thread pool)
    wn = 1 << 10
    commit_bits(params, rng.integers(0, 2, wn).astype(bool), rng=rng)
    commit_int(params, rng.integers(-(1 << 15), 1 << 15, wn), rng=rng)
    commit_fr(params, Fr.random(wn, rng=rng), rng=rng)
    rows = []
    for log_n in logs:
        rows += _commit_one_size(params, log_n, rng, reps, budget_s)
    return rows


def _commit_one_size(params, log_n: int, rng: np.random.Generator, reps: int, budget_s: float) -> list[dict]:
    zero, one = Scalar.from_le_bytes(bytes(32)), Scalar.from_le_bytes(b"\x01" + bytes(31))
    n = 1 << log_n
    lay = Layout.for_length(n)
    gens = params.gens(lay.cols)
    points = gens * lay.rows  # the commitment's generators tiled: same cost for Pippenger as distinct ones
    bits = rng.integers(0, 2, n).astype(bool)
    signed = rng.integers(-(1 << 15), 1 << 15, n, dtype=np.int64)
    full = Fr.random(n, rng=rng)
    tab01 = np.array([zero, one], dtype=object)
    kinds = {
        "bits": (lambda: commit_bits(params, bits, rng=rng), lambda: tab01[bits.astype(np.intp)].tolist()),
        "signed16": (
            lambda: commit_int(params, signed, rng=rng),
            lambda: _scalars_from_std_bytes(Fr.from_int64(signed).to_le_bytes()),
        ),
        "full": (lambda: commit_fr(params, full, rng=rng), lambda: _scalars_from_std_bytes(full.to_le_bytes())),
    }
    rows = []
    for kind, (do_commit, make_scalars) in kinds.items():
        t_c, (com, opening) = best_of(do_commit, reps, budget_s)
        t0 = time.perf_counter()
        scalars = make_scalars()
        t_build = time.perf_counter() - t0
        t_raw, raw = best_of(lambda s=scalars: G1Point.multiexp_unchecked(points, s), reps, budget_s)
        # the commitment and the raw MSM commit to the same values: Σ C_r = MSM + (Σ ρ_r)·h
        acc = com.rows[0]
        for p in com.rows[1:]:
            acc = acc + p
        rho = sum(opening.blinds) % R
        blind = G1Point.multiexp_unchecked([params.h], [Scalar.from_le_bytes(rho.to_bytes(32, "little"))])
        consistent = (raw + blind) == acc
        row = {
            "kind": kind,
            "log_n": log_n,
            "n": n,
            "layout": f"2^{lay.log_rows}x2^{lay.log_cols}",
            "commit_s": t_c,
            "commit_points_per_s": n / t_c,
            "raw_msm_s": t_raw,
            "raw_msm_points_per_s": n / t_raw,
            "raw_scalar_build_s": t_build,
            "speedup_vs_raw_msm": t_raw / t_c,
            "consistent_with_raw_msm": bool(consistent),
        }
        extra = ""
        if kind == "signed16":
            # informational: one raw MSM of the magnitudes |v| (not the same commitment: signs dropped)
            abs_scalars = _scalars_small(np.abs(signed).astype(np.uint64))
            t_abs, _ = best_of(lambda s=abs_scalars: G1Point.multiexp_unchecked(points, s), reps, budget_s)
            row["raw_msm_abs_s"] = t_abs
            row["speedup_vs_raw_msm_abs"] = t_abs / t_c
            extra = f"   (raw MSM of |v|: {t_abs:.3f} s)"
        rows.append(row)
        print(
            f"  {kind:<9} 2^{log_n:<3} commit {t_c:8.3f} s ({n / t_c:10.0f} pts/s)   raw MSM {t_raw:8.3f} s"
            f" ({n / t_raw:10.0f} pts/s)   ratio {t_raw / t_c:5.2f}x   ok={consistent}{extra}",
            flush=True,
        )
    return rows


# ---------------------------------------------------------------------------------------------------------
# sumcheck
# ---------------------------------------------------------------------------------------------------------
def _py_sumcheck(xa: list[int], xb: list[int]) -> int:
    """Pure-Python prover work of a degree-2 product sumcheck (round sums at 0, 1, 2; fold; fixed challenges)."""
    a, b = list(xa), list(xb)
    r = 0x1234567
    acc = 0
    while len(a) > 1:
        h = len(a) // 2
        s0 = s1 = s2 = 0
        for i in range(h):
            a0, a1, b0, b1 = a[i], a[h + i], b[i], b[h + i]
            s0 += a0 * b0
            s1 += a1 * b1
            s2 += ((2 * a1 - a0) % R) * ((2 * b1 - b0) % R)
        acc ^= (s0 % R) ^ (s1 % R) ^ (s2 % R)
        a = [(a[i] + r * (a[h + i] - a[i])) % R for i in range(h)]
        b = [(b[i] + r * (b[h + i] - b[i])) % R for i in range(h)]
        r = r * r % R
    return acc


def bench_sumcheck(log_n: int, py: dict, py_tables: tuple, rng: np.random.Generator, reps: int) -> dict:
    rel = Relation.product(2)
    w = Fr.random(1 << 10, rng=rng), Fr.random(1 << 10, rng=rng)
    pw, _ = sumcheck.prove(list(w), rel, Transcript("bench"))
    sumcheck.verify(pw, rel, 10, w[0].inner(w[1]), Transcript("bench"))
    n = 1 << log_n
    a, b = Fr.random(n, rng=rng), Fr.random(n, rng=rng)
    claim = a.inner(b)
    t_p, (proof, res) = best_of(lambda: sumcheck.prove([a, b], rel, Transcript("bench"), claim=claim), reps)
    t_v, vres = best_of(lambda: sumcheck.verify(proof, rel, log_n, claim, Transcript("bench")), reps)
    assert vres.point == res.point and vres.values == res.values
    # the reduced claims are the true table evaluations at the sumcheck point
    point = list(res.point)
    assert a.evaluate(point) == res.values[0] and b.evaluate(point) == res.values[1]
    # Python-int estimate: per round over h pairs, 3h products + 2h folds = 5h muls and about 11h modular adds
    # (extension to t=2, sums, fold differences); Σ h over the rounds = n − 1
    est = (n - 1) * (5 * py["mul"]["ns_per_elem"] + 11 * py["add"]["ns_per_elem"]) * 1e-9
    sub = len(py_tables[0])
    t_py, _ = best_of(lambda: _py_sumcheck(*py_tables), 1)
    scaled = t_py * (n - 1) / (sub - 1)
    out = {
        "log_n": log_n,
        "n": n,
        "prove_s": t_p,
        "verify_s": t_v,
        "python_estimate_s": est,
        "speedup_vs_python_estimate": est / t_p,
        "python_measured_sub_log_n": PY_SUB_LOG,
        "python_measured_sub_s": t_py,
        "python_measured_scaled_s": scaled,
        "speedup_vs_python_measured_scaled": scaled / t_p,
    }
    print(
        f"  2^{log_n}: prove {t_p:.3f} s, verify {t_v * 1e3:.2f} ms; Python estimate {est:.1f} s "
        f"({est / t_p:.0f}x), Python at 2^{PY_SUB_LOG} scaled {scaled:.1f} s ({scaled / t_p:.0f}x)",
        flush=True,
    )
    return out


# ---------------------------------------------------------------------------------------------------------
def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--max-log", type=int, default=22, help="largest Fr vector size 2^k (default 22)")
    ap.add_argument("--quick", action="store_true", help="Fr at 2^16…2^18, commits at 2^12…2^16")
    ap.add_argument("--out", default=str(Path(__file__).resolve().parent / "results" / "primitives.json"))
    ap.add_argument("--params", default=None, help="generator cache path (default: zkdl's default cache)")
    ap.add_argument("--reps", type=int, default=5, help="repetitions (best of) for fast kernels")
    ap.add_argument("--seed", type=int, default=2)
    args = ap.parse_args(argv)

    rng = np.random.default_rng(args.seed)
    t_start = time.perf_counter()
    if args.quick:
        fr_logs, commit_logs, sc_log = list(range(16, min(args.max_log, 18) + 1)), [12, 14, 16], 20
        commit_reps, commit_budget = 3, 5.0
    else:
        fr_logs, commit_logs, sc_log = list(range(16, args.max_log + 1)), [16, 18, 20], 20
        commit_reps, commit_budget = 3, 8.0
    result: dict = {"benchmark": "zkdl primitives", "quick": args.quick, "machine": machine_info(), "targets": TARGETS}
    print(f"machine: {result['machine']['cpu_count']} cpus, load average {result['machine']['load_average_start']}")

    print(f"Python-int baselines (2^{PY_SUB_LOG} elements):", flush=True)
    py, py_tables = python_baselines(rng, 3)
    for k, v in py.items():
        print(f"  {k:<6} {v['ns_per_elem']:8.1f} ns/elem")
    result["python_baseline"] = py

    print("Fr kernels (ns per input element, speed-up vs Python ints):", flush=True)
    result["fr"] = bench_fr(fr_logs, py, rng, args.reps)

    n_cols = Layout.for_length(1 << max(commit_logs)).cols
    params, pinfo = make_params(n_cols, args.params)
    print(
        f"commitments (generators: {pinfo['n_cols']} from {pinfo['path']}, {pinfo['setup_or_load_s']:.2f} s):",
        flush=True,
    )
    result["params"] = pinfo
    result["commit"] = bench_commit(params, commit_logs, rng, commit_reps, commit_budget)

    print("sumcheck (product of two tables, degree 2):", flush=True)
    result["sumcheck"] = bench_sumcheck(sc_log, py, py_tables, rng, 3)

    # targets
    checks = []
    mul20 = next((r["mul"]["ns_per_elem"] for r in result["fr"] if r["log_n"] == 20), None)
    checks.append(("Fr mul at 2^20 (ns/elem)", mul20, TARGETS["fr_mul_ns_per_elem_2^20"]))
    s20 = next((r["commit_s"] for r in result["commit"] if r["kind"] == "signed16" and r["log_n"] == 20), None)
    checks.append(("commit 2^20 signed 16-bit (s)", s20, TARGETS["commit_signed16_2^20_s"]))
    sc = result["sumcheck"]["prove_s"] if sc_log == 20 else None
    checks.append(("sumcheck deg 2 over 2^20 (s)", sc, TARGETS["sumcheck_deg2_2^20_prove_s"]))
    result["target_checks"] = []
    print("\ntargets:")
    for name, val, tgt in checks:
        status = "n/a (not run)" if val is None else ("PASS" if val <= tgt else "MISS")
        shown = "-" if val is None else f"{val:.3f}"
        print(f"  {name:<32} measured {shown:>8}   target <= {tgt:<5}  {status}")
        result["target_checks"].append({"name": name, "measured": val, "target": tgt, "status": status})

    result["machine"]["load_average_end"] = list(os.getloadavg())
    result["total_s"] = time.perf_counter() - t_start
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"\nwrote {out} ({result['total_s']:.0f} s, load average at end {result['machine']['load_average_end']})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
