"""zkReLU of the hidden layers and the output layer.

Hidden layer l, with the committed sign bits ``S`` and magnitudes ``M`` (range-checked) and the rescaled
input-gradient ``G'_A`` of the next layer's backward pass:

    A = (1 − S)⊙M,     Z' = (1 − 2S)⊙M − S,     G_Z = (1 − S)⊙G'_A

(``S`` ∈ {0,1} and ``M`` ≥ 0 by their ranges, so ``A = ReLU(Z')`` and the backward pass masks by the same
sign). All claims on A, Z' and G_Z of the layer are batched with random coefficients into one sumcheck over
the six tables ``E_A, E_Z, E_G, S, M, G'_A`` (the E's are public eq combinations of the claims' points).

Output layer L: ``Z'_L = O`` (range-checked) and the MSE gradient ``G_Z_L = O − Y_sched``, range-checked as
``GO`` (the reference checks it).
"""

from __future__ import annotations

from ...field import MODULUS as R
from ...piop import sumcheck as sc
from ...piop.channel import ProverChannelProtocol, VerifierChannelProtocol
from ...piop.claims import Claim, ClaimRegistry, batch_coefficients, combine
from ...piop.public_table import EqCombination, mles, tables
from ..witness import Public, Witness
from .limbs import prove_limb_claims, verify_limb_claims

# tables E_A, E_Z, E_G, S, M, G'
RELU_RELATION = sc.Relation(
    6,
    (
        (1, (0, 4)),
        (R - 1, (0, 3, 4)),
        (1, (1, 4)),
        (R - 2, (1, 3, 4)),
        (R - 1, (1, 3)),
        (1, (2, 5)),
        (R - 1, (2, 3, 5)),
    ),
)


def _batched(ch, pub: Public, virt: ClaimRegistry, l: int):
    """The layer's claims on A, Z', G_Z, their coefficients and the public eq combination of each group."""
    groups = [virt.pop(f"A{l}"), virt.pop(f"Zp{l}"), virt.pop(f"GZ{l}")]
    flat = [c for g in groups for c in g]
    alphas = batch_coefficients(ch.transcript, flat, f"relu{l}")
    nv = pub.nv(pub.sh.act(l))
    publics, i = [], 0
    for g in groups:
        publics.append(EqCombination([c.point for c in g], alphas[i : i + len(g)], nv))
        i += len(g)
    return publics, combine(alphas, [c.value for c in flat]), nv


def prove(ch: ProverChannelProtocol, pub: Public, w: Witness, reg: ClaimRegistry, virt: ClaimRegistry, l: int) -> None:
    publics, claim, _ = _batched(ch, pub, virt, l)
    point, vals = ch.sumcheck(
        tables(publics) + [w.fr(f"S{l}"), w.fr(f"M{l}"), w.fr(f"GA{l}")], RELU_RELATION, claim, n_public=3
    )
    for name, v in zip((f"S{l}", f"M{l}", f"GA{l}"), vals[3:]):
        prove_limb_claims(ch, pub, w, reg, name, point, v)


def verify(ch: VerifierChannelProtocol, pub: Public, reg: ClaimRegistry, virt: ClaimRegistry, l: int) -> None:
    publics, claim, nv = _batched(ch, pub, virt, l)
    point, vals = ch.sumcheck(nv, RELU_RELATION, claim, public=mles(publics), what=f"ReLU of layer {l}")
    for name, v in zip((f"S{l}", f"M{l}", f"GA{l}"), vals[3:]):
        verify_limb_claims(ch, pub, reg, name, point, v)


def prove_output(
    ch: ProverChannelProtocol, pub: Public, w: Witness, reg: ClaimRegistry, virt: ClaimRegistry, layer=None
) -> None:
    """Z'_L = O; G_Z_L = O − Y_sched, range-checked as GO: claims on Z'_L and G_Z_L become claims on O, GO and
    Y_sched."""
    L = pub.n_layers
    for c in virt.pop(f"Zp{L}"):
        prove_limb_claims(ch, pub, w, reg, "O", c.point, c.value)
    for c in virt.pop(f"GZ{L}"):
        (y,) = ch.values("output/label", [w.fr("Ysched").evaluate(list(c.point))])
        virt.add(Claim("Ysched", c.point, y))
        prove_limb_claims(ch, pub, w, reg, "GO", c.point, c.value)
        prove_limb_claims(ch, pub, w, reg, "O", c.point, c.value + y)


def verify_output(
    ch: VerifierChannelProtocol, pub: Public, reg: ClaimRegistry, virt: ClaimRegistry, layer=None
) -> None:
    L = pub.n_layers
    for c in virt.pop(f"Zp{L}"):
        verify_limb_claims(ch, pub, reg, "O", c.point, c.value)
    for c in virt.pop(f"GZ{L}"):
        (y,) = ch.values("output/label", 1)
        virt.add(Claim("Ysched", c.point, y))
        verify_limb_claims(ch, pub, reg, "GO", c.point, c.value)
        verify_limb_claims(ch, pub, reg, "O", c.point, c.value + y)
