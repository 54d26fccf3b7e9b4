"""Range-check (lookup back-end) prover alone: this tree against a baseline checkout, alternating, same load.

For range tensors of the given sizes (default W-digits T = 16: 2^23, 2^22, 2^20) filled with random in-range
values, each child process proves the LogUp + GKR range check (zero-knowledge channel by default, ``--clear``
for the transparent one) and verifies it, and reports: prove wall and CPU seconds (``time.process_time``, every
thread), verify seconds, the range proof's bytes (its SUMC section), the number of sumcheck rounds and of
sumchecks, and the child's peak RSS. ``--baseline ROOT`` runs the same children against the ``zkdl`` package of
another checkout (e.g. ``git archive`` of main), alternating ``--reps`` times; the JSON has the medians, the
minima (steadier on a loaded machine) and the ratios branch / baseline of both. ``NUMBA_NUM_THREADS=1``
compares the work done, free of thread scheduling.

    python bench/range_check.py --baseline /tmp/main-snapshot --out bench/results/range_check_gkr.json
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _loadavg() -> list[float]:
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except OSError:
        return []


def child(logs: list[int], zk: bool) -> dict:
    import hashlib

    import numpy as np

    from zkdl.commit.generators import PublicParams
    from zkdl.gadgets.range_check import RangeLayout, RangeLayouts, make_range_backend
    from zkdl.protocol.channel import SECTIONS, ProverChannel, VerifierChannel
    from zkdl.protocol.zk_channel import ZkProverChannel, ZkVerifierChannel
    from zkdl.serialize import Reader
    from zkdl.transcript import Transcript

    rng = np.random.default_rng(1)
    tensors, values = [], {}
    for i, n in enumerate(logs):
        segs = [(f"a{i}", n - 1, 16), (f"b{i}", n - 2, 8), (f"c{i}", n - 2, 1)]
        tensors.append((f"L{i}", RangeLayout(segs, min_log=n)))
        values.update({name: rng.integers(0, 1 << bits, 1 << k) for name, k, bits in segs})
    lays = RangeLayouts(tensors)
    be = make_range_backend("lookup")
    tables = be.committed_tables(lays, lays.assemble(values))
    pp = PublicParams.ephemeral(8)

    def transcript():
        t = Transcript("bench/range-check", debug=True)
        for name in sorted(tables):
            t.absorb_bytes("bench/commit/" + name, hashlib.blake2b(np.ascontiguousarray(tables[name])).digest())
        return t

    # warm-up (numba, generators) on a tiny layout
    tiny = RangeLayouts([("L0", RangeLayout([("x", 3, 4)], min_log=4))])
    tt = be.committed_tables(tiny, {"L0": np.zeros(16, dtype=np.int64)})
    be.prove(tiny, None, ZkProverChannel(Transcript("w"), pp) if zk else ProverChannel(Transcript("w")), tables=tt)

    t = transcript()
    ch = ZkProverChannel(t, pp) if zk else ProverChannel(t)
    t0, c0 = time.perf_counter(), time.process_time()
    be.prove(lays, None, ch, tables=tables)
    if zk:
        ch.finish()
    prove_s, prove_cpu_s = time.perf_counter() - t0, time.process_time() - c0
    rounds = sum(1 for e in t.log if e.kind == "challenge" and e.label in ("sumcheck/r", "sumcheck-zk/r"))
    sumchecks = sum(1 for e in t.log if e.label in ("sumcheck/claim", "sumcheck-zk/claim"))
    sizes = {s: len(ch.writers[s].getvalue()) for s in SECTIONS}
    readers = {s: Reader(ch.writers[s].getvalue()) for s in SECTIONS}
    t0 = time.perf_counter()
    vt = transcript()
    vch = ZkVerifierChannel(vt, readers, pp) if zk else VerifierChannel(vt, readers)
    be.verify(lays, vch)
    vch.finish()
    verify_s = time.perf_counter() - t0
    return {
        "prove_s": round(prove_s, 3),
        "prove_cpu_s": round(prove_cpu_s, 3),
        "verify_s": round(verify_s, 3),
        "range_proof_sumc_bytes": sizes["SUMC"],
        "range_proof_open_bytes": sizes["OPEN"],
        "sumcheck_rounds": rounds,
        "sumchecks": sumchecks,
        "peak_rss_gb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20, 2),
    }


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--logs", default="23,22,20", help="log2 sizes of the range tensors")
    ap.add_argument("--clear", action="store_true", help="transparent channel (default: zero-knowledge)")
    ap.add_argument("--baseline", default=None, help="root of a checkout whose zkdl package is the baseline")
    ap.add_argument("--reps", type=int, default=2)
    ap.add_argument("--out", default=str(ROOT / "bench" / "results" / "range_check.json"))
    ap.add_argument("--child", default=None, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    logs = [int(x) for x in args.logs.split(",") if x.strip()]
    if args.child is not None:
        sys.path.insert(0, args.child)
        print("RESULT " + json.dumps(child(logs, not args.clear)), flush=True)
        return 0
    roots = {"branch": str(ROOT)}
    if args.baseline:
        roots["baseline"] = str(Path(args.baseline).resolve())
    runs: dict[str, list[dict]] = {k: [] for k in roots}
    for rep in range(args.reps):
        for name, root in roots.items():
            cmd = [sys.executable, __file__, "--child", root, "--logs", args.logs] + (["--clear"] if args.clear else [])
            env = {**os.environ, "PYTHONPATH": root}
            load = _loadavg()
            out = subprocess.run(cmd, env=env, capture_output=True, text=True, check=True).stdout
            res = json.loads(next(ln for ln in out.splitlines() if ln.startswith("RESULT "))[7:])
            res["load_before"] = load
            runs[name].append(res)
            print(f"[{rep}] {name}: {res}", flush=True)
    med = {
        name: {k: statistics.median(r[k] for r in rs) for k in rs[0] if k != "load_before"} for name, rs in runs.items()
    }
    fastest = {
        name: {k: min(r[k] for r in rs) for k in ("prove_s", "prove_cpu_s", "verify_s")} for name, rs in runs.items()
    }
    report = {
        "bench": "range_check",
        "logs": logs,
        "zero_knowledge": not args.clear,
        "reps": args.reps,
        "cpus": os.cpu_count(),
        "runs": runs,
        "median": med,
        "min": fastest,
        "numba_num_threads": os.environ.get("NUMBA_NUM_THREADS", "default"),
    }
    if "baseline" in med:
        b, base = med["branch"], med["baseline"]
        report["branch_over_baseline"] = {
            k: round(b[k] / base[k], 3) for k in b if isinstance(b[k], (int, float)) and base.get(k)
        }
        # on a loaded machine the fastest of the alternating runs is the steadier comparison
        report["branch_over_baseline_min"] = {
            k: round(fastest["branch"][k] / fastest["baseline"][k], 3) for k in fastest["branch"]
        }
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(report, indent=2) + "\n")
    print(json.dumps(report.get("branch_over_baseline", med), indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
