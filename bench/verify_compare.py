"""Verify time of this tree against a baseline tree, on the same proof bytes, in the same run.

The verifier changes of issue 15 leave the proof bytes unchanged, so one proof (made by ``bench/profile_prove_verify.py
--keep DIR``, or here with ``--steps``) is verified by both trees: each verification runs in a fresh child
process whose ``PYTHONPATH`` is that tree (one warm-up verification first, so numba's cache loading is not
timed), alternating baseline and this tree ``--reps`` times. ``verify_s`` times ``training.verify`` on a statement
already parsed, with its CPU seconds (the verifier's thread, its whole process, its helper processes: on a loaded
machine these move less than the wall time); ``api_verify_s`` times ``zkdl.api.verify`` on the two files, as
``zkdl verify`` runs (the statement's parsing and point decoding included). Writes
``bench/results/verify_compare.json`` with every timing, the medians and their ratios.

    git worktree add /tmp/base-verifier ed411e3
    python bench/profile_prove_verify.py --steps 16 --keep /tmp/digits16
    python bench/verify_compare.py --baseline /tmp/base-verifier --proof-dir /tmp/digits16
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

CHILD = r"""
import json, sys, time
from pathlib import Path
from zkdl.api import _generators_needed, public_params
from zkdl.protocol import training
from zkdl.protocol.statement import Statement
d = Path(sys.argv[1])
st = Statement.from_json((d / "statement.json").read_text())
if sys.argv[2] == "computed":  # as bench/training.py: the statement's points as the prover computed them
    import dataclasses
    from py_arkworks_bls12381 import Scalar
    from zkdl.commit.pedersen import Commitment
    two = Scalar(2)
    coms = {k: Commitment(c.layout, tuple(p * two + (-p) for p in c.rows)) for k, c in st.commitments.items()}
    st = dataclasses.replace(st, commitments=coms)
proof = (d / "proof.zkdl").read_bytes()
pp = public_params(_generators_needed(st))
import resource
times, cpus = [], []
for _ in range(1 + int(sys.argv[3])):  # a warm-up, then the timed verifications (the minimum of each is kept)
    ch = resource.getrusage(resource.RUSAGE_CHILDREN)
    t, th, pr = time.perf_counter(), time.thread_time(), time.process_time()
    training.verify(pp, st, proof)
    times.append(time.perf_counter() - t)
    ch2 = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpus.append({  # CPU seconds of the verification: steadier than wall time on a loaded machine
        "main_thread_cpu_s": time.thread_time() - th,
        "process_cpu_s": time.process_time() - pr,  # every thread of the verifier's process (MSM pool, numba)
        "helpers_cpu_s": ch2.ru_utime + ch2.ru_stime - ch.ru_utime - ch.ru_stime,  # its helper processes
    })
cpu = {k: min(c[k] for c in cpus[1:]) for k in cpus[0]}
from zkdl import api
t = time.perf_counter()
res = api.verify(d / "proof.zkdl", d / "statement.json", params=pp)  # as `zkdl verify`: the statement parsed too
api_s = time.perf_counter() - t
assert res.valid, res.reason
import zkdl
out = {"warm_up_s": times[0], "verify_s": min(times[1:]), **cpu, "api_verify_s": api_s, "zkdl": zkdl.__file__}
print("RESULT " + json.dumps(out))
"""


def verify_in(tree: Path, proof_dir: Path, statement_points: str = "decoded", inner: int = 1) -> dict:
    env = dict(os.environ, PYTHONPATH=str(tree))
    proc = subprocess.run(
        [sys.executable, "-c", CHILD, str(proof_dir), statement_points, str(inner)],
        cwd=tree,
        env=env,
        capture_output=True,
        text=True,
    )
    line = next((x for x in proc.stdout.splitlines() if x.startswith("RESULT ")), None)
    if proc.returncode != 0 or line is None:
        raise RuntimeError(f"verification in {tree} failed: {proc.stderr.strip()[-2000:]}")
    out = json.loads(line[len("RESULT ") :])
    if not out["zkdl"].startswith(str(tree)):
        raise RuntimeError(f"the child imported {out['zkdl']}, not the tree {tree}")
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--baseline", required=True, help="a checkout of the baseline (e.g. main at ed411e3)")
    ap.add_argument("--proof-dir", required=True, help="proof.zkdl + statement.json (profile_prove_verify.py --keep)")
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--inner", type=int, default=1, help="timed verifications per child (their minimum is kept)")
    ap.add_argument(
        "--statement-points",
        choices=("decoded", "computed"),
        default="decoded",
        help="the timed training.verify gets the statement as parsed (decoded, affine points) or with its points "
        "recomputed (projective, as bench/training.py hands the prover's statement to the verifier)",
    )
    ap.add_argument("--out", default=str(ROOT / "bench" / "results" / "verify_compare.json"))
    args = ap.parse_args(argv)
    base, here, d = Path(args.baseline).resolve(), ROOT, Path(args.proof_dir).resolve()
    rows = []
    for rep in range(args.reps):
        for name, tree in (("baseline", base), ("this tree", here)):
            load = list(os.getloadavg())
            r = verify_in(tree, d, args.statement_points, max(1, args.inner))
            rows.append({"rep": rep, "tree": name, "load_before": load, **r})
            print(
                f"rep {rep} {name:9s} verify {r['verify_s']:.3f} s, api.verify {r['api_verify_s']:.3f} s "
                f"(warm-up {r['warm_up_s']:.3f} s)",
                flush=True,
            )
    med = {n: statistics.median(r["verify_s"] for r in rows if r["tree"] == n) for n in ("baseline", "this tree")}
    med_api = {
        n: statistics.median(r["api_verify_s"] for r in rows if r["tree"] == n) for n in ("baseline", "this tree")
    }
    med_cpu = {
        n: {
            k: round(statistics.median(r.get(k, float("nan")) for r in rows if r["tree"] == n), 3)
            for k in ("main_thread_cpu_s", "process_cpu_s", "helpers_cpu_s")
        }
        for n in ("baseline", "this tree")
    }
    timings = json.loads((d / "timings.json").read_text()) if (d / "timings.json").exists() else {}
    doc = {
        "bench": "verify_compare",
        "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "machine": {"cpus": os.cpu_count()},
        "baseline": str(base),
        "baseline_commit": subprocess.run(
            ["git", "-C", str(base), "rev-parse", "HEAD"], capture_output=True, text=True
        ).stdout.strip(),
        "this_commit": subprocess.run(
            ["git", "-C", str(here), "rev-parse", "HEAD"], capture_output=True, text=True
        ).stdout.strip(),
        "proof_bytes": (d / "proof.zkdl").stat().st_size,
        "statement_points": args.statement_points,
        "inner": max(1, args.inner),
        "prove": timings,
        "runs": rows,
        "median_verify_s": {k: round(v, 3) for k, v in med.items()},
        "speedup": round(med["baseline"] / med["this tree"], 3),
        "median_api_verify_s": {k: round(v, 3) for k, v in med_api.items()},
        "api_speedup": round(med_api["baseline"] / med_api["this tree"], 3),
        "median_cpu_s": med_cpu,
        "load_average": [r["load_before"][0] for r in rows],
    }
    Path(args.out).write_text(json.dumps(doc, indent=2) + "\n")
    print(json.dumps(doc["median_verify_s"]), "speedup", doc["speedup"], "api.verify", doc["median_api_verify_s"])
    return 0


if __name__ == "__main__":
    sys.exit(main())
