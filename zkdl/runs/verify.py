"""Verifying a chunked run: the chain (``manifest.check_chain``) and every chunk proof, chunks in parallel."""

from __future__ import annotations

import multiprocessing
import os
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from ..commit.generators import PublicParams, load
from ..errors import (
    ChainError,
    ProofFormatError,
    RunFormatError,
    SetupError,
    StatementFormatError,
    StatementMismatch,
    TransparentProofRefused,
    VerificationError,
)
from ..protocol import training
from ..protocol.statement import Statement
from ..serialize import parse_header
from .manifest import (
    MANIFEST_FILE,
    PROOF_FILE,
    STATEMENT_FILE,
    RunManifest,
    check_chain,
    check_layout,
    chunk_dir,
)


@dataclass
class RunVerificationResult:
    """Outcome of :func:`verify_run`; ``bool(result)`` is ``result.valid``. ``chunk`` names the chunk a failure is
    about (``None``: the run as a whole). On success it says what was verified: ``steps`` consecutive SGD steps in
    ``chunks`` chunk proofs of the architecture ``widths`` / ``has_bias``."""

    valid: bool
    reason: str | None = None
    error_type: str | None = None
    chunk: int | None = None
    steps: int = 0
    chunks: int = 0
    chunk_steps: list[int] = field(default_factory=list)
    widths: list[int] = field(default_factory=list)
    has_bias: list[bool] = field(default_factory=list)
    batch_size: int = 0
    n_rows: int = 0
    params: dict = field(default_factory=dict)
    range_backend: str = ""
    zero_knowledge: bool | None = None
    proof_bytes: int = 0
    seconds: float = 0.0
    chunk_seconds: list[float] = field(default_factory=list)
    statement_digests: list[str] = field(default_factory=list)

    def __bool__(self) -> bool:
        return self.valid

    def to_dict(self) -> dict:
        return {
            "valid": self.valid,
            "reason": self.reason,
            "error_type": self.error_type,
            "chunk": self.chunk,
            "steps": self.steps,
            "chunks": self.chunks,
            "chunk_steps": list(self.chunk_steps),
            "widths": list(self.widths),
            "has_bias": list(self.has_bias),
            "batch_size": self.batch_size,
            "n_rows": self.n_rows,
            "params": dict(self.params),
            "range_backend": self.range_backend,
            "mode": {True: "zero-knowledge", False: "transparent", None: "unknown"}[self.zero_knowledge],
            "proof_bytes": self.proof_bytes,
            "seconds": round(self.seconds, 4),
            "chunk_seconds": [round(s, 4) for s in self.chunk_seconds],
            "statement_digests": list(self.statement_digests),
        }

    def describe(self) -> str:
        head = (
            f"VALID  run of {self.steps} steps in {self.chunks} chunk proofs ({self.proof_bytes} bytes, verified in "
            f"{self.seconds:.2f} s)"
            if self.valid
            else f"INVALID  {self.error_type}: {self.reason}"
        )
        mode = {True: "zero-knowledge", False: "transparent", None: "unknown"}[self.zero_knowledge]
        return "\n".join(
            [
                head,
                f"  proof mode        {mode}",
                f"  architecture      widths {self.widths}, bias {self.has_bias}",
                f"  training          {self.steps} steps in chunks of {sorted(set(self.chunk_steps))} steps, "
                f"batch {self.batch_size}, {self.n_rows} dataset rows",
                f"  range back-end    {self.range_backend}",
            ]
        )


def _load_params(statement: Statement, params_path: str | None) -> PublicParams:
    need = training.generators_needed(statement)  # StatementMismatch for a statement no generator set covers
    pp = load(params_path)
    if pp.capacity < need:
        raise SetupError(
            f"the generator cache {params_path or 'default'} holds {pp.capacity} generators, {need} are needed: run "
            f"`zkdl setup --n {need}` first"
        )
    return pp


def verify_chunk(
    statement: Statement, proof: bytes, *, params_path: str | None, allow_transparent: bool
) -> tuple[str | None, str | None, float]:
    """``(reason, error_type, seconds)`` of one chunk proof; ``reason`` is ``None`` when it verifies. Adversarial
    bytes never escape as a traceback: an exception the parser did not anticipate is a malformed proof."""
    t0 = time.perf_counter()
    try:
        if parse_header(proof).transparent and not allow_transparent:
            raise TransparentProofRefused("the proof is transparent (not zero-knowledge); refused")
        pp = _load_params(statement, params_path)
        training.verify(pp, statement, proof)
    except (ProofFormatError, StatementMismatch, VerificationError) as exc:
        return str(exc), type(exc).__name__, time.perf_counter() - t0
    except (ValueError, TypeError, IndexError, KeyError, OverflowError, ZeroDivisionError) as exc:
        return f"malformed proof ({type(exc).__name__}: {exc})", "ProofFormatError", time.perf_counter() - t0
    return None, None, time.perf_counter() - t0


