"""Committed scalars and the Σ-protocols of the zero-knowledge mode (Hyrax §4 style).

Every field element a zero-knowledge prover would send is replaced by a Pedersen commitment
``C = v·g_v + ρ·h`` (fresh uniform ``ρ``: OS CSPRNG, or an explicit ``rng`` in tests). Commitments are additively
homomorphic, so the verifier computes the commitment of every value that is a *linear* function (with public
coefficients) of committed values itself. Only two kinds of statements need proofs:

* **zero checks** — a committed value is 0 (every equality between committed values). They are collected in a
  :class:`ZeroAccumulator` and proven at the end by ONE Schnorr proof of knowledge of ``ρ`` with
  ``W = Σ_i γ_i·Z_i = ρ·h``, the ``γ_i`` drawn from the transcript after every ``Z_i`` is fixed;
* **products** — ``C_z`` commits to ``x·y`` for committed ``x``, ``y``: Hyrax's proof of product
  (:func:`prove_product` / :func:`verify_product`); :func:`prove_nonzero` builds "x ≠ 0" from it;
* **dot products** — ``Y`` commits to ``<x, w>`` for a vector ``x`` committed over the vector generators
  (:func:`commit_vector`) and a public ``w``: :class:`DotProof`, with a response as long as ``x`` (the masks of
  the zero-knowledge sumcheck are short).

Types
-----
:class:`PScalar` (prover): a value with its blinding; ``+``, ``−``, unary ``−``, ``* int`` and ``+ int`` (a public
constant: the blinding is unchanged) act on both. :class:`VScalar` (verifier): the same operations on
commitments, kept *lazily* as a linear combination ``Σ c_j·P_j + k·g_v`` of the points it was built from; it is
materialized by one multi-scalar multiplication when a point is actually needed (:meth:`VScalar.commitment`).
A sumcheck verifier therefore never pays a group operation per round for derived claims.

Requirement on callers: every point that a value added to a :class:`ZeroAccumulator` (or passed to the
verifier of a product proof) depends on must already be bound by the transcript — absorbed itself, or derived
from absorbed points and transcript challenges. The sumcheck of :mod:`zkdl.piop.sumcheck` does this.

Proof of product (Wahby et al., "Doubly-efficient zkSNARKs without trusted setup", §4, Fig. 5 — re-derived):
P knows ``X = x·g + r_x·h``, ``Y = y·g + r_y·h``, ``Z = x·y·g + r_z·h`` (``g = g_v``). It picks
``b_1..b_5`` and sends ``α = b_1·g + b_2·h``, ``β = b_3·g + b_4·h``, ``δ = b_1·Y + b_5·h``; on challenge ``c``
it answers ``z_1 = b_1 + c·x``, ``z_2 = b_2 + c·r_x``, ``z_3 = b_3 + c·y``, ``z_4 = b_4 + c·r_y``,
``z_5 = b_5 + c·(r_z − x·r_y)``. V checks ``α + c·X = z_1·g + z_2·h``, ``β + c·Y = z_3·g + z_4·h`` and
``δ + c·Z = z_1·Y + z_5·h``. The three equations go into a :class:`~zkdl.commit.batch.MsmBatch` (the
verifier's one final MSM, weights from a verifier-local CSPRNG); standalone, into a batch of their own checked
at once.

Transcript labels: ``zero/count``, ``zero/gamma`` (challenges), ``zero/W``, ``zero/A``, ``zero/e``,
``zero/s``; ``product/statement`` (X, Y, Z), ``product/first`` (α, β, δ), ``product/c``, ``product/responses``;
``nonzero/inverse``; ``dot/first`` (D, E), ``dot/c``, ``dot/responses``.

Group arithmetic: commitments to values use fixed-base byte tables of ``g_v`` and ``h`` (64 point additions
instead of a two-point MSM; note that table lookups indexed by secret bytes are not constant-time — neither
is Python integer arithmetic; this library does not claim side-channel resistance), linear combinations of
two or more points one arkworks ``multiexp_unchecked``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, cast

import numpy as np
from py_arkworks_bls12381 import G1Point

from zkdl.errors import ProofFormatError
from zkdl.field import Fr
from zkdl.field.constants import MODULUS as R
from zkdl.serialize import Reader, Writer

from .batch import MsmBatch
from .generators import PublicParams
from .pedersen import msm, random_scalar, scalars_from_ints

__all__ = [
    "DotProof",
    "NonzeroProof",
    "PScalar",
    "ProductProof",
    "VScalar",
    "ZeroAccumulator",
    "ZeroProof",
    "commit_values",
    "commit_vector",
    "lincomb",
    "prove_dot",
    "prove_nonzero",
    "prove_product",
    "verify_dot",
    "verify_nonzero",
    "verify_product",
]


# ---------------------------------------------------------------------------------------------------------
# group helpers
# ---------------------------------------------------------------------------------------------------------
def _bytes_matrix(xs: Sequence[int]) -> np.ndarray:
    raw = b"".join((int(x) % R).to_bytes(32, "little") for x in xs)
    return np.frombuffer(raw, dtype=np.uint8).reshape(len(xs), 32).astype(np.intp)


def commit_values(params: PublicParams, values: Sequence[int], blinds: Sequence[int]) -> list[G1Point]:
    """``[v_i·g_v + ρ_i·h]`` by fixed-base tables (equal to :func:`zkdl.commit.commit_value`, faster)."""
    if len(values) != len(blinds):
        raise ValueError("values and blinds differ in length")
    if not values:
        return []
    cols = np.arange(32)[None, :]
    pv = params.g_v_table()[cols, _bytes_matrix(values)]
    ph = params.h_table()[cols, _bytes_matrix(blinds)]
    picked = np.concatenate([pv, ph], axis=1).tolist()
    return [sum(row[1:], row[0]) for row in picked]


def lincomb(points: Sequence[G1Point], coeffs: Sequence[int]) -> G1Point:
    """``Σ c_i·P_i`` (coefficients are Python ints, reduced mod r); one MSM for two or more terms."""
    pts, cs = [], []
    for p, c in zip(points, coeffs, strict=True):
        c %= R
        if c:
            pts.append(p)
            cs.append(c)
    if not pts:
        return G1Point.identity()
    if len(pts) == 1:
        return pts[0] if cs[0] == 1 else pts[0] * scalars_from_ints(cs)[0]
    return msm(pts, scalars_from_ints(cs))


def _is_point(p: Any) -> bool:
    return isinstance(p, G1Point)


# ---------------------------------------------------------------------------------------------------------
# committed scalars
# ---------------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class PScalar:
    """Prover side of a committed scalar: ``value`` and ``blind`` (both in [0, r)); commitment
    ``value·g_v + blind·h``. A public constant is ``PScalar(c, 0)`` (:meth:`public`)."""

    value: int
    blind: int
    _point: list = field(default_factory=list, repr=False, compare=False)  # cache of the commitment

    def __post_init__(self) -> None:
        object.__setattr__(self, "value", int(self.value) % R)
        object.__setattr__(self, "blind", int(self.blind) % R)

    @classmethod
    def fresh(cls, value: int, rng: Any = None) -> PScalar:
        """Commit ``value`` with a fresh uniform blinding."""
        return cls(value, random_scalar(rng))

    @classmethod
    def public(cls, value: int) -> PScalar:
        return cls(value, 0)

    def commitment(self, params: PublicParams) -> G1Point:
        if not self._point:
            self._point.append(commit_values(params, [self.value], [self.blind])[0])
        return self._point[0]

    def __add__(self, other: PScalar | int) -> PScalar:
        if isinstance(other, PScalar):
            return PScalar(self.value + other.value, self.blind + other.blind)
        if isinstance(other, int):
            return PScalar(self.value + other, self.blind)
        return NotImplemented

    __radd__ = __add__

    def __neg__(self) -> PScalar:
        return PScalar(-self.value, -self.blind)

    def __sub__(self, other: PScalar | int) -> PScalar:
        if isinstance(other, PScalar):
            return PScalar(self.value - other.value, self.blind - other.blind)
        if isinstance(other, int):
            return PScalar(self.value - other, self.blind)
        return NotImplemented

    def __rsub__(self, other: int) -> PScalar:
        if isinstance(other, int):
            return PScalar(other - self.value, -self.blind)
        return NotImplemented

    def __mul__(self, c: int) -> PScalar:
        if isinstance(c, int) and not isinstance(c, bool):
            return PScalar(self.value * c, self.blind * c)
        return NotImplemented  # a product of two committed values needs prove_product

    __rmul__ = __mul__


class VScalar:
    """Verifier side of a committed scalar: a lazy linear combination ``Σ c_j·P_j + k·g_v`` of G1 points.

    ``VScalar(point)`` wraps a point; ``+``/``−`` with another VScalar combine, ``+ c`` (a public int) adds
    ``c·g_v``, ``* c`` scales. :meth:`commitment` materializes the point (one MSM, cached).
    """

    __slots__ = ("_terms", "_const", "_cache")

    def __init__(self, point: G1Point | None = None) -> None:
        self._terms: dict[int, tuple[G1Point, int]] = {}
        self._const = 0
        self._cache: G1Point | None = None
        if point is not None:
            if not _is_point(point):
                raise TypeError(f"VScalar wraps a G1Point, got {type(point).__name__}")
            self._terms[id(point)] = (point, 1)
            self._cache = point

    @classmethod
    def constant(cls, c: int) -> VScalar:
        """The commitment ``c·g_v`` of a public value (blinding 0)."""
        v = cls()
        v._const = int(c) % R
        return v

    @classmethod
    def _make(cls, terms: dict[int, tuple[G1Point, int]], const: int) -> VScalar:
        v = cls()
        v._terms = terms
        v._const = const % R
        return v

    @property
    def n_terms(self) -> int:
        """Number of distinct base points (the size of the MSM that materializes it)."""
        return len(self._terms) + (1 if self._const else 0)

    def terms(self) -> list[tuple[G1Point, int]]:
        return list(self._terms.values())

    def _combine(self, other: VScalar, sign: int) -> VScalar:
        terms = dict(self._terms)
        for k, (p, c) in other._terms.items():
            old = terms.get(k)
            nc = ((old[1] if old else 0) + sign * c) % R
            if nc:
                terms[k] = (p, nc)
            elif old:
                del terms[k]
        return VScalar._make(terms, self._const + sign * other._const)

    def __add__(self, other: VScalar | int) -> VScalar:
        if isinstance(other, VScalar):
            return self._combine(other, 1)
        if isinstance(other, int):
            return VScalar._make(dict(self._terms), self._const + other)
        return NotImplemented

    __radd__ = __add__

    def __sub__(self, other: VScalar | int) -> VScalar:
        if isinstance(other, VScalar):
            return self._combine(other, -1)
        if isinstance(other, int):
            return VScalar._make(dict(self._terms), self._const - other)
        return NotImplemented

    def __rsub__(self, other: int) -> VScalar:
        if isinstance(other, int):
            return (-self) + other
        return NotImplemented

    def __neg__(self) -> VScalar:
        return self * -1

    def __mul__(self, c: int) -> VScalar:
        if isinstance(c, int) and not isinstance(c, bool):
            c %= R
            if not c:
                return VScalar()
            return VScalar._make({k: (p, a * c % R) for k, (p, a) in self._terms.items()}, self._const * c)
        return NotImplemented

    __rmul__ = __mul__

    def linear_terms(self, params: PublicParams) -> tuple[list[G1Point], list[int]]:
        """``(points, coefficients)`` with ``Σ coefficients[j]·points[j]`` the commitment (``g_v`` included when
        the constant is nonzero): for a check deferred to an :class:`MsmBatch` without materializing it."""
        pts = [p for p, _ in self._terms.values()]
        cs = [c for _, c in self._terms.values()]
        if self._const:
            pts.append(params.g_v)
            cs.append(self._const)
        return pts, cs

    def commitment(self, params: PublicParams) -> G1Point:
        """The point ``Σ c_j·P_j + k·g_v`` (one MSM; cached)."""
        if self._cache is None:
            pts = [p for p, _ in self._terms.values()] + [params.g_v]
            cs = [c for _, c in self._terms.values()] + [self._const]
            self._cache = lincomb(pts, cs)
        return self._cache

    def __repr__(self) -> str:
        return f"VScalar({len(self._terms)} points, const={'yes' if self._const else 'no'})"


def _sum_p(items: Sequence[tuple[int, PScalar]]) -> PScalar:
    v = b = 0
    for c, x in items:
        v += c * x.value
        b += c * x.blind
    return PScalar(v, b)


def _sum_v(items: Sequence[tuple[int, VScalar]]) -> VScalar:
    terms: dict[int, tuple[G1Point, int]] = {}
    const = 0
    for c, x in items:
        c %= R
        for k, (p, a) in x._terms.items():
            old = terms.get(k)
            terms[k] = (p, ((old[1] if old else 0) + c * a) % R)
        const += c * x._const
    return VScalar._make({k: t for k, t in terms.items() if t[1]}, const)


def linear_p(items: Sequence[tuple[int, PScalar]]) -> PScalar:
    """``Σ c_i·x_i`` for PScalars (one pass)."""
    return _sum_p(items)


def linear_v(items: Sequence[tuple[int, VScalar]]) -> VScalar:
    """``Σ c_i·X_i`` for VScalars (one pass over the terms; no group operation)."""
    return _sum_v(items)


# ---------------------------------------------------------------------------------------------------------
# zero checks: one Schnorr proof
# ---------------------------------------------------------------------------------------------------------
def _check_fr(x: Any, what: str) -> None:
    if not isinstance(x, int) or isinstance(x, bool) or not 0 <= x < R:
        raise ProofFormatError(f"{what} is not a canonical field element")


def _check_point(p: Any, what: str) -> None:
    if not _is_point(p):
        raise ProofFormatError(f"{what} is not a G1 point")


@dataclass(frozen=True)
class ZeroProof:
    """Schnorr proof of knowledge of ``ρ`` with ``W = ρ·h``: commitment ``A = k·h`` and response
    ``s = k + e·ρ``. 80 bytes."""

    a: G1Point
    s: int

    def write(self, w: Writer) -> None:
        w.write_g1(self.a)
        w.write_fr(self.s)

    @classmethod
    def read(cls, r: Reader) -> ZeroProof:
        a = r.read_g1(allow_identity=True)
        return cls(a, r.read_fr())

    def field_elements(self) -> tuple[int, ...]:
        return (self.s,)

    def points(self) -> tuple[G1Point, ...]:
        return (self.a,)


class ZeroAccumulator:
    """Committed values that must be zero, proven together at the end with one Schnorr proof.

    Prover: ``add(PScalar)`` (the value must be 0, checked at once: a wiring bug raises ``ValueError`` naming
    ``what``), then :meth:`prove`. Verifier: ``add(VScalar)``, then :meth:`verify`. One accumulator is used
    once; adding after proving/verifying raises ``RuntimeError``.
    """

    def __init__(self, params: PublicParams, *, rng: Any = None, batch: MsmBatch | None = None) -> None:
        """``batch`` (verifier): the final check goes there, and product proofs verified for this accumulator's
        protocol (:func:`verify_nonzero`, the ZK sumcheck) pass it on; without it the check runs at once."""
        self.params = params
        self.batch = batch
        self._rng = rng
        self._items: list[PScalar | VScalar] = []
        self._what: list[str] = []
        self._kind: type | None = None
        self._closed = False

    def __len__(self) -> int:
        return len(self._items)

    def add(self, item: PScalar | VScalar, what: str = "") -> None:
        if self._closed:
            raise RuntimeError("this ZeroAccumulator has already been proven/verified")
        if not isinstance(item, (PScalar, VScalar)):
            raise TypeError(f"ZeroAccumulator takes PScalar or VScalar, got {type(item).__name__}")
        if self._kind is not None and type(item) is not self._kind:
            raise TypeError("a ZeroAccumulator holds either prover (PScalar) or verifier (VScalar) values")
        if isinstance(item, PScalar) and item.value != 0:
            raise ValueError(f"zero check {what or len(self._items)}: the committed value is not zero")
        self._kind = type(item)
        self._items.append(item)
        self._what.append(what)

    def _gammas(self, transcript) -> list[int]:
        transcript.absorb_u64("zero/count", len(self._items))
        return transcript.challenge_frs("zero/gamma", len(self._items))

    def prove(self, transcript) -> ZeroProof:
        if self._kind is VScalar:
            raise TypeError("prove() needs prover values (PScalar)")
        self._closed = True
        gam = self._gammas(transcript)
        items = cast(list[PScalar], self._items)  # add() keeps the kinds uniform and the kind is not VScalar
        rho = sum(g * x.blind for g, x in zip(gam, items)) % R
        k = random_scalar(self._rng)
        w_pt, a_pt = commit_values(self.params, [0, 0], [rho, k])
        transcript.absorb_g1("zero/W", w_pt)
        transcript.absorb_g1("zero/A", a_pt)
        e = transcript.challenge_fr("zero/e")
        s = (k + e * rho) % R
        transcript.absorb_fr("zero/s", s)
        return ZeroProof(a_pt, s)

    def verify(self, proof: ZeroProof, transcript) -> None:
        """Raises :class:`VerificationError` unless every accumulated commitment opens to 0."""
        if self._kind is PScalar:
            raise TypeError("verify() needs verifier values (VScalar)")
        _check_point(proof.a, "zero proof A")
        _check_fr(proof.s, "zero proof response")
        self._closed = True
        gam = self._gammas(transcript)
        items = cast(list[VScalar], self._items)  # add() keeps the kinds uniform and the kind is not PScalar
        w = _sum_v(list(zip(gam, items))) if items else VScalar()
        w_pt = w.commitment(self.params)
        transcript.absorb_g1("zero/W", w_pt)
        transcript.absorb_g1("zero/A", proof.a)
        e = transcript.challenge_fr("zero/e")
        # s·h = A + e·W
        batch = self.batch if self.batch is not None else MsmBatch(self.params)
        batch.add(
            f"zero checks failed: one of {len(self._items)} committed values that must be 0 is not",
            [self.params.h, proof.a, w_pt],
            [proof.s, -1, -e],
        )
        if self.batch is None:
            batch.verify()
        transcript.absorb_fr("zero/s", proof.s)


# ---------------------------------------------------------------------------------------------------------
# proof of product
# ---------------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class ProductProof:
    """Hyrax proof of product: ``α, β, δ`` and the responses ``z_1..z_5`` (3·48 + 5·32 = 304 bytes; the
    product's commitment ``C_z`` travels separately)."""

    alpha: G1Point
    beta: G1Point
    delta: G1Point
    z: tuple[int, int, int, int, int]

    def write(self, w: Writer) -> None:
        for p in (self.alpha, self.beta, self.delta):
            w.write_g1(p)
        for x in self.z:
            w.write_fr(x)

    @classmethod
    def read(cls, r: Reader) -> ProductProof:
        pts = [r.read_g1(allow_identity=True) for _ in range(3)]
        z = (r.read_fr(), r.read_fr(), r.read_fr(), r.read_fr(), r.read_fr())  # read in this order
        return cls(pts[0], pts[1], pts[2], z)

    def field_elements(self) -> tuple[int, ...]:
        return tuple(self.z)

    def points(self) -> tuple[G1Point, ...]:
        return (self.alpha, self.beta, self.delta)

    def _check(self) -> None:
        for name in ("alpha", "beta", "delta"):
            _check_point(getattr(self, name), f"product proof {name}")
        if not isinstance(self.z, tuple) or len(self.z) != 5:
            raise ProofFormatError("product proof needs 5 responses")
        for i, x in enumerate(self.z):
            _check_fr(x, f"product proof response z_{i + 1}")


def _as_point(params: PublicParams, x: Any) -> G1Point:
    if isinstance(x, VScalar):
        return x.commitment(params)
    if _is_point(x):
        return x
    raise TypeError(f"expected a G1Point or VScalar, got {type(x).__name__}")


def _product_challenge(transcript, cx: G1Point, cy: G1Point, cz: G1Point, first: Sequence[G1Point]) -> int:
    transcript.absorb_g1s("product/statement", [cx, cy, cz])
    transcript.absorb_g1s("product/first", list(first))
    return transcript.challenge_fr("product/c")


def prove_product(
    params: PublicParams, x: PScalar, y: PScalar, transcript, *, rng: Any = None, blind: int | None = None
) -> tuple[PScalar, ProductProof]:
    """Commit ``z = x·y`` (fresh blinding, or ``blind``) and prove it; returns ``(z, proof)``. The verifier
    needs ``z.commitment(params)`` (send it)."""
    z = PScalar(x.value * y.value, random_scalar(rng) if blind is None else blind)
    cx, cy, cz = x.commitment(params), y.commitment(params), z.commitment(params)
    b = [random_scalar(rng) for _ in range(5)]
    alpha, beta, hb5 = commit_values(params, [b[0], b[2], 0], [b[1], b[3], b[4]])
    delta = cy * scalars_from_ints([b[0]])[0] + hb5
    c = _product_challenge(transcript, cx, cy, cz, (alpha, beta, delta))
    resp = (
        (b[0] + c * x.value) % R,
        (b[1] + c * x.blind) % R,
        (b[2] + c * y.value) % R,
        (b[3] + c * y.blind) % R,
        (b[4] + c * (z.blind - x.value * y.blind)) % R,
    )
    transcript.absorb_frs("product/responses", list(resp))
    return z, ProductProof(alpha, beta, delta, resp)


def verify_product(
    params: PublicParams,
    cx: G1Point | VScalar,
    cy: G1Point | VScalar,
    cz: G1Point | VScalar,
    proof: ProductProof,
    transcript,
    *,
    batch: MsmBatch | None = None,
) -> VScalar:
    """Check that ``cz`` commits to the product of the values in ``cx`` and ``cy``; returns ``VScalar(cz)``.
    With ``batch`` the three equations are deferred to it (the caller verifies the batch before accepting);
    without, they are checked at once. Raises :class:`VerificationError` (:class:`ProofFormatError` for a
    malformed proof)."""
    proof._check()
    px, py, pz = _as_point(params, cx), _as_point(params, cy), _as_point(params, cz)
    c = _product_challenge(transcript, px, py, pz, proof.points())
    z1, z2, z3, z4, z5 = proof.z
    b = batch if batch is not None else MsmBatch(params)
    g, h, what = params.g_v, params.h, "proof of product failed"
    b.add(what, [proof.alpha, px, g, h], [1, c, -z1, -z2])  # α + c·X = z_1·g + z_2·h
    b.add(what, [proof.beta, py, g, h], [1, c, -z3, -z4])  # β + c·Y = z_3·g + z_4·h
    b.add(what, [proof.delta, pz, py, h], [1, c, -z1, -z5])  # δ + c·Z = z_1·Y + z_5·h
    if batch is None:
        b.verify()
    transcript.absorb_frs("product/responses", list(proof.z))
    return cz if isinstance(cz, VScalar) else VScalar(pz)


# ---------------------------------------------------------------------------------------------------------
# x ≠ 0
# ---------------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class NonzeroProof:
    """``x ≠ 0``: a commitment ``W`` to ``x⁻¹``, a commitment ``P`` to ``x·x⁻¹`` with its product proof; the
    zero check ``P − 1 = 0`` goes into the accumulator (its blinding is proven there)."""

    inverse: G1Point
    product: G1Point
    proof: ProductProof

    def write(self, w: Writer) -> None:
        w.write_g1(self.inverse)
        w.write_g1(self.product)
        self.proof.write(w)

    @classmethod
    def read(cls, r: Reader) -> NonzeroProof:
        inv = r.read_g1(allow_identity=True)
        prod = r.read_g1(allow_identity=True)
        return cls(inv, prod, ProductProof.read(r))


def prove_nonzero(
    params: PublicParams, x: PScalar, transcript, acc: ZeroAccumulator, *, rng: Any = None
) -> NonzeroProof:
    """Prove that the committed ``x`` is not zero (``ValueError`` if it is)."""
    if x.value == 0:
        raise ValueError("cannot prove that 0 is nonzero")
    w = PScalar.fresh(pow(x.value, -1, R), rng)
    transcript.absorb_g1("nonzero/inverse", w.commitment(params))
    p, proof = prove_product(params, x, w, transcript, rng=rng)
    acc.add(p - 1, "nonzero")
    return NonzeroProof(w.commitment(params), p.commitment(params), proof)


def verify_nonzero(
    params: PublicParams, cx: G1Point | VScalar, proof: NonzeroProof, transcript, acc: ZeroAccumulator
) -> None:
    _check_point(proof.inverse, "nonzero proof inverse")
    _check_point(proof.product, "nonzero proof product")
    transcript.absorb_g1("nonzero/inverse", proof.inverse)
    p = verify_product(params, cx, proof.inverse, proof.product, proof.proof, transcript, batch=acc.batch)
    acc.add(p - 1, "nonzero")


# ---------------------------------------------------------------------------------------------------------
# proof of dot product with a committed vector (linear-size response)
# ---------------------------------------------------------------------------------------------------------
def commit_vector(params: PublicParams, values: Sequence[int], blind: int) -> G1Point:
    """``Σ v_i·g_i + ρ·h`` over the first ``len(values)`` vector generators (one MSM)."""
    if len(values) > params.capacity:
        raise ValueError(
            f"a vector of {len(values)} entries needs as many generators; the parameters hold {params.capacity}"
        )
    return msm(params.gens(len(values)) + [params.h], scalars_from_ints([int(v) % R for v in values] + [blind % R]))


@dataclass(frozen=True)
class DotProof:
    """Proof that ``Y`` commits to ``<x, w>`` for the vector ``x`` committed in ``C = Σ x_i·g_i + ρ·h`` and a
    public ``w``: first message ``D = Σ δ_i·g_i + β_1·h``, ``E = <δ, w>·g_v + β_2·h``; on challenge ``c`` the
    responses ``z = δ + c·x``, ``z_1 = β_1 + c·ρ``, ``z_2 = β_2 + c·ρ_Y``. The verifier checks
    ``D + c·C = Σ z_i·g_i + z_1·h`` and ``E + c·Y = <z, w>·g_v + z_2·h`` (2·48 + (len(x) + 2)·32 bytes; ``C`` and
    ``Y`` travel separately). Special soundness: two accepting answers to ``c ≠ c'`` give
    ``x = (z − z')/(c − c')`` and openings of ``C`` and ``Y`` with ``Y``'s value ``<x, w>``. Honest-verifier
    zero knowledge: ``z, z_1, z_2`` are uniform whatever ``x`` is, and ``D, E`` are determined by them."""

    d: G1Point
    e: G1Point
    z: tuple[int, ...]
    z1: int
    z2: int

    def write(self, w: Writer) -> None:
        w.write_g1(self.d)
        w.write_g1(self.e)
        w.write_frs(list(self.z))
        w.write_fr(self.z1)
        w.write_fr(self.z2)

    @classmethod
    def read(cls, r: Reader, length: int) -> DotProof:
        d = r.read_g1(allow_identity=True)
        e = r.read_g1(allow_identity=True)
        z = tuple(r.read_frs(count=length))
        return cls(d, e, z, r.read_fr(), r.read_fr())

    def field_elements(self) -> tuple[int, ...]:
        return (*self.z, self.z1, self.z2)

    def points(self) -> tuple[G1Point, ...]:
        return (self.d, self.e)

    def _check(self, length: int) -> None:
        _check_point(self.d, "dot-product proof D")
        _check_point(self.e, "dot-product proof E")
        if not isinstance(self.z, tuple) or len(self.z) != length:
            raise ProofFormatError(f"dot-product proof needs {length} responses")
        for x in (*self.z, self.z1, self.z2):
            _check_fr(x, "dot-product proof response")


def _dot_challenge(transcript, first: Sequence[G1Point]) -> int:
    transcript.absorb_g1s("dot/first", list(first))
    return transcript.challenge_fr("dot/c")


def prove_dot(
    params: PublicParams,
    x: Sequence[int],
    x_blind: int,
    weights: Sequence[int],
    y: PScalar,
    transcript,
    *,
    rng: Any = None,
) -> DotProof:
    """Prove that ``y`` commits to ``<x, weights>`` for ``x`` committed by :func:`commit_vector` with ``x_blind``
    (the caller has absorbed both commitments). ``ValueError`` if the value is not that dot product."""
    if len(x) != len(weights):
        raise ValueError("vector and weights differ in length")
    if sum(a * b for a, b in zip(x, weights)) % R != y.value:
        raise ValueError("the committed value is not the dot product")
    delta = [random_scalar(rng) for _ in x]
    b1, b2 = random_scalar(rng), random_scalar(rng)
    d = commit_vector(params, delta, b1)
    (e,) = commit_values(params, [sum(a * b for a, b in zip(delta, weights))], [b2])
    c = _dot_challenge(transcript, (d, e))
    z = tuple((a + c * b) % R for a, b in zip(delta, x))
    proof = DotProof(d, e, z, (b1 + c * x_blind) % R, (b2 + c * y.blind) % R)
    transcript.absorb_frs("dot/responses", list(proof.field_elements()))
    return proof


def verify_dot(
    params: PublicParams,
    com: G1Point,
    weights: Sequence[int],
    y: VScalar,
    proof: DotProof,
    transcript,
    *,
    batch: MsmBatch | None = None,
) -> None:
    """Check a :class:`DotProof` for the vector commitment ``com`` and the committed value ``y``; the two
    equations go into ``batch`` (checked at once without it). Raises :class:`VerificationError`
    (:class:`ProofFormatError` for a malformed proof)."""
    proof._check(len(weights))
    if len(weights) > params.capacity:
        raise ValueError(
            f"a dot product over {len(weights)} entries needs as many generators; the parameters hold {params.capacity}"
        )
    c = _dot_challenge(transcript, proof.points())
    b = batch if batch is not None else MsmBatch(params)
    g, h, what = params.g_v, params.h, "proof of dot product failed"
    b.add(what, [proof.d, com, h], [1, c, -proof.z1], gens=Fr.from_ints(list(proof.z)), gens_scale=-1)
    y_pts, y_cs = y.linear_terms(params)
    zw = sum(a * b for a, b in zip(proof.z, weights)) % R
    b.add(what, [proof.e, *y_pts, g, h], [1, *(c * k % R for k in y_cs), -zw, -proof.z2])
    if batch is None:
        b.verify()
    transcript.absorb_frs("dot/responses", list(proof.field_elements()))
