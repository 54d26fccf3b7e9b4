"""The forward pass of the committed final model on public inputs (evaluation and inference proofs).

The forward half of :mod:`.matmul` and :mod:`.relu` without the step axis: rows ``i`` of the (padded) inputs
are the batch axis, the weights are the training statement's final commitments ``WT.l``, ``bT.l``.

* forward matmul of layer l: ``Z[i,j] = Σ_k A[i,k]·W[k,j] + 2^F·[i < n]·b[j]`` with ``Z = 2^F·Z' + R_Z``: at a
  fresh point ``(u_i, u_j)`` the prover states ``Z'~`` (not for public outputs), ``R_Z~`` and ``b~(u_j)``, and one
  sumcheck over k of ``A(u_i, k)·W(k, u_j)`` reduces the claim to ``A_{l-1}`` (for l = 1 public inputs, which
  the verifier contracts itself, or the committed inputs ``TX``) and ``WT.l``;
* ReLU of hidden layer l: ``A = (1 − S)⊙M``, ``Z' = (1 − 2S)⊙M − S`` with ``S`` one bit and ``M`` range-checked
  (relu.py's relation without the backward part), all claims batched into one sumcheck;
* output: claims on ``Z'_L`` are claims on the range-checked output ``O`` (evaluation);
* the final weights and biases are range-checked at fresh points (``FW{l}``, ``FB{l}``) and proven zero outside
  their true shapes (``relations/padding.py``'s zero check);
* committed test data: the inputs ``TX`` and labels ``TY`` are range-checked at fresh points (``XC``, ``YC``).
"""

from __future__ import annotations

from ...field import MODULUS as R
from ...field import Fr
from ...piop import sumcheck as sc
from ...piop.channel import ProverChannelProtocol, VerifierChannelProtocol
from ...piop.claims import Claim, ClaimRegistry, batch_coefficients, combine
from ...piop.public_table import Dense, EqCombination, LessThan, mles, tables
from ..eval_witness import EvalPublic, EvalWitness
from ..shapes import log2, split_point
from .limbs import prove_limb_claims, verify_limb_claims
from .padding import padding_tables

# tables E_A, E_Z, S, M:  E_A·(1 − S)·M + E_Z·((1 − 2S)·M − S)
FORWARD_RELU_RELATION = sc.Relation(
    4,
    (
        (1, (0, 3)),
        (R - 1, (0, 2, 3)),
        (1, (1, 3)),
        (R - 2, (1, 2, 3)),
        (R - 1, (1, 2)),
    ),
)


def _public_output(pub: EvalPublic, l: int) -> bool:
    return l == pub.n_layers and pub.outputs is not None


def _public_inputs(pub: EvalPublic, u_i) -> Dense:
    """``X(u_i, k)`` over k: the public inputs with the row variables bound (both sides compute it in full)."""
    sh = pub.sh
    assert pub.X_fr is not None
    return Dense(pub.X_fr.contract((1, sh.batch, sh.widths[0]), Fr.eq_table(list(u_i))))


def _matmul_claim(pub: EvalPublic, l: int, rho, vals):
    """``2^F·Z'~(ρ) + R_Z~(ρ) − 2^F·[i < n]~(u_i)·b~(u_j)`` from the stated values (``Z'`` public for an inference's
    output layer). Returns the claim and the stated ``Z'`` (``None`` when public)."""
    sh, F = pub.sh, pub.st.params.frac_bits
    u_i, _ = split_point(rho, sh.batch, sh.widths[l])
    vals = list(vals)
    if _public_output(pub, l):
        assert pub.outputs is not None
        zp = None
        zp_val = Fr.from_int64(pub.outputs.reshape(-1)).evaluate(list(rho))
        claim = vals.pop(0) + (1 << F) * zp_val
    else:
        zp = vals.pop(0)
        claim = vals.pop(0) + (1 << F) * zp
    if pub.st.has_bias[l - 1]:
        claim = claim - (1 << F) * LessThan(pub.n_rows, sh.batch).mle(u_i) * vals.pop(0)
    return claim, zp


