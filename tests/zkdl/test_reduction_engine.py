"""The claim reduction's fused round engine and the opening that reuses its folding (issue 15).

The fused path (fold and next round's sums in one pass, shared eq tables accumulated in place) must send exactly
the generic engine's bytes, and the table it keeps after ``log_rows`` rounds must be the folded row the Hyrax
opening at the reduced point would compute itself, so that reusing it leaves the opening's bytes unchanged.
"""

from __future__ import annotations

import random

import numpy as np
import pytest

from zkdl.commit import evaluation as E
from zkdl.commit import generators as G
from zkdl.commit import pedersen as P
from zkdl.field import Fr, scalar_limbs
from zkdl.field.backend import set_default_backend
from zkdl.field.cpu import CpuBackend
from zkdl.piop.claims import Claim, ReductionEngine, prove_reduction, prove_reduction_keeping_fold, verify_reduction
from zkdl.protocol.channel import SECTIONS, ProverChannel, VerifierChannel
from zkdl.serialize import Reader
from zkdl.transcript import Transcript

FUSED, GENERIC = CpuBackend(), CpuBackend(fused=False)


@pytest.mark.parametrize("n", [2, 3, 6, 14])  # 2^14: the parallel kernel; below 2^12 its serial twin
def test_fold2_round_sums_is_fold_then_round_sums(n):
    rng = np.random.default_rng(n)
    f, g = Fr.random(1 << n, rng, FUSED), Fr.random(1 << n, rng, FUSED)
    c = scalar_limbs(int(rng.integers(1, 2**62)))
    want_f, want_g = FUSED.fold(f.limbs, c), FUSED.fold(g.limbs, c)
    want = FUSED.round_sums([want_f, want_g])
    sums, ff, gg = FUSED.fold2_round_sums(f.limbs.copy(), g.limbs.copy(), c)
    assert np.array_equal(sums, want)
    assert np.array_equal(ff, want_f) and np.array_equal(gg, want_g)
    # g folded into a table of its own: g only read
    g_in, out = g.limbs.copy(), np.zeros((1 << (n - 1), 4), dtype=np.uint64)
    sums, ff, gg = FUSED.fold2_round_sums(f.limbs.copy(), g_in, c, out)
    assert gg is out and np.array_equal(sums, want) and np.array_equal(gg, want_g) and np.array_equal(ff, want_f)
    assert np.array_equal(g_in, g.limbs)


def test_fold2_round_sums_refuses_bad_shapes():
    a = Fr.random(8, np.random.default_rng(0), FUSED).limbs
    with pytest.raises(ValueError):
        FUSED.fold2_round_sums(a, a[:4].copy(), scalar_limbs(3))
    with pytest.raises(ValueError):
        FUSED.fold2_round_sums(a[:2].copy(), a[:2].copy(), scalar_limbs(3))
    with pytest.raises(ValueError):  # g_out of the wrong length
        FUSED.fold2_round_sums(a.copy(), a.copy(), scalar_limbs(3), np.zeros((8, 4), dtype=np.uint64))


@pytest.mark.parametrize("n", [5, 13])
def test_axpy_inplace(n):
    rng = np.random.default_rng(n)
    x, y = Fr.random(1 << n, rng, FUSED), Fr.random(1 << n, rng, FUSED)
    want = x.axpy(12345, y)
    out = y.limbs.copy()
    FUSED.axpy_inplace(scalar_limbs(12345), x.limbs, out)
    assert np.array_equal(out, want.limbs)


@pytest.mark.parametrize("n", [0, 1, 5, 11, 14])  # 11: serial, two chunks of 2^10; 14: parallel, 16 chunks
def test_eq_into_is_the_scaled_eq_table_stored_or_added(n):
    rng = np.random.default_rng(n)
    u = [int(x) for x in rng.integers(0, 2**62, n)]
    if n > 3:
        u[1:3] = [0, 1]  # Boolean coordinates: zero blocks
    s = int(rng.integers(1, 2**62))
    want = Fr.eq_table(u, backend=FUSED, scale=s).limbs
    ul = np.array([scalar_limbs(x) for x in u], dtype=np.uint64).reshape(-1, 4)
    out = np.zeros_like(want)
    assert FUSED.eq_into(ul, scalar_limbs(s), out, False) is out
    assert np.array_equal(out, want)
    y = Fr.random(1 << n, rng, FUSED)
    out = y.limbs.copy()
    FUSED.eq_into(ul, scalar_limbs(s), out, True)
    assert np.array_equal(out, (y + Fr(want, FUSED)).limbs)
    with pytest.raises(ValueError):
        FUSED.eq_into(ul, scalar_limbs(s), np.zeros((2 << n, 4), dtype=np.uint64), True)
    if n:
        with pytest.raises(ValueError):  # not contiguous
            FUSED.eq_into(ul, scalar_limbs(s), np.zeros((2 << n, 4), dtype=np.uint64)[::2], True)


