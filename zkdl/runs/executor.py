"""Proving the chunks of a run: in this process (one worker) or as Ray tasks, each chunk written atomically.

A chunk's files are written into ``RUN/.partial/NNNN/`` and renamed to ``RUN/chunks/NNNN/`` when both are complete,
so ``chunks/`` only ever holds finished chunks. ``--resume`` skips a chunk whose statement is the one this run
would make (same commitments: the blinding factors of an interrupted run are kept in ``private/openings.json``)
and whose proof verifies. Ray retries a task whose worker died (``max_retries``).

Network rule: the embedded Ray (no ``ray_address``) is started with ``RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER=0``, which
keeps every one of its sockets on 127.0.0.1; an existing cluster is only used when its address is given.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
from collections.abc import Callable, Iterable
from pathlib import Path

from ..commit.generators import PublicParams
from ..errors import (
    MissingDependency,
    ProofFormatError,
    StatementFormatError,
    StatementMismatch,
    VerificationError,
    ZkdlError,
)
from ..protocol import training
from ..protocol.statement import Statement
from ..serialize import parse_header
from .manifest import MANIFEST_FILE, PROOF_FILE, STATEMENT_FILE, RunManifest, chunk_dir
from .prover import ChunkResult, ChunkTask, prove_chunk

log = logging.getLogger("zkdl")

PARTIAL_DIR = ".partial"
PRIVATE_DIR = "private"
OPENINGS_FILE = "openings.json"
RAY_MISSING = (
    'ray is not installed; --workers > 1 and --ray-address need the [cluster] extra: pip install "zkdl[cluster]"'
)


def import_ray():
    """The ``ray`` module, or :class:`MissingDependency` naming the extra."""
    try:
        import ray
    except ImportError:
        err = MissingDependency(RAY_MISSING)
        err.name = "ray"
        raise err from None
    return ray


def ray_available() -> bool:
    try:
        import_ray()
    except MissingDependency:
        return False
    return True


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def atomic_write(path: Path, data: bytes) -> None:
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    with open(tmp, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


class RunDirectory:
    """The files of a chunked run (``manifest`` module docstring)."""

    def __init__(self, root: str | os.PathLike):
        self.root = Path(root)

    def chunk_path(self, index: int) -> Path:
        return self.root / chunk_dir(index)

    def write_chunk(self, index: int, statement: Statement, proof: bytes) -> None:
        staging = self.root / PARTIAL_DIR / f"{index:04d}"
        if staging.exists():
            shutil.rmtree(staging)
        staging.mkdir(parents=True)
        atomic_write(staging / STATEMENT_FILE, statement.to_json().encode())
        atomic_write(staging / PROOF_FILE, proof)
        final = self.chunk_path(index)
        final.parent.mkdir(parents=True, exist_ok=True)
        if final.exists():  # a chunk that did not verify on --resume
            shutil.rmtree(final)
        os.rename(staging, final)
        _fsync_dir(final.parent)

    def read_chunk(self, index: int) -> tuple[Statement, bytes] | None:
        d = self.chunk_path(index)
        try:
            return Statement.from_json((d / STATEMENT_FILE).read_bytes()), (d / PROOF_FILE).read_bytes()
        except (OSError, StatementFormatError):
            return None

    def write_blinds(self, blinds: dict[str, list[int]], fingerprint: str) -> None:
        """The blinding factors of every commitment so far (private: they open the run's commitments) and the
        fingerprint of the inputs they were used for."""
        priv = self.root / PRIVATE_DIR
        priv.mkdir(parents=True, exist_ok=True)
        d = {"inputs_sha256": fingerprint, "blinds": {k: [hex(b) for b in v] for k, v in sorted(blinds.items())}}
        atomic_write(priv / OPENINGS_FILE, json.dumps(d, indent=0).encode())

    def read_blinds(self) -> tuple[str | None, dict[str, list[int]]]:
        path = self.root / PRIVATE_DIR / OPENINGS_FILE
        if not path.exists():
            return None, {}
        try:
            d = json.loads(path.read_text())
            return str(d["inputs_sha256"]), {str(k): [int(x, 16) for x in v] for k, v in d["blinds"].items()}
        except (OSError, ValueError, TypeError, AttributeError, KeyError) as exc:
            raise ZkdlError(f"cannot read the openings of the interrupted run ({path}): {exc}") from None

    def write_manifest(self, m: RunManifest) -> None:
        atomic_write(self.root / MANIFEST_FILE, m.to_json().encode())

    def clean_partial(self) -> None:
        shutil.rmtree(self.root / PARTIAL_DIR, ignore_errors=True)


def chunk_is_done(rd: RunDirectory, task: ChunkTask, pp: PublicParams) -> bool:
    """A chunk already written whose statement is this task's and whose proof verifies (in the task's mode)."""
    got = rd.read_chunk(task.index)
    if got is None:
        return False
    st, proof = got
    if st.digest() != task.statement.digest():
        log.info("chunk %d on disk was made for another statement: proving it again", task.index)
        return False
    try:
        if parse_header(proof).transparent == task.zero_knowledge:
            return False
        training.verify(pp, st, proof)
    except (ProofFormatError, StatementMismatch, VerificationError, ValueError, IndexError, KeyError, TypeError) as exc:
        log.info("chunk %d on disk does not verify (%s): proving it again", task.index, exc)
        return False
    return True


def _thread_env(threads: int) -> dict[str, str]:
    t = str(max(1, threads))
    return {"NUMBA_NUM_THREADS": t, "RAYON_NUM_THREADS": t, "ZKDL_THREADS": t, "OMP_NUM_THREADS": t}


def execute(
    tasks: Iterable[ChunkTask],
    *,
    workers: int = 1,
    ray_address: str | None = None,
    is_done: Callable[[ChunkTask], bool] = lambda task: False,
    before_submit: Callable[[ChunkTask], None] = lambda task: None,
    on_result: Callable[[ChunkResult], None] = lambda result: None,
    on_skip: Callable[[ChunkTask], None] = lambda task: None,
    max_retries: int = 3,
) -> None:
    """Prove every task that is not done. ``workers == 1`` without an address proves in this process (no Ray);
    otherwise each chunk is a Ray task (one CPU each) on the embedded local Ray (``workers`` CPUs, loopback only)
    or on the cluster at ``ray_address``. At most ``2 × workers`` tasks are in flight, so the driver holds the
    traces of a bounded number of chunks."""
    if workers < 1:
        raise ZkdlError(f"workers must be ≥ 1, got {workers}")
    if workers == 1 and ray_address is None:
        for task in tasks:
            if is_done(task):
                on_skip(task)
                continue
            before_submit(task)
            on_result(prove_chunk(task))
        return
    ray = import_ray()
    started = False
    loopback_var = "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"
    previous = os.environ.get(loopback_var)
    if not ray.is_initialized():
        if ray_address is None:
            os.environ[loopback_var] = "0"  # every socket of the local instance on loopback (restored afterwards)
            ray.init(num_cpus=workers, include_dashboard=False, log_to_driver=False, logging_level=logging.WARNING)
        else:
            ray.init(address=ray_address, log_to_driver=False, logging_level=logging.WARNING)
        started = True
    try:
        opts: dict = {"num_cpus": 1, "max_retries": max_retries}
        if ray_address is None:  # one core per worker on this machine
            opts["runtime_env"] = {"env_vars": _thread_env((os.cpu_count() or 1) // workers)}
        remote = ray.remote(prove_chunk).options(**opts)
        pending: dict = {}

        def drain(n_left: int) -> None:
            while len(pending) > n_left:
                done, _ = ray.wait(list(pending), num_returns=1)
                for ref in done:
                    index = pending.pop(ref)
                    try:
                        result = ray.get(ref)
                    except ZkdlError:
                        raise
                    except Exception as exc:  # a worker that died more than max_retries times, a lost node
                        raise ZkdlError(f"chunk {index} failed on Ray: {type(exc).__name__}: {exc}") from None
                    on_result(result)

        for task in tasks:
            if is_done(task):
                on_skip(task)
                continue
            before_submit(task)
            pending[remote.remote(task)] = task.index
            drain(2 * workers - 1)
        drain(0)
    finally:
        if started:
            ray.shutdown()
        if previous is None:
            os.environ.pop(loopback_var, None)
        else:
            os.environ[loopback_var] = previous
