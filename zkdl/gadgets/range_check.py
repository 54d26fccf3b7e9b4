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

from ..errors import ProofFormatError, QuantizationOverflow
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
    size. ``n = max(⌈log2(total)⌉, 17)``; the tail after the last segment holds zeros with tag 0.
    """

    def __init__(self, segments: Sequence[tuple[str, int, int]]):
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
        self.n = max(_ceil_log2(offset), TABLE_LOG)
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
        L = L.reshape(-1).astype(np.int64)
        if L.size != self.size:
            raise ValueError(f"L has {L.size} entries, the layout needs 2^{self.n} = {self.size}")
        return L


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


def multiplicities(layout: RangeLayout, L_values: np.ndarray) -> np.ndarray:
    """How often each table entry occurs among the 2^n leaves (L_i, tag_i): entry j = 2^tag + L_i.

    Entries outside their range are not counted (an honest caller checked them first).
    """
    L = layout._as_L(L_values)
    tags = layout.tags()
    ok = (L >= 0) & (L < (np.int64(1) << tags))
    j = (np.int64(1) << tags[ok]) + L[ok]
    return np.bincount(j, minlength=TABLE_SIZE).astype(np.int64)


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


def _gkr_relation(lam: int) -> sc.Relation:
    # tables: 0 p_lo, 1 p_hi, 2 q_lo, 3 q_hi
    return sc.Relation(4, ((1, (0, 3)), (1, (1, 2)), (lam, (2, 3))), eq_weighted=True)


def _unit_relation(lam: int) -> sc.Relation:
    # the value tree's leaf layer (p = 1): tables 0 q_lo, 1 q_hi; p = q_lo + q_hi, q = q_lo·q_hi
    return sc.Relation(2, ((1, (0,)), (1, (1,)), (lam, (0, 1))), eq_weighted=True)


# tables: 0 B, 1 C = 1 − B − μ·mask;  eq · B · C = eq · (B − B² − μ·mask·B)
_BITS_RELATION = sc.Relation.product(2, eq_weighted=True)


# =============================================================================================== back-ends


def _absorb_layout(transcript, layout: RangeLayout, backend: str) -> None:
    transcript.absorb_bytes("range/backend", backend.encode())
    transcript.absorb_shape("range/layout", layout.descriptor())


def _check_L_claims(layout: RangeLayout, claims: Sequence[Claim]) -> None:
    for c in claims:
        if c.tensor != "L" or len(c.point) != layout.n:
            raise ValueError(
                f"expected claims on 'L' at points of {layout.n} variables, got {c.tensor!r} at {len(c.point)}"
            )


def _value_leaves(layout: RangeLayout, L: np.ndarray, alpha: int, beta: int, backend=None) -> Fr:
    """q_i = α − L_i − β·tag_i for all 2^n entries."""
    be = get_backend(backend)
    tags = layout.tags()
    fused = be.fused()
    if fused is not None:
        consts = np.stack([scalar_limbs(alpha - beta * k) for k in range(MAX_BITS + 1)])
        return Fr(fused.leaves_from_small(L, tags, consts), be)
    return alpha - Fr.from_int64(tags, be).axpy(beta, Fr.from_int64(L, be))


class _FusedLayerEngine:
    """Round engine for the GKR layer relations ``Σ_x eq(point, x)·(X(x) + λ·Y(x))`` with eq factored out; the
    sumcheck engine (clear and zero-knowledge) runs its rounds through it and sends exactly the messages its
    generic rounds would (a test checks the bytes).

    Round i's polynomial is eq(u_<i, r_<i)·eq(u_i, t)·s(t) with s of degree 2, s(t) = Σ_j E_i[j]·F(t, j),
    E_i = eq(u_>i) (halved each round by summing its halves, no multiplications); the kernel returns s(0) and
    the t² coefficient, s(1) follows from the running claim. No eq table is folded and a round costs ~10
    (4 tables) or 5 (2 tables) multiplications per pair instead of 24. Tables are folded in place: ``own=True``
    lets the folds overwrite the caller's arrays."""

    def __init__(self, tables: list[Fr], lam: int, point: list[int], claim: int, unit: bool, *, own: bool):
        self.be = tables[0].backend
        kernels = self.be.fused()
        if kernels is None:
            raise ValueError("the fused layer engine needs a backend with fused kernels")
        self.kernels = kernels
        self.n = len(point)
        self.d = 3
        self.lam, self.point, self.unit = lam, list(point), unit
        self.claim = int(claim) % R
        self.E = Fr.eq_table(list(point[1:]), backend=self.be).limbs
        # the tables are folded in place: work on private copies unless they are ours already (``own``)
        self.cur = [self.be.xp.ascontiguousarray(t.limbs) if own else t.limbs.copy() for t in tables]
        self.eqpre = 1
        self.i = 0
        self._p: Callable[[int], int] | None = None

    @staticmethod
    def available(backend) -> bool:
        return backend.fused() is not None

    def message(self) -> list[int]:
        be, cur, E, lam = self.be, self.cur, self.E, self.lam
        x0, y0, xi, yi = (mont_to_int(row) for row in self.kernels.gkr_sums(cur, E))
        s0 = (x0 + lam * y0) % R
        s2 = (xi + lam * yi) % R  # the t² coefficient of s
        u, eqpre = self.point[self.i], self.eqpre
        if u % R and eqpre:
            s1 = (self.claim * pow(eqpre, -1, R) - (1 - u) * s0) * pow(u, -1, R) % R
        else:  # probability ~2^-250: sum the hi halves directly
            h = len(cur[0]) // 2
            hi = [Fr(c[h:], be) for c in cur]
            ev = Fr(E, be)
            if self.unit:
                x1, y1 = (hi[0] + hi[1]).inner(ev), (hi[0] * hi[1]).inner(ev)
            else:
                x1, y1 = (hi[0] * hi[3] + hi[1] * hi[2]).inner(ev), (hi[2] * hi[3]).inner(ev)
            s1 = (x1 + lam * y1) % R
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
        self.cur = self.kernels.fold_many_inplace(self.cur, scalar_limbs(r))
        if self.E.shape[0] > 1:
            self.E = self.kernels.halve_sum_inplace(self.E)
        self.i += 1

    def finals(self) -> tuple[int, ...]:
        return tuple(mont_to_int(self.be.to_host(c[:1])[0]) for c in self.cur)


