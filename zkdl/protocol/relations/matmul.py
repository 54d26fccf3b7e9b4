"""The matmul-type relations of one layer, all steps at once.

For layer l with input activations ``A`` (``A0`` = the scheduled inputs), per-step weights ``W`` and output
gradient ``G_Z``, over the stacked step axis t (``docs/protocol.md`` §3):

* forward   ``Z[t,b,j] = Σ_k A[t,b,k]·W[t,k,j] + 2^F·[b < B]·b[t,j]``, with ``Z = 2^F·Z' + R_Z``;
* backward  (l ≥ 2) ``G_A[t,b,k] = Σ_j G_Z[t,b,j]·W[t,k,j] = 2^F·G'_A + R_GA`` (the previous layer's);
* weight gradient ``Σ_b A[t,b,k]·G_Z[t,b,j] = 2^(F+s)·ΔW + R_ΔW``;
* bias gradient ``Σ_b G_Z[t,b,j] = 2^s·Δb + R_Δb``.

Each is one sumcheck over (step, summed index) of ``eq(u_t, t)·P(t,k)·Q(t,k)`` after binding the other
indices at the claim point; the remainders and rescaled values are range-checked through their limbs.
"""

from __future__ import annotations

from collections.abc import Sequence

from ...field import Fr
from ...piop import sumcheck as sc
from ...piop.channel import ProverChannelProtocol, VerifierChannelProtocol
from ...piop.claims import Claim, ClaimRegistry
from ...piop.public_table import EqTable, LessThan, Ones, Outer
from ..shapes import log2, split_point
from ..witness import Public, Witness
from .limbs import prove_limb_claims, verify_limb_claims


def _step_eq(u_t: Sequence[int], K: int) -> Outer:
    """eq(u_t, t) over (t, k): the public factor of a per-step inner product Σ_{t,k} eq(u_t, t)·P(t,k)·Q(t,k)."""
    return Outer(EqTable(u_t), Ones(log2(K)))


def _stepwise_prove(ch: ProverChannelProtocol, u_t, tables: Sequence[Fr], K: int, claim):
    tabs = [_step_eq(u_t, K).table(), *tables]
    point, vals = ch.sumcheck(tabs, sc.Relation.product(len(tabs)), claim, n_public=1)
    return point, vals[1:]


def _stepwise_verify(ch: VerifierChannelProtocol, u_t, n_tables: int, K: int, claim, what: str):
    eq = _step_eq(u_t, K)
    point, vals = ch.sumcheck(eq.num_vars, sc.Relation.product(n_tables + 1), claim, public=[eq.mle], what=what)
    return point, vals[1:]


