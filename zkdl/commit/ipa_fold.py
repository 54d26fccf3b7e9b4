"""The inner-product prover's generator fold, shared with a helper process (the second core).

In each round of :func:`zkdl.commit.evaluation.inner_product_rounds` the prover folds the generators
``g' = x·g_lo + g_hi``: one 128-bit scalar multiplication per output point, which arkworks runs holding the GIL
(threads give nothing; measured), and which dominates the ZK openings. The fold and the round's MSMs
``L = <z_lo, g_hi>``, ``R = <z_hi, g_lo>`` split exactly by the parity of the index while more than two
generators are left: with ``half`` even, entry ``i`` of the folded vector reads entries ``i`` and ``i + half``,
of the same parity, so the even-indexed generators fold among themselves exactly as a vector of half the length
(``e' = x·e_lo + e_hi``), likewise the odd ones, and the MSMs are the sums of their even and odd parts. The
prover keeps the even half; a :class:`FoldHelper` (a ``python -I -S`` process importing only
``py_arkworks_bls12381``, like the verifier's subgroup helpers) keeps the odd half, computes its share of
``L``/``R`` from the odd entries of ``z`` it is sent, and folds its generators with each challenge ``x`` it is sent,
while the prover does the same on its half. With two generators left, the helper's one point comes back and the
prover finishes alone.

Group elements are exact, so ``L``/``R`` and everything after are the same points, and the proof the same
bytes, as without the helper (tested). The helper is a child of the prover's process reached through pipes:
what it is sent (the public generators, the odd entries of the masked response ``z``, the challenges) stays on the
prover's machine, and the proof is unchanged, so zero knowledge is not affected.

A machine with one CPU (or ``ZKDL_THREADS=1``, as in the Ray workers of a chunked run), ``ZKDL_FOLD_HELPER=0``, a
small vector, or a helper that cannot be started: the prover folds alone. The helper pays off when a core is free
during the openings; on a machine whose other core is busy with other work the two halves only take turns
(measured no faster, ``bench/openings.py``). The training prover starts the helper (:func:`prestart`) when its
openings phase begins. A helper that dies mid-argument: the prover rebuilds the odd half itself by replaying the
folds with the challenges drawn so far (same points) and goes on alone.
"""

from __future__ import annotations

import atexit
import os
import subprocess
import threading
from collections.abc import Sequence

from py_arkworks_bls12381 import G1Point, Scalar

from ..serialize.subgroup import XY_BYTES, start_worker
from .generators import PublicParams

MIN_HELPED = 256  #: vectors shorter than this are folded by the prover alone (a round trip costs ~0.1 ms)
XY = XY_BYTES

_WORKER = r"""
import sys
from py_arkworks_bls12381 import G1Point, Scalar
inp, out = sys.stdin.buffer, sys.stdout.buffer
def read(n):
    b = inp.read(n)
    if len(b) != n:
        raise SystemExit(0)
    return b
def pt(b):
    return G1Point.identity() if b[0] == 0 else G1Point.from_xy_bytes_unchecked_le(b[1:97])
def enc(p):
    return b"\0" + bytes(96) if p == G1Point.identity() else b"\1" + p.to_xy_bytes_le()
base, g = [], []
while True:
    op = inp.read(1)
    if not op:
        break
    n = int.from_bytes(read(8), "little")
    if op == b"G":  # n points to the base vector, from the index sent on
        start = int.from_bytes(read(8), "little")
        blob = read(97 * n)
        base[start:] = [pt(blob[97 * i : 97 * i + 97]) for i in range(n)]
    elif op == b"B":  # begin: the first n base points
        g = base[:n]
    elif op == b"M":  # this round's L, R shares for the n scalars of z sent
        blob = read(32 * n)
        zs = [Scalar.from_le_bytes(blob[32 * i : 32 * i + 32]) for i in range(n)]
        h = n // 2
        out.write(enc(G1Point.multiexp_unchecked(g[h:], zs[:h])) + enc(G1Point.multiexp_unchecked(g[:h], zs[h:])))
        out.flush()
    elif op == b"F":  # fold with the scalar sent
        x = Scalar.from_le_bytes(read(32))
        h = len(g) // 2
        g = [a * x + b for a, b in zip(g[:h], g[h:])]
    elif op == b"P":  # send the current points
        out.write(b"".join(enc(p) for p in g))
        out.flush()
"""


def encode_point(p: G1Point) -> bytes:
    """97 bytes: a flag (0 the identity, 1 a point) and the affine ``x ‖ y`` (little-endian)."""
    return b"\0" + bytes(XY) if p == G1Point.identity() else b"\1" + p.to_xy_bytes_le()


def decode_point(b: bytes) -> G1Point:
    return G1Point.identity() if b[0] == 0 else G1Point.from_xy_bytes_unchecked_le(b[1 : 1 + XY])


class HelperFailed(RuntimeError):
    """The helper process exited or its pipe broke (the caller goes on alone)."""


