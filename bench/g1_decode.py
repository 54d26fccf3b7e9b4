"""G1 decoding of a proof's points: eager checked decompression against the verifier's deferred subgroup checks.

Encodes ``--points`` random points of the prime-order subgroup (W-digits T = 16 carries about 7.4k), then reads
them through :class:`zkdl.serialize.Reader` three ways, alternating, ``--reps`` times:

* ``eager``: ``read_g1`` with the checked decompression (square root and subgroup test, GIL held), as before;
* ``deferred``: ``read_g1`` with a :class:`~zkdl.serialize.SubgroupChecks` (square root here, subgroup tests in
  helper processes), timed until ``finish()`` returned: what the verifier's thread waits for in total;
* ``deferred, reading only``: the same without the final wait (the verifier's own thread cost while helpers
  work alongside; the wait is short when verification has other work meanwhile).

Each also records the CPU time of the calling thread (``time.thread_time``): on a machine whose cores are busy
with other work, wall times measure the scheduler as much as the decoder, while the thread's CPU time is what
the verifier's thread itself spends (the helpers' CPU runs on other cores when there are free ones).

Writes ``bench/results/g1_decode.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--points", type=int, default=7400)
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--out", default=str(ROOT / "bench" / "results" / "g1_decode.json"))
    args = ap.parse_args(argv)

    import numpy as np
    from py_arkworks_bls12381 import G1Point, Scalar

    from zkdl.serialize import Reader, SubgroupChecks
    from zkdl.serialize.subgroup import default_helpers

    rng = np.random.default_rng(0)
    g = G1Point()
    pts = [g * Scalar(int(x)) for x in rng.integers(1, 1 << 62, args.points)]
    blob = b"".join(bytes(p.to_compressed_bytes()) for p in pts)

    def eager() -> tuple[float, float]:
        t, c = time.perf_counter(), time.thread_time()
        r = Reader(blob)
        for _ in range(args.points):
            r.read_g1(allow_identity=False)
        return time.perf_counter() - t, time.thread_time() - c

    def deferred() -> tuple[float, float, float]:
        t, c = time.perf_counter(), time.thread_time()
        with SubgroupChecks() as chk:
            r = Reader(blob, subgroup=chk)
            for _ in range(args.points):
                r.read_g1(allow_identity=False)
            t_read = time.perf_counter() - t
            chk.finish()
        return t_read, time.perf_counter() - t, time.thread_time() - c

    rows = []
    for rep in range(args.reps):
        e, e_cpu = eager()
        d_read, d_total, d_cpu = deferred()
        rows.append(
            {
                "rep": rep,
                "eager_s": e,
                "deferred_read_s": d_read,
                "deferred_total_s": d_total,
                "eager_thread_cpu_s": e_cpu,
                "deferred_thread_cpu_s": d_cpu,
            }
        )
        print(
            f"rep {rep}: eager {e:.3f} s (thread CPU {e_cpu:.3f} s), deferred {d_total:.3f} s (reading {d_read:.3f} s, "
            f"thread CPU {d_cpu:.3f} s)",
            flush=True,
        )
    keys = ("eager_s", "deferred_read_s", "deferred_total_s", "eager_thread_cpu_s", "deferred_thread_cpu_s")
    med = {k: statistics.median(r[k] for r in rows) for k in keys}
    doc = {
        "bench": "g1_decode",
        "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "machine": {"cpus": os.cpu_count(), "load": list(os.getloadavg())},
        "points": args.points,
        "helpers": default_helpers(),
        "runs": rows,
        "median_s": {k: round(v, 4) for k, v in med.items()},
        "us_per_point": {k: round(1e6 * v / args.points, 1) for k, v in med.items()},
        "eager_over_deferred_total": round(med["eager_s"] / med["deferred_total_s"], 2),
        "eager_over_deferred_read": round(med["eager_s"] / med["deferred_read_s"], 2),
        "thread_cpu_eager_over_deferred": round(med["eager_thread_cpu_s"] / med["deferred_thread_cpu_s"], 2),
    }
    Path(args.out).write_text(json.dumps(doc, indent=2) + "\n")
    print(json.dumps(doc["us_per_point"]), "eager/deferred total", doc["eager_over_deferred_total"])
    return 0


if __name__ == "__main__":
    sys.exit(main())
