"""Compile the CUDA sources in ``cuda/`` with nvcc: fatbins (sm_XX machine code + PTX) and PTX for the GPU
backend, and the host test harness.

Outputs go to ``cuda/build/<key>/`` (gitignored), where ``<key>`` hashes every ``.cu``/``.cuh`` source, the nvcc
version, the target and the flags, so a changed source or toolkit recompiles and an unchanged one is reused
(nvcc is slow). Files are written to a temporary name and renamed, so concurrent builds do not see partial files.

CI (no GPU needed)::

    python -m zkdl.field.gpu_build --arch sm_90   # every cuda/*.cu -> fatbin + PTX, and the host harness library

The fatbin holds sm_90 SASS (loaded as is on an H100/H200: no JIT at the first module load) and compute_90 PTX
(JIT-compiled by the driver on newer GPUs); ptxas' register/spill report (``-Xptxas -v``) is kept next to it as
``<stem>.<arch>.ptxas.txt``. The PTX alone is what the CPU emulation in tests/cuda reads (kernel list and
parameter widths). The fatbin of msm.cu takes about a minute of ptxas on one core, so ``cuda/build`` is built
once here and carried to a GPU machine (bench/gpu_check.sh).

Nothing here imports CuPy or needs a GPU driver.
"""

from __future__ import annotations

import argparse
import functools
import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from zkdl.errors import BackendUnavailable

#: PTX target of the GPU backend (H100/H200 = sm_90; PTX is JIT-compiled by the driver for newer GPUs).
DEFAULT_ARCH = "sm_90"
PTX_FLAGS = ("-std=c++17", "-O3", "-lineinfo")
FATBIN_FLAGS = ("-std=c++17", "-O3", "-lineinfo", "-Xptxas", "-v")
HARNESS_FLAGS = ("-std=c++17", "-O2", "-shared", "-Xcompiler", "-fPIC")
HARNESS_NAME = "libzkharness.so"


def cuda_dir() -> Path:
    """The ``cuda/`` source directory (``$ZKDL_CUDA_DIR`` overrides the repository checkout next to zkdl/)."""
    env = os.environ.get("ZKDL_CUDA_DIR")
    return Path(env) if env else Path(__file__).resolve().parents[2] / "cuda"


def build_root() -> Path:
    env = os.environ.get("ZKDL_CUDA_BUILD")
    return Path(env) if env else cuda_dir() / "build"


def find_nvcc() -> str | None:
    """Path of nvcc ($NVCC, then PATH, then /usr/local/cuda/bin), or None."""
    for cand in (os.environ.get("NVCC"), shutil.which("nvcc"), "/usr/local/cuda/bin/nvcc"):
        if cand and Path(cand).is_file() and os.access(cand, os.X_OK):
            return cand
    return None


def _require_nvcc() -> str:
    nvcc = find_nvcc()
    if nvcc is None:
        raise BackendUnavailable("nvcc (CUDA toolkit) not found: set $NVCC or put nvcc on PATH")
    return nvcc


@functools.lru_cache(maxsize=8)
def _nvcc_version(nvcc: str) -> str:
    out = subprocess.run([nvcc, "--version"], capture_output=True, text=True, check=True).stdout
    return out.strip().splitlines()[-1] if out.strip() else "unknown"


def kernel_sources() -> list[Path]:
    """Every ``cuda/*.cu`` compiled to PTX (the host harness lives in ``cuda/host/``)."""
    return sorted(cuda_dir().glob("*.cu"))


def sources_digest() -> str:
    """SHA-256 over every CUDA source file (name and content), headers and harness included."""
    h = hashlib.sha256()
    root = cuda_dir()
    for p in sorted(list(root.glob("*.cu")) + list(root.glob("*.cuh")) + list((root / "host").glob("*.cu"))):
        h.update(str(p.relative_to(root)).encode() + b"\0")
        h.update(p.read_bytes() + b"\0")
    return h.hexdigest()


def _key(*parts: str) -> str:
    h = hashlib.sha256()
    for s in (sources_digest(), *parts):
        h.update(s.encode() + b"\0")
    return h.hexdigest()[:16]


def ptx_path(source: Path | str, arch: str = DEFAULT_ARCH) -> Path:
    """Where the PTX of ``source`` for ``arch`` is cached. The key covers the sources, target and flags but not
    the nvcc version, so PTX built on one machine (e.g. CI) is found on another without nvcc when ``cuda/build``
    is carried along; a GPU driver older than the toolkit that wrote it rejects it (the backend then falls back
    to NVRTC)."""
    return build_root() / f"ptx-{_key('ptx', arch, *PTX_FLAGS)}" / f"{Path(source).stem}.{arch}.ptx"


def _run_nvcc(nvcc: str, args: list[str], target: Path, keep_output: Path | None = None) -> Path:
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=target.name + ".", suffix=".tmp")
    os.close(fd)
    try:
        proc = subprocess.run([nvcc, *args, "-o", tmp], capture_output=True, text=True, cwd=cuda_dir())
        if proc.returncode != 0:
            raise RuntimeError(f"nvcc failed ({' '.join(args)}):\n{proc.stdout}\n{proc.stderr}")
        if keep_output is not None:
            keep_output.write_text(proc.stdout + proc.stderr)
        os.replace(tmp, target)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return target


