"""Evaluation proofs on Hyrax row commitments: clear mode and zero-knowledge (proof of dot product)."""

from __future__ import annotations

import dataclasses
import random
import re

import numpy as np
import pytest

from zkdl.commit import evaluation as E
from zkdl.commit import generators as G
from zkdl.commit import ipa
from zkdl.commit import pedersen as P
from zkdl.commit.batch import MsmBatch
from zkdl.errors import ProofFormatError, VerificationError
from zkdl.field import MODULUS, Fr
from zkdl.transcript import Transcript


@pytest.fixture(scope="module")
def pp():
    return G.PublicParams.ephemeral(32)


@pytest.fixture(scope="module")
def pp_wide():
    return G.PublicParams.ephemeral(P.Layout.for_length(4096).cols)


def _mle(values, point):
    """Reference t~(u) with Python ints (x_1 = most significant index bit)."""
    n = len(point)
    t = [int(v) % MODULUS for v in values] + [0] * ((1 << n) - len(values))
    for c in point:
        half = len(t) // 2
        t = [(t[i] + c * (t[half + i] - t[i])) % MODULUS for i in range(half)]
    return t[0]


def _setup(pp, n, seed=0, kind="int"):
    rng = np.random.default_rng(seed)
    if kind == "int":
        table = rng.integers(-(2**15), 2**15, n)
        com, opening = P.commit_int(pp, table)
    elif kind == "bits":
        table = rng.integers(0, 2, n).astype(bool)
        com, opening = P.commit_bits(pp, table)
    else:
        table = Fr.random(n, rng)
        com, opening = P.commit_fr(pp, table)
    point = [random.Random(seed).randrange(MODULUS) for _ in range(com.layout.num_vars)]
    return table, com, opening, point


def _ints(table):
    return table.to_ints() if isinstance(table, Fr) else [int(v) for v in np.asarray(table)]


def _transcript():
    t = Transcript("zkdl-test-eval")
    t.absorb_bytes("context", b"unit test")
    return t


# ------------------------------------------------------------------------------------------------ clear mode
@pytest.mark.parametrize("n", [1, 2, 3, 8, 17, 64, 100, 1000])
@pytest.mark.parametrize("kind", ["int", "bits", "fr"])
def test_clear_eval_honest_accepts(pp, n, kind):
    table, com, opening, point = _setup(pp, n, seed=n, kind=kind)
    v, proof = E.prove_eval(pp, com, opening, table, point)
    assert v == _mle(_ints(table), point)
    assert E.verify_eval(pp, com, point, proof) == v
    back = E.EvalProof.from_bytes(proof.to_bytes(), com.layout)
    assert back == proof and E.verify_eval(pp, com, point, back) == v


def test_clear_eval_rejects_tampering(pp):
    table, com, opening, point = _setup(pp, 100, seed=3)
    v, proof = E.prove_eval(pp, com, opening, table, point)
    folded = list(proof.folded)
    folded[1] = (folded[1] + 1) % MODULUS
    cases = {
        "folded row": dataclasses.replace(proof, folded=tuple(folded)),
        "blinding": dataclasses.replace(proof, folded_blind=(proof.folded_blind + 1) % MODULUS),
        "short row": dataclasses.replace(proof, folded=proof.folded[:-1]),
        "non-canonical": dataclasses.replace(proof, folded=(proof.folded[0] + MODULUS,) + proof.folded[1:]),
    }
    for name, bad in cases.items():
        with pytest.raises(VerificationError):
            E.verify_eval(pp, com, point, bad)
        assert name
    # a wrong point: the folded row no longer matches the folded commitment
    wrong_row_point = [(point[0] + 1) % MODULUS] + point[1:]
    with pytest.raises(VerificationError):
        E.verify_eval(pp, com, wrong_row_point, proof)
    # wrong column coordinates: the check passes but the value is that of the other point, never v
    wrong_col_point = point[:-1] + [(point[-1] + 1) % MODULUS]
    assert E.verify_eval(pp, com, wrong_col_point, proof) != v
    with pytest.raises(VerificationError):
        E.verify_eval(pp, com, point[:-1], proof)
    # another table's commitment
    _, other, _, _ = _setup(pp, 100, seed=4)
    with pytest.raises(VerificationError):
        E.verify_eval(pp, other, point, proof)


def test_clear_eval_claimed_value_cannot_be_changed(pp):
    """The verifier computes v itself; a prover that wants another value must change the folded row,
    which breaks the commitment check."""
    table, com, opening, point = _setup(pp, 64, seed=5)
    v, proof = E.prove_eval(pp, com, opening, table, point)
    a = Fr.eq_table(com.layout.split_point(point)[1]).to_ints()
    j = next(i for i, x in enumerate(a) if x)
    # shift the folded row so that <x', a> = v + 1 exactly
    folded = list(proof.folded)
    folded[j] = (folded[j] + pow(a[j], -1, MODULUS)) % MODULUS
    forged = dataclasses.replace(proof, folded=tuple(folded))
    assert Fr.from_ints(folded).inner(Fr.from_ints(a)) == (v + 1) % MODULUS
    with pytest.raises(VerificationError):
        E.verify_eval(pp, com, point, forged)


