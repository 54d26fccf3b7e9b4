"""G1 multi-scalar multiplication on the GPU (cuda/msm.cu through CuPy), and the host-side point conversions.

Point layout: an (n, 12) uint64 array per basis, one row per point = arkworks ``to_xy_bytes_le()`` read as
little-endian uint64 (x then y, standard form, identity = all zeros). The kernels return one Jacobian point in
Montgomery form (18 limbs: X, Y, Z); :func:`jac_mont_to_point` turns it into an arkworks ``G1Point``.

CuPy is imported lazily: importing this module never needs a GPU. The conversion helpers are plain Python and are
used by the CPU tests of the host harness (tests/cuda).
"""

from __future__ import annotations

import math
import time
from typing import Any

import numpy as np

from zkdl.errors import BackendUnavailable

#: BLS12-381 base field modulus p.
FP_MODULUS = 0x1A0111EA397FE69A4B1BA7B6434BACD764774B84F38512BF6730D2A0F6B0F6241EABFFFEB153FFFFB9FEFFFFFFFFAAAB
_FP_R_INV = pow(1 << 384, -1, FP_MODULUS)


def points_to_limbs(points: list[Any]) -> np.ndarray:
    """arkworks G1Points -> (n, 12) uint64 rows of their xy bytes (little-endian, standard form)."""
    buf = b"".join(p.to_xy_bytes_le() for p in points)
    return np.frombuffer(buf, dtype="<u8").astype(np.uint64).reshape(len(points), 12)


def limbs_to_points(rows: np.ndarray, checked: bool = True) -> list[Any]:
    """(n, 12) standard-form rows -> arkworks G1Points (checked: on the curve and in the subgroup)."""
    from py_arkworks_bls12381 import G1Point

    rows = np.ascontiguousarray(rows, dtype="<u8").reshape(-1, 12)
    load = G1Point.from_xy_bytes_le if checked else G1Point.from_xy_bytes_unchecked_le
    return [load(rows[i].tobytes()) for i in range(rows.shape[0])]


def _limbs_int(limbs: np.ndarray) -> int:
    return int.from_bytes(np.ascontiguousarray(limbs, dtype="<u8").tobytes(), "little")


def jac_mont_to_xy(jac: np.ndarray) -> tuple[int, int] | None:
    """A Jacobian Montgomery point (18 limbs) -> affine (x, y) ints, or None for the identity."""
    jac = np.asarray(jac, dtype=np.uint64).reshape(18)
    X, Y, Z = (_limbs_int(jac[6 * k : 6 * k + 6]) * _FP_R_INV % FP_MODULUS for k in range(3))
    if Z == 0:
        return None
    zi = pow(Z, -1, FP_MODULUS)
    zi2 = zi * zi % FP_MODULUS
    return X * zi2 % FP_MODULUS, Y * zi2 * zi % FP_MODULUS


def jac_mont_to_point(jac: np.ndarray) -> Any:
    """A Jacobian Montgomery point (18 limbs) -> arkworks G1Point (checked decoding)."""
    from py_arkworks_bls12381 import G1Point

    xy = jac_mont_to_xy(jac)
    if xy is None:
        return G1Point.identity()
    return G1Point.from_xy_bytes_le(xy[0].to_bytes(48, "little") + xy[1].to_bytes(48, "little"))


def window_bits(n: int, scalar_bits: int) -> int:
    """Pippenger window width c for n points (bounded so that W << c fits the 32-bit bucket keys)."""
    c = max(4, min(16, max(1, n).bit_length() - 3))
    return min(c, max(1, scalar_bits))


SEG_LEN = 64  # buckets per reduction segment (msm_segment_kernel)


