"""Fixed-point parameters, declared ranges, rescale and quantization."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from zkdl.errors import QuantizationConfigError, QuantizationOverflow, ZkdlError
from zkdl.quant.fixedpoint import (
    FIELD_MODULUS,
    FixedPointParams,
    IntRange,
    check_range,
    dequantize,
    quantize,
    rescale,
)

INT62 = 1 << 62


@settings(max_examples=300, deadline=None)
@given(z=st.lists(st.integers(-INT62, INT62), min_size=1, max_size=20), k=st.integers(0, 62))
def test_rescale_identity_and_remainder_range(z, k):
    q, r = rescale(np.array(z, dtype=np.int64), k)
    assert q.dtype == np.int64 and r.dtype == np.int64
    for zi, qi, ri in zip(z, q.tolist(), r.tolist(), strict=True):
        assert zi == (qi << k) + ri
        if k == 0:
            assert ri == 0
        else:
            assert -(1 << (k - 1)) <= ri < (1 << (k - 1))
            # round half up, computed independently with Python's exact floor division
            assert qi == (2 * zi + (1 << k)) // (1 << (k + 1))


def test_rescale_rounds_half_up():
    q, r = rescale(np.array([-3, -2, -1, 0, 1, 2, 3, 6, -6], dtype=np.int64), 2)
    # z/4 = -0.75 -0.5 -0.25 0 0.25 0.5 0.75 1.5 -1.5 → round half up
    assert q.tolist() == [-1, 0, 0, 0, 0, 1, 1, 2, -1]
    assert r.tolist() == [1, -2, -1, 0, 1, -2, -1, -2, -2]


def test_rescale_never_wraps():
    with pytest.raises(QuantizationOverflow):
        rescale(np.array([(1 << 63) - 1], dtype=np.int64), 3)
    with pytest.raises(QuantizationConfigError):
        rescale(np.array([1], dtype=np.int64), 63)
    with pytest.raises(QuantizationConfigError):
        rescale(np.array([1.5]), 2)


@settings(max_examples=200, deadline=None)
@given(k=st.integers(0, 20), bits=st.integers(1, 20), z=st.integers(-(1 << 42), 1 << 42))
def test_rescale_preimage_is_exact(k, bits, z):
    pre = IntRange.rescale_preimage(k, bits)
    q, _ = rescale(np.array([z], dtype=np.int64), k)
    assert (z in pre) == (int(q[0]) in IntRange.signed(bits))


def test_quantize_rounding_and_errors():
    q = quantize(np.array([0.0, 1.0, -1.0, 0.5 / 256, -0.5 / 256, 1.25]), 8)
    assert q.tolist() == [0, 256, -256, 1, 0, 320]
    assert np.allclose(dequantize(q, 8), [0.0, 1.0, -1.0, 1 / 256, 0.0, 1.25])
    with pytest.raises(QuantizationOverflow, match="non-finite"):
        quantize(np.array([np.nan]), 8)
    with pytest.raises(QuantizationOverflow, match="X"):
        quantize(np.array([0.0, 100.0]), 8, rng=IntRange.signed(8 + 4), tensor="X")


def test_check_range_names_tensor_layer_step_and_index():
    a = np.zeros((3, 4), dtype=np.int64)
    a[2, 1] = 1 << 10
    with pytest.raises(QuantizationOverflow) as ei:
        check_range(a, IntRange.signed(10), tensor="G_A", layer=2, step=7)
    e = ei.value
    assert (e.tensor, e.layer, e.step, e.index, e.value) == ("G_A", 2, 7, (2, 1), 1 << 10)
    assert "G_A" in str(e) and "layer 2" in str(e) and "step 7" in str(e)
    check_range(a, IntRange.signed(11), tensor="G_A")  # inside: no error


def test_default_signed_ranges_fill_whole_limbs():
    """The defaults are chosen so that the per-step tensors cost whole 16-bit limbs: ΔW and Δb one limb (a step
    moves a weight by less than 0.5), G'_A and the output gradient two (|g| < 2^15 in real units)."""
    from zkdl.protocol.shapes import limb_specs

    p = FixedPointParams()
    specs = limb_specs(p.to_dict(), 3, (True, True, True))
    assert specs["DW1"].limb_bits == [16] and specs["DB2"].limb_bits == [16]
    assert specs["GA1"].limb_bits == [16, 16] and specs["GO"].limb_bits == [16, 16]
    assert FixedPointParams(frac_bits=8).update_bits == 7  # |ΔW| < 0.5 whatever F
    assert FixedPointParams(update_bits=20).update_bits == 20  # explicit values are kept


