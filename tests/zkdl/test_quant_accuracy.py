"""Quantized training tracks float training on digits (held-out accuracy)."""

from __future__ import annotations

import pytest

from zkdl.quant.data import load_dataset
from zkdl.quant.evaluate import compare_training
from zkdl.quant.fixedpoint import FixedPointParams
from zkdl.quant.model import init_model


@pytest.mark.parametrize("widths, steps", [((64, 32, 10), 120), ((64, 3, 10), 60)])
def test_quantized_training_tracks_float_training_on_digits(widths, steps):
    data = load_dataset("digits", seed=0)
    params = FixedPointParams()  # F = 16, s = 8: learning rate 64·2^-8 = 0.25 on the batch-mean loss
    c = compare_training(init_model(widths, seed=0), data, params, batch_size=64, steps=steps, schedule_seed=3)
    assert c.int_acc_initial == pytest.approx(c.float_acc_initial, abs=0.02)
    assert abs(c.gap) <= 0.03, (c.float_acc, c.int_acc)
    assert c.run.final.widths == widths and c.run.steps == steps
    if widths[1] >= 32:  # a width-3 bottleneck barely learns 10 classes with MSE; only the gap is checked there
        assert c.float_acc > c.float_acc_initial + 0.3
        assert c.int_acc >= 0.85
