"""Hyrax-style hiding Pedersen commitments to tables (vectors, matrices, tensors) of field elements.

Layout rule
-----------
A table of ``N ≥ 1`` entries is zero-padded to ``2^n`` entries, ``n = ceil(log2 N)``, and read row-major as a
matrix of ``2^a`` rows × ``2^b`` columns (entry ``i`` is row ``i >> b``, column ``i & (2^b − 1)``). With x_1 the
most significant index bit (docs/architecture.md), the row bits are the first ``a`` MLE variables:
``u = (u_rows ‖ u_cols)``. The layout is part of the :class:`Commitment`.

The canonical layout (:func:`canonical_log_cols`, the default of :meth:`Layout.for_length`; the only one a
statement or proof may carry, enforced by their readers) is a function of ``n`` only:

    b = min(LOG_COLS_MAX, max(ceil(n/2), n − LOG_ROWS_CAP)),   LOG_ROWS_CAP = 10, LOG_COLS_MAX = 16

i.e. the square-ish split ``ceil(n/2)`` while it has at most ``2^10`` rows, then at most ``2^10`` rows (longer
rows), but never more than the ``2^16`` pinned generators (:data:`zkdl.commit.generators.N_MAX`): beyond
``n = 26`` the rows grow again. Why: a zero-knowledge opening costs ``O(b)`` bytes (a log-size inner-product
argument, :mod:`zkdl.commit.evaluation`), so the row commitments (48 B each) dominate a proof; the rows cap
trades them against the opening's prover time, linear in ``2^b`` (measured at W-digits T=16 in
``bench/results/layout_rows_cap.json``, then again with every change of this release merged: 2^8, 2^9 and
2^10 rows give 242, 267 and 316 KB; 2^10 is the cheapest to prove and leaves 84 KB to the 400 KB target).
A caller may still choose ``b`` explicitly (``log_cols``) for tables that never enter a proof.

A proof's own tables (the range tensors and multiplicities a prover commits inside a proof, not the statement's
tensors) are laid out by :func:`proof_log_cols` instead, the only layout their readers accept: the canonical
``b`` but rows at least ``2^PROOF_LOG_COLS_MIN = 2^11`` wide (and a table of at most ``2^11`` entries in one
row). Every proof already holds those generators (the masks of its zero-knowledge sumchecks live in chunks of
``sigma.DOT_CHUNK = 2^11`` slots), and the verifier's final MSM carries one term per generator once, however
many openings share it, but one term per row commitment, each also decompressed and subgroup-checked: at
W-digits T=16 the wider rows take 576 row commitments out of the proof (218.9 → 191.6 KB, verify 0.36 → 0.31 s,
the openings' prover time within noise; ``bench/results/proof_table_cols.json``).

Row ``r`` is committed as ``C_r = Σ_i t[r·2^b + i]·g_i + ρ_r·h`` with an independent uniform blinding ``ρ_r``
(OS CSPRNG via :mod:`secrets`, or an explicit ``rng`` for tests). The prover keeps the ``ρ_r`` in an
:class:`Opening`.

Note: the commitment binds the whole padded table of ``2^n`` entries. ``n_entries`` is metadata: nothing in
the commitment itself shows that the padding is zero; a protocol that relies on it must prove it.

Fast paths (all give the same points; tests check it)
-----------------------------------------------------
* signed integers ``|v| < 2^64`` (numpy integer arrays, and field vectors whose entries are small in absolute
  value): one MSM per row over ``|v|`` with the generator or its negation chosen by the sign (negated
  generators are cached), scalars below 2^16 taken from a precomputed table; zero entries are skipped;
* 0/1 tables (numpy bool): subset sums. Plain point additions (``sum``) cost ~0.7 µs per selected point
  on one core, half of an MSM with unit scalars, but hold the GIL; the calling thread sums a share
  ``2/(w+1)`` of the points while ``w−1`` pool workers run unit-scalar MSMs on the rest;
* full field elements: scalars built from the canonical 32-byte encodings.
Rows are dispatched to a thread pool of ``os.cpu_count()`` workers (arkworks releases the GIL in
``multiexp_unchecked``); a table with fewer rows than workers has its rows split into column chunks. The
blinding terms ``ρ_r·h`` use a fixed-base table of ``h`` (32 additions each) while the workers run.
"""

