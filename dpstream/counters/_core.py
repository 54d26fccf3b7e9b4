"""The machinery shared by every continual counter.

Every counter here is *linear with data-independent noise*: the answer after item t is

    answer_t = S_t + eta_t,        S_t = x_1 + ... + x_t (exact),

where eta_1, eta_2, ... is a noise process that does not look at the data (eta = B z for a decoder matrix B and
independent noise z; the released quantities are C x + z with B C = A, the prefix-sum matrix).  A
:class:`NoiseProcess` produces eta in fixed blocks of ``block`` steps; block j is a deterministic function of the
counter's secret key, j, and a small JSON-able *carry* (what the process must remember from earlier blocks: the
noisy tree nodes still in use, the BLT buffers, ...).  This gives, for free:

* ``update`` and ``update_many`` return bit-identical answers however the stream is chunked;
* persistence: ``state_dict`` stores the key, the position and the carry at the start of the current block; a
  restored counter regenerates the *same* block, so it never re-draws noise for an answer already released
  (the values are identical, not fresh), and continues the stream exactly as the original would have.
"""

from __future__ import annotations

import dataclasses
import inspect
import math
from typing import Any, Self

import numba
import numpy as np

from ..accounting import EpsDP, Guarantee, as_privacy, zCDP
from ..base import (
    DimensionMismatch,
    DPError,
    InvalidInput,
    InvalidParameter,
    Mechanism,
    StateError,
    check_horizon,
    check_int,
    check_probability,
    pack_state,
    unpack_state,
)
from ..noise import make_entropy, make_rng

MAX_UNBOUNDED = 2**40
_FIXED_ARGS = ("self", "horizon", "privacy", "dim", "bounds")


@numba.njit(cache=True)
def _rowcumsum_kernel(first, a, out):
    n, d = a.shape
    if n == 0:
        return out
    for j in range(d):
        out[0, j] = first[j] + a[0, j]
    for i in range(1, n):
        for j in range(d):  # independent across j: vectorizes
            out[i, j] = out[i - 1, j] + a[i, j]
    return out


def rowcumsum(first: np.ndarray, a: np.ndarray) -> np.ndarray:
    """out[i] = first + a[0] + ... + a[i], added in exactly that order (numpy's cumsum along axis 0 is slow for
    wide rows).  Same dtype as ``a``."""
    a = np.ascontiguousarray(a)
    out = np.empty_like(a)
    return _rowcumsum_kernel(np.asarray(first, dtype=a.dtype).reshape(a.shape[1]), a, out)


class NoiseProcess:
    """A data-independent noise process eta_1..eta_T (per coordinate), generated block by block.

    Subclasses set ``name``, ``block`` and implement :meth:`generate`, :meth:`variances`, :meth:`guarantee`
    and :meth:`tail_bound`.  ``zero`` (tests only) makes every noise draw zero.
    """

    name = "process"
    #: lattice spacing the inputs are rounded to (None = no rounding, real-valued arithmetic)
    quantum: float | None = None
    #: supports pure epsilon-DP (Laplace) as well as zCDP
    zero = False

    def __init__(self, horizon: int | None, privacy: zCDP | EpsDP, dim: int, bounds: tuple[float, float]):
        self.horizon = horizon
        self.privacy = privacy
        self.dim = dim
        self.bounds = bounds
        self.width = bounds[1] - bounds[0]
        self.block = 1024

    # -- to be provided by subclasses --------------------------------------------------------------------------
    def params(self) -> dict:
        """Extra constructor parameters (JSON-able) needed to rebuild the process."""
        return {}

    def init_carry(self) -> Any:
        return None

    def generate(self, entropy: int, j: int, carry: Any) -> tuple[np.ndarray, Any]:
        """Noise for block j (steps j*block+1 .. (j+1)*block), shape (block, dim), and the carry after it."""
        raise NotImplementedError

    def variances(self, ts: np.ndarray) -> np.ndarray:
        """Exact Var(eta_t) per coordinate for the 1-based steps ``ts`` (closed form)."""
        raise NotImplementedError

    def guarantee(self) -> Guarantee:
        """What the noise promises (rho, epsilon / mu where they hold, adaptivity, notes); the counter adds the
        seeding, the input domain and the neighbouring relation."""
        raise NotImplementedError

    def tail_bound(self, beta: float, upto: int) -> float:
        """a with Pr[max_{t <= upto, coord} |eta_t| > a] <= beta."""
        raise NotImplementedError

    def strategy(self, T: int) -> tuple[np.ndarray, np.ndarray]:
        """Dense (B, C) with B @ C = A (prefix sums), C = what is released with unit-scale noise (small T only)."""
        raise NotImplementedError


