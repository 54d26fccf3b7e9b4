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

from ..errors import VerificationError
from ..field import MODULUS as R
from ..field import Fr
from . import sumcheck as sc


@dataclass(frozen=True)
class Claim:
    """``tensor~(point) = value`` (point in MLE variable order: x_1 = most significant index bit)."""

    tensor: str
    point: tuple[int, ...]
    value: int

    def __post_init__(self):
        object.__setattr__(self, "point", tuple(int(x) % R for x in self.point))
        object.__setattr__(self, "value", int(self.value) % R)


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


def _absorb_claims(transcript, claims: Sequence[Claim]) -> list[int]:
    transcript.absorb_shape("claims/shape", (len(claims), len(claims[0].point)))
    for c in claims:
        transcript.absorb_frs("claims/point", list(c.point))
        transcript.absorb_fr("claims/value", c.value)
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


def prove_reduction(table: Fr, claims: Sequence[Claim], transcript) -> tuple[sc.SumcheckProof | None, Claim]:
    """Reduce the claims on ``table`` to one. Returns (proof, claim); proof is None for a single claim."""
    n = _check_points(claims)
    if len(claims) == 1:
        return None, claims[0]
    if len(table) != 1 << n:
        raise ValueError(f"table of {len(table)} entries for claims over {n} variables")
    alphas = _absorb_claims(transcript, claims)
    weights = Fr.zeros(1 << n, backend=table.backend)
    for a, c in zip(alphas, claims):
        lo, hi, suffix = _support(c.point)
        part = Fr.eq_table(suffix, backend=table.backend).axpy(a, weights[lo:hi])
        weights.limbs[lo:hi] = part.limbs
    claim = sum(a * c.value for a, c in zip(alphas, claims)) % R
    proof, res = sc.prove([weights, table], sc.Relation.product(2), transcript, claim=claim)
    return proof, Claim(claims[0].tensor, res.point, res.values[1])


def verify_reduction(proof: sc.SumcheckProof | None, claims: Sequence[Claim], transcript) -> Claim:
    """Check a reduction; return the single claim it leaves (to be opened or reduced further)."""
    n = _check_points(claims)
    if len(claims) == 1:
        if proof is not None:
            raise VerificationError("unexpected reduction proof for a single claim")
        return claims[0]
    if proof is None:
        raise VerificationError("missing reduction proof")
    alphas = _absorb_claims(transcript, claims)
    claim = sum(a * c.value for a, c in zip(alphas, claims)) % R
    res = sc.verify(proof, sc.Relation.product(2), n, claim, transcript)
    expected = sum(a * sc.eq_eval(c.point, res.point) for a, c in zip(alphas, claims)) % R
    if res.values[0] != expected:
        raise VerificationError(f"claim reduction on {claims[0].tensor!r}: wrong weight evaluation")
    return Claim(claims[0].tensor, res.point, res.values[1])
