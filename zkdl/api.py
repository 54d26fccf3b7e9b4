"""The public library surface of zkdl: prove a training run, verify a proof.

>>> bundle = zkdl.prove_training(widths=[64, 32, 10], data="digits", steps=4, batch_size=32, out_dir="run")
>>> zkdl.verify(bundle.proof, bundle.statement).valid
True

``verify`` never trusts anything in the proof about what was proven: the statement is always an argument.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import math
import os
import shutil
import tempfile
import time
import zipfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from . import __version__
from .commit.generators import PublicParams, default_cache_path, load, setup
from .commit.pedersen import Commitment, Opening, commit_int
from .errors import (
    DatasetError,
    MissingDependency,
    ModelFormatError,
    ProofFormatError,
    QuantizationOverflow,
    ResourceError,
    SetupError,
    StatementFormatError,
    StatementMismatch,
    TransparentProofRefused,
    VerificationError,
    ZkdlError,
)
from .protocol import training
from .protocol.evaluation_statement import EvalStatement
from .protocol.shapes import pad_to
from .protocol.statement import Statement
from .quant import (
    BatchSchedule,
    FixedPointParams,
    FloatModel,
    QuantizedModel,
    accuracy_int,
    init_model,
    load_model,
    predict_int,
    quantize_model,
    train_quantized,
)
from .quant import export as model_export
from .quant.data import Dataset, load_dataset, quantize_inputs, quantize_targets
from .quant.fixedpoint import check_loss
from .runs.manifest import RunManifest
from .runs.verify import RunVerificationResult
from .serialize import SubgroupChecks, parse_header

log = logging.getLogger("zkdl")

PROOF_FILE = "proof.zkdl"
STATEMENT_FILE = "statement.json"
PRIVATE_DIR = "private"
FINAL_MODEL_NPZ = "final_model.npz"  #: the integer final weights with their scale (under PRIVATE_DIR)
FINAL_MODEL_TORCH = "final_model.pt"  #: the float state dict of a torch Sequential, scale applied (under PRIVATE_DIR)


# =========================================================================================================
# public parameters
# =========================================================================================================
def public_params(
    n_generators: int = 0, path: str | os.PathLike | None = None, *, create: bool | None = None
) -> PublicParams:
    """Load the generator cache, deriving (and caching) more generators when fewer than ``n_generators`` exist.

    Derivation is deterministic (hash-to-curve from a fixed label), so a fresh cache is the same as anybody
    else's; a corrupted cache is an error (``SetupError``), never silently regenerated. ``create`` (default: only
    for the shared cache, not for an explicit ``path``) allows creating or extending the file; without it a
    missing or too small file is a ``SetupError``."""
    if create is None:
        create = path is None
    target = Path(path) if path is not None else default_cache_path()
    if target.is_dir():
        raise SetupError(f"generator cache {target} is a directory; give the cache file (zkdl setup --path FILE)")
    pp = None
    if target.exists():
        pp = load(target)
        if pp.capacity >= n_generators:
            return pp
    if not create:
        have = "does not exist" if pp is None else f"holds {pp.capacity} generators"
        raise SetupError(
            f"generator cache {target} {have}; {max(n_generators, 1)} are needed: run "
            f"`zkdl setup --n {max(n_generators, 1)} --path {target}` first"
        )
    log.info("deriving %d generators into %s (once)", max(n_generators, 1), target)
    return setup(max(n_generators, 1), target)


def _generators_needed(statement: Statement) -> int:
    """Column generators for the largest committed table (statement tensors and the range tables)."""
    return training.generators_needed(statement)


# =========================================================================================================
# results
# =========================================================================================================
@dataclass
class VerificationResult:
    """Outcome of :func:`verify`. ``bool(result)`` is ``result.valid``.

    Besides the verdict it says what was verified: the statement's architecture (``widths``, ``has_bias``),
    ``steps``, ``batch_size``, ``n_rows``, the fixed-point ``params``, the ``range_backend``, whether the proof
    is ``zero_knowledge`` (``None`` when its header could not be read) and the ``statement_digest``."""

    valid: bool
    reason: str | None = None
    error_type: str | None = None
    seconds: float = 0.0
    statement_digest: str = ""
    proof_bytes: int = 0
    zero_knowledge: bool | None = None
    widths: list[int] = field(default_factory=list)
    has_bias: list[bool] = field(default_factory=list)
    steps: int = 0
    batch_size: int = 0
    n_rows: int = 0
    params: dict = field(default_factory=dict)
    range_backend: str = ""
    loss: str = "mse"

    def __bool__(self) -> bool:
        return self.valid

    @property
    def mode(self) -> str:
        return {True: "zero-knowledge", False: "transparent", None: "unknown"}[self.zero_knowledge]

    def to_dict(self) -> dict:
        return {
            "valid": self.valid,
            "reason": self.reason,
            "error_type": self.error_type,
            "seconds": round(self.seconds, 4),
            "statement_digest": self.statement_digest,
            "proof_bytes": self.proof_bytes,
            "mode": self.mode,
            "zero_knowledge": self.zero_knowledge,
            "widths": list(self.widths),
            "has_bias": list(self.has_bias),
            "steps": self.steps,
            "batch_size": self.batch_size,
            "n_rows": self.n_rows,
            "params": dict(self.params),
            "range_backend": self.range_backend,
            "loss": self.loss,
        }

    def describe(self) -> str:
        """The human-readable lines of ``zkdl verify``: what was (or was not) verified."""
        p = self.params
        head = (
            f"VALID  ({self.proof_bytes} bytes, verified in {self.seconds:.2f} s)"
            if self.valid
            else f"INVALID  {self.error_type}: {self.reason}"
        )
        return "\n".join(
            [
                head,
                f"  proof mode        {self.mode}",
                f"  architecture      widths {self.widths}, bias {self.has_bias}",
                f"  training          {self.steps} steps, batch {self.batch_size}, {self.n_rows} dataset rows, "
                f"loss {'softmax cross-entropy' if self.loss == 'ce' else 'MSE'}",
                "  fixed point       " + ", ".join(f"{k}={p[k]}" for k in sorted(p)),
                f"  range back-end    {self.range_backend}",
                f"  statement digest  {self.statement_digest}",
            ]
        )


@dataclass
class ProofBundle:
    """What :func:`prove_training` produces. ``proof`` and ``statement`` are public; the rest is private."""

    proof: bytes
    statement: Statement
    openings: dict[str, Opening]
    final_weights: list[np.ndarray]
    final_biases: list[np.ndarray | None]
    summary: dict = field(default_factory=dict)
    out_dir: Path | None = None
    preprocessing: dict = field(default_factory=dict)
    #: the held-out split committed in the statement (``test_split=True``): quantized ``X`` and ``labels``
    test_split: dict = field(default_factory=dict)


# =========================================================================================================
# prove
# =========================================================================================================
MODEL_ACCEPTS = "a torch.nn.Sequential of Linear and ReLU layers, the path of one saved with torch.save, or None"


def _int_arg(name: str, value, minimum: int, accepts: str = "an integer") -> int:
    if isinstance(value, bool) or not isinstance(value, int | np.integer):
        raise ZkdlError(f"{name} must be {accepts} ≥ {minimum}, got {type(value).__name__} {value!r}")
    if value < minimum:
        raise ZkdlError(f"{name} must be ≥ {minimum}, got {value}")
    return int(value)


def _resolve_model(model, widths, bias, seed, ds) -> tuple[FloatModel, dict]:
    """The float model and a JSON-able record of where it came from."""
    if model is not None and widths is not None:
        raise ZkdlError("give either model or widths, not both")
    if model is not None and bias is not None:
        raise ZkdlError(
            "bias (--no-bias) applies to a fresh model from widths; a given model keeps its own biases "
            "(build it with Linear(..., bias=False) instead)"
        )
    if model is None:
        if widths is not None and (isinstance(widths, str | bytes) or not isinstance(widths, Sequence)):
            raise ModelFormatError(f"widths must be a list of positive integers, got {type(widths).__name__}")
        w = list(widths) if widths is not None else [ds.n_features, 32, ds.n_outputs]
        fmodel = init_model(w, seed=seed, bias=True if bias is None else bias)
        return fmodel, {"model_source": "fresh", "init_seed": seed, "bias": True if bias is None else bool(bias)}
    if isinstance(model, str | os.PathLike):
        path = os.fspath(model)
        if os.path.isdir(path):
            raise ModelFormatError(f"model {path!r} is a directory; give the file written by torch.save")
        fmodel = load_model(path)
        from .quant.data import file_sha256

        return fmodel, {"model_source": os.path.abspath(path), "model_sha256": file_sha256(path)}
    if isinstance(model, FloatModel):
        return model, {"model_source": "FloatModel object"}
    if (type(model).__module__ or "").startswith("torch.nn"):
        from .quant.model import from_torch

        return from_torch(model), {"model_source": f"in-memory {type(model).__name__}"}
    raise ModelFormatError(f"model must be {MODEL_ACCEPTS}; got {type(model).__name__}")


def _resolve_lr(lr, lr_shift, batch_size) -> tuple[int, dict]:
    """The learning-rate shift ``s`` (η = B·2^-s) and what to report about it."""
    if lr is not None and lr_shift is not None:
        raise ZkdlError("give either lr (--lr) or lr_shift (--lr-shift), not both")
    if lr is None:
        s = 8 if lr_shift is None else _int_arg("lr_shift", lr_shift, 0)
        return s, {"lr_shift": s, "learning_rate": batch_size / float(1 << s)}
    if isinstance(lr, bool) or not isinstance(lr, int | float | np.floating) or not (0 < float(lr) < float("inf")):
        raise ZkdlError(f"lr must be a positive number, got {lr!r}")
    s = int(round(math.log2(batch_size / float(lr))))
    if not 0 <= s <= 40:
        lo, hi = batch_size / float(1 << 40), float(batch_size)
        raise ZkdlError(
            f"lr {lr:g} is outside what batch {batch_size} supports: [{lo:.3g}, {hi:g}] "
            "(η = batch·2^-s with s in 0..40)"
        )
    used = batch_size / float(1 << s)
    return s, {"lr_shift": s, "learning_rate": used, "learning_rate_requested": float(lr)}


def _explain_training_overflow(err: QuantizationOverflow, fp: FixedPointParams, lr: float) -> QuantizationOverflow:
    """The reference step's overflow in the user's units, with the flag that fixes it (a smaller --lr)."""
    tensor = str(getattr(err, "tensor", "") or "")
    rng = getattr(err, "range", None)
    value = getattr(err, "value", None)
    role = tensor.split()[0] if tensor else ""
    if rng is None or value is None or role in ("X", "Y"):
        return err
    F = fp.frac_bits
    scale = float(1 << (2 * F)) if role in ("Z", "G_A", "G_W") else float(1 << F)
    names = {
        "Z": "pre-activation",
        "Z_rescaled": "pre-activation",
        "A": "activation",
        "O": "output",
        "G_Z": "gradient wrt the pre-activation",
        "G_A": "gradient wrt the activation",
        "G_A_rescaled": "gradient wrt the activation",
        "G_W": "weight gradient",
        "G_b": "bias gradient",
        "dW": "weight update",
        "db": "bias update",
        "W": "weight",
        "b": "bias",
    }
    wider = ""
    if role in ("G_W", "G_b", "dW", "db") and fp.update_bits < fp.weight_bits:
        wider = (
            f", or declare a wider range for one step's update, e.g. --update-bits {fp.weight_bits} "
            f"(now {fp.update_bits}: |Δw| < {2.0 ** (fp.update_bits - F):g}; API: update_bits=...; one more "
            "committed limb per weight per step)"
        )
    out = QuantizationOverflow(
        f"training diverged at step {getattr(err, 'step', '?')}: the {names.get(role, role)} ({tensor}) of layer "
        f"{getattr(err, 'layer', '?')} reached {value / scale:g}, outside its allowed range "
        f"[{rng.lo / scale:g}, {rng.hi / scale:g}); pass a smaller learning rate, e.g. --lr {lr / 4:g} "
        f"(now {lr:g}; API: lr=...){wider}"
    )
    for k in ("tensor", "layer", "step", "index", "value", "range"):
        setattr(out, k, getattr(err, k, None))
    return out


def _quantize_user_model(fmodel: FloatModel, fp: FixedPointParams) -> QuantizedModel:
    try:
        return quantize_model(fmodel, fp)
    except QuantizationOverflow:
        for l, (w, b) in enumerate(zip(fmodel.weights, fmodel.biases, strict=True), start=1):
            for name, a in (("weight", w), ("bias", b)):
                if a is None:
                    continue
                r = fp.range_of("W" if name == "weight" else "b")
                lo, hi = r.lo / fp.scale, r.hi / fp.scale
                if a.size and (a.min() < lo or a.max() >= hi):
                    v = a.min() if a.min() < lo else a.max()
                    raise QuantizationOverflow(
                        f"the model's layer {l} has a {name} of {v:g}, outside the range [{lo:g}, {hi:g}) "
                        f"that {fp.frac_bits} fractional bits allow; rescale the model's weights"
                    ) from None
        raise


def prove_training(
    *,
    widths: Sequence[int] | None = None,
    model=None,
    data="digits",
    steps: int = 4,
    batch_size: int = 32,
    frac_bits: int = 16,
    loss: str = "mse",
    lr: float | None = None,
    lr_shift: int | None = None,
    update_bits: int | None = None,
    range_backend: str = "lookup",
    schedule_seed: int | None = None,
    bias: bool | None = None,
    seed: int = 0,
    task: str = "auto",
    target: str | int | None = None,
    standardize: bool = False,
    allow_repeat: bool = False,
    out_dir: str | os.PathLike | None = None,
    verify_after: bool = True,
    params_path: str | os.PathLike | None = None,
    progress: Callable[[str], None] | None = None,
    on_step: Callable[[int, int], None] | None = None,
    compare_float: bool = False,
    zero_knowledge: bool = True,
    overwrite: bool = False,
    command_line: Sequence[str] | None = None,
    check_resources: bool = True,
    test_split: bool = False,
    memory: int | str | None = None,
) -> ProofBundle:
    """Train ``steps`` quantized SGD steps and prove them.

    ``model``: a ``torch.nn.Sequential`` of Linear and ReLU layers, the path of one saved with ``torch.save``,
    or ``None`` for a fresh MLP of ``widths`` (randomly initialised with ``seed``; ``bias=False`` drops biases).
    ``data``: a bundled scikit-learn dataset name (``digits``, ``iris``, ``wine``, ``breast_cancer``), a path
    (``.npz`` with ``X`` and ``y``; ``.npy`` / ``.csv`` with the label column ``target``), a pair ``(X, y)`` of
    numpy arrays or torch tensors, a dict ``{"X": ..., "y": ...}``, or a torch ``Dataset`` / ``DataLoader``
    of ``(x, y)`` pairs. ``task`` is ``"classification"``, ``"regression"`` or ``"auto"`` (inferred when
    unambiguous). ``lr`` is the learning rate on the batch-mean loss, mapped to the nearest supported
    ``η = batch_size·2^-s`` (the value used is in the summary); ``lr_shift`` gives ``s`` directly (default 8).
    ``update_bits``: the declared range of one step's weight and bias updates (signed bits at scale ``2^F``;
    default ``F − 1``, i.e. ``|Δw| < 0.5``; a run with larger steps stops with ``QuantizationOverflow`` naming the
    step, and ``F + 4`` allows ``|Δw| < 16`` at one more committed limb per weight per step).
    ``standardize`` standardizes features (and regression targets) with the training split's statistics.
    ``loss``: ``"mse"`` (squared error on one-hot targets, the default) or ``"ce"`` (softmax cross-entropy through
    the integer softmax, classification only; recorded in the statement).

    Writes ``proof.zkdl``, ``statement.json``, ``summary.json`` and the private artifacts (final weights,
    commitment openings, preprocessing statistics) to ``out_dir`` if given; the output directory, free disk
    space and memory are checked before any work. ``memory``: the prover's memory budget (bytes or a size like
    ``"12G"``; default 60 % of the available memory): a run whose estimated peak exceeds it is refused with
    ``MemoryBudgetError`` (``zkdl.runs.planner``) before any work."""
    try:
        args, rest = _TrainingArgs.split(locals())
        return _prove_training(args, **rest)
    except ImportError as exc:
        missing = MissingDependency.of(exc)
        if missing is None:
            raise
        raise missing from None


@dataclass(frozen=True)
class _TrainingArgs:
    """The arguments of :func:`prove_training` and :func:`prove_run` that define the training run itself (data,
    model, SGD, statement), as given; the other arguments say how to prove and where to write."""

    widths: Sequence[int] | None
    model: Any
    data: Any
    steps: int
    batch_size: int
    frac_bits: int
    lr: float | None
    lr_shift: int | None
    update_bits: int | None
    range_backend: str
    schedule_seed: int | None
    bias: bool | None
    seed: int
    task: str
    target: str | int | None
    standardize: bool
    allow_repeat: bool
    loss: str

    @classmethod
    def split(cls, kwargs: dict) -> tuple[_TrainingArgs, dict]:
        """``(training arguments, the rest)`` from a public function's ``locals()``; the integers checked."""
        names = {f.name for f in dataclasses.fields(cls)}
        args = cls(**{k: kwargs[k] for k in names})
        args = dataclasses.replace(
            args,
            steps=_int_arg("steps", args.steps, 1),
            batch_size=_int_arg("batch_size", args.batch_size, 1),
            seed=_int_arg("seed", args.seed, 0),
        )
        return args, {k: v for k, v in kwargs.items() if k not in names}


