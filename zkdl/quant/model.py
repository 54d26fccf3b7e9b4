"""The user's model: a ``torch.nn.Sequential`` of ``Linear`` / ``ReLU`` layers or a width list, its quantized integer
form, and a float torch reference trainer with the same schedule and learning rate.

Weights use the protocol's layout ``Z = A·W``: ``W_l`` is ``d_{l-1} × d_l`` (the transpose of torch's
``Linear.weight``). torch is imported lazily, so the integer reference does not need it.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from zkdl.errors import ModelFormatError
from zkdl.quant.fixedpoint import FixedPointParams, check_loss, check_range, dequantize, quantize

if TYPE_CHECKING:  # pragma: no cover
    import torch

    from zkdl.quant.train import BatchSchedule


@dataclass(frozen=True)
class QuantizedModel:
    """Integer weights of an MLP with ReLU after every hidden layer.

    ``weights[l-1]`` is ``W_l`` (int64, ``d_{l-1} × d_l``); ``biases[l-1]`` is ``b_l`` (int64, ``d_l``) or ``None``
    for a layer without bias. Both at scale ``2^F``."""

    weights: tuple[np.ndarray, ...]
    biases: tuple[np.ndarray | None, ...]

    def __post_init__(self) -> None:
        ws = tuple(np.asarray(w) for w in self.weights)
        bs = tuple(None if b is None else np.asarray(b) for b in self.biases)
        if not ws:
            raise ModelFormatError("a model needs at least one layer")
        if len(bs) != len(ws):
            raise ModelFormatError(f"{len(ws)} weight matrices but {len(bs)} bias entries")
        for i, w in enumerate(ws):
            if w.ndim != 2 or w.dtype != np.int64 or 0 in w.shape:
                raise ModelFormatError(f"layer {i + 1}: weights must be a non-empty 2-D int64 array")
            if i and ws[i - 1].shape[1] != w.shape[0]:
                raise ModelFormatError(
                    f"layer {i + 1}: input width {w.shape[0]} does not match previous output {ws[i - 1].shape[1]}"
                )
            b = bs[i]
            if b is not None and (b.dtype != np.int64 or b.shape != (w.shape[1],)):
                raise ModelFormatError(f"layer {i + 1}: bias must be int64 of shape ({w.shape[1]},)")
        object.__setattr__(self, "weights", ws)
        object.__setattr__(self, "biases", bs)

    @property
    def widths(self) -> tuple[int, ...]:
        return (int(self.weights[0].shape[0]), *(int(w.shape[1]) for w in self.weights))

    @property
    def num_layers(self) -> int:
        return len(self.weights)

    @property
    def has_bias(self) -> tuple[bool, ...]:
        return tuple(b is not None for b in self.biases)

    def copy(self) -> QuantizedModel:
        return QuantizedModel(
            tuple(w.copy() for w in self.weights), tuple(None if b is None else b.copy() for b in self.biases)
        )

    def check_ranges(self, params: FixedPointParams, *, step: int | None = None) -> None:
        """Raise :class:`~zkdl.errors.QuantizationOverflow` if a weight or bias is outside its declared range."""
        for l, (w, b) in enumerate(zip(self.weights, self.biases, strict=True), start=1):
            check_range(w, params.range_of("W"), tensor="W", layer=l, step=step)
            if b is not None:
                check_range(b, params.range_of("b"), tensor="b", layer=l, step=step)

    def equals(self, other: QuantizedModel) -> bool:
        if self.widths != other.widths or self.has_bias != other.has_bias:
            return False
        return all(np.array_equal(a, b) for a, b in zip(self.weights, other.weights, strict=True)) and all(
            (a is None and b is None) or (a is not None and b is not None and np.array_equal(a, b))
            for a, b in zip(self.biases, other.biases, strict=True)
        )


# ---------------------------------------------------------------------------------------------------------- floats


@dataclass(frozen=True)
class FloatModel:
    """Float64 weights in the protocol layout (``W_l``: ``d_{l-1} × d_l``)."""

    weights: tuple[np.ndarray, ...]
    biases: tuple[np.ndarray | None, ...]

    @property
    def widths(self) -> tuple[int, ...]:
        return (int(self.weights[0].shape[0]), *(int(w.shape[1]) for w in self.weights))


def init_model(widths: Sequence[int], *, seed: int = 0, bias: bool = True) -> FloatModel:
    """Random float initialisation for a width list ``[d_0, …, d_L]``, seeded: torch's ``Linear`` default
    distribution ``U(−1/√d_in, 1/√d_in)`` for weights and biases, drawn with numpy (reproducible across torch
    versions)."""
    try:
        ws = [int(w) for w in widths]
    except (TypeError, ValueError):
        raise ModelFormatError(f"widths must be a list of positive integers, got {widths!r}") from None
    if len(ws) < 2 or any(w < 1 for w in ws):
        raise ModelFormatError(f"widths must list at least two positive widths (d_0 … d_L), got {ws}")
    rng = np.random.default_rng(seed)
    weights, biases = [], []
    for d_in, d_out in zip(ws[:-1], ws[1:], strict=True):
        bound = 1.0 / np.sqrt(d_in)
        weights.append(rng.uniform(-bound, bound, size=(d_in, d_out)))
        biases.append(rng.uniform(-bound, bound, size=d_out) if bias else None)
    return FloatModel(tuple(weights), tuple(biases))


def quantize_model(model: FloatModel, params: FixedPointParams) -> QuantizedModel:
    """Round every weight and bias to ``F`` fractional bits; raises if one is outside its declared range."""
    qw, qb = [], []
    for l, (w, b) in enumerate(zip(model.weights, model.biases, strict=True), start=1):
        qw.append(quantize(w, params.frac_bits, rng=params.range_of("W"), tensor=f"W (layer {l})"))
        qb.append(
            None if b is None else quantize(b, params.frac_bits, rng=params.range_of("b"), tensor=f"b (layer {l})")
        )
    return QuantizedModel(tuple(qw), tuple(qb))


def dequantize_model(model: QuantizedModel, params: FixedPointParams) -> FloatModel:
    return FloatModel(
        tuple(dequantize(w, params.frac_bits) for w in model.weights),
        tuple(None if b is None else dequantize(b, params.frac_bits) for b in model.biases),
    )


# ---------------------------------------------------------------------------------------------------------- torch

_ALLOWED = {
    "torch.nn.modules.container.Sequential",
    "torch.nn.modules.linear.Linear",
    "torch.nn.modules.activation.ReLU",
}


def to_torch(model: FloatModel, dtype: Any = None) -> torch.nn.Sequential:
    """A ``torch.nn.Sequential`` (Linear, ReLU, …, Linear) holding ``model``'s weights (float64 by default)."""
    import torch

    dtype = dtype or torch.float64
    layers: list[torch.nn.Module] = []
    L = len(model.weights)
    for l, (w, b) in enumerate(zip(model.weights, model.biases, strict=True), start=1):
        lin = torch.nn.Linear(w.shape[0], w.shape[1], bias=b is not None, dtype=dtype)
        with torch.no_grad():
            lin.weight.copy_(torch.as_tensor(np.ascontiguousarray(w.T), dtype=dtype))
            if b is not None:
                lin.bias.copy_(torch.as_tensor(b, dtype=dtype))
        layers.append(lin)
        if l < L:
            layers.append(torch.nn.ReLU())
    return torch.nn.Sequential(*layers)


