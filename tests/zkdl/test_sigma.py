"""Σ-protocol building blocks: committed scalars, the deferred-check accumulator (zero checks, batched proofs of
product) and nonzero."""

from __future__ import annotations

import dataclasses
import random

import pytest
from py_arkworks_bls12381 import G1Point

from zkdl.commit import generators as G
from zkdl.commit import sigma
from zkdl.commit.pedersen import commit_value, scalars_from_ints
from zkdl.commit.sigma import (
    NonzeroProof,
    PScalar,
    VScalar,
    ZeroAccumulator,
    ZeroProof,
    commit_product,
    commit_values,
    lincomb,
    linear_p,
    linear_v,
    prove_nonzero,
    receive_product,
    verify_nonzero,
)
from zkdl.errors import ProofFormatError, VerificationError
from zkdl.field import MODULUS as R
from zkdl.serialize import Reader, Writer
from zkdl.transcript import Transcript


@pytest.fixture(scope="module")
def pp():
    return G.PublicParams.ephemeral(16)


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


# ------------------------------------------------------------------------------------------ batched proof of product
class _PermissiveAccumulator(ZeroAccumulator):
    """A cheating prover's accumulator: it registers false products without complaint and proves anyway."""

    def add_product(self, x, y, z, what=""):
        self._check_kind([x, y, z])
        self._products.append((x, y, z))


def _products(pp, pairs, seed=0, acc_cls=ZeroAccumulator, lie=None):
    """Prove z_k = x_k·y_k for ``pairs`` (``lie``: index of a product committed as x·y + 1)."""
    rng = _rng(seed)
    acc = acc_cls(pp, rng=rng)
    t = Transcript("test/products")
    xs, ys, zs = [], [], []
    for k, (xv, yv) in enumerate(pairs):
        x, y = PScalar.fresh(xv, rng), PScalar.fresh(yv, rng)
        if k == lie:
            z = PScalar.fresh(xv * yv + 1, rng)
            t.absorb_g1("product/commitment", z.commitment(pp))
            acc.add_product(x, y, z)
        else:
            z = commit_product(pp, x, y, t, acc, rng=rng)
        xs.append(x)
        ys.append(y)
        zs.append(z)
    return xs, ys, zs, acc.prove(t), t


def _verify_products(pp, xs, ys, zs, proof, *, cz=None):
    acc = ZeroAccumulator(pp)
    t = Transcript("test/products")
    for k, (x, y, z) in enumerate(zip(xs, ys, zs)):
        point = z.commitment(pp) if cz is None or k not in cz else cz[k]
        receive_product(pp, VScalar(x.commitment(pp)), VScalar(y.commitment(pp)), point, t, acc)
    acc.verify(proof, t)
    return t


@pytest.mark.parametrize("pairs", [[(3, 5)], [(0, 7), (R - 1, R - 1), (2**200, 12345)], [(k, k + 1) for k in range(9)]])
def test_products_honest(pp, pairs):
    xs, ys, zs, proof, tp = _products(pp, pairs)
    assert [z.value for z in zs] == [x * y % R for x, y in pairs]
    assert len(proof.products) == 1 and len(proof.products[0].x_hat) == len(pairs)
    tv = _verify_products(pp, xs, ys, zs, proof)
    assert tp.state_digest() == tv.state_digest()


def test_products_are_chunked(pp, monkeypatch):
    monkeypatch.setattr(sigma, "PRODUCT_CHUNK", 4)
    pairs = [(k + 2, 3 * k + 1) for k in range(10)]
    assert sigma.product_chunks(10) == [4, 4, 2]
    xs, ys, zs, proof, _ = _products(pp, pairs, seed=3)
    assert [len(pb.x_hat) for pb in proof.products] == [4, 4, 2]
    _verify_products(pp, xs, ys, zs, proof)
    w = Writer()
    proof.write(w)
    with Reader(w.getvalue()) as r:
        assert ZeroProof.read(r, 10) == proof


def test_product_square_shared_factor_and_lazy_inputs(pp):
    rng = _rng(9)
    x, y = PScalar.fresh(11, rng), PScalar.fresh(4, rng)
    acc, t = ZeroAccumulator(pp, rng=rng), Transcript("sq")
    zs = [commit_product(pp, x, x, t, acc, rng=rng), commit_product(pp, x, y, t, acc, rng=rng)]
    assert [z.value for z in zs] == [121, 44]
    proof = acc.prove(t)
    X = VScalar(x.commitment(pp)) * 1 + 0  # a lazy combination
    Y = VScalar(y.commitment(pp)) * 3 - VScalar(x.commitment(pp)) * 0 + 0
    acc_v, tv = ZeroAccumulator(pp), Transcript("sq")
    receive_product(pp, X, X, zs[0].commitment(pp), tv, acc_v)
    receive_product(pp, X, Y * pow(3, -1, R), zs[1].commitment(pp), tv, acc_v)
    acc_v.verify(proof, tv)


