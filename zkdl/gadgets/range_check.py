"""Range checks: every range-checked integer of the training proof lives in one range tensor ``L``.

A public :class:`RangeLayout` places named segments ``(name, log_size, bits)`` in ``L`` (2^n entries); each
entry of a segment must lie in ``[0, 2^bits)``. Two back-ends prove this behind one interface
(:func:`make_range_backend`), see ``docs/range-checks.md`` for the protocol and its soundness argument:

* ``lookup`` (default): LogUp against a 2^17-entry table of (bit width, value) pairs, the fractional sums
  proven with a GKR-style layered sumcheck; the caller commits ``L`` and the multiplicities ``m``.
* ``bits`` (the paper's): the caller commits the bit tensor ``B`` (16 planes per entry, plane index = the low
  4 variables); one zero-check sumcheck proves ``B`` binary and the planes above each segment's width zero;
  claims on ``L`` are translated into claims on ``B``.

Both back-ends draw their own challenges; the caller must absorb the commitments of
:meth:`RangeBackend.committed_tables` into the transcript before calling ``prove`` / ``verify``. The returned
:class:`~zkdl.piop.claims.Claim` objects must be discharged by the caller (commitment openings).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import cast

import numpy as np

from ..errors import ProofFormatError, QuantizationOverflow, VerificationError
from ..field import MODULUS as R
from ..field import Fr, get_backend, mont_to_int
from ..field.fr import scalar_limbs
from ..piop import sumcheck as sc
from ..piop.channel import ProverChannelProtocol, VerifierChannelProtocol
from ..piop.claims import Claim

#: Widest range one entry of ``L`` can be checked against (wider ranges are split into limbs by the caller).
MAX_BITS = 16
#: log2 of the lookup table size: entries j ≥ 1 encode (k = top set bit of j, v = j − 2^k); j = 0 encodes (17, 0).
TABLE_LOG = MAX_BITS + 1
TABLE_SIZE = 1 << TABLE_LOG
#: log2 of the number of bit planes of the ``bits`` back-end.
PLANE_LOG = 4
PLANES = 1 << PLANE_LOG
MAX_LOG_SIZE = 40
#: The smallest range tensor (the value tree's layer 1 needs n ≥ 2).
MIN_TENSOR_LOG = 2
#: :meth:`RangeLayouts.pack`: range tensors of at most 2^24 entries (unless one segment is larger) ...
PACK_MAX_LOG = 24
#: ... and padding of the last tensor at most 2^-PACK_TAIL_LOG of the total (or 2^PACK_MIN_LOG entries).
PACK_TAIL_LOG = 3
PACK_MIN_LOG = 10
#: More range tensors than this (2^36 entries at the cap) is no statement anyone can prove: refused at once.
MAX_RANGE_TENSORS = 4096


def _ceil_log2(x: int) -> int:
    return max(0, (x - 1).bit_length())


def _check_fr(values: Sequence[int], what: str) -> None:
    for v in values:
        if not isinstance(v, int) or not 0 <= v < R:
            raise ProofFormatError(f"{what}: non-canonical field element")


# =============================================================================================== layout


@dataclass(frozen=True)
class Segment:
    name: str
    log_size: int
    bits: int
    offset: int  # in entries of L, a multiple of 2^log_size


class RangeLayout:
    """Public placement of range-checked segments inside the one range tensor ``L`` of 2^n entries.

    Segments are sorted by size descending (stable) and placed back to back, which aligns each offset to its
    size. ``n = max(⌈log2(total)⌉, min_log)`` (``min_log`` defaults to the table's 17, at least
    :data:`MIN_TENSOR_LOG`); the tail after the last segment holds zeros with tag 0.
    """

    def __init__(self, segments: Sequence[tuple[str, int, int]], *, min_log: int = TABLE_LOG):
        seen: set[str] = set()
        items = []
        for name, log_size, bits in segments:
            if not isinstance(name, str) or not name or name in seen:
                raise ValueError(f"segment name {name!r} is empty, not a string or repeated")
            seen.add(name)
            if not 0 <= int(log_size) <= MAX_LOG_SIZE:
                raise ValueError(f"segment {name!r}: log_size {log_size} outside [0, {MAX_LOG_SIZE}]")
            if not 0 <= int(bits) <= MAX_BITS:
                raise ValueError(f"segment {name!r}: bits {bits} outside [0, {MAX_BITS}]")
            items.append((name, int(log_size), int(bits)))
        items.sort(key=lambda s: -s[1])  # stable: equal sizes keep the caller's order
        offset = 0
        segs = []
        for name, log_size, bits in items:
            segs.append(Segment(name, log_size, bits, offset))
            offset += 1 << log_size
        self.segments: tuple[Segment, ...] = tuple(segs)
        self.used = offset
        self.n = max(_ceil_log2(offset), int(min_log), MIN_TENSOR_LOG)
        self.size = 1 << self.n
        self._by_name = {s.name: s for s in segs}

    def __repr__(self) -> str:
        segs = ", ".join(f"{s.name}:2^{s.log_size}x{s.bits}b@{s.offset}" for s in self.segments)
        return f"RangeLayout(n={self.n}, [{segs}])"

    def __eq__(self, other) -> bool:
        return isinstance(other, RangeLayout) and self.segments == other.segments

    __hash__ = None  # type: ignore[assignment]  # mutable

    def segment(self, name: str) -> Segment:
        try:
            return self._by_name[name]
        except KeyError:
            raise KeyError(f"no range segment named {name!r}") from None

    def descriptor(self) -> tuple[int, ...]:
        """The public shape absorbed into the transcript: n, then (log_size, bits) per placed segment."""
        out = [self.n, len(self.segments)]
        for s in self.segments:
            out += [s.log_size, s.bits]
        return tuple(out)

    def slice(self, name: str) -> slice:
        s = self.segment(name)
        return slice(s.offset, s.offset + (1 << s.log_size))

    def assemble(self, values: Mapping[str, np.ndarray]) -> np.ndarray:
        """The int64 tensor L from each segment's values (flattened, zero-padded to 2^log_size)."""
        missing = set(self._by_name) - set(values)
        extra = set(values) - set(self._by_name)
        if missing or extra:
            raise ValueError(f"segment values: missing {sorted(missing)}, unknown {sorted(extra)}")
        out = np.zeros(self.size, dtype=np.int64)
        for s in self.segments:
            v = np.asarray(values[s.name]).reshape(-1)
            if v.dtype.kind not in "iub":
                raise ValueError(f"segment {s.name!r}: integer values needed, got {v.dtype}")
            if v.size > 1 << s.log_size:
                raise ValueError(f"segment {s.name!r}: {v.size} values for 2^{s.log_size} entries")
            out[s.offset : s.offset + v.size] = v
        return out

    def tags(self) -> np.ndarray:
        """The public tag vector (int64, 2^n entries): the bit width of each entry's segment, 0 in the tail."""
        t = np.zeros(self.size, dtype=np.int64)
        for s in self.segments:
            t[s.offset : s.offset + (1 << s.log_size)] = s.bits
        return t

    def _seg_prefix(self, s: Segment, point: Sequence[int]) -> int:
        """Π over the leading n − log_size variables of eq(offset bits, point): the segment's indicator MLE."""
        k = self.n - s.log_size
        hi = s.offset >> s.log_size
        acc = 1
        for j in range(k):
            bit = (hi >> (k - 1 - j)) & 1
            acc = acc * (point[j] if bit else 1 - point[j]) % R
        return acc

    def point_for(self, name: str, point: Sequence[int]) -> tuple[int, ...]:
        """The point on L of the segment's point: the offset's bits as the leading variables."""
        s = self.segment(name)
        if len(point) != s.log_size:
            raise ValueError(f"segment {name!r} has {s.log_size} variables, point has {len(point)}")
        k = self.n - s.log_size
        hi = s.offset >> s.log_size
        return tuple((hi >> (k - 1 - j)) & 1 for j in range(k)) + tuple(int(x) % R for x in point)

    def tag_mle(self, point: Sequence[int]) -> int:
        """MLE of the tag vector at a point of n variables, in O(#segments · n)."""
        if len(point) != self.n:
            raise ValueError(f"tag MLE needs {self.n} variables, got {len(point)}")
        return sum(s.bits * self._seg_prefix(s, point) for s in self.segments) % R

    def check_values(self, L_values: np.ndarray) -> None:
        """QuantizationOverflow naming the segment when an entry is outside its range (or the tail nonzero)."""
        L = self._as_L(L_values)
        tags = self.tags()
        bad = np.nonzero((L < 0) | (L >= (np.int64(1) << tags)))[0]
        if bad.size:
            i = int(bad[0])
            owner = next((s for s in self.segments if s.offset <= i < s.offset + (1 << s.log_size)), None)
            where = f"segment {owner.name!r} entry {i - owner.offset}" if owner else f"unused tail entry {i}"
            raise QuantizationOverflow(
                f"range check: {where} = {int(L[i])} outside [0, 2^{int(tags[i])}) ({bad.size} bad entries)"
            )

    def _as_L(self, L_values) -> np.ndarray:
        L = np.asarray(L_values)
        if L.dtype.kind not in "iub":
            raise ValueError(f"L needs integer values, got {L.dtype}")
        L = L.reshape(-1).astype(np.int64, copy=False)
        if L.size != self.size:
            raise ValueError(f"L has {L.size} entries, the layout needs 2^{self.n} = {self.size}")
        return L


