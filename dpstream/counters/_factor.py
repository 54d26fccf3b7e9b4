"""Matrix-factorization counters: the square-root factorization (FHU23 / HUU23) with a blocked-FFT streaming noise
generator, and a BLT (buffered linear Toeplitz) approximation with O(buffers) work and memory per step.

Both release s_hat = A x + B z with A = B C (A: prefix sums), i.e. the Gaussian mechanism on C x with
z ~ N(0, sigma^2 I) and sigma = Delta_2 / sqrt(2 rho), Delta_2 = the largest column norm of C (single
participation, event level).  For lower-triangular Toeplitz C that is the norm of its first column.

Noise.  z is drawn with the exact discrete Gaussian sampler on the grid sigma/4096 * Z (variance sigma^2 to double
precision).  The privacy statement is the standard one for correlated-noise mechanisms, made for real-valued
Gaussian noise: C x is not on the grid, so the exact-lattice argument used by the tree counters does not apply,
and the guarantee says so in its notes.
"""

from __future__ import annotations

import math

import numba
import numpy as np
from scipy import signal
from scipy.optimize import nnls

from ..accounting import zCDP
from ..base import InvalidParameter
from ..noise import DiscreteGaussian, make_rng
from ._core import LinearCounter, NoiseProcess, gaussian_tail

GRID = 4096  # z = sigma / GRID * (discrete Gaussian with parameter GRID^2)


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


class _GaussianFactorProcess(NoiseProcess):
    sampler = "exact"

    def _calibrate(self, sens2_unit: float) -> None:
        if not isinstance(self.privacy, zCDP):
            raise InvalidParameter(
                f"{self.name} adds Gaussian noise and supports zCDP(rho=...) only; for pure epsilon-DP use "
                f"'binary-tree', 'honaker' or 'smooth-binary' with EpsDP(epsilon=...)"
            )
        self.sens2 = sens2_unit * self.dim * self.width**2
        sigma = math.sqrt(self.sens2 / (2.0 * self.privacy.rho))
        self.dist = DiscreteGaussian(float(GRID) ** 2)
        self.unit = sigma / GRID
        self.sigma2 = float(self.dist.sigma2) * self.unit**2  # variance proxy actually used
        self.zvar = self.sigma2 if self.sampler == "float" else self.dist.variance * self.unit**2
        self._rho = self.sens2 / (2.0 * self.sigma2)

    def _z(self, entropy: int, j: int, n: int) -> np.ndarray:
        if self.zero:
            return np.zeros((n, self.dim))
        if self.sampler == "float":
            return make_rng(entropy, j).standard_normal((n, self.dim)) * math.sqrt(self.sigma2)
        return self.dist.sample(make_rng(entropy, j), (n, self.dim)) * self.unit

    def guarantee_fields(self):
        return {
            "rho": self._rho,
            "mu": math.sqrt(2 * self._rho),
            "notes": [
                "Gaussian linear mechanism (B C = A, lower-triangular C): rho-zCDP / mu-GDP for real-valued "
                "Gaussian noise; "
                + (
                    "z from numpy's floating-point Gaussian sampler (sampler='float')"
                    if self.sampler == "float"
                    else "z is drawn exactly from a discrete Gaussian on a grid of sigma/4096"
                ),
                "adaptive: lower-triangular Gaussian linear mechanisms keep their guarantee for adaptively "
                "chosen streams (Denisov et al. 2022)",
            ],
        }


