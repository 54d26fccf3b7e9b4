"""Strict input types and the guarantee's domain (issue 11, item 7)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from dpstream import counters
from dpstream.accounting import Guarantee, compose
from dpstream.base import InvalidInput
from dpstream.counters import EpsDP, zCDP

NAMES = ["binary-tree", "honaker", "smooth-binary", "square-root", "blt", "hybrid"]


def _mk(name, dim=1, **kw):
    return counters.make(name, horizon=None if name == "hybrid" else 16, privacy=zCDP(1.0), seed=1, dim=dim, **kw)


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("bad", ["0.5", b"1", True, np.bool_(False), 1j, np.complex128(0.5)])
def test_strings_bools_and_complex_numbers_are_invalid_input(name, bad):
    c = _mk(name)
    with pytest.raises(InvalidInput):
        c.update(bad)
    with pytest.raises(InvalidInput):
        c.update_many([bad, bad])
    v = _mk(name, dim=2)
    with pytest.raises(InvalidInput):
        v.update([bad, bad])
    with pytest.raises(InvalidInput):
        v.update_many([[0.5, bad]])
    assert c.t == 0 and v.t == 0
    assert c.update(np.float32(0.5)) is not None and c.update(1) is not None and c.update(np.int64(0)) is not None


@pytest.mark.parametrize("name", NAMES)
def test_guarantee_states_its_domain_and_relation(name):
    c = _mk(name, dim=3, bounds=(-1.0, 2.0))
    g = c.guarantee
    assert g.domain == {"bounds": [-1.0, 2.0], "dim": 3, "clip": False}
    assert "[-1, 2]^3" in g.relation and "whole record" in g.relation
    back = Guarantee.from_dict(g.to_dict())
    assert back == g
    assert compose(g, g).domain == g.domain
    other = _mk(name, dim=1).guarantee
    assert compose(g, other).domain is None and compose(g, other).relation == "mixed"


def test_export_to_dp_accounting_events():
    dp_accounting = pytest.importorskip("dp_accounting")
    from dp_accounting.rdp import rdp_privacy_accountant

    g = _mk("binary-tree").guarantee
    ev = g.to_dp_event()
    assert isinstance(ev, dp_accounting.dp_event.ZCDpEvent) and ev.rho == g.rho
    acc = rdp_privacy_accountant.RdpAccountant()
    acc.compose(ev)
    assert acc.get_epsilon(1e-6) == pytest.approx(g.approx_dp(1e-6), rel=0.05)
    gf = _mk("blt", sampler="float").guarantee  # mu-GDP claimed: exported as the Gaussian mechanism
    ev = gf.to_dp_event()
    assert isinstance(ev, dp_accounting.dp_event.GaussianDpEvent)
    assert ev.noise_multiplier == pytest.approx(1 / gf.mu)
    # pure epsilon exports as zCDP(epsilon^2 / 2), never as a Laplace event (which would claim more)
    ge = counters.make("binary-tree", horizon=16, privacy=EpsDP(1.0), seed=1).guarantee
    assert isinstance(ge.to_dp_event(), dp_accounting.dp_event.ZCDpEvent)
    assert ge.to_dp_event().rho == pytest.approx(ge.epsilon**2 / 2)
    assert math.isfinite(ge.approx_dp(1e-6))
