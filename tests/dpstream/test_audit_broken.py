"""Empirical audits (Clopper-Pearson epsilon lower bound on neighbouring streams) of EVERY shipped deliberately
broken mechanism (`dpstream.lowerbound.BROKEN`): each is flagged (lower bound above its claimed pure epsilon),
and its correct counterpart, audited identically, is not.

All audits run at alpha = 1e-7 with fixed seeds: a correct mechanism is flagged with probability <= 1e-7 per audit
(the bound is sound for any mechanism that meets its claim), so the false-failure rate of the whole file is
<= 3e-7 <= 1e-6.  The broken counters of the test suite (per-column tree counter, Laplace on every prefix) are
audited in test_audit.py; `test_every_shipped_broken_mechanism_has_an_audit_case` keeps this file complete.
"""

from __future__ import annotations

import numpy as np
import pytest

from dpstream import audit
from dpstream import problems as P
from dpstream.accounting import EpsDP
from dpstream.lowerbound import BROKEN

ALPHA = 1e-7
EPS = 1.0  # every mechanism below claims pure 1-DP


# per-column tree (MaxSum): T = 1, records in {0,1}^8, x = 0 vs x' = 1.  max(a + 1) = max(a) + 1, and the left tail
# Pr[max <= c] = prod_j Pr[Y_j <= c] composes the d columns: a broken node scale 1/eps leaks up to d * eps.
D_TREE = 8
X_TREE = np.zeros((1, D_TREE))
XP_TREE = np.ones((1, D_TREE))

# per-column tree (SumSelect): T = 1, d = 8; x = (1, 0, .., 0), x' = (0, 1, .., 1): column 0 has 1 more and every
# other column 1 less on x, so on x' "column 0 is selected" (argmax breaks ties towards it) must beat 7 shifted
# columns.  With the broken node scale 1 (claimed eps = 1) the event has probability ~0.46 on x and ~0.08 on x'
# (log-ratio ~1.77; the audit bounds Pr_x / Pr_x', so x is the stream where the event is likely).
D_SEL = 8
XP_SEL = np.ones((1, D_SEL))
XP_SEL[0, 0] = 0.0
X_SEL = 1.0 - XP_SEL

# reused-noise SVT (MaxSum, d = 1): all-ones stream vs the same stream with a 0 first.  Every release
# v = q_i + Lap(1/eps2) carries the shift q' = q - 1, with fresh release noise per round: k rounds leak about
# k * eps2, while the broken author claims one round.
T_SVT = 4000
X_SVT = np.ones((T_SVT, 1))
XP_SVT = X_SVT.copy()
XP_SVT[0, 0] = 0.0


def _selected_first(a: np.ndarray, t: int) -> float:
    return float(a[0] == 0)


def _svt_release_offsets(a: np.ndarray, t: int) -> float:
    """Sum over releases of (released value - the release step), i.e. the release noises on x and (noise - 1) on
    x'.  A release is a step whose answer differs from the previous answer (the initial value is 0)."""
    a = np.asarray(a, dtype=float)
    prev = np.concatenate([[0.0], a[:-1]])
    steps = np.flatnonzero(a != prev)
    return float((a[steps] - (steps + 1)).sum())


# name -> (broken class, correct class, x, x', score, runs)
CASES = {
    "broken-tree-per-column": (BROKEN["broken-tree-per-column"], P.MaxSumTree, X_TREE, XP_TREE, None, 6000),
    "broken-tree-per-column-sumselect": (
        BROKEN["broken-tree-per-column-sumselect"],
        P.SumSelectTree,
        X_SEL,
        XP_SEL,
        _selected_first,
        6000,
    ),
    "broken-svt-reused-noise": (
        BROKEN["broken-svt-reused-noise"],
        P.MaxSumSVT,
        X_SVT,
        XP_SVT,
        _svt_release_offsets,
        1500,
    ),
}


def _run(cls, x, xp, score, runs, seed):
    def make(s):
        return cls(horizon=x.shape[0], dim=x.shape[1], privacy=EpsDP(EPS), seed=s)

    return audit.audit(make, x, xp, runs=runs, delta=0.0, alpha=ALPHA, score=score, seed=seed)


def test_every_shipped_broken_mechanism_has_an_audit_case():
    assert set(CASES) == set(BROKEN)
    for name, (bad, good, *_rest) in CASES.items():
        assert getattr(bad, "broken", False) and not getattr(good, "broken", False), name
        assert issubclass(bad, good), name  # the counterpart is what the broken one pretends to be


@pytest.mark.parametrize("name", sorted(CASES))
def test_broken_mechanism_is_flagged(name):
    bad, _good, x, xp, score, runs = CASES[name]
    res = _run(bad, x, xp, score, runs, seed=7)
    assert res.claimed_epsilon == pytest.approx(EPS)
    assert res.flagged and res.epsilon_lb > res.claimed_epsilon, res


@pytest.mark.parametrize(
    "name",
    [pytest.param(n, marks=pytest.mark.slow) if n == "broken-svt-reused-noise" else n for n in sorted(CASES)],
)
def test_correct_counterpart_is_not_flagged(name):
    _bad, good, x, xp, score, runs = CASES[name]
    res = _run(good, x, xp, score, runs, seed=7)
    assert res.claimed_epsilon <= EPS * (1 + 1e-9)
    assert not res.flagged and res.epsilon_lb <= res.claimed_epsilon, res
