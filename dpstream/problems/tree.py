"""Tree-based MaxSum and SumSelect (algorithm (A)): d binary-tree counters, then max / argmax.

A record x_t in {0,1}^d changes, per tree level, d node values by at most 1 each: per-level L2 sensitivity
√d (L1: d), total over the L = ⌊log₂T⌋+1 levels √(dL) (L1: dL). Node noise N(0, σ²) with σ² = dL/(2ρ)
gives ρ-zCDP; discrete Laplace with scale dL/ε gives ε-DP.

Error: the prefix noise of column j at time t is a sum of popcount(t) <= L node noises. Gaussian:
|Ŝ_t[j] - S_t[j]| <= σ√(2L ln(2dT/β)) for all t, j w.p. >= 1-β (sub-Gaussian tail + union bound over dT).
Laplace: a Chernoff bound with the exact discrete-Laplace moment generating function (computed numerically).
MaxSum error <= max_j |Ŝ_t[j] - S_t[j]|; the SumSelect gap <= 2·max_j |Ŝ_t[j] - S_t[j]|.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from dpstream.problems._common import ProblemMechanism, check_beta
from dpstream.problems._shim import (
    DPError,
    Privacy,
    StateError,
    discrete_laplace,
    resolve_privacy,
)


def tree_levels(horizon: int) -> int:
    """L = ⌊log₂T⌋ + 1 levels of nodes that can complete within T steps."""
    return int(horizon).bit_length()


def tree_node_scale(privacy: Privacy, horizon: int, calibration_dim: int) -> float:
    """Gaussian σ (zCDP) or discrete-Laplace scale (ε-DP) of one node, records in {0,1}^calibration_dim."""
    L = tree_levels(horizon)
    if privacy.kind == "zcdp":
        return math.sqrt(calibration_dim * L / (2.0 * privacy.value))
    return calibration_dim * L / privacy.value


def laplace_sum_tail(scale: float, k: int, beta: float) -> float:
    """x with P(|X_1+...+X_k| > x) <= beta for iid discrete Laplace(scale) X_i (Chernoff, exact MGF)."""
    if k <= 0:
        return 0.0
    qv = math.exp(-1.0 / scale)
    log_target = math.log(beta / 2.0)

    def log_tail(x: float) -> float:  # min over λ of -λx + k log MGF(λ)
        best = 0.0
        for frac in np.linspace(0.01, 0.99, 99):
            lam = frac / scale
            mgf = (1 - qv) ** 2 / ((1 - qv * math.exp(lam)) * (1 - qv * math.exp(-lam)))
            best = min(best, -lam * x + k * math.log(mgf))
        return best

    lo, hi = 0.0, scale * (k + 1) * (math.log(2.0 / beta) + 1.0) * 4
    while log_tail(hi) > log_target:
        hi *= 2
    for _ in range(60):
        mid = 0.5 * (lo + hi)
        if log_tail(mid) <= log_target:
            hi = mid
        else:
            lo = mid
    union = k * scale * math.log(2.0 * k / beta)  # every node within its own tail (union bound)
    return min(hi, union)


class TreeColumnNoise:
    """Noise of d binary-tree counters, generated online and vectorized over batches.

    Local implementation (the core's `dpstream.counters` d-dimensional binary tree is the intended backend;
    TODO(core): switch once it exposes per-record {0,1}^d calibration and a seeded, batch-invariant stream).
    Node (h, k) covers the block [k·2^h + 1, (k+1)·2^h]; the prefix [1, t] uses node (h, (t >> h) - 1) for
    every set bit h of t. One generator per level, so the output does not depend on the batching.
    """

    def __init__(self, horizon: int, dim: int, scale: float, gaussian: bool, seed: int | None):
        self.L = tree_levels(horizon)
        self.dim = dim
        self.scale = scale
        self.gaussian = gaussian
        self._init_rngs(seed)
        self.drawn = np.zeros(self.L, dtype=np.int64)  # nodes drawn so far per level
        self.last = np.zeros((self.L, dim))  # noise of the last drawn node per level

    def _init_rngs(self, seed):
        self.rngs = [np.random.default_rng(s) for s in np.random.SeedSequence(seed).spawn(self.L)]

    def _draw(self, h: int, count: int) -> np.ndarray:
        if self.gaussian:  # TODO(core): exact discrete Gaussian sampler from dpstream.noise
            return self.rngs[h].normal(0.0, self.scale, size=(count, self.dim))
        return discrete_laplace(self.rngs[h], self.scale, size=(count, self.dim)).astype(np.float64)

    def noise(self, t0: int, m: int) -> np.ndarray:
        """Prefix noise for times t0+1 .. t0+m, shape (m, dim)."""
        ts = np.arange(t0 + 1, t0 + m + 1, dtype=np.int64)
        out = np.zeros((m, self.dim))
        for h in range(self.L):
            idx = (ts >> h) - 1  # node index per time (-1: none complete yet)
            need = int(idx[-1]) + 1
            new = need - int(self.drawn[h])
            if new > 0:
                fresh = self._draw(h, new)
                table = np.concatenate([self.last[h][None, :], fresh])  # row 0 = node drawn[h]-1
                self.last[h] = fresh[-1]
                self.drawn[h] = need
            else:
                table = self.last[h][None, :]
            use = ((ts >> h) & 1).astype(bool)
            if use.any():
                rows = idx[use] - (need - table.shape[0])
                out[use] += table[rows]
        return out

    def state(self, include_rng: bool) -> dict[str, Any]:
        return {
            "drawn": self.drawn.tolist(),
            "last": self.last.tolist(),
            "rng": [g.bit_generator.state for g in self.rngs] if include_rng else None,
        }

    def load(self, st: dict[str, Any]) -> None:
        self.drawn = np.asarray(st["drawn"], dtype=np.int64)
        self.last = np.asarray(st["last"], dtype=np.float64).reshape(self.L, self.dim)
        if st["rng"] is None:
            self._init_rngs(None)
        else:
            for g, s in zip(self.rngs, st["rng"], strict=True):
                g.bit_generator.state = s


class _TreeBase(ProblemMechanism):
    kind = "tree"
    # records are calibrated as elements of {0,1}^calibration_dim; a correct mechanism uses dim
    _per_column_calibration = False

    def __init__(self, *, horizon, dim, privacy=None, rho=None, epsilon=None, seed=None):
        priv = resolve_privacy(privacy, rho=rho, epsilon=epsilon)
        super().__init__(horizon=horizon, dim=dim, privacy=priv, seed=seed)
        cal = 1 if self._per_column_calibration else self.dim
        self.node_scale = tree_node_scale(priv, self.horizon, cal)
        self.levels = tree_levels(self.horizon)
        self._noise = TreeColumnNoise(self.horizon, self.dim, self.node_scale, priv.kind == "zcdp", seed)
        self.sums = np.zeros(self.dim, dtype=np.int64)

    def noisy_sums(self, recs: np.ndarray) -> np.ndarray:
        S = self.sums + np.cumsum(recs, axis=0)
        self.sums = S[-1].copy()
        return S + self._noise.noise(self.t, recs.shape[0])

    def column_error_bound(self, beta: float = 0.05) -> float:
        """w.p. >= 1-β: |Ŝ_t[j] - S_t[j]| <= this, for all t <= horizon and all j."""
        beta = check_beta(beta)
        L, T, d = self.levels, self.horizon, self.dim
        if self.privacy.kind == "zcdp":
            return self.node_scale * math.sqrt(2.0 * L * math.log(2.0 * d * T / beta))
        return laplace_sum_tail(self.node_scale, L, beta / (d * T))

    def state_dict(self) -> dict[str, Any]:
        """JSON-able state. It contains secret noise (the open tree nodes): keep it private."""
        return {
            "type": type(self).__name__,
            "version": 1,
            "horizon": self.horizon,
            "dim": self.dim,
            "privacy": self.privacy.as_dict(),
            "seed": self.seed,
            "t": self.t,
            "sums": self.sums.tolist(),
            "noise": self._noise.state(self.seed is not None),
        }

    @classmethod
    def from_state_dict(cls, st: dict[str, Any]):
        try:
            if st["type"] != cls.__name__:
                raise StateError(f"state is for {st['type']}, not {cls.__name__}")
            priv = Privacy(st["privacy"]["kind"], float(st["privacy"]["value"]))
            obj = cls(horizon=st["horizon"], dim=st["dim"], privacy=priv, seed=st["seed"])
            obj.t = int(st["t"])
            obj.sums = np.asarray(st["sums"], dtype=np.int64).reshape(obj.dim)
            obj._noise.load(st["noise"])
        except DPError:
            raise
        except (KeyError, TypeError, ValueError) as e:
            raise StateError(f"malformed state dict: {e!r}") from None
        if not 0 <= obj.t <= obj.horizon:
            raise StateError("malformed state dict: t outside [0, horizon]")
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
