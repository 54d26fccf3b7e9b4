"""Fr vectors against Python-int arithmetic mod r (hypothesis), including edge values."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from zkdl.errors import FieldRangeError
from zkdl.field import MODULUS as R
from zkdl.field import Fr

EDGE = [0, 1, 2, R - 1, R - 2, (R - 1) // 2, (R + 1) // 2, 2**64 - 1, 2**64, 2**128 + 1, 2**255 % R, 2**254]
felt = st.one_of(st.sampled_from(EDGE), st.integers(min_value=0, max_value=R - 1))
I64 = st.integers(min_value=-(2**63), max_value=2**63 - 1)
I64_EDGE = [-(2**63), -(2**63) + 1, -1, 0, 1, 2**63 - 1, 2**62, -(2**62)]


def pairs(min_size=1, max_size=70):
    return st.integers(min_size, max_size).flatmap(
        lambda n: st.tuples(st.lists(felt, min_size=n, max_size=n), st.lists(felt, min_size=n, max_size=n))
    )


@settings(max_examples=60, deadline=None)
@given(pairs())
def test_elementwise_ops_match_python_ints(ab):
    a, b = ab
    x, y = Fr.from_ints(a), Fr.from_ints(b)
    assert (x + y).to_ints() == [(p + q) % R for p, q in zip(a, b)]
    assert (x - y).to_ints() == [(p - q) % R for p, q in zip(a, b)]
    assert (x * y).to_ints() == [(p * q) % R for p, q in zip(a, b)]
    assert (-x).to_ints() == [(-p) % R for p in a]
    assert x.inner(y) == sum(p * q for p, q in zip(a, b)) % R
    assert x.sum() == sum(a) % R


@settings(max_examples=40, deadline=None)
@given(pairs(), felt)
def test_scalar_ops_fold_and_axpy(ab, c):
    a, b = ab
    x, y = Fr.from_ints(a), Fr.from_ints(b)
    assert (x * c).to_ints() == [p * c % R for p in a]
    assert (c * x).to_ints() == [p * c % R for p in a]
    assert (x + c).to_ints() == [(p + c) % R for p in a]
    assert (x - c).to_ints() == [(p - c) % R for p in a]
    assert (c - x).to_ints() == [(c - p) % R for p in a]
    assert x.axpy(c, y).to_ints() == [(c * p + q) % R for p, q in zip(a, b)]
    assert x.interpolate(y, c).to_ints() == [(p + c * (q - p)) % R for p, q in zip(a, b)]
    t = Fr.concat([x, y])
    assert t.fold(c).to_ints() == [(p + c * (q - p)) % R for p, q in zip(a, b)]


@settings(max_examples=40, deadline=None)
@given(st.lists(st.one_of(st.sampled_from(I64_EDGE), I64), min_size=1, max_size=100))
def test_int64_round_trip_and_signed_semantics(vals):
    x = Fr.from_int64(np.array(vals, dtype=np.int64))
    assert x.to_ints() == [v % R for v in vals]
    assert x.to_int64().tolist() == vals
    assert x.to_signed_ints() == vals


def test_to_int64_rejects_out_of_range():
    x = Fr.from_ints([2**63, 5])
    with pytest.raises(FieldRangeError):
        x.to_int64()
    y = Fr.from_ints([-(2**63) - 1])
    with pytest.raises(FieldRangeError):
        y.to_int64()
    assert Fr.from_ints([-(2**63)]).to_int64().tolist() == [-(2**63)]


@settings(max_examples=30, deadline=None)
@given(st.lists(felt, min_size=1, max_size=50))
def test_bytes_round_trip_and_canonical_check(a):
    x = Fr.from_ints(a)
    data = x.to_le_bytes()
    assert data == b"".join(v.to_bytes(32, "little") for v in a)
    assert Fr.from_le_bytes(data) == x


@pytest.mark.parametrize("bad", [R, R + 1, 2**256 - 1, 2**255])
def test_from_le_bytes_rejects_noncanonical(bad):
    with pytest.raises(FieldRangeError):
        Fr.from_le_bytes((5).to_bytes(32, "little") + bad.to_bytes(32, "little"))
    with pytest.raises(FieldRangeError):
        Fr.from_le_bytes(b"\x00" * 33)


@settings(max_examples=30, deadline=None)
@given(st.lists(felt.filter(lambda v: v != 0), min_size=1, max_size=9000))
def test_batch_inverse(a):
    inv = Fr.from_ints(a).inverse().to_ints()
    assert inv == [pow(v, -1, R) for v in a]


def test_batch_inverse_rejects_zero():
    with pytest.raises(ZeroDivisionError):
        Fr.from_ints([3, 0, 5]).inverse()


@settings(max_examples=20, deadline=None)
@given(felt, st.integers(0, 9000))
def test_powers(x, n):
    p = Fr.powers(x, n).to_ints()
    assert len(p) == n
    assert p[:5] == [pow(x, i, R) for i in range(min(n, 5))]
    if n:
        assert p[-1] == pow(x, n - 1, R)


def _eq_naive(u, i):
    n = len(u)
    out = 1
    for j, uj in enumerate(u):
        bit = (i >> (n - 1 - j)) & 1  # u[0] ↔ most significant bit
        out = out * (uj if bit else 1 - uj) % R
    return out


@settings(max_examples=30, deadline=None)
@given(st.lists(felt, min_size=0, max_size=6), st.data())
def test_eq_table_and_mle_evaluation(u, data):
    n = len(u)
    eq = Fr.eq_table(u).to_ints()
    assert eq == [_eq_naive(u, i) for i in range(1 << n)]
    size = data.draw(st.integers(1, 1 << n))
    t = data.draw(st.lists(felt, min_size=size, max_size=size))
    expect = sum(v * e for v, e in zip(t, eq)) % R
    assert Fr.from_ints(t).evaluate(u) == expect


def test_large_vectors_use_parallel_chunks():
    rng = np.random.default_rng(1)
    x = Fr.random(20_000, rng=rng)
    y = Fr.random(20_000, rng=rng)
    a, b = x.to_ints(), y.to_ints()
    assert x.inner(y) == sum(p * q for p, q in zip(a, b)) % R
    assert (x * y).to_ints()[-3:] == [p * q % R for p, q in zip(a[-3:], b[-3:])]
    assert all(v < R for v in a)


def test_random_is_fresh_and_seeded_reproducible():
    assert Fr.random(4).to_ints() != Fr.random(4).to_ints()
    assert Fr.random(4, rng=np.random.default_rng(7)) == Fr.random(4, rng=np.random.default_rng(7))


def test_length_mismatch_is_an_error():
    with pytest.raises(ValueError):
        Fr.from_ints([1, 2]) + Fr.from_ints([1])
    with pytest.raises(FieldRangeError):
        Fr.from_int64(np.array([1.5]))


@settings(max_examples=25, deadline=None)
@given(st.integers(1, 4), st.integers(1, 5), st.integers(1, 4), st.data())
def test_contract_middle_axis(P, Q, Rr, data):
    a = data.draw(st.lists(felt, min_size=P * Q * Rr, max_size=P * Q * Rr))
    v = data.draw(st.lists(felt, min_size=Q, max_size=Q))
    got = Fr.from_ints(a).contract((P, Q, Rr), Fr.from_ints(v)).to_ints()
    want = [sum(a[(p * Q + q) * Rr + r] * v[q] for q in range(Q)) % R for p in range(P) for r in range(Rr)]
    assert got == want


def test_contract_is_partial_evaluation():
    rng = np.random.default_rng(5)
    t = Fr.random(64, rng=rng)  # variables (2 | 3 | 1)
    u = [int(x) for x in rng.integers(0, 2**60, 6)]
    part = t.contract((4, 8, 2), Fr.eq_table(u[2:5]))
    assert part.evaluate(u[:2] + u[5:]) == t.evaluate(u)


def test_scaled_eq_table():
    u = [3, 5, 7]
    assert Fr.eq_table(u, scale=11).to_ints() == [11 * v % R for v in Fr.eq_table(u).to_ints()]
    assert Fr.eq_table([], scale=4).to_ints() == [4]


def test_serial_twins_do_not_share_the_parallel_kernels_disk_cache():
    """numba's disk cache keys a kernel by module, qualified name and line, not by ``parallel``: a serial twin
    built from the parallel kernel's own function object shared its cache entry, so whichever compiled first ran
    for both (in a fresh checkout often the serial code, for every size). Every twin has its own entry."""
    from numba.core.registry import CPUDispatcher

    from zkdl.field import cpu_kernels as K

    twins = [(name[:-2], getattr(K, name)) for name in dir(K) if name.endswith("_s")]
    twins = [(getattr(K, base), twin) for base, twin in twins if isinstance(getattr(K, base, None), CPUDispatcher)]
    assert len(twins) >= 20
    for par, ser in twins:
        assert par.targetoptions.get("parallel") and not ser.targetoptions.get("parallel")
        assert par._cache._cache_file._index_name != ser._cache._cache_file._index_name, par.__name__
