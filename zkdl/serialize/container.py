"""The versioned binary proof container and the typed, validating payload reader/writer.

Layout (all integers little-endian; the exact format is in ``docs/proof-format.md``)::

    magic         8 B   b"ZKDLPRF\\0"
    version       u16   FORMAT_VERSION
    flags         u16   bit 0: FLAG_TRANSPARENT (non-zero-knowledge proof); other bits must be 0
    protocol id   u8 length L (1..64) + L bytes of printable ASCII
    n_sections    u32   (at most MAX_SECTIONS)
    n × section:  tag (4 B, [A-Z0-9_]) ‖ u64 payload length ‖ payload
    (nothing after the last section)

Every read validates; every failure raises :class:`~zkdl.errors.ProofFormatError` naming the section and the
offset. Nothing is allocated from a length field before the length has been checked against the input left.
"""

from __future__ import annotations

import struct
from collections.abc import Callable, Collection, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from py_arkworks_bls12381 import G1Point

from zkdl.errors import ProofFormatError
from zkdl.serialize.encoding import (
    FR_BYTES,
    FR_MODULUS,
    G1_BYTES,
    NOT_IN_SUBGROUP,
    first_noncanonical_fr,
    fr_single_to_bytes,
    frs_from_bytes,
    frs_to_bytes,
    g1_encoding_problem,
    g1_from_bytes,
    g1_from_bytes_deferred,
    g1_to_bytes,
    g1s_to_bytes,
)
from zkdl.serialize.subgroup import SubgroupChecks

MAGIC = b"ZKDLPRF\x00"
FORMAT_VERSION = 1
#: Header flag: the proof is transparent (not zero-knowledge).
FLAG_TRANSPARENT = 0x0001
KNOWN_FLAGS = FLAG_TRANSPARENT
FLAG_NAMES = {FLAG_TRANSPARENT: "transparent"}
MAX_SECTIONS = 256
MAX_PROTOCOL_ID = 64
MAX_SHAPE_DIMS = 32
_TAG_CHARS = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_")

_U16 = struct.Struct("<H")
_U32 = struct.Struct("<I")
_U64 = struct.Struct("<Q")


def _tag_bytes(tag: bytes | str) -> bytes:
    t = tag.encode("ascii") if isinstance(tag, str) else bytes(tag)
    if len(t) != 4 or not set(t) <= _TAG_CHARS:
        raise ValueError(f"section tag must be 4 characters from [A-Z0-9_], got {tag!r}")
    return t


def _tag_str(tag: bytes) -> str:
    return tag.decode("ascii", errors="backslashreplace")


def _protocol_bytes(protocol_id: bytes | str) -> bytes:
    p = protocol_id.encode("ascii") if isinstance(protocol_id, str) else bytes(protocol_id)
    if not 1 <= len(p) <= MAX_PROTOCOL_ID or not all(0x21 <= c <= 0x7E for c in p):
        raise ValueError(f"protocol id must be 1..{MAX_PROTOCOL_ID} printable ASCII characters, got {p!r}")
    return p


# ============================================================ payload writer


