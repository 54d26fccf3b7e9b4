"""External review 2: the batched proof of dot product of the sumchecks' masks (commit d457b33).

Every ZK sumcheck commits its mask ``m_k`` on its own slice of a chunk of generator slots and registers
"``Y_k`` commits to ``<m_k, w_k>``"; at the end each chunk is proven with one Hyrax proof of dot product for the
``α``-combination. The batch only proves ``Y_k = <x_k, a>`` for the whole opening ``x_k`` of ``C_k`` against the
whole weight vector ``a`` of the chunk, so a cheating ``C_k`` may carry components on other items' slots, on
padding slots, beyond the ``L`` generators of the argument or on ``g_v``. The provers here do exactly that and
move a false claim into the component; each test names the check that catches it. Fiat–Shamir attacks come with
a negative control: the same cheater against a transcript that forgets one absorb (on both sides) is accepted.
"""

from __future__ import annotations

import dataclasses
import random

import pytest
from test_review_attacks import _Forgetful, _Permissive, _tables, _true_sum

from zkdl.commit import generators as G
from zkdl.commit import ipa as ipa_mod
from zkdl.commit import sigma
from zkdl.commit.pedersen import commit_vector, random_scalar
from zkdl.commit.sigma import (
    PRODUCT_CHUNK,
    PScalar,
    VScalar,
    ZeroAccumulator,
    commit_values,
    linear_p,
)
from zkdl.errors import ProofFormatError, SetupError, VerificationError
from zkdl.field import MODULUS as R
from zkdl.field import Fr
from zkdl.piop import sumcheck as sc
from zkdl.piop import zk_sumcheck as zsc
from zkdl.protocol.simulator import ProgrammableTranscript
from zkdl.transcript import Transcript

LABEL = "test/review2-attacks"
REL = sc.Relation.product(2)  # F = f0·f1, one committed product; degree 2
N = 2  # mask length n·d + 1 = 5: two items take slots [0, 5) and [5, 10), L = 16


@pytest.fixture(scope="module")
def pp():
    return G.PublicParams.ephemeral(PRODUCT_CHUNK)


def _transcript(skip=()):
    return _Forgetful.make(set(skip)) if skip else Transcript(LABEL)


def _prove_dot_batch_cross(params, items, slots, transcript, rng):
    """``sigma._prove_dot_batch`` for openings with parts outside their own slice: an item may carry a sixth
    entry, ``{slot: value}`` added to its opening (slots ≥ L and ``"gv"`` cannot be opened over ``g_0 … g_{L−1}``;
    the cheater runs the honest argument on the part it can represent). ``Y_k`` is used as committed."""
    alpha = sigma._dot_first(transcript, len(items), slots)
    ap = sigma.powers(alpha, len(items))
    size = sigma._next_pow2(slots)
    x = [0] * size
    a_vec = sigma.dot_batch_weights(items, slots)
    a_ints = a_vec.to_ints()
    y_gap = 0  # Σ α^k (value committed in Y_k − <x_k, a>): nonzero for a lying Y
    for w, it in zip(ap, items):
        xk = [0] * size
        off, vec = it[0], it[3]
        for i, v in enumerate(vec):
            xk[off + i] = v
        for j, v in (it[5] if len(it) > 5 else {}).items():
            if isinstance(j, int) and j < size:
                xk[j] = (xk[j] + v) % R
        x = [(u + w * v) % R for u, v in zip(x, xk)]
        y_gap += w * (it[2].value - sum(u * v for u, v in zip(xk, a_ints)))
    rho = sum(w * it[4] for w, it in zip(ap, items)) % R
    r_y = sum(w * it[2].blind for w, it in zip(ap, items)) % R
    d = Fr.from_ints([random_scalar(rng) for _ in range(size)])
    r_delta, r_beta = random_scalar(rng), random_scalar(rng)
    delta = commit_vector(params, d.to_ints(), r_delta)
    (beta,) = commit_values(params, [d.inner(a_vec)], [r_beta])
    c = sigma._dot_challenge(transcript, delta, beta)
    z = Fr.from_ints(x).axpy(c, d)
    z_delta, z_beta = (c * rho + r_delta) % R, (c * r_y + r_beta) % R
    # w as the value check c·Y' + β = w·g_v + z_β·h needs it (<z, a> for an honest Y), then the honest rounds
    w_sent = (z.inner(a_vec) + c * y_gap) % R
    xi = ipa_mod._absorb_responses(transcript, z_delta, z_beta, w_sent)
    left, right, z_final = ipa_mod.inner_product_rounds(params, transcript, z, a_vec, xi)
    ipa = ipa_mod.InnerProductProof(w_sent, left, right, z_final)
    return sigma.DotBatchProof(delta, beta, z_delta, z_beta, ipa)


