"""Σ-protocol building blocks: committed scalars, the zero-check accumulator, proofs of product and nonzero."""

from __future__ import annotations

import dataclasses
import random

import pytest
from py_arkworks_bls12381 import G1Point

from zkdl.commit import generators as G
from zkdl.commit.pedersen import commit_value, scalars_from_ints
from zkdl.commit.sigma import (
    NonzeroProof,
    ProductProof,
    PScalar,
    VScalar,
    ZeroAccumulator,
    ZeroProof,
    commit_values,
    lincomb,
    linear_p,
    linear_v,
    prove_nonzero,
    prove_product,
    verify_nonzero,
    verify_product,
)
from zkdl.errors import ProofFormatError, VerificationError
from zkdl.field import MODULUS as R
from zkdl.serialize import Reader, Writer
from zkdl.transcript import Transcript


@pytest.fixture(scope="module")
def pp():
    return G.PublicParams.ephemeral(4)


def _rng(seed=0):
    return random.Random(seed)


def _mul(p: G1Point, c: int) -> G1Point:
    return p * scalars_from_ints([c])[0]


# ------------------------------------------------------------------------------------------ committed scalars
def test_commit_values_matches_commit_value(pp):
    rng = _rng(1)
    vals = [0, 1, R - 1, 2**64 + 3] + [rng.randrange(R) for _ in range(4)]
    blinds = [rng.randrange(R) for _ in vals]
    assert commit_values(pp, vals, blinds) == [commit_value(pp, v, b) for v, b in zip(vals, blinds)]
    assert commit_values(pp, [], []) == []


def test_pscalar_and_vscalar_operations_agree(pp):
    rng = _rng(2)
    x, y = PScalar.fresh(rng.randrange(R), rng), PScalar.fresh(rng.randrange(R), rng)
    X, Y = VScalar(x.commitment(pp)), VScalar(y.commitment(pp))
    c = rng.randrange(R)
    cases = [
        (x + y, X + Y),
        (x - y, X - Y),
        (-x, -X),
        (x * c, X * c),
        (c * x, c * X),
        (x + 5, X + 5),
        (5 + x, 5 + X),
        (x - 7, X - 7),
        (7 - x, 7 - X),
        (3 * x - 2 * y + 11, 3 * X - 2 * Y + 11),
        (linear_p([(4, x), (R - 1, y)]) + 1, linear_v([(4, X), (R - 1, Y)]) + 1),
    ]
    for p, v in cases:
        assert p.commitment(pp) == commit_value(pp, p.value, p.blind)
        assert v.commitment(pp) == p.commitment(pp)
    # a public constant keeps the blinding
    assert (x + 5).blind == x.blind and (x + 5).value == (x.value + 5) % R
    # lazy: X − X cancels to no terms; X + X merges into one term
    assert (X - X).n_terms == 0 and (X - X).commitment(pp) == G1Point.identity()
    assert (X + X).n_terms == 1
    assert VScalar.constant(9).commitment(pp) == commit_value(pp, 9, 0)
    with pytest.raises(TypeError):
        x * y  # noqa: B018  (products of committed values need a proof)
    with pytest.raises(TypeError):
        VScalar(5)


def test_lincomb(pp):
    pts = [pp.g_v, pp.h, pp.g_v]
    assert lincomb(pts, [2, 3, 5]) == commit_value(pp, 7, 3)
    assert lincomb(pts, [0, 0, 0]) == G1Point.identity()
    assert lincomb(pts[:1], [1]) == pp.g_v


# ------------------------------------------------------------------------------------------ zero accumulator
def _zero_pair(pp, rng, k=3):
    """k committed zeros (as combinations), prover and verifier views."""
    xs = [PScalar.fresh(rng.randrange(R), rng) for _ in range(k)]
    Xs = [VScalar(x.commitment(pp)) for x in xs]
    ps = [x - x.value for x in xs] + [xs[0] * 2 - xs[1] - (2 * xs[0].value - xs[1].value)]
    vs = [X - x.value for X, x in zip(Xs, xs)] + [Xs[0] * 2 - Xs[1] - (2 * xs[0].value - xs[1].value)]
    return ps, vs


