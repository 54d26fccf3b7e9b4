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
from ...piop.public_table import Combination, Dense, EqTable, Ones, Outer, PublicTable, mles, tables
from ..eval_witness import EvalPublic, EvalWitness
from ..shapes import log2, split_point
from .limbs import prove_limb_claims, verify_limb_claims

# tables T0 = c·eq(u_i)⊗1, T1 = −eq(u_i)⊗eqcm, T2 = the combination of P's public weights, P, O
ARGMAX_RELATION = sc.Relation(5, ((1, (0, 3, 4)), (1, (1, 4)), (1, (2, 3))))


def _point(ch, pub: EvalPublic):
    sh = pub.sh
    rho = ch.transcript.challenge_frs("eval/argmax/point", log2(sh.batch) + log2(sh.widths[-1]))
    return rho, *split_point(rho, sh.batch, sh.widths[-1])


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
    b1, b2, b3 = betas
    Y = pub.labels_one_hot()
    weights_P = Combination(
        [
            (R - 1, Outer(EqTable(u_i), Dense.of_ints(prefix))),
            (b1, Outer(EqTable(u_i), Ones(kj))),
            (b2, Outer(Ones(log2(Np)), Dense.of_ints([int(not m) for m in cm]))),
            (b3, Dense.of_ints(Y.reshape(-1).tolist())),
        ],
        log2(Np) + kj,
    )
    return [Outer(EqTable(u_i, scale=c), Ones(kj)), Outer(EqTable(u_i, scale=R - 1), Dense.of_ints(eqcm)), weights_P]


def _claim(pub: EvalPublic, d, betas):
    """D~(ρ) + β1·1 (row sums) + β2·0 (padding columns) + β3·correct."""
    assert pub.est.correct is not None
    return d + (betas[0] + betas[2] * pub.est.correct) % R


def prove(
    ch: ProverChannelProtocol, pub: EvalPublic, w: EvalWitness, reg: ClaimRegistry, virt: ClaimRegistry, layer=None
) -> None:
    rho, u_i, u_j = _point(ch, pub)
    (d,) = ch.values("eval/argmax/D", [w.fr("D").evaluate(rho)])
    prove_limb_claims(ch, pub, w, reg, "D", rho, d)  # type: ignore[arg-type]
    betas = ch.transcript.challenge_frs("eval/argmax/beta", 3)
    publics = _publics(pub, u_i, u_j, betas)
    point, vals = ch.sumcheck(
        tables(publics) + [w.fr("P"), w.fr("O")], ARGMAX_RELATION, _claim(pub, d, betas), n_public=3
    )
    prove_limb_claims(ch, pub, w, reg, "P", point, vals[3])  # type: ignore[arg-type]
    virt.add(Claim(f"Zp{pub.n_layers}", point, vals[4]))


def verify(ch: VerifierChannelProtocol, pub: EvalPublic, reg: ClaimRegistry, virt: ClaimRegistry, layer=None) -> None:
    rho, u_i, u_j = _point(ch, pub)
    (d,) = ch.values("eval/argmax/D", 1)
    verify_limb_claims(ch, pub, reg, "D", rho, d)  # type: ignore[arg-type]
    betas = ch.transcript.challenge_frs("eval/argmax/beta", 3)
    publics = _publics(pub, u_i, u_j, betas)
    point, vals = ch.sumcheck(
        len(rho),
        ARGMAX_RELATION,
        _claim(pub, d, betas),
        public=mles(publics),
        what="argmax and the count of correct predictions",
    )
    verify_limb_claims(ch, pub, reg, "P", point, vals[3])  # type: ignore[arg-type]
    virt.add(Claim(f"Zp{pub.n_layers}", point, vals[4]))
