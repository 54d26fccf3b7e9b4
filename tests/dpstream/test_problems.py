"""MaxSum / SumSelect mechanisms: exactness, calibration, error bounds, persistence, typed errors."""

from __future__ import annotations

import itertools
import json
import math

import numpy as np
import pytest
from scipy import stats

from dpstream import counters
from dpstream import problems as P
from dpstream.counters._core import laplace_sum_tail
from dpstream.noise import DiscreteLaplace, make_rng
from dpstream.problems.svt import _noise_bounds
from dpstream.problems.tree import tree_levels


def _maxsum(X):
    return np.cumsum(X, axis=0).max(axis=1)


def _gap(X, sel):
    S = np.cumsum(X, axis=0)
    return S.max(axis=1) - S[np.arange(len(sel)), sel]


# ---------------------------------------------------------------------------------------------- exactness ---
@pytest.mark.parametrize("priv", [{"rho": 0.5}, {"epsilon": 1.0}])
def test_tree_is_the_core_d_dimensional_counter_then_max(priv):
    """(A) is max / argmax over the core's d-dimensional binary-tree counter, calibrated per record of {0,1}^d
    (the counter's own dyadic decomposition and variances are tested in test_counters), batch-invariant."""
    T, d = 37, 3
    rng = np.random.default_rng(0)
    X = rng.integers(0, 2, size=(T, d))
    privacy = counters.zCDP(**priv) if "rho" in priv else counters.EpsDP(**priv)
    ref = counters.make("binary-tree", horizon=T, privacy=privacy, dim=d, seed=11, granularity=1.0)
    want = ref.update_many(X.astype(float))
    m = P.MaxSumTree(horizon=T, dim=d, seed=11, **priv)
    got = np.concatenate([m.update_many(X[:5]), [m.update(X[5])], m.update_many(X[6:])])
    np.testing.assert_array_equal(got, want.max(axis=1))
    s = P.SumSelectTree(horizon=T, dim=d, seed=11, **priv)
    np.testing.assert_array_equal(s.update_many(X), want.argmax(axis=1))
    assert m.guarantee == ref.guarantee and m.guarantee.seeded
    assert m.error_bound(0.05) == ref.error_bound(0.05) and s.error_bound(0.05) == 2 * ref.error_bound(0.05)
    assert np.all(want == np.round(want))  # exact integer noise by default (no floating-point sampler)


def test_tree_nearly_noise_free_is_exact():
    rng = np.random.default_rng(0)
    X = rng.integers(0, 2, size=(200, 4))
    # exact discrete Gaussian with σ² ≈ 1e-5: every node noise is 0 w.p. 1 - e^{-5e4}
    m = P.MaxSumTree(horizon=200, dim=4, rho=1e6, seed=1)
    np.testing.assert_allclose(m.update_many(X), _maxsum(X), atol=1e-3)
    s = P.SumSelectTree(horizon=200, dim=4, rho=1e6, seed=1)
    assert np.all(_gap(X, s.update_many(X)) == 0)


def test_svt_nearly_noise_free_lags_at_most_tau():
    rng = np.random.default_rng(1)
    X = rng.integers(0, 2, size=(500, 3))
    m = P.MaxSumSVT(horizon=500, dim=3, rho=1e12, seed=2)
    err = np.abs(m.update_many(X) - _maxsum(X))
    assert m.params.tau <= 3 and err.max() <= m.params.tau
    assert err.max() <= m.error_bound(0.05)


# ------------------------------------------------------------------------------------------- sensitivity ---
def test_bruteforce_query_sensitivity_small_streams():
    """All neighbouring pairs (one record replaced) for T=3, d=2: MaxSum moves <= 1, the gap <= 2."""
    recs = [np.array(r) for r in itertools.product([0, 1], repeat=2)]
    worst_q, worst_g = 0, 0
    for stream in itertools.product(range(4), repeat=3):
        X = np.array([recs[i] for i in stream])
        for pos, new in itertools.product(range(3), range(4)):
            Y = X.copy()
            Y[pos] = recs[new]
            worst_q = max(worst_q, np.abs(_maxsum(X) - _maxsum(Y)).max())
            for sel in range(2):
                s = np.full(3, sel)
                worst_g = max(worst_g, np.abs(_gap(X, s) - _gap(Y, s)).max())
    assert worst_q == 1 and worst_g == 2  # attained, and not exceeded