def test_clear_eval_transcript_absorbs_the_same(pp):
    table, com, opening, point = _setup(pp, 50, seed=6)
    tp, tv = _transcript(), _transcript()
    _, proof = E.prove_eval(pp, com, opening, table, point, transcript=tp)
    E.verify_eval(pp, com, point, proof, transcript=tv)
    assert tp.challenge_fr("next") == tv.challenge_fr("next")


def test_prover_input_checks(pp):
    table, com, opening, point = _setup(pp, 20, seed=7)
    with pytest.raises(ValueError):
        E.prove_eval(pp, com, opening, table[:-1], point)
    _, other_com, other_open, _ = _setup(pp, 300, seed=7)
    with pytest.raises(ValueError):
        E.prove_eval(pp, com, other_open, table, point)


def test_eval_proof_reader_rejects_malformed(pp):
    table, com, opening, point = _setup(pp, 100, seed=8)
    _, proof = E.prove_eval(pp, com, opening, table, point)
    data = proof.to_bytes()
    for bad in (data[:-1], data + b"\x00", b"", data[:8] + b"\xff" * 32 + data[40:]):
        with pytest.raises(ProofFormatError):
            E.EvalProof.from_bytes(bad, com.layout)
    with pytest.raises(ProofFormatError):  # a proof for another layout (wrong row length)
        E.EvalProof.from_bytes(data, P.Layout.for_length(1000))


# ---------------------------------------------------------------------------------------- zero-knowledge mode
@pytest.mark.parametrize("n", [1, 2, 5, 64, 100, 1000])
@pytest.mark.parametrize("kind", ["int", "fr"])
def test_zk_eval_honest_accepts(pp, n, kind):
    table, com, opening, point = _setup(pp, n, seed=n + 1, kind=kind)
    tp, tv = _transcript(), _transcript()
    v, r_y, proof = E.prove_eval_zk(pp, com, opening, table, point, tp)
    assert v == _mle(_ints(table), point)
    y = E.verify_eval_zk(pp, com, point, proof, tv)
    assert y == P.commit_value(pp, v, r_y)
    assert tp.state_digest() == tv.state_digest()
    back = E.ZkEvalProof.from_bytes(proof.to_bytes(), com.layout)
    assert E.verify_eval_zk(pp, com, point, back, _transcript()) == y


@pytest.fixture(scope="module")
def zk_case(pp):
    table, com, opening, point = _setup(pp, 100, seed=11)
    v, r_y, proof = E.prove_eval_zk(pp, com, opening, table, point, _transcript(), rng=random.Random(1))
    return table, com, opening, point, v, r_y, proof


def _bump(x):
    return (x + 1) % MODULUS


def _ipa(proof, **kw):
    return dataclasses.replace(proof, ipa=dataclasses.replace(proof.ipa, **kw))


def _verify_fails(pp, com, point, proof, check, **kw):
    with pytest.raises(VerificationError, match=f"^{re.escape(check)}$"):
        E.verify_eval_zk(pp, com, point, proof, _transcript(), **kw)


@pytest.mark.parametrize("n", [1, 2, 64, 1000, 4096])
def test_zk_eval_proof_is_logarithmic(pp_wide, n):
    """The opening sends 3 points, ``z_δ, z_β, <z,a>``, one (L_j, R_j) per column variable and ``z*``."""
    table, com, opening, point = _setup(pp_wide, n, seed=n)
    _, _, proof = E.prove_eval_zk(pp_wide, com, opening, table, point, _transcript())
    b = com.layout.log_cols
    assert len(proof.ipa.left) == len(proof.ipa.right) == b
    assert len(proof.to_bytes()) == 3 * 48 + 4 * 32 + 2 * b * 48
    E.verify_eval_zk(pp_wide, com, point, proof, _transcript())


@pytest.mark.parametrize("field_name", ["value_commitment", "delta", "beta", "z_delta"])
def test_zk_eval_rejects_tampered_first_message(pp, zk_case, field_name):
    """Any change to what c is drawn from, or to z_δ: the inner-product equation (checked first) fails."""
    _, com, _, point, _, _, proof = zk_case
    if field_name == "z_delta":
        bad = dataclasses.replace(proof, z_delta=_bump(proof.z_delta))
    else:
        bad = dataclasses.replace(proof, **{field_name: getattr(proof, field_name) + pp.g_v})
    _verify_fails(pp, com, point, bad, E.IPA_CHECK)