def _zero_prove(pp, ps, seed=0):
    acc = ZeroAccumulator(pp, rng=_rng(seed))
    for p in ps:
        acc.add(p)
    t = Transcript("test/zero")
    return acc.prove(t), t


def _zero_verify(pp, vs, proof):
    acc = ZeroAccumulator(pp)
    for v in vs:
        acc.add(v)
    t = Transcript("test/zero")
    acc.verify(proof, t)
    return t


def test_zero_accumulator_accepts_and_transcripts_agree(pp):
    ps, vs = _zero_pair(pp, _rng(3))
    proof, tp = _zero_prove(pp, ps)
    tv = _zero_verify(pp, vs, proof)
    assert tp.state_digest() == tv.state_digest()
    # empty accumulator: a valid (vacuous) proof
    proof0, _ = _zero_prove(pp, [])
    _zero_verify(pp, [], proof0)


def test_zero_accumulator_rejects_a_nonzero_value(pp):
    ps, vs = _zero_pair(pp, _rng(4))
    proof, _ = _zero_prove(pp, ps)
    with pytest.raises(VerificationError):
        _zero_verify(pp, vs[:-1] + [vs[-1] + 1], proof)  # the last commitment now holds 1
    with pytest.raises(VerificationError):
        _zero_verify(pp, vs[:-1], proof)  # a check left out
    with pytest.raises(ValueError, match="not zero"):
        ZeroAccumulator(pp).add(ps[0] + 1, "x")


def test_zero_accumulator_rejects_tampered_proof(pp):
    ps, vs = _zero_pair(pp, _rng(5))
    proof, _ = _zero_prove(pp, ps)
    for bad in (dataclasses.replace(proof, s=(proof.s + 1) % R), dataclasses.replace(proof, a=proof.a + pp.h)):
        with pytest.raises(VerificationError):
            _zero_verify(pp, vs, bad)
    with pytest.raises(ProofFormatError):
        _zero_verify(pp, vs, dataclasses.replace(proof, s=R))
    with pytest.raises(ProofFormatError):
        _zero_verify(pp, vs, dataclasses.replace(proof, a=b"\x00" * 48))


def test_zero_accumulator_a_prover_without_the_blinding_cannot_forge(pp):
    # a cheating prover who knows a commitment's value only up to an unknown blinding guesses one: rejected
    ps, vs = _zero_pair(pp, _rng(6))
    forged = [PScalar(0, p.blind + 1) for p in ps]
    proof, _ = _zero_prove(pp, forged)
    with pytest.raises(VerificationError):
        _zero_verify(pp, vs, proof)


def test_zero_accumulator_misuse(pp):
    ps, vs = _zero_pair(pp, _rng(7))
    acc = ZeroAccumulator(pp)
    acc.add(ps[0])
    with pytest.raises(TypeError):
        acc.add(vs[0])
    with pytest.raises(TypeError):
        acc.verify(ZeroProof(pp.h, 1), Transcript("t"))
    acc.prove(Transcript("t"))
    with pytest.raises(RuntimeError):
        acc.add(ps[1])


def test_zero_proof_serialization(pp):
    ps, vs = _zero_pair(pp, _rng(8))
    proof, _ = _zero_prove(pp, ps)
    w = Writer()
    proof.write(w)
    assert len(w) == 80
    with Reader(w.getvalue()) as r:
        back = ZeroProof.read(r)
    assert back == proof
    _zero_verify(pp, vs, back)
    with pytest.raises(ProofFormatError):
        with Reader(w.getvalue()[:-1]) as r:
            ZeroProof.read(r)