class Writer:
    """Builds one section payload with typed writes. Values are validated as they are written (a prover bug
    raises here rather than producing a proof the verifier rejects)."""

    __slots__ = ("_parts", "_len")

    def __init__(self) -> None:
        self._parts: list[bytes] = []
        self._len = 0

    def _put(self, b: bytes) -> None:
        self._parts.append(b)
        self._len += len(b)

    def __len__(self) -> int:
        return self._len

    def getvalue(self) -> bytes:
        return b"".join(self._parts)

    def write_u8(self, v: int) -> None:
        self._put(_uint(v, 1))

    def write_u16(self, v: int) -> None:
        self._put(_uint(v, 2))

    def write_u32(self, v: int) -> None:
        self._put(_uint(v, 4))

    def write_u64(self, v: int) -> None:
        self._put(_uint(v, 8))

    def write_bool(self, v: bool) -> None:
        if not isinstance(v, bool):
            raise TypeError(f"write_bool takes a bool, got {type(v).__name__}")
        self._put(b"\x01" if v else b"\x00")

    def write_raw(self, b: bytes | bytearray | memoryview) -> None:
        """Fixed-length bytes without a length prefix (the reader must know the length: ``read_raw(n)``)."""
        self._put(bytes(b))

    def write_bytes(self, b: bytes | bytearray | memoryview) -> None:
        """u64 length ‖ bytes."""
        b = bytes(b)
        self._put(_U64.pack(len(b)))
        self._put(b)

    def write_shape(self, shape: Sequence[int]) -> None:
        """u8 number of dimensions ‖ u64 per dimension."""
        dims = tuple(shape)
        if len(dims) > MAX_SHAPE_DIMS:
            raise ValueError(f"shape has {len(dims)} dimensions, at most {MAX_SHAPE_DIMS} allowed")
        self._put(bytes([len(dims)]) + b"".join(_uint(d, 8) for d in dims))

    def write_fr(self, x: Any) -> None:
        """One field element (int in [0, r) or a 32-byte ``to_le_bytes()`` object), 32 bytes canonical LE."""
        self._put(fr_single_to_bytes(x))

    def write_frs(self, xs: Any) -> None:
        """u64 count ‖ count·32 bytes. ``xs``: ints in [0, r), or an ``Fr`` vector (``to_le_bytes()``)."""
        n, buf = frs_to_bytes(xs)
        self._put(_U64.pack(n))
        self._put(buf)

    def write_g1(self, p: Any) -> None:
        """One point (``G1Point`` or 48 compressed bytes), 48 bytes."""
        self._put(g1_to_bytes(p))

    def write_g1s(self, points: Any) -> None:
        """u64 count ‖ count·48 bytes."""
        n, blob = g1s_to_bytes(points)
        self._put(_U64.pack(n))
        self._put(blob)


def _uint(v: int, width: int) -> bytes:
    if not isinstance(v, int) or isinstance(v, bool):
        raise TypeError(f"expected an int, got {type(v).__name__}")
    if not 0 <= v < 1 << (8 * width):
        raise ValueError(f"{v} does not fit into an unsigned {8 * width}-bit integer")
    return v.to_bytes(width, "little")


# ============================================================ payload reader