@dataclass
class _TrainingSetup:
    """What a prove run derives from its arguments before any work: data, model, parameters, the statement's
    shape (no commitments yet)."""

    lr_info: dict
    fp: FixedPointParams
    ds: Dataset
    fmodel: FloatModel
    model_info: dict
    X: np.ndarray
    Y: np.ndarray
    q0: QuantizedModel
    sched: BatchSchedule
    st0: Statement


def _setup_training(a: _TrainingArgs, say) -> _TrainingSetup:
    lr_shift, lr_info = _resolve_lr(a.lr, a.lr_shift, a.batch_size)
    fp = FixedPointParams(frac_bits=a.frac_bits, lr_shift=lr_shift, update_bits=a.update_bits)
    loss = check_loss(a.loss)
    ds = load_dataset(a.data, seed=a.seed, task=a.task, target=a.target, standardize=a.standardize)
    if loss == "ce" and ds.task != "classification":
        raise DatasetError("loss 'ce' (softmax cross-entropy) needs class labels; use the default mse for regression")
    fmodel, model_info = _resolve_model(a.model, a.widths, a.bias, a.seed, ds)
    if fmodel.widths[0] != ds.n_features or fmodel.widths[-1] != ds.n_outputs:
        raise ModelFormatError(
            f"model widths {list(fmodel.widths)} do not fit the data: {ds.n_features} features, "
            f"{ds.n_outputs} outputs ({ds.task})"
        )
    n_train = ds.X_train.shape[0]
    if a.batch_size > n_train and not a.allow_repeat:
        raise DatasetError(
            f"batch {a.batch_size} is larger than the {n_train} training rows, so rows would repeat "
            f"within a batch; lower --batch or pass --allow-repeat (API: allow_repeat=True)"
        )
    if "learning_rate_requested" in lr_info:
        say(
            f"learning rate {lr_info['learning_rate_requested']:g} -> {lr_info['learning_rate']:g} "
            f"(batch {a.batch_size} * 2^-{lr_shift})"
        )
    X = quantize_inputs(ds.X_train, fp, ds.feature_names)
    Y = quantize_targets(ds.Y_train, fp)
    q0 = _quantize_user_model(fmodel, fp)
    sched = BatchSchedule(X.shape[0], a.batch_size, a.schedule_seed)
    st0 = Statement(
        widths=fmodel.widths,
        has_bias=tuple(b is not None for b in q0.biases),
        params=fp,
        batch_size=a.batch_size,
        steps=a.steps,
        n_rows=X.shape[0],
        schedule_seed=a.schedule_seed,
        range_backend=a.range_backend,
        generators_digest="",
        loss=loss,
    )
    return _TrainingSetup(lr_info, fp, ds, fmodel, model_info, X, Y, q0, sched, st0)


