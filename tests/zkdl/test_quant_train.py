"""The integer SGD step against an independent pure-Python-int computation; traces; overflow; schedules."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from zkdl.errors import QuantizationConfigError, QuantizationOverflow
from zkdl.quant.fixedpoint import FixedPointParams, IntRange
from zkdl.quant.model import QuantizedModel
from zkdl.quant.train import (
    BatchSchedule,
    exact_add,
    exact_matmul,
    predict_int,
    train_quantized,
    train_step,
)

# ------------------------------------------------------------------ independent reference (Python ints, lists)


def _rs(z: int, k: int) -> tuple[int, int]:
    if k == 0:
        return z, 0
    q = (z + 2 ** (k - 1)) // 2**k
    return q, z - q * 2**k


def ref_step(Ws, bs, X, Y, F, s):
    """The protocol's table, written out entry by entry with Python integers (lists of lists)."""
    L = len(Ws)
    B = len(X)
    acts = [X]
    out = [dict() for _ in range(L)]
    for l in range(L):
        W, b, A = Ws[l], bs[l], acts[l]
        din, dout = len(W), len(W[0])
        Z = [
            [sum(A[i][k] * W[k][j] for k in range(din)) + (0 if b is None else 2**F * b[j]) for j in range(dout)]
            for i in range(B)
        ]
        out[l].update(
            A_in=A,
            Z=Z,
            Z_rescaled=[[_rs(v, F)[0] for v in row] for row in Z],
            Z_remainder=[[_rs(v, F)[1] for v in row] for row in Z],
        )
        if l < L - 1:
            Zr = out[l]["Z_rescaled"]
            out[l].update(
                S=[[1 if v < 0 else 0 for v in row] for row in Zr], A=[[max(v, 0) for v in row] for row in Zr]
            )
            acts.append(out[l]["A"])
    O = out[L - 1]["Z_rescaled"]
    GZ = [[o - y for o, y in zip(orow, yrow, strict=True)] for orow, yrow in zip(O, Y, strict=True)]
    for l in reversed(range(L)):
        W, b, A = Ws[l], bs[l], acts[l]
        din, dout = len(W), len(W[0])
        out[l]["G_Z"] = GZ
        GW = [[sum(A[i][k] * GZ[i][j] for i in range(B)) for j in range(dout)] for k in range(din)]
        out[l].update(
            G_W=GW,
            dW=[[_rs(v, F + s)[0] for v in row] for row in GW],
            dW_remainder=[[_rs(v, F + s)[1] for v in row] for row in GW],
        )
        if b is not None:
            gb = [sum(GZ[i][j] for i in range(B)) for j in range(dout)]
            out[l].update(G_b=gb, db=[_rs(v, s)[0] for v in gb], db_remainder=[_rs(v, s)[1] for v in gb])
        if l > 0:
            GA = [[sum(GZ[i][j] * W[k][j] for j in range(dout)) for k in range(din)] for i in range(B)]
            GAr = [[_rs(v, F)[0] for v in row] for row in GA]
            out[l - 1].update(G_A=GA, G_A_rescaled=GAr, G_A_remainder=[[_rs(v, F)[1] for v in row] for row in GA])
            S = out[l - 1]["S"]
            GZ = [[0 if S[i][k] else GAr[i][k] for k in range(din)] for i in range(B)]
    newW = [
        [[w - d for w, d in zip(wr, dr, strict=True)] for wr, dr in zip(W, out[l]["dW"], strict=True)]
        for l, W in enumerate(Ws)
    ]
    newb = [None if b is None else [v - d for v, d in zip(b, out[l]["db"], strict=True)] for l, b in enumerate(bs)]
    return out, newW, newb


GENEROUS = dict(input_bits=40, label_bits=40, weight_bits=40, bias_bits=40, act_bits=40, grad_bits=40, update_bits=40)


def _random_case(rng, widths, B, F, bias):
    W = tuple(rng.integers(-(2**F), 2**F + 1, size=(a, b), dtype=np.int64) for a, b in zip(widths[:-1], widths[1:]))
    b = tuple(rng.integers(-(2**F), 2**F + 1, size=d, dtype=np.int64) if bias else None for d in widths[1:])
    X = rng.integers(-(2**F), 2**F + 1, size=(B, widths[0]), dtype=np.int64)
    Y = rng.integers(0, 2**F + 1, size=(B, widths[-1]), dtype=np.int64)
    return QuantizedModel(W, b), X, Y


