"""The public library surface of zkdl: prove a training run, verify a proof.

>>> bundle = zkdl.prove_training(widths=[64, 32, 10], data="digits", steps=4, batch_size=32, out_dir="run")
>>> zkdl.verify(bundle.proof, bundle.statement).valid
True

``verify`` never trusts anything in the proof about what was proven: the statement is always an argument.
"""

from __future__ import annotations

import json
import logging
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .commit.generators import PublicParams, default_cache_path, load, setup
from .commit.pedersen import Opening
from .errors import (
    ProofFormatError,
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
    accuracy_int,
    init_model,
    load_model,
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
def public_params(n_generators: int = 0, path: str | os.PathLike | None = None) -> PublicParams:
    """Load the generator cache, deriving (and caching) more generators when fewer than ``n_generators`` exist.

    Derivation is deterministic (hash-to-curve from a fixed label), so a fresh cache is the same as anybody
    else's; a corrupted cache is an error (``SetupError``), never silently regenerated."""
    target = Path(path) if path is not None else default_cache_path()
    pp = None
    if target.exists():
        pp = load(target)
        if pp.capacity >= n_generators:
            return pp
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
        head = (f"VALID  ({self.proof_bytes} bytes, verified in {self.seconds:.2f} s)" if self.valid
                else f"INVALID  {self.error_type}: {self.reason}")
        return "\n".join([
            head,
            f"  proof mode        {self.mode}",
            f"  architecture      widths {self.widths}, bias {self.has_bias}",
            f"  training          {self.steps} steps, batch {self.batch_size}, {self.n_rows} dataset rows",
            "  fixed point       " + ", ".join(f"{k}={p[k]}" for k in sorted(p)),
            f"  range back-end    {self.range_backend}",
            f"  statement digest  {self.statement_digest}",
        ])


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


# =========================================================================================================
# prove
# =========================================================================================================
def prove_training(
    *,
    widths: Sequence[int] | None = None,
    model: str | os.PathLike | None = None,
    data: str | os.PathLike = "digits",
    steps: int = 4,
    batch_size: int = 32,
    frac_bits: int = 16,
    lr_shift: int = 8,
    range_backend: str = "lookup",
    schedule_seed: int | None = None,
    bias: bool = True,
    seed: int = 0,
    out_dir: str | os.PathLike | None = None,
    verify_after: bool = True,
    params_path: str | os.PathLike | None = None,
    progress: Callable[[str], None] | None = None,
    compare_float: bool = False,
    zero_knowledge: bool = True,
    overwrite: bool = False,
) -> ProofBundle:
    """Train ``steps`` quantized SGD steps and prove them.

    The model is a width list (``widths``, randomly initialised with ``seed``) or a saved ``torch.nn.Sequential``
    of Linear and ReLU layers (``model``); ``data`` is a bundled scikit-learn dataset name (``digits``, ``iris``,
    ``wine``, ``breast_cancer``) or an ``.npz`` file with ``X`` and ``y``. Writes ``proof.zkdl``,
    ``statement.json`` and the private artifacts (final weights, commitment openings) to ``out_dir`` if given.
    """
    say = progress or (lambda msg: log.info(msg))
    t_start = time.perf_counter()
    if out_dir is not None:
        check_out_dir(out_dir, overwrite=overwrite)  # fail before the work, not after
    fp = FixedPointParams(frac_bits=frac_bits, lr_shift=lr_shift)
    ds = load_dataset(data, seed=seed)
    if model is not None:
        fmodel = load_model(model)
    else:
        w = list(widths) if widths is not None else [ds.n_features, 32, ds.n_outputs]
        fmodel = init_model(w, seed=seed, bias=bias)
    if fmodel.widths[0] != ds.n_features or fmodel.widths[-1] != ds.n_outputs:
        raise ZkdlError(f"model widths {fmodel.widths} do not fit the data: {ds.n_features} features, "
                        f"{ds.n_outputs} outputs")
    X = quantize_inputs(ds.X_train, fp)
    Y = quantize_targets(ds.Y_train, fp)
    q0 = quantize_model(fmodel, fp)
    sched = BatchSchedule(X.shape[0], batch_size, schedule_seed)
    say(f"training {steps} quantized SGD steps (widths {list(fmodel.widths)}, batch {batch_size})")
    t0 = time.perf_counter()
    run = train_quantized(q0, X, Y, fp, sched, steps)
    t_train = time.perf_counter() - t0

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
    pp = public_params(_generators_needed(st0), params_path)
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
        "widths": list(statement.widths),
        "batch_size": batch_size,
        "steps": steps,
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
    labels_test = ds.labels_test
    if labels_test is not None:
        Xt = quantize_inputs(ds.X_test, fp)
        summary["quantized_accuracy_initial"] = round(accuracy_int(q0, Xt, labels_test, fp), 4)
        summary["quantized_accuracy_final"] = round(accuracy_int(run.final, Xt, labels_test, fp), 4)
        if compare_float:
            from .quant.evaluate import accuracy_float
            from .quant.model import train_float

            fm = train_float(fmodel, ds.X_train, ds.Y_train, sched, steps, fp)
            summary["float_accuracy_final"] = round(accuracy_float(fm, ds.X_test, labels_test), 4)
    bundle = ProofBundle(proof, statement, opens, list(run.final.weights), list(run.final.biases), summary)
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


def check_out_dir(out_dir: str | os.PathLike, *, overwrite: bool = False) -> Path:
    """Refuse to replace an earlier run's outputs (its openings are the only way to use its commitments)."""
    out = Path(out_dir)
    existing = [p for p in (out / PROOF_FILE, out / STATEMENT_FILE, out / PRIVATE_DIR) if p.exists()]
    if existing and not overwrite:
        raise ZkdlError(f"{out} already holds a proof run ({', '.join(p.name for p in existing)}); choose another "
                        "output directory or pass overwrite (--force) to replace it")
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
    np.savez(tmp, **arrays)
    os.replace(tmp, priv / "final_model.npz")
    openings = {k: [hex(b) for b in op.blinds] for k, op in bundle.openings.items()}
    atomic(priv / "openings.json", json.dumps(openings, indent=1).encode())
    atomic(out / "summary.json", (json.dumps(bundle.summary, indent=2) + "\n").encode())
    return out


# =========================================================================================================
# verify
# =========================================================================================================
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
        try:
            proof = Path(proof).read_bytes()
        except OSError as exc:
            raise ProofFormatError(f"cannot read proof {proof}: {exc.strerror}") from exc
    proof = bytes(proof)
    t0 = time.perf_counter()
    res = VerificationResult(valid=False, statement_digest=st.digest().hex(), proof_bytes=len(proof),
                             widths=list(st.widths), has_bias=list(st.has_bias), steps=st.steps,
                             batch_size=st.batch_size, n_rows=st.n_rows, params=dict(st.params),
                             range_backend=st.range_backend)
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
            raise TransparentProofRefused("the proof is transparent (not zero-knowledge: it reveals witness "
                                          "values); refused unless allow_transparent / --allow-transparent")
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

