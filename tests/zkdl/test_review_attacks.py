"""External review of the masked ZK sumcheck and the batched proof of product: adaptive cheating provers.

The attacks in test_zk_sumcheck.py / test_sigma.py run the *honest* prover's code on a false statement. The
provers here are adaptive: they move the lie to the one place each check leaves free, so every test names the
check that catches it. The Fiat–Shamir attacks come with a negative control: the same cheater against a
transcript that forgets one absorb (on both sides) is accepted, which shows that this absorb, and nothing
else, is what stops it. The review's hardening findings (a zero ρ or batch challenge c would send masked values
in the clear) are fixed (both are drawn nonzero) and tested at the end.
"""

from __future__ import annotations

import dataclasses
import random

import numpy as np
import pytest

from zkdl.commit import generators as G
from zkdl.commit import sigma
from zkdl.commit.pedersen import commit_vector, random_scalar
from zkdl.commit.sigma import (
    PRODUCT_CHUNK,
    PScalar,
    VScalar,
    ZeroAccumulator,
    ZeroProof,
    commit_product,
    commit_values,
    linear_p,
    receive_product,
)
from zkdl.errors import ProofFormatError, VerificationError
from zkdl.field import MODULUS as R
from zkdl.field import Fr
from zkdl.piop import sumcheck as sc
from zkdl.piop import zk_sumcheck as zsc
from zkdl.protocol.simulator import ProgrammableTranscript
from zkdl.serialize import Reader, Writer
from zkdl.transcript import Transcript

LABEL = "test/review-attacks"


@pytest.fixture(scope="module")
def pp():
    return G.PublicParams.ephemeral(PRODUCT_CHUNK)


class _Forgetful(Transcript):
    """A transcript that silently drops the absorbs of the labels in ``skip`` (a protocol bug, simulated on both
    sides): the negative control of the Fiat–Shamir attacks."""

    skip: frozenset[str] = frozenset()

    @classmethod
    def make(cls, skip: set[str]) -> _Forgetful:
        t = cls(LABEL)
        t.skip = frozenset(skip)
        return t

    def absorb_g1(self, label, p):
        if label not in self.skip:
            super().absorb_g1(label, p)

    def absorb_g1s(self, label, points):
        if label not in self.skip:
            super().absorb_g1s(label, points)

    def copy(self) -> _Forgetful:
        t = _Forgetful.__new__(_Forgetful)
        base = Transcript.copy(self)
        for slot in Transcript.__slots__:
            setattr(t, slot, getattr(base, slot))
        t.skip = self.skip
        return t


def _transcript(skip=()):
    return _Forgetful.make(set(skip)) if skip else Transcript(LABEL)


class _Permissive(ZeroAccumulator):
    """A cheating prover's accumulator: false zero checks and false products go through to the proof."""

    def add(self, item, what=""):
        self._check_kind([item])
        self._items.append(item)
        self._what.append(what)

    def add_product(self, x, y, z, what=""):
        self._check_kind([x, y, z])
        self._products.append((x, y, z))


# =========================================================================================================
# masked ZK sumcheck: an adaptive cheating prover
# =========================================================================================================
PROD2 = (sc.Relation.product(2), ())  # F = f0·f1: one committed product
EQ_PUB = (sc.Relation.product(2, eq_weighted=True), (1,))  # F = eq·f1·f0, f1 public: f0's final enters linearly


def _tables(rel, n, seed):
    rng = np.random.default_rng(seed)
    tables = [Fr.random(1 << n, rng=rng) for _ in range(rel.n_tables)]
    u = [int(x) for x in rng.integers(0, 2**62, n)] if rel.eq_weighted else None
    return tables, u


def _true_sum(rel, tables, u):
    vals = [t.to_ints() for t in tables]
    eq = Fr.eq_table(u).to_ints() if rel.eq_weighted else [1] * len(vals[0])
    return sum(rel.evaluate([v[i] for v in vals], eq[i]) for i in range(len(vals[0]))) % R


@dataclasses.dataclass
class Cheat:
    rel: sc.Relation
    public: tuple[int, ...]
    n: int
    tables: list
    u: list | None
    claim: PScalar
    proof: zsc.ZkSumcheckProof
    zero: ZeroProof
    zero_check_value: int  # the value the cheater's final zero check commits to (0: the lie was moved elsewhere)
    lie: int  # the amount moved into ``lie_into``
    finals: dict  # secret table index -> the committed final (PScalar)


