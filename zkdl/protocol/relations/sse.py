"""The sum of squared errors of a regression evaluation.

Over the (padded) rows i and output columns j, with ``mask(i, j) = [i < n]·[j < d_L]``, the output ``O``
(range-checked, signed ``act_bits``) and the targets ``Y`` (fixed point, scale 2^F), one sumcheck proves

    Σ_{i,j} mask·(O − Y)² = sse,

the public output of the evaluation statement (scale 2^(2F)). With public targets the verifier knows ``Y``:
``Σ mask·O² + Σ (−2·mask⊙Y)·O = sse − Σ mask·Y²`` (two terms over the public tables ``mask`` and ``−2·mask⊙Y``).
With committed targets (``TY``, range-checked to the declared label range) the three terms
``mask·O² − 2·mask·O·TY + mask·TY²`` are summed and the claim on ``TY`` is opened against its commitment.

Every entry is an integer far below the modulus: ``|O|, |Y| < 2^62`` (every declared range fits ±2^62), so each
square is below 2^126 and the sum over fewer than 2^64 entries below 2^190 < r: the field equality is the integer
one (``docs/soundness.md``).
"""

from __future__ import annotations

import numpy as np

from ...field import MODULUS as R
from ...field import Fr
from ...piop import sumcheck as sc
from ...piop.channel import ProverChannelProtocol, VerifierChannelProtocol
from ...piop.claims import Claim, ClaimRegistry
from ...piop.public_table import Dense, LessThan, Outer, PublicTable, mles, tables
from ..eval_witness import EvalPublic, EvalWitness
from ..shapes import log2

# public targets: tables mask, −2·mask⊙Y, O
PUBLIC_TARGETS_RELATION = sc.Relation(3, ((1, (0, 2, 2)), (1, (1, 2))))
# committed targets: tables mask, O, TY
COMMITTED_TARGETS_RELATION = sc.Relation(3, ((1, (0, 1, 1)), (R - 2, (0, 1, 2)), (1, (0, 2, 2))))


def _mask(pub: EvalPublic) -> PublicTable:
    sh = pub.sh
    cols = Dense.of_ints([int(j < pub.st.widths[-1]) for j in range(sh.widths[-1])])
    return Outer(LessThan(pub.n_rows, sh.batch), cols)


def _publics(pub: EvalPublic) -> list[PublicTable]:
    if pub.committed:
        return [_mask(pub)]
    Y = pub.targets()
    return [_mask(pub), Dense(Fr.from_int64((-2 * Y).reshape(-1)))]


def _claim(pub: EvalPublic) -> int:
    sse = pub.est.sse
    assert sse is not None
    if pub.committed:
        return sse % R
    assert pub.labels is not None
    y2 = int(sum(int(v) * int(v) for v in pub.labels.reshape(-1)))  # Σ mask·Y² (the real entries), exactly
    return (sse - y2) % R


def _relation(pub: EvalPublic) -> sc.Relation:
    return COMMITTED_TARGETS_RELATION if pub.committed else PUBLIC_TARGETS_RELATION


def _nv(pub: EvalPublic) -> int:
    return log2(pub.sh.batch) + log2(pub.sh.widths[-1])


def _claims(pub: EvalPublic, reg: ClaimRegistry, virt: ClaimRegistry, point, finals) -> None:
    """finals: the committed tables' values at the sumcheck's point: O, then TY when committed."""
    virt.add(Claim(f"Zp{pub.n_layers}", point, finals[0]))
    if pub.committed:
        reg.add(Claim("TY", point, finals[1]))


def prove(
    ch: ProverChannelProtocol, pub: EvalPublic, w: EvalWitness, reg: ClaimRegistry, virt: ClaimRegistry, layer=None
) -> None:
    publics = _publics(pub)
    private = [w.fr("O")] + ([w.fr("TY")] if pub.committed else [])
    point, vals = ch.sumcheck(tables(publics) + private, _relation(pub), _claim(pub), n_public=len(publics))
    _claims(pub, reg, virt, point, vals[len(publics) :])


def verify(ch: VerifierChannelProtocol, pub: EvalPublic, reg: ClaimRegistry, virt: ClaimRegistry, layer=None) -> None:
    publics = _publics(pub)
    point, vals = ch.sumcheck(
        _nv(pub), _relation(pub), _claim(pub), public=mles(publics), what="the sum of squared errors"
    )
    _claims(pub, reg, virt, point, vals[len(publics) :])


def sse_int(O: np.ndarray, Y: np.ndarray) -> int:
    """The reference: Σ (O − Y)² over the real entries, as a Python integer (no int64 overflow)."""
    d = np.asarray(O, dtype=object) - np.asarray(Y, dtype=object)
    return int((d * d).sum())
