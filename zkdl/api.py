"""The public library surface of zkdl: prove a training run, verify a proof.

>>> bundle = zkdl.prove_training(widths=[64, 32, 10], data="digits", steps=4, batch_size=32, out_dir="run")
>>> zkdl.verify(bundle.proof, bundle.statement).valid
True

``verify`` never trusts anything in the proof about what was proven: the statement is always an argument.
"""

from __future__ import annotations

import json
import logging
import math
import os
import shutil
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from . import __version__
from .commit.generators import PublicParams, default_cache_path, load, setup
from .commit.pedersen import Opening
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
from .quant.data import load_dataset, quantize_inputs, quantize_targets
from .serialize import parse_header

log = logging.getLogger("zkdl")

PROOF_FILE = "proof.zkdl"
STATEMENT_FILE = "statement.json"
PRIVATE_DIR = "private"


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
                f"  training          {self.steps} steps, batch {self.batch_size}, {self.n_rows} dataset rows",
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
    out = QuantizationOverflow(
        f"training diverged at step {getattr(err, 'step', '?')}: the {names.get(role, role)} ({tensor}) of layer "
        f"{getattr(err, 'layer', '?')} reached {value / scale:g}, outside its allowed range "
        f"[{rng.lo / scale:g}, {rng.hi / scale:g}); pass a smaller learning rate, e.g. --lr {lr / 4:g} "
        f"(now {lr:g}; API: lr=...)"
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
    lr: float | None = None,
    lr_shift: int | None = None,
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
    ``standardize`` standardizes features (and regression targets) with the training split's statistics.

    Writes ``proof.zkdl``, ``statement.json``, ``summary.json`` and the private artifacts (final weights,
    commitment openings, preprocessing statistics) to ``out_dir`` if given; the output directory, free disk
    space and memory are checked before any work. ``memory``: the prover's memory budget (bytes or a size like
    ``"12G"``; default 60 % of the available memory): a run whose estimated peak exceeds it is refused with
    ``MemoryBudgetError`` (``zkdl.runs.planner``) before any work."""
    try:
        return _prove_training(**locals())
    except ImportError as exc:
        missing = MissingDependency.of(exc)
        if missing is None:
            raise
        raise missing from None


def _prove_training(
    *,
    widths,
    model,
    data,
    steps,
    batch_size,
    frac_bits,
    lr,
    lr_shift,
    range_backend,
    schedule_seed,
    bias,
    seed,
    task,
    target,
    standardize,
    allow_repeat,
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
    memory,
) -> ProofBundle:
    say = progress or (lambda msg: log.info(msg))
    t_start = time.perf_counter()
    steps = _int_arg("steps", steps, 1)
    batch_size = _int_arg("batch_size", batch_size, 1)
    seed = _int_arg("seed", seed, 0)
    if out_dir is not None:
        check_out_dir(out_dir, overwrite=overwrite)  # fail before the work, not after
    lr_shift, lr_info = _resolve_lr(lr, lr_shift, batch_size)
    fp = FixedPointParams(frac_bits=frac_bits, lr_shift=lr_shift)
    ds = load_dataset(data, seed=seed, task=task, target=target, standardize=standardize)
    fmodel, model_info = _resolve_model(model, widths, bias, seed, ds)
    if fmodel.widths[0] != ds.n_features or fmodel.widths[-1] != ds.n_outputs:
        raise ModelFormatError(
            f"model widths {list(fmodel.widths)} do not fit the data: {ds.n_features} features, "
            f"{ds.n_outputs} outputs ({ds.task})"
        )
    n_train = ds.X_train.shape[0]
    if batch_size > n_train and not allow_repeat:
        raise DatasetError(
            f"batch {batch_size} is larger than the {n_train} training rows, so rows would repeat "
            f"within a batch; lower --batch or pass --allow-repeat (API: allow_repeat=True)"
        )
    if "learning_rate_requested" in lr_info:
        say(
            f"learning rate {lr_info['learning_rate_requested']:g} -> {lr_info['learning_rate']:g} "
            f"(batch {batch_size} * 2^-{lr_shift})"
        )
    X = quantize_inputs(ds.X_train, fp, ds.feature_names)
    Y = quantize_targets(ds.Y_train, fp)
    q0 = _quantize_user_model(fmodel, fp)
    sched = BatchSchedule(X.shape[0], batch_size, schedule_seed)
    st0 = Statement(
        widths=fmodel.widths,
        has_bias=tuple(b is not None for b in q0.biases),
        params=fp.to_dict(),
        batch_size=batch_size,
        steps=steps,
        n_rows=X.shape[0],
        schedule_seed=schedule_seed,
        range_backend=range_backend,
        generators_digest="",
    )
    if check_resources:
        summary_resources = check_resources_for(st0, out_dir, memory=memory)
        say(
            f"estimated peak memory {summary_resources['memory_bytes'] / 1e9:.2f} GB "
            f"(budget {summary_resources['memory_budget_bytes'] / 1e9:.2f} GB)"
        )
    say(f"training {steps} quantized SGD steps (widths {list(fmodel.widths)}, batch {batch_size})")
    t0 = time.perf_counter()
    try:
        run = train_quantized(q0, X, Y, fp, sched, steps, on_step=on_step)
    except QuantizationOverflow as e:
        raise _explain_training_overflow(e, fp, lr_info["learning_rate"]) from None
    t_train = time.perf_counter() - t0

    pp = public_params(_generators_needed(st0), params_path, create=True)
    st0 = Statement(**{**st0.__dict__, "generators_digest": pp.digest.hex()})
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
        "batch_size": batch_size,
        "steps": steps,
        **lr_info,
        "seed": seed,
        "schedule_seed": schedule_seed,
        "data_name": ds.name,
        **ds.source,
        "standardize": bool(standardize),
        **model_info,
        "range_backend": range_backend,
        "zero_knowledge": zero_knowledge,
        "train_seconds": round(t_train, 3),
        "statement_commit_seconds": round(t_commit_statement, 3),
        "prove_seconds": round(t_prove, 3),
        "prove_seconds_per_step": round(t_prove / steps, 3),
        "prove_phases": {k: round(v, 3) for k, v in times.items()},
        "proof_bytes": len(proof),
        "statement_commitment_bytes": sum(len(c.to_bytes()) for c in coms.values()),
    }
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

            fm = train_float(fmodel, ds.X_train, ds.Y_train, sched, steps, fp)
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
    )
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
    arrays = {f"W{l + 1}": w for l, w in enumerate(bundle.final_weights)}
    arrays.update({f"b{l + 1}": b for l, b in enumerate(bundle.final_biases) if b is not None})
    tmp = priv / "final_model.tmp.npz"
    np.savez(tmp, **arrays)  # type: ignore[arg-type]  # numpy stub: **kwds is typed against allow_pickle: bool
    os.replace(tmp, priv / "final_model.npz")
    openings = {k: [hex(b) for b in op.blinds] for k, op in bundle.openings.items()}
    atomic(priv / "openings.json", json.dumps(openings, indent=1).encode())
    if bundle.preprocessing:
        atomic(priv / "preprocessing.json", (json.dumps(bundle.preprocessing) + "\n").encode())
    atomic(out / "summary.json", (json.dumps(bundle.summary, indent=2) + "\n").encode())
    return out


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


def load_statement(statement: Statement | str | os.PathLike | dict) -> Statement:
    """A statement object, or one parsed strictly from a dict or a ``statement.json`` path
    (:class:`StatementFormatError` when it does not follow the schema or cannot be read)."""
    if isinstance(statement, Statement):
        return statement
    if isinstance(statement, dict):
        return Statement.from_dict(statement)
    path = Path(statement)
    try:
        text = path.read_bytes()
    except OSError as exc:
        raise StatementFormatError(f"cannot read statement {path}: {exc.strerror}") from exc
    return Statement.from_json(text)


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
    follow the schema (``StatementFormatError``), missing or foreign public parameters (``SetupError``)."""
    st = load_statement(statement)
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
        params=dict(st.params),
        range_backend=st.range_backend,
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
        training.verify(pp, st, proof)
        res.valid = True
    except (ProofFormatError, StatementMismatch, VerificationError) as exc:
        res.reason = str(exc)
        res.error_type = type(exc).__name__
    except SetupError:
        raise
    except (ValueError, TypeError, IndexError, KeyError, OverflowError, ZeroDivisionError) as exc:
        # adversarial bytes must never escape as a traceback: anything the parser did not anticipate is a
        # malformed proof
        res.reason = f"malformed proof ({type(exc).__name__}: {exc})"
        res.error_type = "ProofFormatError"
    res.seconds = time.perf_counter() - t0
    return res
