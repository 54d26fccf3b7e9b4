"""Noise-only generators for gradient streams: the correlated noise of a continual counter, for vectors of up to
10^7 float32 coordinates, one step at a time (DP-FTRL / DP matrix-factorization training).

A counter releases noisy running sums  s_t + eta_t  with  eta = B z  (decoder B, z ~ N(0, std^2 I) per released
row, B C = A the prefix-sum matrix).  A training loop needs only the noise:

* ``output="increment"`` (default): ``step()`` returns  w_t = eta_t - eta_(t-1)  (= (C^-1 z)_t for a Toeplitz
  factorization), the noise to add to step t's clipped gradient sum.  Any optimizer fed g_t + w_t sees, summed
  over steps, exactly the noisy prefix sums  s_t + eta_t;  plain SGD on them *is* DP-FTRL.
* ``output="prefix"``: ``step()`` returns eta_t itself (the noise of the running sum, for an FTRL that keeps the
  sum of gradients and recomputes the iterate from it).

Generators (same factorizations as the counters of this package, imported, not re-derived):

* :class:`BLTNoise`    decoder b_k = sum_i w_i lam_i^k (:func:`dpstream.counters.fit_blt`): m buffers
                       y_i <- lam_i y_i + z_t, eta_t = sum_i w_i y_i; holds m (+1 in increment mode) d-vectors.
* :class:`TreeNoise`   binary tree (DNPR10 / CSS11; DP-FTRL of Kairouz et al. 2021): one fresh node per step (the
                       one completing at height = trailing zeros of t); holds at most popcount(t) <= L nodes.
* :class:`HonakerNoise` online Honaker estimator (as TF Privacy's EfficientTreeAggregator and
                       :class:`dpstream.counters.Honaker`): every node released, estimates combined by inverse
                       variance; holds at most L estimates.

Randomness.  z for (step t, slot h) is ``numpy.random.PCG64(SeedSequence(key, spawn_key=(stream, t, h)))`` drawn
as float32 standard normals (numpy's ziggurat), with a 128-bit ``key`` from the OS unless a seed is given.  The noise
of a step is a deterministic function of (key, t) and of the d-vectors the generator holds, so a generator restored
from :meth:`GradientNoise.state_dict` continues with the *same* values the original would have produced: a resumed
training run never re-draws noise for a step it had already released.

Privacy caveat (stated in every guarantee built on these): this is the real-valued Gaussian mechanism computed in
floating point (float32 samples from a float sampler, float32 buffers), not the exact lattice mechanism of the
counters.  Its guarantee is that of the idealised real-valued mechanism; floating-point artefacts (rounding of
g + noise, the sampler's finite resolution) are not covered by a proof.  PCG64 is not a cryptographic generator.
"""

from __future__ import annotations

from typing import Any

import numba
import numpy as np

from ..accounting import zCDP
from ..base import (
    InvalidParameter,
    StateError,
    check_horizon,
    check_int,
    check_positive,
    pack_state,
    state_mechanism,
    unpack_state,
)
from ..noise import make_entropy
from ._factor import fit_blt, series_inverse
from ._trees import BinaryTreeProcess, HonakerProcess

__all__ = ["GradientNoise", "BLTNoise", "TreeNoise", "HonakerNoise", "make_gradient_noise", "MECHANISMS"]

#: the envelope's ``mechanism`` of a generator is this prefix + its name ("gradient-noise/blt", ...)
STATE_PREFIX = "gradient-noise/"
MAX_DIM = 10**8


def _z(entropy: int, stream: int, t: int, slot: int, dim: int, std: float) -> np.ndarray:
    """N(0, std^2) float32 vector for (stream, step t, slot), a deterministic function of the key."""
    rng = np.random.Generator(np.random.PCG64(np.random.SeedSequence(entropy, spawn_key=(stream, t, slot))))
    z = rng.standard_normal(dim, dtype=np.float32)
    if std != 1.0:
        z *= np.float32(std)
    return z


