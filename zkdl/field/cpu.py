"""The CPU backend: numba kernels over numpy limb arrays."""

from __future__ import annotations

import numpy as np

from . import cpu_kernels as K
from .backend import Array, Backend, FusedKernels


def _c(a: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(a, dtype=np.uint64)


_SERIAL = {K.vec_add: K.vec_add_s, K.vec_sub: K.vec_sub_s, K.vec_mul: K.vec_mul_s}


def _gkr_tables(what: str, tables, e) -> tuple[list[np.ndarray], int]:
    """The 2 or 4 tables of a GKR round-sum kernel as contiguous arrays, each of 2·len(e) entries, and that
    length (``ValueError`` otherwise)."""
    n = tables[0].shape[0]
    if any(t.shape[0] != n for t in tables) or e.shape[0] * 2 != n:
        raise ValueError(f"{what}: tables of 2·len(e) entries needed")
    if len(tables) not in (2, 4):
        raise ValueError(f"{what} takes 2 or 4 tables, got {len(tables)}")
    return [_c(t) for t in tables], n


def _pick(parallel, serial, n: int):
    """The serial twin below ``SERIAL_BELOW`` entries: a parallel launch costs more than small work (much more
    on a loaded machine, where the worker threads must be scheduled first)."""
    return serial if n < K.SERIAL_BELOW else parallel


class CpuBackend(Backend, FusedKernels):
    """numba kernels on numpy arrays; ``fused=False`` turns its fused sumcheck kernels off (the callers then
    take the generic path, which must give the same proof bytes)."""

    name = "cpu"
    xp = np

    def __init__(self, *, fused: bool = True):
        self._fused = fused

    def fused(self) -> FusedKernels | None:
        return self if self._fused else None

    def asarray(self, host: np.ndarray) -> Array:
        return _c(host)

    def to_host(self, a: Array) -> np.ndarray:
        return a

    def _binary(self, kernel, a, b):
        if a.shape != b.shape:
            raise ValueError(f"length mismatch: {a.shape[0]} vs {b.shape[0]}")
        out = np.empty_like(a)
        if a.shape[0] < K.SERIAL_BELOW:
            kernel = _SERIAL.get(kernel, kernel)
        kernel(_c(a), _c(b), out)
        return out

    def add(self, a, b):
        return self._binary(K.vec_add, a, b)

    def sub(self, a, b):
        return self._binary(K.vec_sub, a, b)

    def mul(self, a, b):
        return self._binary(K.vec_mul, a, b)

    def neg(self, a):
        out = np.empty_like(a)
        _pick(K.vec_neg, K.vec_neg_s, a.shape[0])(_c(a), out)
        return out

    def add_scalar(self, a, s):
        out = np.empty_like(a)
        _pick(K.vec_add_scalar, K.vec_add_scalar_s, a.shape[0])(_c(a), _c(s), out)
        return out

    def mul_scalar(self, a, s):
        out = np.empty_like(a)
        _pick(K.vec_mul_scalar, K.vec_mul_scalar_s, a.shape[0])(_c(a), _c(s), out)
        return out

    def axpy(self, s, x, y):
        if x.shape != y.shape:
            raise ValueError(f"length mismatch: {x.shape[0]} vs {y.shape[0]}")
        out = np.empty_like(x)
        _pick(K.vec_axpy, K.vec_axpy_s, x.shape[0])(_c(s), _c(x), _c(y), out)
        return out

    def fold(self, t, c):
        n = t.shape[0]
        if n < 2 or n % 2:
            raise ValueError(f"fold needs an even length ≥ 2, got {n}")
        out = np.empty((n // 2, 4), dtype=np.uint64)
        (K.vec_fold_s if n < K.SERIAL_BELOW else K.vec_fold)(_c(t), _c(c), out)
        return out

    def fold_pair(self, a, b, c):
        if a.shape != b.shape:
            raise ValueError(f"length mismatch: {a.shape[0]} vs {b.shape[0]}")
        out = np.empty_like(a)
        _pick(K.vec_fold_pair, K.vec_fold_pair_s, a.shape[0])(_c(a), _c(b), _c(c), out)
        return out

    def sum(self, a):
        return _pick(K.vec_sum, K.vec_sum_s, a.shape[0])(_c(a))

    def inner(self, a, b):
        if a.shape != b.shape:
            raise ValueError(f"length mismatch: {a.shape[0]} vs {b.shape[0]}")
        return _pick(K.vec_inner, K.vec_inner_s, a.shape[0])(_c(a), _c(b))

    def round_sums(self, tables):
        n = tables[0].shape[0]
        if any(t.shape[0] != n for t in tables):
            raise ValueError("round_sums: tables of different lengths")
        if n < 2 or n & (n - 1):
            raise ValueError(f"round_sums needs a power-of-two length ≥ 2, got {n}")
        tabs = [_c(t) for t in tables]
        small = n < K.SERIAL_BELOW
        if len(tabs) == 1:
            part = (K.round_sums_1_s if small else K.round_sums_1)(*tabs)
        elif len(tabs) == 2:
            part = (K.round_sums_2_s if small else K.round_sums_2)(*tabs)
        elif len(tabs) == 3:
            part = (K.round_sums_3_s if small else K.round_sums_3)(*tabs)
        else:
            raise ValueError(f"round_sums supports products of 1 to 3 tables, got {len(tabs)}")
        return K.reduce_parts(part)

    def contract(self, a, shape, v):
        P, Q, Rr = (int(x) for x in shape)
        if a.shape[0] != P * Q * Rr or v.shape[0] != Q:
            raise ValueError(f"contract: {a.shape[0]} entries do not form {shape} with a vector of {v.shape[0]}")
        out = np.empty((P * Rr, 4), dtype=np.uint64)
        _pick(K.contract_mid, K.contract_mid_s, a.shape[0])(_c(a), P, Q, Rr, _c(v), out)
        return out

    def powers(self, x, n):
        out = np.empty((n, 4), dtype=np.uint64)
        K.vec_powers(_c(x), n, out)
        return out

    def eq_table(self, u, scale=None):
        # one array, in place: variables are prepended as the new high bit, from u[n−1] down to u[0]
        u = _c(u).reshape(-1, 4)
        n = u.shape[0]
        a = np.empty((1 << n, 4), dtype=np.uint64)
        a[0] = (K.ONE0, K.ONE1, K.ONE2, K.ONE3) if scale is None else scale
        k = 1
        for j in range(n - 1, -1, -1):
            (K.eq_step_hi_s if k < K.SERIAL_BELOW else K.eq_step_hi)(a, k, u[j])
            k *= 2
        return a

    def batch_inverse(self, a):
        out = np.empty_like(a)
        zeros = K.vec_batch_inverse(_c(a), out)
        return out, int(zeros)

    def to_mont(self, std):
        out = np.empty_like(std)
        _pick(K.to_mont, K.to_mont_s, std.shape[0])(_c(std), out)
        return out

    def from_mont(self, a):
        out = np.empty_like(a)
        _pick(K.from_mont, K.from_mont_s, a.shape[0])(_c(a), out)
        return out

    def count_noncanonical(self, std):
        return int(K.count_noncanonical(_c(std)))

    def from_int64(self, x):
        x = np.ascontiguousarray(x, dtype=np.int64).reshape(-1)
        out = np.empty((x.shape[0], 4), dtype=np.uint64)
        _pick(K.from_int64, K.from_int64_s, x.shape[0])(x, out)
        return out

    # --- the fused kernels (FusedKernels) ---------------------------------------------------------------------
    def gkr_sums(self, tables, e):
        """Eq-factored GKR round pieces: (4, 4) limbs of Σ e·X(0), Σ e·Y(0), Σ e·X(∞), Σ e·Y(∞) with
        X = p_lo·q_hi + p_hi·q_lo, Y = q_lo·q_hi for tables (p_lo, p_hi, q_lo, q_hi), or X = q_lo + q_hi for
        tables (q_lo, q_hi); every table has 2·len(e) entries."""
        tabs, n = _gkr_tables("gkr_sums", tables, e)
        if len(tabs) == 4:
            part = _pick(K.gkr_sums4, K.gkr_sums4_s, n)(*tabs, _c(e))
        else:
            part = _pick(K.gkr_sums2, K.gkr_sums2_s, n)(*tabs, _c(e))
        return K.reduce_parts(part)

    def gkr_cross_sums(self, tables, e, s):
        """(2, 4) limbs of Σ e·Z(0), Σ e·Z(∞) with Z = a·d + b·c for tables (a, b, c, d), or Z = (c + s)·(d + s)
        for tables (c, d) and the scalar s; every table has 2·len(e) entries."""
        tabs, n = _gkr_tables("gkr_cross_sums", tables, e)
        if len(tabs) == 4:
            part = _pick(K.gkr_cross_sums4, K.gkr_cross_sums4_s, n)(*tabs, _c(e))
        else:
            part = _pick(K.gkr_cross_sums2, K.gkr_cross_sums2_s, n)(*tabs, _c(e), _c(s))
        return K.reduce_parts(part)

    def fold_many_inplace(self, tables, c):
        """Fold every table (contiguous, one even length) in place; returns the folded views ``t[:h]``.
        The tables' upper halves are left as scratch: only for tables the caller owns."""
        n = tables[0].shape[0]
        if n < 2 or n % 2 or any(t.shape[0] != n for t in tables):
            raise ValueError("fold_many_inplace: tables of one even length ≥ 2 needed")
        if any(not (t.flags.c_contiguous and t.flags.writeable and t.dtype == np.uint64) for t in tables):
            raise ValueError("fold_many_inplace: writeable contiguous uint64 tables needed")
        (K.fold_many_inplace_s if n < K.SERIAL_BELOW else K.fold_many_inplace)(tuple(tables), _c(c))
        return [t[: n // 2] for t in tables]

    def halve_sum_inplace(self, a):
        """a[:h] += a[h:] in place (h = len/2); returns the view a[:h]."""
        n = a.shape[0]
        if n < 2 or n % 2 or not (a.flags.c_contiguous and a.flags.writeable):
            raise ValueError("halve_sum_inplace: a writeable contiguous table of even length ≥ 2 needed")
        (K.halve_sum_inplace_s if n < K.SERIAL_BELOW else K.halve_sum_inplace)(a)
        return a[: n // 2]

    def fold2_round_sums(self, f, g, c, g_out=None):
        """Fold f (and g, or g into ``g_out`` of half its length: g is then only read) in place by c and return
        the (3, 4) round sums of the folded f·g at t = 0, 1, 2 and the folded tables; f and g contiguous, of one
        power-of-two length ≥ 4."""
        n = f.shape[0]
        if n < 4 or n & (n - 1) or g.shape[0] != n:
            raise ValueError("fold2_round_sums: two tables of one power-of-two length ≥ 4 needed")
        outs = (f, g) if g_out is None else (f, g_out)
        if any(not (t.flags.c_contiguous and t.flags.writeable and t.dtype == np.uint64) for t in outs):
            raise ValueError("fold2_round_sums: writeable contiguous uint64 tables needed")
        if g_out is not None and (g_out.shape[0] != n // 2 or not (g.flags.c_contiguous and g.dtype == np.uint64)):
            raise ValueError("fold2_round_sums: g_out must have half the rows of a contiguous uint64 g")
        gout = g if g_out is None else g_out
        part = (K.fold2_round_sums_s if n < K.SERIAL_BELOW else K.fold2_round_sums)(f, g, _c(c), gout)
        return K.reduce_parts(part), f[: n // 2], g[: n // 2] if g_out is None else g_out

    def fraction_layer(self, p, q):
        """(p_lo·q_hi + p_hi·q_lo, q_lo·q_hi) of halves; p None: p = 1 (q_lo + q_hi, q_lo·q_hi)."""
        n = q.shape[0]
        if n < 2 or n % 2 or (p is not None and p.shape != q.shape):
            raise ValueError("fraction_layer: tables of one even length ≥ 2 needed")
        pout = np.empty((n // 2, 4), dtype=np.uint64)
        qout = np.empty((n // 2, 4), dtype=np.uint64)
        small = n < K.SERIAL_BELOW
        if p is None:
            (K.unit_fraction_layer_s if small else K.unit_fraction_layer)(_c(q), pout, qout)
        else:
            (K.fraction_layer_s if small else K.fraction_layer)(_c(p), _c(q), pout, qout)
        return pout, qout

    def axpy_inplace(self, s, x, y):
        """y += s·x in place (y contiguous and writeable); returns y."""
        if x.shape != y.shape:
            raise ValueError(f"length mismatch: {x.shape[0]} vs {y.shape[0]}")
        if not (y.flags.c_contiguous and y.flags.writeable and y.dtype == np.uint64):
            raise ValueError("axpy_inplace: a writeable contiguous uint64 target needed")
        (K.axpy_inplace_s if x.shape[0] < K.SERIAL_BELOW else K.axpy_inplace)(_c(s), _c(x), y)
        return y

    def eq_into(self, u, s, out, add):
        """out (+)= s·eq(u, ·) in place, one pass and no temporary table (out contiguous and writeable, of
        2^len(u) entries); returns out."""
        u = _c(u).reshape(-1, 4)
        if out.shape[0] != 1 << u.shape[0]:
            raise ValueError(f"eq_into: {out.shape[0]} entries for an eq table over {u.shape[0]} variables")
        if not (out.flags.c_contiguous and out.flags.writeable and out.dtype == np.uint64):
            raise ValueError("eq_into: a writeable contiguous uint64 target needed")
        (K.eq_into_s if out.shape[0] < K.SERIAL_BELOW else K.eq_into)(u, _c(s), out, bool(add))
        return out

    @staticmethod
    def _small_args(x, tag, consts, what: str):
        x = np.ascontiguousarray(x, dtype=np.int64).reshape(-1)
        tag = np.ascontiguousarray(tag, dtype=np.int64).reshape(-1)
        if x.shape != tag.shape or (tag.size and (tag.min() < 0 or tag.max() >= consts.shape[0])):
            raise ValueError(f"{what}: tags must index consts, one per value")
        return x, tag, _c(consts)

    def leaves_from_small(self, x, tag, consts):
        """consts[tag[i]] − x[i] (x: int64 values, tag: int64 indices into the (k, 4) limb rows consts)."""
        x, tag, consts = self._small_args(x, tag, consts, "leaves_from_small")
        out = np.empty((x.shape[0], 4), dtype=np.uint64)
        K.leaves_from_small(x, tag, consts, out)
        return out

    def unit_layer_from_small(self, x, tag, consts):
        """``fraction_layer(None, leaves_from_small(x, tag, consts))`` in one pass, the leaves not stored."""
        x, tag, consts = self._small_args(x, tag, consts, "unit_layer_from_small")
        n = x.shape[0]
        if n < 2 or n % 2:
            raise ValueError("unit_layer_from_small: an even number ≥ 2 of values needed")
        pout = np.empty((n // 2, 4), dtype=np.uint64)
        qout = np.empty((n // 2, 4), dtype=np.uint64)
        (K.unit_layer_from_small_s if n < K.SERIAL_BELOW else K.unit_layer_from_small)(x, tag, consts, pout, qout)
        return pout, qout

    def to_int64(self, a):
        out = np.empty(a.shape[0], dtype=np.int64)
        bad = K.to_int64(_c(a), out)
        return out, int(bad)
