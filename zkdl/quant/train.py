"""The quantized integer SGD step that the prover attests (``zkdl-protocol.md`` §3), in numpy int64.

Per step ``t`` and layer ``l = 1..L`` (``A_0 = X_t``, the scheduled batch; ``F`` fractional bits, ``s`` the
learning-rate shift)::

    Z_l      = A_{l-1}·W_l + 2^F·b_l                    scale 2^(2F)
    Z'_l, R  = rescale_F(Z_l)                            Z_l = 2^F·Z'_l + R
    hidden:  S_l = [Z'_l < 0],  A_l = (1 − S_l)⊙Z'_l
    output:  O = Z'_L,  G_{Z_L} = O − Y_t          (loss "mse")
             G_{Z_L} = P − Y_t,  P = softmax_int(O)  (loss "ce": :func:`softmax_int`, SoftmaxParams)
    G_{A_{l-1}} = G_{Z_l}·W_lᵀ (l ≥ 2),  G'_{A_{l-1}}, R = rescale_F(G_{A_{l-1}})
    G_{Z_{l-1}} = (1 − S_{l-1})⊙G'_{A_{l-1}}
    G_{W_l}  = A_{l-1}ᵀ·G_{Z_l},   ΔW_l, R = rescale_{F+s}(G_{W_l})
    G_{b_l}  = Σ_rows G_{Z_l},     Δb_l, R = rescale_s(G_{b_l})
    W_l ← W_l − ΔW_l,  b_l ← b_l − Δb_l

Every intermediate is checked against its declared range (:attr:`FixedPointParams.ranges`); a violation raises
:class:`~zkdl.errors.QuantizationOverflow` naming the tensor, the layer and the step. Matrix products are computed
exactly: in float64 BLAS when the a-priori bound ``max|a|·max|b|·k`` is below ``2^53``, in int64 when it is below
``2^63``, otherwise with Python integers — never with silent wrap-around.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from zkdl.errors import QuantizationConfigError, QuantizationOverflow
from zkdl.quant.fixedpoint import INT64_MAX, FixedPointParams, SoftmaxParams, check_loss, check_range, rescale
from zkdl.quant.model import QuantizedModel

_EXACT_FLOAT = 1 << 53

# ------------------------------------------------------------------------------------------------- batch schedule

_M64 = np.uint64(0xFFFFFFFFFFFFFFFF)


def _splitmix64(x: np.ndarray) -> np.ndarray:
    """The splitmix64 finaliser, elementwise on uint64 (wrapping arithmetic is intended here)."""
    with np.errstate(over="ignore"):
        z = x + np.uint64(0x9E3779B97F4A7C15)
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        return z ^ (z >> np.uint64(31))


@dataclass(frozen=True)
class BatchSchedule:
    """Which dataset rows each step uses (public, part of the statement).

    Without ``seed``, step ``t`` uses rows ``(tB + j) mod n`` for ``j = 0..B-1`` (wrapping around the dataset).
    With ``seed``, the rows are first put in a public order: row ``i`` sorted by ``splitmix64(splitmix64(seed) ⊕ i)``
    (ties by index) — a permutation any verifier recomputes exactly, independent of numpy's RNG versions — and step
    ``t`` uses positions ``(tB + j) mod n`` of that order."""

    n_rows: int
    batch_size: int
    seed: int | None = None

    def __post_init__(self) -> None:
        if isinstance(self.n_rows, bool) or int(self.n_rows) < 1:
            raise QuantizationConfigError(f"the dataset needs at least one row, got n_rows={self.n_rows}")
        if isinstance(self.batch_size, bool) or int(self.batch_size) < 1:
            raise QuantizationConfigError(f"batch_size must be ≥ 1, got {self.batch_size}")
        if self.seed is not None and not 0 <= int(self.seed) < (1 << 64):
            raise QuantizationConfigError(f"schedule seed must be in [0, 2^64), got {self.seed}")
        object.__setattr__(self, "n_rows", int(self.n_rows))
        object.__setattr__(self, "batch_size", int(self.batch_size))

    def order(self) -> np.ndarray:
        """The public row order (identity without seed)."""
        idx = np.arange(self.n_rows, dtype=np.int64)
        if self.seed is None:
            return idx
        key = _splitmix64(np.array([self.seed], dtype=np.uint64))[0]
        h = _splitmix64(idx.astype(np.uint64) ^ key)
        return np.lexsort((idx, h)).astype(np.int64)

    def rows(self, t: int) -> np.ndarray:
        """Dataset row indices (int64, length ``B``) used by step ``t``."""
        if t < 0:
            raise QuantizationConfigError(f"step index must be ≥ 0, got {t}")
        pos = (t * self.batch_size + np.arange(self.batch_size, dtype=np.int64)) % self.n_rows
        return self.order()[pos] if self.seed is not None else pos


# ------------------------------------------------------------------------------------------------- exact arithmetic


def _max_abs(a: np.ndarray) -> int:
    if a.size == 0:
        return 0
    return max(-int(a.min()), int(a.max()))


def _from_object(r: np.ndarray, tensor: str, layer: int | None, step: int | None) -> np.ndarray:
    flat = [int(v) for v in r.ravel()]
    if flat and (max(flat) > INT64_MAX or min(flat) < -INT64_MAX - 1):
        _raise(tensor, layer, step, "exceeds int64 (far outside its declared range)")
    return np.array(flat, dtype=np.int64).reshape(r.shape)


def _raise(tensor: str, layer: int | None, step: int | None, what: str) -> None:
    err = QuantizationOverflow(f"{tensor} (layer {layer}, step {step}) {what}")
    err.tensor, err.layer, err.step = tensor, layer, step
    raise err


def exact_matmul(
    a: np.ndarray, b: np.ndarray, *, tensor: str = "matmul", layer: int | None = None, step: int | None = None
) -> np.ndarray:
    """``a @ b`` for int64 matrices, exactly (see the module docstring); raises :class:`QuantizationOverflow` naming
    ``tensor`` if the exact result does not fit into int64."""
    k = a.shape[-1]
    bound = _max_abs(a) * _max_abs(b) * k
    if bound < _EXACT_FLOAT:
        # every partial sum of every summation order is an integer of magnitude ≤ bound < 2^53: exact in float64
        return (a.astype(np.float64) @ b.astype(np.float64)).astype(np.int64)
    if bound <= INT64_MAX:
        return a @ b
    return _from_object(a.astype(object) @ b.astype(object), tensor, layer, step)


def exact_add(
    x: np.ndarray, y: np.ndarray, *, tensor: str = "sum", layer: int | None = None, step: int | None = None
) -> np.ndarray:
    """``x + y`` (broadcasting) for int64 arrays, exactly."""
    if _max_abs(x) + _max_abs(y) <= INT64_MAX:
        return x + y
    return _from_object(x.astype(object) + y.astype(object), tensor, layer, step)


# ------------------------------------------------------------------------------------------------- traces


@dataclass(frozen=True)
class LayerTrace:
    """Every integer tensor of layer ``l`` in one step (int64 numpy arrays; ``B`` = batch size,
    ``d_in = d_{l-1}``, ``d_out = d_l``). Fields that do not exist for a layer are ``None``: ``S``, ``A`` and the
    ``G_A*`` tensors for the output layer, the bias tensors for a layer without bias."""

    layer: int  #: ``l``, 1-based
    W: np.ndarray  #: ``W_l`` used by this step (before its update), ``d_in × d_out``, scale 2^F
    b: np.ndarray | None  #: ``b_l`` used by this step, ``(d_out,)``, scale 2^F
    A_in: np.ndarray  #: ``A_{l-1}`` (``X_t`` for l = 1), ``B × d_in``, scale 2^F
    Z: np.ndarray  #: ``A_{l-1}·W_l + 2^F·b_l``, ``B × d_out``, scale 2^(2F)
    Z_rescaled: np.ndarray  #: ``Z'_l = rescale_F(Z_l)``, ``B × d_out``, scale 2^F (``O`` for the output layer)
    Z_remainder: np.ndarray  #: ``Z_l − 2^F·Z'_l ∈ [−2^(F−1), 2^(F−1))``
    S: np.ndarray | None  #: sign bits, 1 where ``Z'_l < 0`` (hidden layers)
    A: np.ndarray | None  #: ``A_l = (1 − S_l)⊙Z'_l`` (hidden layers)
    G_A: np.ndarray | None  #: ``G_{A_l} = G_{Z_{l+1}}·W_{l+1}ᵀ``, scale 2^(2F) (hidden layers)
    G_A_rescaled: np.ndarray | None  #: ``G'_{A_l} = rescale_F(G_{A_l})``
    G_A_remainder: np.ndarray | None  #: ``G_{A_l} − 2^F·G'_{A_l}``
    G_Z: np.ndarray  #: ``G_{Z_l}``: ``O − Y`` (output layer) or ``(1 − S_l)⊙G'_{A_l}``, ``B × d_out``, scale 2^F
    G_W: np.ndarray  #: ``A_{l-1}ᵀ·G_{Z_l}``, ``d_in × d_out``, scale 2^(2F)
    dW: np.ndarray  #: ``ΔW_l = rescale_{F+s}(G_{W_l})``
    dW_remainder: np.ndarray  #: ``G_{W_l} − 2^(F+s)·ΔW_l ∈ [−2^(F+s−1), 2^(F+s−1))``
    G_b: np.ndarray | None  #: ``Σ_rows G_{Z_l}``, ``(d_out,)``, scale 2^F
    db: np.ndarray | None  #: ``Δb_l = rescale_s(G_{b_l})``
    db_remainder: np.ndarray | None  #: ``G_{b_l} − 2^s·Δb_l``

    @property
    def relu_magnitude(self) -> np.ndarray | None:
        """``M = (1 − 2S)⊙Z' − S ∈ [0, 2^Q)``, the value whose range check pins ``S`` to the sign of ``Z'``."""
        if self.S is None:
            return None
        return (1 - 2 * self.S) * self.Z_rescaled - self.S

    @property
    def W_next(self) -> np.ndarray:
        """``W_l − ΔW_l``."""
        return self.W - self.dW

    @property
    def b_next(self) -> np.ndarray | None:
        return None if self.b is None else self.b - self.db


@dataclass(frozen=True)
class SoftmaxTrace:
    """The integer softmax of one step's output (:class:`~zkdl.quant.fixedpoint.SoftmaxParams`), ``B × C``
    int64 arrays unless noted."""

    max: np.ndarray  #: ``m_i = max_j O_ij``, ``(B,)``
    selector: np.ndarray  #: one-hot position of the maximum in each row (the first one on ties)
    D: np.ndarray  #: ``m_i − O_ij ≥ 0``
    U: np.ndarray  #: ``floor(D / 2^r)``, the table index
    R: np.ndarray  #: ``D − 2^r·U ∈ [0, 2^r)``
    E: np.ndarray  #: ``T[U]``
    sum: np.ndarray  #: ``Σ_j E_ij``, ``(B,)``
    P: np.ndarray  #: ``floor(2^F·E / Σ)``, the probabilities at scale ``2^F``
    Q: np.ndarray  #: ``2^F·E − P·Σ ∈ [0, Σ)``

    @property
    def slack(self) -> np.ndarray:
        """``Σ_i − 1 − Q_ij ≥ 0``: its range check proves ``Q < Σ``."""
        return self.sum[:, None] - 1 - self.Q


def softmax_int(O: np.ndarray, params: FixedPointParams, *, step: int | None = None) -> SoftmaxTrace:  # noqa: E741
    """The integer softmax of the outputs ``O`` (``B × C``, scale ``2^F``), every tensor checked against its
    declared range (:attr:`SoftmaxParams.ranges`)."""
    sp = SoftmaxParams(params.frac_bits, int(O.shape[1]))
    R = sp.ranges
    F, r = params.frac_bits, sp.shift
    m = O.max(axis=1)
    first = np.argmax(O, axis=1)
    sel = np.zeros_like(O)
    sel[np.arange(O.shape[0]), first] = 1
    D = m[:, None] - O  # |O| < 2^62 by its declared range: no int64 overflow
    U, Rem = D >> r, D & ((1 << r) - 1)
    check_range(U, R["softmax_quotient"], tensor="softmax table index (logit spread ≥ 64)", step=step)
    E = sp.table()[U]
    total = E.sum(axis=1)
    num = E << F
    P = num // total[:, None]
    Q = num - P * total[:, None]
    return SoftmaxTrace(max=m, selector=sel, D=D, U=U, R=Rem, E=E, sum=total, P=P, Q=Q)


@dataclass(frozen=True)
class StepTrace:
    """One SGD step: the batch, the output and one :class:`LayerTrace` per layer (``layers[l-1]`` is layer l)."""

    step: int  #: ``t``
    rows: np.ndarray  #: dataset rows of the batch, ``(B,)`` int64
    X: np.ndarray  #: ``X_t``, ``B × d_0``
    Y: np.ndarray  #: ``Y_t``, ``B × d_L``
    layers: tuple[LayerTrace, ...]
    softmax: SoftmaxTrace | None = None  #: the integer softmax of ``O`` (loss ``"ce"`` only)

    @property
    def O(self) -> np.ndarray:  # noqa: E743
        """The output ``O = Z'_L``."""
        return self.layers[-1].Z_rescaled