def test_zk_eval_rejects_tampered_z_beta(pp, zk_case):
    """z_β is absorbed before ξ, so a changed z_β changes ξ and every x_j: the inner-product equation, checked
    first, names the rejection (the value equation, c·Y + β = w·g_v + z_β·h, fails as well)."""
    _, com, _, point, _, _, proof = zk_case
    bad = dataclasses.replace(proof, z_beta=_bump(proof.z_beta))
    with pytest.raises(VerificationError, match="ZK evaluation proof"):
        E.verify_eval_zk(pp, com, point, bad, _transcript())
    batch = MsmBatch(pp)
    E.verify_eval_zk(pp, com, point, bad, _transcript(), batch=batch)
    with pytest.raises(VerificationError, match=f"^{re.escape(E.IPA_CHECK)}$"):
        batch.diagnose()


@pytest.mark.parametrize("side", ["left", "right"])
@pytest.mark.parametrize("j", [0, 1, -1])
def test_zk_eval_rejects_tampered_round_point(pp, zk_case, side, j):
    """L_j or R_j of any round replaced by another subgroup point: rejected by the inner-product equation."""
    _, com, _, point, _, _, proof = zk_case
    pts = list(getattr(proof.ipa, side))
    pts[j] = pts[j] + pp.h
    _verify_fails(pp, com, point, _ipa(proof, **{side: tuple(pts)}), E.IPA_CHECK)
    pts[j] = getattr(proof.ipa, "right" if side == "left" else "left")[j]  # L and R swapped into one slot
    _verify_fails(pp, com, point, _ipa(proof, **{side: tuple(pts)}), E.IPA_CHECK)


def test_zk_eval_rejects_wrong_final_scalar_and_inner_product(pp, zk_case):
    _, com, _, point, _, _, proof = zk_case
    _verify_fails(pp, com, point, _ipa(proof, z_final=_bump(proof.ipa.z_final)), E.IPA_CHECK)
    _verify_fails(pp, com, point, _ipa(proof, z_final=0), E.IPA_CHECK)
    _verify_fails(pp, com, point, _ipa(proof, z_dot_a=_bump(proof.ipa.z_dot_a)), E.IPA_CHECK)


def test_zk_eval_rejects_wrong_round_count(pp, zk_case):
    _, com, _, point, _, _, proof = zk_case
    for bad in (
        _ipa(proof, left=proof.ipa.left[:-1], right=proof.ipa.right[:-1]),
        _ipa(proof, left=proof.ipa.left + proof.ipa.left[:1], right=proof.ipa.right + proof.ipa.right[:1]),
        _ipa(proof, left=proof.ipa.left[:-1]),
    ):
        with pytest.raises(VerificationError, match="rounds"):
            E.verify_eval_zk(pp, com, point, bad, _transcript())


def test_zk_eval_rejects_lie_about_value_with_consistent_inner_product_claim(pp):
    """A prover claims v' = v + 1: Y commits to v', and it adjusts w so that the value equation holds
    (w' = w + c), then runs the honest rounds for its w'. The inner-product equation rejects it: w' ≠ <z, a>."""
    table, com, opening, point = _setup(pp, 100, seed=21)
    lay = com.layout
    u_rows, u_cols = lay.split_point(point)
    a_vec = Fr.eq_table(u_cols)
    x = E.fold_rows(table, lay, u_rows)
    v = x.inner(a_vec)
    r_x = Fr.eq_table(u_rows).inner(Fr.from_ints(opening.blinds))
    r_y, r_delta, r_beta = 11, 22, 33
    y = P.commit_value(pp, v + 1, r_y)
    d = Fr.random(lay.cols)
    delta = P.commit_vector(pp, d.to_ints(), r_delta)
    beta = P.commit_value(pp, d.inner(a_vec), r_beta)
    t = _transcript()
    c = E.zk_first_challenge(t, com, point, y, delta, beta)
    z = x.axpy(c, d)
    z_delta, z_beta = (c * r_x + r_delta) % MODULUS, (c * r_y + r_beta) % MODULUS
    w_lie = (z.inner(a_vec) + c) % MODULUS  # c·Y + β − w'·g_v − z_β·h = O holds for Y = (v+1)·g_v + r_y·h
    t.absorb_frs("hyrax-eval-zk/z-blinds", [z_delta, z_beta])
    t.absorb_fr("hyrax-eval-zk/z-dot-a", w_lie)
    xi = t.challenge_fr("hyrax-eval-zk/xi")
    left, right, z_final = ipa.inner_product_rounds(pp, t, z, a_vec, xi)
    forged = E.ZkEvalProof(y, delta, beta, z_delta, z_beta, ipa.InnerProductProof(w_lie, left, right, z_final))
    batch = MsmBatch(pp)
    E.verify_eval_zk(pp, com, point, forged, _transcript(), batch=batch)
    with pytest.raises(VerificationError, match=f"^{re.escape(E.IPA_CHECK)}$"):
        batch.verify()
    # the same forgery with the honest w passes the inner-product equation and fails the value equation
    t = _transcript()
    E.zk_first_challenge(t, com, point, y, delta, beta)
    honest = ipa.prove_masked_response(pp, t, z, a_vec, z_delta, z_beta)
    forged = E.ZkEvalProof(y, delta, beta, z_delta, z_beta, honest)
    _verify_fails(pp, com, point, forged, E.VALUE_CHECK)