class RangeLayouts:
    """Several range tensors, each a :class:`RangeLayout` of its own power-of-two size, by tensor name.

    Segment names are unique across the tensors; a segment lives in exactly one tensor. A single
    :class:`RangeLayout` is the one-tensor case (tensor ``"L"``, :func:`as_layouts`)."""

    def __init__(self, tensors: Sequence[tuple[str, RangeLayout]]):
        if not tensors:
            raise ValueError("at least one range tensor is needed")
        self.tensors: dict[str, RangeLayout] = {}
        self._owner: dict[str, str] = {}
        for name, lay in tensors:
            if not isinstance(name, str) or not name or name in self.tensors:
                raise ValueError(f"range tensor name {name!r} is empty, not a string or repeated")
            self.tensors[name] = lay
            for s in lay.segments:
                if s.name in self._owner:
                    raise ValueError(f"segment {s.name!r} is in two range tensors")
                self._owner[s.name] = name

    @classmethod
    def pack(
        cls,
        segments: Sequence[tuple[str, int, int]],
        *,
        prefix: str = "L",
        max_log: int | None = None,
        tail_log: int | None = None,
        min_log: int | None = None,
    ) -> RangeLayouts:
        """Pack segments (sorted by size descending, stable) back to back into range tensors ``L0, L1, …``:
        while the rest does not fit one last tensor (padded to a power of two, at most ``2^max_log`` entries or
        the largest segment, with at most ``max(total / 2^tail_log, 2^min_log)`` entries of padding), take the
        largest full tensor of it (a power of two, at most that cap). Every tensor but the last is exactly full.
        Because the segment sizes are powers of two sorted descending, every tensor boundary falls between two
        segments (``docs/range-checks.md``)."""
        max_log = PACK_MAX_LOG if max_log is None else max_log
        tail_log = PACK_TAIL_LOG if tail_log is None else tail_log
        min_log = PACK_MIN_LOG if min_log is None else min_log
        items = sorted(((str(a), int(b), int(c)) for a, b, c in segments), key=lambda x: -x[1])
        if not items:
            raise ValueError("no range segments to pack")
        total = sum(1 << k for _, k, _ in items)
        cap = max(int(max_log), items[0][1])
        if total >> cap > MAX_RANGE_TENSORS:
            raise ValueError(
                f"{total} range-checked entries need more than {MAX_RANGE_TENSORS} range tensors of 2^{cap} entries"
            )
        slack = max(total >> int(tail_log), 1 << int(min_log))  # padding allowed in the last tensor
        logs: list[int] = []
        rest = total
        while rest > 0:
            last = max(_ceil_log2(rest), MIN_TENSOR_LOG)
            if last <= cap and (1 << last) - rest <= slack:
                logs.append(last)
                break
            k = min(rest.bit_length() - 1, cap)
            logs.append(k)
            rest -= 1 << k
        out, i = [], 0
        for j, lg in enumerate(logs):
            room, members = 1 << lg, []
            while i < len(items) and (1 << items[i][1]) <= room:
                members.append(items[i])
                room -= 1 << items[i][1]
                i += 1
            if not members or (room and j < len(logs) - 1):
                raise AssertionError("range tensor packing left a gap (segment sizes must be powers of two)")
            out.append((f"{prefix}{j}", RangeLayout(members, min_log=lg)))
        assert i == len(items), "every segment is placed"
        return cls(out)

    def __repr__(self) -> str:
        return "RangeLayouts(" + ", ".join(f"{k}: 2^{v.n}" for k, v in self.tensors.items()) + ")"

    def __eq__(self, other) -> bool:
        return isinstance(other, RangeLayouts) and list(self.tensors.items()) == list(other.tensors.items())

    __hash__ = None  # type: ignore[assignment]  # mutable

    def __len__(self) -> int:
        return len(self.tensors)

    def __getitem__(self, name: str) -> RangeLayout:
        return self.tensors[name]

    def items(self):
        return self.tensors.items()

    def names(self) -> list[str]:
        return list(self.tensors)

    @property
    def used(self) -> int:
        return sum(lay.used for lay in self.tensors.values())

    @property
    def size(self) -> int:
        """Entries of all range tensors together (each padded to its own power of two)."""
        return sum(lay.size for lay in self.tensors.values())

    def owner(self, segment: str) -> str:
        """The name of the range tensor that holds a segment."""
        try:
            return self._owner[segment]
        except KeyError:
            raise KeyError(f"no range segment named {segment!r}") from None

    def segment(self, name: str) -> Segment:
        return self.tensors[self.owner(name)].segment(name)

    def point_for(self, segment: str, point: Sequence[int]) -> tuple[str, tuple[int, ...]]:
        """(range tensor, point on it) of a point on a segment."""
        t = self.owner(segment)
        return t, self.tensors[t].point_for(segment, point)

    def slice(self, segment: str) -> tuple[str, slice]:
        t = self.owner(segment)
        return t, self.tensors[t].slice(segment)

    def descriptor(self) -> tuple[int, ...]:
        """The public shape absorbed into the transcript: the number of tensors, then each tensor's descriptor."""
        out = [len(self.tensors)]
        for lay in self.tensors.values():
            out += list(lay.descriptor())
        return tuple(out)

    def assemble(self, values: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        """Every range tensor's int64 values from each segment's values."""
        missing = set(self._owner) - set(values)
        extra = set(values) - set(self._owner)
        if missing or extra:
            raise ValueError(f"segment values: missing {sorted(missing)}, unknown {sorted(extra)}")
        return {t: lay.assemble({s.name: values[s.name] for s in lay.segments}) for t, lay in self.tensors.items()}

    def as_values(self, L_values) -> dict[str, np.ndarray]:
        """Range-tensor values by name, checked against the layouts (an array is the one-tensor case)."""
        if not isinstance(L_values, Mapping):
            if len(self.tensors) != 1:
                raise ValueError(f"values of {len(self.tensors)} range tensors needed, got one array")
            L_values = {next(iter(self.tensors)): L_values}
        if set(L_values) != set(self.tensors):
            raise ValueError(f"values for range tensors {sorted(L_values)}, the layout has {sorted(self.tensors)}")
        return {t: lay._as_L(L_values[t]) for t, lay in self.tensors.items()}

    def check_values(self, L_values) -> None:
        for t, L in self.as_values(L_values).items():
            self.tensors[t].check_values(L)


def as_layouts(layout: RangeLayout | RangeLayouts) -> RangeLayouts:
    """A single layout is the range tensor ``"L"``."""
    return layout if isinstance(layout, RangeLayouts) else RangeLayouts([("L", layout)])


# =============================================================================================== public MLEs


def table_mle(rho: Sequence[int], beta: int) -> int:
    """MLE at a 17-variable point of the lookup table V(j) = v + β·k (j = 2^k + v ≥ 1) and V(0) = 17β.

    With x_b the variable of index bit b (ρ_1 is bit 16): the indicator "top set bit of j is k" has MLE
    x_k·Π_{b>k}(1 − x_b), on which v is the identity MLE of the low k bits Σ_{b<k} 2^b x_b; j = 0 has the
    indicator Π_b (1 − x_b). O(17).
    """
    if len(rho) != TABLE_LOG:
        raise ValueError(f"table MLE needs {TABLE_LOG} variables, got {len(rho)}")
    x = [int(rho[TABLE_LOG - 1 - b]) % R for b in range(TABLE_LOG)]  # x[b]: variable of bit b
    ident = [0] * TABLE_LOG  # ident[k] = Σ_{b<k} 2^b x_b
    for b in range(1, TABLE_LOG):
        ident[b] = (ident[b - 1] + (x[b - 1] << (b - 1))) % R
    acc = 0
    above = 1  # Π_{b > k} (1 − x_b)
    for k in range(TABLE_LOG - 1, -1, -1):
        ind = x[k] * above % R
        acc += ind * (ident[k] + beta * k)
        above = above * (1 - x[k]) % R
    acc += above * TABLE_LOG * beta  # j = 0: (17, 0)
    return acc % R


def table_values() -> tuple[np.ndarray, np.ndarray]:
    """(v, k) of every table entry j (int64 arrays of 2^17 entries)."""
    j = np.arange(TABLE_SIZE, dtype=np.int64)
    k = np.zeros(TABLE_SIZE, dtype=np.int64)
    k[1:] = np.floor(np.log2(j[1:])).astype(np.int64)
    # guard against floating-point rounding at powers of two
    k[1:] -= (np.int64(1) << k[1:]) > j[1:]
    k[1:] += (np.int64(1) << (k[1:] + 1)) <= j[1:]
    v = np.where(j > 0, j - (np.int64(1) << k), 0)
    k[0] = TABLE_LOG
    return v, k


_TABLE_FR_CACHE: dict[str, tuple[Fr, Fr]] = {}


def _table_fr(backend=None) -> tuple[Fr, Fr]:
    key = getattr(backend, "name", backend) or "default"
    if key not in _TABLE_FR_CACHE:
        v, k = table_values()
        _TABLE_FR_CACHE[key] = (Fr.from_int64(v, backend), Fr.from_int64(k, backend))
    return _TABLE_FR_CACHE[key]


def multiplicities(layout: RangeLayout | RangeLayouts, L_values) -> np.ndarray:
    """How often each table entry occurs among the leaves (L_i, tag_i) of every range tensor: entry
    j = 2^tag + L_i.

    Entries outside their range are not counted (an honest caller checked them first).
    """
    lays = as_layouts(layout)
    out = np.zeros(TABLE_SIZE, dtype=np.int64)
    for name, L in lays.as_values(L_values).items():
        tags = lays[name].tags()
        ok = (L >= 0) & (L < (np.int64(1) << tags))
        j = (np.int64(1) << tags[ok]) + L[ok]
        out += np.bincount(j, minlength=TABLE_SIZE).astype(np.int64)
    return out


def fraction_layers(p: Fr, q: Fr) -> list[tuple[Fr, Fr]]:
    """All layers of the fractional-sum tree from the leaves (layer index = log2 of its size).

    Layer k is built from layer k+1 by pairing its low and high halves (the most significant variable):
    p_k = p_lo·q_hi + p_hi·q_lo, q_k = q_lo·q_hi. Returns ``layers`` with ``layers[k] = (p_k, q_k)``.
    """
    size = len(p)
    if size < 1 or size & (size - 1) or len(q) != size:
        raise ValueError("fraction leaves must be two vectors of one power-of-two length ≥ 2")
    top = size.bit_length() - 1
    layers: list[tuple[Fr, Fr] | None] = [None] * (top + 1)
    layers[top] = (p, q)
    fused = p.backend.fused()
    for k in range(top - 1, -1, -1):
        prev = layers[k + 1]
        assert prev is not None
        pk, qk = prev
        if fused is not None:  # one pass, no temporaries (the same values)
            pn, qn = fused.fraction_layer(pk.limbs, qk.limbs)
            layers[k] = (Fr(pn, p.backend), Fr(qn, p.backend))
            continue
        h = 1 << k
        p_lo, p_hi, q_lo, q_hi = pk[:h], pk[h:], qk[:h], qk[h:]
        layers[k] = (p_lo * q_hi + p_hi * q_lo, q_lo * q_hi)
    return cast(list[tuple[Fr, Fr]], layers)  # every entry was filled (top, then k = top-1 .. 0)


# =============================================================================================== proofs


# tables: 0 B, 1 C = 1 − B − μ·mask;  eq · B · C = eq · (B − B² − μ·mask·B)
_BITS_RELATION = sc.Relation.product(2, eq_weighted=True)


# =============================================================================================== back-ends


def _absorb_layout(transcript, layouts: RangeLayouts, backend: str) -> None:
    transcript.absorb_bytes("range/backend", backend.encode())
    transcript.absorb_shape("range/layout", layouts.descriptor())


def _check_L_claims(layouts: RangeLayouts, claims: Sequence[Claim]) -> None:
    for c in claims:
        lay = layouts.tensors.get(c.tensor)
        if lay is None or len(c.point) != lay.n:
            raise ValueError(
                f"expected claims on the range tensors {layouts.names()} at points of their sizes, got "
                f"{c.tensor!r} at {len(c.point)} variables"
            )


def _leaf_consts(alpha: int, beta: int) -> np.ndarray:
    """α − β·k for every tag k, as (17, 4) Montgomery limbs: leaf i is ``consts[tag_i] − L_i``."""
    return np.stack([scalar_limbs(alpha - beta * k) for k in range(MAX_BITS + 1)])


def _value_leaves(layout: RangeLayout, L: np.ndarray, alpha: int, beta: int, backend=None) -> Fr:
    """q_i = α − L_i − β·tag_i for all 2^n entries."""
    be = get_backend(backend)
    tags = layout.tags()
    fused = be.fused()
    if fused is not None:
        return Fr(fused.leaves_from_small(L, tags, _leaf_consts(alpha, beta)), be)
    return alpha - Fr.from_int64(tags, be).axpy(beta, Fr.from_int64(L, be))


class _FusedLayerEngine:
    """Round engine for one batched GKR layer sumcheck ``Σ_x eq(point, x)·Σ_j (a_j·X_j(x) + b_j·Y_j(x))`` over
    the layer relations of several trees j (X = p_lo·q_hi + p_hi·q_lo, Y = q_lo·q_hi on 4 tables, or
    X = q_lo + q_hi, Y = q_lo·q_hi on the 2 leaf halves of a p = 1 tree), with eq factored out; the sumcheck
    engine (clear and zero-knowledge) runs its rounds through it and sends exactly the messages its generic
    rounds would (a test checks the bytes).

    Round i's polynomial is eq(u_<i, r_<i)·eq(u_i, t)·s(t) with s of degree 2, s(t) = Σ_x E_i[x]·F(t, x),
    E_i = eq(u_>i) (one table for all trees, halved each round by summing its halves, no multiplications, and
    Σ_x E_i[x] = 1); the kernel returns each tree's pieces of s(0) and of the t² coefficient, s(1) follows from
    the running claim. No eq table is folded. Each tree's batching coefficients (a, b) are taken into its
    tables or the kernel so that F is one sum of products:

    * 4 tables: a·X + b·Y = a·(A·q_hi + B·q_lo) with A = p_lo + κ·q_lo, B = p_hi + κ·q_hi, κ = b/(2a); the
      engine replaces p_lo, p_hi by A, B once (folding is linear: the folds of A, B are A, B of the folds) and
      recovers p_lo, p_hi from the finals: 6 multiplications per pair and round instead of 10;
    * the 2 leaf halves of a p = 1 tree: a·(q_lo + q_hi) + b·q_lo·q_hi = b·((q_lo + σ)(q_hi + σ) − σ²) with
      σ = a/b, the shift applied inside the kernel: 4 multiplications instead of 5.

    (With a zero coefficient, probability ~2^-250 for the batching challenge, the engine sums X and Y apart.)
    Tables are folded in place: ``own=True`` lets the folds (and A, B) overwrite the caller's arrays."""

    def __init__(self, trees: list[list[Fr]], coefs: list[tuple[int, int]], point: list[int], claim: int, *, own: bool):
        self.be = trees[0][0].backend
        kernels = self.be.fused()
        if kernels is None:
            raise ValueError("the fused layer engine needs a backend with fused kernels")
        if len(coefs) != len(trees) or any(len(tabs) not in (2, 4) for tabs in trees):
            raise ValueError("the fused layer engine takes 2 or 4 tables per tree and one coefficient pair each")
        self.kernels = kernels
        self.n = len(point)
        self.d = 3
        self.coefs, self.point = [(int(a) % R, int(b) % R) for a, b in coefs], list(point)
        self.claim = int(claim) % R
        self.E = Fr.eq_table(list(point[1:]), backend=self.be).limbs
        # the tables are folded in place: work on private copies unless they are ours already (``own``)
        xp = self.be.xp
        self.cur = [[xp.ascontiguousarray(t.limbs) if own else t.limbs.copy() for t in tabs] for tabs in trees]
        # per tree: κ (4 tables, p_lo and p_hi replaced by A and B) or σ (2 tables); None: X and Y summed apart
        self.shift: list[int] | None = None
        if all((a if len(tabs) == 4 else b) for tabs, (a, b) in zip(self.cur, self.coefs)):
            self.shift = []
            for tabs, (a, b) in zip(self.cur, self.coefs):
                if len(tabs) == 4:
                    kappa = b * pow(2 * a, -1, R) % R
                    k = scalar_limbs(kappa)
                    kernels.axpy_inplace(k, tabs[2], tabs[0])
                    kernels.axpy_inplace(k, tabs[3], tabs[1])
                    self.shift.append(kappa)
                else:
                    self.shift.append(a * pow(b, -1, R) % R)
        self.eqpre = 1
        self.i = 0
        self._p: Callable[[int], int] | None = None

    @staticmethod
    def available(backend) -> bool:
        return backend.fused() is not None

    def _tree_pieces(self, j: int, tabs, e) -> tuple[int, int]:
        """Tree j's (Σ e·F(0), t² coefficient of Σ e·F(t)) over tables ``tabs`` (2·len(e) entries each)."""
        a, b = self.coefs[j]
        if self.shift is None:
            x0, y0, xi, yi = (mont_to_int(row) for row in self.kernels.gkr_sums(tabs, e))
            return a * x0 + b * y0, a * xi + b * yi
        s = self.shift[j]
        z0, zi = (mont_to_int(row) for row in self.kernels.gkr_cross_sums(tabs, e, scalar_limbs(s)))
        if len(tabs) == 4:
            return a * z0, a * zi
        # Σ e·b·((c + σ)(d + σ) − σ²) with Σ e = 1 (an eq table over all its variables)
        return b * (z0 - s * s), b * zi

    def _s1_direct(self) -> int:
        """s(1) summed over the upper halves (only when the running claim cannot give it): the pieces at t = 0 of
        the tables whose lower halves are the upper ones, (hi, hi) (slopes zero)."""
        be, acc = self.be, 0
        for j, cur in enumerate(self.cur):
            h = len(cur[0]) // 2
            hi = [be.xp.concatenate([c[h:], c[h:]]) for c in cur]
            acc += self._tree_pieces(j, hi, self.E)[0]
        return acc % R

    def message(self) -> list[int]:
        s0 = s2 = 0
        for j, cur in enumerate(self.cur):
            p0, p2 = self._tree_pieces(j, cur, self.E)
            s0 += p0
            s2 += p2  # the t² coefficient of s
        s0, s2 = s0 % R, s2 % R
        u, eqpre = self.point[self.i], self.eqpre
        if u % R and eqpre:
            s1 = (self.claim * pow(eqpre, -1, R) - (1 - u) * s0) * pow(u, -1, R) % R
        else:  # probability ~2^-250: sum the hi halves directly
            s1 = self._s1_direct()
        s_lin = (s1 - s0 - s2) % R

        def p_at(t):
            return eqpre * ((1 - u) * (1 - t) + u * t) % R * ((s0 + s_lin * t + s2 * t * t) % R) % R

        self._p = p_at
        return [p_at(t) for t in range(4)]

    def bind(self, r: int) -> None:
        u = self.point[self.i]
        assert self._p is not None, "bind() before message()"
        self.claim = self._p(r)
        self.eqpre = self.eqpre * ((1 - u) * (1 - r) + u * r) % R
        c = scalar_limbs(r)
        self.cur = [self.kernels.fold_many_inplace(cur, c) for cur in self.cur]
        if self.E.shape[0] > 1:
            self.E = self.kernels.halve_sum_inplace(self.E)
        self.i += 1

    def finals(self) -> tuple[int, ...]:
        out: list[int] = []
        for j, cur in enumerate(self.cur):
            vals = [mont_to_int(self.be.to_host(c[:1])[0]) for c in cur]
            if self.shift is not None and len(cur) == 4:  # A, B back to p_lo = A − κ·q_lo, p_hi = B − κ·q_hi
                k = self.shift[j]
                vals[0], vals[1] = (vals[0] - k * vals[2]) % R, (vals[1] - k * vals[3]) % R
            out += vals
        return tuple(out)


def _interp(lo, hi, g: int):
    """lo + g·(hi − lo): the line through two values (ints, or committed scalars in zero-knowledge mode)."""
    out = lo + g * (hi - lo)
    return out % R if isinstance(out, int) else out


def _batch_coefficients(lam: int, count: int) -> list[tuple[int, int]]:
    """(λ^(2j), λ^(2j+1)) for the p and q claims of the j-th tree of a depth: one tree is p + λ·q."""
    out, x = [], 1
    for _ in range(count):
        out.append((x, x * lam % R))
        x = x * lam % R * lam % R
    return out


def _batched_relation(coefs: list[tuple[int, int]], units: list[bool]) -> sc.Relation:
    """Σ_j eq·(a_j·X_j + b_j·Y_j) over the trees' tables side by side: (p_lo, p_hi, q_lo, q_hi) with
    X = p_lo·q_hi + p_hi·q_lo, or the leaf halves (q_lo, q_hi) of a p = 1 tree with X = q_lo + q_hi;
    Y = q_lo·q_hi."""
    terms: list[tuple[int, tuple[int, ...]]] = []
    o = 0
    for (a, b), unit in zip(coefs, units):
        if unit:
            terms += [(a, (o,)), (a, (o + 1,)), (b, (o, o + 1))]
            o += 2
        else:
            terms += [(a, (o, o + 3)), (a, (o + 1, o + 2)), (b, (o + 2, o + 3))]
            o += 4
    return sc.Relation(o, tuple(terms), eq_weighted=True)


#: a prover's tree for :func:`_gkr_trees`: step k ↦ the tables of that step (the halves of layer k + 1, or the
#: leaf halves of a p = 1 tree at its last step); each is asked for once, in increasing k, and may be folded
#: in place.
TreeTables = Callable[[int], list[Fr]]


def _gkr_trees(ch, layer1s, depths: Sequence[int], units: Sequence[bool], *, trees: Sequence[TreeTables] | None = None):
    """The GKR layer sumchecks of several fractional-sum trees at once, from their layer-1 values (sent) down to
    their leaves; prover (``trees`` given) or verifier. Tree j has its leaves at layer ``depths[j]`` (≥ 2);
    ``units[j]``: its leaves have p = 1 (its last step has the 2 leaf halves as tables).

    All trees share one point per depth: one γ, then per depth k = 1 … max depth − 1 one λ (drawn after every
    tree's claims at depth k are fixed) and ONE sumcheck over k variables of Σ_j eq·(λ^(2j)·X_j + λ^(2j+1)·Y_j)
    over the trees j that have a layer k + 1, claim Σ_j λ^(2j)·p~_j(ρ) + λ^(2j+1)·q~_j(ρ); then one γ extends the
    common point. A tree whose leaves are at layer k + 1 stops there. Returns per tree its leaf point (its
    ``depths[j]`` variables) and its leaf claims (p, q). One tree is the single-tree protocol (p + λ·q)."""
    if len(layer1s) != len(depths) or len(units) != len(depths) or not depths:
        raise ValueError("one layer-1 quadruple, depth and leaf kind per tree needed")
    if any(int(d) < 2 for d in depths):
        raise ValueError(f"fraction trees need leaves at layer ≥ 2, got depths {list(depths)}")
    t = ch.transcript
    g = t.challenge_fr("range/gamma")
    point = [g]
    claims = [(_interp(p_lo, p_hi, g), _interp(q_lo, q_hi, g)) for p_lo, p_hi, q_lo, q_hi in layer1s]
    out: list = [None] * len(depths)
    for k in range(1, max(depths)):
        active = [j for j, d in enumerate(depths) if d > k]
        lam = t.challenge_fr("range/lambda")
        coefs = _batch_coefficients(lam, len(active))
        last = [bool(units[j]) and depths[j] == k + 1 for j in active]
        rel = _batched_relation(coefs, last)
        claim = 0
        for (a, b), j in zip(coefs, active):
            claim = claim + a * claims[j][0] + b * claims[j][1]
        if trees is None:  # verifier
            try:
                pt, vals = ch.sumcheck(k, rel, claim, eq_point=point, what=f"range check GKR depth {k}")
            except VerificationError as exc:
                raise VerificationError(f"range check GKR depth {k}: {exc}") from exc
        else:
            tabs = [trees[j](k) for j in active]
            engine = None
            if _FusedLayerEngine.available(tabs[0][0].backend):
                value = claim.value if hasattr(claim, "value") else claim
                engine = _FusedLayerEngine(tabs, coefs, point, value, own=True)
            pt, vals = ch.sumcheck([x for tt in tabs for x in tt], rel, claim, eq_point=point, engine=engine)
            del tabs, engine
        g = t.challenge_fr("range/gamma")
        point = [g, *pt]
        o = 0
        for j, unit in zip(active, last):
            if unit:
                claims[j] = (1, _interp(vals[o], vals[o + 1], g))
                o += 2
            else:
                claims[j] = (_interp(vals[o], vals[o + 1], g), _interp(vals[o + 2], vals[o + 3], g))
                o += 4
            if depths[j] == k + 1:
                out[j] = (list(point), claims[j])
    return out


def _gkr_tree(ch, layer1, n_steps: int, unit_last: bool, *, layers=None, leaf_halves=None):
    """One tree through :func:`_gkr_trees` (``layers[k]`` = (p_k, q_k) and the leaf halves of a p = 1 tree for
    the prover; nothing for the verifier). Returns the leaf point and the leaf claims (p, q) there."""
    trees = None
    if layers is not None:

        def tables(k: int) -> list[Fr]:
            if unit_last and k == n_steps:
                return list(leaf_halves)
            pk, qk = layers[k + 1]
            h = 1 << k
            return [pk[:h], pk[h:], qk[:h], qk[h:]]

        trees = [tables]
    return _gkr_trees(ch, [layer1], [n_steps + 1], [unit_last], trees=trees)[0]


def _roots_check(ch: ProverChannelProtocol | VerifierChannelProtocol, value_layer1s, table_layer1) -> None:
    """Σ_k P_k/Q_k + P_t/Q_t = 0 over the value trees k and the table tree, with every Q ≠ 0, where
    P = p_lo·q_hi + p_hi·q_lo and Q = q_lo·q_hi. The value roots are summed as one fraction P_v/Q_v
    (Q_v = Π_k Q_k, nonzero iff every Q_k is)."""

    def root(quad):
        p_lo, p_hi, q_lo, q_hi = quad
        return ch.mul(p_lo, q_hi) + ch.mul(p_hi, q_lo), ch.mul(q_lo, q_hi)

    P_v, Q_v = root(value_layer1s[0])
    for quad in value_layer1s[1:]:
        P_k, Q_k = root(quad)
        P_v, Q_v = ch.mul(P_v, Q_k) + ch.mul(P_k, Q_v), ch.mul(Q_v, Q_k)
    P_t, Q_t = root(table_layer1)
    ch.nonzero(Q_v, "range check: zero denominator at the value tree's root")
    ch.nonzero(Q_t, "range check: zero denominator at the table tree's root")
    ch.zero(
        ch.mul(P_v, Q_t) + ch.mul(P_t, Q_v),
        "range check: the fractional sum is not zero (a value is out of range or the multiplicities are wrong)",
    )


class _ValueTree:
    """The prover's value tree of one range tensor (leaves (1, α − L_i − β·tag_i)) between its layer-1 message
    and its layer sumchecks, which all value trees await at once: the leaves (2^n field elements) are recomputed
    from ``L`` at the last step n − 1; layers 1 … n − 2 (2^n) are stored, and layer n − 1 (2^n) too when
    ``keep_top``, else it is recomputed from the leaves at step n − 2 (:meth:`LookupBackend.prove` keeps it while
    the trees together stay within twice the largest)."""

    def __init__(self, layout: RangeLayout, L: np.ndarray, alpha: int, beta: int, *, keep_top: bool = True):
        self.layout, self.L, self.alpha, self.beta = layout, L, alpha, beta
        self.n = layout.n
        p1, q1 = self._top()
        layers: list = fraction_layers(p1, q1)  # layers 0 .. n − 1
        del p1, q1
        self.layer1 = [layers[1][0][0], layers[1][0][1], layers[1][1][0], layers[1][1][1]]
        if not keep_top or self.n == 2:  # (n = 2: layer n − 1 is layer 1, already sent; the next step is the last)
            layers[self.n - 1] = None
        self.layers = layers

    def _leaves(self) -> Fr:
        return _value_leaves(self.layout, self.L, self.alpha, self.beta)

    def _top(self) -> tuple[Fr, Fr]:
        """Layer n − 1 from ``L`` in one pass, the leaves not stored: p = q_lo + q_hi, q = q_lo·q_hi."""
        be = get_backend(None)
        fused = be.fused()
        if fused is not None:
            consts = _leaf_consts(self.alpha, self.beta)
            p1, q1 = fused.unit_layer_from_small(self.L, self.layout.tags(), consts)
            return Fr(p1, be), Fr(q1, be)
        q = self._leaves()
        h = len(q) // 2
        return q[:h] + q[h:], q[:h] * q[h:]

    def __call__(self, k: int) -> list[Fr]:
        """The tables of step k (the halves of layer k + 1; the leaf halves at the last step k = n − 1)."""
        h = 1 << k
        if k == self.n - 1:
            q = self._leaves()
            return [q[:h], q[h:]]
        if self.layers[k + 1] is None:  # layer n − 1, not kept
            assert k == self.n - 2, "each step's tables are asked for once"
            p, q = self._top()
        else:
            p, q = self.layers[k + 1]
        self.layers[k + 1] = None  # folded in place by its sumcheck: no longer a layer
        return [p[:h], p[h:], q[:h], q[h:]]


def _layer_tables(layers) -> TreeTables:
    """A tree whose layers are all stored (the table tree): step k takes the halves of layer k + 1."""

    def tables(k: int) -> list[Fr]:
        p, q = layers[k + 1]
        layers[k + 1] = None
        h = 1 << k
        return [p[:h], p[h:], q[:h], q[h:]]

    return tables


class LookupBackend:
    """One batched LogUp + GKR fractional sums over every range tensor. Committed: each range tensor ``L_k``
    (2^n_k) and one multiplicity table ``m`` (2^17) counting the leaves of all of them."""

    name = "lookup"

    def committed_log_sizes(self, layout: RangeLayout | RangeLayouts) -> dict[str, int]:
        lays = as_layouts(layout)
        return {**{t: lay.n for t, lay in lays.items()}, "m": TABLE_LOG}

    def committed_tables(
        self, layout: RangeLayout | RangeLayouts, L_values, *, strict: bool = True
    ) -> dict[str, np.ndarray]:
        """{range tensor: L_k, "m": m} (int64). ``strict`` raises QuantizationOverflow on an out-of-range entry."""
        lays = as_layouts(layout)
        Ls = lays.as_values(L_values)
        if strict:
            lays.check_values(Ls)
        return {**Ls, "m": multiplicities(lays, Ls)}

    @staticmethod
    def _depths(lays: RangeLayouts) -> tuple[list[int], list[bool]]:
        """Leaf layers of the value trees (layout order) and the table tree, and which have p = 1 leaves."""
        return [lay.n for _, lay in lays.items()] + [TABLE_LOG], [True] * len(lays) + [False]

    # ---------------------------------------------------------------------------------------- prover
    def prove(
        self, layout: RangeLayout | RangeLayouts, L_values, ch: ProverChannelProtocol, *, tables=None
    ) -> list[Claim]:
        """Prove, through the prover channel ``ch``, that the committed range tensors (with the committed m) are
        in range. ``tables``: what the caller committed (default: recomputed from ``L_values``). Returns the
        claims on every range tensor and on m to discharge.

        Messages: layer 1 of every value tree (in layout order) and of the table tree, the root check, then the
        batched layer sumchecks of all trees (one per depth, :func:`_gkr_trees`). Each value tree keeps its
        layers meanwhile, recomputing its leaves from ``L`` (and layer n − 1 when the trees together exceed twice
        the largest, :class:`_ValueTree`)."""
        lays = as_layouts(layout)
        if tables is None:
            tables = self.committed_tables(lays, L_values, strict=False)
        Ls = lays.as_values({k: tables[k] for k in lays.names()})
        m = np.asarray(tables["m"]).reshape(-1).astype(np.int64, copy=False)
        if m.size != TABLE_SIZE:
            raise ValueError(f"multiplicities need {TABLE_SIZE} entries, got {m.size}")
        t = ch.transcript
        _absorb_layout(t, lays, self.name)
        alpha = t.challenge_fr("range/alpha")
        beta = t.challenge_fr("range/beta")
        keep_top = lays.size <= 2 << max(lay.n for _, lay in lays.items())  # memory ≤ 4·2^n_max field elements
        value_trees = [_ValueTree(lays[name], Ls[name], alpha, beta, keep_top=keep_top) for name in lays.names()]
        # table tree: leaves (−m, α − V)
        be = get_backend(None)
        v_fr, k_fr = _table_fr(be)
        tab_layers: list = fraction_layers(-Fr.from_int64(m, be), alpha - k_fr.axpy(beta, v_fr))  # layers 0 .. 17
        tab_layer1 = [tab_layers[1][0][0], tab_layers[1][0][1], tab_layers[1][1][0], tab_layers[1][1][1]]
        sent = ch.values("range/layer1", [x for tree in value_trees for x in tree.layer1] + tab_layer1)
        quads = [sent[4 * i : 4 * i + 4] for i in range(len(lays) + 1)]
        _roots_check(ch, quads[:-1], quads[-1])
        depths, units = self._depths(lays)
        leaves = _gkr_trees(ch, quads, depths, units, trees=[*value_trees, _layer_tables(tab_layers)])
        return self._leaves(ch, lays, alpha, beta, leaves[:-1], leaves[-1])

    @staticmethod
    def _leaves(ch, lays: RangeLayouts, alpha, beta, value_leaves, table_leaf) -> list[Claim]:
        """Leaf relations: q_k = α − L_k~(ρ_k) − β·tag_k~(ρ_k) gives the claim on range tensor k;
        p_t = −m~(ρ_t) the claim on m; q_t must be the public table's α − V~(ρ_t)."""
        rho_t, (p_t, q_t) = table_leaf
        ch.zero(q_t - (alpha - table_mle(rho_t, beta)), "range check: the table tree's leaves are not the table")
        out = []
        for (name, lay), (rho_v, (_, q_v)) in zip(lays.items(), value_leaves):
            out.append(Claim(name, tuple(rho_v), alpha - q_v - beta * lay.tag_mle(rho_v)))
        return [*out, Claim("m", tuple(rho_t), -p_t)]

    # ---------------------------------------------------------------------------------------- verifier
    def verify(self, layout: RangeLayout | RangeLayouts, ch: VerifierChannelProtocol) -> list[Claim]:
        """Check the range proof read through the verifier channel; return the claims on every range tensor and
        on m. Raises VerificationError / ProofFormatError."""
        lays = as_layouts(layout)
        t = ch.transcript
        _absorb_layout(t, lays, self.name)
        alpha = t.challenge_fr("range/alpha")
        beta = t.challenge_fr("range/beta")
        sent = ch.values("range/layer1", 4 * len(lays) + 4)
        quads = [sent[4 * i : 4 * i + 4] for i in range(len(lays) + 1)]
        _roots_check(ch, quads[:-1], quads[-1])
        depths, units = self._depths(lays)
        leaves = _gkr_trees(ch, quads, depths, units)
        return self._leaves(ch, lays, alpha, beta, leaves[:-1], leaves[-1])

    # ---------------------------------------------------------------------------------------- claims on L
    def prove_translate(self, layout, claims, ch: ProverChannelProtocol, *, L_values=None, tables=None) -> list[Claim]:
        """Claims on a range tensor stay claims on that committed tensor: nothing to prove."""
        _check_L_claims(as_layouts(layout), claims)
        return list(claims)

    def verify_translate(self, layout, claims, ch: VerifierChannelProtocol) -> list[Claim]:
        _check_L_claims(as_layouts(layout), claims)
        return list(claims)


def bit_tensor(layout: RangeLayout, L_values) -> np.ndarray:
    """B (bool, 2^(n+4)): entry i·16 + k = bit k of L_i (two's complement bits for negative inputs)."""
    L = layout._as_L(L_values)
    return (((L[:, None] >> np.arange(PLANES, dtype=np.int64)) & 1) != 0).reshape(-1)


def _eq_small(tau: Sequence[int]) -> list[int]:
    """eq(τ, k) for k < 2^len(τ) as Python ints (τ_1 bound to the most significant bit of k)."""
    eq = [1]
    for t in tau:
        eq = [x for e in eq for x in (e * (1 - t) % R, e * t % R)]
    return eq


def mask_mle(layout: RangeLayout, point: Sequence[int]) -> int:
    """MLE of the public mask (entry (i, k) ↦ [k ≥ tag_i]) at a point of n + 4 variables.

    mask~(ρ, τ) = 1 − Σ_s ind_s~(ρ) · Σ_{k < bits_s} eq(τ, k): O(#segments · n + 16).
    """
    if len(point) != layout.n + PLANE_LOG:
        raise ValueError(f"mask MLE needs {layout.n + PLANE_LOG} variables, got {len(point)}")
    rho, tau = point[: layout.n], point[layout.n :]
    eq = _eq_small(tau)
    below = [0] * (PLANES + 1)  # below[b] = Σ_{k<b} eq(τ, k)
    for k in range(PLANES):
        below[k + 1] = (below[k] + eq[k]) % R
    acc = 1
    for s in layout.segments:
        acc -= layout._seg_prefix(s, rho) * below[s.bits]
    return acc % R


def bits_table_name(tensor: str) -> str:
    """The bit tensor of a range tensor: ``L`` → ``B``, ``L3`` → ``B3``."""
    return "B" + tensor[1:] if tensor.startswith("L") else f"B.{tensor}"


class BitsBackend:
    """Bit decomposition (the paper's zkReLU range check). Committed: per range tensor ``L_k`` its bit tensor
    ``B_k`` (2^(n_k+4) bits, subset sums); one zero-check sumcheck per tensor."""

    name = "bits"

    def committed_log_sizes(self, layout: RangeLayout | RangeLayouts) -> dict[str, int]:
        return {bits_table_name(t): lay.n + PLANE_LOG for t, lay in as_layouts(layout).items()}

    def committed_tables(
        self, layout: RangeLayout | RangeLayouts, L_values, *, strict: bool = True
    ) -> dict[str, np.ndarray]:
        """{bit tensor: bool array of 2^(n_k+4)}. ``strict`` raises QuantizationOverflow on an out-of-range
        entry."""
        lays = as_layouts(layout)
        Ls = lays.as_values(L_values)
        if strict:
            lays.check_values(Ls)
        return {bits_table_name(t): bit_tensor(lays[t], L) for t, L in Ls.items()}

    @staticmethod
    def _mask(layout: RangeLayout) -> np.ndarray:
        k = np.arange(PLANES, dtype=np.int64)
        return (k[None, :] >= layout.tags()[:, None]).reshape(-1).astype(np.int64)

    @staticmethod
    def _B_np(lays: RangeLayouts, tensor: str, L_values, tables) -> np.ndarray:
        lay = lays[tensor]
        if tables is not None:
            B = tables[bits_table_name(tensor)]
        else:
            B = bit_tensor(lay, lays.as_values(L_values)[tensor])
        B = np.asarray(B).reshape(-1)
        if B.size != 1 << (lay.n + PLANE_LOG):
            raise ValueError(f"B needs 2^{lay.n + PLANE_LOG} entries, got {B.size}")
        return B.astype(np.int64)

    def prove(
        self, layout: RangeLayout | RangeLayouts, L_values, ch: ProverChannelProtocol, *, tables=None
    ) -> list[Claim]:
        """Per range tensor, the zero-check Σ eq(u, x)·B·(1 − B − μ·mask) = 0 over its committed B."""
        lays = as_layouts(layout)
        t = ch.transcript
        _absorb_layout(t, lays, self.name)
        out = []
        for name, lay in lays.items():
            B_np = self._B_np(lays, name, L_values, tables)
            B = Fr.from_int64(B_np)
            u = t.challenge_frs("range/zero-point", lay.n + PLANE_LOG)
            mu = t.challenge_fr("range/mu")
            C = Fr.from_int64(self._mask(lay), B.backend).axpy(-mu, Fr.from_int64(1 - B_np, B.backend))
            del B_np
            point, (b_val, c_val) = ch.sumcheck([B, C], _BITS_RELATION, 0, eq_point=u)
            out.append(self._finish(ch, name, lay, mu, point, b_val, c_val))
        return out

    @staticmethod
    def _finish(ch, name, layout, mu, point, b_val, c_val) -> Claim:
        ch.zero(
            c_val - (1 - b_val - mu * mask_mle(layout, point)),
            "range check (bits): the stated evaluation of 1 − B − μ·mask is wrong",
        )
        return Claim(bits_table_name(name), tuple(point), b_val)

    def verify(self, layout: RangeLayout | RangeLayouts, ch: VerifierChannelProtocol) -> list[Claim]:
        lays = as_layouts(layout)
        t = ch.transcript
        _absorb_layout(t, lays, self.name)
        out = []
        for name, lay in lays.items():
            nv = lay.n + PLANE_LOG
            u = t.challenge_frs("range/zero-point", nv)
            mu = t.challenge_fr("range/mu")
            point, (b_val, c_val) = ch.sumcheck(nv, _BITS_RELATION, 0, eq_point=u, what="range check (bits)")
            out.append(self._finish(ch, name, lay, mu, point, b_val, c_val))
        return out

    # ---------------------------------------------------------------------------------------- claims on L
    def prove_translate(self, layout, claims, ch: ProverChannelProtocol, *, L_values=None, tables=None) -> list[Claim]:
        """For each claim L_k~(ρ) = v state b_j = B_k~(ρ, j); one claim B_k~(ρ, τ) = Σ_j eq(τ, j)·b_j per claim."""
        lays = as_layouts(layout)
        _check_L_claims(lays, claims)
        out = []
        cache: dict[str, tuple] = {}
        for c in claims:
            if c.tensor not in cache:
                cache.clear()  # one bit tensor at a time
                B_np = self._B_np(lays, c.tensor, L_values, tables)
                binary = bool(((B_np == 0) | (B_np == 1)).all())
                cols = (B_np.reshape(-1, PLANES) != 0).T.copy() if binary else None
                cache[c.tensor] = (cols, None if binary else Fr.from_int64(B_np))
            cols, B = cache[c.tensor]
            if cols is not None:  # B~(ρ, k) = Σ_{i: bit k of L_i} eq(ρ, i): 16 subset sums of one eq table
                eq = Fr.eq_table(list(c.point))
                vals = [Fr(eq.limbs[cols[k]], eq.backend).sum() for k in range(PLANES)]
            else:
                assert B is not None
                tab = B
                for x in c.point:
                    tab = tab.fold(x)
                vals = tab.to_ints()
            out.append(self._translate(c, ch.values("range/planes", vals), ch))
        return out

    @staticmethod
    def _translate(c: Claim, vals, ch) -> Claim:
        recomposed = 0
        for k, b in enumerate(vals):
            recomposed = recomposed + (1 << k) * b
        ch.zero(recomposed - c.value, "range check (bits): the bit planes do not recompose the claimed L value")
        tau = ch.transcript.challenge_frs("range/tau", PLANE_LOG)
        value = 0
        for e, b in zip(_eq_small(tau), vals):
            value = value + e * b
        return Claim(bits_table_name(c.tensor), tuple(c.point) + tuple(tau), value)

    def verify_translate(self, layout, claims, ch: VerifierChannelProtocol) -> list[Claim]:
        _check_L_claims(as_layouts(layout), claims)
        return [self._translate(c, ch.values("range/planes", PLANES), ch) for c in claims]


RangeBackend = LookupBackend | BitsBackend
BACKENDS: dict[str, type[LookupBackend] | type[BitsBackend]] = {"lookup": LookupBackend, "bits": BitsBackend}


def make_range_backend(name: str = "lookup") -> RangeBackend:
    """``"lookup"`` (default, LogUp-GKR) or ``"bits"`` (bit decomposition)."""
    try:
        return BACKENDS[name]()
    except KeyError:
        raise ValueError(f"unknown range-check back-end {name!r}; choose one of {sorted(BACKENDS)}") from None


__all__ = [
    "BitsBackend",
    "LookupBackend",
    "MAX_BITS",
    "RangeLayout",
    "RangeLayouts",
    "as_layouts",
    "bits_table_name",
    "Segment",
    "TABLE_LOG",
    "bit_tensor",
    "fraction_layers",
    "make_range_backend",
    "mask_mle",
    "multiplicities",
    "table_mle",
    "table_values",
]
