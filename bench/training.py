"""Training-proof benchmark (issue 3): W-digits and W-paper, both range-check back-ends.

For each (workload, range back-end) a child process (so that peak memory is per configuration) trains the
quantized model, commits the statement tensors, proves, verifies, and reports:

* prove CPU seconds (``time.process_time``, every thread of the child: steadier than wall time when the machine
  is shared);
* prove seconds (total and per step) and the prover's split by phase (``training.prove``'s own timers:
  witness, commit, range, sumchecks, openings, …), verify seconds and verify/prove;
* proof bytes (the serialized container, as written to ``proof.zkdl``; also per section, as ``zkdl inspect``
  shows them) and statement-commitment bytes
  (honest: 48 B per compressed G1 row commitment, 32 B per Fr; ``Commitment.to_bytes`` adds a small layout
  header, reported separately);
* peak resident memory (``resource.getrusage(RUSAGE_SELF).ru_maxrss`` of the child; ``RUSAGE_CHILDREN`` is not
  used because children are run one at a time and report their own);
* baselines measured in the same run: the integer training itself (``train_quantized`` for T steps: prove /
  train is the cost of proving relative to computing), and the MSM floor (:func:`msm_floor`: one arkworks MSM
  over as many random signed 16-bit scalars as the proof commits — every entry of every table the proof
  commits, padding included — on all cores), with prove / floor;
* verify / prove as a ratio and in percent.

Before a configuration is started its peak memory is estimated by the memory planner
(``zkdl.runs.planner.estimate_peak_memory``, from the public shapes only); one that would not fit in ``--mem-gb``
(default: 16 GB or the available memory, whichever is smaller) is skipped with the estimate in the JSON instead of
being run into the OOM killer. Each result reports the estimate and the measured peak (``est_over_measured``).

    python bench/training.py                      # W-digits (T=16) + W-paper (T=1), both back-ends
    python bench/training.py --quick              # tiny shapes, < 1 min
    python bench/training.py --paper-width 256 --paper-steps 1 --only paper
    python bench/training.py --backend gpu        # Fr kernels on the GPU back-end

Writes ``bench/results/training.json`` (``--out``). Timings on a shared machine vary with its load; the load
average before and after each run is recorded.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

G1_BYTES = 48
FR_BYTES = 32


def _loadavg() -> list[float]:
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except OSError:
        return []


def _mem_available_gb() -> float:
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) / 2**20
    except OSError:
        pass
    return float("inf")


# =========================================================================================================
# workloads
# =========================================================================================================
def workloads(args) -> list[dict]:
    if args.quick:
        out = [dict(name="W-tiny", widths=[64, 16, 10], batch=8, steps=2, data="digits")]
        if args.only in (None, "paper"):
            out.append(dict(name="W-paper-tiny", widths=[48, 16, 16, 10], batch=8, steps=1, data="synthetic"))
        return out if args.only != "digits" else out[:1]
    out = []
    if args.only in (None, "digits"):
        out.append(dict(name="W-digits", widths=[64, 256, 256, 10], batch=64, steps=args.digits_steps, data="digits"))
    if args.only in (None, "paper"):
        w = args.paper_width
        name = "W-paper" if (w, args.paper_in) == (1024, 3072) else f"W-paper(width {w}, in {args.paper_in})"
        out.append(
            dict(
                name=name,
                widths=[args.paper_in] + [w] * args.paper_layers + [10],
                batch=64,
                steps=args.paper_steps,
                data="synthetic",
            )
        )
    return out


def _data(cfg: dict, fp):
    from zkdl.quant.data import load_dataset, quantize_inputs, quantize_targets

    if cfg["data"] == "digits":
        ds = load_dataset("digits", seed=0)
        return quantize_inputs(ds.X_train, fp), quantize_targets(ds.Y_train, fp)
    rng = np.random.default_rng(0)
    n = cfg["batch"] * max(cfg["steps"], 2)
    d, k = cfg["widths"][0], cfg["widths"][-1]
    Xf = rng.uniform(0.0, 1.0, (n, d))
    Yf = np.eye(k)[rng.integers(0, k, n)]
    return quantize_inputs(Xf, fp), quantize_targets(Yf, fp)


def digits_instance(steps: int, range_backend: str = "lookup"):
    """The W-digits workload (same model, data and statement as the digits row of this bench), trained for
    ``steps`` steps with its statement committed: ``(cfg, pp, st, run, X, Y, opens)`` for ``training.prove``
    (the profiling and openings benches share it)."""
    from zkdl.api import _generators_needed, public_params
    from zkdl.protocol import training
    from zkdl.protocol.statement import Statement
    from zkdl.quant import BatchSchedule, FixedPointParams, init_model, quantize_model, train_quantized

    cfg = dict(name="W-digits", widths=[64, 256, 256, 10], batch=64, steps=steps, data="digits")
    fp = FixedPointParams()
    X, Y = _data(cfg, fp)
    q0 = quantize_model(init_model(cfg["widths"], seed=1), fp)
    run = train_quantized(q0, X, Y, fp, BatchSchedule(X.shape[0], cfg["batch"], None), cfg["steps"])
    st0 = _statement0(cfg, fp, X.shape[0], [b is not None for b in q0.biases], range_backend)
    pp = public_params(_generators_needed(st0))
    st0 = Statement(**{**st0.__dict__, "generators_digest": pp.digest.hex()})
    witness = training.Witness(training.Public.of(st0), run, X, Y)
    coms, opens = training.commit_statement_tensors(pp, witness)
    st = Statement(**{**st0.__dict__, "commitments": coms})
    return cfg, pp, st, run, X, Y, opens


def _statement0(cfg, fp, n_rows, has_bias, range_backend):
    from zkdl.protocol.statement import Statement

    return Statement(
        widths=tuple(cfg["widths"]),
        has_bias=tuple(has_bias),
        params=fp,
        batch_size=cfg["batch"],
        steps=cfg["steps"],
        n_rows=n_rows,
        schedule_seed=None,
        range_backend=range_backend,
        generators_digest="",
    )


def estimate(cfg: dict, range_backend: str) -> dict:
    """Range layout and the memory planner's peak estimate without training (public shapes only)."""
    from zkdl.protocol.witness import range_layout
    from zkdl.quant import FixedPointParams
    from zkdl.runs.planner import estimate_peak_memory

    fp = FixedPointParams()
    n_rows = cfg["batch"] * max(cfg["steps"], 2) if cfg["data"] != "digits" else 1437
    st = _statement0(cfg, fp, n_rows, [True] * (len(cfg["widths"]) - 1), range_backend)
    lays = range_layout(st)[1]
    est = estimate_peak_memory(st)
    return {
        "range_tensors_log2": [lay.n for _, lay in lays.items()],
        "range_entries_used": lays.used,
        "range_entries_padded": lays.size,
        "est_peak_gb": round(est.total / 2**30, 2),
        "est_parts_gb": {k: round(v / 2**30, 3) for k, v in est.parts.items()},
    }