@dataclass(frozen=True)
class TrainingRun:
    """Result of :func:`train_quantized`: ``traces[t]`` is step t (empty if traces were not kept)."""

    params: FixedPointParams
    schedule: BatchSchedule
    steps: int
    initial: QuantizedModel
    final: QuantizedModel
    traces: tuple[StepTrace, ...]
    loss: str = "mse"  #: ``"mse"`` or ``"ce"`` (:data:`~zkdl.quant.fixedpoint.LOSSES`)


# ------------------------------------------------------------------------------------------------- the step


def _check_batch(model: QuantizedModel, X: np.ndarray, Y: np.ndarray) -> None:
    d0, dL = model.widths[0], model.widths[-1]
    for name, a, d in (("X", X, d0), ("Y", Y, dL)):
        if not isinstance(a, np.ndarray) or a.dtype != np.int64 or a.ndim != 2 or a.shape[1] != d:
            shape = getattr(a, "shape", None)
            dtype = getattr(a, "dtype", None)
            raise QuantizationConfigError(f"{name} must be an int64 array of shape (B, {d}), got {shape} {dtype}")
    if X.shape[0] != Y.shape[0] or X.shape[0] < 1:
        raise QuantizationConfigError(f"X and Y must have the same number (≥ 1) of rows: {X.shape[0]} vs {Y.shape[0]}")


