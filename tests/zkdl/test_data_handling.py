"""Data handling without surprises: .npy/.npz/.csv read or refused with one clear line, the task inferred only
when unambiguous, bool labels, standardization on the training split, overflow errors in the user's units,
batch larger than the data, --lr mapped to a supported shift."""

from __future__ import annotations

import numpy as np
import pytest

from zkdl.errors import DatasetError, ModelFormatError, QuantizationOverflow, ZkdlError
from zkdl.quant import FixedPointParams
from zkdl.quant.data import infer_task, load_dataset, quantize_inputs, quantize_targets, read_data


def test_npy_table_needs_a_target_column(tmp_path):
    M = np.c_[np.random.default_rng(0).uniform(size=(30, 3)), np.arange(30) % 3]
    np.save(tmp_path / "t.npy", M)
    with pytest.raises(DatasetError, match="--target COLUMN"):
        load_dataset(tmp_path / "t.npy")
    d = load_dataset(tmp_path / "t.npy", target=-1)
    assert d.n_features == 3 and d.n_classes == 3 and d.task == "classification"
    np.save(tmp_path / "v.npy", np.arange(5.0))
    with pytest.raises(DatasetError, match="2-D table"):
        load_dataset(tmp_path / "v.npy", target=0)


def test_csv_with_header_and_target_name(tmp_path):
    rows = ["a,b,label"] + [f"{i / 10},{(i * 7 % 10) / 10},{i % 2}" for i in range(20)]
    (tmp_path / "d.csv").write_text("\n".join(rows) + "\n")
    with pytest.raises(DatasetError, match="columns: a, b, label"):
        load_dataset(tmp_path / "d.csv")
    d = load_dataset(tmp_path / "d.csv", target="label")
    assert d.feature_names == ("a", "b") and d.n_classes == 2
    with pytest.raises(DatasetError, match="no column named 'nope'"):
        load_dataset(tmp_path / "d.csv", target="nope")
    (tmp_path / "bad.csv").write_text("a,b\n1,x\n")
    with pytest.raises(DatasetError, match="must be a number"):
        load_dataset(tmp_path / "bad.csv", target="b")


def test_misleading_files_get_accurate_messages(tmp_path):
    (tmp_path / "text.npz").write_text("x,y\n1,2\n")
    with pytest.raises(DatasetError, match="not a numpy .npz archive") as e:
        load_dataset(tmp_path / "text.npz")
    assert "allow_pickle" not in str(e.value)
    np.save(tmp_path / "arr.npy", np.zeros((3, 3)))
    (tmp_path / "arr.npz").write_bytes((tmp_path / "arr.npy").read_bytes())
    with pytest.raises(DatasetError, match="is a .npy array"):
        load_dataset(tmp_path / "arr.npz")
    with pytest.raises(DatasetError, match="is a directory"):
        load_dataset(tmp_path)


def test_task_inference_and_its_refusals():
    assert infer_task(np.array([0, 1, 2, 1])) == "classification"
    assert infer_task(np.array([True, False])) == "classification"
    assert infer_task(np.array([0.0, 1.0, 1.0])) == "classification"
    assert infer_task(np.array([0.5, 1.25])) == "regression"
    with pytest.raises(DatasetError, match="214 distinct whole values is ambiguous.*--task"):
        infer_task(np.arange(214, dtype=np.float64) + 25)


def test_bool_labels_and_1d_regression_targets():
    rng = np.random.default_rng(1)
    X = rng.uniform(size=(40, 3))
    d = load_dataset((X, X[:, 0] > 0.5))
    assert d.n_classes == 2 and set(d.labels_train.tolist()) <= {0, 1}
    y = np.round(rng.uniform(20, 300, 40))  # the diabetes pattern: float, many whole values
    with pytest.raises(DatasetError, match="ambiguous"):
        load_dataset((X, y))
    r = load_dataset((X, y), task="regression")
    assert r.task == "regression" and r.Y_train.shape == (32, 1) and r.labels_test is None


