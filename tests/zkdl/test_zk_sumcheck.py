"""Zero-knowledge sumcheck: completeness, soundness against tampering, committed finals, leak detection."""

from __future__ import annotations

import dataclasses
import random

import numpy as np
import pytest

from zkdl.commit import generators as G
from zkdl.commit.pedersen import commit_value
from zkdl.commit.sigma import PScalar, VScalar, ZeroAccumulator, ZeroProof
from zkdl.errors import ProofFormatError, VerificationError
from zkdl.field import MODULUS as R
from zkdl.field import Fr
from zkdl.piop import sumcheck as sc
from zkdl.piop import zk_sumcheck as zsc
from zkdl.serialize import Reader, Writer
from zkdl.transcript import Transcript

# (relation, public table indices)
CASES = [
    (sc.Relation.product(1), ()),  # degree 1, one secret table
    (sc.Relation.product(2), ()),  # degree 2, one product
    (sc.Relation.product(3), ()),  # degree 3, chained product
    (sc.Relation.product(2, eq_weighted=True), ()),
    (sc.Relation.product(2, eq_weighted=True), (1,)),  # eq-weighted, one public table
    (sc.Relation(3, ((5, (0, 1)), (R - 1, (2,)), (7, (1, 2))), eq_weighted=True), (2,)),
    (sc.Relation(2, ((3, (0,)), (1, (0, 1)), (2, (1, 1, 0)))), ()),  # shared product (0,1) and a square
    (sc.Relation(3, ((1, (0, 1, 2)), (2, (0, 2)), (3, (2,)), (4, (1,)))), (1,)),
    (sc.Relation(2, ((2, (0, 1)), (1, (1,)))), (0, 1)),  # all tables public
]
IDS = [f"deg{r.degree}-t{r.n_tables}-eq{int(r.eq_weighted)}-pub{''.join(map(str, p))}" for r, p in CASES]


@pytest.fixture(scope="module")
def pp():
    return G.PublicParams.ephemeral(128)  # a mask of up to 127 slots, the product batches


@dataclasses.dataclass
class Run:
    rel: sc.Relation
    public: tuple[int, ...]
    n: int
    tables: list
    u: list | None
    claim: PScalar
    proof: zsc.ZkSumcheckProof
    zero: object
    res: zsc.ZkSumcheckResult
    transcript: Transcript


def _setup(rel, n, seed):
    rng = np.random.default_rng(seed)
    tables = [Fr.random(1 << n, rng=rng) for _ in range(rel.n_tables)]
    u = [int(x) for x in rng.integers(0, 2**62, n)] if rel.eq_weighted else None
    return tables, u


def _true_sum(rel, tables, u):
    vals = [t.to_ints() for t in tables]
    eq = Fr.eq_table(u).to_ints() if rel.eq_weighted else [1] * len(vals[0])
    return sum(rel.evaluate([v[i] for v in vals], eq[i]) for i in range(len(vals[0]))) % R


def _prove(pp, rel, public, n, seed=0, rng=None, claim=None):
    tables, u = _setup(rel, n, seed)
    claim = claim or PScalar.fresh(_true_sum(rel, tables, u), rng)
    acc = ZeroAccumulator(pp, rng=rng)
    t = Transcript("test/zk-sumcheck")
    proof, res = zsc.prove_zk(pp, tables, rel, t, claim=claim, eq_point=u, public=frozenset(public), acc=acc, rng=rng)
    zero = acc.prove(t)
    return Run(rel, tuple(public), n, tables, u, claim, proof, zero, res, t)


def _verify(pp, run: Run, proof=None, zero=None, claim_pt=None):
    acc = ZeroAccumulator(pp)
    t = Transcript("test/zk-sumcheck")
    claim = VScalar(claim_pt if claim_pt is not None else run.claim.commitment(pp))
    public = {k: (lambda pt, k=k: run.tables[k].evaluate(list(pt))) for k in run.public}
    res = zsc.verify_zk(pp, proof or run.proof, run.rel, run.n, claim, t, eq_point=run.u, public=public, acc=acc)
    acc.verify(zero or run.zero, t)
    return res, t