def _cheat(pp, case, n, lie_into, *, skip=(), delta=5, seed=0) -> Cheat:
    """Prove the false claim ``true sum + delta``.

    The masked sum is ``S' = s' + ρ·M`` (so the start of the zero check holds), round 1 is shifted by
    ``delta·(1 − X)`` to match it, and the error ``E = delta·Π(1 − r_i)`` that reaches ``claim_n`` is moved into:
    ``"final"`` (the committed final of table 0), ``"product"`` (the committed product f0·f1), ``"mask-value"``
    (``Y``, after γ), or ``"late-mask"`` (no round is masked; the mask is chosen *after* every round challenge so
    that ``ρ·m(r) = E`` and ``<m, w_M> = M``, a placeholder having been absorbed before ρ)."""
    rel, public = case
    rng = random.Random(seed)
    tables, u = _tables(rel, n, seed)
    s = _true_sum(rel, tables, u)
    claim = PScalar.fresh(s + delta, rng)
    pub = frozenset(public)
    plan = zsc._plan(rel, pub)
    eng = sc.default_engine(tables, rel, u, s)
    d, k_mask = rel.degree, zsc.mask_length(n, rel.degree)
    t = _transcript(skip)
    acc = _Permissive(pp, rng=rng)

    zsc._start_zk(t, n, rel, u, pub)  # as prove_zk: the claim is not absorbed
    mask = [random_scalar(rng) for _ in range(k_mask)]
    m_blind = random_scalar(rng)
    # for "late-mask" this is a placeholder: two coordinates of m are re-chosen after the round challenges
    offset = acc.allocate(k_mask)
    t.absorb_g1("sumcheck-zk/mask", commit_vector(pp, mask, m_blind, offset=offset))
    rho = t.challenge_nonzero_fr("sumcheck-zk/rho")
    m_sum = sum(a * b for a, b in zip(mask, zsc.mask_sum_weights(n, d))) % R
    masked_sum = (claim.value + rho * m_sum) % R
    t.absorb_fr("sumcheck-zk/masked-sum", masked_sum)
    err = delta if lie_into != "late-mask" else (masked_sum - s) % R  # S' − Σ h (h = f: no round is masked)
    cur, prefix, rounds, point = masked_sum, mask[0], [], []
    for i in range(n):
        msg = eng.message()
        q = zsc.mask_round_values(mask, n, d, i, prefix) if lie_into != "late-mask" else [0] * (d + 1)
        p = [(a + rho * b + err * (1 - x)) % R for x, (a, b) in enumerate(zip(msg, q))]
        assert (p[0] + p[1]) % R == cur
        sent = (p[0], *p[2:])
        t.absorb_frs("sumcheck-zk/round", list(sent))
        r = t.challenge_fr("sumcheck-zk/r")
        cur = sum(c * e for c, e in zip(zsc.lagrange_coeffs(d + 1, r), p)) % R
        prefix = (prefix + zsc.mask_at(mask, d, i, r)) % R
        err = err * (1 - r) % R
        rounds.append(sent)
        point.append(r)
        eng.bind(r)
    if lie_into == "late-mask":
        # solve <m, w_M> = M and <m, w_r> = E/ρ on the first two coordinates (the rest stays random)
        w_m, w_r = zsc.mask_sum_weights(n, d), zsc.mask_point_weights(point, d)
        t1 = (m_sum - sum(a * b for a, b in zip(mask[2:], w_m[2:]))) % R
        t2 = (err * pow(rho, -1, R) - sum(a * b for a, b in zip(mask[2:], w_r[2:]))) % R
        det = (w_m[0] * w_r[1] - w_m[1] * w_r[0]) % R
        mask[0] = (t1 * w_r[1] - w_m[1] * t2) * pow(det, -1, R) % R
        mask[1] = (w_m[0] * t2 - t1 * w_r[0]) * pow(det, -1, R) % R
        err = 0  # claim_n = f(r) + ρ·m(r) now
    finals = eng.finals()
    f_vals = {k: finals[k] for k in plan.secret}
    pub_values = {k: finals[k] for k in sorted(pub)}
    eq_value = sc.eq_eval(sc._eq_point(u), point) if rel.eq_weighted else 1
    lie = err
    if lie_into == "final":  # F = coef·f0: f0 absorbs the error
        assert not plan.products
        coef = rel.terms[0][0] * eq_value * pub_values.get(1, 1) % R
        f_vals[0] = (f_vals[0] + err * pow(coef, -1, R)) % R
    vals: dict = {}
    blinds = [random_scalar(rng) for _ in plan.secret]
    for k, b in zip(plan.secret, blinds):
        vals[(k,)] = PScalar(f_vals[k], b)
    t.absorb_g1s("sumcheck-zk/finals", commit_values(pp, [f_vals[k] for k in plan.secret], blinds))
    for key, left, right in plan.products:
        value = vals[left].value * vals[right].value
        if lie_into == "product":
            value += err
        vals[key] = PScalar.fresh(value, rng)
        acc.add_product(vals[left], vals[right], vals[key])
    p_pts = commit_values(
        pp, [vals[k].value for k, _, _ in plan.products], [vals[k].blind for k, _, _ in plan.products]
    )
    t.absorb_g1s("sumcheck-zk/products", p_pts)
    total = zsc._final_combination(plan, vals, pub_values, eq_value, linear_p)
    gamma = t.challenge_fr("sumcheck-zk/gamma")
    weights = zsc.mask_check_weights(n, d, point, gamma)
    y_true = PScalar.fresh(sum(a * b for a, b in zip(mask, weights)), rng)
    y_sent = y_true
    if lie_into == "mask-value":  # Y + γ·E/ρ cancels the error in the zero check
        y_sent = PScalar(y_true.value + gamma * err * pow(rho, -1, R), y_true.blind)
    t.absorb_g1("sumcheck-zk/mask-value", y_sent.commitment(pp))
    # the dot product is registered with the true value of Y under the sent Y's blinding (add_dot refuses a lie)
    acc.add_dot(offset, weights, PScalar(y_true.value, y_sent.blind), mask, m_blind)
    check = claim + total * gamma + y_sent * rho - (masked_sum + gamma * cur)
    acc.add(check, "sumcheck final check")
    f_pts = commit_values(pp, [f_vals[k] for k in plan.secret], blinds)
    mask_pt = commit_vector(pp, mask, m_blind, offset=offset)
    proof = zsc.ZkSumcheckProof(mask_pt, masked_sum, tuple(rounds), tuple(f_pts), tuple(p_pts), y_sent.commitment(pp))
    finals_p = {k: vals[(k,)] for k in plan.secret}
    return Cheat(rel, tuple(public), n, tables, u, claim, proof, acc.prove(t), check.value, lie, finals_p)


