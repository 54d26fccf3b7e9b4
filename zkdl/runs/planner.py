"""The memory planner: the prover's peak memory for a statement's shapes, before any work.

A training proof's memory is, in bytes (every count from the statement's public shapes; ``T'``, ``B'``, ``d'``
are the padded sizes, see ``docs/protocol.md``):

* ``trace``: the int64 reference run the prover proves (per step and layer: the weights, ``G_W``, ``ΔW`` and its
  remainder, and about nine batch-sized activations), 8 B per entry;
* ``witness``: the stacked, padded int64 tensors (``Witness.ints``), 8 B per entry;
* ``range``: the range tensors (8 B per entry of ``L0, L1, …``; the ``bits`` back-end adds its bit tensors,
  1 B per bit and an int64 copy);
* ``working``: the largest transient working set of one phase, which runs one at a time: the range check (the
  lookup back-end's batched GKR keeps every range tensor's fraction tree at once, the bits back-end works on the
  largest bit tensor; field elements), one stage instance (one layer's matmul relation:
  its field tables and their folds; the prover frees a stage's field tables when it is done), or the opening of
  the largest committed tensor;
* ``base``: the interpreter with numpy, numba kernels and the generators.

The factors below are what the prover allocates (counted in its code), the base measured after a tiny warm-up
proof (0.2 GB); ``bench/training.py`` reports the estimate next to the measured peak RSS of every run
(``est_over_measured``, JSON in ``bench/results/``). :func:`choose_chunk_steps` gives
the largest number of steps per chunk whose estimate fits a budget.
"""

from __future__ import annotations

import dataclasses
import os
import re
from dataclasses import dataclass

from ..errors import ResourceError, ZkdlError
from ..gadgets.range_check import PLANE_LOG
from ..protocol.shapes import Shapes
from ..protocol.statement import Statement
from ..protocol.witness import range_layout

__all__ = [
    "DEFAULT_BUDGET_FRACTION",
    "MemoryBudgetError",
    "MemoryEstimate",
    "available_memory",
    "check_budget",
    "choose_chunk_steps",
    "default_budget",
    "estimate_peak_memory",
    "format_bytes",
    "parse_memory",
]

#: ``zkdl prove`` without ``--memory`` plans for this fraction of the available memory.
DEFAULT_BUDGET_FRACTION = 0.6

INT_BYTES = 8
FR_BYTES = 32
#: bits back-end: field tables alive per entry of the largest bit tensor while its zero check runs
RANGE_WORK_FR = 4.0
#: lookup back-end (batched GKR, every value tree at once): field elements alive per entry of ALL range tensors
#: (each tree's layers) while they total at most twice the largest, which keeps that under 4 per entry of the
#: largest ...
RANGE_LOOKUP_WORK_FR = 2.0
#: ... else one per entry of all (layers 1 … n − 2) plus one per entry of the largest (layer n − 1 recomputed)
RANGE_LOOKUP_LEAN_FR = 1.0
#: field tables alive per entry of one layer's matmul relation (the tensors, their folded copies, eq tables)
STAGE_WORK_FR = 3.0
#: field tables alive per entry of the largest committed tensor while it is opened (table, reduction, folds)
OPEN_WORK_FR = 3.0
#: bytes per entry of the largest committed tensor while it is committed (scalars as Python integers)
COMMIT_WORK_BYTES = 80
BASE_BYTES = 300 << 20


class MemoryBudgetError(ResourceError):
    """Even the smallest unit of work (one training step) does not fit the memory budget. The message names the
    budget, the estimate and what to change. Raised before any work."""

    def __init__(self, message: str, *, budget: int, estimate: int):
        super().__init__(message)
        self.budget = budget
        self.estimate = estimate


@dataclass(frozen=True)
class MemoryEstimate:
    """Estimated peak resident memory of proving one statement, in bytes, and its parts."""

    total: int
    parts: dict[str, int]
    working_phase: str  # which phase's working set is the largest

    def to_dict(self) -> dict:
        return {"total_bytes": self.total, "parts": dict(self.parts), "working_phase": self.working_phase}