@settings(max_examples=40, deadline=None)
@given(
    widths=st.lists(st.integers(1, 5), min_size=2, max_size=4),
    B=st.integers(1, 5),
    F=st.sampled_from([3, 5, 8, 16]),
    s=st.integers(0, 6),
    bias=st.booleans(),
    seed=st.integers(0, 2**32 - 1),
)
def test_step_matches_python_int_reference(widths, B, F, s, bias, seed):
    rng = np.random.default_rng(seed)
    model, X, Y = _random_case(rng, widths, B, F, bias)
    params = FixedPointParams(frac_bits=F, lr_shift=s, **GENEROUS)
    new, tr = train_step(model, X, Y, params, step=3)
    ref, refW, refb = ref_step(
        [w.tolist() for w in model.weights],
        [None if b is None else b.tolist() for b in model.biases],
        X.tolist(),
        Y.tolist(),
        F,
        s,
    )
    L = len(widths) - 1
    assert tr.step == 3 and len(tr.layers) == L
    for l, (lt, r) in enumerate(zip(tr.layers, ref, strict=True), start=1):
        assert lt.layer == l
        for name in ("A_in", "Z", "Z_rescaled", "Z_remainder", "G_Z", "G_W", "dW", "dW_remainder"):
            got = getattr(lt, name)
            assert got.dtype == np.int64, name
            assert got.tolist() == r[name], (name, l)
        hidden = l < L
        for name in ("S", "A", "G_A", "G_A_rescaled", "G_A_remainder"):
            got = getattr(lt, name)
            if hidden:
                assert got.tolist() == r[name], (name, l)
            else:
                assert got is None
        for name in ("G_b", "db", "db_remainder"):
            got = getattr(lt, name)
            assert (got is None) == (not bias)
            if bias:
                assert got.tolist() == r[name], (name, l)
    assert [w.tolist() for w in new.weights] == refW
    assert [None if b is None else b.tolist() for b in new.biases] == refb
    assert tr.O.tolist() == ref[-1]["Z_rescaled"]


def test_tiny_model_width_3_and_odd_shapes_trace_relations():
    """One hidden layer of width 3, odd batch and dataset sizes, several steps: every relation of the protocol
    holds on the trace, and the weights chain W_{t+1} = W_t − ΔW_t."""
    rng = np.random.default_rng(1)
    params = FixedPointParams(frac_bits=10, lr_shift=3)
    F, s = params.frac_bits, params.lr_shift
    n, widths = 37, (7, 3, 5)
    model = QuantizedModel(
        tuple(rng.integers(-500, 500, size=(a, b), dtype=np.int64) for a, b in zip(widths[:-1], widths[1:])),
        (rng.integers(-300, 300, size=3, dtype=np.int64), None),
    )
    X = rng.integers(0, 2**F, size=(n, 7), dtype=np.int64)
    Y = np.eye(5, dtype=np.int64)[rng.integers(0, 5, size=n)] << F
    sched = BatchSchedule(n, 5)
    run = train_quantized(model, X, Y, params, sched, 11)
    assert run.initial.equals(model) and len(run.traces) == 11
    W = list(model.weights)
    bvec = list(model.biases)
    R = params.ranges
    for t, tr in enumerate(run.traces):
        assert tr.rows.tolist() == [(t * 5 + j) % n for j in range(5)]
        assert np.array_equal(tr.X, X[tr.rows]) and np.array_equal(tr.Y, Y[tr.rows])
        for l, lt in enumerate(tr.layers, start=1):
            assert np.array_equal(lt.W, W[l - 1])
            bias_term = 0 if lt.b is None else (lt.b << F)[None, :]
            assert np.array_equal(lt.Z, lt.A_in @ lt.W + bias_term)
            assert np.array_equal(lt.Z, (lt.Z_rescaled << F) + lt.Z_remainder)
            assert lt.Z_remainder.min() >= R["Z_remainder"].lo and lt.Z_remainder.max() < R["Z_remainder"].hi
            assert np.array_equal(lt.G_W, lt.A_in.T @ lt.G_Z)
            assert np.array_equal(lt.G_W, (lt.dW << (F + s)) + lt.dW_remainder)
            if lt.b is not None:
                assert np.array_equal(lt.G_b, lt.G_Z.sum(axis=0))
                assert np.array_equal(lt.G_b, (lt.db << s) + lt.db_remainder)
            if l < len(tr.layers):
                assert set(np.unique(lt.S).tolist()) <= {0, 1}
                assert np.array_equal(lt.S, (lt.Z_rescaled < 0).astype(np.int64))
                assert np.array_equal(lt.A, (1 - lt.S) * lt.Z_rescaled)
                M = lt.relu_magnitude
                assert M.min() >= 0 and M.max() < 2**params.act_bits
                nxt = tr.layers[l]
                assert np.array_equal(lt.G_A, nxt.G_Z @ nxt.W.T)
                assert np.array_equal(lt.G_A, (lt.G_A_rescaled << F) + lt.G_A_remainder)
                assert np.array_equal(lt.G_Z, (1 - lt.S) * lt.G_A_rescaled)
                assert np.array_equal(nxt.A_in, lt.A)
            else:
                assert np.array_equal(lt.G_Z, tr.O - tr.Y)
            W[l - 1] = lt.W_next
            bvec[l - 1] = lt.b_next
    assert all(np.array_equal(a, b) for a, b in zip(run.final.weights, W, strict=True))
    assert np.array_equal(run.final.biases[0], bvec[0]) and run.final.biases[1] is None
    # the same run without traces ends in the same weights
    run2 = train_quantized(model, X, Y, params, sched, 11, keep_traces=False)
    assert run2.traces == () and run2.final.equals(run.final)


