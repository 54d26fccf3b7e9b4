"""Empirical privacy audits on neighbouring streams (a lower bound on epsilon, with Clopper-Pearson confidence).

Run a mechanism many times on a stream x and on a neighbour x' (one item changed), reduce each run's answers to
a scalar score, and threshold it: with TPR = Pr[score(M(x)) >= tau] and FPR = Pr[score(M(x')) >= tau], every
(epsilon, delta)-DP mechanism satisfies TPR <= e^epsilon FPR + delta, so

    epsilon >= log((TPR_low - delta) / FPR_high)

where TPR_low / FPR_high are one-sided Clopper-Pearson bounds (each at level alpha/2, so the bound holds with
probability >= 1 - alpha).  The threshold is chosen on a first half of the runs and evaluated on the second half,
so the choice does not bias the bound.  Both directions (x vs x' and x' vs x) are tried, and the alpha is split.

A correct mechanism's audit lower bound stays below its claimed epsilon (with probability >= 1 - alpha); a
mechanism whose bound exceeds its claim is *flagged*: it is provably (at confidence 1 - alpha) not as private as
it says.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
from scipy import stats

from .base import InvalidParameter, Mechanism, check_probability

__all__ = [
    "clopper_pearson",
    "epsilon_lower_bound",
    "AuditResult",
    "audit",
    "adaptive_audit",
    "default_score",
    "residue_score",
    "decoded_residue_score",
    "lattice_parity_score",
    "first_item_residue_attack",
]


def clopper_pearson(k: int, n: int, alpha: float) -> tuple[float, float]:
    """Two one-sided (1 - alpha) Clopper-Pearson bounds (lower, upper) for a binomial proportion k/n."""
    if n <= 0 or not 0 <= k <= n:
        raise InvalidParameter(f"need 0 <= k <= n and n > 0, got k={k}, n={n}")
    lo = 0.0 if k == 0 else float(stats.beta.ppf(alpha, k, n - k + 1))
    hi = 1.0 if k == n else float(stats.beta.ppf(1 - alpha, k + 1, n - k))
    return lo, hi


def _best_threshold(a: np.ndarray, b: np.ndarray, delta: float) -> float:
    """Threshold maximising the empirical log((TPR - delta) / FPR) on a selection sample (FPR floored)."""
    cand = np.unique(np.quantile(a, np.linspace(0.0, 0.995, 200)))
    sa = np.sort(a)
    sb = np.sort(b)
    best, best_tau = -np.inf, float(cand[0])
    for tau in cand:
        tpr = 1.0 - np.searchsorted(sa, tau, side="left") / sa.size
        fpr = 1.0 - np.searchsorted(sb, tau, side="left") / sb.size
        fpr = max(fpr, 3.0 / sb.size)  # do not chase thresholds with no false positives at all
        if tpr - delta <= 0:
            continue
        v = math.log((tpr - delta) / fpr)
        if v > best:
            best, best_tau = v, float(tau)
    return best_tau


def epsilon_lower_bound(
    scores_x: np.ndarray, scores_xp: np.ndarray, delta: float = 0.0, alpha: float = 0.05
) -> tuple[float, dict]:
    """Clopper-Pearson epsilon lower bound from scores on x and x' (threshold chosen on a held-out half)."""
    alpha = check_probability("alpha", alpha)
    sx = np.asarray(scores_x, dtype=float)
    sp = np.asarray(scores_xp, dtype=float)
    if sx.size < 20 or sp.size < 20:
        raise InvalidParameter("need at least 20 runs on each stream")
    hx, hp = sx.size // 2, sp.size // 2
    best: tuple[float, dict] = (0.0, {})
    for sign in (1.0, -1.0):  # both directions, alpha split between them
        a_sel, a_ev = sign * sx[:hx], sign * sx[hx:]
        b_sel, b_ev = sign * sp[:hp], sign * sp[hp:]
        tau = _best_threshold(a_sel, b_sel, delta)
        k_t = int((a_ev >= tau).sum())
        k_f = int((b_ev >= tau).sum())
        tpr_lo, _ = clopper_pearson(k_t, a_ev.size, alpha / 4)
        _, fpr_hi = clopper_pearson(k_f, b_ev.size, alpha / 4)
        if tpr_lo - delta > 0:
            eps = math.log((tpr_lo - delta) / fpr_hi)
            if eps > best[0]:
                best = (
                    eps,
                    {"threshold": sign * tau, "direction": sign, "tpr": k_t / a_ev.size, "fpr": k_f / b_ev.size},
                )
    return best


