"""The eq-factored round engine for eq-weighted sumchecks (issue 15): the generic engine's bytes, less work.

Every eq-weighted sumcheck whose terms multiply at most two tables runs on it when the backend has fused kernels
(``sumcheck.default_engine``); the clear and the zero-knowledge proofs must be byte-identical to the generic
engine's (``CpuBackend(fused=False)``), and a false claim must still be rejected.
"""

from __future__ import annotations

import random

import numpy as np
import pytest

from zkdl.commit.generators import PublicParams
from zkdl.commit.sigma import PScalar, ZeroAccumulator
from zkdl.errors import VerificationError
from zkdl.field import MODULUS as R
from zkdl.field import Fr
from zkdl.field.backend import set_default_backend
from zkdl.field.cpu import CpuBackend
from zkdl.piop import sumcheck as sc
from zkdl.piop import zk_sumcheck as zsc
from zkdl.serialize import Writer
from zkdl.transcript import Transcript

FUSED, GENERIC = CpuBackend(), CpuBackend(fused=False)
RELATIONS = [
    sc.Relation.product(1, eq_weighted=True),
    sc.Relation.product(2, eq_weighted=True),
    sc.Relation(3, ((5, (0, 1)), (R - 1, (2,)), (7, (1, 2))), eq_weighted=True),
    sc.Relation(2, ((1, (0,)), (1, (1,)), (123, (0, 1))), eq_weighted=True),
]


def _case(rel, n, seed):
    rng = np.random.default_rng(seed)
    tables = [Fr.random(1 << n, rng=rng, backend=FUSED) for _ in range(rel.n_tables)]
    u = [int(x) for x in rng.integers(0, 2**62, n)]
    return tables, u


def _clear(backend, rel, n, seed, claim=None):
    tables, u = _case(rel, n, seed)
    tabs = [Fr(t.limbs.copy(), backend) for t in tables]
    before = [t.to_ints() for t in tabs]
    set_default_backend(backend)
    try:
        tr = Transcript("test/eq-factored")
        proof, res = sc.prove(tabs, rel, tr, eq_point=u, claim=claim)
    finally:
        set_default_backend(None)
    assert [t.to_ints() for t in tabs] == before  # the caller's tables are not folded in place
    w = Writer()
    proof.write(w)
    return w.getvalue(), res, tables, u, proof


@pytest.mark.parametrize("rel", RELATIONS, ids=lambda r: f"deg{r.degree}-t{r.n_tables}")
@pytest.mark.parametrize("n", [1, 2, 5, 13])
def test_eq_factored_engine_sends_the_generic_bytes(rel, n):
    tables, u = _case(rel, n, n)
    assert isinstance(sc.default_engine(tables, rel, u, 0), sc.EqFactoredEngine)
    assert not isinstance(sc.default_engine([Fr(t.limbs, GENERIC) for t in tables], rel, u, 0), sc.EqFactoredEngine)
    fast = _clear(FUSED, rel, n, n)
    slow = _clear(GENERIC, rel, n, n)
    assert fast[:2] == slow[:2]


def test_eq_factored_engine_is_not_used_without_a_claim_or_for_degree_three_terms():
    tables, u = _case(sc.Relation.product(3), 3, 0)
    assert not isinstance(sc.default_engine(tables, sc.Relation.product(3), None, 0), sc.EqFactoredEngine)
    rel = sc.Relation.product(2, eq_weighted=True)
    assert not isinstance(sc.default_engine(tables[:2], rel, u, None), sc.EqFactoredEngine)
    with pytest.raises(ValueError):
        sc.EqFactoredEngine(tables, sc.Relation.product(3), u, 0)


def test_a_false_claim_is_still_rejected():
    """The engine derives p(1) from the claim, so p(0) + p(1) matches even a false claim: the final check (the
    stated table values against the last running claim) must catch it."""
    rel = RELATIONS[2]
    data, _, tables, u, proof = _clear(FUSED, rel, 4, 4)
    true = sc.verify(
        proof, rel, 4, sc._RoundEngine(tables, rel, u).true_claim(), Transcript("test/eq-factored"), eq_point=u
    )
    assert true.point
    _, _, _, _, bad = _clear(FUSED, rel, 4, 4, claim=(sc._RoundEngine(tables, rel, u).true_claim() + 1) % R)
    with pytest.raises(VerificationError, match="final check"):
        sc.verify(
            bad,
            rel,
            4,
            (sc._RoundEngine(tables, rel, u).true_claim() + 1) % R,
            Transcript("test/eq-factored"),
            eq_point=u,
        )


@pytest.mark.parametrize("rel", RELATIONS[1:3], ids=["product", "mixed"])
def test_zero_knowledge_proofs_are_byte_identical(rel):
    pp = PublicParams.ephemeral(128)  # a mask of up to 127 slots, the product batches
    n = 5
    out = []
    for backend in (FUSED, GENERIC):
        tables, u = _case(rel, n, 9)
        tabs = [Fr(t.limbs.copy(), backend) for t in tables]
        claim = sc._RoundEngine(tables, rel, u).true_claim()
        rng = random.Random(3)
        set_default_backend(backend)
        try:
            acc = ZeroAccumulator(pp, rng=rng)
            tr = Transcript("test/eq-factored-zk")
            proof, res = zsc.prove_zk(pp, tabs, rel, tr, claim=PScalar(claim, 77), eq_point=u, acc=acc, rng=rng)
        finally:
            set_default_backend(None)
        w = Writer()
        proof.write(w)
        out.append((w.getvalue(), res.point, tr.challenge_fr("end")))
    assert out[0] == out[1]
