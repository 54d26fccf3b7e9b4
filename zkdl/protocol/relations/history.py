"""The update history: per-step weights from the initial weights and the updates, down to the final weights.

The per-step weights are never committed. ``W_t = W_0 − Σ_{t'<t} ΔW_{t'}`` (padded steps t ≥ T repeat
``W_T``), and the final tensor ``W_T = W_0 − Σ_{t<T} ΔW_t`` is the statement's ``WT``. A claim
``W~(u_t, p) = v`` on the stacked per-step weights becomes ``Σ_{t'} c[t']·ΔW~(t', p) = [t<T']~(u_t)·W_0~(p) − v``
with the public prefix mask ``c[t'] = Σ_{t' < t < limit} eq(u_t, t)``; the final weights add
``Σ_{t'<T} ΔW~(t', ρ) = W_0~(ρ) − W_T~(ρ)`` at a fresh point ρ. All are batched into one sumcheck per layer
against the range-checked ΔW. Biases work the same way, with the step-masked ``[t < T]·b_t`` (padded steps
add no bias).
"""

from __future__ import annotations

from collections.abc import Sequence

from ...field import MODULUS as R
from ...field import Fr
from ...piop import sumcheck as sc
from ...piop.channel import ProverChannelProtocol, VerifierChannelProtocol
from ...piop.claims import Claim, ClaimRegistry, combine
from ...piop.public_table import Combination, Dense, EqTable, LessThan, Outer
from ..shapes import log2
from ..witness import Public, Witness
from .limbs import prove_limb_claims, verify_limb_claims


def _prefix_mask(pt: Sequence[int], T: int, limit: int) -> list[int]:
    """c[t'] = Σ_{t' < t < limit} eq(pt, t) over T = 2^len(pt) steps: the weight of ΔW_{t'} in the MLE at pt of
    the step-stacked [t < limit]·W_t, W_t = W_0 − Σ_{t'<t} ΔW_{t'}."""
    e = Fr.eq_table(list(pt)).to_ints() if len(pt) else [1]
    out, acc = [0] * T, 0
    for tp in range(T - 1, -1, -1):
        out[tp] = acc
        if tp < limit:
            acc = (acc + e[tp]) % R
    return out


def _setup(pub: Public, l: int, kind: str):
    sh = pub.sh
    inner = sh.weight(l)[1:] if kind == "W" else sh.bias(l)[1:]
    limit = sh.steps if kind == "W" else pub.st.steps
    return inner, sum(log2(d) for d in inner), f"D{kind.upper()}{l}", limit, log2(sh.steps)


def _claims(pub: Public, reg: ClaimRegistry, l, kind, claims, rho, w0_vals, wT, tau, limit):
    """Register the claims on W0 and WT; return the sums Σ_{t'} c[t']·ΔW(t', p) = [t<limit]~(p_t)·W0(p) − W_t(p)."""
    reg.add(Claim(f"{kind}T.{l}", rho, wT))
    for c, v in zip(claims, w0_vals):
        reg.add(Claim(f"{kind}0.{l}", c.point[tau:], v))
    reg.add(Claim(f"{kind}0.{l}", rho, w0_vals[-1]))
    sums = [LessThan(limit, pub.sh.steps).mle(c.point[:tau]) * v - c.value for c, v in zip(claims, w0_vals)]
    return sums + [w0_vals[-1] - wT]


def _masks(pub: Public, claims, rho, alphas, tau, nv_in, limit) -> Combination:
    """P(t', p) = Σ_c α_c·c_c[t']·eq(p_c, p) + α_last·[t' < T]·eq(ρ, p)."""
    sh = pub.sh
    terms = [
        (a, Outer(Dense.of_ints(_prefix_mask(c.point[:tau], sh.steps, limit)), EqTable(c.point[tau:])))
        for a, c in zip(alphas, claims)
    ]
    terms.append((alphas[-1], Outer(LessThan(pub.st.steps, sh.steps), EqTable(rho))))
    return Combination(terms, tau + nv_in)


def _prove_kind(
    ch: ProverChannelProtocol, pub: Public, w: Witness, reg: ClaimRegistry, virt: ClaimRegistry, l: int, kind: str
) -> None:
    inner, nv_in, delta, limit, tau = _setup(pub, l, kind)
    claims = virt.pop(f"{kind}{l}")
    t = ch.transcript
    rho = t.challenge_frs(f"hist/{kind}{l}/final", nv_in)
    W0, WT = w.fr(f"{kind}0.{l}"), w.fr(f"{kind}T.{l}")
    w0_vals = ch.values(
        f"hist/{kind}{l}/initial", [W0.evaluate(list(c.point[tau:])) for c in claims] + [W0.evaluate(rho)]
    )
    (wT,) = ch.values(f"hist/{kind}{l}/finalvalue", [WT.evaluate(rho)])
    sums = _claims(pub, reg, l, kind, claims, rho, w0_vals, wT, tau, limit)
    alphas = t.challenge_frs(f"hist/{kind}{l}/alpha", len(sums))
    P = _masks(pub, claims, rho, alphas, tau, nv_in, limit)
    point, vals = ch.sumcheck([P.table(), w.fr(delta)], sc.Relation.product(2), combine(alphas, sums), n_public=1)
    prove_limb_claims(ch, pub, w, reg, delta, point, vals[1])


def _verify_kind(
    ch: VerifierChannelProtocol, pub: Public, reg: ClaimRegistry, virt: ClaimRegistry, l: int, kind: str
) -> None:
    inner, nv_in, delta, limit, tau = _setup(pub, l, kind)
    claims = virt.pop(f"{kind}{l}")
    t = ch.transcript
    rho = t.challenge_frs(f"hist/{kind}{l}/final", nv_in)
    w0_vals = ch.values(f"hist/{kind}{l}/initial", len(claims) + 1)
    (wT,) = ch.values(f"hist/{kind}{l}/finalvalue", 1)
    sums = _claims(pub, reg, l, kind, claims, rho, w0_vals, wT, tau, limit)
    alphas = t.challenge_frs(f"hist/{kind}{l}/alpha", len(sums))
    P = _masks(pub, claims, rho, alphas, tau, nv_in, limit)
    point, vals = ch.sumcheck(
        P.num_vars, sc.Relation.product(2), combine(alphas, sums), public=[P.mle], what=f"update history of layer {l}"
    )
    verify_limb_claims(ch, pub, reg, delta, point, vals[1])


def prove(ch: ProverChannelProtocol, pub: Public, w: Witness, reg: ClaimRegistry, virt: ClaimRegistry, l: int) -> None:
    """The weights of layer l, then its bias (if it has one)."""
    _prove_kind(ch, pub, w, reg, virt, l, "W")
    if pub.st.has_bias[l - 1]:
        _prove_kind(ch, pub, w, reg, virt, l, "b")


def verify(ch: VerifierChannelProtocol, pub: Public, reg: ClaimRegistry, virt: ClaimRegistry, l: int) -> None:
    _verify_kind(ch, pub, reg, virt, l, "W")
    if pub.st.has_bias[l - 1]:
        _verify_kind(ch, pub, reg, virt, l, "b")
