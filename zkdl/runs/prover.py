"""The prover side of a chunked run: train once, commit every chunk boundary once, and cut the run into tasks.

The run is trained chunk by chunk in one pass (the int64 reference, ``quant.train``; chunk k continues from the
model chunk k−1 ended with), so the prover holds the step traces of one chunk at a time. The dataset and labels are
committed once and every chunk statement carries the same commitment bytes; the weights and biases at each chunk
boundary are committed once, so chunk k's initial commitments are chunk k−1's final commitments byte for byte and
both proofs open them with the same opening (the blinding factors are carried over). A task holds only what its
chunk needs: its statement, its steps' traces with the weights at its start and end, the dataset it opens, and
the openings of its statement's commitments.
"""

from __future__ import annotations

import dataclasses
import functools
import os
import resource
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import numpy as np

from ..commit.generators import PublicParams, setup
from ..commit.pedersen import Commitment, Opening, commit_int
from ..errors import SetupError
from ..protocol import training
from ..protocol.shapes import pad_to
from ..protocol.statement import Statement
from ..quant import BatchSchedule, QuantizedModel, train_quantized
from ..quant.train import TrainingRun
from .manifest import final_name, initial_names


@dataclass
class ChunkTask:
    """Everything one chunk proof needs, and nothing of the other chunks."""

    index: int
    statement: Statement
    run: TrainingRun  # the chunk's steps only: initial = weights at its start, final = at its end
    X: np.ndarray
    Y: np.ndarray
    openings: dict[str, Opening]  # of the statement's commitments
    zero_knowledge: bool
    params_path: str | None  # the generator cache the worker loads (None: its default cache)


@dataclass
class ChunkResult:
    index: int
    statement: Statement
    proof: bytes
    prove_seconds: float
    peak_rss_bytes: int
    pid: int
    node: str | None = None  # the Ray node that proved it (None: in the prover's process)


def load_generators(statement: Statement, path: str | os.PathLike | None) -> PublicParams:
    """The generators a statement was made with, from the cache at ``path`` (``None``: this machine's default
    cache). A node of a cluster that has no cache (or too small a one) derives it: the derivation is deterministic
    and checked against the pinned hashes, and the digest against the statement's."""
    need = training.generators_needed(statement)
    pp = setup(need, path)  # loads an existing cache that is large enough, else derives it (atomically)
    if pp.digest.hex() != statement.generators_digest:
        raise SetupError("this worker's generator cache differs from the one the run's statements were made with")
    return pp


def prove_chunk(task: ChunkTask) -> ChunkResult:
    """Prove one chunk (runs in a Ray worker, or in this process for one worker)."""
    t0 = time.perf_counter()
    pp = load_generators(task.statement, task.params_path)
    proof, _times = training.prove(pp, task.statement, task.run, task.X, task.Y, task.openings, zk=task.zero_knowledge)
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    ray = sys.modules.get("ray")
    node = ray.get_runtime_context().get_node_id() if ray is not None and ray.is_initialized() else None
    return ChunkResult(task.index, task.statement, proof, time.perf_counter() - t0, rss, os.getpid(), node)


class ChunkedRun:
    """Trains a run chunk by chunk and yields the task of each chunk (:meth:`tasks`).

    ``blinds`` are the blinding factors of every commitment made so far, by name (``X``, ``Y``, ``W.l@k``,
    ``b.l@k`` for the weights after ``k`` chunks); passing those of an interrupted run reproduces its commitments
    byte for byte (``--resume``)."""

    def __init__(
        self,
        pp: PublicParams,
        template: Statement,
        model: QuantizedModel,
        X: np.ndarray,
        Y: np.ndarray,
        bounds: list[tuple[int, int]],
        *,
        zero_knowledge: bool = True,
        params_path: str | os.PathLike | None = None,
        blinds: dict[str, list[int]] | None = None,
        on_step: Callable[[int, int], None] | None = None,
    ):
        self.pp, self.template, self.model, self.X, self.Y, self.bounds = pp, template, model, X, Y, bounds
        self.zero_knowledge = zero_knowledge
        self.params_path = None if params_path is None else os.fspath(params_path)
        self.blinds: dict[str, list[int]] = {k: list(v) for k, v in (blinds or {}).items()}
        self.on_step = on_step
        self.statements: list[Statement] = []
        self.final_model: QuantizedModel | None = None
        self.fp = template.params
        self.sched = BatchSchedule(template.n_rows, template.batch_size, template.schedule_seed)
        self.train_seconds = 0.0
        self.commit_seconds = 0.0

    def _commit(self, name: str, values: np.ndarray) -> tuple[Commitment, Opening]:
        t0 = time.perf_counter()
        com, op = commit_int(self.pp, values.reshape(-1), blinds=self.blinds.get(name))
        self.blinds[name] = [int(b) for b in op.blinds]
        self.commit_seconds += time.perf_counter() - t0
        return com, op

    def _commit_model(self, k: int, model: QuantizedModel) -> dict[str, tuple[Commitment, Opening]]:
        """Commitments of the weights after ``k`` chunks, under the names of a chunk's initial tensors."""
        sh = self.template.shapes
        out = {}
        for l in range(1, len(model.weights) + 1):
            out[f"W0.{l}"] = self._commit(f"W.{l}@{k}", pad_to(model.weights[l - 1], sh.weight(l)[1:]))
            b = model.biases[l - 1]
            if self.template.has_bias[l - 1]:
                assert b is not None
                out[f"b0.{l}"] = self._commit(f"b.{l}@{k}", pad_to(b, sh.bias(l)[1:]))
        return out

    def tasks(self) -> Iterator[ChunkTask]:
        sh = self.template.shapes
        data = {
            "X": self._commit("X", pad_to(self.X, (sh.rows, sh.widths[0]))),
            "Y": self._commit("Y", pad_to(self.Y, (sh.rows, sh.widths[-1]))),
        }
        model = self.model
        start = self._commit_model(0, model)
        for k, (a, b) in enumerate(self.bounds):
            t0 = time.perf_counter()
            on_step = None if self.on_step is None else functools.partial(self._global_step, a)
            sub = train_quantized(
                model,
                self.X,
                self.Y,
                self.fp,
                self.sched,
                b - a,
                start_step=a,
                on_step=on_step,
                loss=self.template.loss,
            )
            self.train_seconds += time.perf_counter() - t0
            end = self._commit_model(k + 1, sub.final)
            pairs = {**data, **start, **{final_name(n): end[n] for n in initial_names(self.template)}}
            st = dataclasses.replace(
                self.template, steps=b - a, step_offset=a, commitments={n: c for n, (c, _) in pairs.items()}
            )
            self.statements.append(st)
            yield ChunkTask(
                k,
                st,
                sub,
                self.X,
                self.Y,
                {n: o for n, (_, o) in pairs.items()},
                self.zero_knowledge,
                self.params_path,
            )
            model, start = sub.final, end
        self.final_model = model

    def _global_step(self, start: int, done: int, _chunk_total: int) -> None:
        assert self.on_step is not None
        self.on_step(start + done, self.bounds[-1][1])
