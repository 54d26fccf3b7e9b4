"""Noise-only generators for gradient streams (dpstream.counters.gradient_noise): covariance over steps against the
factorization, increment/prefix consistency, the memory bound (d-vectors held), persistence, typed errors."""

import numpy as np
import pytest

from dpstream.base import InvalidParameter, StateError
from dpstream.counters.gradient_noise import (
    BLTNoise,
    GradientNoise,
    HonakerNoise,
    TreeNoise,
    make_gradient_noise,
)

MECHS = ["blt", "tree", "honaker"]
T = 16
D = 30000  # coordinates are independent samples of the T-step noise process
STD = 1.7


def _run(gen, n=None):
    n = gen.horizon - gen.t if n is None else n
    return np.stack([gen.step() for _ in range(n)] or [np.zeros(gen.dim)]).astype(np.float64)[:n]


def _max_z(X, sigma):
    """Largest |z|-score of the empirical covariance of the rows of X (T x n samples) against sigma (T x T)."""
    n = X.shape[1]
    emp = X @ X.T / n
    var = (np.outer(np.diag(sigma), np.diag(sigma)) + sigma**2) / n
    return float(np.max(np.abs(emp - sigma) / np.sqrt(var)))


Z_BONF = 6.0  # two-sided, Bonferroni over 136 entries: false failure < 1e-6


@pytest.mark.parametrize("mech", MECHS)
def test_prefix_noise_covariance_is_std2_B_Bt(mech):
    g = make_gradient_noise(mech, D, T, std=STD, output="prefix", seed=11)
    X = _run(g)
    B = g.decoder(T)
    assert _max_z(X, STD**2 * B @ B.T) < Z_BONF


@pytest.mark.parametrize("mech", MECHS)
def test_increment_noise_covariance_and_cumulates_to_prefix(mech):
    inc = _run(make_gradient_noise(mech, D, T, std=STD, seed=5))
    pre = _run(make_gradient_noise(mech, D, T, std=STD, seed=5, output="prefix"))
    # the same key gives the same z: increments sum to the prefix noise (float32 rounding only)
    np.testing.assert_allclose(np.cumsum(inc, axis=0), pre, atol=1e-4 * STD * T)
    B = make_gradient_noise(mech, 2, T).decoder(T)
    DB = np.diff(np.vstack([np.zeros(B.shape[1]), B]), axis=0)  # w = D eta
    assert _max_z(inc, STD**2 * DB @ DB.T) < Z_BONF


def test_covariance_check_has_power():
    """The same statistic rejects the tree's noise against Honaker's factorization and a 5 % wrong std."""
    X = _run(make_gradient_noise("tree", D, T, std=STD, output="prefix", seed=3))
    Bh = make_gradient_noise("honaker", 2, T).decoder(T)
    assert _max_z(X, STD**2 * Bh @ Bh.T) > 2 * Z_BONF
    B = make_gradient_noise("tree", 2, T).decoder(T)
    assert _max_z(X, (1.05 * STD) ** 2 * B @ B.T) > Z_BONF


def test_tree_variances_match_closed_forms():
    """Binary tree: Var eta_t = popcount(t) std^2; Honaker: sum over set bits h of 2^h / (2^(h+1) - 1)."""
    t = np.arange(1, T + 1)
    pop = np.array([bin(x).count("1") for x in t])
    B = TreeNoise(2, T).decoder(T)
    np.testing.assert_allclose((B**2).sum(1), pop)
    Bh = HonakerNoise(2, T).decoder(T)
    hon = np.array([sum(2.0**h / (2 ** (h + 1) - 1) for h in range(5) if (x >> h) & 1) for x in t])
    np.testing.assert_allclose((Bh**2).sum(1), hon)


@pytest.mark.parametrize("output", ["increment", "prefix"])
def test_memory_bound_in_d_vectors(output):
    n = 300
    blt = BLTNoise(7, n, output=output, seed=1)
    m = blt.w.shape[0]
    held = []
    for _ in range(n):
        blt.step()
        held.append(blt.vectors_held())
    assert max(held) == m + (output == "increment")
    for cls in (TreeNoise, HonakerNoise):
        g = cls(7, n, output=output, seed=1)
        L = n.bit_length()
        for t in range(1, n + 1):
            g.step()
            nodes = sum(1 for k, v in g._vectors().items() if k.startswith("node") and v is not None)
            assert nodes == bin(t).count("1") <= L  # only the nodes of the current prefix are held
            assert g.vectors_held() <= L + (output == "prefix")


@pytest.mark.parametrize("mech", MECHS)
@pytest.mark.parametrize("output", ["increment", "prefix"])
def test_restore_continues_with_the_same_noise(mech, output):
    ref = make_gradient_noise(mech, 5, 40, std=0.5, output=output, seed=9)
    full = _run(ref)
    for cut in (0, 1, 7, 16, 33, 40):
        g = make_gradient_noise(mech, 5, 40, std=0.5, output=output, seed=9)
        for _ in range(cut):
            g.step()
        r = GradientNoise.from_state_dict(g.state_dict())
        assert r.t == cut and r.seeded
        rest = _run(r, 40 - cut)
        np.testing.assert_array_equal(rest, full[cut:])  # bit-identical: no step's noise is re-drawn
    # a generator with a fresh key would publish different noise for the same steps
    other = _run(make_gradient_noise(mech, 5, 40, std=0.5, output=output, seed=10))
    assert not np.allclose(other, full)


def test_tampered_states_raise_state_error():
    g = TreeNoise(4, 20, seed=2)
    for _ in range(6):
        g.step()
    s = g.state_dict()
    bad = dict(s, vectors={k: v for k, v in s["vectors"].items() if k != "node1"})
    with pytest.raises(StateError):
        GradientNoise.from_state_dict(bad)
    with pytest.raises(StateError):
        GradientNoise.from_state_dict(dict(s, t=99))
    with pytest.raises(StateError):
        GradientNoise.from_state_dict(dict(s, mechanism="nope"))
    with pytest.raises(StateError):
        GradientNoise.from_state_dict({"format": "x"})
    b = BLTNoise(4, 20, seed=2)
    b.step()
    sb = b.state_dict()
    sb["vectors"]["buffer0"] = np.full(3, np.nan, dtype=np.float32)
    with pytest.raises(StateError):
        GradientNoise.from_state_dict(sb)


def test_typed_errors():
    with pytest.raises(InvalidParameter):
        make_gradient_noise("sqrt", 4, 8)
    with pytest.raises(InvalidParameter):
        BLTNoise(0, 8)
    with pytest.raises(InvalidParameter):
        TreeNoise(4, 8, output="sum")
    with pytest.raises(InvalidParameter):
        TreeNoise(4, 8, std=-1.0)
    g = TreeNoise(3, 2, seed=0)
    g.step()
    g.step()
    with pytest.raises(InvalidParameter):
        g.step()


def test_float32_and_unseeded_keys_differ():
    a = BLTNoise(1000, 4).step()
    b = BLTNoise(1000, 4).step()
    assert a.dtype == np.float32 and a.shape == (1000,)
    assert not np.array_equal(a, b)  # OS entropy: two generators never share noise
    assert not BLTNoise(3, 4).seeded
