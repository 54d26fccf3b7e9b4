"""Sumcheck engine: completeness over relation shapes, and rejection of every kind of tampering."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from zkdl.errors import ProofFormatError, VerificationError
from zkdl.field import MODULUS as R
from zkdl.field import Fr
from zkdl.piop import sumcheck as sc
from zkdl.serialize import Reader, Writer
from zkdl.transcript import Transcript

RELATIONS = [
    sc.Relation.product(1),
    sc.Relation.product(2),
    sc.Relation.product(3),
    sc.Relation.product(1, eq_weighted=True),
    sc.Relation.product(2, eq_weighted=True),
    sc.Relation(3, ((5, (0, 1)), (R - 1, (2,)), (7, (1, 2))), eq_weighted=True),
    sc.Relation(2, ((3, (0,)), (1, (0, 1)), (2, (1, 1, 0)))),
]


def _tables(rel, n, seed):
    rng = np.random.default_rng(seed)
    return [Fr.random(1 << n, rng=rng) for _ in range(rel.n_tables)]


def _brute_sum(rel, tables, u):
    vals = [t.to_ints() for t in tables]
    eq = Fr.eq_table(u).to_ints() if rel.eq_weighted else [1] * len(vals[0])
    return sum(rel.evaluate([v[i] for v in vals], eq[i]) for i in range(len(vals[0]))) % R


def _run(rel, n, seed=0):
    tables = _tables(rel, n, seed)
    u = [int(x) for x in np.random.default_rng(seed + 1).integers(0, 2**62, n)] if rel.eq_weighted else None
    proof, res = sc.prove(tables, rel, Transcript("test/sumcheck"), eq_point=u)
    return tables, u, proof, res


@pytest.mark.parametrize("rel", RELATIONS, ids=lambda r: f"deg{r.degree}-t{r.n_tables}-eq{int(r.eq_weighted)}")
@pytest.mark.parametrize("n", [0, 1, 3, 6])
def test_honest_proofs_verify_and_reduce_to_true_evaluations(rel, n):
    tables, u, proof, res = _run(rel, n, seed=n)
    claim = _brute_sum(rel, tables, u)
    out = sc.verify(proof, rel, n, claim, Transcript("test/sumcheck"), eq_point=u)
    assert out == res
    assert len(out.point) == n
    for t, v in zip(tables, out.values):
        assert t.evaluate(list(out.point)) == v


def test_large_table_degree_two():
    rel = sc.Relation.product(2)
    tables, _, proof, _ = _run(rel, 14, seed=3)
    claim = tables[0].inner(tables[1])
    res = sc.verify(proof, rel, 14, claim, Transcript("test/sumcheck"))
    assert tables[0].evaluate(list(res.point)) == res.values[0]


@pytest.fixture(scope="module")
def honest():
    rel = sc.Relation(3, ((5, (0, 1)), (1, (2,))), eq_weighted=True)
    tables, u, proof, _ = _run(rel, 4, seed=11)
    return rel, u, proof, _brute_sum(rel, tables, u)


def _verify(honest, proof=None, claim=None, u=None, rel=None):
    rel0, u0, proof0, claim0 = honest
    return sc.verify(
        proof or proof0,
        rel or rel0,
        4,
        claim0 if claim is None else claim,
        Transcript("test/sumcheck"),
        eq_point=u0 if u is None else u,
    )


def test_rejects_wrong_claimed_sum(honest):
    with pytest.raises(VerificationError):
        _verify(honest, claim=(honest[3] + 1) % R)


@pytest.mark.parametrize("rnd", [0, 1, 3])
@pytest.mark.parametrize("pos", [0, 1, 2, 3])
def test_rejects_tampered_round_message(honest, rnd, pos):
    proof = honest[2]
    rounds = [list(m) for m in proof.rounds]
    rounds[rnd][pos] = (rounds[rnd][pos] + 1) % R
    bad = dataclasses.replace(proof, rounds=tuple(tuple(m) for m in rounds))
    with pytest.raises(VerificationError):
        _verify(honest, proof=bad)


def test_rejects_consistent_but_shifted_round_message(honest):
    # keep p(0) + p(1) right in round 0 but change the polynomial: caught at a later round or the end
    proof = honest[2]
    rounds = [list(m) for m in proof.rounds]
    rounds[0][0] = (rounds[0][0] + 1) % R
    rounds[0][1] = (rounds[0][1] - 1) % R
    bad = dataclasses.replace(proof, rounds=tuple(tuple(m) for m in rounds))
    with pytest.raises(VerificationError):
        _verify(honest, proof=bad)


@pytest.mark.parametrize("k", [0, 1, 2])
def test_rejects_wrong_final_evaluation(honest, k):
    proof = honest[2]
    finals = list(proof.finals)
    finals[k] = (finals[k] + 1) % R
    with pytest.raises(VerificationError):
        _verify(honest, proof=dataclasses.replace(proof, finals=tuple(finals)))


def test_rejects_wrong_degree_and_round_count(honest):
    proof = honest[2]
    longer = tuple(tuple(m) + (0,) for m in proof.rounds)
    with pytest.raises(ProofFormatError):
        _verify(honest, proof=dataclasses.replace(proof, rounds=longer))
    shorter = tuple(tuple(m)[:-1] for m in proof.rounds)
    with pytest.raises(ProofFormatError):
        _verify(honest, proof=dataclasses.replace(proof, rounds=shorter))
    with pytest.raises(ProofFormatError):
        _verify(honest, proof=dataclasses.replace(proof, rounds=proof.rounds[:-1]))


def test_rejects_noncanonical_values(honest):
    proof = honest[2]
    rounds = [list(m) for m in proof.rounds]
    rounds[0][2] += R
    with pytest.raises(ProofFormatError):
        _verify(honest, proof=dataclasses.replace(proof, rounds=tuple(tuple(m) for m in rounds)))


def test_rejects_other_eq_point_and_other_relation(honest):
    rel, u, proof, claim = honest
    with pytest.raises(VerificationError):
        _verify(honest, u=[(x + 1) % R for x in u])
    other = sc.Relation(3, ((6, (0, 1)), (1, (2,))), eq_weighted=True)
    with pytest.raises(VerificationError):
        _verify(honest, rel=other)


def test_cheating_prover_with_false_claim_is_rejected():
    rel = sc.Relation.product(2)
    tables = _tables(rel, 5, 9)
    true = tables[0].inner(tables[1])
    proof, _ = sc.prove(tables, rel, Transcript("test/sumcheck"), claim=true + 1)
    with pytest.raises(VerificationError):
        sc.verify(proof, rel, 5, true + 1, Transcript("test/sumcheck"))


def test_transcript_binds_the_context():
    rel = sc.Relation.product(2)
    tables, _, proof, _ = _run(rel, 5, seed=2)
    claim = tables[0].inner(tables[1])
    t = Transcript("test/sumcheck")
    t.absorb_bytes("context", b"another statement")
    # the same proof in another context: challenges change, so the final check fails
    with pytest.raises(VerificationError):
        sc.verify(proof, rel, 5, claim, t)


def test_serialization_round_trip(honest):
    rel, _, proof, _ = honest
    w = Writer()
    proof.write(w)
    r = Reader(w.getvalue())
    back = sc.SumcheckProof.read(r, 4, rel)
    r.finish()
    assert back == proof
    assert len(w.getvalue()) == 32 * proof.field_elements + 8 * (len(proof.rounds) + 1)  # u64 count per vector


def test_interpolation():
    coeffs = [3, R - 5, 7, 11]

    def poly(x):
        return sum(c * pow(x, i, R) for i, c in enumerate(coeffs)) % R

    evals = [poly(t) for t in range(4)]
    for x in [0, 3, 4, 10**30, R - 1]:
        assert sc.interpolate_at(evals, x) == poly(x)
