"""Attacks a weakened verifier would accept, each asserting the check that rejects it (the verifier mutations of
``bench/mutation.py`` that survived the earlier suite): a forged LogUp table, a zero root denominator, parameters
that could wrap mod r, nonzero padding of a statement tensor, a sumcheck claim chosen after the challenge."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from test_range_check import WIDTHS as RANGE_SEGS
from test_range_check import _fr_offsets, _honest_L, _prove, _verify
from test_training_soundness import (
    S_SHIFT,
    B,
    F,
    N,
    make_data,
    prove_run,
    rejection,
    statement0,
    train,
)

from zkdl.errors import StatementMismatch, VerificationError
from zkdl.field import MODULUS as R
from zkdl.field import Fr
from zkdl.gadgets import range_check as rc
from zkdl.piop import sumcheck as sc
from zkdl.protocol import training
from zkdl.quant.fixedpoint import rescale
from zkdl.transcript import Transcript


@pytest.fixture(scope="module")
def pp():
    from zkdl.commit.generators import PublicParams

    return PublicParams.ephemeral(4096)


# ------------------------------------------------------------------------------------------ LogUp
def test_forged_logup_table_rejected_by_the_table_leaf_check(monkeypatch):
    """The prover puts 5 into a 1-bit segment and runs LogUp against a table of its choosing: entry 7 (honestly
    (k=2, v=3)) forged to (k=1, v=5). Multiplicities, both fraction trees and the root all agree; only the check
    that the table tree's leaves are the public table rejects it."""
    lay = rc.RangeLayout(RANGE_SEGS)
    L = _honest_L(lay)
    seg = lay.segment("w1")
    L[seg.offset] = 5  # out of range for 1 bit
    v, k = rc.table_values()
    assert (v[7], k[7]) == (3, 2)
    v, k = v.copy(), k.copy()
    v[7], k[7] = 5, 1
    monkeypatch.setattr(rc, "_table_fr", lambda backend=None: (Fr.from_int64(v), Fr.from_int64(k)))
    be = rc.make_range_backend("lookup")
    m = rc.multiplicities(lay, L)  # the honest count skips the out-of-range leaf ...
    m[7] += 1  # ... which the forged entry 7 = (k=1, v=5) now matches
    tables = {"L": L, "m": m}
    data, _, lclaim, _ = _prove(be, lay, L, tables)
    monkeypatch.undo()
    with pytest.raises(VerificationError, match="table tree's leaves are not the table"):
        _verify(be, lay, data, tables, lclaim.value)


def test_zero_root_denominator_rejected_by_the_nonzero_check():
    """Layer 1 forged with a zero value-tree denominator and numerator (q_lo = p_lo = 0): the root equation
    P_v·Q_t + P_t·Q_v = 0 then holds whatever the table side says. The nonzero-denominator check rejects it."""
    lay = rc.RangeLayout(RANGE_SEGS)
    L = _honest_L(lay)
    be = rc.make_range_backend("lookup")
    tables = be.committed_tables(lay, L)
    data, _, lclaim, _ = _prove(be, lay, L, tables)
    offs = _fr_offsets(data)[:8]
    forged = bytearray(data)
    for i in (0, 2):  # value tree p_lo, q_lo := 0
        forged[offs[i] : offs[i] + 32] = bytes(32)
    vp_lo, vp_hi, vq_lo, vq_hi = (int.from_bytes(forged[o : o + 32], "little") for o in offs[:4])
    assert (vp_lo * vq_hi + vp_hi * vq_lo) % R == 0 and vq_lo * vq_hi % R == 0
    with pytest.raises(VerificationError, match="zero denominator at the value tree's root"):
        _verify(be, lay, bytes(forged), tables, lclaim.value)


# ------------------------------------------------------------------------------------------ parameters
def test_wrapping_parameters_rejected_by_the_no_wrap_check(pp):
    """A statement whose step count lets the update history wrap mod r (|W_0| + T·max|ΔW| ≥ r): the verifier
    refuses it before reading the proof, naming the wrap, in training.verify and through the API."""
    from zkdl import api

    X, Y = make_data((5, 3, 2), N, 0)
    run = train((5, 3, 2), B, 1, X, Y)
    r = prove_run(pp, statement0(pp, (5, 3, 2), B, 1, N), run, X, Y, zk=False)
    wrapped = dataclasses.replace(r.st, steps=1 << 240)
    with pytest.raises(StatementMismatch, match="wrap"):
        training.verify(pp, wrapped, r.proof)
    with pytest.raises(StatementMismatch, match="wrap"):
        training.generators_needed(wrapped)
    res = api.verify(r.proof, wrapped, params=pp)
    assert not res.valid and res.error_type == "StatementMismatch" and "wrap" in res.reason