@numba.njit(cache=True)
def _blt_step(z, w, lam, state, prev, out, increment):
    """state_i <- lam_i state_i + z;  eta = sum_i w_i state_i;  out = eta - prev, prev <- prev + out (increment) or
    out = eta (prefix).  Buffer-major loops (contiguous, SIMD); serial: numba's thread pool costs more than it saves
    on a shared machine."""
    m, d = state.shape
    if increment:
        for j in range(d):
            out[j] = -prev[j]
    else:
        for j in range(d):
            out[j] = 0.0
    for i in range(m):
        li = lam[i]
        wi = w[i]
        s = state[i]
        for j in range(d):
            y = li * s[j] + z[j]
            s[j] = y
            out[j] += wi * y
    if increment:
        for j in range(d):
            prev[j] += out[j]
    return out


class GradientNoise:
    """Base class: correlated Gaussian noise for a stream of ``dim``-vectors, ``horizon`` steps.

    ``std`` is the standard deviation of every released row's noise z (the caller's noise multiplier times clip
    norm times the sensitivity of the factorization; see :mod:`dpstream.training`).  ``stream`` separates
    independent noise streams drawn from one key (e.g. restarted trees)."""

    name = "gradient-noise"
    #: layout version of the state fields (the envelope's ``version``)
    state_version = 1

    def __init__(
        self,
        dim: int,
        horizon: int,
        std: float = 1.0,
        output: str = "increment",
        seed: int | None = None,
        stream: int = 0,
        _entropy: int | None = None,
    ):
        if output not in ("increment", "prefix"):
            raise InvalidParameter(
                f"output must be 'increment' (noise per step) or 'prefix' (noise of the running sum), got {output!r}"
            )
        self.dim = check_int("dim (number of model coordinates)", dim, maximum=MAX_DIM)
        self.stream = check_int("stream", stream, minimum=0)
        self.horizon = check_horizon(horizon)
        self.std = check_positive("std", std)
        self.output = output
        self.seeded = seed is not None
        self._entropy = make_entropy(seed) if _entropy is None else int(_entropy)
        self.t = 0

    # -- to implement ------------------------------------------------------------------------------------------
    def _advance(self) -> np.ndarray:
        raise NotImplementedError

    def _vectors(self) -> dict[str, np.ndarray]:
        """The d-vectors the generator holds (its whole memory apart from O(1) scalars)."""
        raise NotImplementedError

    def _load_vectors(self, vecs: dict[str, np.ndarray]) -> None:
        raise NotImplementedError

    def decoder(self, n: int) -> np.ndarray:
        """Dense decoder B (n x rows) with eta = std * B z for unit z, first n steps (small n; tests)."""
        raise NotImplementedError

    # -- common ------------------------------------------------------------------------------------------------
    def step(self) -> np.ndarray:
        """Noise for the next step: w_t (``output="increment"``) or eta_t (``"prefix"``), float32, shape (dim,)."""
        if self.t >= self.horizon:
            raise InvalidParameter(
                f"{self.name}: all {self.horizon} steps of noise have been produced; the factorization's "
                f"privacy covers {self.horizon} steps (create the generator with a larger horizon)"
            )
        self.t += 1
        return self._advance()

    def vectors_held(self) -> int:
        """Number of d-vectors currently held (the memory bound: O(buffers) for BLT, O(log T) for trees)."""
        return sum(1 for v in self._vectors().values() if v is not None)

    def _z(self, t: int, slot: int) -> np.ndarray:
        return _z(self._entropy, self.stream, t, slot, self.dim, self.std)

    def params(self) -> dict:
        return {}

    def state_dict(self) -> dict:
        """State to continue the stream: parameters, the key (secret: store it like the data), t and the held
        d-vectors (numpy float32 arrays).  Restore it *once* (two live copies would release the same noise on
        different data)."""
        return pack_state(
            STATE_PREFIX + self.name,
            self.state_version,
            {
                "dim": self.dim,
                "horizon": self.horizon,
                "std": self.std,
                "output": self.output,
                "stream": self.stream,
                "params": self.params(),
                "seeded": self.seeded,
                "entropy": format(self._entropy, "x"),
                "t": self.t,
                "vectors": {k: None if v is None else v.copy() for k, v in self._vectors().items()},
            },
        )

    _STATE_FIELDS = ("dim", "horizon", "std", "output", "stream", "params", "seeded", "entropy", "t", "vectors")

    @staticmethod
    def from_state_dict(state: dict) -> GradientNoise:
        mechanism = state_mechanism(state, "gradient-noise")
        cls = MECHANISMS.get(mechanism[len(STATE_PREFIX) :]) if mechanism.startswith(STATE_PREFIX) else None
        if cls is None:
            known = sorted(STATE_PREFIX + n for n in MECHANISMS)
            raise StateError(f"state is for mechanism {mechanism!r}, not a gradient-noise generator ({known})")
        st = unpack_state(state, mechanism, cls.state_version, cls._STATE_FIELDS)
        try:
            obj = cls(
                int(st["dim"]),
                int(st["horizon"]),
                std=float(st["std"]),
                output=st["output"],
                stream=int(st["stream"]),
                _entropy=int(st["entropy"], 16),
                **st["params"],
            )
            if type(st["seeded"]) is not bool:
                raise StateError(f"state 'seeded' must be true or false, got {st['seeded']!r}")
            obj.seeded = st["seeded"]
            t = int(st["t"])
            if not 0 <= t <= obj.horizon:
                raise StateError(f"state t={t} outside [0, {obj.horizon}]")
            obj.t = t
            vecs = {}
            for k, v in dict(st["vectors"]).items():
                if v is not None:
                    v = np.asarray(v, dtype=np.float32)
                    if v.shape[-1] != obj.dim or not np.isfinite(v).all():
                        raise StateError(f"state vector {k!r} must hold finite float32 of length {obj.dim}")
                vecs[k] = v
            obj._load_vectors(vecs)
        except StateError:
            raise
        except (KeyError, TypeError, ValueError, AttributeError, InvalidParameter) as e:
            raise StateError(f"cannot restore {mechanism!r} state: {e}") from e
        return obj