@pytest.fixture
def cross(monkeypatch):
    monkeypatch.setattr(sigma, "_prove_dot_batch", _prove_dot_batch_cross)


def _extra_point(pp, extra):
    pts, cs = [], []
    for j, v in extra.items():
        pts.append(pp.g_v if j == "gv" else pp.gens(j + 1)[j])
        cs.append(v)
    return sigma.lincomb(pts, cs)


def _sumcheck(pp, t, acc, seed, *, delta=0, extra_for=None, y_shift_for=None, rng):
    """One ZK sumcheck of ``REL`` over ``N`` variables on ``t``/``acc``; returns what the verifier needs.

    Honest rounds (``S' = s + ρ·M`` for the *true* sum ``s``) for a claim committed to ``s + delta``. The mask
    commitment is ``C = Σ m_j g_{off+j} + ρ_m h + Σ extra[j]·g_j`` with ``extra = extra_for(ρ̂, acc)`` chosen before
    ``C`` is absorbed (``ρ̂``: the ``ρ`` a transcript without ``C`` would give). ``Y`` commits to
    ``<m, w> + y_shift_for(ρ, γ)`` (default 0); the batch proves ``Y`` against the whole opening of ``C``."""
    tables, u = _tables(REL, N, seed)
    s = _true_sum(REL, tables, u)
    claim = PScalar.fresh(s + delta, rng)
    plan = zsc._plan(REL, frozenset())
    eng = sc.default_engine(tables, REL, u, s)
    d, k_mask = REL.degree, zsc.mask_length(N, REL.degree)
    zsc._start_zk(t, N, REL, u, frozenset())  # as prove_zk: the claim is not absorbed
    mask = [random_scalar(rng) for _ in range(k_mask)]
    m_blind = random_scalar(rng)
    offset = acc.allocate(k_mask)
    rho_hat = Transcript.copy(t).challenge_nonzero_fr("sumcheck-zk/rho")
    extra = extra_for(rho_hat, acc) if extra_for else {}
    mask_pt = commit_vector(pp, mask, m_blind, offset=offset)
    if extra:
        mask_pt = mask_pt + _extra_point(pp, extra)
    t.absorb_g1("sumcheck-zk/mask", mask_pt)
    rho = t.challenge_nonzero_fr("sumcheck-zk/rho")
    masked_sum = (s + rho * sum(a * b for a, b in zip(mask, zsc.mask_sum_weights(N, d)))) % R
    t.absorb_fr("sumcheck-zk/masked-sum", masked_sum)
    cur, prefix, rounds, point = masked_sum, mask[0], [], []
    for i in range(N):
        msg = eng.message()
        q = zsc.mask_round_values(mask, N, d, i, prefix)
        p = [(a + rho * b) % R for a, b in zip(msg, q)]
        sent = (p[0], *p[2:])
        t.absorb_frs("sumcheck-zk/round", list(sent))
        r = t.challenge_fr("sumcheck-zk/r")
        cur = sum(c * e for c, e in zip(zsc.lagrange_coeffs(d + 1, r), p)) % R
        prefix = (prefix + zsc.mask_at(mask, d, i, r)) % R
        rounds.append(sent)
        point.append(r)
        eng.bind(r)
    finals = eng.finals()
    vals = {(k,): PScalar.fresh(finals[k], rng) for k in plan.secret}
    f_pts = [vals[(k,)].commitment(pp) for k in plan.secret]
    t.absorb_g1s("sumcheck-zk/finals", f_pts)
    for key, left, right in plan.products:
        vals[key] = PScalar.fresh(vals[left].value * vals[right].value, rng)
        acc.add_product(vals[left], vals[right], vals[key])
    p_pts = [vals[k].commitment(pp) for k, _, _ in plan.products]
    t.absorb_g1s("sumcheck-zk/products", p_pts)
    total = zsc._final_combination(plan, vals, {}, 1, linear_p)
    gamma = t.challenge_fr("sumcheck-zk/gamma")
    weights = zsc.mask_check_weights(N, d, point, gamma)
    y_own = sum(a * b for a, b in zip(mask, weights)) % R
    y = PScalar.fresh(y_own + (y_shift_for(rho, gamma, acc) if y_shift_for else 0), rng)
    t.absorb_g1("sumcheck-zk/mask-value", y.commitment(pp))
    acc._check_kind([y])
    acc._dots[-1].append((offset, weights, y, mask, m_blind, extra))
    check = claim + total * gamma + y * rho - (masked_sum + gamma * cur)
    acc.add(check, "sumcheck final check")
    proof = zsc.ZkSumcheckProof(mask_pt, masked_sum, tuple(rounds), tuple(f_pts), tuple(p_pts), y.commitment(pp))
    return proof, claim, u, check.value