# =========================================================================================================
# one configuration (child process)
# =========================================================================================================
FLOOR_CHUNK = 1 << 20  # points per MSM call of the floor (memory-bounded; Pippenger is near-linear at this size)


def msm_floor(params, n_scalars: int, *, seed: int = 1) -> dict:
    """The MSM floor: one arkworks MSM over ``n_scalars`` uniformly random signed 16-bit scalars (a negative one
    as its magnitude on the negated generator, as the prover's commit does), over the generators ``g_0…g_4095``
    repeated. Run as ``ceil(n / 2^20)`` MSM calls of at most 2^20 points on ``os.cpu_count()`` threads (arkworks
    releases the GIL), so it uses the machine as the prover does. Only the MSM calls are timed."""
    from concurrent.futures import ThreadPoolExecutor

    from py_arkworks_bls12381 import G1Point

    from zkdl.commit.pedersen import _small_scalars

    k = min(FLOOR_CHUNK, n_scalars)
    gens = params.gens(min(4096, params.capacity))
    rng = np.random.default_rng(seed)
    vals = rng.integers(-(1 << 15), 1 << 15, k)
    neg = [-p for p in gens]
    pts = [(neg if v < 0 else gens)[i % len(gens)] for i, v in enumerate(vals.tolist())]
    scal = _small_scalars()[np.abs(vals)].tolist()
    sizes = [min(k, n_scalars - i) for i in range(0, n_scalars, k)]
    with ThreadPoolExecutor(max_workers=os.cpu_count() or 1) as pool:
        t = time.perf_counter()
        acc = G1Point.identity()
        for part in pool.map(lambda n: G1Point.multiexp_unchecked(pts[:n], scal[:n]), sizes):
            acc = acc + part
        dt = time.perf_counter() - t
    return {"msm_floor_scalars": n_scalars, "msm_floor_calls": len(sizes), "msm_floor_s": round(dt, 3)}


def _warm_up(range_backend: str, zk) -> None:
    """A tiny proof first, so that numba's compilation (or loading its on-disk cache) is not timed."""
    cfg = dict(name="warm-up", widths=[4, 3, 2], batch=2, steps=1, data="synthetic")
    run_one(cfg, range_backend, None, zk, warm=False)


