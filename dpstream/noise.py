"""Exact discrete Laplace and discrete Gaussian samplers (Canonne, Kamath, Steinke, NeurIPS 2020).

No floating-point number is involved in deciding an output: every random decision is a comparison of a uniform
random *integer* with an integer threshold, so the output distribution is exactly

* ``DiscreteLaplace(scale=b)``:   Pr[Y = y] proportional to exp(-|y| / b),       b = t/s rational,
* ``DiscreteGaussian(sigma2)``:   Pr[Y = y] proportional to exp(-y^2 / (2 sigma2)), sigma2 rational,

on the integers (the classical floating-point attacks on textbook Laplace, Mironov 2012, do not apply).  Two
implementations of the same algorithms: a compiled numba kernel that consumes a stream of random 62-bit words
(the default, several million samples per second) and a vectorized numpy reference (``method="numpy"``).

Randomness: :func:`make_rng` returns ``numpy.random.Generator(PCG64(SeedSequence(entropy)))``.  Without a seed
the entropy is 128 bits from the OS (:mod:`secrets`); a seed makes the stream reproducible and is meant for
tests and demos only (every guarantee built on a seeded generator says ``seeded=True``).

Requested scales are rounded *up* to the nearest representable rational (more noise, never less privacy); the
exact parameter actually used is exposed (``.scale`` / ``.sigma2`` as :class:`fractions.Fraction`).
"""

from __future__ import annotations

import math
import secrets
from fractions import Fraction

import numba
import numpy as np

from .base import InvalidParameter, check_int, check_positive

__all__ = [
    "make_entropy",
    "make_rng",
    "bernoulli_exp",
    "DiscreteLaplace",
    "DiscreteGaussian",
]

_INT64_SAFE = 2_900_000_000  # |a*q - r| below this keeps (a*q - r)^2 inside int64


def make_entropy(seed: int | None = None) -> int:
    """A 128-bit key from the OS when ``seed`` is None, else the (non-negative int) seed itself."""
    if seed is None:
        return secrets.randbits(128)
    return check_int("seed (None for OS randomness, or an int)", seed, minimum=0)


def make_rng(entropy: int | None = None, *spawn_key: int) -> np.random.Generator:
    """PCG64 generator from ``entropy`` (OS entropy when None) and an optional spawn key (e.g. a block index)."""
    if entropy is None:
        entropy = make_entropy(None)
    return np.random.Generator(np.random.PCG64(np.random.SeedSequence(entropy, spawn_key=tuple(spawn_key))))


# --------------------------------------------------------------------------------------------------------------
# Bernoulli(exp(-num/den)) with integer arithmetic (CKS Algorithm 1, vectorized)
# --------------------------------------------------------------------------------------------------------------


def _randbelow(rng: np.random.Generator, high: int, size: int) -> np.ndarray:
    """Uniform integers on {0, ..., high-1} (32-bit draws when they suffice: about twice as fast)."""
    if high <= 1 << 32:
        return rng.integers(0, high, size=size, dtype=np.uint32).astype(np.int64)
    return rng.integers(0, high, size=size, dtype=np.int64)


def _bern_exp_frac(rng: np.random.Generator, r: np.ndarray, den: int) -> np.ndarray:
    """Bernoulli(exp(-r/den)) for an int64 array 0 <= r <= den and a scalar den (CKS Algorithm 1).

    K starts at 1; while Bernoulli(r/(den*K)) succeeds, K += 1; the answer is "the final K is odd".  All
    candidates still running share the same K, so each round is one vectorized draw with a scalar bound.
    """
    n = r.shape[0]
    res = np.ones(n, dtype=bool)  # fails in round K = 1 leave K = 1: odd
    if n == 0:
        return res
    active = np.flatnonzero(_randbelow(rng, den, n) < r)
    ra = r[active]
    k = 2
    while active.size:
        hit = _randbelow(rng, den * k, active.size) < ra
        if k % 2 == 0:
            res[active[~hit]] = False
        active = active[hit]
        ra = ra[hit]
        k += 1
    return res