def _verify_cheat(pp, ch: Cheat, skip=()):
    t = _transcript(skip)
    acc = ZeroAccumulator(pp)
    public = {k: (lambda pt, k=k: ch.tables[k].evaluate(list(pt))) for k in ch.public}
    res = zsc.verify_zk(
        pp, ch.proof, ch.rel, ch.n, VScalar(ch.claim.commitment(pp)), t, eq_point=ch.u, public=public, acc=acc
    )
    acc.verify(ch.zero, t)
    return res


@pytest.mark.parametrize("n", [1, 3])
def test_false_claim_moved_into_a_product_commitment_is_caught_by_the_batched_product_proof(pp, n):
    ch = _cheat(pp, PROD2, n, "product")
    assert ch.zero_check_value == 0 and ch.lie != 0  # the final zero check itself is satisfied
    with pytest.raises(VerificationError, match="proof of product failed"):
        _verify_cheat(pp, ch)


@pytest.mark.parametrize("n", [1, 3])
def test_false_claim_moved_into_the_mask_value_is_caught_by_the_proof_of_dot_product(pp, n):
    ch = _cheat(pp, PROD2, n, "mask-value")
    assert ch.zero_check_value == 0 and ch.lie != 0
    with pytest.raises(VerificationError, match=r"batched proof of dot product \(masks\): value check failed"):
        _verify_cheat(pp, ch)