# ------------------------------------------------------------------------------------------ padding
def test_nonzero_padding_of_X_rejected_by_the_padding_check(pp):
    """The dataset's padded column 5 (d_0 = 5 → 8) set to 3 in every real row, and everything that depends on
    it made consistent: the scheduled batches, ΔW1's padded row (with its remainder) and the committed W_T. Every
    relation and range check holds; only the zero-padding proof of X rejects."""
    widths, T = (5, 3, 2), 1
    X, Y = make_data(widths, N, 0)
    run = train(widths, B, T, X, Y)
    c = 3

    def tamper(w):
        w.ints["X"][:N, 5] = c
        w.ints["A0"][0, :B, 5] = c
        gw = c * w.ints["GZ1"][0, :B, :].sum(axis=0)
        q, rem = rescale(gw, F + S_SHIFT)
        w.ints["DW1"][0, 5, :] = q
        w.ints["RDW1"][0, 5, :] = rem
        w.ints["WT.1"][5, :] = -q
        w.refresh(check=False)

    r = prove_run(pp, statement0(pp, widths, B, T, N), run, X, Y, tamper, zk=False)
    err, phase = rejection(pp, r.st, r.proof)
    assert isinstance(err, VerificationError) and phase == "padding", (phase, err)  # X: the only nonzero padding


# ------------------------------------------------------------------------------------------ sumcheck claim
def test_claim_chosen_after_the_challenge_is_rejected():
    """A prover that draws its challenges before fixing the claim (its transcript does not bind the claim) proves
    a true sum, then the verifier — whose transcript absorbs the claim before the first challenge — replays
    a different first challenge, so the second round no longer adds up. A verifier that did not absorb the claim would
    accept it, letting a prover pick the claim after seeing the challenges."""
    rng = np.random.default_rng(0)
    tabs = [Fr.from_int64(rng.integers(0, 100, 16)) for _ in range(2)]
    rel = sc.Relation.product(2)
    claim = sum(int(a) * int(b) for a, b in zip(tabs[0].to_ints(), tabs[1].to_ints())) % R

    unbound = Transcript("test-claim")
    real_start = sc._start

    def start_without_claim(transcript, num_vars, relation, claim, eq_point):
        transcript.absorb_shape("sumcheck/shape", (num_vars, relation.degree, relation.n_tables, len(relation.terms)))
        transcript.absorb_frs("sumcheck/coefficients", [c for c, _ in relation.terms])

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(sc, "_start", start_without_claim)
        proof, _ = sc.prove(tabs, rel, unbound, claim=claim)
    assert sc._start is real_start
    with pytest.raises(VerificationError, match=r"round 1: p\(0\) \+ p\(1\)"):  # its r_1 differs
        sc.verify(proof, rel, 4, claim, Transcript("test-claim"))


# ------------------------------------------------------------------------------------------ ZK Hyrax opening
def test_zk_opening_of_a_false_value_rejected_by_the_value_equation(pp, monkeypatch):
    """A prover commits Y to v + 1 *before* the challenge (so the challenge binds the lie) and runs the rest of
    the proof of dot product honestly: the folded-row equation still holds, only the value equation
    c·Y + β = <z, a>·g_v + z_β·h rejects it."""
    from zkdl.commit import evaluation as E
    from zkdl.commit import pedersen as Pd

    rng = np.random.default_rng(3)
    table = Fr.from_int64(rng.integers(0, 1000, 64))
    com, opening = Pd.commit(pp, table)
    point = [int(x) for x in rng.integers(1, 1 << 60, 6)]
    real_commit_value = E.commit_value
    calls = {"n": 0}

    def lying_commit_value(params, value, blind):
        calls["n"] += 1
        return real_commit_value(params, value + 1 if calls["n"] == 1 else value, blind)  # Y only, not β

    monkeypatch.setattr(E, "commit_value", lying_commit_value)
    v, r_y, proof = E.prove_eval_zk(pp, com, opening, table, point, Transcript("attack"))
    monkeypatch.undo()
    assert proof.value_commitment == Pd.commit_value(pp, v + 1, r_y)
    with pytest.raises(VerificationError, match="proof-of-dot-product"):
        E.verify_eval_zk(pp, com, point, proof, Transcript("attack"))