class Reader:
    """Typed, validating reads over one payload. Every failure raises ProofFormatError with the location.

    Use as a context manager (``with container.section("COMM") as r: ...``) to call :meth:`finish` — which
    rejects unread trailing bytes — automatically on a normal exit.
    """

    __slots__ = ("_mv", "_pos", "_name", "_base", "_finished", "_subgroup")

    def __init__(
        self,
        data: bytes | bytearray | memoryview,
        *,
        name: str = "payload",
        base: int = 0,
        subgroup: SubgroupChecks | None = None,
    ) -> None:
        """``subgroup``: defer the prime-order-subgroup check of every point read to that collector (the reader
        still checks the encoding and that the point is on the curve; the owner of ``subgroup`` must call its
        ``finish`` before accepting anything read here). Without it every point is fully checked at once."""
        self._mv = memoryview(data).cast("B") if not isinstance(data, memoryview) else data.cast("B")
        self._pos = 0
        self._name = name
        self._base = base
        self._finished = False
        self._subgroup = subgroup

    # -- bookkeeping
    @property
    def offset(self) -> int:
        return self._pos

    @property
    def remaining(self) -> int:
        return len(self._mv) - self._pos

    @property
    def finished(self) -> bool:
        return self._finished

    def _where(self, pos: int | None = None) -> str:
        pos = self._pos if pos is None else pos
        return f"{self._name} at offset {pos} (byte {self._base + pos} of the input)"

    def error(self, msg: str, pos: int | None = None) -> ProofFormatError:
        """A ProofFormatError located at ``pos`` (default: the current offset) of this payload."""
        return ProofFormatError(f"{self._where(pos)}: {msg}")

    def bytes_since(self, pos: int) -> bytes:
        """The bytes read from offset ``pos`` up to the current offset."""
        return bytes(self._mv[pos : self._pos])

    def _take(self, n: int, what: str) -> memoryview:
        if n > self.remaining:
            raise self.error(f"truncated: {what} needs {n} bytes, only {self.remaining} left")
        start = self._pos
        self._pos += n
        return self._mv[start : self._pos]

    def finish(self) -> None:
        """Reject unread bytes at the end of the payload."""
        if self.remaining:
            raise self.error(f"{self.remaining} trailing bytes after the last field")
        self._finished = True

    def __enter__(self) -> Reader:
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None:
            self.finish()

    # -- integers
    def read_u8(self) -> int:
        return self._take(1, "u8")[0]

    def read_u16(self) -> int:
        return _U16.unpack(self._take(2, "u16"))[0]

    def read_u32(self) -> int:
        return _U32.unpack(self._take(4, "u32"))[0]

    def read_u64(self) -> int:
        return _U64.unpack(self._take(8, "u64"))[0]

    def read_bool(self) -> bool:
        pos = self._pos
        v = self.read_u8()
        if v > 1:
            raise self.error(f"boolean byte is {v}, must be 0 or 1", pos)
        return v == 1

    def read_raw(self, n: int) -> bytes:
        """Exactly ``n`` bytes (a length the caller knows from the statement, not from the input)."""
        if n < 0:
            raise ValueError("read_raw needs a non-negative length")
        return bytes(self._take(n, f"{n} raw bytes"))

    def read_bytes(self, *, max_len: int | None = None) -> bytes:
        pos = self._pos
        n = self.read_u64()
        if max_len is not None and n > max_len:
            raise self.error(f"byte string of length {n} exceeds the maximum {max_len}", pos)
        return bytes(self._take(n, f"byte string of declared length {n}"))

    def read_shape(self, *, ndim: int | None = None) -> tuple[int, ...]:
        pos = self._pos
        k = self.read_u8()
        if k > MAX_SHAPE_DIMS:
            raise self.error(f"shape with {k} dimensions (at most {MAX_SHAPE_DIMS})", pos)
        if ndim is not None and k != ndim:
            raise self.error(f"shape has {k} dimensions, expected {ndim}", pos)
        raw = self._take(8 * k, f"shape of {k} dimensions")
        return tuple(_U64.unpack_from(raw, 8 * i)[0] for i in range(k))

    # -- field elements
    def read_fr(self) -> int:
        pos = self._pos
        x = int.from_bytes(self._take(FR_BYTES, "field element"), "little")
        if x >= FR_MODULUS:
            raise self.error("non-canonical field element (value >= r)", pos)
        return x

    def _read_count(self, unit: int, what: str, count: int | None, max_count: int | None) -> int:
        pos = self._pos
        n = self.read_u64()
        if count is not None and n != count:
            raise self.error(f"{what} count is {n}, expected {count}", pos)
        if max_count is not None and n > max_count:
            raise self.error(f"{what} count {n} exceeds the maximum {max_count}", pos)
        if n * unit > self.remaining:
            raise self.error(
                f"truncated: {n} {what}s need {n * unit} bytes, only {self.remaining} left after the count",
                pos,
            )
        return n

    def read_frs_bytes(self, *, count: int | None = None, max_count: int | None = None) -> bytes:
        """u64 count ‖ count·32 bytes, every element checked < r; returns the raw canonical bytes (for
        ``Fr.from_le_bytes``)."""
        n = self._read_count(FR_BYTES, "field element", count, max_count)
        pos = self._pos
        buf = self._take(n * FR_BYTES, "field elements")
        bad = first_noncanonical_fr(buf)
        if bad is not None:
            raise self.error(f"non-canonical field element {bad} of {n} (value >= r)", pos + bad * FR_BYTES)
        return bytes(buf)

    def read_frs(self, *, count: int | None = None, max_count: int | None = None) -> list[int]:
        """Like :meth:`read_frs_bytes`, as a list of Python ints."""
        return frs_from_bytes(self.read_frs_bytes(count=count, max_count=max_count))

    # -- points
    def read_g1(self, *, allow_identity: bool) -> G1Point:
        """One compressed point: canonical flags, x < p, on the curve, in the prime-order subgroup.
        ``allow_identity`` must be decided by the caller (see docs/proof-format.md)."""
        pos = self._pos
        raw = self._take(G1_BYTES, "G1 point")
        try:
            if self._subgroup is None:
                return g1_from_bytes(raw, allow_identity=allow_identity)
            point, on_curve_only = g1_from_bytes_deferred(raw, allow_identity=allow_identity)
        except ValueError as e:
            raise self.error(f"invalid G1 point: {e}", pos) from None
        if on_curve_only:
            self._subgroup.add(point, lambda: self.error(f"invalid G1 point: {NOT_IN_SUBGROUP}", pos))
        return point

    def read_g1s(
        self, *, allow_identity: bool, count: int | None = None, max_count: int | None = None
    ) -> list[G1Point]:
        """u64 count ‖ count·48 bytes, each point validated as in :meth:`read_g1`."""
        n = self._read_count(G1_BYTES, "G1 point", count, max_count)
        out = []
        for _ in range(n):
            out.append(self.read_g1(allow_identity=allow_identity))
        return out

    def read_g1s_deferred(
        self, *, allow_identity: bool, count: int | None = None, max_count: int | None = None
    ) -> Sequence[G1Point]:
        """Like :meth:`read_g1s`, for points the caller does not compute with until its final checks (the rows of
        a commitment): with a ``subgroup`` collector their encodings are checked here (flags, x < p, the identity
        rule) and their decompression and subgroup test run in its helpers; the :class:`PendingPoints` returned
        waits for them when first used and raises the error of a point off the curve or off the subgroup at its
        offset. Without a collector: :meth:`read_g1s`."""
        if self._subgroup is None:
            return self.read_g1s(allow_identity=allow_identity, count=count, max_count=max_count)
        n = self._read_count(G1_BYTES, "G1 point", count, max_count)
        compressed: list[bytes | None] = []
        errors: list[Callable[[str], Exception] | None] = []
        for _ in range(n):
            pos = self._pos
            raw = bytes(self._take(G1_BYTES, "G1 point"))
            problem = g1_encoding_problem(raw)
            if problem is None and raw[0] & 0x40 and not allow_identity:
                problem = "identity point not allowed here"
            if problem is not None:
                raise self.error(f"invalid G1 point: {problem}", pos)
            if raw[0] & 0x40:  # the canonical identity
                compressed.append(None)
                errors.append(None)
            else:
                compressed.append(raw)
                errors.append(self._point_error(pos))
        return self._subgroup.decode_later(compressed, errors)

    def _point_error(self, pos: int) -> Callable[[str], Exception]:
        """The rejection of the point at ``pos``, for a reason found later (off the curve, off the subgroup)."""
        return lambda reason: self.error(f"invalid G1 point: {reason}", pos)


