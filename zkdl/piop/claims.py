"""Evaluation claims and their reduction: many claims on one table become one.

A :class:`Claim` says ``t~(point) = value`` for a named table ``t``. Gadgets produce claims; a
:class:`ClaimRegistry` collects them per table, and :func:`prove_reduction` / :func:`verify_reduction` turn all
claims on one table into a single claim at a fresh random point with one sumcheck:

    Σ_i α_i · v_i = Σ_x (Σ_i α_i · eq(p_i, x)) · t(x)

with ``α_i`` drawn from the transcript after every claim was absorbed. The combined weight table
``E = Σ_i α_i eq(p_i, ·)`` is public: the verifier evaluates ``E~(r) = Σ_i α_i eq(p_i, r)`` itself. The
prover's cost is one pass per claim over its block of the weights (``eq_into``: α·eq generated and added in
place) plus one degree-2 sumcheck; the verifier's is O(claims · log size).
A single claim needs no reduction and is passed through unchanged.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..field import MODULUS as R
from ..field import Fr, mont_to_int, scalar_limbs
from . import sumcheck as sc
from .channel import ProverChannelProtocol, VerifierChannelProtocol


@dataclass(frozen=True)
class Claim:
    """``tensor~(point) = value`` (point in MLE variable order: x_1 = most significant index bit)."""

    tensor: str
    point: Sequence[int]  # stored as a tuple of ints in [0, r)
    value: Any  # int in [0, r) in clear mode; a committed scalar in zero-knowledge mode

    def __post_init__(self):
        object.__setattr__(self, "point", tuple(int(x) % R for x in self.point))
        if isinstance(self.value, int):  # clear mode; committed values (zero-knowledge mode) stay as they are
            object.__setattr__(self, "value", self.value % R)


@dataclass
class ClaimRegistry:
    """Claims grouped by tensor name, in the order they were added (the order is part of the protocol)."""

    claims: dict[str, list[Claim]] = field(default_factory=dict)

    def add(self, claim: Claim) -> None:
        self.claims.setdefault(claim.tensor, []).append(claim)

    def extend(self, claims: Sequence[Claim]) -> None:
        for c in claims:
            self.add(c)

    def pop(self, tensor: str) -> list[Claim]:
        return self.claims.pop(tensor, [])

    def __contains__(self, tensor: str) -> bool:
        return tensor in self.claims

    def names(self) -> list[str]:
        return list(self.claims)


def _alphas(transcript, claims: Sequence[Claim]) -> list[int]:
    """Combination coefficients. Claim points are challenges and claim values are prover messages or derived
    from them, so both are bound by the transcript already; the shape and the points are absorbed again."""
    transcript.absorb_shape("claims/shape", (len(claims), len(claims[0].point)))
    for c in claims:
        transcript.absorb_frs("claims/point", list(c.point))
    return transcript.challenge_frs("claims/alpha", len(claims))


def _check_points(claims: Sequence[Claim]) -> int:
    if not claims:
        raise ValueError("no claims to reduce")
    n = len(claims[0].point)
    names = {c.tensor for c in claims}
    if len(names) != 1 or any(len(c.point) != n for c in claims):
        raise ValueError("claims to reduce must concern one tensor, at points of one length")
    return n


def _support(point: Sequence[int]) -> tuple[int, int, list[int]]:
    """eq(point, ·) vanishes outside one block when the point starts with Boolean coordinates (a claim on a
    segment of a larger table): returns the block [lo, hi) and the remaining coordinates."""
    k, idx = 0, 0
    while k < len(point) and point[k] in (0, 1):
        idx = 2 * idx + point[k]
        k += 1
    size = 1 << (len(point) - k)
    return idx * size, (idx + 1) * size, list(point[k:])


def combine(alphas: Sequence[int], values: Sequence) -> object:
    """``Σ_i α_i·v_i`` of stated values: ints in clear mode, commitments (homomorphically) in zero-knowledge mode."""
    acc = 0
    for a, v in zip(alphas, values):
        acc = acc + a * v
    return acc


def batch_coefficients(transcript, claims: Sequence[Claim], label: str) -> list[int]:
    """Random coefficients that batch claims on *different* tables into one sumcheck (a relation's stage).

    The claims' points are challenges and their values are stated or derived from stated values, all in the
    transcript already; the count and the points are absorbed again under ``label``."""
    if not claims:
        return []
    transcript.absorb_shape(f"{label}/count", (len(claims),))
    for c in claims:
        transcript.absorb_frs(f"{label}/point", list(c.point))
    return transcript.challenge_frs(f"{label}/alpha", len(claims))


def _weights(table: Fr, claims: Sequence[Claim], alphas: Sequence[int]) -> Fr:
    """``E = Σ_i α_i·eq(p_i, ·)``. With the backend's fused kernels each claim's ``α_i·eq`` over its block (the
    coordinates after its Boolean prefix: the limbs of one tensor on L's segments) is generated and added into
    the weights in one pass (``eq_into``: no eq table, no temporary), and a lone claim on the whole table (the
    range check's leaf claim on L) writes the weights instead of adding to zeros. Field addition is exact, so
    the order of accumulation does not change E."""
    be = table.backend
    fused = be.fused()
    supports = [(a, *_support(c.point)) for a, c in zip(alphas, claims)]
    if fused is None:
        by_suffix: dict[tuple[int, ...], list[tuple[int, int, int]]] = {}
        for a, lo, hi, suffix in supports:
            by_suffix.setdefault(tuple(suffix), []).append((a, lo, hi))
        weights = Fr.zeros(len(table), backend=be)
        for key, uses in by_suffix.items():
            for a, lo, hi in uses:
                part = Fr.eq_table(list(key), backend=be, scale=a) + weights[lo:hi]
                weights.limbs[lo:hi] = part.limbs
        return weights
    whole = [k for k, (_, lo, hi, _) in enumerate(supports) if hi - lo == len(table)]
    if len(whole) == 1:
        a, _, _, suffix = supports.pop(whole[0])
        weights = Fr(be.empty(len(table)), be)
        fused.eq_into(_limbs(suffix), scalar_limbs(a), weights.limbs, False)
    else:
        weights = Fr.zeros(len(table), backend=be)
    for a, lo, hi, suffix in supports:
        fused.eq_into(_limbs(suffix), scalar_limbs(a), weights.limbs[lo:hi], True)
    return weights


def _limbs(point: Sequence[int]) -> np.ndarray:
    """(n, 4) Montgomery limbs of a point's coordinates (host)."""
    return np.array([scalar_limbs(x) for x in point], dtype=np.uint64).reshape(-1, 4)


class ReductionEngine:
    """Round engine of the reduction sumcheck ``Σ_x E(x)·t(x)`` (``E`` public): with the backend's fused kernels
    each round folds both tables in place and computes the next round's sums in the same pass (one read of each
    table per round instead of three); without them, the generic round sums and folds. Either way the messages
    are the generic engine's (tested).

    ``keep_after``: also keep the table as folded after that many rounds, ``eq(r_<k)ᵀ·T``: bound most
    significant variables first, that is exactly the folded row a Hyrax opening at the reduced point needs
    (``zkdl.commit.evaluation``, ``folded_rows=``), so the opening does not fold the table again."""

    d = 2

    def __init__(self, weights: Fr, table: Fr, keep_after: int | None = None):
        self.be = table.backend
        self.kernels = self.be.fused()
        self.n = len(table).bit_length() - 1
        if len(weights) != len(table) or len(table) != 1 << self.n:
            raise ValueError("the reduction engine needs two tables of one power-of-two length")
        if keep_after is not None and not 0 <= keep_after <= self.n:
            raise ValueError(f"keep_after={keep_after} outside [0, {self.n}]")
        self.keep_after = keep_after
        self.kept: Fr | None = table if keep_after == 0 else None
        self.rounds = 0
        if self.kernels is not None:
            # folded in place (the weights are ours already); the table only read: the first round folds it
            # into a table of its own (no copy of the caller's table)
            self.w = self.be.xp.ascontiguousarray(weights.limbs)
            self.t = self.be.xp.ascontiguousarray(table.limbs)
            self._own_t = False
            self.sums: np.ndarray | None = self.be.round_sums([self.w, self.t]) if self.n else None
        else:
            self.w, self.t = weights.limbs, table.limbs
            self.sums = None

    def message(self) -> list[int]:
        raw = self.be.round_sums([self.w, self.t]) if self.sums is None else self.sums
        return [mont_to_int(row) for row in raw]

    def bind(self, r: int) -> None:
        c = scalar_limbs(r)
        if self.kernels is not None and len(self.t) >= 4:
            out = None if self._own_t else self.be.empty(len(self.t) // 2)
            self.sums, self.w, self.t = self.kernels.fold2_round_sums(self.w, self.t, c, out)
            self._own_t = True
        else:
            self.w, self.t = self.be.fold(self.w, c), self.be.fold(self.t, c)
            self.sums = None
        self.rounds += 1
        if self.rounds == self.keep_after:
            self.kept = Fr(self.t.copy() if self.kernels is not None else self.t, self.be)

    def finals(self) -> tuple[int, ...]:
        return (mont_to_int(self.be.to_host(self.w[:1])[0]), mont_to_int(self.be.to_host(self.t[:1])[0]))


def prove_reduction(table: Fr, claims: Sequence[Claim], ch: ProverChannelProtocol) -> Claim:
    """Reduce the claims on ``table`` to one claim, through the prover channel ``ch`` (its ``transcript`` and
    ``sumcheck``). A single claim is returned unchanged."""
    return prove_reduction_keeping_fold(table, claims, ch, None)[0]


def prove_reduction_keeping_fold(
    table: Fr, claims: Sequence[Claim], ch: ProverChannelProtocol, keep_after: int | None
) -> tuple[Claim, Fr | None]:
    """:func:`prove_reduction` that also returns the table folded at the reduced point's first ``keep_after``
    coordinates (``eq(p_<k)ᵀ·T``: what a Hyrax opening at the reduced point with ``keep_after`` row variables
    folds, see :class:`ReductionEngine`); None when ``keep_after`` is None or a single claim needed no
    reduction (no sumcheck folded anything)."""
    n = _check_points(claims)
    if len(claims) == 1:
        return claims[0], None
    if len(table) != 1 << n:
        raise ValueError(f"table of {len(table)} entries for claims over {n} variables")
    alphas = _alphas(ch.transcript, claims)
    weights = _weights(table, claims, alphas)
    claim = combine(alphas, [c.value for c in claims])
    engine = ReductionEngine(weights, table, keep_after)
    point, vals = ch.sumcheck([weights, table], sc.Relation.product(2), claim, n_public=1, engine=engine)
    return Claim(claims[0].tensor, point, vals[1]), engine.kept


def verify_reduction(claims: Sequence[Claim], ch: VerifierChannelProtocol) -> Claim:
    """Check a reduction through the verifier channel ``ch``; return the single claim it leaves."""
    n = _check_points(claims)
    if len(claims) == 1:
        return claims[0]
    alphas = _alphas(ch.transcript, claims)

    def weights_mle(p):
        return sum(a * sc.eq_eval(c.point, p) for a, c in zip(alphas, claims)) % R

    claim = combine(alphas, [c.value for c in claims])
    point, vals = ch.sumcheck(
        n, sc.Relation.product(2), claim, public=[weights_mle], what=f"claim reduction on {claims[0].tensor!r}"
    )
    return Claim(claims[0].tensor, point, vals[1])
