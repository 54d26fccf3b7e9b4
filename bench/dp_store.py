"""dpstream durable store: update rate with one SQLite commit per update, streaming rate with checkpoints, and the
kill -9 campaign.

    python bench/dp_store.py                 # 2^20 streamed items, 1000 kills (several minutes on 2 cores)
    python bench/dp_store.py --quick         # smaller sizes, 100 kills

Baseline in the same run: the in-memory binary tree's ``update_many`` over the whole stream (no generator, no
commits).  Measured (binary tree, rho = 0.5, T = 2^20, HMAC key on):

* ``durable_update``: ``store.update(x)`` per item, one transaction (state + answer) per call, for
  ``synchronous=FULL`` (fsync per commit) and ``NORMAL`` (WAL without fsync per commit);
* ``stream``: ``counter.stream(generator, checkpoint_every=1000)``, in memory and durable (FULL and NORMAL),
  items pulled from a Python generator and every answer yielded to a Python loop;
* ``kill_campaign``: tests/dpstream/kill_campaign.py with ``--kills`` SIGKILLs (fsync FULL).

Results go to bench/results/dp_store.json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests" / "dpstream"))

from dpstream import counters  # noqa: E402
from dpstream.counters import zCDP  # noqa: E402

KEY = b"bench-key-0123456789abcdef012345"


def _source(n: int):
    for t in range(n):
        yield t & 1


def _consume(gen) -> int:
    k = 0
    for _ in gen:
        k += 1
    return k


def bench_update_many(T: int) -> float:
    c = counters.make("binary-tree", horizon=T, privacy=zCDP(0.5))
    xs = (np.arange(T) & 1).astype(float)
    t0 = time.perf_counter()
    c.update_many(xs)
    return T / (time.perf_counter() - t0)


def bench_stream_memory(T: int, every: int) -> float:
    c = counters.make("binary-tree", horizon=T, privacy=zCDP(0.5))
    t0 = time.perf_counter()
    assert _consume(c.stream(_source(T), checkpoint_every=every)) == T
    return T / (time.perf_counter() - t0)


def bench_stream_durable(T: int, every: int, sync: str, work: str, tag: str = "") -> dict:
    path = os.path.join(work, f"stream-{sync}{tag}.db")
    s = counters.open(path, "binary-tree", horizon=T, privacy=zCDP(0.5), key=KEY, synchronous=sync)
    t0 = time.perf_counter()
    n = _consume(s.stream(_source(T), checkpoint_every=every))
    dt = time.perf_counter() - t0
    assert n == T and s.releases == T
    s.close()
    return {
        "items": T,
        "seconds": dt,
        "items_per_s": T / dt,
        "commits": T // every,
        "db_bytes": os.path.getsize(path) + (os.path.getsize(path + "-wal") if os.path.exists(path + "-wal") else 0),
    }


def bench_durable_update(n: int, sync: str, work: str) -> dict:
    path = os.path.join(work, f"update-{sync}.db")
    s = counters.open(path, "binary-tree", horizon=2**20, privacy=zCDP(0.5), key=KEY, synchronous=sync)
    s.update(1)  # first block of noise generated outside the timing
    t0 = time.perf_counter()
    for t in range(n):
        s.update(t & 1)
    dt = time.perf_counter() - t0
    s.close()
    return {"updates": n, "seconds": dt, "updates_per_s": n / dt}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--kills", type=int, default=None, help="SIGKILLs in the campaign (default 1000, quick 100)")
    ap.add_argument("--out", default=str(ROOT / "bench" / "results" / "dp_store.json"))
    args = ap.parse_args()
    T = 2**17 if args.quick else 2**20
    kills = args.kills if args.kills is not None else (100 if args.quick else 1000)
    every = 1000
    res: dict = {
        "machine": {"python": sys.version.split()[0], "platform": platform.platform(), "cpus": os.cpu_count()},
        "T": T,
        "checkpoint_every": every,
        "quick": args.quick,
    }
    with tempfile.TemporaryDirectory() as work:
        bench_update_many(2**12)  # warm the kernels (and the store's code paths)
        bench_stream_durable(2**12, every, "normal", work, tag="-warm")
        res["baseline_update_many_items_per_s"] = bench_update_many(T)
        res["stream_memory_items_per_s"] = bench_stream_memory(T, every)
        res["stream_durable_normal"] = bench_stream_durable(T, every, "normal", work)
        res["stream_durable_full"] = bench_stream_durable(T, every, "full", work)
        res["durable_update_normal"] = bench_durable_update(300 if args.quick else 3000, "normal", work)
        res["durable_update_full"] = bench_durable_update(100 if args.quick else 500, "full", work)
        for k in ("stream_memory_items_per_s",):
            res[f"{k}_vs_update_many"] = res[k] / res["baseline_update_many_items_per_s"]
        for sync in ("normal", "full"):
            res[f"stream_durable_{sync}"]["vs_update_many"] = (
                res[f"stream_durable_{sync}"]["items_per_s"] / res["baseline_update_many_items_per_s"]
            )
        print(json.dumps(res, indent=2), flush=True)
        import kill_campaign

        t0 = time.perf_counter()
        counts = kill_campaign.run(kills, horizon=200, workdir=work, synchronous="full", seed=12345)
        counts["seconds"] = time.perf_counter() - t0
        res["kill_campaign"] = counts
    print(json.dumps(res["kill_campaign"], indent=2))
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(res, indent=2) + "\n")
    print(f"written to {args.out}")


if __name__ == "__main__":
    main()
