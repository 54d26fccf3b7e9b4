"""Range-checked tensors and their limbs in the range tensors L0, L1, ….

A range-checked tensor ``x`` is stored in the range tensors as limbs of at most 16 bits:
``x = Σ_i 2^(16 i)·limb_i − offset`` (``shapes.LimbSpec``). A claim ``x~(p) = v`` becomes claims
``limb_i~(p) = v_i`` on the limbs' segments: the prover states every limb's value but the top one, which both
sides derive from ``v`` and the lower limbs (so a claim costs one message fewer than it has limbs). Each limb is
a segment of one range tensor (``RangeLayouts.point_for``: the tensor and the point on it).

The committed inputs and outputs of training are range-checked the same way: the whole dataset (``XS``, ``YS``
on ``X``, ``Y``), and per layer the initial (``IW``, ``IB``) and final (``FW``, ``FB``) weights and biases. At a
fresh point each tensor's value is stated once, as a claim on the committed tensor and as a claim on its limbs.
The weights and biases of the steps in between are not range-checked: the update history bounds them by
``2^weight_bits + T·2^update_bits`` (``docs/soundness.md`` §2), which is all the no-wrap argument needs.
"""

from __future__ import annotations

from ...field import MODULUS as R
from ...gadgets.range_check import as_layouts
from ...piop.channel import ProverChannelProtocol, VerifierChannelProtocol
from ...piop.claims import Claim, ClaimRegistry
from ..shapes import LimbSpec
from ..witness import Public, Witness


def limbs_to_range_tensor(pub: Public, reg: ClaimRegistry, name: str, point, limb_values) -> None:
    lays = as_layouts(pub.layout)  # a single layout (the evaluation proofs) is the one range tensor "L"
    for seg, v in zip(pub.specs[name].segment_names(), limb_values):
        tensor, at = lays.point_for(seg, point)
        reg.add(Claim(tensor, at, v))


def top_limb(sp: LimbSpec, value, lower):
    """value = Σ_i 2^(16i)·limb_i − offset  ⇒  the top limb, from the value and the lower limbs."""
    k = len(sp.limb_bits) - 1
    acc = value + sp.offset
    for i, v in enumerate(lower):
        acc = acc - (1 << (16 * i)) * v
    return acc * pow(1 << (16 * k), -1, R)


def prove_limb_claims(
    ch: ProverChannelProtocol, pub: Public, w: Witness, reg: ClaimRegistry, name: str, point, value
) -> None:
    sp = pub.specs[name]
    lower = []
    if len(sp.limb_bits) > 1:
        segs = sp.segment_names()[:-1]
        lower = ch.values(f"limbs/{name}", [w.segment_fr(seg).evaluate(list(point)) for seg in segs])
    limbs_to_range_tensor(pub, reg, name, point, [*lower, top_limb(sp, value, lower)])


def verify_limb_claims(ch: VerifierChannelProtocol, pub: Public, reg: ClaimRegistry, name: str, point, value) -> None:
    sp = pub.specs[name]
    lower = ch.values(f"limbs/{name}", len(sp.limb_bits) - 1) if len(sp.limb_bits) > 1 else []
    limbs_to_range_tensor(pub, reg, name, point, [*lower, top_limb(sp, value, lower)])


def _inputs(pub: Public) -> list[tuple[str, str, tuple[int, ...]]]:
    """(committed tensor, limbed name, shape) for every tensor range-checked by equality with limbs: the dataset
    ``X``, ``Y`` (all rows, as ``train_quantized`` checks), and per layer the initial and final weights and
    biases."""
    sh = pub.sh
    out: list[tuple[str, str, tuple[int, ...]]] = [
        ("X", "XS", (sh.rows, sh.widths[0])),
        ("Y", "YS", (sh.rows, sh.widths[-1])),
    ]
    for l in range(1, pub.n_layers + 1):
        out.append((f"W0.{l}", f"IW{l}", sh.weight(l)[1:]))
        out.append((f"WT.{l}", f"FW{l}", sh.weight(l)[1:]))
        if pub.st.has_bias[l - 1]:
            out.append((f"b0.{l}", f"IB{l}", sh.bias(l)[1:]))
            out.append((f"bT.{l}", f"FB{l}", sh.bias(l)[1:]))
    return out


def prove_input_ranges(
    ch: ProverChannelProtocol, pub: Public, w: Witness, reg: ClaimRegistry, virt: ClaimRegistry, layer=None
) -> None:
    for tensor, limbed, shape in _inputs(pub):
        rho = ch.transcript.challenge_frs(f"inrange/{limbed}", pub.nv(shape))
        (v,) = ch.values(f"inrange/{limbed}", [w.fr(tensor).evaluate(rho)])
        reg.add(Claim(tensor, rho, v))
        prove_limb_claims(ch, pub, w, reg, limbed, rho, v)


def verify_input_ranges(
    ch: VerifierChannelProtocol, pub: Public, reg: ClaimRegistry, virt: ClaimRegistry, layer=None
) -> None:
    for tensor, limbed, shape in _inputs(pub):
        rho = ch.transcript.challenge_frs(f"inrange/{limbed}", pub.nv(shape))
        (v,) = ch.values(f"inrange/{limbed}", 1)
        reg.add(Claim(tensor, rho, v))
        verify_limb_claims(ch, pub, reg, limbed, rho, v)
