"""The output stage: the loss gradient ``G_Z_L``. MSE (the default) or softmax cross-entropy (statement ``loss: "ce"``).

MSE: ``relu.prove_output`` (``G_Z_L = O − Y_sched``, unchanged, so MSE proofs are byte-identical to those made
before this module existed).

Cross-entropy: ``G_Z_L = P − Y_sched`` with ``P`` the integer softmax of ``O``
(:class:`~zkdl.quant.fixedpoint.SoftmaxParams`, ``docs/quantization.md``). Range-checked tensors (limbs in the range
tensor, ``shapes.softmax_specs``), all steps stacked (``T' × B' × C'``; the row tensors ``T' × B'``): ``U`` (table
index), ``R`` (dropped bits), ``SEL`` (one-hot maximum), ``E`` (exponential), ``P``, ``Q`` (division remainder),
``K`` (its slack), ``m`` (row maximum), ``Σ`` (row sum). With the public masks ``μ = [t < T][b < B][j < C]`` and
``ρ = [t < T][b < B]``, ``r = F − e`` and the public exponential table ``T_exp``, the stage proves

1. one batched zero-check over all entries (random ``τ`` and coefficients), for every ``(t, b, j)``::

       μ·(m − O − 2^r·U − R) = 0          D = m − O ≥ 0 is 2^r·U + R
       SEL·(2^r·U + R) = 0                 the selected entry is a maximum (D = 0 there)
       (1 − μ)·SEL = 0                     no selection in the padding
       μ·(2^F·E − P·Σ − Q) = 0             the division ...
       μ·(Σ − 1 − Q − K) = 0               ... with remainder Q < Σ
       (1 − μ)·P = 0                       no probability in the padding (G_Z_L must vanish there)

2. the row sums (random ``τ'`` over ``(t, b)``): ``Σ_j SEL_tbj = ρ_tb`` and ``Σ_tb = Σ_{j < C} E_tbj``;
3. the lookup ``(U, E) ∈ {(u, T_exp[u])}`` for every entry (padding holds ``(0, T_exp[0])``): LogUp
   ``Σ_i 1/(α − U_i − β·E_i) = Σ_u m_u/(α − u − β·T_exp[u])`` with the multiplicities ``m`` committed in the proof
   (``mexp``), both fractional sums proven by the GKR layer sumchecks of the range check;
4. ``G_Z_L = P − Y_sched`` (claims on G_Z_L become claims on ``P`` and ``Y_sched``) and ``Z'_L = O``; ``G_Z_L``
   stays range-checked as ``GO``.

Why these relations imply the integer step: ``docs/soundness.md`` ("Softmax cross-entropy").
"""

from __future__ import annotations

from contextlib import contextmanager

import numpy as np

from ...errors import VerificationError
from ...field import MODULUS as R
from ...field import Fr
from ...gadgets import range_check as _rc
from ...gadgets.range_check import fraction_layers
from ...piop import sumcheck as sc
from ...piop.channel import ProverChannelProtocol, VerifierChannelProtocol
from ...piop.claims import Claim, ClaimRegistry
from ...piop.public_table import Dense, EqTable, LessThan, Ones, Outer, PublicTable, mles, tables
from ...quant.fixedpoint import SoftmaxParams
from ..shapes import log2
from ..witness import Public, Witness
from . import relu
from .limbs import prove_limb_claims, verify_limb_claims

#: The committed multiplicities of the exponential table (only in cross-entropy proofs).
MULTIPLICITIES = "mexp"


def softmax_params(pub: Public) -> SoftmaxParams:
    return SoftmaxParams(pub.st.params.frac_bits, pub.st.widths[-1])


def committed_log_sizes(st) -> dict[str, int]:
    """The tables a cross-entropy proof commits besides the range back-end's: the exponential table's
    multiplicities (none for MSE)."""
    if st.loss != "ce":
        return {}
    return {MULTIPLICITIES: SoftmaxParams(st.params.frac_bits, st.widths[-1]).table_bits}


def multiplicities(pub: Public, U: np.ndarray) -> np.ndarray:
    """How often each table index occurs among all entries of ``U`` (indices outside the table are not counted)."""
    size = 1 << softmax_params(pub).table_bits
    u = np.asarray(U).reshape(-1)
    u = u[(u >= 0) & (u < size)]
    return np.bincount(u, minlength=size).astype(np.int64)


# =========================================================================================================
# public tables
# =========================================================================================================
def _blocks(pub: Public) -> tuple[list[int], list[int]]:
    """Padded and true sizes of the axes (t, b, j)."""
    sh, st = pub.sh, pub.st
    return [sh.steps, sh.batch, sh.widths[-1]], [st.steps, st.batch_size, st.widths[-1]]