def test_standardize_uses_training_statistics_only():
    rng = np.random.default_rng(2)
    X = rng.normal(1000, 300, size=(50, 2))
    y = rng.normal(150, 40, size=50)
    d = load_dataset((X, y), standardize=True, task="regression")
    assert np.allclose(d.X_train.mean(axis=0), 0, atol=1e-9) and np.allclose(d.X_train.std(axis=0), 1)
    assert not np.allclose(d.X_test.mean(axis=0), 0, atol=1e-9)
    f = d.preprocessing["features"]
    assert f["method"] == "standardize" and abs(f["mean"][0] - 1000) < 200
    back = d.targets_to_user_units(d.Y_test)[:, 0]
    assert np.isin(np.round(back, 6), np.round(y, 6)).all()


def test_overflow_names_feature_value_range_and_flag():
    X = np.zeros((3, 14))
    X[1, 12] = 1680.0  # wine's proline
    names = tuple(f"f{j}" for j in range(13)) + ("proline",)
    with pytest.raises(QuantizationOverflow) as e:
        quantize_inputs(X, FixedPointParams(), names)
    msg = str(e.value)
    assert "feature 12" in msg and "1680" in msg and "[-16, 16)" in msg and "--standardize" in msg
    assert "learning rate" not in msg
    with pytest.raises(QuantizationOverflow, match="target column 0 has value 85"):
        quantize_targets(np.array([[85.0]]), FixedPointParams())


def test_data_sources_accepted_and_wrong_types_named(tmp_path):
    import torch
    from torch.utils.data import DataLoader, TensorDataset

    rng = np.random.default_rng(3)
    X, y = rng.uniform(size=(12, 2)), rng.integers(0, 2, 12)
    ref = read_data((X, y))[0]
    assert np.array_equal(read_data({"X": X, "y": y})[0], ref)
    tds = TensorDataset(torch.as_tensor(X), torch.as_tensor(y))
    assert np.array_equal(read_data(tds)[0], ref)
    Xl, yl, _ = read_data(DataLoader(tds, batch_size=5))
    assert np.array_equal(Xl, ref) and np.array_equal(yl, y)
    assert np.array_equal(read_data((torch.as_tensor(X), torch.as_tensor(y)))[1], y)
    with pytest.raises(DatasetError, match="data must be .*pair \\(X, y\\).*got int"):
        read_data(42)
    with pytest.raises(DatasetError, match="lacks key"):
        read_data({"X": X})


def test_api_checks_before_work(tmp_path):
    import zkdl

    rng = np.random.default_rng(4)
    data = (rng.uniform(size=(20, 3)), rng.integers(0, 2, 20))
    with pytest.raises(DatasetError, match="batch 64 is larger than the 16 training rows.*--allow-repeat"):
        zkdl.prove_training(data=data, widths=[3, 4, 2], batch_size=64, steps=1, verify_after=False)
    with pytest.raises(ZkdlError, match="bias"):
        zkdl.prove_training(data=data, model="m.pt", bias=False)
    with pytest.raises(ModelFormatError, match="model must be a torch.nn.Sequential.*got int"):
        zkdl.prove_training(data=data, model=3)
    with pytest.raises(ZkdlError, match="steps must be an integer"):
        zkdl.prove_training(data=data, steps="4")
    with pytest.raises(ZkdlError, match="either lr .* or lr_shift"):
        zkdl.prove_training(data=data, lr=0.1, lr_shift=3)
    (tmp_path / "file").write_text("x")
    with pytest.raises(ZkdlError, match="is a file, not a directory"):
        zkdl.prove_training(data=data, out_dir=tmp_path / "file")


def test_lr_maps_to_the_nearest_shift_and_divergence_names_the_flag():
    from zkdl.api import _resolve_lr

    s, info = _resolve_lr(0.05, None, 32)
    assert s == 9 and info["learning_rate"] == 32 / 512 and info["learning_rate_requested"] == 0.05
    assert _resolve_lr(None, None, 64) == (8, {"lr_shift": 8, "learning_rate": 0.25})
    with pytest.raises(ZkdlError, match="outside what batch 4 supports"):
        _resolve_lr(100.0, None, 4)
    import zkdl

    rng = np.random.default_rng(5)
    data = (rng.normal(size=(40, 4)), rng.integers(0, 3, 40))
    with pytest.raises(QuantizationOverflow) as e:
        zkdl.prove_training(data=data, widths=[4, 8, 3], batch_size=32, steps=8, lr=30.0, verify_after=False)
    msg = str(e.value)
    assert "training diverged at step" in msg and "layer" in msg and "--lr" in msg and "allowed range" in msg


