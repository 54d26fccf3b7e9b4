"""Export of the trained model: every run writes ``private/final_model.pt`` and ``final_model.npz`` (with its
scale); ``zkdl export`` writes torch, ONNX or npz; the exported float model predicts what the quantized model
predicts."""

from __future__ import annotations

import json

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from zkdl import api  # noqa: E402
from zkdl.cli import main  # noqa: E402
from zkdl.errors import ModelFormatError, ZkdlError  # noqa: E402
from zkdl.quant import FixedPointParams, predict_int  # noqa: E402
from zkdl.quant import export as model_export  # noqa: E402
from zkdl.quant.data import load_dataset, quantize_inputs  # noqa: E402
from zkdl.quant.model import load_torch_model, to_torch  # noqa: E402


def _pretrained():
    """A 64-16-10 model pre-trained in floats on digits, so that its predictions are meaningful (a constant
    classifier would agree with anything)."""
    ds = load_dataset("digits", seed=0)
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Linear(64, 16), torch.nn.ReLU(), torch.nn.Linear(16, 10))
    opt = torch.optim.Adam(net.parameters(), lr=0.02)
    X, y = torch.as_tensor(ds.X_train, dtype=torch.float32), torch.as_tensor(ds.labels_train)
    for _ in range(200):
        opt.zero_grad()
        torch.nn.functional.cross_entropy(net(X), y).backward()
        opt.step()
    return net


def test_exported_float_model_predicts_like_the_quantized_model():
    """The export functions on their own (no proof): exact weights, torch layout, ≥ 99 % argmax agreement."""
    from zkdl.quant.model import from_torch, quantize_model

    fp = FixedPointParams()
    q = quantize_model(from_torch(_pretrained()), fp)
    sd = model_export.state_dict(q, fp)
    for i, w in zip((0, 2), q.weights, strict=True):
        assert np.array_equal((sd[f"{i}.weight"].double().numpy() * fp.scale).astype(np.int64), w.T)
    net = torch.nn.Sequential(torch.nn.Linear(64, 16), torch.nn.ReLU(), torch.nn.Linear(16, 10))
    net.load_state_dict(sd)
    X, labels = _test_inputs()
    q_cls = np.argmax(predict_int(q, quantize_inputs(X, fp), fp), axis=1)
    with torch.no_grad():
        f_cls = net(torch.as_tensor(X, dtype=torch.float32)).argmax(dim=1).numpy()
    assert float(np.mean(f_cls == q_cls)) >= 0.99 and float(np.mean(q_cls == labels)) > 0.8


@pytest.fixture(scope="module")
def digits_run(tmp_path_factory):
    """A short proven run on digits from the pre-trained model."""
    net = _pretrained()
    out = tmp_path_factory.mktemp("export") / "run"
    bundle = api.prove_training(
        model=net, data="digits", steps=2, batch_size=32, lr_shift=14, out_dir=out, verify_after=False
    )
    return out, bundle


def _test_inputs():
    ds = load_dataset("digits", seed=0)
    return ds.X_test, ds.labels_test


def _quantized_classes(run):
    model, fp = api.load_final_model(run)
    X, _ = _test_inputs()
    return np.argmax(predict_int(model, quantize_inputs(X, fp), fp), axis=1), model, fp


@pytest.mark.slow  # proves a run (about 10 s, more with a fresh generator cache)
def test_every_run_writes_a_torch_state_dict_and_a_scaled_npz(digits_run):
    run, bundle = digits_run
    priv = run / "private"
    fp = bundle.statement.params
    with np.load(priv / "final_model.npz") as z:
        assert int(z["frac_bits"]) == fp.frac_bits == 16
        assert z["widths"].tolist() == [64, 16, 10]
        for l, w in enumerate(bundle.final_weights, start=1):
            assert np.array_equal(z[f"W{l}"], w)
    sd = torch.load(priv / "final_model.pt", weights_only=True)
    assert sorted(sd) == ["0.bias", "0.weight", "2.bias", "2.weight"]
    # torch's layout (out × in) with the scale applied, exactly
    for i, w in zip((0, 2), bundle.final_weights, strict=True):
        assert sd[f"{i}.weight"].shape == (w.shape[1], w.shape[0]) and sd[f"{i}.weight"].dtype == torch.float32
        assert np.array_equal((sd[f"{i}.weight"].double().numpy() * fp.scale).astype(np.int64), w.T)
    net = torch.nn.Sequential(torch.nn.Linear(64, 16), torch.nn.ReLU(), torch.nn.Linear(16, 10))
    net.load_state_dict(sd)  # loads into a plain Sequential as it is
    q_cls, _, _ = _quantized_classes(run)
    X, labels = _test_inputs()
    with torch.no_grad():
        f_cls = net(torch.as_tensor(X, dtype=torch.float32)).argmax(dim=1).numpy()
    agreement = float(np.mean(f_cls == q_cls))
    assert agreement >= 0.99, agreement
    assert float(np.mean(q_cls == labels)) > 0.8  # a trained model, not a trivially constant one