@dataclass(frozen=True)
class AuditResult:
    epsilon_lb: float
    claimed_epsilon: float
    delta: float
    runs: int
    alpha: float
    details: dict

    @property
    def flagged(self) -> bool:
        """True when the audit proves (at confidence 1 - alpha) that the claim is false."""
        return self.epsilon_lb > self.claimed_epsilon


def default_score(answers: np.ndarray, t_star: int) -> float:
    """Sum of all answers from the changed step on (every later answer carries the change)."""
    a = np.asarray(answers, dtype=float)
    return float(a[t_star:].sum())


def _dist_to_lattice(a: np.ndarray) -> np.ndarray:
    return np.abs(a - np.rint(a))


def residue_score(grid: float, reference: np.ndarray) -> Callable[[np.ndarray, int], float]:
    """Score: how far answer[t*] minus the reference stream's running sum is from the public grid ``grid``
    (0 when the data part of the answer is exactly what the reference predicts modulo the grid).  A mechanism
    whose noise lies on a grid that its data part does not lie on is caught by this score."""
    ref = np.cumsum(np.asarray(reference, dtype=float), axis=0)

    def score(answers: np.ndarray, t_star: int) -> float:
        a = np.asarray(answers, dtype=float)
        return float(np.sum(_dist_to_lattice((a[t_star] - ref[t_star]) / grid)))

    return score


def decoded_residue_score(
    B: np.ndarray, C: np.ndarray, grid: float, reference: np.ndarray, offset: float = 0.0
) -> Callable[[np.ndarray, int], float]:
    """Score on the decoded vector y = B^-1 (answers - offset t) (the mechanism's released C x + z for a square
    decoder B): the distance of (y - C reference)[t*:] from the lattice ``grid``, summed."""
    ref = np.asarray(reference, dtype=float)
    ref = ref.reshape(ref.shape[0], -1)
    T = ref.shape[0]
    Cref = C @ ref
    steps = np.arange(1, T + 1, dtype=float)[:, None]

    def score(answers: np.ndarray, t_star: int) -> float:
        a = np.asarray(answers, dtype=float).reshape(T, -1) - offset * steps
        y = np.linalg.solve(B, a)
        return float(np.sum(_dist_to_lattice((y - Cref)[t_star:] / grid)))

    return score


def lattice_parity_score(B: np.ndarray, grid: float, offset: float = 0.0) -> Callable[[np.ndarray, int], float]:
    """Score: parity of the lattice coordinate round(y[t*] / grid) of the decoded vector y = B^-1 answers."""

    def score(answers: np.ndarray, t_star: int) -> float:
        a = np.asarray(answers, dtype=float)
        a = a.reshape(a.shape[0], -1) - offset * np.arange(1, a.shape[0] + 1, dtype=float)[:, None]
        y = np.linalg.solve(B, a)
        return float(np.sum(np.mod(np.rint(y[t_star] / grid), 2)))

    return score


def first_item_residue_attack(
    make_mechanism: Callable[[int], Mechanism],
    candidates: tuple[float, float],
    grids: Sequence[float],
    runs: int = 400,
    seed: int = 0,
) -> dict[float, float]:
    """The lattice-leak attack: in each run x_1 is one of two ``candidates`` (chosen at random), the attacker sees
    answer 1 only and guesses the candidate whose residue modulo a public grid is closer (ties: a coin).  Returns
    the success rate for every grid (0.5 = no information)."""
    rng = np.random.default_rng(seed)
    ok = {float(g): 0 for g in grids}
    for i in range(runs):
        b = int(rng.integers(0, 2))
        a = float(np.asarray(make_mechanism(seed * 10**7 + i).update(candidates[b])).reshape(-1)[0])
        for g in ok:
            d0 = float(_dist_to_lattice(np.array([(a - candidates[0]) / g]))[0])
            d1 = float(_dist_to_lattice(np.array([(a - candidates[1]) / g]))[0])
            guess = 0 if d0 < d1 else 1 if d1 < d0 else int(rng.integers(0, 2))
            ok[g] += guess == b
    return {g: k / runs for g, k in ok.items()}


