"""cProfile of one training prove (issue 15): where the prover's time goes, by phase and by function.

Runs the W-digits workload of ``bench/training.py`` (same model, data and statement; ``--steps`` to shorten)
once untimed (numba compilation / cache load), then ``training.prove`` under cProfile, and writes

* ``bench/results/profile_prove_<name>.json``: the prover's own phase timers (witness, commit, range, sumchecks,
  openings; wall seconds), the cumulative time of the functions that implement each phase, and the top functions
  by own time, on the profile clock (``--timer``: process CPU seconds by default, which a shared machine's load
  disturbs much less than wall seconds);
* ``bench/results/profile_prove_<name>.txt``: the pstats listing (top 60 by cumulative and by own time).

    python bench/profile_prove.py                    # W-digits, T = 16, ZK
    python bench/profile_prove.py --steps 4 --name digits_T4
"""

from __future__ import annotations

import argparse
import cProfile
import importlib.util
import io
import json
import os
import pstats
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

#: (file suffix, function name) of the calls that make up each phase, for the cumulative split
PHASE_FUNCTIONS = {
    "commit: pedersen.commit": ("zkdl/commit/pedersen.py", "commit"),
    "range: range backend prove": ("zkdl/gadgets/range_check.py", "prove"),
    "range: translate (L claims to tables)": ("zkdl/gadgets/range_check.py", "prove_translate"),
    "sumchecks: sumcheck.prove": ("zkdl/piop/sumcheck.py", "prove"),
    "sumchecks: zk_sumcheck.prove": ("zkdl/piop/zk_sumcheck.py", "prove"),
    "openings: claim reduction": ("zkdl/piop/claims.py", "prove_reduction"),
    "openings: claim reduction (keeping the fold)": ("zkdl/piop/claims.py", "prove_reduction_keeping_fold"),
    "openings: evaluation proof (ZK)": ("zkdl/commit/evaluation.py", "prove_eval_zk"),
    "openings: evaluation proof (clear)": ("zkdl/commit/evaluation.py", "prove_eval"),
    "zk: channel finish (proofs of product, equality)": ("zkdl/protocol/zk_channel.py", "finish"),
    "msm: multiexp": ("zkdl/commit/pedersen.py", "_msm"),
}


def _load_training_bench():
    spec = importlib.util.spec_from_file_location("bench_training", ROOT / "bench" / "training.py")
    mod = importlib.util.module_from_spec(spec)
    assert spec.loader is not None
    spec.loader.exec_module(mod)
    return mod


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--steps", type=int, default=16)
    ap.add_argument("--range", default="lookup")
    ap.add_argument("--no-zk", action="store_true")
    ap.add_argument(
        "--timer",
        choices=["cpu", "wall"],
        default="cpu",
        help="profile clock: process CPU seconds (all threads; steady on a shared machine) or wall seconds",
    )
    ap.add_argument("--dump", default=None, help="also write the raw cProfile data here")
    ap.add_argument("--name", default=None, help="suffix of the output files (default digits_T<steps>_<zk|clear>)")
    args = ap.parse_args(argv)
    zk = not args.no_zk
    name = args.name or f"digits_T{args.steps}_{'zk' if zk else 'clear'}"

    tb = _load_training_bench()
    from zkdl.protocol import training

    tb._warm_up(args.range, zk)
    cfg, pp, st, run, X, Y, opens = tb.digits_instance(args.steps, args.range)

    load_before = [round(x, 2) for x in os.getloadavg()]
    prof = cProfile.Profile(time.process_time) if args.timer == "cpu" else cProfile.Profile()
    c0 = time.process_time()
    t0 = time.perf_counter()
    prof.enable()
    proof, phases = training.prove(pp, st, run, X, Y, opens, zk=zk)
    prof.disable()
    wall = time.perf_counter() - t0
    cpu = time.process_time() - c0

    if args.dump:
        prof.dump_stats(args.dump)
    stats = pstats.Stats(prof)
    raw = stats.stats  # type: ignore[attr-defined]
    split = {}
    for label, (suffix, fn) in PHASE_FUNCTIONS.items():
        cum = sum(v[3] for (f, _, n), v in raw.items() if n == fn and f.endswith(suffix))
        if cum:
            split[label] = round(cum, 3)
    top_own = sorted(raw.items(), key=lambda kv: kv[1][2], reverse=True)[:25]
    doc = {
        "bench": "profile_prove",
        "workload": cfg,
        "range_backend": args.range,
        "zero_knowledge": zk,
        "load_before": load_before,
        "load_after": [round(x, 2) for x in os.getloadavg()],
        "profile_clock": "process CPU seconds (all threads)" if args.timer == "cpu" else "wall seconds",
        "prove_wall_s_under_profile": round(wall, 3),
        "prove_cpu_s_under_profile": round(cpu, 3),
        "prove_s_per_step_under_profile": round(wall / args.steps, 3),
        "prove_phases_s": {k: round(v, 3) for k, v in phases.items()},
        "cumulative_by_function_s": split,
        "top_own_time": [
            {"function": f"{Path(f).name}:{line}:{n}", "calls": v[1], "own_s": round(v[2], 3), "cum_s": round(v[3], 3)}
            for (f, line, n), v in top_own
        ],
        "proof_bytes": len(proof),
        "note": "cProfile adds overhead to Python-level calls; numba/arkworks kernels count as one call each",
    }
    out = ROOT / "bench" / "results"
    (out / f"profile_prove_{name}.json").write_text(json.dumps(doc, indent=2) + "\n")
    buf = io.StringIO()
    ps = pstats.Stats(prof, stream=buf)
    ps.strip_dirs().sort_stats("cumulative").print_stats(60)
    ps.sort_stats("tottime").print_stats(60)
    ps.print_callers(r"vec_add|vec_mul|vec_fold|eq_step_hi|from_mont|round_sums_2|fold_many_inplace|from_int64")
    (out / f"profile_prove_{name}.txt").write_text(buf.getvalue())
    keys = ("prove_wall_s_under_profile", "prove_cpu_s_under_profile", "prove_phases_s", "cumulative_by_function_s")
    print(json.dumps({k: doc[k] for k in keys}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
