"""Claim reduction: many evaluation claims on one table become one, soundly."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from zkdl.errors import VerificationError
from zkdl.field import MODULUS as R
from zkdl.field import Fr
from zkdl.piop.claims import Claim, prove_reduction, verify_reduction
from zkdl.transcript import Transcript


def _setup(k=3, n=6, seed=0):
    rng = np.random.default_rng(seed)
    t = Fr.random(1 << n, rng=rng)
    pts = [[int(x) for x in rng.integers(0, 2**60, n)] for _ in range(k)]
    return t, [Claim("T", p, t.evaluate(p)) for p in pts]


def test_reduction_is_complete_and_lands_on_a_true_evaluation():
    t, claims = _setup()
    proof, out = prove_reduction(t, claims, Transcript("test/claims"))
    res = verify_reduction(proof, claims, Transcript("test/claims"))
    assert res == out
    assert t.evaluate(list(res.point)) == res.value


def test_single_claim_passes_through():
    t, claims = _setup(k=1)
    proof, out = prove_reduction(t, claims, Transcript("x"))
    assert proof is None and out == claims[0]
    assert verify_reduction(None, claims, Transcript("x")) == claims[0]


@pytest.mark.parametrize("i", [0, 1, 2])
def test_one_false_claim_is_rejected(i):
    t, claims = _setup()
    claims[i] = dataclasses.replace(claims[i], value=(claims[i].value + 1) % R)
    proof, out = prove_reduction(t, claims, Transcript("test/claims"))
    # the honest-looking reduction of a false claim either fails now or leaves a false final claim
    try:
        res = verify_reduction(proof, claims, Transcript("test/claims"))
    except VerificationError:
        return
    assert t.evaluate(list(res.point)) != res.value


def test_tampered_reduction_is_rejected():
    t, claims = _setup()
    proof, _ = prove_reduction(t, claims, Transcript("test/claims"))
    bad = dataclasses.replace(proof, finals=(proof.finals[0] + 1, proof.finals[1]))
    with pytest.raises(VerificationError):
        verify_reduction(bad, claims, Transcript("test/claims"))


def test_claims_on_segments_of_a_larger_table():
    # points whose leading coordinates are Boolean address a block of the table (a segment)
    rng = np.random.default_rng(4)
    t = Fr.random(1 << 7, rng=rng)
    pts = [[0, 1] + [int(x) for x in rng.integers(0, 2**60, 5)],
           [1, 1, 0] + [int(x) for x in rng.integers(0, 2**60, 4)],
           [int(x) for x in rng.integers(0, 2**60, 7)]]
    claims = [Claim("T", p, t.evaluate(p)) for p in pts]
    proof, out = prove_reduction(t, claims, Transcript("seg"))
    res = verify_reduction(proof, claims, Transcript("seg"))
    assert res == out and t.evaluate(list(res.point)) == res.value