# ------------------------------------------------------------------------------------------ proof of product
def _product(pp, xv, yv, seed=0):
    rng = _rng(seed)
    x, y = PScalar.fresh(xv, rng), PScalar.fresh(yv, rng)
    t = Transcript("test/product")
    z, proof = prove_product(pp, x, y, t, rng=rng)
    return x, y, z, proof, t


def _verify_product(pp, x, y, cz, proof):
    t = Transcript("test/product")
    out = verify_product(pp, x.commitment(pp), y.commitment(pp), cz, proof, t)
    return out, t


@pytest.mark.parametrize("xv,yv", [(3, 5), (0, 7), (R - 1, R - 1), (2**200, 12345)])
def test_product_honest(pp, xv, yv):
    x, y, z, proof, tp = _product(pp, xv, yv)
    assert z.value == xv * yv % R
    out, tv = _verify_product(pp, x, y, z.commitment(pp), proof)
    assert out.commitment(pp) == z.commitment(pp)
    assert tp.state_digest() == tv.state_digest()


def test_product_square_and_vscalar_inputs(pp):
    rng = _rng(9)
    x = PScalar.fresh(11, rng)
    z, proof = prove_product(pp, x, x, Transcript("sq"), rng=rng)
    X = VScalar(x.commitment(pp)) * 1 + 0  # a lazy combination, materialized by the verifier
    verify_product(pp, X, X, VScalar(z.commitment(pp)), proof, Transcript("sq"))
    assert z.value == 121


def test_product_rejects_wrong_product_and_tampering(pp):
    x, y, z, proof, _ = _product(pp, 6, 7, seed=10)
    with pytest.raises(VerificationError):  # C_z commits to 43, with the prover's blinding
        _verify_product(pp, x, y, commit_value(pp, 43, z.blind), proof)
    with pytest.raises(VerificationError):  # statement swapped
        _verify_product(pp, x, PScalar(8, y.blind), z.commitment(pp), proof)
    for i in range(5):
        zz = list(proof.z)
        zz[i] = (zz[i] + 1) % R
        with pytest.raises(VerificationError):
            _verify_product(pp, x, y, z.commitment(pp), dataclasses.replace(proof, z=tuple(zz)))
    for name in ("alpha", "beta", "delta"):
        bad = dataclasses.replace(proof, **{name: getattr(proof, name) + pp.g_v})
        with pytest.raises(VerificationError):
            _verify_product(pp, x, y, z.commitment(pp), bad)
    with pytest.raises(ProofFormatError):
        _verify_product(pp, x, y, z.commitment(pp), dataclasses.replace(proof, z=proof.z[:4]))
    with pytest.raises(ProofFormatError):
        _verify_product(pp, x, y, z.commitment(pp), dataclasses.replace(proof, z=(R,) + proof.z[1:]))


def test_product_cheating_prover_with_false_product_is_rejected(pp):
    # a prover that commits to a wrong product and runs the honest algorithm on it
    rng = _rng(11)
    x, y = PScalar.fresh(6, rng), PScalar.fresh(7, rng)
    t = Transcript("test/product")
    z, proof = prove_product(pp, x, y, t, rng=rng)
    fake = PScalar(43, z.blind)
    with pytest.raises(VerificationError):
        verify_product(pp, x.commitment(pp), y.commitment(pp), fake.commitment(pp), proof, Transcript("test/product"))


def test_product_serialization(pp):
    x, y, z, proof, _ = _product(pp, 2, 9, seed=12)
    w = Writer()
    proof.write(w)
    assert len(w) == 3 * 48 + 5 * 32
    with Reader(w.getvalue()) as r:
        back = ProductProof.read(r)
    assert back == proof
    _verify_product(pp, x, y, z.commitment(pp), back)
    data = bytearray(w.getvalue())
    data[-32:] = R.to_bytes(32, "little")
    with pytest.raises(ProofFormatError):
        with Reader(bytes(data)) as r:
            ProductProof.read(r)


