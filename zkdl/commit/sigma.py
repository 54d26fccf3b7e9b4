"""Committed scalars and the Σ-protocols of the zero-knowledge mode (Hyrax §4 style).

Every field element a zero-knowledge prover would send is replaced by a Pedersen commitment
``C = v·g_v + ρ·h`` (fresh uniform ``ρ``: OS CSPRNG, or an explicit ``rng`` in tests). Commitments are additively
homomorphic, so the verifier computes the commitment of every value that is a *linear* function (with public
coefficients) of committed values itself. Only three kinds of statements need proofs:

* **zero checks** — a committed value is 0 (every equality between committed values). They are collected in a
  :class:`ZeroAccumulator` and proven at the end by ONE Schnorr proof of knowledge of ``ρ`` with
  ``W = Σ_i γ_i·Z_i = ρ·h``, the ``γ_i`` drawn from the transcript after every ``Z_i`` is fixed;
* **products** — ``C_z`` commits to ``x·y`` for committed ``x``, ``y``: the prover commits ``z`` when the protocol
  needs it (:func:`commit_product` / :func:`receive_product`) and the accumulator proves every product of the
  protocol at the end, :data:`PRODUCT_CHUNK` at a time, with one batched proof (below); :func:`prove_nonzero`
  builds "x ≠ 0" from it;
* **dot products** — ``Y`` commits to ``<x, w>`` for a vector ``x`` committed over a slice of the vector
  generators (:func:`~zkdl.commit.pedersen.commit_vector` at the offset :meth:`ZeroAccumulator.allocate`
  returned) and a public ``w`` (the masks of the zero-knowledge sumcheck): registered with
  :meth:`ZeroAccumulator.add_dot` and proven at the end, every vector of a chunk of :data:`DOT_CHUNK` slots at
  once, by Hyrax's proof of dot product for their random combination with a log-size response
  (:class:`DotBatchProof`, :mod:`zkdl.commit.ipa`).

Types
-----
:class:`PScalar` (prover): a value with its blinding; ``+``, ``−``, unary ``−``, ``* int`` and ``+ int`` (a public
constant: the blinding is unchanged) act on both. :class:`VScalar` (verifier): the same operations on
commitments, kept *lazily* as a linear combination ``Σ c_j·P_j + k·g_v`` of the points it was built from; it is
materialized by one multi-scalar multiplication when a point is actually needed (:meth:`VScalar.commitment`).
A sumcheck verifier therefore never pays a group operation per round for derived claims.

Requirement on callers: every point that a value added to a :class:`ZeroAccumulator` (zero check or product)
depends on must already be bound by the transcript — absorbed itself, or derived from absorbed points and
transcript challenges. The sumcheck of :mod:`zkdl.piop.zk_sumcheck` and the channels do this.

Batched proof of product (re-derived from the inner-product Σ-protocol; ``docs/zero-knowledge.md``): P knows
openings of ``X_k = x_k·g + r_k·h``, ``Y_k``, ``Z_k`` (``g = g_v``) with ``z_k = x_k·y_k``, ``k < K``. It sends
vector commitments ``C_x = Σ x_k·g_k + ρ_x·h`` and ``C_y`` over the vector generators; V draws ``β``, ``ξ``
(powers ``β^k``, ``ξ^k``). P draws masks ``a``, ``b`` and sends ``C_a``, ``C_b``, ``T_x = <a, β>·g + σ_x·h``,
``T_y = <b, β>·g + σ_y·h``, ``T_1 = Σ ξ^k (a_k y_k + x_k b_k)·g + τ_1·h``, ``T_2 = Σ ξ^k a_k b_k·g + τ_2·h``; on
``c`` it answers ``x̂ = x + c·a``, ``ŷ = y + c·b`` and the blindings. V checks ``C_x + c·C_a = Σ x̂_k g_k + ρ̂_x h``
(and for ``y``), ``Σ β^k X_k + c·T_x = <x̂, β>·g + ρ̂_βx h`` (the vectors are the committed scalars; and for
``Y``), and ``Σ ξ^k Z_k + c·T_1 + c²·T_2 = <x̂ ∘ ξ, ŷ>·g + τ̂ h`` (the products). Special soundness from three
challenges ``c`` extracts ``x``, ``y``, ``a``, ``b``; ``β`` (after ``C_x``, ``C_y``, every ``X_k``, ``Y_k`` is
fixed) ties the vectors to the scalars, ``ξ`` each ``Z_k`` to its product, each except with probability
``K/r``. HVZK: ``x̂``, ``ŷ`` and the blinding responses are uniform; ``T_2`` is a fresh commitment and the other
first-message points are determined by the equations. 8 points and ``2K + 5`` field elements for ``K``
products, instead of 4 points and 5 field elements per product for Hyrax's proof of product. The equations go
into a :class:`~zkdl.commit.batch.MsmBatch` (the verifier's one final MSM, weights from a verifier-local
CSPRNG); standalone, into a batch of their own checked at once.

Batched proof of dot product: the vectors ``x_k`` of one chunk are committed over disjoint slices of the vector
generators (``C_k``, absorbed by their callers together with ``Y_k``); at the end V draws ``α`` and P proves
``<x, a> = Σ α^k·Y_k`` for ``x`` inside ``Σ α^k·C_k`` (the vectors placed at their slices, scaled by ``α^k``) and
``a`` every ``w_k`` at its slice, by Hyrax's proof of dot product with the log-size response of
:mod:`zkdl.commit.ipa`. Soundness (``docs/zero-knowledge.md``): ``α`` comes after every ``C_k``, ``w_k``, ``Y_k``, so
each identity ``Y_k = Σ_s <x_k|_s, w_s>`` holds but for probability ``K/r`` (``x_k|_s``: the part of ``C_k``'s
opening on slice ``s``, which an honest ``C_k`` has only on its own slice); a part on an earlier slice is fixed
before the user's challenges (the sumcheck's ``ρ``), a part on a later slice is multiplied by weights drawn after
``Y_k`` — neither lets a prover choose ``Y_k``'s offset.

Transcript labels: ``product/commitment``; ``nonzero/inverse``; at the end ``products/count``,
``products/vectors`` (C_x, C_y), ``products/beta``, ``products/xi``, ``products/first``, ``products/c``,
``products/responses`` per batch of products; ``masks/count``, ``masks/slots``, ``masks/alpha``, ``masks/first``
(δ, β), ``masks/c`` and the inner-product argument's labels (:mod:`zkdl.commit.ipa`) per chunk of vectors; then
``zero/count``, ``zero/gamma`` (challenges), ``zero/A``, ``zero/e``, ``zero/s`` (``W`` is derived, not
absorbed: docs/transcript.md, rule 5).

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

from zkdl.errors import ProofFormatError, SetupError
from zkdl.field import Fr
from zkdl.field.constants import MODULUS as R
from zkdl.serialize import Reader, Writer

from .batch import MsmBatch
from .generators import PublicParams
from .ipa import InnerProductProof, prove_masked_dot, read_masked_dot, verify_masked_response, write_masked_dot
from .pedersen import PROOF_LOG_COLS_MIN, commit_vector, msm, random_scalar, scalars_from_ints

__all__ = [
    "DotBatchProof",
    "NonzeroProof",
    "PScalar",
    "ProductBatchProof",
    "VScalar",
    "ZeroAccumulator",
    "ZeroProof",
    "commit_product",
    "commit_values",
    "lincomb",
    "product_chunks",
    "prove_nonzero",
    "receive_product",
    "verify_nonzero",
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
        return NotImplemented  # a product of two committed values needs commit_product (proven by the accumulator)

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


#: Products per batched proof of product (the batch commits vectors of this length over the vector generators;
#: every zero-knowledge proof's parameters hold at least this many, ``training.generators_needed``).
PRODUCT_CHUNK = 256


@dataclass(frozen=True)
class ProductBatchProof:
    """Batched proof that ``Z_k`` commits to ``x_k·y_k`` for ``k`` products of committed scalars (module
    docstring): vector commitments ``C_x``, ``C_y`` to ``(x_k)``, ``(y_k)``; first message ``C_a``, ``C_b`` (masks),
    ``T_x``, ``T_y`` (the masks' ``β``-combinations), ``T_1``, ``T_2`` (cross and square terms); responses
    ``x̂ = x + c·a``, ``ŷ = y + c·b`` and five blinding responses. ``8·48 + (2k + 5)·32`` bytes."""

    cx: G1Point
    cy: G1Point
    first: tuple[G1Point, ...]  # C_a, C_b, T_x, T_y, T_1, T_2
    x_hat: tuple[int, ...]
    y_hat: tuple[int, ...]
    blinds: tuple[int, ...]  # ρ̂_x, ρ̂_y, ρ̂_βx, ρ̂_βy, τ̂

    def write(self, w: Writer) -> None:
        w.write_g1s([self.cx, self.cy, *self.first])
        w.write_frs([*self.x_hat, *self.y_hat, *self.blinds])

    @classmethod
    def read(cls, r: Reader, k: int) -> ProductBatchProof:
        pts = r.read_g1s(allow_identity=True, count=8)
        fes = r.read_frs(count=2 * k + 5)
        return cls(pts[0], pts[1], tuple(pts[2:]), tuple(fes[:k]), tuple(fes[k : 2 * k]), tuple(fes[2 * k :]))

    def field_elements(self) -> tuple[int, ...]:
        return (*self.x_hat, *self.y_hat, *self.blinds)

    def points(self) -> tuple[G1Point, ...]:
        return (self.cx, self.cy, *self.first)

    def _check(self, k: int) -> None:
        for p in self.points():
            _check_point(p, "batched proof of product")
        if len(self.first) != 6 or len(self.x_hat) != k or len(self.y_hat) != k or len(self.blinds) != 5:
            raise ProofFormatError(f"batched proof of product of the wrong shape (expected {k} products)")
        for x in self.field_elements():
            _check_fr(x, "batched proof of product response")


def product_chunks(n_products: int) -> list[int]:
    """Sizes of the batched proofs of ``n_products`` products, in order (chunks of :data:`PRODUCT_CHUNK`)."""
    return [min(PRODUCT_CHUNK, n_products - i) for i in range(0, n_products, PRODUCT_CHUNK)]


def powers(x: int, k: int) -> list[int]:
    out, p = [], 1
    for _ in range(k):
        out.append(p)
        p = p * x % R
    return out


def _batch_vectors(transcript, k: int, cx: G1Point, cy: G1Point) -> tuple[int, int]:
    transcript.absorb_u64("products/count", k)
    transcript.absorb_g1s("products/vectors", [cx, cy])
    return transcript.challenge_fr("products/beta"), transcript.challenge_fr("products/xi")


def _batch_first(transcript, first: Sequence[G1Point]) -> int:
    transcript.absorb_g1s("products/first", list(first))
    return transcript.challenge_nonzero_fr("products/c")  # c = 0 would send x̂ = x, ŷ = y


def replay_product_batch(transcript, proof: ProductBatchProof) -> tuple[int, int, int]:
    """The transcript operations of one batch as the verifier makes them: ``(β, ξ, c)``."""
    beta, xi = _batch_vectors(transcript, len(proof.x_hat), proof.cx, proof.cy)
    c = _batch_first(transcript, proof.first)
    transcript.absorb_frs("products/responses", list(proof.field_elements()))
    return beta, xi, c


def _prove_product_batch(params: PublicParams, items: Sequence[tuple[PScalar, PScalar, PScalar]], transcript, rng):
    k = len(items)
    xs = [x.value for x, _, _ in items]
    ys = [y.value for _, y, _ in items]
    rho_x, rho_y, rho_a, rho_b, s_x, s_y, tau1, tau2 = (random_scalar(rng) for _ in range(8))
    cx, cy = commit_vector(params, xs, rho_x), commit_vector(params, ys, rho_y)
    beta, xi = _batch_vectors(transcript, k, cx, cy)
    bp, xp = powers(beta, k), powers(xi, k)
    a = [random_scalar(rng) for _ in range(k)]
    b = [random_scalar(rng) for _ in range(k)]
    ca, cb = commit_vector(params, a, rho_a), commit_vector(params, b, rho_b)
    values = [
        sum(u * v for u, v in zip(a, bp)),
        sum(u * v for u, v in zip(b, bp)),
        sum(w * (ai * yi + xi_ * bi) for w, ai, yi, xi_, bi in zip(xp, a, ys, xs, b)),
        sum(w * ai * bi for w, ai, bi in zip(xp, a, b)),
    ]
    first = (ca, cb, *commit_values(params, [v % R for v in values], [s_x, s_y, tau1, tau2]))
    c = _batch_first(transcript, first)
    blinds = (
        (rho_x + c * rho_a) % R,
        (rho_y + c * rho_b) % R,
        (sum(w * x.blind for w, (x, _, _) in zip(bp, items)) + c * s_x) % R,
        (sum(w * y.blind for w, (_, y, _) in zip(bp, items)) + c * s_y) % R,
        (sum(w * z.blind for w, (_, _, z) in zip(xp, items)) + c * tau1 + c * c * tau2) % R,
    )
    x_hat = tuple((u + c * v) % R for u, v in zip(xs, a))
    y_hat = tuple((u + c * v) % R for u, v in zip(ys, b))
    proof = ProductBatchProof(cx, cy, first, x_hat, y_hat, blinds)
    transcript.absorb_frs("products/responses", list(proof.field_elements()))
    return proof


def _verify_product_batch(
    params: PublicParams,
    items: Sequence[tuple[VScalar, VScalar, VScalar]],
    proof: ProductBatchProof,
    transcript,
    batch: MsmBatch,
) -> None:
    k = len(items)
    proof._check(k)
    if k > params.capacity:
        raise SetupError(f"a batch of {k} products needs as many generators; the parameters hold {params.capacity}")
    beta, xi, c = replay_product_batch(transcript, proof)
    bp, xp = powers(beta, k), powers(xi, k)
    rx, ry, rbx, rby, tau = proof.blinds
    ca, cb, tx, ty, t1, t2 = proof.first
    g, h, what = params.g_v, params.h, "proof of product failed"
    # C_x + c·C_a = Σ x̂_i·g_i + ρ̂_x·h   (and the same for y)
    batch.add(what, [proof.cx, ca, h], [1, c, -rx], gens=Fr.from_ints(list(proof.x_hat)), gens_scale=-1)
    batch.add(what, [proof.cy, cb, h], [1, c, -ry], gens=Fr.from_ints(list(proof.y_hat)), gens_scale=-1)
    # Σ β^k·X_k + c·T_x = <x̂, β>·g_v + ρ̂_βx·h   (and the same for Y): the vectors are the committed scalars
    for col, t, hat, r_ in ((0, tx, proof.x_hat, rbx), (1, ty, proof.y_hat, rby)):
        pts, cs = _sum_v([(w, it[col]) for w, it in zip(bp, items)]).linear_terms(params)
        batch.add(what, [*pts, t, g, h], [*cs, c, -sum(u * v for u, v in zip(hat, bp)), -r_])
    # Σ ξ^k·Z_k + c·T_1 + c²·T_2 = <x̂ ∘ ξ, ŷ>·g_v + τ̂·h
    pts, cs = _sum_v([(w, it[2]) for w, it in zip(xp, items)]).linear_terms(params)
    ip = sum(w * u * v for w, u, v in zip(xp, proof.x_hat, proof.y_hat))
    batch.add(what, [*pts, t1, t2, g, h], [*cs, c, c * c, -ip, -tau])


#: Generator slots per batched proof of dot product of the sumchecks' masks (a mask takes ``n·d + 1`` slots); a
#: proof's own tables have rows this wide at least (``pedersen.proof_log_cols``), on the same generators.
DOT_CHUNK = 1 << PROOF_LOG_COLS_MIN


@dataclass(frozen=True)
class ZeroProof:
    """Every deferred check of a protocol: the batched proofs of product (:data:`PRODUCT_CHUNK` products each,
    in the order the products were registered), the batched proofs of dot product of the registered masks (one per
    chunk of :data:`DOT_CHUNK` generator slots), then the Schnorr proof of knowledge of ``ρ`` with ``W = ρ·h``:
    commitment ``A = k·h`` and response ``s = k + e·ρ`` (80 bytes)."""

    a: G1Point
    s: int
    products: tuple[ProductBatchProof, ...] = ()
    dots: tuple[DotBatchProof, ...] = ()

    def write(self, w: Writer) -> None:
        for pb in self.products:
            pb.write(w)
        for db in self.dots:
            db.write(w)
        w.write_g1(self.a)
        w.write_fr(self.s)

    @classmethod
    def read(cls, r: Reader, n_products: int = 0, dot_slots: Sequence[int] = ()) -> ZeroProof:
        """``n_products``: the products registered; ``dot_slots``: the slots used in each chunk of masks."""
        products = tuple(ProductBatchProof.read(r, k) for k in product_chunks(n_products))
        dots = tuple(DotBatchProof.read(r, k) for k in dot_slots)
        a = r.read_g1(allow_identity=True)
        return cls(a, r.read_fr(), products, dots)

    def field_elements(self) -> tuple[int, ...]:
        return (
            *(x for pb in self.products for x in pb.field_elements()),
            *(x for db in self.dots for x in db.field_elements()),
            self.s,
        )

    def points(self) -> tuple[G1Point, ...]:
        return (
            *(p for pb in self.products for p in pb.points()),
            *(p for db in self.dots for p in db.points()),
            self.a,
        )


class ZeroAccumulator:
    """The deferred checks of a protocol — committed values that must be zero, products of committed values, and
    dot products of committed vectors with public weights — proven together at the end: the products and the dot
    products by batched proofs, the zero checks by one Schnorr proof.

    Prover: ``add(PScalar)`` (the value must be 0, checked at once: a wiring bug raises ``ValueError`` naming
    ``what``) and ``add_product(x, y, z)`` (``z = x·y`` checked at once), then :meth:`prove`. Verifier: the same
    with ``VScalar``, then :meth:`verify`. One accumulator is used once; adding after proving/verifying raises
    ``RuntimeError``.
    """

    def __init__(self, params: PublicParams, *, rng: Any = None, batch: MsmBatch | None = None) -> None:
        """``batch`` (verifier): the group equations go there (the caller verifies it); without it they are
        checked at once by :meth:`verify`."""
        self.params = params
        self.batch = batch
        self._rng = rng
        self._items: list[PScalar | VScalar] = []
        self._what: list[str] = []
        self._products: list[tuple[Any, Any, Any]] = []
        self._dots: list[list[tuple]] = []  # chunks of registered (offset, weights, y, x | commitment, blind)
        self._dot_slots: list[int] = []  # slots used per chunk
        self._kind: type | None = None
        self._closed = False

    def __len__(self) -> int:
        return len(self._items)

    @property
    def n_products(self) -> int:
        return len(self._products)

    @property
    def dot_slots(self) -> list[int]:
        """Generator slots used in each chunk of registered vectors (what :meth:`ZeroProof.read` needs)."""
        return list(self._dot_slots)

    def allocate(self, length: int) -> int:
        """Reserve ``length`` generator slots for a vector that :meth:`add_dot` will register: its offset in the
        current chunk (a new chunk when the current one has no room; the same on both sides)."""
        if not 1 <= length <= DOT_CHUNK:
            raise ValueError(f"a registered vector has 1 to {DOT_CHUNK} entries, got {length}")
        if self._closed:
            raise RuntimeError("this ZeroAccumulator has already been proven/verified")
        if not self._dot_slots or self._dot_slots[-1] + length > DOT_CHUNK:
            self._dots.append([])
            self._dot_slots.append(0)
        off = self._dot_slots[-1]
        self._dot_slots[-1] += length
        return off

    def add_dot(
        self, offset: int, weights: Sequence[int], y: PScalar | VScalar, vector: Any, blind: int | None = None
    ) -> None:
        """Defer "``y`` commits to ``<x, weights>``" for the vector ``x`` committed at the slots ``offset …`` that
        :meth:`allocate` returned last: the prover passes ``x`` itself (a list) and its blinding, the verifier
        the vector's commitment. Its commitment and ``y`` must already be bound by the transcript."""
        self._check_kind([y])
        if not self._dots or offset + len(weights) != self._dot_slots[-1]:
            raise ValueError("add_dot registers the vector of the slots allocate() returned last")
        if isinstance(y, PScalar):
            if blind is None or len(vector) != len(weights):
                raise ValueError("the prover registers the vector itself and its blinding")
            if sum(a * b for a, b in zip(vector, weights)) % R != y.value:
                raise ValueError("dot product: the committed value is not the dot product")
            self._dots[-1].append((offset, list(weights), y, list(vector), int(blind)))
        else:
            self._dots[-1].append((offset, list(weights), y, vector))

    def _check_kind(self, items: Sequence[Any]) -> None:
        if self._closed:
            raise RuntimeError("this ZeroAccumulator has already been proven/verified")
        for item in items:
            if not isinstance(item, (PScalar, VScalar)):
                raise TypeError(f"ZeroAccumulator takes PScalar or VScalar, got {type(item).__name__}")
            if self._kind is not None and type(item) is not self._kind:
                raise TypeError("a ZeroAccumulator holds either prover (PScalar) or verifier (VScalar) values")
            self._kind = type(item)

    def add(self, item: PScalar | VScalar, what: str = "") -> None:
        self._check_kind([item])
        if isinstance(item, PScalar) and item.value != 0:
            raise ValueError(f"zero check {what or len(self._items)}: the committed value is not zero")
        self._items.append(item)
        self._what.append(what)

    def add_product(self, x: PScalar | VScalar, y: PScalar | VScalar, z: PScalar | VScalar, what: str = "") -> None:
        """Defer "``z`` commits to ``x·y``". Every point the three depend on must already be bound by the
        transcript (``z``'s commitment is absorbed by :func:`commit_product` / :func:`receive_product`)."""
        self._check_kind([x, y, z])
        if isinstance(z, PScalar) and z.value != cast(PScalar, x).value * cast(PScalar, y).value % R:
            raise ValueError(f"product {what or len(self._products)}: the committed value is not the product")
        self._products.append((x, y, z))

    def _gammas(self, transcript) -> list[int]:
        transcript.absorb_u64("zero/count", len(self._items))
        return transcript.challenge_frs("zero/gamma", len(self._items))

    def prove(self, transcript) -> ZeroProof:
        if self._kind is VScalar:
            raise TypeError("prove() needs prover values (PScalar)")
        self._closed = True
        products = tuple(
            _prove_product_batch(self.params, self._products[i : i + PRODUCT_CHUNK], transcript, self._rng)
            for i in range(0, len(self._products), PRODUCT_CHUNK)
        )
        dots = tuple(
            _prove_dot_batch(self.params, items, slots, transcript, self._rng)
            for items, slots in zip(self._dots, self._dot_slots)
        )
        gam = self._gammas(transcript)
        items = cast(list[PScalar], self._items)  # add() keeps the kinds uniform and the kind is not VScalar
        rho = sum(g * x.blind for g, x in zip(gam, items)) % R
        k = random_scalar(self._rng)
        (a_pt,) = commit_values(self.params, [0], [k])  # W = ρ·h is derived by the verifier, not absorbed
        transcript.absorb_g1("zero/A", a_pt)
        e = transcript.challenge_fr("zero/e")
        s = (k + e * rho) % R
        transcript.absorb_fr("zero/s", s)
        return ZeroProof(a_pt, s, products, dots)

    def verify(self, proof: ZeroProof, transcript) -> None:
        """Raises :class:`VerificationError` unless every product and every zero check holds (with ``batch``,
        once the caller's batch is verified)."""
        if self._kind is PScalar:
            raise TypeError("verify() needs verifier values (VScalar)")
        _check_point(proof.a, "zero proof A")
        _check_fr(proof.s, "zero proof response")
        sizes = product_chunks(len(self._products))
        if len(proof.products) != len(sizes) or any(not isinstance(pb, ProductBatchProof) for pb in proof.products):
            raise ProofFormatError(
                f"expected {len(sizes)} batched proofs of product for {len(self._products)} products"
            )
        self._closed = True
        if len(proof.dots) != len(self._dot_slots) or any(not isinstance(db, DotBatchProof) for db in proof.dots):
            raise ProofFormatError(f"expected {len(self._dot_slots)} batched proofs of dot product")
        batch = self.batch if self.batch is not None else MsmBatch(self.params)
        start = 0
        for pb, k in zip(proof.products, sizes):
            _verify_product_batch(self.params, self._products[start : start + k], pb, transcript, batch)
            start += k
        for db, chunk, slots in zip(proof.dots, self._dots, self._dot_slots):
            _verify_dot_batch(self.params, chunk, slots, db, transcript, batch)
        gam = self._gammas(transcript)
        items = cast(list[VScalar], self._items)  # add() keeps the kinds uniform and the kind is not PScalar
        w = _sum_v(list(zip(gam, items))) if items else VScalar()
        # W is not absorbed (nor materialized): the transcript already binds every point it derives from
        transcript.absorb_g1("zero/A", proof.a)
        e = transcript.challenge_fr("zero/e")
        # s·h = A + e·W, with W = Σ γ_i·Z_i as its linear terms (the points are mostly in the batch already)
        w_pts, w_cs = w.linear_terms(self.params)
        batch.add(
            f"zero checks failed: one of {len(self._items)} committed values that must be 0 is not",
            [self.params.h, proof.a, *w_pts],
            [proof.s, -1, *(-e * c for c in w_cs)],
        )
        if self.batch is None:
            batch.verify()
        transcript.absorb_fr("zero/s", proof.s)


# ---------------------------------------------------------------------------------------------------------
# products: committed now, proven at the end (batched)
# ---------------------------------------------------------------------------------------------------------
def commit_product(
    params: PublicParams, x: PScalar, y: PScalar, transcript, acc: ZeroAccumulator, *, rng: Any = None
) -> PScalar:
    """Commit ``z = x·y`` (fresh blinding), absorb the commitment (``product/commitment``) and defer its proof to
    ``acc``; the verifier needs ``z.commitment(params)`` (send it)."""
    z = PScalar(x.value * y.value, random_scalar(rng))
    transcript.absorb_g1("product/commitment", z.commitment(params))
    acc.add_product(x, y, z)
    return z


def receive_product(
    params: PublicParams, x: VScalar, y: VScalar, cz: G1Point, transcript, acc: ZeroAccumulator
) -> VScalar:
    """The verifier's side of :func:`commit_product`: absorb ``cz`` and defer "``cz`` commits to ``x·y``"."""
    _check_point(cz, "product commitment")
    transcript.absorb_g1("product/commitment", cz)
    z = VScalar(cz)
    acc.add_product(x, y, z)
    return z


def _as_v(x: Any) -> VScalar:
    if isinstance(x, VScalar):
        return x
    if _is_point(x):
        return VScalar(x)
    raise TypeError(f"expected a G1Point or VScalar, got {type(x).__name__}")


# ---------------------------------------------------------------------------------------------------------
# x ≠ 0
# ---------------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class NonzeroProof:
    """``x ≠ 0``: a commitment ``W`` to ``x⁻¹``; "``x·x⁻¹ = 1``" is a product deferred to the accumulator (its
    product is the public constant 1: no commitment)."""

    inverse: G1Point

    def write(self, w: Writer) -> None:
        w.write_g1(self.inverse)

    @classmethod
    def read(cls, r: Reader) -> NonzeroProof:
        return cls(r.read_g1(allow_identity=True))


def prove_nonzero(
    params: PublicParams, x: PScalar, transcript, acc: ZeroAccumulator, *, rng: Any = None
) -> NonzeroProof:
    """Prove that the committed ``x`` is not zero (``ValueError`` if it is)."""
    if x.value == 0:
        raise ValueError("cannot prove that 0 is nonzero")
    w = PScalar.fresh(pow(x.value, -1, R), rng)
    transcript.absorb_g1("nonzero/inverse", w.commitment(params))
    acc.add_product(x, w, PScalar.public(1), "nonzero")
    return NonzeroProof(w.commitment(params))


def verify_nonzero(
    params: PublicParams, cx: G1Point | VScalar, proof: NonzeroProof, transcript, acc: ZeroAccumulator
) -> None:
    _check_point(proof.inverse, "nonzero proof inverse")
    transcript.absorb_g1("nonzero/inverse", proof.inverse)
    acc.add_product(_as_v(cx), VScalar(proof.inverse), VScalar.constant(1), "nonzero")


# ---------------------------------------------------------------------------------------------------------
# batched proof of dot product with committed vectors (the sumchecks' masks; log-size response)
# ---------------------------------------------------------------------------------------------------------
def _next_pow2(n: int) -> int:
    return 1 << max(0, (n - 1).bit_length())


@dataclass(frozen=True)
class DotBatchProof:
    """Proof that ``Y_k`` commits to ``<x_k, w_k>`` for every vector ``x_k`` registered in one chunk (committed
    over its own slice of the vector generators): Hyrax's proof of dot product for the ``α``-combination,
    ``δ``, ``β``, the blinding responses ``z_δ``, ``z_β``, and the inner-product argument for the masked response
    (:mod:`zkdl.commit.ipa`): ``2·48 + 2·32`` bytes and ``96·log2(L) + 64`` for ``L`` slots."""

    delta: G1Point
    beta: G1Point
    z_delta: int
    z_beta: int
    ipa: InnerProductProof

    def write(self, w: Writer) -> None:
        write_masked_dot(w, self.delta, self.beta, self.z_delta, self.z_beta, self.ipa)

    @classmethod
    def read(cls, r: Reader, slots: int) -> DotBatchProof:
        return cls(*read_masked_dot(r, _next_pow2(slots).bit_length() - 1))

    def field_elements(self) -> tuple[int, ...]:
        return (self.z_delta, self.z_beta, self.ipa.z_dot_a, self.ipa.z_final)

    def points(self) -> tuple[G1Point, ...]:
        return (self.delta, self.beta, *self.ipa.left, *self.ipa.right)

    def _check(self, slots: int) -> None:
        rounds = _next_pow2(slots).bit_length() - 1
        ipa = self.ipa
        if (
            not isinstance(ipa, InnerProductProof)
            or not isinstance(ipa.left, tuple)
            or not isinstance(ipa.right, tuple)
        ):
            raise ProofFormatError("batched proof of dot product: malformed inner-product argument")
        for p in self.points():
            _check_point(p, "batched proof of dot product")
        if len(self.ipa.left) != rounds or len(self.ipa.right) != rounds:
            raise ProofFormatError(f"batched proof of dot product: expected {rounds} inner-product rounds")
        for x in self.field_elements():
            _check_fr(x, "batched proof of dot product response")


def _dot_first(transcript, n_items: int, slots: int) -> int:
    transcript.absorb_u64("masks/count", n_items)
    transcript.absorb_u64("masks/slots", slots)
    return transcript.challenge_nonzero_fr("masks/alpha")  # α = 0 would drop every item but the first


def _dot_challenge(transcript, delta: G1Point, beta: G1Point) -> int:
    transcript.absorb_g1s("masks/first", [delta, beta])
    return transcript.challenge_nonzero_fr("masks/c")


def dot_batch_challenges(transcript, n_items: int, slots: int, delta: G1Point, beta: G1Point) -> tuple[int, int]:
    """A batch's ``α`` and ``c`` as the verifier draws them (absorbing its count, slots and first message)."""
    return _dot_first(transcript, n_items, slots), _dot_challenge(transcript, delta, beta)


def dot_batch_weights(items: Sequence[tuple], slots: int) -> Fr:
    """The weights ``a`` of the combined statement: each item's ``w_k`` at its slots, zero elsewhere (``L`` long)."""
    a = [0] * _next_pow2(slots)
    for it in items:
        off, weights = it[0], it[1]
        a[off : off + len(weights)] = [int(w) % R for w in weights]
    return Fr.from_ints(a)


def _prove_dot_batch(params: PublicParams, items: Sequence[tuple], slots: int, transcript, rng) -> DotBatchProof:
    """``items``: ``(offset, weights, y, x, x_blind)`` with ``y`` a ``PScalar`` of ``<x, weights>``."""
    alpha = _dot_first(transcript, len(items), slots)
    ap = powers(alpha, len(items))
    size = _next_pow2(slots)
    x = [0] * size
    for w, (off, _, _, vec, _) in zip(ap, items):
        x[off : off + len(vec)] = [w * v % R for v in vec]
    a_vec = dot_batch_weights(items, slots)
    rho = sum(w * it[4] for w, it in zip(ap, items)) % R
    r_y = sum(w * it[2].blind for w, it in zip(ap, items)) % R
    delta, beta, z_delta, z_beta, ipa = prove_masked_dot(
        params,
        transcript,
        Fr.from_ints(x),
        a_vec,
        rho,
        r_y,
        lambda delta, beta: _dot_challenge(transcript, delta, beta),
        rng,
    )
    return DotBatchProof(delta, beta, z_delta, z_beta, ipa)


def _verify_dot_batch(
    params: PublicParams, items: Sequence[tuple], slots: int, proof: DotBatchProof, transcript, batch: MsmBatch
) -> None:
    """``items``: ``(offset, weights, y, commitment)`` with ``y`` a ``VScalar``."""
    proof._check(slots)
    size = _next_pow2(slots)
    if size > params.capacity:
        raise SetupError(
            f"a batch of {size} mask slots needs as many generators; the parameters hold {params.capacity}"
        )
    alpha, c = dot_batch_challenges(transcript, len(items), slots, proof.delta, proof.beta)
    ap = powers(alpha, len(items))
    y_pts, y_cs = _sum_v([(w, it[2]) for w, it in zip(ap, items)]).linear_terms(params)
    verify_masked_response(
        params,
        transcript,
        proof.ipa,
        dot_batch_weights(items, slots),
        batch,
        c=c,
        delta=proof.delta,
        beta=proof.beta,
        z_delta=proof.z_delta,
        z_beta=proof.z_beta,
        value_points=y_pts,
        value_coeffs=y_cs,
        com_points=[it[3] for it in items],
        com_coeffs=ap,
        ipa_what="batched proof of dot product (masks): inner-product argument check failed",
        value_what="batched proof of dot product (masks): value check failed",
    )
