"""Compiled Fr kernels for the CPU backend (numba).

Representation: an (N, 4) uint64 array of little-endian limbs in Montgomery form (R = 2^256). Every value is
fully reduced (< r) on input and output of every kernel.

The 64×64→128-bit products and the carry chains are LLVM-IR intrinsics (``_mac``, ``_adc``, ``_sbb``): numba
has no 128-bit integer type, and mixing uint64 with Python int literals in numba silently promotes to float64,
so every limb operation goes through these three helpers and the module-level ``np.uint64`` constants.
Multiplication is CIOS Montgomery without the final carry word (valid because the top limb of r is below
2^63 − 1), followed by one conditional subtraction.

Kernels are compiled on first use and cached on disk (``cache=True``); parallel kernels split their range into
chunks with ``prange``. Reductions (sum, inner product) use one partial result per chunk.
"""

from __future__ import annotations

import types as _pytypes

import numpy as np
from llvmlite import ir
from numba import njit, prange, types
from numba.extending import intrinsic

from .constants import MODULUS, MONT_INV, MONT_R, MONT_R2, int_to_limbs

_P = int_to_limbs(MODULUS)
P0 = np.uint64(_P[0])
P1 = np.uint64(_P[1])
P2 = np.uint64(_P[2])
P3 = np.uint64(_P[3])
INV = np.uint64(MONT_INV)
_R2 = int_to_limbs(MONT_R2)
R2_0, R2_1, R2_2, R2_3 = (np.uint64(v) for v in _R2)
_ONE = int_to_limbs(MONT_R)
ONE0, ONE1, ONE2, ONE3 = (np.uint64(v) for v in _ONE)
# R·2^64 mod r: one Montgomery step of v·(R·2^64) gives v·R, the Montgomery form of a 64-bit v (_small_to_mont)
_RW = int_to_limbs(MONT_R * (1 << 64) % MODULUS)
RW0, RW1, RW2, RW3 = (np.uint64(v) for v in _RW)
U0 = np.uint64(0)
U1 = np.uint64(1)
# r - 2 as limbs, the Fermat inversion exponent
_EXP = int_to_limbs(MODULUS - 2)
EXP_LIMBS = np.array(_EXP, dtype=np.uint64)
# 2^63, for signed conversions
HALF64 = np.uint64(1 << 63)

_CHUNK = 4096  # elements per parallel chunk in reductions and scans


# ---------------------------------------------------------------------------------------------------------
# LLVM intrinsics
# ---------------------------------------------------------------------------------------------------------


@intrinsic
def _mac(typingctx, a, b, c, d):
    """(hi, lo) of a*b + c + d (never overflows 128 bits)."""
    sig = types.UniTuple(types.uint64, 2)(types.uint64, types.uint64, types.uint64, types.uint64)

    def codegen(context, builder, signature, args):
        i128 = ir.IntType(128)
        i64 = ir.IntType(64)
        x, y, z, w = (builder.zext(v, i128) for v in args)
        p = builder.add(builder.add(builder.mul(x, y), z), w)
        lo = builder.trunc(p, i64)
        hi = builder.trunc(builder.lshr(p, ir.Constant(i128, 64)), i64)
        return context.make_tuple(builder, signature.return_type, [hi, lo])

    return sig, codegen


@intrinsic
def _adc(typingctx, a, b, c):
    """(carry, sum) of a + b + c with c in {0, 1}."""
    sig = types.UniTuple(types.uint64, 2)(types.uint64, types.uint64, types.uint64)

    def codegen(context, builder, signature, args):
        i128 = ir.IntType(128)
        i64 = ir.IntType(64)
        x, y, z = (builder.zext(v, i128) for v in args)
        s = builder.add(builder.add(x, y), z)
        lo = builder.trunc(s, i64)
        hi = builder.trunc(builder.lshr(s, ir.Constant(i128, 64)), i64)
        return context.make_tuple(builder, signature.return_type, [hi, lo])

    return sig, codegen


@intrinsic
def _sbb(typingctx, a, b, c):
    """(borrow, diff) of a - b - c with c in {0, 1}; borrow in {0, 1}."""
    sig = types.UniTuple(types.uint64, 2)(types.uint64, types.uint64, types.uint64)

    def codegen(context, builder, signature, args):
        i128 = ir.IntType(128)
        i64 = ir.IntType(64)
        x, y, z = (builder.zext(v, i128) for v in args)
        d = builder.sub(builder.sub(x, y), z)
        lo = builder.trunc(d, i64)
        # the high half is all ones exactly when the subtraction borrowed
        hi = builder.trunc(builder.lshr(d, ir.Constant(i128, 127)), i64)
        return context.make_tuple(builder, signature.return_type, [hi, lo])

    return sig, codegen


@intrinsic
def _mullo(typingctx, a, b):
    """a*b mod 2^64."""
    sig = types.uint64(types.uint64, types.uint64)

    def codegen(context, builder, signature, args):
        return builder.mul(args[0], args[1])

    return sig, codegen


# ---------------------------------------------------------------------------------------------------------
# scalar (4-limb) arithmetic, inlined by LLVM into the vector kernels
# ---------------------------------------------------------------------------------------------------------


@njit(cache=True)
def _reduce_once(t0, t1, t2, t3):
    b, d0 = _sbb(t0, P0, U0)
    b, d1 = _sbb(t1, P1, b)
    b, d2 = _sbb(t2, P2, b)
    b, d3 = _sbb(t3, P3, b)
    if b == U0:
        return d0, d1, d2, d3
    return t0, t1, t2, t3


@njit(cache=True)
def fr_add(a0, a1, a2, a3, b0, b1, b2, b3):
    c, s0 = _adc(a0, b0, U0)
    c, s1 = _adc(a1, b1, c)
    c, s2 = _adc(a2, b2, c)
    c, s3 = _adc(a3, b3, c)
    return _reduce_once(s0, s1, s2, s3)


@njit(cache=True)
def fr_sub(a0, a1, a2, a3, b0, b1, b2, b3):
    b, d0 = _sbb(a0, b0, U0)
    b, d1 = _sbb(a1, b1, b)
    b, d2 = _sbb(a2, b2, b)
    b, d3 = _sbb(a3, b3, b)
    if b != U0:
        c, d0 = _adc(d0, P0, U0)
        c, d1 = _adc(d1, P1, c)
        c, d2 = _adc(d2, P2, c)
        c, d3 = _adc(d3, P3, c)
    return d0, d1, d2, d3


@njit(cache=True)
def fr_neg(a0, a1, a2, a3):
    if a0 == U0 and a1 == U0 and a2 == U0 and a3 == U0:
        return a0, a1, a2, a3
    b, d0 = _sbb(P0, a0, U0)
    b, d1 = _sbb(P1, a1, b)
    b, d2 = _sbb(P2, a2, b)
    b, d3 = _sbb(P3, a3, b)
    return d0, d1, d2, d3


@njit(cache=True)
def _mont_step(bi, a0, a1, a2, a3, t0, t1, t2, t3):
    # one outer iteration of the no-carry CIOS: t = (t + a*bi + m*p) / 2^64
    A, t0 = _mac(a0, bi, t0, U0)
    m = _mullo(t0, INV)
    C, _ = _mac(m, P0, t0, U0)
    A, t1 = _mac(a1, bi, t1, A)
    C, t0 = _mac(m, P1, t1, C)
    A, t2 = _mac(a2, bi, t2, A)
    C, t1 = _mac(m, P2, t2, C)
    A, t3 = _mac(a3, bi, t3, A)
    C, t2 = _mac(m, P3, t3, C)
    _, t3 = _adc(C, A, U0)
    return t0, t1, t2, t3


@njit(cache=True)
def fr_mul(a0, a1, a2, a3, b0, b1, b2, b3):
    t0, t1, t2, t3 = _mont_step(b0, a0, a1, a2, a3, U0, U0, U0, U0)
    t0, t1, t2, t3 = _mont_step(b1, a0, a1, a2, a3, t0, t1, t2, t3)
    t0, t1, t2, t3 = _mont_step(b2, a0, a1, a2, a3, t0, t1, t2, t3)
    t0, t1, t2, t3 = _mont_step(b3, a0, a1, a2, a3, t0, t1, t2, t3)
    return _reduce_once(t0, t1, t2, t3)