def test_false_claim_moved_into_a_secret_final_is_caught_only_when_the_final_is_discharged(pp):
    """By design the sumcheck accepts (as a clear sumcheck would): the lie becomes a false committed final, the
    caller's claim to discharge (docs/zero-knowledge.md, "every committed final must be consumed"). Discharging
    it by a second ZK sumcheck over the true table rejects."""
    n = 3
    ch = _cheat(pp, EQ_PUB, n, "final", seed=2)
    assert ch.zero_check_value == 0 and ch.lie != 0
    res = _verify_cheat(pp, ch)  # accepted: the false final is now the open claim
    point = list(res.point)
    false_final = ch.finals[0]
    assert ch.tables[0].evaluate(point) != false_final.value
    assert res.finals[0].commitment(pp) == false_final.commitment(pp)
    # discharge: Σ_x eq(r, x)·t0(x) = (committed final), proven with the honest code on the true table
    rel2 = sc.Relation.product(1, eq_weighted=True)
    t = Transcript("discharge")
    acc = _Permissive(pp, rng=random.Random(3))
    proof2, _ = zsc.prove_zk(
        pp, [ch.tables[0]], rel2, t, claim=false_final, eq_point=point, acc=acc, rng=random.Random(4)
    )
    zp = acc.prove(t)
    acc_v, tv = ZeroAccumulator(pp), Transcript("discharge")
    zsc.verify_zk(pp, proof2, rel2, n, res.finals[0], tv, eq_point=point, acc=acc_v)
    with pytest.raises(VerificationError, match="zero checks failed"):
        acc_v.verify(zp, tv)


@pytest.mark.parametrize("case", [PROD2, EQ_PUB], ids=["prod", "eq-pub"])
def test_mask_chosen_after_the_round_challenges_is_rejected(pp, case):
    """Fiat–Shamir ordering of the mask. The rounds are never checked against m itself: only ``<m, w_M>`` (in S')
    and ``m(r)`` (at the end) are. So a prover who may choose m after the r_i sends the rounds of f shifted to any
    false claim and solves two linear equations for m — every check passes. The verifier's absorb of ``C_m`` before
    ρ (hence before every r_i) is what rules it out: the same cheater against a transcript that drops that absorb
    (on both sides) is accepted."""
    ch = _cheat(pp, case, 3, "late-mask")
    assert ch.zero_check_value == 0
    with pytest.raises(VerificationError):
        _verify_cheat(pp, ch)
    # negative control: without the absorb the attack succeeds (a false claim accepted)
    forgetful = _cheat(pp, case, 3, "late-mask", skip={"sumcheck-zk/mask"})
    assert forgetful.zero_check_value == 0
    _verify_cheat(pp, forgetful, skip={"sumcheck-zk/mask"})


@pytest.mark.parametrize("n", [0, 1])
def test_false_claim_with_few_rounds_is_rejected(pp, n):
    """n = 0 (no round: S' = s' + ρ·a_0 and claim_n = S') and n = 1, honest code on a false claim."""
    rel = sc.Relation.product(2)
    tables, _ = _tables(rel, n, 7)
    claim = PScalar.fresh(_true_sum(rel, tables, None) + 1)
    acc = _Permissive(pp)
    t = Transcript(LABEL)
    proof, _ = zsc.prove_zk(pp, tables, rel, t, claim=claim, acc=acc)
    zero = acc.prove(t)
    acc_v, tv = ZeroAccumulator(pp), Transcript(LABEL)
    zsc.verify_zk(pp, proof, rel, n, VScalar(claim.commitment(pp)), tv, acc=acc_v)
    with pytest.raises(VerificationError, match="zero checks failed"):
        acc_v.verify(zero, tv)


