"""Hyrax-style row commitments: py_ecc oracle, agreement of the fast paths, hiding, serialization."""

from __future__ import annotations

import hashlib
import random

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from py_arkworks_bls12381 import G1Point
from py_ecc.bls.hash_to_curve import hash_to_G1
from py_ecc.bls.point_compression import compress_G1
from py_ecc.optimized_bls12_381 import add, multiply

from zkdl.commit import generators as G
from zkdl.commit import pedersen as P
from zkdl.errors import ProofFormatError, SetupError
from zkdl.field import MODULUS, Fr

N_GENS = 64
_PP8 = G.PublicParams.ephemeral(8)


@pytest.fixture(scope="module")
def pp():
    return G.PublicParams.ephemeral(N_GENS)


def _naive_rows(pp, values, layout, blinds):
    """Σ_i t_i·g_i + ρ·h row by row with plain arkworks scalar multiplications (full-size scalars)."""
    gens = pp.gens(layout.cols)
    vals = [int(v) % MODULUS for v in values] + [0] * (layout.size - len(values))
    out = []
    for r in range(layout.rows):
        acc = pp.h * P.scalars_from_ints([blinds[r]])[0]
        for i in range(layout.cols):
            acc = acc + gens[i] * P.scalars_from_ints([vals[r * layout.cols + i]])[0]
        out.append(acc)
    return out


def test_matches_py_ecc_oracle():
    """Same generators (py_ecc's own hash_to_G1) and the same compressed commitment bytes as py_ecc."""
    pp = G.PublicParams.ephemeral(4)
    values = np.array([3, -5, 0, 1, 65535, -70000, 2**40], dtype=np.int64)
    com, opening = P.commit_int(pp, values, rng=random.Random(7))
    assert (com.layout.rows, com.layout.cols) == (2, 4)

    def gen(kind, i):
        return hash_to_G1(G.generator_message(kind, i), G.DST, hashlib.sha256)

    g = [gen(G.KIND_VECTOR, i) for i in range(4)]
    h = gen(G.KIND_BLINDING, 0)
    padded = [int(v) % MODULUS for v in values] + [0]
    for r in range(2):
        acc = multiply(h, opening.blinds[r])
        for i in range(4):
            acc = add(acc, multiply(g[i], padded[4 * r + i]))
        assert compress_G1(acc).to_bytes(48, "big") == com.rows[r].to_compressed_bytes()
    # and the value commitment v·g_v + ρ·h
    gv = gen(G.KIND_VALUE, 0)
    ref = add(multiply(gv, MODULUS - 9), multiply(h, 12345))
    assert compress_G1(ref).to_bytes(48, "big") == P.commit_value(pp, -9, 12345).to_compressed_bytes()