def test_zk_eval_rejects_wrong_value_point_commitment_and_transcript(pp, zk_case):
    table, com, opening, point, v, r_y, proof = zk_case
    assert E.verify_eval_zk(pp, com, point, proof, _transcript()) == P.commit_value(pp, v, r_y)
    # a commitment to another value
    with pytest.raises(VerificationError, match="different value commitment"):
        E.verify_eval_zk(pp, com, point, proof, _transcript(), value_commitment=P.commit_value(pp, v + 1, r_y))
    # a proof whose Y commits to a wrong value (swapped in after the fact)
    y_wrong = P.commit_value(pp, v + 1, r_y)
    _verify_fails(pp, com, point, dataclasses.replace(proof, value_commitment=y_wrong), E.IPA_CHECK)
    for i in (0, len(point) - 1):  # a proof for another point: wrong row coordinate, wrong column coordinate
        other = list(point)
        other[i] = _bump(other[i])
        _verify_fails(pp, com, other, proof, E.IPA_CHECK)
    _, other_com, _, _ = _setup(pp, 100, seed=12)
    _verify_fails(pp, other_com, point, proof, E.IPA_CHECK)
    other_t = Transcript("zkdl-test-eval")
    other_t.absorb_bytes("context", b"another context")
    with pytest.raises(VerificationError, match=f"^{re.escape(E.IPA_CHECK)}$"):
        E.verify_eval_zk(pp, com, point, proof, other_t)


def test_zk_eval_with_existing_value_commitment(pp):
    table, com, opening, point = _setup(pp, 40, seed=13)
    v = _mle(_ints(table), point)
    blind = 987654321
    y = P.commit_value(pp, v, blind)
    v2, r_y, proof = E.prove_eval_zk(pp, com, opening, table, point, _transcript(), value_blind=blind)
    assert (v2, r_y) == (v, blind) and proof.value_commitment == y
    assert E.verify_eval_zk(pp, com, point, proof, _transcript(), value_commitment=y) == y


def test_zk_eval_reveals_no_witness_field_element(pp):
    """No field element of the proof equals the value, a table entry or a folded-row entry; two proofs of
    the same claim share no field element."""
    table, com, opening, point = _setup(pp, 64, seed=14)
    v, _, p1 = E.prove_eval_zk(pp, com, opening, table, point, _transcript())
    _, _, p2 = E.prove_eval_zk(pp, com, opening, table, point, _transcript())
    _, clear = E.prove_eval(pp, com, opening, table, point)
    secret = {v, *(_ints(table)), *clear.folded, clear.folded_blind, *opening.blinds}
    secret = {s % MODULUS for s in secret}
    elems1 = {p1.z_delta, p1.z_beta, p1.ipa.z_dot_a, p1.ipa.z_final}
    elems2 = {p2.z_delta, p2.z_beta, p2.ipa.z_dot_a, p2.ipa.z_final}
    assert not (elems1 & secret) and not (elems1 & elems2)
    assert p1.value_commitment != p2.value_commitment


def test_zk_proof_reader_rejects_malformed(pp, zk_case):
    _, com, _, _, _, _, proof = zk_case
    data = proof.to_bytes()
    l0 = 3 * 48 + 3 * 32  # offset of L_0
    for bad in (
        data[:-1],
        data + b"\x00",
        data[: -32 - 96],  # the last round's (L, R) missing
        data[:-32] + data[l0 : l0 + 96] + data[-32:],  # one round too many
        data[:48] + b"\x00" * 48 + data[96:],
        data[:l0] + b"\xff" * 48 + data[l0 + 48 :],  # L_0 not a point
        data[:-32] + b"\xff" * 32,  # z* not canonical
    ):
        with pytest.raises(ProofFormatError):
            E.ZkEvalProof.from_bytes(bad, com.layout)
    with pytest.raises(ProofFormatError):  # a proof for a layout with fewer columns (fewer rounds)
        E.ZkEvalProof.from_bytes(data, P.Layout.for_length(16))
