"""Evaluation proofs for Hyrax-style row commitments: ``t~(u) = v`` for a committed table ``t``.

Notation: the table is a ``2^a × 2^b`` matrix ``T`` (row-major, see :mod:`zkdl.commit.pedersen`), ``u = (u_rows ‖
u_cols)``, ``e = eq(u_rows)`` (``2^a`` entries), ``a_vec = eq(u_cols)`` (``2^b`` entries), so that
``t~(u) = eᵀ·T·a_vec``. The verifier folds the row commitments into ``C' = Σ_r e_r·C_r``, which is a commitment
to the folded row ``x = eᵀ·T`` with blinding ``ρ' = Σ_r e_r·ρ_r``.

Clear mode (:func:`prove_eval` / :func:`verify_eval`)
    The prover sends ``x`` and ``ρ'``; the verifier checks ``C' = Σ_i x_i·g_i + ρ'·h`` and outputs
    ``v = <x, a_vec>``. It reveals the folded row (``2^b`` field elements): fine for public tables and tests,
    *not* zero-knowledge for secret ones.

Zero-knowledge mode (:func:`prove_eval_zk` / :func:`verify_eval_zk`)
    The value stays committed: ``Y = v·g_v + r_y·h``. The prover shows ``<x, a_vec> = v`` for the ``x``
    inside ``C'`` with the proof of dot product of Hyrax (Wahby et al., S&P 2018, §4), made non-interactive
    with the transcript, and with its long response replaced by a log-size argument of knowledge of it:

    1. P picks ``d ∈ F^{2^b}``, ``r_δ``, ``r_β`` uniformly, sends ``Y``, ``δ = Σ d_i·g_i + r_δ·h``,
       ``β = <a_vec, d>·g_v + r_β·h``;
    2. ``c`` = transcript challenge (after absorbing the commitment, ``u``, ``Y``, ``δ``, ``β``);
    3. the masked response is ``z = c·x + d``; P sends ``z_δ = c·ρ' + r_δ``, ``z_β = c·r_y + r_β`` and
       ``w = <z, a_vec>``, but not ``z``;
    4. ``ξ`` = transcript challenge; P proves knowledge of ``z`` with ``P_0 = Σ z_i·g_i + <z, a_vec>·ξ·g_v``
       for ``P_0 = c·C' + δ − z_δ·h + w·ξ·g_v`` by an inner-product argument (the Bulletproofs reduction, in the
       folding form of Attema–Cramer's compressed Σ-protocols): in round ``j`` the vectors of length ``m`` are
       halved, P sends ``L_j = <z_lo, g_hi> + <z_lo, a_hi>·ξ·g_v`` and ``R_j = <z_hi, g_lo> + <z_hi, a_lo>·ξ·g_v``,
       draws ``x_j`` (128 bits) and folds ``z' = z_lo + x_j·z_hi``, ``a' = x_j·a_lo + a_hi``,
       ``g' = x_j·g_lo + g_hi``, so that ``P_{j+1} = L_j + x_j·P_j + x_j²·R_j``; after ``b`` rounds P sends the
       scalar ``z*``;
    5. V checks ``P_b = z*·g* + z*·a*·ξ·g_v`` with ``g* = Σ s_i·g_i``, ``s_i = Π_j (x_j if bit j of i is 0 else
       1)`` and ``a* = <s, a_vec>``, and ``c·Y + β = w·g_v + z_β·h``.

    ``z`` is uniform whatever ``x`` is, and every message after ``c`` is a function of ``z`` and public data,
    so nothing about the table leaks beyond ``Y`` (``docs/zero-knowledge.md``). The proof is ``3`` points,
    ``4`` field elements and ``2b`` points (``272 + 96·b`` bytes) instead of ``2^b`` field elements. The verifier
    returns ``Y``, a *committed* evaluation claim the caller must discharge (or compare with a commitment it
    already holds: ``value_commitment=``). Both equations (with the fold of the row commitments, the ``s``-vector
    on the generators, ``L_j``/``R_j`` with their products of challenges, and the comparison with a
    ``value_commitment`` given as a lazy :class:`~zkdl.commit.sigma.VScalar`) go into a
    :class:`~zkdl.commit.batch.MsmBatch`: the verifier's one final MSM, where the generators ``g_i`` of every
    opening share one term each; standalone, into a batch of their own checked at once.

    Prover cost (arkworks through Python): a fold of the generators costs one 128-bit scalar multiplication per
    output point (~90 µs, half of a 255-bit one; ``n − 2`` in all), the ``L_j``/``R_j`` MSMs ``2n`` points in all
    (~20 µs each); computing ``L_j``/``R_j`` instead as MSMs over the original generators with expanded scalars
    (no point is ever folded) costs ``n`` points per round, ``n·b`` in all: 1.4–2.3× slower than folding at
    ``b = 10 … 15`` (``bench/ipa_prover.py``, ``bench/results/ipa_prover.json``). arkworks holds the GIL in a
    scalar multiplication, so the fold (and ``L_j``/``R_j``) of the odd-indexed generators runs in a helper process
    on another core (:mod:`zkdl.commit.ipa_fold`): the same points, half the prover's own fold.

Transcript records (labels): clear mode absorbs ``hyrax-eval/folded`` (x) and ``hyrax-eval/blind`` (ρ');
ZK mode absorbs ``hyrax-eval-zk/commitment`` (bytes), ``hyrax-eval-zk/point``, ``hyrax-eval-zk/Y``,
``hyrax-eval-zk/delta``, ``hyrax-eval-zk/beta``, draws ``hyrax-eval-zk/c``, absorbs ``hyrax-eval-zk/z-blinds``
(z_δ, z_β) and ``hyrax-eval-zk/z-dot-a`` (w), draws ``hyrax-eval-zk/xi``; then per round absorbs
``hyrax-eval-zk/LR`` (L_j, R_j) and draws ``hyrax-eval-zk/x`` (its low 128 bits are x_j); finally absorbs
``hyrax-eval-zk/z-final`` (z*).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from py_arkworks_bls12381 import G1Point

from zkdl.errors import VerificationError
from zkdl.field import MODULUS, Fr
from zkdl.serialize import Reader, Writer
from zkdl.transcript import Transcript

from .batch import MsmBatch
from .generators import PublicParams
from .ipa import (
    InnerProductProof,
    prove_masked_dot,
    read_masked_dot,
    verify_masked_response,
    write_masked_dot,
)
from .pedersen import (
    Commitment,
    Layout,
    Opening,
    commit_value,
    msm,
    random_scalar,
    scalars_from_ints,
    scalars_from_le_bytes,
)
from .sigma import VScalar


# ---------------------------------------------------------------------------------------------------------
# helpers
# ---------------------------------------------------------------------------------------------------------
def table_to_fr(table: Any, layout: Layout) -> Fr:
    """The committed table as a field vector padded to ``layout.size``: accepts :class:`Fr`, numpy integer or
    bool arrays, and sequences of Python ints (the same values that were committed)."""
    if isinstance(table, Fr):
        t = table
    elif isinstance(table, np.ndarray):
        t = Fr.from_int64(table.reshape(-1))
    else:
        t = Fr.from_ints(list(table))
    if len(t) != layout.n_entries:
        raise ValueError(f"table has {len(t)} entries, the commitment has {layout.n_entries}")
    return t.pad_to_pow2(layout.size)


def fold_rows(table: Any, layout: Layout, u_rows: Sequence[int], folded_rows: Fr | None = None) -> Fr:
    """``x = eq(u_rows)ᵀ·T``: bind the row variables (the first, most significant ones) one by one. A caller
    that folded the table at ``u_rows`` already (the claim reduction's sumcheck binds the same variables in the
    same order) passes that ``folded_rows`` instead, and the table is not read."""
    if folded_rows is not None:
        if len(folded_rows) != layout.cols:
            raise ValueError(f"folded row of {len(folded_rows)} entries, the layout has {layout.cols} columns")
        return folded_rows
    t = table_to_fr(table, layout)
    for c in u_rows:
        t = t.fold(c)
    assert len(t) == layout.cols
    return t


def _fold_blinds(opening: Opening, u_rows: Sequence[int]) -> int:
    return Fr.eq_table(list(u_rows)).inner(Fr.from_ints(opening.blinds))


def _neg(x: int) -> int:
    return (-x) % MODULUS


def _check_opening(commitment: Commitment, opening: Opening) -> None:
    if opening.layout != commitment.layout or len(opening.blinds) != commitment.layout.rows:
        raise ValueError("opening does not belong to this commitment (layout differs)")


def _check_frs(values: Sequence[int], n: int, what: str) -> None:
    if len(values) != n:
        raise VerificationError(f"{what} has {len(values)} entries, expected {n}")
    if any(not isinstance(v, int) or not 0 <= v < MODULUS for v in values):
        raise VerificationError(f"{what} holds a non-canonical field element")


def _check_fr(value: int, what: str) -> None:
    if not isinstance(value, int) or not 0 <= value < MODULUS:
        raise VerificationError(f"{what} is not a canonical field element")


# ---------------------------------------------------------------------------------------------------------
# clear mode
# ---------------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class EvalProof:
    """Clear-mode evaluation proof: the folded row ``x`` (``2^b`` ints) and its blinding ``ρ'``."""

    folded: tuple[int, ...]
    folded_blind: int

    def write(self, w: Writer) -> None:
        w.write_frs(list(self.folded))
        w.write_fr(self.folded_blind)

    @classmethod
    def read(cls, r: Reader, layout: Layout) -> EvalProof:
        folded = r.read_frs(count=layout.cols)
        return cls(tuple(folded), r.read_fr())

    def to_bytes(self) -> bytes:
        w = Writer()
        self.write(w)
        return w.getvalue()

    @classmethod
    def from_bytes(cls, data: bytes, layout: Layout) -> EvalProof:
        with Reader(data, name="eval proof") as r:
            return cls.read(r, layout)


