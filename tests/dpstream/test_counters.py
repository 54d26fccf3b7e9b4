"""Continual counters: exactness, factorization identities, brute-force sensitivity, per-step variance against the
closed forms, error bounds, persistence and input validation."""

import itertools
import json
import math

import numpy as np
import pytest
from scipy import stats

from dpstream import counters
from dpstream.base import (
    DimensionMismatch,
    DPError,
    HorizonExceeded,
    InvalidInput,
    InvalidParameter,
    StateError,
)
from dpstream.counters import EpsDP, zCDP

NAMES = ["binary-tree", "honaker", "smooth-binary", "square-root", "blt", "hybrid"]
GAUSS = [(n, zCDP(0.5)) for n in NAMES]
# the opt-in floating-point Gaussian sampler (privacy object carries the option through `mk`)
FLOAT = [(n, ("float", zCDP(0.5))) for n in NAMES]
LAP = [(n, EpsDP(1.0)) for n in ["binary-tree", "honaker", "smooth-binary", "hybrid"]]
ALL = GAUSS + LAP + FLOAT
IDS = [f"{n}-{'float' if isinstance(p, tuple) else 'rho' if isinstance(p, zCDP) else 'eps'}" for n, p in ALL]
FAMILY_P = 1e-6  # per-test false-failure probability budget (Bonferroni inside each test)


def mk(name, privacy, T, dim=1, seed=1, **kw):
    kw.setdefault("block", 16)
    if isinstance(privacy, tuple):
        kw["sampler"], privacy = privacy
    return counters.make(name, horizon=T, privacy=privacy, dim=dim, seed=seed, **kw)


def bits(T, dim=1, seed=0, p=0.4):
    rng = np.random.default_rng(seed)
    shape = (T,) if dim == 1 else (T, dim)
    return (rng.random(shape) < p).astype(float)


# ----------------------------------------------------------------------------------------------------------------
# exactness and streaming consistency
# ----------------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name,priv", ALL, ids=IDS)
@pytest.mark.parametrize("dim", [1, 3])
def test_noise_free_counters_are_exact_prefix_sums(name, priv, dim):
    T = 100
    for xs in (bits(T, dim), np.round(np.random.default_rng(3).random((T, dim) if dim > 1 else T) * 8) / 8):
        c = counters.noiseless(mk(name, priv, T, dim))
        if name in ("square-root", "blt"):
            # the lattice factorizations round C x to gamma Z: exact up to B (rounding), |.| <= gamma sum |b_k|
            p = c.process
            tol = p.gamma * np.cumsum(np.abs(p.b_coefficients(T))) + 1e-9
            tol = tol if dim == 1 else tol[:, None]
            assert np.all(np.abs(c.update_many(xs) - np.cumsum(xs, axis=0)) <= tol)
            c2 = counters.noiseless(mk(name, priv, T, dim))
            ys = np.array([c2.update(x) for x in xs])
            np.testing.assert_array_equal(ys, counters.noiseless(mk(name, priv, T, dim)).update_many(xs))
            continue
        np.testing.assert_array_equal(c.update_many(xs), np.cumsum(xs, axis=0))
        c = counters.noiseless(mk(name, priv, T, dim))
        ys = np.array([c.update(x) for x in xs])
        np.testing.assert_array_equal(ys, np.cumsum(xs, axis=0))
        with pytest.raises(DPError):
            c.guarantee  # noqa: B018
        with pytest.raises(DPError):
            c.state_dict()


@pytest.mark.parametrize("name,priv", ALL, ids=IDS)
def test_update_and_update_many_agree_bitwise_under_any_chunking(name, priv):
    T = 150
    xs = bits(T, seed=5)
    ref = mk(name, priv, T).update_many(xs)
    c = mk(name, priv, T)
    rng = np.random.default_rng(9)
    out, i = [], 0
    while i < T:
        k = int(rng.integers(0, 23))
        if k == 0:
            out.append(c.update(xs[i]))
            i += 1
        else:
            out.extend(c.update_many(xs[i : i + k]))
            i += min(k, T - i)
    np.testing.assert_array_equal(np.array(out), ref)
    assert not np.array_equal(ref, np.cumsum(xs))  # noise is really there


