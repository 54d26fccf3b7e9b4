"""Tree-based MaxSum and SumSelect (algorithm (A)): d binary-tree counters, then max / argmax.

The d counters are the core's d-dimensional binary-tree counter (:mod:`dpstream.counters`, ``"binary-tree"``
with ``dim=d``, inputs on the integer lattice, ``granularity=1``), calibrated per record of {0,1}^d: a record
changes, per tree level, d node values by at most 1 each, i.e. per-level L2 sensitivity √d (L1: d) and over the
L = ⌊log₂T⌋+1 levels √(dL) (L1: dL). Node noise is exact discrete Gaussian N_Z(0, σ²), σ² >= dL/(2ρ)
(ρ-zCDP), or exact discrete Laplace with scale >= dL/ε (ε-DP); ``sampler="float"`` (zCDP only) opts into
numpy's floating-point Gaussian for speed, as the counters offer. The max / argmax is post-processing, so the
guarantee is the counter's :class:`~dpstream.accounting.Guarantee`.

Error: the counter's ``error_bound(β)`` bounds |Ŝ_t[j] - S_t[j]| for all t <= T and all j at once w.p. >= 1-β
(sub-Gaussian union bound, or a Chernoff bound with the exact discrete-Laplace MGF). MaxSum error <= that;
the SumSelect gap <= 2·that.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from dpstream import counters
from dpstream.accounting import Guarantee, as_privacy
from dpstream.base import DPError, StateError, check_probability
from dpstream.problems._common import Privacy, ProblemMechanism, resolve_privacy


def tree_levels(horizon: int) -> int:
    """L = ⌊log₂T⌋ + 1 levels of nodes that can complete within T steps."""
    return int(horizon).bit_length()


class _TreeBase(ProblemMechanism):
    kind = "tree"
    state_version = 2  # (1: before the counter moved into the core's d-dimensional binary tree)
    # records are calibrated as elements of {0,1}^d; only the deliberately broken subclasses change this
    _per_column_calibration = False

    def __init__(self, *, horizon, dim, privacy=None, rho=None, epsilon=None, seed=None, sampler="exact"):
        priv = resolve_privacy(privacy, rho=rho, epsilon=epsilon)
        super().__init__(horizon=horizon, dim=dim, privacy=priv, seed=seed)
        self.sampler = sampler
        self._counter = counters.make(
            "binary-tree",
            horizon=self.horizon,
            privacy=self._counter_privacy(),
            dim=self.dim,
            seed=seed,
            granularity=1.0,
            sampler=sampler,
        )
        self.levels = tree_levels(self.horizon)

    def _counter_privacy(self) -> Privacy:
        """Privacy the d-dimensional counter is built for (the target itself for a correct mechanism)."""
        if not self._per_column_calibration:
            return self.privacy
        # BROKEN (negative control): the counter is calibrated as if a record changed one column, i.e. with the
        # noise of a d times larger ρ (ε), while the mechanism still claims the target
        return self.privacy.scaled(self.dim)

    @property
    def node_scale(self) -> float:
        """Standard deviation of one node's noise (counts)."""
        return math.sqrt(self._counter.process.node_var)

    def _guarantee(self) -> Guarantee:
        if self._per_column_calibration:
            return super()._guarantee()  # the (false) claim of the broken mechanism
        return self._counter.guarantee

    def noisy_sums(self, recs: np.ndarray) -> np.ndarray:
        """The d noisy running column sums after each record of ``recs`` (shape (m, d)); advances the counter."""
        return np.asarray(self._counter.update_many(recs), dtype=np.float64).reshape(recs.shape[0], self.dim)

    def column_error_bound(self, beta: float = 0.05) -> float:
        """w.p. >= 1-β: |Ŝ_t[j] - S_t[j]| <= this, for all t <= horizon and all j."""
        return self._counter.error_bound(check_probability("beta", beta))

    def state_dict(self) -> dict[str, Any]:
        """JSON-able state. It contains the counter's secret noise key: keep it private."""
        return self._pack_state(sampler=self.sampler, counter=self._counter.state_dict())

    @classmethod
    def from_state_dict(cls, state: dict[str, Any]):
        st = cls._unpack_state(state, ("sampler", "counter"))
        try:
            obj = cls(
                horizon=st["horizon"],
                dim=st["dim"],
                privacy=as_privacy(st["privacy"]),
                seed=st["seed"],
                sampler=st["sampler"],
            )
            counter = counters.from_state_dict(st["counter"], trusted=True)  # inside a checked restore
            mismatch = not isinstance(counter, counters.LinearCounter) or (  # a BlockCounter has no .privacy
                (counter.horizon, counter.dim, counter.privacy) != (obj.horizon, obj.dim, obj._counter_privacy())
            )
            if mismatch:
                raise StateError("malformed state dict: the counter does not match the mechanism")
            obj._counter = counter
            obj.t = int(st["t"])
        except DPError:
            raise
        except (KeyError, TypeError, ValueError) as e:
            raise StateError(f"malformed state dict: {e!r}") from None
        if not 0 <= obj.t <= obj.horizon or obj.t != obj._counter.t:
            raise StateError("malformed state dict: t outside [0, horizon] or not the counter's t")
        return obj


class MaxSumTree(_TreeBase):
    """MaxSum as the max of d tree counters: error Õ(√d·log^{1.5}T/√ρ)."""

    problem = "maxsum"

    def _process(self, recs):
        return self.noisy_sums(recs).max(axis=1)

    def error_bound(self, beta: float = 0.05) -> float:
        return self.column_error_bound(beta)


class SumSelectTree(_TreeBase):
    """SumSelect as the argmax of d tree counters: gap <= 2·(column error)."""

    problem = "sumselect"

    def _process(self, recs):
        return self.noisy_sums(recs).argmax(axis=1).astype(np.int64)

    def error_bound(self, beta: float = 0.05) -> float:
        return 2.0 * self.column_error_bound(beta)
