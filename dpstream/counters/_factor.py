"""Matrix-factorization counters: the square-root factorization (FHU23 / HUU23) and BLT (buffered linear Toeplitz),
both run as an exact lattice mechanism with O(buffers) work and memory per step.

Both release answers A x ~ B (C x + z) with B C = A (A: prefix sums), B a lower-triangular Toeplitz decoder given
as a sum of geometric buffers, b_k = sum_i w_i lam_i^k, and the strategy C = B^-1 A (a recursion over the same
buffers).  ``square-root`` fits B to the square-root coefficients C(2k, k)/4^k to about 1e-9 relative error (48
candidate buffers), ``blt`` uses 12 buffers (about 1 % error, a few per cent more variance, cheaper).

The discretization (the proof is in docs/dpstream.md, "Lattice factorization mechanisms"):

1. every item coordinate is mapped to the item lattice lo + q Z by unbiased randomized rounding (q a power of two,
   about (hi - lo) / 2^20), so the running sums are exact;
2. the encoder u = C x is computed in float64 by a causal recursion whose rounding error is bounded by ``E``
   (a forward error analysis done at construction);
3. u is rounded to the lattice gamma Z with fresh uniforms: r = gamma floor(u / gamma + U) (unbiased);
4. the private vector is v = r + z with z an exact discrete Gaussian on the same lattice gamma Z
   (``sampler='float'``: a rounded floating-point Gaussian);
5. the answers are lo t + gamma (B v)_t, computed from the integer vector v alone (post-processing).

Neighbouring streams (one item changed) coupled through the same uniforms give lattice vectors r, r' with
||r - r'||_2 <= sqrt(dim) Delta_col + sqrt(T dim) (gamma (1 + 2^-20) + 2 E), and the discrete Gaussian on a lattice
with a lattice-valued shift has exactly the zCDP of the continuous one (Canonne-Kamath-Steinke 2020): sigma is
calibrated to that inflated sensitivity, so the stated rho is what the released values satisfy.
"""

from __future__ import annotations

import functools
import math
from typing import Any, Self

import numba
import numpy as np
from scipy import signal
from scipy.optimize import nnls

from ..accounting import Guarantee, zCDP
from ..base import InvalidParameter, StateError, check_int
from ..noise import DiscreteGaussian, make_rng
from ._core import LinearCounter, NoiseProcess, gaussian_tail

UNIT_ROUNDOFF = 2.0**-53
ITEM_BITS = 20  # item lattice q ~ (hi - lo) / 2^20
LATTICE_INFLATION = 2.0**-12  # target: sqrt(T dim) gamma <= 2^-12 of the sensitivity
MAX_SIGMA_LATTICE = 2.0**26  # sigma / gamma at most this (exact sampler denominators below 2^56)


def sqrt_coefficients(n: int) -> np.ndarray:
    """c_k = C(2k, k) / 4^k, k < n: the lower-triangular Toeplitz square root of the all-ones matrix."""
    k = np.arange(1, n, dtype=np.float64)
    return np.concatenate(([1.0], np.cumprod((2 * k - 1) / (2 * k))))


def toeplitz_lower(c: np.ndarray) -> np.ndarray:
    n = c.shape[0]
    i, j = np.indices((n, n))
    return np.where(i >= j, c[np.clip(i - j, 0, n - 1)], 0.0)


def series_inverse(b: np.ndarray) -> np.ndarray:
    """Power series 1/b(q) mod q^n by Newton iteration with FFT products (b[0] != 0)."""
    n = b.shape[0]
    g = np.array([1.0 / b[0]])
    m = 1
    while m < n:
        m2 = min(2 * m, n)
        bg = signal.fftconvolve(b[:m2], g)[:m2]
        corr = signal.fftconvolve(g, bg)[:m2]
        g = np.concatenate((g, np.zeros(m2 - m))) * 2.0 - corr
        m = m2
    return g


def _check_sampler(sampler: str) -> str:
    if sampler not in ("exact", "float"):
        raise InvalidParameter(f"sampler must be 'exact' (default) or 'float', got {sampler!r}")
    return sampler


