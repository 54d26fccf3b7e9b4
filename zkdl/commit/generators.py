"""Public parameters: Pedersen generators in BLS12-381 G1 derived by hash-to-curve, cached on disk.

Derivation (nobody knows a discrete-log relation between any two generators)
---------------------------------------------------------------------------
Every generator is ``hash_to_curve(msg, DST)`` with the RFC 9380 suite ``BLS12381G1_XMD:SHA-256_SSWU_RO_``:

* ``DST = b"ZKDL-V01-CS01-with-BLS12381G1_XMD:SHA-256_SSWU_RO_"`` (:data:`DST`)
* ``msg = LABEL || 0x00 || kind || index as 8 bytes big-endian`` with ``LABEL = b"zkdl/v1/generators"`` and
  ``kind`` one byte: ``b"h"`` the blinding generator ``h`` (index 0), ``b"v"`` the value generator ``g_v``
  (index 0; used for commitments to single field elements ``v·g_v + ρ·h``), ``b"g"`` the vector generators
  ``g_0, g_1, …``.

The points are computed with blst (``pyblst``, 4× faster than arkworks, byte-identical) and handed to arkworks
(``py_arkworks_bls12381``), which does every multi-scalar multiplication.

The canonical set and its pinned digest (what a verifier trusts)
----------------------------------------------------------------
The canonical set is the stream ``h, g_v, g_0, …, g_{N_MAX−1}`` (``N_MAX = 2^16`` vector generators: rows of
up to 2^16 columns, tensors of up to 2^32 entries). It is cut into chunks of ``CHUNK = 4096`` points (the last
one shorter); the SHA-256 of every chunk's point bytes was computed when the set was derived and is pinned in
this module (:data:`PINNED_CHUNK_HASHES`; ``tests/zkdl/test_commit_generators.py`` re-derives all of them). The
statement digest is

    ``GENERATORS_DIGEST = SHA-256(b"zkdl/public-params/v2" || len16(LABEL) || LABEL || len16(DST) || DST ||
    u32(FORMAT_VERSION) || u64(N_MAX) || u32(CHUNK) || chunk hash 0 || … || chunk hash 16)``

so it commits to every generator any proof may use: no statement may use more than ``N_MAX`` (the verifier
accepts only the canonical commitment layouts, whose rows have at most ``N_MAX`` columns). Every chunk the
loader hands out is hashed and compared with its **pinned** hash (not with a hash stored in the file), so a
cache built by another rule, or tampered with and re-hashed consistently, is refused with a :class:`SetupError`
that says to re-derive it with ``zkdl setup``. Nothing is ever regenerated silently.

Cache file (format version 2; all integers little-endian)
---------------------------------------------------------
::

    magic        8 bytes   b"ZKDLGEN\\x00"
    format       u32       2
    label_len    u16, label bytes
    dst_len      u16, dst bytes
    n_extra      u32       2 (h, g_v)
    count        u64       number of vector generators g_0 … g_{count-1}: whole chunks (count + 2 a multiple of
                           CHUNK) or count = N_MAX
    chunk        u32       points per chunk (4096)
    n_chunks     u32
    chunk table  n_chunks × 32 bytes: SHA-256 of each chunk's point bytes (must equal the pinned hashes)
    header hash  32 bytes: SHA-256 of every byte above
    points       (n_extra + count) × 96 bytes: affine x‖y, little-endian (arkworks ``to_xy_bytes_le``),
                 in the order h, g_v, g_0, g_1, …; chunk k holds points [k·chunk, (k+1)·chunk)

The header hash is :attr:`PublicParams.file_digest`. Loading checks the header, its hash and its chunk table
against the pinned hashes at once, and each chunk's bytes against its pinned hash when the chunk is first needed
(lazy loading: a prover that needs 2^10 generators from a cache of 2^16 reads and hashes 1 chunk; hashing a
chunk costs about 1 ms, recomputing it by hash-to-curve about 0.6 s).
"""

