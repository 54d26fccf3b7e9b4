"""The one Fiat–Shamir transcript of zkdl.

The transcript is a BLAKE2b-512 hash over an unambiguous byte stream of *records*. Every absorb appends one
record ``kind ‖ label ‖ (count) ‖ payload``; every challenge appends a challenge record, hashes the whole
stream so far into a 64-byte seed, appends the seed (ratchet) and expands it into field elements by wide
reduction of 64-byte hash outputs mod r. Hence every challenge depends on everything absorbed before it, and
consecutive challenges differ. The exact byte format is in ``docs/transcript.md``.

Prover and verifier build the same sequence of calls; with ``debug=True`` each keeps a log of
:class:`TranscriptEvent` (kind, label, count, bytes, state digest) so tests can locate the first divergence.
"""

from __future__ import annotations

import hashlib
import struct
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from zkdl.serialize.encoding import FR_MODULUS, fr_single_to_bytes, frs_to_bytes, g1_to_bytes, g1s_to_bytes

#: Identifies this transcript byte format; part of the first record.
TRANSCRIPT_DOMAIN = b"zkdl/transcript/v1"
SEED_BYTES = 64

# record kinds (one byte each)
KIND_INIT = 0x00
KIND_FR = 0x01
KIND_FR_VEC = 0x02
KIND_G1 = 0x03
KIND_G1_VEC = 0x04
KIND_BYTES = 0x05
KIND_SHAPE = 0x06
KIND_U64 = 0x07
KIND_FORK = 0x08
KIND_CHALLENGE = 0x10

KIND_NAMES = {
    KIND_INIT: "init",
    KIND_FR: "fr",
    KIND_FR_VEC: "fr_vec",
    KIND_G1: "g1",
    KIND_G1_VEC: "g1_vec",
    KIND_BYTES: "bytes",
    KIND_SHAPE: "shape",
    KIND_U64: "u64",
    KIND_FORK: "fork",
    KIND_CHALLENGE: "challenge",
}

_U64 = struct.Struct("<Q")
_U64_MAX = (1 << 64) - 1


def _label_bytes(label: str | bytes) -> bytes:
    if isinstance(label, str):
        b = label.encode("utf-8")
    elif isinstance(label, (bytes, bytearray)):
        b = bytes(label)
    else:
        raise TypeError(f"a transcript label must be str or bytes, got {type(label).__name__}")
    if not 1 <= len(b) <= 255:
        raise ValueError(f"a transcript label must be 1..255 bytes, got {len(b)}")
    return bytes([len(b)]) + b


def _u64(v: int, what: str) -> bytes:
    if not isinstance(v, int) or isinstance(v, bool):
        raise TypeError(f"{what} must be an int, got {type(v).__name__}")
    if not 0 <= v <= _U64_MAX:
        raise ValueError(f"{what} {v} does not fit into u64")
    return _U64.pack(v)


@dataclass(frozen=True)
class TranscriptEvent:
    """One debug-log entry: record kind, label, element count, payload bytes, and the first 16 bytes of the
    state digest after the record (for challenges: the seed)."""

    kind: str
    label: str
    count: int
    nbytes: int
    digest: bytes


