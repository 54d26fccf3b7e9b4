"""DELIBERATELY BROKEN mechanisms: negative controls for the tracing attack and the privacy audits.

Each class claims a privacy guarantee it does NOT have (see ``bug``). Never use them to release data.
They exist so that the demos and tests can show that the attacks catch a mechanism whose error is
below the continual-release lower bound.
"""

from __future__ import annotations

import math

import numpy as np

from dpstream.accounting import Guarantee, zCDP
from dpstream.counters import LinearCounter, NoiseProcess, fit_blt
from dpstream.counters._factor import series_inverse
from dpstream.noise import DiscreteGaussian, make_rng
from dpstream.problems._common import Privacy, ProblemMechanism, resolve_privacy
from dpstream.problems.svt import MaxSumSVT, SVTParameters, _first_at_or_above, discrete_laplace_tail
from dpstream.problems.tree import MaxSumTree, SumSelectTree

__all__ = [
    "BrokenPerColumnTreeMaxSum",
    "BrokenPerColumnTreeSumSelect",
    "BrokenReusedNoiseSVTMaxSum",
    "BrokenGridBLT",
    "BROKEN",
]


class BrokenPerColumnTreeMaxSum(MaxSumTree):
    """BROKEN: tree MaxSum whose node noise is calibrated per column (σ² = L/(2ρ)) instead of per record.

    A record of {0,1}^d changes d counters, so the real guarantee is only d·ρ-zCDP (d·ε for Laplace):
    the noise is √d (Laplace: d) times too small.
    """

    broken = True
    bug = "noise calibrated for one column, not for a record of d columns (missing √d / d)"
    _per_column_calibration = True


class BrokenPerColumnTreeSumSelect(SumSelectTree):
    """BROKEN: tree SumSelect with per-column calibration (see :class:`BrokenPerColumnTreeMaxSum`)."""

    broken = True
    bug = BrokenPerColumnTreeMaxSum.bug
    _per_column_calibration = True


def _broken_svt_parameters(horizon: int, privacy: Privacy, beta: float) -> SVTParameters:
    """The broken author's calibration: one AboveThreshold's budget for the whole run, no query noise."""
    eps0 = math.sqrt(2.0 * privacy.rho) if isinstance(privacy, zCDP) else privacy.epsilon
    eps1 = eps2 = eps0 / 2.0
    k = horizon  # "above" answers are not counted: unlimited rounds
    n_theta = discrete_laplace_tail(2.0 / eps1, beta / 2.0)  # a single threshold noise, reused
    n_r = discrete_laplace_tail(1.0 / eps2, beta / (2.0 * horizon))
    tau = math.ceil(2.0 * (n_theta + n_r))
    return SVTParameters("maxsum", horizon, 1, tau, k, eps0, eps1, eps2, 1, beta, float(tau + n_theta))


class BrokenReusedNoiseSVTMaxSum(MaxSumSVT):
    """BROKEN: sparse-vector MaxSum that reuses one threshold noise for every round and adds no query noise.

    The author reasoned "the noisy threshold already hides the comparisons", so the whole run is charged as a
    single ε₀ = √(2ρ) round and "above" answers are not counted. Comparisons of exact queries against a
    fixed noisy threshold leak (Lyu–Su–Li 2017; Stoddard et al. 2014): the real privacy loss grows with
    the number of rounds. Its error, O(log(T/β)/√ρ), is below the Ω̃(T^{1/3}) continual-release lower bound.
    """

    broken = True
    bug = "threshold noise drawn once and reused, no query noise, rounds not counted"

    def __init__(self, *, horizon, dim=1, privacy=None, rho=None, epsilon=None, beta=0.05, seed=None, params=None):
        priv = resolve_privacy(privacy, rho=rho, epsilon=epsilon)
        params = params or _broken_svt_parameters(int(horizon), priv, beta)
        super().__init__(horizon=horizon, dim=dim, privacy=priv, beta=beta, seed=seed, params=params)

    def _draw_query_noise(self, m: int) -> np.ndarray:
        return np.zeros(m, dtype=np.int64)  # BUG: no query noise

    def _process_queries(self, q: np.ndarray) -> np.ndarray:
        theta = self.threshold - self.params.tau  # BUG: the same threshold noise in every round
        m = q.shape[0]
        out = np.empty(m, dtype=np.float64)
        pos = 0
        level = self.params.tau + theta
        while pos < m:
            i = _first_at_or_above(q, pos, self.value + level)
            out[pos:i] = self.value
            if i == m:
                break
            self.value = int(q[i]) + self._draw_release()
            self.rounds += 1
            out[i] = self.value
            pos = i + 1
        return out

    def error_bound(self, beta: float = 0.05) -> float:
        return self.params.bound  # what the broken author claims

    def _guarantee(self) -> Guarantee:
        """The broken author's (false) claim: the whole run is one ε₀-DP AboveThreshold round."""
        return Guarantee(
            rho=self.privacy.implied_rho(),
            epsilon=self.params.eps0,
            seeded=self.seed is not None,
            notes=("BROKEN: " + self.bug,),
        )