# ------------------------------------------------------------------------------------------------------------------
# tail bounds
# ------------------------------------------------------------------------------------------------------------------


def gaussian_tail(v_max: float, beta: float, count: int) -> float:
    """Union bound over ``count`` sub-Gaussian variables with variance proxy <= v_max."""
    if v_max <= 0:
        return 0.0
    return math.sqrt(2.0 * v_max * math.log(2.0 * count / beta))


def laplace_sum_tail(components: list[tuple[float, float, int]], beta: float, count: int) -> float:
    """a with count * Pr[|sum_i w_i Y_i| > a] <= beta for independent Y_i ~ DiscreteLaplace(scale b_i).

    ``components`` lists (w, b, m): m independent terms with weight w and scale b.

    Chernoff bound with the exact moment generating function of the discrete Laplace,
    E exp(l Y) = (1 - p)^2 / ((1 - p e^l)(1 - p e^-l)), p = exp(-1/b), valid for |l| < 1/b.
    """
    comps = [(abs(w), b, m) for w, b, m in components if w != 0 and m > 0]
    if not comps:
        return 0.0
    lam_max = min(1.0 / (b * w) for w, b, _ in comps)
    target = math.log(beta / (2.0 * count))

    def log_tail(a: float) -> float:
        best = 0.0
        for frac in np.linspace(0.02, 0.98, 97):
            lam = frac * lam_max
            lm = 0.0
            for w, b, m in comps:
                p = math.exp(-1.0 / b)
                x = lam * w
                lm += m * (2 * math.log1p(-p) - math.log1p(-p * math.exp(x)) - math.log1p(-p * math.exp(-x)))
            best = min(best, lm - lam * a)
        return best

    lo, hi = 0.0, 1.0
    while log_tail(hi) > target:
        hi *= 2.0
    for _ in range(60):
        mid = 0.5 * (lo + hi)
        if log_tail(mid) > target:
            lo = mid
        else:
            hi = mid
    return hi


# ------------------------------------------------------------------------------------------------------------------
# the counter
# ------------------------------------------------------------------------------------------------------------------


def _has_bool(xs: Any) -> bool:
    """True if a (nested) list/tuple holds a bool (numpy would silently turn it into 0.0 / 1.0)."""
    for v in xs:
        if isinstance(v, (bool, np.bool_)):
            return True
        if isinstance(v, (list, tuple)) and _has_bool(v):
            return True
        if isinstance(v, np.ndarray) and v.dtype.kind == "b":
            return True
    return False


def _real_array(name: str, xs: Any) -> np.ndarray:
    """xs as a float64 array, accepting only real numbers (ints, floats): strings, bools and complex numbers are
    an InvalidInput, not silently converted."""
    if isinstance(xs, (str, bytes)):
        raise InvalidInput(f"{name}: stream items must be real numbers, got the string {xs!r}")
    try:
        raw = np.asarray(xs)
    except (TypeError, ValueError):
        raise InvalidInput(f"{name}: stream items must be real numbers, got {type(xs).__name__}") from None
    if raw.dtype.kind in "iuf" and isinstance(xs, (list, tuple)) and _has_bool(xs):
        raise InvalidInput(f"{name}: stream items must be real numbers (int or float), got booleans")
    if raw.dtype.kind not in "iuf":
        if raw.dtype.kind == "O":
            converted: np.ndarray | None
            try:
                converted = (
                    np.asarray(raw.tolist(), dtype=np.float64)
                    if all(
                        type(v) in (int, float) or isinstance(v, (np.integer, np.floating))
                        for v in raw.ravel().tolist()
                    )
                    else None
                )
            except (TypeError, ValueError):
                converted = None
            if converted is not None:
                return converted
        kind = {"b": "booleans", "c": "complex numbers", "U": "strings", "S": "strings"}.get(
            raw.dtype.kind, f"values of type {raw.dtype}"
        )
        raise InvalidInput(f"{name}: stream items must be real numbers (int or float), got {kind}")
    return raw.astype(np.float64, copy=False)