def _prove_training(
    a: _TrainingArgs,
    *,
    out_dir,
    verify_after,
    params_path,
    progress,
    on_step,
    compare_float,
    zero_knowledge,
    overwrite,
    command_line,
    check_resources,
    test_split,
    memory,
) -> ProofBundle:
    say = progress or (lambda msg: log.info(msg))
    t_start = time.perf_counter()
    if out_dir is not None:
        check_out_dir(out_dir, overwrite=overwrite)  # fail before the work, not after
    setup_ = _setup_training(a, say)
    lr_info, fp, ds, fmodel, model_info = setup_.lr_info, setup_.fp, setup_.ds, setup_.fmodel, setup_.model_info
    X, Y, q0, sched, st0 = setup_.X, setup_.Y, setup_.q0, setup_.sched, setup_.st0
    if check_resources:
        summary_resources = check_resources_for(st0, out_dir, memory=memory)
        say(
            f"estimated peak memory {summary_resources['memory_bytes'] / 1e9:.2f} GB "
            f"(budget {summary_resources['memory_budget_bytes'] / 1e9:.2f} GB)"
        )
    say(f"training {a.steps} quantized SGD steps (widths {list(fmodel.widths)}, batch {a.batch_size})")
    t0 = time.perf_counter()
    try:
        run = train_quantized(q0, X, Y, fp, sched, a.steps, on_step=on_step, loss=a.loss)
    except QuantizationOverflow as e:
        raise _explain_training_overflow(e, fp, lr_info["learning_rate"]) from None
    t_train = time.perf_counter() - t0

    pp = public_params(_generators_needed(st0), params_path, create=True)
    st0 = Statement(**{**st0.__dict__, "generators_digest": pp.digest.hex()})
    split_opens: dict[str, Opening] = {}
    split_arrays: dict[str, np.ndarray] = {}
    if test_split:
        # the held-out split goes into the statement, which the transcript absorbs before any step is proven
        if ds.labels_test is None:
            raise DatasetError("--test-split commits a classification test split: the data needs class labels")
        from .protocol.eval_witness import commit_test_data

        split_arrays = {"X": quantize_inputs(ds.X_test, fp, ds.feature_names), "labels": ds.labels_test}
        ts, opened = commit_test_data(pp, st0.widths, split_arrays["X"], split_arrays["labels"])
        split_opens = {f"test_split.{k}": v for k, v in opened.items()}
        st0 = Statement(**{**st0.__dict__, "test_split": ts})
    say("committing the data, labels and weights")
    t0 = time.perf_counter()
    witness = training.Witness(training.Public.of(st0), run, X, Y)
    coms, opens = training.commit_statement_tensors(pp, witness)
    statement = Statement(**{**st0.__dict__, "commitments": coms})
    t_commit_statement = time.perf_counter() - t0
    say("proving")
    proof, times = training.prove(pp, statement, run, X, Y, opens, progress=say, zk=zero_knowledge)
    t_prove = sum(times.values())
    summary = {
        "statement_digest": statement.digest().hex(),
        "zkdl_version": __version__,
        "command_line": list(command_line) if command_line is not None else None,
        "widths": list(statement.widths),
        "task": ds.task,
        "loss": a.loss,
        "batch_size": a.batch_size,
        "steps": a.steps,
        **lr_info,
        "seed": a.seed,
        "schedule_seed": a.schedule_seed,
        "data_name": ds.name,
        **ds.source,
        "standardize": bool(a.standardize),
        **model_info,
        "range_backend": a.range_backend,
        "zero_knowledge": zero_knowledge,
        "train_seconds": round(t_train, 3),
        "statement_commit_seconds": round(t_commit_statement, 3),
        "prove_seconds": round(t_prove, 3),
        "prove_seconds_per_step": round(t_prove / a.steps, 3),
        "prove_phases": {k: round(v, 3) for k, v in times.items()},
        "proof_bytes": len(proof),
        "statement_commitment_bytes": sum(len(c.to_bytes()) for c in coms.values()),
    }
    if test_split:
        summary["test_split_rows"] = int(split_arrays["X"].shape[0])
    if check_resources:
        summary["estimated_memory_bytes"] = summary_resources["memory_bytes"]
        summary["memory_budget_bytes"] = summary_resources["memory_budget_bytes"]
    labels_test = ds.labels_test
    Xt = quantize_inputs(ds.X_test, fp, ds.feature_names)
    if labels_test is not None:
        summary["quantized_accuracy_initial"] = round(accuracy_int(q0, Xt, labels_test, fp), 4)
        summary["quantized_accuracy_final"] = round(accuracy_int(run.final, Xt, labels_test, fp), 4)
        if compare_float:
            from .quant.evaluate import accuracy_float
            from .quant.model import train_float

            fm = train_float(fmodel, ds.X_train, ds.Y_train, sched, a.steps, fp, loss=a.loss)
            summary["float_accuracy_final"] = round(accuracy_float(fm, ds.X_test, labels_test), 4)
    else:
        truth = ds.targets_to_user_units(ds.Y_test)
        for when, m in (("initial", q0), ("final", run.final)):
            pred = ds.targets_to_user_units(predict_int(m, Xt, fp) / float(fp.scale))
            summary[f"quantized_mse_{when}"] = float(np.mean((pred - truth) ** 2))
    bundle = ProofBundle(
        proof,
        statement,
        opens,
        list(run.final.weights),
        list(run.final.biases),
        summary,
        preprocessing=ds.preprocessing,
        test_split=split_arrays,
    )
    bundle.openings.update(split_opens)
    if verify_after:
        say("verifying")
        res = verify(proof, statement, params=pp, allow_transparent=not zero_knowledge)
        summary["verify_seconds"] = round(res.seconds, 4)
        summary["verified"] = res.valid
        if not res.valid:
            raise VerificationError(f"the fresh proof did not verify: {res.reason}")
    summary["total_seconds"] = round(time.perf_counter() - t_start, 3)
    if out_dir is not None:
        bundle.out_dir = write_bundle(bundle, out_dir, overwrite=overwrite)
    return bundle


# =========================================================================================================
# chunked runs (zkdl.runs)
# =========================================================================================================
@dataclass
class RunBundle:
    """What :func:`prove_run` produces: the run directory (``run.json``, ``chunks/NNNN/``, ``private/``), its
    manifest and a summary."""

    out_dir: Path
    manifest: RunManifest
    summary: dict = field(default_factory=dict)
    final_weights: list[np.ndarray] = field(default_factory=list)
    final_biases: list[np.ndarray | None] = field(default_factory=list)


def _resolve_workers(workers, ray_address) -> int:
    from .runs.executor import import_ray, ray_available

    if workers is None:  # default: the cores, through the embedded Ray when it is installed
        cores = os.cpu_count() or 1
        if cores > 1 and ray_address is None and not ray_available():
            log.info('ray is not installed: proving the chunks in this process (pip install "zkdl[cluster]")')
            return 1
        return cores
    workers = _int_arg("workers", workers, 1)
    if workers > 1 or ray_address is not None:
        import_ray()  # MissingDependency naming the [cluster] extra, before any work
    return workers


def prove_run(
    *,
    chunk_steps: int | None = None,
    workers: int | None = None,
    ray_address: str | None = None,
    resume: bool = False,
    out_dir: str | os.PathLike = "zkdl-run",
    widths: Sequence[int] | None = None,
    model=None,
    data="digits",
    steps: int = 4,
    batch_size: int = 32,
    frac_bits: int = 16,
    lr: float | None = None,
    lr_shift: int | None = None,
    update_bits: int | None = None,
    range_backend: str = "lookup",
    schedule_seed: int | None = None,
    bias: bool | None = None,
    seed: int = 0,
    task: str = "auto",
    target: str | int | None = None,
    standardize: bool = False,
    allow_repeat: bool = False,
    verify_after: bool = True,
    params_path: str | os.PathLike | None = None,
    progress: Callable[[str], None] | None = None,
    on_step: Callable[[int, int], None] | None = None,
    zero_knowledge: bool = True,
    overwrite: bool = False,
    command_line: Sequence[str] | None = None,
    check_resources: bool = True,
    loss: str = "mse",
    memory: int | str | None = None,
) -> RunBundle:
    """Train ``steps`` steps once and prove them as a chain of chunk proofs of ``chunk_steps`` consecutive steps
    (``docs/scaling.md``), written to ``out_dir`` as ``run.json`` + ``chunks/NNNN/{proof.zkdl,statement.json}``.

    ``workers`` chunk proofs run at once: 1 proves in this process (no Ray); more start an embedded local Ray
    (loopback only); ``ray_address`` (``auto`` or ``ray://host:port``) uses an existing cluster. ``resume`` keeps
    the chunks an interrupted run of the same arguments already wrote (and whose proofs verify) and proves the
    rest. The other arguments are those of :func:`prove_training`."""
    try:
        args, rest = _TrainingArgs.split(locals())
        return _prove_run(args, **rest)
    except ImportError as exc:
        missing = MissingDependency.of(exc)
        if missing is None:
            raise
        raise missing from None


def _run_fingerprint(st: Statement, bounds, X, Y, q0: QuantizedModel) -> str:
    """What a resumed run must share with the interrupted one (the stored blinding factors are only ever reused
    for the same values)."""
    import hashlib

    h = hashlib.sha256(b"zkdl/run-inputs/v1\0")
    h.update(json.dumps({**st.to_dict(), "steps": 0, "bounds": bounds}, sort_keys=True).encode())
    for a in (X, Y, *q0.weights, *(b for b in q0.biases if b is not None)):
        h.update(np.ascontiguousarray(a, dtype=np.int64).tobytes())
    return h.hexdigest()


def _prove_run(
    a: _TrainingArgs,
    *,
    chunk_steps,
    workers,
    ray_address,
    resume,
    out_dir,
    verify_after,
    params_path,
    progress,
    on_step,
    zero_knowledge,
    overwrite,
    command_line,
    check_resources,
    memory,
) -> RunBundle:
    from .runs import chunking, executor
    from .runs.manifest import CHUNKS_DIR, MANIFEST_FILE
    from .runs.prover import ChunkedRun
    from .runs.verify import verify_run as _verify_run

    say = progress or (lambda msg: log.info(msg))
    t_start = time.perf_counter()
    if chunk_steps is not None:
        chunking.choose_chunk_steps(a.steps, chunk_steps)  # a bad --chunk-steps fails before any work
    n_workers = _resolve_workers(workers, ray_address)
    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise ZkdlError(f"--out {out} is a file, not a directory")
    rd = executor.RunDirectory(out)
    names = (MANIFEST_FILE, CHUNKS_DIR, executor.PRIVATE_DIR, PROOF_FILE, STATEMENT_FILE, "summary.json")
    earlier = [out / n for n in names if (out / n).exists()]
    if earlier and not resume:
        if not overwrite:
            raise ZkdlError(
                f"{out} already holds a run ({', '.join(p.name for p in earlier)}); pass --resume to finish it, "
                "--force to replace it, or choose another --out"
            )
        for p in earlier:
            shutil.rmtree(p) if p.is_dir() else p.unlink()
    check_out_dir(out, overwrite=True)
    setup_ = _setup_training(a, say)
    # the chunk size: --chunk-steps, or the largest chunk whose estimated peak fits the memory budget (the planner)
    k = chunking.choose_chunk_steps(a.steps, chunk_steps, statement=setup_.st0, memory=memory)
    bounds = chunking.chunk_bounds(a.steps, k)
    largest = Statement(**{**setup_.st0.__dict__, "steps": k})  # the largest chunk: what one proof needs
    est = check_resources_for(largest, out, memory=memory) if check_resources else {}
    pp = public_params(_generators_needed(largest), params_path, create=True)
    template = Statement(**{**setup_.st0.__dict__, "generators_digest": pp.digest.hex()})
    fingerprint = _run_fingerprint(template, bounds, setup_.X, setup_.Y, setup_.q0)
    blinds: dict[str, list[int]] = {}
    if resume:
        stored_fp, blinds = rd.read_blinds()
        if blinds and stored_fp != fingerprint:
            raise ZkdlError(
                f"--resume: the run in {out} was made with other arguments (data, model, steps, chunking or "
                "parameters differ); rerun the same command, or pass --force to replace it"
            )
    cr = ChunkedRun(
        pp,
        template,
        setup_.q0,
        setup_.X,
        setup_.Y,
        bounds,
        zero_knowledge=zero_knowledge,
        params_path=params_path,  # None: each worker's own default cache (a node of a cluster derives its own)
        blinds=blinds,
        on_step=on_step,
    )
    say(f"training and proving {a.steps} steps in {len(bounds)} chunks of {k} (workers: {n_workers})")
    if est:
        how = "the planner's choice" if chunk_steps is None else "--chunk-steps"
        say(
            f"chunks of {k} steps ({how}): estimated peak memory {est['memory_bytes'] / 1e9:.2f} GB per chunk "
            f"(budget {est['memory_budget_bytes'] / 1e9:.2f} GB)"
        )
    proved: dict[int, dict] = {}
    skipped: list[int] = []

    def is_done(t) -> bool:
        return resume and executor.chunk_is_done(rd, t, pp)

    def before_submit(t) -> None:
        rd.write_blinds(cr.blinds, fingerprint)  # before any chunk that uses them is written

    def on_result(r) -> None:
        rd.write_chunk(r.index, r.statement, r.proof)
        proved[r.index] = {
            "seconds": round(r.prove_seconds, 3),
            "peak_rss_bytes": r.peak_rss_bytes,
            "pid": r.pid,
            "node": r.node,
        }
        say(f"chunk {r.index} proven ({len(proved) + len(skipped)}/{len(bounds)})")

    def on_skip(t) -> None:
        skipped.append(t.index)
        say(f"chunk {t.index} already proven and verified: kept")

    t0 = time.perf_counter()
    try:
        executor.execute(
            cr.tasks(),
            workers=n_workers,
            ray_address=ray_address,
            is_done=is_done,
            before_submit=before_submit,
            on_result=on_result,
            on_skip=on_skip,
        )
    except QuantizationOverflow as e:
        raise _explain_training_overflow(e, setup_.fp, setup_.lr_info["learning_rate"]) from None
    t_prove = time.perf_counter() - t0
    rd.write_blinds(cr.blinds, fingerprint)
    manifest = RunManifest.of(cr.statements, zero_knowledge=zero_knowledge)
    rd.write_manifest(manifest)
    rd.clean_partial()
    final = cr.final_model
    assert final is not None
    arrays = {f"W{l + 1}": w for l, w in enumerate(final.weights)}
    arrays.update({f"b{l + 1}": b for l, b in enumerate(final.biases) if b is not None})
    tmp = out / executor.PRIVATE_DIR / "final_model.tmp.npz"
    np.savez(tmp, **arrays)  # type: ignore[arg-type]  # numpy stub: **kwds is typed against allow_pickle: bool
    os.replace(tmp, out / executor.PRIVATE_DIR / "final_model.npz")
    ds = setup_.ds
    summary: dict = {
        "zkdl_version": __version__,
        "command_line": list(command_line) if command_line is not None else None,
        "widths": list(template.widths),
        "task": ds.task,
        "batch_size": a.batch_size,
        "steps": a.steps,
        "chunk_steps": k,
        "chunks": len(bounds),
        **setup_.lr_info,
        "seed": a.seed,
        "schedule_seed": a.schedule_seed,
        "data_name": ds.name,
        **ds.source,
        **setup_.model_info,
        "range_backend": a.range_backend,
        "zero_knowledge": zero_knowledge,
        "workers": n_workers,
        "ray_address": ray_address,
        "chunks_proven": sorted(proved),
        "chunks_resumed": sorted(skipped),
        "chunk_prove": {str(i): v for i, v in sorted(proved.items())},
        "train_seconds": round(cr.train_seconds, 3),
        "statement_commit_seconds": round(cr.commit_seconds, 3),
        "prove_seconds": round(t_prove, 3),
        "prove_seconds_per_step": round(t_prove / a.steps, 3),
        "proof_bytes": sum((out / f"{CHUNKS_DIR}/{i:04d}/proof.zkdl").stat().st_size for i in range(len(bounds))),
        "manifest_bytes": (out / MANIFEST_FILE).stat().st_size,
    }
    if est:
        summary["estimated_memory_bytes_per_chunk"] = est["memory_bytes"]
    if ds.labels_test is not None:
        Xt = quantize_inputs(ds.X_test, setup_.fp, ds.feature_names)
        summary["quantized_accuracy_initial"] = round(accuracy_int(setup_.q0, Xt, ds.labels_test, setup_.fp), 4)
        summary["quantized_accuracy_final"] = round(accuracy_int(final, Xt, ds.labels_test, setup_.fp), 4)
    if verify_after:
        say("verifying the run")
        res = _verify_run(out, workers=n_workers, params_path=params_path, allow_transparent=not zero_knowledge)
        summary["verify_seconds"] = round(res.seconds, 4)
        summary["verified"] = res.valid
        if not res.valid:
            raise VerificationError(f"the fresh run did not verify: {res.reason}")
    summary["total_seconds"] = round(time.perf_counter() - t_start, 3)
    executor.atomic_write(out / "summary.json", (json.dumps(summary, indent=2) + "\n").encode())
    return RunBundle(out, manifest, summary, list(final.weights), list(final.biases))