class _Recording(_Forgetful):
    """A transcript (forgetful of ``skip``) that records its challenges by label."""

    @classmethod
    def make(cls, skip: set[str]) -> _Recording:
        t = super().make(skip)
        t.seen = {}
        return t

    def challenge_frs(self, label, n):
        out = super().challenge_frs(label, n)
        self.seen.setdefault(label, []).extend(out)
        return out


def _prove_items(pp, items, t, seed):
    rng = random.Random(seed)
    acc = _Permissive(pp, rng=rng)
    runs = [_sumcheck(pp, t, acc, 10 + i, rng=rng, **kw) for i, kw in enumerate(items)]
    return runs, acc.prove(t), acc.dot_slots


def _verify_items(pp, runs, zero, tv, slots):
    acc_v = ZeroAccumulator(pp)
    for proof, claim, u, _ in runs:
        zsc.verify_zk(pp, proof, REL, N, VScalar(claim.commitment(pp)), tv, eq_point=u, acc=acc_v)
    acc_v.verify(zero, tv)
    assert acc_v.dot_slots == slots


def _run(pp, items, *, skip=(), seed=0):
    """Prove the items (keyword arguments of :func:`_sumcheck`) in one accumulator, then verify them with the
    real verifier; returns the cheater's zero-check values (0 where the lie was moved out of the zero check)."""
    runs, zero, slots = _prove_items(pp, items, _transcript(skip), seed)
    _verify_items(pp, runs, zero, _transcript(skip), slots)
    return [r[3] for r in runs]


def test_harness_accepts_honest_items_and_a_cross_slot_part_that_the_value_of_y_accounts_for(pp, cross):
    """Positive control: the harness's honest proofs verify; and a mask commitment with a part on the earlier
    item's slots passes the batch when ``Y`` commits to the whole ``<x_k, a>`` (the batch does not confine an
    opening to its own slice — the soundness argument must, and does, not rely on that)."""
    assert _run(pp, [{}, {}]) == [0, 0]

    def extra_on_item0(_rho_hat, acc):
        return {1: 12345}  # slot 1: item 0's a_0-weight slot... any slot of item 0

    def y_shift(_rho, _gamma, acc):
        w0 = acc._dots[-1][0][1]
        return 12345 * w0[1] % R

    # a true claim, Y shifted by the cross part: the batch accepts, the zero check sees ρ·e ≠ 0
    with pytest.raises(VerificationError, match="zero checks failed"):
        _run(pp, [{}, {"extra_for": extra_on_item0, "y_shift_for": y_shift}])


def _earlier_cheater(delta):
    """Item 1 proves ``s + delta``: ``C_1`` carries ``v`` on item 0's slot 0 with ``e = v·w_0[0] = −delta/ρ̂``;
    ``Y_1`` commits to ``<m, w_1> + e`` (true for the batch). The zero check is ``delta + ρ·e``: zero iff ``ρ = ρ̂``."""

    chosen = {}

    def extra_for(rho_hat, acc):
        w0 = acc._dots[-1][0][1]
        chosen["e"] = -delta * pow(rho_hat, -1, R) % R
        return {0: chosen["e"] * pow(w0[0], -1, R) % R}

    def y_shift(_rho, _gamma, _acc):
        return chosen["e"]

    return {"delta": delta, "extra_for": extra_for, "y_shift_for": y_shift}


def test_false_claim_moved_onto_an_earlier_items_slots_is_caught_by_the_zero_check(pp, cross):
    """The part on an earlier item's slots is a constant ``e`` fixed when ``C_k`` is absorbed, before ``ρ_k``: it
    cancels ``delta`` only for the ``ρ`` it was aimed at. Negative control: with a transcript that does not absorb
    ``C_k`` (so ``ρ`` is known before ``C_k`` is chosen), the same cheater proves a false claim."""
    with pytest.raises(VerificationError, match="zero checks failed"):
        _run(pp, [{}, _earlier_cheater(7)])
    assert _run(pp, [{}, _earlier_cheater(7)], skip={"sumcheck-zk/mask"}) == [0, 0]  # false claim accepted


K_MASK = zsc.mask_length(N, REL.degree)