def format_bytes(n: float) -> str:
    for unit, size in (("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if n >= size:
            return f"{n / size:.1f} {unit}"
    return f"{int(n)} B"


_MEM_RE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([kmgt]?)(i?b?)\s*$", re.IGNORECASE)


def parse_memory(text: str | int) -> int:
    """``"12G"``, ``"12GB"``, ``"512M"``, ``"1.5g"``, ``"2GiB"`` or a number of bytes → bytes (K/M/G/T are binary
    multiples, as ``free -g`` and ``ulimit`` count). Raises ``ZkdlError`` on anything else."""
    if isinstance(text, int) and not isinstance(text, bool):
        value = text
    else:
        m = _MEM_RE.match(str(text))
        if not m:
            raise ZkdlError(f"cannot read the memory size {text!r}; write it like 12G, 512M or 2GiB")
        mult = 1 << (10 * " kmgt".index(m.group(2).lower() or " "))
        value = int(float(m.group(1)) * mult)
    if value <= 0:
        raise ZkdlError(f"the memory budget must be positive, got {text!r}")
    return value


def available_memory() -> int | None:
    """``MemAvailable`` of /proc/meminfo in bytes (None where there is none)."""
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        return None
    return None


def default_budget() -> int:
    """60 % of the available memory (of the physical memory where /proc/meminfo is missing; 4 GB if neither is
    known)."""
    avail = available_memory()
    if avail is None:
        try:
            avail = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
        except (ValueError, OSError, AttributeError):
            avail = 4 << 30
    return int(avail * DEFAULT_BUDGET_FRACTION)


def _pow2(n: int) -> int:
    return 1 << max(0, (int(n) - 1).bit_length())


def _entries(st: Statement) -> tuple[int, int, int]:
    """(trace entries, witness entries, largest layer relation entries) of a statement."""
    sh: Shapes = st.shapes
    T, B = st.steps, st.batch_size
    L = st.num_layers
    trace = T * B * (st.widths[0] + st.widths[-1])
    witness = sh.rows * (sh.widths[0] + sh.widths[-1]) + sh.steps * sh.batch * (sh.widths[0] + sh.widths[-1])
    stage = 0
    for l in range(1, L + 1):
        d_in, d_out = st.widths[l - 1], st.widths[l]
        p_in, p_out = sh.widths[l - 1], sh.widths[l]
        hidden = l < L
        trace += T * (4 * d_in * d_out + (9 if hidden else 4) * B * d_out + 3 * d_out)
        w_entries = sh.steps * p_in * p_out
        a_entries = sh.steps * sh.batch * p_out
        witness += 3 * w_entries + 2 * p_in * p_out + (8 if hidden else 3) * a_entries
        if st.has_bias[l - 1]:
            witness += 3 * sh.steps * p_out + 2 * p_out
        stage = max(stage, w_entries + sh.steps * sh.batch * (p_in + p_out))
    return trace, witness, stage


def _lookup_work_fr(range_total: int, n_max: int) -> float:
    """Field elements of the lookup range check's working set (``LookupBackend.prove``: layer n − 1 of every
    value tree is kept while the range tensors total at most twice the largest)."""
    if range_total <= 2 << n_max:
        return RANGE_LOOKUP_WORK_FR * range_total
    return RANGE_LOOKUP_LEAN_FR * (range_total + (1 << n_max))


def estimate_peak_memory(st: Statement) -> MemoryEstimate:
    """The prover's estimated peak resident memory for a statement (only its public shapes are read)."""
    trace_n, witness_n, stage_n = _entries(st)
    try:
        _, layouts = range_layout(st)
    except ValueError as exc:  # more range-checked entries than any range layout holds
        raise ResourceError(f"the statement's tensors are too large to prove: {exc}") from exc
    range_total = layouts.size
    n_max = max(lay.n for _, lay in layouts.items())
    bits = st.range_backend == "bits"
    range_bytes = INT_BYTES * range_total
    if bits:
        range_bytes += (1 + INT_BYTES) * range_total << PLANE_LOG  # B (bool) and its int64 copy
    largest_committed = max(
        [1 << n_max << (PLANE_LOG if bits else 0)] + [_pow2(v) for v in st.expected_tables().values()]
    )
    working = {
        "range check": int(RANGE_WORK_FR * FR_BYTES * (1 << n_max << PLANE_LOG))
        if bits
        else int(FR_BYTES * _lookup_work_fr(range_total, n_max)),
        "layer relations": int(STAGE_WORK_FR * FR_BYTES * stage_n),
        "openings": int(OPEN_WORK_FR * FR_BYTES * largest_committed),
        "commit": COMMIT_WORK_BYTES * largest_committed,
    }
    phase = max(working, key=lambda k: working[k])
    parts = {
        "base": BASE_BYTES,
        "trace": INT_BYTES * trace_n,
        "witness": INT_BYTES * witness_n,
        "range tensors": range_bytes,
        f"working ({phase})": working[phase],
    }
    return MemoryEstimate(sum(parts.values()), parts, phase)


def _with_steps(st: Statement, steps: int) -> Statement:
    return dataclasses.replace(st, steps=int(steps))


def _refusal(st: Statement, budget: int, est: MemoryEstimate, what: str, fits: int | None) -> MemoryBudgetError:
    biggest = max((k for k in est.parts if k != "base"), key=lambda k: est.parts[k])
    remedy = "give more memory (--memory)"
    if fits is not None:
        remedy += (
            f", or prove at most {fits} step{'s' if fits != 1 else ''} per proof (--chunk-steps {fits}, or "
            "--chunk-steps auto)"
        )
    remedy += f", or make the model narrower or the batch smaller (widths {list(st.widths)}, batch {st.batch_size})"
    return MemoryBudgetError(
        f"{what} needs about {format_bytes(est.total)} of memory (largest part: {biggest}, "
        f"{format_bytes(est.parts[biggest])}), more than the budget of {format_bytes(budget)}; {remedy}",
        budget=budget,
        estimate=est.total,
    )


def check_budget(st: Statement, budget: int) -> MemoryEstimate:
    """The estimate of proving ``st`` as one proof; ``MemoryBudgetError`` if it exceeds ``budget`` (naming the
    budget, the estimate, and the most steps per proof that would fit, if one step does)."""
    est = estimate_peak_memory(st)
    if est.total > budget:
        fits = None
        if st.steps > 1 and estimate_peak_memory(_with_steps(st, 1)).total <= budget:
            fits = choose_chunk_steps(st, budget)
        raise _refusal(st, budget, est, f"proving {st.steps} step{'s' if st.steps != 1 else ''} in one proof", fits)
    return est


def choose_chunk_steps(config: Statement, budget: int | str) -> int:
    """The largest number of consecutive steps per chunk proof (≤ ``config.steps``) whose estimated peak memory
    fits ``budget`` (bytes, or a size like ``"12G"``). Raises ``MemoryBudgetError`` naming the budget, the
    estimate and what to change when even one step does not fit."""
    budget = parse_memory(budget)
    one = estimate_peak_memory(_with_steps(config, 1))
    if one.total > budget:
        raise _refusal(config, budget, one, "proving one training step", None)

    def fits(steps: int) -> bool:
        try:
            return estimate_peak_memory(_with_steps(config, steps)).total <= budget
        except ResourceError:  # too large to lay out at all
            return False

    lo, hi = 1, int(config.steps)  # estimate is monotone in the steps: lo fits; find the largest that fits
    if fits(hi):
        return hi
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if fits(mid):
            lo = mid
        else:
            hi = mid
    return lo