@njit(cache=True)
def _small_to_mont(v):
    """Montgomery form v·R mod r of an unsigned 64-bit v: one CIOS step (v·(R·2^64) + m·r)/2^64 < 2r, then one
    conditional subtraction (a quarter of ``fr_mul(v, R²)``, the same value)."""
    t0, t1, t2, t3 = _mont_step(v, RW0, RW1, RW2, RW3, U0, U0, U0, U0)
    return _reduce_once(t0, t1, t2, t3)


@njit(cache=True)
def fr_pow(a0, a1, a2, a3, e):
    """a^e for a 4-limb exponent array e (square-and-multiply from the top bit)."""
    r0, r1, r2, r3 = ONE0, ONE1, ONE2, ONE3
    for limb in range(3, -1, -1):
        w = e[limb]
        for bit in range(63, -1, -1):
            r0, r1, r2, r3 = fr_mul(r0, r1, r2, r3, r0, r1, r2, r3)
            if (w >> np.uint64(bit)) & U1:
                r0, r1, r2, r3 = fr_mul(r0, r1, r2, r3, a0, a1, a2, a3)
    return r0, r1, r2, r3


@njit(cache=True)
def fr_inv(a0, a1, a2, a3):
    return fr_pow(a0, a1, a2, a3, EXP_LIMBS)


# ---------------------------------------------------------------------------------------------------------
# element-wise vector kernels
# ---------------------------------------------------------------------------------------------------------


@njit(parallel=True, cache=True)
def vec_add(a, b, out):
    for i in prange(a.shape[0]):
        out[i, 0], out[i, 1], out[i, 2], out[i, 3] = fr_add(
            a[i, 0], a[i, 1], a[i, 2], a[i, 3], b[i, 0], b[i, 1], b[i, 2], b[i, 3]
        )


@njit(parallel=True, cache=True)
def vec_sub(a, b, out):
    for i in prange(a.shape[0]):
        out[i, 0], out[i, 1], out[i, 2], out[i, 3] = fr_sub(
            a[i, 0], a[i, 1], a[i, 2], a[i, 3], b[i, 0], b[i, 1], b[i, 2], b[i, 3]
        )


@njit(parallel=True, cache=True)
def vec_mul(a, b, out):
    for i in prange(a.shape[0]):
        out[i, 0], out[i, 1], out[i, 2], out[i, 3] = fr_mul(
            a[i, 0], a[i, 1], a[i, 2], a[i, 3], b[i, 0], b[i, 1], b[i, 2], b[i, 3]
        )


@njit(parallel=True, cache=True)
def vec_neg(a, out):
    for i in prange(a.shape[0]):
        out[i, 0], out[i, 1], out[i, 2], out[i, 3] = fr_neg(a[i, 0], a[i, 1], a[i, 2], a[i, 3])


@njit(parallel=True, cache=True)
def vec_add_scalar(a, s, out):
    s0, s1, s2, s3 = s[0], s[1], s[2], s[3]
    for i in prange(a.shape[0]):
        out[i, 0], out[i, 1], out[i, 2], out[i, 3] = fr_add(a[i, 0], a[i, 1], a[i, 2], a[i, 3], s0, s1, s2, s3)


@njit(parallel=True, cache=True)
def vec_mul_scalar(a, s, out):
    s0, s1, s2, s3 = s[0], s[1], s[2], s[3]
    for i in prange(a.shape[0]):
        out[i, 0], out[i, 1], out[i, 2], out[i, 3] = fr_mul(a[i, 0], a[i, 1], a[i, 2], a[i, 3], s0, s1, s2, s3)


@njit(parallel=True, cache=True)
def vec_axpy(s, x, y, out):
    """out = s·x + y for a scalar s."""
    s0, s1, s2, s3 = s[0], s[1], s[2], s[3]
    for i in prange(x.shape[0]):
        m0, m1, m2, m3 = fr_mul(x[i, 0], x[i, 1], x[i, 2], x[i, 3], s0, s1, s2, s3)
        out[i, 0], out[i, 1], out[i, 2], out[i, 3] = fr_add(m0, m1, m2, m3, y[i, 0], y[i, 1], y[i, 2], y[i, 3])


@njit(parallel=True, cache=True)
def vec_fold(t, c, out):
    """out[i] = t[i] + c·(t[i + h] − t[i]) with h = len(t) / 2: binds the most significant variable to c."""
    h = t.shape[0] // 2
    c0, c1, c2, c3 = c[0], c[1], c[2], c[3]
    for i in prange(h):
        a0, a1, a2, a3 = t[i, 0], t[i, 1], t[i, 2], t[i, 3]
        d0, d1, d2, d3 = fr_sub(t[i + h, 0], t[i + h, 1], t[i + h, 2], t[i + h, 3], a0, a1, a2, a3)
        m0, m1, m2, m3 = fr_mul(d0, d1, d2, d3, c0, c1, c2, c3)
        out[i, 0], out[i, 1], out[i, 2], out[i, 3] = fr_add(a0, a1, a2, a3, m0, m1, m2, m3)


@njit(parallel=True, cache=True)
def vec_fold_pair(a, b, c, out):
    """out[i] = a[i] + c·(b[i] − a[i]) (interpolation between two vectors)."""
    c0, c1, c2, c3 = c[0], c[1], c[2], c[3]
    for i in prange(a.shape[0]):
        a0, a1, a2, a3 = a[i, 0], a[i, 1], a[i, 2], a[i, 3]
        d0, d1, d2, d3 = fr_sub(b[i, 0], b[i, 1], b[i, 2], b[i, 3], a0, a1, a2, a3)
        m0, m1, m2, m3 = fr_mul(d0, d1, d2, d3, c0, c1, c2, c3)
        out[i, 0], out[i, 1], out[i, 2], out[i, 3] = fr_add(a0, a1, a2, a3, m0, m1, m2, m3)


# ---------------------------------------------------------------------------------------------------------
# reductions
# ---------------------------------------------------------------------------------------------------------


@njit(parallel=True, cache=True)
def vec_sum(a):
    n = a.shape[0]
    nchunks = (n + _CHUNK - 1) // _CHUNK
    part = np.zeros((max(nchunks, 1), 4), dtype=np.uint64)
    for k in prange(nchunks):
        s0, s1, s2, s3 = U0, U0, U0, U0
        for i in range(k * _CHUNK, min(n, (k + 1) * _CHUNK)):
            s0, s1, s2, s3 = fr_add(s0, s1, s2, s3, a[i, 0], a[i, 1], a[i, 2], a[i, 3])
        part[k, 0], part[k, 1], part[k, 2], part[k, 3] = s0, s1, s2, s3
    s0, s1, s2, s3 = U0, U0, U0, U0
    for k in range(nchunks):
        s0, s1, s2, s3 = fr_add(s0, s1, s2, s3, part[k, 0], part[k, 1], part[k, 2], part[k, 3])
    out = np.empty(4, dtype=np.uint64)
    out[0], out[1], out[2], out[3] = s0, s1, s2, s3
    return out


@njit(parallel=True, cache=True)
def vec_inner(a, b):
    n = a.shape[0]
    nchunks = (n + _CHUNK - 1) // _CHUNK
    part = np.zeros((max(nchunks, 1), 4), dtype=np.uint64)
    for k in prange(nchunks):
        s0, s1, s2, s3 = U0, U0, U0, U0
        for i in range(k * _CHUNK, min(n, (k + 1) * _CHUNK)):
            m0, m1, m2, m3 = fr_mul(a[i, 0], a[i, 1], a[i, 2], a[i, 3], b[i, 0], b[i, 1], b[i, 2], b[i, 3])
            s0, s1, s2, s3 = fr_add(s0, s1, s2, s3, m0, m1, m2, m3)
        part[k, 0], part[k, 1], part[k, 2], part[k, 3] = s0, s1, s2, s3
    s0, s1, s2, s3 = U0, U0, U0, U0
    for k in range(nchunks):
        s0, s1, s2, s3 = fr_add(s0, s1, s2, s3, part[k, 0], part[k, 1], part[k, 2], part[k, 3])
    out = np.empty(4, dtype=np.uint64)
    out[0], out[1], out[2], out[3] = s0, s1, s2, s3
    return out