def test_train_quantized_is_repeated_train_step_with_permuted_schedule():
    rng = np.random.default_rng(2)
    params = FixedPointParams(frac_bits=12, lr_shift=5)
    model, X, Y = _random_case(rng, (4, 6, 2), 13, 10, True)
    sched = BatchSchedule(13, 4, seed=12345)
    run = train_quantized(model, X, Y, params, sched, 6)
    cur = model
    for t in range(6):
        cur, tr = train_step(cur, X[sched.rows(t)], Y[sched.rows(t)], params, step=t)
        assert np.array_equal(run.traces[t].layers[0].dW, tr.layers[0].dW)
    assert cur.equals(run.final)


def test_schedule_wraps_and_permutation_is_public_and_seeded():
    s = BatchSchedule(10, 4)
    assert s.rows(0).tolist() == [0, 1, 2, 3] and s.rows(2).tolist() == [8, 9, 0, 1]
    p = BatchSchedule(10, 4, seed=7)
    order = p.order()
    assert sorted(order.tolist()) == list(range(10))
    assert np.array_equal(order, BatchSchedule(10, 4, seed=7).order())
    assert not np.array_equal(order, BatchSchedule(10, 4, seed=8).order())
    assert p.rows(2).tolist() == [order[8], order[9], order[0], order[1]]
    # batch larger than the dataset wraps too
    assert BatchSchedule(3, 7).rows(0).tolist() == [0, 1, 2, 0, 1, 2, 0]
    with pytest.raises(QuantizationConfigError):
        BatchSchedule(0, 4)
    with pytest.raises(QuantizationConfigError):
        BatchSchedule(5, 0)


# ------------------------------------------------------------------ overflow detection


def test_preactivation_overflow_names_tensor_layer_step():
    params = FixedPointParams(frac_bits=8, act_bits=10)  # |Z'| < 2^10, i.e. |z| < 4.0
    W1 = np.full((4, 3), 1 << 8, dtype=np.int64)  # weights 1.0
    W2 = np.full((3, 2), 1 << 8, dtype=np.int64)
    model = QuantizedModel((W1, W2), (None, None))
    X = np.full((2, 4), 1 << 8, dtype=np.int64)  # inputs 1.0: Z' = 4.0 = 2^10, just outside
    Y = np.zeros((2, 2), dtype=np.int64)
    with pytest.raises(QuantizationOverflow) as ei:
        train_step(model, X, Y, params, step=5)
    assert ei.value.tensor == "Z" and ei.value.layer == 1 and ei.value.step == 5
    assert "Z (layer 1, step 5)" in str(ei.value)
    X[:, 0] = 255  # Z' = 4 − 1/256: inside layer 1; layer 2 sums three of them: outside
    with pytest.raises(QuantizationOverflow) as ei:
        train_step(model, X, Y, params, step=0)
    assert ei.value.tensor == "Z" and ei.value.layer == 2


def test_update_overflow_names_G_W():
    """G_W's declared range is exactly the set whose rescale_{F+s} lands in ΔW's range, so an oversized update is
    reported on G_W (before rescaling)."""
    params = FixedPointParams(frac_bits=8, lr_shift=0, update_bits=8)  # |ΔW| < 1.0
    model = QuantizedModel((np.full((2, 1), 1 << 8, dtype=np.int64),), (None,))
    X = np.full((4, 2), 1 << 8, dtype=np.int64)
    Y = np.zeros((4, 1), dtype=np.int64)  # O = 2, G_Z = 2, G_W = 4·2 = 8.0: ΔW = 8.0 out of range
    with pytest.raises(QuantizationOverflow) as ei:
        train_step(model, X, Y, params, step=2)
    assert ei.value.tensor == "G_W" and ei.value.layer == 1 and ei.value.step == 2
    assert ei.value.value == 8 << 16  # 8.0 at scale 2^(2F)