class _BrokenGridBLTProcess(NoiseProcess):
    """The BLT counter as it shipped before the lattice fix: answers S_t + (B z)_t with z a discrete Gaussian on the
    grid sigma/4096 Z, while C x is not on that grid (answer 1 = x_1 + b_0 z_1 reveals x_1 modulo the grid)."""

    name = "broken-grid-blt"
    GRID = 4096

    def __init__(self, horizon, privacy, dim, bounds, buffers=12):
        super().__init__(horizon, privacy, dim, bounds)
        self.w, self.lam = fit_blt(horizon, buffers)
        k = np.arange(horizon, dtype=np.float64)
        b = sum(w * np.exp(k * math.log(lam)) for w, lam in zip(self.w, self.lam, strict=True))
        c = np.cumsum(series_inverse(b))
        self.sens2 = float(np.dot(c, c)) * dim * self.width**2
        sigma = math.sqrt(self.sens2 / (2.0 * privacy.rho))
        self.dist = DiscreteGaussian(float(self.GRID) ** 2)
        self.unit = sigma / self.GRID  # the public grid of the noise
        self.sigma2 = float(self.dist.sigma2) * self.unit**2
        self.block = 256

    def params(self):
        return {}

    def public_grids(self):
        return [self.unit]

    def init_carry(self):
        return [[0.0] * self.dim for _ in range(self.w.shape[0])]

    def generate(self, entropy, j, carry):
        n = min(self.block, self.horizon - j * self.block)
        z = self.dist.sample(make_rng(entropy, j), (self.block, self.dim))[:n] * self.unit
        y = np.array(carry, dtype=np.float64)
        eta = np.empty((n, self.dim))
        for t in range(n):
            y = self.lam[:, None] * y + z[t]
            eta[t] = self.w @ y
        return eta, y.tolist()

    def variances(self, ts):
        return np.full(np.shape(ts), np.nan)

    def strategy(self, T):
        k = np.arange(T, dtype=np.float64)
        b = sum(w * np.exp(k * math.log(lam)) for w, lam in zip(self.w, self.lam, strict=True))
        B = np.where(
            np.greater_equal.outer(np.arange(T), np.arange(T)),
            b[np.abs(np.subtract.outer(np.arange(T), np.arange(T)))],
            0.0,
        )
        return B, np.linalg.solve(B, np.tril(np.ones((T, T))))

    def tail_bound(self, beta, upto):
        return float("nan")

    def guarantee(self) -> Guarantee:
        return Guarantee(rho=self.sens2 / (2.0 * self.sigma2), notes=("BROKEN: " + BrokenGridBLT.bug,))


class BrokenGridBLT(LinearCounter):
    """BROKEN: the pre-fix BLT counter (noise on a public grid, data off it): every answer leaks the data's residue
    modulo the grid; answer 1 gives x_1 away, and B^-1 applied to the answers gives every item."""

    name = "broken-grid-blt"
    broken = True
    bug = "noise on the grid sigma/4096 Z but C x off it: residues of the answers reveal the stream"
    process_cls = _BrokenGridBLTProcess


BROKEN: dict[str, type[ProblemMechanism]] = {
    "broken-tree-per-column": BrokenPerColumnTreeMaxSum,
    "broken-svt-reused-noise": BrokenReusedNoiseSVTMaxSum,
    "broken-tree-per-column-sumselect": BrokenPerColumnTreeSumSelect,
}