def verify_run(
    path: str | os.PathLike,
    *,
    workers: int | None = None,
    params_path: str | os.PathLike | None = None,
    allow_transparent: bool = False,
) -> RunVerificationResult:
    """Verify a run directory (or its ``run.json``): every chunk proof, ``workers`` at a time (default: the cores),
    and the chain that links them (``zkdl.runs.manifest``). A directory with ``proof.zkdl`` and ``statement.json``
    is a one-chunk run. Returns a :class:`RunVerificationResult` (``valid=False`` with the reason and the chunk it
    names); an unreadable manifest raises ``RunFormatError``."""
    from .runs.verify import verify_run as _verify_run

    return _verify_run(path, workers=workers, params_path=params_path, allow_transparent=allow_transparent)


_OUTPUT_SLACK_BYTES = 16 << 20


def estimate_resources(statement: Statement) -> dict[str, int]:
    """Peak memory of proving (the memory planner's estimate, ``zkdl.runs.planner``) and bytes written for a
    statement's shapes (before any work)."""
    from .runs.planner import estimate_peak_memory

    n_params = sum(a * b + b for a, b in zip(statement.widths[:-1], statement.widths[1:], strict=True))
    return {
        "memory_bytes": estimate_peak_memory(statement).total,
        "disk_bytes": _OUTPUT_SLACK_BYTES + 16 * n_params,
    }


def check_resources_for(
    statement: Statement, out_dir: str | os.PathLike | None, *, memory: int | str | None = None
) -> dict[str, int]:
    """Refuse a run whose outputs cannot be written (free disk space at ``out_dir``) or whose estimated peak
    memory exceeds the budget ``memory`` (bytes or a size like ``"12G"``; default 60 % of the available memory):
    ``MemoryBudgetError`` naming the budget, the estimate and what to change. Returns the estimate."""
    from .runs.planner import check_budget, default_budget, parse_memory

    budget = default_budget() if memory is None else parse_memory(memory)
    est = estimate_resources(statement)
    if out_dir is not None:
        out = Path(out_dir)
        while not out.exists() and out != out.parent:
            out = out.parent
        free = shutil.disk_usage(out).free
        if free < est["disk_bytes"]:
            raise ResourceError(
                f"{out} has {free / 1e6:.1f} MB free; the outputs need about "
                f"{est['disk_bytes'] / 1e6:.0f} MB; choose another --out"
            )
    check_budget(statement, budget)
    est["memory_budget_bytes"] = budget
    return est


def check_out_dir(out_dir: str | os.PathLike, *, overwrite: bool = False) -> Path:
    """Check that ``out_dir`` is (or can be created as) a writable directory; refuse to replace an earlier run's
    outputs (its openings are the only way to use its commitments)."""
    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise ZkdlError(f"--out {out} is a file, not a directory")
    existing = [p for p in (out / PROOF_FILE, out / STATEMENT_FILE, out / PRIVATE_DIR) if p.exists()]
    if existing and not overwrite:
        raise ZkdlError(
            f"{out} already holds a proof run ({', '.join(p.name for p in existing)}); choose another "
            "output directory or pass overwrite (--force) to replace it"
        )
    anc = out
    while not anc.exists() and anc != anc.parent:
        anc = anc.parent
    if not anc.is_dir():
        raise ZkdlError(f"--out {out} cannot be created: {anc} is a file, not a directory")
    if not os.access(anc, os.W_OK | os.X_OK):
        raise ZkdlError(f"--out {out} is not writable ({anc} does not allow writing)")
    if out.exists():
        try:  # access() does not see every reason (read-only mounts over NFS, ACLs): try it
            fd, probe = tempfile.mkstemp(prefix=".zkdl-write-test", dir=out)
            os.close(fd)
            os.unlink(probe)
        except OSError as exc:
            raise ZkdlError(f"--out {out} is not writable: {exc.strerror or exc}") from None
    return out


def write_bundle(bundle: ProofBundle, out_dir: str | os.PathLike, *, overwrite: bool = True) -> Path:
    """Write proof, statement and private artifacts; files are written to a temporary name and renamed, so
    an interrupted run never leaves a half-written proof next to a statement."""
    out = check_out_dir(out_dir, overwrite=overwrite)
    priv = out / PRIVATE_DIR
    priv.mkdir(parents=True, exist_ok=True)

    def atomic(path: Path, data: bytes):
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_bytes(data)
        os.replace(tmp, path)

    atomic(out / PROOF_FILE, bundle.proof)
    atomic(out / STATEMENT_FILE, bundle.statement.to_json().encode())
    final = QuantizedModel(tuple(bundle.final_weights), tuple(bundle.final_biases))
    fp = bundle.statement.params
    model_export.write_npz(priv / FINAL_MODEL_NPZ, final, fp)
    model_export.write_torch(priv / FINAL_MODEL_TORCH, final, fp)
    openings = {k: [hex(b) for b in op.blinds] for k, op in bundle.openings.items()}
    atomic(priv / "openings.json", json.dumps(openings, indent=1).encode())
    if bundle.test_split:
        tmp = priv / "test_split.tmp.npz"
        np.savez(tmp, X=bundle.test_split["X"], labels=bundle.test_split["labels"])
        os.replace(tmp, priv / TEST_SPLIT_FILE)
    if bundle.preprocessing:
        atomic(priv / "preprocessing.json", (json.dumps(bundle.preprocessing) + "\n").encode())
    atomic(out / "summary.json", (json.dumps(bundle.summary, indent=2) + "\n").encode())
    return out


# =========================================================================================================
# export
# =========================================================================================================
def load_final_model(run_dir: str | os.PathLike) -> tuple[QuantizedModel, FixedPointParams]:
    """The final integer model of a run directory (``private/final_model.npz``) and the fixed-point parameters of
    its statement; :class:`ModelFormatError` when the run has no final model or it does not fit the statement."""
    run = Path(run_dir)
    statement = load_statement(run / STATEMENT_FILE)
    fp = statement.params
    path = run / PRIVATE_DIR / FINAL_MODEL_NPZ
    if not path.is_file():
        raise ModelFormatError(f"{run} has no final model ({PRIVATE_DIR}/{FINAL_MODEL_NPZ}); is it a prove run?")
    model, _ = model_export.read_npz(path, fp.frac_bits)
    if model.widths != tuple(statement.widths) or model.has_bias != tuple(statement.has_bias):
        raise ModelFormatError(
            f"{path} holds a model of widths {list(model.widths)}, but the run's statement has {list(statement.widths)}"
        )
    return model, fp


def export_model(run_dir: str | os.PathLike, format: str, out: str | os.PathLike) -> Path:
    """Write the final model of the run in ``run_dir`` as ``format`` (``torch``: a float state dict of a
    ``torch.nn.Sequential``; ``onnx``; ``npz``: the integer weights with ``frac_bits``) to ``out``; returns ``out``.

    The exported model takes the features as the proof saw them (after the preprocessing recorded in
    ``private/preprocessing.json``)."""
    if format not in model_export.EXPORT_FORMATS:
        raise ModelFormatError(
            f"unknown export format {format!r}; choose one of {', '.join(model_export.EXPORT_FORMATS)}"
        )
    model, fp = load_final_model(run_dir)
    dest = Path(out)
    if dest.is_dir():
        raise ZkdlError(f"--out {dest} is a directory; give a file name")
    if not dest.parent.is_dir():
        raise ZkdlError(f"--out {dest}: the directory {dest.parent} does not exist")
    try:
        model_export.write(format, dest, model, fp)
    except ImportError as exc:
        missing = MissingDependency.of(exc)
        if missing is None:
            raise
        raise missing from None
    except OSError as exc:
        raise ZkdlError(f"cannot write {dest}: {exc.strerror or exc}") from None
    return dest


