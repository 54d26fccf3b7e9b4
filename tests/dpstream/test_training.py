"""DP-FTRL noise plans (dpstream.training): calibration, epsilon spent, sensitivity per mechanism against brute
force, batch order, persistence, and a cross-check of the accounting against dp_accounting where installed."""

import math

import numpy as np
import pytest

from dpstream.accounting import gaussian_epsilon, zCDP
from dpstream.base import InvalidInput, InvalidParameter, StateError
from dpstream.counters._trees import BinaryTreeProcess, HonakerProcess
from dpstream.counters.participation import Participation, toeplitz_sensitivity2
from dpstream.training import (
    DPFTRLNoise,
    calibrate_noise_multiplier,
    clip_and_sum,
    epsilon_for_noise_multiplier,
)


@pytest.mark.parametrize("eps", [0.5, 1.0, 2.0, 4.0, 8.0])
@pytest.mark.parametrize("delta", [1e-5, 1e-7])
def test_calibration_hits_the_target_exactly(eps, delta):
    nm = calibrate_noise_multiplier(eps, delta)
    assert epsilon_for_noise_multiplier(nm, delta) == pytest.approx(eps, rel=1e-9)
    for mech in ("blt", "tree", "honaker"):
        p = DPFTRLNoise(mech, 3, steps_per_epoch=7, epochs=3, clip_norm=2.0, target_epsilon=eps, delta=delta)
        assert p.epsilon_spent(t=p.steps) == pytest.approx(eps, rel=1e-9)
        assert p.guarantee.approx_dp(delta) == pytest.approx(eps, rel=1e-6)


def test_cross_check_with_dp_accounting():
    dpa = pytest.importorskip("dp_accounting")
    for eps in (1.0, 4.0, 8.0):
        nm = calibrate_noise_multiplier(eps, 1e-5)
        pld = dpa.pld.PLDAccountant(value_discretization_interval=1e-4)
        pld.compose(dpa.GaussianDpEvent(nm))
        assert pld.get_epsilon(1e-5) == pytest.approx(eps, abs=2e-3)  # PLD is exact up to discretization
        rdp = dpa.rdp.RdpAccountant()
        rdp.compose(dpa.GaussianDpEvent(nm))
        assert rdp.get_epsilon(1e-5) > eps  # RDP is an upper bound, looser than the exact conversion


def _brute_block_tree(proc, b, epochs, t):
    """Sensitivity^2 of the first t steps of per-epoch restarted trees (block-diagonal C), brute force over the
    fixed-order slots, releases = nodes completed by step t."""
    _, C = proc(b, zCDP(1.0), 1, (0.0, 1.0)).strategy(b)
    rows = []
    for e in range(epochs):
        for r in C:
            last = e * b + int(np.flatnonzero(r).max()) + 1  # the node completes at its last step
            if last <= t:
                full = np.zeros(b * epochs)
                full[e * b : (e + 1) * b] = r
                rows.append(full)
    if not rows:
        return 0.0
    M = np.array(rows)
    return max(float(np.sum(M[:, i::b].sum(1) ** 2)) for i in range(b))


@pytest.mark.parametrize("mech,proc", [("tree", BinaryTreeProcess), ("honaker", HonakerProcess)])
@pytest.mark.parametrize("b,epochs", [(5, 3), (8, 2), (6, 4)])
def test_tree_restart_sensitivity_matches_brute_force_at_every_step(mech, proc, b, epochs):
    p = DPFTRLNoise(mech, 2, steps_per_epoch=b, epochs=epochs, clip_norm=1.0, noise_multiplier=1.0)
    for t in range(b * epochs + 1):
        assert p.sensitivity2_upto(t) == pytest.approx(_brute_block_tree(proc, b, epochs, t))


def test_blt_sensitivity_is_toeplitz_under_k_b_participation():
    p = DPFTRLNoise("blt", 2, steps_per_epoch=9, epochs=4, clip_norm=1.0, noise_multiplier=1.0)
    c = p._c
    assert p.sensitivity**2 == pytest.approx(toeplitz_sensitivity2(c, 36, Participation(4, 9)))
    assert p.sensitivity**2 > toeplitz_sensitivity2(c, 36, Participation(1, 9))  # multi-epoch costs more
    eps = [p.epsilon_spent(t=t) for t in range(37)]
    assert eps[0] == 0.0 and all(a <= b + 1e-12 for a, b in zip(eps, eps[1:]))  # spent grows with t


