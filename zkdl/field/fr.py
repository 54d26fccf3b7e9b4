"""``Fr``: a vector of BLS12-381 scalar-field elements whose arithmetic runs in backend kernels.

Single field elements are plain Python ints in ``[0, r)``; vectors are ``Fr``. Conversions to and from
Python ints and bytes are boundary operations (commitments, transcript, serialization): keep data in ``Fr``
between them.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence

import numpy as np

from ..errors import FieldRangeError
from .backend import Backend, get_backend
from .constants import FR_BYTES, MODULUS, MONT_R, MONT_R2, int_to_limbs

_R_LIMBS = int_to_limbs(MODULUS)


def scalar_limbs(x: int | np.integer) -> np.ndarray:
    """Montgomery-form (4,) limbs of the field element x mod r."""
    return int_to_limbs((int(x) % MODULUS) * MONT_R % MODULUS)


def _limbs_lt_r(std: np.ndarray) -> np.ndarray:
    """Row-wise std < r for (N, 4) standard-form limbs (numpy, vectorized)."""
    lt = np.zeros(std.shape[0], dtype=bool)
    eq = np.ones(std.shape[0], dtype=bool)
    for k in (3, 2, 1, 0):
        lt |= eq & (std[:, k] < _R_LIMBS[k])
        eq &= std[:, k] == _R_LIMBS[k]
    return lt


class Fr:
    """A vector of field elements on a backend.

    ``limbs`` is an (N, 4) uint64 array in Montgomery form (R = 2^256) on the backend's device. Arithmetic
    operators work element-wise with another ``Fr`` of the same length or with a Python int (broadcast).
    """

    __slots__ = ("limbs", "backend")
    __hash__ = None  # type: ignore[assignment]  # mutable container semantics

    def __init__(self, limbs, backend: Backend | str | None = None):
        self.backend = get_backend(backend)
        self.limbs = limbs

    # --- construction -------------------------------------------------------------------------------------
    @classmethod
    def zeros(cls, n: int, backend=None) -> Fr:
        be = get_backend(backend)
        return cls(be.zeros(n), be)

    @classmethod
    def ones(cls, n: int, backend=None) -> Fr:
        return cls.full(n, 1, backend)

    @classmethod
    def full(cls, n: int, value: int, backend=None) -> Fr:
        be = get_backend(backend)
        host = np.tile(scalar_limbs(value), (n, 1))
        return cls(be.asarray(host), be)

    @classmethod
    def from_int64(cls, values, backend=None) -> Fr:
        """Signed integers (any integer numpy array within int64) mapped to ``x mod r``."""
        be = get_backend(backend)
        arr = np.asarray(values)
        if arr.dtype.kind not in "iub":
            raise FieldRangeError(f"from_int64 needs an integer array, got dtype {arr.dtype}")
        if arr.dtype == np.uint64 and arr.size and int(arr.max()) >= 1 << 63:
            raise FieldRangeError("from_int64: uint64 value does not fit into int64")
        return cls(be.from_int64(be.xp.asarray(arr.reshape(-1).astype(np.int64))), be)

    @classmethod
    def from_ints(cls, values: Iterable[int], backend=None) -> Fr:
        """Python integers of any size and sign, reduced mod r."""
        data = b"".join((int(v) % MODULUS).to_bytes(FR_BYTES, "little") for v in values)
        std = np.frombuffer(data, dtype="<u8").astype(np.uint64).reshape(-1, 4)
        be = get_backend(backend)
        return cls(be.to_mont(be.asarray(std)), be)

    @classmethod
    def from_le_bytes(cls, data: bytes, backend=None) -> Fr:
        """Canonical encodings: 32 bytes little-endian per element, each value < r (else FieldRangeError)."""
        if len(data) % FR_BYTES:
            raise FieldRangeError(f"field vector encoding of {len(data)} bytes is not a multiple of {FR_BYTES}")
        std = np.frombuffer(data, dtype="<u8").astype(np.uint64).reshape(-1, 4)
        be = get_backend(backend)
        dev = be.asarray(std)
        bad = be.count_noncanonical(dev)
        if bad:
            raise FieldRangeError(f"{bad} non-canonical field element(s) (value ≥ r) in encoding")
        return cls(be.to_mont(dev), be)

    @classmethod
    def random(cls, n: int, rng: np.random.Generator | None = None, backend=None) -> Fr:
        """Uniform field elements from the OS CSPRNG, or from ``rng`` (tests only)."""
        out = np.empty((0, 4), dtype=np.uint64)
        while out.shape[0] < n:
            want = (n - out.shape[0]) * 9 // 8 + 8
            raw = rng.bytes(want * FR_BYTES) if rng is not None else os.urandom(want * FR_BYTES)
            std = np.frombuffer(raw, dtype="<u8").astype(np.uint64).reshape(-1, 4)
            std[:, 3] &= np.uint64((1 << 63) - 1)  # below 2^255, then reject ≥ r
            out = np.concatenate([out, std[_limbs_lt_r(std)]])
        # random values are as good in Montgomery form as in standard form: keep the draw as Montgomery limbs
        be = get_backend(backend)
        return cls(be.asarray(np.ascontiguousarray(out[:n])), be)

    @classmethod
    def powers(cls, x: int, n: int, backend=None) -> Fr:
        be = get_backend(backend)
        return cls(be.powers(scalar_limbs(x), n), be)

    @classmethod
    def eq_table(cls, u: Sequence[int], backend=None, scale: int | None = None) -> Fr:
        """eq(u, ·) (times ``scale`` if given): 2^len(u) entries, u[0] bound to the most significant index bit."""
        be = get_backend(backend)
        pts = np.stack([scalar_limbs(x) for x in u]) if len(u) else np.zeros((0, 4), dtype=np.uint64)
        return cls(be.eq_table(pts, None if scale is None else scalar_limbs(scale)), be)

    @classmethod
    def outer(cls, u: Fr, v: Fr) -> Fr:
        """The row-major outer product: entry (i, j) is u[i]·v[j] (an MLE over (u's variables ‖ v's))."""
        xp = u.backend.xp
        left = xp.repeat(u.limbs, len(v), axis=0)
        right = xp.tile(v.limbs, (len(u), 1))
        return cls(u.backend.mul(left, right), u.backend)

    @classmethod
    def concat(cls, parts: Sequence[Fr]) -> Fr:
        be = parts[0].backend
        return cls(be.concat([p.limbs for p in parts]), be)

    # --- conversion ---------------------------------------------------------------------------------------
    def to_le_bytes(self) -> bytes:
        """Canonical encoding: N·32 bytes, little-endian standard form."""
        std = self.backend.to_host(self.backend.from_mont(self.limbs))
        return np.ascontiguousarray(std, dtype="<u8").tobytes()

    def to_ints(self) -> list[int]:
        data = self.to_le_bytes()
        return [int.from_bytes(data[i : i + FR_BYTES], "little") for i in range(0, len(data), FR_BYTES)]

    def to_signed_ints(self) -> list[int]:
        """Values in (−r/2, r/2]: the signed integers these elements represent."""
        half = MODULUS // 2
        return [v - MODULUS if v > half else v for v in self.to_ints()]

    def to_int64(self) -> np.ndarray:
        """Signed int64 numpy array; FieldRangeError when an element is not in [−2^63, 2^63)."""
        vals, bad = self.backend.to_int64(self.limbs)
        if bad:
            raise FieldRangeError(f"{bad} field element(s) do not represent a signed 64-bit integer")
        return np.asarray(self.backend.to_host(vals) if self.backend.name != "cpu" else vals)

    # --- container protocol -------------------------------------------------------------------------------
    def __len__(self) -> int:
        return int(self.limbs.shape[0])

    def __getitem__(self, idx):
        if isinstance(idx, (int, np.integer)):
            n = len(self)
            i = int(idx) + n if idx < 0 else int(idx)
            if not 0 <= i < n:
                raise IndexError(idx)
            return mont_to_int(self.backend.to_host(self.limbs[i : i + 1])[0])
        return Fr(self.limbs[idx], self.backend)

    def __repr__(self) -> str:
        n = len(self)
        head = self[: min(n, 4)].to_signed_ints() if n else []
        more = ", …" if n > 4 else ""
        return f"Fr(n={n}, backend={self.backend.name}, [{', '.join(map(str, head))}{more}])"

    def __eq__(self, other) -> bool:
        if not isinstance(other, Fr):
            return NotImplemented
        if len(self) != len(other):
            return False
        return bool((self.backend.to_host(self.limbs) == other.backend.to_host(other.limbs)).all())

    def copy(self) -> Fr:
        return Fr(self.limbs.copy(), self.backend)

    def pad_to_pow2(self, n: int | None = None) -> Fr:
        """Zero-pad to ``n`` (default: the next power of two ≥ len, at least 1)."""
        size = len(self)
        target = n if n is not None else 1 << max(0, (size - 1).bit_length())
        if target < size:
            raise ValueError(f"cannot pad {size} elements to {target}")
        if target == size:
            return self
        return Fr(self.backend.concat([self.limbs, self.backend.zeros(target - size)]), self.backend)

    # --- arithmetic ---------------------------------------------------------------------------------------
    def _coerce(self, other) -> Fr | None:
        if isinstance(other, Fr):
            if len(other) != len(self):
                raise ValueError(f"length mismatch: {len(self)} vs {len(other)}")
            return other
        return None

    def __add__(self, other) -> Fr:
        o = self._coerce(other)
        if o is not None:
            return Fr(self.backend.add(self.limbs, o.limbs), self.backend)
        if isinstance(other, (int, np.integer)):
            return Fr(self.backend.add_scalar(self.limbs, scalar_limbs(other)), self.backend)
        return NotImplemented

    __radd__ = __add__

    def __sub__(self, other) -> Fr:
        o = self._coerce(other)
        if o is not None:
            return Fr(self.backend.sub(self.limbs, o.limbs), self.backend)
        if isinstance(other, (int, np.integer)):
            return Fr(self.backend.add_scalar(self.limbs, scalar_limbs(-int(other))), self.backend)
        return NotImplemented

    def __rsub__(self, other) -> Fr:
        if isinstance(other, (int, np.integer)):
            return (-self) + other
        return NotImplemented

    def __mul__(self, other) -> Fr:
        o = self._coerce(other)
        if o is not None:
            return Fr(self.backend.mul(self.limbs, o.limbs), self.backend)
        if isinstance(other, (int, np.integer)):
            return Fr(self.backend.mul_scalar(self.limbs, scalar_limbs(other)), self.backend)
        return NotImplemented

    __rmul__ = __mul__

    def __neg__(self) -> Fr:
        return Fr(self.backend.neg(self.limbs), self.backend)

    def axpy(self, s: int, y: Fr) -> Fr:
        """s·self + y."""
        return Fr(self.backend.axpy(scalar_limbs(s), self.limbs, y.limbs), self.backend)

    def fold(self, c: int) -> Fr:
        """Bind the most significant variable of the MLE to c: t[:h] + c·(t[h:] − t[:h])."""
        return Fr(self.backend.fold(self.limbs, scalar_limbs(c)), self.backend)

    def interpolate(self, other: Fr, c: int) -> Fr:
        """self + c·(other − self)."""
        return Fr(self.backend.fold_pair(self.limbs, other.limbs, scalar_limbs(c)), self.backend)

    def sum(self) -> int:
        return mont_to_int(self.backend.sum(self.limbs))

    def inner(self, other: Fr) -> int:
        return mont_to_int(self.backend.inner(self.limbs, other.limbs))

    def inverse(self) -> Fr:
        """Element-wise inverses; ZeroDivisionError if an element is zero."""
        inv, zeros = self.backend.batch_inverse(self.limbs)
        if zeros:
            raise ZeroDivisionError(f"{zeros} zero element(s) have no inverse")
        return Fr(inv, self.backend)

    def contract(self, shape: tuple[int, int, int], v: Fr) -> Fr:
        """View self as a row-major (P, Q, R) tensor; return the P·R table Σ_q self[p, q, r]·v[q].

        With ``v = eq(u)`` this binds the middle block of MLE variables to ``u`` (a partial evaluation)."""
        return Fr(self.backend.contract(self.limbs, shape, v.limbs), self.backend)

    def evaluate(self, u: Sequence[int]) -> int:
        """The multilinear extension at u (x_1 = most significant index bit); pads to 2^len(u)."""
        n = len(u)
        if len(self) > 1 << n:
            raise ValueError(f"a table of {len(self)} entries needs more than {n} variables")
        t = self.pad_to_pow2(1 << n)
        for x in u:
            t = t.fold(x)
        return t[0]


_R_INV = pow(MONT_R, -1, MODULUS)
assert MONT_R2 == MONT_R * MONT_R % MODULUS


def mont_to_int(limbs: np.ndarray) -> int:
    """The field element held by (4,) Montgomery-form host limbs, as an int in [0, r)."""
    v = int.from_bytes(np.ascontiguousarray(limbs, dtype="<u8").tobytes(), "little")
    return v * _R_INV % MODULUS