class GpuMsm:
    """MSMs over one fixed basis held on the GPU (Montgomery affine points)."""

    _BLOCK = 128
    _RED = 64  # ZK_G1_RED_THREADS in msm.cu

    def __init__(self, points_xy: np.ndarray, arch: str | None = None):
        from zkdl.field.gpu import load_module  # raises BackendUnavailable without CuPy / GPU

        self._cp, self._mod = load_module("msm", arch)
        self.profile: dict[str, float] | None = None  # set to {} to record per-stage seconds (synchronizes)
        cp = self._cp
        rows = np.ascontiguousarray(points_xy, dtype=np.uint64).reshape(-1, 12)
        self.n = rows.shape[0]
        if self.n >= 1 << 31:
            raise ValueError("GpuMsm supports fewer than 2^31 points")
        std = cp.asarray(rows)
        self.points = cp.empty_like(std)
        if self.n:
            self._launch("g1_affine_to_mont_kernel", self.n, std, self.points, np.int64(self.n))

    def _launch(self, name: str, threads: int, *args: Any) -> None:
        grid = (threads + self._BLOCK - 1) // self._BLOCK
        self._mod.get_function(name)((grid,), (self._BLOCK,), args)

    def _stage(self, name: str, t0: list) -> None:
        if self.profile is not None:
            self._cp.cuda.runtime.deviceSynchronize()
            now = time.perf_counter()
            self.profile[name] = self.profile.get(name, 0.0) + now - t0[0]
            t0[0] = now

    def _pippenger(self, key_kernel: str, scal: Any, m: int, c: int, W: int):
        cp = self._cp
        t0 = [time.perf_counter()]
        if W << c >= 0xFFFFFFFF:
            raise ValueError("too many buckets for 32-bit keys")
        keys = cp.empty(W * m, dtype=cp.uint32)
        vals = cp.empty(W * m, dtype=cp.uint32)
        self._launch(key_kernel, m, scal, np.int64(m), np.int32(c), np.int32(W), keys, vals)
        self._stage("keys", t0)
        order = cp.argsort(keys)
        sk, sv = keys[order], vals[order]
        self._stage("sort", t0)
        nb = W << c
        buckets = cp.empty((nb, 18), dtype=cp.uint64)
        self._launch("msm_bucket_kernel", nb, self.points, sk, sv, np.int64(W * m), np.int64(nb), buckets)
        self._stage("buckets", t0)
        nseg = ((1 << c) - 1 + SEG_LEN - 1) // SEG_LEN
        segs = cp.empty((W * nseg, 18), dtype=cp.uint64)
        self._launch("msm_segment_kernel", W * nseg, buckets, np.int32(c), np.int32(W), np.int32(nseg),
                     np.int32(SEG_LEN), segs)
        self._stage("segments", t0)
        # per window: tree-reduce its nseg segment sums, then Horner over the W window sums (one thread)
        wins = cp.concatenate([self._reduce(segs[w * nseg : (w + 1) * nseg], nseg) for w in range(W)], axis=0)
        out = cp.empty((1, 18), dtype=cp.uint64)
        self._mod.get_function("msm_combine_kernel")((1,), (1,), (wins, np.int32(W), np.int32(1), np.int32(c), out))
        res = cp.asnumpy(out)[0]
        self._stage("windows+combine", t0)
        return res

    def _reduce(self, pts: Any, m: int):
        """Sum of m Jacobian points on the device -> (1, 18) device array (block tree reductions)."""
        cp = self._cp
        while True:
            grid = max(1, min(1024, (m + self._RED - 1) // self._RED))
            part = cp.empty((grid, 18), dtype=cp.uint64)
            self._mod.get_function("g1_sum_jac_kernel")((grid,), (self._RED,), (pts, np.int64(m), part))
            if grid == 1:
                return part
            pts, m = part, grid

    def _check_len(self, m: int) -> None:
        if m > self.n:
            raise ValueError(f"{m} scalars for a basis of {self.n} points")

    def msm_small(self, scalars: Any, bits: int | None = None, c: int | None = None) -> Any:
        """Σ s_i P_i for signed int64 scalars (the first len(scalars) points). ``bits`` bounds |s_i| < 2^bits."""
        cp = self._cp
        s = cp.ascontiguousarray(cp.asarray(scalars, dtype=cp.int64).reshape(-1))
        m = int(s.shape[0])
        self._check_len(m)
        if m == 0:
            return jac_mont_to_point(np.zeros(18, np.uint64))
        mx = int(cp.abs(s).max())  # |INT64_MIN| wraps to a negative value: 64 bits
        need = 64 if mx < 0 else max(1, mx.bit_length())
        if bits is None:
            bits = need
        elif need > bits:
            raise ValueError(f"msm_small: a scalar needs {need} bits, more than bits={bits}")
        c = window_bits(m, bits) if c is None else c
        W = math.ceil(bits / c)
        return jac_mont_to_point(self._pippenger("msm_keys_small_kernel", s, m, c, W))

    def msm_full(self, scalars_std: Any, c: int | None = None) -> Any:
        """Σ k_i P_i for (m, 4) standard-form scalar limbs (use Backend.from_mont on Montgomery limbs)."""
        cp = self._cp
        k = cp.ascontiguousarray(cp.asarray(scalars_std, dtype=cp.uint64).reshape(-1, 4))
        m = int(k.shape[0])
        self._check_len(m)
        if m == 0:
            return jac_mont_to_point(np.zeros(18, np.uint64))
        c = window_bits(m, 255) if c is None else c
        W = math.ceil(256 / c)
        return jac_mont_to_point(self._pippenger("msm_keys_full_kernel", k, m, c, W))

    def msm_bits(self, bits01: Any) -> Any:
        """Σ_{b_i = 1} P_i for 0/1 scalars (uint8)."""
        cp = self._cp
        b = cp.ascontiguousarray(cp.asarray(bits01, dtype=cp.uint8).reshape(-1))
        m = int(b.shape[0])
        self._check_len(m)
        grid = max(1, min(1024, (m + self._RED - 1) // self._RED))
        part = cp.empty((grid, 18), dtype=cp.uint64)
        self._mod.get_function("g1_sum_selected_kernel")((grid,), (self._RED,), (self.points, b, np.int64(m), part))
        return jac_mont_to_point(cp.asnumpy(self._reduce(part, grid))[0])


def gpu_msm_available() -> bool:
    try:
        from zkdl.field.gpu import load_module

        load_module("msm")
        return True
    except BackendUnavailable:
        return False
