"""Tiny honest training runs with their statement, shared by the training-proof tests (not a test module).

pytest puts ``tests/zkdl`` on ``sys.path`` (the directory has no ``__init__.py``), so tests import this module
by name.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from zkdl.protocol import training
from zkdl.protocol.statement import Statement
from zkdl.quant import BatchSchedule, FixedPointParams, init_model, quantize_model, train_quantized
from zkdl.quant.model import FloatModel


def make_instance(
    pp, widths, B, T, n, *, bias=True, seed=None, backend="lookup", data_seed=0, model_seed=1, commit_rng=None
):
    """Train T quantized steps honestly on random data and commit the statement tensors.

    ``bias``: one flag for every layer, or a sequence of flags. Returns (statement, run, X, Y, openings)."""
    p = FixedPointParams()
    rng = np.random.default_rng(data_seed)
    F = p.frac_bits
    X = np.round(rng.uniform(0, 1, (n, widths[0])) * 2**F).astype(np.int64)
    Y = (np.eye(widths[-1])[rng.integers(0, widths[-1], n)] * 2**F).astype(np.int64)
    flags = [bias] * (len(widths) - 1) if isinstance(bias, bool) else list(bias)
    fm = init_model(widths, seed=model_seed, bias=True)
    fm = FloatModel(fm.weights, tuple(b if keep else None for b, keep in zip(fm.biases, flags)))
    run = train_quantized(quantize_model(fm, p), X, Y, p, BatchSchedule(n, B, seed), T)
    st0 = Statement(
        widths=widths,
        has_bias=flags,
        params=p.to_dict(),
        batch_size=B,
        steps=T,
        n_rows=n,
        schedule_seed=seed,
        range_backend=backend,
        generators_digest=pp.digest.hex(),
    )
    w = training.Witness(training.Public.of(st0), run, X, Y)
    coms, opens = training.commit_statement_tensors(pp, w, rng=commit_rng)
    return dataclasses.replace(st0, commitments=coms), run, X, Y, opens


def build_and_prove(pp, widths, B, T, n, *, zk=True, **kw):
    """:func:`make_instance`, then prove. Returns (statement, proof, run)."""
    st, run, X, Y, opens = make_instance(pp, widths, B, T, n, **kw)
    proof, _times = training.prove(pp, st, run, X, Y, opens, zk=zk)
    return st, proof, run