from __future__ import annotations

import os
import secrets
import threading
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import numpy as np
from py_arkworks_bls12381 import G1Point, Scalar

from zkdl.errors import SetupError
from zkdl.field.constants import MODULUS
from zkdl.serialize import Reader, SubgroupChecks, Writer
from zkdl.serialize.subgroup import PendingPoints

from .generators import N_MAX, PublicParams

SMALL_BITS = 16
_R_LIMBS = np.frombuffer(MODULUS.to_bytes(32, "little"), dtype="<u8").astype(np.uint64)
MAX_LOG_SIZE = 48  # sanity bound on n = a + b when reading a commitment
_TASK_POINTS = 2048  # group small rows into tasks of about this many points (thread-dispatch overhead)


# ---------------------------------------------------------------------------------------------------------
# layout, commitment, opening
# ---------------------------------------------------------------------------------------------------------
LOG_ROWS_CAP = 10  #: rows of the canonical layout: at most 2^10 …
LOG_COLS_MAX = N_MAX.bit_length() - 1  #: … unless the row would exceed the 2^16 pinned generators (N_MAX)


def canonical_log_cols(n: int) -> int:
    """``b`` of the canonical layout of ``2^n`` entries (module docstring): ``min(16, max(ceil(n/2), n − 10))``."""
    return min(LOG_COLS_MAX, max(n - n // 2, n - LOG_ROWS_CAP))


PROOF_LOG_COLS_MIN = 11  #: a proof's own tables have rows of at least 2^11 columns (sigma.DOT_CHUNK generators)


def proof_log_cols(n: int) -> int:
    """``b`` of the layout of a proof's own table of ``2^n`` entries (module docstring): the canonical ``b``, but
    at least ``min(n, 11)``."""
    return max(canonical_log_cols(n), min(n, PROOF_LOG_COLS_MIN))


@dataclass(frozen=True)
class Layout:
    """``n_entries`` (before padding) laid out as ``2^log_rows`` × ``2^log_cols``."""

    n_entries: int
    log_rows: int
    log_cols: int

    @classmethod
    def for_length(cls, n_entries: int, log_cols: int | None = None) -> Layout:
        if not isinstance(n_entries, (int, np.integer)) or n_entries < 1:
            raise ValueError(f"a committed table needs at least one entry, got {n_entries!r}")
        n = (int(n_entries) - 1).bit_length()
        b = canonical_log_cols(n) if log_cols is None else int(log_cols)
        if not 0 <= b <= n:
            raise ValueError(f"log_cols={log_cols} outside [0, {n}] for a table of {n_entries} entries")
        return cls(int(n_entries), n - b, b)

    @classmethod
    def for_proof_table(cls, n_entries: int) -> Layout:
        """The layout of a table committed inside a proof (:func:`proof_log_cols`)."""
        return cls.for_length(n_entries, proof_log_cols((int(n_entries) - 1).bit_length()))

    @property
    def num_vars(self) -> int:
        return self.log_rows + self.log_cols

    @property
    def rows(self) -> int:
        return 1 << self.log_rows

    @property
    def cols(self) -> int:
        return 1 << self.log_cols

    @property
    def size(self) -> int:
        return 1 << self.num_vars

    def split_point(self, point: Sequence[int]) -> tuple[list[int], list[int]]:
        """``u → (u_rows, u_cols)``; the point must have ``num_vars`` coordinates."""
        if len(point) != self.num_vars:
            raise ValueError(f"point has {len(point)} coordinates, the table has {self.num_vars} variables")
        u = [int(x) % MODULUS for x in point]
        return u[: self.log_rows], u[self.log_rows :]


@dataclass(frozen=True, eq=False)
class Commitment:
    """Row commitments ``C_0 … C_{2^a−1}`` and the layout. Equality compares the canonical bytes."""

    layout: Layout
    rows: Sequence[G1Point]  # a tuple; a verifier's ``PendingPoints`` (decoded in helper processes) for one it read

    def write(self, w: Writer) -> None:
        """``u64 n_entries ‖ u8 log_rows ‖ u8 log_cols ‖ u64 2^a ‖ 2^a × 48-byte compressed points``."""
        w.write_u64(self.layout.n_entries)
        w.write_u8(self.layout.log_rows)
        w.write_u8(self.layout.log_cols)
        w.write_g1s(list(self.rows))

    @classmethod
    def read(cls, r: Reader, *, max_log_size: int = MAX_LOG_SIZE) -> Commitment:
        """Read and validate (layout consistent with the padding rule, row count, every point canonical, on
        the curve and in the prime-order subgroup; the identity is a legal row commitment). With a reader that
        defers subgroup checks the rows are decompressed and checked in its collector's helpers
        (``Reader.read_g1s_deferred``: the rows are then a ``PendingPoints``, resolved when first used)."""
        pos = r.offset
        n_entries = r.read_u64()
        a = r.read_u8()
        b = r.read_u8()
        if a + b > max_log_size or n_entries < 1:
            raise r.error(f"implausible commitment layout: {n_entries} entries, 2^{a} × 2^{b}", pos)
        if (n_entries - 1).bit_length() != a + b:
            raise r.error(f"{n_entries} entries do not pad to 2^{a + b} = 2^{a} × 2^{b}", pos)
        rows = r.read_g1s_deferred(allow_identity=True, count=1 << a)
        com = cls(Layout(n_entries, a, b), rows if isinstance(rows, PendingPoints) else tuple(rows))
        com.__dict__["_encoded"] = r.bytes_since(pos)  # canonical: every field was checked, no point re-encoded
        return com

    def to_bytes(self) -> bytes:
        """The canonical encoding (:meth:`write`), computed once per commitment: a verifier needs it several times
        (statement digest, each opening's first challenge), and a point the prover computed compresses with a field
        inversion."""
        return self._encoded

    @cached_property
    def _encoded(self) -> bytes:
        w = Writer()
        self.write(w)
        return w.getvalue()

    @classmethod
    def from_bytes(cls, data: bytes, *, subgroup: SubgroupChecks | None = None) -> Commitment:
        """Parse a standalone encoding; raises :class:`ProofFormatError` on any malformed input. With ``subgroup``
        the rows' decompression and prime-order-subgroup checks are deferred to that collector
        (``Reader.read_g1s_deferred``): the owner must call its ``finish`` before trusting the commitment."""
        with Reader(data, name="commitment", subgroup=subgroup) as r:
            return cls.read(r)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Commitment):
            return NotImplemented
        return self.layout == other.layout and self.to_bytes() == other.to_bytes()

    def __hash__(self) -> int:
        return hash(self.to_bytes())

    def __reduce__(self):
        """Pickled as its canonical bytes (the curve points are not picklable), re-validated when loaded: a chunk
        task crosses process and machine boundaries this way (``zkdl.runs``)."""
        return (Commitment.from_bytes, (self.to_bytes(),))

    def __repr__(self) -> str:
        lay = self.layout
        return f"Commitment(n_entries={lay.n_entries}, rows=2^{lay.log_rows}, cols=2^{lay.log_cols})"


@dataclass(frozen=True)
class Opening:
    """The prover's secret blinding factors ``ρ_r`` (Python ints in [0, r)), one per row. Never serialize
    this into a proof."""

    layout: Layout
    blinds: tuple[int, ...] = field(repr=False)


# ---------------------------------------------------------------------------------------------------------
# scalars
# ---------------------------------------------------------------------------------------------------------
_SMALL: np.ndarray | None = None
_SMALL_LOCK = threading.Lock()


def _small_scalars() -> np.ndarray:
    """Object array of the Scalars 0 … 2^16 − 1 (built once, ~30 ms)."""
    global _SMALL
    if _SMALL is None:
        with _SMALL_LOCK:
            if _SMALL is None:
                k = np.zeros((1 << SMALL_BITS, 4), dtype="<u8")
                k[:, 0] = np.arange(1 << SMALL_BITS, dtype=np.uint64)
                arr = np.empty(1 << SMALL_BITS, dtype=object)
                arr[:] = scalars_from_le_bytes(k.tobytes())
                _SMALL = arr
    return _SMALL


def scalars_from_le_bytes(data: bytes) -> list[Scalar]:
    """Canonical 32-byte little-endian encodings → arkworks Scalars (the fast way to build scalars)."""
    return [Scalar.from_le_bytes(data[i : i + 32]) for i in range(0, len(data), 32)]


def scalars_from_ints(values: Sequence[int]) -> list[Scalar]:
    """Python ints (any sign/size, reduced mod r) → Scalars via bytes (never ``Scalar(int)``)."""
    return [Scalar.from_le_bytes((int(v) % MODULUS).to_bytes(32, "little")) for v in values]


def _scalars_from_u64(mag: np.ndarray) -> np.ndarray:
    """Object array of Scalars for a uint64 array (table for < 2^16, bytes otherwise)."""
    out = np.empty(mag.shape[0], dtype=object)
    small = mag < (1 << SMALL_BITS)
    out[small] = _small_scalars()[mag[small].astype(np.intp)]
    if not small.all():
        big = ~small
        k = np.zeros((int(big.sum()), 4), dtype="<u8")
        k[:, 0] = mag[big]
        out[big] = scalars_from_le_bytes(k.tobytes())
    return out


@dataclass
class _Prepared:
    """A padded table as (scalar magnitudes, sign, nonzero) in the matrix layout."""

    layout: Layout
    nz: np.ndarray  # bool (rows, cols)
    neg: np.ndarray | None  # bool (rows, cols) or None (all non-negative)
    scal: np.ndarray | None  # object (rows, cols) Scalars, or None for 0/1 tables


def _pad(arr: np.ndarray, layout: Layout) -> np.ndarray:
    if arr.shape[0] == layout.size:
        return arr.reshape((layout.rows, layout.cols) + arr.shape[1:])
    out = np.zeros((layout.size,) + arr.shape[1:], dtype=arr.dtype)
    out[: arr.shape[0]] = arr
    return out.reshape((layout.rows, layout.cols) + arr.shape[1:])


def _prepare_bits(values: np.ndarray, layout: Layout) -> _Prepared:
    return _Prepared(layout, _pad(values.astype(bool, copy=False), layout), None, None)


def _prepare_int(values: np.ndarray, layout: Layout) -> _Prepared:
    if values.dtype.kind == "u":
        mag = values.astype(np.uint64)
        neg = None
    else:
        v = values.astype(np.int64, copy=False)
        neg_flat = v < 0
        mag = v.view(np.uint64).copy()
        mag[neg_flat] = ~mag[neg_flat] + np.uint64(1)  # two's complement magnitude (exact for −2^63 too)
        neg = _pad(neg_flat, layout) if neg_flat.any() else None
    mag = _pad(mag, layout).reshape(-1)
    nz = mag != 0
    scal = np.empty(layout.size, dtype=object)
    scal[nz] = _scalars_from_u64(mag[nz])
    return _Prepared(layout, nz.reshape(layout.rows, layout.cols), neg, scal.reshape(layout.rows, layout.cols))


def _prepare_std(std: np.ndarray, layout: Layout) -> _Prepared:
    """(N, 4) uint64 canonical standard-form limbs → prepared table, detecting small signed entries."""
    std = _pad(std, layout).reshape(-1, 4)
    r0, r1, r2, r3 = (np.uint64(x) for x in _R_LIMBS)
    half = np.uint64(1 << 63)
    upper0 = (std[:, 1] == 0) & (std[:, 2] == 0) & (std[:, 3] == 0)
    small_pos = upper0 & (std[:, 0] < half)
    small_neg = (std[:, 3] == r3) & (std[:, 2] == r2) & (std[:, 1] == r1) & (std[:, 0] > r0 - half)
    full = ~(small_pos | small_neg)
    mag = np.where(small_neg, r0 - std[:, 0], std[:, 0])  # exact: −x ≡ r − x = r0 − x0 when upper limbs match
    nz = ~(small_pos & (std[:, 0] == 0))
    scal = np.empty(layout.size, dtype=object)
    small = (small_pos | small_neg) & nz
    if small.any():
        scal[small] = _scalars_from_u64(mag[small])
    if full.any():
        scal[full] = scalars_from_le_bytes(np.ascontiguousarray(std[full], dtype="<u8").tobytes())
    shape = (layout.rows, layout.cols)
    neg = small_neg.reshape(shape) if small_neg.any() else None
    return _Prepared(layout, nz.reshape(shape), neg, scal.reshape(shape))


def _std_from_ints(values: Sequence[int]) -> np.ndarray:
    data = b"".join((int(v) % MODULUS).to_bytes(32, "little") for v in values)
    return np.frombuffer(data, dtype="<u8").astype(np.uint64).reshape(-1, 4)


# ---------------------------------------------------------------------------------------------------------
# MSM dispatch
# ---------------------------------------------------------------------------------------------------------
_POOL: ThreadPoolExecutor | None = None
_POOL_LOCK = threading.Lock()


def default_workers() -> int:
    """Threads of the commitment pool: ``ZKDL_THREADS`` when set (a Ray worker given one core), else the cores."""
    env = os.environ.get("ZKDL_THREADS", "")
    return max(1, int(env) if env.isdigit() else os.cpu_count() or 1)


def _pool() -> ThreadPoolExecutor:
    global _POOL
    if _POOL is None:
        with _POOL_LOCK:
            if _POOL is None:
                _POOL = ThreadPoolExecutor(max_workers=default_workers(), thread_name_prefix="zkdl-msm")
    return _POOL


def _run_msm_task(task: list[tuple[int, list[G1Point], list[Scalar] | None]]) -> list[tuple[int, G1Point]]:
    """MSMs of one task (``None`` scalars: all ones, i.e. a subset sum)."""
    one = _small_scalars()[1]
    return [(row, G1Point.multiexp_unchecked(pts, [one] * len(pts) if sc is None else sc)) for row, pts, sc in task]


def _run_sum_task(task: list[tuple[int, list[G1Point], Any]]) -> list[tuple[int, G1Point]]:
    """Subset sums by point additions (GIL held; about 2× faster than a unit-scalar MSM on one core)."""
    return [(row, sum(pts[1:], pts[0])) for row, pts, _ in task]


def msm(points: Sequence[G1Point], scalars: Sequence[Scalar], *, workers: int | None = None) -> G1Point:
    """One multi-scalar multiplication, split over threads when large."""
    n = len(points)
    if n != len(scalars):
        raise ValueError("points and scalars differ in length")
    w = default_workers() if workers is None else max(1, workers)
    if w == 1 or n < 2 * _TASK_POINTS:
        return G1Point.multiexp_unchecked(list(points), list(scalars))
    step = -(-n // w)
    parts = [[(0, list(points[i : i + step]), list(scalars[i : i + step]))] for i in range(0, n, step)]
    acc = G1Point.identity()
    for res in _pool().map(_run_msm_task, parts):
        acc = acc + res[0][1]
    return acc


def msm_async(points: Sequence[G1Point], scalars: Sequence[Scalar]) -> Future[G1Point]:
    """One MSM run on a pool thread (arkworks releases the GIL): its future."""
    if len(points) != len(scalars):
        raise ValueError("points and scalars differ in length")
    return _pool().submit(G1Point.multiexp_unchecked, list(points), list(scalars))


def msms(jobs: Sequence[tuple[Sequence[G1Point], Sequence[Scalar]]], *, workers: int | None = None) -> list[G1Point]:
    """Several independent MSMs ``(points, scalars)``, run side by side on the pool (arkworks releases the GIL);
    one MSM that is large is split over the threads by :func:`msm` instead."""
    w = default_workers() if workers is None else max(1, workers)
    if w == 1 or len(jobs) < 2:
        return [msm(p, s, workers=w) for p, s in jobs]
    for p, s in jobs:
        if len(p) != len(s):
            raise ValueError("points and scalars differ in length")
    futures = [_pool().submit(G1Point.multiexp_unchecked, list(p), list(s)) for p, s in jobs]
    return [f.result() for f in futures]


def _blind_points(params: PublicParams, blinds: Sequence[int]) -> list[G1Point]:
    """``ρ·h`` for each blinding, with the fixed-base byte table of h (32 additions each)."""
    tab = params.h_table()
    raw = b"".join(int(b).to_bytes(32, "little") for b in blinds)
    byts = np.frombuffer(raw, dtype=np.uint8).reshape(len(blinds), 32).astype(np.intp)
    picked = tab[np.arange(32)[None, :], byts]  # (rows, 32) object
    return [sum(row[1:], row[0]) for row in picked.tolist()]


def _commit_prepared(
    params: PublicParams, prep: _Prepared, blinds: Sequence[int], workers: int | None
) -> list[G1Point]:
    lay = prep.layout
    if lay.cols > params.capacity:
        raise SetupError(
            f"a row of 2^{lay.log_cols} columns needs {lay.cols} generators; the parameters hold "
            f"{params.capacity} (run `zkdl setup` with a larger n)"
        )
    pos = params.gens_obj(lay.cols)
    negg = params.neg_gens_obj(lay.cols) if prep.neg is not None else None
    w = default_workers() if workers is None else max(1, workers)
    pieces = 1 if lay.rows >= w else -(-w // lay.rows)
    step = -(-lay.cols // pieces)

    def row_items(r: int):
        nzr = prep.nz[r]
        if prep.neg is not None:
            assert negg is not None  # built above whenever prep.neg is set
            pts_row = np.where(prep.neg[r], negg, pos)
        else:
            pts_row = pos
        for c0 in range(0, lay.cols, step):
            sel = nzr[c0 : c0 + step]
            pts = pts_row[c0 : c0 + step][sel].tolist()
            if not pts:
                continue
            sc = None if prep.scal is None else prep.scal[r, c0 : c0 + step][sel].tolist()
            yield (r, pts, sc)

    def tasks() -> Iterator[tuple[list[Any], int]]:
        cur: list[Any] = []
        size = 0
        for r in range(lay.rows):
            for item in row_items(r):
                cur.append(item)
                size += len(item[1])
                if size >= _TASK_POINTS or pieces > 1:
                    yield cur, size
                    cur, size = [], 0
        if cur:
            yield cur, size

    acc = [G1Point.identity() for _ in range(lay.rows)]
    if prep.scal is None:
        # 0/1 table: a subset sum by plain additions in this thread costs about half of an MSM with unit
        # scalars, but holds the GIL; so this thread sums a share 2/(w+1) of the points while w−1 workers
        # run unit-scalar MSMs on the rest (see the module docstring).
        all_tasks = list(tasks())
        total = sum(n for _, n in all_tasks)
        budget = total * (w - 1) / (w + 1)
        pool_tasks: list[Any] = []
        done = 0
        while all_tasks and done + all_tasks[0][1] <= budget:
            t, n = all_tasks.pop(0)
            pool_tasks.append(t)
            done += n
        futures = [_pool().submit(_run_msm_task, t) for t in pool_tasks]
        local = [_run_sum_task(t) for t, _ in all_tasks]
        blind_pts = _blind_points(params, blinds)
        results = local + [f.result() for f in futures]
    elif w == 1:
        results = [_run_msm_task(t) for t, _ in tasks()]
        blind_pts = _blind_points(params, blinds)
    else:
        futures = [_pool().submit(_run_msm_task, t) for t, _ in tasks()]
        blind_pts = _blind_points(params, blinds)  # overlaps with the MSMs (GIL released there)
        results = [f.result() for f in futures]
    for res in results:
        for r, p in res:
            acc[r] = acc[r] + p
    return [a + b for a, b in zip(acc, blind_pts, strict=True)]


# ---------------------------------------------------------------------------------------------------------
# blinding
# ---------------------------------------------------------------------------------------------------------
def random_scalar(rng: Any = None) -> int:
    """A uniform element of Fr: OS CSPRNG (:mod:`secrets`) unless a test passes ``rng`` (an object with
    ``randrange`` like :class:`random.Random`, or ``bytes`` like :class:`numpy.random.Generator`)."""
    if rng is None:
        return secrets.randbelow(MODULUS)
    if hasattr(rng, "randrange"):
        return int(rng.randrange(MODULUS))
    if hasattr(rng, "bytes"):
        return int.from_bytes(rng.bytes(64), "little") % MODULUS
    raise TypeError(f"rng must provide randrange() or bytes(), got {type(rng).__name__}")


def random_scalars(k: int, rng: Any = None) -> list[int]:
    return [random_scalar(rng) for _ in range(k)]


# ---------------------------------------------------------------------------------------------------------
# public commit functions
# ---------------------------------------------------------------------------------------------------------
def _finish(
    params: PublicParams,
    lay: Layout,
    prepare: Callable[[], _Prepared],
    table: Callable[[], tuple[str, np.ndarray]],
    rng: Any,
    workers: int | None,
    blinds: Sequence[int] | None,
) -> tuple[Commitment, Opening]:
    """Draw the blinds, then commit the rows: on the GPU (``table()`` = (kind, padded rows)) when the GPU backend
    is active and the rows are long, else on the CPU (``prepare()`` = the prepared table). Same points either way."""
    if blinds is None:
        bl = tuple(random_scalars(lay.rows, rng))
    else:
        bl = tuple(int(b) % MODULUS for b in blinds)
        if len(bl) != lay.rows:
            raise ValueError(f"{len(bl)} blinds given for {lay.rows} rows")
    if lay.cols >= GPU_MIN_COLS and _use_gpu_msm():
        kind, padded = table()
        rows = _commit_rows_gpu(params, lay, kind, padded, bl)
    else:
        rows = _commit_prepared(params, prepare(), bl, workers)
    return Commitment(lay, tuple(rows)), Opening(lay, bl)


# ---------------------------------------------------------------------------------------------------------
# GPU rows (zkdl.commit.gpu_msm) when the GPU backend is the active one
# ---------------------------------------------------------------------------------------------------------
GPU_MIN_COLS = 1 << 12  # shorter rows stay on the CPU (launch and transfer latency beats the MSM there)
_GPU_MSMS: dict[int, Any] = {}  # id(params) -> (params, GpuMsm over its first generators)
_GPU_LOCK = threading.Lock()


def _use_gpu_msm() -> bool:
    """True when the default compute backend (``ZKDL_BACKEND`` / ``set_default_backend``) is the GPU one."""
    from zkdl.field import get_backend

    return get_backend().name == "gpu"


def _gpu_msm(params: PublicParams, cols: int) -> Any:
    from .gpu_msm import GpuMsm, points_to_limbs

    with _GPU_LOCK:
        held = _GPU_MSMS.get(id(params))
        if held is None or held[0] is not params or held[1].n < cols:
            held = (params, GpuMsm(points_to_limbs(params.gens(cols))))
            _GPU_MSMS[id(params)] = held
        return held[1]


def _commit_rows_gpu(params: PublicParams, lay: Layout, kind: str, rows: np.ndarray, blinds: Sequence[int]):
    """Row commitments with the GPU MSM: ``kind`` is ``bits`` (uint8), ``small`` (int64) or ``full`` ((…, 4)
    standard-form limbs); ``rows`` has one row per table row, ``lay.cols`` entries each."""
    if lay.cols > params.capacity:
        raise SetupError(
            f"a row of 2^{lay.log_cols} columns needs {lay.cols} generators; the parameters hold "
            f"{params.capacity} (run `zkdl setup` with a larger n)"
        )
    engine = _gpu_msm(params, lay.cols)
    run = {"bits": engine.msm_bits, "small": engine.msm_small, "full": engine.msm_full}[kind]
    msms = [run(rows[r]) for r in range(lay.rows)]
    return [m + b for m, b in zip(msms, _blind_points(params, blinds), strict=True)]


def _table_int(values: np.ndarray, lay: Layout) -> tuple[str, np.ndarray]:
    if values.dtype.kind == "u" and values.size and int(values.max()) >= 1 << 63:
        return _table_std(np.stack([values.astype(np.uint64)] + [np.zeros_like(values, np.uint64)] * 3, 1), lay)
    return "small", _pad(values.astype(np.int64), lay)


def _table_std(std: np.ndarray, lay: Layout) -> tuple[str, np.ndarray]:
    """Small signed entries as int64 (16-bit-class MSM), anything else as full 256-bit scalars."""
    std = np.ascontiguousarray(std, dtype=np.uint64)
    r0, r1, r2, r3 = (np.uint64(x) for x in _R_LIMBS)
    half = np.uint64(1 << 63)
    small_pos = (std[:, 1] == 0) & (std[:, 2] == 0) & (std[:, 3] == 0) & (std[:, 0] < half)
    small_neg = (std[:, 3] == r3) & (std[:, 2] == r2) & (std[:, 1] == r1) & (std[:, 0] > r0 - half)
    if (small_pos | small_neg).all():
        mag = np.where(small_neg, r0 - std[:, 0], std[:, 0]).astype(np.int64)
        return "small", _pad(np.where(small_neg, -mag, mag), lay)
    return "full", _pad(std, lay)


def commit_bits(
    params: PublicParams,
    values: np.ndarray,
    *,
    log_cols: int | None = None,
    rng: Any = None,
    workers: int | None = None,
    blinds: Sequence[int] | None = None,
) -> tuple[Commitment, Opening]:
    """Commit a 0/1 table (any numpy array; nonzero means 1) by subset sums."""
    arr = np.asarray(values).reshape(-1)
    if arr.dtype != bool:
        if arr.dtype.kind not in "iub":
            raise TypeError(f"commit_bits needs a bool or integer array, got {arr.dtype}")
        if arr.size and (arr.min() < 0 or arr.max() > 1):
            raise ValueError("commit_bits: values must be 0 or 1")
    lay = Layout.for_length(arr.shape[0], log_cols)
    return _finish(
        params,
        lay,
        lambda: _prepare_bits(arr, lay),
        lambda: ("bits", _pad(arr.astype(np.uint8), lay)),
        rng,
        workers,
        blinds,
    )


def commit_int(
    params: PublicParams,
    values: np.ndarray,
    *,
    log_cols: int | None = None,
    rng: Any = None,
    workers: int | None = None,
    blinds: Sequence[int] | None = None,
) -> tuple[Commitment, Opening]:
    """Commit a table of signed (int8…int64) or unsigned (uint8…uint64) integers, each mapped to ``x mod r``."""
    arr = np.asarray(values).reshape(-1)
    if arr.dtype.kind not in "iub":
        raise TypeError(f"commit_int needs an integer numpy array, got {arr.dtype}")
    lay = Layout.for_length(arr.shape[0], log_cols)
    return _finish(params, lay, lambda: _prepare_int(arr, lay), lambda: _table_int(arr, lay), rng, workers, blinds)


def commit_fr(
    params: PublicParams,
    values: Any,
    *,
    log_cols: int | None = None,
    rng: Any = None,
    workers: int | None = None,
    blinds: Sequence[int] | None = None,
) -> tuple[Commitment, Opening]:
    """Commit a field vector (:class:`zkdl.field.Fr`, via ``to_le_bytes``) or a sequence of Python ints (reduced
    mod r). Entries that are small signed integers automatically take the fast path."""
    if hasattr(values, "to_le_bytes") and hasattr(values, "limbs"):
        std = np.frombuffer(values.to_le_bytes(), dtype="<u8").astype(np.uint64).reshape(-1, 4)
    else:
        std = _std_from_ints(list(values))
    lay = Layout.for_length(std.shape[0], log_cols)
    return _finish(params, lay, lambda: _prepare_std(std, lay), lambda: _table_std(std, lay), rng, workers, blinds)


def commit(
    params: PublicParams,
    values: Any,
    *,
    log_cols: int | None = None,
    rng: Any = None,
    workers: int | None = None,
    blinds: Sequence[int] | None = None,
) -> tuple[Commitment, Opening]:
    """Commit any supported table: numpy bool → :func:`commit_bits`, numpy integer → :func:`commit_int`,
    :class:`zkdl.field.Fr` or a list of Python ints → :func:`commit_fr`."""
    kw = dict(log_cols=log_cols, rng=rng, workers=workers, blinds=blinds)
    if isinstance(values, np.ndarray):
        if values.dtype == bool:
            return commit_bits(params, values, **kw)
        return commit_int(params, values, **kw)
    return commit_fr(params, values, **kw)


def commit_value(params: PublicParams, value: int, blind: int) -> G1Point:
    """Pedersen commitment to one field element: ``value·g_v + blind·h``."""
    return G1Point.multiexp_unchecked([params.g_v, params.h], scalars_from_ints([value, blind]))


def commit_vector(params: PublicParams, values: Sequence[int], blind: int, *, offset: int = 0) -> G1Point:
    """``Σ_i values[i]·g_{offset+i} + blind·h`` for a short vector of Python ints (one MSM); ``SetupError`` when
    the parameters hold fewer than ``offset + len(values)`` vector generators."""
    end = offset + len(values)
    if end > params.capacity:
        raise SetupError(
            f"a vector up to generator {end} needs as many generators; the parameters hold {params.capacity}"
        )
    pts = params.gens(end)[offset:] + [params.h]
    return msm(pts, scalars_from_ints([int(v) % MODULUS for v in values] + [int(blind) % MODULUS]))