def test_default_params_and_ranges():
    p = FixedPointParams()
    assert (p.frac_bits, p.lr_shift) == (16, 8)
    assert (p.input_bits, p.label_bits, p.weight_bits, p.bias_bits) == (20, 20, 20, 20)
    assert (p.act_bits, p.grad_bits, p.update_bits) == (32, 31, 15)
    R = p.ranges
    assert R["Z_remainder"] == IntRange(-(1 << 15), 1 << 15)
    assert R["dW_remainder"] == IntRange(-(1 << 23), 1 << 23)
    assert R["db_remainder"] == IntRange(-(1 << 7), 1 << 7)
    assert R["A"] == IntRange(0, 1 << 32) and R["S"] == IntRange(0, 2)
    assert R["Z"] == IntRange(-(1 << 48) - (1 << 15), (1 << 48) - (1 << 15))
    # every declared range lies inside ±2^62
    assert all(-(1 << 62) - (1 << 61) <= r.lo and r.hi <= (1 << 62) for r in R.values())
    assert p.float_learning_rate(64) == 0.25
    assert p.to_dict()["act_bits"] == 32
    # defaults derived from F keep the raw matmul outputs inside int64
    p24 = FixedPointParams(frac_bits=24)
    assert p24.frac_bits + p24.act_bits <= 62


@pytest.mark.parametrize(
    "kwargs",
    [
        {"frac_bits": 0},
        {"frac_bits": 16, "act_bits": 47},  # Z would need 63 bits
        {"lr_shift": -1},
        {"weight_bits": 0},
        {"frac_bits": 16.0},
        {"frac_bits": 16, "lr_shift": 20, "update_bits": 30},  # G_W would need 66 bits
        {"frac_bits": 20, "bias_bits": 43},  # 2^F·b would need 63 bits
    ],
)
def test_invalid_params_rejected(kwargs):
    with pytest.raises(QuantizationConfigError):
        FixedPointParams(**kwargs)


def test_relation_bounds_and_no_wrap():
    p = FixedPointParams()
    bounds = p.relation_bounds([64, 256, 256, 10], 64, 1000)
    assert all(b < FIELD_MODULUS for b in bounds.values())
    assert any("backward" in k for k in bounds) and any("MSE" in k for k in bounds)
    # a step's weights are not range-checked but bounded by the update history, |W_t| ≤ 2^w + T·2^u: the forward
    # bound of layer 1 is d_0·max|X|·(2^w + T·2^u) + ...; G_Z = O − Y is range-checked (|G_Z| < 2^grad_bits)
    fwd = "forward matmul Z = A·W + 2^F·b (layer 1)"
    w_eff = (1 << 20) + 1000 * (1 << p.update_bits)
    b_eff = (1 << 20) + 1000 * (1 << p.update_bits)
    z_terms = (1 << 16) * b_eff + (1 << 16) * (1 << p.act_bits) + (1 << 15)
    assert bounds[fwd] == 64 * (1 << 20) * w_eff + z_terms
    assert bounds[fwd] > p.relation_bounds([64, 256, 256, 10], 64, 1)[fwd]
    upd = "weight update W_t = W_0 − Σ ΔW (layer 1)"
    assert bounds[upd] == 2 * (1 << 20) + 1000 * (1 << p.update_bits)
    assert bounds["MSE gradient G_Z = O − Y"] == (1 << p.grad_bits) + (1 << p.act_bits) + (1 << p.label_bits)
    p.check_no_wrap([64, 256, 256, 10], 64, 1000)
    with pytest.raises(QuantizationConfigError, match="wrap"):
        p.check_no_wrap([64, 10], 64, 1 << 240)
    with pytest.raises(ZkdlError):
        p.check_no_wrap([64], 64, 1)