def fit_blt(horizon: int, buffers: int = 12) -> tuple[np.ndarray, np.ndarray]:
    """(w, lam) of the BLT decoder fitted to the square-root coefficients (see :func:`_fit_blt`); cached per
    (horizon, buffers), returned as fresh copies."""
    w, lam = _fit_blt(int(horizon), check_int("buffers", buffers, minimum=2, maximum=64))
    return w.copy(), lam.copy()


@functools.lru_cache(maxsize=32)
def _fit_blt(horizon: int, buffers: int = 12) -> tuple[np.ndarray, np.ndarray]:
    """BLT decoder B(q) = sum_i w_i / (1 - lam_i q), i.e. b_k = sum_i w_i lam_i^k, fitted to the square-root
    coefficients C(2k, k)/4^k for k < horizon.

    The square root has the integral form c_k = (1/pi) int_0^1 lam^(k - 1/2) (1 - lam)^(-1/2) d lam, a positive
    mixture of geometric sequences, so a few geometric buffers approximate it well.  We fix the decay rates on a
    log-spaced grid lam_i = exp(-e^(u_i)) covering time scales 1 .. horizon and solve a non-negative least
    squares problem for the weights on the relative error at log-spaced k.
    """
    buffers = check_int("buffers", buffers, minimum=2, maximum=64)
    T = max(int(horizon), 2)
    ks = np.unique(np.round(np.logspace(0, math.log10(T - 1) if T > 2 else 0.5, 600)).astype(np.int64))
    ks = np.concatenate(([0], ks[ks < T]))
    from scipy.special import gammaln

    ck = np.exp(gammaln(2 * ks + 1) - 2 * gammaln(ks + 1) - 2 * ks * math.log(2))
    u = np.linspace(-math.log(T) - 3, 2.5, buffers)
    lam = np.exp(-np.exp(u))
    M = np.exp(np.log(lam)[None, :] * ks[:, None]) / ck[:, None]
    w, _ = nnls(M, np.ones(ks.shape[0]))
    keep = w > 0
    return w[keep], lam[keep]


# ------------------------------------------------------------------------------------------------------------------
# the per-step kernel (one code path for update and update_many: bit-identical answers under any chunking)
# ------------------------------------------------------------------------------------------------------------------


@numba.njit(cache=True)
def _lattice_factor_kernel(xq, zz, uu, coef, b0, gamma, lo, t0, enc, dec, out):
    """For each step t (rows of xq: item offsets from lo, exact multiples of q) and coordinate j:

    u = (x_t - sum_i dl_i e_i) / b0, e_i <- lam_i e_i + u         (encoder: u = C x, C = (B (1 - q))^-1 ... = B^-1 A)
    v = floor(u / gamma + U_t) + z_t                               (lattice coordinate of the private vector)
    Y_i <- lam_i Y_i + v, answer = lo t + gamma sum_i w_i Y_i      (decoder: post-processing of v alone)

    coef rows: dl_i = w_i (lam_i - 1), lam_i, w_i.  enc/dec (buffers x dim) are updated in place; v is written
    to zz (so that callers can inspect the released lattice vector)."""
    n, d = xq.shape
    m = coef.shape[1]
    for t in range(n):
        base = lo * float(t0 + t + 1)
        for j in range(d):
            acc = 0.0
            for i in range(m):
                acc += coef[0, i] * enc[i, j]
            u = (xq[t, j] - acc) / b0
            for i in range(m):
                enc[i, j] = coef[1, i] * enc[i, j] + u
            v = math.floor(u / gamma + uu[t, j]) + zz[t, j]
            zz[t, j] = v
            s = 0.0
            for i in range(m):
                y = coef[1, i] * dec[i, j] + v
                dec[i, j] = y
                s += coef[2, i] * y
            out[t, j] = base + gamma * s
    return out


@numba.njit(cache=True)
def _lattice_factor_step(xq, z, u0, coef, b0, gamma, base, enc, dec):
    """One step of :func:`_lattice_factor_kernel` for dim == 1 (the same operations in the same order, so the
    answers are bit-identical); returns (answer, v)."""
    m = coef.shape[1]
    acc = 0.0
    for i in range(m):
        acc += coef[0, i] * enc[i, 0]
    u = (xq - acc) / b0
    for i in range(m):
        enc[i, 0] = coef[1, i] * enc[i, 0] + u
    v = math.floor(u / gamma + u0) + z
    s = 0.0
    for i in range(m):
        y = coef[1, i] * dec[i, 0] + v
        dec[i, 0] = y
        s += coef[2, i] * y
    return base + gamma * s, v