# ------------------------------------------------------------------------------------------ completeness
@pytest.mark.parametrize("case", CASES, ids=IDS)
@pytest.mark.parametrize("n", [0, 1, 4])
def test_honest_proofs_verify_and_finals_open_to_true_evaluations(pp, case, n):
    rel, public = case
    run = _prove(pp, rel, public, n, seed=n)
    res, tv = _verify(pp, run)
    assert tv.state_digest() == run.transcript.state_digest()
    assert res.point == run.res.point and len(res.point) == n
    secret = [k for k in range(rel.n_tables) if k not in public]
    assert sorted(res.finals) == sorted(run.res.finals) == secret
    for k in secret:
        # prover side: the committed final is the true MLE evaluation; verifier side: the same commitment
        assert run.res.finals[k].value == run.tables[k].evaluate(list(res.point))
        assert res.finals[k].commitment(pp) == run.res.finals[k].commitment(pp)
        assert res.finals[k].commitment(pp) == commit_value(pp, run.res.finals[k].value, run.res.finals[k].blind)
    for k in public:
        assert res.public_values[k] == run.res.public_values[k] == run.tables[k].evaluate(list(res.point))
    # shape: d field elements per round, a mask of n·d + 1 coefficients
    assert all(len(m) == rel.degree for m in run.proof.rounds)
    assert len(run.zero.dots) == 1  # the mask's dot product: in the accumulator's batched proof
    assert len(run.zero.dots[0].ipa.left) == (n * rel.degree).bit_length()  # n·d + 1 slots, padded


def test_products_are_planned_once_and_chained(pp):
    rel = sc.Relation(3, ((1, (0, 1, 2)), (2, (0, 1)), (3, (1, 2)), (1, (2, 2))))
    run = _prove(pp, rel, (), 3)
    # (0,1) shared by the first two terms, (0,1,2) chained on it, (1,2) and (2,2) separate
    assert len(run.proof.products) == 4 and len(run.zero.products) == 1
    assert len(run.zero.products[0].x_hat) == 4  # the four products, proven together
    _verify(pp, run)


def test_finals_chain_as_claims_into_a_second_sumcheck(pp):
    """The committed final of one sumcheck is the claim of the next (as the training proof chains them)."""
    rng = random.Random(1)
    rel1 = sc.Relation.product(2)
    run = _prove(pp, rel1, (), 3, seed=5, rng=rng)
    f0 = run.res.finals[0]  # f0 = t0~(r); prove it again as Σ_x eq(r, x)·t0(x)
    rel2 = sc.Relation.product(1, eq_weighted=True)
    acc = ZeroAccumulator(pp, rng=rng)
    t = Transcript("chain")
    point = list(run.res.point)
    proof2, res2 = zsc.prove_zk(pp, [run.tables[0]], rel2, t, claim=f0, eq_point=point, acc=acc, rng=rng)
    zp = acc.prove(t)
    res_v, _ = _verify(pp, run)
    acc_v = ZeroAccumulator(pp)
    tv = Transcript("chain")
    zsc.verify_zk(pp, proof2, rel2, 3, res_v.finals[0], tv, eq_point=point, acc=acc_v)
    acc_v.verify(zp, tv)
    with pytest.raises(VerificationError):  # chained into the wrong final
        acc_v = ZeroAccumulator(pp)
        tv = Transcript("chain")
        zsc.verify_zk(pp, proof2, rel2, 3, res_v.finals[1], tv, eq_point=point, acc=acc_v)
        acc_v.verify(zp, tv)


# ------------------------------------------------------------------------------------------ soundness
TAMPER_CASE = (sc.Relation(3, ((5, (0, 1)), (R - 1, (2,)), (7, (0, 1, 2)))), ())


@pytest.fixture(scope="module")
def tamper_run(pp):
    rel, public = TAMPER_CASE
    return _prove(pp, rel, public, 3, seed=11)


def _replace_round(proof, i, j, pt):
    rounds = [list(m) for m in proof.rounds]
    rounds[i][j] = pt
    return dataclasses.replace(proof, rounds=tuple(tuple(m) for m in rounds))


def test_tampered_round_value_is_rejected(pp, tamper_run):
    run = tamper_run
    for i in range(run.n):
        for j in range(run.rel.degree):
            bad = _replace_round(run.proof, i, j, (run.proof.rounds[i][j] + 1) % R)
            with pytest.raises(VerificationError):
                _verify(pp, run, proof=bad)


