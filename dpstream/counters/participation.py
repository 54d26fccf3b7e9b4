"""Sensitivity of a factorization's strategy C when one person participates several times.

Unit of privacy: one *example* (one row of the training set).  In the run, the example's clipped gradient (norm
<= clip) enters the gradient sums of the steps it participates in; its neighbour has it replaced by zero
("zero-out" adjacency, as in DP-FTRL and jax_privacy; replace-one adjacency doubles the sensitivity).

Participation schemas:

* event level: one participation (k = 1);
* (k, b) participation: at most k participations, consecutive ones at least b steps apart.  Training with a fixed
  secret batch order repeated every epoch (``b`` = steps per epoch) gives exactly the steps i, i + b, ...,
  i + (k - 1) b for the example in batch slot i ("fixed epoch order").

For vectors, ||C (g - g')||_F^2 = sum_(p, q in pattern) G_pq <dg_p, dg_q> with G = C^T C; when G >= 0 entry-wise
(all strategies here: non-negative C) the worst case puts the same vector of norm clip at every participation, so

    sensitivity^2 / clip^2 = max over patterns pi of  1_pi^T G 1_pi.

* :func:`toeplitz_sensitivity2`: lower-triangular Toeplitz C with non-negative, non-increasing coefficients
  (square root, BLT fitted to it).  The worst pattern is then {0, b, 2b, ...} with as many participations as fit
  (Kalinin & Lampert 2024, Thm 2; the same fact jax_privacy's ``minsep_sensitivity_squared`` uses), computed
  exactly in O(k n).  Valid for *every* b-min-separated pattern, not only the fixed order.
* :func:`fixed_order_sensitivity2`: any C with G >= 0, the fixed-epoch-order patterns only: max over the slot i.
* :func:`tree_gram`: G of the binary-tree and Honaker strategies (shared released nodes).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from ..base import InvalidParameter, check_int

__all__ = ["Participation", "toeplitz_sensitivity2", "fixed_order_sensitivity2", "tree_gram"]


@dataclass(frozen=True)
class Participation:
    """At most ``max_participations`` (k) appearances of one example, at least ``min_separation`` (b) steps apart."""

    max_participations: int = 1
    min_separation: int = 1

    def __post_init__(self):
        for name in ("max_participations", "min_separation"):
            check_int(name, getattr(self, name))

    def slots(self, n: int) -> int:
        """Participations that fit in n steps: min(k, ceil(n / b))."""
        return min(self.max_participations, -(-n // self.min_separation)) if n > 0 else 0

    def describe(self) -> str:
        k, b = self.max_participations, self.min_separation
        if k == 1:
            return "example-level, single participation (event level)"
        return f"example-level, up to {k} participations at least {b} steps apart"


def _check_toeplitz(c: np.ndarray) -> np.ndarray:
    c = np.asarray(c, dtype=np.float64)
    if c.ndim != 1 or c.size == 0 or not np.isfinite(c).all():
        raise InvalidParameter("c must be a non-empty 1-D array of finite Toeplitz coefficients")
    tol = 1e-12 * abs(c[0])
    if c.min() < -tol or np.any(np.diff(c) > tol):
        raise InvalidParameter(
            "toeplitz_sensitivity2 is exact only for non-negative, non-increasing coefficients; use "
            "fixed_order_sensitivity2 (fixed epoch order) or a brute force for this strategy"
        )
    return c


def toeplitz_sensitivity2(c: np.ndarray, n: int, participation: Participation) -> float:
    """Exact max_pi ||C 1_pi||^2 over b-min-separated patterns of at most k steps in [0, n), C = toeplitz(c[:n])."""
    check_int("n", n)
    c = _check_toeplitz(c)
    if c.size < n:
        raise InvalidParameter(f"need at least n={n} coefficients, got {c.size}")
    c = c[:n]
    b = participation.min_separation
    k = participation.slots(n)
    # G(p, q) = sum_(u < n - max(p, q)) c_u c_(u + |p - q|); for lag m keep the running sums of c_u c_(u+m)
    cums = {}
    for j in range(k):
        m = j * b
        cums[j] = np.cumsum(c[: n - m] * c[m:n])
    total = 0.0
    for j in range(k):
        for jj in range(k):
            total += float(cums[abs(j - jj)][n - max(j, jj) * b - 1])
    return total


def fixed_order_sensitivity2(
    gram: Callable[[np.ndarray, np.ndarray], np.ndarray], n: int, participation: Participation
) -> float:
    """max over slots i < b of sum_(j, j') G(i + j b, i + j' b), steps < n (fixed epoch order; G >= 0)."""
    b = participation.min_separation
    k = participation.max_participations
    check_int("n", n)
    slots = np.arange(min(b, n))
    steps = slots[:, None] + b * np.arange(k)[None, :]  # (slots, k), some beyond n
    valid = steps < n
    acc = np.zeros(slots.size)
    for j in range(k):
        for jj in range(k):
            ok = valid[:, j] & valid[:, jj]
            if ok.any():
                acc[ok] += gram(steps[ok, j], steps[ok, jj])
    return float(acc.max())


def tree_gram(n: int, honaker: bool = False) -> Callable[[np.ndarray, np.ndarray], np.ndarray]:
    """G(p, q) = number of released nodes (completed within n steps) containing both 0-based steps p and q.
    Binary tree: the even-index nodes (the ones any prefix uses); Honaker: all nodes."""

    def gram(p: np.ndarray, q: np.ndarray) -> np.ndarray:
        p = np.asarray(p, dtype=np.int64)
        q = np.asarray(q, dtype=np.int64)
        out = np.zeros(np.broadcast(p, q).shape, dtype=np.float64)
        for h in range(max(n, 1).bit_length()):
            k = p >> h
            same = (k == (q >> h)) & (((k + 1) << h) <= n)
            if not honaker:
                same &= (k & 1) == 0
            out += same
        return out

    return gram
