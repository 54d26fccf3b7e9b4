"""The reduction from batch 1-way marginals to continual MaxSum / SumSelect (reference §1.4, [D]).

A dataset D ∈ {0,1}^{n×d'} is embedded into a stream, fed to a continual mechanism, and the marginals are
read back from its outputs. Neighbouring datasets give streams that differ in one time step (the stream is
fixed in advance: nonadaptive), and the read-out is post-processing, so the estimator inherits the
mechanism's privacy guarantee. An α-accurate continual MaxSum mechanism therefore yields marginals within
±α, which the batch lower bounds (fingerprinting / tracing) forbid when α is small compared with
√(T)-ish quantities -- this is where the Ω̃(T^{1/3}) price comes from.

MaxSum embedding (m = n, columns 0..d'-1), stream length T = n + 2n·d':
  prefix: the n data rows;
  phase j: probe = n copies of e_j, then re-level = n copies of (1 - e_j).
  Every phase raises every column by exactly n. At the end of the probe of phase j, column j holds
  c_j + (j+1)n >= n + jn >= c_i + jn for every i, so MaxSum = c_j + (j+1)n and ĉ_j = y - (j+1)n.

SumSelect embedding (columns 0..d'-1 plus a reference column r = d'), T = n + h + 2n·d', h = ⌊n/2⌋:
  prefix: the n data rows, then h copies of e_r;
  phase j: probe = n copies of e_j + e_r, then re-level = n copies of (1 - e_j) on the data columns.
  At the end of the probe of phase j: column j = c_j + (j+1)n, r = h + (j+1)n, others <= (j+1)n.
  A SumSelect answer with gap < α picks j if c_j > h + α and r if c_j < h - α; b_j = [ĵ = j].
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from dpstream.base import InvalidInput, InvalidParameter


def _check_dataset(D: Any) -> np.ndarray:
    arr = np.asarray(D)
    if arr.ndim != 2 or arr.shape[0] < 2 or arr.shape[1] < 1:
        raise InvalidInput(f"dataset must be a 2-D array of shape (n >= 2, d' >= 1), got shape {arr.shape}")
    if not np.all((arr == 0) | (arr == 1)):
        raise InvalidInput("dataset entries must be 0 or 1")
    return arr.astype(np.int64)


def maxsum_stream_length(n: int, d: int) -> int:
    return n + 2 * n * d


def sumselect_stream_length(n: int, d: int) -> int:
    return n + n // 2 + 2 * n * d


def maxsum_phase_block(n: int, d: int, j: int) -> np.ndarray:
    """Records of phase j of the MaxSum embedding, shape (2n, d)."""
    block = np.zeros((2 * n, d), dtype=np.int64)
    block[:n, j] = 1
    block[n:, :] = 1
    block[n:, j] = 0
    return block


def sumselect_phase_block(n: int, d: int, j: int) -> np.ndarray:
    """Records of phase j of the SumSelect embedding, shape (2n, d+1); column d is the reference."""
    block = np.zeros((2 * n, d + 1), dtype=np.int64)
    block[:n, j] = 1
    block[:n, d] = 1
    block[n:, :d] = 1
    block[n:, j] = 0
    return block


def embed_maxsum(D: Any) -> np.ndarray:
    """The whole MaxSum stream for dataset D (materialised; for tests and small examples)."""
    D = _check_dataset(D)
    n, d = D.shape
    return np.concatenate([D] + [maxsum_phase_block(n, d, j) for j in range(d)])


def embed_sumselect(D: Any) -> np.ndarray:
    D = _check_dataset(D)
    n, d = D.shape
    pre = np.zeros((n // 2, d + 1), dtype=np.int64)
    pre[:, d] = 1
    return np.concatenate(
        [np.hstack([D, np.zeros((n, 1), np.int64)]), pre] + [sumselect_phase_block(n, d, j) for j in range(d)]
    )


def maxsum_true_values(D: Any) -> np.ndarray:
    """Closed form of MaxSum_t on the embedded stream, in O(T) (no d-dimensional work per step)."""
    D = _check_dataset(D)
    n, d = D.shape
    pre = np.cumsum(D, axis=0).max(axis=1)
    c = D.sum(axis=0)
    order = np.argsort(c)
    top1, top2 = c[order[-1]], (c[order[-2]] if d > 1 else np.iinfo(np.int64).min // 4)
    M = np.where(np.arange(d) == order[-1], top2, top1)  # max over the other columns
    s = np.arange(1, n + 1)
    base = (np.arange(d) * n)[:, None]
    probe = base + np.maximum(c[:, None] + s[None, :], M[:, None])
    relevel = base + np.maximum((c + n)[:, None], M[:, None] + s[None, :])
    return np.concatenate([pre, np.concatenate([probe, relevel], axis=1).ravel()])


@dataclass
class MarginalEstimate:
    counts: np.ndarray  # estimated column counts ĉ_j (MaxSum) or bits b_j (SumSelect)
    outputs_read: np.ndarray  # the raw mechanism outputs at the read-out times
    stream_length: int


def marginals_via_maxsum(
    D: Any,
    make_mechanism: Callable[[int, int], Any],
    *,
    fast: bool = True,
    progress: Callable[[int, int], None] | None = None,
) -> MarginalEstimate:
    """Batch 1-way-marginal estimator built from a continual MaxSum mechanism.

    ``make_mechanism(horizon, dim)`` returns a fresh mechanism. When ``fast`` and the mechanism depends on
    the stream only through MaxSum_t (sparse-vector mechanisms expose ``_process_queries``), the closed
    form of MaxSum_t is fed directly -- identical outputs at O(T) cost (tested against the generic path).
    """
    D = _check_dataset(D)
    n, d = D.shape
    T = maxsum_stream_length(n, d)
    mech = make_mechanism(T, d)
    read_at = n + np.arange(d) * 2 * n + n - 1  # 0-based time index of each probe end
    if fast and hasattr(mech, "_process_queries"):
        y = mech._process_queries(maxsum_true_values(D))
        mech.t = T
        reads = y[read_at]
    else:
        mech.update_many(D)
        reads = np.empty(d)
        for j in range(d):
            out = mech.update_many(maxsum_phase_block(n, d, j))
            reads[j] = out[n - 1]
            if progress is not None and (j % 64 == 63 or j == d - 1):
                progress(j + 1, d)
    counts = reads - (np.arange(d) + 1) * n
    return MarginalEstimate(np.asarray(counts, dtype=np.float64), np.asarray(reads), T)


def marginals_via_sumselect(
    D: Any, make_mechanism: Callable[[int, int], Any], progress: Callable[[int, int], None] | None = None
) -> MarginalEstimate:
    """Batch "is c_j above n/2" estimator built from a continual SumSelect mechanism (dim = d'+1)."""
    D = _check_dataset(D)
    n, d = D.shape
    T = sumselect_stream_length(n, d)
    mech = make_mechanism(T, d + 1)
    pre = np.zeros((n // 2, d + 1), dtype=np.int64)
    pre[:, d] = 1
    mech.update_many(np.hstack([D, np.zeros((n, 1), np.int64)]))
    mech.update_many(pre)
    reads = np.empty(d, dtype=np.int64)
    for j in range(d):
        out = mech.update_many(sumselect_phase_block(n, d, j))
        reads[j] = out[n - 1]
        if progress is not None and (j % 64 == 63 or j == d - 1):
            progress(j + 1, d)
    bits = (reads == np.arange(d)).astype(np.float64)
    return MarginalEstimate(bits, reads, T)


def check_reduction_params(n: int, d: int) -> None:
    if n < 2 or d < 1:
        raise InvalidParameter(f"the reduction needs n >= 2 rows and d' >= 1 columns, got n={n}, d'={d}")