@njit(parallel=True, cache=True)
def vec_powers(x, n, out):
    """out[i] = x^i for i < n."""
    nchunks = (n + _CHUNK - 1) // _CHUNK
    for k in prange(nchunks):
        e = np.zeros(4, dtype=np.uint64)
        e[0] = np.uint64(k * _CHUNK)
        p0, p1, p2, p3 = fr_pow(x[0], x[1], x[2], x[3], e)
        for i in range(k * _CHUNK, min(n, (k + 1) * _CHUNK)):
            out[i, 0], out[i, 1], out[i, 2], out[i, 3] = p0, p1, p2, p3
            p0, p1, p2, p3 = fr_mul(p0, p1, p2, p3, x[0], x[1], x[2], x[3])


@njit(parallel=True, cache=True)
def vec_batch_inverse(a, out):
    """Montgomery's trick per chunk. Returns the number of zero entries (then out is undefined)."""
    n = a.shape[0]
    nchunks = (n + _CHUNK - 1) // _CHUNK
    zeros = np.zeros(max(nchunks, 1), dtype=np.int64)
    for k in prange(nchunks):
        lo = k * _CHUNK
        hi = min(n, (k + 1) * _CHUNK)
        # prefix products in out
        p0, p1, p2, p3 = ONE0, ONE1, ONE2, ONE3
        for i in range(lo, hi):
            if a[i, 0] == U0 and a[i, 1] == U0 and a[i, 2] == U0 and a[i, 3] == U0:
                zeros[k] += 1
            out[i, 0], out[i, 1], out[i, 2], out[i, 3] = p0, p1, p2, p3
            p0, p1, p2, p3 = fr_mul(p0, p1, p2, p3, a[i, 0], a[i, 1], a[i, 2], a[i, 3])
        if zeros[k] == 0:
            q0, q1, q2, q3 = fr_inv(p0, p1, p2, p3)
            for i in range(hi - 1, lo - 1, -1):
                # out[i] = prefix(i) * inv(prefix(i+1)); then inv(prefix(i)) = inv(prefix(i+1)) * a[i]
                r0, r1, r2, r3 = fr_mul(out[i, 0], out[i, 1], out[i, 2], out[i, 3], q0, q1, q2, q3)
                q0, q1, q2, q3 = fr_mul(q0, q1, q2, q3, a[i, 0], a[i, 1], a[i, 2], a[i, 3])
                out[i, 0], out[i, 1], out[i, 2], out[i, 3] = r0, r1, r2, r3
    total = 0
    for k in range(nchunks):
        total += zeros[k]
    return total


# ---------------------------------------------------------------------------------------------------------
# conversions
# ---------------------------------------------------------------------------------------------------------


@njit(parallel=True, cache=True)
def to_mont(a, out):
    """Standard-form limbs (< r) to Montgomery form."""
    for i in prange(a.shape[0]):
        out[i, 0], out[i, 1], out[i, 2], out[i, 3] = fr_mul(a[i, 0], a[i, 1], a[i, 2], a[i, 3], R2_0, R2_1, R2_2, R2_3)


@njit(parallel=True, cache=True)
def from_mont(a, out):
    for i in prange(a.shape[0]):
        out[i, 0], out[i, 1], out[i, 2], out[i, 3] = fr_mul(a[i, 0], a[i, 1], a[i, 2], a[i, 3], U1, U0, U0, U0)


@njit(parallel=True, cache=True)
def count_noncanonical(a):
    """Number of standard-form rows whose value is ≥ r."""
    n = a.shape[0]
    bad = np.zeros(n, dtype=np.uint8)
    for i in prange(n):
        b, _ = _sbb(a[i, 0], P0, U0)
        b, _ = _sbb(a[i, 1], P1, b)
        b, _ = _sbb(a[i, 2], P2, b)
        b, _ = _sbb(a[i, 3], P3, b)
        if b == U0:
            bad[i] = 1
    return int(bad.sum())


@njit(parallel=True, cache=True)
def from_int64(x, out):
    """Signed int64 values to Montgomery-form field elements (negative x maps to r − |x|)."""
    for i in prange(x.shape[0]):
        v = x[i]
        if v >= 0:
            m0, m1, m2, m3 = _small_to_mont(np.uint64(v))
            out[i, 0], out[i, 1], out[i, 2], out[i, 3] = m0, m1, m2, m3
        else:
            # |v| as uint64 also works for v = -2^63
            mag = np.uint64(0) - np.uint64(v)
            m0, m1, m2, m3 = _small_to_mont(mag)
            out[i, 0], out[i, 1], out[i, 2], out[i, 3] = fr_neg(m0, m1, m2, m3)


@njit(parallel=True, cache=True)
def to_int64(a, out):
    """Montgomery-form elements to signed int64; returns the number of elements outside [−2^63, 2^63)."""
    n = a.shape[0]
    bad = np.zeros(n, dtype=np.uint8)
    for i in prange(n):
        s0, s1, s2, s3 = fr_mul(a[i, 0], a[i, 1], a[i, 2], a[i, 3], U1, U0, U0, U0)
        if s1 == U0 and s2 == U0 and s3 == U0 and s0 < HALF64:
            out[i] = np.int64(s0)
        else:
            n0, n1, n2, n3 = fr_neg(s0, s1, s2, s3)
            if n1 == U0 and n2 == U0 and n3 == U0 and n0 <= HALF64:
                out[i] = -np.int64(n0 - U1) - 1
            else:
                bad[i] = 1
                out[i] = 0
    return int(bad.sum())


# ---------------------------------------------------------------------------------------------------------
# multilinear helpers
# ---------------------------------------------------------------------------------------------------------


@njit(parallel=True, cache=True)
def eq_step(src, k, u, dst):
    """dst[2i+1] = src[i]·u, dst[2i] = src[i] − dst[2i+1] for i < k (one more variable, as the low bit)."""
    u0, u1, u2, u3 = u[0], u[1], u[2], u[3]
    for i in prange(k):
        a0, a1, a2, a3 = src[i, 0], src[i, 1], src[i, 2], src[i, 3]
        m0, m1, m2, m3 = fr_mul(a0, a1, a2, a3, u0, u1, u2, u3)
        dst[2 * i + 1, 0], dst[2 * i + 1, 1], dst[2 * i + 1, 2], dst[2 * i + 1, 3] = m0, m1, m2, m3
        dst[2 * i, 0], dst[2 * i, 1], dst[2 * i, 2], dst[2 * i, 3] = fr_sub(a0, a1, a2, a3, m0, m1, m2, m3)


@njit(parallel=True, cache=True)
def eq_step_hi(a, k, u):
    """In place: a[i + k] = a[i]·u, a[i] −= a[i + k] for i < k (one more variable, as the new high bit)."""
    u0, u1, u2, u3 = u[0], u[1], u[2], u[3]
    for i in prange(k):
        a0, a1, a2, a3 = a[i, 0], a[i, 1], a[i, 2], a[i, 3]
        m0, m1, m2, m3 = fr_mul(a0, a1, a2, a3, u0, u1, u2, u3)
        a[i + k, 0], a[i + k, 1], a[i + k, 2], a[i + k, 3] = m0, m1, m2, m3
        a[i, 0], a[i, 1], a[i, 2], a[i, 3] = fr_sub(a0, a1, a2, a3, m0, m1, m2, m3)


# ---------------------------------------------------------------------------------------------------------
# sumcheck round sums: Σ_i Π_k f_k(t, i) at t = 0..d, where f_k(t, i) = f_k[i] + t·(f_k[i+h] − f_k[i])
# ---------------------------------------------------------------------------------------------------------