def test_gradient_overflow_names_G_A_of_hidden_layer():
    params = FixedPointParams(frac_bits=8, grad_bits=10)  # |G'_A| < 4.0
    W1 = np.full((1, 2), 1 << 8, dtype=np.int64)
    W2 = np.full((2, 1), 3 << 8, dtype=np.int64)
    model = QuantizedModel((W1, W2), (None, None))
    X = np.full((1, 1), 1 << 7, dtype=np.int64)  # 0.5: O = 3.0, G_Z = 3.0 - (-0) fits; G_A = 9.0 does not
    Y = np.zeros((1, 1), dtype=np.int64)
    with pytest.raises(QuantizationOverflow) as ei:
        train_step(model, X, Y, params, step=0)
    assert ei.value.tensor == "G_A" and ei.value.layer == 1


def test_weights_leaving_range_during_training_report_the_step():
    """A linear 1→1 model pushed towards a far target: the weight grows every step until it leaves
    |w| < 2^(F+1); the error names the first step at which an independent float-free recurrence leaves."""
    F, s = 8, 4
    params = FixedPointParams(frac_bits=F, lr_shift=s, weight_bits=F + 1, update_bits=F + 1)
    X = np.full((1, 1), 1 << F, dtype=np.int64)
    Y = np.full((1, 1), -(8 << F), dtype=np.int64)
    w, expected = 0, None
    for t in range(1000):  # independent recurrence with Python ints
        gz = w - int(Y[0, 0])
        dw = (gz * (1 << F) + (1 << (F + s - 1))) // (1 << (F + s))
        w -= dw
        if not -(1 << (F + 1)) <= w < (1 << (F + 1)):
            expected = t
            break
    assert expected is not None and expected > 2
    model = QuantizedModel((np.zeros((1, 1), dtype=np.int64),), (None,))
    with pytest.raises(QuantizationOverflow) as ei:
        train_quantized(model, X, Y, params, BatchSchedule(1, 1), 1000, keep_traces=False)
    assert ei.value.tensor == "W after update" and ei.value.step == expected and ei.value.layer == 1


def test_inputs_out_of_range_and_bad_shapes_rejected():
    params = FixedPointParams(frac_bits=8)
    model = QuantizedModel((np.zeros((2, 1), dtype=np.int64),), (None,))
    Y = np.zeros((3, 1), dtype=np.int64)
    X = np.zeros((3, 2), dtype=np.int64)
    X[1, 1] = 1 << 12  # |x| < 16.0 is the default input range
    with pytest.raises(QuantizationOverflow) as ei:
        train_quantized(model, X, Y, params, BatchSchedule(3, 2), 1)
    assert ei.value.tensor == "X" and ei.value.index == (1, 1)
    with pytest.raises(QuantizationConfigError):
        train_step(model, X.astype(np.float64), Y, params)
    with pytest.raises(QuantizationConfigError):
        train_step(model, np.zeros((3, 5), dtype=np.int64), Y, params)
    with pytest.raises(QuantizationConfigError):
        train_quantized(
            model, np.zeros((4, 2), dtype=np.int64), np.zeros((4, 1), dtype=np.int64), params, BatchSchedule(3, 2), 1
        )


# ------------------------------------------------------------------ exact int64 arithmetic


@pytest.mark.parametrize("mag", [1 << 10, 1 << 28, 1 << 40])
def test_exact_matmul_all_paths_match_python_ints(mag):
    rng = np.random.default_rng(mag % 97)
    a = rng.integers(-mag, mag, size=(3, 4), dtype=np.int64)
    b = rng.integers(-mag, mag, size=(4, 2), dtype=np.int64)
    ref = [[sum(int(a[i, k]) * int(b[k, j]) for k in range(4)) for j in range(2)] for i in range(3)]
    if max(abs(v) for row in ref for v in row) > (1 << 63) - 1:
        with pytest.raises(QuantizationOverflow):
            exact_matmul(a, b, tensor="G_W", layer=1, step=0)
    else:
        assert exact_matmul(a, b).tolist() == ref


def test_exact_matmul_large_operands_with_cancellation_stay_exact():
    # the a-priori bound exceeds int64, but the exact result (by cancellation) fits: no false error, no wrap
    big = 1 << 40
    a = np.array([[big, big]], dtype=np.int64)
    b = np.array([[big], [-big + 3]], dtype=np.int64)
    assert exact_matmul(a, b).tolist() == [[3 * big]]
    x = np.array([(1 << 62) + 5], dtype=np.int64)
    assert exact_add(x, np.array([-(1 << 62)], dtype=np.int64)).tolist() == [5]
    with pytest.raises(QuantizationOverflow, match="Z"):
        exact_add(x, x, tensor="Z", layer=1, step=0)


def test_predict_int_matches_trace_forward():
    rng = np.random.default_rng(4)
    params = FixedPointParams(frac_bits=10)
    model, X, Y = _random_case(rng, (3, 4, 2), 6, 8, True)
    _, tr = train_step(model, X, Y, params)
    assert np.array_equal(predict_int(model, X, params), tr.O)
    assert IntRange.signed(params.act_bits).lo <= tr.O.min()
