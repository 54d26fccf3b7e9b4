"""The inner-product argument of the zero-knowledge proofs of dot product (log-size response).

A Hyrax proof of dot product for ``<x, a> = v`` (``x`` inside a commitment ``C``, ``v`` inside ``Y``) ends with
the masked response ``z = c·x + d``; instead of sending ``z`` the prover proves knowledge of it for
``P_0 = c·C + δ − z_δ·h + w·ξ·g_v = Σ z_i·g_i + <z, a>·ξ·g_v`` by the Bulletproofs reduction in the folding
form of Attema–Cramer (``zkdl.commit.evaluation`` has the full description). Two users: the openings of
committed tables (``zkdl.commit.evaluation``, ``C`` the row fold of a Hyrax commitment) and the batched proof of
dot product of the zero-knowledge sumchecks' masks (``zkdl.commit.sigma``, ``C`` a random combination of the
masks' vector commitments). Both use the labels ``hyrax-eval-zk/z-blinds``, ``/z-dot-a``, ``/xi``, ``/LR``,
``/x``, ``/z-final`` of this sub-protocol.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from py_arkworks_bls12381 import G1Point, Scalar

from zkdl.field import MODULUS, Fr
from zkdl.serialize import Reader, Writer
from zkdl.transcript import Transcript

from .batch import MsmBatch
from .generators import PublicParams
from .ipa_fold import FoldHelper, HelperFailed, fold_helper, fold_points, release
from .pedersen import commit_value, msm, msms, random_scalar, scalars_from_ints, scalars_from_le_bytes

CHALLENGE_BITS = 128  #: bits of each folding challenge x_j of the inner-product argument


@dataclass(frozen=True)
class InnerProductProof:
    """The log-size response of a ZK opening: ``w = <z, a_vec>`` and the inner-product argument for
    ``P = Σ z_i·g_i + w·ξ·g_v``: one pair ``(L_j, R_j)`` per column variable and the folded scalar ``z*``."""

    z_dot_a: int
    left: tuple[G1Point, ...]
    right: tuple[G1Point, ...]
    z_final: int

    def write(self, w: Writer) -> None:
        w.write_fr(self.z_dot_a)
        for lj, rj in zip(self.left, self.right, strict=True):
            w.write_g1(lj)
            w.write_g1(rj)
        w.write_fr(self.z_final)

    @classmethod
    def read(cls, r: Reader, rounds: int) -> InnerProductProof:
        z_dot_a = r.read_fr()
        left, right = [], []
        for _ in range(rounds):
            left.append(r.read_g1(allow_identity=True))
            right.append(r.read_g1(allow_identity=True))
        return cls(z_dot_a, tuple(left), tuple(right), r.read_fr())


MaskedDot = tuple[G1Point, G1Point, int, int, InnerProductProof]  #: (δ, β, z_δ, z_β, inner-product argument)


def write_masked_dot(
    w: Writer, delta: G1Point, beta: G1Point, z_delta: int, z_beta: int, ipa: InnerProductProof
) -> None:
    """The wire form of a proof of dot product with the log-size response (:func:`prove_masked_dot`), shared by
    the ZK openings and the batched mask proofs: ``δ ‖ β ‖ z_δ ‖ z_β ‖`` the inner-product argument."""
    w.write_g1(delta)
    w.write_g1(beta)
    w.write_fr(z_delta)
    w.write_fr(z_beta)
    ipa.write(w)


def read_masked_dot(r: Reader, rounds: int) -> MaskedDot:
    """Read what :func:`write_masked_dot` wrote (an inner-product argument of ``rounds`` rounds)."""
    delta = r.read_g1(allow_identity=True)
    beta = r.read_g1(allow_identity=True)
    z_delta, z_beta = r.read_fr(), r.read_fr()
    return delta, beta, z_delta, z_beta, InnerProductProof.read(r, rounds)


def _absorb_responses(transcript: Transcript, z_delta: int, z_beta: int, z_dot_a: int) -> int:
    """Absorb ``z_δ, z_β, w``; draw ``ξ`` (the weight of ``g_v`` in the inner-product statement)."""
    transcript.absorb_frs("hyrax-eval-zk/z-blinds", [z_delta, z_beta])
    transcript.absorb_fr("hyrax-eval-zk/z-dot-a", z_dot_a)
    return transcript.challenge_nonzero_fr("hyrax-eval-zk/xi")  # ξ = 0 would untie w from <z, a>


def _fold_challenge(transcript: Transcript, left: G1Point, right: G1Point) -> int:
    """Absorb one round's ``(L_j, R_j)``; draw ``x_j`` in ``[0, 2^128)`` (the low 128 bits of a field challenge:
    a 128-bit scalar halves the prover's generator fold, see the module docstring), drawn again while it is 0
    (probability 2^-128 each: x_j = 0 would drop P_0 from the final check)."""
    transcript.absorb_g1s("hyrax-eval-zk/LR", [left, right])
    while True:
        x = transcript.challenge_fr("hyrax-eval-zk/x") & ((1 << CHALLENGE_BITS) - 1)
        if x:
            return x


def fold_coefficients(xs: Sequence[int]) -> Fr:
    """``s`` with ``g* = Σ_i s_i·g_i`` after folding ``g' = x_j·g_lo + g_hi`` for each ``x_j`` in order:
    ``s_i = Π_j (x_j if bit j of i is 0 else 1)``, bit 0 the most significant (one vector op per round)."""
    s = Fr.from_ints([1])
    for x in reversed(xs):
        s = Fr.concat([s * x, s])
    return s


def prove_masked_response(
    params: PublicParams, transcript: Transcript, z: Fr, a_vec: Fr, z_delta: int, z_beta: int
) -> InnerProductProof:
    """The log-size response: absorb ``z_δ, z_β`` and ``w = <z, a_vec>``, draw ``ξ``, then run the inner-product
    argument for ``P = Σ z_i·g_i + <z, a_vec>·ξ·g_v`` (module docstring). ``z`` is the masked response of the
    proof of dot product; the simulator of :mod:`zkdl.protocol.simulator` calls this too, with its own ``z``."""
    w = z.inner(a_vec)
    xi = _absorb_responses(transcript, z_delta, z_beta, w)
    left, right, z_final = inner_product_rounds(params, transcript, z, a_vec, xi)
    return InnerProductProof(w, left, right, z_final)


def inner_product_rounds(
    params: PublicParams, transcript: Transcript, z: Fr, a_vec: Fr, xi: int
) -> tuple[tuple[G1Point, ...], tuple[G1Point, ...], int]:
    """The rounds of the inner-product argument for ``Σ z_i·g_i + <z, a_vec>·ξ·g_v``: ``(L, R, z*)``. Each round
    halves ``z``, ``a`` and the generators: ``z' = z_lo + x·z_hi``, ``a' = x·a_lo + a_hi``, ``g' = x·g_lo + g_hi``
    (two MSMs for ``L_j, R_j`` and one 128-bit scalar multiplication per folded generator). With a helper process
    (:mod:`zkdl.commit.ipa_fold`) the odd-indexed generators are folded, and their shares of ``L_j, R_j``
    computed, there, side by side with the prover's even half: the same points, so the same proof."""
    helper = fold_helper(len(z))
    if helper is None:
        return _rounds(params, transcript, z, a_vec, xi, None)[:3]
    try:
        out = _rounds(params, transcript, z, a_vec, xi, helper)
    except BaseException:
        release(helper, failed=True)
        raise
    release(helper, failed=out[3])
    return out[:3]