# ============================================================ container


class ContainerWriter:
    """Assembles a proof container: header plus ordered sections."""

    def __init__(self, protocol_id: bytes | str, *, flags: int = 0) -> None:
        if not isinstance(flags, int) or flags & ~KNOWN_FLAGS or flags < 0:
            raise ValueError(f"unknown flag bits in {flags!r}")
        self._protocol = _protocol_bytes(protocol_id)
        self._flags = flags
        self._sections: list[tuple[bytes, bytes]] = []

    def add_section(self, tag: bytes | str, payload: bytes | bytearray | memoryview | Writer) -> None:
        t = _tag_bytes(tag)
        if any(t == s for s, _ in self._sections):
            raise ValueError(f"duplicate section {_tag_str(t)!r}")
        if len(self._sections) >= MAX_SECTIONS:
            raise ValueError(f"more than {MAX_SECTIONS} sections")
        data = payload.getvalue() if isinstance(payload, Writer) else bytes(payload)
        self._sections.append((t, data))

    @contextmanager
    def section(self, tag: bytes | str) -> Iterator[Writer]:
        """``with cw.section("COMM") as w: w.write_g1s(...)`` adds the section on a normal exit."""
        _tag_bytes(tag)
        w = Writer()
        yield w
        self.add_section(tag, w)

    def to_bytes(self) -> bytes:
        head = [
            MAGIC,
            _U16.pack(FORMAT_VERSION),
            _U16.pack(self._flags),
            bytes([len(self._protocol)]),
            self._protocol,
            _U32.pack(len(self._sections)),
        ]
        for t, data in self._sections:
            head += [t, _U64.pack(len(data)), data]
        return b"".join(head)