def train_step(
    model: QuantizedModel,
    X: np.ndarray,
    Y: np.ndarray,
    params: FixedPointParams,
    *,
    step: int = 0,
    rows: np.ndarray | None = None,
    loss: str = "mse",
) -> tuple[QuantizedModel, StepTrace]:
    """One quantized SGD step on the batch ``(X, Y)`` (int64, ``B × d_0`` and ``B × d_L``, scale 2^F); ``loss``
    ``"mse"`` (output gradient ``O − Y``) or ``"ce"`` (``P − Y``, ``P`` the integer softmax of ``O``).

    Returns the updated model and the full trace. ``step`` only labels errors and the trace; ``rows`` (the batch's
    dataset rows) is recorded in the trace (``arange(B)`` if omitted)."""
    loss = check_loss(loss)
    _check_batch(model, X, Y)
    R = params.ranges
    F, s = params.frac_bits, params.lr_shift
    L = model.num_layers
    B = X.shape[0]
    check_range(X, R["X"], tensor="X", step=step)
    check_range(Y, R["Y"], tensor="Y", step=step)
    model.check_ranges(params, step=step)

    def chk(a: np.ndarray, role: str, layer: int) -> None:
        check_range(a, R[role], tensor=role, layer=layer, step=step)

    # forward
    fwd: list[dict[str, np.ndarray | None]] = []
    A = X
    for l in range(1, L + 1):
        W, b = model.weights[l - 1], model.biases[l - 1]
        Z = exact_matmul(A, W, tensor="Z", layer=l, step=step)
        if b is not None:
            Z = exact_add(Z, (b << F)[None, :], tensor="Z", layer=l, step=step)
        chk(Z, "Z", l)
        Zr, Zrem = rescale(Z, F)
        chk(Zr, "Z_rescaled", l)
        rec: dict[str, np.ndarray | None] = {"A_in": A, "Z": Z, "Z_rescaled": Zr, "Z_remainder": Zrem}
        if l < L:
            S = (Zr < 0).astype(np.int64)
            A = (1 - S) * Zr
            chk(A, "A", l)
            rec.update(S=S, A=A)
        else:
            rec.update(S=None, A=None)
        fwd.append(rec)

    # loss gradient and backward
    O = fwd[-1]["Z_rescaled"]
    assert O is not None
    chk(O, "O", L)
    softmax = None
    if loss == "ce":
        softmax = softmax_int(O, params, step=step)
        G_Z = softmax.P - Y
    else:
        G_Z = O - Y
    chk(G_Z, "G_Z", L)
    bwd: list[dict[str, np.ndarray | None]] = [{} for _ in range(L)]
    ones = np.ones((1, B), dtype=np.int64)
    for l in range(L, 0, -1):
        W, b = model.weights[l - 1], model.biases[l - 1]
        rec = bwd[l - 1]
        rec["G_Z"] = G_Z
        A_in = fwd[l - 1]["A_in"]
        assert A_in is not None
        G_W = exact_matmul(np.ascontiguousarray(A_in.T), G_Z, tensor="G_W", layer=l, step=step)
        chk(G_W, "G_W", l)
        dW, dWrem = rescale(G_W, F + s)
        chk(dW, "dW", l)
        rec.update(G_W=G_W, dW=dW, dW_remainder=dWrem)
        if b is not None:
            G_b = exact_matmul(ones, G_Z, tensor="G_b", layer=l, step=step)[0]
            chk(G_b, "G_b", l)
            db, dbrem = rescale(G_b, s)
            chk(db, "db", l)
            rec.update(G_b=G_b, db=db, db_remainder=dbrem)
        else:
            rec.update(G_b=None, db=None, db_remainder=None)
        if l >= 2:
            G_A = exact_matmul(G_Z, np.ascontiguousarray(W.T), tensor="G_A", layer=l - 1, step=step)
            chk(G_A, "G_A", l - 1)
            G_Ar, G_Arem = rescale(G_A, F)
            chk(G_Ar, "G_A_rescaled", l - 1)
            S_prev = fwd[l - 2]["S"]
            assert S_prev is not None
            G_Z = (1 - S_prev) * G_Ar
            chk(G_Z, "G_Z", l - 1)
            bwd[l - 2].update(G_A=G_A, G_A_rescaled=G_Ar, G_A_remainder=G_Arem)
    bwd[L - 1].update(G_A=None, G_A_rescaled=None, G_A_remainder=None)

    # update
    new_w: list[np.ndarray] = []
    new_b: list[np.ndarray | None] = []
    for l in range(1, L + 1):
        W, b = model.weights[l - 1], model.biases[l - 1]
        dW_l = bwd[l - 1]["dW"]
        assert dW_l is not None
        Wn = W - dW_l  # |W|, |ΔW| ≤ 2^62: cannot leave int64
        check_range(Wn, R["W"], tensor="W after update", layer=l, step=step)
        new_w.append(Wn)
        if b is None:
            new_b.append(None)
        else:
            db_l = bwd[l - 1]["db"]
            assert db_l is not None
            bn = b - db_l
            check_range(bn, R["b"], tensor="b after update", layer=l, step=step)
            new_b.append(bn)

    layers = tuple(
        LayerTrace(layer=l, W=model.weights[l - 1], b=model.biases[l - 1], **fwd[l - 1], **bwd[l - 1])  # type: ignore[arg-type]
        for l in range(1, L + 1)
    )
    row_ids = np.arange(B, dtype=np.int64) if rows is None else np.asarray(rows, dtype=np.int64)
    trace = StepTrace(step=step, rows=row_ids, X=X, Y=Y, layers=layers, softmax=softmax)
    return QuantizedModel(tuple(new_w), tuple(new_b)), trace