# =========================================================================================================
# batched proof of product: adaptive cheating provers
# =========================================================================================================
def _batch_proof(pp, items, xs, ys, t, rng, rho_x, rho_y):
    """The batch prover of ``sigma._prove_product_batch`` with the committed vectors ``xs``, ``ys`` given (the
    blindings of the items' X_k, Y_k, Z_k are the items')."""
    k = len(items)
    cx, cy = commit_vector(pp, xs, rho_x), commit_vector(pp, ys, rho_y)
    beta, xi = sigma._batch_vectors(t, k, cx, cy)
    bp, xp = sigma.powers(beta, k), sigma.powers(xi, k)
    rho_a, rho_b, s_x, s_y, tau1, tau2 = (random_scalar(rng) for _ in range(6))
    a = [random_scalar(rng) for _ in range(k)]
    b = [random_scalar(rng) for _ in range(k)]
    ca, cb = commit_vector(pp, a, rho_a), commit_vector(pp, b, rho_b)
    values = [
        sum(u * v for u, v in zip(a, bp)),
        sum(u * v for u, v in zip(b, bp)),
        sum(w * (ai * yi + xv * bi) for w, ai, yi, xv, bi in zip(xp, a, ys, xs, b)),
        sum(w * ai * bi for w, ai, bi in zip(xp, a, b)),
    ]
    first = (ca, cb, *commit_values(pp, [v % R for v in values], [s_x, s_y, tau1, tau2]))
    c = sigma._batch_first(t, first)
    blinds = (
        (rho_x + c * rho_a) % R,
        (rho_y + c * rho_b) % R,
        (sum(w * x.blind for w, (x, _, _) in zip(bp, items)) + c * s_x) % R,
        (sum(w * y.blind for w, (_, y, _) in zip(bp, items)) + c * s_y) % R,
        (sum(w * z.blind for w, (_, _, z) in zip(xp, items)) + c * tau1 + c * c * tau2) % R,
    )
    proof = sigma.ProductBatchProof(
        cx,
        cy,
        first,
        tuple((u + c * v) % R for u, v in zip(xs, a)),
        tuple((u + c * v) % R for u, v in zip(ys, b)),
        blinds,
    )
    t.absorb_frs("products/responses", list(proof.field_elements()))
    return proof


def _peek_beta_xi(t, k, cx, cy):
    return sigma._batch_vectors(t.copy(), k, cx, cy)


def _finish(pp, t, rng, batch) -> ZeroProof:
    """The rest of the accumulator's proof (no zero checks: the Schnorr proof for W = O), after ``batch``."""
    tail = ZeroAccumulator(pp, rng=rng).prove(t)
    return dataclasses.replace(tail, products=(batch,))


def _factors(pp, t, rng, pairs):
    xs = [PScalar.fresh(x, rng) for x, _ in pairs]
    ys = [PScalar.fresh(y, rng) for _, y in pairs]
    t.absorb_g1s("test/factors", [v.commitment(pp) for v in xs + ys])  # the caller binds X_k, Y_k
    return xs, ys


def _verify_batch(pp, xs, ys, z_pts, proof, skip=()):
    t = _transcript(skip)
    t.absorb_g1s("test/factors", [v.commitment(pp) for v in xs + ys])
    acc = ZeroAccumulator(pp)
    for x, y, cz in zip(xs, ys, z_pts):
        receive_product(pp, VScalar(x.commitment(pp)), VScalar(y.commitment(pp)), cz, t, acc)
    acc.verify(proof, t)


PAIRS = [(6, 7), (5, 5), (2, 9), (11, 3)]


def _cheat_late_products(pp, skip=(), e=1000):
    """Two false products z_0 = x_0·y_0 + e, z_1 = x_1·y_1 − e/ξ: the ξ-combination cancels if ξ is known before
    the Z_k are fixed. The cheater absorbs honest placeholders, peeks ξ, then sends the false Z_k."""
    rng = random.Random(21)
    t = _transcript(skip)
    xs, ys = _factors(pp, t, rng, PAIRS)
    zs = [PScalar.fresh(x.value * y.value, rng) for x, y in zip(xs, ys)]
    for z in zs:
        t.absorb_g1("product/commitment", z.commitment(pp))
    rho_x, rho_y = random_scalar(rng), random_scalar(rng)
    vx, vy = [x.value for x in xs], [y.value for y in ys]
    _, xi = _peek_beta_xi(t, len(PAIRS), commit_vector(pp, vx, rho_x), commit_vector(pp, vy, rho_y))
    zs[0] = PScalar(zs[0].value + e, zs[0].blind)
    zs[1] = PScalar(zs[1].value - e * pow(xi, -1, R), zs[1].blind)
    items = list(zip(xs, ys, zs))
    batch = _batch_proof(pp, items, vx, vy, t, rng, rho_x, rho_y)
    return xs, ys, [z.commitment(pp) for z in zs], _finish(pp, t, rng, batch)


def test_products_chosen_after_xi_are_rejected(pp):
    xs, ys, z_pts, proof = _cheat_late_products(pp)
    with pytest.raises(VerificationError, match="proof of product failed"):
        _verify_batch(pp, xs, ys, z_pts, proof)
    # negative control: if the product commitments were not absorbed, the two false products pass
    skip = {"product/commitment"}
    xs, ys, z_pts, proof = _cheat_late_products(pp, skip)
    _verify_batch(pp, xs, ys, z_pts, proof, skip)