def _rounds(params: PublicParams, transcript: Transcript, z: Fr, a_vec: Fr, xi: int, helper: FoldHelper | None):
    """:func:`inner_product_rounds`; returns ``(L, R, z*, helper failed)``."""
    n = len(z)
    failed = False
    xs: list[Scalar] = []  # the fold challenges so far (to replay the helper's half if it fails)
    if helper is not None:
        try:
            helper.begin(params, n)
            gens: list[G1Point] = params.gens(n)[0::2]  # ours: the even half
        except HelperFailed:
            helper, failed, gens = None, True, params.gens(n)
    else:
        gens = params.gens(n)
    left: list[G1Point] = []
    right: list[G1Point] = []
    a = a_vec
    while len(z) > 1:
        half = len(z) // 2
        z_lo, z_hi, a_lo, a_hi = z[:half], z[half:], a[:half], a[half:]
        v_left = scalars_from_ints([xi * z_lo.inner(a_hi)])
        v_right = scalars_from_ints([xi * z_hi.inner(a_lo)])
        if helper is not None:
            try:
                if half < 2:  # two generators left: the helper's one comes back, the prover goes on alone
                    gens = [gens[0], *helper.points()]
                    helper = None
                else:
                    odd = Fr(z.limbs[1::2].copy(), z.backend)
                    helper.send_msm(odd.to_le_bytes())
                    ze = fr_scalars(Fr(z.limbs[0::2].copy(), z.backend))
                    h = half // 2
                    lj, rj = (
                        msm(gens[h:] + [params.g_v], ze[:h] + v_left, workers=1),
                        msm(gens[:h] + [params.g_v], ze[h:] + v_right, workers=1),
                    )
                    lo, ro = helper.read_msm()
                    lj, rj = lj + lo, rj + ro
            except HelperFailed:
                failed = True
                gens = _interleave(gens, fold_points(params.gens(n)[1::2], xs))
                helper = None
        if helper is None:
            g_lo, g_hi = gens[:half], gens[half:]
            lj, rj = msms(
                [(g_hi + [params.g_v], fr_scalars(z_lo) + v_left), (g_lo + [params.g_v], fr_scalars(z_hi) + v_right)]
            )
        left.append(lj)
        right.append(rj)
        x = _fold_challenge(transcript, lj, rj)
        z = z_hi.axpy(x, z_lo)  # z_lo + x·z_hi
        a = a_lo.axpy(x, a_hi)  # x·a_lo + a_hi
        if half > 1:  # the last fold of the generators is the verifier's (g* = Σ s_i·g_i)
            xs.append(scalars_from_ints([x])[0])
            if helper is not None:
                try:
                    helper.fold(int(x).to_bytes(32, "little"))
                except HelperFailed:
                    failed, helper = True, None
                    gens = _interleave(gens, fold_points(params.gens(n)[1::2], xs[:-1]))
            gens = fold_points(gens, xs[-1:])
    z_final = z[0]
    transcript.absorb_fr("hyrax-eval-zk/z-final", z_final)
    return tuple(left), tuple(right), z_final, failed