def _interp(lo, hi, g: int):
    """lo + g·(hi − lo): the line through two values (ints, or committed scalars in zero-knowledge mode)."""
    out = lo + g * (hi - lo)
    return out % R if isinstance(out, int) else out


def _layer(ch, halves, lam, point, claim, unit):
    """One layer sumcheck through the channel, with the fused eq-factored round engine where the backend has
    its kernels (the same messages as the generic rounds, in clear and zero-knowledge mode)."""
    rel = _unit_relation(lam) if unit else _gkr_relation(lam)
    engine = None
    if _FusedLayerEngine.available(halves[0].backend):
        value = claim.value if hasattr(claim, "value") else claim
        engine = _FusedLayerEngine(halves, lam, point, value, unit, own=True)
    return ch.sumcheck(halves, rel, claim, eq_point=point, engine=engine)


def _gkr_tree(ch, layer1, n_steps: int, unit_last: bool, *, layers=None, leaf_halves=None):
    """The layer sumchecks of one tree from its layer-1 values down to the leaves, prover (``layers`` given:
    ``layers[k]`` = (p_k, q_k), and the leaf halves of a p = 1 tree) or verifier. Returns the leaf point and
    the leaf claims (p, q) there."""
    p_lo, p_hi, q_lo, q_hi = layer1
    t = ch.transcript
    g = t.challenge_fr("range/gamma")
    point = [g]
    p_claim, q_claim = _interp(p_lo, p_hi, g), _interp(q_lo, q_hi, g)
    for k in range(1, n_steps + 1):
        lam = t.challenge_fr("range/lambda")
        unit = unit_last and k == n_steps
        claim = p_claim + lam * q_claim
        if layers is None:  # verifier
            rel = _unit_relation(lam) if unit else _gkr_relation(lam)
            pt, vals = ch.sumcheck(k, rel, claim, eq_point=point, what=f"range check layer {k}")
        else:
            if unit:
                halves = list(leaf_halves)
            else:
                prev = layers[k + 1]
                assert prev is not None
                pk, qk = prev
                h = 1 << k
                halves = [pk[:h], pk[h:], qk[:h], qk[h:]]
            pt, vals = _layer(ch, halves, lam, point, claim, unit)
        g = t.challenge_fr("range/gamma")
        point = [g, *pt]
        if unit:
            p_claim, q_claim = 1, _interp(vals[0], vals[1], g)
        else:
            p_claim, q_claim = _interp(vals[0], vals[1], g), _interp(vals[2], vals[3], g)
    return point, (p_claim, q_claim)