# =========================================================================================================
# verify
# =========================================================================================================
def use_backend(name: str) -> None:
    """Select the compute backend for everything that follows: ``cpu``, ``gpu`` or ``auto``."""
    from .field import set_default_backend

    set_default_backend(name)


def setup_generators(
    n: int, path: str | os.PathLike | None = None, *, progress: Callable[[str], None] | None = None
) -> dict:
    """Derive the public generators by hash-to-curve into a cache file (default: the shared cache) so that it holds
    at least ``n``; says through ``progress`` what it is about to do to the file before doing it. Returns what
    was done: path, generators (after), generators_before, action (created / extended / unchanged), digest,
    bytes."""
    target = Path(path) if path is not None else default_cache_path()
    if target.is_dir():
        raise ZkdlError(f"--path {target} is a directory; give the cache file")
    before = load(target).capacity if target.exists() else 0
    shared = "the shared generator cache" if path is None else "the generator cache"
    if before >= n:
        action, msg = "unchanged", f"{shared} {target} already holds {before} generators (≥ {n}); nothing to do"
    elif before:
        action = "extended"
        msg = f"extending {shared} {target} from {before} to {n} generators (same prefix; the file is rewritten)"
    else:
        action, msg = "created", f"creating {shared} {target} with {n} generators (hash-to-curve, deterministic)"
    if progress is not None:
        progress(msg)
    pp = setup(n, target)
    return {
        "path": str(target),
        "generators": pp.capacity,
        "generators_before": before,
        "action": action,
        "digest": pp.digest.hex(),
        "bytes": target.stat().st_size,
    }


def inspect_proof(path: str | os.PathLike) -> dict:
    """What a proof file holds without verifying it: size, format version, protocol, mode, sections."""
    from .serialize import describe

    p = Path(path)
    if p.is_dir():
        raise ProofFormatError(f"{path} is a directory; give the proof file (proof.zkdl)")
    try:
        data = p.read_bytes()
    except OSError as exc:
        raise ProofFormatError(f"cannot read proof {path}: {exc.strerror}") from exc
    return {"bytes": len(data), **describe(data)}


def load_statement(
    statement: Statement | str | os.PathLike | dict, *, subgroup: SubgroupChecks | None = None
) -> Statement:
    """A statement object, or one parsed strictly from a dict or a ``statement.json`` path
    (:class:`StatementFormatError` when it does not follow the schema or cannot be read). ``subgroup``: defer the
    subgroup checks of a parsed statement's points to that collector (``Statement.from_dict``)."""
    if isinstance(statement, Statement):
        return statement
    if isinstance(statement, dict):
        return Statement.from_dict(statement, subgroup=subgroup)
    path = Path(statement)
    try:
        text = path.read_bytes()
    except OSError as exc:
        raise StatementFormatError(f"cannot read statement {path}: {exc.strerror}") from exc
    return Statement.from_json(text, subgroup=subgroup)


def verify(
    proof: bytes | str | os.PathLike,
    statement: Statement | str | os.PathLike | dict,
    *,
    params: PublicParams | None = None,
    params_path: str | os.PathLike | None = None,
    allow_transparent: bool = False,
) -> VerificationResult:
    """Verify a training proof against a statement.

    Returns a :class:`VerificationResult`; an invalid proof (malformed, made for another statement, or failing
    a check) gives ``valid=False`` with the reason and the error type. A transparent (not zero-knowledge) proof
    is refused (``TransparentProofRefused``, ``valid=False``) unless ``allow_transparent``. Unusable inputs
    raise: a proof file that cannot be read (``ProofFormatError``), a statement that cannot be read or does not
    follow the schema (``StatementFormatError``), missing or foreign public parameters (``SetupError``).

    A statement read here has its points' subgroup checks deferred to helper processes together with the proof's
    (:class:`~zkdl.serialize.SubgroupChecks`); a statement point outside the subgroup still raises
    ``StatementFormatError`` before any verdict, whatever the proof."""
    with SubgroupChecks() as subgroup:
        st = load_statement(statement, subgroup=subgroup)
        try:
            res = _verify_loaded(proof, st, params, params_path, allow_transparent, subgroup)
        except ZkdlError:
            _statement_points_checked(subgroup)  # a statement point outside the subgroup is the first cause
            raise
        _statement_points_checked(subgroup)  # also when the verdict came before the verifier's own finish
        return res


def _statement_points_checked(subgroup: SubgroupChecks) -> None:
    """Raise the ``StatementFormatError`` of a statement point outside the subgroup. The statement's points are
    the collector's first, so its first failure is theirs when there is one; a failure of a proof point is already
    the verdict's reason (``run_verifier`` finished the same collector before it gave one)."""
    try:
        subgroup.finish()
    except StatementFormatError:
        raise
    except ProofFormatError:
        pass


def _verify_loaded(
    proof: bytes | str | os.PathLike,
    st: Statement,
    params: PublicParams | None,
    params_path: str | os.PathLike | None,
    allow_transparent: bool,
    subgroup: SubgroupChecks,
) -> VerificationResult:
    if not isinstance(proof, (bytes, bytearray, memoryview)):
        proof_source = proof
        try:
            proof = Path(proof_source).read_bytes()
        except OSError as exc:
            raise ProofFormatError(f"cannot read proof {proof_source}: {exc.strerror}") from exc
    proof = bytes(proof)
    t0 = time.perf_counter()
    res = VerificationResult(
        valid=False,
        statement_digest=st.digest().hex(),
        proof_bytes=len(proof),
        widths=list(st.widths),
        has_bias=list(st.has_bias),
        steps=st.steps,
        batch_size=st.batch_size,
        n_rows=st.n_rows,
        params=st.params.to_dict(),
        range_backend=st.range_backend,
        loss=st.loss,
    )
    try:
        res.zero_knowledge = not parse_header(proof).transparent
    except ProofFormatError:
        res.zero_knowledge = None
    try:
        needed = _generators_needed(st)  # StatementMismatch (invalid) beyond the canonical generator set
    except StatementMismatch as exc:
        res.reason, res.error_type = str(exc), type(exc).__name__
        return res
    pp = params if params is not None else public_params(needed, params_path)
    try:
        if res.zero_knowledge is False and not allow_transparent:
            raise TransparentProofRefused(
                "the proof is transparent (not zero-knowledge: it reveals witness "
                "values); refused unless allow_transparent / --allow-transparent"
            )
        training.verify(pp, st, proof, subgroup=subgroup)
        res.valid = True
    except (ProofFormatError, StatementMismatch, VerificationError) as exc:
        res.reason = str(exc)
        res.error_type = type(exc).__name__
    except (SetupError, StatementFormatError):  # StatementFormatError: a statement point off the subgroup
        raise
    except (ValueError, TypeError, IndexError, KeyError, OverflowError, ZeroDivisionError) as exc:
        # adversarial bytes must never escape as a traceback: anything the parser did not anticipate is a
        # malformed proof
        res.reason = f"malformed proof ({type(exc).__name__}: {exc})"
        res.error_type = "ProofFormatError"
    res.seconds = time.perf_counter() - t0
    return res


# =========================================================================================================
# evaluation and inference with the committed final model of a training run
# =========================================================================================================
EVAL_STATEMENT_FILE = "evaluation.json"
TEST_SPLIT_FILE = "test_split.npz"
TEST_SPLIT_OPENING = "test_split_opening.json"
TRAINING_STATEMENT_COPY = "training_statement.json"
EVAL_ARRAYS = {"inputs": "inputs.npy", "labels": "labels.npy", "outputs": "outputs.npy"}
#: what ``zkdl verify`` says about each ``test_data`` mode of an evaluation statement
TEST_DATA_DESCRIPTIONS = {
    "public": "public data given at evaluation time (committed after training, not before)",
    "training-split": "the held-out split committed in the training statement before training (rows revealed, "
    "their opening checked)",
    "committed": "private data committed at evaluation time, after training (rows not revealed: only their "
    "commitments are in evaluation.json)",
    "training-split-committed": "the held-out split committed in the training statement before training (rows not "
    "revealed: proven against its commitments)",
}


@dataclass
class EvaluationBundle:
    """What :func:`evaluate` or :func:`infer` produces (all public): the proof, its statement, the training
    statement it is bound to and the public arrays."""

    proof: bytes
    statement: EvalStatement
    training_statement: Statement
    inputs: np.ndarray
    labels: np.ndarray | None = None
    outputs: np.ndarray | None = None
    summary: dict = field(default_factory=dict)
    out_dir: Path | None = None
    split_blinds: dict | None = None  # evaluation on the committed test split: the openings it reveals
    #: committed test data (test_data "committed" / "training-split-committed"): the openings the prover keeps
    #: (written under private/, never next to the proof), by the tensor names ``zkdl check-commitment`` takes
    data_openings: dict[str, Opening] | None = None

    @property
    def accuracy(self) -> float | None:
        return self.statement.accuracy

    @property
    def predictions(self) -> np.ndarray | None:
        return None if self.outputs is None else np.argmax(self.outputs, axis=1)


@dataclass
class EvaluationResult:
    """Outcome of :func:`verify_evaluation` / :func:`verify_inference`; ``bool(result)`` is ``result.valid``.

    What was verified: ``kind``, ``n_rows``, for a classification evaluation ``correct`` and ``accuracy``, for a
    regression evaluation ``sse`` (the sum of squared errors at scale ``2^(2·frac_bits)``) and ``mse`` (per output
    entry, in the quantized targets' units), for an inference the public ``outputs`` (fixed point, scale
    ``2^frac_bits``) and ``predictions`` (first maximal output), ``data_mode`` (the statement's ``test_data``:
    public, training-split, committed, training-split-committed) and the digest of the ``training_statement``
    whose final weight commitments the proof used."""

    valid: bool
    kind: str
    reason: str | None = None
    error_type: str | None = None
    seconds: float = 0.0
    proof_bytes: int = 0
    zero_knowledge: bool | None = None
    n_rows: int = 0
    correct: int | None = None
    accuracy: float | None = None
    outputs: np.ndarray | None = None
    predictions: np.ndarray | None = None
    frac_bits: int = 0
    training_statement_digest: str = ""
    training_statement_source: str = ""
    test_data: str = ""
    data_mode: str = ""
    sse: int | None = None
    mse: float | None = None

    def __bool__(self) -> bool:
        return self.valid

    def to_dict(self) -> dict:
        out = {
            "valid": self.valid,
            "kind": self.kind,
            "reason": self.reason,
            "error_type": self.error_type,
            "seconds": round(self.seconds, 4),
            "proof_bytes": self.proof_bytes,
            "zero_knowledge": self.zero_knowledge,
            "n_rows": self.n_rows,
            "training_statement_digest": self.training_statement_digest,
            "training_statement_source": self.training_statement_source,
            "test_data": self.test_data,
            "data_mode": self.data_mode,
        }
        if self.kind == "evaluation" and self.sse is not None:
            out.update(sse=self.sse, mse=self.mse)
        elif self.kind == "evaluation":
            out.update(correct=self.correct, accuracy=self.accuracy)
        else:
            out["predictions"] = None if self.predictions is None else self.predictions.tolist()
            out["outputs"] = None if self.outputs is None else (self.outputs / float(1 << self.frac_bits)).tolist()
        return out

    def describe(self) -> str:
        head = (
            f"VALID  ({self.proof_bytes} bytes, verified in {self.seconds:.2f} s)"
            if self.valid
            else f"INVALID  {self.error_type}: {self.reason}"
        )
        mode = {True: "zero-knowledge", False: "transparent", None: "unknown"}[self.zero_knowledge]
        lines = [head, f"  proof mode          {mode}", f"  proof of            {self.kind} on {self.n_rows} rows"]
        if self.valid and self.kind == "evaluation" and self.sse is not None:
            lines.append(f"  verified SSE        {self.sse}  (Σ (O − Y)², fixed point at scale 2^{2 * self.frac_bits})")
            lines.append(f"  verified MSE        {self.mse:.6g}  (per output entry, in the quantized targets' units)")
        elif self.valid and self.kind == "evaluation":
            lines.append(f"  verified accuracy   {self.accuracy:.4f}  ({self.correct} of {self.n_rows} rows correct)")
        if self.valid and self.kind == "inference" and self.predictions is not None:
            shown = ", ".join(str(int(c)) for c in self.predictions[:32])
            more = f", … ({len(self.predictions)} in all)" if len(self.predictions) > 32 else ""
            lines.append(f"  verified classes    {shown}{more}")
        lines += [
            f"  test data           {self.data_mode}: {self.test_data}",
            f"  training statement  {self.training_statement_digest}  ({self.training_statement_source})",
        ]
        return "\n".join(lines)


