"""Prime-order-subgroup checks of decoded G1 points, run in helper processes while the verifier goes on.

A compressed point costs two things to validate: the square root that recovers ``y`` (the point is then on the
curve) and the subgroup check (``P ∈ G``, the order-r subgroup). arkworks' ``from_compressed_bytes`` does both
in about 70 µs and holds the GIL throughout (threads give no speed-up; measured), and the subgroup check is the
larger share. :class:`SubgroupChecks` splits them: the reader decompresses with
``from_compressed_bytes_unchecked`` (square root only: the point is on the curve, or decoding fails) and hands
the affine coordinates to this object, which ships them in chunks to helper processes (``python -I``, importing
only ``py_arkworks_bls12381``) that run ``is_in_subgroup``. The verifier's own thread never waits for them until
:meth:`SubgroupChecks.finish`, which a verifier must call before it accepts: a proof holding one point outside
the subgroup is rejected there, with a :class:`~zkdl.errors.ProofFormatError` naming the point's section and
offset, whatever its equations said (a verifier calls ``finish`` first on its failure paths too, so that such a
proof is always reported as malformed, as with the eager check).

Soundness does not change: a proof is accepted only once every point it holds passed the same
``is_in_subgroup`` test that the eager decoder ran; the checks merely move off the critical path. Until then the
points are valid curve points, so the group arithmetic done on them meanwhile is well defined. Fewer points than
one chunk, a machine with one CPU, or a helper that cannot be started or dies: the points are checked in this
process instead (same test, same error).
"""

from __future__ import annotations

import os
import queue
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from py_arkworks_bls12381 import G1Point

XY_BYTES = 96
CHUNK = 512  # points per request to a helper

_WORKER = r"""
import sys
from py_arkworks_bls12381 import G1Point
inp, out = sys.stdin.buffer, sys.stdout.buffer
while True:
    hdr = inp.read(8)
    if len(hdr) < 8:
        break
    n = int.from_bytes(hdr, "little")
    blob = inp.read(96 * n)
    bad = -1 if len(blob) == 96 * n else 0
    for i in range(n if bad < 0 else 0):
        try:
            ok = G1Point.from_xy_bytes_unchecked_le(blob[96 * i : 96 * i + 96]).is_in_subgroup()
        except BaseException:
            ok = False
        if not ok:
            bad = i
            break
    out.write(bad.to_bytes(8, "little", signed=True))
    out.flush()
"""


def in_subgroup(xy: bytes) -> bool:
    """The helpers' test, in this process: 96 bytes of little-endian affine ``x ‖ y`` of a curve point."""
    try:
        return bool(G1Point.from_xy_bytes_unchecked_le(xy).is_in_subgroup())
    except (KeyboardInterrupt, SystemExit, GeneratorExit):
        raise
    except BaseException:  # pyo3 panics derive from BaseException
        return False


def default_helpers() -> int:
    """Helper processes: one per CPU beyond the verifier's own, at most 4; 0 on a one-CPU machine."""
    return max(0, min(4, (os.cpu_count() or 1) - 1))


