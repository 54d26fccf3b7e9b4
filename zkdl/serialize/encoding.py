"""Canonical byte encodings shared by the proof format and the transcript.

- A field element of Fr is 32 bytes, little-endian, standard (non-Montgomery) form, value < r.
- A G1 point is 48 bytes in the ZCash compressed format (big-endian x with three flag bits in the top of
  byte 0: 0x80 compressed, 0x40 infinity, 0x20 sign of y). The only accepted encoding of the identity is
  0xc0 followed by 47 zero bytes (arkworks itself accepts garbage after the infinity flag, so the flags are
  checked here).

This module is the bottom of the stack: it imports nothing from zkdl but the errors and the curve constants.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from py_arkworks_bls12381 import G1Point

from zkdl.constants import FP_MODULUS, FR_BYTES, FR_MODULUS, G1_BYTES
from zkdl.errors import FieldRangeError

#: The canonical compressed encoding of the identity (point at infinity).
G1_IDENTITY_BYTES = b"\xc0" + bytes(47)

_FLAG_COMPRESSED = 0x80
_FLAG_INFINITY = 0x40
_FLAG_SIGN = 0x20
_X_MASK = (1 << 381) - 1
_M64 = (1 << 64) - 1
_R_LIMBS = tuple(np.uint64((FR_MODULUS >> (64 * i)) & _M64) for i in range(4))


# ------------------------------------------------------------ field elements


def fr_to_bytes(x: int) -> bytes:
    """32-byte canonical encoding of one field element given as a Python int in [0, r)."""
    if not isinstance(x, int) or isinstance(x, bool):
        raise FieldRangeError(f"a field element must be an int in [0, r), got {type(x).__name__}")
    if not 0 <= x < FR_MODULUS:
        raise FieldRangeError("field element outside [0, r)")
    return x.to_bytes(FR_BYTES, "little")


def first_noncanonical_fr(buf: bytes | bytearray | memoryview) -> int | None:
    """Index of the first 32-byte little-endian chunk of ``buf`` whose value is >= r, or None if all are < r.

    Vectorised with numpy; ``len(buf)`` must be a multiple of 32.
    """
    if len(buf) % FR_BYTES:
        raise ValueError("buffer length is not a multiple of 32")
    if not len(buf):
        return None
    a = np.frombuffer(buf, dtype="<u8").reshape(-1, 4)
    r0, r1, r2, r3 = _R_LIMBS
    x3 = a[:, 3]
    lt = x3 < r3
    if lt.all():
        return None
    x0, x1, x2 = a[:, 0], a[:, 1], a[:, 2]
    lt |= (x3 == r3) & ((x2 < r2) | ((x2 == r2) & ((x1 < r1) | ((x1 == r1) & (x0 < r0)))))
    if lt.all():
        return None
    return int(np.argmin(lt))


def frs_to_bytes(xs: Any) -> tuple[int, bytes]:
    """(count, N·32 canonical bytes) of a field vector.

    Accepts an object with ``to_le_bytes()`` returning N·32 bytes (``zkdl.field.Fr``; a single arkworks
    ``Scalar`` counts as a vector of one), or a sequence whose items are ints in [0, r) or objects with
    ``to_le_bytes()`` returning 32 bytes. Every element is checked to be canonical.
    """
    if hasattr(xs, "to_le_bytes"):
        buf = bytes(xs.to_le_bytes())
        if len(buf) % FR_BYTES:
            raise FieldRangeError(f"to_le_bytes() returned {len(buf)} bytes, not a multiple of 32")
    elif isinstance(xs, (bytes, bytearray, memoryview, str)):
        raise TypeError("field vectors are given as ints or Fr objects, not raw bytes")
    else:
        if not isinstance(xs, Sequence):
            xs = list(xs)
        if xs and all(type(x) is int for x in xs):
            if min(xs) < 0 or max(xs) >= FR_MODULUS:
                raise FieldRangeError("field element outside [0, r) in vector")
            return len(xs), b"".join([x.to_bytes(FR_BYTES, "little") for x in xs])
        buf = b"".join([_one_fr_bytes(x) for x in xs])
    bad = first_noncanonical_fr(buf)
    if bad is not None:
        raise FieldRangeError(f"field element {bad} of the vector is not canonical (>= r)")
    return len(buf) // FR_BYTES, buf


def _one_fr_bytes(x: Any) -> bytes:
    if isinstance(x, int) and not isinstance(x, bool):
        return fr_to_bytes(x)
    if hasattr(x, "to_le_bytes"):
        b = bytes(x.to_le_bytes())
        if len(b) != FR_BYTES:
            raise FieldRangeError(f"to_le_bytes() of a single element returned {len(b)} bytes, not 32")
        return b
    raise FieldRangeError(f"a field element must be an int in [0, r), got {type(x).__name__}")


def fr_single_to_bytes(x: Any) -> bytes:
    """32 canonical bytes of one field element: an int in [0, r) or an object whose ``to_le_bytes()`` gives 32
    canonical bytes (arkworks ``Scalar``, a length-1 ``Fr``)."""
    b = _one_fr_bytes(x)
    if first_noncanonical_fr(b) is not None:
        raise FieldRangeError("field element is not canonical (>= r)")
    return b


def frs_from_bytes(buf: bytes | bytearray | memoryview) -> list[int]:
    """Python ints of N·32 little-endian bytes (no range check; see :func:`first_noncanonical_fr`)."""
    mv = memoryview(buf)
    return [int.from_bytes(mv[i : i + FR_BYTES], "little") for i in range(0, len(mv), FR_BYTES)]


# ------------------------------------------------------------ G1 points


def g1_to_bytes(p: Any) -> bytes:
    """48-byte compressed encoding of a point given as an arkworks ``G1Point`` or as 48 bytes.

    Bytes are checked for length and flag canonicity only (no decompression); they must come from a
    validated source (e.g. :meth:`zkdl.serialize.Reader.read_g1`) or from ``to_compressed_bytes``.
    """
    if isinstance(p, G1Point):
        return bytes(p.to_compressed_bytes())
    if isinstance(p, (bytes, bytearray, memoryview)):
        b = bytes(p)
        problem = g1_encoding_problem(b)
        if problem is not None:
            raise ValueError(f"invalid compressed G1 encoding: {problem}")
        return b
    raise TypeError(f"a G1 point must be a G1Point or 48 bytes, got {type(p).__name__}")


def g1s_to_bytes(points: Any) -> tuple[int, bytes]:
    """(count, n·48 bytes) of a list of points (``G1Point`` or 48-byte items), or of one pre-joined blob whose
    length is a multiple of 48 (each 48-byte chunk is flag-checked)."""
    if isinstance(points, (bytes, bytearray, memoryview)):
        blob = bytes(points)
        if len(blob) % G1_BYTES:
            raise ValueError(f"G1 blob of {len(blob)} bytes is not a multiple of 48")
        for i in range(0, len(blob), G1_BYTES):
            problem = g1_encoding_problem(blob[i : i + G1_BYTES])
            if problem is not None:
                raise ValueError(f"invalid compressed G1 encoding at point {i // G1_BYTES}: {problem}")
        return len(blob) // G1_BYTES, blob
    parts = [g1_to_bytes(p) for p in points]
    return len(parts), b"".join(parts)


def g1_encoding_problem(b: bytes | memoryview) -> str | None:
    """Why 48 bytes are not a canonical compressed G1 encoding (flags, infinity form, x >= p), or None.

    Does not check that x is on the curve or in the subgroup; arkworks' checked decompression does that.
    """
    if len(b) != G1_BYTES:
        return f"expected 48 bytes, got {len(b)}"
    flags = b[0]
    if not flags & _FLAG_COMPRESSED:
        return "compression flag (0x80) not set"
    if flags & _FLAG_INFINITY:
        if bytes(b) != G1_IDENTITY_BYTES:
            return "non-canonical identity encoding (must be 0xc0 followed by 47 zero bytes)"
        return None
    x = int.from_bytes(b, "big") & _X_MASK
    if x >= FP_MODULUS:
        return "x coordinate >= p"
    return None


def g1_from_bytes(b: bytes | memoryview, *, allow_identity: bool) -> G1Point:
    """Decode and fully validate one compressed point: canonical flags, x < p, on the curve, in the
    prime-order subgroup. Raises ``ValueError`` with the reason (the Reader wraps it into
    ProofFormatError)."""
    problem = g1_encoding_problem(b)
    if problem is not None:
        raise ValueError(problem)
    b = bytes(b)
    if b[0] & _FLAG_INFINITY:
        if not allow_identity:
            raise ValueError("identity point not allowed here")
        return G1Point.identity()
    point = _ark_decode(G1Point.from_compressed_bytes, b)
    if point is not None:
        return point
    # diagnose (failure path only): does the unchecked decoding find a curve point for this x?
    if _ark_decode(G1Point.from_compressed_bytes_unchecked, b) is None:
        raise ValueError(NOT_ON_CURVE)
    raise ValueError(NOT_IN_SUBGROUP)


NOT_IN_SUBGROUP = "point on the curve but not in the prime-order subgroup"
NOT_ON_CURVE = "x is not the coordinate of a point on the curve (not on the curve)"


def g1_from_bytes_deferred(b: bytes | memoryview, *, allow_identity: bool) -> tuple[G1Point, bool]:
    """Like :func:`g1_from_bytes` without the subgroup check: ``(point, True)`` for a point on the curve whose
    subgroup membership the caller must still check (see :mod:`zkdl.serialize.subgroup`), ``(identity, False)``
    for the canonical identity. Raises ``ValueError`` for a bad encoding or an x off the curve."""
    problem = g1_encoding_problem(b)
    if problem is not None:
        raise ValueError(problem)
    b = bytes(b)
    if b[0] & _FLAG_INFINITY:
        if not allow_identity:
            raise ValueError("identity point not allowed here")
        return G1Point.identity(), False
    point = _ark_decode(G1Point.from_compressed_bytes_unchecked, b)
    if point is None:
        raise ValueError(NOT_ON_CURVE)
    return point, True


def _ark_decode(fn, b: bytes) -> G1Point | None:
    """Call an arkworks decoder; None on any failure, including a Rust panic (pyo3's PanicException derives
    from BaseException, not Exception)."""
    try:
        return fn(b)
    except (KeyboardInterrupt, SystemExit, GeneratorExit):
        raise
    except BaseException:
        return None


def g1s_from_bytes(blob: bytes | memoryview, *, allow_identity: bool) -> list[G1Point]:
    """Decode n·48 bytes into validated points; raises ValueError naming the index of the first bad point.

    arkworks' checked decompression (~70 µs/point) holds the GIL (measured: no speed-up from threads), so
    this is a plain loop; a verifier that reads many points defers the subgroup checks to helper processes
    instead (:class:`zkdl.serialize.Reader` with ``subgroup=``, :mod:`zkdl.serialize.subgroup`).
    """
    out = []
    for i in range(0, len(blob), G1_BYTES):
        try:
            out.append(g1_from_bytes(blob[i : i + G1_BYTES], allow_identity=allow_identity))
        except ValueError as e:
            raise ValueError(f"point {i // G1_BYTES}: {e}") from None
    return out


__all__ = [
    "FR_MODULUS",
    "FP_MODULUS",
    "FR_BYTES",
    "G1_BYTES",
    "G1_IDENTITY_BYTES",
    "fr_to_bytes",
    "fr_single_to_bytes",
    "frs_to_bytes",
    "frs_from_bytes",
    "first_noncanonical_fr",
    "g1_to_bytes",
    "g1s_to_bytes",
    "g1_encoding_problem",
    "g1_from_bytes",
    "g1_from_bytes_deferred",
    "g1s_from_bytes",
    "NOT_IN_SUBGROUP",
    "NOT_ON_CURVE",
]