def from_torch(seq: Any) -> FloatModel:
    """Check that ``seq`` is ``Linear, ReLU, Linear, …, ReLU, Linear`` (ReLU after every hidden layer, none after the
    output) with consistent widths, and return its weights in the protocol layout."""
    import torch

    if not isinstance(seq, torch.nn.Sequential):
        raise ModelFormatError(f"expected a torch.nn.Sequential of Linear and ReLU layers, got {type(seq).__name__}")
    mods = list(seq.named_children())
    for name, m in mods:
        if not isinstance(m, torch.nn.Linear | torch.nn.ReLU):
            raise ModelFormatError(
                f"unsupported layer {name!r} ({type(m).__name__}): only Linear and ReLU are supported"
            )
    if not mods:
        raise ModelFormatError("the Sequential is empty")
    weights: list[np.ndarray] = []
    biases: list[np.ndarray | None] = []
    for i, (name, m) in enumerate(mods):
        want_linear = i % 2 == 0
        if want_linear and not isinstance(m, torch.nn.Linear):
            raise ModelFormatError(
                f"layer {name!r} ({type(m).__name__}): expected Linear (layers must alternate Linear, ReLU, …, Linear)"
            )
        if not want_linear and not isinstance(m, torch.nn.ReLU):
            raise ModelFormatError(f"layer {name!r} ({type(m).__name__}): expected ReLU after every hidden Linear")
        if isinstance(m, torch.nn.Linear):
            w = m.weight.detach().to(torch.float64).cpu().numpy().T.copy()
            if weights and weights[-1].shape[1] != w.shape[0]:
                raise ModelFormatError(
                    f"layer {name!r}: in_features {w.shape[0]} does not match the previous out_features "
                    f"{weights[-1].shape[1]}"
                )
            weights.append(w)
            bias: torch.Tensor | None = m.bias
            biases.append(None if bias is None else bias.detach().to(torch.float64).cpu().numpy().copy())
    if not isinstance(mods[-1][1], torch.nn.Linear):
        raise ModelFormatError(f"the last layer {mods[-1][0]!r} must be Linear (the output layer has no ReLU)")
    for l, w in enumerate(weights, start=1):
        bias_l = biases[l - 1]
        if not np.all(np.isfinite(w)) or (bias_l is not None and not np.all(np.isfinite(bias_l))):
            raise ModelFormatError(f"layer {l}: weights contain NaN or infinity")
    return FloatModel(tuple(weights), tuple(biases))


