"""Softmax cross-entropy in the integer reference step: the public exponential table, the integer softmax and its
relations, the training step with loss "ce", and quantized CE training tracking float CE training."""

from __future__ import annotations

import math

import numpy as np
import pytest

from zkdl.errors import QuantizationConfigError, QuantizationOverflow
from zkdl.quant import FixedPointParams, QuantizedModel, quantize_model, train_step
from zkdl.quant.fixedpoint import SoftmaxParams, exp_table
from zkdl.quant.train import softmax_int


def test_exp_table_is_the_rounded_exponential():
    sp = SoftmaxParams(16, 10)
    T = sp.table()
    assert T.shape == (1 << sp.table_bits,) == (1 << 14,) and T.dtype == np.int64
    assert T[0] == 1 << 16 and T[-1] == 0 and np.all(np.diff(T) <= 0)
    ref = np.array([math.floor(65536 * math.exp(-u / 256) + 0.5) for u in range(T.size)])
    assert np.max(np.abs(T - ref)) <= 1  # platform exp may differ from the decimal-exact table by a rounding
    with pytest.raises(ValueError):
        T[0] = 0  # the shared cached table is read-only
    # few fractional bits: no shift, the table's resolution is 2^-F
    small = SoftmaxParams(4, 3)
    assert small.shift == 0 and small.arg_frac_bits == 4 and small.table()[16] == round(16 * math.exp(-1))
    assert exp_table(16, 8, 14) is T  # cached


def _relations_hold(O: np.ndarray, F: int) -> None:
    sp = SoftmaxParams(F, O.shape[1])
    tr = softmax_int(O, FixedPointParams(frac_bits=F))
    T = sp.table()
    assert np.array_equal(tr.D, tr.max[:, None] - O) and np.all(tr.D >= 0)
    assert np.array_equal(tr.D, (tr.U << sp.shift) + tr.R) and np.all((tr.R >= 0) & (tr.R < (1 << sp.shift)))
    assert np.array_equal(tr.E, T[tr.U])
    assert np.array_equal(tr.sum, tr.E.sum(axis=1))
    assert np.array_equal(tr.E << F, tr.P * tr.sum[:, None] + tr.Q)
    assert np.all(tr.Q >= 0) and np.all(tr.slack >= 0)
    assert np.all(tr.selector.sum(axis=1) == 1) and np.all(tr.selector * tr.D == 0)


def test_integer_softmax_relations_and_accuracy():
    rng = np.random.default_rng(1)
    F = 16
    logits = rng.normal(0, 3, size=(50, 10))
    O = np.floor(logits * 2**F + 0.5).astype(np.int64)
    O[3, :] = O[3, 0]  # a row of ties
    _relations_hold(O, F)
    tr = softmax_int(O, FixedPointParams(frac_bits=F))
    z = np.exp(logits - logits.max(axis=1, keepdims=True))
    soft = z / z.sum(axis=1, keepdims=True)
    soft[3] = 0.1
    assert np.max(np.abs(tr.P / 2**F - soft)) < 0.01  # input resolution 2^-8: e^(1/256) − 1 < 0.4 %
    # shift-invariant like the real softmax: the maximum is subtracted first
    assert np.array_equal(softmax_int(O + 12345, FixedPointParams(frac_bits=F)).P, tr.P)
    _relations_hold(np.array([[5, -3, 0]], dtype=np.int64), 3)


def test_logit_spread_beyond_the_table_is_a_named_overflow():
    F = 16
    O = np.array([[0, 64 << F]], dtype=np.int64)  # spread exactly 64: U = 2^14, one past the table
    with pytest.raises(QuantizationOverflow, match="softmax table index"):
        softmax_int(O, FixedPointParams(frac_bits=F))
    softmax_int(np.array([[0, (64 << F) - 1]], dtype=np.int64), FixedPointParams(frac_bits=F))  # the last entry


def _tiny_model(params):
    from zkdl.quant.model import init_model

    return quantize_model(init_model([4, 5, 3], seed=2), params)


