"""The Fr kernels cross-checked against ``galois`` — an independent GF(r) field-array implementation.

``test_field.py`` compares the kernels with Python-int arithmetic written in this project; here the reference is
a third-party field library (``galois.GF(r)``), the way ``py_ecc`` cross-checks the curve. Random vectors at
several sizes (including non-powers of two and sizes above the kernels' blocking), edge values (0, 1, r − 1,
…), element-wise ops, reductions, batch inversion, powers, eq tables, folding, contraction and MLE evaluation.
The GPU backend is checked against the CPU backend element for element in ``tests/cuda`` (emulated and real), so
it meets this reference transitively.
"""

from __future__ import annotations

import functools

import numpy as np
import pytest

from zkdl.field import MODULUS as R
from zkdl.field import Fr

galois = pytest.importorskip("galois")

# 7 generates Fr^* (the multiplicative generator used by BLS12-381 implementations); giving it skips galois'
# factorization of r − 1. verify=False: r is the well-known prime, galois need not re-prove it.
GF = galois.GF(R, primitive_element=7, verify=False)

EDGE = [0, 1, 2, R - 1, R - 2, (R - 1) // 2, (R + 1) // 2, 2**64 - 1, 2**64, 2**128 + 1, 2**255 % R, 2**254]
SIZES = [1, 7, 64, 1000, 4097]


def _rand(n: int, seed: int) -> list[int]:
    rng = np.random.default_rng(seed)
    vals = [int.from_bytes(rng.bytes(40), "little") % R for _ in range(n)]
    # the edge values appear in every vector that is long enough, at seeded positions
    for e in EDGE[: max(0, n // 2)]:
        vals[int(rng.integers(n))] = e
    return vals


def _gf(vals) -> galois.FieldArray:
    return GF(np.array(vals, dtype=object))


def _ints(a) -> list[int]:
    return [int(x) for x in np.asarray(a, dtype=object).reshape(-1)]


@pytest.mark.parametrize("n", SIZES)
def test_elementwise_ops_match_galois(n):
    a, b = _rand(n, n), _rand(n, n + 1)
    x, y = Fr.from_ints(a), Fr.from_ints(b)
    ga, gb = _gf(a), _gf(b)
    assert (x + y).to_ints() == _ints(ga + gb)
    assert (x - y).to_ints() == _ints(ga - gb)
    assert (x * y).to_ints() == _ints(ga * gb)
    assert (-x).to_ints() == _ints(-ga)
    s = a[-1]
    assert (x * s).to_ints() == _ints(ga * GF(s))
    assert x.axpy(s, y).to_ints() == _ints(GF(s) * ga + gb)


@pytest.mark.parametrize("n", SIZES)
def test_reductions_match_galois(n):
    a, b = _rand(n, 10 * n), _rand(n, 10 * n + 1)
    x, y = Fr.from_ints(a), Fr.from_ints(b)
    ga, gb = _gf(a), _gf(b)
    assert x.sum() == int(np.sum(ga))
    assert x.inner(y) == int(np.sum(ga * gb))


@pytest.mark.parametrize("n", SIZES)
def test_batch_inversion_matches_galois(n):
    a = [v if v else 1 for v in _rand(n, 20 * n)]  # inverse of nonzero elements
    inv = Fr.from_ints(a).inverse()
    assert inv.to_ints() == _ints(np.reciprocal(_gf(a)))


def test_inversion_of_zero_is_refused():
    with pytest.raises(ZeroDivisionError):
        Fr.from_ints([3, 0, 5]).inverse()


@pytest.mark.parametrize("x", [0, 1, 2, R - 1, 2**128 + 1, 0x1234_5678_9ABC_DEF0_1122_3344_5566_7788])
@pytest.mark.parametrize("n", [1, 5, 1025])
def test_powers_match_galois(x, n):
    expected = _ints(GF(x) ** np.arange(n))
    assert Fr.powers(x, n).to_ints() == expected


def _eq_galois(u: list[int]) -> galois.FieldArray:
    """eq(u, ·) over {0,1}^n in index order, x_1 the most significant bit — straight from the definition."""
    n = len(u)
    idx = np.arange(1 << n)
    w = GF(np.ones(1 << n, dtype=object))
    for k, uk in enumerate(u):
        bit = (idx >> (n - 1 - k)) & 1
        g = GF(uk)
        w = w * np.where(bit == 1, g, GF(1) - g).view(GF)
    return w


@pytest.mark.parametrize("nv", [0, 1, 3, 8, 11])
def test_eq_table_and_mle_evaluation_match_galois(nv):
    u = _rand(nv, 100 + nv) if nv else []
    eq = _eq_galois(u)
    assert Fr.eq_table(u).to_ints() == _ints(eq)
    scale = _rand(1, 7)[0]
    assert Fr.eq_table(u, scale=scale).to_ints() == _ints(eq * GF(scale))
    # MLE of a table of (not necessarily power-of-two) length, padded with zeros
    m = max(1, (1 << nv) - 3)
    t = _rand(m, 200 + nv)
    padded = _gf(t + [0] * ((1 << nv) - m))
    assert Fr.from_ints(t).evaluate(u) == int(np.sum(padded * eq))


@pytest.mark.parametrize("n", [2, 64, 4096])
def test_fold_matches_galois(n):
    t = _rand(n, 300 + n)
    c = _rand(1, 301 + n)[0]
    g, h = _gf(t[: n // 2]), _gf(t[n // 2 :])
    # fold binds the most significant variable: (1 - c)·low half + c·high half
    assert Fr.from_ints(t).fold(c).to_ints() == _ints((GF(1) - GF(c)) * g + GF(c) * h)


@pytest.mark.parametrize("shape", [(1, 4, 1), (3, 8, 5), (16, 32, 2), (2, 1024, 3)])
def test_contract_matches_galois(shape):
    p, q, r = shape
    a = _rand(p * q * r, sum(shape))
    v = _rand(q, sum(shape) + 1)
    ga = _gf(a).reshape(p, q, r)
    gv = _gf(v)
    expected = functools.reduce(lambda acc, j: acc + ga[:, j, :] * gv[j], range(1, q), ga[:, 0, :] * gv[0])
    assert Fr.from_ints(a).contract(shape, Fr.from_ints(v)).to_ints() == _ints(expected.reshape(-1))