def _read_json_file(path: Path, what: str) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise StatementFormatError(f"cannot read {what} {path}: {exc.strerror}") from exc


def _load_training_run(run: str | os.PathLike):
    """The training statement, final model (int64) and the openings of its final weight commitments."""
    d = Path(run)
    if not d.is_dir():
        raise ZkdlError(f"{run} is not a training run directory (give the --out directory of `zkdl prove`)")
    st = Statement.from_json(_read_json_file(d / STATEMENT_FILE, "training statement"))
    try:
        with np.load(d / PRIVATE_DIR / "final_model.npz", allow_pickle=False) as z:
            arrays = {k: np.asarray(z[k]) for k in z.files}
        blinds = json.loads((d / PRIVATE_DIR / "openings.json").read_bytes())
    except (OSError, ValueError, zipfile.BadZipFile) as exc:
        raise ModelFormatError(
            f"cannot read the private artifacts of {run} (final_model.npz, openings.json): {exc}"
        ) from None
    L = st.num_layers
    try:
        weights = [arrays[f"W{l}"].astype(np.int64) for l in range(1, L + 1)]
        biases = [arrays[f"b{l}"].astype(np.int64) if st.has_bias[l - 1] else None for l in range(1, L + 1)]
        openings = {}
        for name in [f"WT.{l}" for l in range(1, L + 1)] + [f"bT.{l}" for l in range(1, L + 1) if st.has_bias[l - 1]]:
            openings[name] = Opening(st.commitments[name].layout, tuple(int(h, 16) for h in blinds[name]))
    except (KeyError, TypeError, ValueError) as exc:
        raise ModelFormatError(f"{run}: the private artifacts do not match its statement ({exc!r})") from None
    summary = {}
    if (d / "summary.json").exists():
        try:
            summary = json.loads((d / "summary.json").read_bytes())
        except ValueError:
            summary = {}
    pre = {}
    if (d / PRIVATE_DIR / "preprocessing.json").exists():
        pre = json.loads((d / PRIVATE_DIR / "preprocessing.json").read_bytes())
    split = None
    if st.test_split is not None and (d / PRIVATE_DIR / TEST_SPLIT_FILE).exists():
        try:
            with np.load(d / PRIVATE_DIR / TEST_SPLIT_FILE, allow_pickle=False) as z:
                split = {
                    "X": np.asarray(z["X"], dtype=np.int64),
                    "labels": np.asarray(z["labels"], dtype=np.int64),
                    "blinds": {k: [int(h, 16) for h in blinds[f"test_split.{k}"]] for k in ("X", "Y")},
                }
        except (OSError, ValueError, KeyError, TypeError, zipfile.BadZipFile) as exc:
            raise ModelFormatError(f"cannot read the committed test split of {run}: {exc!r}") from None
    return st, weights, biases, openings, summary, pre, split


def _preprocess_features(X: np.ndarray, pre: dict) -> np.ndarray:
    """The training run's feature preprocessing (``private/preprocessing.json``) applied to new rows."""
    X = np.asarray(X, dtype=np.float64)
    f = pre.get("features") or {}
    if f.get("method") == "divide":
        return X / float(f["by"])
    if f.get("method") == "minmax":
        return (X - np.asarray(f["min"])) / np.asarray(f["span"])
    if f.get("method") == "standardize":
        return (X - np.asarray(f["mean"])) / np.asarray(f["std"])
    return X


def _preprocess_targets(Y: np.ndarray, pre: dict) -> np.ndarray:
    """The training run's target standardization (regression) applied to new targets."""
    t = pre.get("targets") or {}
    if t.get("method") == "standardize":
        return (np.asarray(Y, dtype=np.float64) - np.asarray(t["mean"])) / np.asarray(t["std"])
    return np.asarray(Y, dtype=np.float64)


def _test_set(data, st: Statement, summary: dict, pre: dict, split: dict | None, regression: bool):
    """Quantized test features and labels (classification: class labels; regression: quantized targets,
    n × d_L), where they came from, and whether they are the held-out split committed in the training statement.
    Default: that split (``--test-split``), else the training data's held-out split (same source, same seed). Any
    other source is used whole, preprocessed like the training data."""
    from .quant.data import read_data, validate

    fp = st.params
    task = "regression" if regression else "classification"
    if data is None and split is not None:
        origin = "the held-out split committed in the training statement before training"
        return split["X"], split["labels"], origin, True
    if data is None:
        source = summary.get("data_source")
        data = source if isinstance(source, str) and os.path.isfile(source) else summary.get("data_name")
        if data is None:
            raise DatasetError("the run has no summary.json naming its data; pass --data")
    X, y, info = read_data(data)
    if info.get("data_sha256") and info.get("data_sha256") == summary.get("data_sha256"):
        ds = load_dataset(
            data,
            seed=int(summary.get("seed", 0)),
            task=task,
            standardize=bool(summary.get("standardize", False)),
        )
        origin = (
            f"the held-out split of the training data {info['name']} (seed {summary.get('seed', 0)}), "
            "chosen at evaluation time (not committed before training)"
        )
        Xq = quantize_inputs(ds.X_test, fp, ds.feature_names)
        if regression:
            return Xq, quantize_targets(ds.Y_test, fp), origin, False
        assert ds.labels_test is not None
        return Xq, ds.labels_test, origin, False
    X, y, _task = validate(X, y, info["name"], task)
    if X.shape[1] != st.widths[0]:
        raise DatasetError(f"{info['name']} has {X.shape[1]} features, the model {st.widths[0]}")
    origin = f"{info['name']} (all {X.shape[0]} rows), chosen at evaluation time (not committed before training)"
    Xq = quantize_inputs(_preprocess_features(X, pre), fp)
    if regression:
        if y.shape[1] != st.widths[-1]:
            raise DatasetError(f"{info['name']} has {y.shape[1]} target columns, the model {st.widths[-1]} outputs")
        return Xq, quantize_targets(_preprocess_targets(y, pre), fp), origin, False
    return Xq, np.asarray(y, dtype=np.int64), origin, False


def _write_eval_dir(bundle: EvaluationBundle, out_dir, overwrite: bool) -> Path:
    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise ZkdlError(f"--out {out} is a file, not a directory")
    if (out / EVAL_STATEMENT_FILE).exists() and not overwrite:
        raise ZkdlError(f"{out} already holds an evaluation; choose another --out or pass --force")
    out.mkdir(parents=True, exist_ok=True)

    def atomic(name: str, data: bytes, where: Path = out):
        tmp = where / (name + ".tmp")
        tmp.write_bytes(data)
        os.replace(tmp, where / name)

    import io

    def npy(arr) -> bytes:
        buf = io.BytesIO()
        np.save(buf, np.ascontiguousarray(arr, dtype=np.int64), allow_pickle=False)
        return buf.getvalue()

    # an earlier result in this directory (--force) must not leave public files this one does not have
    (out / EVAL_STATEMENT_FILE).unlink(missing_ok=True)
    for name in (*EVAL_ARRAYS.values(), TEST_SPLIT_OPENING):
        (out / name).unlink(missing_ok=True)
    if bundle.statement.committed_data:
        # the rows and their openings stay with the prover (the data owner checks them: zkdl check-commitment)
        priv = out / PRIVATE_DIR
        priv.mkdir(exist_ok=True)
        atomic(EVAL_ARRAYS["inputs"], npy(bundle.inputs), priv)
        atomic(EVAL_ARRAYS["labels"], npy(bundle.labels), priv)
        opened = {k: [hex(b) for b in op.blinds] for k, op in (bundle.data_openings or {}).items()}
        atomic("openings.json", (json.dumps(opened, indent=1) + "\n").encode(), priv)
    else:
        for key, arr in (("inputs", bundle.inputs), ("labels", bundle.labels), ("outputs", bundle.outputs)):
            if arr is not None:
                atomic(EVAL_ARRAYS[key], npy(arr))
    atomic(TRAINING_STATEMENT_COPY, bundle.training_statement.to_json().encode())
    if bundle.split_blinds is not None:
        opened = {k: [hex(b) for b in v] for k, v in bundle.split_blinds.items()}
        atomic(TEST_SPLIT_OPENING, json.dumps(opened).encode())
    atomic(PROOF_FILE, bundle.proof)
    atomic("summary.json", (json.dumps(bundle.summary, indent=2) + "\n").encode())
    atomic(EVAL_STATEMENT_FILE, bundle.statement.to_json().encode())  # last: its presence marks a complete dir
    return out


def _mse_in_user_units(O: np.ndarray, Y: np.ndarray, fp, pre: dict) -> float:
    """The mean squared error of the quantized model's outputs in the user's units (the run's target
    standardization undone)."""
    diff = (np.asarray(O, dtype=np.float64) - np.asarray(Y, dtype=np.float64)) / float(fp.scale)
    t = pre.get("targets") or {}
    if t.get("method") == "standardize":
        diff = diff * np.asarray(t["std"])
    return float(np.mean(diff**2))


