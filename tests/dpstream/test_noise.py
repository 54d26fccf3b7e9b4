"""Exact discrete samplers: distribution against the exact pmf, exact Bernoulli(exp(-x)), seeds, restartability."""

import math

import numpy as np
import pytest
from scipy import stats

from dpstream import noise
from dpstream.base import InvalidParameter
from dpstream.noise import DiscreteGaussian, DiscreteLaplace, bernoulli_exp, make_entropy, make_rng

P_MIN = 1e-6  # seeded tests: a correct sampler fails with probability 1e-6 per check over random seeds


def _pmf_gauss(sigma2, ks):
    big = np.arange(-int(60 * math.sqrt(sigma2)) - 20, int(60 * math.sqrt(sigma2)) + 21)
    z = np.exp(-(big.astype(float) ** 2) / (2 * sigma2)).sum()
    return np.exp(-(ks.astype(float) ** 2) / (2 * sigma2)) / z


def _pmf_lap(scale, ks):
    p = math.exp(-1 / scale)
    return (1 - p) / (1 + p) * np.exp(-np.abs(ks) / scale)


def _chi2_pvalue(samples, pmf):
    """Chi-square goodness of fit on the integers with expected count >= 5 per cell (tails pooled)."""
    n = samples.size
    lo, hi = int(samples.min()), int(samples.max())
    ks = np.arange(lo - 1, hi + 2)
    probs = pmf(ks)
    keep = probs * n >= 5
    kk = ks[keep]
    obs = np.array([(samples == k).sum() for k in kk], dtype=float)
    exp = probs[keep] * n
    obs = np.append(obs, n - obs.sum())
    exp = np.append(exp, n - exp.sum())
    mask = exp > 0
    return stats.chisquare(obs[mask], exp[mask] * obs[mask].sum() / exp[mask].sum()).pvalue


@pytest.mark.parametrize("method", ["compiled", "numpy"])
@pytest.mark.parametrize("sigma2", [0.3, 2.0, 10.5, 1000.0])
def test_discrete_gaussian_matches_exact_pmf(method, sigma2):
    g = DiscreteGaussian(sigma2)
    x = g.sample(make_rng(11), 100_000, method=method)
    s2 = float(g.sigma2)
    assert _chi2_pvalue(x, lambda ks: _pmf_gauss(s2, ks)) > P_MIN
    # mean 0 and variance = exact variance (z-tests at 5 sigma)
    assert abs(x.mean()) < 5 * math.sqrt(g.variance / x.size)
    sq = x.astype(float) ** 2
    assert abs(sq.mean() - g.variance) < 5.5 * sq.std() / math.sqrt(x.size)


@pytest.mark.parametrize("method", ["compiled", "numpy"])
@pytest.mark.parametrize("scale", [0.4, 1.0, 3.7, 50.0])
def test_discrete_laplace_matches_exact_pmf(method, scale):
    d = DiscreteLaplace(scale)
    x = d.sample(make_rng(12), 100_000, method=method)
    b = float(d.scale)
    assert _chi2_pvalue(x, lambda ks: _pmf_lap(b, ks)) > P_MIN
    assert abs(x.mean()) < 5 * math.sqrt(d.variance / x.size)


def test_parameters_round_up_never_down():
    for s2 in [0.01, 0.3, 1.0, 10.5, 12345.678, 1.1e7]:
        g = DiscreteGaussian(s2)
        assert float(g.sigma2) >= s2
        assert float(g.sigma2) <= s2 * (1 + 2**-11)  # 12 significant bits, rounded up
    for b in [0.01, 0.5, 3.3, 1e6]:
        d = DiscreteLaplace(b)
        assert float(d.scale) >= b
        assert float(d.scale) <= b * (1 + 1e-6)


def test_discrete_gaussian_variance_below_sigma2_for_small_sigma():
    g = DiscreteGaussian(0.3)
    assert g.variance < float(g.sigma2)
    assert DiscreteGaussian(9.0).variance == pytest.approx(9.0, rel=1e-12)


@pytest.mark.parametrize("num,den", [(0, 5), (1, 3), (2, 3), (3, 3), (7, 2), (123, 100)])
def test_bernoulli_exp_frequencies(num, den):
    n = 200_000
    hits = int(bernoulli_exp(make_rng(5), np.full(n, num), den).sum())
    p = math.exp(-num / den)
    pv = stats.binomtest(hits, n, p).pvalue
    assert pv > P_MIN


def test_bigint_bernoulli_path():
    rng = make_rng(9)
    den = 10**30 + 7
    num = den // 2  # exp(-0.5)
    n = 4000
    hits = sum(noise._bern_exp_bigint(rng, num, den) for _ in range(n))
    assert stats.binomtest(hits, n, math.exp(-0.5)).pvalue > P_MIN
    assert noise._bern_exp_bigint(rng, 0, den) is True


def test_kernel_restart_consumes_the_same_word_stream():
    """Feeding the word stream in small pieces (restart at the unfinished sample) gives the same samples as one
    big buffer: no sample is dropped or biased by running out of words."""
    w = noise._words(make_rng(3), 50_000)
    t, s = 4, 1
    out_all = np.empty(1500, dtype=np.int64)
    filled, _ = noise._k_dlap(w, t, s, out_all, 0)
    assert filled == 1500
    out = np.empty(1500, dtype=np.int64)
    filled, buf = 0, w[:37]
    nxt = 37
    while filled < 1500:
        filled, pos = noise._k_dlap(buf, t, s, out, filled)
        buf = np.concatenate((buf[pos:], w[nxt : nxt + 37]))
        nxt += 37
    np.testing.assert_array_equal(out, out_all)


def test_seeds_reproduce_and_os_entropy_differs():
    g = DiscreteGaussian(4.0)
    a = g.sample(make_rng(7), 1000)
    b = g.sample(make_rng(7), 1000)
    c = g.sample(make_rng(8), 1000)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)
    assert make_entropy(None) != make_entropy(None)
    assert make_entropy(None).bit_length() > 64
    with pytest.raises(InvalidParameter):
        make_entropy(-1)
    with pytest.raises(InvalidParameter):
        make_entropy(1.5)


@pytest.mark.parametrize("bad", [0, -1.0, float("nan"), float("inf"), "x"])
def test_invalid_parameters(bad):
    with pytest.raises(InvalidParameter):
        DiscreteGaussian(bad)
    with pytest.raises(InvalidParameter):
        DiscreteLaplace(bad)


def test_shapes_and_method_choice():
    g = DiscreteGaussian(2.0)
    assert g.sample(make_rng(1), (3, 4)).shape == (3, 4)
    assert g.sample(make_rng(1), 0).shape == (0,)
    with pytest.raises(InvalidParameter):
        g.sample(make_rng(1), 3, method="float")


def test_tiny_gaussian_variance_is_a_typed_error_not_an_overflow():
    import pytest as _pytest

    from dpstream.base import InvalidParameter
    from dpstream.noise import DiscreteGaussian

    with _pytest.raises(InvalidParameter, match="too small"):
        DiscreteGaussian(5e-15)
    DiscreteGaussian(1e-6)  # still fine
