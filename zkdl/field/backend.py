"""The backend interface: where Fr vector arithmetic runs.

A backend works on raw limb arrays — (N, 4) uint64, Montgomery form, little-endian limbs — in its own array
module (numpy for ``cpu``, cupy for ``gpu``). Single field elements are passed as (4,) uint64 numpy arrays in
Montgomery form. Everything above this layer (``Fr``, sumcheck, gadgets) calls only these methods, so a new
backend needs no change elsewhere; results must be bit-identical across backends.
"""

from __future__ import annotations

import os
from abc import ABC, abstractmethod
from typing import Any

import numpy as np

from ..errors import BackendUnavailable

Array = Any  # an (N, 4) uint64 array of the backend's array module


class FusedKernels(ABC):
    """An optional capability: fused kernels for the range check's GKR layer sumchecks (eq factored out, several
    tables folded in one pass) and for the claim reductions (fold and next round's sums in one pass, weights
    accumulated in place). A backend that has them returns them from :meth:`Backend.fused`; callers then
    take the fast path, otherwise the generic methods — the proof bytes are the same either way (tested)."""

    @abstractmethod
    def gkr_sums(self, tables: list[Array], e: Array) -> np.ndarray:
        """(4, 4) limbs of Σ e·X(0), Σ e·Y(0), Σ e·X(∞), Σ e·Y(∞) for X = p_lo·q_hi + p_hi·q_lo, Y = q_lo·q_hi of
        tables (p_lo, p_hi, q_lo, q_hi), or X = q_lo + q_hi of tables (q_lo, q_hi); tables of 2·len(e)."""

    @abstractmethod
    def gkr_cross_sums(self, tables: list[Array], e: Array, s: np.ndarray) -> np.ndarray:
        """(2, 4) limbs of Σ e·Z(0), Σ e·Z(∞) (∞: the t² coefficient) with Z = a·d + b·c for tables (a, b, c, d),
        or Z = (c + s)·(d + s) for tables (c, d) and the scalar s; tables of 2·len(e)."""

    @abstractmethod
    def fold_many_inplace(self, tables: list[Array], c: np.ndarray) -> list[Array]:
        """Fold every table in place (their upper halves become scratch); returns the folded halves."""

    @abstractmethod
    def halve_sum_inplace(self, a: Array) -> Array:
        """a[:h] += a[h:] in place; returns a[:h]."""

    @abstractmethod
    def fold2_round_sums(
        self, f: Array, g: Array, c: np.ndarray, g_out: Array | None = None
    ) -> tuple[np.ndarray, Array, Array]:
        """One claim-reduction round of Σ f·g in one pass: fold f and g in place by c (their upper halves become
        scratch; with ``g_out``, of half g's length, g is folded into it and only read), return the (3, 4) limbs
        of the next round's sums Σ f·g at t = 0, 1, 2 over the folded halves, and the folded halves; tables of
        one power-of-two length ≥ 4."""

    @abstractmethod
    def fraction_layer(self, p: Array | None, q: Array) -> tuple[Array, Array]:
        """One layer of a fractional-sum tree from the one below (halves lo, hi on the most significant
        variable): (p_lo·q_hi + p_hi·q_lo, q_lo·q_hi); with p None (p = 1): (q_lo + q_hi, q_lo·q_hi)."""

    @abstractmethod
    def axpy_inplace(self, s: np.ndarray, x: Array, y: Array) -> Array:
        """y += s·x in place; returns y."""

    @abstractmethod
    def eq_into(self, u: np.ndarray, s: np.ndarray, out: Array, add: bool) -> Array:
        """out = s·eq(u, ·), or out += s·eq(u, ·) with ``add``, in place (out of 2^len(u) entries; u (n, 4) host
        limbs, u[0] the most significant variable as in :meth:`Backend.eq_table`); returns out."""

    @abstractmethod
    def leaves_from_small(self, x: Any, tag: Any, consts: np.ndarray) -> Array:
        """consts[tag[i]] − x[i] for int64 values x and tags indexing the (k, 4) Montgomery rows consts."""

    @abstractmethod
    def unit_layer_from_small(self, x: Any, tag: Any, consts: np.ndarray) -> tuple[Array, Array]:
        """``fraction_layer(None, leaves_from_small(x, tag, consts))`` in one pass (the leaves are not stored)."""