def _later_cheater(delta):
    """Item 0 proves ``s + delta``: ``Y_0`` commits to ``<m, w_0> − delta/ρ`` (its zero check holds) and ``C_0``
    carries a part on item 1's slots hoping that ``<v, w_1>`` equals that shift; ``w_1`` is drawn after ``Y_0``."""

    def extra_for(_rho_hat, _acc):
        return {K_MASK + j: random.Random(j).randrange(R) for j in range(K_MASK)}

    def y_shift(rho, _gamma, _acc):
        return -delta * pow(rho, -1, R) % R

    return {"delta": delta, "extra_for": extra_for, "y_shift_for": y_shift}


def test_false_claim_moved_onto_a_later_items_slots_is_caught_by_the_batched_value_check(pp, cross):
    with pytest.raises(VerificationError, match=r"batched proof of dot product \(masks\)"):
        _run(pp, [_later_cheater(7), {}])


def test_part_in_the_kernel_of_w_m_on_a_later_items_slots_still_meets_gamma(pp, cross):
    """A part ``v`` with ``<v, w_M> = 0`` on item 1's slots (so only ``γ_1·<v, w_r(r_1)>`` remains) and an
    unshifted ``Y_0``: the batch still sees the nonzero ``γ_1``-term."""
    k = zsc.mask_length(N, REL.degree)
    w_m = zsc.mask_sum_weights(N, REL.degree)
    v = [0] * k
    v[0], v[1] = w_m[1], (-w_m[0]) % R  # <v, w_M> = 0

    def extra_for(_rho_hat, _acc):
        return {k + j: x for j, x in enumerate(v) if x}

    with pytest.raises(VerificationError, match=r"batched proof of dot product \(masks\)"):
        _run(pp, [{"extra_for": extra_for}, {}])


@pytest.mark.parametrize("where", ["padding", "beyond-L", "gv"])
def test_false_claim_moved_onto_padding_beyond_l_or_g_v_is_rejected(pp, cross, where):
    """Two items use 10 slots, L = 16: slots 10…15 are padding (weight 0), 16 is beyond the argument's generators.
    The cheater commits ``Y = <m, w> − delta/ρ`` (its zero check holds) and hides the matching part of ``C`` on a
    padding slot (weight 0: no effect), on ``g_16`` or on ``g_v`` (not openable over ``g_0 … g_15``, ``h``). Its
    ``w`` satisfies the value check for the lying ``Y``; the inner-product check (``ξ`` drawn after ``w``) rejects."""
    slot = {"padding": 12, "beyond-L": 16, "gv": "gv"}[where]

    def extra_for(_rho_hat, _acc):
        return {slot: 999}

    def y_shift(rho, _gamma, _acc):
        return -7 * pow(rho, -1, R) % R

    # the cheater's w matches Y′ (value check holds); the inner-product check, ξ drawn after w, catches it
    with pytest.raises(VerificationError, match="inner-product argument check failed"):
        _run(pp, [{}, {"delta": 7, "extra_for": extra_for, "y_shift_for": y_shift}])


def _y_after_alpha_cheat(pp, skip):
    """Two items; item 1 proves ``s + 7``. The transcript of the batch and of the zero checks never depends on the
    *values* committed in the ``Y_k`` (only on their blindings), so a prover whose ``Y_k`` were not absorbed could
    first run everything with honest ``Y_k``, read ``α``, the ``ρ_k`` and the zero checks' ``γ_k``, then shift
    ``Y_0``, ``Y_1`` by ``ΔY_0 + α·ΔY_1 = 0`` (the batch) and ``Σ γ_k (δ_k + ρ_k ΔY_k) = 0`` (the zero checks)."""
    shift = {}
    items = [
        {"y_shift_for": lambda *_: shift.get(0, 0)},
        {"delta": 7, "y_shift_for": lambda *_: shift.get(1, 0)},
    ]
    t = _Recording.make(set(skip))
    _prove_items(pp, items, t, seed=3)
    (alpha,), (rho0, rho1), (g0, g1) = t.seen["masks/alpha"], t.seen["sumcheck-zk/rho"], t.seen["zero/gamma"]
    shift[1] = -7 * g1 * pow(g1 * rho1 - g0 * rho0 * alpha, -1, R) % R
    shift[0] = -alpha * shift[1] % R
    runs, zero, slots = _prove_items(pp, items, _Recording.make(set(skip)), seed=3)
    assert [r[3] for r in runs] != [0, 0]  # both final checks are false; only their γ-combination vanishes
    _verify_items(pp, runs, zero, _Recording.make(set(skip)), slots)


