"""Empirical audits: correct counters never exceed their claimed epsilon; deliberately broken ones are flagged.

Audits of correct mechanisms use alpha = 1e-6 (a correct mechanism is flagged with probability <= 1e-6 over the
seeds); broken ones are flagged at that same confidence."""

import math

import numpy as np
import pytest
from scipy import stats

from dpstream import audit, counters
from dpstream.base import InvalidParameter
from dpstream.counters import EpsDP, zCDP
from dpstream.counters._core import LinearCounter
from dpstream.counters._trees import BinaryTreeProcess
from dpstream.noise import DiscreteLaplace, make_rng

ALPHA = 1e-6


def test_clopper_pearson_matches_scipy_exact_interval():
    for k, n in [(0, 50), (3, 50), (25, 50), (50, 50), (7, 1000)]:
        lo, hi = audit.clopper_pearson(k, n, 0.025)
        ci = stats.binomtest(k, n).proportion_ci(confidence_level=0.95, method="exact")
        assert lo == pytest.approx(ci.low, abs=1e-9)
        assert hi == pytest.approx(ci.high, abs=1e-9)
    with pytest.raises(InvalidParameter):
        audit.clopper_pearson(5, 3, 0.05)


def test_lower_bound_is_sound_and_has_power_on_a_known_mechanism():
    """Laplace(1/eps) shift: the true privacy loss is exactly eps = 1.5."""
    rng = np.random.default_rng(0)
    eps = 1.5
    a = rng.laplace(1.0, 1 / eps, 40000)
    b = rng.laplace(0.0, 1 / eps, 40000)
    lb, det = audit.epsilon_lower_bound(a, b, alpha=ALPHA)
    assert 0.8 * eps < lb <= eps
    same, _ = audit.epsilon_lower_bound(b[:20000], b[20000:], alpha=ALPHA)
    assert same < 0.3


# ------------------------------------------------------------------------------------------------------------
# deliberately broken counters (negative controls)
# ------------------------------------------------------------------------------------------------------------


class _PerColumnTreeProcess(BinaryTreeProcess):
    """BUG: noise calibrated per column (sensitivity of one coordinate) instead of per record."""

    def _setup(self):
        d, self.dim = self.dim, 1
        super()._setup()
        self.dim = d


class PerColumnTree(LinearCounter):
    name = "broken-per-column-tree"
    process_cls = _PerColumnTreeProcess


class LaplaceEveryPrefix:
    """BUG: fresh Laplace(1/epsilon) on every prefix sum, claiming epsilon (it is T * epsilon)."""

    def __init__(self, T, epsilon, seed):
        self.T, self.eps, self.rng = T, epsilon, make_rng(seed)
        self.dist = DiscreteLaplace(1.0 / epsilon * 8)  # lattice 1/8: scale 8/eps steps = 1/eps
        self.guarantee = counters.Guarantee(rho=epsilon**2 / 2, epsilon=epsilon, seeded=True)

    def update_many(self, xs):
        return np.cumsum(xs) + self.dist.sample(self.rng, len(xs)) / 8


T = 8
X = np.array([1, 0, 1, 1, 0, 1, 0, 0], dtype=float)
XP = X.copy()
XP[1] = 1.0  # neighbour: the item at step 2 flipped


@pytest.mark.parametrize("name", ["binary-tree", "honaker", "smooth-binary", "hybrid"])
def test_correct_pure_dp_counters_pass_the_audit(name):
    horizon = None if name == "hybrid" else T

    def make(seed):
        return counters.make(name, horizon=horizon, privacy=EpsDP(1.0), seed=seed, block=8)

    res = audit.audit(make, X, XP, runs=3000, seed=1, alpha=ALPHA)
    assert not res.flagged
    assert res.epsilon_lb <= res.claimed_epsilon == pytest.approx(1.0, rel=1e-5)