def prove_matmul(
    ch: ProverChannelProtocol, pub: EvalPublic, w: EvalWitness, reg: ClaimRegistry, virt: ClaimRegistry, l: int
) -> None:
    sh = pub.sh
    Np, Din, Dout = sh.batch, sh.widths[l - 1], sh.widths[l]
    rho = ch.transcript.challenge_frs(f"eval/fwd{l}/point", log2(Np) + log2(Dout))
    u_i, u_j = split_point(rho, Np, Dout)
    stated = [] if _public_output(pub, l) else [w.fr(f"Zp{l}").evaluate(rho)]
    stated.append(w.fr(f"RZ{l}").evaluate(rho))
    if pub.st.has_bias[l - 1]:
        stated.append(w.fr(f"bT.{l}").evaluate(u_j))
    vals = ch.values(f"eval/fwd{l}/claims", stated)
    claim, zp = _matmul_claim(pub, l, rho, vals)
    rz = vals[0] if zp is None else vals[1]
    if zp is not None:
        virt.add(Claim(f"Zp{l}", rho, zp))
    if pub.st.has_bias[l - 1]:
        reg.add(Claim(f"bT.{l}", u_j, vals[-1]))
    prove_limb_claims(ch, pub, w, reg, f"RZ{l}", rho, rz)  # type: ignore[arg-type]
    W_part = w.fr(f"WT.{l}").contract((Din, Dout, 1), Fr.eq_table(u_j))
    if l == 1 and not pub.committed:
        point, (_, wv) = ch.sumcheck(
            [_public_inputs(pub, u_i).table(), W_part], sc.Relation.product(2), claim, n_public=1
        )
    else:
        src = "TX" if l == 1 else f"A{l - 1}"
        A_part = w.fr(src).contract((1, Np, Din), Fr.eq_table(u_i))
        point, (a, wv) = ch.sumcheck([A_part, W_part], sc.Relation.product(2), claim)
        (reg if l == 1 else virt).add(Claim(src, u_i + point, a))
    reg.add(Claim(f"WT.{l}", point + u_j, wv))


def verify_matmul(
    ch: VerifierChannelProtocol, pub: EvalPublic, reg: ClaimRegistry, virt: ClaimRegistry, l: int
) -> None:
    sh = pub.sh
    Np, Din, Dout = sh.batch, sh.widths[l - 1], sh.widths[l]
    rho = ch.transcript.challenge_frs(f"eval/fwd{l}/point", log2(Np) + log2(Dout))
    u_i, u_j = split_point(rho, Np, Dout)
    n_vals = (0 if _public_output(pub, l) else 1) + 1 + (1 if pub.st.has_bias[l - 1] else 0)
    vals = ch.values(f"eval/fwd{l}/claims", n_vals)
    claim, zp = _matmul_claim(pub, l, rho, vals)
    rz = vals[0] if zp is None else vals[1]
    if zp is not None:
        virt.add(Claim(f"Zp{l}", rho, zp))
    if pub.st.has_bias[l - 1]:
        reg.add(Claim(f"bT.{l}", u_j, vals[-1]))
    verify_limb_claims(ch, pub, reg, f"RZ{l}", rho, rz)  # type: ignore[arg-type]
    what = f"forward matmul of layer {l}"
    if l == 1 and not pub.committed:
        point, (_, wv) = ch.sumcheck(
            log2(Din), sc.Relation.product(2), claim, public=[_public_inputs(pub, u_i).mle], what=what
        )
    else:
        point, (a, wv) = ch.sumcheck(log2(Din), sc.Relation.product(2), claim, what=what)
        (reg if l == 1 else virt).add(Claim("TX" if l == 1 else f"A{l - 1}", u_i + point, a))
    reg.add(Claim(f"WT.{l}", point + u_j, wv))


