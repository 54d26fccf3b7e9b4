"""Accounting: conversions against reference values, consistency, composition and budgets."""

import math

import pytest
from scipy import stats

from dpstream.accounting import (
    Accountant,
    EpsDP,
    Guarantee,
    as_privacy,
    compose,
    gaussian_delta,
    gaussian_epsilon,
    zCDP,
    zcdp_to_approx,
    zcdp_to_approx_bs16,
)
from dpstream.base import BudgetExceeded, InvalidParameter

# (rho, delta, exact GDP epsilon, Bun-Steinke bound): reference table of the design notes (computed numerically)
TABLE = [(0.5, 1e-5, 4.377, 5.299), (0.5, 1e-6, 4.887, 5.757), (1.0, 1e-6, 7.286, 8.434), (0.81, 1e-10, 8.549, 9.447)]


@pytest.mark.parametrize("rho,delta,gdp,bs16", TABLE)
def test_reference_conversions(rho, delta, gdp, bs16):
    assert gaussian_epsilon(delta, math.sqrt(2 * rho)) == pytest.approx(gdp, abs=1e-3)
    assert zcdp_to_approx_bs16(rho, delta) == pytest.approx(bs16, abs=1e-3)
    # the tight zCDP conversion lies between the exact Gaussian curve and the classical bound
    e = zcdp_to_approx(rho, delta)
    assert gdp <= e <= bs16


def test_tf_privacy_regression_value():
    # TF Privacy's tree accountant test expects about 8.92 for rho = 0.81, delta = 1e-10 (RDP conversion)
    assert zcdp_to_approx(0.81, 1e-10) == pytest.approx(8.92, abs=0.01)


def test_gaussian_delta_is_the_exact_curve():
    mu = 1.3
    for eps in [0.0, 0.5, 2.0, 5.0]:
        direct = stats.norm.cdf(-eps / mu + mu / 2) - math.exp(eps) * stats.norm.cdf(-eps / mu - mu / 2)
        assert gaussian_delta(eps, mu) == pytest.approx(direct, rel=1e-9, abs=1e-300)
    for delta in [1e-3, 1e-6, 1e-9]:
        assert gaussian_delta(gaussian_epsilon(delta, mu), mu) == pytest.approx(delta, rel=1e-6)
    assert gaussian_delta(1000.0, 0.5) == 0.0  # no overflow for huge epsilon


def test_guarantee_conversions_and_composition():
    g = Guarantee(rho=0.5, mu=1.0)
    assert g.approx_dp(1e-6) == pytest.approx(gaussian_epsilon(1e-6, 1.0))
    p = Guarantee(rho=0.125, epsilon=0.5)
    assert p.approx_dp(1e-6) == 0.5
    c = compose(g, g, g)
    assert c.rho == pytest.approx(1.5)
    assert c.mu == pytest.approx(math.sqrt(3))
    assert c.epsilon is None
    pp = compose(p, p)
    assert pp.epsilon == pytest.approx(1.0)
    assert pp.rho == pytest.approx(0.25)
    seeded = compose(p, Guarantee(rho=0.1, seeded=True))
    assert seeded.seeded and seeded.mu is None
    assert "SEEDED" in str(seeded)
    assert Guarantee.from_dict(g.to_dict()) == g


def test_accountant_refuses_to_overspend():
    acc = Accountant(rho=1.0)
    acc.spend(Guarantee(rho=0.6))
    with pytest.raises(BudgetExceeded, match="exceed the budget"):
        acc.spend(Guarantee(rho=0.5))
    total = acc.spend(Guarantee(rho=0.4))
    assert total.rho == pytest.approx(1.0)


@pytest.mark.parametrize("bad", [0, -0.5, float("nan"), float("inf"), "a", None])
def test_privacy_specs_reject_bad_values(bad):
    with pytest.raises(InvalidParameter):
        zCDP(bad)
    with pytest.raises(InvalidParameter):
        EpsDP(bad)


def test_as_privacy():
    assert as_privacy({"rho": 0.5}) == zCDP(0.5)
    assert as_privacy({"epsilon": 1}) == EpsDP(1.0)
    with pytest.raises(InvalidParameter, match="zCDP"):
        as_privacy(0.5)
    with pytest.raises(InvalidParameter):
        gaussian_epsilon(0.0, 1.0)
    with pytest.raises(InvalidParameter):
        compose()
