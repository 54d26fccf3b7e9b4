"""Tests that catch weakened privacy (issue 11, item 6): the noise *actually drawn* against the noise the claimed
guarantee requires, computed independently of the mechanism's own bookkeeping, and the audit's false-flag rate.

A mutation that halves a noise scale but leaves the guarantee alone must fail here (halving a scale quarters the
variance; every check here resolves a factor 4 at a false-failure rate of 1e-6).
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from dpstream import counters, problems
from dpstream.audit import audit
from dpstream.counters import EpsDP, zCDP

ALPHA = 1e-6  # false-failure budget per test


def _dlap_var(scale: float) -> float:
    p = math.exp(-1.0 / scale)
    return 2.0 * p / (1.0 - p) ** 2


def _var_check(samples: np.ndarray, var_min: float, rel: float = 0.5):
    """The sample variance is consistent with >= var_min (one-sided, ALPHA); the sample is large enough that a
    variance of var_min / 4 (half the noise scale) fails."""
    n = samples.size
    v = float(np.var(samples))
    se = float(np.std((samples - samples.mean()) ** 2)) / math.sqrt(n)
    z = stats.norm.isf(ALPHA)
    assert z * se < rel * var_min / 2, "too few samples to resolve the check"
    assert v > var_min - z * se, (v, var_min, se)
    return v


# -- sparse vector: the query, threshold and release noise against the guarantee ---------------------------------


@pytest.mark.parametrize("cls", [problems.MaxSumSVT, problems.SumSelectSVT])
@pytest.mark.parametrize("privacy", [zCDP(0.5), EpsDP(1.0)])
def test_svt_noise_drawn_matches_what_the_guarantee_requires(cls, privacy):
    m = cls(horizon=4096, dim=4, privacy=privacy, seed=3)
    p = m.params
    g = m.guarantee
    # independently: k rounds of eps0-DP; each round is AboveThreshold(eps1) + release(eps2) with eps1 + eps2 = eps0
    eps0 = g.epsilon / p.k
    assert p.eps1 + p.eps2 == pytest.approx(eps0, rel=1e-9)
    delta_q = 2.0 if cls is problems.SumSelectSVT else 1.0  # gap query sensitivity 2, max-sum 1
    # AboveThreshold (Lyu-Su-Li 2017, Alg. 1 with c = 1): threshold Lap(2 Delta / eps1), queries Lap(4 Delta / eps1)
    _var_check(m._draw_query_noise(200_000).astype(float), _dlap_var(4.0 * delta_q / p.eps1))
    _var_check(np.array([m._draw_threshold() for _ in range(40_000)], dtype=float), _dlap_var(2.0 * delta_q / p.eps1))
    if cls is problems.MaxSumSVT:  # release: Laplace mechanism for a sensitivity-1 value at eps2
        _var_check(np.array([m._draw_release() for _ in range(40_000)], dtype=float), _dlap_var(1.0 / p.eps2))


# -- counters: the measured noise variance against the guarantee's implied minimum -------------------------------


NAMES = ["binary-tree", "honaker", "smooth-binary", "square-root", "blt", "hybrid"]


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("sampler", ["exact", "float"])
def test_counter_noise_is_at_least_what_the_guarantee_needs(name, sampler):
    """Released vector C x + z: a rho-zCDP claim with L2 sensitivity Delta (brute force over the dense C, largest
    column norm times the item range, per row noise scale s_r) needs sum_r (Delta_r / s_r)^2 <= 2 rho, i.e. with
    equal rows s^2 >= Delta^2 / (2 rho).  Measure s^2 from the noise at step 1: Var(answer_1 - x_1) = s^2 b_(1,r)^2
    summed over the rows r that step 1 reads."""
    T, R = 16, 20_000
    c = counters.make(
        name, horizon=None if name == "hybrid" else T, privacy=zCDP(0.5), dim=R, seed=7, sampler=sampler, block=16
    )
    g = c.guarantee
    B, C = c.process.strategy(T)
    eta1 = c.update_many(np.zeros((T, R)))[0]  # zero data: the answer is the noise
    if name == "hybrid":
        var_rows = c.process.row_var  # per-row variances: check the step-1 row against its own calibration
        r = int(np.flatnonzero(B[0])[0])
        # rows of log block [1,1] have sensitivity 1 and get rho/2: s^2 >= 1 / (2 rho/2)
        need = R / (2 * g.rho / 2)  # a record of R coordinates: squared sensitivity R
        assert var_rows[r] >= need * (1 - 1e-6)
        _var_check(eta1, need * float(B[0] @ B[0]))
        return
    delta2 = float((C**2).sum(axis=0).max())  # (max column L2 norm)^2, items in [0, 1]
    need = R * delta2 / (2 * g.rho)  # minimum s^2 per released coordinate (a record of R coordinates)
    _var_check(eta1, need * float(B[0] @ B[0]))


@pytest.mark.parametrize("name", ["binary-tree", "honaker", "smooth-binary"])
def test_laplace_counter_noise_is_at_least_what_epsilon_needs(name):
    """Pure epsilon: every released coordinate needs Laplace scale >= Delta_1 / epsilon (Delta_1 the largest
    column L1 norm of C); step 1 reads the single leaf node (Honaker: weighted by w_0 = 1)."""
    T, R = 16, 20_000
    c = counters.make(name, horizon=T, privacy=EpsDP(1.0), dim=R, seed=7, block=16)
    B, C = c.process.strategy(T)
    delta1 = float(np.abs(C).sum(axis=0).max())
    q = c.process.quantum  # the noise is discrete Laplace in lattice steps: scale >= R Delta_1 / (eps q) steps
    need = _dlap_var(R * delta1 / (c.guarantee.epsilon * q)) * q**2
    _var_check(c.update_many(np.zeros((T, R)))[0], need * float(B[0] @ B[0]))


# -- the audit itself: false flags at a moderate alpha ---------------------------------------------------------------


def test_audit_false_flag_rate_at_moderate_alpha():
    """At alpha = 0.2 the audit of a correct mechanism may flag it with probability <= alpha.  The alpha is split
    over two directions and two bounds each; dropping that split (alpha/4 -> alpha) makes the false-flag rate of a
    mechanism that is exactly as private as it claims (randomized response at its own epsilon) far larger."""

    class RR:
        """Randomized response on one bit, claimed eps-DP exactly: the audit's best case for a false flag."""

        def __init__(self, seed, eps=1.0):
            self.rng = np.random.default_rng(seed)
            self.eps = eps
            from dpstream.accounting import Guarantee

            self.guarantee = Guarantee(rho=eps**2 / 2, epsilon=eps)

        def update_many(self, xs):
            x = np.asarray(xs, dtype=float)
            keep = self.rng.random(x.shape) < math.exp(self.eps) / (1 + math.exp(self.eps))
            return np.where(keep, x, 1 - x)

    alpha, trials = 0.2, 60
    flags = 0
    for s in range(trials):
        r = audit(
            lambda seed: RR(seed),
            [1.0],
            [0.0],
            runs=400,
            delta=0.0,
            alpha=alpha,
            score=lambda a, t: float(a[t]),
            seed=s,
        )
        flags += r.flagged
    # at most alpha in expectation; the binomial limit at 1e-6
    assert flags <= stats.binom.isf(1e-6, trials, alpha), flags


def test_audit_spends_alpha_over_two_directions_and_two_bounds():
    """The alpha split itself, exactly: with perfectly separated scores the bound is log(tpr_lo / fpr_hi) with
    both one-sided Clopper-Pearson bounds at alpha / 4 (two directions x two bounds).  Dropping the split gives a
    larger bound, which is what makes the false-flag rate exceed alpha."""
    from dpstream.audit import epsilon_lower_bound

    n, alpha = 400, 0.2
    eps, _ = epsilon_lower_bound(np.ones(n), np.zeros(n), delta=0.0, alpha=alpha)
    a = alpha / 4
    m = n // 2  # evaluated on the held-out half
    tpr_lo = a ** (1 / m)  # all m successes: the lower bound solves p^m = a
    fpr_hi = 1 - a ** (1 / m)  # no successes: the upper bound solves (1 - p)^m = a
    assert eps == pytest.approx(math.log(tpr_lo / fpr_hi), rel=1e-9)