def _verify_chunk_file(args: tuple[int, str, str | None, bool]) -> tuple[int, str | None, str | None, float]:
    index, directory, params_path, allow_transparent = args
    d = Path(directory)
    st = Statement.from_json((d / STATEMENT_FILE).read_bytes())
    reason, kind, seconds = verify_chunk(
        st, (d / PROOF_FILE).read_bytes(), params_path=params_path, allow_transparent=allow_transparent
    )
    return index, reason, kind, seconds


def _read_statement(path: Path, index: int) -> Statement:
    try:
        return Statement.from_json(path.read_bytes())
    except OSError as exc:
        raise ChainError(f"chunk {index}: cannot read {path}: {exc.strerror}", chunk=index) from None
    except StatementFormatError as exc:
        raise ChainError(f"chunk {index}: {exc}", chunk=index) from None


def resolve_run_path(path: str | os.PathLike) -> tuple[Path, bool]:
    """``(run directory, chunked)`` of a run directory or its ``run.json``; a directory with ``proof.zkdl`` and
    ``statement.json`` and no manifest is a one-chunk run (today's layout)."""
    p = Path(path)
    if p.is_file() and p.name == MANIFEST_FILE:
        return p.parent, True
    if p.is_dir():
        if (p / MANIFEST_FILE).is_file():
            return p, True
        if (p / PROOF_FILE).is_file() and (p / STATEMENT_FILE).is_file():
            return p, False
        raise RunFormatError(f"{p} holds neither {MANIFEST_FILE} nor {PROOF_FILE} with {STATEMENT_FILE}")
    raise RunFormatError(f"{p} is neither a run directory nor its {MANIFEST_FILE}")


def verify_run(
    path: str | os.PathLike,
    *,
    workers: int | None = None,
    params_path: str | os.PathLike | None = None,
    allow_transparent: bool = False,
) -> RunVerificationResult:
    """Verify a run (``docs/scaling.md``): every chunk proof (``workers`` processes, default the cores) and the
    chain. An invalid run gives ``valid=False`` with the reason and the chunk; an unreadable manifest raises
    :class:`RunFormatError`, missing generators :class:`SetupError`."""
    t0 = time.perf_counter()
    root, chunked = resolve_run_path(path)
    pp_path = None if params_path is None else os.fspath(params_path)
    res = RunVerificationResult(valid=False)
    if chunked:
        try:
            m = RunManifest.from_json((root / MANIFEST_FILE).read_bytes())
        except OSError as exc:
            raise RunFormatError(f"cannot read {root / MANIFEST_FILE}: {exc.strerror}") from None
        s = m.shared
        res.steps, res.chunks = m.steps, len(m.chunks)
        res.chunk_steps = [b - a for a, b in m.chunks]
        res.widths, res.has_bias = list(s["widths"]), list(s["has_bias"])
        res.batch_size, res.n_rows, res.params = s["batch_size"], s["n_rows"], dict(s["params"])
        res.range_backend, res.zero_knowledge = s["range_backend"], m.zero_knowledge
        res.statement_digests = list(m.statement_digests)
        dirs = [root / chunk_dir(i) for i in range(len(m.chunks))]
        try:
            check_layout(m, root)
            statements = [_read_statement(d / STATEMENT_FILE, i) for i, d in enumerate(dirs)]
            check_chain(m, statements)
        except ChainError as exc:
            res.reason, res.error_type, res.chunk = str(exc), type(exc).__name__, exc.chunk
            res.seconds = time.perf_counter() - t0
            return res
    else:
        st = Statement.from_json((root / STATEMENT_FILE).read_bytes())
        dirs, statements = [root], [st]
        res.steps, res.chunks, res.chunk_steps = st.steps, 1, [st.steps]
        res.widths, res.has_bias = list(st.widths), list(st.has_bias)
        res.batch_size, res.n_rows, res.params = st.batch_size, st.n_rows, st.params.to_dict()
        res.range_backend = st.range_backend
        res.statement_digests = [st.digest().hex()]
    res.proof_bytes = sum((d / PROOF_FILE).stat().st_size for d in dirs)
    if not chunked:
        try:
            res.zero_knowledge = not parse_header((root / PROOF_FILE).read_bytes()).transparent
        except ProofFormatError:
            res.zero_knowledge = None
    _load_params(statements[0], pp_path)  # missing generators: one SetupError now, not one per chunk
    jobs = [(i, os.fspath(d), pp_path, allow_transparent) for i, d in enumerate(dirs)]
    n = max(1, min(workers or os.cpu_count() or 1, len(jobs)))
    if n == 1:
        outcomes = [_verify_chunk_file(j) for j in jobs]
    else:
        with ProcessPoolExecutor(max_workers=n, mp_context=multiprocessing.get_context("spawn")) as pool:
            outcomes = list(pool.map(_verify_chunk_file, jobs))
    outcomes.sort()
    res.chunk_seconds = [sec for _, _, _, sec in outcomes]
    for index, reason, kind, _ in outcomes:
        if reason is not None:
            res.reason, res.error_type, res.chunk = f"chunk {index}: {reason}", kind, index
            res.seconds = time.perf_counter() - t0
            return res
    res.valid = True
    res.seconds = time.perf_counter() - t0
    return res
