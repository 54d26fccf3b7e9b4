"""Tiny chunked runs written to a directory, shared by the run tests (not a test module)."""

from __future__ import annotations

import numpy as np

from zkdl.api import public_params
from zkdl.commit.generators import default_cache_path
from zkdl.protocol import training
from zkdl.protocol.statement import Statement
from zkdl.quant import FixedPointParams, init_model, quantize_model
from zkdl.runs.chunking import chunk_bounds
from zkdl.runs.executor import RunDirectory, execute
from zkdl.runs.manifest import RunManifest
from zkdl.runs.prover import ChunkedRun

WIDTHS = [5, 4, 3]
B, N = 3, 7


def data(seed: int = 0):
    p = FixedPointParams()
    rng = np.random.default_rng(seed)
    X = np.round(rng.uniform(0, 1, (N, WIDTHS[0])) * 2**p.frac_bits).astype(np.int64)
    Y = (np.eye(WIDTHS[-1])[rng.integers(0, WIDTHS[-1], N)] * 2**p.frac_bits).astype(np.int64)
    return p, X, Y


def chunked_run(steps: int, chunk_steps: int, *, blinds=None) -> ChunkedRun:
    p, X, Y = data()
    q0 = quantize_model(init_model(WIDTHS, seed=1, bias=True), p)
    probe = Statement(
        widths=WIDTHS,
        has_bias=(True, True),
        params=p.to_dict(),
        batch_size=B,
        steps=chunk_steps,
        n_rows=N,
        schedule_seed=None,
        range_backend="lookup",
        generators_digest="",
    )
    pp = public_params(training.generators_needed(probe), create=True)
    template = Statement(**{**probe.__dict__, "generators_digest": pp.digest.hex()})
    return ChunkedRun(
        pp, template, q0, X, Y, chunk_bounds(steps, chunk_steps), params_path=default_cache_path(), blinds=blinds
    )


def write_run(root, steps: int = 3, chunk_steps: int = 1, *, prove: bool = False) -> ChunkedRun:
    """A run directory: real statements and manifest; real proofs only with ``prove`` (else placeholder bytes,
    enough for the chain checks, which run before any proof is read)."""
    cr = chunked_run(steps, chunk_steps)
    rd = RunDirectory(root)
    if prove:
        execute(cr.tasks(), workers=1, on_result=lambda r: rd.write_chunk(r.index, r.statement, r.proof))
    else:
        for t in cr.tasks():
            rd.write_chunk(t.index, t.statement, b"placeholder, not a proof")
    rd.write_manifest(RunManifest.of(cr.statements, zero_knowledge=True))
    return cr