def compile_ptx(source: Path | str, arch: str = DEFAULT_ARCH) -> Path:
    """Compile one ``.cu`` file to PTX for ``arch`` (cached, see :func:`ptx_path`); returns the PTX path.
    Needs nvcc only when the cache has no PTX for the current sources."""
    source = Path(source)
    if not source.is_absolute():
        source = cuda_dir() / source
    target = ptx_path(source, arch)
    if target.is_file():
        return target
    return _run_nvcc(_require_nvcc(), [f"-arch={arch}", "-ptx", *PTX_FLAGS, str(source)], target)


def compile_all_ptx(arch: str = DEFAULT_ARCH) -> dict[str, Path]:
    """Every ``cuda/*.cu`` to PTX; returns {stem: path}."""
    return {src.stem: compile_ptx(src, arch) for src in kernel_sources()}


def fatbin_path(source: Path | str, arch: str = DEFAULT_ARCH) -> Path:
    """Where the fatbin of ``source`` for ``arch`` is cached (same key rule as :func:`ptx_path`)."""
    return build_root() / f"fatbin-{_key('fatbin', arch, *FATBIN_FLAGS)}" / f"{Path(source).stem}.{arch}.fatbin"


def _gencode(arch: str) -> str:
    if not arch.startswith("sm_"):
        raise ValueError(f"arch must look like sm_90, got {arch!r}")
    num = arch[3:]
    return f"arch=compute_{num},code=[sm_{num},compute_{num}]"


def compile_fatbin(source: Path | str, arch: str = DEFAULT_ARCH) -> Path:
    """Compile one ``.cu`` file to a fatbin with ``arch`` machine code and PTX (cached); the ptxas report of
    registers, stack and spills is written next to it as ``<stem>.<arch>.ptxas.txt``."""
    source = Path(source)
    if not source.is_absolute():
        source = cuda_dir() / source
    target = fatbin_path(source, arch)
    if target.is_file():
        return target
    nvcc = _require_nvcc()
    args = ["-fatbin", "-gencode", _gencode(arch), *FATBIN_FLAGS, str(source)]
    report = target.with_suffix(".ptxas.txt")
    out = _run_nvcc(nvcc, args, target, keep_output=report)
    return out


def compile_all_fatbins(arch: str = DEFAULT_ARCH) -> dict[str, Path]:
    """Every ``cuda/*.cu`` to a fatbin; returns {stem: path}."""
    return {src.stem: compile_fatbin(src, arch) for src in kernel_sources()}


def build_harness() -> Path:
    """The host harness shared library (cuda/host/harness.cu compiled for the CPU by nvcc, cached)."""
    nvcc = _require_nvcc()
    target = build_root() / f"host-{_key('harness', _nvcc_version(nvcc), *HARNESS_FLAGS)}" / HARNESS_NAME
    if target.is_file():
        return target
    return _run_nvcc(nvcc, [*HARNESS_FLAGS, str(cuda_dir() / "host" / "harness.cu")], target)


def prune(keep: set[Path]) -> list[Path]:
    """Remove the cache folders of ``build_root()`` other than ``keep`` (builds of older sources or flags), so
    that a carried ``cuda/build`` holds only what the current sources need."""
    root = build_root()
    gone = []
    if root.is_dir():
        for d in root.iterdir():
            if d.is_dir() and d.name.split("-")[0] in ("ptx", "fatbin", "host") and d not in keep:
                shutil.rmtree(d, ignore_errors=True)
                gone.append(d)
    return gone


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m zkdl.field.gpu_build", description=__doc__.splitlines()[0])
    ap.add_argument("--arch", default=DEFAULT_ARCH, help="target GPU (default %(default)s)")
    ap.add_argument("--no-harness", action="store_true", help="skip the host harness library")
    ap.add_argument("--no-fatbin", action="store_true", help="PTX only (no ptxas run: fast, for the CPU tests)")
    args = ap.parse_args(argv)
    keep: set[Path] = set()
    try:
        for stem, path in compile_all_ptx(args.arch).items():
            keep.add(path.parent)
            print(f"ptx      {stem:<12} {path}")
        if not args.no_fatbin:
            for stem, path in compile_all_fatbins(args.arch).items():
                keep.add(path.parent)
                size = path.stat().st_size
                print(f"fatbin   {stem:<12} {path} ({size} bytes; ptxas report: {path.with_suffix('.ptxas.txt')})")
        if not args.no_harness:
            lib = build_harness()
            keep.add(lib.parent)
            print(f"harness  {'':<12} {lib}")
        if not args.no_fatbin and not args.no_harness:
            for d in prune(keep):
                print(f"removed  {'':<12} {d} (stale)")
    except BackendUnavailable as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except RuntimeError as exc:
        print(str(exc), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
