"""Prover strategies of the log-size ZK opening's inner-product argument (issue 15).

The rounds of :func:`zkdl.commit.evaluation.inner_product_rounds` fold the generators (``g' = x_j·g_lo + g_hi``,
one 128-bit scalar multiplication per output point, ``n − 2`` in all) and compute ``L_j``/``R_j`` as two MSMs over
the folded generators (``2n`` points in all). The alternative measured here never folds a point: ``L_j``/``R_j``
are MSMs over the ORIGINAL generators with expanded scalars (``z_p·σ(t)``, ``σ`` = the fold coefficients of the
rounds so far), ``n`` points per round, ``n·b`` in all. Both give the same points (checked). Also timed: the
whole ZK opening (:func:`prove_eval_zk`, folded row given) and its verifier (standalone batch).

    python bench/ipa_prover.py [--logs 10,12,14] [--out bench/results/ipa_prover.json]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from zkdl.commit import evaluation as E  # noqa: E402
from zkdl.commit import (
    generators,  # noqa: E402
    ipa,  # noqa: E402
)
from zkdl.commit.pedersen import commit_int, msms, scalars_from_ints, scalars_from_le_bytes  # noqa: E402
from zkdl.field import Fr  # noqa: E402
from zkdl.transcript import Transcript  # noqa: E402


def expanded_rounds(params, transcript, z: Fr, a_vec: Fr, xi: int):
    """The same argument, with L_j/R_j as MSMs over the original generators (no generator is ever folded)."""
    n = len(z)
    gens = np.empty(n, dtype=object)
    gens[:] = params.gens(n)
    left, right, xs = [], [], []
    a = a_vec
    while len(z) > 1:
        m = len(z)
        half = m // 2
        sigma = ipa.fold_coefficients(xs)  # coefficient of original block t in the folded generators
        blocks = gens.reshape(len(sigma), m)
        z_lo, z_hi, a_lo, a_hi = z[:half], z[half:], a[:half], a[half:]
        lj, rj = msms(
            [
                (
                    blocks[:, half:].ravel().tolist() + [params.g_v],
                    scalars_from_le_bytes(Fr.outer(sigma, z_lo).to_le_bytes())
                    + scalars_from_ints([xi * z_lo.inner(a_hi)]),
                ),
                (
                    blocks[:, :half].ravel().tolist() + [params.g_v],
                    scalars_from_le_bytes(Fr.outer(sigma, z_hi).to_le_bytes())
                    + scalars_from_ints([xi * z_hi.inner(a_lo)]),
                ),
            ]
        )
        left.append(lj)
        right.append(rj)
        x = ipa._fold_challenge(transcript, lj, rj)
        xs.append(x)
        z = z_hi.axpy(x, z_lo)
        a = a_lo.axpy(x, a_hi)
    transcript.absorb_fr("hyrax-eval-zk/z-final", z[0])
    return tuple(left), tuple(right), z[0]


def _t():
    t = Transcript("bench-ipa")
    t.absorb_bytes("context", b"bench")
    return t


def run(log_n: int, params) -> dict:
    n = 1 << log_n
    rng = np.random.default_rng(log_n)
    z = Fr.random(n, rng)
    a_vec = Fr.eq_table([int(v) for v in Fr.random(log_n, rng).to_ints()])
    xi = 12345
    t0 = time.perf_counter()
    fold = ipa.inner_product_rounds(params, _t(), z, a_vec, xi)
    t_fold = time.perf_counter() - t0
    t0 = time.perf_counter()
    expd = expanded_rounds(params, _t(), z, a_vec, xi)
    t_exp = time.perf_counter() - t0
    assert fold == expd, "the two strategies disagree"
    # one whole opening of a 2^log_n-column table with 2^8 rows (row fold given, as the protocol passes it)
    table = rng.integers(-(2**15), 2**15, n << 8)
    com, opening = commit_int(params, table, log_cols=log_n)
    point = [int(v) for v in Fr.random(log_n + 8, rng).to_ints()]
    x_row = E.fold_rows(table, com.layout, point[:8])
    t0 = time.perf_counter()
    _, _, proof = E.prove_eval_zk(params, com, opening, table, point, _t(), folded_rows=x_row)
    t_open = time.perf_counter() - t0
    t0 = time.perf_counter()
    E.verify_eval_zk(params, com, point, proof, _t())
    t_verify = time.perf_counter() - t0
    return {
        "log_cols": log_n,
        "fold_generators_s": round(t_fold, 4),
        "expanded_scalars_s": round(t_exp, 4),
        "expanded_over_fold": round(t_exp / t_fold, 2),
        "prove_eval_zk_s": round(t_open, 4),
        "verify_eval_zk_s": round(t_verify, 4),
        "opening_bytes": len(proof.to_bytes()),
        "opening_bytes_before_ipa": 3 * 48 + (n + 2) * 32 + 8,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--logs", default="10,12,14")
    ap.add_argument("--out", default=str(Path(__file__).resolve().parent / "results" / "ipa_prover.json"))
    args = ap.parse_args()
    logs = [int(x) for x in args.logs.split(",")]
    params = generators.PublicParams.ephemeral(1 << max(logs))
    load = list(os.getloadavg())
    rows = []
    for k in logs:
        rows.append(run(k, params))
        print(json.dumps(rows[-1]), flush=True)
    out = {
        "bench": "ipa_prover",
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform()},
        "load_before": [round(x, 2) for x in load],
        "load_after": [round(x, 2) for x in os.getloadavg()],
        "results": rows,
    }
    Path(args.out).write_text(json.dumps(out, indent=1) + "\n")


if __name__ == "__main__":
    main()