def test_mask_values_chosen_after_alpha_and_the_zero_gammas_are_rejected(pp, cross):
    """Fiat–Shamir ordering of ``Y_k``: absorbed (``sumcheck-zk/mask-value``) before ``α`` and the zero checks'
    ``γ``. Negative control: without that absorb (both sides) the two-pass cheater proves a false claim."""
    with pytest.raises(VerificationError):
        _y_after_alpha_cheat(pp, skip=())
    _y_after_alpha_cheat(pp, skip={"sumcheck-zk/mask-value"})  # false claim accepted


# =========================================================================================================
# hardening: typed errors and zero challenges (the review's findings, fixed)
# =========================================================================================================
def test_mask_longer_than_a_chunk_is_a_setup_error(pp, monkeypatch):
    monkeypatch.setattr(sigma, "DOT_CHUNK", 16)  # n·d + 1 = 17 > 16, as n = 683, d = 3 against 2,048
    rel = sc.Relation.product(2)
    tables, _ = _tables(rel, 8, 0)
    with pytest.raises(SetupError):
        zsc.prove_zk(
            pp,
            tables,
            rel,
            Transcript(LABEL),
            claim=PScalar.fresh(_true_sum(rel, tables, None)),
            acc=ZeroAccumulator(pp),
        )


def test_batched_dot_proof_with_a_foreign_ipa_is_a_format_error(pp, cross):
    runs, zero, slots = _prove_items(pp, [{}], Transcript(LABEL), seed=1)
    bad = sigma.ZeroProof(zero.a, zero.s, zero.products, (dataclasses.replace(zero.dots[0], ipa=None),))
    with pytest.raises(ProofFormatError):
        _verify_items(pp, runs, bad, Transcript(LABEL), slots)


def test_part_on_another_chunks_item_slots_meets_this_chunks_weights(pp, cross, monkeypatch):
    """Chunks reuse the generators ``g_0 …``: with 16-slot chunks, items 0–2 fill slots 0–14 of chunk 0 and item 3
    opens chunk 1 (slots 0–4, L = 8). Item 3 puts its lie on ``g_5`` (item 1's first slot in chunk 0) with
    ``Y_3`` shifted by ``v·w_1[0]`` and ``ρ`` known in advance (no mask absorb): in chunk 1, ``g_5`` is a padding
    slot of weight 0, so the chunk-1 batch rejects (its inner-product check: ``w`` was fitted to the lying
    ``Y_3``); the same cheater aiming at an item of its own chunk passes
    (:func:`test_false_claim_moved_onto_an_earlier_items_slots_is_caught_by_the_zero_check`)."""
    monkeypatch.setattr(sigma, "DOT_CHUNK", 16)
    chosen = {}

    def extra_for(rho_hat, acc):
        assert acc.dot_slots == [15, 5]
        w1 = acc._dots[0][1][1]  # chunk 0, item 1 (slots 5–9)
        chosen["e"] = -7 * pow(rho_hat, -1, R) % R
        return {5: chosen["e"] * pow(w1[0], -1, R) % R}

    cheater = {"delta": 7, "extra_for": extra_for, "y_shift_for": lambda *_: chosen["e"]}
    with pytest.raises(VerificationError, match=r"batched proof of dot product \(masks\): inner-product argument"):
        _run(pp, [{}, {}, {}, cheater], skip={"sumcheck-zk/mask"})


def _armed(label, value):
    t = ProgrammableTranscript.from_transcript(Transcript(LABEL))
    t.arm(label, value)
    return t


@pytest.mark.parametrize("label", ["hyrax-eval-zk/xi", "masks/alpha"])
def test_zero_xi_or_alpha_lets_a_lying_mask_value_through(pp, cross, label):
    """Item 1 proves ``s + 7`` with ``Y_1 = <m, w_1> − 7/ρ`` (its zero check holds) and sends ``w = <z, a> + c·α·ΔY``
    so that the value check holds. With an ordinary transcript: rejected. With ``ξ = 0`` the inner-product check
    ignores ``w``; with ``α = 0`` item 1 is not in the batch at all. Both are now drawn nonzero (a programmed 0 is
    redrawn), so the lie is rejected either way."""
    lie = {"delta": 7, "y_shift_for": lambda rho, *_: -7 * pow(rho, -1, R) % R}
    with pytest.raises(VerificationError):  # with ordinary challenges: rejected
        _run(pp, [{}, lie])
    runs, zero, slots = _prove_items(pp, [{}, lie], _armed(label, 0), seed=0)
    with pytest.raises(VerificationError):
        _verify_items(pp, runs, zero, _armed(label, 0), slots)