# ------------------------------------------------------------------------------------- variance / scales ---
def test_tree_per_step_variance_matches_popcount_closed_form():
    """Column noise variance at t = popcount(t)·σ², σ² = dL/(2ρ) rounded up (by <= 0.025%) to the exact
    discrete Gaussian's rational σ²: chi-square, Bonferroni over t (α = 1e-6)."""
    T, d, rho = 16, 4000, 0.7
    m = P.MaxSumTree(horizon=T, dim=d, rho=rho, seed=5)
    noise = m.noisy_sums(np.zeros((T, d), dtype=np.int64))
    L = tree_levels(T)
    alpha = 1e-6 / T
    for t in range(1, T + 1):
        var = bin(t).count("1") * m.node_scale**2
        assert m.node_scale**2 == pytest.approx(d * L / (2 * rho), rel=3e-4)
        stat = (d - 1) * noise[t - 1].var(ddof=1) / var
        assert stats.chi2.ppf(alpha / 2, d - 1) < stat < stats.chi2.ppf(1 - alpha / 2, d - 1), t


def test_broken_calibration_flag_changes_scale_by_sqrt_d():
    class PerColumn(P.MaxSumTree):
        _per_column_calibration = True

    good = P.MaxSumTree(horizon=64, dim=25, rho=0.5, seed=0)
    bad = PerColumn(horizon=64, dim=25, rho=0.5, seed=0)
    assert good.node_scale == pytest.approx(5 * bad.node_scale, rel=3e-4)  # σ² rounded up to a rational
    assert good.guarantee.rho <= 0.5 and bad.guarantee.rho == 0.5  # the broken one claims what it lacks


def test_laplace_sum_tail_is_a_valid_bound():
    """The core's Chernoff bound used by the ε-DP tree error bound, against the core's exact sampler."""
    scale, k, beta = 3.0, 5, 0.01
    x = laplace_sum_tail([(1.0, scale, k)], beta, 1)
    sums = DiscreteLaplace(scale).sample(make_rng(3), (200_000, k)).sum(axis=1)
    freq = np.mean(np.abs(sums) > x)
    assert freq <= beta  # a valid bound (Chernoff: actual tail well below β)
    assert np.mean(np.abs(sums) > x / 3) > beta  # ... and not vacuous


def test_exponential_mechanism_reselection_distribution():
    m = P.SumSelectSVT(horizon=10, dim=4, rho=0.5, seed=9)
    sums = np.array([0, 1, 3, 3])
    n = 40_000
    picks = np.array([m._reselect(sums) for _ in range(n)])
    w = np.exp(m.params.eps2 * sums / 2.0)
    expected = n * w / w.sum()
    obs = np.bincount(picks, minlength=4)
    assert stats.chisquare(obs, expected).pvalue > 1e-6


# ------------------------------------------------------------------------------------------ calibration ---
@pytest.mark.parametrize("problem", ["maxsum", "sumselect"])
@pytest.mark.parametrize("priv", [{"rho": 0.5}, {"epsilon": 1.0}])
def test_svt_calibration_is_self_consistent(problem, priv):
    T, d = 5000, 20
    p = P.svt_parameters(problem, T, P.zCDP(**priv) if "rho" in priv else P.EpsDP(**priv), 0.05, d)
    nt, nq, nr = _noise_bounds(problem, T, d, p.k, p.eps1, p.eps2, 0.05)
    assert p.tau > nt + nq + nr  # every "above" needs a positive true increase
    assert p.k >= math.ceil(T / (p.tau - (nt + nq + nr)))  # k rounds suffice
    assert p.eps1 + p.eps2 == pytest.approx(p.eps0)
    if "rho" in priv:
        assert p.k * p.eps0**2 / 2 == pytest.approx(priv["rho"])  # composition spends exactly ρ
    else:
        assert p.k * p.eps0 == pytest.approx(priv["epsilon"])


def test_svt_error_scales_like_cube_root_of_T():
    b = [P.MaxSumSVT(horizon=T, rho=0.5).error_bound(0.05) for T in (2**10, 2**20)]
    slope = math.log(b[1] / b[0]) / math.log(2**10)
    assert 1 / 3 <= slope <= 0.45  # T^{1/3} times a (log T)^{2/3} factor