def _prove_eval(
    kind,
    run,
    X,
    labels,
    origin,
    *,
    out_dir,
    params_path,
    zero_knowledge,
    overwrite,
    verify_after,
    test_data="public",
    split_blinds=None,
    regression=False,
):
    from .commit.pedersen import Layout
    from .protocol import evaluation
    from .protocol.eval_witness import EvalPublic, commit_test_data
    from .protocol.evaluation_statement import COMMITTED_TEST_DATA, array_sha256
    from .protocol.relations.sse import sse_int
    from .protocol.shapes import pow2

    t0 = time.perf_counter()
    st, weights, biases, openings, summary, pre, _split = run
    fp = st.params
    n, d0 = X.shape
    if d0 != st.widths[0]:
        raise DatasetError(f"the inputs have {d0} features, the model {st.widths[0]}")
    model = QuantizedModel(tuple(weights), tuple(biases))
    O = predict_int(model, X, fp)
    committed = test_data in COMMITTED_TEST_DATA
    common = dict(
        training_statement=st.digest().hex(),
        n_rows=int(n),
        inputs_sha256=None if committed else array_sha256(X),
        range_backend=st.range_backend,
        generators_digest=st.generators_digest,
        test_data=test_data,
    )
    # the generators of the training statement's tables and of the test data's commitments
    need = max(
        _generators_needed(st),
        *(Layout.for_length(pow2(n) * pow2(w)).cols for w in (st.widths[0], st.widths[-1])),
    )
    pp = public_params(need, params_path, create=params_path is None)
    if pp.digest.hex() != st.generators_digest:
        raise SetupError("the generator cache differs from the one the training statement was made with")
    data = data_openings = None
    if kind == "evaluation":
        metric = {"sse": sse_int(O, labels)} if regression else {"correct": int((np.argmax(O, axis=1) == labels).sum())}
        if test_data == "committed":
            coms, opened = commit_test_data(pp, st.widths, X, labels, regression=regression)
            est = EvalStatement(
                kind=kind,
                inputs_commitment=coms["X"].to_bytes().hex(),
                labels_commitment=coms["Y"].to_bytes().hex(),
                **metric,
                **common,
            )
            data_openings = {"TX": opened["X"], "TY": opened["Y"]}
        elif test_data == "training-split-committed":
            assert st.test_split is not None and split_blinds is not None
            est = EvalStatement(kind=kind, **metric, **common)
            data_openings = {f"T{k}": Opening(st.test_split[k].layout, tuple(split_blinds[k])) for k in ("X", "Y")}
        else:
            est = EvalStatement(kind=kind, labels_sha256=array_sha256(labels), **metric, **common)
        if committed:
            pub = EvalPublic.of(st, est)
            data = {"X": X, "labels": labels}
        else:
            pub = EvalPublic.of(
                st, est, X, labels=labels, split_blinds=split_blinds if test_data == "training-split" else None
            )
    else:
        est = EvalStatement(kind=kind, outputs_sha256=array_sha256(O), **common)
        pub = EvalPublic.of(st, est, X, outputs=O)
    pp = public_params(evaluation.eval_generators_needed(pub), params_path, create=params_path is None)
    proof, times = evaluation.prove(
        pp, pub, weights, biases, openings, data=data, data_openings=data_openings, zk=zero_knowledge
    )
    info = {
        "kind": kind,
        "training_statement_digest": st.digest().hex(),
        "test_data": origin,
        "data_mode": test_data if kind == "evaluation" else "public",
        "n_rows": int(n),
        "prove_seconds": round(times["prove"], 3),
        "proof_bytes": len(proof),
        "zero_knowledge": zero_knowledge,
    }
    if kind == "evaluation" and regression:
        info.update(
            sse=est.sse,
            sse_scale_bits=2 * fp.frac_bits,
            mse=_mse(est, st),
            mse_user_units=_mse_in_user_units(O, labels, fp, pre),
        )
    elif kind == "evaluation":
        info.update(correct=est.correct, accuracy=est.accuracy)
    else:
        info["predictions"] = np.argmax(O, axis=1).tolist()
    if verify_after:
        tv = time.perf_counter()
        try:
            evaluation.verify(pp, pub, proof)
        except (VerificationError, StatementMismatch) as exc:
            raise VerificationError(
                f"the fresh {kind} proof did not verify ({exc}); do the run's private artifacts (final_model.npz, "
                "openings.json) belong to its statement.json?"
            ) from None
        info["verify_seconds"] = round(time.perf_counter() - tv, 3)
    info["total_seconds"] = round(time.perf_counter() - t0, 3)
    info["test_data_committed_before_training"] = test_data in ("training-split", "training-split-committed")
    info["test_data_revealed"] = not committed
    bundle = EvaluationBundle(
        proof, est, st, X, labels if kind == "evaluation" else None, O if kind == "inference" else None, info
    )
    bundle.split_blinds = split_blinds if test_data == "training-split" else None
    if data_openings is not None:
        names = {"TX": "X", "TY": "Y"} if test_data == "committed" else {"TX": "test_split.X", "TY": "test_split.Y"}
        bundle.data_openings = {names[k]: v for k, v in data_openings.items()}
    if out_dir is not None:
        bundle.out_dir = _write_eval_dir(bundle, out_dir, overwrite)
    return bundle


def _mse(est: EvalStatement, st: Statement) -> float | None:
    """A regression evaluation's sse per output entry, in the quantized targets' units (scale removed)."""
    if est.sse is None:
        return None
    return est.sse / float(1 << (2 * st.params.frac_bits)) / (est.n_rows * st.widths[-1])


def evaluate(
    run: str | os.PathLike,
    data=None,
    *,
    private_data: bool = False,
    out_dir: str | os.PathLike | None = None,
    params_path: str | os.PathLike | None = None,
    zero_knowledge: bool = True,
    overwrite: bool = False,
    verify_after: bool = True,
) -> EvaluationBundle:
    """Prove the test performance of a training run's committed final model (``run``: the output directory of
    :func:`prove_training`): for a classification run the count of rows whose predicted class (the first maximal
    output) equals the label, for a regression run the sum of squared errors Σ (O − Y)² (fixed point, scale
    2^(2F)), as the proof's public output.

    ``data``: the run's own data source (default: named in its summary) gives its held-out split (the one committed
    in the training statement if the run was proven with ``test_split=True``); another source (a bundled name, a
    file, ``(X, y)`` arrays in the user's units) is used whole, preprocessed like the training data.

    ``private_data=False``: the test rows are public (the evaluation directory holds them; the statement their
    hashes, or for the committed split its openings). ``private_data=True``: the rows are never revealed; the
    proof is against commitments only: the training statement's split commitments (made before training) or, for
    other data, fresh hiding commitments in the evaluation statement. The rows and openings are written under the
    evaluation directory's ``private/`` for the data owner (:func:`check_commitment`)."""
    loaded = _load_training_run(run)
    st, _, _, _, summary, pre, split = loaded
    regression = summary.get("task", "classification") == "regression"
    X, labels, origin, from_split = _test_set(data, st, summary, pre, split, regression)
    if not regression and labels.size and (labels.min() < 0 or labels.max() >= st.widths[-1]):
        raise DatasetError(f"the labels must be classes in [0, {st.widths[-1]})")
    if private_data:
        test_data = "training-split-committed" if from_split else "committed"
        origin += (
            "; rows not revealed (proven against its commitments)"
            if from_split
            else "; rows not revealed (committed at evaluation time, proven against the commitments only)"
        )
    else:
        test_data = "training-split" if from_split else "public"
    return _prove_eval(
        "evaluation",
        loaded,
        X,
        labels,
        origin,
        test_data=test_data,
        split_blinds=split["blinds"] if from_split and split is not None else None,
        regression=regression,
        out_dir=out_dir,
        params_path=params_path,
        zero_knowledge=zero_knowledge,
        overwrite=overwrite,
        verify_after=verify_after,
    )


def infer(
    run: str | os.PathLike,
    inputs,
    *,
    out_dir: str | os.PathLike | None = None,
    params_path: str | os.PathLike | None = None,
    zero_knowledge: bool = True,
    overwrite: bool = False,
    verify_after: bool = True,
) -> EvaluationBundle:
    """Prove the outputs of a training run's committed final model on public ``inputs`` (an array of rows of
    features in the user's units, or the path of an ``.npy`` file), one proof for the whole batch. The outputs
    and predicted classes are public."""
    loaded = _load_training_run(run)
    pre = loaded[5]
    if isinstance(inputs, str | os.PathLike):
        try:
            inputs = np.load(inputs, allow_pickle=False)
        except (OSError, ValueError) as exc:
            raise DatasetError(f"cannot read the inputs {inputs}: {exc}") from None
    X = np.asarray(inputs)
    if X.ndim == 1:
        X = X[None, :]
    if X.ndim != 2 or X.shape[0] < 1 or not np.issubdtype(X.dtype, np.number) or not np.isfinite(X).all():
        raise DatasetError(f"inputs must be a finite numeric (n, d) array, got {X.dtype} {X.shape}")
    fp = loaded[0].params
    if X.shape[1] != loaded[0].widths[0]:
        raise DatasetError(f"the inputs have {X.shape[1]} features, the model {loaded[0].widths[0]}")
    return _prove_eval(
        "inference",
        loaded,
        quantize_inputs(_preprocess_features(X, pre), fp),
        None,
        "public inputs",
        out_dir=out_dir,
        params_path=params_path,
        zero_knowledge=zero_knowledge,
        overwrite=overwrite,
        verify_after=verify_after,
    )


def _load_int_array(path: Path, what: str) -> np.ndarray:
    try:
        a = np.load(path, allow_pickle=False)
    except (OSError, ValueError) as exc:
        raise StatementFormatError(f"cannot read the {what} {path}: {exc}") from None
    if not isinstance(a, np.ndarray) or a.dtype != np.int64:
        raise StatementFormatError(f"the {what} {path} must be an int64 array")
    return a


def _verify_eval(kind, path, training_statement, params_path, allow_transparent) -> EvaluationResult:
    from .protocol import evaluation
    from .protocol.eval_witness import EvalPublic

    d = Path(path)
    if not (d / EVAL_STATEMENT_FILE).is_file():
        raise StatementFormatError(f"{path} is not an evaluation directory (no {EVAL_STATEMENT_FILE})")
    est = EvalStatement.from_json(_read_json_file(d / EVAL_STATEMENT_FILE, "evaluation statement"))
    if est.kind != kind:
        raise StatementFormatError(f"{path} holds an {est.kind} proof, not an {kind} proof")
    if training_statement is None:
        st = Statement.from_json(_read_json_file(d / TRAINING_STATEMENT_COPY, "training statement"))
        source = f"the copy in {d / TRAINING_STATEMENT_COPY}; compare its digest with the run you trust"
    else:
        st = load_statement(training_statement)
        source = "given"
    try:
        proof = (d / PROOF_FILE).read_bytes()
    except OSError as exc:
        raise ProofFormatError(f"cannot read proof {d / PROOF_FILE}: {exc.strerror}") from exc
    X = labels = outputs = None
    if not est.committed_data:  # committed test data: nothing but the commitments reaches the verifier
        X = _load_int_array(d / EVAL_ARRAYS["inputs"], "inputs")
        labels = _load_int_array(d / EVAL_ARRAYS["labels"], "labels") if kind == "evaluation" else None
        outputs = _load_int_array(d / EVAL_ARRAYS["outputs"], "outputs") if kind == "inference" else None
    split_blinds = None
    if est.test_data == "training-split":
        try:
            raw = json.loads(_read_json_file(d / TEST_SPLIT_OPENING, "test split opening"))
            split_blinds = {k: [int(h, 16) for h in raw[k]] for k in ("X", "Y")}
        except (ValueError, KeyError, TypeError) as exc:
            raise StatementFormatError(f"malformed {d / TEST_SPLIT_OPENING}: {exc!r}") from None
    res = EvaluationResult(
        valid=False,
        kind=kind,
        proof_bytes=len(proof),
        n_rows=est.n_rows,
        frac_bits=st.params.frac_bits,
        training_statement_digest=st.digest().hex(),
        training_statement_source=source,
        test_data="public inputs" if kind == "inference" else TEST_DATA_DESCRIPTIONS[est.test_data],
        data_mode=est.test_data,
    )
    try:
        res.zero_knowledge = not parse_header(proof).transparent
    except ProofFormatError:
        res.zero_knowledge = None
    t0 = time.perf_counter()
    try:
        if res.zero_knowledge is False and not allow_transparent:
            raise TransparentProofRefused(
                "the proof is transparent (not zero-knowledge); refused unless allow_transparent"
            )
        pub = EvalPublic.of(st, est, X, labels=labels, outputs=outputs, split_blinds=split_blinds)
        pp = public_params(evaluation.eval_generators_needed(pub), params_path)
        evaluation.verify(pp, pub, proof)
        res.valid = True
        if kind == "evaluation" and est.regression:
            res.sse, res.mse = est.sse, _mse(est, st)
        elif kind == "evaluation":
            res.correct, res.accuracy = est.correct, est.accuracy
        else:
            assert outputs is not None
            res.outputs = outputs
            res.predictions = np.argmax(outputs, axis=1)
    except (ProofFormatError, StatementMismatch, VerificationError) as exc:
        res.reason, res.error_type = str(exc), type(exc).__name__
    except SetupError:
        raise
    except (ValueError, TypeError, IndexError, KeyError, OverflowError, ZeroDivisionError) as exc:
        res.reason = f"malformed proof ({type(exc).__name__}: {exc})"
        res.error_type = "ProofFormatError"
    res.seconds = time.perf_counter() - t0
    return res