def _relu_batched(ch, pub: EvalPublic, virt: ClaimRegistry, l: int):
    groups = [virt.pop(f"A{l}"), virt.pop(f"Zp{l}")]
    flat = [c for g in groups for c in g]
    alphas = batch_coefficients(ch.transcript, flat, f"eval/relu{l}")
    nv = log2(pub.sh.batch) + log2(pub.sh.widths[l])
    publics, i = [], 0
    for g in groups:
        publics.append(EqCombination([c.point for c in g], alphas[i : i + len(g)], nv))
        i += len(g)
    return publics, combine(alphas, [c.value for c in flat]), nv


def prove_relu(
    ch: ProverChannelProtocol, pub: EvalPublic, w: EvalWitness, reg: ClaimRegistry, virt: ClaimRegistry, l: int
) -> None:
    publics, claim, _ = _relu_batched(ch, pub, virt, l)
    point, vals = ch.sumcheck(
        tables(publics) + [w.fr(f"S{l}"), w.fr(f"M{l}")], FORWARD_RELU_RELATION, claim, n_public=2
    )
    for name, v in zip((f"S{l}", f"M{l}"), vals[2:]):
        prove_limb_claims(ch, pub, w, reg, name, point, v)  # type: ignore[arg-type]


def verify_relu(ch: VerifierChannelProtocol, pub: EvalPublic, reg: ClaimRegistry, virt: ClaimRegistry, l: int) -> None:
    publics, claim, nv = _relu_batched(ch, pub, virt, l)
    point, vals = ch.sumcheck(nv, FORWARD_RELU_RELATION, claim, public=mles(publics), what=f"ReLU of layer {l}")
    for name, v in zip((f"S{l}", f"M{l}"), vals[2:]):
        verify_limb_claims(ch, pub, reg, name, point, v)  # type: ignore[arg-type]


def prove_output(
    ch: ProverChannelProtocol, pub: EvalPublic, w: EvalWitness, reg: ClaimRegistry, virt: ClaimRegistry, layer=None
) -> None:
    """Claims on ``Z'_L`` are claims on the range-checked output ``O``."""
    for c in virt.pop(f"Zp{pub.n_layers}"):
        prove_limb_claims(ch, pub, w, reg, "O", c.point, c.value)  # type: ignore[arg-type]


def verify_output(
    ch: VerifierChannelProtocol, pub: EvalPublic, reg: ClaimRegistry, virt: ClaimRegistry, layer=None
) -> None:
    for c in virt.pop(f"Zp{pub.n_layers}"):
        verify_limb_claims(ch, pub, reg, "O", c.point, c.value)  # type: ignore[arg-type]


def _weights(pub: EvalPublic) -> list[tuple[str, str, int]]:
    out = []
    sh = pub.sh
    for l in range(1, pub.n_layers + 1):
        out.append((f"WT.{l}", f"FW{l}", log2(sh.widths[l - 1]) + log2(sh.widths[l])))
        if pub.st.has_bias[l - 1]:
            out.append((f"bT.{l}", f"FB{l}", log2(sh.widths[l])))
    return out


def _test_data(pub: EvalPublic) -> list[tuple[str, str, int]]:
    sh = pub.sh
    nb = log2(sh.batch)
    return [("TX", "XC", nb + log2(sh.widths[0])), ("TY", "YC", nb + log2(sh.widths[-1]))]


def _prove_ranges(ch, pub: EvalPublic, w: EvalWitness, reg: ClaimRegistry, items) -> None:
    for tensor, limbed, nv in items:
        rho = ch.transcript.challenge_frs(f"eval/inrange/{limbed}", nv)
        (v,) = ch.values(f"eval/inrange/{limbed}", [w.fr(tensor).evaluate(rho)])
        reg.add(Claim(tensor, rho, v))
        prove_limb_claims(ch, pub, w, reg, limbed, rho, v)  # type: ignore[arg-type]