@dataclass(frozen=True)
class SectionInfo:
    tag: str
    offset: int  #: absolute offset of the payload in the container
    length: int


@dataclass(frozen=True)
class Header:
    format_version: int
    flags: int
    protocol_id: str
    sections: tuple[SectionInfo, ...]
    total_bytes: int

    @property
    def transparent(self) -> bool:
        return bool(self.flags & FLAG_TRANSPARENT)


def parse_header(data: bytes | bytearray | memoryview) -> Header:
    """Parse and syntactically validate a container (magic, version, flags, protocol id, section framing,
    no trailing bytes). Section contents and the section schema are not checked here."""
    r = Reader(data, name="header")
    magic = bytes(r._take(len(MAGIC), "magic"))
    if magic != MAGIC:
        raise r.error(f"bad magic {magic!r}: not a zkdl proof (expected {MAGIC!r})", 0)
    pos = r.offset
    version = r.read_u16()
    if version != FORMAT_VERSION:
        raise r.error(f"unsupported format version {version} (this build reads version {FORMAT_VERSION})", pos)
    pos = r.offset
    flags = r.read_u16()
    if flags & ~KNOWN_FLAGS:
        raise r.error(f"unknown flag bits 0x{flags & ~KNOWN_FLAGS:04x}", pos)
    pos = r.offset
    plen = r.read_u8()
    if not 1 <= plen <= MAX_PROTOCOL_ID:
        raise r.error(f"protocol id length {plen} outside 1..{MAX_PROTOCOL_ID}", pos)
    proto = bytes(r._take(plen, "protocol id"))
    if not all(0x21 <= c <= 0x7E for c in proto):
        raise r.error(f"protocol id {proto!r} is not printable ASCII", pos + 1)
    pos = r.offset
    nsec = r.read_u32()
    if nsec > MAX_SECTIONS:
        raise r.error(f"{nsec} sections (at most {MAX_SECTIONS})", pos)
    infos: list[SectionInfo] = []
    seen: set[bytes] = set()
    for i in range(nsec):
        pos = r.offset
        tag = bytes(r._take(4, f"tag of section {i}"))
        if not set(tag) <= _TAG_CHARS:
            raise r.error(f"section {i} has an invalid tag {tag!r}", pos)
        if tag in seen:
            raise r.error(f"duplicate section {_tag_str(tag)!r}", pos)
        seen.add(tag)
        lpos = r.offset
        n = r.read_u64()
        if n > r.remaining:
            raise r.error(f"section {_tag_str(tag)!r} declares {n} payload bytes, only {r.remaining} left", lpos)
        infos.append(SectionInfo(_tag_str(tag), r.offset, n))
        r._take(n, "section payload")
    if r.remaining:
        raise r.error(f"{r.remaining} trailing bytes after the last section")
    return Header(version, flags, proto.decode("ascii"), tuple(infos), len(r._mv))


