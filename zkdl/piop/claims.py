"""Evaluation claims and their reduction: many claims on one table become one.

A :class:`Claim` says ``t~(point) = value`` for a named table ``t``. Gadgets produce claims; a
:class:`ClaimRegistry` collects them per table, and :func:`prove_reduction` / :func:`verify_reduction` turn all
claims on one table into a single claim at a fresh random point with one sumcheck:

    Σ_i α_i · v_i = Σ_x (Σ_i α_i · eq(p_i, x)) · t(x)

with ``α_i`` drawn from the transcript after every claim was absorbed. The combined weight table
``E = Σ_i α_i eq(p_i, ·)`` is public: the verifier evaluates ``E~(r) = Σ_i α_i eq(p_i, r)`` itself. The
prover's cost is one eq table per claim plus one degree-2 sumcheck; the verifier's is O(claims · log size).
A single claim needs no reduction and is passed through unchanged.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from ..field import MODULUS as R
from ..field import Fr
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


def prove_reduction(table: Fr, claims: Sequence[Claim], ch: ProverChannelProtocol) -> Claim:
    """Reduce the claims on ``table`` to one claim, through the prover channel ``ch`` (its ``transcript`` and
    ``sumcheck``). A single claim is returned unchanged."""
    n = _check_points(claims)
    if len(claims) == 1:
        return claims[0]
    if len(table) != 1 << n:
        raise ValueError(f"table of {len(table)} entries for claims over {n} variables")
    alphas = _alphas(ch.transcript, claims)
    weights = Fr.zeros(1 << n, backend=table.backend)
    for a, c in zip(alphas, claims):
        lo, hi, suffix = _support(c.point)
        part = Fr.eq_table(suffix, backend=table.backend, scale=a) + weights[lo:hi]
        weights.limbs[lo:hi] = part.limbs
    claim = combine(alphas, [c.value for c in claims])
    point, vals = ch.sumcheck([weights, table], sc.Relation.product(2), claim, n_public=1)
    return Claim(claims[0].tensor, point, vals[1])


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