def _bern_exp1(rng: np.random.Generator, n: int) -> np.ndarray:
    """n independent Bernoulli(exp(-1)) draws (round K = 1 always succeeds for gamma = 1 and is skipped)."""
    res = np.ones(n, dtype=bool)
    active = np.flatnonzero(_randbelow(rng, 2, n) == 0)  # round K = 2: Bernoulli(1/2); fail -> K = 2, even
    res[:] = False
    res[active] = True  # provisional: survivors of round 2 are at K = 3
    k = 3
    while active.size:
        hit = _randbelow(rng, k, active.size) == 0
        res[active[~hit]] = k % 2 == 1
        active = active[hit]
        k += 1
    return res


def bernoulli_exp(rng: np.random.Generator, num, den: int) -> np.ndarray:
    """Exact Bernoulli(exp(-num/den)) for a non-negative int64 array ``num`` and a positive int ``den``.

    ``den`` times the loop counter must stay below 2**63 (den < 2**56 is always safe).
    """
    num = np.asarray(num, dtype=np.int64)
    den = int(den)
    if den <= 0 or den >= 1 << 56:
        raise InvalidParameter(f"bernoulli_exp needs 0 < den < 2**56, got {den}")
    if num.ndim != 1:
        shape = num.shape
        return bernoulli_exp(rng, num.ravel(), den).reshape(shape)
    whole = num // den
    frac = num - whole * den
    alive = np.ones(num.shape[0], dtype=bool)
    # floor(gamma) independent Bernoulli(exp(-1)) draws must all succeed
    idx = np.flatnonzero(whole > 0)
    j = 0
    while idx.size:
        j += 1
        ok = _bern_exp1(rng, idx.size)
        alive[idx[~ok]] = False
        idx = idx[ok]
        idx = idx[whole[idx] > j]
    idx = np.flatnonzero(alive)
    if idx.size:
        alive[idx] = _bern_exp_frac(rng, frac[idx], den)
    return alive


def _uniform_bigint(rng: np.random.Generator, high: int) -> int:
    """Uniform integer in [0, high) for a Python int of any size (rejection on whole bytes)."""
    nbytes = (high.bit_length() + 7) // 8 + 1
    limit = (1 << (8 * nbytes)) // high * high
    while True:
        u = int.from_bytes(rng.bytes(nbytes), "little")
        if u < limit:
            return u % high


def _bern_exp_bigint(rng: np.random.Generator, num: int, den: int) -> bool:
    """Scalar exact Bernoulli(exp(-num/den)) for arbitrary-size Python ints (the rare overflow path)."""
    whole, r = divmod(num, den)
    for _ in range(whole):
        if not bool(_bern_exp1(rng, 1)[0]):
            return False
    k = 1
    while _uniform_bigint(rng, den * k) < r:
        k += 1
    return k % 2 == 1


# --------------------------------------------------------------------------------------------------------------
# compiled kernels (numba): the same algorithms, one candidate at a time, on a stream of random 62-bit words
# --------------------------------------------------------------------------------------------------------------
#
# The Python driver fills a buffer with raw PCG64 output (62 bits per word).  A kernel returns when the buffer
# runs out *in the middle of a sample*, reporting where that sample started; the driver keeps the words from
# there on, appends fresh ones and calls again, so the kernel consumes exactly the same word sequence as if the
# buffer were infinite (no sample is ever dropped because it needed many words: that would bias the output).

_TWO62 = 1 << 62
_TWO31 = 1 << 31