class SquareRootProcess(_GaussianFactorProcess):
    """C = B = A^(1/2), c_k = C(2k, k)/4^k.  eta = C z is produced block by block: the spectrum of every past noise
    block is kept, and block j is irfft(sum_i Z_i K_{j-i}) with K_m the spectrum of the kernel segment at lag m
    (circular FFT of size 2n without aliasing).  Memory O(T dim) (inherent for an exact dense Toeplitz; use
    'blt' for O(1)); time O(T^2 / n) multiply-adds + O(T log n) FFT work."""

    name = "square-root"

    def __init__(self, horizon, privacy, dim, bounds, block=None, sampler="exact"):
        super().__init__(horizon, privacy, dim, bounds)
        self.sampler = _check_sampler(sampler)
        if horizon is None:
            raise InvalidParameter("square-root needs a horizon; use the 'hybrid' counter for an unknown one")
        if block is None:
            block = 1 << max(6, min(16, (horizon - 1).bit_length(), (2**20 // dim).bit_length() - 1))
        if not isinstance(block, int) or block < 1 or block & (block - 1):
            raise InvalidParameter(f"block must be a power of two, got {block!r}")
        self.block = block
        self.nblocks = -(-horizon // block)
        self.c = sqrt_coefficients(self.nblocks * block + 1)
        self.S = np.cumsum(self.c[:horizon] ** 2)  # S_t = sum_{k < t} c_k^2
        self._calibrate(float(self.S[-1]))
        self._cache_key = None
        self._Z: np.ndarray | None = None
        self._K: np.ndarray | None = None
        self._have = 0

    def params(self):
        return {"block": self.block, "sampler": self.sampler}

    def _kernel(self, m: int) -> np.ndarray:
        n = self.block
        arr = np.zeros(2 * n)
        arr[:n] = self.c[m * n : m * n + n]
        if m >= 1:
            arr[n + 1 :] = self.c[m * n - (n - 1) : m * n]
        return np.fft.rfft(arr)

    def generate(self, entropy, j, carry):
        n = self.block
        if self._cache_key != (entropy, self.zero) or self._Z is None:
            self._cache_key = (entropy, self.zero)
            self._Z = np.zeros((self.nblocks, n + 1, self.dim), dtype=np.complex128)
            self._K = np.zeros((self.nblocks, n + 1), dtype=np.complex128)
            self._have = 0
        while self._have <= j:  # spectra of the noise blocks 0..j (regenerated identically after a restore)
            i = self._have
            z = np.zeros((2 * n, self.dim))
            z[:n] = self._z(entropy, i, n)
            self._Z[i] = np.fft.rfft(z, axis=0)
            self._K[i] = self._kernel(i)
            self._have += 1
        acc = np.einsum("ikd,ik->kd", self._Z[: j + 1], self._K[j::-1])
        eta = np.fft.irfft(acc, 2 * n, axis=0)[:n]
        end = min(n, self.horizon - j * n)
        return eta[:end], None

    def variances(self, ts):
        return self.S[np.asarray(ts) - 1] * self.zvar

    def tail_bound(self, beta, upto):
        return gaussian_tail(float(self.S[upto - 1]) * self.sigma2, beta, upto * self.dim)

    def strategy(self, T):
        C = toeplitz_lower(sqrt_coefficients(T))
        return C.copy(), C


@numba.njit(cache=True)
def _blt_kernel(z, w, lam, state, out):
    """out[t] = sum_i w_i y_i(t), y_i(t) = lam_i y_i(t-1) + z[t]; ``state`` holds y_i and is updated in place."""
    n, d = z.shape
    m = w.shape[0]
    for t in range(n):
        for j in range(d):
            out[t, j] = 0.0
        for i in range(m):
            li = lam[i]
            wi = w[i]
            for j in range(d):
                y = li * state[i, j] + z[t, j]
                state[i, j] = y
                out[t, j] += wi * y
    return out


def fit_blt(horizon: int, buffers: int = 12) -> tuple[np.ndarray, np.ndarray]:
    """BLT decoder B(q) = sum_i w_i / (1 - lam_i q), i.e. b_k = sum_i w_i lam_i^k, fitted to the square-root
    coefficients C(2k, k)/4^k for k < horizon.

    The square root has the integral form c_k = (1/pi) int_0^1 lam^(k - 1/2) (1 - lam)^(-1/2) d lam, a positive
    mixture of geometric sequences, so a few geometric buffers approximate it well.  We fix the decay rates on a
    log-spaced grid lam_i = exp(-e^(u_i)) covering time scales 1 .. horizon and solve a non-negative least
    squares problem for the weights on the relative error at log-spaced k.  Milliseconds, for any horizon.
    """
    if not isinstance(buffers, int) or not 2 <= buffers <= 64:
        raise InvalidParameter(f"buffers must be an int in [2, 64], got {buffers!r}")
    T = max(int(horizon), 2)
    ks = np.unique(np.round(np.logspace(0, math.log10(T - 1) if T > 2 else 0.5, 600)).astype(np.int64))
    ks = np.concatenate(([0], ks[ks < T]))
    # c at the sample points via log-gamma (exact to rounding)
    from scipy.special import gammaln

    ck = np.exp(gammaln(2 * ks + 1) - 2 * gammaln(ks + 1) - 2 * ks * math.log(2))
    u = np.linspace(-math.log(T) - 3, 2.5, buffers)
    lam = np.exp(-np.exp(u))
    M = np.exp(np.log(lam)[None, :] * ks[:, None]) / ck[:, None]
    w, _ = nnls(M, np.ones(ks.shape[0]))
    keep = w > 0
    return w[keep], lam[keep]


class BLTProcess(_GaussianFactorProcess):
    """Buffered linear Toeplitz: the decoder B is a sum of m geometric buffers, b_k = sum_i w_i lam_i^k, so
    eta = B z is m first-order recursions y_i <- lam_i y_i + z_t, eta_t = sum_i w_i y_i: O(m dim) work and memory
    per step (the carry between blocks is the m x dim buffer state).  The strategy C = B^(-1) A is computed once
    (Newton power-series inversion, O(T log T)) to get the exact sensitivity Delta_2^2 = sum_{k<T} c_k^2."""

    name = "blt"

    def __init__(self, horizon, privacy, dim, bounds, buffers=12, block=None, sampler="exact"):
        super().__init__(horizon, privacy, dim, bounds)
        self.sampler = _check_sampler(sampler)
        if horizon is None:
            raise InvalidParameter("blt needs a horizon; use the 'hybrid' counter for an unknown one")
        self.buffers = buffers
        self.w, self.lam = fit_blt(horizon, buffers)
        T = horizon
        b = self.b_coefficients(T)
        c = np.cumsum(series_inverse(b))  # strategy C = B^-1 A: c = (1/B) * 1/(1 - q)
        self.c_norm2 = float(np.dot(c, c)) * (1 + 1e-9)  # safety margin for rounding in the inversion
        self._calibrate(self.c_norm2)
        if block is None:
            block = 1 << max(6, min(14, (2**19 // dim).bit_length() - 1))  # transient memory O(block * dim)
        self.block = block

    def params(self):
        return {"buffers": self.buffers, "block": self.block, "sampler": self.sampler}

    def b_coefficients(self, n: int) -> np.ndarray:
        k = np.arange(n, dtype=np.float64)
        out = np.zeros(n)
        for w, lam in zip(self.w, self.lam, strict=True):
            out += w * np.exp(k * math.log(lam))
        return out

    def init_carry(self):
        return [[0.0] * self.dim for _ in range(self.w.shape[0])]

    def generate(self, entropy, j, carry):
        n = min(self.block, self.horizon - j * self.block)
        z = np.ascontiguousarray(self._z(entropy, j, self.block)[:n])
        state = np.array(carry, dtype=np.float64).reshape(self.w.shape[0], self.dim)
        eta = _blt_kernel(z, self.w, self.lam, state, np.empty((n, self.dim)))
        return eta, state.tolist()

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
        return self._bnorm2(ts) * self.zvar

    def tail_bound(self, beta, upto):
        return gaussian_tail(float(self._bnorm2(np.array([upto]))[0]) * self.sigma2, beta, upto * self.dim)

    def strategy(self, T):
        B = toeplitz_lower(self.b_coefficients(T))
        A = np.tril(np.ones((T, T)))
        C = np.linalg.solve(B, A)
        return B, C


class SquareRoot(LinearCounter):
    name = "square-root"
    process_cls = SquareRootProcess


class BLT(LinearCounter):
    name = "blt"
    process_cls = BLTProcess
