"""Profile of prove and verify (cProfile), summarized by phase, for the W-digits training proof.

Trains W-digits (64-256-256-10, B = 64, T steps, lookup range checks, zero-knowledge), commits the statement,
then proves and verifies once each under :mod:`cProfile` and writes ``bench/results/profile_digits_T{T}.json``:

* ``prove.phases_s``: the prover's own timers (witness, commit, range, sumchecks, openings);
* ``*.by_step_s``: cumulative time of the protocol's steps (range checks, layer relations, openings, the final
  checks, reading points, …);
* ``*.by_kind_s``: own time ("tottime") grouped by the kind of work: G1 decoding, MSMs, numba field kernels,
  transcript hashing, point additions, waiting for the MSM thread pool, Python;
* ``*.top``: the 25 functions with the largest own time.

cProfile sees the calling thread only: time the MSM pool's threads spend shows as "waiting for pool threads".
With ``--keep DIR`` the proof, statement and timings are kept for ``bench/verify_compare.py --proof-dir DIR``.

    python bench/profile_prove_verify.py --steps 16 --keep /tmp/digits16
"""

from __future__ import annotations

import argparse
import cProfile
import json
import os
import pstats
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

KINDS = [  # (kind, predicate on (file, function name)); first match wins. Builtins are ("~", "<built-in …>")
    ("G1 decoding", lambda f, n: any(k in n for k in ("from_compressed_bytes", "is_in_subgroup", "from_xy_bytes"))),
    ("MSM (arkworks)", lambda f, n: "multiexp_unchecked" in n),
    ("waiting for pool threads", lambda f, n: "acquire" in n or ("threading" in f and n == "wait")),
    ("field kernels (numba)", lambda f, n: "cpu_kernels" in f or "field/gpu" in f),
    ("transcript hashing", lambda f, n: "transcript" in f or "blake2" in n or "sha256" in n),
    ("scalar conversion", lambda f, n: any(k in n for k in ("from_le_bytes", "to_compressed_bytes", "to_xy_bytes"))),
    ("G1 point arithmetic", lambda f, n: "G1Point" in n or n in ("<built-in method builtins.sum>",)),
]

STEPS = {
    "prove": {
        "commit range tensor": "pedersen.py:_finish",
        "range checks": "range_check.py:prove",
        "ZK sumchecks": "zk_sumcheck.py:prove_zk",
        "batched proofs of product": "sigma.py:_prove_product_batch",
        "batched proofs of dot product (masks)": "sigma.py:_prove_dot_batch",
        "openings (Hyrax)": "evaluation.py:prove_eval_zk",
        "zero-check Schnorr": "sigma.py:prove",
    },
    "verify": {
        "reading G1 points": "container.py:read_g1",
        "range checks": "range_check.py:verify",
        "ZK sumchecks": "zk_sumcheck.py:verify_zk",
        "batched proofs of product (deferred)": "sigma.py:_verify_product_batch",
        "batched proofs of dot product (deferred)": "sigma.py:_verify_dot_batch",
        "openings (deferred)": "evaluation.py:verify_eval_zk",
        "public-table evaluations": "public_table.py:mle",
        "final checks (zero proof + batched MSM)": "zk_channel.py:finish",
        "batched MSM": "batch.py:verify",
        "subgroup checks (wait at the end)": "subgroup.py:finish",
    },
}


def _label(func) -> tuple[str, str]:
    file, _line, name = func
    return file, name


def summarize(prof: cProfile.Profile, steps: dict[str, str]) -> dict:
    st = pstats.Stats(prof)
    stats = st.stats  # type: ignore[attr-defined]
    total = sum(v[2] for v in stats.values())
    kinds: dict[str, float] = {}
    top = []
    for func, (_cc, _nc, tt, ct, _callers) in stats.items():
        file, name = _label(func)
        kind = next((k for k, pred in KINDS if pred(file, name)), "Python (protocol logic, ints, numpy)")
        kinds[kind] = kinds.get(kind, 0.0) + tt
        top.append((tt, ct, f"{Path(file).name}:{func[1]}({name})"))
    by_step = {}
    for step, key in steps.items():
        fname, func = key.split(":")
        ct = max((v[3] for f, v in stats.items() if Path(f[0]).name == fname and f[2] == func), default=0.0)
        by_step[step] = round(ct, 3)
    top.sort(reverse=True)
    return {
        "profiled_s": round(total, 3),
        "by_step_s": by_step,
        "by_kind_s": {k: round(v, 3) for k, v in sorted(kinds.items(), key=lambda kv: -kv[1])},
        "top": [{"tottime_s": round(a, 3), "cumtime_s": round(b, 3), "function": c} for a, b, c in top[:25]],
    }


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--steps", type=int, default=16)
    ap.add_argument("--keep", default=None, help="directory for the proof, statement and timings")
    ap.add_argument("--out", default=None)
    args = ap.parse_args(argv)

    sys.path.insert(0, str(ROOT / "bench"))
    import training as tb  # bench/training.py

    from zkdl.protocol import training

    tb._warm_up("lookup", None)
    cfg, pp, st, run, X, Y, opens = tb.digits_instance(args.steps)

    prof = cProfile.Profile()
    t0 = time.perf_counter()
    prof.enable()
    proof, phases = training.prove(pp, st, run, X, Y, opens)
    prof.disable()
    t_prove = time.perf_counter() - t0
    prove_sum = summarize(prof, STEPS["prove"])
    prof = cProfile.Profile()
    t0 = time.perf_counter()
    prof.enable()
    training.verify(pp, st, proof)
    prof.disable()
    t_verify = time.perf_counter() - t0
    verify_sum = summarize(prof, STEPS["verify"])
    doc = {
        "bench": "profile",
        "workload": cfg,
        "machine": {"cpus": os.cpu_count(), "load": list(os.getloadavg())},
        "note": "cProfile overhead included; timings on a shared machine vary with its load",
        "proof_bytes": len(proof),
        "prove": {"wall_s": round(t_prove, 3), "phases_s": {k: round(v, 3) for k, v in phases.items()}, **prove_sum},
        "verify": {"wall_s": round(t_verify, 3), **verify_sum},
    }
    out = Path(args.out or ROOT / "bench" / "results" / f"profile_digits_T{args.steps}.json")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(doc, indent=2) + "\n")
    print(json.dumps({k: doc[k] for k in ("proof_bytes",)} | {"prove_s": t_prove, "verify_s": t_verify}))
    print("prove by step", prove_sum["by_step_s"], "\nprove by kind", prove_sum["by_kind_s"])
    print("verify by step", verify_sum["by_step_s"], "\nverify by kind", verify_sum["by_kind_s"])
    if args.keep:
        keep = Path(args.keep)
        keep.mkdir(parents=True, exist_ok=True)
        (keep / "proof.zkdl").write_bytes(proof)
        (keep / "statement.json").write_text(st.to_json())
        prof.dump_stats(str(keep / "verify.prof"))
        (keep / "timings.json").write_text(json.dumps({"prove_s": t_prove, "phases_s": phases, "steps": args.steps}))
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