class FoldHelper:
    """One helper process holding the odd-indexed half of the generators of one inner-product argument at a time.

    ``begin(params, n)``, then per round ``send_msm(z_odd)`` … ``read_msm()`` and ``fold(x)``, and
    ``points()`` at the end. Calls raise :class:`HelperFailed` when the helper is gone."""

    def __init__(self) -> None:
        self.proc = start_worker(_WORKER)
        self.owner = os.getpid()  # a forked child must not share the parent's pipes
        self._params: PublicParams | None = None
        self._base = 0  # odd generators g_1, g_3, … the helper holds
        self._m = 0  # length of its current vector

    def _send(self, op: bytes, n: int, payload: bytes = b"") -> None:
        try:
            assert self.proc.stdin is not None
            self.proc.stdin.write(op + n.to_bytes(8, "little") + payload)
            self.proc.stdin.flush()
        except (OSError, ValueError) as e:
            raise HelperFailed(f"fold helper: {e}") from e

    def _read(self, n: int) -> bytes:
        assert self.proc.stdout is not None
        try:
            b = self.proc.stdout.read(n)
        except (OSError, ValueError) as e:
            raise HelperFailed(f"fold helper: {e}") from e
        if b is None or len(b) != n:
            raise HelperFailed("fold helper exited")
        return b

    def begin(self, params: PublicParams, n: int) -> None:
        """Start an argument over ``g_0 … g_{n−1}`` (n even): the helper takes ``g_1, g_3, …, g_{n−1}``."""
        if params is not self._params:  # other generators: the helper's are replaced from index 0
            self._params, self._base = params, 0
        m = n // 2
        if m > self._base:
            new = params.gens(n)[2 * self._base + 1 :: 2]
            payload = self._base.to_bytes(8, "little") + b"".join(encode_point(p) for p in new)
            self._send(b"G", len(new), payload)
            self._base = m
        self._send(b"B", m)
        self._m = m

    def send_msm(self, z_odd_le: bytes) -> None:
        """Ask for the odd shares of this round's ``L``, ``R`` (``z_odd_le``: the odd entries of ``z``, 32-byte
        little-endian each); read them with :meth:`read_msm`."""
        if len(z_odd_le) != 32 * self._m:
            raise ValueError(f"{len(z_odd_le) // 32} scalars for a helper vector of {self._m}")
        self._send(b"M", self._m, z_odd_le)

    def read_msm(self) -> tuple[G1Point, G1Point]:
        b = self._read(2 * (XY + 1))
        return decode_point(b[: XY + 1]), decode_point(b[XY + 1 :])

    def fold(self, x_le: bytes) -> None:
        self._send(b"F", 0, x_le)
        self._m //= 2

    def points(self) -> list[G1Point]:
        self._send(b"P", 0)
        b = self._read(self._m * (XY + 1))
        return [decode_point(b[i : i + XY + 1]) for i in range(0, len(b), XY + 1)]

    def close(self) -> None:
        try:
            if self.proc.stdin is not None:
                self.proc.stdin.close()
        except OSError:
            pass
        try:
            self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


_HELPER: FoldHelper | None = None
_LOCK = threading.Lock()


def fold_helper(n: int) -> FoldHelper | None:
    """The process-wide helper for a vector of ``n`` generators, or None: a one-CPU machine (``default_workers``
    of the commitment pool), ``ZKDL_FOLD_HELPER=0``, ``n`` below :data:`MIN_HELPED`, or no helper could be
    started. The caller must hold it for one argument at a time (:func:`release`)."""
    from .pedersen import default_workers

    global _HELPER
    off = os.environ.get("ZKDL_FOLD_HELPER", "") == "0"
    if off or n < MIN_HELPED or default_workers() < 2 or not _LOCK.acquire(blocking=False):
        return None
    if _HELPER is not None and (_HELPER.owner != os.getpid() or _HELPER.proc.poll() is not None):
        _HELPER = None  # exited, or the parent's (this process was forked): start another
    if _HELPER is None:
        try:
            _HELPER = FoldHelper()
        except OSError:
            _LOCK.release()
            return None
        atexit.register(_HELPER.close)
    return _HELPER


def prestart() -> None:
    """Start the helper now, if one would be used, so that its interpreter loads while the prover works on."""
    helper = fold_helper(MIN_HELPED)
    if helper is not None:
        release(helper)


def release(helper: FoldHelper, failed: bool = False) -> None:
    """End an argument's use of the helper (``failed``: drop it; the next argument starts a new one)."""
    global _HELPER
    if failed and _HELPER is helper:
        _HELPER = None
        helper.close()
    _LOCK.release()


def fold_points(points: Sequence[G1Point], xs: Sequence[Scalar]) -> list[G1Point]:
    """``g' = x·g_lo + g_hi`` for each ``x`` in turn (the prover's own fold, and the replay after a failure)."""
    g = list(points)
    for x in xs:
        h = len(g) // 2
        g = [a * x + b for a, b in zip(g[:h], g[h:])]
    return g
