"""Commitments in BLS12-381 G1 — the only package that touches G1.

* :mod:`zkdl.commit.generators`: generators by hash-to-curve, the validated on-disk cache, :class:`PublicParams`;
* :mod:`zkdl.commit.pedersen`: Hyrax-style hiding row commitments (:class:`Commitment`, :class:`Opening`);
* :mod:`zkdl.commit.evaluation`: evaluation proofs, clear and zero-knowledge;
* :mod:`zkdl.commit.sigma`: committed scalars, the zero-check accumulator, proofs of product and nonzero.
"""

from zkdl.commit.evaluation import (
    EvalProof,
    ZkEvalProof,
    prove_eval,
    prove_eval_zk,
    verify_eval,
    verify_eval_zk,
)
from zkdl.commit.generators import PublicParams, default_cache_path, get_params, load, setup
from zkdl.commit.pedersen import (
    Commitment,
    Layout,
    Opening,
    commit,
    commit_bits,
    commit_fr,
    commit_int,
    commit_value,
    msm,
)
from zkdl.commit.sigma import (
    NonzeroProof,
    ProductBatchProof,
    PScalar,
    VScalar,
    ZeroAccumulator,
    ZeroProof,
    commit_product,
    prove_nonzero,
    receive_product,
    verify_nonzero,
)

__all__ = [
    "Commitment",
    "EvalProof",
    "Layout",
    "NonzeroProof",
    "Opening",
    "PScalar",
    "ProductBatchProof",
    "PublicParams",
    "VScalar",
    "ZeroAccumulator",
    "ZeroProof",
    "ZkEvalProof",
    "commit",
    "commit_bits",
    "commit_fr",
    "commit_int",
    "commit_product",
    "commit_value",
    "default_cache_path",
    "get_params",
    "load",
    "msm",
    "prove_eval",
    "prove_eval_zk",
    "prove_nonzero",
    "receive_product",
    "setup",
    "verify_eval",
    "verify_eval_zk",
    "verify_nonzero",
]