def _eq_masked(point, padded, true) -> PublicTable:
    """``eq(point, x)·Π_axes [x_axis < n_axis]``: an outer product of one small dense table per axis."""
    out: PublicTable | None = None
    i = 0
    for P, n in zip(padded, true):
        k = log2(P)
        block = Dense(Fr.eq_table(list(point[i : i + k])) * LessThan(n, P).table())
        out = block if out is None else Outer(out, block)
        i += k
    assert out is not None
    return out


def _zero_publics(pub: Public, tau) -> list[PublicTable]:
    padded, true = _blocks(pub)
    return [EqTable(tau), _eq_masked(tau, padded, true)]


def _row_publics(pub: Public, tau_rows) -> list[PublicTable]:
    padded, true = _blocks(pub)
    C, Cp = true[2], padded[2]
    return [Outer(EqTable(tau_rows), Ones(log2(Cp))), Outer(EqTable(tau_rows), LessThan(C, Cp))]


def _row_mask(pub: Public) -> PublicTable:
    padded, true = _blocks(pub)
    return Outer(LessThan(true[0], padded[0]), LessThan(true[1], padded[1]))


# tables: 0 EQ, 1 EQM (eq·μ), 2 m (broadcast), 3 O, 4 U, 5 R, 6 SEL, 7 E, 8 P, 9 Σ (broadcast), 10 Q, 11 K
_PRIVATE = ("SMMAX", "O", "SMU", "SMR", "SMSEL", "SME", "SMP", "SMSUM", "SMQ", "SMK")


def _zero_relation(c: list[int], r_shift: int, F: int) -> sc.Relation:
    c1, c2, c3, c4, c5, c6 = c
    two_r, two_F = 1 << r_shift, 1 << F
    return sc.Relation(
        12,
        (
            (c1, (1, 2)),
            (-c1, (1, 3)),
            (-c1 * two_r, (1, 4)),
            (-c1, (1, 5)),
            (c2 * two_r, (0, 6, 4)),
            (c2, (0, 6, 5)),
            (c3, (0, 6)),
            (-c3, (1, 6)),
            (c4 * two_F, (1, 7)),
            (-c4, (1, 8, 9)),
            (-c4, (1, 10)),
            (c5, (1, 9)),
            (-c5, (1,)),
            (-c5, (1, 10)),
            (-c5, (1, 11)),
            (c6, (0, 8)),
            (-c6, (1, 8)),
        ),
    )


# tables: 0 eq(τ', tb), 1 eq(τ', tb)·[j < C], 2 SEL, 3 E
def _row_relation(a: int, b: int) -> sc.Relation:
    return sc.Relation(4, ((a, (0, 2)), (b, (1, 3))))


def _broadcast(w: Witness, name: str, classes_padded: int) -> Fr:
    return Fr.from_int64(np.repeat(w.ints[name].reshape(-1), classes_padded))


def _nv(pub: Public) -> tuple[int, int]:
    """Variables of an entry tensor (t, b, j) and of a row tensor (t, b)."""
    sh = pub.sh
    rows = log2(sh.steps) + log2(sh.batch)
    return rows + log2(sh.widths[-1]), rows


def _limb_claims_after_zero_check(limb_claim, point, vals, rows: int) -> None:
    """The private tables' values at the zero-check's point become claims on their limbs (the broadcast row
    tensors at the point's row variables)."""
    for name, v in zip(_PRIVATE, vals[2:]):
        limb_claim(name, point[:rows] if name in ("SMMAX", "SMSUM") else point, v)


