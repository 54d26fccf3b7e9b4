"""The GPU backend: CuPy arrays and the CUDA kernels of ``cuda/fr_kernels.cu``.

Same representation as the CPU backend — (N, 4) uint64 limbs, Montgomery form (R = 2^256), little-endian limbs —
but on the device. Field arithmetic is exact and both backends keep every element fully reduced, so results are
bit-identical to the CPU backend's regardless of reduction order.

CuPy is imported lazily (inside :func:`load_module` / :class:`GpuBackend`); without CuPy, a CUDA driver or a GPU,
constructing the backend raises :class:`~zkdl.errors.BackendUnavailable`. The kernels are loaded from the fatbin
(sm_XX machine code + PTX) or PTX built by ``zkdl.field.gpu_build`` (nvcc, cached by source hash); without either
they are compiled from source with NVRTC.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..errors import BackendUnavailable
from .backend import Array, Backend, FusedKernels
from .constants import MONT_R, int_to_limbs

_MODULES: dict[tuple[str, str], Any] = {}
_BLOCK = 256  # threads per block of element-wise kernels
_RED = 128  # ZK_RED_THREADS in fr_kernels.cu
_MAX_RED_BLOCKS = 8192  # reduction grids (132 SMs on an H100/H200: ≥ 16 blocks of 128 threads per SM at the cap)
_CHUNK = 256  # about this many elements per thread in batch inversion and powers (strided: coalesced)


def _import_cupy():
    try:
        import cupy as cp
    except Exception as exc:  # ImportError, or a broken CUDA install raising at import
        raise BackendUnavailable(f"the GPU backend needs CuPy: {exc}") from exc
    try:
        if cp.cuda.runtime.getDeviceCount() < 1:
            raise BackendUnavailable("no CUDA device found")
    except BackendUnavailable:
        raise
    except Exception as exc:  # CUDARuntimeError: no driver, insufficient driver, ...
        raise BackendUnavailable(f"CUDA is not usable here: {exc}") from exc
    return cp


def _default_arch(cp) -> str:
    return f"sm_{cp.cuda.Device().compute_capability}"  # e.g. "90" on H100/H200


#: How each loaded module was obtained: {(name, arch): {"format": "fatbin" | "ptx" | "nvrtc", "seconds": load time,
#: "errors": [earlier formats' failures]}} (bench/gpu_check.sh reports the first module load time).
LOAD_INFO: dict[tuple[str, str], dict[str, Any]] = {}
_PROBES = {"fr_kernels": "fr_add_kernel", "msm": "msm_combine_kernel"}


def load_module(name: str, arch: str | None = None) -> tuple[Any, Any]:
    """(cupy, RawModule) for ``cuda/<name>.cu``: the nvcc fatbin (sm_XX machine code: no JIT), else its PTX
    (JIT-compiled by the driver), else NVRTC from the source text; each one built now or found in cuda/build."""
    import time

    cp = _import_cupy()
    from . import gpu_build

    if arch is None:
        arch = _default_arch(cp)
    key = (name, arch)
    if key in _MODULES:
        return cp, _MODULES[key]
    probe = _PROBES.get(name)
    errors: list[str] = []
    src = gpu_build.cuda_dir() / f"{name}.cu"
    loaders = (
        ("fatbin", lambda: cp.RawModule(path=str(gpu_build.compile_fatbin(src, arch)))),
        ("ptx", lambda: cp.RawModule(path=str(gpu_build.compile_ptx(src, arch)))),
        (
            "nvrtc",
            lambda: cp.RawModule(
                code=src.read_text(), options=("-std=c++17", f"-I{gpu_build.cuda_dir()}"), backend="nvrtc"
            ),
        ),
    )
    for fmt, make in loaders:
        t0 = time.perf_counter()
        try:
            mod = make()
            if probe:
                mod.get_function(probe)  # forces the load: an old driver rejects newer PTX here
        except Exception as exc:  # nvcc missing or failing, driver too old, NVRTC missing
            errors.append(f"{fmt}: {exc}")
            continue
        LOAD_INFO[key] = {"format": fmt, "seconds": time.perf_counter() - t0, "errors": errors}
        _MODULES[key] = mod
        return cp, mod
    raise BackendUnavailable(f"cannot load the CUDA module {name!r} for {arch}: {'; '.join(errors)}")


_ONE = int_to_limbs(MONT_R)


class GpuBackend(Backend, FusedKernels):
    """CuPy arrays and the CUDA kernels, the fused sumcheck kernels (``FusedKernels``) included: the GPU twins of
    the CPU backend's, with the same results bit for bit (``fused=False`` turns them off, as on the CPU)."""

    name = "gpu"

    def __init__(self, arch: str | None = None, *, fused: bool = True):
        self.cp, self._mod = load_module("fr_kernels", arch)
        self.xp = self.cp
        self._fn: dict[str, Any] = {}
        self._fused = fused

    def fused(self) -> FusedKernels | None:
        return self if self._fused else None

    # --- plumbing -----------------------------------------------------------------------------------------
    def _k(self, name: str):
        f = self._fn.get(name)
        if f is None:
            f = self._fn[name] = self._mod.get_function(name)
        return f

    def _launch(self, name: str, threads: int, *args: Any) -> None:
        if threads <= 0:
            return
        self._k(name)(((threads + _BLOCK - 1) // _BLOCK,), (_BLOCK,), args)

    def _c(self, a: Any):
        return self.cp.ascontiguousarray(self.cp.asarray(a, dtype=self.cp.uint64))

    @staticmethod
    def _scalar(s: np.ndarray) -> tuple[np.uint64, ...]:
        """One element as four 64-bit kernel parameters (FR_PARAM in cuda/fr.cuh): no device copy per call."""
        limbs = np.ascontiguousarray(s, dtype=np.uint64).reshape(4)
        return tuple(np.uint64(x) for x in limbs)

    @staticmethod
    def _same(a, b) -> None:
        if a.shape != b.shape:
            raise ValueError(f"length mismatch: {a.shape[0]} vs {b.shape[0]}")

    # --- memory -------------------------------------------------------------------------------------------
    def asarray(self, host: np.ndarray) -> Array:
        return self._c(host).reshape(-1, 4)

    def to_host(self, a: Array) -> np.ndarray:
        return self.cp.asnumpy(a)

    # --- element-wise -------------------------------------------------------------------------------------
    def _binary(self, kernel: str, a, b):
        self._same(a, b)
        a, b = self._c(a), self._c(b)
        out = self.cp.empty_like(a)
        self._launch(kernel, a.shape[0], a, b, out, np.int64(a.shape[0]))
        return out

    def add(self, a, b):
        return self._binary("fr_add_kernel", a, b)

    def sub(self, a, b):
        return self._binary("fr_sub_kernel", a, b)

    def mul(self, a, b):
        return self._binary("fr_mul_kernel", a, b)

    def neg(self, a):
        a = self._c(a)
        out = self.cp.empty_like(a)
        self._launch("fr_neg_kernel", a.shape[0], a, out, np.int64(a.shape[0]))
        return out

    def add_scalar(self, a, s):
        a = self._c(a)
        out = self.cp.empty_like(a)
        self._launch("fr_add_scalar_kernel", a.shape[0], a, *self._scalar(s), out, np.int64(a.shape[0]))
        return out

    def mul_scalar(self, a, s):
        a = self._c(a)
        out = self.cp.empty_like(a)
        self._launch("fr_scalar_mul_kernel", a.shape[0], a, *self._scalar(s), out, np.int64(a.shape[0]))
        return out

    def axpy(self, s, x, y):
        self._same(x, y)
        x, y = self._c(x), self._c(y)
        out = self.cp.empty_like(x)
        # fr_axpy_kernel computes a + c*b
        self._launch("fr_axpy_kernel", x.shape[0], y, *self._scalar(s), x, out, np.int64(x.shape[0]))
        return out

    def fold(self, t, c):
        n = t.shape[0]
        if n < 2 or n % 2:
            raise ValueError(f"fold needs an even length ≥ 2, got {n}")
        t = self._c(t)
        out = self.cp.empty((n // 2, 4), dtype=self.cp.uint64)
        self._launch("fr_fold_kernel", n // 2, t, *self._scalar(c), out, np.int64(n // 2))
        return out

    def fold_pair(self, a, b, c):
        self._same(a, b)
        a, b = self._c(a), self._c(b)
        out = self.cp.empty_like(a)
        self._launch("fr_fold_pair_kernel", a.shape[0], a, b, *self._scalar(c), out, np.int64(a.shape[0]))
        return out

    # --- reductions ---------------------------------------------------------------------------------------
    @staticmethod
    def _red_grid(n: int) -> int:
        return max(1, min(_MAX_RED_BLOCKS, (n + _RED - 1) // _RED))

    def _sum_dev(self, a, n: int):
        """Sum of the first n rows of a as a (1, 4) device array (block-reduction passes until one is left)."""
        while True:
            grid = self._red_grid(n)
            part = self.cp.empty((grid, 4), dtype=self.cp.uint64)
            self._k("fr_sum_kernel")((grid,), (_RED,), (a, part, np.int64(n)))
            if grid == 1:
                return part
            a, n = part, grid

    def sum(self, a):
        a = self._c(a)
        return self.cp.asnumpy(self._sum_dev(a, a.shape[0]))[0]

    def inner(self, a, b):
        self._same(a, b)
        a, b = self._c(a), self._c(b)
        n = a.shape[0]
        grid = self._red_grid(n)
        part = self.cp.empty((grid, 4), dtype=self.cp.uint64)
        self._k("fr_inner_kernel")((grid,), (_RED,), (a, b, part, np.int64(n)))
        return self.cp.asnumpy(self._sum_dev(part, grid))[0]

    def round_sums(self, tables):
        n = tables[0].shape[0]
        if any(t.shape[0] != n for t in tables):
            raise ValueError("round_sums: tables of different lengths")
        if n < 2 or n & (n - 1):
            raise ValueError(f"round_sums needs a power-of-two length ≥ 2, got {n}")
        if not 1 <= len(tables) <= 3:
            raise ValueError(f"round_sums supports products of 1 to 3 tables, got {len(tables)}")
        tabs = [self._c(t) for t in tables]
        k = len(tabs)
        tabs += [tabs[0]] * (3 - k)  # unused pointers, never read
        half = n // 2
        grid = self._red_grid(half)
        part = self.cp.empty((4 * grid, 4), dtype=self.cp.uint64)
        self._k("fr_roundsum_kernel")((grid,), (_RED,), (*tabs, np.int32(k), part, np.int64(half)))
        res = [self._sum_dev(part[t * grid : (t + 1) * grid], grid) for t in range(k + 1)]
        return self.cp.asnumpy(self.cp.concatenate(res, axis=0))

    def contract(self, a, shape, v):
        P, Q, Rr = (int(x) for x in shape)
        if a.shape[0] != P * Q * Rr or v.shape[0] != Q:
            raise ValueError(f"contract: {a.shape[0]} entries do not form {shape} with a vector of {v.shape[0]}")
        a, v = self._c(a), self._c(v)
        out = self.cp.empty((P * Rr, 4), dtype=self.cp.uint64)
        self._launch("fr_contract_kernel", P * Rr, a, np.int64(P), np.int64(Q), np.int64(Rr), v, out)
        return out

    # --- structured vectors -------------------------------------------------------------------------------
    def powers(self, x, n):
        out = self.cp.empty((n, 4), dtype=self.cp.uint64)
        nthreads = (n + _CHUNK - 1) // _CHUNK
        self._launch("fr_powers_kernel", nthreads, *self._scalar(x), out, np.int64(n), np.int64(nthreads))
        return out

    def eq_table(self, u, scale=None):
        u = np.ascontiguousarray(u, dtype=np.uint64).reshape(-1, 4)
        n = u.shape[0]
        table = self.cp.empty((1 << n, 4), dtype=self.cp.uint64)
        self._launch("fr_fill_kernel", 1, table, *self._scalar(_ONE if scale is None else scale), np.int64(1))
        half = 1
        # u[n-1] first: each step makes the next variable the most significant one (see fr_ops.cuh)
        for j in range(n - 1, -1, -1):
            self._launch("fr_eq_step_kernel", half, table, *self._scalar(u[j]), np.int64(half))
            half *= 2
        return table

    def batch_inverse(self, a):
        a = self._c(a)
        n = a.shape[0]
        out = self.cp.empty_like(a)
        zeros = int((a == 0).all(axis=1).sum()) if n else 0
        nthreads = (n + _CHUNK - 1) // _CHUNK
        self._launch("fr_batch_inv_kernel", nthreads, a, out, np.int64(n), np.int64(nthreads))
        return out, zeros

    # --- conversions --------------------------------------------------------------------------------------
    def to_mont(self, std):
        std = self._c(std)
        out = self.cp.empty_like(std)
        self._launch("fr_to_mont_kernel", std.shape[0], std, out, np.int64(std.shape[0]))
        return out

    def from_mont(self, a):
        a = self._c(a)
        out = self.cp.empty_like(a)
        self._launch("fr_from_mont_kernel", a.shape[0], a, out, np.int64(a.shape[0]))
        return out

    def count_noncanonical(self, std):
        std = self._c(std)
        n = std.shape[0]
        bad = self.cp.zeros(n, dtype=self.cp.uint8)
        self._launch("fr_noncanonical_kernel", n, std, bad, np.int64(n))
        return int(bad.sum(dtype=self.cp.int64)) if n else 0

    def from_int64(self, x):
        x = self.cp.ascontiguousarray(self.cp.asarray(x, dtype=self.cp.int64).reshape(-1))
        n = x.shape[0]
        out = self.cp.empty((n, 4), dtype=self.cp.uint64)
        self._launch("fr_from_int64_kernel", n, x, out, np.int64(n))
        return out

    def to_int64(self, a):
        a = self._c(a)
        n = a.shape[0]
        out = self.cp.empty(n, dtype=self.cp.int64)
        bad = self.cp.zeros(n, dtype=self.cp.uint8)
        self._launch("fr_to_int64_kernel", n, a, out, bad, np.int64(n))
        return out, (int(bad.sum(dtype=self.cp.int64)) if n else 0)

    # --- the fused kernels (FusedKernels) -----------------------------------------------------------------
    def _reduce_partials(self, part, k: int, grid: int) -> np.ndarray:
        res = [self._sum_dev(part[t * grid : (t + 1) * grid], grid) for t in range(k)]
        return self.cp.asnumpy(self.cp.concatenate(res, axis=0))

    def _gkr_tables(self, what: str, tables, e):
        """``(a, b, c, d, unit, h)`` for a GKR round-sum kernel: the 4 tables, or for 2 tables (the unit form)
        the first one standing in for ``a, b`` (not read); every table has ``2·h = 2·len(e)`` entries."""
        n = tables[0].shape[0]
        if any(t.shape[0] != n for t in tables) or e.shape[0] * 2 != n:
            raise ValueError(f"{what}: tables of 2·len(e) entries needed")
        if len(tables) not in (2, 4):
            raise ValueError(f"{what} takes 2 or 4 tables, got {len(tables)}")
        tabs = [self._c(t) for t in tables]
        unit = len(tabs) == 2
        a, b, c, d = (tabs[0], tabs[0], *tabs) if unit else tabs
        return a, b, c, d, unit, n // 2

    def gkr_sums(self, tables, e):
        a, b, c, d, unit, h = self._gkr_tables("gkr_sums", tables, e)
        grid = self._red_grid(h)
        part = self.cp.empty((4 * grid, 4), dtype=self.cp.uint64)
        self._k("fr_gkr_sums_kernel")((grid,), (_RED,), (a, b, c, d, self._c(e), np.int32(unit), part, np.int64(h)))
        return self._reduce_partials(part, 4, grid)

    def gkr_cross_sums(self, tables, e, s):
        a, b, c, d, unit, h = self._gkr_tables("gkr_cross_sums", tables, e)
        sv = self._scalar(s) if unit else (np.uint64(0),) * 4
        grid = self._red_grid(h)
        part = self.cp.empty((2 * grid, 4), dtype=self.cp.uint64)
        args = (a, b, c, d, self._c(e), *sv, np.int32(unit), part, np.int64(h))
        self._k("fr_gkr_cross_sums_kernel")((grid,), (_RED,), args)
        return self._reduce_partials(part, 2, grid)

    @staticmethod
    def _check_inplace(tables, what: str) -> None:
        for t in tables:
            if not (t.flags.c_contiguous and t.dtype == np.uint64):
                raise ValueError(f"{what}: contiguous uint64 tables needed (they are updated in place)")

    def fold_many_inplace(self, tables, c):
        n = tables[0].shape[0]
        if n < 2 or n % 2 or any(t.shape[0] != n for t in tables):
            raise ValueError("fold_many_inplace: tables of one even length ≥ 2 needed")
        self._check_inplace(tables, "fold_many_inplace")
        for t in tables:
            self._launch("fr_fold_inplace_kernel", n // 2, t, *self._scalar(c), np.int64(n // 2))
        return [t[: n // 2] for t in tables]

    def halve_sum_inplace(self, a):
        n = a.shape[0]
        if n < 2 or n % 2:
            raise ValueError("halve_sum_inplace: a table of even length ≥ 2 needed")
        self._check_inplace([a], "halve_sum_inplace")
        self._launch("fr_halve_sum_kernel", n // 2, a, np.int64(n // 2))
        return a[: n // 2]

    def _small_args(self, x, tag, consts, what: str):
        x = self.cp.ascontiguousarray(self.cp.asarray(x, dtype=self.cp.int64).reshape(-1))
        tag_h = np.ascontiguousarray(self.to_host(tag) if not isinstance(tag, np.ndarray) else tag, dtype=np.int64)
        tag_h = tag_h.reshape(-1)
        if x.shape != tag_h.shape or (tag_h.size and (tag_h.min() < 0 or tag_h.max() >= consts.shape[0])):
            raise ValueError(f"{what}: tags must index consts, one per value")
        return x, self.cp.ascontiguousarray(self.cp.asarray(tag_h)), self._c(consts)

    def leaves_from_small(self, x, tag, consts):
        x, tg, cs = self._small_args(x, tag, consts, "leaves_from_small")
        n = x.shape[0]
        out = self.cp.empty((n, 4), dtype=self.cp.uint64)
        self._launch("fr_leaves_from_small_kernel", n, x, tg, cs, out, np.int64(n))
        return out

    def unit_layer_from_small(self, x, tag, consts):
        x, tg, cs = self._small_args(x, tag, consts, "unit_layer_from_small")
        n = x.shape[0]
        if n < 2 or n % 2:
            raise ValueError("unit_layer_from_small: an even number ≥ 2 of values needed")
        h = n // 2
        pout = self.cp.empty((h, 4), dtype=self.cp.uint64)
        qout = self.cp.empty((h, 4), dtype=self.cp.uint64)
        self._launch("fr_unit_layer_from_small_kernel", h, x, tg, cs, pout, qout, np.int64(h))
        return pout, qout

    def fold2_round_sums(self, f, g, c, g_out=None):
        if g_out is not None:  # the CPU's semantics (g only read) through a device copy of g
            if g_out.shape[0] != g.shape[0] // 2:
                raise ValueError("fold2_round_sums: g_out must have half the rows of g")
            self._check_inplace([g_out], "fold2_round_sums")
            sums, f, folded = self.fold2_round_sums(f, g.copy(), c)
            g_out[...] = folded
            return sums, f, g_out
        n = f.shape[0]
        if n < 4 or n & (n - 1) or g.shape[0] != n:
            raise ValueError("fold2_round_sums: two tables of one power-of-two length ≥ 4 needed")
        self._check_inplace([f, g], "fold2_round_sums")
        h, q = n // 2, n // 4
        grid = self._red_grid(q)
        part = self.cp.empty((3 * grid, 4), dtype=self.cp.uint64)
        self._k("fr_fold2_roundsum_kernel")((grid,), (_RED,), (f, g, *self._scalar(c), part, np.int64(q), np.int64(h)))
        return self._reduce_partials(part, 3, grid), f[:h], g[:h]

    def fraction_layer(self, p, q):
        n = q.shape[0]
        if n < 2 or n % 2 or (p is not None and p.shape != q.shape):
            raise ValueError("fraction_layer: tables of one even length ≥ 2 needed")
        q = self._c(q)
        unit = p is None
        p = q if unit else self._c(p)  # not read for the unit layer
        h = n // 2
        pout = self.cp.empty((h, 4), dtype=self.cp.uint64)
        qout = self.cp.empty((h, 4), dtype=self.cp.uint64)
        self._launch("fr_fraction_layer_kernel", h, p, q, np.int32(unit), pout, qout, np.int64(h))
        return pout, qout

    def eq_into(self, u, s, out, add):
        """The CPU kernel's semantics from the GPU's eq table (scaled) and in-place axpy: one temporary table;
        the values, and so the limbs, are the CPU's."""
        u = np.ascontiguousarray(u, dtype=np.uint64).reshape(-1, 4)
        if out.shape[0] != 1 << u.shape[0]:
            raise ValueError(f"eq_into: {out.shape[0]} entries for an eq table over {u.shape[0]} variables")
        self._check_inplace([out], "eq_into")
        table = self.eq_table(u, scale=s)
        if add:
            return self.axpy_inplace(_ONE, table, out)
        out[...] = table
        return out

    def axpy_inplace(self, s, x, y):
        self._same(x, y)
        self._check_inplace([y], "axpy_inplace")
        self._launch("fr_axpy_inplace_kernel", x.shape[0], *self._scalar(s), self._c(x), y, np.int64(x.shape[0]))
        return y
