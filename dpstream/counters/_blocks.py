"""Release every k-th answer: a counter over the block sums, calibrated to the releases actually made.

Publishing only the running sums S_k, S_2k, ... of a counter built for T steps wastes privacy budget: its noise
covers T releases.  :class:`BlockCounter` instead runs a counter over ceil(T/k) steps whose items are the sums of k
consecutive stream items.  One changed stream item changes one block sum, by no more than the item itself moves,
so the inner counter's calibration to one item's ``bounds`` is the right one (event-level privacy unchanged) and
its error is that of a ceil(T/k)-step counter.  Each item goes through the inner counter's own validation and
lattice rounding before it is added to its block, so block sums stay on the counter's lattice.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from ..base import (
    DimensionMismatch,
    HorizonExceeded,
    Mechanism,
    StateError,
    check_int,
    pack_state,
    state_mechanism,
    unpack_state,
)
from ._core import LinearCounter

#: the envelope's ``mechanism`` of a block counter (its own ``name`` says which counter is inside)
BLOCK_MECHANISM = "block-counter"


class BlockCounter(Mechanism):
    """Running sums released after every ``release_every``-th item (and, on :meth:`finish`, a partial block).

    ``update(x)`` returns the answer when x completes a block, else ``None``; ``update_many(xs)`` returns the
    answers of the blocks completed by xs (possibly none).  ``horizon`` counts stream items.
    """

    state_kind = "counter"

    def __init__(self, inner: LinearCounter, release_every: int, horizon: int | None):
        k = check_int("release_every", release_every)
        self.inner = inner
        self.release_every = k
        self.horizon = horizon
        self.dim = inner.dim
        self.name = f"{inner.name}/every-{k}"
        self.t = 0
        self._pending = np.zeros(self.dim)
        self._npend = 0

    @staticmethod
    def inner_horizon(horizon: int | None, release_every: int) -> int | None:
        return None if horizon is None else math.ceil(horizon / release_every)

    # -- interface -------------------------------------------------------------------------------------------------
    @property
    def guarantee(self):
        return self.inner.guarantee

    def error_bound(self, beta: float = 0.05) -> float:
        """Bound on |answer - running sum| over every released answer (those of the inner counter)."""
        return self.inner.error_bound(beta)

    @property
    def pending(self) -> int:
        """Items of the current, unreleased block."""
        return self._npend

    @property
    def releases(self) -> int:
        """Answers published so far."""
        return self.inner.t

    def update(self, x: Any) -> Any:
        if self.dim == 1 and np.ndim(x) != 0:
            raise DimensionMismatch(f"{self.name}: update expects one number, got {x!r}")
        out = self.update_many([x] if self.dim == 1 else np.asarray(x, dtype=np.float64).reshape(1, self.dim))
        if len(out) == 0:
            return None
        return float(out[0]) if self.dim == 1 else out[0]

    def update_many(self, xs: Any) -> np.ndarray:
        a = self.inner._prepare(xs)  # validation + per-item lattice rounding against one item's bounds
        n = a.shape[0]
        if self.horizon is not None and self.t + n > self.horizon:
            raise HorizonExceeded(f"{self.name}: {self.t} of {self.horizon} items consumed, cannot take {n} more")
        a2 = a.reshape(n, self.dim)
        k, p = self.release_every, self._npend
        nblocks = (p + n) // k
        if nblocks == 0:
            self._pending = self._pending + a2.sum(axis=0)
            self._npend = p + n
            self.t += n
            return self._empty()
        first = k - p
        sums = np.empty((nblocks, self.dim))
        sums[0] = self._pending + a2[:first].sum(axis=0)
        used = first + (nblocks - 1) * k
        if nblocks > 1:
            sums[1:] = a2[first:used].reshape(nblocks - 1, k, self.dim).sum(axis=1)
        out = self.inner._update_prepared(sums[:, 0] if self.dim == 1 else sums)
        self._pending = a2[used:].sum(axis=0)
        self._npend = n - used
        self.t += n
        return out

    def finish(self) -> np.ndarray:
        """Release the partial block (if any): the running sum after the last item.  Returns 0 or 1 answers."""
        if self._npend == 0:
            return self._empty()
        out = self.inner._update_prepared(self._pending[None, :] if self.dim > 1 else self._pending[:1].copy())
        self._pending = np.zeros(self.dim)
        self._npend = 0
        return out

    def _stream_end(self) -> np.ndarray:
        return self.finish()

    def _empty(self) -> np.ndarray:
        return np.zeros((0,) if self.dim == 1 else (0, self.dim))

    # -- persistence -----------------------------------------------------------------------------------------------
    def state_dict(self) -> dict:
        """JSON-able and secret (the inner counter's noise key and the partial block's raw sum)."""
        return pack_state(
            BLOCK_MECHANISM,
            self.state_version,
            {
                "release_every": self.release_every,
                "horizon": self.horizon,
                "t": self.t,
                "pending": self._pending.tolist(),
                "npending": self._npend,
                "inner": self.inner.state_dict(),
            },
        )

    _STATE_FIELDS = ("release_every", "horizon", "t", "pending", "npending", "inner")

    @classmethod
    def from_state_dict(cls, state: dict) -> BlockCounter:
        from . import _REGISTRY  # the inner counter's class by its registry name

        st = unpack_state(state, BLOCK_MECHANISM, cls.state_version, cls._STATE_FIELDS)
        inner_name = state_mechanism(st["inner"], "block counter's inner counter")
        inner_cls = _REGISTRY.get(inner_name)
        if inner_cls is None:
            raise StateError(f"block-counter state: unknown inner counter {inner_name!r}")
        inner = inner_cls.from_state_dict(st["inner"])
        k, horizon, t, npend = st["release_every"], st["horizon"], st["t"], st["npending"]
        for name, v in (("release_every", k), ("t", t), ("npending", npend)):
            if type(v) is not int or v < 0:
                raise StateError(f"block-counter state: {name} must be a non-negative int, got {v!r}")
        if horizon is not None and type(horizon) is not int:
            raise StateError(f"block-counter state: horizon must be an int or null, got {horizon!r}")
        obj = cls(inner, k, horizon)
        if inner.horizon != cls.inner_horizon(horizon, k):
            raise StateError(f"block-counter state: inner horizon {inner.horizon} is not ceil({horizon}/{k})")
        if not (npend < k and npend <= t and (horizon is None or t <= horizon) and inner.t <= t):
            raise StateError(f"block-counter state is inconsistent: t={t}, npending={npend}, k={k}, releases={inner.t}")
        if npend == 0 and any(st["pending"]):
            raise StateError("block-counter state: a non-zero partial sum with no pending items")
        pend = np.asarray(st["pending"], dtype=np.float64)
        if pend.shape != (inner.dim,) or not np.isfinite(pend).all():
            raise StateError(f"block-counter state: pending must be {inner.dim} finite numbers")
        obj.t, obj._pending, obj._npend = t, pend, npend
        return obj

    def __repr__(self) -> str:
        return f"BlockCounter({self.inner!r}, release_every={self.release_every}, t={self.t})"