@njit(parallel=True, cache=True)
def round_sums_1(f):
    h = f.shape[0] // 2
    nchunks = (h + _CHUNK - 1) // _CHUNK
    part = np.zeros((max(nchunks, 1), 2, 4), dtype=np.uint64)
    for k in prange(nchunks):
        s = np.zeros((2, 4), dtype=np.uint64)
        x0, x1, x2, x3 = U0, U0, U0, U0
        y0, y1, y2, y3 = U0, U0, U0, U0
        for i in range(k * _CHUNK, min(h, (k + 1) * _CHUNK)):
            x0, x1, x2, x3 = fr_add(x0, x1, x2, x3, f[i, 0], f[i, 1], f[i, 2], f[i, 3])
            j = i + h
            y0, y1, y2, y3 = fr_add(y0, y1, y2, y3, f[j, 0], f[j, 1], f[j, 2], f[j, 3])
        s[0, 0], s[0, 1], s[0, 2], s[0, 3] = x0, x1, x2, x3
        s[1, 0], s[1, 1], s[1, 2], s[1, 3] = y0, y1, y2, y3
        part[k] = s
    return part


@njit(parallel=True, cache=True)
def round_sums_2(f, g):
    """Per-chunk partial sums of f·g at t = 0, 1, 2; shape (chunks, 3, 4)."""
    h = f.shape[0] // 2
    nchunks = (h + _CHUNK - 1) // _CHUNK
    part = np.zeros((max(nchunks, 1), 3, 4), dtype=np.uint64)
    for k in prange(nchunks):
        e00, e01, e02, e03 = U0, U0, U0, U0
        e10, e11, e12, e13 = U0, U0, U0, U0
        e20, e21, e22, e23 = U0, U0, U0, U0
        for i in range(k * _CHUNK, min(h, (k + 1) * _CHUNK)):
            j = i + h
            fa0, fa1, fa2, fa3 = f[i, 0], f[i, 1], f[i, 2], f[i, 3]
            fb0, fb1, fb2, fb3 = f[j, 0], f[j, 1], f[j, 2], f[j, 3]
            ga0, ga1, ga2, ga3 = g[i, 0], g[i, 1], g[i, 2], g[i, 3]
            gb0, gb1, gb2, gb3 = g[j, 0], g[j, 1], g[j, 2], g[j, 3]
            m0, m1, m2, m3 = fr_mul(fa0, fa1, fa2, fa3, ga0, ga1, ga2, ga3)
            e00, e01, e02, e03 = fr_add(e00, e01, e02, e03, m0, m1, m2, m3)
            m0, m1, m2, m3 = fr_mul(fb0, fb1, fb2, fb3, gb0, gb1, gb2, gb3)
            e10, e11, e12, e13 = fr_add(e10, e11, e12, e13, m0, m1, m2, m3)
            # value at t = 2: 2·b − a
            df0, df1, df2, df3 = fr_sub(fb0, fb1, fb2, fb3, fa0, fa1, fa2, fa3)
            f20, f21, f22, f23 = fr_add(fb0, fb1, fb2, fb3, df0, df1, df2, df3)
            dg0, dg1, dg2, dg3 = fr_sub(gb0, gb1, gb2, gb3, ga0, ga1, ga2, ga3)
            g20, g21, g22, g23 = fr_add(gb0, gb1, gb2, gb3, dg0, dg1, dg2, dg3)
            m0, m1, m2, m3 = fr_mul(f20, f21, f22, f23, g20, g21, g22, g23)
            e20, e21, e22, e23 = fr_add(e20, e21, e22, e23, m0, m1, m2, m3)
        part[k, 0, 0], part[k, 0, 1], part[k, 0, 2], part[k, 0, 3] = e00, e01, e02, e03
        part[k, 1, 0], part[k, 1, 1], part[k, 1, 2], part[k, 1, 3] = e10, e11, e12, e13
        part[k, 2, 0], part[k, 2, 1], part[k, 2, 2], part[k, 2, 3] = e20, e21, e22, e23
    return part


@njit(parallel=True, cache=True)
def round_sums_3(f, g, q):
    """Per-chunk partial sums of f·g·q at t = 0, 1, 2, 3; shape (chunks, 4, 4)."""
    h = f.shape[0] // 2
    nchunks = (h + _CHUNK - 1) // _CHUNK
    part = np.zeros((max(nchunks, 1), 4, 4), dtype=np.uint64)
    for k in prange(nchunks):
        acc = np.zeros((4, 4), dtype=np.uint64)
        for i in range(k * _CHUNK, min(h, (k + 1) * _CHUNK)):
            j = i + h
            fa0, fa1, fa2, fa3 = f[i, 0], f[i, 1], f[i, 2], f[i, 3]
            ga0, ga1, ga2, ga3 = g[i, 0], g[i, 1], g[i, 2], g[i, 3]
            qa0, qa1, qa2, qa3 = q[i, 0], q[i, 1], q[i, 2], q[i, 3]
            fb0, fb1, fb2, fb3 = f[j, 0], f[j, 1], f[j, 2], f[j, 3]
            gb0, gb1, gb2, gb3 = g[j, 0], g[j, 1], g[j, 2], g[j, 3]
            qb0, qb1, qb2, qb3 = q[j, 0], q[j, 1], q[j, 2], q[j, 3]
            df0, df1, df2, df3 = fr_sub(fb0, fb1, fb2, fb3, fa0, fa1, fa2, fa3)
            dg0, dg1, dg2, dg3 = fr_sub(gb0, gb1, gb2, gb3, ga0, ga1, ga2, ga3)
            dq0, dq1, dq2, dq3 = fr_sub(qb0, qb1, qb2, qb3, qa0, qa1, qa2, qa3)
            for t in range(4):
                if t == 0:
                    x0, x1, x2, x3 = fa0, fa1, fa2, fa3
                    y0, y1, y2, y3 = ga0, ga1, ga2, ga3
                    z0, z1, z2, z3 = qa0, qa1, qa2, qa3
                elif t == 1:
                    x0, x1, x2, x3 = fb0, fb1, fb2, fb3
                    y0, y1, y2, y3 = gb0, gb1, gb2, gb3
                    z0, z1, z2, z3 = qb0, qb1, qb2, qb3
                else:
                    x0, x1, x2, x3 = fr_add(fb0, fb1, fb2, fb3, df0, df1, df2, df3)
                    y0, y1, y2, y3 = fr_add(gb0, gb1, gb2, gb3, dg0, dg1, dg2, dg3)
                    z0, z1, z2, z3 = fr_add(qb0, qb1, qb2, qb3, dq0, dq1, dq2, dq3)
                    fb0, fb1, fb2, fb3 = x0, x1, x2, x3
                    gb0, gb1, gb2, gb3 = y0, y1, y2, y3
                    qb0, qb1, qb2, qb3 = z0, z1, z2, z3
                m0, m1, m2, m3 = fr_mul(x0, x1, x2, x3, y0, y1, y2, y3)
                m0, m1, m2, m3 = fr_mul(m0, m1, m2, m3, z0, z1, z2, z3)
                acc[t, 0], acc[t, 1], acc[t, 2], acc[t, 3] = fr_add(
                    acc[t, 0], acc[t, 1], acc[t, 2], acc[t, 3], m0, m1, m2, m3
                )
        part[k] = acc
    return part


@njit(cache=True)
def reduce_parts(part):
    """Sum (chunks, d+1, 4) partials to (d+1, 4)."""
    out = np.zeros((part.shape[1], 4), dtype=np.uint64)
    for k in range(part.shape[0]):
        for t in range(part.shape[1]):
            out[t, 0], out[t, 1], out[t, 2], out[t, 3] = fr_add(
                out[t, 0], out[t, 1], out[t, 2], out[t, 3], part[k, t, 0], part[k, t, 1], part[k, t, 2], part[k, t, 3]
            )
    return out


# ---------------------------------------------------------------------------------------------------------
# tensor contraction: out[p, r] = Σ_q a[p, q, r]·v[q] (partial evaluation of a middle block of variables)
# ---------------------------------------------------------------------------------------------------------


