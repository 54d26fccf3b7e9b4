"""Sparse-vector (SVT) algorithms for MaxSum and SumSelect (algorithm (B)).

MaxSum. q_t = max_j S_t[j] has sensitivity 1 under event-level neighbours, is non-decreasing and grows by at
most 1 per step. The mechanism keeps the last released value v and runs AboveThreshold on the queries
q_t - v: threshold noise Lap(2/ε₁), query noise Lap(4/ε₁) (one ε₁-DP AboveThreshold per round); when a query
is "above" it releases v ← q_t + Lap(1/ε₂) (ε₂-DP) and starts a new round with fresh threshold noise. At most
k rounds run; each round is ε₀ = ε₁ + ε₂ pure DP, so k rounds are k·ε₀²/2-zCDP (or k·ε₀-DP).

SumSelect. The published index ĵ changes only when the gap g_t = max_j S_t[j] - S_t[ĵ] (sensitivity 2, grows
by at most 1 per step) is "above" τ; then ĵ is re-selected with the exponential mechanism (Gumbel-max with
scale 2/ε₂, utility S_t[j], sensitivity 1).

All noise is integer-valued (discrete Laplace), so the comparisons are exact integer arithmetic.

Error analysis (derived and tested here; [D] in the reference). Let N_θ, N_q, N_r be bounds on the absolute
threshold, query and release noises that hold simultaneously with probability >= 1-β (β split in thirds,
union bound over ≤ k thresholds, ≤ T queries, ≤ k releases). For MaxSum, if no round fires at t then
q_t - v < τ + N_θ + N_q; since q is non-decreasing, v - q_t <= N_r. A round can only fire after the true
answer rose by >= τ - (N_θ + N_q + N_r) since the last release. With τ = c·N, N = N_θ + N_q + N_r, c > 1,
at most ⌈T / ((c-1)N)⌉ rounds fire, so k = that number keeps the budget from running out, and
|y_t - q_t| <= τ + N_θ + N_q for all t. SumSelect is the same with N_r replaced by the exponential-mechanism
bound G = (2/ε₂)(ln d + ln(3k/β)) on the gap right after a re-selection.
The split ε₁ : ε₂ and the factor c are chosen numerically to minimise the bound.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from dpstream.accounting import Guarantee, as_privacy, zCDP
from dpstream.base import (
    DPError,
    InvalidParameter,
    StateError,
    check_int,
    check_probability,
)
from dpstream.noise import DiscreteLaplace, make_entropy, make_rng
from dpstream.problems._common import Privacy, ProblemMechanism, resolve_privacy


def discrete_laplace_tail(scale: float, beta: float) -> float:
    """x such that P(|X| > x) <= beta for X ~ discrete Laplace(scale).

    P(|X| >= m) = 2 e^{-m/s} / (1 + e^{-1/s}) <= 2 e^{-m/s}, hence x = s ln(2/beta).
    """
    if not scale > 0:
        raise InvalidParameter(f"discrete Laplace scale must be > 0, got {scale!r}")
    return scale * math.log(2.0 / beta)


class LaplaceStream:
    """Discrete Laplace values consumed in order from fixed-size blocks of the core's exact sampler.

    Drawing in fixed blocks makes the values independent of how the consumer batches its requests, so
    ``update`` and ``update_many`` give identical outputs under a seed. Unused values of the current block are
    part of the (secret) state and are never re-drawn.
    """

    def __init__(self, scale: float, rng: np.random.Generator, block: int):
        self.scale, self.rng, self.block = scale, rng, block
        self.buf = np.zeros(0, dtype=np.int64)
        self.pos = 0
        self._sampler = DiscreteLaplace(scale)

    def take(self, m: int) -> np.ndarray:
        out = np.empty(m, dtype=np.int64)
        got = 0
        while got < m:
            if self.pos >= self.buf.size:
                self.buf, self.pos = self._sampler.sample(self.rng, self.block).astype(np.int64), 0
            k = min(m - got, self.buf.size - self.pos)
            out[got : got + k] = self.buf[self.pos : self.pos + k]
            self.pos += k
            got += k
        return out

    def state(self, include_rng: bool) -> dict[str, Any]:
        return {
            "rng": self.rng.bit_generator.state if include_rng else None,
            "buf": self.buf[self.pos :].tolist() if include_rng else [],
            "pos": 0,
        }

    def load(self, st: dict[str, Any]) -> None:
        if st["rng"] is not None:
            self.rng.bit_generator.state = st["rng"]
            self.buf, self.pos = np.asarray(st["buf"], dtype=np.int64), 0


_SPLITS = tuple(np.round(np.linspace(0.2, 0.9, 15), 4))
_CS = (1.5, 2.0, 2.5, 3.0, 4.0)


@dataclass(frozen=True)
class SVTParameters:
    """Calibration of one SVT mechanism for (horizon, privacy, β): all derived, all public."""

    problem: str
    horizon: int
    dim: int
    tau: int  # gap (integer: all noise is integer-valued)
    k: int  # maximal number of rounds ("above" answers)
    eps0: float  # pure-DP cost of one round
    eps1: float  # AboveThreshold part
    eps2: float  # release / re-selection part
    sensitivity: int  # of the monitored query (1 for MaxSum, 2 for the SumSelect gap)
    beta: float  # the β the calibration was made for
    bound: float  # error bound at that β: |y_t - q_t| <= bound for all t w.p. >= 1-β

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _eps0(privacy: Privacy, k: int) -> float:
    if isinstance(privacy, zCDP):
        return math.sqrt(2.0 * privacy.rho / k)
    return privacy.epsilon / k


def _noise_bounds(problem: str, T: int, d: int, k: int, eps1: float, eps2: float, beta: float):
    delta_q = 1 if problem == "maxsum" else 2
    b3 = beta / 3.0
    n_theta = discrete_laplace_tail(2.0 * delta_q / eps1, b3 / k)
    n_q = discrete_laplace_tail(4.0 * delta_q / eps1, b3 / T)
    if problem == "maxsum":
        n_r = discrete_laplace_tail(1.0 / eps2, b3 / k)
    else:  # exponential mechanism: P(u* - u_sel >= (2/ε)(ln d + ln(1/β'))) <= β'
        n_r = (2.0 / eps2) * (math.log(d) + math.log(k / b3))
    return n_theta, n_q, n_r


def _calibrate(problem: str, T: int, d: int, privacy: Privacy, beta: float, f: float, c: float):
    """Smallest k whose τ(k) makes k rounds sufficient; returns (bound, params)."""

    def tau_of(k: int):
        e0 = _eps0(privacy, k)
        e1, e2 = f * e0, (1.0 - f) * e0
        nt, nq, nr = _noise_bounds(problem, T, d, k, e1, e2, beta)
        n = nt + nq + nr
        tau = math.ceil(c * n)
        return tau, n, nt, nq, nr, e0, e1, e2

    def needed(k: int) -> int:
        tau, n, *_ = tau_of(k)
        step = max(tau - n, 1e-12)  # true increase needed between two "above" answers
        return max(1, min(T, math.ceil(T / step)))

    lo, hi = 1, T
    while lo < hi:  # predicate k >= needed(k) is monotone in k
        mid = (lo + hi) // 2
        if mid >= needed(mid):
            hi = mid
        else:
            lo = mid + 1
    k = lo
    tau, n, nt, nq, nr, e0, e1, e2 = tau_of(k)
    bound = max(tau + nt + nq, nr)
    sens = 1 if problem == "maxsum" else 2
    return bound, SVTParameters(problem, T, d, tau, k, e0, e1, e2, sens, beta, float(bound))


def svt_parameters(problem: str, horizon: int, privacy: Privacy, beta: float = 0.05, dim: int = 1) -> SVTParameters:
    """Numerically optimised SVT calibration (split ε₁:ε₂ and τ/N) for the given problem and budget."""
    if problem not in ("maxsum", "sumselect"):
        raise InvalidParameter(f"problem must be 'maxsum' or 'sumselect', got {problem!r}")
    T = check_int("horizon", horizon)
    d = check_int("dim", dim)
    beta = check_probability("beta", beta)
    best = None
    for f in _SPLITS:
        for c in _CS:
            b, p = _calibrate(problem, T, d, privacy, beta, float(f), c)
            if best is None or b < best[0]:
                best = (b, p)
    assert best is not None  # _SPLITS and _CS are non-empty constants
    return best[1]


def _first_at_or_above(values: np.ndarray, start: int, level: int) -> int:
    """Index of the first entry >= level at or after start (or len(values)); scans doubling windows."""
    n = values.shape[0]
    w = 256
    i = start
    while i < n:
        j = min(n, i + w)
        hit = np.flatnonzero(values[i:j] >= level)
        if hit.size:
            return i + int(hit[0])
        i = j
        w *= 2
    return n


class _SVTBase(ProblemMechanism):
    kind = "svt"

    def __init__(
        self,
        *,
        horizon,
        dim,
        privacy=None,
        rho=None,
        epsilon=None,
        beta=0.05,
        seed=None,
        params: SVTParameters | None = None,
    ):
        priv = resolve_privacy(privacy, rho=rho, epsilon=epsilon)
        super().__init__(horizon=horizon, dim=dim, privacy=priv, seed=seed)
        self.params = params or svt_parameters(self.problem, self.horizon, priv, beta, self.dim)
        self._init_streams(seed)
        self.sums = np.zeros(self.dim, dtype=np.int64)
        self.rounds = 0
        self.threshold = self.params.tau + self._draw_threshold()

    # randomness: one generator per noise role, so outputs do not depend on how the stream is batched
    def _init_streams(self, seed):
        entropy = make_entropy(seed)  # OS randomness unless seeded (tests and demos only)
        rq, rt, rr, self._rg = (make_rng(entropy, role) for role in range(4))
        p = self.params
        self._nq = LaplaceStream(4.0 * p.sensitivity / p.eps1, rq, 4096)  # query noise
        self._nt = LaplaceStream(2.0 * p.sensitivity / p.eps1, rt, 64)  # threshold noise
        self._nr = LaplaceStream(1.0 / p.eps2, rr, 64)  # release noise (MaxSum)

    def _draw_threshold(self) -> int:
        return int(self._nt.take(1)[0])

    def _draw_query_noise(self, m: int) -> np.ndarray:
        return self._nq.take(m)

    def _draw_release(self) -> int:
        return int(self._nr.take(1)[0])

    def _streams(self):
        return (self._nq, self._nt, self._nr)

    def _guarantee(self) -> Guarantee:
        """k rounds, each ε₀-DP (AboveThreshold ε₁ + release ε₂): k·ε₀-DP and k·ε₀²/2-zCDP (= the target)."""
        p = self.params
        eps = p.k * p.eps0
        rho = p.k * p.eps0**2 / 2.0  # = ρ for a zCDP target; ε²/(2k) <= ε²/2 for an ε-DP target
        return Guarantee(
            rho=rho,
            epsilon=eps,
            seeded=self.seed is not None,
            notes=(
                f"{type(self).__name__}: sparse vector, {p.k} rounds of {p.eps0:.6g}-DP, "
                "event-level, one record of {0,1}^d replaced",
                "exponential mechanism via Gumbel-max with numpy's floating-point Gumbel"
                if self.problem == "sumselect"
                else "all noise exact discrete Laplace",
            ),
        )

    def error_bound(self, beta: float = 0.05) -> float:
        """w.p. >= 1-β, |y_t - q_t| <= bound for all t <= horizon (q = MaxSum, or the SumSelect gap)."""
        beta = check_probability("beta", beta)
        if beta == self.params.beta:
            return self.params.bound
        p = self.params
        nt, nq, nr = _noise_bounds(self.problem, p.horizon, p.dim, p.k, p.eps1, p.eps2, beta)
        n = nt + nq + nr
        if p.tau - n <= 0 or p.k < math.ceil(p.horizon / (p.tau - n)):
            return math.inf if beta < p.beta else p.bound  # the budget argument needs τ > N(β)
        return float(max(p.tau + nt + nq, nr))

    # -- persistence ---------------------------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        """JSON-able state. It contains secret noise (the current noisy threshold): keep it private."""
        st = {
            "params": self.params.as_dict(),
            "sums": self.sums.tolist(),
            "rounds": self.rounds,
            "threshold": self.threshold,
            "rng": None,
        }
        if self.seed is not None:
            st["rng"] = [s.state(True) for s in self._streams()] + [self._rg.bit_generator.state]
        st.update(self._extra_state())
        return self._pack_state(**st)

    _STATE_FIELDS = ("params", "sums", "rounds", "threshold", "rng")
    _EXTRA_FIELDS: tuple[str, ...] = ()

    @classmethod
    def from_state_dict(cls, state: dict[str, Any]):
        st = cls._unpack_state(state, cls._STATE_FIELDS + cls._EXTRA_FIELDS)
        try:
            priv = as_privacy(st["privacy"])
            params = SVTParameters(**st["params"])
            obj = cls(horizon=st["horizon"], dim=st["dim"], privacy=priv, seed=st["seed"], params=params)
            obj.t = int(st["t"])
            obj.sums = np.asarray(st["sums"], dtype=np.int64)
            obj.rounds = int(st["rounds"])
            obj.threshold = int(st["threshold"])
            if st["rng"] is not None:
                for g, s in zip(obj._streams(), st["rng"][:3], strict=True):
                    g.load(s)
                obj._rg.bit_generator.state = st["rng"][3]
            else:  # OS randomness: fresh generators, never re-using noise of released answers
                obj._init_streams(None)
            obj._load_extra_state(st)
        except DPError:
            raise
        except (KeyError, TypeError, ValueError) as e:
            raise StateError(f"malformed state dict: {e!r}") from None
        if obj.sums.shape != (obj.dim,) or not (0 <= obj.t <= obj.horizon) or obj.rounds > params.k:
            raise StateError("malformed state dict: inconsistent sums / t / rounds")
        if not 0 <= obj.rounds <= obj.t or (obj.sums < 0).any() or (obj.sums > obj.t).any():
            raise StateError("malformed state dict: rounds or column sums impossible after t records")
        _check_params(params, obj)
        return obj

    def _extra_state(self) -> dict[str, Any]:
        return {}

    def _load_extra_state(self, st: dict[str, Any]) -> None:
        pass


def _check_params(p: SVTParameters, obj: _SVTBase) -> None:
    """A restored calibration must describe this mechanism and spend no more than its privacy target."""
    if (p.problem, p.horizon, p.dim) != (obj.problem, obj.horizon, obj.dim):
        raise StateError(
            f"malformed state dict: SVT parameters are for ({p.problem}, T={p.horizon}, d={p.dim}), "
            f"the mechanism is ({obj.problem}, T={obj.horizon}, d={obj.dim})"
        )
    if p.sensitivity != (1 if obj.problem == "maxsum" else 2):
        raise StateError(f"malformed state dict: SVT sensitivity {p.sensitivity} is wrong for {obj.problem}")
    if not (p.k >= 1 and p.eps1 > 0 and p.eps2 > 0 and math.isclose(p.eps0, p.eps1 + p.eps2, rel_tol=1e-12)):
        raise StateError("malformed state dict: SVT parameters need k >= 1 and eps0 = eps1 + eps2 > 0")
    if not math.isclose(p.eps0, _eps0(obj.privacy, p.k), rel_tol=1e-12):
        raise StateError(
            f"malformed state dict: SVT eps0={p.eps0} does not match the privacy target "
            f"{obj.privacy.to_dict()} over k={p.k} rounds (expected {_eps0(obj.privacy, p.k)})"
        )


class MaxSumSVT(_SVTBase):
    """MaxSum by the sparse-vector technique: error Õ(T^{1/3}/ρ^{1/3}), independent of d."""

    problem = "maxsum"

    def __init__(self, *, horizon, dim=1, privacy=None, rho=None, epsilon=None, beta=0.05, seed=None, params=None):
        super().__init__(
            horizon=horizon, dim=dim, privacy=privacy, rho=rho, epsilon=epsilon, beta=beta, seed=seed, params=params
        )
        self.value = 0  # last released value (integer)

    def _process(self, recs: np.ndarray) -> np.ndarray:
        q = self.sums + np.cumsum(recs, axis=0)
        self.sums = q[-1].copy()
        return self._process_queries(q.max(axis=1))

    def _process_queries(self, q: np.ndarray) -> np.ndarray:
        """Run the SVT on the true MaxSum values q (non-decreasing integers); return the releases."""
        m = q.shape[0]
        out = np.empty(m, dtype=np.float64)
        noisy = q + self._draw_query_noise(m)  # one query-noise draw per step, whatever the batching
        pos = 0
        while pos < m:
            if self.rounds >= self.params.k:  # budget spent: freeze (probability <= β by the calibration)
                out[pos:] = self.value
                break
            i = _first_at_or_above(noisy - self.value, pos, self.threshold) if m - pos > 0 else m
            out[pos:i] = self.value
            if i == m:
                break
            self.value = int(q[i]) + self._draw_release()
            self.rounds += 1
            out[i] = self.value
            self.threshold = self.params.tau + self._draw_threshold()
            pos = i + 1
        return out

    _EXTRA_FIELDS = ("value",)

    def _extra_state(self):
        return {"value": self.value}

    def _load_extra_state(self, st):
        self.value = int(st["value"])


class SumSelectSVT(_SVTBase):
    """SumSelect by the sparse-vector technique with exponential-mechanism (Gumbel-max) re-selection."""

    problem = "sumselect"

    def __init__(self, *, horizon, dim, privacy=None, rho=None, epsilon=None, beta=0.05, seed=None, params=None):
        super().__init__(
            horizon=horizon, dim=dim, privacy=privacy, rho=rho, epsilon=epsilon, beta=beta, seed=seed, params=params
        )
        self.selected = 0  # public initial choice: every column is 0 before the stream starts

    def _reselect(self, sums: np.ndarray) -> int:
        return int(np.argmax(sums + self._rg.gumbel(0.0, 2.0 / self.params.eps2, size=self.dim)))

    def _process(self, recs: np.ndarray) -> np.ndarray:
        S = self.sums + np.cumsum(recs, axis=0)
        self.sums = S[-1].copy()
        m = S.shape[0]
        mx = S.max(axis=1)
        nq = self._draw_query_noise(m)
        out = np.empty(m, dtype=np.int64)
        pos = 0
        while pos < m:
            if self.rounds >= self.params.k:
                out[pos:] = self.selected
                break
            noisy_gap = mx - S[:, self.selected] + nq
            i = _first_at_or_above(noisy_gap, pos, self.threshold)
            out[pos:i] = self.selected
            if i == m:
                break
            self.selected = self._reselect(S[i])
            self.rounds += 1
            out[i] = self.selected
            self.threshold = self.params.tau + self._draw_threshold()
            pos = i + 1
        return out

    _EXTRA_FIELDS = ("selected",)

    def _extra_state(self):
        return {"selected": self.selected}

    def _load_extra_state(self, st):
        self.selected = int(st["selected"])
        if not 0 <= self.selected < self.dim:
            raise StateError("malformed state dict: selected index out of range")