@pytest.mark.parametrize("n", [1, 2, 3, 5, 16, 33, 100, 256])
@pytest.mark.parametrize("workers", [1, 2, 3])
def test_all_paths_agree_with_naive(pp, n, workers):
    rng = np.random.default_rng(n * 10 + workers)
    ints = rng.integers(-(2**20), 2**20, n)
    ints[:: max(1, n // 4)] = 0
    bits = rng.integers(0, 2, n).astype(bool)
    full = [random.Random(n).randrange(MODULUS) for _ in range(n)]

    c_int, o_int = P.commit_int(pp, ints, rng=random.Random(1), workers=workers)
    assert list(c_int.rows) == _naive_rows(pp, ints, c_int.layout, o_int.blinds)
    c_fr, _ = P.commit_fr(pp, Fr.from_int64(ints), rng=random.Random(1), workers=workers)
    c_list, _ = P.commit_fr(pp, [int(x) for x in ints], rng=random.Random(1), workers=workers)
    assert c_fr == c_int and c_list == c_int

    c_bits, o_bits = P.commit_bits(pp, bits, rng=random.Random(2), workers=workers)
    assert list(c_bits.rows) == _naive_rows(pp, bits.astype(int), c_bits.layout, o_bits.blinds)
    assert P.commit_int(pp, bits.astype(np.int8), rng=random.Random(2), workers=workers)[0] == c_bits
    assert P.commit(pp, bits, rng=random.Random(2), workers=workers)[0] == c_bits

    c_full, o_full = P.commit_fr(pp, Fr.from_ints(full), rng=random.Random(3), workers=workers)
    assert list(c_full.rows) == _naive_rows(pp, full, c_full.layout, o_full.blinds)


@settings(max_examples=25, deadline=None)
@given(
    st.lists(
        st.one_of(
            st.integers(-(2**63), 2**63 - 1),
            st.sampled_from([-(2**63), 2**63 - 1, -1, 0, 1, 2**16, -(2**16), 2**16 - 1]),
        ),
        min_size=1,
        max_size=20,
    )
)
def test_signed_int64_extremes_match_full_scalar_path(values):
    pp = _PP8
    arr = np.array(values, dtype=np.int64)
    c_int, o_int = P.commit_int(pp, arr, rng=random.Random(5))
    assert list(c_int.rows) == _naive_rows(pp, values, c_int.layout, o_int.blinds)
    # values mod r given as big ints (≥ 2^64 in absolute value are full scalars; here: negatives ≡ r − |v|)
    assert P.commit_fr(pp, [v % MODULUS for v in values], rng=random.Random(5))[0] == c_int


def test_unsigned_and_small_dtypes(pp):
    vals = np.array([0, 1, 255, 2**63 + 5, 2**64 - 1], dtype=np.uint64)
    c, o = P.commit_int(pp, vals, rng=random.Random(9))
    assert list(c.rows) == _naive_rows(pp, [int(v) for v in vals], c.layout, o.blinds)
    small = np.array([-128, 127, 5], dtype=np.int8)
    assert (
        P.commit_int(pp, small, rng=random.Random(4))[0]
        == P.commit_int(pp, small.astype(np.int64), rng=random.Random(4))[0]
    )


def test_hiding_fresh_blinds_change_every_row(pp):
    vals = np.arange(64, dtype=np.int64)
    c1, o1 = P.commit_int(pp, vals)
    c2, o2 = P.commit_int(pp, vals)
    assert o1.blinds != o2.blinds
    assert all(a != b for a, b in zip(c1.rows, c2.rows, strict=True))
    # the blinding really is the only difference
    assert P.commit_int(pp, vals, blinds=o1.blinds)[0] == c1
    # an all-zero table is not the identity
    z, _ = P.commit_int(pp, np.zeros(16, dtype=np.int64))
    assert all(p != G1Point.identity() for p in z.rows)


def test_blinds_from_explicit_rng_are_reproducible(pp):
    vals = np.arange(20, dtype=np.int64)
    a = P.commit_int(pp, vals, rng=random.Random(11))
    b = P.commit_int(pp, vals, rng=random.Random(11))
    c = P.commit_int(pp, vals, rng=np.random.default_rng(11))
    assert a == b and a[0] != c[0]
    assert all(0 <= x < MODULUS for x in c[1].blinds)
    with pytest.raises(TypeError):
        P.random_scalar(object())


def test_binding_different_values_different_commitment(pp):
    vals = np.arange(16, dtype=np.int64)
    c1, o1 = P.commit_int(pp, vals, rng=random.Random(1))
    vals2 = vals.copy()
    vals2[5] += 1
    c2, _ = P.commit_int(pp, vals2, blinds=o1.blinds)
    assert c1.rows[0] == c2.rows[0] and c1.rows[1] != c2.rows[1]


def test_layout_rule():
    assert P.Layout.for_length(1) == P.Layout(1, 0, 0)
    assert P.Layout.for_length(2) == P.Layout(2, 0, 1)
    assert P.Layout.for_length(1 << 16) == P.Layout(1 << 16, 8, 8)
    assert P.Layout.for_length((1 << 16) + 1) == P.Layout((1 << 16) + 1, 8, 9)
    assert P.Layout.for_length(1000, log_cols=10) == P.Layout(1000, 0, 10)
    lay = P.Layout.for_length(1 << 22)
    assert (lay.rows, lay.cols, lay.num_vars) == (1024, 4096, 22)  # at most 2^10 rows
    for bad in (0, -3):
        with pytest.raises(ValueError):
            P.Layout.for_length(bad)
    with pytest.raises(ValueError):
        P.Layout.for_length(100, log_cols=8)
    u = list(range(1, 8))
    assert P.Layout.for_length(100).split_point(u) == ([1, 2, 3], [4, 5, 6, 7])
    with pytest.raises(ValueError):
        P.Layout.for_length(100).split_point(u[:-1])


def test_canonical_layout_caps_rows_then_columns():
    """Square-ish up to 2^20 entries, then at most 2^10 rows, but never a row beyond the 2^16 pinned generators."""
    from zkdl.commit.generators import N_MAX

    expect = {16: (8, 8), 17: (8, 9), 20: (10, 10), 21: (10, 11), 23: (10, 13), 26: (10, 16), 27: (11, 16)}
    expect[30] = (14, 16)
    for n in range(0, 33):
        lay = P.Layout.for_length(1 << n)
        assert lay.log_rows + lay.log_cols == n
        assert lay.cols <= N_MAX
        assert lay.log_rows <= max(n // 2, 10) or lay.cols == N_MAX
        assert lay.log_cols >= n - n // 2  # never fewer columns than the square-ish split
        if n in expect:
            assert (lay.log_rows, lay.log_cols) == expect[n], n
        if n >= 1:  # a function of the padded size n only
            m = (1 << (n - 1)) + 1
            assert P.Layout.for_length(m) == P.Layout(m, lay.log_rows, lay.log_cols)


def test_log_cols_override_and_capacity(pp):
    vals = np.arange(100, dtype=np.int64)
    c, o = P.commit_int(pp, vals, log_cols=6, rng=random.Random(0))
    assert (c.layout.rows, c.layout.cols) == (2, 64)
    assert list(c.rows) == _naive_rows(pp, vals, c.layout, o.blinds)
    with pytest.raises(SetupError):
        P.commit_int(pp, np.arange(200, dtype=np.int64), log_cols=8)


def test_bad_inputs(pp):
    with pytest.raises(TypeError):
        P.commit_int(pp, np.array([1.5]))
    with pytest.raises(ValueError):
        P.commit_bits(pp, np.array([0, 2]))
    with pytest.raises(ValueError):
        P.commit_int(pp, np.array([], dtype=np.int64))
    with pytest.raises(ValueError):
        P.commit_int(pp, np.arange(4), blinds=[1, 2, 3])


def test_msm_helper_splits_and_agrees(pp):
    pts = pp.gens(64) * 128
    sc = P.scalars_from_ints(range(len(pts)))
    assert P.msm(pts, sc, workers=4) == G1Point.multiexp_unchecked(pts, sc) == P.msm(pts, sc, workers=1)


# ---------------------------------------------------------------------------------------------------- bytes
def test_commitment_serialization_round_trip(pp):
    for n in (1, 7, 100):
        c, _ = P.commit_int(pp, np.arange(n, dtype=np.int64))
        data = c.to_bytes()
        assert len(data) == 8 + 1 + 1 + 8 + 48 * c.layout.rows
        back = P.Commitment.from_bytes(data)
        assert back == c and back.layout == c.layout and hash(back) == hash(c)


def _non_subgroup_point_bytes() -> bytes:
    """A point on E(Fp) outside the prime-order subgroup (found from x = 1 upwards)."""
    from py_ecc.fields import optimized_bls12_381_FQ as FQ
    from py_ecc.optimized_bls12_381 import b as curve_b
    from py_ecc.optimized_bls12_381 import is_on_curve

    p = FQ.field_modulus
    x = 1
    while True:
        y2 = (x**3 + 4) % p
        y = pow(y2, (p + 1) // 4, p)
        if y * y % p == y2:
            break
        x += 1
    pt = (FQ(x), FQ(y), FQ(1))
    assert is_on_curve(pt, curve_b)
    return compress_G1(pt).to_bytes(48, "big")


def test_commitment_reader_rejects_malformed(pp):
    c, _ = P.commit_int(pp, np.arange(7, dtype=np.int64))  # 2 rows × 4 cols
    good = c.to_bytes()
    bad_inputs = {
        "truncated": good[:-1],
        "trailing": good + b"\x00",
        "empty": b"",
        "zero entries": (0).to_bytes(8, "little") + good[8:],
        "inconsistent layout": (100).to_bytes(8, "little") + good[8:],
        "huge layout": good[:8] + bytes([40, 40]) + good[10:],
        "wrong row count": good[:10] + (3).to_bytes(8, "little") + good[18:],
        "not a point": good[:18] + b"\x80" + b"\xff" * 47 + good[66:],
        "not in subgroup": good[:18] + _non_subgroup_point_bytes() + good[66:],
        "uncompressed flag": good[:18] + bytes([good[18] & 0x7F]) + good[19:],
    }
    for name, data in bad_inputs.items():
        with pytest.raises(ProofFormatError):
            P.Commitment.from_bytes(data)
        assert name


def test_opening_repr_hides_blinds(pp):
    _, o = P.commit_int(pp, np.arange(4, dtype=np.int64))
    assert str(o.blinds[0]) not in repr(o)


def test_commit_vector_equals_single_row_commitment(pp):
    vals = [random.Random(3).randrange(MODULUS) for _ in range(16)]
    com, opening = P.commit_fr(pp, vals, log_cols=4, rng=random.Random(4))
    assert com.layout.rows == 1
    assert P.commit_vector(pp, vals, opening.blinds[0]) == com.rows[0]
    # at an offset: the same values on the generators g_off, g_off+1, …
    lo = P.commit_vector(pp, vals[:5], 0)
    hi = P.commit_vector(pp, vals[5:], opening.blinds[0], offset=5)
    assert lo + hi == com.rows[0]
    from zkdl.errors import SetupError

    with pytest.raises(SetupError, match="needs as many generators"):
        P.commit_vector(pp, vals, 0, offset=pp.capacity)