def run_one(cfg: dict, range_backend: str, backend: str | None, zk: bool, *, warm: bool = True) -> dict:
    from zkdl.api import _generators_needed, public_params
    from zkdl.commit.pedersen import Commitment
    from zkdl.field import set_default_backend
    from zkdl.protocol import training
    from zkdl.protocol.statement import Statement
    from zkdl.quant import BatchSchedule, FixedPointParams, init_model, quantize_model, train_quantized

    if backend is not None:
        set_default_backend(backend)
    fp = FixedPointParams()
    if warm:
        _warm_up(range_backend, zk)

    X, Y = _data(cfg, fp)
    q0 = quantize_model(init_model(cfg["widths"], seed=1), fp)
    sched = BatchSchedule(X.shape[0], cfg["batch"], None)
    t0 = time.perf_counter()
    run = train_quantized(q0, X, Y, fp, sched, cfg["steps"])
    t_train = time.perf_counter() - t0

    st0 = _statement0(cfg, fp, X.shape[0], [b is not None for b in q0.biases], range_backend)
    pp = public_params(_generators_needed(st0))
    st0 = Statement(**{**st0.__dict__, "generators_digest": pp.digest.hex()})
    t0 = time.perf_counter()
    witness = training.Witness(training.Public.of(st0), run, X, Y)
    coms, opens = training.commit_statement_tensors(pp, witness)
    t_stcommit = time.perf_counter() - t0
    st = Statement(**{**st0.__dict__, "commitments": coms})
    layout = witness.pub.layout
    del witness

    t0 = time.perf_counter()
    c0 = time.process_time()  # CPU seconds of every thread of this process: steadier than wall time under load
    kwargs = {} if zk is None else {"zk": zk}
    try:
        proof, phases = training.prove(pp, st, run, X, Y, opens, **kwargs)
    except TypeError:  # a protocol version without the zk switch
        kwargs = {}
        proof, phases = training.prove(pp, st, run, X, Y, opens)
    t_prove = time.perf_counter() - t0
    cpu_prove = time.process_time() - c0
    t0 = time.perf_counter()
    training.verify(pp, st, proof)
    t_verify = time.perf_counter() - t0

    from zkdl.gadgets.range_check import make_range_backend
    from zkdl.serialize import section_sizes

    proof_committed = sum(1 << k for k in make_range_backend(range_backend).committed_log_sizes(layout).values())
    com_rows = sum(c.layout.rows for c in coms.values())
    com_serialized = sum(len(Commitment.to_bytes(c)) for c in coms.values())
    T = cfg["steps"]
    out = {
        "workload": cfg["name"],
        "widths": cfg["widths"],
        "batch": cfg["batch"],
        "steps": T,
        "range_backend": range_backend,
        "backend": backend,
        "zero_knowledge": kwargs.get("zk", "default"),
        "range_tensors": len(layout) if hasattr(layout, "tensors") else 1,
        "range_entries_used": layout.used,
        "train_s": round(t_train, 3),
        "statement_commit_s": round(t_stcommit, 3),
        "prove_s": round(t_prove, 3),
        "prove_s_per_step": round(t_prove / T, 3),
        "prove_phases_s": {k: round(v, 3) for k, v in phases.items()},
        "prove_cpu_s": round(cpu_prove, 3),
        "verify_s": round(t_verify, 3),
        "verify_over_prove": round(t_verify / t_prove, 5),
        "verify_over_prove_pct": round(100 * t_verify / t_prove, 3),
        "prove_over_train": round(t_prove / max(t_train, 1e-9), 1),
        "proof_bytes": len(proof),
        "proof_section_bytes": section_sizes(proof),
        "statement_commitment_bytes": com_rows * G1_BYTES,
        "statement_commitment_serialized_bytes": com_serialized,
        "statement_commitment_rows": com_rows,
        "peak_rss_gb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20, 2),
    }
    if warm:
        floor = msm_floor(pp, proof_committed)
        out.update(floor)
        out["prove_over_floor"] = round(t_prove / floor["msm_floor_s"], 2)
    out["proof_committed_entries"] = proof_committed
    return out