def test_tampered_mask_or_masked_sum_is_rejected(pp, tamper_run):
    run = tamper_run
    p = run.proof
    for bad in (
        dataclasses.replace(p, masked_sum=(p.masked_sum + 1) % R),
        dataclasses.replace(p, mask=p.mask + pp.h),
        dataclasses.replace(p, mask=p.mask + pp.gens(1)[0]),
        dataclasses.replace(p, mask_value=p.mask_value + pp.g_v),
    ):
        with pytest.raises(VerificationError):
            _verify(pp, run, proof=bad)
    (db,) = run.zero.dots
    ipa = db.ipa
    for bad_db in (
        dataclasses.replace(db, delta=db.delta + pp.h),
        dataclasses.replace(db, beta=db.beta + pp.g_v),
        dataclasses.replace(db, z_delta=(db.z_delta + 1) % R),
        dataclasses.replace(db, z_beta=(db.z_beta + 1) % R),
        dataclasses.replace(db, ipa=dataclasses.replace(ipa, z_dot_a=(ipa.z_dot_a + 1) % R)),
        dataclasses.replace(db, ipa=dataclasses.replace(ipa, z_final=(ipa.z_final + 1) % R)),
        dataclasses.replace(db, ipa=dataclasses.replace(ipa, left=(ipa.left[0] + pp.h, *ipa.left[1:]))),
    ):
        with pytest.raises(VerificationError):
            _verify(pp, run, zero=dataclasses.replace(run.zero, dots=(bad_db,)))


class _PermissiveAccumulator(ZeroAccumulator):
    """A cheating prover's accumulator: it takes nonzero values without complaint and proves anyway."""

    def add(self, item, what=""):
        self._kind = type(item)
        self._items.append(item)
        self._what.append(what)


@pytest.mark.parametrize("delta", [1, R - 1, 2**100])
@pytest.mark.parametrize("case", [CASES[1], CASES[5], TAMPER_CASE], ids=["prod", "eq-pub", "chain"])
def test_cheating_prover_with_a_false_claim_is_rejected(pp, case, delta):
    """The attack: prove a false sum with the honest prover's code (mask, masked sum, rounds of the true
    polynomials, honest dot product), the failing zero check smuggled past the prover's own check. The masked
    sum S' = s' + ρ·M is then not the sum of f + ρ·m, so the final zero check fails."""
    rel, public = case
    n = 3
    tables, u = _setup(rel, n, 4)
    claim = PScalar.fresh(_true_sum(rel, tables, u) + delta)
    acc = _PermissiveAccumulator(pp)
    t = Transcript("test/zk-sumcheck")
    proof, res = zsc.prove_zk(pp, tables, rel, t, claim=claim, eq_point=u, public=frozenset(public), acc=acc)
    run = Run(rel, tuple(public), n, tables, u, claim, proof, acc.prove(t), res, t)
    with pytest.raises(VerificationError):
        _verify(pp, run)
    # the same harness with the true claim is accepted: the rejection is the false claim's
    honest = PScalar.fresh(_true_sum(rel, tables, u))
    acc = _PermissiveAccumulator(pp)
    t = Transcript("test/zk-sumcheck")
    proof, res = zsc.prove_zk(pp, tables, rel, t, claim=honest, eq_point=u, public=frozenset(public), acc=acc)
    _verify(pp, Run(rel, tuple(public), n, tables, u, honest, proof, acc.prove(t), res, t))


def test_tampered_final_commitment_is_rejected(pp, tamper_run):
    run = tamper_run
    for k in range(len(run.proof.finals)):
        finals = list(run.proof.finals)
        finals[k] = finals[k] + pp.g_v
        with pytest.raises(VerificationError):
            _verify(pp, run, proof=dataclasses.replace(run.proof, finals=tuple(finals)))


def test_tampered_product_commitment_or_batched_product_proof_is_rejected(pp, tamper_run):
    run = tamper_run
    assert len(run.proof.products) == 2 and len(run.zero.products) == 1
    for i in range(len(run.proof.products)):
        products = list(run.proof.products)
        products[i] = products[i] + pp.g_v
        with pytest.raises(VerificationError):
            _verify(pp, run, proof=dataclasses.replace(run.proof, products=tuple(products)))
    (pb,) = run.zero.products
    for bad in (
        dataclasses.replace(pb, cx=pb.cx + pp.h),
        dataclasses.replace(pb, x_hat=((pb.x_hat[0] + 1) % R,) + pb.x_hat[1:]),
        dataclasses.replace(pb, y_hat=pb.y_hat[:-1] + ((pb.y_hat[-1] + 1) % R,)),
        dataclasses.replace(pb, blinds=pb.blinds[:4] + ((pb.blinds[4] + 1) % R,)),
        dataclasses.replace(pb, first=pb.first[:5] + (pb.first[5] + pp.g_v,)),
    ):
        with pytest.raises(VerificationError):
            _verify(pp, run, zero=dataclasses.replace(run.zero, products=(bad,)))