def _roots_check(ch: ProverChannelProtocol | VerifierChannelProtocol, layer1) -> None:
    """P_v/Q_v + P_t/Q_t = 0 with Q_v, Q_t ≠ 0, where P = p_lo·q_hi + p_hi·q_lo and Q = q_lo·q_hi."""
    roots = []
    for base in (0, 4):
        p_lo, p_hi, q_lo, q_hi = layer1[base : base + 4]
        roots.append((ch.mul(p_lo, q_hi) + ch.mul(p_hi, q_lo), ch.mul(q_lo, q_hi)))
    (P_v, Q_v), (P_t, Q_t) = roots
    ch.nonzero(Q_v, "range check: zero denominator at the value tree's root")
    ch.nonzero(Q_t, "range check: zero denominator at the table tree's root")
    ch.zero(
        ch.mul(P_v, Q_t) + ch.mul(P_t, Q_v),
        "range check: the fractional sum is not zero (a value is out of range or the multiplicities are wrong)",
    )


class LookupBackend:
    """LogUp + GKR fractional sums. Committed: ``L`` (2^n) and the multiplicities ``m`` (2^17)."""

    name = "lookup"

    def committed_log_sizes(self, layout: RangeLayout) -> dict[str, int]:
        return {"L": layout.n, "m": TABLE_LOG}

    def committed_tables(self, layout: RangeLayout, L_values, *, strict: bool = True) -> dict[str, np.ndarray]:
        """{"L": L, "m": m} (int64). ``strict`` raises QuantizationOverflow on an out-of-range entry."""
        L = layout._as_L(L_values)
        if strict:
            layout.check_values(L)
        return {"L": L, "m": multiplicities(layout, L)}

    # ---------------------------------------------------------------------------------------- prover
    def prove(self, layout: RangeLayout, L_values, ch: ProverChannelProtocol, *, tables=None) -> list[Claim]:
        """Prove, through the prover channel ``ch``, that the committed L (with the committed m) is in range.
        ``tables``: what the caller committed (default: recomputed from ``L_values``). Returns the claims on L
        and m to discharge."""
        if tables is None:
            tables = self.committed_tables(layout, L_values, strict=False)
        L = layout._as_L(tables["L"])
        m = np.asarray(tables["m"]).reshape(-1).astype(np.int64)
        if m.size != TABLE_SIZE:
            raise ValueError(f"multiplicities need {TABLE_SIZE} entries, got {m.size}")
        n = layout.n
        t = ch.transcript
        _absorb_layout(t, layout, self.name)
        alpha = t.challenge_fr("range/alpha")
        beta = t.challenge_fr("range/beta")

        # value tree: leaves (1, α − L − β·tag); table tree: leaves (−m, α − V)
        q_val = _value_leaves(layout, L, alpha, beta)
        be = q_val.backend
        v_fr, k_fr = _table_fr(be)
        q_tab = alpha - k_fr.axpy(beta, v_fr)
        p_tab = -Fr.from_int64(m, be)
        h = 1 << (n - 1)
        vq_lo, vq_hi = q_val[:h], q_val[h:]
        fused = be.fused()
        if fused is not None:
            p1, q1 = fused.fraction_layer(None, q_val.limbs)
            val_layers = fraction_layers(Fr(p1, be), Fr(q1, be))  # layers 0 .. n − 1
        else:
            val_layers = fraction_layers(vq_lo + vq_hi, vq_lo * vq_hi)
        tab_layers = fraction_layers(p_tab, q_tab)  # layers 0 .. 17
        layer1 = ch.values(
            "range/layer1",
            [x for lay in (val_layers, tab_layers) for x in (lay[1][0][0], lay[1][0][1], lay[1][1][0], lay[1][1][1])],
        )
        _roots_check(ch, layer1)
        rho_v, (_, q_v) = _gkr_tree(ch, layer1[:4], n - 1, True, layers=val_layers, leaf_halves=(vq_lo, vq_hi))
        del val_layers, vq_lo, vq_hi
        rho_t, (p_t, q_t) = _gkr_tree(ch, layer1[4:], TABLE_LOG - 1, False, layers=tab_layers)
        return self._leaves(ch, layout, alpha, beta, rho_v, q_v, rho_t, p_t, q_t)

    @staticmethod
    def _leaves(ch, layout, alpha, beta, rho_v, q_v, rho_t, p_t, q_t) -> list[Claim]:
        """Leaf relations: q_v = α − L~(ρ_v) − β·tag~(ρ_v) gives the claim on L; p_t = −m~(ρ_t) the claim on m;
        q_t must be the public table's α − V~(ρ_t)."""
        ch.zero(q_t - (alpha - table_mle(rho_t, beta)), "range check: the table tree's leaves are not the table")
        L_val = alpha - q_v - beta * layout.tag_mle(rho_v)
        return [Claim("L", tuple(rho_v), L_val), Claim("m", tuple(rho_t), -p_t)]

    # ---------------------------------------------------------------------------------------- verifier
    def verify(self, layout: RangeLayout, ch: VerifierChannelProtocol) -> list[Claim]:
        """Check the range proof read through the verifier channel; return the claims on L and m.
        Raises VerificationError / ProofFormatError."""
        n = layout.n
        t = ch.transcript
        _absorb_layout(t, layout, self.name)
        alpha = t.challenge_fr("range/alpha")
        beta = t.challenge_fr("range/beta")
        layer1 = ch.values("range/layer1", 8)
        _roots_check(ch, layer1)
        rho_v, (_, q_v) = _gkr_tree(ch, layer1[:4], n - 1, True)
        rho_t, (p_t, q_t) = _gkr_tree(ch, layer1[4:], TABLE_LOG - 1, False)
        return self._leaves(ch, layout, alpha, beta, rho_v, q_v, rho_t, p_t, q_t)

    # ---------------------------------------------------------------------------------------- claims on L
    def prove_translate(self, layout, claims, ch: ProverChannelProtocol, *, L_values=None, tables=None) -> list[Claim]:
        """Claims on L stay claims on the committed L: nothing to prove."""
        _check_L_claims(layout, claims)
        return list(claims)

    def verify_translate(self, layout, claims, ch: VerifierChannelProtocol) -> list[Claim]:
        _check_L_claims(layout, claims)
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