def _interleave(even: list[G1Point], odd: list[G1Point]) -> list[G1Point]:
    out = [even[0]] * (2 * len(even))
    out[0::2], out[1::2] = even, odd
    return out


def fr_scalars(v: Fr) -> list:
    return scalars_from_le_bytes(v.to_le_bytes())


def random_vector(n: int, rng: Any) -> Fr:
    """``n`` uniform field elements: OS CSPRNG, a numpy generator, or a ``random.Random`` (tests)."""
    if rng is None:
        return Fr.random(n)
    if hasattr(rng, "bytes"):
        return Fr.random(n, rng)
    return Fr.from_ints([random_scalar(rng) for _ in range(n)])


def prove_masked_dot(
    params: PublicParams,
    transcript: Transcript,
    x: Fr,
    a_vec: Fr,
    x_blind: int,
    y_blind: int,
    first_challenge: Callable[[G1Point, G1Point], int],
    rng: Any = None,
) -> tuple[G1Point, G1Point, int, int, InnerProductProof]:
    """Hyrax's proof of dot product ``<x, a_vec> = v`` for ``x`` inside ``Σ x_i·g_i + x_blind·h`` and ``v`` inside
    ``v·g_v + y_blind·h``, with the log-size response: ``δ``, ``β``, ``z_δ``, ``z_β`` and the inner-product
    argument. ``first_challenge(δ, β)`` absorbs the caller's statement and first message and draws ``c``."""
    n = len(x)
    d = random_vector(n, rng)
    r_delta, r_beta = random_scalar(rng), random_scalar(rng)
    delta = msm(params.gens(n) + [params.h], fr_scalars(d) + scalars_from_ints([r_delta]))
    beta = commit_value(params, d.inner(a_vec), r_beta)
    c = first_challenge(delta, beta)
    z = x.axpy(c, d)  # c·x + d
    z_delta, z_beta = (c * x_blind + r_delta) % MODULUS, (c * y_blind + r_beta) % MODULUS
    return delta, beta, z_delta, z_beta, prove_masked_response(params, transcript, z, a_vec, z_delta, z_beta)