def _cheat_late_vectors(pp, skip=(), e=1000):
    """One false product z_0 = x_0·y_0 + e, absorbed honestly. The committed vector is x + δ with δ_0 = −β·δ_1 (so
    <δ, β> = 0: the β-check passes) and δ_1 = e/(ξ·y_1 − β·y_0) (so Σ ξ^k (z_k − x̃_k y_k) = 0): this needs β, ξ
    before C_x is fixed. The cheater peeks them with a placeholder C_x."""
    rng = random.Random(22)
    t = _transcript(skip)
    xs, ys = _factors(pp, t, rng, PAIRS)
    zs = [PScalar.fresh(x.value * y.value + (e if k == 0 else 0), rng) for k, (x, y) in enumerate(zip(xs, ys))]
    for z in zs:
        t.absorb_g1("product/commitment", z.commitment(pp))
    rho_x, rho_y = random_scalar(rng), random_scalar(rng)
    vx, vy = [x.value for x in xs], [y.value for y in ys]
    beta, xi = _peek_beta_xi(t, len(PAIRS), commit_vector(pp, vx, rho_x), commit_vector(pp, vy, rho_y))
    d1 = e * pow(xi * vy[1] - beta * vy[0], -1, R) % R
    vx = [(vx[0] - beta * d1) % R, (vx[1] + d1) % R, *vx[2:]]
    batch = _batch_proof(pp, list(zip(xs, ys, zs)), vx, vy, t, rng, rho_x, rho_y)
    return xs, ys, [z.commitment(pp) for z in zs], _finish(pp, t, rng, batch)


def test_factor_vector_chosen_after_beta_and_xi_is_rejected(pp):
    xs, ys, z_pts, proof = _cheat_late_vectors(pp)
    with pytest.raises(VerificationError, match="proof of product failed"):
        _verify_batch(pp, xs, ys, z_pts, proof)
    # negative control: if C_x, C_y were not absorbed before β and ξ, the false product passes
    skip = {"products/vectors"}
    xs, ys, z_pts, proof = _cheat_late_vectors(pp, skip)
    _verify_batch(pp, xs, ys, z_pts, proof, skip)


# =========================================================================================================
# chunk boundaries of the batched proof of product (the real PRODUCT_CHUNK = 256)
# =========================================================================================================
def _many_products(pp, count, lie=None, seed=30):
    """``count`` products registered through commit_product (``lie``: index committed as x·y + 1)."""
    rng = random.Random(seed)
    t = Transcript(LABEL)
    acc = _Permissive(pp, rng=rng)
    xs, ys, zs = [], [], []
    for k in range(count):
        x, y = PScalar.fresh(k + 2, rng), PScalar.fresh(3 * k + 1, rng)
        if k == lie:
            z = PScalar.fresh(x.value * y.value + 1, rng)
            t.absorb_g1("product/commitment", z.commitment(pp))
            acc.add_product(x, y, z)
        else:
            z = commit_product(pp, x, y, t, acc, rng=rng)
        xs.append(x)
        ys.append(y)
        zs.append(z)
    return xs, ys, [z.commitment(pp) for z in zs], acc.prove(t)


def _verify_many(pp, xs, ys, z_pts, proof):
    t = Transcript(LABEL)
    acc = ZeroAccumulator(pp)
    for x, y, cz in zip(xs, ys, z_pts):
        receive_product(pp, VScalar(x.commitment(pp)), VScalar(y.commitment(pp)), cz, t, acc)
    acc.verify(proof, t)


@pytest.fixture(scope="module")
def honest_257(pp):
    return _many_products(pp, PRODUCT_CHUNK + 1)


def test_chunk_boundary_honest_and_serialized(pp, honest_257):
    xs, ys, z_pts, proof = honest_257
    assert [len(pb.x_hat) for pb in proof.products] == [PRODUCT_CHUNK, 1]
    w = Writer()
    proof.write(w)
    with Reader(w.getvalue()) as r:
        back = ZeroProof.read(r, PRODUCT_CHUNK + 1)
    _verify_many(pp, xs, ys, z_pts, back)
    # the verifier derives the chunking from its own count: 256 products cannot be read from 257's proof
    with pytest.raises(ProofFormatError):
        with Reader(w.getvalue()) as r:
            ZeroProof.read(r, PRODUCT_CHUNK)