# =========================================================================================================
# the stage
# =========================================================================================================
def prove_output(
    ch: ProverChannelProtocol, pub: Public, w: Witness, reg: ClaimRegistry, virt: ClaimRegistry, layer=None
) -> None:
    if pub.st.loss != "ce":
        relu.prove_output(ch, pub, w, reg, virt, layer)
        return
    L = pub.n_layers
    sp = softmax_params(pub)
    nv, rows = _nv(pub)
    Cp = pub.sh.widths[-1]

    def limb_claim(name, point, value):
        prove_limb_claims(ch, pub, w, reg, name, point, value)

    # 4. Z'_L = O;  G_Z_L = P − Y_sched (and G_Z_L range-checked as GO)
    for c in virt.pop(f"Zp{L}"):
        limb_claim("O", c.point, c.value)
    for c in virt.pop(f"GZ{L}"):
        (y,) = ch.values("output/label", [w.fr("Ysched").evaluate(list(c.point))])
        virt.add(Claim("Ysched", c.point, y))
        limb_claim("GO", c.point, c.value)
        limb_claim("SMP", c.point, c.value + y)

    # 1. the batched zero-check
    t = ch.transcript
    tau = t.challenge_frs("softmax/tau", nv)
    coeffs = t.challenge_frs("softmax/coefficients", 6)
    private = [_broadcast(w, "SMMAX", Cp), w.fr("O")] + [w.fr(n) for n in _PRIVATE[2:7]]
    private += [_broadcast(w, "SMSUM", Cp), w.fr("SMQ"), w.fr("SMK")]
    point, vals = ch.sumcheck(
        tables(_zero_publics(pub, tau)) + private,
        _zero_relation(coeffs, sp.shift, sp.frac_bits),
        0,
        n_public=2,
    )
    _limb_claims_after_zero_check(limb_claim, point, vals, rows)

    # 2. row sums: Σ_j SEL = ρ and Σ = Σ_{j<C} E
    tau_rows = t.challenge_frs("softmax/tau-rows", rows)
    a, b = t.challenge_frs("softmax/row-coefficients", 2)
    (s,) = ch.values("softmax/sum", [w.fr("SMSUM").evaluate(tau_rows)])
    limb_claim("SMSUM", tau_rows, s)
    claim = a * _row_mask(pub).mle(tau_rows) + b * s
    point2, vals2 = ch.sumcheck(
        tables(_row_publics(pub, tau_rows)) + [w.fr("SMSEL"), w.fr("SME")], _row_relation(a, b), claim, n_public=2
    )
    limb_claim("SMSEL", point2, vals2[2])
    limb_claim("SME", point2, vals2[3])

    # 3. the exponential lookup
    U, E = w.ints["SMU"].reshape(-1), w.ints["SME"].reshape(-1)
    alpha = t.challenge_fr("softmax/lookup-alpha")
    beta = t.challenge_fr("softmax/lookup-beta")
    q_val = alpha - Fr.from_int64(E).axpy(beta, Fr.from_int64(U))  # α − U − β·E
    u_tab, e_tab = _table_fr(sp)
    q_tab = alpha - e_tab.axpy(beta, u_tab)
    p_tab = -Fr.from_int64(w.ints[MULTIPLICITIES])
    h = 1 << (nv - 1)
    vq_lo, vq_hi = q_val[:h], q_val[h:]
    val_layers = fraction_layers(vq_lo + vq_hi, vq_lo * vq_hi)
    tab_layers = fraction_layers(p_tab, q_tab)
    layer1 = ch.values(
        "softmax/lookup-layer1",
        [x for lay in (val_layers, tab_layers) for x in (lay[1][0][0], lay[1][0][1], lay[1][1][0], lay[1][1][1])],
    )
    _roots_check(ch, layer1)
    rho_v, (_, q_v) = _rc._gkr_tree(ch, layer1[:4], nv - 1, True, layers=val_layers, leaf_halves=(vq_lo, vq_hi))
    rho_t, (p_t, q_t) = _rc._gkr_tree(ch, layer1[4:], sp.table_bits - 1, False, layers=tab_layers)
    (u_v,) = ch.values("softmax/lookup-index", [w.fr("SMU").evaluate(list(rho_v))])
    _lookup_leaves(ch, pub, reg, limb_claim, alpha, beta, rho_v, q_v, u_v, rho_t, p_t, q_t)


def verify_output(
    ch: VerifierChannelProtocol, pub: Public, reg: ClaimRegistry, virt: ClaimRegistry, layer=None
) -> None:
    if pub.st.loss != "ce":
        relu.verify_output(ch, pub, reg, virt, layer)
        return
    L = pub.n_layers
    sp = softmax_params(pub)
    nv, rows = _nv(pub)

    def limb_claim(name, point, value):
        verify_limb_claims(ch, pub, reg, name, point, value)

    for c in virt.pop(f"Zp{L}"):
        limb_claim("O", c.point, c.value)
    for c in virt.pop(f"GZ{L}"):
        (y,) = ch.values("output/label", 1)
        virt.add(Claim("Ysched", c.point, y))
        limb_claim("GO", c.point, c.value)
        limb_claim("SMP", c.point, c.value + y)

    t = ch.transcript
    tau = t.challenge_frs("softmax/tau", nv)
    coeffs = t.challenge_frs("softmax/coefficients", 6)
    what = "softmax relations (maximum, table index, division with remainder)"
    with _named(what):
        point, vals = ch.sumcheck(
            nv, _zero_relation(coeffs, sp.shift, sp.frac_bits), 0, public=mles(_zero_publics(pub, tau)), what=what
        )
    _limb_claims_after_zero_check(limb_claim, point, vals, rows)

    tau_rows = t.challenge_frs("softmax/tau-rows", rows)
    a, b = t.challenge_frs("softmax/row-coefficients", 2)
    (s,) = ch.values("softmax/sum", 1)
    limb_claim("SMSUM", tau_rows, s)
    claim = a * _row_mask(pub).mle(tau_rows) + b * s
    what = "softmax row sums (one selected maximum per row, Σ = Σ_j E)"
    with _named(what):
        point2, vals2 = ch.sumcheck(nv, _row_relation(a, b), claim, public=mles(_row_publics(pub, tau_rows)), what=what)
    limb_claim("SMSEL", point2, vals2[2])
    limb_claim("SME", point2, vals2[3])

    alpha = t.challenge_fr("softmax/lookup-alpha")
    beta = t.challenge_fr("softmax/lookup-beta")
    layer1 = ch.values("softmax/lookup-layer1", 8)
    _roots_check(ch, layer1)
    with _named("softmax exponential lookup (layer sumchecks)"):
        rho_v, (_, q_v) = _rc._gkr_tree(ch, layer1[:4], nv - 1, True)
        rho_t, (p_t, q_t) = _rc._gkr_tree(ch, layer1[4:], sp.table_bits - 1, False)
    (u_v,) = ch.values("softmax/lookup-index", 1)
    _lookup_leaves(ch, pub, reg, limb_claim, alpha, beta, rho_v, q_v, u_v, rho_t, p_t, q_t)


