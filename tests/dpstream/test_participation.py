"""Sensitivity under multi-participation (dpstream.counters.participation) against brute force on small T."""

import itertools

import numpy as np
import pytest

from dpstream.accounting import zCDP
from dpstream.base import InvalidParameter
from dpstream.counters._factor import sqrt_coefficients, toeplitz_lower
from dpstream.counters._trees import BinaryTreeProcess, HonakerProcess
from dpstream.counters.gradient_noise import BLTNoise
from dpstream.counters.participation import (
    Participation,
    fixed_order_sensitivity2,
    toeplitz_sensitivity2,
    tree_gram,
)


def _patterns(n, k, b):
    """Every pattern of 1..k steps in [0, n) with consecutive steps >= b apart."""
    for r in range(1, k + 1):
        for pat in itertools.combinations(range(n), r):
            if all(q - p >= b for p, q in zip(pat, pat[1:])):
                yield pat


def _brute(C, k, b):
    n = C.shape[1]
    return max(float(np.sum(C[:, list(p)].sum(1) ** 2)) for p in _patterns(n, k, b))


def _brute_fixed(C, k, b):
    n = C.shape[1]
    return max(float(np.sum(C[:, list(range(i, n, b))[:k]].sum(1) ** 2)) for i in range(min(b, n)))


CASES = [(n, k, b) for n in (6, 9, 12) for k in (1, 2, 3, 5) for b in (1, 2, 3, 4)]


@pytest.mark.parametrize("n,k,b", CASES)
def test_toeplitz_sensitivity_equals_brute_force_over_all_min_sep_patterns(n, k, b):
    part = Participation(k, b)
    c = sqrt_coefficients(n)
    assert toeplitz_sensitivity2(c, n, part) == pytest.approx(_brute(toeplitz_lower(c), k, b), rel=1e-12)
    blt = BLTNoise(2, 40, buffers=4)
    cb = blt.strategy_coefficients(n)
    assert toeplitz_sensitivity2(cb, n, part) == pytest.approx(_brute(toeplitz_lower(cb), k, b), rel=1e-9)
    # the BLT strategy is B^-1 A for the decoder the noise generator uses
    np.testing.assert_allclose(blt.decoder(n) @ toeplitz_lower(cb), np.tril(np.ones((n, n))), atol=1e-9)


@pytest.mark.parametrize("n,k,b", CASES)
def test_tree_fixed_order_sensitivity_equals_brute_force(n, k, b):
    part = Participation(k, b)
    for proc, hon in ((BinaryTreeProcess, False), (HonakerProcess, True)):
        _, C = proc(n, zCDP(1.0), 1, (0.0, 1.0)).strategy(n)
        assert fixed_order_sensitivity2(tree_gram(n, hon), n, part) == pytest.approx(_brute_fixed(C, k, b))


def test_single_participation_is_the_largest_column_norm():
    n = 13
    for proc, hon in ((BinaryTreeProcess, False), (HonakerProcess, True)):
        _, C = proc(n, zCDP(1.0), 1, (0.0, 1.0)).strategy(n)
        got = fixed_order_sensitivity2(tree_gram(n, hon), n, Participation(1, n))
        assert got == pytest.approx(float((C**2).sum(0).max())) == n.bit_length()
    c = sqrt_coefficients(n)
    assert toeplitz_sensitivity2(c, n, Participation()) == pytest.approx(float(np.sum(c**2)))


def test_invalid_inputs():
    with pytest.raises(InvalidParameter):
        Participation(0, 1)
    with pytest.raises(InvalidParameter):
        Participation(2, True)
    with pytest.raises(InvalidParameter):
        toeplitz_sensitivity2(np.array([1.0, 0.5, 0.7]), 3, Participation(2, 1))  # not non-increasing
    with pytest.raises(InvalidParameter):
        toeplitz_sensitivity2(np.array([1.0, -0.5]), 2, Participation())
    with pytest.raises(InvalidParameter):
        toeplitz_sensitivity2(sqrt_coefficients(4), 8, Participation())