@pytest.mark.parametrize("lie", [PRODUCT_CHUNK - 1, PRODUCT_CHUNK])
def test_false_product_at_the_chunk_boundary_is_rejected(pp, lie):
    """The last product of the first batch, and the only product of the second (K = 1: no β/ξ randomness)."""
    xs, ys, z_pts, proof = _many_products(pp, PRODUCT_CHUNK + 1, lie=lie)
    with pytest.raises(VerificationError, match="proof of product failed"):
        _verify_many(pp, xs, ys, z_pts, proof)


def test_batches_cannot_be_swapped_or_products_moved_across_the_boundary(pp, honest_257):
    xs, ys, z_pts, proof = honest_257
    first, second = proof.products
    with pytest.raises(ProofFormatError):  # shapes differ
        _verify_many(pp, xs, ys, z_pts, dataclasses.replace(proof, products=(second, first)))
    # the 256th and 257th products exchanged on the verifier's side: each batch's statement changes
    order = list(range(PRODUCT_CHUNK - 1)) + [PRODUCT_CHUNK, PRODUCT_CHUNK - 1]
    with pytest.raises(VerificationError):
        _verify_many(pp, [xs[i] for i in order], [ys[i] for i in order], [z_pts[i] for i in order], proof)


# =========================================================================================================
# hardening: zero challenges (probability 1/r each under Fiat–Shamir; a malicious interactive verifier)
# =========================================================================================================
def _programmed(label, value):
    t = ProgrammableTranscript.from_transcript(Transcript(LABEL))
    t.arm(label, value)
    return t


def test_rho_zero_is_redrawn_and_does_not_reveal_the_committed_claim(pp):
    """A verifier whose ρ is 0 (programmed): both sides draw ρ again, so the masked sum and rounds are masked
    and the proof verifies."""
    rel = sc.Relation.product(2)
    tables, _ = _tables(rel, 3, 40)
    s = _true_sum(rel, tables, None)
    claim = PScalar.fresh(s)
    t = _programmed("sumcheck-zk/rho", 0)
    acc = ZeroAccumulator(pp)
    proof, _ = zsc.prove_zk(pp, tables, rel, t, claim=claim, acc=acc)
    zero = acc.prove(t)
    assert [c.values for c in t.record if c.label == "sumcheck-zk/rho"][0] == (0,)
    assert len([c for c in t.record if c.label == "sumcheck-zk/rho"]) == 2  # redrawn
    assert proof.masked_sum != s  # not the committed claim in the clear
    clear = sc.default_engine(tables, rel, None, s).message()
    assert list(proof.rounds[0]) != [clear[0], *clear[2:]]  # not f's first round polynomial
    tv = _programmed("sumcheck-zk/rho", 0)
    acc_v = ZeroAccumulator(pp)
    zsc.verify_zk(pp, proof, rel, 3, VScalar(claim.commitment(pp)), tv, acc=acc_v)
    acc_v.verify(zero, tv)


def test_batch_challenge_zero_is_redrawn_and_does_not_reveal_the_factors(pp):
    rng = random.Random(41)
    t = _programmed("products/c", 0)
    acc = ZeroAccumulator(pp, rng=rng)
    xs = [PScalar.fresh(v, rng) for v in (12, 34, 56)]
    ys = [PScalar.fresh(v, rng) for v in (78, 90, 11)]
    zs = [commit_product(pp, x, y, t, acc, rng=rng) for x, y in zip(xs, ys)]
    proof = acc.prove(t)
    drawn = [c.values for c in t.record if c.label == "products/c"]
    assert len(drawn) == 2 and drawn[0] == (0,) and drawn[1] != (0,)  # redrawn
    (pb,) = proof.products
    assert list(pb.x_hat) != [x.value for x in xs] and list(pb.y_hat) != [y.value for y in ys]
    tv = _programmed("products/c", 0)
    acc_v = ZeroAccumulator(pp)
    for x, y, z in zip(xs, ys, zs):
        receive_product(pp, VScalar(x.commitment(pp)), VScalar(y.commitment(pp)), z.commitment(pp), tv, acc_v)
    acc_v.verify(proof, tv)
