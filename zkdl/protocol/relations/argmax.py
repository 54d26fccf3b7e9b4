"""The predicted class of every row and the count of correct predictions (evaluation proofs).

Over the (padded) rows i and output columns j, with ``C`` real classes, ``cm(j) = [j < C]``, the output ``O``
(range-checked, signed ``act_bits``) and two range-checked tensors of the prover:

* ``P`` (one bit per entry): the one-hot predicted class;
* ``D`` (unsigned ``act_bits + 1`` bits): ``D[i,j] = cm(j)·(m_i − O[i,j] − Suf[i,j])`` with ``m_i = Σ_j P[i,j]·O[i,j]``
  and ``Suf[i,j] = Σ_{j' > j} P[i,j']``.

The proof shows, with one sumcheck over (i, j) after a fresh point ρ = (u_i, u_j) and batching challenges β:

1. ``D`` is that tensor (a zero check at ρ);
2. every row of ``P`` sums to 1 (``Σ_{i,j} eq(u_i, i)·P[i,j] = 1``);
3. ``P`` is zero on the padding columns (``Σ (1 − cm(j))·P[i,j] = 0``: a sum of bits, so each is zero);
4. ``Σ_{i,j} Y[i,j]·P[i,j] = correct``, the public count (``Y`` the one-hot public labels, zero on padded rows).

Then ``P[i,·]`` is one-hot on a real class ``c_i``, ``m_i = O[i, c_i]``, and ``D ≥ 0`` says
``O[i,c_i] ≥ O[i,j]`` for every class and ``O[i,c_i] > O[i,j]`` for ``j < c_i``: ``c_i`` is the **first** maximal
output (numpy's ``argmax`` rule; ties go to the smallest class index). Every sum is of bits or of values far below
the modulus, so the field equalities are integer ones (``docs/soundness.md``).

On committed test data (``TY``: the one-hot labels, committed, range-checked to bits) term 4 multiplies two
committed tables, and two more terms (challenges β4, β5) prove the labels well-formed:

5. every row of ``TY`` sums to ``[i < n]`` (``Σ_{i,j} eq(u_i, i)·TY[i,j] = [i < n]~(u_i)``): one label per real
   row, none on padded rows;
6. ``TY`` is zero on the padding columns (``Σ (1 − cm(j))·TY[i,j] = 0``),

so ``Σ TY⊙P`` is again the number of real rows whose predicted class is their label.

Claim 1 expands into tables the verifier knows: with ``eqcm(j) = eq(u_j, j)·cm(j)``, ``c = Σ_j eqcm(j)`` and the
exclusive prefix sums ``G(j) = Σ_{j' < j} eqcm(j')``,
``D~(ρ) = Σ_{i,j} eq(u_i,i)·(c·P·O − eqcm(j)·O − G(j)·P)[i,j]``.
"""

from __future__ import annotations

import numpy as np

from ...field import MODULUS as R
from ...field import Fr
from ...piop import sumcheck as sc
from ...piop.channel import ProverChannelProtocol, VerifierChannelProtocol
from ...piop.claims import Claim, ClaimRegistry
from ...piop.public_table import Combination, Dense, EqTable, LessThan, Ones, Outer, PublicTable, mles, tables
from ..eval_witness import EvalPublic, EvalWitness
from ..shapes import log2, split_point
from .limbs import prove_limb_claims, verify_limb_claims

# tables T0 = c·eq(u_i)⊗1, T1 = −eq(u_i)⊗eqcm, T2 = the combination of P's public weights, P, O
ARGMAX_RELATION = sc.Relation(5, ((1, (0, 3, 4)), (1, (1, 4)), (1, (2, 3))))


def _committed_relation(b3: int) -> sc.Relation:
    """Committed labels: T0, T1, T2 (without the labels), T3 = TY's public weights, P, O, TY; the count term
    ``β3·TY·P`` multiplies two committed tables."""
    return sc.Relation(7, ((1, (0, 4, 5)), (1, (1, 5)), (1, (2, 4)), (1, (3, 6)), (b3, (4, 6))))


def _point(ch, pub: EvalPublic):
    sh = pub.sh
    rho = ch.transcript.challenge_frs("eval/argmax/point", log2(sh.batch) + log2(sh.widths[-1]))
    return rho, *split_point(rho, sh.batch, sh.widths[-1])


def _betas(ch, pub: EvalPublic) -> list[int]:
    return ch.transcript.challenge_frs("eval/argmax/beta", 5 if pub.committed else 3)


