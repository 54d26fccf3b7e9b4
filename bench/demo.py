"""`zkdl demo` end to end, warm (issue 15 target: ≤ 10 s on 2 cores).

    python bench/demo.py                           # this tree, 3 warm runs after one warm-up
    python bench/demo.py --baseline /path/to/tree  # and another checkout in the same run, alternating

Each run is a fresh process (`python -m zkdl.cli demo --json`), as a user types it: interpreter start, imports,
dataset, float and quantized training, commitments, proof, verification, the bundle written. One warm-up run per
tree first (numba's cache and the generator cache are filled), then ``--reps`` runs per tree, alternating between
the trees so that load changes hit both. Reported: wall seconds of every run, the best and the median, the
prover's and verifier's own seconds from the demo's JSON, and the ratio of medians against the baseline.
Results go to bench/results/demo.json (``--out``).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def run_demo(tree: Path, out_dir: Path, zkdl_home: str) -> dict:
    env = dict(os.environ, PYTHONPATH=str(tree), ZKDL_HOME=zkdl_home)
    cmd = [sys.executable, "-m", "zkdl.cli", "demo", "--json", "--quiet", "--out", str(out_dir), "--force"]
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, cwd=str(out_dir.parent))
    wall = time.perf_counter() - t0
    if proc.returncode != 0:
        raise SystemExit(f"demo failed in {tree}:\n{proc.stdout}\n{proc.stderr}")
    res = json.loads(proc.stdout.strip().splitlines()[-1])
    return {
        "wall_s": round(wall, 3),
        "prove_s": res.get("prove_seconds"),
        "verify_s": res.get("verify_seconds"),
        "total_s": res.get("total_seconds"),
        "proof_bytes": res.get("proof_bytes"),
    }


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--baseline", help="another checkout (its root directory) to run in the same session")
    ap.add_argument("--out", default="bench/results/demo.json")
    args = ap.parse_args(argv)
    trees = {"this": Path(__file__).resolve().parents[1]}
    if args.baseline:
        trees["baseline"] = Path(args.baseline).resolve()
    home = os.environ.get("ZKDL_HOME") or str(Path.home() / ".cache" / "zkdl")
    runs: dict[str, list[dict]] = {k: [] for k in trees}
    with tempfile.TemporaryDirectory() as tmp:
        for name, tree in trees.items():  # warm-up: numba cache, generator cache
            run_demo(tree, Path(tmp) / f"warmup-{name}", home)
        for _ in range(args.reps):
            for name, tree in trees.items():
                runs[name].append(run_demo(tree, Path(tmp) / f"demo-{name}", home))
    summary = {}
    for name, rs in runs.items():
        walls = [r["wall_s"] for r in rs]
        summary[name] = {
            "tree": str(trees[name]),
            "runs": rs,
            "wall_best_s": min(walls),
            "wall_median_s": round(statistics.median(walls), 3),
        }
    out = {
        "bench": "demo",
        "command": "python bench/demo.py" + (f" --baseline {args.baseline}" if args.baseline else ""),
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
        "load_after": list(os.getloadavg()),
        "target": "zkdl demo warm end to end ≤ 10 s",
        "results": summary,
    }
    if "baseline" in summary:
        out["this_over_baseline_median"] = round(
            summary["this"]["wall_median_s"] / summary["baseline"]["wall_median_s"], 3
        )
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(out, indent=1) + "\n")
    print(json.dumps({k: (v["wall_best_s"], v["wall_median_s"]) for k, v in summary.items()}))


if __name__ == "__main__":
    main()