def verify_masked_response(
    params: PublicParams,
    transcript: Transcript,
    ipa: InnerProductProof,
    a_vec: Fr,
    batch: MsmBatch,
    *,
    c: int,
    delta: G1Point,
    beta: G1Point,
    z_delta: int,
    z_beta: int,
    value_points: Sequence[G1Point],
    value_coeffs: Sequence[int],
    com_points: Sequence[G1Point] = (),
    com_coeffs: Sequence[int] = (),
    rows: Sequence[G1Point] = (),
    row_coeffs: Fr | None = None,
    ipa_what: str,
    value_what: str,
) -> None:
    """The verifier's side of :func:`prove_masked_response` for ``C = Σ com_coeffs·com_points + Σ row_coeffs·rows``
    and ``Y = Σ value_coeffs·value_points``: absorbs the responses and rounds (drawing ``ξ`` and the ``x_j``) and
    adds the two group equations to ``batch`` (the inner-product check, with ``ipa_what``, and
    ``c·Y + β = w·g_v + z_β·h``, with ``value_what``)."""
    xi = _absorb_responses(transcript, z_delta, z_beta, ipa.z_dot_a)
    xs = [_fold_challenge(transcript, lj, rj) for lj, rj in zip(ipa.left, ipa.right)]
    transcript.absorb_fr("hyrax-eval-zk/z-final", ipa.z_final)
    # After the rounds, P_b = X·P_0 + Σ_j X_j·(L_j + x_j²·R_j) with X_j = Π_{l>j} x_l, X = Π_l x_l, and
    # P_0 = c·C + δ − z_δ·h + w·ξ·g_v. Accept iff P_b = z*·(Σ s_i g_i) + z*·a*·ξ·g_v.
    suffix = [1] * (len(xs) + 1)
    for j in range(len(xs) - 1, -1, -1):
        suffix[j] = suffix[j + 1] * xs[j] % MODULUS
    big_x = suffix[0]
    s = fold_coefficients(xs)
    a_star = s.inner(a_vec)
    zf = ipa.z_final
    batch.add(
        ipa_what,
        [delta, params.h, params.g_v, *ipa.left, *ipa.right, *com_points],
        [
            big_x,
            -big_x * z_delta,
            xi * (big_x * ipa.z_dot_a - zf * a_star),
            *suffix[1:],
            *(suffix[j + 1] * x * x for j, x in enumerate(xs)),
            *(big_x * c * k for k in com_coeffs),
        ],
        gens=s,
        gens_scale=-zf,
        rows=rows,
        row_coeffs=row_coeffs,
        row_scale=big_x * c,
    )
    # c·Y + β − w·g_v − z_β·h = O
    batch.add(
        value_what,
        [*value_points, beta, params.g_v, params.h],
        [*(c * k for k in value_coeffs), 1, -ipa.z_dot_a, -z_beta],
    )