@pytest.mark.parametrize("name", ["binary-tree", "square-root", "blt"])
def test_correct_gaussian_counters_pass_the_audit(name):
    def make(seed):
        return counters.make(name, horizon=T, privacy=zCDP(0.5), seed=seed, block=8)

    res = audit.audit(make, X, XP, runs=2000, delta=1e-5, seed=2, alpha=ALPHA)
    assert not res.flagged
    claimed = counters.make(name, horizon=T, privacy=zCDP(0.5)).guarantee.approx_dp(1e-5)
    assert res.claimed_epsilon == pytest.approx(claimed)


@pytest.mark.slow
def test_per_column_tree_is_flagged():
    """Gaussian tree calibrated per column with d = 64: its true mu is 8x the claimed one.  The change sits at
    step 1 of T = 4, whose released nodes [1], [1,2], [1,4] are read off the answers at steps 1, 2 and 4."""
    d, T4 = 64, 4
    x = np.zeros((T4, d))
    xp = x.copy()
    xp[0] = 1.0

    def score(a, t):
        return float(a[[0, 1, 3]].sum())

    def make(seed):
        return PerColumnTree(T4, zCDP(0.05), dim=d, seed=seed, block=8)

    res = audit.audit(make, x, xp, runs=3000, delta=1e-5, seed=3, score=score, alpha=ALPHA)
    assert res.flagged, res

    def make_ok(seed):
        return counters.make("binary-tree", horizon=T4, privacy=zCDP(0.05), dim=d, seed=seed, block=8)

    ok = audit.audit(make_ok, x, xp, runs=3000, delta=1e-5, seed=3, score=score, alpha=ALPHA)
    assert not ok.flagged


def test_laplace_on_every_prefix_is_flagged():
    x = np.zeros(32)
    xp = x.copy()
    xp[0] = 1.0
    res = audit.audit(lambda s: LaplaceEveryPrefix(32, 0.5, s), x, xp, runs=3000, seed=4, alpha=ALPHA)
    assert res.flagged and res.epsilon_lb > 1.0


def test_audit_rejects_bad_setups():
    def make(seed):
        return counters.make("binary-tree", horizon=T, privacy=EpsDP(1.0), seed=seed)

    with pytest.raises(InvalidParameter, match="exactly one step"):
        audit.audit(make, X, X, runs=100)
    with pytest.raises(InvalidParameter):
        audit.audit(make, X, XP[:4], runs=100)
    with pytest.raises(InvalidParameter, match="delta"):
        audit.audit(lambda s: counters.make("blt", horizon=T, privacy=zCDP(1.0), seed=s), X, XP, runs=100)
    assert math.isfinite(audit.default_score(np.arange(5.0), 2))


def _greedy_adversary(answers, t):
    """Chooses each item from the answers so far: 1 while the running answer looks low, else 0."""
    if not answers:
        return 1.0
    return 1.0 if answers[-1] < (t + 1) / 2 else 0.0


@pytest.mark.parametrize("name", ["binary-tree", "honaker"])
def test_adaptive_adversary_does_not_break_the_guarantee(name):
    def make(seed):
        return counters.make(name, horizon=T, privacy=EpsDP(1.0), seed=seed, block=8)

    res = audit.adaptive_audit(make, _greedy_adversary, T, t_star=1, pair=(0.0, 1.0), runs=2000, seed=5, alpha=ALPHA)
    assert not res.flagged


def test_adaptive_audit_flags_a_broken_counter():
    def make(seed):
        return LaplaceEveryPrefixStream(32, 0.5, seed)

    res = audit.adaptive_audit(make, _greedy_adversary, 32, t_star=0, pair=(0.0, 1.0), runs=1500, seed=6, alpha=ALPHA)
    assert res.flagged


class LaplaceEveryPrefixStream(LaplaceEveryPrefix):
    """The broken mechanism with a per-item interface."""

    def __init__(self, T, epsilon, seed):
        super().__init__(T, epsilon, seed)
        self.s = 0.0

    def update(self, x):
        self.s += x
        return self.s + float(self.dist.sample(self.rng, 1)[0]) / 8
