"""Prime-order-subgroup checks (and decompression) of G1 points, run in helper processes while the verifier goes on.

A compressed point costs two things to validate: the square root that recovers ``y`` (the point is then on the
curve) and the subgroup check (``P ∈ G``, the order-r subgroup). arkworks' ``from_compressed_bytes`` does both
in about 80 µs and holds the GIL throughout (threads give no speed-up; measured). :class:`SubgroupChecks` moves
them to helper processes (``python -I -S``, importing only ``py_arkworks_bls12381``) in two ways:

* :meth:`SubgroupChecks.add`: the reader decompresses a point it needs at once with
  ``from_compressed_bytes_unchecked`` (square root only: the point is on the curve, or decoding fails) and hands
  the affine coordinates here; the helpers run ``is_in_subgroup``;
* :meth:`SubgroupChecks.decode_later`: points the verifier only needs for its final MSM (the rows of a
  commitment: the transcript absorbs their bytes) are not decompressed by the reader at all; the helpers run
  ``from_compressed_bytes_unchecked`` and ``is_in_subgroup`` and send back the affine coordinates
  (``to_xy_bytes_le``, 96 bytes), which become points again for under 1 µs each
  (``from_xy_bytes_unchecked_le``) when first used: the :class:`PendingPoints` the reader returned.

The verifier's own thread never waits for them until :meth:`SubgroupChecks.finish` (or until it uses a
:class:`PendingPoints`), which a verifier must call before it accepts: a proof holding one point outside the
subgroup (or, for a deferred decoding, off the curve) is rejected there, with a
:class:`~zkdl.errors.ProofFormatError` naming the point's section and offset, whatever its equations said (a
verifier calls ``finish`` first on its failure paths too, so that such a proof is always reported as malformed,
as with the eager check).

Soundness does not change: a proof is accepted only once every point it holds passed the same decompression and
``is_in_subgroup`` test that the eager decoder ran; the checks merely move off the critical path. Until then the
points used are valid curve points, so the group arithmetic done on them meanwhile is well defined. Fewer points
than one chunk, a machine with one CPU, or a helper that cannot be started or dies: the points are checked in
this process instead (same test, same error).
"""

from __future__ import annotations

import importlib.util
import os
import queue
import subprocess
import sys
import threading
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any, overload

from py_arkworks_bls12381 import G1Point

from zkdl.serialize.encoding import NOT_IN_SUBGROUP, NOT_ON_CURVE

XY_BYTES = 96
COMPRESSED_BYTES = 48
CHUNK = 128  # points per request to a helper (the last, partial chunk is checked in the verifier's process)
CHECK, DECODE = 0, 1  # request kinds: subgroup test of affine points; decompression + subgroup test