@njit(parallel=True, cache=True)
def contract_mid(a, P, Q, Rr, v, out):
    for pr in prange(P * Rr):
        p = pr // Rr
        r = pr - p * Rr
        s0, s1, s2, s3 = U0, U0, U0, U0
        base = p * Q * Rr + r
        for q in range(Q):
            i = base + q * Rr
            m0, m1, m2, m3 = fr_mul(a[i, 0], a[i, 1], a[i, 2], a[i, 3], v[q, 0], v[q, 1], v[q, 2], v[q, 3])
            s0, s1, s2, s3 = fr_add(s0, s1, s2, s3, m0, m1, m2, m3)
        out[pr, 0], out[pr, 1], out[pr, 2], out[pr, 3] = s0, s1, s2, s3


# ---------------------------------------------------------------------------------------------------------
# GKR fractional-sum layers (range checks): eq-factored round sums
# ---------------------------------------------------------------------------------------------------------
# The round polynomial of Σ_x eq(u, x)·F(x) factors as eq(u_<i, r_<i)·eq(u_i, t)·s(t) with
# s(t) = Σ_j E[j]·F(t, j), E = eq(u_>i): the kernels return the pieces of s at t = 0 and its leading (t²)
# coefficient, for F = X + λ·Y.


@njit(parallel=True, cache=True)
def gkr_sums4(a, b, c, d, e):
    """X = a·d + b·c, Y = c·d (a, b, c, d = p_lo, p_hi, q_lo, q_hi of 2h entries, e of h): per-chunk
    (chunks, 4, 4) partials of Σ e·X(0), Σ e·Y(0), Σ e·X(∞), Σ e·Y(∞) (∞: the t² coefficient)."""
    h = a.shape[0] // 2
    nchunks = (h + _CHUNK - 1) // _CHUNK
    part = np.zeros((max(nchunks, 1), 4, 4), dtype=np.uint64)
    for k in prange(nchunks):
        x00, x01, x02, x03 = U0, U0, U0, U0
        y00, y01, y02, y03 = U0, U0, U0, U0
        xi0, xi1, xi2, xi3 = U0, U0, U0, U0
        yi0, yi1, yi2, yi3 = U0, U0, U0, U0
        for i in range(k * _CHUNK, min(h, (k + 1) * _CHUNK)):
            j = i + h
            e0, e1, e2, e3 = e[i, 0], e[i, 1], e[i, 2], e[i, 3]
            a0, a1, a2, a3 = a[i, 0], a[i, 1], a[i, 2], a[i, 3]
            b0, b1, b2, b3 = b[i, 0], b[i, 1], b[i, 2], b[i, 3]
            c0, c1, c2, c3 = c[i, 0], c[i, 1], c[i, 2], c[i, 3]
            d0, d1, d2, d3 = d[i, 0], d[i, 1], d[i, 2], d[i, 3]
            # t = 0
            m0, m1, m2, m3 = fr_mul(a0, a1, a2, a3, d0, d1, d2, d3)
            n0, n1, n2, n3 = fr_mul(b0, b1, b2, b3, c0, c1, c2, c3)
            m0, m1, m2, m3 = fr_add(m0, m1, m2, m3, n0, n1, n2, n3)
            m0, m1, m2, m3 = fr_mul(m0, m1, m2, m3, e0, e1, e2, e3)
            x00, x01, x02, x03 = fr_add(x00, x01, x02, x03, m0, m1, m2, m3)
            m0, m1, m2, m3 = fr_mul(c0, c1, c2, c3, d0, d1, d2, d3)
            m0, m1, m2, m3 = fr_mul(m0, m1, m2, m3, e0, e1, e2, e3)
            y00, y01, y02, y03 = fr_add(y00, y01, y02, y03, m0, m1, m2, m3)
            # differences (the slopes in t)
            a0, a1, a2, a3 = fr_sub(a[j, 0], a[j, 1], a[j, 2], a[j, 3], a0, a1, a2, a3)
            b0, b1, b2, b3 = fr_sub(b[j, 0], b[j, 1], b[j, 2], b[j, 3], b0, b1, b2, b3)
            c0, c1, c2, c3 = fr_sub(c[j, 0], c[j, 1], c[j, 2], c[j, 3], c0, c1, c2, c3)
            d0, d1, d2, d3 = fr_sub(d[j, 0], d[j, 1], d[j, 2], d[j, 3], d0, d1, d2, d3)
            m0, m1, m2, m3 = fr_mul(a0, a1, a2, a3, d0, d1, d2, d3)
            n0, n1, n2, n3 = fr_mul(b0, b1, b2, b3, c0, c1, c2, c3)
            m0, m1, m2, m3 = fr_add(m0, m1, m2, m3, n0, n1, n2, n3)
            m0, m1, m2, m3 = fr_mul(m0, m1, m2, m3, e0, e1, e2, e3)
            xi0, xi1, xi2, xi3 = fr_add(xi0, xi1, xi2, xi3, m0, m1, m2, m3)
            m0, m1, m2, m3 = fr_mul(c0, c1, c2, c3, d0, d1, d2, d3)
            m0, m1, m2, m3 = fr_mul(m0, m1, m2, m3, e0, e1, e2, e3)
            yi0, yi1, yi2, yi3 = fr_add(yi0, yi1, yi2, yi3, m0, m1, m2, m3)
        part[k, 0, 0], part[k, 0, 1], part[k, 0, 2], part[k, 0, 3] = x00, x01, x02, x03
        part[k, 1, 0], part[k, 1, 1], part[k, 1, 2], part[k, 1, 3] = y00, y01, y02, y03
        part[k, 2, 0], part[k, 2, 1], part[k, 2, 2], part[k, 2, 3] = xi0, xi1, xi2, xi3
        part[k, 3, 0], part[k, 3, 1], part[k, 3, 2], part[k, 3, 3] = yi0, yi1, yi2, yi3
    return part


@njit(parallel=True, cache=True)
def gkr_sums2(c, d, e):
    """As gkr_sums4 with p_lo = p_hi = 1: X = c + d, Y = c·d (X(∞) = 0)."""
    h = c.shape[0] // 2
    nchunks = (h + _CHUNK - 1) // _CHUNK
    part = np.zeros((max(nchunks, 1), 4, 4), dtype=np.uint64)
    for k in prange(nchunks):
        x00, x01, x02, x03 = U0, U0, U0, U0
        y00, y01, y02, y03 = U0, U0, U0, U0
        yi0, yi1, yi2, yi3 = U0, U0, U0, U0
        for i in range(k * _CHUNK, min(h, (k + 1) * _CHUNK)):
            j = i + h
            e0, e1, e2, e3 = e[i, 0], e[i, 1], e[i, 2], e[i, 3]
            c0, c1, c2, c3 = c[i, 0], c[i, 1], c[i, 2], c[i, 3]
            d0, d1, d2, d3 = d[i, 0], d[i, 1], d[i, 2], d[i, 3]
            m0, m1, m2, m3 = fr_add(c0, c1, c2, c3, d0, d1, d2, d3)
            m0, m1, m2, m3 = fr_mul(m0, m1, m2, m3, e0, e1, e2, e3)
            x00, x01, x02, x03 = fr_add(x00, x01, x02, x03, m0, m1, m2, m3)
            m0, m1, m2, m3 = fr_mul(c0, c1, c2, c3, d0, d1, d2, d3)
            m0, m1, m2, m3 = fr_mul(m0, m1, m2, m3, e0, e1, e2, e3)
            y00, y01, y02, y03 = fr_add(y00, y01, y02, y03, m0, m1, m2, m3)
            c0, c1, c2, c3 = fr_sub(c[j, 0], c[j, 1], c[j, 2], c[j, 3], c0, c1, c2, c3)
            d0, d1, d2, d3 = fr_sub(d[j, 0], d[j, 1], d[j, 2], d[j, 3], d0, d1, d2, d3)
            m0, m1, m2, m3 = fr_mul(c0, c1, c2, c3, d0, d1, d2, d3)
            m0, m1, m2, m3 = fr_mul(m0, m1, m2, m3, e0, e1, e2, e3)
            yi0, yi1, yi2, yi3 = fr_add(yi0, yi1, yi2, yi3, m0, m1, m2, m3)
        part[k, 0, 0], part[k, 0, 1], part[k, 0, 2], part[k, 0, 3] = x00, x01, x02, x03
        part[k, 1, 0], part[k, 1, 1], part[k, 1, 2], part[k, 1, 3] = y00, y01, y02, y03
        part[k, 3, 0], part[k, 3, 1], part[k, 3, 2], part[k, 3, 3] = yi0, yi1, yi2, yi3
    return part