def test_vector_items_update_equals_update_many_row():
    xs = bits(40, dim=5, seed=2)
    a = mk("binary-tree", zCDP(1.0), 40, dim=5)
    b = mk("binary-tree", zCDP(1.0), 40, dim=5)
    rows = np.array([a.update(x) for x in xs])
    np.testing.assert_array_equal(rows, b.update_many(xs))
    assert rows.shape == (40, 5)


# ----------------------------------------------------------------------------------------------------------------
# algebra: factorizations, decoders, popcount
# ----------------------------------------------------------------------------------------------------------------

STRATEGY_NAMES = ["binary-tree", "honaker", "smooth-binary", "square-root", "blt", "hybrid"]


def _row_noise(c, nrows):
    """Per-row noise (variance, Gaussian sigma2, Laplace scale) of the released vector, in input units."""
    p = c.process
    if hasattr(p, "row_dists"):  # hybrid: rows have different noise
        q = p.quantum
        var = p.row_var
        s2 = np.array([float(d.sigma2) * q * q if hasattr(d, "sigma2") else np.nan for d in p.row_dists])
        sc = np.array([float(d.scale) * q if hasattr(d, "scale") else np.nan for d in p.row_dists])
        return var, s2, sc
    if hasattr(p, "quantum") and p.quantum:
        q = p.quantum
        s2 = float(p.dist.sigma2) * q * q if hasattr(p.dist, "sigma2") else np.nan
        sc = float(p.dist.scale) * q if hasattr(p.dist, "scale") else np.nan
        return np.full(nrows, p.node_var), np.full(nrows, s2), np.full(nrows, sc)
    return np.full(nrows, p.zvar), np.full(nrows, p.sigma2), np.full(nrows, np.nan)


