"""Sums against public tables: ``Σ_x P_1(x)⋯P_k(x)·T(x) = claim`` for public ``P_i`` and a secret table ``T``.

This one gadget covers every place where the protocol contracts a secret tensor with structure the verifier
knows: per-step inner products weighted by ``eq(u_t, t)`` (the matmuls), the batch schedule (selection of
dataset rows), the weight history ``W_t = W_0 − Σ_{t'<t} ΔW_{t'}``, and zero checks on padding. The prover
passes the public tables as ``Fr`` vectors; the verifier passes a function giving each public table's MLE at
a point, and checks the prover's final values of the public tables against it. What is left is one claim on
each secret table, at the sumcheck's point.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from ..errors import VerificationError
from ..field import Fr
from ..piop import sumcheck as sc

PublicMle = Callable[[Sequence[int]], int]


def relation(n_public: int, n_secret: int) -> sc.Relation:
    return sc.Relation.product(n_public + n_secret)


def prove(public: Sequence[Fr], secret: Sequence[Fr], transcript, claim: int | None = None):
    """Returns (proof, point, values of the secret tables at the point)."""
    rel = relation(len(public), len(secret))
    proof, res = sc.prove(list(public) + list(secret), rel, transcript, claim=claim)
    return proof, res.point, res.values[len(public):]


def verify(proof, public: Sequence[PublicMle], n_secret: int, num_vars: int, claim: int, transcript, what: str):
    """Check; returns (point, values of the secret tables at the point)."""
    rel = relation(len(public), n_secret)
    res = sc.verify(proof, rel, num_vars, claim, transcript)
    for i, mle in enumerate(public):
        if res.values[i] != mle(res.point) % sc.R:
            raise VerificationError(f"{what}: a public table's final value is wrong")
    return res.point, res.values[len(public):]
