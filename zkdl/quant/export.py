"""The trained model in forms people use: a torch state dict, ONNX, and an ``.npz`` that records its scale.

The integer model of a run (:class:`~zkdl.quant.model.QuantizedModel`) holds ``W_l`` as ``d_{l-1} × d_l`` int64
arrays at scale ``2^F``. Exports apply the scale (``W / 2^F``) and use torch's layout (``Linear.weight`` is
``d_l × d_{l-1}``), so ``torch.nn.Sequential(Linear, ReLU, …, Linear).load_state_dict(...)`` takes them as they
are. The float values are exact: every weight and bias is an integer below ``2^(weight_bits)`` divided by a power
of two, which float32 represents exactly whenever ``weight_bits, bias_bits ≤ 24`` (the defaults are ``F + 4``);
wider declared ranges export float64.

The exported model computes in floats what the proof computes in fixed point (the integer forward pass rounds
every layer's output to ``F`` fractional bits), so its outputs differ from the quantized model's by rounding
only; the tests check that the predicted classes agree.

Inputs of the exported model are the features *as the proof saw them*: after the run's preprocessing (digits
divided by 16, bundled datasets min-max scaled, ``--standardize``), which the run records in
``private/preprocessing.json``.
"""

from __future__ import annotations

import os
import warnings
from typing import Any

import numpy as np

from zkdl.errors import MissingDependency, ModelFormatError
from zkdl.quant.fixedpoint import FixedPointParams, dequantize
from zkdl.quant.model import FloatModel, QuantizedModel, to_torch

EXPORT_FORMATS = ("torch", "onnx", "npz")

#: The largest declared magnitude (bits of the integer representation) that float32 holds exactly.
_FLOAT32_EXACT_BITS = 24


def float_model(model: QuantizedModel, params: FixedPointParams) -> FloatModel:
    """The weights with the scale applied (``W / 2^F``), protocol layout (``d_{l-1} × d_l``), float64."""
    F = params.frac_bits
    return FloatModel(
        tuple(dequantize(w, F) for w in model.weights),
        tuple(None if b is None else dequantize(b, F) for b in model.biases),
    )


def export_dtype(params: FixedPointParams) -> Any:
    """``torch.float32`` when it represents every weight and bias of the declared ranges exactly, else float64."""
    import torch

    exact = max(params.weight_bits, params.bias_bits) <= _FLOAT32_EXACT_BITS
    return torch.float32 if exact else torch.float64


def torch_module(model: QuantizedModel, params: FixedPointParams) -> Any:
    """A ``torch.nn.Sequential`` (Linear, ReLU, …, Linear) holding the scaled weights."""
    return to_torch(float_model(model, params), dtype=export_dtype(params))


def state_dict(model: QuantizedModel, params: FixedPointParams) -> dict[str, Any]:
    """The state dict of :func:`torch_module`: keys ``"<i>.weight"`` (``d_l × d_{l-1}``) and ``"<i>.bias"``, ``i``
    the Linear's index in the Sequential (0, 2, 4, …)."""
    return {k: v.detach().clone() for k, v in torch_module(model, params).state_dict().items()}


def npz_arrays(model: QuantizedModel, params: FixedPointParams) -> dict[str, np.ndarray]:
    """The integer model with its scale: ``W1..WL`` (int64, ``d_{l-1} × d_l``, the protocol layout), ``b1..bL``
    where present, ``frac_bits`` (the weights are ``W / 2^frac_bits``) and ``widths``."""
    arrays: dict[str, np.ndarray] = {f"W{l + 1}": w for l, w in enumerate(model.weights)}
    arrays.update({f"b{l + 1}": b for l, b in enumerate(model.biases) if b is not None})
    arrays["frac_bits"] = np.array(params.frac_bits, dtype=np.int64)
    arrays["widths"] = np.array(model.widths, dtype=np.int64)
    return arrays