class BLTNoise(GradientNoise):
    """BLT decoder noise: eta_t = sum_i w_i y_i(t), y_i(t) = lam_i y_i(t-1) + z_t (:func:`fit_blt`, fitted to the
    square-root factorization).  Holds the m buffers (and eta_(t-1) in increment mode)."""

    name = "blt"

    def __init__(self, dim, horizon, std=1.0, output="increment", seed=None, stream=0, buffers: int = 6, _entropy=None):
        super().__init__(dim, horizon, std, output, seed, stream, _entropy)
        self.buffers = buffers
        w, lam = fit_blt(self.horizon, buffers)
        self.w = w.astype(np.float32)
        self.lam = lam.astype(np.float32)
        self._state: np.ndarray | None = None
        self._prev: np.ndarray | None = None

    def params(self):
        return {"buffers": self.buffers}

    def b_coefficients(self, n: int) -> np.ndarray:
        """b_k = sum_i w_i lam_i^k, k < n (float64, from the float32 parameters actually used)."""
        k = np.arange(n, dtype=np.float64)
        return (self.w.astype(np.float64)[None, :] * self.lam.astype(np.float64)[None, :] ** k[:, None]).sum(1)

    def strategy_coefficients(self, n: int) -> np.ndarray:
        """First column of the strategy C = B^-1 A (lower-triangular Toeplitz): c = cumsum(1 / b(q))."""
        return np.cumsum(series_inverse(self.b_coefficients(n)))

    def decoder(self, n):
        b = self.b_coefficients(n)
        i, j = np.indices((n, n))
        return np.where(i >= j, b[np.clip(i - j, 0, n - 1)], 0.0)

    def _advance(self):
        m = self.w.shape[0]
        if self._state is None:
            self._state = np.zeros((m, self.dim), dtype=np.float32)
            if self.output == "increment":
                self._prev = np.zeros(self.dim, dtype=np.float32)
        z = self._z(self.t, 0)
        out = np.empty(self.dim, dtype=np.float32)
        prev = self._prev if self._prev is not None else out
        return _blt_step(z, self.w, self.lam, self._state, prev, out, self.output == "increment")

    def _vectors(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if self._state is not None:
            for i in range(self._state.shape[0]):
                out[f"buffer{i}"] = self._state[i]
            out["prev"] = self._prev
        return out

    def _load_vectors(self, vecs):
        m = self.w.shape[0]
        if not vecs:
            if self.t != 0:
                raise StateError("a BLT state after step 0 must hold its buffers")
            return
        try:
            self._state = np.stack([vecs[f"buffer{i}"] for i in range(m)]).astype(np.float32)
        except KeyError as e:
            raise StateError(f"BLT state lacks {e}") from None
        self._prev = vecs.get("prev")
        if (self._prev is None) != (self.output != "increment"):
            raise StateError("BLT state: 'prev' must be present exactly in increment mode")


def _trailing_zeros(t: int) -> int:
    return (t & -t).bit_length() - 1


class TreeNoise(GradientNoise):
    """Binary-tree noise (the tree of DP-FTRL): node (h, k) covers steps k 2^h + 1 .. (k+1) 2^h; eta_t is the sum
    of the nodes of the set bits of t.  At step t the node at height h0 = trailing zeros of t completes; the
    nodes below it leave the prefix, so  w_t = n(h0) - sum_(h < h0) n(h)  and only popcount(t) nodes are held."""

    name = "tree"
    honaker = False

    def __init__(
        self,
        dim: int,
        horizon: int,
        std: float = 1.0,
        output: str = "increment",
        seed: int | None = None,
        stream: int = 0,
        _entropy: int | None = None,
    ) -> None:
        super().__init__(dim, horizon, std, output, seed, stream, _entropy)
        self.levels = self.horizon.bit_length()
        self._node: list[np.ndarray | None] = [None] * self.levels  # value in use at each set bit of t
        self._eta: np.ndarray | None = None  # running prefix (prefix mode)

    def _new_top(self, t: int, h0: int) -> np.ndarray:
        return self._z(t, h0)

    def _advance(self):
        t = self.t
        h0 = _trailing_zeros(t)
        top = self._new_top(t, h0)
        w = top.copy()  # top is kept as the node in use at height h0
        for h in range(h0):
            w -= self._node[h]
            self._node[h] = None
        self._node[h0] = top
        if self.output == "increment":
            return w
        if self._eta is None:
            self._eta = np.zeros(self.dim, dtype=np.float32)
        self._eta += w
        return self._eta.copy()

    def decoder(self, n):
        B, _ = BinaryTreeProcess(n, zCDP(1.0), 1, (0.0, 1.0)).strategy(n)
        return B

    def _vectors(self):
        out = {f"node{h}": v for h, v in enumerate(self._node)}
        if self.output == "prefix":
            out["eta"] = self._eta
        return out

    def _load_vectors(self, vecs):
        for h in range(self.levels):
            self._node[h] = vecs.get(f"node{h}")
        held = {h for h in range(self.levels) if self._node[h] is not None}
        want = {h for h in range(self.levels) if (self.t >> h) & 1}
        if held != want:
            raise StateError(f"tree state at t={self.t} must hold the nodes {sorted(want)}, holds {sorted(held)}")
        self._eta = vecs.get("eta")
        if self.output == "prefix" and self.t > 0 and self._eta is None:
            raise StateError("tree state in prefix mode lacks 'eta'")


class HonakerNoise(TreeNoise):
    """Online Honaker tree noise: every node is released with iid noise; the estimate of a completing node is
    e(h) = w_h n(h) + (1 - w_h)(e(left child) + e(right child)), w_h = 2^h / (2^(h+1) - 1).  The left child is the
    estimate held for bit h-1 of t-1, so the same <= L vectors suffice."""

    name = "honaker"
    honaker = True

    def __init__(self, dim, horizon, std=1.0, output="increment", seed=None, stream=0, _entropy=None):
        super().__init__(dim, horizon, std, output, seed, stream, _entropy)
        h = np.arange(self.levels)
        self.weights = 2.0**h / (2.0 ** (h + 1) - 1.0)

    def _new_top(self, t, h0):
        e = self._z(t, 0)
        for h in range(1, h0 + 1):
            a = np.float32(self.weights[h])
            e += self._node[h - 1]  # left sibling's estimate (still held: bit h-1 of t-1 is set)
            e *= np.float32(1.0) - a
            e += a * self._z(t, h)
        return e

    def decoder(self, n):
        B, _ = HonakerProcess(n, zCDP(1.0), 1, (0.0, 1.0)).strategy(n)
        return B


MECHANISMS: dict[str, type[GradientNoise]] = {c.name: c for c in (BLTNoise, TreeNoise, HonakerNoise)}


def make_gradient_noise(mechanism: str, dim: int, horizon: int, **kw: Any) -> GradientNoise:
    """``mechanism`` in ``"blt"``, ``"tree"``, ``"honaker"``; keyword arguments as in :class:`GradientNoise`."""
    cls = MECHANISMS.get(mechanism)
    if cls is None:
        raise InvalidParameter(f"unknown gradient-noise mechanism {mechanism!r}; choose one of {sorted(MECHANISMS)}")
    return cls(dim, horizon, **kw)