def prove_eval(
    params: PublicParams,
    commitment: Commitment,
    opening: Opening,
    table: Any,
    point: Sequence[int],
    *,
    transcript: Transcript | None = None,
    folded_rows: Fr | None = None,
) -> tuple[int, EvalProof]:
    """Clear-mode opening of ``t~(point)``; returns ``(v, proof)``. Not zero-knowledge (see module doc).
    ``folded_rows``: ``eq(u_rows)ᵀ·T`` when the caller has it already (see :func:`fold_rows`)."""
    _check_opening(commitment, opening)
    lay = commitment.layout
    u_rows, u_cols = lay.split_point(point)
    x = fold_rows(table, lay, u_rows, folded_rows)
    v = x.inner(Fr.eq_table(u_cols))
    proof = EvalProof(tuple(x.to_ints()), _fold_blinds(opening, u_rows))
    if transcript is not None:
        transcript.absorb_frs("hyrax-eval/folded", x)
        transcript.absorb_fr("hyrax-eval/blind", proof.folded_blind)
    return v, proof


def verify_eval(
    params: PublicParams,
    commitment: Commitment,
    point: Sequence[int],
    proof: EvalProof,
    *,
    transcript: Transcript | None = None,
) -> int:
    """Check a clear-mode proof; returns the evaluation ``v``. Raises :class:`VerificationError`."""
    lay = commitment.layout
    try:
        u_rows, u_cols = lay.split_point(point)
    except ValueError as e:
        raise VerificationError(str(e)) from e
    _check_frs(proof.folded, lay.cols, "folded row")
    _check_fr(proof.folded_blind, "folded blinding")
    x = Fr.from_ints(proof.folded)
    # Σ e_r·C_r − Σ x_i·g_i − ρ'·h must be the identity: one MSM
    e_bytes = Fr.eq_table(u_rows).to_le_bytes()
    pts = list(commitment.rows) + params.gens(lay.cols) + [params.h]
    scal = scalars_from_le_bytes(e_bytes) + scalars_from_le_bytes((-x).to_le_bytes())
    scal += scalars_from_ints([_neg(proof.folded_blind)])
    if msm(pts, scal) != G1Point.identity():
        raise VerificationError("evaluation proof: folded row does not open the folded row commitment")
    if transcript is not None:
        transcript.absorb_frs("hyrax-eval/folded", list(proof.folded))
        transcript.absorb_fr("hyrax-eval/blind", proof.folded_blind)
    return x.inner(Fr.eq_table(u_cols))