def prove(ch: ProverChannelProtocol, pub: Public, w: Witness, reg: ClaimRegistry, virt: ClaimRegistry, l: int) -> None:
    st, sh = pub.st, pub.sh
    F, s = st.params.frac_bits, st.params.lr_shift
    Tp, Bp, Din, Dout = sh.steps, sh.batch, sh.widths[l - 1], sh.widths[l]
    t = ch.transcript
    a_name = "A0" if l == 1 else f"A{l - 1}"
    A_in, Wl, GZ = w.fr(a_name), w.fr(f"W{l}"), w.fr(f"GZ{l}")
    bias = st.has_bias[l - 1]

    # forward: Z[t,b,j] = Σ_k A[t,b,k]·W[t,k,j] + 2^F·[b < B]·b^m[t,j]  with Z = 2^F·Z' + R_Z
    rho = t.challenge_frs(f"fwd{l}/point", log2(Tp) + log2(Bp) + log2(Dout))
    u_t, u_b, u_j = split_point(rho, Tp, Bp, Dout)
    vals = [w.fr(f"Zp{l}").evaluate(rho), w.fr(f"RZ{l}").evaluate(rho)]
    if bias:
        vals.append(w.fr(f"b{l}").evaluate(u_t + u_j))  # the step-masked bias [t < T]·b_t (see the history)
    vals = ch.values(f"fwd{l}/claims", vals)
    zp, rz = vals[0], vals[1]
    claim = (1 << F) * zp + rz
    if bias:
        claim = claim - (1 << F) * LessThan(st.batch_size, Bp).mle(u_b) * vals[2]
        virt.add(Claim(f"b{l}", u_t + u_j, vals[2]))
    virt.add(Claim(f"Zp{l}", rho, zp))
    prove_limb_claims(ch, pub, w, reg, f"RZ{l}", rho, rz)
    A_part = A_in.contract((Tp, Bp, Din), Fr.eq_table(u_b))
    W_part = Wl.contract((Tp * Din, Dout, 1), Fr.eq_table(u_j))
    pt, (a, wv) = _stepwise_prove(ch, u_t, [A_part, W_part], Din, claim)
    p_t, p_k = split_point(pt, Tp, Din)
    virt.add(Claim(a_name, p_t + u_b + p_k, a))
    virt.add(Claim(f"W{l}", p_t + p_k + u_j, wv))

    # backward (l ≥ 2): G_A[t,b,k] = Σ_j G_Z[t,b,j]·W[t,k,j] = 2^F·G'_A + R_GA
    if l >= 2:
        rho = t.challenge_frs(f"bwd{l}/point", log2(Tp) + log2(Bp) + log2(Din))
        u_t, u_b, u_k = split_point(rho, Tp, Bp, Din)
        ga, rga = ch.values(f"bwd{l}/claims", [w.fr(f"GA{l - 1}").evaluate(rho), w.fr(f"RGA{l - 1}").evaluate(rho)])
        prove_limb_claims(ch, pub, w, reg, f"GA{l - 1}", rho, ga)
        prove_limb_claims(ch, pub, w, reg, f"RGA{l - 1}", rho, rga)
        G_part = GZ.contract((Tp, Bp, Dout), Fr.eq_table(u_b))
        W_part = Wl.contract((Tp, Din, Dout), Fr.eq_table(u_k))
        pt, (g, wv) = _stepwise_prove(ch, u_t, [G_part, W_part], Dout, (1 << F) * ga + rga)
        p_t, p_j = split_point(pt, Tp, Dout)
        virt.add(Claim(f"GZ{l}", p_t + u_b + p_j, g))
        virt.add(Claim(f"W{l}", p_t + u_k + p_j, wv))

    # weight gradient: G_W[t,k,j] = Σ_b A[t,b,k]·G_Z[t,b,j] = 2^(F+s)·ΔW + R_ΔW
    rho = t.challenge_frs(f"wgrad{l}/point", log2(Tp) + log2(Din) + log2(Dout))
    u_t, u_k, u_j = split_point(rho, Tp, Din, Dout)
    dw, rdw = ch.values(f"wgrad{l}/claims", [w.fr(f"DW{l}").evaluate(rho), w.fr(f"RDW{l}").evaluate(rho)])
    prove_limb_claims(ch, pub, w, reg, f"DW{l}", rho, dw)
    prove_limb_claims(ch, pub, w, reg, f"RDW{l}", rho, rdw)
    A_part = A_in.contract((Tp * Bp, Din, 1), Fr.eq_table(u_k))
    G_part = GZ.contract((Tp * Bp, Dout, 1), Fr.eq_table(u_j))
    pt, (a, g) = _stepwise_prove(ch, u_t, [A_part, G_part], Bp, (1 << (F + s)) * dw + rdw)
    p_t, p_b = split_point(pt, Tp, Bp)
    virt.add(Claim(a_name, p_t + p_b + u_k, a))
    virt.add(Claim(f"GZ{l}", p_t + p_b + u_j, g))

    # bias gradient: G_b[t,j] = Σ_b G_Z[t,b,j] = 2^s·Δb + R_Δb
    if bias:
        rho = t.challenge_frs(f"bgrad{l}/point", log2(Tp) + log2(Dout))
        u_t, u_j = split_point(rho, Tp, Dout)
        db, rdb = ch.values(f"bgrad{l}/claims", [w.fr(f"DB{l}").evaluate(rho), w.fr(f"RDB{l}").evaluate(rho)])
        prove_limb_claims(ch, pub, w, reg, f"DB{l}", rho, db)
        prove_limb_claims(ch, pub, w, reg, f"RDB{l}", rho, rdb)
        G_part = GZ.contract((Tp * Bp, Dout, 1), Fr.eq_table(u_j))
        pt, (g,) = _stepwise_prove(ch, u_t, [G_part], Bp, (1 << s) * db + rdb)
        p_t, p_b = split_point(pt, Tp, Bp)
        virt.add(Claim(f"GZ{l}", p_t + p_b + u_j, g))