def test_tampered_zero_proof_is_rejected(pp, tamper_run):
    run = tamper_run
    with pytest.raises(VerificationError):
        _verify(pp, run, zero=dataclasses.replace(run.zero, s=(run.zero.s + 1) % R))
    with pytest.raises(VerificationError):
        _verify(pp, run, zero=dataclasses.replace(run.zero, a=run.zero.a + pp.h))


def test_wrong_claim_commitment_is_rejected(pp, tamper_run):
    run = tamper_run
    for other in (run.claim.value + 1, 0):
        with pytest.raises(VerificationError):
            _verify(pp, run, claim_pt=commit_value(pp, other, run.claim.blind))
    with pytest.raises(VerificationError):  # right value, other blinding: the prover's proof is for another point
        _verify(pp, run, claim_pt=commit_value(pp, run.claim.value, run.claim.blind + 1))


def test_wrong_public_final_is_rejected(pp):
    rel, public = CASES[5]
    run = _prove(pp, rel, public, 3, seed=3)
    acc = ZeroAccumulator(pp)
    t = Transcript("test/zk-sumcheck")
    zsc.verify_zk(
        pp,
        run.proof,
        rel,
        3,
        VScalar(run.claim.commitment(pp)),
        t,
        eq_point=run.u,
        public={2: lambda pt: (run.tables[2].evaluate(list(pt)) + 1) % R},
        acc=acc,
    )
    with pytest.raises(VerificationError):
        acc.verify(run.zero, t)


def test_honest_prover_refuses_a_false_claim(pp):
    rel, public = CASES[1]
    tables, u = _setup(rel, 3, 0)
    with pytest.raises(ValueError, match="not zero"):
        _prove(pp, rel, public, 3, claim=PScalar.fresh(_true_sum(rel, tables, u) + 1))


def test_malformed_proof_shapes(pp, tamper_run):
    run = tamper_run
    p = run.proof
    for bad in (
        dataclasses.replace(p, rounds=p.rounds[:-1]),
        dataclasses.replace(p, rounds=(p.rounds[0][:-1],) + p.rounds[1:]),
        dataclasses.replace(p, finals=p.finals[:-1]),
        dataclasses.replace(p, products=p.products[:-1]),
        _replace_round(p, 0, 0, R),
        _replace_round(p, 0, 0, b"\x00" * 32),
        dataclasses.replace(p, masked_sum=R + 1),
        dataclasses.replace(p, mask=b"\x00" * 48),
        dataclasses.replace(p, mask_value=None),
    ):
        with pytest.raises(ProofFormatError):
            _verify(pp, run, proof=bad)


# ------------------------------------------------------------------------------------------ serialization
@pytest.mark.parametrize("case", [CASES[5], CASES[7], TAMPER_CASE], ids=["eq-pub", "chain-pub", "chain"])
def test_serialization_roundtrip(pp, case):
    rel, public = case
    run = _prove(pp, rel, public, 3, seed=2)
    w = Writer()
    run.proof.write(w)
    data = w.getvalue()
    assert len(data) == run.proof.n_bytes
    with Reader(data) as r:
        back = zsc.ZkSumcheckProof.read(r, 3, rel, public)
    assert back.points() == run.proof.points() and back.field_elements() == run.proof.field_elements()
    _verify(pp, run, proof=back)
    with pytest.raises(ProofFormatError):  # truncated
        with Reader(data[:-1]) as r:
            zsc.ZkSumcheckProof.read(r, 3, rel, public)
    with pytest.raises(ProofFormatError):  # read with another public shape: counts differ
        with Reader(data) as r:
            zsc.ZkSumcheckProof.read(r, 3, rel, () if public else (0,))
    with pytest.raises(ProofFormatError):  # a point off the curve / non-canonical
        with Reader(data[:8] + b"\xff" * 48 + data[56:]) as r:
            zsc.ZkSumcheckProof.read(r, 3, rel, public)