class LinearCounter(Mechanism):
    """A continual counter: ``update(x)`` returns the private running sum after x.

    Inputs: scalars (``dim == 1``) or vectors of length ``dim`` with every coordinate in ``bounds`` (default
    [0, 1]: bits or clipped reals).  Neighbouring streams differ in one item, changed arbitrarily inside the
    bounds (event level); for ``dim > 1`` the whole record may change, so the noise is calibrated to the record's
    L2 (Gaussian) or L1 (Laplace) norm, not per column.
    """

    process_cls: type[NoiseProcess] = NoiseProcess
    state_kind = "counter"

    def __init__(
        self,
        horizon: int | None,
        privacy: Any,
        dim: int = 1,
        seed: int | None = None,
        bounds: tuple[float, float] = (0.0, 1.0),
        clip: bool = False,
        _entropy: int | None = None,
        **process_kwargs: Any,
    ):
        self.horizon = None if horizon is None else check_horizon(horizon)
        self.privacy = as_privacy(privacy)
        self.dim = check_int("dim (the length of one stream item)", dim)
        try:
            lo, hi = (float(bounds[0]), float(bounds[1]))
        except (TypeError, ValueError, IndexError):
            raise InvalidParameter(f"bounds must be a pair (lo, hi) of numbers, got {bounds!r}") from None
        if not (math.isfinite(lo) and math.isfinite(hi) and lo < hi):
            raise InvalidParameter(f"bounds must be finite with lo < hi, got {bounds!r}; e.g. bounds=(0.0, 1.0)")
        self.bounds = (lo, hi)
        self.clip = bool(clip)
        self.seeded = seed is not None
        self._entropy = make_entropy(seed) if _entropy is None else int(_entropy)
        allowed = [p for p in inspect.signature(self.process_cls.__init__).parameters if p not in _FIXED_ARGS]
        unknown = sorted(set(process_kwargs) - set(allowed))
        if unknown:
            raise InvalidParameter(f"{self.name} does not take option(s) {unknown}; its options are {allowed}")
        self.process = self.process_cls(self.horizon, self.privacy, self.dim, self.bounds, **process_kwargs)
        self._process_kwargs = self.process.params()
        self.t = 0
        self._s: Any = 0.0 if self.dim == 1 else np.zeros(self.dim)
        self._blk = -1
        self._bstart = 0  # steps before the current block
        self._bn = 0  # length of the current block (0 before the first)
        self._buf: np.ndarray = np.zeros((0, self.dim))
        self._buf1: list[float] | None = None
        self._carry_start: Any = self.process.init_carry()
        self._carry_end: Any = self._carry_start
        self._hmax = MAX_UNBOUNDED if self.horizon is None else self.horizon
        q = self.process.quantum
        self._g = q
        if q is not None:
            # unbiased randomized rounding to the lattice q Z: x -> q floor(x / q + U); the results stay in
            # [floor(lo / q), ceil(hi / q)] (the process calibrates its noise to that range)
            self._ginv = 1.0 / q
            self._qlo = math.floor(lo / q)
            self._qhi = math.ceil(hi / q)
        self._ublk_j = -1
        self._ublk_items: np.ndarray | None = None

    # -- guarantee / error ---------------------------------------------------------------------------------------
    @property
    def guarantee(self) -> Guarantee:
        if self.process.zero:
            raise DPError("this is a noiseless test copy: it has no privacy guarantee")
        return dataclasses.replace(
            self.process.guarantee(),
            seeded=self.seeded,
            domain={"bounds": [self.bounds[0], self.bounds[1]], "dim": self.dim, "clip": self.clip},
            relation=(
                f"replace one item by any other item in [{self.bounds[0]:g}, {self.bounds[1]:g}]^{self.dim} "
                f"(the whole record of {self.dim} coordinates may change)"
            ),
        )

    def error_bound(self, beta: float = 0.05, upto: int | None = None) -> float:
        """a with Pr[max over steps t <= upto and all coordinates of |answer_t - S_t| > a] <= beta.

        ``upto`` defaults to the horizon (or, for an unbounded counter, the steps consumed so far, at least 1).
        """
        beta = check_probability("beta", beta)
        if upto is None:
            upto = self.horizon if self.horizon is not None else max(self.t, 1)
        upto = check_horizon(upto)
        if self.horizon is not None and upto > self.horizon:
            raise InvalidParameter(f"upto={upto} exceeds the horizon {self.horizon}")
        return self.process.tail_bound(beta, upto)

    def variances(self, ts: Any = None) -> np.ndarray:
        """Closed-form per-coordinate Var(answer_t - S_t) for steps ``ts`` (default 1..horizon)."""
        if ts is None:
            if self.horizon is None:
                raise InvalidParameter("an unbounded counter needs explicit steps: variances(ts=...)")
            ts = np.arange(1, self.horizon + 1)
        return self.process.variances(np.asarray(ts, dtype=np.int64))

    # -- input validation ------------------------------------------------------------------------------------------
    def _check_scalar(self, x: Any) -> float:
        """One item for dim == 1: a real number (int, float, numpy real; not str, bool or complex) in bounds."""
        if type(x) is not float:
            if isinstance(x, (bool, np.bool_, str, bytes, complex, np.complexfloating)):
                raise InvalidInput(f"{self.name}: a stream item must be a real number, got {type(x).__name__} {x!r}")
            if isinstance(x, (int, np.integer, np.floating)):
                x = float(x)
            else:
                a = _real_array(self.name, x)
                if a.size != 1 or a.ndim > 1:
                    raise DimensionMismatch(f"{self.name}: update expects one number for dim=1, got {x!r}")
                x = float(a.reshape(-1)[0])
        if not (self.bounds[0] <= x <= self.bounds[1]):
            x = self._bad_scalar(x)
        return x

    def _check_vector(self, x: Any) -> np.ndarray:
        a = _real_array(self.name, x)
        if a.shape != (self.dim,):
            raise DimensionMismatch(f"{self.name}: update expects one item of shape ({self.dim},), got shape {a.shape}")
        return a

    def _item_uniforms(self, t0: int, n: int) -> np.ndarray:
        """Uniforms in [0, 1) for the randomized rounding of the items at steps t0+1 .. t0+n (shape (n, dim)): a
        function of the secret key and the step only, so every chunking and every restore rounds alike."""
        blk = self.process.block
        out = np.empty((n, self.dim))
        done = 0
        while done < n:
            t = t0 + done
            j, i = divmod(t, blk)
            if j != self._ublk_j or self._ublk_items is None:
                self._ublk_items = make_rng(self._entropy, j, 2).random((blk, self.dim))
                self._ublk_j = j
            take = min(n - done, blk - i)
            out[done : done + take] = self._ublk_items[i : i + take]
            done += take
        return out

    def _bad_scalar(self, x: float) -> float:
        if x != x or math.isinf(x):
            raise InvalidInput(f"{self.name}: stream item {x!r} is not a finite number; drop or impute it first")
        if self.clip:
            return min(max(x, self.bounds[0]), self.bounds[1])
        raise InvalidInput(
            f"{self.name}: stream item {x!r} is outside bounds {self.bounds}; pass clip=True to clip it, or "
            f"create the counter with wider bounds (the noise scales with hi - lo)"
        )

    def _prepare(self, xs: Any) -> np.ndarray:
        a = _real_array(self.name, xs)
        if self.dim == 1:
            if a.ndim == 2 and a.shape[1] == 1:
                a = a[:, 0]
            if a.ndim != 1:
                raise DimensionMismatch(
                    f"{self.name}: update_many expects a 1-D array of scalars for dim=1, got shape {a.shape}"
                )
        else:
            if a.ndim != 2 or a.shape[1] != self.dim:
                raise DimensionMismatch(
                    f"{self.name}: update_many expects shape (n, {self.dim}), got {a.shape}; "
                    f"each item must have dim={self.dim} coordinates"
                )
        lo, hi = self.bounds
        if a.size and not (lo <= a.min() and a.max() <= hi):  # NaN fails both comparisons
            if not np.isfinite(a).all():
                raise InvalidInput(f"{self.name}: the batch contains NaN or infinite values; drop or impute them")
            if not self.clip:
                bad = a[~((a >= lo) & (a <= hi))].ravel()[0]
                raise InvalidInput(
                    f"{self.name}: stream item {bad!r} is outside bounds {self.bounds}; pass clip=True to clip, "
                    f"or create the counter with wider bounds (the noise scales with hi - lo)"
                )
            a = np.clip(a, lo, hi)
        if self._g is not None:
            q = a * self._ginv
            k = np.floor(q)
            if (k != q).any():  # off the lattice: unbiased randomized rounding with the step's uniforms
                u = self._item_uniforms(self.t, q.shape[0])
                k = np.floor(q + (u[:, 0] if q.ndim == 1 else u))
                np.clip(k, self._qlo, self._qhi, out=k)
            k *= self._g
            a = k
        return a

    # -- noise blocks ----------------------------------------------------------------------------------------------
    def _next_block(self) -> None:
        j = self._blk + 1
        carry = self._carry_end
        eta, carry_end = self.process.generate(self._entropy, j, carry)
        self._blk = j
        self._bstart = j * self.process.block
        self._bn = eta.shape[0]
        self._buf = eta
        self._buf1 = None  # per-item path converts lazily
        self._carry_start = carry
        self._carry_end = carry_end

    def _noise(self, n: int) -> np.ndarray:
        """eta for the next n steps (advancing blocks as needed); does not move ``t``."""
        out = np.empty((n, self.dim))
        done = 0
        t = self.t
        while done < n:
            i = t + done - self._bstart
            if i >= self._bn:
                self._next_block()
                i = t + done - self._bstart
            take = min(n - done, self._bn - i)
            out[done : done + take] = self._buf[i : i + take]
            done += take
        return out

    # -- streaming -------------------------------------------------------------------------------------------------
    def update(self, x: Any) -> Any:
        t = self.t
        if t >= self._hmax:
            self._check_room(1)
        if self.dim != 1:
            return self._update_vec(x)
        if type(x) is not float or not (self.bounds[0] <= x <= self.bounds[1]):
            x = self._check_scalar(x)
        if self._g is not None:
            y = x * self._ginv
            k = math.floor(y)
            if k != y:  # off the lattice: unbiased randomized rounding with this step's uniform
                k = min(max(math.floor(y + float(self._item_uniforms(t, 1)[0, 0])), self._qlo), self._qhi)
            x = k * self._g
        i = t - self._bstart
        if i >= self._bn:
            self._next_block()
            i = t - self._bstart
        buf = self._buf1
        if buf is None:
            buf = self._buf1 = self._buf[:, 0].tolist()
        s = self._s + x
        self._s = s
        self.t = t + 1
        return s + buf[i]

    def _update_vec(self, x: Any) -> np.ndarray:
        a = self._prepare(self._check_vector(x)[None, :])[0]
        t = self.t
        i = t - self._bstart
        if i >= self._bn:
            self._next_block()
            i = t - self._bstart
        self._s = self._s + a
        self.t = t + 1
        return self._s + self._buf[i]

    def update_many(self, xs: Any) -> np.ndarray:
        return self._update_prepared(self._prepare(xs))

    def _update_prepared(self, a: np.ndarray) -> np.ndarray:
        """update_many on items already through :meth:`_prepare` (validated, on the lattice).  Also the hook of
        :class:`dpstream.counters.BlockCounter`, which feeds sums of k prepared items: one changed item moves
        one such sum by no more than it moves the item, so the calibration to one item's bounds still holds."""
        n = a.shape[0]
        self._check_room(n)
        if n == 0:
            return np.zeros((0,) if self.dim == 1 else (0, self.dim))
        eta = self._noise(n)
        if self.dim == 1:
            out = np.cumsum(np.concatenate(([self._s], a)))[1:]
            self._s = float(out[-1])
            out += eta[:, 0]
        else:
            out = rowcumsum(self._s, a)
            self._s = out[-1].copy()
            out += eta
        self.t += n
        return out

    # -- persistence -----------------------------------------------------------------------------------------------
    def state_dict(self) -> dict:
        """JSON-able state.  It holds the secret noise key: protect it like the raw data, and restore it once
        (two live copies fed different data would reveal the difference of their sums)."""
        if self.process.zero:
            raise DPError("a noiseless test copy cannot be saved")
        return pack_state(
            self.name,
            self.state_version,
            {
                "params": {
                    "horizon": self.horizon,
                    "privacy": self.privacy.to_dict(),
                    "dim": self.dim,
                    "bounds": list(self.bounds),
                    "clip": self.clip,
                    **self._process_kwargs,
                },
                "seeded": self.seeded,
                "entropy": format(self._entropy, "x"),
                "t": self.t,
                "sum": [self._s] if self.dim == 1 else self._s.tolist(),
                "block": self._blk,
                "carry": self._carry_start,
            },
        )

    _STATE_FIELDS = ("params", "seeded", "entropy", "t", "sum", "block", "carry")

    @classmethod
    def from_state_dict(cls, state: dict) -> Self:
        st = unpack_state(state, cls.name, cls.state_version, cls._STATE_FIELDS)
        try:
            p = dict(st["params"])
            entropy = int(st["entropy"], 16)
            obj = cls(
                p.pop("horizon"),
                as_privacy(p.pop("privacy")),
                dim=p.pop("dim"),
                bounds=tuple(p.pop("bounds")),
                clip=p.pop("clip"),
                _entropy=entropy,
                **p,
            )
            obj.seeded = bool(st["seeded"])
            t = int(st["t"])
            blk = int(st["block"])
            s = np.asarray(st["sum"], dtype=np.float64)
        except StateError:
            raise
        except (KeyError, TypeError, ValueError, AttributeError, DPError) as e:
            raise StateError(f"cannot restore {cls.name!r} state: {e}") from e
        if s.shape != (obj.dim,) or not np.isfinite(s).all():
            raise StateError(f"state 'sum' must be {obj.dim} finite numbers")
        if t < 0 or (obj.horizon is not None and t > obj.horizon):
            raise StateError(f"state t={t} is outside [0, horizon={obj.horizon}]")
        expected = (t - 1) // obj.process.block if t > 0 else -1
        if blk not in (expected, expected + 1) or (t > 0 and blk < 0):
            raise StateError(f"state is inconsistent: t={t} but block={blk} (expected {expected})")
        obj.t = t
        obj._s = float(s[0]) if obj.dim == 1 else s
        if blk >= 0:
            # regenerate the current block from the carry saved at its start: the same values, not new noise
            obj._blk = blk - 1
            obj._carry_end = st["carry"]
            obj._next_block()
        return obj

    def __repr__(self) -> str:
        return f"{type(self).__name__}(horizon={self.horizon}, privacy={self.privacy}, dim={self.dim}, t={self.t})"


def noiseless(counter: LinearCounter) -> LinearCounter:
    """A copy of a fresh counter whose noise is identically zero (tests of exactness only; no guarantee)."""
    if counter.t != 0:
        raise InvalidParameter("noiseless() takes a fresh counter (t == 0)")
    c = type(counter)(
        counter.horizon,
        counter.privacy,
        dim=counter.dim,
        bounds=counter.bounds,
        clip=counter.clip,
        _entropy=counter._entropy,
        **counter._process_kwargs,
    )
    c.process.zero = True
    return c


__all__ = [
    "NoiseProcess",
    "LinearCounter",
    "noiseless",
    "gaussian_tail",
    "laplace_sum_tail",
    "rowcumsum",
]
