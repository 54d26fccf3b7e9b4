"""Fixtures of the CUDA tests: nvcc builds (once per session, cached by source hash) and the host harness."""

from __future__ import annotations

import ctypes

import numpy as np
import pytest

from zkdl.field import gpu_build


@pytest.fixture(scope="session")
def nvcc() -> str:
    path = gpu_build.find_nvcc()
    if path is None:
        pytest.skip("nvcc (CUDA toolkit) not found: the CUDA sources cannot be compiled on this machine")
    return path


@pytest.fixture(scope="session")
def ptx_files(nvcc) -> dict:
    return gpu_build.compile_all_ptx(gpu_build.DEFAULT_ARCH)


_U64P = ctypes.POINTER(ctypes.c_uint64)


def _p(a: np.ndarray):
    assert a.flags.c_contiguous
    return a.ctypes.data_as(ctypes.c_void_p)


class Harness:
    """ctypes view of cuda/host/harness.cu; arrays in, arrays out (numpy, C-contiguous)."""

    def __init__(self, path):
        self.lib = ctypes.CDLL(str(path))
        ll, i = ctypes.c_longlong, ctypes.c_int
        vp = ctypes.c_void_p
        sig = {
            "zk_abi_version": ([], i),
            "zk_fr_binop": ([i, vp, vp, vp, ll], None),
            "zk_fr_unop": ([i, vp, vp, ll], None),
            "zk_fr_is_canonical": ([vp, vp, ll], None),
            "zk_fr_eq_elem": ([vp, vp, vp, ll], None),
            "zk_fr_from_int64": ([vp, vp, ll], None),
            "zk_fr_scalar_mul": ([vp, vp, vp, ll], None),
            "zk_fr_fold": ([vp, vp, vp, ll], None),
            "zk_fr_fold_pair": ([vp, vp, vp, vp, ll], None),
            "zk_fr_powers": ([vp, vp, ll, ll], None),
            "zk_fr_to_int64": ([vp, vp, vp, ll], None),
            "zk_fr_eq_table": ([vp, i, vp], None),
            "zk_fr_sum": ([vp, vp, ll, ll], None),
            "zk_fr_inner": ([vp, vp, vp, ll, ll], None),
            "zk_fr_roundsum": ([vp, vp, vp, i, vp, ll, ll], None),
            "zk_fr_batch_inv": ([vp, vp, ll, ll], None),
            "zk_fp_op": ([i, vp, vp, vp, ll], None),
            "zk_g1_op": ([i, vp, vp, vp, ll], None),
            "zk_g1_mul": ([vp, vp, vp, ll], None),
            "zk_g1_aff_to_mont": ([vp, vp, ll], None),
            "zk_msm_full": ([vp, vp, ll, i, i, ll, vp], None),
            "zk_msm_small": ([vp, vp, ll, i, i, i, ll, vp], None),
            "zk_msm_bits": ([vp, vp, ll, ll, vp], None),
        }
        for name, (args, res) in sig.items():
            f = getattr(self.lib, name)
            f.argtypes, f.restype = args, res
        assert self.lib.zk_abi_version() == 3

    @staticmethod
    def _u(a, cols=4) -> np.ndarray:
        return np.ascontiguousarray(a, dtype=np.uint64).reshape(-1, cols)

    # Fr ---------------------------------------------------------------------------------------------------
    def binop(self, op: int, a, b):
        a, b = self._u(a), self._u(b)
        out = np.empty_like(a)
        self.lib.zk_fr_binop(op, _p(a), _p(b), _p(out), a.shape[0])
        return out

    def unop(self, op: int, a):
        a = self._u(a)
        out = np.empty_like(a)
        self.lib.zk_fr_unop(op, _p(a), _p(out), a.shape[0])
        return out

    def is_canonical(self, a):
        a = self._u(a)
        out = np.empty(a.shape[0], np.uint8)
        self.lib.zk_fr_is_canonical(_p(a), _p(out), a.shape[0])
        return out

    def eq_elem(self, a, b):
        a, b = self._u(a), self._u(b)
        out = np.empty(a.shape[0], np.uint8)
        self.lib.zk_fr_eq_elem(_p(a), _p(b), _p(out), a.shape[0])
        return out

    def from_int64(self, v):
        v = np.ascontiguousarray(v, dtype=np.int64)
        out = np.empty((v.shape[0], 4), np.uint64)
        self.lib.zk_fr_from_int64(_p(v), _p(out), v.shape[0])
        return out

    def to_int64(self, a):
        a = self._u(a)
        out = np.empty(a.shape[0], np.int64)
        bad = np.empty(a.shape[0], np.uint8)
        self.lib.zk_fr_to_int64(_p(a), _p(out), _p(bad), a.shape[0])
        return out, bad

    def scalar_mul(self, a, c):
        a, c = self._u(a), self._u(c)
        out = np.empty_like(a)
        self.lib.zk_fr_scalar_mul(_p(a), _p(c), _p(out), a.shape[0])
        return out

    def fold(self, t, c):
        t, c = self._u(t), self._u(c)
        out = np.empty((t.shape[0] // 2, 4), np.uint64)
        self.lib.zk_fr_fold(_p(t), _p(c), _p(out), t.shape[0] // 2)
        return out

    def fold_pair(self, a, b, c):
        a, b, c = self._u(a), self._u(b), self._u(c)
        out = np.empty_like(a)
        self.lib.zk_fr_fold_pair(_p(a), _p(b), _p(c), _p(out), a.shape[0])
        return out

    def powers(self, x, n, nthreads):
        x = self._u(x)
        out = np.empty((n, 4), np.uint64)
        self.lib.zk_fr_powers(_p(x), _p(out), n, nthreads)
        return out

    def eq_table(self, u):
        u = self._u(u)
        out = np.empty((1 << u.shape[0], 4), np.uint64)
        self.lib.zk_fr_eq_table(_p(u), u.shape[0], _p(out))
        return out

    def sum(self, a, nthreads):
        a = self._u(a)
        out = np.empty((1, 4), np.uint64)
        self.lib.zk_fr_sum(_p(a), _p(out), a.shape[0], nthreads)
        return out

    def inner(self, a, b, nthreads):
        a, b = self._u(a), self._u(b)
        out = np.empty((1, 4), np.uint64)
        self.lib.zk_fr_inner(_p(a), _p(b), _p(out), a.shape[0], nthreads)
        return out

    def roundsum(self, tables, nthreads):
        tabs = [self._u(t) for t in tables]
        k = len(tabs)
        tabs += [tabs[0]] * (3 - k)
        out = np.empty((4, 4), np.uint64)
        self.lib.zk_fr_roundsum(_p(tabs[0]), _p(tabs[1]), _p(tabs[2]), k, _p(out), tabs[0].shape[0] // 2, nthreads)
        return out

    def batch_inv(self, a, nthreads):
        a = self._u(a)
        out = np.empty_like(a)
        self.lib.zk_fr_batch_inv(_p(a), _p(out), a.shape[0], nthreads)
        return out

    # Fp / G1 ----------------------------------------------------------------------------------------------
    def fp_op(self, op, a, b):
        a, b = self._u(a, 6), self._u(b, 6)
        out = np.empty_like(a)
        self.lib.zk_fp_op(op, _p(a), _p(b), _p(out), a.shape[0])
        return out

    def g1_op(self, op, p, q):
        p, q = self._u(p, 12), self._u(q, 12)
        out = np.empty_like(p)
        self.lib.zk_g1_op(op, _p(p), _p(q), _p(out), p.shape[0])
        return out

    def g1_mul(self, p, k):
        p, k = self._u(p, 12), self._u(k, 4)
        out = np.empty_like(p)
        self.lib.zk_g1_mul(_p(p), _p(k), _p(out), p.shape[0])
        return out

    def g1_aff_to_mont(self, p):
        p = self._u(p, 12)
        out = np.empty_like(p)
        self.lib.zk_g1_aff_to_mont(_p(p), _p(out), p.shape[0])
        return out

    def msm_full(self, pts, k_std, c, seg_len, chunk=32):
        pts, k = self._u(pts, 12), self._u(k_std, 4)
        out = np.empty(18, np.uint64)
        self.lib.zk_msm_full(_p(pts), _p(k), pts.shape[0], c, seg_len, chunk, _p(out))
        return out

    def msm_small(self, pts, s, c, W, seg_len, chunk=32):
        pts = self._u(pts, 12)
        s = np.ascontiguousarray(s, dtype=np.int64)
        out = np.empty(18, np.uint64)
        self.lib.zk_msm_small(_p(pts), _p(s), pts.shape[0], c, W, seg_len, chunk, _p(out))
        return out

    def msm_bits(self, pts, bits, nthreads):
        pts = self._u(pts, 12)
        b = np.ascontiguousarray(bits, dtype=np.uint8)
        out = np.empty(18, np.uint64)
        self.lib.zk_msm_bits(_p(pts), _p(b), pts.shape[0], nthreads, _p(out))
        return out


@pytest.fixture(scope="session")
def harness(nvcc) -> Harness:
    return Harness(gpu_build.build_harness())