@contextmanager
def _named(what: str):
    """Name the relation in a sumcheck's rejection (its rounds report only the round that failed)."""
    try:
        yield
    except VerificationError as exc:
        if str(exc).startswith(what):
            raise
        raise VerificationError(f"{what}: {exc}") from exc


# =========================================================================================================
# the exponential lookup
# =========================================================================================================
_TABLE_CACHE: dict[tuple[int, int, int], tuple[Fr, Fr]] = {}


def _table_fr(sp: SoftmaxParams) -> tuple[Fr, Fr]:
    """The table's two columns ``u`` and ``T_exp[u]`` as field vectors."""
    key = (sp.frac_bits, sp.arg_frac_bits, sp.table_bits)
    if key not in _TABLE_CACHE:
        u = np.arange(1 << sp.table_bits, dtype=np.int64)
        _TABLE_CACHE[key] = (Fr.from_int64(u), Fr.from_int64(sp.table()))
    return _TABLE_CACHE[key]


def table_mle(sp: SoftmaxParams, point, beta: int) -> int:
    """The MLE of the public table column ``u + β·T_exp[u]`` at ``point`` (the verifier computes it: O(2^k))."""
    u_fr, e_fr = _table_fr(sp)
    return (u_fr.evaluate(list(point)) + beta * e_fr.evaluate(list(point))) % R


def _roots_check(ch, layer1) -> None:
    """The two fractional sums cancel: ``P_v/Q_v + P_t/Q_t = 0`` with ``Q_v, Q_t ≠ 0``."""
    roots = []
    for base in (0, 4):
        p_lo, p_hi, q_lo, q_hi = layer1[base : base + 4]
        roots.append((ch.mul(p_lo, q_hi) + ch.mul(p_hi, q_lo), ch.mul(q_lo, q_hi)))
    (P_v, Q_v), (P_t, Q_t) = roots
    ch.nonzero(Q_v, "softmax exponential lookup: zero denominator at the value tree's root")
    ch.nonzero(Q_t, "softmax exponential lookup: zero denominator at the table tree's root")
    ch.zero(
        ch.mul(P_v, Q_t) + ch.mul(P_t, Q_v),
        "softmax exponential lookup: the fractional sum is not zero (an exponential is not the table's value "
        "at its index, or the multiplicities are wrong)",
    )


def _lookup_leaves(ch, pub, reg, limb_claim, alpha, beta, rho_v, q_v, u_v, rho_t, p_t, q_t) -> None:
    """Leaf relations: ``q_v = α − U~(ρ_v) − β·E~(ρ_v)`` (the prover states ``U~(ρ_v)``, ``E~(ρ_v)`` follows);
    ``q_t`` must be the public table's ``α − (u + β·T_exp[u])~(ρ_t)``; ``p_t = −m~(ρ_t)`` is the claim on the
    committed multiplicities."""
    sp = softmax_params(pub)
    ch.zero(
        q_t - (alpha - table_mle(sp, rho_t, beta)),
        "softmax exponential lookup: the table tree's leaves are not the public exponential table",
    )
    e_v = (alpha - q_v - u_v) * pow(beta, -1, R)
    if isinstance(e_v, int):
        e_v %= R
    limb_claim("SMU", tuple(rho_v), u_v)
    limb_claim("SME", tuple(rho_v), e_v)
    reg.add(Claim(MULTIPLICITIES, tuple(rho_t), -p_t))