@njit(parallel=True, cache=True)
def gkr_cross_sums4(a, b, c, d, e):
    """Z = a·d + b·c (2h entries each, e of h): per-chunk (chunks, 2, 4) partials of Σ e·Z(0) and Σ e·Z(∞) (∞:
    the t² coefficient). Six multiplications per pair: the range check's layer tables with the batching
    coefficient folded into the p tables (``_FusedLayerEngine``)."""
    h = a.shape[0] // 2
    nchunks = (h + _CHUNK - 1) // _CHUNK
    part = np.zeros((max(nchunks, 1), 2, 4), dtype=np.uint64)
    for k in prange(nchunks):
        z00, z01, z02, z03 = U0, U0, U0, U0
        zi0, zi1, zi2, zi3 = U0, U0, U0, U0
        for i in range(k * _CHUNK, min(h, (k + 1) * _CHUNK)):
            j = i + h
            e0, e1, e2, e3 = e[i, 0], e[i, 1], e[i, 2], e[i, 3]
            a0, a1, a2, a3 = a[i, 0], a[i, 1], a[i, 2], a[i, 3]
            b0, b1, b2, b3 = b[i, 0], b[i, 1], b[i, 2], b[i, 3]
            c0, c1, c2, c3 = c[i, 0], c[i, 1], c[i, 2], c[i, 3]
            d0, d1, d2, d3 = d[i, 0], d[i, 1], d[i, 2], d[i, 3]
            m0, m1, m2, m3 = fr_mul(a0, a1, a2, a3, d0, d1, d2, d3)
            n0, n1, n2, n3 = fr_mul(b0, b1, b2, b3, c0, c1, c2, c3)
            m0, m1, m2, m3 = fr_add(m0, m1, m2, m3, n0, n1, n2, n3)
            m0, m1, m2, m3 = fr_mul(m0, m1, m2, m3, e0, e1, e2, e3)
            z00, z01, z02, z03 = fr_add(z00, z01, z02, z03, m0, m1, m2, m3)
            a0, a1, a2, a3 = fr_sub(a[j, 0], a[j, 1], a[j, 2], a[j, 3], a0, a1, a2, a3)
            b0, b1, b2, b3 = fr_sub(b[j, 0], b[j, 1], b[j, 2], b[j, 3], b0, b1, b2, b3)
            c0, c1, c2, c3 = fr_sub(c[j, 0], c[j, 1], c[j, 2], c[j, 3], c0, c1, c2, c3)
            d0, d1, d2, d3 = fr_sub(d[j, 0], d[j, 1], d[j, 2], d[j, 3], d0, d1, d2, d3)
            m0, m1, m2, m3 = fr_mul(a0, a1, a2, a3, d0, d1, d2, d3)
            n0, n1, n2, n3 = fr_mul(b0, b1, b2, b3, c0, c1, c2, c3)
            m0, m1, m2, m3 = fr_add(m0, m1, m2, m3, n0, n1, n2, n3)
            m0, m1, m2, m3 = fr_mul(m0, m1, m2, m3, e0, e1, e2, e3)
            zi0, zi1, zi2, zi3 = fr_add(zi0, zi1, zi2, zi3, m0, m1, m2, m3)
        part[k, 0, 0], part[k, 0, 1], part[k, 0, 2], part[k, 0, 3] = z00, z01, z02, z03
        part[k, 1, 0], part[k, 1, 1], part[k, 1, 2], part[k, 1, 3] = zi0, zi1, zi2, zi3
    return part


@njit(parallel=True, cache=True)
def gkr_cross_sums2(c, d, e, s):
    """Z = (c + s)·(d + s) for a scalar s (c, d of 2h entries, e of h): per-chunk (chunks, 2, 4) partials of
    Σ e·Z(0) and Σ e·Z(∞). Four multiplications per pair: a p = 1 tree's leaf halves, with
    a·(c + d) + b·c·d = b·((c + s)(d + s) − s²) for s = a/b (``_FusedLayerEngine``)."""
    h = c.shape[0] // 2
    s0, s1, s2, s3 = s[0], s[1], s[2], s[3]
    nchunks = (h + _CHUNK - 1) // _CHUNK
    part = np.zeros((max(nchunks, 1), 2, 4), dtype=np.uint64)
    for k in prange(nchunks):
        z00, z01, z02, z03 = U0, U0, U0, U0
        zi0, zi1, zi2, zi3 = U0, U0, U0, U0
        for i in range(k * _CHUNK, min(h, (k + 1) * _CHUNK)):
            j = i + h
            e0, e1, e2, e3 = e[i, 0], e[i, 1], e[i, 2], e[i, 3]
            c0, c1, c2, c3 = c[i, 0], c[i, 1], c[i, 2], c[i, 3]
            d0, d1, d2, d3 = d[i, 0], d[i, 1], d[i, 2], d[i, 3]
            m0, m1, m2, m3 = fr_add(c0, c1, c2, c3, s0, s1, s2, s3)
            n0, n1, n2, n3 = fr_add(d0, d1, d2, d3, s0, s1, s2, s3)
            m0, m1, m2, m3 = fr_mul(m0, m1, m2, m3, n0, n1, n2, n3)
            m0, m1, m2, m3 = fr_mul(m0, m1, m2, m3, e0, e1, e2, e3)
            z00, z01, z02, z03 = fr_add(z00, z01, z02, z03, m0, m1, m2, m3)
            c0, c1, c2, c3 = fr_sub(c[j, 0], c[j, 1], c[j, 2], c[j, 3], c0, c1, c2, c3)
            d0, d1, d2, d3 = fr_sub(d[j, 0], d[j, 1], d[j, 2], d[j, 3], d0, d1, d2, d3)
            m0, m1, m2, m3 = fr_mul(c0, c1, c2, c3, d0, d1, d2, d3)
            m0, m1, m2, m3 = fr_mul(m0, m1, m2, m3, e0, e1, e2, e3)
            zi0, zi1, zi2, zi3 = fr_add(zi0, zi1, zi2, zi3, m0, m1, m2, m3)
        part[k, 0, 0], part[k, 0, 1], part[k, 0, 2], part[k, 0, 3] = z00, z01, z02, z03
        part[k, 1, 0], part[k, 1, 1], part[k, 1, 2], part[k, 1, 3] = zi0, zi1, zi2, zi3
    return part


@njit(parallel=True, cache=True)
def fold_many_inplace(tabs, c):
    """In place: t[i] += c·(t[i + h] − t[i]) for i < h = len/2, for every table of ``tabs`` (race-free: index i
    reads i and i + h and writes only i); the folded tables are then ``t[:h]``."""
    h = tabs[0].shape[0] // 2
    c0, c1, c2, c3 = c[0], c[1], c[2], c[3]
    for i in prange(h):
        for t in range(len(tabs)):
            src = tabs[t]
            a0, a1, a2, a3 = src[i, 0], src[i, 1], src[i, 2], src[i, 3]
            d0, d1, d2, d3 = fr_sub(src[i + h, 0], src[i + h, 1], src[i + h, 2], src[i + h, 3], a0, a1, a2, a3)
            m0, m1, m2, m3 = fr_mul(d0, d1, d2, d3, c0, c1, c2, c3)
            src[i, 0], src[i, 1], src[i, 2], src[i, 3] = fr_add(a0, a1, a2, a3, m0, m1, m2, m3)


