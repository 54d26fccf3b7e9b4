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


CHUNK = 32  # sorted (key, point) pairs per thread in the load-balanced bucket sums (msm_core.cuh)
SEG_THREADS = 16384  # aim for about this many segment threads (132 SMs × 124 threads)
MAX_BLOCKS = 8192  # cap on reduction grids (passes repeat until one block per group is left)


def segment_length(c: int, W: int) -> int:
    """Buckets per reduction segment: short enough that W·2^c/seg_len threads fill the GPU, at least 4."""
    return max(4, min(64, (W << c) // SEG_THREADS))


def key_dtype_bits(c: int, W: int) -> int:
    """Bits of the narrowest unsigned type holding every bucket key (< W·2^c): the sort looks at no more."""
    return 16 if (W << c) <= 1 << 16 else 32


class GpuMsm:
    """MSMs over one fixed basis held on the GPU (Montgomery affine points)."""

    _BLOCK = 128
    _RED = 64  # ZK_G1_RED_THREADS in msm.cu

    def __init__(self, points_xy: np.ndarray, arch: str | None = None):
        from zkdl.field.gpu import load_module  # raises BackendUnavailable without CuPy / GPU

        self._cp, self._mod = load_module("msm", arch)
        self.profile: dict[str, float] | None = None  # set to {} to record per-stage seconds (synchronizes)
        self.chunk = CHUNK
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

    def _chunk_step(self, keys: Any, length: int, off: int, kernel: str, *inputs: Any) -> tuple[Any, Any, int]:
        """One load-balanced chunk step over `length` sorted keys, chunk borders shifted by `off`:
        (out keys, out points, out length)."""
        if self.chunk < 2:
            raise ValueError(f"chunk must be at least 2 (a chunk of one entry merges nothing), got {self.chunk}")
        cp = self._cp
        ch, sh = np.int64(self.chunk), np.int64(off)
        flags = cp.empty(length, dtype=cp.uint32)
        self._launch("msm_run_flags_kernel", length, keys, np.int64(length), ch, sh, flags)
        pos = cp.cumsum(flags, dtype=cp.int64)
        m = int(pos[length - 1])
        out_keys = cp.empty(m, dtype=cp.uint32)
        out_pts = cp.empty((m, 18), dtype=cp.uint64)
        nthreads = (length + off + self.chunk - 1) // self.chunk
        self._launch(kernel, nthreads, *inputs, np.int64(length), ch, sh, pos, out_keys, out_pts)
        return out_keys, out_pts, m

    def _pippenger(self, key_kernel: str, scal: Any, m: int, c: int, W: int):
        cp = self._cp
        t0 = [time.perf_counter()]
        if W << c >= 0xFFFFFFFF:
            raise ValueError("too many buckets for 32-bit keys")
        keys = cp.empty(W * m, dtype=cp.uint32)
        vals = cp.empty(W * m, dtype=cp.uint32)
        self._launch(key_kernel, m, scal, np.int64(m), np.int32(c), np.int32(W), keys, vals)
        self._stage("keys", t0)
        # sort on the key bits that occur (uint16 radix passes when W·2^c ≤ 2^16); key 0 = digit 0 comes first
        sort_keys = keys.astype(cp.uint16) if key_dtype_bits(c, W) == 16 else keys
        order = cp.argsort(sort_keys)
        skip = W * m - int(cp.count_nonzero(keys))
        order = order[skip:]
        sk, sv = keys[order], vals[order]
        length = W * m - skip
        self._stage("sort", t0)
        nb = W << c
        buckets = cp.zeros((nb, 18), dtype=cp.uint64)  # Z = 0: the identity
        if length:
            distinct = 1 + int(cp.count_nonzero(sk[1:] != sk[:-1]))
            ok, op, k = self._chunk_step(sk, length, 0, "msm_chunk_affine_kernel", self.points, sk, sv)
            step = 1
            while k > distinct:  # odd steps shift the borders by chunk/2: two steps always merge (msm_core.cuh)
                if step > 2 * length.bit_length() + 4:  # each pair of steps at least removes one entry per run
                    raise RuntimeError(f"MSM bucket merge did not converge ({k} partial sums for {distinct} buckets)")
                ok, op, k = self._chunk_step(ok, k, (step % 2) * (self.chunk // 2), "msm_chunk_jac_kernel", op, ok)
                step += 1
            self._launch("msm_scatter_kernel", k, ok, op, np.int64(k), buckets)
        self._stage("buckets", t0)
        seg_len = segment_length(c, W)
        nseg = ((1 << c) - 1 + seg_len - 1) // seg_len
        segs = cp.empty((W * nseg, 18), dtype=cp.uint64)
        self._launch(
            "msm_segment_kernel", W * nseg, buckets, np.int32(c), np.int32(W), np.int32(nseg), np.int32(seg_len), segs
        )
        self._stage("segments", t0)
        wins = self._reduce_groups(segs, W, nseg)  # (W, 18): the window sums, all windows in each pass
        out = cp.empty((1, 18), dtype=cp.uint64)
        self._mod.get_function("msm_combine_kernel")((1,), (1,), (wins, np.int32(W), np.int32(1), np.int32(c), out))
        res = cp.asnumpy(out)[0]
        self._stage("windows+combine", t0)
        return res

    def _reduce_groups(self, pts: Any, groups: int, per: int):
        """Sums of `groups` consecutive runs of `per` Jacobian points -> (groups, 18) device array."""
        cp = self._cp
        while True:
            bpg = max(1, min(max(1, MAX_BLOCKS // groups), (per + self._RED - 1) // self._RED))
            part = cp.empty((groups * bpg, 18), dtype=cp.uint64)
            self._mod.get_function("g1_sum_groups_kernel")(
                (groups * bpg,), (self._RED,), (pts, np.int64(per), np.int32(bpg), part)
            )
            if bpg == 1:
                return part
            pts, per = part, bpg

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
        grid = max(1, min(MAX_BLOCKS, (m + self._RED - 1) // self._RED))
        part = cp.empty((grid, 18), dtype=cp.uint64)
        self._mod.get_function("g1_sum_selected_kernel")((grid,), (self._RED,), (self.points, b, np.int64(m), part))
        return jac_mont_to_point(cp.asnumpy(self._reduce_groups(part, 1, grid))[0])


def gpu_msm_available() -> bool:
    try:
        from zkdl.field.gpu import load_module

        load_module("msm")
        return True
    except BackendUnavailable:
        return False