def load_torch_model(path: str | os.PathLike[str]) -> FloatModel:
    """Load a ``torch.nn.Sequential`` saved with ``torch.save(model, path)`` (or its ``state_dict``).

    Loading is always ``weights_only=True`` with ``Sequential``, ``Linear`` and ``ReLU`` allow-listed; any other
    class in the file is reported by name as :class:`ModelFormatError` before anything is unpickled."""
    import torch

    path = os.fspath(path)
    if not os.path.isfile(path):
        raise ModelFormatError(f"model file {path!r} does not exist")
    try:
        globals_ = torch.serialization.get_unsafe_globals_in_checkpoint(path)
    except Exception as e:  # corrupt or not a torch file
        raise ModelFormatError(f"{path!r} is not a readable torch.save file: {e}") from None
    others = [g for g in globals_ if g not in _ALLOWED]
    if others:
        layers = [g.rsplit(".", 1)[-1] for g in others if g.startswith("torch.nn.modules.")]
        if layers:
            raise ModelFormatError(
                f"unsupported layer {layers[0]} in {path!r} (found {', '.join(layers)}): only Linear and ReLU "
                f"layers in a torch.nn.Sequential are supported"
            )
        raise ModelFormatError(
            f"{path!r} contains objects other than a Sequential of Linear/ReLU ({', '.join(others)}); refusing to "
            f"unpickle them"
        )
    classes: list[Any] = [torch.nn.Sequential, torch.nn.Linear, torch.nn.ReLU]
    try:
        with torch.serialization.safe_globals(classes):
            obj = torch.load(path, weights_only=True, map_location="cpu")
    except Exception as e:
        raise ModelFormatError(f"cannot load {path!r}: {e}") from None
    if isinstance(obj, dict):
        return _from_state_dict(obj, path)
    return from_torch(obj)