@pytest.mark.parametrize("lie", [0, 2])
def test_cheating_prover_with_a_false_product_is_rejected(pp, lie):
    """The attack: one committed product is x·y + 1, and the honest batch prover runs on it (the accumulator lets
    it through). The batch's product equation fails."""
    pairs = [(6, 7), (5, 5), (2, 9)]
    xs, ys, zs, proof, _ = _products(pp, pairs, seed=11, acc_cls=_PermissiveAccumulator, lie=lie)
    with pytest.raises(VerificationError, match="proof of product failed"):
        _verify_products(pp, xs, ys, zs, proof)
    # the honest run of the same harness verifies
    xs, ys, zs, proof, _ = _products(pp, pairs, seed=11, acc_cls=_PermissiveAccumulator)
    _verify_products(pp, xs, ys, zs, proof)


def test_honest_accumulator_refuses_a_false_product(pp):
    rng = _rng(2)
    x, y = PScalar.fresh(3, rng), PScalar.fresh(4, rng)
    with pytest.raises(ValueError, match="not the product"):
        ZeroAccumulator(pp).add_product(x, y, PScalar.fresh(13, rng))


def test_products_reject_tampering(pp):
    pairs = [(6, 7), (8, 9), (10, 11)]
    xs, ys, zs, proof, _ = _products(pp, pairs, seed=10)
    (pb,) = proof.products
    with pytest.raises(VerificationError):  # a product commitment swapped for a commitment to 43
        _verify_products(pp, xs, ys, zs, proof, cz={1: commit_value(pp, 43, zs[1].blind)})
    with pytest.raises(VerificationError):  # a factor swapped
        _verify_products(pp, xs, [ys[0], PScalar(10, ys[1].blind), ys[2]], zs, proof)
    bads = [dataclasses.replace(pb, cx=pb.cx + pp.g_v), dataclasses.replace(pb, cy=pb.cy + pp.h)]
    for i in range(6):
        first = list(pb.first)
        first[i] = first[i] + pp.g_v
        bads.append(dataclasses.replace(pb, first=tuple(first)))
    for name in ("x_hat", "y_hat", "blinds"):
        for j in (0, -1):
            vals = list(getattr(pb, name))
            vals[j] = (vals[j] + 1) % R
            bads.append(dataclasses.replace(pb, **{name: tuple(vals)}))
    for bad in bads:
        with pytest.raises(VerificationError):
            _verify_products(pp, xs, ys, zs, dataclasses.replace(proof, products=(bad,)))
    for bad in (dataclasses.replace(pb, x_hat=pb.x_hat[:-1]), dataclasses.replace(pb, blinds=(R,) + pb.blinds[1:])):
        with pytest.raises(ProofFormatError):
            _verify_products(pp, xs, ys, zs, dataclasses.replace(proof, products=(bad,)))
    with pytest.raises(ProofFormatError):  # a batch missing
        _verify_products(pp, xs, ys, zs, dataclasses.replace(proof, products=()))


def test_product_batch_serialization(pp):
    xs, ys, zs, proof, _ = _products(pp, [(2, 9), (3, 3)], seed=12)
    w = Writer()
    proof.write(w)
    assert len(w) == 8 + 8 * 48 + 8 + (2 * 2 + 5) * 32 + 48 + 32  # two counted vectors, then A and s
    with Reader(w.getvalue()) as r:
        back = ZeroProof.read(r, 2)
    assert back == proof
    _verify_products(pp, xs, ys, zs, back)
    data = bytearray(w.getvalue())
    off = 8 + 8 * 48 + 8
    data[off : off + 32] = R.to_bytes(32, "little")  # x̂_0 not canonical
    with pytest.raises(ProofFormatError):
        with Reader(bytes(data)) as r:
            ZeroProof.read(r, 2)
    with pytest.raises(ProofFormatError):  # read as one product: the counts differ
        with Reader(w.getvalue()) as r:
            ZeroProof.read(r, 1)


def test_product_fresh_randomness_reveals_no_witness(pp):
    a = _products(pp, [(4, 5), (6, 7)], seed=13)
    b = _products(pp, [(4, 5), (6, 7)], seed=14)
    pa = {p.to_compressed_bytes() for p in a[3].points()}
    pb = {p.to_compressed_bytes() for p in b[3].points()}
    assert not pa & pb
    fa, fb = set(a[3].field_elements()), set(b[3].field_elements())
    assert not fa & fb
    secrets_ = {v for s in (*a[0], *a[1], *a[2]) for v in (s.value, s.blind)}
    assert not fa & secrets_