class ContainerReader:
    """Opens a container against an expected schema and hands out validating :class:`Reader` per section.

    ``layout`` is the ordered list of section tags this protocol writes; sections must appear in that order,
    tags not in ``layout`` are rejected, tags in ``layout`` and not in ``optional`` are required. ``flags``,
    if given, must equal the header flags exactly (e.g. refuse a transparent proof where a zero-knowledge one
    is expected). :meth:`finish` checks that every present section was opened and read to its end.
    """

    def __init__(
        self,
        data: bytes | bytearray | memoryview,
        *,
        protocol_id: bytes | str,
        layout: Sequence[bytes | str],
        optional: Collection[bytes | str] = (),
        flags: int | None = None,
        subgroup: SubgroupChecks | None = None,
    ) -> None:
        """``subgroup``: passed to every section :class:`Reader` (deferred subgroup checks of the points)."""
        self._subgroup = subgroup
        self._data = memoryview(data).cast("B") if not isinstance(data, memoryview) else data.cast("B")
        self.header = parse_header(self._data)
        expected_proto = _protocol_bytes(protocol_id).decode("ascii")
        if self.header.protocol_id != expected_proto:
            raise ProofFormatError(f"header: protocol id is {self.header.protocol_id!r}, expected {expected_proto!r}")
        if flags is not None and self.header.flags != flags:
            raise ProofFormatError(f"header: flags are {_flag_desc(self.header.flags)}, expected {_flag_desc(flags)}")
        order = [_tag_str(_tag_bytes(t)) for t in layout]
        if len(set(order)) != len(order):
            raise ValueError("layout lists a tag twice")
        opt = {_tag_str(_tag_bytes(t)) for t in optional}
        rank = {t: i for i, t in enumerate(order)}
        last = -1
        self._infos: dict[str, SectionInfo] = {}
        for info in self.header.sections:
            where = f"section {info.tag!r} (payload at byte {info.offset})"
            if info.tag not in rank:
                raise ProofFormatError(f"{where}: unknown section tag for protocol {expected_proto!r}")
            if rank[info.tag] < last:
                raise ProofFormatError(f"{where}: out of order (expected order {order})")
            last = rank[info.tag]
            self._infos[info.tag] = info
        missing = [t for t in order if t not in opt and t not in self._infos]
        if missing:
            raise ProofFormatError(f"header: missing required section(s) {missing}")
        self._readers: dict[str, Reader] = {}

    @property
    def format_version(self) -> int:
        return self.header.format_version

    @property
    def flags(self) -> int:
        return self.header.flags

    @property
    def transparent(self) -> bool:
        return self.header.transparent

    @property
    def protocol_id(self) -> str:
        return self.header.protocol_id

    def has(self, tag: bytes | str) -> bool:
        return _tag_str(_tag_bytes(tag)) in self._infos

    def section(self, tag: bytes | str) -> Reader:
        """The Reader over one section's payload (each section may be opened once)."""
        t = _tag_str(_tag_bytes(tag))
        info = self._infos.get(t)
        if info is None:
            raise ProofFormatError(f"section {t!r} is absent")
        if t in self._readers:
            raise ValueError(f"section {t!r} opened twice")
        payload = self._data[info.offset : info.offset + info.length]
        r = Reader(payload, name=f"section {t!r}", base=info.offset, subgroup=self._subgroup)
        self._readers[t] = r
        return r

    def finish(self) -> None:
        """Every present section must have been opened and read completely (Reader.finish)."""
        for t in self._infos:
            r = self._readers.get(t)
            if r is None:
                raise ProofFormatError(f"section {t!r} was present but never read")
            if not r.finished:
                r.finish()


def _flag_desc(flags: int) -> str:
    names = [name for bit, name in FLAG_NAMES.items() if flags & bit]
    return f"0x{flags:04x} ({', '.join(names) if names else 'zero-knowledge'})"


def describe(data: bytes | bytearray | memoryview) -> dict[str, Any]:
    """A JSON-able summary of a container (for ``zkdl inspect``): version, flags, protocol id, section sizes.
    Validates the framing (raises ProofFormatError) but not section contents."""
    h = parse_header(data)
    header_bytes = h.sections[0].offset - 12 if h.sections else h.total_bytes
    return {
        "format_version": h.format_version,
        "flags": h.flags,
        "flag_names": [name for bit, name in FLAG_NAMES.items() if h.flags & bit],
        "zero_knowledge": not h.transparent,
        "protocol_id": h.protocol_id,
        "total_bytes": h.total_bytes,
        "header_bytes": header_bytes,
        "sections": [{"tag": s.tag, "offset": s.offset, "length": s.length} for s in h.sections],
    }


def section_sizes(data: bytes | bytearray | memoryview) -> dict[str, int]:
    """Payload bytes per section tag, in container order."""
    return {s.tag: s.length for s in parse_header(data).sections}


__all__ = [
    "MAGIC",
    "FORMAT_VERSION",
    "FLAG_TRANSPARENT",
    "KNOWN_FLAGS",
    "MAX_SECTIONS",
    "Writer",
    "Reader",
    "ContainerWriter",
    "ContainerReader",
    "Header",
    "SectionInfo",
    "parse_header",
    "describe",
    "section_sizes",
]