from __future__ import annotations

import hashlib
import os
import struct
import threading
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pyblst
from py_arkworks_bls12381 import G1Point

from zkdl.errors import SetupError

LABEL = b"zkdl/v1/generators"
DST = b"ZKDL-V01-CS01-with-BLS12381G1_XMD:SHA-256_SSWU_RO_"
FORMAT_VERSION = 2
MAGIC = b"ZKDLGEN\x00"
CHUNK = 4096
N_EXTRA = 2  # h, g_v
XY_BYTES = 96
CACHE_FILENAME = "generators-v2.bin"
N_MAX = 1 << 16  #: vector generators in the canonical set (the most any statement may use)
STREAM_MAX = N_MAX + N_EXTRA
N_CHUNKS_MAX = -(-STREAM_MAX // CHUNK)
REDERIVE = "re-derive it with `zkdl setup` (or pass no --params to use the default cache)"

#: SHA-256 of the point bytes of chunk k of the canonical stream h, g_v, g_0, …, g_{N_MAX−1}, computed when the
#: set was derived (``_derive_chunk``); the test suite re-derives every one.
PINNED_CHUNK_HASHES: tuple[bytes, ...] = tuple(
    bytes.fromhex(h)
    for h in (
        "ba0ed57c0f3ea894f51347e8f5d9eb53557e041d1c87ab3c5d924b898362a3c6",
        "5f4a94320a7433ef3b34b23722dd726b65c73a1e05fe8d7a104198f1f7e722c8",
        "b2b91cb85f549ef5a39a2da27f7bbae61e226a90f439f8dfc5da2e245dd68bcd",
        "eacfbaf935a09d957c3d902094bac86a7942373d3b1fb74acfc759ddd861d158",
        "0cca8301a6b8b06211a89d56b792ddb53188446ce3dd222637fef26ebbfad861",
        "6457f84c350e8374a22e906fbdd8c25c92a9c364ed92ae257e8f4113dbeef163",
        "8bc1ce0d1ca5928114a632ce7a188dc47a83c4bff76409594b5f99228ceaeb92",
        "1b3fd2303f3b0dbb4ddc8fe6b7662043f18e5f35f0dd1ca85eac5d2fa80f5a4d",
        "300903fd0fcc95f04c9b9ac3e796fdefa7e6346508d1a2ba700cec08d8905b33",
        "d4eb215e288555ad4493c9970db2dad3a22a3e73f909959216a134944b6085f4",
        "fff60cc2c517bfb1f5b9747558029a59dc6434cdd6ba310b26f9562888ffe3ee",
        "d98c251c81b5da6957c7258b58ad188f570db87393e1a7c28f0ef4690c4444ec",
        "2990984833dc90afdcc818555fabc95446ebeca648a51e7b6426aa15f823dce5",
        "616b63099ef13d7a300799fc4a8994ff2eee4bed5f32ccf1e45896ab1e9e842e",
        "19a718fe1c745fae1096505efcd71de804023caa8f903febea78861361a85304",
        "5efda254e45fec6482c77f200e8db9025843a65f4f12df6411e79aca8b9ae265",
        "4669395731be39953806c075f128ff1daccf317c504052e590ba74e99a99f460",
    )
)

KIND_VECTOR = b"g"
KIND_BLINDING = b"h"
KIND_VALUE = b"v"


def generator_message(kind: bytes, index: int, label: bytes | None = None) -> bytes:
    """The hash-to-curve message of generator ``(kind, index)`` (see the module docstring)."""
    label = LABEL if label is None else label
    if len(kind) != 1:
        raise ValueError("kind must be one byte")
    return label + b"\x00" + kind + int(index).to_bytes(8, "big")


def _hash_compressed(msg: bytes, dst: bytes) -> bytes:
    return pyblst.BlstP1Element().hash_to_group(msg, dst).compress()


def derive_point(kind: bytes, index: int, label: bytes | None = None, dst: bytes | None = None) -> G1Point:
    """Recompute one generator from scratch (blst hash-to-curve, then arkworks)."""
    msg = generator_message(kind, index, label)
    return G1Point.from_compressed_bytes_unchecked(_hash_compressed(msg, DST if dst is None else dst))


def _derive_xy(specs: Sequence[tuple[bytes, int]], label: bytes, dst: bytes) -> bytes:
    out = bytearray()
    for kind, index in specs:  # one hash-to-curve per generator: inherently a per-point loop (setup only)
        c = _hash_compressed(generator_message(kind, index, label), dst)
        out += G1Point.from_compressed_bytes_unchecked(c).to_xy_bytes_le()
    return bytes(out)


def _points_from_xy(buf: bytes) -> list[G1Point]:
    return [G1Point.from_xy_bytes_unchecked_le(buf[i : i + XY_BYTES]) for i in range(0, len(buf), XY_BYTES)]


def _stream_spec(start: int, stop: int) -> list[tuple[bytes, int]]:
    """Specs of points [start, stop) of the stored stream h, g_v, g_0, g_1, …"""
    out = []
    for j in range(start, stop):
        if j == 0:
            out.append((KIND_BLINDING, 0))
        elif j == 1:
            out.append((KIND_VALUE, 0))
        else:
            out.append((KIND_VECTOR, j - N_EXTRA))
    return out


def params_digest(chunk_hashes: Sequence[bytes]) -> bytes:
    """The statement digest of a generator set given the hashes of all its chunks (module docstring)."""
    m = hashlib.sha256(b"zkdl/public-params/v2")
    m.update(struct.pack("<H", len(LABEL)) + LABEL + struct.pack("<H", len(DST)) + DST)
    m.update(struct.pack("<IQI", FORMAT_VERSION, N_MAX, CHUNK))
    for hsh in chunk_hashes:
        m.update(hsh)
    return m.digest()


#: The digest every statement names: it commits to all ``N_MAX + 2`` canonical generators.
GENERATORS_DIGEST = params_digest(PINNED_CHUNK_HASHES)


def _chunk_bounds(k: int) -> tuple[int, int]:
    return k * CHUNK, min((k + 1) * CHUNK, STREAM_MAX)


def _derive_chunk(k: int) -> bytes:
    """The point bytes of chunk k of the canonical stream, by hash-to-curve."""
    lo, hi = _chunk_bounds(k)
    return _derive_xy(_stream_spec(lo, hi), LABEL, DST)


def _whole_chunks(n: int) -> int:
    """The cache size (vector generators) that holds ``n``: whole chunks, at most ``N_MAX``."""
    return min(N_MAX, _n_chunks(n) * CHUNK - N_EXTRA)


def default_cache_dir() -> Path:
    """``$ZKDL_HOME`` if set, else ``$XDG_CACHE_HOME/zkdl``, else ``~/.cache/zkdl``."""
    home = os.environ.get("ZKDL_HOME")
    if home:
        return Path(home)
    xdg = os.environ.get("XDG_CACHE_HOME")
    return (Path(xdg) if xdg else Path.home() / ".cache") / "zkdl"


def default_cache_path() -> Path:
    return default_cache_dir() / CACHE_FILENAME


def _pack_header(label: bytes, dst: bytes, count: int, chunk_hashes: Sequence[bytes]) -> bytes:
    hdr = bytearray(MAGIC)
    hdr += struct.pack("<I", FORMAT_VERSION)
    hdr += struct.pack("<H", len(label)) + label
    hdr += struct.pack("<H", len(dst)) + dst
    hdr += struct.pack("<IQII", N_EXTRA, count, CHUNK, len(chunk_hashes))
    for hsh in chunk_hashes:
        hdr += hsh
    hdr += hashlib.sha256(bytes(hdr)).digest()
    return bytes(hdr)


def _n_chunks(count: int) -> int:
    return -(-(count + N_EXTRA) // CHUNK)


def setup(n_max: int, path: str | os.PathLike | None = None, *, overwrite: bool = False) -> PublicParams:
    """Derive ``h``, ``g_v`` and at least ``g_0 … g_{n_max-1}`` (whole chunks of the canonical set) and write the
    cache file (atomically). Every derived chunk is compared with its pinned hash.

    ``n_max`` vector generators commit rows of up to ``n_max`` columns; with the default layout (columns =
    2^ceil(n/2)) that covers tensors of up to ``n_max²`` entries. An existing valid cache with at least
    ``n_max`` generators is kept (its prefix is identical); a corrupted one raises unless ``overwrite``.
    """
    if not isinstance(n_max, int) or isinstance(n_max, bool) or not 1 <= n_max <= N_MAX:
        raise SetupError(f"n_max must be an int in [1, {N_MAX}] (the canonical generator set), got {n_max!r}")
    target = Path(path) if path is not None else default_cache_path()
    if target.exists() and not overwrite:
        pp = load(target)  # raises SetupError if corrupted or mismatching
        if pp.capacity >= n_max:
            return pp
    target.parent.mkdir(parents=True, exist_ok=True)
    count = _whole_chunks(n_max)
    body = bytearray()
    hashes = []
    for k in range(_n_chunks(count)):
        chunk = _derive_chunk(k)
        hashes.append(hashlib.sha256(chunk).digest())
        if hashes[-1] != PINNED_CHUNK_HASHES[k]:
            raise SetupError(
                f"derived generator chunk {k} does not match its pinned hash: this installation's "
                "hash-to-curve (blst) does not reproduce the canonical generators"
            )
        body += chunk
    header = _pack_header(LABEL, DST, count, hashes)
    tmp = target.with_name(target.name + f".tmp{os.getpid()}")
    with open(tmp, "wb") as f:
        f.write(header)
        f.write(body)
    os.replace(tmp, target)
    return load(target)


def load(path: str | os.PathLike | None = None) -> PublicParams:
    """Open a generator cache; validates magic, format, label, DST, the header hash and the chunk table against
    the pinned hashes now, and each chunk's bytes against its pinned hash when the chunk is first used. Raises
    :class:`SetupError`."""
    target = Path(path) if path is not None else default_cache_path()
    if not target.exists():
        raise SetupError(f"no generator cache at {target}; run `zkdl setup` first")
    try:
        with open(target, "rb") as f:
            head = f.read(4096)
            size = os.fstat(f.fileno()).st_size
    except OSError as e:
        raise SetupError(f"cannot read generator cache {target}: {e}") from e

    def bad(why: str) -> SetupError:
        return SetupError(f"generator cache {target} is invalid: {why}; {REDERIVE}")

    try:
        if head[:8] != MAGIC:
            raise bad("bad magic")
        off = 8
        (fmt,) = struct.unpack_from("<I", head, off)
        off += 4
        if fmt != FORMAT_VERSION:
            raise bad(f"format version {fmt}, expected {FORMAT_VERSION}")
        (ll,) = struct.unpack_from("<H", head, off)
        off += 2
        label = head[off : off + ll]
        off += ll
        (dl,) = struct.unpack_from("<H", head, off)
        off += 2
        dst = head[off : off + dl]
        off += dl
        n_extra, count, chunk, n_chunks = struct.unpack_from("<IQII", head, off)
        off += struct.calcsize("<IQII")
    except struct.error as e:
        raise bad("truncated header") from e
    if label != LABEL or dst != DST:
        raise bad(f"label/DST {label!r}/{dst!r} differ from this version's {LABEL!r}/{DST!r}")
    if n_extra != N_EXTRA or chunk != CHUNK or not 1 <= count <= N_MAX or n_chunks != _n_chunks(count):
        raise bad("inconsistent header fields")
    if count != _whole_chunks(count):
        raise bad(f"{count} generators is not a whole number of chunks of the canonical set")
    hdr_len = off + 32 * n_chunks + 32
    with open(target, "rb") as f:
        header = f.read(hdr_len)
    if len(header) != hdr_len:
        raise bad("truncated header")
    if hashlib.sha256(header[:-32]).digest() != header[-32:]:
        raise bad("header hash mismatch")
    if size != hdr_len + (count + N_EXTRA) * XY_BYTES:
        raise bad(f"file size {size} does not match {count} generators")
    table = [header[off + 32 * k : off + 32 * (k + 1)] for k in range(n_chunks)]
    for k, hsh in enumerate(table):
        if hsh != PINNED_CHUNK_HASHES[k]:
            raise SetupError(
                f"generator cache {target}: chunk {k} is not the canonical zkdl generator set (its hash "
                f"differs from the pinned one); the file was built by another rule or tampered with; "
                f"{REDERIVE}"
            )
    return PublicParams(target, count, header[-32:], hdr_len)


class PublicParams:
    """Generators backed by a validated cache file, loaded lazily chunk by chunk.

    ``digest`` (statement digest: :data:`GENERATORS_DIGEST`, the same for every cache of the canonical set) and
    ``file_digest`` (hash of the cache header) are bytes; ``h`` and ``g_v`` are the blinding and value
    generators; :meth:`gens` returns ``g_0 … g_{n-1}``, each checked against the pinned hashes. Thread-safe.
    """

    def __init__(
        self,
        path: Path | None,
        capacity: int,
        file_digest: bytes,
        data_offset: int,
        *,
        points: list[G1Point] | None = None,
    ) -> None:
        self.path = path
        self.capacity = capacity
        self.file_digest = file_digest
        self._offset = data_offset
        self._lock = threading.RLock()
        self._stream: list[G1Point] = list(points) if points is not None else []
        self._obj: np.ndarray | None = None
        self._neg_obj: np.ndarray | None = None
        self._fixed_base_tables: dict[str, np.ndarray] = {}
        self._ensure(N_EXTRA + 1)
        self.h = self._stream[0]
        self.g_v = self._stream[1]
        self.digest = GENERATORS_DIGEST

    # -- construction without a file ----------------------------------------------------------------------
    @classmethod
    def ephemeral(cls, n: int) -> PublicParams:
        """Derive ``n`` generators in memory (no cache) by the canonical rule; same points and digest as a cached
        set (derived here, so nothing to check)."""
        if not 1 <= n <= N_MAX:
            raise SetupError(f"need between 1 and {N_MAX} generators, got {n}")
        xy = _derive_xy(_stream_spec(0, n + N_EXTRA), LABEL, DST)
        pts = _points_from_xy(xy)
        return cls(None, n, b"", 0, points=pts)

    # -- lazy loading --------------------------------------------------------------------------------------
    def _ensure(self, n_stream: int) -> None:
        if n_stream <= len(self._stream):
            return
        with self._lock:
            if n_stream <= len(self._stream):
                return
            if self.path is None or n_stream > self.capacity + N_EXTRA:
                raise SetupError(
                    f"need {n_stream - N_EXTRA} generators but the parameters hold {self.capacity}; "
                    "rerun `zkdl setup` with a larger n"
                )
            first = len(self._stream) // CHUNK  # loaded prefix is always whole chunks (or the full stream)
            last = (n_stream - 1) // CHUNK
            total = self.capacity + N_EXTRA
            new: list[G1Point] = []
            with open(self.path, "rb") as f:
                for k in range(first, last + 1):
                    lo, hi = k * CHUNK, min((k + 1) * CHUNK, total)
                    f.seek(self._offset + lo * XY_BYTES)
                    buf = f.read((hi - lo) * XY_BYTES)
                    ok = len(buf) == (hi - lo) * XY_BYTES
                    if not ok or hashlib.sha256(buf).digest() != PINNED_CHUNK_HASHES[k]:
                        raise SetupError(
                            f"generator cache {self.path}: chunk {k} corrupted (its points differ "
                            f"from the pinned canonical generators); {REDERIVE}"
                        )
                    new.extend(_points_from_xy(buf))
            self._stream.extend(new)
            self._obj = self._neg_obj = None

    def load_all(self) -> None:
        """Load and validate every chunk now."""
        self._ensure(self.capacity + N_EXTRA)

    # -- accessors -----------------------------------------------------------------------------------------
    def gens(self, n: int) -> list[G1Point]:
        """The first ``n`` vector generators ``g_0 … g_{n-1}`` (a fresh list)."""
        self._ensure(n + N_EXTRA)
        return self._stream[N_EXTRA : N_EXTRA + n]

    def gens_obj(self, n: int) -> np.ndarray:
        """``g_0 … g_{n-1}`` as a numpy object array (for vectorized gathers); cached, do not mutate."""
        self._ensure(n + N_EXTRA)
        with self._lock:
            if self._obj is None or len(self._obj) < n:
                arr = np.empty(len(self._stream) - N_EXTRA, dtype=object)
                arr[:] = self._stream[N_EXTRA:]
                self._obj = arr
            return self._obj[:n]

    def neg_gens_obj(self, n: int) -> np.ndarray:
        """``-g_0 … -g_{n-1}`` as a numpy object array; cached (computed on first use), do not mutate."""
        self._ensure(n + N_EXTRA)
        with self._lock:
            if self._neg_obj is None or len(self._neg_obj) < n:
                have = 0 if self._neg_obj is None else len(self._neg_obj)
                arr = np.empty(n, dtype=object)
                if have:
                    arr[:have] = self._neg_obj
                arr[have:] = [-p for p in self._stream[N_EXTRA + have : N_EXTRA + n]]
                self._neg_obj = arr
            return self._neg_obj[:n]

    def h_table(self) -> np.ndarray:
        """:func:`fixed_base_table` of the blinding generator ``h`` (built once per parameter set)."""
        return self._fixed_base_table("h", self.h)

    def g_v_table(self) -> np.ndarray:
        """:func:`fixed_base_table` of the value generator ``g_v`` (built once per parameter set)."""
        return self._fixed_base_table("g_v", self.g_v)

    def _fixed_base_table(self, name: str, base: G1Point) -> np.ndarray:
        with self._lock:
            if name not in self._fixed_base_tables:
                self._fixed_base_tables[name] = fixed_base_table(base)
            return self._fixed_base_tables[name]

    def __repr__(self) -> str:
        return f"PublicParams(capacity={self.capacity}, digest={self.digest.hex()[:16]}…, path={self.path})"


def fixed_base_table(base: G1Point) -> np.ndarray:
    """A (32, 256) object array with ``T[j][k] = k·256^j·base``, so that ``ρ·base = Σ_j T[j][byte_j(ρ)]`` costs
    32 additions instead of a scalar multiplication (~8k additions to build)."""
    tab = np.empty((32, 256), dtype=object)
    for j in range(32):
        row = [G1Point.identity(), base]
        for _ in range(254):
            row.append(row[-1] + base)
        tab[j, :] = row
        base = row[-1] + base  # 256·base
    return tab


_DEFAULT: dict[Path, PublicParams] = {}
_DEFAULT_LOCK = threading.Lock()


def get_params(path: str | os.PathLike | None = None) -> PublicParams:
    """Process-wide cached :func:`load` of the default (or given) cache."""
    target = Path(path) if path is not None else default_cache_path()
    with _DEFAULT_LOCK:
        pp = _DEFAULT.get(target)
        if pp is None:
            pp = _DEFAULT[target] = load(target)
        return pp