class _Helper:
    """One ``python -I`` process answering chunk requests in order (a feeder thread writes, a reader reads)."""

    def __init__(self) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-I", "-c", _WORKER],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
        )
        self._todo: queue.Queue[bytes | None] = queue.Queue()
        self.answers: queue.Queue[int | None] = queue.Queue()
        self._feeder = threading.Thread(target=self._feed, name="zkdl-subgroup-feed", daemon=True)
        self._reader = threading.Thread(target=self._read, name="zkdl-subgroup-read", daemon=True)
        self._feeder.start()
        self._reader.start()

    def _feed(self) -> None:
        stdin = self.proc.stdin
        assert stdin is not None
        try:
            while (req := self._todo.get()) is not None:
                stdin.write(req)
                stdin.flush()
        except OSError:
            pass
        finally:
            try:
                stdin.close()
            except OSError:
                pass

    def _read(self) -> None:
        stdout = self.proc.stdout
        assert stdout is not None
        try:
            while len(ans := stdout.read(8)) == 8:
                self.answers.put(int.from_bytes(ans, "little", signed=True))
        except OSError:
            pass
        self.answers.put(None)  # end of answers: the helper exited (or died)

    def submit(self, blob: bytes) -> None:
        self._todo.put((len(blob) // XY_BYTES).to_bytes(8, "little") + blob)

    def close(self) -> None:
        self._todo.put(None)
        try:
            self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def _reworded(error: Callable[[], Exception], reword: Callable[[Exception], Exception]) -> Callable[[], Exception]:
    return lambda: reword(error())


class SubgroupChecks:
    """Collects decoded points (their affine bytes and a callback that builds the error naming them) and checks
    them in helper processes; :meth:`finish` waits and raises the first failure. Use once, then :meth:`close`
    (or as a context manager)."""

    def __init__(self, *, helpers: int | None = None, chunk: int | None = None) -> None:
        self._n_helpers = default_helpers() if helpers is None else max(0, helpers)
        self._chunk = max(1, CHUNK if chunk is None else chunk)
        self._helpers: list[_Helper] = []
        self._buf: list[bytes] = []
        self._where: list[Callable[[], Exception]] = []
        self._sent: list[tuple[int, list[Callable[[], Exception]], bytes]] = []  # (helper, errors, blob)
        self._failure: Exception | None = None
        self._reword: Callable[[Exception], Exception] | None = None
        self.points = 0

    def __enter__(self) -> SubgroupChecks:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    @contextmanager
    def errors_as(self, reword: Callable[[Exception], Exception]) -> Iterator[SubgroupChecks]:
        """Within the block, a point added is rejected by ``reword(error())`` instead of ``error()``: a statement
        parsed with deferred checks reports its off-subgroup point as a ``StatementFormatError``, not as a
        malformed proof."""
        outer, self._reword = self._reword, reword
        try:
            yield self
        finally:
            self._reword = outer

    def add(self, point: G1Point, error: Callable[[], Exception]) -> None:
        """Queue ``point`` (on the curve, not the identity); ``error()`` builds the exception that rejects it."""
        if self._reword is not None:
            error = _reworded(error, self._reword)
        self._buf.append(bytes(point.to_xy_bytes_le()))
        self._where.append(error)
        self.points += 1
        if len(self._buf) >= self._chunk:
            self._flush()

    def _flush(self) -> None:
        blob, where = b"".join(self._buf), self._where
        self._buf, self._where = [], []
        if self._failure is not None or not blob:
            return
        helper = self._helper_for(len(self._sent))
        if helper is None:
            self._check_here(blob, where)
        else:
            self._helpers[helper].submit(blob)
            self._sent.append((helper, where, blob))

    def _helper_for(self, k: int) -> int | None:
        if self._n_helpers == 0:
            return None
        i = k % self._n_helpers
        if i >= len(self._helpers):
            try:
                self._helpers.append(_Helper())
            except OSError:
                self._n_helpers = len(self._helpers)
                return None if not self._helpers else k % len(self._helpers)
        return i

    def _check_here(self, blob: bytes, where: list[Callable[[], Exception]]) -> None:
        for i, err in enumerate(where):
            if not in_subgroup(blob[i * XY_BYTES : (i + 1) * XY_BYTES]):
                self._failure = err()
                return

    def finish(self) -> None:
        """Wait for every check; raise the error of the first point (in reading order) outside the subgroup."""
        if self._failure is None:
            tail_blob, tail_where = b"".join(self._buf), self._where
            self._buf, self._where = [], []
            for helper, where, blob in self._sent:  # answers come back in submission order per helper
                ans = self._helpers[helper].answers.get()
                if ans is None:  # the helper died: check this chunk here
                    self._helpers[helper].answers.put(None)
                    self._check_here(blob, where)
                elif ans >= 0:
                    self._failure = where[ans]()
                if self._failure is not None:
                    break
            self._sent = []
            if self._failure is None:
                self._check_here(tail_blob, tail_where)
        if self._failure is not None:
            raise self._failure

    def close(self) -> None:
        for h in self._helpers:
            h.close()
        self._helpers = []