def train_quantized(
    model: QuantizedModel,
    X: np.ndarray,
    Y: np.ndarray,
    params: FixedPointParams,
    schedule: BatchSchedule,
    steps: int,
    *,
    keep_traces: bool = True,
    on_step: Callable[[int, int], None] | None = None,
    start_step: int = 0,
    loss: str = "mse",
) -> TrainingRun:
    """Run ``steps`` quantized SGD steps from ``model`` on the dataset ``(X, Y)`` (int64, ``n × d_0`` and
    ``n × d_L``, scale 2^F); step t uses ``schedule.rows(t)``.

    Checks up front that the whole dataset and the initial weights are in their declared ranges and that no field
    relation can wrap for this architecture, batch size and step count (:meth:`FixedPointParams.check_no_wrap`).
    ``on_step(t + 1, steps)`` is called after each step (progress displays). ``start_step`` continues a run: ``model``
    is the model after ``start_step`` steps and step ``t`` of this call is global step ``start_step + t`` (its
    batch is ``schedule.rows(start_step + t)``), so training a run chunk by chunk gives the same steps as training
    it at once."""
    loss = check_loss(loss)
    if isinstance(steps, bool) or int(steps) < 0:
        raise QuantizationConfigError(f"steps must be ≥ 0, got {steps}")
    steps = int(steps)
    if isinstance(start_step, bool) or int(start_step) < 0:
        raise QuantizationConfigError(f"start_step must be ≥ 0, got {start_step}")
    start_step = int(start_step)
    if not isinstance(X, np.ndarray) or X.ndim != 2 or X.shape[0] != schedule.n_rows:
        raise QuantizationConfigError(
            f"X must have schedule.n_rows = {schedule.n_rows} rows, got shape {getattr(X, 'shape', None)}"
        )
    _check_batch(model, X, Y)
    params.check_no_wrap(model.widths, schedule.batch_size, steps, loss=loss)
    check_range(X, params.range_of("X"), tensor="X")
    check_range(Y, params.range_of("Y"), tensor="Y")
    model.check_ranges(params, step=start_step)
    initial = model.copy()
    cur = initial
    traces = []
    for t in range(steps):
        rows = schedule.rows(start_step + t)
        cur, tr = train_step(cur, X[rows], Y[rows], params, step=start_step + t, rows=rows, loss=loss)
        if keep_traces:
            traces.append(tr)
        if on_step is not None:
            on_step(t + 1, steps)
    return TrainingRun(params, schedule, steps, initial, cur, tuple(traces), loss)


