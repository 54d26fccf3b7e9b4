"""Chunked runs benchmark (issue 9): memory and speed of a run proven as chunk proofs, and Ray throughput.

Each configuration runs in a child process (``--child``), so ``ru_maxrss`` is the peak of that configuration:

* W-digits (64-256-256-10, B = 64): the unchunked T = 16 proof (``prove_training``, the baseline measured in the
  same run) and chunked runs of T = 16, 64, 256 steps in chunks of 16 (``prove_run``, one worker, in process).
  Reported: prove seconds per step, peak RSS, ratios against the baseline (targets: RSS flat in T within 15 % of
  T = 16; s/step within 15 % of the unchunked run).
* Ray throughput (steps proven per second): one worker using both cores (in process, no Ray) against two Ray
  workers with one core each (the embedded local Ray, loopback only) on the same chunked run.

    python bench/runs.py                                   # T = 16, 64, 256 and the Ray comparison
    python bench/runs.py --steps 16,64 --ray-steps 32      # what fits in a shorter slot

Writes ``bench/results/runs.json`` (``--out``). The load average before and after each configuration is recorded:
on a shared machine the timings move with it.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

WIDTHS = [64, 256, 256, 10]
BATCH = 64


def _load() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


def child(cfg: dict) -> dict:
    from zkdl import api

    out = Path(tempfile.mkdtemp(prefix="zkdl-bench-runs-")) / "run"
    t0 = time.perf_counter()
    common = dict(widths=WIDTHS, batch_size=BATCH, steps=cfg["steps"], verify_after=cfg.get("verify", False))
    if cfg["kind"] == "unchunked":
        b = api.prove_training(out_dir=out, **common)
        s = b.summary
        res = {"prove_s": s["prove_seconds"], "commit_s": s["statement_commit_seconds"], "train_s": s["train_seconds"]}
        res["proof_bytes"] = s["proof_bytes"]
    else:
        r = api.prove_run(out_dir=out, chunk_steps=cfg["chunk_steps"], workers=cfg["workers"], **common)
        s = r.summary
        res = {
            "prove_s": s["prove_seconds"],  # wall time of training + committing + proving every chunk
            "commit_s": s["statement_commit_seconds"],
            "train_s": s["train_seconds"],
            "chunks": s["chunks"],
            "proof_bytes": s["proof_bytes"],
            "manifest_bytes": s["manifest_bytes"],
            "chunk_prove_s": [v["seconds"] for v in s["chunk_prove"].values()],
            "worker_peak_rss_gb": max(v["peak_rss_bytes"] for v in s["chunk_prove"].values()) / 1e9,
        }
        if cfg.get("verify"):
            res["verify_s"] = s["verify_seconds"]
    res["prove_s_per_step"] = round(res["prove_s"] / cfg["steps"], 3)
    res["steps_per_s"] = round(cfg["steps"] / res["prove_s"], 4)
    res["wall_s"] = round(time.perf_counter() - t0, 2)
    res["peak_rss_gb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 / 1e9, 3)
    return res


def run_child(cfg: dict) -> dict:
    before = _load()
    p = subprocess.run(
        [sys.executable, __file__, "--child", json.dumps(cfg)], capture_output=True, text=True, cwd=ROOT, check=False
    )
    if p.returncode != 0:
        return {**cfg, "error": p.stderr.strip().splitlines()[-1:] or [f"exit {p.returncode}"]}
    return {**cfg, **json.loads(p.stdout.strip().splitlines()[-1]), "load_before": before, "load_after": _load()}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--child")
    ap.add_argument("--steps", default="16,64,256", help="T of the chunked W-digits runs (comma-separated)")
    ap.add_argument("--chunk-steps", type=int, default=16)
    ap.add_argument("--ray-steps", type=int, default=32, help="T of the Ray throughput comparison (0: skip)")
    ap.add_argument("--out", default=str(ROOT / "bench/results/runs.json"))
    args = ap.parse_args()
    if args.child:
        print(json.dumps(child(json.loads(args.child))))
        return
    t0 = time.perf_counter()
    results = []

    def record(cfg):
        r = run_child(cfg)
        results.append(r)
        print(json.dumps(r), flush=True)
        return r

    base = record({"name": "W-digits unchunked", "kind": "unchunked", "steps": 16})
    for T in [int(x) for x in args.steps.split(",") if x]:
        r = record(
            {
                "name": f"W-digits T={T} chunked",
                "kind": "chunked",
                "steps": T,
                "chunk_steps": args.chunk_steps,
                "workers": 1,
            }  # fmt: skip
        )
        if "error" not in r and "error" not in base:
            r["rss_over_unchunked_T16"] = round(r["peak_rss_gb"] / base["peak_rss_gb"], 3)
            r["s_per_step_over_unchunked_T16"] = round(r["prove_s_per_step"] / base["prove_s_per_step"], 3)
    chunked = [r for r in results if r.get("kind") == "chunked" and "error" not in r]
    if chunked:
        first = chunked[0]
        for r in chunked:
            r["rss_over_first_chunked"] = round(r["peak_rss_gb"] / first["peak_rss_gb"], 3)
    ray = {}
    if args.ray_steps:
        one = record(
            {
                "name": "1 worker, both cores (no Ray)",
                "kind": "chunked",
                "steps": args.ray_steps,
                "chunk_steps": args.chunk_steps,
                "workers": 1,
            }  # fmt: skip
        )
        two = record(
            {
                "name": "2 Ray workers, one core each",
                "kind": "chunked",
                "steps": args.ray_steps,
                "chunk_steps": args.chunk_steps,
                "workers": 2,
            }  # fmt: skip
        )
        if "error" not in one and "error" not in two:
            ray = {"two_ray_workers_over_one_worker_throughput": round(two["steps_per_s"] / one["steps_per_s"], 3)}
    doc = {
        "bench": "runs",
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform(), "python": platform.python_version()},
        "args": vars(args),
        "workload": {"widths": WIDTHS, "batch": BATCH},
        "targets": {
            "peak RSS vs T=16 chunked": "within 15 %",
            "prove s/step vs unchunked T=16": "within 15 %",
            "2 Ray workers / 1 worker throughput": ">= 0.9",
            "W-digits T=256 peak RSS GB": 3.0,
        },
        "results": results,
        "ray": ray,
        "total_wall_s": round(time.perf_counter() - t0, 1),
    }
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(doc, indent=1) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
