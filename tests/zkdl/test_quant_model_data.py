"""Loading the user's model (torch Sequential or width list) and datasets (.npz or bundled)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from zkdl.errors import DatasetError, ModelFormatError, QuantizationOverflow
from zkdl.quant.data import load_dataset, load_npz, one_hot, quantize_inputs, quantize_targets
from zkdl.quant.fixedpoint import FixedPointParams
from zkdl.quant.model import (
    FloatModel,
    dequantize_model,
    float_predict,
    init_model,
    load_model,
    load_torch_model,
    quantize_model,
    to_torch,
    train_float,
)
from zkdl.quant.train import BatchSchedule

# ------------------------------------------------------------------ models


def test_load_saved_sequential_roundtrip(tmp_path):
    torch.manual_seed(0)
    seq = torch.nn.Sequential(torch.nn.Linear(5, 3), torch.nn.ReLU(), torch.nn.Linear(3, 2, bias=False))
    path = tmp_path / "model.pt"
    torch.save(seq, path)
    m = load_torch_model(path)
    assert m.widths == (5, 3, 2)
    assert np.array_equal(m.weights[0], seq[0].weight.detach().double().numpy().T)
    assert np.array_equal(m.biases[0], seq[0].bias.detach().double().numpy())
    assert m.biases[1] is None
    x = torch.randn(4, 5)
    assert np.allclose(float_predict(m, x.double().numpy()), seq(x).detach().double().numpy(), atol=1e-6)
    # a state_dict works too, and load_model dispatches on the argument type
    sd_path = tmp_path / "sd.pt"
    torch.save(seq.state_dict(), sd_path)
    m2 = load_model(sd_path)
    assert m2.widths == (5, 3, 2) and np.array_equal(m2.weights[1], m.weights[1]) and m2.biases[1] is None


def test_conv_layer_rejected_by_name(tmp_path):
    seq = torch.nn.Sequential(torch.nn.Conv2d(1, 2, 3), torch.nn.ReLU(), torch.nn.Linear(4, 2))
    path = tmp_path / "conv.pt"
    torch.save(seq, path)
    with pytest.raises(ModelFormatError, match="Conv2d"):
        load_torch_model(path)
    # the in-memory check names the layer too
    from zkdl.quant.model import from_torch

    with pytest.raises(ModelFormatError, match="'0'.*Conv2d"):
        from_torch(seq)


@pytest.mark.parametrize(
    "layers, match",
    [
        (lambda: [torch.nn.Linear(3, 3), torch.nn.Linear(3, 2)], "expected ReLU"),
        (lambda: [torch.nn.Linear(3, 3), torch.nn.ReLU(), torch.nn.Linear(3, 2), torch.nn.ReLU()], "last layer"),
        (lambda: [torch.nn.Linear(3, 4), torch.nn.ReLU(), torch.nn.Linear(3, 2)], "in_features"),
        (lambda: [torch.nn.Linear(3, 3), torch.nn.Tanh(), torch.nn.Linear(3, 2)], "Tanh"),
        (lambda: [torch.nn.ReLU(), torch.nn.Linear(3, 2)], "expected Linear"),
    ],
)
def test_malformed_sequentials_rejected(tmp_path, layers, match):
    path = tmp_path / "m.pt"
    torch.save(torch.nn.Sequential(*layers()), path)
    with pytest.raises(ModelFormatError, match=match):
        load_torch_model(path)


def test_non_model_files_rejected(tmp_path):
    bad = tmp_path / "junk.pt"
    bad.write_bytes(b"not a torch file")
    with pytest.raises(ModelFormatError):
        load_torch_model(bad)
    with pytest.raises(ModelFormatError, match="does not exist"):
        load_torch_model(tmp_path / "missing.pt")
    torch.save({"opt": torch.optim.SGD}, tmp_path / "other.pt")
    with pytest.raises(ModelFormatError):
        load_torch_model(tmp_path / "other.pt")
    torch.save(torch.nn.Linear(2, 2), tmp_path / "lin.pt")
    with pytest.raises(ModelFormatError, match="Sequential"):
        load_torch_model(tmp_path / "lin.pt")


def test_width_list_init_is_seeded_and_quantizes():
    a, b, c = init_model([64, 3, 10], seed=1), init_model([64, 3, 10], seed=1), init_model([64, 3, 10], seed=2)
    assert a.widths == (64, 3, 10)
    assert np.array_equal(a.weights[0], b.weights[0]) and not np.array_equal(a.weights[0], c.weights[0])
    assert np.abs(a.weights[0]).max() <= 1 / 8  # U(-1/sqrt(64), 1/sqrt(64))
    p = FixedPointParams()
    q = quantize_model(a, p)
    assert q.weights[0].dtype == np.int64 and q.widths == (64, 3, 10)
    back = dequantize_model(q, p)
    assert np.abs(back.weights[1] - a.weights[1]).max() <= 2.0**-17
    with pytest.raises(ModelFormatError):
        init_model([5])
    with pytest.raises(QuantizationOverflow, match="W"):
        quantize_model(FloatModel((np.array([[100.0]]),), (None,)), p)


def test_float_trainer_is_plain_sgd_with_lr_2_pow_minus_s():
    """The torch trainer equals a hand-written numpy float64 SGD with the same schedule: W -= 2^-s·Aᵀ(O−Y)."""
    rng = np.random.default_rng(0)
    model = init_model([4, 3, 2], seed=3)
    X, Y = rng.uniform(0, 1, (9, 4)), rng.uniform(0, 1, (9, 2))
    p = FixedPointParams(lr_shift=3)
    sched = BatchSchedule(9, 4, seed=5)
    got = train_float(model, X, Y, sched, 5, p)
    W = [w.copy() for w in model.weights]
    b = [v.copy() for v in model.biases]
    for t in range(5):
        r = sched.rows(t)
        a0 = X[r]
        z1 = a0 @ W[0] + b[0]
        a1 = np.maximum(z1, 0)
        o = a1 @ W[1] + b[1]
        g2 = o - Y[r]
        g1 = (g2 @ W[1].T) * (z1 > 0)
        gW = [a0.T @ g1, a1.T @ g2]
        gb = [g1.sum(0), g2.sum(0)]
        for i in range(2):
            W[i] -= gW[i] / 8
            b[i] -= gb[i] / 8
    for i in range(2):
        assert np.allclose(got.weights[i], W[i], atol=1e-12) and np.allclose(got.biases[i], b[i], atol=1e-12)
    assert isinstance(to_torch(got), torch.nn.Sequential)


# ------------------------------------------------------------------ data


def test_digits_bundled_dataset():
    d = load_dataset("digits", seed=0)
    assert d.n_features == 64 and d.n_outputs == 10 and d.n_classes == 10
    assert d.X_train.shape[0] + d.X_test.shape[0] == 1797
    assert d.X_train.min() >= 0 and d.X_train.max() <= 1
    assert np.array_equal(d.Y_train.argmax(1), d.labels_train) and np.all(d.Y_train.sum(1) == 1)
    p = FixedPointParams()
    Xq, Yq = quantize_inputs(d.X_train, p), quantize_targets(d.Y_train, p)
    assert Xq.dtype == np.int64 and Xq.max() <= 1 << 16 and set(np.unique(Yq).tolist()) == {0, 1 << 16}
    again = load_dataset("digits", seed=0)
    assert np.array_equal(again.X_test, d.X_test)
    assert not np.array_equal(load_dataset("digits", seed=1).labels_test, d.labels_test)
    with pytest.raises(DatasetError, match="unknown dataset"):
        load_dataset("mnist_from_the_internet")


def test_npz_loading_and_validation(tmp_path):
    rng = np.random.default_rng(0)
    good = tmp_path / "good.npz"
    np.savez(good, X=rng.uniform(size=(20, 3)).astype(np.float32), y=rng.integers(0, 4, 20))
    d = load_dataset(good, test_fraction=0.25, seed=0)
    assert d.n_features == 3 and d.n_classes == 4 and d.X_test.shape == (5, 3)
    reg = tmp_path / "reg.npz"
    np.savez(reg, X=rng.uniform(size=(10, 2)), y=rng.uniform(size=(10, 2)))
    X, y = load_npz(reg)
    assert y.shape == (10, 2) and y.dtype == np.float64
    assert load_dataset(reg).labels_test is None

    def bad(name, match, **arrays):
        path = tmp_path / f"{name}.npz"
        np.savez(path, **arrays)
        with pytest.raises(DatasetError, match=match):
            load_dataset(path)

    bad("noy", "lacks", X=np.zeros((3, 2)))
    bad("X1d", "2-D", X=np.zeros(3), y=np.zeros(3, dtype=int))
    bad("rows", "rows", X=np.zeros((3, 2)), y=np.zeros(4, dtype=int))
    bad("nan", "NaN", X=np.array([[np.nan, 1.0]]), y=np.zeros(1, dtype=int))
    bad("neg", "non-negative", X=np.zeros((2, 2)), y=np.array([0, -1]))
    frac = tmp_path / "frac.npz"
    np.savez(frac, X=np.zeros((4, 2)), y=np.array([0.5, 1.0, 0.0, 2.0]))
    with pytest.raises(DatasetError, match="integer class labels"):
        load_dataset(frac, task="classification")
    bad("str", "numeric", X=np.array([["a", "b"]]), y=np.zeros(1, dtype=int))
    obj = tmp_path / "obj.npz"
    np.savez(obj, X=np.array([[1, "a"]], dtype=object), y=np.zeros(1, dtype=int))
    with pytest.raises(DatasetError, match="Python objects") as e:
        load_npz(obj)
    assert "allow_pickle" not in str(e.value)
    junk = tmp_path / "junk.npz"
    junk.write_bytes(b"junk")
    with pytest.raises(DatasetError):
        load_npz(junk)
    with pytest.raises(DatasetError, match="does not exist"):
        load_npz(tmp_path / "none.npz")
    tiny = tmp_path / "tiny.npz"
    np.savez(tiny, X=np.zeros((1, 2)), y=np.zeros(1, dtype=int))
    with pytest.raises(DatasetError, match="split"):
        load_dataset(tiny)


def test_one_hot_and_out_of_range_inputs():
    assert one_hot(np.array([2, 0]), 3).tolist() == [[0, 0, 1], [1, 0, 0]]
    with pytest.raises(DatasetError):
        one_hot(np.array([3]), 3)
    with pytest.raises(QuantizationOverflow, match="X"):
        quantize_inputs(np.array([[0.0, 40.0]]), FixedPointParams())