def predict_int(model: QuantizedModel, X: np.ndarray, params: FixedPointParams) -> np.ndarray:
    """Integer forward pass (same arithmetic and range checks as the training step): the outputs ``O``."""
    if not isinstance(X, np.ndarray) or X.dtype != np.int64 or X.ndim != 2 or X.shape[1] != model.widths[0]:
        raise QuantizationConfigError(f"X must be an int64 array of shape (n, {model.widths[0]})")
    R = params.ranges
    F = params.frac_bits
    check_range(X, R["X"], tensor="X")
    A = X
    L = model.num_layers
    for l, (W, b) in enumerate(zip(model.weights, model.biases, strict=True), start=1):
        Z = exact_matmul(A, W, tensor="Z", layer=l)
        if b is not None:
            Z = exact_add(Z, (b << F)[None, :], tensor="Z", layer=l)
        check_range(Z, R["Z"], tensor="Z", layer=l)
        A, _ = rescale(Z, F)
        if l < L:
            A = np.maximum(A, 0)
    return A


def accuracy_int(model: QuantizedModel, X: np.ndarray, labels: np.ndarray, params: FixedPointParams) -> float:
    """Fraction of rows whose integer output's argmax equals ``labels``."""
    out = predict_int(model, X, params)
    return float(np.mean(np.argmax(out, axis=1) == np.asarray(labels)))
