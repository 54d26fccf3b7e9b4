"""The batch schedule: the scheduled batches are the dataset rows the public schedule names.

``A0[t,b,k] = X[row(t,b), k]`` and ``Y_sched[t,b,k] = Y[row(t,b), k]`` for the real steps and batch entries
(padding entries are zero). A claim ``A0~(u_t, u_b, u_k) = v`` is therefore
``Σ_{i,k} sel(i)·eq(u_k, k)·X[i,k] = v`` with the public selection ``sel[i] = Σ_{t,b: row(t,b)=i} eq((u_t,u_b),
(t,b))``; all claims on one scheduled tensor are batched into one sumcheck against the committed dataset.
"""

from __future__ import annotations

from collections.abc import Sequence

from ...field import MODULUS as R
from ...field import Fr
from ...piop import sumcheck as sc
from ...piop.channel import ProverChannelProtocol, VerifierChannelProtocol
from ...piop.claims import Claim, ClaimRegistry, batch_coefficients, combine
from ...piop.public_table import Combination, Dense, EqTable, Outer
from ..shapes import log2, split_point
from ..witness import Public, Witness


def _selection(pub: Public, pt_t: Sequence[int], pt_b: Sequence[int]) -> list[int]:
    """sel[i] = Σ_{t<T, b<B, row(t,b)=i} eq((pt_t, pt_b), (t, b)) over the padded dataset rows."""
    T, B = pub.st.steps, pub.st.batch_size
    e = Fr.eq_table(list(pt_t) + list(pt_b)).to_ints()
    Bp = pub.sh.batch
    sel = [0] * pub.sh.rows
    for t in range(T):
        for b in range(B):
            i = int(pub.rows[t, b])
            sel[i] = (sel[i] + e[t * Bp + b]) % R
    return sel


def _selection_table(pub: Public, claims: Sequence[Claim], alphas: Sequence[int], D: int) -> Combination:
    """P(i, k) = Σ_c α_c·sel_c(i)·eq(u_k of c, k)."""
    sh = pub.sh
    terms = []
    for a, c in zip(alphas, claims):
        pt_t, pt_b, pt_k = split_point(c.point, sh.steps, sh.batch, D)
        terms.append((a, Outer(Dense.of_ints(_selection(pub, pt_t, pt_b)), EqTable(pt_k))))
    return Combination(terms, log2(sh.rows) + log2(D))


def _scheduled(pub: Public, data_name: str) -> tuple[str, int]:
    """(the scheduled virtual tensor, the width of its rows) of a dataset tensor."""
    return ("A0", pub.sh.widths[0]) if data_name == "X" else ("Ysched", pub.sh.widths[-1])


def prove(
    ch: ProverChannelProtocol, pub: Public, w: Witness, reg: ClaimRegistry, virt: ClaimRegistry, data_name: str
) -> None:
    """Claims on the scheduled batches (A0 = X_t or Y_t stacked) become one claim on the dataset tensor."""
    virt_name, D = _scheduled(pub, data_name)
    claims = virt.pop(virt_name)
    if not claims:
        return
    alphas = batch_coefficients(ch.transcript, claims, f"sched/{data_name}")
    P = _selection_table(pub, claims, alphas, D)
    claim = combine(alphas, [c.value for c in claims])
    point, vals = ch.sumcheck([P.table(), w.fr(data_name)], sc.Relation.product(2), claim, n_public=1)
    reg.add(Claim(data_name, point, vals[1]))


def verify(ch: VerifierChannelProtocol, pub: Public, reg: ClaimRegistry, virt: ClaimRegistry, data_name: str) -> None:
    virt_name, D = _scheduled(pub, data_name)
    claims = virt.pop(virt_name)
    if not claims:
        return
    alphas = batch_coefficients(ch.transcript, claims, f"sched/{data_name}")
    P = _selection_table(pub, claims, alphas, D)
    claim = combine(alphas, [c.value for c in claims])
    point, vals = ch.sumcheck(
        P.num_vars, sc.Relation.product(2), claim, public=[P.mle], what=f"batch schedule of {data_name}"
    )
    reg.add(Claim(data_name, point, vals[1]))
