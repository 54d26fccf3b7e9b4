"""Claim reduction: many evaluation claims on one table become one, soundly."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from zkdl.errors import ProofFormatError, VerificationError
from zkdl.field import MODULUS as R
from zkdl.field import Fr
from zkdl.piop.claims import Claim, prove_reduction, verify_reduction
from zkdl.protocol.channel import SECTIONS, ProverChannel, VerifierChannel
from zkdl.serialize import Reader
from zkdl.transcript import Transcript


def _setup(k=3, n=6, seed=0):
    rng = np.random.default_rng(seed)
    t = Fr.random(1 << n, rng=rng)
    pts = [[int(x) for x in rng.integers(0, 2**60, n)] for _ in range(k)]
    return t, [Claim("T", p, t.evaluate(p)) for p in pts]


def _prove(t, claims, label="test/claims"):
    ch = ProverChannel(Transcript(label))
    out = prove_reduction(t, claims, ch)
    return out, ch.writers["SUMC"].getvalue()


def _verify(data, claims, label="test/claims"):
    readers = {s: Reader(b"") for s in SECTIONS}
    readers["SUMC"] = Reader(data)
    res = verify_reduction(claims, VerifierChannel(Transcript(label), readers))
    readers["SUMC"].finish()
    return res


def test_reduction_is_complete_and_lands_on_a_true_evaluation():
    t, claims = _setup()
    out, data = _prove(t, claims)
    res = _verify(data, claims)
    assert res == out
    assert t.evaluate(list(res.point)) == res.value


def test_single_claim_passes_through():
    t, claims = _setup(k=1)
    out, data = _prove(t, claims)
    assert out == claims[0] and data == b""
    assert _verify(b"", claims) == claims[0]


@pytest.mark.parametrize("i", [0, 1, 2])
def test_one_false_claim_is_rejected(i):
    t, claims = _setup()
    claims[i] = dataclasses.replace(claims[i], value=(claims[i].value + 1) % R)
    _, data = _prove(t, claims)  # the prover runs the sumcheck honestly on the table: its round sums disagree
    with pytest.raises(VerificationError):
        _verify(data, claims)


def test_tampered_reduction_is_rejected():
    t, claims = _setup()
    _, data = _prove(t, claims)
    bad = bytearray(data)
    bad[-1] ^= 1  # last byte of the final value of the table
    with pytest.raises((VerificationError, ProofFormatError)):
        _verify(bytes(bad), claims)


def test_claims_on_segments_of_a_larger_table():
    # points whose leading coordinates are Boolean address a block of the table (a segment)
    rng = np.random.default_rng(4)
    t = Fr.random(1 << 7, rng=rng)
    pts = [
        [0, 1] + [int(x) for x in rng.integers(0, 2**60, 5)],
        [1, 1, 0] + [int(x) for x in rng.integers(0, 2**60, 4)],
        [int(x) for x in rng.integers(0, 2**60, 7)],
    ]
    claims = [Claim("T", p, t.evaluate(p)) for p in pts]
    out, data = _prove(t, claims, "seg")
    res = _verify(data, claims, "seg")
    assert res == out and t.evaluate(list(res.point)) == res.value