# A request: u8 kind ‖ u64 n ‖ n·96 affine bytes (CHECK) or n·48 compressed bytes (DECODE). The answer: i64 status
# (-1: every point passed; i ≥ 0: point i is not in the subgroup; -2 - i: point i is not on the curve) ‖ u64 length
# ‖ the points' affine bytes (DECODE, when every point passed).
_WORKER = r"""
import sys
from py_arkworks_bls12381 import G1Point
inp, out = sys.stdin.buffer, sys.stdout.buffer


def in_subgroup(p):
    try:
        return bool(p.is_in_subgroup())
    except BaseException:
        return False


def check(blob, n):
    for i in range(n):
        try:
            p = G1Point.from_xy_bytes_unchecked_le(blob[96 * i : 96 * i + 96])
        except BaseException:
            return i
        if not in_subgroup(p):
            return i
    return -1


def decode(blob, n):
    xy = []
    for i in range(n):
        try:
            p = G1Point.from_compressed_bytes_unchecked(blob[48 * i : 48 * i + 48])
        except BaseException:
            return -2 - i, b""
        if not in_subgroup(p):
            return i, b""
        xy.append(bytes(p.to_xy_bytes_le()))
    return -1, b"".join(xy)


while True:
    hdr = inp.read(9)
    if len(hdr) < 9:
        break
    kind, n = hdr[0], int.from_bytes(hdr[1:], "little")
    blob = inp.read((48 if kind == 1 else 96) * n)
    if len(blob) != (48 if kind == 1 else 96) * n:
        break
    bad, xy = decode(blob, n) if kind == 1 else (check(blob, n), b"")
    out.write(bad.to_bytes(8, "little", signed=True) + len(xy).to_bytes(8, "little") + xy)
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


def decode_point(compressed: bytes) -> tuple[bytes | None, str | None]:
    """The helpers' decoding, in this process: ``(affine bytes, None)`` for a point on the curve and in the
    subgroup, else ``(None, the reason)``. ``compressed`` must already have canonical flags and x < p."""
    try:
        p = G1Point.from_compressed_bytes_unchecked(compressed)
    except (KeyboardInterrupt, SystemExit, GeneratorExit):
        raise
    except BaseException:
        return None, NOT_ON_CURVE
    xy = bytes(p.to_xy_bytes_le())
    return (xy, None) if in_subgroup(xy) else (None, NOT_IN_SUBGROUP)


def _arkworks_root() -> str:
    """The ``sys.path`` entry this process imported ``py_arkworks_bls12381`` from."""
    spec = importlib.util.find_spec("py_arkworks_bls12381")
    if spec is None or spec.origin is None:  # pragma: no cover - imported at the top of this module
        raise ImportError("py_arkworks_bls12381 is not importable")
    root = os.path.dirname(spec.origin)
    return os.path.dirname(root) if spec.submodule_search_locations else root


def start_worker(script: str) -> subprocess.Popen:
    """A ``python -I -S`` process running ``script`` (which imports only ``py_arkworks_bls12381``), talking over
    binary pipes on stdin/stdout: the verifier's subgroup helpers and the prover's fold helper
    (:mod:`zkdl.commit.ipa_fold`). Without ``site`` (``-S``) the interpreter starts in about 10 ms instead of
    30 (the environment's ``.pth`` files are not processed); ``sys.path`` gets exactly the directory this
    process imported ``py_arkworks_bls12381`` from."""
    prelude = f"import sys\nsys.path.append({_arkworks_root()!r})\n"
    return subprocess.Popen(
        [sys.executable, "-I", "-S", "-c", prelude + script],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
    )


def default_helpers() -> int:
    """Helper processes: one per CPU beyond the verifier's own, at most 4; 0 on a one-CPU machine."""
    return max(0, min(4, (os.cpu_count() or 1) - 1))


class _Request:
    """One chunk of points: ``errors[i](reason)`` builds the exception that rejects point ``i``. Once ``done``:
    ``bad`` (``-1``, or the index of the first point that failed, for ``reason``) and, for a decoding, ``xy``."""

    __slots__ = ("kind", "blob", "errors", "helper", "done", "bad", "reason", "xy")

    def __init__(self, kind: int, blob: bytes, errors: list[Callable[[str], Exception]]) -> None:
        self.kind, self.blob, self.errors = kind, blob, errors
        self.helper: int | None = None
        self.done = False
        self.bad = -1
        self.reason = NOT_IN_SUBGROUP
        self.xy = b""

    def settle(self, status: int, xy: bytes) -> None:
        self.done, self.xy = True, xy
        if status <= -2:
            self.bad, self.reason = -2 - status, NOT_ON_CURVE
        else:
            self.bad = status

    def run_here(self) -> None:
        """The helpers' work, in this process."""
        if self.kind == CHECK:
            n = len(self.blob) // XY_BYTES
            bad = next((i for i in range(n) if not in_subgroup(self.blob[i * XY_BYTES : (i + 1) * XY_BYTES])), -1)
            self.settle(bad, b"")
            return
        out = []
        for i in range(len(self.blob) // COMPRESSED_BYTES):
            xy, reason = decode_point(self.blob[i * COMPRESSED_BYTES : (i + 1) * COMPRESSED_BYTES])
            if xy is None:
                self.settle(-2 - i if reason == NOT_ON_CURVE else i, b"")
                return
            out.append(xy)
        self.settle(-1, b"".join(out))

    def error(self) -> Exception | None:
        return None if self.bad < 0 else self.errors[self.bad](self.reason)


class _Helper:
    """One ``python -I -S`` process answering requests in order (a feeder thread writes, a reader reads)."""

    def __init__(self) -> None:
        self.proc = start_worker(_WORKER)
        self._todo: queue.Queue[bytes | None] = queue.Queue()
        self.answers: queue.Queue[tuple[int, bytes] | None] = queue.Queue()
        self.waiting: deque[_Request] = deque()  # submitted, not yet answered (answers come back in this order)
        self.alive = True
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
            while len(head := stdout.read(16)) == 16:
                n = int.from_bytes(head[8:], "little")
                xy = stdout.read(n) if n else b""
                if len(xy) != n:
                    break
                self.answers.put((int.from_bytes(head[:8], "little", signed=True), xy))
        except OSError:
            pass
        self.answers.put(None)  # end of answers: the helper exited (or died)

    def submit(self, req: _Request) -> None:
        size = XY_BYTES if req.kind == CHECK else COMPRESSED_BYTES
        self.waiting.append(req)
        self._todo.put(bytes([req.kind]) + (len(req.blob) // size).to_bytes(8, "little") + req.blob)

    def answer_next(self) -> None:
        """Settle the oldest waiting request: with the helper's answer, or here when the helper is gone."""
        req = self.waiting.popleft()
        ans = self.answers.get() if self.alive else None
        if ans is None:
            self.alive = False
            self.answers.put(None)
            req.run_here()
        else:
            req.settle(*ans)

    def close(self) -> None:
        self._todo.put(None)
        try:
            self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


class PendingPoints(Sequence[G1Point]):
    """Points whose decompression and subgroup checks run in :class:`SubgroupChecks`' helpers (the rows of a
    commitment read with ``Reader.read_g1s_deferred``). Using one (indexing, iterating) waits for them and raises
    the error of the first point that is not on the curve or not in the subgroup; ``len`` does not wait."""

    def __init__(self, owner: SubgroupChecks, slots: list[tuple[_Request, int] | None]) -> None:
        self._owner = owner
        self._slots = slots  # per point: (request, index in it), or None for the identity
        self._points: list[G1Point] | None = None

    def __len__(self) -> int:
        return len(self._slots)

    def resolve(self) -> list[G1Point]:
        if self._points is None:
            for slot in self._slots:
                if slot is not None:
                    self._owner._settle(slot[0])
                    err = slot[0].error()
                    if err is not None:
                        raise err
            self._points = [
                G1Point.identity()
                if slot is None
                else G1Point.from_xy_bytes_unchecked_le(slot[0].xy[slot[1] * XY_BYTES : (slot[1] + 1) * XY_BYTES])
                for slot in self._slots
            ]
        return self._points

    @overload
    def __getitem__(self, i: int) -> G1Point: ...

    @overload
    def __getitem__(self, i: slice) -> list[G1Point]: ...

    def __getitem__(self, i: int | slice) -> G1Point | list[G1Point]:
        return self.resolve()[i]

    def __iter__(self) -> Iterator[G1Point]:
        return iter(self.resolve())


def _reworded(
    error: Callable[[str], Exception], reword: Callable[[Exception], Exception]
) -> Callable[[str], Exception]:
    return lambda reason: reword(error(reason))


class SubgroupChecks:
    """Collects decoded points (their affine bytes and a callback that builds the error naming them) and
    compressed points to decode, and checks them in helper processes; :meth:`finish` waits and raises the first
    failure, in reading order. Use once, then :meth:`close` (or as a context manager)."""

    def __init__(self, *, helpers: int | None = None, chunk: int | None = None) -> None:
        self._n_helpers = default_helpers() if helpers is None else max(0, helpers)
        self._chunk = max(1, CHUNK if chunk is None else chunk)
        self._helpers: list[_Helper] = []
        self._buf: list[bytes] = []
        self._where: list[Callable[[str], Exception]] = []
        self._requests: list[_Request] = []  # every request, in reading order
        self._failure: Exception | None = None
        self._reword: Callable[[Exception], Exception] | None = None
        self._closed = False
        self.points = 0

    def __enter__(self) -> SubgroupChecks:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    @contextmanager
    def errors_as(self, reword: Callable[[Exception], Exception]) -> Iterator[SubgroupChecks]:
        """Within the block, a point added is rejected by ``reword(error)`` instead of ``error``: a statement
        parsed with deferred checks reports its off-subgroup point as a ``StatementFormatError``, not as a
        malformed proof."""
        outer, self._reword = self._reword, reword
        try:
            yield self
        finally:
            self._reword = outer

    def _error(self, error: Callable[[str], Exception]) -> Callable[[str], Exception]:
        return error if self._reword is None else _reworded(error, self._reword)

    def add(self, point: G1Point, error: Callable[[], Exception]) -> None:
        """Queue ``point`` (on the curve, not the identity); ``error()`` builds the exception that rejects it."""
        self._buf.append(bytes(point.to_xy_bytes_le()))
        self._where.append(self._error(lambda _reason: error()))
        self.points += 1
        if len(self._buf) >= self._chunk:
            self._flush()

    def decode_later(
        self, compressed: Sequence[bytes | None], errors: Sequence[Callable[[str], Exception] | None]
    ) -> PendingPoints:
        """Points to decompress and check in the helpers: ``compressed[i]`` is 48 bytes with canonical flags and
        x < p (not the identity), or None for the identity; ``errors[i](reason)`` builds the exception that
        rejects point ``i`` (reason: not on the curve, or not in the subgroup)."""
        self._flush()  # the points added before these are checked first: the first failure is in reading order
        slots: list[tuple[_Request, int] | None] = []
        todo = [(b, e) for b, e in zip(compressed, errors, strict=True) if b is not None]
        reqs = []
        for k in range(0, len(todo), self._chunk):
            part = todo[k : k + self._chunk]
            errs = [self._error(e) for _, e in part if e is not None]
            if len(errs) != len(part):
                raise ValueError("every point to decode needs its error")
            reqs.append(_Request(DECODE, b"".join(b for b, _ in part), errs))
        j = 0
        for b in compressed:
            if b is None:
                slots.append(None)
            else:
                slots.append((reqs[j // self._chunk], j % self._chunk))
                j += 1
        for req in reqs:
            self._submit(req)
        self.points += len(todo)
        return PendingPoints(self, slots)

    def _flush(self) -> None:
        blob, where = b"".join(self._buf), self._where
        self._buf, self._where = [], []
        if blob:
            self._submit(_Request(CHECK, blob, where))

    def _submit(self, req: _Request) -> None:
        if self._closed:
            raise RuntimeError("this SubgroupChecks is closed")
        self._requests.append(req)
        helper = self._helper_for(len(self._requests) - 1)
        if helper is None:
            req.run_here()
        else:
            req.helper = helper
            self._helpers[helper].submit(req)

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

    def _settle(self, req: _Request) -> None:
        """Wait until ``req`` is answered (the answers of its helper come in submission order)."""
        while not req.done:
            if req.helper is None:
                req.run_here()
            elif self._closed:
                raise RuntimeError("this SubgroupChecks was closed before its checks finished")
            else:
                self._helpers[req.helper].answer_next()

    def finish(self) -> None:
        """Wait for every check; raise the error of the first point (in reading order) that failed."""
        if self._failure is None:
            tail = _Request(CHECK, b"".join(self._buf), self._where)
            self._buf, self._where = [], []
            for req in self._requests:
                self._settle(req)
                self._failure = req.error()
                if self._failure is not None:
                    break
            if self._failure is None:
                tail.run_here()
                self._failure = tail.error()
            self._requests = [r for r in self._requests if not r.done]
        if self._failure is not None:
            raise self._failure

    def close(self) -> None:
        self._closed = True
        for h in self._helpers:
            h.close()
        self._helpers = []
