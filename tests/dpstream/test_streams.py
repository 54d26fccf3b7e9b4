"""Streaming: Mechanism.stream (backpressure, same answers as update_many), release_every=k (a counter over the
T/k block sums: exact sums, per-item validation, the noise of T/k releases), and the line parser."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from dpstream import counters, problems
from dpstream.base import InvalidInput, InvalidParameter
from dpstream.counters import BlockCounter, zCDP
from dpstream.streams import chunks, parse_line, read_items

NAMES = counters.names()


@pytest.mark.parametrize("name", NAMES)
def test_stream_equals_update_many_and_reads_lazily(name):
    xs = (np.random.default_rng(1).random(300) < 0.5).astype(float)
    ref = counters.make(name, horizon=300, privacy=zCDP(0.5), seed=4).update_many(xs)
    c = counters.make(name, horizon=300, privacy=zCDP(0.5), seed=4)
    pulled = []

    def src():
        for x in xs:
            pulled.append(x)
            yield x

    gen = c.stream(src(), checkpoint_every=32)
    assert pulled == []  # nothing is read before the first answer is asked for
    first = next(gen)
    assert len(pulled) == 32
    np.testing.assert_array_equal([first, *gen], ref)


def test_problems_stream_too():
    X = np.random.default_rng(2).integers(0, 2, size=(80, 4))
    for cls in (problems.MaxSumTree, problems.SumSelectSVT):
        ref = cls(horizon=80, dim=4, rho=1.0, seed=3).update_many(X)
        got = list(cls(horizon=80, dim=4, rho=1.0, seed=3).stream(iter(X.tolist()), checkpoint_every=9))
        np.testing.assert_array_equal(got, ref)


FACTOR_NAMES = ("square-root", "blt")


@pytest.mark.parametrize("name", FACTOR_NAMES)
def test_block_release_is_refused_for_the_lattice_factorizations(name):
    """Their encoder's rounding and float-error bounds hold for single items, not for k-item block sums."""
    with pytest.raises(InvalidParameter, match="release_every"):
        counters.make(name, horizon=40, privacy=zCDP(0.5), release_every=4)


@pytest.mark.parametrize("name", [n for n in NAMES if n not in FACTOR_NAMES])
@pytest.mark.parametrize("dim", [1, 3])
def test_block_counter_answers_are_the_block_end_sums(name, dim):
    T, k = 103, 10
    rng = np.random.default_rng(5)
    xs = np.round(rng.random((T, dim) if dim > 1 else T) * 8) / 8
    inner = counters.noiseless(counters.make(name, horizon=math.ceil(T / k), privacy=zCDP(0.5), dim=dim))
    b = BlockCounter(inner, k, T)
    out = [b.update(x) for x in xs[:15]]  # per item: None until a block completes
    assert [y is None for y in out] == [True] * 9 + [False] + [True] * 5
    rest = b.update_many(xs[15:])
    tail = b.finish()
    got = np.concatenate(
        [np.asarray(out[9]).reshape(1, -1), np.asarray(rest).reshape(-1, dim), np.asarray(tail).reshape(-1, dim)]
    )
    S = np.cumsum(xs.reshape(T, dim), axis=0)
    np.testing.assert_array_equal(got, S[[*range(k - 1, T, k), T - 1]])
    assert b.t == T and b.releases == 11 and len(b.finish()) == 0


def test_block_counter_validates_items_not_blocks():
    b = counters.make("binary-tree", horizon=100, privacy=zCDP(0.5), release_every=10)
    with pytest.raises(InvalidInput):
        b.update_many([0.5, 2.0])  # each item must be in bounds, though a block sum may reach 10
    with pytest.raises(InvalidInput):
        b.update(float("nan"))
    assert b.t == 0
    with pytest.raises(InvalidParameter):
        counters.make("binary-tree", horizon=100, privacy=zCDP(0.5), release_every=0)
    # release_every is fixed at creation (the noise is calibrated to it); stream() only checks it
    assert len(list(b.stream([1.0] * 20, release_every=10))) == 2
    with pytest.raises(InvalidParameter, match="calibrated"):
        counters.make("binary-tree", horizon=100, privacy=zCDP(0.5)).stream([1.0], release_every=10)


def test_block_counter_is_calibrated_to_the_releases_made():
    """The noise is that of a ceil(T/k)-step counter (measured), not of a T-step counter read every k steps."""
    T, k, runs = 256, 16, 400
    b0 = counters.make("binary-tree", horizon=T, privacy=zCDP(0.5), release_every=k)
    full = counters.make("binary-tree", horizon=T, privacy=zCDP(0.5))
    assert b0.inner.horizon == T // k and 0.49 < b0.guarantee.rho <= 0.5
    assert b0.error_bound(0.05) < 0.8 * full.error_bound(0.05)
    noise = np.empty((runs, T // k))
    for r in range(runs):
        b = counters.make("binary-tree", horizon=T, privacy=zCDP(0.5), release_every=k, seed=1000 + r)
        noise[r] = b.update_many(np.zeros(T))
    want = b0.inner.variances()  # closed form of the T/k-step counter
    wide = full.variances(np.arange(k, T + 1, k))
    assert (want < 0.75 * wide).all()  # the two hypotheses are far apart
    # per-release sample variance against the closed form: chi-square interval at 1e-6 overall
    lo, hi = stats.chi2.ppf([1e-6 / 32, 1 - 1e-6 / 32], runs)
    s2 = (noise**2).sum(axis=0)
    assert ((s2 / want > lo) & (s2 / want < hi)).all()
    assert (s2 / wide < lo).any()  # and the full counter's variance is rejected somewhere


def test_parse_line_and_read_items():
    assert parse_line("1\n", 1) == 1.0 and parse_line(" 0.25 ", 2) == 0.25 and parse_line("  \n", 3) is None
    assert parse_line("[1, 0, 1]", 1) == [1.0, 0.0, 1.0]
    assert parse_line('{"v": 0.5, "u": "x"}', 1, field="v") == 0.5
    for bad, field, msg in (
        ("abc", None, "neither"),
        ('"1"', None, "expected a number"),
        ("true", None, "number"),
        ("nan", None, "neither"),
        ("-inf", None, "finite"),
        ('{"u": 1}', "v", "no field"),
        ("1", "v", "JSON object"),
        ("[1, true]", None, "number"),
    ):
        with pytest.raises(InvalidInput, match=msg):
            parse_line(bad, 7, field)
    assert list(read_items(["1", "", "0"])) == [(1, 1.0), (3, 0.0)]
    assert [len(c) for c in chunks(range(10), 4)] == [4, 4, 2]