@numba.njit(cache=True)
def _encoder_impulse(coef, b0, T):
    """First column of the implemented strategy C: the float encoder run on the unit impulse."""
    m = coef.shape[1]
    e = np.zeros(m)
    c = np.empty(T)
    for t in range(T):
        acc = 0.0
        for i in range(m):
            acc += coef[0, i] * e[i]
        u = ((1.0 if t == 0 else 0.0) - acc) / b0
        for i in range(m):
            e[i] = coef[1, i] * e[i] + u
        c[t] = u
    return c


class LatticeFactorProcess(NoiseProcess):
    """The lattice factorization mechanism (see the module docstring).  Unlike the tree processes its answers are
    not S_t + (data-independent noise): it is driven step by step by :class:`FactorCounter`."""

    name = "factor"
    data_driven = True
    default_buffers = 12

    def __init__(self, horizon, privacy, dim, bounds, buffers=None, block=None, sampler="exact"):
        super().__init__(horizon, privacy, dim, bounds)
        self.sampler = _check_sampler(sampler)
        if horizon is None:
            raise InvalidParameter(f"{self.name} needs a horizon; use the 'hybrid' counter for an unknown one")
        if not isinstance(privacy, zCDP):
            raise InvalidParameter(
                f"{self.name} adds Gaussian noise and supports zCDP(rho=...) only; for pure epsilon-DP use "
                f"'binary-tree', 'honaker' or 'smooth-binary' with EpsDP(epsilon=...)"
            )
        self.buffers = self.default_buffers if buffers is None else buffers
        if block is None:
            block = 1 << max(6, min(14, (2**18 // dim).bit_length() - 1))
        if isinstance(block, bool) or not isinstance(block, int) or block < 1 or block & (block - 1):
            raise InvalidParameter(f"block must be a power of two, got {block!r}")
        self.block = block
        T = horizon
        self.w, self.lam = fit_blt(T, self.buffers)
        self.coef = np.ascontiguousarray(np.stack([self.w * (self.lam - 1.0), self.lam, self.w]))
        self.b0 = float(self.w.sum())
        # item lattice lo + q Z, q a power of two; items round to 0 .. item_max (in q units)
        self.q = 2.0 ** (math.floor(math.log2(self.width)) - ITEM_BITS)
        self.inv_q = 1.0 / self.q
        self.item_max = math.ceil(self.width / self.q)
        if float(T) * self.item_max >= 2.0**52:
            raise InvalidParameter(f"horizon {T} is too long for the exact item lattice (T * 2^21 must be < 2^52)")
        X = self.q * self.item_max  # largest change of one coordinate of an item
        # implemented strategy: its first column, computed by the float encoder itself, with its error bound
        self.c_hat = _encoder_impulse(self.coef, self.b0, T)
        G = 1.001 * float(np.abs(self.c_hat).sum())  # >= sum |c_k| of the real C (checked just below)
        self.enc_err_unit = self._encoder_error(1.0, G, T)  # per unit of item size (the impulse has size 1)
        if T * self.enc_err_unit > 1e-3 * G:
            raise InvalidParameter(f"{self.name}: the encoder recursion is not accurate enough at horizon {T}")
        self.enc_err = self._encoder_error(X, G, T)
        self.c_norm = float(np.sqrt(np.dot(self.c_hat, self.c_hat))) + math.sqrt(T) * self.enc_err_unit
        self.delta_col = X * self.c_norm  # L2 norm of one coordinate's change in C x
        exact = math.sqrt(dim) * self.delta_col
        sigma0 = exact / math.sqrt(2.0 * privacy.rho)
        target = LATTICE_INFLATION * self.delta_col / math.sqrt(T)
        g = max(target, sigma0 / MAX_SIGMA_LATTICE)
        g = min(g, sigma0 / 4096.0)
        self.gamma = 2.0 ** math.floor(math.log2(g))
        self.sens = exact + math.sqrt(T * dim) * (self.gamma * (1.0 + 2.0**-20) + 2.0 * self.enc_err)
        self.inflation = self.sens / exact - 1.0
        sigma = self.sens / math.sqrt(2.0 * privacy.rho)
        self.dist = DiscreteGaussian((sigma / self.gamma) ** 2)
        self.sigma2 = float(self.dist.sigma2) * self.gamma**2  # variance parameter actually used
        if self.sampler == "float":
            self.zvar = self.sigma2 + self.gamma**2 / 12.0  # rounded continuous Gaussian (upper bound on the excess)
        else:
            self.zvar = self.dist.variance * self.gamma**2
        self._rho = self.sens**2 / (2.0 * self.sigma2)
        self.quantum = None

    def _encoder_error(self, X: float, G: float, T: int) -> float:
        """Forward error bound E >= |u_hat_t - (C x)_t| for items in [0, X]; G >= sum_k |c_k| of the real C.

        The computed values satisfy b0 u_hat_t + sum_i dl_i e~_i(t-1) = x_t + delta_t, where e~ are the exact
        buffers of u_hat, so u_hat - C x = C delta and |u_hat - C x| <= G max |delta|.  delta collects the
        buffers' accumulated rounding (each buffer: local error <= u (2.01 |lam e| + |u_hat|), decaying with
        lam, at most K_i = min(T, 1/(1 - lam_i)) steps of it), the m-term dot product, the subtraction and the
        division.  Uses |u_hat| <= 2 X G, which holds because E <= X G (checked)."""
        u = UNIT_ROUNDOFF
        m = self.coef.shape[1]
        dl = np.abs(self.coef[0])
        lam = self.coef[1]
        K = np.minimum(float(T), 1.01 / np.maximum(1.0 - lam, 1e-300))
        U = 2.0 * X * G
        Ehat = U * K * 1.01
        de = u * (2.01 * Ehat + U) * K
        Ap = float(np.sum(dl * Ehat))
        delta = float(np.sum(dl * de)) + (m + 1) * u * 1.01 * Ap + u * (X + Ap) * 1.01 + u * self.b0 * U * 1.01
        E = G * delta
        if not E <= X * G:
            raise InvalidParameter(f"{self.name}: the encoder recursion is not accurate enough at horizon {T}")
        return E

    # -- used by the counter -----------------------------------------------------------------------------------
    def public_grids(self) -> list[float]:
        """Every lattice spacing the mechanism uses (public: a function of T, rho, dim, bounds)."""
        return [self.q, self.gamma, self.gamma * self.b0]

    def params(self):
        return {"buffers": self.buffers, "block": self.block, "sampler": self.sampler}

    def draws(self, entropy: int, j: int) -> tuple[np.ndarray, np.ndarray]:
        """Block j's lattice noise z (float64 holding integers) and encoder rounding uniforms."""
        n = self.block
        if self.zero:  # noiseless test copy: no noise, the same randomized rounding
            return np.zeros((n, self.dim)), make_rng(entropy, j, 1).random((n, self.dim))
        rng = make_rng(entropy, j)
        if self.sampler == "float":
            z = np.rint(rng.standard_normal((n, self.dim)) * math.sqrt(float(self.dist.sigma2)))
        else:
            z = self.dist.sample(rng, (n, self.dim)).astype(np.float64)
        return z, make_rng(entropy, j, 1).random((n, self.dim))

    def b_coefficients(self, n: int) -> np.ndarray:
        k = np.arange(n, dtype=np.float64)
        out = np.zeros(n)
        for w, lam in zip(self.w, self.lam, strict=True):
            out += w * np.exp(k * math.log(lam))
        return out

    def _bnorm2(self, ts: np.ndarray) -> np.ndarray:
        """sum_{k < t} b_k^2 = sum_{i,j} w_i w_j (1 - (lam_i lam_j)^t) / (1 - lam_i lam_j)."""
        ts = np.asarray(ts, dtype=np.float64)
        ll = np.outer(self.lam, self.lam)
        ww = np.outer(self.w, self.w)
        out = np.zeros(ts.shape)
        for a, r in zip(ww.ravel(), ll.ravel(), strict=True):
            out += a * (-np.expm1(ts * math.log(r))) / (1.0 - r)
        return out

    def variances(self, ts):
        """Variance of the noise part B z of every answer (the rounding parts are bounded in ``tail_bound``)."""
        return self._bnorm2(ts) * self.zvar

    def tail_bound(self, beta, upto):
        """Noise B z, encoder rounding B e (mean 0, each in an interval of length gamma), item rounding (mean 0,
        intervals of length q), all independent given the stream: sub-Gaussian with the summed proxies; plus the
        deterministic float error of the encoder through B."""
        bn = float(self._bnorm2(np.array([upto]))[0])
        proxy = self.sigma2 if self.sampler == "exact" else (math.sqrt(self.sigma2) + self.gamma / 2) ** 2
        v = bn * (proxy + self.gamma**2 / 4.0) + upto * self.q**2 / 4.0
        bsum = float(np.sum(self.b_coefficients(upto))) if upto <= 1 << 22 else 2.0 * math.sqrt(upto)
        slack = bsum * self.enc_err * 1.01 + 1e-9 * (abs(self.bounds[0]) + self.width) * upto
        return gaussian_tail(v, beta, upto * self.dim) + slack

    def guarantee(self) -> Guarantee:
        sampler = (
            "z is an exact discrete Gaussian on the lattice gamma Z"
            if self.sampler == "exact"
            else "sampler='float': z is numpy's floating-point Gaussian rounded to the lattice gamma Z; the "
            "guarantee assumes that sampler is an exact Gaussian (idealised)"
        )
        return Guarantee(
            rho=self._rho,
            # rounding is post-processing of the (idealised) Gaussian mechanism: mu-GDP with the float sampler
            mu=math.sqrt(2 * self._rho) if self.sampler == "float" else None,
            notes=(
                f"lattice linear mechanism (B C = A): items rounded to the lattice of spacing {self.q} and C x to "
                f"gamma = {self.gamma:.3g} by unbiased randomized rounding; answers are computed from the lattice "
                f"vector C x + z alone; sensitivity includes the rounding (+{self.inflation:.2e} relative)",
                sampler,
                "adaptive: each lattice coordinate depends on the items so far and fresh noise; the per-step "
                "privacy losses sum to at most rho on every path (Renyi filter, Feldman-Zrnic 2021)",
            ),
        )

    def strategy(self, T):
        B = toeplitz_lower(self.b_coefficients(T))
        A = np.tril(np.ones((T, T)))
        C = np.linalg.solve(B, A)
        return B, C


class SquareRootProcess(LatticeFactorProcess):
    """B ~ A^(1/2) to about 1e-9 relative coefficient error (48 candidate buffers), C = B^-1 A ~ A^(1/2)."""

    name = "square-root"
    default_buffers = 48


class BLTProcess(LatticeFactorProcess):
    """Buffered linear Toeplitz decoder with few buffers (default 12): cheaper, within 5 % of the square root."""

    name = "blt"
    default_buffers = 12


class FactorCounter(LinearCounter):
    """A counter driven step by step by a :class:`LatticeFactorProcess` (answers depend on the data through the
    lattice vector v = round(C x) + z only)."""

    process_cls: type[LatticeFactorProcess] = LatticeFactorProcess
    process: LatticeFactorProcess

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        p = self.process
        m = p.coef.shape[1]
        self._enc = np.zeros((m, self.dim))
        self._dec = np.zeros((m, self.dim))
        self._zblk = np.zeros((0, self.dim))
        self._ublk = np.zeros((0, self.dim))
        self._zl: list | None = None
        self._ul: list | None = None
        self.last_lattice: np.ndarray | None = None  # v of the last batch (tests and audits)

    def _lattice_items(self, a: np.ndarray, t0: int) -> np.ndarray:
        """Items (n, dim) -> offsets from lo on the item lattice q Z (unbiased randomized rounding), exact."""
        p = self.process
        y = (a - self.bounds[0]) * p.inv_q
        k = np.floor(y)
        if (k != y).any():
            k = np.floor(y + self._item_uniforms(t0, a.shape[0]))
        np.clip(k, 0.0, float(p.item_max), out=k)
        return k * p.q

    def _next_block(self) -> None:
        j = self._blk + 1
        self._zblk, self._ublk = self.process.draws(self._entropy, j)
        self._zl = self._ul = None  # per-item path converts lazily
        self._blk = j
        self._bstart = j * self.process.block
        self._bn = min(self.process.block, self._hmax - self._bstart)

    def _run(self, xq: np.ndarray) -> np.ndarray:
        n = xq.shape[0]
        out = np.empty((n, self.dim))
        vs = np.empty((n, self.dim))
        p = self.process
        done = 0
        while done < n:
            i = self.t - self._bstart
            if i >= self._bn:
                self._next_block()
                i = self.t - self._bstart
            take = min(n - done, self._bn - i)
            zz = self._zblk[i : i + take].copy()
            _lattice_factor_kernel(
                xq[done : done + take],
                zz,
                self._ublk[i : i + take],
                p.coef,
                p.b0,
                p.gamma,
                self.bounds[0],
                self.t,
                self._enc,
                self._dec,
                out[done : done + take],
            )
            vs[done : done + take] = zz
            self.t += take
            done += take
        self.last_lattice = vs
        return out

    def update(self, x):
        if self.t >= self._hmax:
            self._check_room(1)
        if self.dim != 1:
            return self._update_vec(x)
        if type(x) is not float or not (self.bounds[0] <= x <= self.bounds[1]):
            x = self._check_scalar(x)
        t = self.t
        i = t - self._bstart
        if i >= self._bn:
            self._next_block()
            i = t - self._bstart
        if self._zl is None:
            self._zl = self._zblk[:, 0].tolist()
            self._ul = self._ublk[:, 0].tolist()
        p = self.process
        lo = self.bounds[0]
        y = (x - lo) * p.inv_q
        k = math.floor(y)
        if k != y:  # off the item lattice: unbiased randomized rounding with this step's uniform
            k = min(max(math.floor(y + float(self._item_uniforms(t, 1)[0, 0])), 0), p.item_max)
        xq = k * p.q
        ans, v = _lattice_factor_step(
            xq, self._zl[i], self._ul[i], p.coef, p.b0, p.gamma, lo * float(t + 1), self._enc, self._dec
        )
        self._s = self._s + (lo + xq)
        self.t = t + 1
        self.last_lattice = None  # (set by batches only: an array per item would cost more than the step)
        return ans

    def _update_vec(self, x):
        a = self._check_vector(x)
        a = self._lattice_items(self._prepare(a[None, :]), self.t)
        self._s = self._s + (self.bounds[0] + a[0])
        return self._run(a)[0]

    def update_many(self, xs):
        a = self._prepare(xs)
        n = a.shape[0]
        self._check_room(n)
        if n == 0:
            return np.zeros((0,) if self.dim == 1 else (0, self.dim))
        a2 = a.reshape(n, self.dim)
        xq = self._lattice_items(a2, self.t)
        tot = xq.sum(axis=0) + n * self.bounds[0]
        self._s = self._s + (float(tot[0]) if self.dim == 1 else tot)
        out = self._run(np.ascontiguousarray(xq))
        return out[:, 0] if self.dim == 1 else out

    def state_dict(self) -> dict:
        st = super().state_dict()
        st["carry"] = {"enc": self._enc.tolist(), "dec": self._dec.tolist()}
        return st

    @classmethod
    def from_state_dict(cls, state: dict) -> Self:
        obj = super().from_state_dict(state)
        try:
            carry = state["carry"]
            enc = np.asarray(carry["enc"], dtype=np.float64)
            dec = np.asarray(carry["dec"], dtype=np.float64)
        except (KeyError, TypeError, ValueError) as e:
            raise StateError(f"cannot restore counter state: bad 'carry' ({e})") from e
        if (
            enc.shape != obj._enc.shape
            or dec.shape != obj._dec.shape
            or not (np.isfinite(enc).all() and np.isfinite(dec).all())
        ):
            raise StateError(f"state 'carry' must hold encoder/decoder buffers of shape {obj._enc.shape}")
        obj._enc = enc.copy()
        obj._dec = dec.copy()
        return obj


class SquareRoot(FactorCounter):
    name = "square-root"
    process_cls = SquareRootProcess


class BLT(FactorCounter):
    name = "blt"
    process_cls = BLTProcess