def verify_evaluation(
    path: str | os.PathLike,
    *,
    training_statement: Statement | str | os.PathLike | dict | None = None,
    params_path: str | os.PathLike | None = None,
    allow_transparent: bool = False,
) -> EvaluationResult:
    """Verify the evaluation directory written by :func:`evaluate`: the accuracy it claims is the proven count of
    correct predictions of the final model committed in the training statement (``training_statement``: the one
    you trust; default the copy in the directory, whose digest the result reports)."""
    return _verify_eval("evaluation", path, training_statement, params_path, allow_transparent)


def verify_inference(
    path: str | os.PathLike,
    *,
    training_statement: Statement | str | os.PathLike | dict | None = None,
    params_path: str | os.PathLike | None = None,
    allow_transparent: bool = False,
) -> EvaluationResult:
    """Verify the inference directory written by :func:`infer`: the outputs (and so the predicted classes) are
    those of the final model committed in the training statement."""
    return _verify_eval("inference", path, training_statement, params_path, allow_transparent)


# =========================================================================================================
# a data owner checks a statement commitment
# =========================================================================================================
def _load_any_statement(statement) -> Statement | EvalStatement:
    """A training statement, or an evaluation statement (a dict or JSON file with a ``kind`` key)."""
    if isinstance(statement, Statement | EvalStatement):
        return statement
    if isinstance(statement, dict):
        return EvalStatement.from_dict(statement) if "kind" in statement else Statement.from_dict(statement)
    text = _read_json_file(Path(statement), "statement")
    try:
        is_eval = isinstance(d := json.loads(text), dict) and "kind" in d
    except (ValueError, UnicodeDecodeError):
        is_eval = False  # the strict parser says what is wrong
    return EvalStatement.from_json(text) if is_eval else Statement.from_json(text)


def _check_test_data_commitment(
    com, n_rows: int, tensor: str, arr: np.ndarray, blinds, digest: str, generators_digest: str, params_path
) -> CommitmentCheck:
    """Recommit test data as the evaluation commits it: inputs padded to pow2(n) × pow2(d_0); class labels one-hot
    (or targets) padded to pow2(n) × pow2(d_L), the width read from the commitment's size."""
    from .protocol.shapes import pow2

    rows = pow2(n_rows)
    width = com.layout.n_entries // rows
    res = CommitmentCheck(False, tensor, digest, com.layout.n_entries)
    if arr.ndim not in (1, 2) or (arr.ndim == 1 and tensor.endswith("X")) or arr.shape[0] != n_rows:
        res.reason = f"the data has shape {arr.shape}, the statement commits {n_rows} rows"
        return res
    if arr.ndim == 1:  # class labels → their one-hot table
        if arr.size and (arr.min() < 0 or arr.max() >= width):
            res.reason = f"class labels must be in [0, {width})"
            return res
        table = np.zeros((rows, width), dtype=np.int64)
        table[np.arange(n_rows), arr] = 1
    else:
        if arr.shape[1] > width:
            res.reason = f"the data has {arr.shape[1]} columns, the commitment at most {width}"
            return res
        table = pad_to(arr, (rows, width))
    pp = public_params(com.layout.cols, params_path, create=params_path is None)
    if pp.digest.hex() != generators_digest:
        raise SetupError("the generator cache is not the one the statement names (generators_digest differs)")
    try:
        recom, _ = commit_int(pp, table.reshape(-1), blinds=blinds)
    except (ValueError, ZkdlError) as exc:
        raise DatasetError(f"the opening does not fit {tensor}: {exc}") from None
    res.matches = recom.to_bytes() == com.to_bytes()
    if not res.matches:
        res.reason = "the data or the opening differs from what was committed"
    return res


@dataclass
class CommitmentCheck:
    """What :func:`check_commitment` found: whether the statement's commitment ``tensor`` is the commitment of the
    given data under the given opening."""

    matches: bool
    tensor: str
    statement_digest: str
    entries: int
    reason: str = ""

    def to_dict(self) -> dict:
        return {
            "matches": self.matches,
            "tensor": self.tensor,
            "statement_digest": self.statement_digest,
            "entries": self.entries,
            "reason": self.reason,
        }

    def describe(self) -> str:
        head = "MATCHES" if self.matches else "DOES NOT MATCH"
        out = f"commitment {self.tensor} of statement {self.statement_digest[:16]}…: {head}"
        return out + (f" ({self.reason})" if self.reason else f" ({self.entries} committed entries recomputed)")


def _padded_shape(st: Statement, tensor: str) -> tuple[int, ...]:
    sh = st.shapes
    if tensor == "X":
        return (sh.rows, sh.widths[0])
    if tensor == "Y":
        return (sh.rows, sh.widths[-1])
    kind, _, layer = tensor.partition(".")
    l = int(layer)
    return sh.weight(l)[1:] if kind in ("W0", "WT") else sh.bias(l)[1:]


def check_commitment(
    statement: Statement | str | os.PathLike | dict,
    tensor: str,
    data,
    opening: str | os.PathLike | dict,
    *,
    params_path: str | os.PathLike | None = None,
    seed: int = 0,
    task: str = "auto",
    target: str | int | None = None,
    standardize: bool = False,
) -> CommitmentCheck:
    """Recompute the statement's commitment ``tensor`` (``X``, ``Y``, ``W0.l``, ``b0.l``, ``WT.l``, ``bT.l``; the
    held-out split's ``test_split.X``, ``test_split.Y``) from ``data`` and the blinding factors of ``opening`` (the
    run's ``private/openings.json``, or its dict) and compare it, byte for byte, with the statement's.
    ``statement`` may also be an evaluation statement (``evaluation.json``) on test data committed at evaluation
    time: ``tensor`` ``X`` or ``Y``, ``opening`` the evaluation directory's ``private/openings.json``. Test data is
    given as committed, unpadded: the quantized inputs (n × d_0), the class labels (n) or the quantized targets
    (n × d_L) (the evaluation directory's ``private/inputs.npy``, ``private/labels.npy``).

    ``data``: an integer array (or a ``.npy`` file) holding the tensor's values as committed (unpadded); or, for a
    training statement's ``X`` / ``Y``, the training data source itself (as given to ``zkdl prove``, with the same
    ``seed``, ``task``, ``target`` and ``standardize``), quantized with the statement's parameters. So the owner
    of a dataset can confirm "X is my dataset" without trusting the prover's word.

    Returns a :class:`CommitmentCheck`; unusable input (no such tensor, unreadable opening or data, a shape that
    does not fit the statement) raises a :class:`ZkdlError` subclass."""
    parsed = _load_any_statement(statement)
    test_coms: dict[str, tuple[Commitment, int]] = {}  # test data tensor → (commitment, rows)
    if isinstance(parsed, EvalStatement):
        if parsed.test_data != "committed":
            raise StatementMismatch(
                "this evaluation statement commits no test data (test_data is "
                f"{parsed.test_data!r}); for the training split check the training statement's test_split.X / .Y"
            )
        coms = parsed.data_commitments()
        test_coms = {"X": (coms["TX"], parsed.n_rows), "Y": (coms["TY"], parsed.n_rows)}
        names = sorted(test_coms)
        digest, generators_digest = parsed.digest().hex(), parsed.generators_digest
    else:
        st = parsed
        if st.test_split is not None:
            test_coms = {f"test_split.{k}": (st.test_split[k], st.test_split["n_rows"]) for k in ("X", "Y")}
        names = sorted(st.commitments) + sorted(test_coms)
        digest, generators_digest = st.digest().hex(), st.generators_digest
    if tensor not in names:
        raise StatementMismatch(f"the statement has no commitment {tensor!r}; it has {names}")
    if isinstance(opening, dict):
        openings = opening
    else:
        try:
            openings = json.loads(Path(opening).read_bytes())
        except (OSError, ValueError) as exc:
            raise DatasetError(f"cannot read the opening {opening}: {exc}") from None
    try:
        blinds = [int(h, 16) for h in openings[tensor]]
    except (KeyError, TypeError, ValueError):
        raise DatasetError(f"the opening has no usable blinding factors for {tensor!r}") from None
    if isinstance(data, np.ndarray) or (isinstance(data, str | os.PathLike) and str(data).endswith(".npy")):
        try:
            arr = np.asarray(data if isinstance(data, np.ndarray) else np.load(data, allow_pickle=False))
        except (OSError, ValueError) as exc:
            raise DatasetError(f"cannot read {data}: {exc}") from None
        if arr.dtype.kind not in "iu":
            raise DatasetError(f"the values of {tensor} must be integers as committed (int64), got {arr.dtype}")
        arr = arr.astype(np.int64)
    elif tensor in test_coms:
        raise DatasetError(f"give the test data of {tensor} as an integer .npy file (as committed, unpadded)")
    elif tensor in ("X", "Y"):
        fp = st.params
        ds = load_dataset(data, seed=_int_arg("seed", seed, 0), task=task, target=target, standardize=standardize)
        arr = quantize_inputs(ds.X_train, fp, ds.feature_names) if tensor == "X" else quantize_targets(ds.Y_train, fp)
    else:
        raise DatasetError(f"give the values of {tensor} as an integer .npy file (a data source only makes X and Y)")
    if tensor in test_coms:
        com, n_rows = test_coms[tensor]
        return _check_test_data_commitment(com, n_rows, tensor, arr, blinds, digest, generators_digest, params_path)
    shape = _padded_shape(st, tensor)
    res = CommitmentCheck(False, tensor, digest, int(np.prod(shape)))
    if tensor in ("X", "Y") and arr.ndim == 2 and arr.shape[0] != st.n_rows:
        res.reason = f"the data has {arr.shape[0]} training rows, the statement commits {st.n_rows}"
        return res
    try:
        padded = pad_to(arr, shape)
    except ValueError:
        raise DatasetError(f"{tensor} of shape {arr.shape} does not fit the statement's {shape}") from None
    pp = public_params(_generators_needed(st), params_path, create=params_path is None)
    if pp.digest.hex() != st.generators_digest:
        raise SetupError("the generator cache is not the one the statement names (generators_digest differs)")
    try:
        com, _ = commit_int(pp, padded.reshape(-1), blinds=blinds)
    except (ValueError, ZkdlError) as exc:
        raise DatasetError(f"the opening does not fit {tensor}: {exc}") from None
    res.matches = com.to_bytes() == st.commitments[tensor].to_bytes()
    if not res.matches:
        res.reason = "the data or the opening differs from what was committed"
    return res
