"""Cost of authenticated generators: load and verify (hash every chunk against its pinned hash) the generator set
of the largest bench workload, against the verify time of a real proof measured in the same run.

The workloads are those of ``bench/training.py`` (W-digits T=16, W-paper at width 256 and 1024, both range
back-ends); for each the number of generators the statement needs (``zkdl.api._generators_needed``) is computed
from its public shapes. The largest set is derived once into a temporary cache; then a fresh
``load(path).gens(n)`` (header, chunk table, every chunk read, hashed and compared) is timed ``--repeat`` times.
The baseline is ``training.verify`` of a small real run (W-tiny of ``bench/training.py --quick``: the fastest
verify, so the ratio is an upper bound for every bench workload), measured in the same process.

    python bench/generators_load.py            # writes bench/results/generators_load.json
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--out", default=str(ROOT / "bench" / "results" / "generators_load.json"))
    args = ap.parse_args()

    from bench.training import _statement0
    from zkdl.api import _generators_needed
    from zkdl.commit import generators as G
    from zkdl.protocol import training
    from zkdl.quant import BatchSchedule, FixedPointParams, init_model, quantize_model, train_quantized
    from zkdl.quant.data import load_dataset, quantize_inputs, quantize_targets

    fp = FixedPointParams()
    workloads = [
        ("W-digits T=16", dict(widths=[64, 256, 256, 10], batch=64, steps=16), 1437),
        ("W-paper width 256", dict(widths=[3072] + [256] * 7 + [10], batch=64, steps=1), 128),
        ("W-paper width 1024", dict(widths=[3072] + [1024] * 7 + [10], batch=64, steps=1), 128),
    ]
    needed = {}
    for name, cfg, n_rows in workloads:
        for rb in ("lookup", "bits"):
            st = _statement0(cfg, fp, n_rows, [True] * (len(cfg["widths"]) - 1), rb)
            needed[f"{name} / {rb}"] = _generators_needed(st)
    n_max = max(needed.values())

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "gens.bin"
        t0 = time.perf_counter()
        G.setup(n_max, path)
        t_derive = time.perf_counter() - t0
        loads, loads_one = [], []
        for _ in range(args.repeat):
            t0 = time.perf_counter()
            G.load(path).gens(n_max)
            loads.append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            G.load(path).gens(G.CHUNK - G.N_EXTRA)  # the one chunk W-tiny needs
            loads_one.append(time.perf_counter() - t0)

        # baseline: verify of a small real run, same process (ZK, lookup)
        from zkdl.api import public_params

        ds = load_dataset("digits", seed=0)
        X, Y = quantize_inputs(ds.X_train, fp), quantize_targets(ds.Y_train, fp)
        q0 = quantize_model(init_model([64, 16, 10], seed=1), fp)
        run = train_quantized(q0, X, Y, fp, BatchSchedule(X.shape[0], 8, None), 2)
        cfg = dict(widths=[64, 16, 10], batch=8, steps=2)
        st0 = _statement0(cfg, fp, X.shape[0], [True, True], "lookup")
        pp = public_params(_generators_needed(st0), path)
        from zkdl.protocol.statement import Statement

        st0 = Statement(**{**st0.__dict__, "generators_digest": pp.digest.hex()})
        w = training.Witness(training.Public.of(st0), run, X, Y)
        coms, opens = training.commit_statement_tensors(pp, w)
        st = Statement(**{**st0.__dict__, "commitments": coms})
        proof, _ = training.prove(pp, st, run, X, Y, opens)
        verifies = []
        for _ in range(args.repeat):
            t0 = time.perf_counter()
            training.verify(pp, st, proof)
            verifies.append(time.perf_counter() - t0)

    load_s, verify_s = statistics.median(loads), statistics.median(verifies)
    load_one_s = statistics.median(loads_one)
    recorded = {}
    for name in ("training_digits_zk", "training_paper256_zk"):
        f = ROOT / "bench" / "results" / f"{name}.json"
        if f.exists():
            for r in json.loads(f.read_text()).get("results", []):
                if r.get("verify_s"):
                    key = f"{r['workload']} / {r['range_backend']} (recorded in {f.name})"
                    recorded[key] = r["verify_s"]
    out = {
        "bench": "generators_load",
        "machine": platform.processor() or platform.machine(),
        "generators_needed": needed,
        "largest_set": n_max,
        "chunks": -(-(n_max + G.N_EXTRA) // G.CHUNK),
        "derive_s": round(t_derive, 3),
        "load_and_verify_s": [round(x, 4) for x in loads],
        "load_and_verify_median_s": round(load_s, 4),
        "baseline": "training.verify of W-tiny (widths 64,16,10, batch 8, T=2, ZK, lookup), same run",
        "verify_s": [round(x, 4) for x in verifies],
        "verify_median_s": round(verify_s, 4),
        "largest_set_load_over_tiny_verify": round(load_s / verify_s, 4),
        "one_chunk_load_and_verify_median_s": round(load_one_s, 4),
        "tiny_set_load_over_tiny_verify": round(load_one_s / verify_s, 4),
        "recorded_verify_s": recorded,
        "largest_set_load_over_recorded_verify": {k: round(load_s / v, 4) for k, v in recorded.items()},
        "target": "< 0.05",
    }
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(out, indent=2) + "\n")
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