@pytest.mark.parametrize("n", [1, 4, 13])
def test_fraction_layer_is_the_generic_layer(n):
    rng = np.random.default_rng(n)
    p, q = Fr.random(1 << n, rng, FUSED), Fr.random(1 << n, rng, FUSED)
    h = 1 << (n - 1)
    pn, qn = FUSED.fraction_layer(p.limbs, q.limbs)
    assert np.array_equal(pn, (p[:h] * q[h:] + p[h:] * q[:h]).limbs)
    assert np.array_equal(qn, (q[:h] * q[h:]).limbs)
    pn, qn = FUSED.fraction_layer(None, q.limbs)
    assert np.array_equal(pn, (q[:h] + q[h:]).limbs) and np.array_equal(qn, (q[:h] * q[h:]).limbs)
    with pytest.raises(ValueError):
        FUSED.fraction_layer(np.concatenate([p.limbs, p.limbs]), q.limbs)


def _claims(be, n, seed):
    """Claims like the range tensor's: limbs of one tensor on several segments at one point (Boolean prefix,
    shared suffix), a claim on the whole table, and a lone segment claim."""
    rng = np.random.default_rng(seed)
    t = Fr.random(1 << n, rng, be)
    r = [int(x) for x in rng.integers(0, 2**62, n)]
    pts = [[0, 0, *r[2:]], [0, 1, *r[2:]], [1, 1, *r[2:]], r, [1, 0, 1, *r[3:]]]
    return t, [Claim("T", p, t.evaluate(p)) for p in pts]


def _prove(be, n, seed, keep_after):
    set_default_backend(be)
    try:
        t, claims = _claims(be, n, seed)
        ch = ProverChannel(Transcript("test/reduction"))
        claim, kept = prove_reduction_keeping_fold(t, claims, ch, keep_after)
        return t, claims, claim, kept, ch.writers["SUMC"].getvalue()
    finally:
        set_default_backend(None)


@pytest.mark.parametrize("n", [4, 13])
def test_fused_reduction_sends_the_generic_bytes_and_verifies(n):
    _, claims, claim, _, fast = _prove(FUSED, n, 7, None)
    _, _, claim2, _, slow = _prove(GENERIC, n, 7, None)
    assert fast == slow and claim == claim2
    readers = {s: Reader(b"") for s in SECTIONS}
    readers["SUMC"] = Reader(fast)
    assert verify_reduction(claims, VerifierChannel(Transcript("test/reduction"), readers)) == claim


@pytest.mark.parametrize("backend", [FUSED, GENERIC], ids=["fused", "generic"])
@pytest.mark.parametrize("keep_after", [0, 1, 3, 6])
def test_kept_fold_is_the_openings_folded_row(backend, keep_after):
    n = 6
    t, _, claim, kept, _ = _prove(backend, n, 3, keep_after)
    lay = P.Layout(1 << n, keep_after, n - keep_after)
    u_rows, _ = lay.split_point(list(claim.point))
    assert kept is not None and kept == E.fold_rows(t, lay, u_rows)
    assert kept.inner(Fr.eq_table(list(claim.point[keep_after:]))) == claim.value


def test_the_reduction_leaves_the_callers_table_alone():
    """The fused engine folds the table into tables of its own from the first round on (no copy made)."""
    set_default_backend(FUSED)
    try:
        t, claims = _claims(FUSED, 6, 9)
        before = t.limbs.copy()
        prove_reduction_keeping_fold(t, claims, ProverChannel(Transcript("test/reduction")), 2)
        assert np.array_equal(t.limbs, before)
    finally:
        set_default_backend(None)


def test_single_claim_keeps_nothing_and_the_plain_api_is_unchanged():
    t, claims = _claims(FUSED, 4, 1)
    ch = ProverChannel(Transcript("test/reduction"))
    assert prove_reduction_keeping_fold(t, claims[:1], ch, 2) == (claims[0], None)
    assert prove_reduction(t, claims[:1], ch) == claims[0]


def test_engine_refuses_bad_shapes():
    a, b = Fr.random(8, np.random.default_rng(0)), Fr.random(4, np.random.default_rng(1))
    with pytest.raises(ValueError):
        ReductionEngine(a, b)
    with pytest.raises(ValueError):
        ReductionEngine(a, a, keep_after=4)


@pytest.fixture(scope="module")
def pp():
    return G.PublicParams.ephemeral(128)  # the zero-knowledge sumchecks' masks need up to 128


@pytest.mark.parametrize("zk", [False, True], ids=["clear", "zk"])
def test_opening_with_the_reductions_fold_is_byte_identical(pp, zk):
    n, log_rows = 8, 4
    t, _, claim, kept, _ = _prove(FUSED, n, 5, log_rows)
    com, opening = P.commit(pp, t, log_cols=n - log_rows, rng=random.Random(2))
    outs = []
    for folded in (None, kept):
        tr = Transcript("test/open")
        if zk:
            v, _, proof = E.prove_eval_zk(
                pp, com, opening, t, list(claim.point), tr, rng=random.Random(9), folded_rows=folded
            )
        else:
            v, proof = E.prove_eval(pp, com, opening, t, list(claim.point), transcript=tr, folded_rows=folded)
        assert v == claim.value
        outs.append((proof.to_bytes(), tr.state_digest()))
    assert outs[0] == outs[1]
    with pytest.raises(ValueError):
        E.prove_eval(pp, com, opening, t, list(claim.point), folded_rows=kept[:4])