class BitsBackend:
    """Bit decomposition (the paper's zkReLU range check). Committed: ``B`` (2^(n+4) bits, subset sums)."""

    name = "bits"

    def committed_log_sizes(self, layout: RangeLayout) -> dict[str, int]:
        return {"B": layout.n + PLANE_LOG}

    def committed_tables(self, layout: RangeLayout, L_values, *, strict: bool = True) -> dict[str, np.ndarray]:
        """{"B": bool array of 2^(n+4)}. ``strict`` raises QuantizationOverflow on an out-of-range entry."""
        L = layout._as_L(L_values)
        if strict:
            layout.check_values(L)
        return {"B": bit_tensor(layout, L)}

    @staticmethod
    def _mask(layout: RangeLayout) -> np.ndarray:
        k = np.arange(PLANES, dtype=np.int64)
        return (k[None, :] >= layout.tags()[:, None]).reshape(-1).astype(np.int64)

    @staticmethod
    def _B_np(layout, L_values, tables) -> np.ndarray:
        B = tables["B"] if tables is not None else bit_tensor(layout, L_values)
        B = np.asarray(B).reshape(-1)
        if B.size != 1 << (layout.n + PLANE_LOG):
            raise ValueError(f"B needs 2^{layout.n + PLANE_LOG} entries, got {B.size}")
        return B.astype(np.int64)

    def prove(self, layout: RangeLayout, L_values, ch: ProverChannelProtocol, *, tables=None) -> list[Claim]:
        """Zero-check Σ eq(u, x)·B·(1 − B − μ·mask) = 0 over the committed B."""
        B_np = self._B_np(layout, L_values, tables)
        B = Fr.from_int64(B_np)
        t = ch.transcript
        _absorb_layout(t, layout, self.name)
        u = t.challenge_frs("range/zero-point", layout.n + PLANE_LOG)
        mu = t.challenge_fr("range/mu")
        C = Fr.from_int64(self._mask(layout), B.backend).axpy(-mu, Fr.from_int64(1 - B_np, B.backend))
        point, (b_val, c_val) = ch.sumcheck([B, C], _BITS_RELATION, 0, eq_point=u)
        return self._finish(ch, layout, mu, point, b_val, c_val)

    @staticmethod
    def _finish(ch, layout, mu, point, b_val, c_val) -> list[Claim]:
        ch.zero(
            c_val - (1 - b_val - mu * mask_mle(layout, point)),
            "range check (bits): the stated evaluation of 1 − B − μ·mask is wrong",
        )
        return [Claim("B", tuple(point), b_val)]

    def verify(self, layout: RangeLayout, ch: VerifierChannelProtocol) -> list[Claim]:
        t = ch.transcript
        _absorb_layout(t, layout, self.name)
        nv = layout.n + PLANE_LOG
        u = t.challenge_frs("range/zero-point", nv)
        mu = t.challenge_fr("range/mu")
        point, (b_val, c_val) = ch.sumcheck(nv, _BITS_RELATION, 0, eq_point=u, what="range check (bits)")
        return self._finish(ch, layout, mu, point, b_val, c_val)

    # ---------------------------------------------------------------------------------------- claims on L
    def prove_translate(self, layout, claims, ch: ProverChannelProtocol, *, L_values=None, tables=None) -> list[Claim]:
        """For each claim L~(ρ) = v state b_k = B~(ρ, k); one claim B~(ρ, τ) = Σ_k eq(τ, k)·b_k per claim."""
        _check_L_claims(layout, claims)
        if not claims:
            return []
        B_np = self._B_np(layout, L_values, tables)
        binary = bool(((B_np == 0) | (B_np == 1)).all())
        cols = (B_np.reshape(-1, PLANES) != 0).T.copy() if binary else None
        B = None if binary else Fr.from_int64(B_np)
        out = []
        for c in claims:
            if cols is not None:  # B~(ρ, k) = Σ_{i: bit k of L_i} eq(ρ, i): 16 subset sums of one eq table
                eq = Fr.eq_table(list(c.point))
                vals = [Fr(eq.limbs[cols[k]], eq.backend).sum() for k in range(PLANES)]
            else:
                assert B is not None
                tab = B
                for x in c.point:
                    tab = tab.fold(x)
                vals = tab.to_ints()
            out.append(self._translate(layout, c, ch.values("range/planes", vals), ch))
        return out

    @staticmethod
    def _translate(layout, c: Claim, vals, ch) -> Claim:
        recomposed = 0
        for k, b in enumerate(vals):
            recomposed = recomposed + (1 << k) * b
        ch.zero(recomposed - c.value, "range check (bits): the bit planes do not recompose the claimed L value")
        tau = ch.transcript.challenge_frs("range/tau", PLANE_LOG)
        value = 0
        for e, b in zip(_eq_small(tau), vals):
            value = value + e * b
        return Claim("B", tuple(c.point) + tuple(tau), value)

    def verify_translate(self, layout, claims, ch: VerifierChannelProtocol) -> list[Claim]:
        _check_L_claims(layout, claims)
        return [self._translate(layout, c, ch.values("range/planes", PLANES), ch) for c in claims]


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