def test_train_step_ce_uses_the_integer_softmax_gradient():
    params = FixedPointParams(frac_bits=12, lr_shift=4)
    rng = np.random.default_rng(0)
    X = np.floor(rng.uniform(0, 1, (6, 4)) * 2**12).astype(np.int64)
    Y = np.eye(3, dtype=np.int64)[rng.integers(0, 3, 6)] << 12
    model = _tiny_model(params)
    new_ce, tr = train_step(model, X, Y, params, loss="ce")
    assert tr.softmax is not None
    assert np.array_equal(tr.softmax.P, softmax_int(tr.O, params).P)
    assert np.array_equal(tr.layers[-1].G_Z, tr.softmax.P - Y)
    new_mse, tr_mse = train_step(model, X, Y, params)
    assert tr_mse.softmax is None and np.array_equal(tr_mse.layers[-1].G_Z, tr_mse.O - Y)
    assert not QuantizedModel.equals(new_ce, new_mse)
    with pytest.raises(QuantizationConfigError, match="loss"):
        train_step(model, X, Y, params, loss="hinge")


@pytest.mark.slow  # 60 float and 60 integer steps: ~15 s alone on 2 cores (bench/ce_accuracy.py has the full runs)
def test_quantized_ce_training_tracks_float_ce_training():
    torch = pytest.importorskip("torch")  # noqa: F841
    from zkdl.quant.data import load_dataset
    from zkdl.quant.evaluate import compare_training
    from zkdl.quant.model import init_model

    data = load_dataset("digits", seed=0)
    params = FixedPointParams(frac_bits=16, lr_shift=7)
    c = compare_training(init_model([64, 32, 10], seed=0), data, params, batch_size=64, steps=60, loss="ce")
    assert c.float_acc > 0.8 and c.int_acc > 0.8  # CE training learns in both
    assert abs(c.gap) <= 0.02, (c.float_acc, c.int_acc)
    assert c.run.loss == "ce"


def test_cross_entropy_needs_class_labels(tmp_path, capsys):
    from zkdl.cli import main

    rng = np.random.default_rng(0)
    np.savez(tmp_path / "reg.npz", X=rng.uniform(0, 1, (20, 3)), y=rng.normal(size=20))
    rc = main(
        [
            "prove",
            "--data",
            str(tmp_path / "reg.npz"),
            "--widths",
            "3,2,1",
            "--loss",
            "ce",
            "--out",
            str(tmp_path / "r"),
        ]
    )
    err = capsys.readouterr().err
    assert rc == 2 and "DatasetError" in err and "class labels" in err and "Traceback" not in err
    assert not (tmp_path / "r" / "proof.zkdl").exists()


def test_cross_entropy_statement_needs_two_classes():
    from zkdl.errors import StatementMismatch
    from zkdl.protocol import training
    from zkdl.protocol.statement import Statement

    st = Statement(
        widths=(3, 2, 1),
        has_bias=(True, True),
        params=FixedPointParams().to_dict(),
        batch_size=1,
        steps=1,
        n_rows=2,
        schedule_seed=None,
        range_backend="lookup",
        generators_digest="00" * 32,
        loss="ce",
    )
    with pytest.raises(StatementMismatch, match="two output classes"):
        training.generators_needed(st)


def test_cross_entropy_relations_cannot_wrap():
    from zkdl.constants import FR_MODULUS

    p = FixedPointParams()
    mse = p.relation_bounds([64, 256, 256, 10], 64, 16)
    ce = p.relation_bounds([64, 256, 256, 10], 64, 16, loss="ce")
    assert set(mse) < set(ce) and all(ce[k] == v for k, v in mse.items())
    extra = {k: v for k, v in ce.items() if k.startswith("softmax")}
    assert len(extra) == 4 and max(extra.values()) < 1 << 60 < FR_MODULUS
    p.check_no_wrap([64, 256, 256, 10], 64, 16, loss="ce")