# ---------------------------------------------------------------------------------------------------------
# zero-knowledge mode (Hyrax proof of dot product, log-size response)
# ---------------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class ZkEvalProof:
    """``Y`` (the value commitment), ``δ``, ``β``, the blinding responses ``z_δ``, ``z_β`` and, instead of the
    masked response ``z`` (``2^b`` field elements), the inner-product argument that proves knowledge of it."""

    value_commitment: G1Point
    delta: G1Point
    beta: G1Point
    z_delta: int
    z_beta: int
    ipa: InnerProductProof

    def write(self, w: Writer) -> None:
        w.write_g1(self.value_commitment)
        write_masked_dot(w, self.delta, self.beta, self.z_delta, self.z_beta, self.ipa)

    @classmethod
    def read(cls, r: Reader, layout: Layout) -> ZkEvalProof:
        y = r.read_g1(allow_identity=True)
        return cls(y, *read_masked_dot(r, layout.log_cols))

    def to_bytes(self) -> bytes:
        w = Writer()
        self.write(w)
        return w.getvalue()

    @classmethod
    def from_bytes(cls, data: bytes, layout: Layout) -> ZkEvalProof:
        with Reader(data, name="zk eval proof") as r:
            return cls.read(r, layout)


def zk_first_challenge(
    transcript: Transcript, commitment: Commitment, point: Sequence[int], y: G1Point, delta: G1Point, beta: G1Point
) -> int:
    transcript.absorb_bytes("hyrax-eval-zk/commitment", commitment.to_bytes())
    transcript.absorb_frs("hyrax-eval-zk/point", [int(c) % MODULUS for c in point])
    transcript.absorb_g1("hyrax-eval-zk/Y", y)
    transcript.absorb_g1("hyrax-eval-zk/delta", delta)
    transcript.absorb_g1("hyrax-eval-zk/beta", beta)
    return transcript.challenge_fr("hyrax-eval-zk/c")