@pytest.mark.slow  # proves a run (about 10 s, more with a fresh generator cache)
@pytest.mark.parametrize("fmt", ["torch", "npz"])
def test_export_cli_round_trips(digits_run, tmp_path, capsys, fmt):
    run, _ = digits_run
    out = tmp_path / f"model.{fmt}"
    assert main(["export", str(run), "--format", fmt, "--out", str(out), "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == {"ok": True, "format": fmt, "out": str(out)}
    q_cls, model, fp = _quantized_classes(run)
    X, _ = _test_inputs()
    if fmt == "torch":
        fm = load_torch_model(out)  # the project's own strict loader accepts it (weights_only, allow-listed)
        with torch.no_grad():
            f_cls = to_torch(fm)(torch.as_tensor(X)).argmax(dim=1).numpy()
        assert float(np.mean(f_cls == q_cls)) >= 0.99
    else:
        back, frac_bits = model_export.read_npz(out)
        assert frac_bits == fp.frac_bits and back.equals(model)


@pytest.mark.slow  # proves a run (about 10 s, more with a fresh generator cache)
def test_export_onnx_predicts_like_the_quantized_model(digits_run, tmp_path):
    onnx = pytest.importorskip("onnx")
    from onnx.reference import ReferenceEvaluator

    run, _ = digits_run
    out = api.export_model(run, "onnx", tmp_path / "model.onnx")
    onnx.checker.check_model(onnx.load(str(out)))
    q_cls, _, _ = _quantized_classes(run)
    X, _ = _test_inputs()
    (y,) = ReferenceEvaluator(str(out)).run(None, {"input": X.astype(np.float32)})
    assert y.shape == (X.shape[0], 10)
    assert float(np.mean(np.argmax(y, axis=1) == q_cls)) >= 0.99


@pytest.mark.slow  # proves a run (about 10 s, more with a fresh generator cache)
def test_onnx_without_the_onnx_package_is_a_clear_error(digits_run, tmp_path, monkeypatch, capsys):
    import sys

    run, _ = digits_run
    monkeypatch.setitem(sys.modules, "onnx", None)  # import onnx now raises ImportError
    assert main(["export", str(run), "--format", "onnx", "--out", str(tmp_path / "m.onnx")]) == 2
    err = capsys.readouterr().err
    assert "MissingDependency" in err and "zkdl[onnx]" in err and "Traceback" not in err
    assert not (tmp_path / "m.onnx").exists()


@pytest.mark.slow  # proves a run (about 10 s, more with a fresh generator cache)
def test_export_bad_inputs_are_typed_errors(digits_run, tmp_path):
    run, _ = digits_run
    with pytest.raises(ModelFormatError, match="unknown export format"):
        api.export_model(run, "tflite", tmp_path / "m")
    with pytest.raises(ZkdlError):  # not a run directory
        api.export_model(tmp_path, "torch", tmp_path / "m.pt")
    with pytest.raises(ZkdlError, match="directory"):
        api.export_model(run, "torch", tmp_path)
    # a final model that does not match the statement
    bad = tmp_path / "run"
    (bad / "private").mkdir(parents=True)
    (bad / "statement.json").write_bytes((run / "statement.json").read_bytes())
    np.savez(bad / "private" / "final_model.npz", W1=np.zeros((3, 2), dtype=np.int64), frac_bits=np.int64(16))
    with pytest.raises(ModelFormatError, match="widths"):
        api.export_model(bad, "torch", tmp_path / "m.pt")
    np.savez(bad / "private" / "final_model.npz", W1=np.zeros((64, 10), dtype=np.int64), frac_bits=np.int64(12))
    with pytest.raises(ModelFormatError, match="frac_bits"):
        api.export_model(bad, "torch", tmp_path / "m.pt")
