"""A stand-in for CuPy that runs the real kernels of cuda/*.cu on the CPU.

Arrays are numpy arrays. ``RawModule(path=ptx)`` reads the nvcc-built PTX to know which kernels exist and the
width of each parameter; ``get_function(name)`` returns a launcher that checks the arguments against those
parameters (count, pointer vs 64-bit vs 32-bit scalar, exactly as CuPy would pass them) and then runs the
kernel's host build from the harness library (the same kernel source compiled with ZK_EMULATE, see
cuda/kernel_env.cuh) for every (block, thread) of the grid, thread 0 of each block last.

This checks zkdl/field/gpu.py and zkdl/commit/gpu_msm.py (argument order and types, launch geometry, buffer sizes and
layouts, reductions of partials) on a machine without a GPU. It cannot find races or device-only codegen bugs.
"""

from __future__ import annotations

import ctypes
import re
import time
import types
from pathlib import Path

import numpy as np

_PARAM = re.compile(r"\.param \.(u64|u32|b64|b32|s64|s32) \w+")


def _entries(ptx: str) -> dict[str, list[int]]:
    out = {}
    for m in re.finditer(r"\.visible \.entry (\w+)\(([^)]*)\)", ptx):
        out[m.group(1)] = [64 if t.endswith("64") else 32 for t in _PARAM.findall(m.group(2))]
    return out


class _Kernel:
    def __init__(self, lib, name: str, widths: list[int], log: list):
        self.fn = getattr(lib, name)
        self.fn.restype = None
        self.fn.argtypes = [ctypes.c_uint64 if w == 64 else ctypes.c_uint32 for w in widths]
        self.lib, self.name, self.widths, self.log = lib, name, widths, log

    def _arg(self, a, width: int):
        if isinstance(a, np.ndarray):
            assert width == 64, f"{self.name}: array passed for a 32-bit parameter"
            assert a.flags.c_contiguous, f"{self.name}: non-contiguous array"
            return a.ctypes.data
        if isinstance(a, np.generic):
            assert a.dtype.itemsize * 8 == width, f"{self.name}: {a.dtype} passed for a {width}-bit parameter"
            return int(a) & ((1 << width) - 1)
        raise AssertionError(f"{self.name}: unsupported kernel argument {type(a)} (CuPy needs numpy scalars here)")

    def __call__(self, grid, block, args):
        (g,), (b,) = tuple(grid), tuple(block)
        assert len(args) == len(self.widths), f"{self.name}: {len(args)} args for {len(self.widths)} params"
        cargs = [self._arg(a, w) for a, w in zip(args, self.widths, strict=True)]
        assert 1 <= b <= 1024 and g >= 1, (self.name, g, b)
        self.log.append((self.name, g, b))
        for bx in range(g):
            for tx in range(b - 1, -1, -1):
                self.lib.zk_emu_set(g, b, bx, tx)
                self.fn(*cargs)


class _Module:
    def __init__(self, lib, log, path=None, code=None, options=(), backend=None):
        if path is None or not str(path).endswith(".ptx"):
            raise AssertionError(f"the emulator loads PTX built by nvcc (RawModule(path=...ptx)), got {path}")
        self.entries = _entries(Path(path).read_text())
        self.lib, self.log = lib, log

    def get_function(self, name: str) -> _Kernel:
        if name not in self.entries:
            raise AssertionError(f"no kernel {name!r} in the PTX")
        return _Kernel(self.lib, name, self.entries[name], self.log)


def make_fake_cupy(harness_lib) -> types.ModuleType:
    """A module usable as ``cupy`` by zkdl/field/gpu.py and zkdl/commit/gpu_msm.py; ``.launches`` logs launches."""
    harness_lib.zk_emu_set.argtypes = [ctypes.c_uint32] * 4
    harness_lib.zk_emu_set.restype = None
    mod = types.ModuleType("cupy")
    for name in (
        "asarray",
        "ascontiguousarray",
        "empty",
        "empty_like",
        "zeros",
        "concatenate",
        "argsort",
        "abs",
        "cumsum",
        "count_nonzero",
        "uint8",
        "uint16",
        "uint32",
        "uint64",
        "int32",
        "int64",
        "ndarray",
    ):
        setattr(mod, name, getattr(np, name))
    mod.launches = []
    mod.asnumpy = lambda a: np.array(a, copy=True)
    mod.RawModule = lambda **kw: _Module(harness_lib, mod.launches, **kw)
    runtime = types.SimpleNamespace(
        getDeviceCount=lambda: 1,
        deviceSynchronize=lambda: None,
        getDeviceProperties=lambda i: {"name": b"CPU emulation"},
    )
    device = types.SimpleNamespace(compute_capability="90", synchronize=lambda: None)

    class Event:  # host clock stand-in for cupy.cuda.Event (the emulated launches are synchronous)
        def record(self):
            self.t = time.perf_counter()

        def synchronize(self):
            pass

    mod.cuda = types.SimpleNamespace(
        runtime=runtime, Device=lambda: device, Event=Event, get_elapsed_time=lambda a, b: (b.t - a.t) * 1e3
    )
    return mod
