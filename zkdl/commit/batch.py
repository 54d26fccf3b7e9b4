"""Deferred group equations of a verifier, checked together by one multi-scalar multiplication.

A verifier's group checks are all of the form ``E_j = Σ_i c_{j,i}·P_{j,i} = O`` (the equations of a proof of
product, of a Hyrax proof of dot product, of the final Schnorr proof, "this commitment equals that linear
combination"). Instead of one MSM per equation, :class:`MsmBatch` keeps them and :meth:`MsmBatch.verify` checks

    Σ_j ω_j·E_j = O

with independent weights ``ω_j`` drawn uniformly from ``[0, 2^128)`` by the verifier's own CSPRNG
(:mod:`secrets`), never from the transcript, after the proof is fixed. Terms on the same point are merged: the
vector generators ``g_i`` shared by every opening, ``g_v``, ``h``, and any point passed to several equations
(merged by object identity), so each group element enters the final MSM once.

Soundness (``docs/soundness.md``): every point is in the prime-order group (the decoder's subgroup check must have
passed; see :mod:`zkdl.serialize.subgroup`), so ``E_j ∈ G ≅ Z/r``. If some ``E_k ≠ O``, fix every other weight:
``ω_k ↦ ω_k·E_k + rest`` is injective on ``[0, 2^128)`` (``2^128 < r``, ``r`` prime), so at most one ``ω_k`` gives
``O``; the batch accepts a set of equations that are not all true with probability at most ``2^-128``, however
many equations it holds (so in particular ``≤ k/2^128`` for ``k`` equations).

When the batched check fails, :meth:`MsmBatch.diagnose` re-checks the equations one by one (one MSM each, as the
unbatched verifier did) and raises the :class:`~zkdl.errors.VerificationError` of the first false one, with the
message that equation's own check raises: a rejected proof names the check that rejects it.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from py_arkworks_bls12381 import G1Point

from zkdl.errors import VerificationError
from zkdl.field import MODULUS as R
from zkdl.field import Fr

from ..serialize.subgroup import PendingPoints
from .generators import PublicParams
from .pedersen import default_workers, msm, msm_async, scalars_from_ints, scalars_from_le_bytes

WEIGHT_BITS = 128


def random_weight() -> int:
    """A verifier-local batching weight, uniform in ``[0, 2^128)`` (OS CSPRNG)."""
    return secrets.randbits(WEIGHT_BITS)


@dataclass(frozen=True)
class _Equation:
    """``Σ coeffs[i]·points[i] + gens_scale·Σ gens[i]·g_i + row_scale·Σ row_coeffs[k]·rows[k] = O``; ``what``:
    its rejection."""

    what: str
    points: tuple[G1Point, ...]
    coeffs: tuple[int, ...]
    gens: Fr | None
    gens_scale: int
    rows: Sequence[G1Point]  # kept as given: a commitment's PendingPoints are resolved by the final MSM only
    row_coeffs: Fr | None
    row_scale: int


def _point_terms(eq: _Equation, params: PublicParams) -> tuple[list[G1Point], list]:
    pts: list[G1Point] = list(eq.points)
    sc = scalars_from_ints([c % R for c in eq.coeffs])
    if eq.gens is not None:
        pts += params.gens(len(eq.gens))
        sc += scalars_from_le_bytes((eq.gens * eq.gens_scale).to_le_bytes())
    if eq.row_coeffs is not None:
        pts += list(eq.rows)
        sc += scalars_from_le_bytes((eq.row_coeffs * eq.row_scale).to_le_bytes())
    return pts, sc


class MsmBatch:
    """Group equations deferred to one final random-linear-combination MSM (see the module docstring).

    ``add`` the equations as the verifier meets them, then call :meth:`verify` once, after the last one (and
    after the points' subgroup checks). ``weight`` replaces the CSPRNG (tests only: a weight function that
    returns 0 shows that the batch, not something else, is what rejects)."""

    def __init__(self, params: PublicParams, *, weight: Callable[[], int] = random_weight) -> None:
        self.params = params
        self._weight = weight
        self._eqs: list[_Equation] = []
        self._points: dict[int, list] = {}  # id(point) -> [point, merged coefficient]
        self._gens: Fr | None = None
        self._rows: list[tuple[Sequence[G1Point], Fr, int]] = []  # (rows, coefficients, scale)
        self._closed = False

    def __len__(self) -> int:
        return len(self._eqs)

    @property
    def closed(self) -> bool:
        """True once :meth:`verify` ran."""
        return self._closed

    def add(
        self,
        what: str,
        points: Sequence[G1Point],
        coeffs: Sequence[int],
        *,
        gens: Fr | None = None,
        gens_scale: int = 1,
        rows: Sequence[G1Point] = (),
        row_coeffs: Fr | None = None,
        row_scale: int = 1,
    ) -> None:
        """Defer ``Σ coeffs[i]·points[i] + gens_scale·Σ gens[i]·g_i + row_scale·Σ row_coeffs[k]·rows[k] = O``
        (``what``: the message of the :class:`VerificationError` that rejects it). The scales cost nothing here:
        they join the weight (one vector operation per vector, whatever the number of scales)."""
        if self._closed:
            raise RuntimeError("this MsmBatch has already been verified")
        if len(points) != len(coeffs):
            raise ValueError("points and coefficients differ in length")
        if (row_coeffs is None) != (not rows) or (row_coeffs is not None and len(row_coeffs) != len(rows)):
            raise ValueError("rows and row coefficients differ in length")
        if gens is not None and len(gens) > self.params.capacity:
            raise ValueError(f"{len(gens)} generator coefficients for {self.params.capacity} generators")
        eq = _Equation(
            what,
            tuple(points),
            tuple(int(c) for c in coeffs),
            gens,
            int(gens_scale),
            rows,
            row_coeffs,
            int(row_scale),
        )
        self._eqs.append(eq)
        w = self._weight()
        for p, c in zip(eq.points, eq.coeffs):
            if not isinstance(p, G1Point):
                raise TypeError(f"{what}: a term is not a G1Point ({type(p).__name__})")
            slot = self._points.get(id(p))
            if slot is None:
                self._points[id(p)] = [p, w * c % R]
            else:
                slot[1] = (slot[1] + w * c) % R
        if gens is not None and len(gens):
            s = w * gens_scale % R
            if self._gens is None:
                self._gens = gens * s
            else:
                self._gens = _accumulate_prefix(self._gens, gens, s)
        if row_coeffs is not None and len(rows):
            self._rows.append((rows, row_coeffs, w * row_scale % R))

    def _merged_point_terms(self) -> tuple[list[G1Point], list]:
        """The merged single-point terms (every point once, zero coefficients dropped)."""
        pts: list[G1Point] = []
        ints: list[int] = []
        for p, c in self._points.values():
            if c:
                pts.append(p)
                ints.append(c)
        return pts, scalars_from_ints(ints)

    def _row_terms(self) -> list[tuple[Sequence[G1Point], list]]:
        """Each commitment's rows with their scalars (a verifier's rows may still be ``PendingPoints``)."""
        return [(rows, scalars_from_le_bytes((coeffs * scale).to_le_bytes())) for rows, coeffs, scale in self._rows]

    def _generator_terms(self) -> tuple[list[G1Point], list]:
        """The vector generators with their merged coefficients (none if no equation has any)."""
        if self._gens is None:
            return [], []
        return list(self.params.gens(len(self._gens))), scalars_from_le_bytes(self._gens.to_le_bytes())

    def combined_terms(self) -> tuple[list[G1Point], list]:
        """The points and scalars of the final MSM (every point once)."""
        pts, sc = self._merged_point_terms()
        for rows, row_sc in self._row_terms():
            pts += list(rows)
            sc += row_sc
        gens, gens_sc = self._generator_terms()
        return pts + gens, sc + gens_sc

    def verify(self) -> None:
        """One MSM over every deferred equation; raises the :class:`VerificationError` of a false one."""
        if self._closed:
            raise RuntimeError("this MsmBatch has already been verified")
        self._closed = True
        if self._final_msm() != G1Point.identity():
            self.diagnose()
            raise VerificationError(  # unreachable unless a term changed after add(): a bug, still a rejection
                f"batched check of {len(self._eqs)} group equations failed, yet each holds alone"
            )

    def _final_msm(self) -> G1Point:
        """``Σ_j ω_j·E_j`` over the terms of :meth:`combined_terms`, computed in three parts so that no core waits
        for the commitment rows the subgroup helpers are still decompressing (``PendingPoints``): the generator
        terms (the largest part: 2^13 at W-digits T = 16) go to the MSM pool at once, this thread computes the
        part of the points at hand, then waits for the pending rows and computes theirs. The same sum, hence the
        same verdict, as one MSM over all terms (tested)."""
        ready, ready_sc = self._merged_point_terms()
        pending: list[tuple[Sequence[G1Point], list]] = []
        for rows, sc in self._row_terms():
            if isinstance(rows, PendingPoints):
                pending.append((rows, sc))
            else:
                ready += list(rows)
                ready_sc += sc
        gens, gens_sc = self._generator_terms()
        gens_parts = []
        w = default_workers()
        if w > 1 and gens:  # one task per worker: the pool's threads share the cores with this one and the helpers
            step = -(-len(gens) // w)
            gens_parts = [msm_async(gens[i : i + step], gens_sc[i : i + step]) for i in range(0, len(gens), step)]
        else:
            ready += gens
            ready_sc += gens_sc
        total = _multiexp(ready, ready_sc) if ready else G1Point.identity()
        late: list[G1Point] = []
        late_sc: list = []
        for rows, sc in pending:
            late += list(rows)  # waits for the helpers; raises a row's decoding error
            late_sc += sc
        if late:
            total = total + msm(late, late_sc)
        for part in gens_parts:
            total = total + part.result()
        return total

    def diagnose(self) -> None:
        """Check the equations added so far one by one; raise the first false one's error (failure paths)."""
        for eq in self._eqs:
            pts, sc = _point_terms(eq, self.params)
            if pts and msm(pts, sc) != G1Point.identity():
                raise VerificationError(eq.what)


def _multiexp(points: list[G1Point], scalars: list) -> G1Point:
    """One arkworks MSM on the calling thread (it releases the GIL)."""
    return G1Point.multiexp_unchecked(points, scalars)


def _padded(x: Fr, n: int) -> Fr:
    return x if len(x) == n else Fr.concat([x, Fr.zeros(n - len(x))])


def _accumulate_prefix(acc: Fr, x: Fr, s: int) -> Fr:
    """``acc + s·x`` with the shorter vector zero-padded: the kernel runs over ``len(x)`` entries only (one
    opening's columns), not over the longest vector met so far."""
    m, n = len(x), len(acc)
    if m >= n:
        return x.axpy(s, _padded(acc, m))
    return Fr.concat([x.axpy(s, acc[:m]), acc[m:]])