def _from_state_dict(sd: dict[str, Any], path: str) -> FloatModel:
    """A ``state_dict`` of a Sequential: keys ``"<i>.weight"`` / ``"<i>.bias"`` with Linear layers at increasing
    indices, a ReLU implied between consecutive ones."""
    import torch

    idx: dict[int, dict[str, Any]] = {}
    for k, v in sd.items():
        parts = str(k).split(".")
        if len(parts) != 2 or not parts[0].isdigit() or parts[1] not in ("weight", "bias"):
            raise ModelFormatError(f"{path!r}: state_dict key {k!r} is not a Sequential Linear parameter")
        if not isinstance(v, torch.Tensor):
            raise ModelFormatError(f"{path!r}: state_dict entry {k!r} is not a tensor")
        idx.setdefault(int(parts[0]), {})[parts[1]] = v
    if not idx:
        raise ModelFormatError(f"{path!r}: empty state_dict")
    keys = sorted(idx)
    weights, biases = [], []
    for j, i in enumerate(keys):
        w = idx[i].get("weight")
        if w is None or w.ndim != 2:
            shape = None if w is None else tuple(w.shape)
            raise ModelFormatError(f"{path!r}: layer {i} is not a Linear layer (weight shape {shape})")
        if j and i != keys[j - 1] + 2:
            raise ModelFormatError(f"{path!r}: layers {keys[j - 1]} and {i} are not separated by exactly one ReLU")
        weights.append(w.detach().to(torch.float64).numpy().T.copy())
        b = idx[i].get("bias")
        biases.append(None if b is None else b.detach().to(torch.float64).numpy().copy())
        if j and weights[-2].shape[1] != weights[-1].shape[0]:
            raise ModelFormatError(f"{path!r}: layer {i} input width does not match the previous layer")
    return FloatModel(tuple(weights), tuple(biases))


def load_model(source: str | os.PathLike[str] | Sequence[int], *, seed: int = 0, bias: bool = True) -> FloatModel:
    """A width list (random seeded init, see :func:`init_model`) or the path of a saved torch Sequential."""
    if isinstance(source, str | os.PathLike):
        return load_torch_model(source)
    return init_model(source, seed=seed, bias=bias)


def train_float(
    model: FloatModel,
    X: np.ndarray,
    Y: np.ndarray,
    schedule: BatchSchedule,
    steps: int,
    params: FixedPointParams,
    *,
    loss: str = "mse",
) -> FloatModel:
    """The float64 torch reference of :func:`zkdl.quant.train.train_quantized`: same batches, same update
    ``W ← W − 2^-s·Σ_batch ∇ℓ`` (= SGD with learning rate ``B·2^-s`` on the batch-mean loss), ``ℓ`` the per-sample
    loss: ``½‖o − y‖²`` (``"mse"``) or the softmax cross-entropy ``−Σ_j y_j·log softmax(o)_j`` (``"ce"``, whose
    gradient is ``softmax(o) − y`` for one-hot ``y``)."""
    import torch

    loss = check_loss(loss)

    net = to_torch(model)
    # plain SGD, p ← p − lr·∇ (what torch.optim.SGD without momentum does, with the same fused update), written
    # out: constructing a torch optimizer imports torch._dynamo, 1.4 s of every `zkdl prove` and `zkdl demo`
    lr = 1.0 / float(1 << params.lr_shift)
    weights = list(net.parameters())
    Xt = torch.as_tensor(np.asarray(X, dtype=np.float64))
    Yt = torch.as_tensor(np.asarray(Y, dtype=np.float64))
    for t in range(steps):
        rows = torch.as_tensor(schedule.rows(t))
        out = net(Xt[rows])
        if loss == "ce":
            value = -(Yt[rows] * torch.log_softmax(out, dim=1)).sum()
        else:
            value = 0.5 * ((out - Yt[rows]) ** 2).sum()
        grads = torch.autograd.grad(value, weights)
        with torch.no_grad():
            for p, g in zip(weights, grads, strict=True):
                p.add_(g, alpha=-lr)
    return from_torch(net)


def float_predict(model: FloatModel, X: np.ndarray) -> np.ndarray:
    """Float64 forward pass (numpy), returns the outputs."""
    a = np.asarray(X, dtype=np.float64)
    L = len(model.weights)
    for l, (w, b) in enumerate(zip(model.weights, model.biases, strict=True), start=1):
        a = a @ w + (0.0 if b is None else b)
        if l < L:
            a = np.maximum(a, 0.0)
    return a