# ------------------------------------------------------------------------------------------ zero knowledge
def _true_round_values(run: Run) -> set[int]:
    """Every evaluation p_i(t), t = 0..d, of the true round polynomials along the proof's challenges."""
    eng = sc._RoundEngine(run.tables, run.rel, run.u)
    out: set[int] = set()
    for r in run.res.point:
        out |= set(eng.message())
        eng.bind(r)
    return out | set(eng.finals())


@pytest.mark.parametrize("case", [CASES[5], CASES[7], TAMPER_CASE], ids=["eq-pub", "chain-pub", "chain"])
def test_no_witness_value_appears_in_the_proof(pp, case):
    rel, public = case
    run = _prove(pp, rel, public, 4, seed=21)
    secret = {v for k, t in enumerate(run.tables) if k not in public for v in t.to_ints()}
    derived = _true_round_values(run) | {run.claim.value}
    derived |= {f.value for f in run.res.finals.values()}
    fes = set(run.proof.field_elements()) | {run.zero.s}
    assert fes  # masked sum and rounds, Σ-protocol responses, the Schnorr response
    fes |= set(run.zero.field_elements())
    assert not fes & secret
    assert not fes & derived
    # and no point is an unblinded commitment v·g_v to one of those values
    pts = {p.to_compressed_bytes() for p in [*run.proof.points(), *run.zero.points()]}
    for v in sorted(derived)[:64]:
        assert commit_value(pp, v, 0).to_compressed_bytes() not in pts


def _clear_messages(mask, n, d, point):
    """What the mask adds to the clear messages (masked sum, then p_i(0), p_i(2..d) per round) for fixed
    challenges: the linear map m ↦ messages of the zero-knowledge argument."""
    out = [sum(a * b for a, b in zip(mask, zsc.mask_sum_weights(n, d))) % R]
    prefix = mask[0]
    for i, r in enumerate(point):
        q = zsc.mask_round_values(mask, n, d, i, prefix)
        out += [q[0], *q[2:]]
        prefix = (prefix + zsc.mask_at(mask, d, i, r)) % R
    return out


def _rank_mod_r(rows):
    m = [list(r) for r in rows]
    rank, cols = 0, len(m[0]) if m else 0
    for c in range(cols):
        piv = next((i for i in range(rank, len(m)) if m[i][c] % R), None)
        if piv is None:
            continue
        m[rank], m[piv] = m[piv], m[rank]
        inv = pow(m[rank][c], -1, R)
        m[rank] = [x * inv % R for x in m[rank]]
        for i in range(len(m)):
            if i != rank and m[i][c]:
                f = m[i][c]
                m[i] = [(x - f * y) % R for x, y in zip(m[i], m[rank])]
        rank += 1
    return rank


@pytest.mark.parametrize("n,d", [(0, 1), (1, 2), (3, 3), (5, 2), (6, 3)])
def test_mask_covers_every_clear_message(n, d):
    """Zero knowledge of the clear part: the mask's map onto the clear messages is onto the space of messages
    that pass the round checks (dimension n·d + 1), so S' + ρ·(that map) is uniform there whatever f is. A mask
    without its top coefficients (the negative control) leaves directions of f's round polynomials uncovered."""
    rng = random.Random(n * 10 + d)
    point = [rng.randrange(R) for _ in range(n)]
    k = zsc.mask_length(n, d)
    units = [[int(i == j) for j in range(k)] for i in range(k)]
    columns = [_clear_messages(e, n, d, point) for e in units]
    assert len(columns[0]) == n * d + 1
    assert _rank_mod_r(columns) == n * d + 1
    # the same mask, linear: the messages of a random mask are the combination of the columns
    m = [rng.randrange(R) for _ in range(k)]
    assert _clear_messages(m, n, d, point) == [sum(a * c[i] for a, c in zip(m, columns)) % R for i in range(n * d + 1)]
    if n and d > 1:
        top = {1 + i * d + (d - 1) for i in range(n)}  # m_{i,d}
        assert _rank_mod_r([c for j, c in enumerate(columns) if j not in top]) < n * d + 1


def test_two_proofs_of_the_same_witness_share_nothing(pp):
    rel, public = TAMPER_CASE
    a = _prove(pp, rel, public, 4, seed=7)
    b = _prove(pp, rel, public, 4, seed=7)  # same tables and claim value; fresh OS randomness
    assert a.claim.value == b.claim.value
    pa = {p.to_compressed_bytes() for p in [*a.proof.points(), *a.zero.points()]}
    pb = {p.to_compressed_bytes() for p in [*b.proof.points(), *b.zero.points()]}
    assert len(pa) == len(a.proof.points()) + len(a.zero.points())
    assert not pa & pb
    fa = set(a.proof.field_elements()) | set(a.zero.field_elements())
    fb = set(b.proof.field_elements()) | set(b.zero.field_elements())
    assert not fa & fb
    _verify(pp, a)
    _verify(pp, b)