def verify(ch: VerifierChannelProtocol, pub: Public, reg: ClaimRegistry, virt: ClaimRegistry, l: int) -> None:
    st, sh = pub.st, pub.sh
    F, s = st.params.frac_bits, st.params.lr_shift
    Tp, Bp, Din, Dout = sh.steps, sh.batch, sh.widths[l - 1], sh.widths[l]
    t = ch.transcript
    a_name = "A0" if l == 1 else f"A{l - 1}"
    bias = st.has_bias[l - 1]

    rho = t.challenge_frs(f"fwd{l}/point", log2(Tp) + log2(Bp) + log2(Dout))
    u_t, u_b, u_j = split_point(rho, Tp, Bp, Dout)
    vals = ch.values(f"fwd{l}/claims", 3 if bias else 2)
    zp, rz = vals[0], vals[1]
    claim = (1 << F) * zp + rz
    if bias:
        claim = claim - (1 << F) * LessThan(st.batch_size, Bp).mle(u_b) * vals[2]
        virt.add(Claim(f"b{l}", u_t + u_j, vals[2]))
    virt.add(Claim(f"Zp{l}", rho, zp))
    verify_limb_claims(ch, pub, reg, f"RZ{l}", rho, rz)
    pt, (a, wv) = _stepwise_verify(ch, u_t, 2, Din, claim, f"forward matmul of layer {l}")
    p_t, p_k = split_point(pt, Tp, Din)
    virt.add(Claim(a_name, p_t + u_b + p_k, a))
    virt.add(Claim(f"W{l}", p_t + p_k + u_j, wv))

    if l >= 2:
        rho = t.challenge_frs(f"bwd{l}/point", log2(Tp) + log2(Bp) + log2(Din))
        u_t, u_b, u_k = split_point(rho, Tp, Bp, Din)
        ga, rga = ch.values(f"bwd{l}/claims", 2)
        verify_limb_claims(ch, pub, reg, f"GA{l - 1}", rho, ga)
        verify_limb_claims(ch, pub, reg, f"RGA{l - 1}", rho, rga)
        pt, (g, wv) = _stepwise_verify(ch, u_t, 2, Dout, (1 << F) * ga + rga, f"backward matmul of layer {l}")
        p_t, p_j = split_point(pt, Tp, Dout)
        virt.add(Claim(f"GZ{l}", p_t + u_b + p_j, g))
        virt.add(Claim(f"W{l}", p_t + u_k + p_j, wv))

    rho = t.challenge_frs(f"wgrad{l}/point", log2(Tp) + log2(Din) + log2(Dout))
    u_t, u_k, u_j = split_point(rho, Tp, Din, Dout)
    dw, rdw = ch.values(f"wgrad{l}/claims", 2)
    verify_limb_claims(ch, pub, reg, f"DW{l}", rho, dw)
    verify_limb_claims(ch, pub, reg, f"RDW{l}", rho, rdw)
    pt, (a, g) = _stepwise_verify(ch, u_t, 2, Bp, (1 << (F + s)) * dw + rdw, f"weight gradient of layer {l}")
    p_t, p_b = split_point(pt, Tp, Bp)
    virt.add(Claim(a_name, p_t + p_b + u_k, a))
    virt.add(Claim(f"GZ{l}", p_t + p_b + u_j, g))

    if bias:
        rho = t.challenge_frs(f"bgrad{l}/point", log2(Tp) + log2(Dout))
        u_t, u_j = split_point(rho, Tp, Dout)
        db, rdb = ch.values(f"bgrad{l}/claims", 2)
        verify_limb_claims(ch, pub, reg, f"DB{l}", rho, db)
        verify_limb_claims(ch, pub, reg, f"RDB{l}", rho, rdb)
        pt, (g,) = _stepwise_verify(ch, u_t, 1, Bp, (1 << s) * db + rdb, f"bias gradient of layer {l}")
        p_t, p_b = split_point(pt, Tp, Bp)
        virt.add(Claim(f"GZ{l}", p_t + p_b + u_j, g))