def read_npz(path: str | os.PathLike[str], frac_bits: int | None = None) -> tuple[QuantizedModel, int]:
    """Read an integer model written by :func:`write_npz` (or an older run's ``final_model.npz``, which has no
    ``frac_bits``: then ``frac_bits`` must be given). Returns the model and its ``frac_bits``."""
    path = os.fspath(path)
    try:
        with np.load(path, allow_pickle=False) as z:
            data = {k: z[k] for k in z.files}
    except (OSError, ValueError) as exc:
        raise ModelFormatError(f"cannot read the model file {path!r}: {exc}") from None
    L = sum(1 for k in data if k.startswith("W") and k[1:].isdigit())
    if L == 0 or any(f"W{l}" not in data for l in range(1, L + 1)):
        raise ModelFormatError(f"{path!r} does not hold weights W1..WL")
    stored = data.get("frac_bits")
    if stored is not None:
        if stored.shape != () or not np.issubdtype(stored.dtype, np.integer):
            raise ModelFormatError(f"{path!r}: frac_bits must be an integer scalar")
        if frac_bits is not None and int(stored) != int(frac_bits):
            raise ModelFormatError(f"{path!r} stores frac_bits {int(stored)}, but the run's statement says {frac_bits}")
        frac_bits = int(stored)
    if frac_bits is None:
        raise ModelFormatError(f"{path!r} does not record its fixed-point scale (frac_bits)")
    weights = tuple(data[f"W{l}"] for l in range(1, L + 1))
    biases = tuple(data.get(f"b{l}") for l in range(1, L + 1))
    return QuantizedModel(weights, biases), frac_bits


def write_npz(path: str | os.PathLike[str], model: QuantizedModel, params: FixedPointParams) -> None:
    """:func:`npz_arrays` to ``path`` (written to a temporary name, then renamed)."""
    arrays = npz_arrays(model, params)

    def save(tmp: str) -> None:
        with open(tmp, "wb") as f:  # a file object: np.savez would append ".npz" to other names
            np.savez(f, **arrays)  # type: ignore[arg-type]  # numpy stub: **kwds typed against allow_pickle

    _atomic(path, save)


def write_torch(path: str | os.PathLike[str], model: QuantizedModel, params: FixedPointParams) -> None:
    """:func:`state_dict` saved with ``torch.save`` (loadable with ``weights_only=True``)."""
    import torch

    sd = state_dict(model, params)
    _atomic(path, lambda tmp: torch.save(sd, tmp))


def write_onnx(path: str | os.PathLike[str], model: QuantizedModel, params: FixedPointParams) -> None:
    """The model as ONNX (input ``"input"``, output ``"output"``, dynamic batch axis) through torch's exporter.
    Raises :class:`MissingDependency` when torch's ONNX support (the ``onnx`` package) is not installed."""
    import torch

    try:
        import onnx  # noqa: F401  # torch's exporter needs it; fail with a clear message before any work
    except ImportError:
        raise MissingDependency('ONNX export needs the onnx package: pip install "zkdl[onnx]"') from None
    net = torch_module(model, params).eval()
    dummy = torch.zeros((1, model.widths[0]), dtype=export_dtype(params))

    def export(tmp: str) -> None:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # the legacy exporter announces its deprecation
            torch.onnx.export(
                net,
                (dummy,),
                tmp,
                input_names=["input"],
                output_names=["output"],
                dynamic_axes={"input": {0: "batch"}, "output": {0: "batch"}},
                dynamo=False,
            )

    _atomic(path, export)


def write(fmt: str, path: str | os.PathLike[str], model: QuantizedModel, params: FixedPointParams) -> None:
    """Write ``model`` in ``fmt`` (one of :data:`EXPORT_FORMATS`) to ``path``."""
    writers = {"torch": write_torch, "onnx": write_onnx, "npz": write_npz}
    if fmt not in writers:
        raise ModelFormatError(f"unknown export format {fmt!r}; choose one of {', '.join(EXPORT_FORMATS)}")
    writers[fmt](path, model, params)


def _atomic(path: str | os.PathLike[str], write_to: Any) -> None:
    """Call ``write_to(tmp)`` with a temporary name next to ``path`` (same extension), then rename it to ``path``:
    an interrupted export never leaves a half-written file under the final name."""
    path = os.fspath(path)
    root, ext = os.path.splitext(path)
    tmp = f"{root}.tmp{ext}"
    try:
        write_to(tmp)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