class Transcript:
    """Fiat–Shamir transcript, domain-separated by ``protocol`` (e.g. ``"zkdl/train-step"``) and ``version``.

    Absorb methods take a label (1..255 bytes; str is UTF-8 encoded) and a typed value. Challenges are Python
    ints in [0, r). A challenge before any absorb raises ``RuntimeError`` (nothing would bind it).
    """

    __slots__ = ("_h", "_protocol", "_version", "_absorbed", "_log")

    def __init__(self, protocol: str | bytes, *, version: int = 1, debug: bool = False) -> None:
        proto = _label_bytes(protocol)
        if not isinstance(version, int) or not 0 <= version < 1 << 16:
            raise ValueError(f"version must be a u16, got {version!r}")
        self._h = hashlib.blake2b(digest_size=64)
        self._protocol = proto[1:].decode("utf-8", errors="backslashreplace")
        self._version = version
        self._absorbed = False
        self._log: list[TranscriptEvent] | None = [] if debug else None
        self._h.update(bytes([KIND_INIT]) + _label_bytes(TRANSCRIPT_DOMAIN) + proto + version.to_bytes(2, "little"))
        self._note(KIND_INIT, self._protocol, version, 0)

    # ------------------------------------------------------------------------------------------ helpers
    @property
    def protocol(self) -> str:
        return self._protocol

    @property
    def version(self) -> int:
        return self._version

    @property
    def debug(self) -> bool:
        return self._log is not None

    @property
    def log(self) -> tuple[TranscriptEvent, ...]:
        """The debug log (empty unless constructed with ``debug=True``)."""
        return tuple(self._log or ())

    def _note(self, kind: int, label: str, count: int, nbytes: int, digest: bytes | None = None) -> None:
        if self._log is not None:
            d = digest if digest is not None else self._h.copy().digest()
            self._log.append(TranscriptEvent(KIND_NAMES[kind], label, count, nbytes, d[:16]))

    def _record(self, kind: int, label: str | bytes, count: int | None, payload: bytes) -> None:
        lab = _label_bytes(label)
        head = bytes([kind]) + lab + (b"" if count is None else _U64.pack(count))
        self._h.update(head)
        if payload:
            self._h.update(payload)
        self._absorbed = True
        if self._log is not None:
            self._note(kind, lab[1:].decode("utf-8", "backslashreplace"), 1 if count is None else count, len(payload))

    def state_digest(self) -> bytes:
        """64-byte BLAKE2b digest of everything recorded so far (does not change the state)."""
        return self._h.copy().digest()

    def copy(self) -> Transcript:
        """An independent transcript with identical state (and a copy of the debug log)."""
        t = Transcript.__new__(Transcript)
        t._h = self._h.copy()
        t._protocol = self._protocol
        t._version = self._version
        t._absorbed = self._absorbed
        t._log = None if self._log is None else list(self._log)
        return t

    def fork(self, label: str | bytes) -> Transcript:
        """A copy that has additionally recorded a fork record with ``label``: distinct labels give
        independent sub-transcripts; this transcript is unchanged."""
        t = self.copy()
        t._record(KIND_FORK, label, None, b"")
        return t

    # ------------------------------------------------------------------------------------------ absorbs
    def absorb_fr(self, label: str | bytes, x: Any) -> None:
        """One field element: an int in [0, r), or an object whose ``to_le_bytes()`` is 32 canonical bytes."""
        self._record(KIND_FR, label, None, fr_single_to_bytes(x))

    def absorb_frs(self, label: str | bytes, xs: Any) -> None:
        """A field vector: ``zkdl.field.Fr`` (anything with ``to_le_bytes()`` giving N·32 canonical bytes) or
        a sequence of ints in [0, r). Absorbed in one hash call over the joined bytes."""
        n, buf = frs_to_bytes(xs)
        self._record(KIND_FR_VEC, label, n, buf)

    def absorb_g1(self, label: str | bytes, p: Any) -> None:
        """One G1 point: an arkworks ``G1Point`` or its 48-byte compressed encoding."""
        self._record(KIND_G1, label, None, g1_to_bytes(p))

    def absorb_g1s(self, label: str | bytes, points: Any) -> None:
        """A list of G1 points (``G1Point`` or 48-byte items), or one blob of n·48 compressed bytes."""
        n, blob = g1s_to_bytes(points)
        self._record(KIND_G1_VEC, label, n, blob)

    def absorb_bytes(self, label: str | bytes, data: bytes | bytearray | memoryview) -> None:
        """Raw bytes (e.g. a digest of public inputs, a serialized descriptor)."""
        if not isinstance(data, (bytes, bytearray, memoryview)):
            raise TypeError(f"absorb_bytes takes bytes, got {type(data).__name__}")
        b = bytes(data)
        self._record(KIND_BYTES, label, len(b), b)

    def absorb_shape(self, label: str | bytes, shape: Sequence[int]) -> None:
        """A tuple of non-negative ints (< 2^64), e.g. a tensor shape or a list of layer widths."""
        dims = tuple(shape)
        payload = b"".join(_u64(d, "shape entry") for d in dims)
        self._record(KIND_SHAPE, label, len(dims), payload)

    def absorb_u64(self, label: str | bytes, v: int) -> None:
        """One non-negative int below 2^64 (a public parameter: bits, batch size, step index...)."""
        self._record(KIND_U64, label, None, _u64(v, "value"))

    # ------------------------------------------------------------------------------------------ challenges
    def _squeeze_seed(self, label: str | bytes, n: int) -> bytes:
        if not self._absorbed:
            raise RuntimeError("challenge requested before anything was absorbed into the transcript")
        lab = _label_bytes(label)
        self._h.update(bytes([KIND_CHALLENGE]) + lab + _u64(n, "challenge count"))
        seed = self._h.copy().digest()
        self._h.update(seed)  # ratchet: the seed becomes part of the stream
        self._note(KIND_CHALLENGE, lab[1:].decode("utf-8", "backslashreplace"), n, 0, seed)
        return seed

    def challenge_frs(self, label: str | bytes, n: int) -> list[int]:
        """``n`` field challenges: c_i = LE(BLAKE2b-512(seed ‖ u64_le(i))) mod r."""
        seed = self._squeeze_seed(label, n)
        blake = hashlib.blake2b
        pack = _U64.pack
        r = FR_MODULUS
        return [int.from_bytes(blake(seed + pack(i), digest_size=64).digest(), "little") % r for i in range(n)]

    def challenge_fr(self, label: str | bytes) -> int:
        """One field challenge (the same as ``challenge_frs(label, 1)[0]``)."""
        return self.challenge_frs(label, 1)[0]

    def challenge_nonzero_fr(self, label: str | bytes) -> int:
        """One challenge in ``F_r \\ {0}``: :meth:`challenge_fr` with ``label``, drawn again while it is 0 (each
        draw is a record; probability ``1/r`` each). For a challenge whose zero would reveal a masked value (the
        zero-knowledge sumcheck's ``ρ``, the batched proof of product's ``c``)."""
        while True:
            x = self.challenge_fr(label)
            if x:
                return x


def first_divergence(a: Transcript | Sequence[TranscriptEvent], b: Transcript | Sequence[TranscriptEvent]):
    """Index of the first differing debug-log event of two transcripts (or logs), or None if equal.

    If one log is a prefix of the other, the index is the length of the shorter one.
    """
    la = a.log if isinstance(a, Transcript) else tuple(a)
    lb = b.log if isinstance(b, Transcript) else tuple(b)
    for i, (ea, eb) in enumerate(zip(la, lb, strict=False)):
        if ea != eb:
            return i
    return None if len(la) == len(lb) else min(len(la), len(lb))


__all__ = ["Transcript", "TranscriptEvent", "TRANSCRIPT_DOMAIN", "first_divergence"]
