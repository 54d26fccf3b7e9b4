"""Public tables: the prover's table and the verifier's MLE of one object agree at random points."""

from __future__ import annotations

import numpy as np
import pytest

from zkdl.field import MODULUS as R
from zkdl.field import Fr
from zkdl.piop.public_table import Combination, Dense, EqCombination, EqTable, LessThan, Ones, Outer


def _pt(rng, n):
    return [int(rng.integers(0, 2**62)) * 7919 % R for _ in range(n)]


def _cases(rng):
    yield EqTable(_pt(rng, 4))
    yield EqTable(_pt(rng, 3), scale=12345)
    yield EqCombination([_pt(rng, 5) for _ in range(3)], _pt(rng, 3), 5)
    yield Ones(3)
    yield Dense.of_ints(_pt(rng, 8))
    for n, size in [(0, 8), (3, 8), (8, 8), (5, 16), (1, 1)]:
        yield LessThan(n, size)
    yield Outer(EqTable(_pt(rng, 2)), Ones(3))
    yield Outer(Outer(LessThan(3, 4), LessThan(5, 8)), Dense.of_ints(_pt(rng, 2)))
    inside = Outer(LessThan(3, 4), LessThan(5, 8))
    yield Combination([(1, Ones(5)), (R - 1, inside)], 5)
    yield Combination(
        [
            (7, Outer(Dense.of_ints(_pt(rng, 4)), EqTable(_pt(rng, 2)))),
            (11, Outer(LessThan(3, 4), EqTable(_pt(rng, 2)))),
        ],
        4,
    )


@pytest.mark.parametrize("k", range(14))
def test_table_and_mle_agree(k):
    rng = np.random.default_rng(k)
    pub = list(_cases(rng))[k]
    table = pub.table()
    assert len(table) == 1 << pub.num_vars
    for _ in range(3):
        p = _pt(rng, pub.num_vars)
        assert table.evaluate(p) == pub.mle(p)
    # on the hypercube the MLE is the table itself
    for i in range(min(len(table), 4)):
        bits = [(i >> (pub.num_vars - 1 - j)) & 1 for j in range(pub.num_vars)]
        assert pub.mle(bits) == table[i]


def test_less_than_is_the_indicator():
    assert LessThan(3, 8).table().to_ints() == [1, 1, 1, 0, 0, 0, 0, 0]


def test_combination_rejects_mixed_sizes():
    with pytest.raises(ValueError):
        Combination([(1, Ones(2)), (1, Ones(3))], 2)


def test_dense_needs_a_power_of_two():
    with pytest.raises(ValueError):
        Dense(Fr.from_ints([1, 2, 3]))