def test_product_fresh_randomness(pp):
    rng = _rng(13)
    x, y = PScalar.fresh(4, rng), PScalar.fresh(5, rng)
    a = prove_product(pp, x, y, Transcript("p"))
    b = prove_product(pp, x, y, Transcript("p"))  # OS CSPRNG
    pa = {p.to_compressed_bytes() for p in a[1].points()} | {a[0].commitment(pp).to_compressed_bytes()}
    pb = {p.to_compressed_bytes() for p in b[1].points()} | {b[0].commitment(pp).to_compressed_bytes()}
    assert not pa & pb
    assert not set(a[1].z) & set(b[1].z)
    # the responses are not the witness (x, y, blindings) nor the product
    assert not set(a[1].z) & {x.value, y.value, x.blind, y.blind, 20}


def test_product_hvzk_simulator(pp):
    """The honest-verifier simulator: pick c and the responses, solve the first message; the verifier's three
    equations hold without knowing x or y (here for a false statement, Z a commitment to 1 ≠ x·y)."""
    rng = _rng(14)
    X, Y, Z = (commit_value(pp, rng.randrange(R), rng.randrange(R)) for _ in range(3))
    c = rng.randrange(R)
    z1, z2, z3, z4, z5 = (rng.randrange(R) for _ in range(5))
    alpha = lincomb([pp.g_v, pp.h, X], [z1, z2, -c])
    beta = lincomb([pp.g_v, pp.h, Y], [z3, z4, -c])
    delta = lincomb([Y, pp.h, Z], [z1, z5, -c])
    assert alpha + _mul(X, c) == lincomb([pp.g_v, pp.h], [z1, z2])
    assert beta + _mul(Y, c) == lincomb([pp.g_v, pp.h], [z3, z4])
    assert delta + _mul(Z, c) == lincomb([Y, pp.h], [z1, z5])


# ------------------------------------------------------------------------------------------ nonzero
def test_nonzero(pp):
    rng = _rng(15)
    x = PScalar.fresh(12345, rng)
    acc_p = ZeroAccumulator(pp, rng=rng)
    tp = Transcript("nz")
    proof = prove_nonzero(pp, x, tp, acc_p, rng=rng)
    zp = acc_p.prove(tp)
    w = Writer()
    proof.write(w)
    with Reader(w.getvalue()) as r:
        back = NonzeroProof.read(r)
    assert back == proof

    def check(cx, pr, zpr):
        acc = ZeroAccumulator(pp)
        tv = Transcript("nz")
        verify_nonzero(pp, cx, pr, tv, acc)
        acc.verify(zpr, tv)

    check(x.commitment(pp), back, zp)
    with pytest.raises(VerificationError):  # product commitment replaced: product proof fails
        check(x.commitment(pp), dataclasses.replace(proof, product=proof.product + pp.h), zp)
    with pytest.raises(ValueError):
        prove_nonzero(pp, PScalar.fresh(0, rng), Transcript("nz"), ZeroAccumulator(pp))


def test_nonzero_of_zero_cannot_pass(pp):
    # a cheater with x = 0 must commit to some w with 0·w = p and p = 1: it proves the product honestly (p = 0)
    # and the zero check p − 1 = 0 fails
    rng = _rng(16)
    x = PScalar.fresh(0, rng)
    w = PScalar.fresh(5, rng)
    tp = Transcript("nz")
    tp.absorb_g1("nonzero/inverse", w.commitment(pp))
    p, pr = prove_product(pp, x, w, tp, rng=rng)
    acc = ZeroAccumulator(pp, rng=rng)
    acc.add(PScalar(0, (p - 1).blind))  # pretends p − 1 commits to 0
    zp = acc.prove(tp)
    forged = NonzeroProof(w.commitment(pp), p.commitment(pp), pr)
    acc_v = ZeroAccumulator(pp)
    tv = Transcript("nz")
    verify_nonzero(pp, x.commitment(pp), forged, tv, acc_v)
    with pytest.raises(VerificationError):
        acc_v.verify(zp, tv)