def test_seeded_rng_is_reproducible(pp):
    rel, public = CASES[2]
    a = _prove(pp, rel, public, 3, rng=random.Random(5))
    b = _prove(pp, rel, public, 3, rng=random.Random(5))
    assert a.proof.points() == b.proof.points() and a.zero == b.zero


def test_lagrange_coefficients_interpolate():
    rng = random.Random(3)
    for n_points in (1, 2, 3, 4):
        for x in [0, n_points - 1, n_points, R - 1] + [rng.randrange(R) for _ in range(5)]:
            ev = [rng.randrange(R) for _ in range(n_points)]
            got = sum(c * e for c, e in zip(zsc.lagrange_coeffs(n_points, x), ev)) % R
            assert got == sc.interpolate_at(ev, x)


def test_parameters_too_small_for_the_mask_are_a_setup_error(pp):
    """The mask of n·d + 1 coefficients needs as many vector generators: a typed error on both sides."""
    from zkdl.errors import SetupError

    small = G.PublicParams.ephemeral(8)
    rel = sc.Relation.product(3)
    tables, u = _setup(rel, 4, 0)
    with pytest.raises(SetupError, match="needs 13 vector generators"):
        zsc.prove_zk(
            small,
            tables,
            rel,
            Transcript("t"),
            claim=PScalar.fresh(_true_sum(rel, tables, u)),
            acc=ZeroAccumulator(small),
        )
    run = _prove(pp, rel, (), 4)
    with pytest.raises(SetupError, match="needs 13 vector generators"):
        _verify(small, run)


def test_masks_of_several_sumchecks_share_batched_proofs_by_chunk(pp, monkeypatch):
    """Three sumchecks in one accumulator: with 16-slot chunks, masks of 13 slots each take one chunk apiece (a
    mask never straddles two); with the default chunk all three share one batched proof of dot product. Tampering
    with the second chunk's proof, dropping a chunk or reading with other slots is rejected."""
    from zkdl.commit import sigma

    rel = sc.Relation.product(3)

    def prove_three():
        acc = ZeroAccumulator(pp)
        t = Transcript("chunks")
        out = []
        for seed in range(3):
            tables, u = _setup(rel, 4, seed)
            claim = PScalar.fresh(_true_sum(rel, tables, u))
            proof, _ = zsc.prove_zk(pp, tables, rel, t, claim=claim, acc=acc)
            out.append((proof, claim))
        return out, acc.dot_slots, acc.prove(t)

    def verify_three(runs, zero):
        acc = ZeroAccumulator(pp)
        t = Transcript("chunks")
        for proof, claim in runs:
            zsc.verify_zk(pp, proof, rel, 4, VScalar(claim.commitment(pp)), t, acc=acc)
        acc.verify(zero, t)
        return acc.dot_slots

    runs, slots, zero = prove_three()
    assert slots == [39] and len(zero.dots) == 1
    assert verify_three(runs, zero) == [39]
    monkeypatch.setattr(sigma, "DOT_CHUNK", 16)
    runs, slots, zero = prove_three()
    assert slots == [13, 13, 13] and len(zero.dots) == 3
    verify_three(runs, zero)
    bad = dataclasses.replace(zero.dots[1], z_beta=(zero.dots[1].z_beta + 1) % R)
    with pytest.raises(VerificationError, match="batched proof of dot product"):
        verify_three(runs, dataclasses.replace(zero, dots=(zero.dots[0], bad, zero.dots[2])))
    with pytest.raises(ProofFormatError, match="batched proofs of dot product"):
        verify_three(runs, dataclasses.replace(zero, dots=zero.dots[:2]))
    w = Writer()
    zero.write(w)
    n_products = sum(len(p.products) for p, _ in runs)
    with Reader(w.getvalue()) as r:
        assert ZeroProof.read(r, n_products, [13, 13, 13]) == zero
    with pytest.raises(ProofFormatError):  # other slots: other inner-product lengths
        with Reader(w.getvalue()) as r:
            ZeroProof.read(r, n_products, [13, 13, 40])
