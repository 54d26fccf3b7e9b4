"""Zero padding of the statement's tensors.

Every tensor is padded to powers of two. The relations treat padded entries as data, so the statement's
committed tensors must be zero outside their true shapes: for each, at a fresh point ρ,

    Σ_x eq(ρ, x)·pad(x)·T(x) = 0,     pad(x) = 1 − Π_axes [x_axis < n_axis],

which (Schwartz–Zippel over ρ) holds only if ``pad ⊙ T`` is zero. Rows of the dataset beyond n are never
scheduled, so only its columns are checked.
"""

from __future__ import annotations

from ...field import MODULUS as R
from ...piop import sumcheck as sc
from ...piop.channel import ProverChannelProtocol, VerifierChannelProtocol
from ...piop.claims import Claim, ClaimRegistry
from ...piop.public_table import Combination, EqTable, LessThan, Ones, Outer, PublicTable, mles, tables
from ..shapes import log2
from ..witness import Public, Witness


def _padded_tensors(pub: Public) -> list[tuple[str, tuple[int, ...], tuple[int, ...]]]:
    """Statement tensors whose zero padding must be proven: (name, padded shape, true shape)."""
    sh, st = pub.sh, pub.st
    out: list[tuple[str, tuple[int, ...], tuple[int, ...]]] = [
        ("X", (sh.rows, sh.widths[0]), (sh.rows, st.widths[0])),
        ("Y", (sh.rows, sh.widths[-1]), (sh.rows, st.widths[-1])),
    ]
    for l in range(1, pub.n_layers + 1):
        out.append((f"W0.{l}", sh.weight(l)[1:], (st.widths[l - 1], st.widths[l])))
        if st.has_bias[l - 1]:
            out.append((f"b0.{l}", sh.bias(l)[1:], (st.widths[l],)))
    return [o for o in out if o[1] != o[2]]


def _pad_indicator(padded, true) -> PublicTable:
    """1 − Π_axes [x_axis < n_axis]: one outside the true shape, zero inside."""
    inside: PublicTable = LessThan(true[0], padded[0])
    for P, n in zip(padded[1:], true[1:]):
        inside = Outer(inside, LessThan(n, P))
    return Combination([(1, Ones(inside.num_vars)), (R - 1, inside)], inside.num_vars)


def padding_tables(rho, padded, true) -> list[PublicTable]:
    """The public factors of a zero-padding check at ``rho``: ``eq(rho, ·)`` and the padding indicator (also
    used by the evaluation proofs' check of the final weights' padding)."""
    return [EqTable(rho), _pad_indicator(padded, true)]


def prove(
    ch: ProverChannelProtocol, pub: Public, w: Witness, reg: ClaimRegistry, virt: ClaimRegistry, layer=None
) -> None:
    for name, padded, true in _padded_tensors(pub):
        rho = ch.transcript.challenge_frs(f"pad/{name}", sum(log2(d) for d in padded))
        point, vals = ch.sumcheck(
            tables(padding_tables(rho, padded, true)) + [w.fr(name)], sc.Relation.product(3), 0, n_public=2
        )
        reg.add(Claim(name, point, vals[2]))


def verify(ch: VerifierChannelProtocol, pub: Public, reg: ClaimRegistry, virt: ClaimRegistry, layer=None) -> None:
    for name, padded, true in _padded_tensors(pub):
        nv = sum(log2(d) for d in padded)
        rho = ch.transcript.challenge_frs(f"pad/{name}", nv)
        point, vals = ch.sumcheck(
            nv,
            sc.Relation.product(3),
            0,
            public=mles(padding_tables(rho, padded, true)),
            what=f"zero padding of {name}",
        )
        reg.add(Claim(name, point, vals[2]))