def _publics(pub: EvalPublic, u_i, u_j, betas) -> list[PublicTable]:
    sh = pub.sh
    Np, Dp, C = sh.batch, sh.widths[-1], pub.st.widths[-1]
    kj = log2(Dp)
    cm = np.arange(Dp) < C
    e = Fr.eq_table(list(u_j)).to_ints() if kj else [1]
    eqcm = [v if m else 0 for v, m in zip(e, cm)]
    prefix, acc = [], 0
    for v in eqcm:
        prefix.append(acc)
        acc = (acc + v) % R
    c = acc  # Σ_j eq(u_j, j)·cm(j)
    b1, b2, b3 = betas[:3]
    pad_cols = Dense.of_ints([int(not m) for m in cm])
    weights_P: list[tuple[int, PublicTable]] = [
        (R - 1, Outer(EqTable(u_i), Dense.of_ints(prefix))),
        (b1, Outer(EqTable(u_i), Ones(kj))),
        (b2, Outer(Ones(log2(Np)), pad_cols)),
    ]
    if not pub.committed:
        weights_P.append((b3, Dense.of_ints(pub.labels_one_hot().reshape(-1).tolist())))
    out = [
        Outer(EqTable(u_i, scale=c), Ones(kj)),
        Outer(EqTable(u_i, scale=R - 1), Dense.of_ints(eqcm)),
        Combination(weights_P, log2(Np) + kj),
    ]
    if pub.committed:
        b4, b5 = betas[3:]
        out.append(
            Combination([(b4, Outer(EqTable(u_i), Ones(kj))), (b5, Outer(Ones(log2(Np)), pad_cols))], log2(Np) + kj)
        )
    return out


def _claim(pub: EvalPublic, d, betas, u_i):
    """D~(ρ) + β1·1 (row sums) + β2·0 (padding columns) + β3·correct (+ β4·[i < n]~(u_i) + β5·0: the labels)."""
    assert pub.est.correct is not None
    out = d + (betas[0] + betas[2] * pub.est.correct) % R
    if pub.committed:
        out = out + betas[3] * LessThan(pub.n_rows, pub.sh.batch).mle(u_i) % R
    return out


def _relation(pub: EvalPublic, betas) -> sc.Relation:
    return _committed_relation(betas[2]) if pub.committed else ARGMAX_RELATION


def prove(
    ch: ProverChannelProtocol, pub: EvalPublic, w: EvalWitness, reg: ClaimRegistry, virt: ClaimRegistry, layer=None
) -> None:
    rho, u_i, u_j = _point(ch, pub)
    (d,) = ch.values("eval/argmax/D", [w.fr("D").evaluate(rho)])
    prove_limb_claims(ch, pub, w, reg, "D", rho, d)  # type: ignore[arg-type]
    betas = _betas(ch, pub)
    publics = _publics(pub, u_i, u_j, betas)
    private = [w.fr("P"), w.fr("O")] + ([w.fr("TY")] if pub.committed else [])
    point, vals = ch.sumcheck(
        tables(publics) + private, _relation(pub, betas), _claim(pub, d, betas, u_i), n_public=len(publics)
    )
    finals = vals[len(publics) :]
    prove_limb_claims(ch, pub, w, reg, "P", point, finals[0])  # type: ignore[arg-type]
    _output_and_labels(pub, reg, virt, point, finals)


def _output_and_labels(pub: EvalPublic, reg: ClaimRegistry, virt: ClaimRegistry, point, finals) -> None:
    virt.add(Claim(f"Zp{pub.n_layers}", point, finals[1]))
    if pub.committed:
        reg.add(Claim("TY", point, finals[2]))


def verify(ch: VerifierChannelProtocol, pub: EvalPublic, reg: ClaimRegistry, virt: ClaimRegistry, layer=None) -> None:
    rho, u_i, u_j = _point(ch, pub)
    (d,) = ch.values("eval/argmax/D", 1)
    verify_limb_claims(ch, pub, reg, "D", rho, d)  # type: ignore[arg-type]
    betas = _betas(ch, pub)
    publics = _publics(pub, u_i, u_j, betas)
    point, vals = ch.sumcheck(
        len(rho),
        _relation(pub, betas),
        _claim(pub, d, betas, u_i),
        public=mles(publics),
        what="argmax and the count of correct predictions",
    )
    finals = vals[len(publics) :]
    verify_limb_claims(ch, pub, reg, "P", point, finals[0])  # type: ignore[arg-type]
    _output_and_labels(pub, reg, virt, point, finals)