def audit(
    make_mechanism: Callable[[int], Mechanism],
    stream: Sequence | np.ndarray,
    neighbour: Sequence | np.ndarray,
    runs: int = 4000,
    delta: float = 0.0,
    alpha: float = 0.05,
    score: Callable[[np.ndarray, int], float] | None = None,
    seed: int = 0,
) -> AuditResult:
    """Audit a mechanism on two neighbouring streams.

    ``make_mechanism(seed)`` returns a fresh mechanism (seeded for reproducibility; runs use seeds
    ``seed*10**7 + i``).  The claimed epsilon is the mechanism's pure epsilon when ``delta == 0``, else
    ``guarantee.approx_dp(delta)``.
    """
    x = np.asarray(stream, dtype=float)
    xp = np.asarray(neighbour, dtype=float)
    if x.shape != xp.shape:
        raise InvalidParameter(f"stream and neighbour must have the same shape, got {x.shape} and {xp.shape}")
    diff = np.flatnonzero(np.any((x != xp).reshape(x.shape[0], -1), axis=1))
    if diff.size != 1:
        raise InvalidParameter(f"neighbouring streams differ in exactly one step; these differ in {diff.size}")
    t_star = int(diff[0])
    if runs < 40:
        raise InvalidParameter("runs must be >= 40")
    score = score or default_score
    probe = make_mechanism(seed * 10**7)
    g = probe.guarantee
    if delta == 0.0:
        if g.epsilon is None:
            raise InvalidParameter("the mechanism claims no pure epsilon: pass delta > 0 to audit (epsilon, delta)")
        claimed = g.epsilon
    else:
        claimed = g.approx_dp(delta)
    sx = np.empty(runs)
    sp = np.empty(runs)
    for i in range(runs):
        sx[i] = score(make_mechanism(seed * 10**7 + 2 * i + 1).update_many(x), t_star)
        sp[i] = score(make_mechanism(seed * 10**7 + 2 * i + 2).update_many(xp), t_star)
    eps, det = epsilon_lower_bound(sx, sp, delta=delta, alpha=alpha)
    return AuditResult(epsilon_lb=eps, claimed_epsilon=claimed, delta=delta, runs=runs, alpha=alpha, details=det)


def adaptive_audit(
    make_mechanism: Callable[[int], Mechanism],
    adversary: Callable[[list, int], float],
    horizon: int,
    t_star: int,
    pair: tuple,
    runs: int = 4000,
    delta: float = 0.0,
    alpha: float = 0.05,
    score: Callable[[np.ndarray, int], float] | None = None,
    seed: int = 0,
) -> AuditResult:
    """Audit in the adaptive model: ``adversary(answers_so_far, t)`` picks item t (0-based) after seeing every
    earlier answer; at step ``t_star`` it submits ``pair`` and the harness feeds ``pair[b]``.  The adversary's
    view is scored for b = 0 and b = 1 and the same Clopper-Pearson bound is computed.  The score sees the
    *residuals* answer_t - (sum of the adversary's own items up to t, challenge excluded): the adversary knows
    its items, and an adaptive adversary that steers the stream would otherwise hide the signal."""
    if not 0 <= t_star < horizon:
        raise InvalidParameter(f"t_star must be in [0, {horizon}), got {t_star}")
    if runs < 40:
        raise InvalidParameter("runs must be >= 40")
    score = score or default_score
    g = make_mechanism(seed * 10**7).guarantee
    if delta == 0.0:
        if g.epsilon is None:
            raise InvalidParameter("the mechanism claims no pure epsilon: pass delta > 0 to audit (epsilon, delta)")
        claimed = g.epsilon
    else:
        claimed = g.approx_dp(delta)

    def play(b: int, s: int) -> float:
        m = make_mechanism(s)
        answers: list = []
        residuals = np.empty(horizon)
        known = 0.0
        for t in range(horizon):
            if t == t_star:
                x = pair[b]
            else:
                x = adversary(answers, t)
                known += float(x)
            answers.append(m.update(x))
            residuals[t] = answers[-1] - known
        return score(residuals, t_star)

    s0 = np.array([play(0, seed * 10**7 + 2 * i + 1) for i in range(runs)])
    s1 = np.array([play(1, seed * 10**7 + 2 * i + 2) for i in range(runs)])
    eps, det = epsilon_lower_bound(s1, s0, delta=delta, alpha=alpha)
    return AuditResult(epsilon_lb=eps, claimed_epsilon=claimed, delta=delta, runs=runs, alpha=alpha, details=det)