class Backend(ABC):
    """Arithmetic on Montgomery-form Fr limb arrays."""

    name: str = "abstract"
    xp: Any = np  # the array module

    def fused(self) -> FusedKernels | None:
        """This backend's fused sumcheck kernels (an optional capability), or None."""
        return None

    # --- memory -------------------------------------------------------------------------------------------
    @abstractmethod
    def asarray(self, host: np.ndarray) -> Array:
        """Move an (N, 4) uint64 numpy array onto the backend (no copy when already there)."""

    @abstractmethod
    def to_host(self, a: Array) -> np.ndarray:
        """Return an (N, 4) uint64 numpy array (no copy for the CPU backend)."""

    def empty(self, n: int) -> Array:
        return self.xp.empty((n, 4), dtype=np.uint64)

    def zeros(self, n: int) -> Array:
        return self.xp.zeros((n, 4), dtype=np.uint64)

    def concat(self, parts: list[Array]) -> Array:
        return self.xp.concatenate(parts, axis=0)

    # --- element-wise -------------------------------------------------------------------------------------
    @abstractmethod
    def add(self, a: Array, b: Array) -> Array: ...

    @abstractmethod
    def sub(self, a: Array, b: Array) -> Array: ...

    @abstractmethod
    def mul(self, a: Array, b: Array) -> Array: ...

    @abstractmethod
    def neg(self, a: Array) -> Array: ...

    @abstractmethod
    def add_scalar(self, a: Array, s: np.ndarray) -> Array: ...

    @abstractmethod
    def mul_scalar(self, a: Array, s: np.ndarray) -> Array: ...

    @abstractmethod
    def axpy(self, s: np.ndarray, x: Array, y: Array) -> Array:
        """s·x + y."""

    @abstractmethod
    def fold(self, t: Array, c: np.ndarray) -> Array:
        """t[:h] + c·(t[h:] − t[:h]) with h = len(t)/2: binds the most significant variable of t~ to c."""

    @abstractmethod
    def fold_pair(self, a: Array, b: Array, c: np.ndarray) -> Array:
        """a + c·(b − a)."""

    # --- reductions (results are (4,) numpy arrays) -------------------------------------------------------
    @abstractmethod
    def sum(self, a: Array) -> np.ndarray: ...

    @abstractmethod
    def inner(self, a: Array, b: Array) -> np.ndarray: ...

    @abstractmethod
    def round_sums(self, tables: list[Array]) -> np.ndarray:
        """Sumcheck round message of Π_k t_k: ((d+1), 4) numpy array holding, for t = 0..d (d = number of
        tables), Σ_i Π_k (t_k[i] + t·(t_k[i+h] − t_k[i])) with h = len/2."""

    @abstractmethod
    def contract(self, a: Array, shape: tuple[int, int, int], v: Array) -> Array:
        """View ``a`` as a (P, Q, R) tensor (row-major) and return the (P·R) table Σ_q a[p, q, r]·v[q]."""

    # --- structured vectors -------------------------------------------------------------------------------
    @abstractmethod
    def powers(self, x: np.ndarray, n: int) -> Array:
        """[1, x, x², …, x^(n−1)]."""

    @abstractmethod
    def eq_table(self, u: np.ndarray, scale: np.ndarray | None = None) -> Array:
        """scale·eq(u, ·) over 2^len(u) indices, u[0] bound to the most significant index bit. u: (n, 4) limbs;
        scale: (4,) Montgomery limbs, default one."""

    @abstractmethod
    def batch_inverse(self, a: Array) -> tuple[Array, int]:
        """Element-wise inverses and the number of zero entries (the inverses are undefined if > 0)."""

    # --- conversions --------------------------------------------------------------------------------------
    @abstractmethod
    def to_mont(self, std: Array) -> Array:
        """Standard-form limbs (each < r) to Montgomery form."""

    @abstractmethod
    def from_mont(self, a: Array) -> Array: ...

    @abstractmethod
    def count_noncanonical(self, std: Array) -> int:
        """How many standard-form rows are ≥ r."""

    @abstractmethod
    def from_int64(self, x: Any) -> Array: ...

    @abstractmethod
    def to_int64(self, a: Array) -> tuple[Any, int]:
        """Signed int64 values and the number of entries outside [−2^63, 2^63)."""


_BACKENDS: dict[str, Backend] = {}
_default: str | Backend | None = None


def get_backend(name: str | Backend | None = None) -> Backend:
    """Return a backend by name: ``cpu``, ``gpu`` or ``auto`` (GPU when usable, else CPU).

    ``None`` means the default: ``set_default_backend``, else the ``ZKDL_BACKEND`` environment variable,
    else ``cpu``.
    """
    if name is None:
        name = _default or os.environ.get("ZKDL_BACKEND", "cpu")
    if isinstance(name, Backend):
        return name
    name = name.lower()
    if name == "auto":
        try:
            return get_backend("gpu")
        except BackendUnavailable:
            return get_backend("cpu")
    if name not in ("cpu", "gpu"):
        raise BackendUnavailable(f"unknown backend {name!r}: choose one of auto, cpu, gpu")
    if name not in _BACKENDS:
        if name == "cpu":
            from .cpu import CpuBackend

            _BACKENDS[name] = CpuBackend()
        else:
            try:
                from .gpu import GpuBackend
            except ImportError as exc:
                raise BackendUnavailable(f"the GPU backend is not available: {exc}") from exc
            _BACKENDS[name] = GpuBackend()
    return _BACKENDS[name]


def set_default_backend(backend: str | Backend | None) -> None:
    """Select the backend used where none is passed explicitly: a name (``auto``, ``cpu`` or ``gpu``), a
    :class:`Backend` instance, or ``None`` for the environment's choice (``ZKDL_BACKEND``, else ``cpu``)."""
    global _default
    if backend is not None:
        get_backend(backend)  # fail now, not later
    _default = backend