def test_std_is_noise_multiplier_times_clip_times_sensitivity():
    p = DPFTRLNoise("tree", 1000, steps_per_epoch=8, epochs=2, clip_norm=0.5, noise_multiplier=1.3, seed=1)
    assert p.std == pytest.approx(1.3 * 0.5 * math.sqrt(2 * 4))
    q = DPFTRLNoise(
        "tree", 1000, steps_per_epoch=8, epochs=2, clip_norm=0.5, noise_multiplier=1.3, neighbouring="replace-one"
    )
    assert q.std == pytest.approx(2 * p.std)
    w = np.stack([p.noise() for _ in range(16)])
    # first step of each epoch: one fresh leaf of variance std^2 (restarted tree)
    assert np.var(w[0]) == pytest.approx(p.std**2, rel=0.15) and np.var(w[8]) == pytest.approx(p.std**2, rel=0.15)
    assert np.corrcoef(w[0], w[8])[0, 1] == pytest.approx(0.0, abs=0.15)


def test_batch_order_is_a_fixed_permutation_repeated_every_epoch():
    p = DPFTRLNoise("blt", 2, steps_per_epoch=10, epochs=3, clip_norm=1.0, noise_multiplier=1.0, seed=4)
    ep = [np.concatenate([p.batch_indices(e * 10 + s, 105, 10) for s in range(10)]) for e in range(3)]
    assert len(set(ep[0].tolist())) == 100  # one epoch: 100 distinct examples (5 left out, as stated)
    np.testing.assert_array_equal(ep[0], ep[1])
    np.testing.assert_array_equal(ep[0], ep[2])
    with pytest.raises(InvalidParameter):
        p.batch_indices(0, 50, 10)  # not the plan's steps per epoch


def test_clip_and_sum():
    g = np.array([[3.0, 4.0], [0.3, 0.4], [0.0, 0.0]])
    np.testing.assert_allclose(clip_and_sum(g, 1.0), [0.6 + 0.3, 0.8 + 0.4], rtol=1e-6)
    with pytest.raises(InvalidInput):
        clip_and_sum(np.array([np.nan, 1.0])[None], 1.0)
    with pytest.raises(InvalidInput):
        clip_and_sum(np.ones(3), 1.0)


@pytest.mark.parametrize("mech", ["blt", "tree", "honaker"])
def test_plan_state_restore_continues_without_redrawing(mech):
    kw = dict(steps_per_epoch=6, epochs=3, clip_norm=1.0, noise_multiplier=2.0, seed=8)
    ref = DPFTRLNoise(mech, 4, **kw)
    full = np.stack([ref.noise() for _ in range(18)])
    for cut in (0, 3, 6, 7, 12, 18):
        p = DPFTRLNoise(mech, 4, **kw)
        for _ in range(cut):
            p.noise()
        r = DPFTRLNoise.from_state_dict(p.state_dict())
        assert r.t == cut and r.epsilon_spent() == p.epsilon_spent()
        rest = np.stack([r.noise() for _ in range(18 - cut)]) if cut < 18 else np.zeros((0, 4))
        np.testing.assert_array_equal(rest, full[cut:])
    with pytest.raises(InvalidParameter):
        ref.noise()  # past the plan
    s = DPFTRLNoise(mech, 4, **kw)
    s.noise()
    st = s.state_dict()
    with pytest.raises(StateError):
        DPFTRLNoise.from_state_dict(dict(st, t=5))  # generator and plan disagree
    with pytest.raises(StateError):
        DPFTRLNoise.from_state_dict(dict(st, generator=None))


def test_typed_errors():
    kw = dict(steps_per_epoch=4, epochs=2, clip_norm=1.0)
    with pytest.raises(InvalidParameter):
        DPFTRLNoise("sgd", 4, noise_multiplier=1.0, **kw)
    with pytest.raises(InvalidParameter):
        DPFTRLNoise("blt", 4, **kw)  # neither noise_multiplier nor target_epsilon
    with pytest.raises(InvalidParameter):
        DPFTRLNoise("blt", 4, noise_multiplier=1.0, target_epsilon=1.0, **kw)
    with pytest.raises(InvalidParameter):
        DPFTRLNoise("blt", 4, noise_multiplier=1.0, delta=2.0, **kw)
    p = DPFTRLNoise("blt", 4, noise_multiplier=1.0, **kw)
    with pytest.raises(InvalidInput):
        p.privatize(np.ones(5))
    with pytest.raises(InvalidInput):
        p.privatize(np.array([1.0, np.inf, 0, 0]))
    assert p.epsilon_spent() == 0.0
    assert p.report()["epsilon_planned"] == pytest.approx(gaussian_epsilon(1e-5, 1.0))