def test_product_batch_hvzk_simulator(pp):
    """The honest-verifier simulator: pick β, ξ, c and the responses, solve the first message; the verifier's
    equations hold without any opening (here for false statements: random X, Y, Z)."""
    rng = _rng(14)
    items = [tuple(VScalar(commit_value(pp, rng.randrange(R), rng.randrange(R))) for _ in range(3)) for _ in range(3)]
    beta, xi, c = (rng.randrange(R) for _ in range(3))
    k = len(items)
    x_hat = [rng.randrange(R) for _ in range(k)]
    y_hat = [rng.randrange(R) for _ in range(k)]
    rx, ry, rbx, rby, tau = (rng.randrange(R) for _ in range(5))
    cx, cy, t2 = (commit_value(pp, 0, rng.randrange(R)) for _ in range(3))
    inv = pow(c, -1, R)
    bp, xp = sigma.powers(beta, k), sigma.powers(xi, k)
    ca = lincomb([*pp.gens(k), pp.h, cx], [*(v * inv for v in x_hat), rx * inv, -inv])
    cb = lincomb([*pp.gens(k), pp.h, cy], [*(v * inv for v in y_hat), ry * inv, -inv])
    sx = linear_v([(w, it[0]) for w, it in zip(bp, items)]).commitment(pp)
    sy = linear_v([(w, it[1]) for w, it in zip(bp, items)]).commitment(pp)
    sz = linear_v([(w, it[2]) for w, it in zip(xp, items)]).commitment(pp)
    tx = lincomb([pp.g_v, pp.h, sx], [sum(u * w for u, w in zip(x_hat, bp)) * inv, rbx * inv, -inv])
    ty = lincomb([pp.g_v, pp.h, sy], [sum(u * w for u, w in zip(y_hat, bp)) * inv, rby * inv, -inv])
    ip = sum(w * u * v for w, u, v in zip(xp, x_hat, y_hat))
    t1 = lincomb([pp.g_v, pp.h, sz, t2], [ip * inv, tau * inv, -inv, -c])
    assert cx + _mul(ca, c) == lincomb([*pp.gens(k), pp.h], [*x_hat, rx])
    assert cy + _mul(cb, c) == lincomb([*pp.gens(k), pp.h], [*y_hat, ry])
    assert sx + _mul(tx, c) == lincomb([pp.g_v, pp.h], [sum(u * w for u, w in zip(x_hat, bp)), rbx])
    assert sy + _mul(ty, c) == lincomb([pp.g_v, pp.h], [sum(u * w for u, w in zip(y_hat, bp)), rby])
    assert sz + _mul(t1, c) + _mul(t2, c * c) == lincomb([pp.g_v, pp.h], [ip, tau])


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
    assert len(w) == 48  # the inverse's commitment; x·x⁻¹ = 1 joins the batched products
    with Reader(w.getvalue()) as r:
        back = NonzeroProof.read(r)
    assert back == proof

    def check(cx, pr, zpr):
        acc = ZeroAccumulator(pp)
        tv = Transcript("nz")
        verify_nonzero(pp, cx, pr, tv, acc)
        acc.verify(zpr, tv)

    check(x.commitment(pp), back, zp)
    with pytest.raises(VerificationError):  # inverse commitment replaced: the product x·w = 1 fails
        check(x.commitment(pp), NonzeroProof(proof.inverse + pp.h), zp)
    with pytest.raises(ValueError):
        prove_nonzero(pp, PScalar.fresh(0, rng), Transcript("nz"), ZeroAccumulator(pp))


def test_nonzero_of_zero_cannot_pass(pp):
    # a cheater with x = 0 commits to some w and registers "x·w = 1" anyway: the batched product fails
    rng = _rng(16)
    x = PScalar.fresh(0, rng)
    w = PScalar.fresh(5, rng)
    tp = Transcript("nz")
    tp.absorb_g1("nonzero/inverse", w.commitment(pp))
    acc = _PermissiveAccumulator(pp, rng=rng)
    acc.add_product(x, w, PScalar.public(1))
    zp = acc.prove(tp)
    acc_v = ZeroAccumulator(pp)
    tv = Transcript("nz")
    verify_nonzero(pp, x.commitment(pp), NonzeroProof(w.commitment(pp)), tv, acc_v)
    with pytest.raises(VerificationError, match="proof of product failed"):
        acc_v.verify(zp, tv)