def test_a_large_step_names_update_bits_and_a_wider_update_range_proves_it(tmp_path):
    """The default update range is |Δw| < 0.5 (one limb per weight per step). Iris with softmax cross-entropy at
    η = 0.5 (batch 16, lr-shift 5) makes a step of about 0.52 at step 40: the error names --update-bits next to
    --lr, and the same run with a wider declared range proves and verifies (the training is the same integers)."""
    import zkdl

    kw = dict(data="iris", widths=[4, 16, 16, 3], batch_size=16, steps=41, lr_shift=5, loss="ce", verify_after=False)
    with pytest.raises(QuantizationOverflow) as e:
        zkdl.prove_training(**kw)
    msg = str(e.value)
    assert "step 40" in msg and "--update-bits 20" in msg and "--lr" in msg
    bundle = zkdl.prove_training(**kw, update_bits=20, out_dir=tmp_path)
    assert bundle.statement.params.update_bits == 20
    assert zkdl.verify(tmp_path / "proof.zkdl", tmp_path / "statement.json").valid


def test_api_proves_a_torch_sequential_on_a_dataloader():
    import torch
    from torch.utils.data import DataLoader, TensorDataset

    import zkdl

    rng = np.random.default_rng(6)
    X = torch.as_tensor(rng.uniform(0, 1, (24, 3)), dtype=torch.float32)
    y = torch.as_tensor(rng.integers(0, 2, 24))
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.ReLU(), torch.nn.Linear(4, 2, bias=False))
    bundle = zkdl.prove_training(model=net, data=DataLoader(TensorDataset(X, y), batch_size=7), steps=1, batch_size=4)
    s = bundle.summary
    assert s["verified"] and s["model_source"] == "in-memory Sequential" and s["task"] == "classification"
    assert bundle.statement.has_bias == (True, False) and s["data_source"] == "in-memory DataLoader"
    assert len(s["data_sha256"]) == 64


def test_disk_and_memory_are_checked_before_training(tmp_path, monkeypatch):
    import shutil

    import zkdl
    from zkdl import api
    from zkdl.errors import ResourceError

    rng = np.random.default_rng(7)
    data = (rng.uniform(size=(20, 3)), rng.integers(0, 2, 20))

    def no_training(*a, **k):
        raise AssertionError("trained before the resource check")

    monkeypatch.setattr(api, "train_quantized", no_training)
    from zkdl.runs import planner

    monkeypatch.setattr(planner, "available_memory", lambda: 1 << 20)  # the default budget: 60 % of it
    with pytest.raises(ResourceError, match="of memory.*more than the budget.*batch smaller"):
        zkdl.prove_training(data=data, widths=[3, 4, 2], batch_size=8, steps=2, out_dir=tmp_path / "m")
    with pytest.raises(ResourceError, match="of memory"):  # also without an output directory
        zkdl.prove_training(data=data, widths=[3, 4, 2], batch_size=8, steps=2)
    monkeypatch.setattr(planner, "available_memory", lambda: 1 << 40)
    usage = shutil.disk_usage(tmp_path)
    monkeypatch.setattr(api.shutil, "disk_usage", lambda p: usage._replace(free=1000))
    with pytest.raises(ResourceError, match="MB free"):
        zkdl.prove_training(data=data, widths=[3, 4, 2], batch_size=8, steps=2, out_dir=tmp_path / "d")


def test_a_model_weight_out_of_range_is_named_in_user_units():
    from zkdl.api import _quantize_user_model
    from zkdl.quant.model import init_model

    m = init_model([3, 4, 2], seed=0)
    w2 = m.weights[1].copy()
    w2[0, 1] = 20.0
    bad = type(m)((m.weights[0], w2), m.biases)
    with pytest.raises(QuantizationOverflow, match=r"layer 2 has a weight of 20, outside the range \[-16, 16\)"):
        _quantize_user_model(bad, FixedPointParams())