@pytest.mark.parametrize("name", STRATEGY_NAMES)
@pytest.mark.parametrize("T", [1, 2, 5, 8, 13, 32])
def test_factorization_multiplies_back_to_prefix_sums(name, T):
    c = mk(name, zCDP(1.0), T if name != "hybrid" else None)
    B, C = c.process.strategy(T)
    A = np.tril(np.ones((T, T)))
    if name in ("binary-tree", "smooth-binary", "hybrid"):
        np.testing.assert_array_equal(B @ C, A)
    else:
        np.testing.assert_allclose(B @ C, A, atol=1e-9)
    if name == "binary-tree":
        np.testing.assert_array_equal(B.sum(axis=1), [bin(t).count("1") for t in range(1, T + 1)])
    if name == "smooth-binary":
        assert set(B.sum(axis=1)) == {c.process.depth // 2}
    if name == "square-root":
        np.testing.assert_allclose(B, C)  # C = B = A^(1/2)


def test_square_root_coefficients_and_inverse():
    cs = counters.sqrt_coefficients(8)
    np.testing.assert_allclose(cs[:6], [1, 1 / 2, 3 / 8, 5 / 16, 35 / 128, 63 / 256])
    inv = np.diff(np.concatenate(([0.0], cs)))  # noising coefficients c_k - c_{k-1}
    np.testing.assert_allclose(inv[:6], [1, -1 / 2, -1 / 8, -1 / 16, -5 / 128, -7 / 256])


def test_online_honaker_node_variances():
    c = mk("honaker", zCDP(1.0), 64)
    np.testing.assert_allclose(c.process.vfac[:4], [1, 2 / 3, 4 / 7, 8 / 15])
    v = c.variances([4, 7, 8]) / c.process.node_var
    np.testing.assert_allclose(v, [4 / 7, 4 / 7 + 2 / 3 + 1, 8 / 15])


def _constant_noise(c):
    """Make every noise draw equal to one lattice step / one unit: eta = (unit) * B @ 1."""
    p = c.process
    if hasattr(p, "_draw_from"):
        p._draw_from = lambda dist, rng, count: np.ones((count, p.dim), dtype=np.int64)
        return p.quantum
    p.draws = lambda entropy, j: (np.ones((p.block, p.dim)), np.zeros((p.block, p.dim)))
    return p.gamma  # zero data: the lattice vector is z = 1, the answers gamma B 1


@pytest.mark.parametrize("name", STRATEGY_NAMES)
def test_streaming_generator_applies_the_decoder(name):
    """With every released noise value equal to 1 the streamed noise is B @ 1, across many small blocks."""
    T = 45
    c = mk(name, zCDP(1.0), T if name != "hybrid" else None, block=4)
    unit = _constant_noise(c)
    eta = c.update_many(np.zeros(T))
    B, _ = c.process.strategy(T)
    np.testing.assert_allclose(eta, unit * B.sum(axis=1), rtol=1e-9, atol=1e-9)


@pytest.mark.parametrize("name", STRATEGY_NAMES)
def test_noise_covariance_matches_decoder(name):
    """Empirical covariance of the streamed noise (independent coordinates as repetitions) = s^2 B B^T."""
    T, R = 12, 20000
    c = mk(name, zCDP(1.0), T if name != "hybrid" else None, dim=R, block=4, seed=21)
    eta = c.update_many(np.zeros((T, R)))
    emp = eta @ eta.T / R
    B, _ = c.process.strategy(T)
    var, _, _ = _row_noise(c, B.shape[1])
    cov = (B * var) @ B.T
    sd = np.sqrt((np.outer(np.diag(cov), np.diag(cov)) + cov**2) / R)
    z = np.abs(emp - cov) / sd
    assert z.max() < stats.norm.isf(FAMILY_P / (2 * T * T))


# ----------------------------------------------------------------------------------------------------------------
# sensitivity by brute force over neighbouring streams
# ----------------------------------------------------------------------------------------------------------------


def _brute_force_sensitivity(C, T, d):
    """max L1 and L2 norm of C (x - x') over all x, x' in {0,1}^(T x d) differing in one step."""
    records = list(itertools.product([0.0, 1.0], repeat=d))
    best1 = best2 = 0.0
    for xs in itertools.product(records, repeat=T):
        X = np.array(xs)
        for t in range(T):
            for r in records:
                if tuple(X[t]) == r:
                    continue
                Y = X.copy()
                Y[t] = r
                D = C @ (X - Y)
                best1 = max(best1, np.abs(D).sum())
                best2 = max(best2, (D**2).sum())
    return best1, best2


@pytest.mark.parametrize("name", STRATEGY_NAMES)
@pytest.mark.parametrize("kind", ["rho", "eps"])
def test_calibration_against_brute_force_sensitivity(name, kind):
    T, d = 4, 2
    priv = zCDP(0.5) if kind == "rho" else EpsDP(1.0)
    if kind == "eps" and name in ("square-root", "blt"):
        with pytest.raises(InvalidParameter, match="zCDP"):
            mk(name, priv, T, dim=d)
        return
    c = mk(name, priv, T if name != "hybrid" else None, dim=d)
    _, C = c.process.strategy(T)
    _, s2row, scrow = _row_noise(c, C.shape[0])
    g = c.guarantee
    if kind == "rho":
        # privacy loss of the Gaussian vector: squared L2 norm of the change in units of each row's sigma
        _, s2 = _brute_force_sensitivity(C / np.sqrt(s2row)[:, None], T, d)
        rho_true = s2 / 2
        assert rho_true <= g.rho * (1 + 1e-9)
        if name != "hybrid":  # the hybrid's worst item (late segments) is beyond these few steps
            assert rho_true >= 0.999 * g.rho  # calibrated to the record (sqrt(d) included), not wastefully
        assert g.rho <= 0.5
    else:
        s1, _ = _brute_force_sensitivity(C / scrow[:, None], T, d)
        assert s1 <= g.epsilon * (1 + 1e-9)
        if name != "hybrid":
            assert s1 >= 0.999 * g.epsilon
        assert g.epsilon <= 1.0


def test_per_column_calibration_bug_would_be_caught():
    """The same check applied to a tree calibrated per column (missing the factor d) fails."""
    from dpstream.counters._trees import BinaryTreeProcess

    class PerColumn(BinaryTreeProcess):
        def _setup(self):
            d, self.dim = self.dim, 1
            super()._setup()
            self.dim = d

    T, d = 4, 2
    p = PerColumn(T, zCDP(0.5), d, (0.0, 1.0))
    _, C = p.strategy(T)
    _, s2 = _brute_force_sensitivity(C, T, d)
    assert s2 / (2 * float(p.dist.sigma2) * p.quantum**2) > 1.9 * 0.5


# ----------------------------------------------------------------------------------------------------------------
# per-step variance against the closed forms
# ----------------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name,priv", ALL, ids=IDS)
def test_per_step_variance_matches_closed_form(name, priv):
    """Independent coordinates serve as repetitions.  Gaussian-type noise: sum eta^2 / v_t ~ chi^2_R; Laplace
    sums: z-test of mean eta^2 with its empirical standard error.  Two-sided, Bonferroni over the T steps."""
    T, R = 24, 60000
    c = mk(name, priv, T if name != "hybrid" else None, dim=R, seed=33, block=8)
    eta = c.update_many(np.zeros((T, R)))
    v = c.variances(np.arange(1, T + 1))
    alpha = FAMILY_P / T
    assert np.all(np.abs(eta.mean(axis=1)) < stats.norm.isf(alpha / 4) * np.sqrt(v / R))
    if not isinstance(priv, EpsDP):
        stat = (eta**2).sum(axis=1) / v
        assert np.all(stat > stats.chi2.ppf(alpha / 4, R))
        assert np.all(stat < stats.chi2.isf(alpha / 4, R))
    else:
        sq = eta**2
        z = (sq.mean(axis=1) - v) / (sq.std(axis=1, ddof=1) / math.sqrt(R))
        assert np.all(np.abs(z) < stats.norm.isf(alpha / 4))


# values of the reference table (rho = 1): max / mean variance of the answer over t = 1..T
ANCHORS = {
    2**10: {"binary-tree": (55.0, 27.51), "honaker": (31.92, 15.96), "square-root": (5.355, 4.835)},
    2**20: {"binary-tree": (210.0, 105.0), "honaker": (113.44, 56.72), "square-root": (15.010, 14.138)},
}


@pytest.mark.parametrize("T", [2**10, pytest.param(2**20, marks=pytest.mark.slow)])
def test_closed_forms_reproduce_reference_anchors(T):
    for name, (vmax, vmean) in ANCHORS[T].items():
        c = counters.make(name, horizon=T, privacy=zCDP(1.0))
        v = c.variances()
        assert v.max() == pytest.approx(vmax, rel=2e-3)
        assert v.mean() == pytest.approx(vmean, rel=2e-3)
    s = counters.make("smooth-binary", horizon=T, privacy=zCDP(1.0))
    ds = 14 if T == 2**10 else 24
    assert s.process.depth == ds
    # an item lies in at most ds/2 - 1 *released* nodes at these horizons (the top one is never released), and
    # the noise is calibrated to that exact count: variance (ds/2) * (ds/2 - 1) / (2 rho) at every step
    assert s.process._nodes_per_item() == ds // 2 - 1
    np.testing.assert_allclose(s.variances([1, T // 3, T]), ds * (ds - 2) / 8, rtol=5e-4)


@pytest.mark.parametrize("T", [3, 5, 20, 100, 256, 700])
def test_smooth_binary_calibrates_to_the_released_nodes_exactly(T):
    """The largest number of released nodes containing one item (a column sum of the dense C, whose rows are
    the released nodes) is what the noise is calibrated for: no variance is spent on nodes nobody sees."""
    s = counters.make("smooth-binary", horizon=T, privacy=zCDP(1.0))
    _, C = s.process.strategy(T)
    assert s.process._nodes_per_item() == int(C.sum(axis=0).max())


def test_blt_is_close_to_the_square_root_factorization():
    for T in [2**10, 2**16]:
        b = counters.make("blt", horizon=T, privacy=zCDP(1.0))
        s = counters.make("square-root", horizon=T, privacy=zCDP(1.0))
        vb, vs = b.variances(), s.variances()
        assert 0.97 < vb.max() / vs.max() < 1.05
        assert 0.97 < vb.mean() / vs.mean() < 1.05
        w, lam = counters.fit_blt(T)
        assert np.all(w > 0) and np.all((lam > 0) & (lam < 1)) and len(w) <= 12


# ----------------------------------------------------------------------------------------------------------------
# error bounds at the stated beta
# ----------------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name,priv", ALL, ids=IDS)
def test_error_bound_holds_in_repeated_runs(name, priv):
    T, runs, beta = 128, 150, 0.1
    xs = bits(T, seed=4)
    truth = np.cumsum(xs)
    errs = []
    for r in range(runs):
        c = mk(name, priv, T if name != "hybrid" else None, seed=1000 + r, block=64)
        errs.append(np.abs(c.update_many(xs) - truth).max())
    errs = np.array(errs)
    bound = c.error_bound(beta, upto=T)
    fails = int((errs > bound).sum())
    assert fails <= stats.binom.isf(FAMILY_P, runs, beta)
    # and the bound is informative: within a small factor of the observed (1 - beta) quantile
    assert bound < 3.0 * np.quantile(errs, 1 - beta)


# ----------------------------------------------------------------------------------------------------------------
# persistence
# ----------------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name,priv", ALL, ids=IDS)
@pytest.mark.parametrize("dim", [1, 2])
def test_restore_after_save_continues_identically(name, priv, dim):
    T = 200
    xs = bits(T, dim, seed=8)
    ref = mk(name, priv, T, dim, seed=None if dim == 2 else 17)
    state0 = ref.state_dict()  # saving a fresh counter is fine too
    full = ref.update_many(xs)
    rng = np.random.default_rng(99)
    for cut in sorted({0, 16, 17, T, *rng.integers(1, T, size=4).tolist()}):
        c = counters.from_state_dict(json.loads(json.dumps(state0)), trusted=True)
        first = [c.update(x) for x in xs[: cut % 7]] + list(c.update_many(xs[cut % 7 : cut]))
        state = json.loads(json.dumps(c.state_dict()))
        r = counters.from_state_dict(state, trusted=True)
        assert r.t == cut and r.guarantee == c.guarantee
        rest = r.update_many(xs[cut:])
        np.testing.assert_array_equal(np.concatenate([np.array(first).reshape(-1, *xs.shape[1:]), rest]), full)
        if cut == T:
            with pytest.raises(HorizonExceeded):
                r.update(xs[0])


def test_restored_counter_refuses_past_horizon_and_tampering():
    c = mk("binary-tree", zCDP(1.0), 20)
    c.update_many(bits(20))
    s = c.state_dict()
    r = counters.from_state_dict(s, trusted=True)
    with pytest.raises(HorizonExceeded, match="larger horizon"):
        r.update_many(bits(1))
    bad = dict(s, t=21)
    with pytest.raises(StateError):
        counters.from_state_dict(bad, trusted=True)
    with pytest.raises(StateError):
        counters.from_state_dict(dict(s, version=99), trusted=True)
    with pytest.raises(StateError):
        counters.from_state_dict(dict(s, mechanism="nope"), trusted=True)
    with pytest.raises(StateError):
        counters.BLT.from_state_dict(s)
    with pytest.raises(StateError):
        counters.from_state_dict(dict(s, block=5), trusted=True)
    with pytest.raises(StateError):
        counters.from_state_dict({k: v for k, v in s.items() if k != "entropy"}, trusted=True)
    with pytest.raises(StateError):
        counters.from_state_dict(dict(s, sum=[float("nan")]), trusted=True)
    with pytest.raises(StateError):
        counters.from_state_dict("not a dict", trusted=True)


# ----------------------------------------------------------------------------------------------------------------
# guarantees and input validation
# ----------------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name,priv", ALL, ids=IDS)
def test_guarantee_is_what_was_asked(name, priv):
    seeded = mk(name, priv, 64 if name != "hybrid" else None)
    g = seeded.guarantee
    assert g.seeded and "SEEDED" in str(g)
    assert not mk(name, priv, 64 if name != "hybrid" else None, seed=None).guarantee.seeded
    if isinstance(priv, tuple):
        assert g.mu == pytest.approx(math.sqrt(2 * g.rho)) and "float" in " ".join(g.notes)
        priv = priv[1]
    if isinstance(priv, zCDP):
        assert priv.rho * (1 - 5e-4) <= g.rho <= priv.rho
        assert 0 < g.approx_dp(1e-6) < 20
    else:
        assert priv.epsilon * (1 - 1e-5) <= g.epsilon <= priv.epsilon
    if name in ("square-root", "blt") and seeded.process.sampler == "exact":
        assert g.mu is None  # exact discrete Gaussian on a lattice: zCDP (CKS), no GDP claim
    assert g.neighbours == "event-level" and g.adaptive


@pytest.mark.parametrize("name,priv", ALL, ids=IDS)
def test_bad_stream_items_raise_typed_errors_and_consume_nothing(name, priv):
    c = mk(name, priv, 10 if name != "hybrid" else None)
    c.update(1)
    for bad in [float("nan"), float("inf"), 1.5, -0.1, "a", [1, 2]]:
        with pytest.raises((InvalidInput, DimensionMismatch)):
            c.update(bad)
        with pytest.raises((InvalidInput, DimensionMismatch)):
            c.update_many([0.0, bad] if not isinstance(bad, list) else [bad])
    assert c.t == 1
    with pytest.raises(DimensionMismatch):
        c.update_many(np.zeros((3, 2)))
    clipped = counters.noiseless(mk(name, priv, 10 if name != "hybrid" else None, clip=True))
    if isinstance(priv, tuple):
        priv = priv[1]
    atol = 2e-4 if name in ("square-root", "blt") else 0.0  # lattice factorizations: exact up to gamma-rounding
    np.testing.assert_allclose(clipped.update_many([2.0, -1.0, 0.5]), [1.0, 1.0, 1.5], rtol=0, atol=atol)
    with pytest.raises(InvalidInput):
        clipped.update(float("nan"))


def test_object_array_with_non_numbers_is_invalid_input_not_attribute_error():
    # regression: a mixed object array (numbers and None / arbitrary objects) used to fall through to an
    # AttributeError on the failed conversion's None instead of the typed InvalidInput
    c = mk("honaker", zCDP(1.0), 10)
    for bad in ([1.0, None], np.array([1.0, object()], dtype=object)):
        with pytest.raises(InvalidInput, match="real numbers"):
            c.update_many(bad)
    assert c.t == 0


def test_vector_counter_checks_dimension():
    c = mk("honaker", zCDP(1.0), 10, dim=4)
    with pytest.raises(DimensionMismatch, match="shape"):
        c.update([1, 0, 1])
    with pytest.raises(DimensionMismatch):
        c.update_many(np.zeros((2, 3)))
    with pytest.raises(InvalidInput):
        c.update([1, 0, np.nan, 0])
    assert c.t == 0


def test_horizon_is_enforced_atomically():
    c = mk("square-root", zCDP(1.0), 10)
    c.update_many(bits(8))
    with pytest.raises(HorizonExceeded, match="8 of 10"):
        c.update_many(bits(3))
    assert c.t == 8
    c.update_many(bits(2))
    with pytest.raises(HorizonExceeded):
        c.update(0)
    assert c.remaining == 0


@pytest.mark.parametrize(
    "kwargs,match",
    [
        ({"name": "binary-tree", "horizon": 10, "privacy": zCDP(1.0), "dim": 0}, "dim"),
        ({"name": "binary-tree", "horizon": 0, "privacy": zCDP(1.0)}, "horizon"),
        ({"name": "binary-tree", "horizon": True, "privacy": zCDP(1.0)}, "horizon"),
        ({"name": "binary-tree", "horizon": 10.0, "privacy": zCDP(1.0)}, "horizon"),
        ({"name": "binary-tree", "horizon": None, "privacy": zCDP(1.0)}, "hybrid"),
        ({"name": "nope", "horizon": 10, "privacy": zCDP(1.0)}, "unknown counter"),
        ({"name": "binary-tree", "horizon": 10}, "privacy is required"),
        ({"name": "binary-tree", "horizon": 10, "privacy": 0.5}, "zCDP"),
        ({"name": "blt", "horizon": 10, "privacy": EpsDP(1.0)}, "zCDP"),
        ({"name": "binary-tree", "horizon": 10, "privacy": zCDP(1.0), "bounds": (1, 0)}, "bounds"),
        ({"name": "binary-tree", "horizon": 10, "privacy": zCDP(1.0), "granularity": 0.3}, "power of two"),
        ({"name": "blt", "horizon": 10, "privacy": zCDP(1.0), "buffers": 1}, "buffers"),
        ({"name": "binary-tree", "horizon": 10, "privacy": zCDP(1.0), "seed": -3}, "seed"),
        ({"name": "binary-tree", "horizon": 10, "privacy": EpsDP(1.0), "sampler": "float"}, "zCDP"),
        ({"name": "square-root", "horizon": 10, "privacy": zCDP(1.0), "sampler": "fast"}, "sampler"),
        ({"name": "blt", "horizon": 10, "privacy": zCDP(1.0), "granularity": 0.5}, "does not take"),
    ],
)
def test_bad_parameters_raise_invalid_parameter(kwargs, match):
    with pytest.raises(InvalidParameter, match=match):
        counters.make(**kwargs)


def test_rho_must_be_positive_and_beta_a_probability():
    with pytest.raises(InvalidParameter, match="rho"):
        counters.make("binary-tree", horizon=10, privacy=zCDP(0.0))
    c = counters.make("binary-tree", horizon=10, privacy=zCDP(1.0))
    for beta in [0, 1, -0.1, float("nan")]:
        with pytest.raises(InvalidParameter):
            c.error_bound(beta)
    with pytest.raises(InvalidParameter):
        c.error_bound(0.05, upto=11)


def test_hybrid_runs_without_a_horizon():
    c = counters.make("hybrid", privacy=zCDP(0.5), seed=3)
    xs = bits(5000, seed=1)
    ys = c.update_many(xs)
    assert c.horizon is None and c.remaining is None
    assert np.abs(ys - np.cumsum(xs)).max() < c.error_bound(0.01)
    b1, b2 = c.error_bound(0.05, upto=2**10), c.error_bound(0.05, upto=2**20)
    assert b1 < b2  # error grows with the length it must cover


def test_real_valued_inputs_on_a_custom_range():
    c = counters.noiseless(counters.make("binary-tree", horizon=6, privacy=zCDP(1.0), bounds=(-2.0, 2.0)))
    ys = c.update_many([-2.0, 1.5, 0.25, 2.0, -0.125, 0.0])
    np.testing.assert_array_equal(ys, [-2, -0.5, -0.25, 1.75, 1.625, 1.625])
    g = counters.make("binary-tree", horizon=6, privacy=zCDP(1.0), bounds=(-2.0, 2.0)).process
    assert g.delta_lat * g.quantum == 4.0  # sensitivity is the width of the range


def test_smooth_binary_label_stepping_matches_unranking():
    p = counters.make("smooth-binary", horizon=5000, privacy=zCDP(1.0)).process
    for t0, n in [(0, 4000), (1234, 999), (4999, 1)]:
        np.testing.assert_array_equal(p._labels(t0, n), p.leaf_labels(np.arange(t0 + 1, t0 + n + 1)))
    labels = p.leaf_labels(np.arange(0, 5001))
    assert np.all(np.diff(labels) > 0)
    assert set(np.bitwise_count(labels.astype(np.uint64)).tolist()) == {p.depth // 2}