@njit(parallel=True, cache=True)
def halve_sum_inplace(a):
    """In place: a[i] += a[i + h] for i < h = len/2 (sums out the most significant variable)."""
    h = a.shape[0] // 2
    for i in prange(h):
        a[i, 0], a[i, 1], a[i, 2], a[i, 3] = fr_add(
            a[i, 0], a[i, 1], a[i, 2], a[i, 3], a[i + h, 0], a[i + h, 1], a[i + h, 2], a[i + h, 3]
        )


@njit(cache=True)
def _leaf(x, tag, consts, i):
    """consts[tag[i]] − x[i] for the int64 x[i] (mapped as ``from_int64``)."""
    v = x[i]
    if v >= 0:
        m0, m1, m2, m3 = _small_to_mont(np.uint64(v))
    else:
        m0, m1, m2, m3 = _small_to_mont(np.uint64(0) - np.uint64(v))
        m0, m1, m2, m3 = fr_neg(m0, m1, m2, m3)
    t = tag[i]
    return fr_sub(consts[t, 0], consts[t, 1], consts[t, 2], consts[t, 3], m0, m1, m2, m3)


@njit(parallel=True, cache=True)
def leaves_from_small(x, tag, consts, out):
    """out[i] = consts[tag[i]] − x[i] for int64 x (mapped as ``from_int64``) and int64 row indices tag."""
    for i in prange(x.shape[0]):
        out[i, 0], out[i, 1], out[i, 2], out[i, 3] = _leaf(x, tag, consts, i)


@njit(parallel=True, cache=True)
def unit_layer_from_small(x, tag, consts, pout, qout):
    """The layer above the leaves l[i] = consts[tag[i]] − x[i] (p = 1) without storing them: pout[i] = l[i] +
    l[i + h], qout[i] = l[i]·l[i + h] (h = len(x)/2)."""
    h = x.shape[0] // 2
    for i in prange(h):
        a0, a1, a2, a3 = _leaf(x, tag, consts, i)
        b0, b1, b2, b3 = _leaf(x, tag, consts, i + h)
        pout[i, 0], pout[i, 1], pout[i, 2], pout[i, 3] = fr_add(a0, a1, a2, a3, b0, b1, b2, b3)
        qout[i, 0], qout[i, 1], qout[i, 2], qout[i, 3] = fr_mul(a0, a1, a2, a3, b0, b1, b2, b3)


@njit(parallel=True, cache=True)
def fold2_round_sums(f, g, c, gout):
    """The claim-reduction round in one pass: fold f in place by c (f[i] += c·(f[i + h] − f[i]) for
    i < h = len/2) and g into gout (gout[i] = g[i] + c·(g[i + h] − g[i]); gout is g itself to fold in place, or
    h rows elsewhere), then the per-chunk (chunks, 3, 4) partial round sums of the folded f·g at t = 0, 1, 2
    (pairs i, i + h/2 of the folded halves). Iteration i reads i, i + q, i + h, i + q + h (q = h/2) and writes
    only i and i + q: race-free. Needs h ≥ 2."""
    h = f.shape[0] // 2
    q = h // 2
    c0, c1, c2, c3 = c[0], c[1], c[2], c[3]
    nchunks = (q + _CHUNK - 1) // _CHUNK
    part = np.zeros((max(nchunks, 1), 3, 4), dtype=np.uint64)
    for k in prange(nchunks):
        e00, e01, e02, e03 = U0, U0, U0, U0
        e10, e11, e12, e13 = U0, U0, U0, U0
        e20, e21, e22, e23 = U0, U0, U0, U0
        for i in range(k * _CHUNK, min(q, (k + 1) * _CHUNK)):
            j = i + q
            # fold rows i and j of both tables
            a0, a1, a2, a3 = f[i, 0], f[i, 1], f[i, 2], f[i, 3]
            d0, d1, d2, d3 = fr_sub(f[i + h, 0], f[i + h, 1], f[i + h, 2], f[i + h, 3], a0, a1, a2, a3)
            m0, m1, m2, m3 = fr_mul(d0, d1, d2, d3, c0, c1, c2, c3)
            fa0, fa1, fa2, fa3 = fr_add(a0, a1, a2, a3, m0, m1, m2, m3)
            a0, a1, a2, a3 = f[j, 0], f[j, 1], f[j, 2], f[j, 3]
            d0, d1, d2, d3 = fr_sub(f[j + h, 0], f[j + h, 1], f[j + h, 2], f[j + h, 3], a0, a1, a2, a3)
            m0, m1, m2, m3 = fr_mul(d0, d1, d2, d3, c0, c1, c2, c3)
            fb0, fb1, fb2, fb3 = fr_add(a0, a1, a2, a3, m0, m1, m2, m3)
            a0, a1, a2, a3 = g[i, 0], g[i, 1], g[i, 2], g[i, 3]
            d0, d1, d2, d3 = fr_sub(g[i + h, 0], g[i + h, 1], g[i + h, 2], g[i + h, 3], a0, a1, a2, a3)
            m0, m1, m2, m3 = fr_mul(d0, d1, d2, d3, c0, c1, c2, c3)
            ga0, ga1, ga2, ga3 = fr_add(a0, a1, a2, a3, m0, m1, m2, m3)
            a0, a1, a2, a3 = g[j, 0], g[j, 1], g[j, 2], g[j, 3]
            d0, d1, d2, d3 = fr_sub(g[j + h, 0], g[j + h, 1], g[j + h, 2], g[j + h, 3], a0, a1, a2, a3)
            m0, m1, m2, m3 = fr_mul(d0, d1, d2, d3, c0, c1, c2, c3)
            gb0, gb1, gb2, gb3 = fr_add(a0, a1, a2, a3, m0, m1, m2, m3)
            f[i, 0], f[i, 1], f[i, 2], f[i, 3] = fa0, fa1, fa2, fa3
            f[j, 0], f[j, 1], f[j, 2], f[j, 3] = fb0, fb1, fb2, fb3
            gout[i, 0], gout[i, 1], gout[i, 2], gout[i, 3] = ga0, ga1, ga2, ga3
            gout[j, 0], gout[j, 1], gout[j, 2], gout[j, 3] = gb0, gb1, gb2, gb3
            # the next round's sums at t = 0, 1, 2 (value at 2: 2·b − a)
            m0, m1, m2, m3 = fr_mul(fa0, fa1, fa2, fa3, ga0, ga1, ga2, ga3)
            e00, e01, e02, e03 = fr_add(e00, e01, e02, e03, m0, m1, m2, m3)
            m0, m1, m2, m3 = fr_mul(fb0, fb1, fb2, fb3, gb0, gb1, gb2, gb3)
            e10, e11, e12, e13 = fr_add(e10, e11, e12, e13, m0, m1, m2, m3)
            df0, df1, df2, df3 = fr_sub(fb0, fb1, fb2, fb3, fa0, fa1, fa2, fa3)
            f20, f21, f22, f23 = fr_add(fb0, fb1, fb2, fb3, df0, df1, df2, df3)
            dg0, dg1, dg2, dg3 = fr_sub(gb0, gb1, gb2, gb3, ga0, ga1, ga2, ga3)
            g20, g21, g22, g23 = fr_add(gb0, gb1, gb2, gb3, dg0, dg1, dg2, dg3)
            m0, m1, m2, m3 = fr_mul(f20, f21, f22, f23, g20, g21, g22, g23)
            e20, e21, e22, e23 = fr_add(e20, e21, e22, e23, m0, m1, m2, m3)
        part[k, 0, 0], part[k, 0, 1], part[k, 0, 2], part[k, 0, 3] = e00, e01, e02, e03
        part[k, 1, 0], part[k, 1, 1], part[k, 1, 2], part[k, 1, 3] = e10, e11, e12, e13
        part[k, 2, 0], part[k, 2, 1], part[k, 2, 2], part[k, 2, 3] = e20, e21, e22, e23
    return part