def _verify_ranges(ch, pub: EvalPublic, reg: ClaimRegistry, items) -> None:
    for tensor, limbed, nv in items:
        rho = ch.transcript.challenge_frs(f"eval/inrange/{limbed}", nv)
        (v,) = ch.values(f"eval/inrange/{limbed}", 1)
        reg.add(Claim(tensor, rho, v))
        verify_limb_claims(ch, pub, reg, limbed, rho, v)  # type: ignore[arg-type]


def prove_weight_ranges(
    ch: ProverChannelProtocol, pub: EvalPublic, w: EvalWitness, reg: ClaimRegistry, virt: ClaimRegistry, layer=None
) -> None:
    _prove_ranges(ch, pub, w, reg, _weights(pub))


def verify_weight_ranges(
    ch: VerifierChannelProtocol, pub: EvalPublic, reg: ClaimRegistry, virt: ClaimRegistry, layer=None
) -> None:
    _verify_ranges(ch, pub, reg, _weights(pub))


def prove_data_ranges(
    ch: ProverChannelProtocol, pub: EvalPublic, w: EvalWitness, reg: ClaimRegistry, virt: ClaimRegistry, layer=None
) -> None:
    """Committed test data: the inputs are in the declared input range, the labels bits (one-hot: their row sums
    and padding columns are proven by the argmax stage) or the targets in the declared label range."""
    _prove_ranges(ch, pub, w, reg, _test_data(pub))


def verify_data_ranges(
    ch: VerifierChannelProtocol, pub: EvalPublic, reg: ClaimRegistry, virt: ClaimRegistry, layer=None
) -> None:
    _verify_ranges(ch, pub, reg, _test_data(pub))


def _padded_weights(pub: EvalPublic) -> list[tuple[str, tuple[int, ...], tuple[int, ...]]]:
    """The final weights and biases whose zero padding is proven: (name, padded shape, true shape)."""
    sh, st = pub.sh, pub.st
    out: list[tuple[str, tuple[int, ...], tuple[int, ...]]] = []
    for l in range(1, pub.n_layers + 1):
        out.append((f"WT.{l}", (sh.widths[l - 1], sh.widths[l]), (st.widths[l - 1], st.widths[l])))
        if st.has_bias[l - 1]:
            out.append((f"bT.{l}", (sh.widths[l],), (st.widths[l],)))
    return [o for o in out if o[1] != o[2]]


def prove_weight_padding(
    ch: ProverChannelProtocol, pub: EvalPublic, w: EvalWitness, reg: ClaimRegistry, virt: ClaimRegistry, layer=None
) -> None:
    """The final weights are zero outside their true shapes (``relations/padding.py``'s zero check), so the proof
    is of the model of the statement's widths on its own, without leaning on the training proof for it."""
    for name, padded, true in _padded_weights(pub):
        rho = ch.transcript.challenge_frs(f"eval/pad/{name}", sum(log2(d) for d in padded))
        point, vals = ch.sumcheck(
            tables(padding_tables(rho, padded, true)) + [w.fr(name)], sc.Relation.product(3), 0, n_public=2
        )
        reg.add(Claim(name, point, vals[2]))


def verify_weight_padding(
    ch: VerifierChannelProtocol, pub: EvalPublic, reg: ClaimRegistry, virt: ClaimRegistry, layer=None
) -> None:
    for name, padded, true in _padded_weights(pub):
        nv = sum(log2(d) for d in padded)
        rho = ch.transcript.challenge_frs(f"eval/pad/{name}", nv)
        point, vals = ch.sumcheck(
            nv,
            sc.Relation.product(3),
            0,
            public=mles(padding_tables(rho, padded, true)),
            what=f"zero padding of {name}",
        )
        reg.add(Claim(name, point, vals[2]))