def test_combined_picks_the_smaller_bound():
    small_d = P.make("maxsum", horizon=2**16, dim=2, rho=0.5)
    big_d = P.make("maxsum", horizon=2**16, dim=20000, rho=0.5)
    assert small_d.kind == "tree" and big_d.kind == "svt"
    bounds = P.candidate_bounds("maxsum", horizon=2**16, dim=20000, rho=0.5)
    assert big_d.error_bound(0.05) == pytest.approx(min(bounds.values()))
    tiny = P.make("sumselect", horizon=64, dim=5000, rho=0.01)
    assert tiny.kind == "trivial" and tiny.error_bound() == 64


# ------------------------------------------------------------------------------- error bounds hold at β ---
def _runs(make, X, truth, R):
    errs, rounds = [], []
    for r in range(R):
        m = make(r)
        y = m.update_many(X)
        errs.append(np.abs(truth(X, y) if callable(truth) else y - truth).max())
        rounds.append(getattr(m, "rounds", 0))
    return np.array(errs), m, rounds


def test_error_bounds_hold_in_repeated_runs():
    """β = 0.05, 30 seeded runs each: P(Bin(30, 0.05) >= 7) < 2e-4, and the bounds are not vacuous."""
    T, d, R, beta = 2048, 8, 30, 0.05
    rng = np.random.default_rng(42)
    X = (rng.random((T, d)) < np.linspace(0.2, 0.8, d)).astype(np.int64)
    worst = np.ones((T, 1), dtype=np.int64)
    cases = [
        (lambda s: P.MaxSumSVT(horizon=T, dim=1, rho=0.5, seed=s), worst, _maxsum(worst)),
        (lambda s: P.MaxSumSVT(horizon=T, dim=d, epsilon=2.0, seed=s), X, _maxsum(X)),
        (lambda s: P.MaxSumTree(horizon=T, dim=d, rho=0.5, seed=s), X, _maxsum(X)),
        (lambda s: P.MaxSumTree(horizon=T, dim=d, epsilon=1.0, seed=s), X, _maxsum(X)),
        (lambda s: P.SumSelectSVT(horizon=T, dim=d, rho=0.5, seed=s), X, lambda X, y: _gap(X, y)),
        (lambda s: P.SumSelectTree(horizon=T, dim=d, rho=0.5, seed=s), X, lambda X, y: _gap(X, y)),
    ]
    for make, stream, truth in cases:
        errs, m, rounds = _runs(make, stream, truth, R)
        bound = m.error_bound(beta)
        assert np.sum(errs > bound) <= 6, type(m).__name__
        assert errs.max() > bound / 12, (type(m).__name__, errs.max(), bound)  # bound is not absurdly loose
        if hasattr(m, "params"):
            assert max(rounds) <= m.params.k


# ----------------------------------------------------------------------------------- batching, persistence ---
ALL = [
    lambda s: P.MaxSumSVT(horizon=300, dim=3, rho=2.0, seed=s),
    lambda s: P.SumSelectSVT(horizon=300, dim=3, rho=2.0, seed=s),
    lambda s: P.MaxSumTree(horizon=300, dim=3, rho=2.0, seed=s),
    lambda s: P.SumSelectTree(horizon=300, dim=3, epsilon=2.0, seed=s),
    lambda s: P.make("maxsum", "trivial", horizon=300, dim=3, rho=1.0, seed=s),
]


@pytest.mark.parametrize("make", ALL)
def test_update_and_update_many_agree(make):
    X = (np.random.default_rng(7).random((300, 3)) < [0.3, 0.5, 0.7]).astype(np.int64)
    a, b = make(3), make(3)
    ya = a.update_many(X)
    yb = [b.update(X[0])] + list(b.update_many(X[1:150])) + [b.update(x) for x in X[150:160]]
    yb += list(b.update_many(X[160:]))
    np.testing.assert_array_equal(ya, np.array(yb))


@pytest.mark.parametrize("make", ALL)
def test_restore_after_save_continues_identically(make):
    X = (np.random.default_rng(8).random((300, 3)) < [0.3, 0.5, 0.7]).astype(np.int64)
    ref = make(4).update_many(X)
    cuts = sorted(np.random.default_rng(9).choice(np.arange(1, 300), size=4, replace=False))
    m, outs, prev = make(4), [], 0
    for c in [*cuts, 300]:
        outs.append(m.update_many(X[prev:c]))
        prev = c
        if c < 300:
            m = P.from_state_dict(json.loads(json.dumps(m.state_dict())), trusted=True)
    np.testing.assert_array_equal(np.concatenate(outs), ref)
    with pytest.raises(P.HorizonExceeded):
        m.update(X[0])