@numba.njit(cache=True)
def _k_bounded(w, pos, m):
    """Uniform on {0..m-1} by rejection from 62-bit words; returns (value, pos) with pos = -1 when exhausted."""
    if m & (m - 1) == 0:  # power of two: every word is usable
        if pos < w.shape[0]:
            return w[pos] & (m - 1), pos + 1
        return 0, -1
    if m <= _TWO31:
        # Lemire's multiply-shift with 31-bit draws (exact: rejects the l < 2^31 mod m low products)
        while pos < w.shape[0]:
            x = w[pos] >> 31
            pos += 1
            prod = x * m
            low = prod & (_TWO31 - 1)
            if low < m and low < (_TWO31 - m) % m:
                continue
            return prod >> 31, pos
        return 0, -1
    safe = _TWO62 - m  # below this a word is always accepted (2^62 mod m < m): skip the division for lim
    while pos < w.shape[0]:
        x = w[pos]
        pos += 1
        if x < safe or x < (_TWO62 // m) * m:
            return x % m, pos
    return 0, -1


@numba.njit(cache=True)
def _k_bern_frac(w, pos, r, den):
    """Bernoulli(exp(-r/den)), 0 <= r <= den (CKS Alg. 1); returns (0/1, pos)."""
    k = 1
    if r == den:  # gamma = 1: the first round Bernoulli(1) always succeeds
        k = 2
    while True:
        u, pos = _k_bounded(w, pos, den * k)
        if pos < 0:
            return 0, -1
        if u >= r:
            break
        k += 1
    return k & 1, pos


@numba.njit(cache=True)
def _k_bern_exp(w, pos, num, den):
    whole = num // den
    frac = num - whole * den
    for _ in range(whole):
        b, pos = _k_bern_frac(w, pos, 1, 1)
        if pos < 0 or b == 0:
            return 0, pos
    return _k_bern_frac(w, pos, frac, den)


@numba.njit(cache=True)
def _k_dlap_one(w, pos, t, s):
    """One discrete Laplace(t/s) sample (CKS Alg. 2); returns (value, pos)."""
    while True:
        u, pos = _k_bounded(w, pos, t)
        if pos < 0:
            return 0, -1
        d, pos = _k_bern_frac(w, pos, u, t)
        if pos < 0:
            return 0, -1
        if d == 0:
            continue
        v = 0
        while True:
            a, pos = _k_bern_frac(w, pos, 1, 1)
            if pos < 0:
                return 0, -1
            if a == 0:
                break
            v += 1
        y = (u + t * v) // s
        b, pos = _k_bounded(w, pos, 2)
        if pos < 0:
            return 0, -1
        if b == 1 and y == 0:
            continue
        return (-y if b == 1 else y), pos


@numba.njit(cache=True)
def _k_dlap(w, t, s, out, filled):
    """Fill out[filled:] while words last; returns (filled, start position of the unfinished sample)."""
    pos = 0
    while filled < out.shape[0]:
        y, p2 = _k_dlap_one(w, pos, t, s)
        if p2 < 0:
            return filled, pos
        out[filled] = y
        filled += 1
        pos = p2
    return filled, pos


@numba.njit(cache=True)
def _k_dgauss(w, pos, t, r, q, den, safe, out, filled):
    """Discrete Gaussian (CKS Alg. 3) with sigma2 = t r / q.  Returns (filled, pos, pending): pending != 0 means
    a candidate whose acceptance exponent does not fit in int64 (|y| q - r > safe) was drawn; it is returned in
    out[filled] with pos just after it, and the driver decides it with Python integers."""
    while filled < out.shape[0]:
        start = pos
        y, pos = _k_dlap_one(w, pos, t, 1)
        if pos < 0:
            return filled, start, 0
        a = y if y >= 0 else -y
        d = a * q - r
        if d > safe or d < -safe:
            out[filled] = y
            return filled, pos, 1
        c, pos = _k_bern_exp(w, pos, d * d, den)
        if pos < 0:
            return filled, start, 0
        if c == 1:
            out[filled] = y
            filled += 1
    return filled, pos, 0


def _words(rng: np.random.Generator, n: int) -> np.ndarray:
    """n uniform 62-bit words (full-range 64-bit draws are the generator's raw output; top 62 bits kept)."""
    u = rng.integers(0, 2**64 - 1, size=n, dtype=np.uint64, endpoint=True)
    u >>= np.uint64(2)
    return u.view(np.int64)


def _dlap_fast(rng: np.random.Generator, t: int, s: int, n: int) -> np.ndarray:
    out = np.empty(n, dtype=np.int64)
    filled = 0
    w = _words(rng, 12 * n + 64)
    while True:
        filled, pos = _k_dlap(w, t, s, out, filled)
        if filled >= n:
            return out
        # words per sample so far, with a margin, for the rest
        wps = max(4.0, pos / max(filled, 1))
        w = np.concatenate((w[pos:], _words(rng, int(1.2 * wps * (n - filled)) + 64)))


def _dgauss_fast(rng: np.random.Generator, t: int, r: int, q: int, den: int, n: int) -> np.ndarray:
    out = np.empty(n, dtype=np.int64)
    filled = 0
    pos = 0
    used = 0
    w = _words(rng, 16 * n + 64)
    while filled < n:
        filled, pos, pending = _k_dgauss(w, pos, t, r, q, den, _INT64_SAFE, out, filled)
        if pending:
            d = abs(int(out[filled])) * q - r
            if _bern_exp_bigint(rng, d * d, den):
                filled += 1
            continue
        if filled < n:
            used += pos
            wps = max(4.0, used / max(filled, 1))
            w = np.concatenate((w[pos:], _words(rng, int(1.2 * wps * (n - filled)) + 64)))
            pos = 0
    return out


# --------------------------------------------------------------------------------------------------------------
# Discrete Laplace
# --------------------------------------------------------------------------------------------------------------


def _rational_at_least(x: float, bits: int = 20) -> tuple[int, int]:
    """(p, q) with p/q >= x, q a power of two, about ``bits`` significant bits in p."""
    e = max(0, bits - math.frexp(x)[1])
    q = 1 << e
    p = math.ceil(Fraction(x) * q)
    return max(p, 1), q


def _dlap_raw(rng: np.random.Generator, t: int, s: int, n: int) -> np.ndarray:
    """n samples of the discrete Laplace with scale t/s (CKS Algorithm 2), integer arithmetic only."""
    out = np.empty(n, dtype=np.int64)
    filled = 0
    rate = 0.5
    while filled < n:
        m = int((n - filled) / rate * 1.03) + 16
        u = _randbelow(rng, t, m)
        u = u[_bern_exp_frac(rng, u, t)]
        # V ~ Geometric: number of Bernoulli(exp(-1)) successes before the first failure
        v = np.zeros(u.shape[0], dtype=np.int64)
        act = np.arange(u.shape[0])
        while act.size:
            ok = _bern_exp1(rng, act.size)
            act = act[ok]
            v[act] += 1
        y = (u + t * v) // s
        neg = rng.integers(0, 2, size=y.shape[0], dtype=np.int64) == 1
        keep = ~(neg & (y == 0))
        z = np.where(neg, -y, y)[keep]
        take = min(z.shape[0], n - filled)
        out[filled : filled + take] = z[:take]
        filled += take
        rate = max(0.05, z.shape[0] / m)
    return out


class DiscreteLaplace:
    """Discrete Laplace on the integers, Pr[y] ~ exp(-|y|/scale); the scale is rounded up to a rational t/s.

    Shifting by an integer ``Delta`` changes log-probabilities by at most ``|Delta|/scale``: adding it to an
    integer-valued query of L1 sensitivity Delta is (Delta/scale)-DP.
    """

    def __init__(self, scale: float):
        scale = check_positive("scale", scale)
        self.t, self.s = _rational_at_least(scale, bits=24)
        self.scale = Fraction(self.t, self.s)

    @property
    def variance(self) -> float:
        """Exact variance 2p/(1-p)^2 with p = exp(-1/scale)."""
        p = math.exp(-1.0 / float(self.scale))
        return 2.0 * p / (1.0 - p) ** 2

    def sample(self, rng: np.random.Generator, size: int | tuple = 1, method: str = "compiled") -> np.ndarray:
        """Exact samples; ``method`` "compiled" (numba kernel, default) or "numpy" (vectorized reference)."""
        shape = (size,) if isinstance(size, (int, np.integer)) else tuple(size)
        n = int(np.prod(shape))
        if method == "compiled":
            return _dlap_fast(rng, self.t, self.s, n).reshape(shape)
        if method == "numpy":
            return _dlap_raw(rng, self.t, self.s, n).reshape(shape)
        raise InvalidParameter(f"method must be 'compiled' or 'numpy', got {method!r}")

    def tail(self, k: float) -> float:
        """Pr[|Y| >= k] for k >= 1 (exact for the discrete distribution)."""
        k = math.ceil(k)
        if k <= 0:
            return 1.0
        p = math.exp(-1.0 / float(self.scale))
        return 2.0 * p**k / (1.0 + p)


# --------------------------------------------------------------------------------------------------------------
# Discrete Gaussian
# --------------------------------------------------------------------------------------------------------------


class DiscreteGaussian:
    """Discrete Gaussian N_Z(0, sigma2) on the integers (CKS Algorithm 3), sigma2 rounded up to t*r/q.

    Adding it to an integer vector query of L2 sensitivity Delta gives (Delta^2 / (2 sigma2))-zCDP
    (CKS 2020, Theorem 4 / Corollary for independent coordinates).
    """

    def __init__(self, sigma2: float):
        sigma2 = check_positive("sigma2", sigma2)
        self.t = math.isqrt(math.floor(sigma2)) + 1  # floor(sigma) + 1, only affects efficiency
        # sigma2 = t * (r / q): the acceptance exponent (a - r/q)^2 / (2 t r / q) has numerator (a q - r)^2
        # 12 significant bits: sigma2 is at most 0.025% above the request and the Bernoulli denominators stay
        # below 2^31 for the usual sizes (fast multiply-shift draws)
        self.r, self.q = _rational_at_least(sigma2 / self.t, bits=12)
        self.sigma2 = Fraction(self.t * self.r, self.q)
        self._den = 2 * self.t * self.r * self.q
        if self._den >= 1 << 56:
            raise InvalidParameter(
                f"discrete Gaussian variance {sigma2:.3g} is too small for the exact sampler (its Bernoulli "
                f"denominators would exceed 2^56; the minimum is about 1e-9): ask for less privacy (smaller rho) "
                f"only up to that point, or use no noise at all for noise-free checks"
            )

    @property
    def sigma(self) -> float:
        return math.sqrt(float(self.sigma2))

    @property
    def variance(self) -> float:
        """Exact variance of N_Z(0, sigma2) (strictly below sigma2; equal to it in double precision for
        sigma >= 2)."""
        s2 = float(self.sigma2)
        if s2 > 4.0:
            return s2
        k = np.arange(-int(40 * math.sqrt(s2)) - 10, int(40 * math.sqrt(s2)) + 11, dtype=float)
        w = np.exp(-(k**2) / (2 * s2))
        return float((k**2 * w).sum() / w.sum())

    def sample(self, rng: np.random.Generator, size: int | tuple = 1, method: str = "compiled") -> np.ndarray:
        """Exact samples; ``method`` "compiled" (numba kernel, default) or "numpy" (vectorized reference)."""
        shape = (size,) if isinstance(size, (int, np.integer)) else tuple(size)
        n = int(np.prod(shape))
        if method == "compiled":
            return _dgauss_fast(rng, self.t, self.r, self.q, self._den, n).reshape(shape)
        if method != "numpy":
            raise InvalidParameter(f"method must be 'compiled' or 'numpy', got {method!r}")
        out = np.empty(n, dtype=np.int64)
        filled = 0
        t, r, q, den = self.t, self.r, self.q, self._den
        rate = 0.6
        while filled < n:
            m = int((n - filled) / rate * 1.03) + 16
            y = _dlap_raw(rng, t, 1, m)
            a = np.abs(y)
            big = a > (_INT64_SAFE + r) // q
            acc = np.zeros(m, dtype=bool)
            small = np.flatnonzero(~big)
            if small.size:
                d = a[small] * q - r
                acc[small] = bernoulli_exp(rng, d * d, den)
            for i in np.flatnonzero(big):  # astronomically rare: exact path with Python ints
                d = int(a[i]) * q - r
                acc[i] = _bern_exp_bigint(rng, d * d, den)
            z = y[acc]
            take = min(z.shape[0], n - filled)
            out[filled : filled + take] = z[:take]
            filled += take
            rate = max(0.05, z.shape[0] / m)
        return out.reshape(shape)