# =========================================================================================================
# driver
# =========================================================================================================
def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="tiny shapes (< 1 min)")
    ap.add_argument("--backend", choices=["cpu", "gpu"], default="cpu", help="Fr kernel back-end")
    ap.add_argument("--ranges", default="lookup,bits", help="range-check back-ends, comma-separated")
    ap.add_argument("--only", choices=["digits", "paper"], default=None)
    ap.add_argument("--digits-steps", type=int, default=16)
    ap.add_argument("--paper-steps", type=int, default=1)
    ap.add_argument("--paper-width", type=int, default=1024, help="hidden width of W-paper (scale down to fit)")
    ap.add_argument("--paper-in", type=int, default=3072, help="input width of W-paper")
    ap.add_argument("--paper-layers", type=int, default=7, help="hidden layers of W-paper")
    ap.add_argument("--mem-gb", type=float, default=None, help="skip configurations estimated above this")
    ap.add_argument("--no-zk", action="store_true", help="transparent proofs (no zero-knowledge layer)")
    ap.add_argument("--out", default=str(ROOT / "bench" / "results" / "training.json"))
    ap.add_argument("--child", default=None, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)

    if args.child is not None:
        job = json.loads(args.child)
        res = run_one(job["cfg"], job["range"], job["backend"], job["zk"])
        print("RESULT " + json.dumps(res), flush=True)
        return 0

    mem_limit = args.mem_gb if args.mem_gb is not None else min(16.0, _mem_available_gb())
    results = []
    t_all = time.perf_counter()
    for cfg in workloads(args):
        for rb in [r.strip() for r in args.ranges.split(",") if r.strip()]:
            est = estimate(cfg, rb)
            row = {
                "workload": cfg["name"],
                "widths": cfg["widths"],
                "batch": cfg["batch"],
                "steps": cfg["steps"],
                "range_backend": rb,
                "backend": args.backend,
                **est,
                "load_before": _loadavg(),
            }
            if est["est_peak_gb"] > mem_limit:
                row["skipped"] = (
                    f"estimated peak {est['est_peak_gb']} GB > limit {mem_limit:.1f} GB "
                    f"(range tensors 2^{est['range_tensors_log2']}); lower --digits-steps / --paper-width / "
                    "--paper-steps"
                )
                print(f"[skip] {cfg['name']} {rb}: {row['skipped']}", flush=True)
                results.append(row)
                continue
            print(
                f"[run ] {cfg['name']} {rb} (range tensors 2^{est['range_tensors_log2']}, "
                f"est. peak {est['est_peak_gb']} GB)",
                flush=True,
            )
            job = {"cfg": cfg, "range": rb, "backend": args.backend, "zk": None if not args.no_zk else False}
            t0 = time.perf_counter()
            proc = subprocess.run(
                [sys.executable, __file__, "--child", json.dumps(job)], capture_output=True, text=True
            )
            line = next((x for x in proc.stdout.splitlines() if x.startswith("RESULT ")), None)
            if proc.returncode != 0 or line is None:
                row["error"] = (proc.stderr.strip().splitlines() or [f"exit code {proc.returncode}"])[-1]
                row["exit_code"] = proc.returncode
                print(f"[fail] {cfg['name']} {rb}: {row['error']}", flush=True)
            else:
                row.update(json.loads(line[len("RESULT ") :]))
                row["wall_s"] = round(time.perf_counter() - t0, 1)
                row["est_over_measured"] = round(row["est_peak_gb"] / row["peak_rss_gb"], 3)
                print(
                    f"       prove {row['prove_s']} s ({row['prove_s_per_step']} s/step) "
                    f"phases {row['prove_phases_s']}  verify {row['verify_s']} s "
                    f"(verify/prove {row['verify_over_prove_pct']:.2f} %)  proof {row['proof_bytes']} B  "
                    f"peak {row['peak_rss_gb']} GB  train {row['train_s']} s  MSM floor {row.get('msm_floor_s')} s "
                    f"(prove/floor {row.get('prove_over_floor')})",
                    flush=True,
                )
            row["load_after"] = _loadavg()
            results.append(row)

    doc = {
        "bench": "training",
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform(), "python": platform.python_version()},
        "args": {k: v for k, v in vars(args).items() if k != "child"},
        "mem_limit_gb": round(mem_limit, 1),
        "targets": {
            "W-digits prove s/step": 1.0,
            "W-digits verify/prove": 0.015,
            "W-digits proof bytes": 400_000,
            "prove/floor": 2.0,
            "W-paper prove s/step": 30.0,
            "W-paper peak GB": 16.0,
        },
        "total_wall_s": round(time.perf_counter() - t_all, 1),
        "results": results,
    }
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(doc, indent=2) + "\n")
    print(f"wrote {args.out}")
    print(
        f"{'workload':28s} {'range':7s} {'prove s/step':>12s} {'verify s':>9s} {'v/p %':>7s} {'proof KB':>9s} "
        f"{'peak GB':>8s} {'floor s':>8s} {'p/floor':>8s}"
    )
    for r in results:
        if "prove_s" in r:
            print(
                f"{r['workload']:28s} {r['range_backend']:7s} {r['prove_s_per_step']:12.3f} {r['verify_s']:9.3f} "
                f"{r['verify_over_prove_pct']:7.2f} {r['proof_bytes'] / 1024:9.1f} {r['peak_rss_gb']:8.2f} "
                f"{r.get('msm_floor_s', float('nan')):8.2f} {r.get('prove_over_floor', float('nan')):8.2f}"
            )
        else:
            print(f"{r['workload']:28s} {r['range_backend']:7s} {r.get('skipped') or r.get('error')}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