@njit(parallel=True, cache=True)
def fraction_layer(p, q, pout, qout):
    """One layer of the fractional-sum tree: pout[i] = p[i]·q[i + h] + p[i + h]·q[i], qout[i] = q[i]·q[i + h]."""
    h = q.shape[0] // 2
    for i in prange(h):
        j = i + h
        a0, a1, a2, a3 = fr_mul(p[i, 0], p[i, 1], p[i, 2], p[i, 3], q[j, 0], q[j, 1], q[j, 2], q[j, 3])
        b0, b1, b2, b3 = fr_mul(p[j, 0], p[j, 1], p[j, 2], p[j, 3], q[i, 0], q[i, 1], q[i, 2], q[i, 3])
        pout[i, 0], pout[i, 1], pout[i, 2], pout[i, 3] = fr_add(a0, a1, a2, a3, b0, b1, b2, b3)
        qout[i, 0], qout[i, 1], qout[i, 2], qout[i, 3] = fr_mul(
            q[i, 0], q[i, 1], q[i, 2], q[i, 3], q[j, 0], q[j, 1], q[j, 2], q[j, 3]
        )


@njit(parallel=True, cache=True)
def unit_fraction_layer(q, pout, qout):
    """The layer above leaves with p = 1: pout[i] = q[i] + q[i + h], qout[i] = q[i]·q[i + h]."""
    h = q.shape[0] // 2
    for i in prange(h):
        j = i + h
        pout[i, 0], pout[i, 1], pout[i, 2], pout[i, 3] = fr_add(
            q[i, 0], q[i, 1], q[i, 2], q[i, 3], q[j, 0], q[j, 1], q[j, 2], q[j, 3]
        )
        qout[i, 0], qout[i, 1], qout[i, 2], qout[i, 3] = fr_mul(
            q[i, 0], q[i, 1], q[i, 2], q[i, 3], q[j, 0], q[j, 1], q[j, 2], q[j, 3]
        )


@njit(parallel=True, cache=True)
def axpy_inplace(s, x, y):
    """In place: y[i] += s·x[i]."""
    s0, s1, s2, s3 = s[0], s[1], s[2], s[3]
    for i in prange(x.shape[0]):
        m0, m1, m2, m3 = fr_mul(x[i, 0], x[i, 1], x[i, 2], x[i, 3], s0, s1, s2, s3)
        y[i, 0], y[i, 1], y[i, 2], y[i, 3] = fr_add(y[i, 0], y[i, 1], y[i, 2], y[i, 3], m0, m1, m2, m3)


_EQ_CHUNK_BITS = 10  # eq_into: variables expanded per chunk in a thread-local buffer (2^10 entries, 32 KB)


@njit(parallel=True, cache=True)
def eq_into(u, s, out, add):
    """out[x] (+)= s·eq(u, x) for x < 2^n, n = len(u) (u[0] the most significant variable, as eq_table), in one
    pass and without a temporary table: each chunk of 2^c entries starts from s·eq(u_high, chunk) (n − c
    products) and expands its c low variables in a private buffer, then stores or adds it. With ``add`` false,
    out is overwritten."""
    n = u.shape[0]
    c = min(n, _EQ_CHUNK_BITS)
    C = 1 << c
    hb = n - c
    for k in prange(1 << hb):
        b0, b1, b2, b3 = s[0], s[1], s[2], s[3]
        for j in range(hb):
            if (k >> (hb - 1 - j)) & 1:
                b0, b1, b2, b3 = fr_mul(b0, b1, b2, b3, u[j, 0], u[j, 1], u[j, 2], u[j, 3])
            else:
                v0, v1, v2, v3 = fr_sub(ONE0, ONE1, ONE2, ONE3, u[j, 0], u[j, 1], u[j, 2], u[j, 3])
                b0, b1, b2, b3 = fr_mul(b0, b1, b2, b3, v0, v1, v2, v3)
        buf = np.empty((C, 4), dtype=np.uint64)
        buf[0, 0], buf[0, 1], buf[0, 2], buf[0, 3] = b0, b1, b2, b3
        kk = 1
        for j in range(n - 1, hb - 1, -1):
            u0, u1, u2, u3 = u[j, 0], u[j, 1], u[j, 2], u[j, 3]
            for i in range(kk):
                a0, a1, a2, a3 = buf[i, 0], buf[i, 1], buf[i, 2], buf[i, 3]
                m0, m1, m2, m3 = fr_mul(a0, a1, a2, a3, u0, u1, u2, u3)
                buf[i + kk, 0], buf[i + kk, 1], buf[i + kk, 2], buf[i + kk, 3] = m0, m1, m2, m3
                buf[i, 0], buf[i, 1], buf[i, 2], buf[i, 3] = fr_sub(a0, a1, a2, a3, m0, m1, m2, m3)
            kk *= 2
        base = k * C
        if add:
            for i in range(C):
                o = base + i
                out[o, 0], out[o, 1], out[o, 2], out[o, 3] = fr_add(
                    out[o, 0], out[o, 1], out[o, 2], out[o, 3], buf[i, 0], buf[i, 1], buf[i, 2], buf[i, 3]
                )
        else:
            for i in range(C):
                o = base + i
                out[o, 0], out[o, 1], out[o, 2], out[o, 3] = buf[i, 0], buf[i, 1], buf[i, 2], buf[i, 3]


# ---------------------------------------------------------------------------------------------------------
# serial twins for small inputs: a parallel launch costs more than the work below ~2^12 elements (and much
# more when the machine is loaded: the worker threads have to be scheduled)
# ---------------------------------------------------------------------------------------------------------
SERIAL_BELOW = 1 << 12


def _serial_twin(kernel):
    """A serial (not parallel) build of a parallel kernel, under its own name ``<name>_s``. numba's disk cache
    keys a function by module, qualified name and first line, not by the ``parallel`` flag: a twin built from the
    same function object shares the parallel kernel's cache entry, and whichever of the two compiled first (in
    a fresh checkout: usually the serial one, on small inputs) then runs for both."""
    f = kernel.py_func
    g = _pytypes.FunctionType(f.__code__, f.__globals__, f.__name__ + "_s", f.__defaults__, f.__closure__)
    g.__qualname__ = f.__qualname__ + "_s"
    g.__module__ = f.__module__
    g.__doc__ = f.__doc__
    return njit(cache=True)(g)


vec_add_s = _serial_twin(vec_add)
vec_sub_s = _serial_twin(vec_sub)
vec_mul_s = _serial_twin(vec_mul)
vec_fold_s = _serial_twin(vec_fold)
eq_step_hi_s = _serial_twin(eq_step_hi)
round_sums_1_s = _serial_twin(round_sums_1)
round_sums_2_s = _serial_twin(round_sums_2)
round_sums_3_s = _serial_twin(round_sums_3)
gkr_sums4_s = _serial_twin(gkr_sums4)
gkr_sums2_s = _serial_twin(gkr_sums2)
gkr_cross_sums4_s = _serial_twin(gkr_cross_sums4)
gkr_cross_sums2_s = _serial_twin(gkr_cross_sums2)
fold_many_inplace_s = _serial_twin(fold_many_inplace)
halve_sum_inplace_s = _serial_twin(halve_sum_inplace)
fold2_round_sums_s = _serial_twin(fold2_round_sums)
vec_neg_s = _serial_twin(vec_neg)
vec_add_scalar_s = _serial_twin(vec_add_scalar)
vec_mul_scalar_s = _serial_twin(vec_mul_scalar)
vec_axpy_s = _serial_twin(vec_axpy)
vec_fold_pair_s = _serial_twin(vec_fold_pair)
vec_sum_s = _serial_twin(vec_sum)
vec_inner_s = _serial_twin(vec_inner)
to_mont_s = _serial_twin(to_mont)
from_mont_s = _serial_twin(from_mont)
from_int64_s = _serial_twin(from_int64)
contract_mid_s = _serial_twin(contract_mid)
axpy_inplace_s = _serial_twin(axpy_inplace)
fraction_layer_s = _serial_twin(fraction_layer)
unit_fraction_layer_s = _serial_twin(unit_fraction_layer)
eq_into_s = _serial_twin(eq_into)
unit_layer_from_small_s = _serial_twin(unit_layer_from_small)