def test_unseeded_restore_keeps_state_and_guarantee():
    m = P.MaxSumSVT(horizon=100, dim=2, rho=0.5)
    m.update_many(np.ones((40, 2), dtype=int))
    st = m.state_dict()
    assert st["rng"] is None  # OS randomness is never serialised
    r = P.from_state_dict(st, trusted=True)
    assert (r.t, r.value, r.rounds, r.threshold) == (m.t, m.value, m.rounds, m.threshold)
    assert r.guarantee == m.guarantee and not r.guarantee.seeded
    assert len(r.update_many(np.ones((60, 2), dtype=int))) == 60


def test_guarantee_reports_seeded_and_budget():
    g = P.MaxSumSVT(horizon=10, rho=0.3, seed=1).guarantee
    assert isinstance(g, P.Guarantee)
    assert g.rho == pytest.approx(0.3) and g.seeded and "SEEDED" in str(g)
    assert g.epsilon is not None and g.approx_dp(1e-6) <= g.epsilon
    g = P.MaxSumTree(horizon=10, dim=2, epsilon=2.0).guarantee
    assert isinstance(g, P.Guarantee)
    assert g.epsilon == pytest.approx(2.0, rel=1e-6) and g.epsilon <= 2.0 and g.rho == g.epsilon**2 / 2
    assert not g.seeded


# ------------------------------------------------------------------------------------------ typed errors ---
@pytest.mark.parametrize(
    "kwargs",
    [
        {"rho": 0},
        {"rho": -1},
        {"rho": float("nan")},
        {"epsilon": float("inf")},
        {},
        {"rho": 1, "epsilon": 1},
        {"rho": "a"},
    ],
)
def test_bad_privacy_raises_typed_error(kwargs):
    with pytest.raises(P.InvalidParameter):
        P.make("maxsum", horizon=10, dim=2, **kwargs)


def test_bad_parameters_and_inputs_raise_typed_errors():
    with pytest.raises(P.InvalidParameter):
        P.make("maxsum", horizon=0, dim=2, rho=1)
    with pytest.raises(P.InvalidParameter):
        P.make("maxsum", horizon=10, dim=2.5, rho=1)
    with pytest.raises(P.InvalidParameter):
        P.make("maxsum", "exp", horizon=10, dim=2, rho=1)
    with pytest.raises(P.InvalidParameter):
        P.make("median", horizon=10, dim=2, rho=1)
    with pytest.raises(P.InvalidParameter):
        P.MaxSumSVT(horizon=10, rho=1).error_bound(1.5)
    m = P.MaxSumTree(horizon=10, dim=3, rho=1, seed=0)
    for bad in ([0, 1], [0, 1, float("nan")], [0, 2, 1], [[0, 1, 1]], ["a", "b", "c"]):
        with pytest.raises(P.InvalidInput):
            m.update(bad)
    with pytest.raises(P.InvalidInput):
        m.update_many(np.ones((4, 2)))
    assert m.t == 0  # nothing was consumed by the rejected inputs
    m.update_many(np.ones((10, 3), dtype=bool))
    with pytest.raises(P.HorizonExceeded):
        m.update([1, 1, 1])
    with pytest.raises(P.StateError):
        P.from_state_dict({"type": "Nope"}, trusted=True)
    st = m.state_dict()
    st["t"] = 99
    with pytest.raises(P.StateError):
        P.from_state_dict(st, trusted=True)
    assert issubclass(P.InvalidParameter, P.DPError)


def test_tree_state_with_a_block_counter_inside_is_a_state_error():
    # regression: a (tampered) tree state whose inner counter is a release_every BlockCounter used to escape as an
    # AttributeError (BlockCounter has no .privacy) instead of the typed StateError
    m = P.MaxSumTree(horizon=16, dim=1, rho=1.0, seed=1)
    st = m.state_dict()
    st["counter"] = counters.make("binary-tree", 16, P.zCDP(1.0), release_every=4, seed=1).state_dict()
    with pytest.raises(P.StateError, match="counter does not match"):
        P.from_state_dict(st, trusted=True)