def prove_eval_zk(
    params: PublicParams,
    commitment: Commitment,
    opening: Opening,
    table: Any,
    point: Sequence[int],
    transcript: Transcript,
    *,
    value_blind: int | None = None,
    rng: Any = None,
    folded_rows: Fr | None = None,
) -> tuple[int, int, ZkEvalProof]:
    """Zero-knowledge opening of ``t~(point)``; returns ``(v, r_y, proof)`` with ``Y = v·g_v + r_y·h`` in the
    proof. Pass ``value_blind`` to reuse a value commitment made earlier (its ``Y`` is then the same point), and
    ``folded_rows`` = ``eq(u_rows)ᵀ·T`` when the caller has it already (see :func:`fold_rows`)."""
    _check_opening(commitment, opening)
    lay = commitment.layout
    u_rows, u_cols = lay.split_point(point)
    a_vec = Fr.eq_table(u_cols)
    x = fold_rows(table, lay, u_rows, folded_rows)
    v = x.inner(a_vec)
    r_x = _fold_blinds(opening, u_rows)
    r_y = random_scalar(rng) if value_blind is None else int(value_blind) % MODULUS
    y = commit_value(params, v, r_y)

    delta, beta, z_delta, z_beta, ipa = prove_masked_dot(
        params,
        transcript,
        x,
        a_vec,
        r_x,
        r_y,
        lambda delta, beta: zk_first_challenge(transcript, commitment, point, y, delta, beta),
        rng,
    )
    return v, r_y, ZkEvalProof(y, delta, beta, z_delta, z_beta, ipa)


IPA_CHECK = "ZK evaluation proof: inner-product argument check failed"
VALUE_CHECK = "ZK evaluation proof: proof-of-dot-product value check failed"


def verify_eval_zk(
    params: PublicParams,
    commitment: Commitment,
    point: Sequence[int],
    proof: ZkEvalProof,
    transcript: Transcript,
    *,
    value_commitment: G1Point | VScalar | None = None,
    batch: MsmBatch | None = None,
) -> G1Point:
    """Check a zero-knowledge evaluation proof; returns ``Y``, the commitment to ``t~(point)``. With
    ``value_commitment`` the proof's ``Y`` must equal it. With ``batch`` the group equations are deferred to it
    (the caller verifies the batch before accepting); without, they are checked at once. Raises
    :class:`VerificationError`."""
    lay = commitment.layout
    try:
        u_rows, u_cols = lay.split_point(point)
    except ValueError as e:
        raise VerificationError(str(e)) from e
    ipa = proof.ipa
    if len(ipa.left) != lay.log_cols or len(ipa.right) != lay.log_cols:
        raise VerificationError(f"inner-product argument has {len(ipa.left)} rounds, expected {lay.log_cols}")
    _check_fr(proof.z_delta, "response z_delta")
    _check_fr(proof.z_beta, "response z_beta")
    _check_fr(ipa.z_dot_a, "response <z, a>")
    _check_fr(ipa.z_final, "final scalar z*")
    for p in (proof.value_commitment, proof.delta, proof.beta, *ipa.left, *ipa.right):
        if not isinstance(p, G1Point):
            raise VerificationError("ZK evaluation proof holds a non-point")
    b = batch if batch is not None else MsmBatch(params)
    if value_commitment is not None:
        other = "ZK evaluation proof commits to a different value commitment than expected"
        if isinstance(value_commitment, VScalar) and batch is not None:
            pts, cs = value_commitment.linear_terms(params)  # Y − V = O, V never materialized
            b.add(other, [proof.value_commitment, *pts], [1, *(-c for c in cs)])
        else:
            v_pt = value_commitment.commitment(params) if isinstance(value_commitment, VScalar) else value_commitment
            if proof.value_commitment != v_pt:
                raise VerificationError(other)

    c = zk_first_challenge(transcript, commitment, point, proof.value_commitment, proof.delta, proof.beta)
    verify_masked_response(
        params,
        transcript,
        ipa,
        Fr.eq_table(u_cols),
        b,
        c=c,
        delta=proof.delta,
        beta=proof.beta,
        z_delta=proof.z_delta,
        z_beta=proof.z_beta,
        value_points=[proof.value_commitment],
        value_coeffs=[1],
        rows=commitment.rows,
        row_coeffs=Fr.eq_table(u_rows),
        ipa_what=IPA_CHECK,
        value_what=VALUE_CHECK,
    )
    if batch is None:
        b.verify()
    return proof.value_commitment
