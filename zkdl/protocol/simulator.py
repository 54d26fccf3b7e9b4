"""Honest-verifier simulator of the zero-knowledge training proof (interactive setting).

Zero knowledge is shown the textbook way: a simulator that knows only the statement and the public parameters
— no data, no weights, no training run — produces a transcript that the verifier accepts and whose
distribution equals that of real proofs. In the *interactive* setting the verifier's challenges are its random
coins, and the (honest-verifier) simulator may choose them; here every challenge is a transcript hash output,
except the challenges of the Σ-protocols, which the simulator picks first and then *programs* into the
transcript. :func:`simulate` returns
the proof and the list of challenges (the verifier's coins); :func:`verify_with_challenges` runs the real
:func:`zkdl.protocol.training.verify` — the same code path, its own
:class:`~zkdl.protocol.zk_channel.ZkVerifierChannel` — with those coins.

How the messages are made (``docs/zero-knowledge.md``, section "Simulator"):

* the simulator does not re-implement the verifier: it runs :func:`training.verify` on an empty proof through
  :class:`SimulatorChannel`, a :class:`ZkVerifierChannel` that *fabricates* each message at the moment the
  verifier code asks for it, serializes it into the proof, and then lets the inherited verifier method read
  and check it (so every simulated message passes the real checks as it is made);
* stated values, row commitments of the range tables, the mask, final, product and mask-value commitments of
  the ZK sumchecks are commitments to 0 with fresh uniform blindings: uniform points, like the real hiding
  commitments;
* the clear messages of a ZK sumcheck (masked sum, masked round evaluations) are uniform field elements: the
  real ones are uniform among the messages that pass the round checks (the mask's map onto them has full
  rank), and the ``d`` values sent per round are free coordinates of that space;
* the batched proofs of product (sumcheck finals, ``ch.mul``, ``ch.nonzero``), the batched proofs of dot product
  of the sumchecks' masks, the Hyrax proofs of dot product of the openings and the final Schnorr proof of the
  zero-check accumulator are simulated by the standard Σ-protocol simulator: choose the challenges and the
  responses uniformly, solve the verification equations for the first message, program the transcript to
  return the chosen challenges. The log-size response of an opening or of a batch of masks (the inner-product
  argument for the masked vector ``z``) is a deterministic function of ``z`` and of later transcript challenges,
  so the simulator computes it with the prover's own code from its uniform ``z``.

Without the programmed challenges the simulated proof is rejected (it proves false zero checks and products),
which is why the non-interactive proof's zero knowledge needs the random-oracle programming argument.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from ..commit.evaluation import ZkEvalProof, zk_first_challenge
from ..commit.generators import PublicParams
from ..commit.ipa import prove_masked_response
from ..commit.pedersen import Commitment, Layout, msm, random_scalar, scalars_from_ints
from ..commit.sigma import (
    DotBatchProof,
    NonzeroProof,
    ProductBatchProof,
    VScalar,
    ZeroAccumulator,
    ZeroProof,
    commit_values,
    dot_batch_challenges,
    dot_batch_weights,
    lincomb,
    linear_v,
    powers,
    product_chunks,
    replay_product_batch,
)
from ..errors import VerificationError, ZkdlError
from ..field import MODULUS as R
from ..field import Fr
from ..gadgets.range_check import make_range_backend
from ..piop import sumcheck as sc
from ..piop import zk_sumcheck as zsc
from ..serialize import ContainerWriter, Reader, Writer
from ..transcript import Transcript
from . import training
from .channel import SECTIONS, PublicMle
from .relations import loss
from .statement import Statement
from .zk_channel import ZkVerifierChannel

__all__ = [
    "Challenge",
    "ChallengeMismatch",
    "ProgrammableTranscript",
    "SimulatorChannel",
    "SimulatorError",
    "replay_channel",
    "simulate",
    "verify_with_challenges",
]

# Challenge labels of the Σ-protocols (zkdl.commit.sigma, zkdl.commit.evaluation). A label that no longer
# matches leaves an armed challenge unused, which SimulatorChannel reports as a SimulatorError.
PRODUCTS_BETA = "products/beta"
PRODUCTS_XI = "products/xi"
PRODUCTS_CHALLENGE = "products/c"
MASKS_ALPHA = "masks/alpha"
MASKS_CHALLENGE = "masks/c"
EVAL_CHALLENGE = "hyrax-eval-zk/c"
ZERO_CHALLENGE = "zero/e"


class SimulatorError(ZkdlError):
    """The simulator could not fabricate a message the verifier asked for (an internal inconsistency between
    the simulator and the protocol, e.g. an unknown commitment or a programmed challenge left unused)."""


class ChallengeMismatch(VerificationError):
    """Replayed challenges do not fit the verifier's schedule (other label, count, or number of challenges)."""


@dataclass(frozen=True)
class Challenge:
    """One challenge the verifier drew: its transcript label, count and values (the verifier's coins)."""

    label: str
    count: int
    values: tuple[int, ...]


def _label_str(label: str | bytes) -> str:
    return label if isinstance(label, str) else bytes(label).decode("utf-8", "backslashreplace")


class ProgrammableTranscript(Transcript):
    """A :class:`Transcript` whose challenges can be chosen (the interactive verifier's coins).

    Absorbs and the hash state are exactly those of the plain transcript. Each challenge is, in order of
    precedence: the recorded challenge at this position when constructed with ``replay`` (its label and count
    must match, else :class:`ChallengeMismatch`); a value armed with :meth:`arm` for this label (FIFO per
    label, single challenges only); otherwise the ordinary hash output. Every challenge returned is appended
    to :attr:`record`.
    """

    __slots__ = ("_armed", "_drawn", "_replay", "_pos")
    _armed: dict[str, deque[int]]
    _drawn: list[Challenge]
    _replay: tuple[Challenge, ...] | None
    _pos: int

    @classmethod
    def from_transcript(cls, t: Transcript, *, replay: Sequence[Challenge] | None = None) -> ProgrammableTranscript:
        """A programmable transcript in the state of ``t`` (``t`` is not changed)."""
        p = cls.__new__(cls)
        base = Transcript.copy(t)
        for slot in Transcript.__slots__:
            setattr(p, slot, getattr(base, slot))
        p._armed = {}
        p._drawn = []
        p._replay = None if replay is None else tuple(replay)
        p._pos = 0
        return p

    @property
    def record(self) -> tuple[Challenge, ...]:
        return tuple(self._drawn)

    def arm(self, label: str, value: int) -> None:
        """The next challenge drawn with ``label`` returns ``value``."""
        if self._replay is not None:
            raise SimulatorError("a replaying transcript cannot be programmed")
        self._armed.setdefault(label, deque()).append(int(value) % R)

    def pending(self) -> int:
        """Armed values not yet drawn."""
        return sum(len(q) for q in self._armed.values())

    def replay_finished(self) -> bool:
        return self._replay is None or self._pos == len(self._replay)

    def challenge_frs(self, label: str | bytes, n: int) -> list[int]:
        hashed = super().challenge_frs(label, n)  # keeps the hash state (ratchet) of the plain transcript
        key = _label_str(label)
        if self._replay is not None:
            if self._pos >= len(self._replay):
                raise ChallengeMismatch(f"the verifier draws challenge {key!r} beyond the recorded schedule")
            rec = self._replay[self._pos]
            if rec.label != key or rec.count != n:
                raise ChallengeMismatch(
                    f"challenge {self._pos}: the verifier draws {key!r} × {n}, the record "
                    f"holds {rec.label!r} × {rec.count}"
                )
            self._pos += 1
            values = list(rec.values)
        elif self._armed.get(key):
            if n != 1:
                raise SimulatorError(f"challenge {key!r}: only single challenges can be programmed")
            values = [self._armed[key].popleft()]
        else:
            values = hashed
        self._drawn.append(Challenge(key, n, tuple(values)))
        return values


class _SimAccumulator(ZeroAccumulator):
    """The verifier's zero-check accumulator, with the combined point ``W`` available before the proof."""

    def products(self) -> list:
        """The registered ``(X, Y, Z)`` of every deferred product, in order."""
        return list(self._products)

    def dot_chunks(self) -> list[tuple[list, int]]:
        """The registered ``(offset, w, Y, C)`` of each chunk of vectors, with the chunk's slots."""
        return [(list(items), slots) for items, slots in zip(self._dots, self._dot_slots)]

    def combined_point(self, ahead: Transcript) -> Any:
        """``W = Σ γ_i·Z_i`` with the ``γ`` that :meth:`verify` will draw from a transcript in the state of
        ``ahead`` (the verifier's after the batched proofs; a copy is used)."""
        gam = self._gammas(Transcript.copy(ahead))
        if not self._items:
            return VScalar().commitment(self.params)
        return linear_v(list(zip(gam, self._items))).commitment(self.params)  # type: ignore[arg-type]


def _as_v(x: Any) -> VScalar:
    return x if isinstance(x, VScalar) else VScalar.constant(int(x))


class SimulatorChannel(ZkVerifierChannel):
    """A :class:`ZkVerifierChannel` that fabricates every message when the verifier asks for it.

    Each method builds the message (knowing only public data and earlier messages), writes it into
    :attr:`writers` (the simulated proof's sections) and into a one-message reader, then calls the inherited
    verifier method, which reads and checks it. ``commit_sizes`` maps the labels of the commitments the proof
    carries to their log sizes. A verifier method this class does not override reads from an empty reader and
    fails with ``ProofFormatError``: a new message kind is never silently skipped.
    """

    def __init__(
        self, transcript: ProgrammableTranscript, params: PublicParams, commit_sizes: dict[str, int], rng: Any = None
    ) -> None:
        super().__init__(transcript, {s: Reader(b"", name=f"simulated {s}") for s in SECTIONS}, params)
        self.transcript: ProgrammableTranscript = transcript
        self.acc = _SimAccumulator(params)
        self.writers = {s: Writer() for s in SECTIONS}
        self.commit_sizes = dict(commit_sizes)
        self.rng = rng

    # --- helpers ------------------------------------------------------------------------------------------
    def _rand(self) -> int:
        return random_scalar(self.rng)

    def _points(self, k: int) -> list:
        """``k`` commitments to 0 with fresh uniform blindings (uniform points)."""
        return commit_values(self.params, [0] * k, [self._rand() for _ in range(k)]) if k else []

    def _send(self, section: str, write: Callable[[Writer], None]) -> None:
        w = Writer()
        write(w)
        data = w.getvalue()
        self.writers[section].write_raw(data)
        self.readers[section] = Reader(data, name=f"simulated {section}")

    def _check_consumed(self, section: str, what: str) -> None:
        if self.readers[section].remaining:
            raise SimulatorError(f"{what}: the verifier left {self.readers[section].remaining} simulated bytes unread")
        if self.transcript.pending():
            raise SimulatorError(f"{what}: a programmed challenge was not drawn by the verifier")

    def _fake_product_batch(self, items: Sequence[tuple[VScalar, VScalar, VScalar]]) -> ProductBatchProof:
        """Σ-simulator of a batched proof of product for the registered ``(X, Y, Z)``; arms β, ξ and c."""
        p, k = self.params, len(items)
        cx, cy, t2 = self._points(3)
        beta, xi, c = self._rand(), self._rand(), self._rand() or 1  # the verifier redraws a zero c
        x_hat = tuple(self._rand() for _ in range(k))
        y_hat = tuple(self._rand() for _ in range(k))
        rx, ry, rbx, rby, tau = (self._rand() for _ in range(5))
        bp, xp = powers(beta, k), powers(xi, k)
        inv = pow(c, -1, R)
        gens = p.gens(k)
        # each first-message point solved from its equation: c·P = (right side) − (statement part)
        ca = msm(gens + [p.h, cx], scalars_from_ints([*(v * inv % R for v in x_hat), rx * inv % R, (-inv) % R]))
        cb = msm(gens + [p.h, cy], scalars_from_ints([*(v * inv % R for v in y_hat), ry * inv % R, (-inv) % R]))
        sx = linear_v([(w, it[0]) for w, it in zip(bp, items)]).commitment(p)
        sy = linear_v([(w, it[1]) for w, it in zip(bp, items)]).commitment(p)
        sz = linear_v([(w, it[2]) for w, it in zip(xp, items)]).commitment(p)
        tx = lincomb([p.g_v, p.h, sx], [sum(u * w for u, w in zip(x_hat, bp)) * inv, rbx * inv, -inv])
        ty = lincomb([p.g_v, p.h, sy], [sum(u * w for u, w in zip(y_hat, bp)) * inv, rby * inv, -inv])
        ip = sum(w * u * v for w, u, v in zip(xp, x_hat, y_hat))
        t1 = lincomb([p.g_v, p.h, sz, t2], [ip * inv, tau * inv, -inv, -c])
        for label, v in ((PRODUCTS_BETA, beta), (PRODUCTS_XI, xi), (PRODUCTS_CHALLENGE, c)):
            self.transcript.arm(label, v)
        return ProductBatchProof(cx, cy, (ca, cb, tx, ty, t1, t2), x_hat, y_hat, (rx, ry, rbx, rby, tau))

    # --- messages -----------------------------------------------------------------------------------------
    def values(self, label: str, count: int, section: str = "SUMC") -> list:
        pts = self._points(count)
        self._send(section, lambda w: w.write_g1s(pts))
        out = super().values(label, count, section)
        self._check_consumed(section, label)
        return out

    def commitment(self, label: str) -> Commitment:
        if label not in self.commit_sizes:
            raise SimulatorError(f"the verifier reads a commitment {label!r} the simulator does not know")
        layout = Layout.for_proof_table(1 << self.commit_sizes[label])
        com = Commitment(layout, tuple(self._points(layout.rows)))
        self._send("COMM", com.write)
        out = super().commitment(label)
        self._check_consumed("COMM", label)
        return out

    def mul(self, x, y):
        if not isinstance(x, VScalar) or not isinstance(y, VScalar):
            return super().mul(x, y)  # a public factor: no message
        (cz,) = self._points(1)
        self._send("SUMC", lambda w: w.write_g1(cz))
        out = super().mul(x, y)
        self._check_consumed("SUMC", "product")
        return out

    def nonzero(self, x, what: str) -> None:
        if not isinstance(x, VScalar):
            super().nonzero(x, what)
            return
        (inv,) = self._points(1)
        self._send("SUMC", NonzeroProof(inv).write)
        super().nonzero(x, what)
        self._check_consumed("SUMC", what)

    def sumcheck(
        self,
        num_vars: int,
        relation: sc.Relation,
        claim,
        *,
        public: Sequence[PublicMle] = (),
        eq_point: Sequence[int] | None = None,
        what: str = "sumcheck",
    ) -> tuple[list[int], list]:
        plan = zsc._plan(relation, frozenset(range(len(public))))
        d = relation.degree
        (mask,) = self._points(1)
        masked_sum = self._rand()  # S' = s + ρ·M is uniform; so are the masked rounds given the round checks
        rounds = tuple(tuple(self._rand() for _ in range(d)) for _ in range(num_vars))
        finals = tuple(self._points(len(plan.secret)))
        products = tuple(self._points(len(plan.products)))
        (mask_value,) = self._points(1)  # its dot product with the mask is simulated at the end (finish)
        proof = zsc.ZkSumcheckProof(mask, masked_sum, rounds, finals, products, mask_value)
        self._send("SUMC", proof.write)
        out = super().sumcheck(num_vars, relation, claim, public=public, eq_point=eq_point, what=what)
        self._check_consumed("SUMC", what)
        return out

    def _fake_masked_dot(self, params, com, y, a_vec: Fr, ahead: Transcript, first) -> tuple:
        """Σ-simulator of a proof of dot product with the log-size response for ``x`` inside the point ``com`` and
        ``<x, a_vec>`` inside ``y``: choose ``c``, ``z``, ``z_δ``, ``z_β``; solve for ``δ``, ``β``
        (``c·C + δ = Σ z_i·g_i + z_δ·h``, ``c·Y + β = <z, a>·g_v + z_β·h``); ``first(ahead, δ, β)`` then moves
        ``ahead`` (a copy of the transcript in the state the verifier will reach) past the verifier's draw of ``c``
        — the same hash state whatever value the armed transcript returns — and the inner-product argument is the
        prover's own code on ``z``. Returns ``(c, δ, β, z_δ, z_β, ipa)``; the caller arms ``c``."""
        c = self._rand() or 1  # a zero c would be redrawn by a verifier that requires c ≠ 0
        z = Fr.from_ints([self._rand() for _ in range(len(a_vec))])
        z_delta, z_beta = self._rand(), self._rand()
        delta = msm(params.gens(len(z)) + [params.h, com], scalars_from_ints([*z.to_ints(), z_delta, (-c) % R]))
        beta = lincomb([params.g_v, params.h, y], [z.inner(a_vec), z_beta, -c])
        first(ahead, delta, beta)
        return c, delta, beta, z_delta, z_beta, prove_masked_response(params, ahead, z, a_vec, z_delta, z_beta)

    def open(self, params, com: Commitment, claim, what: str = "opening") -> None:
        lay = com.layout
        u_rows, u_cols = lay.split_point(list(claim.point))
        y = _as_v(claim.value).commitment(params)
        folded = lincomb(list(com.rows), Fr.eq_table(u_rows).to_ints())  # C' = Σ_r eq(u_rows, r)·C_r
        c, delta, beta, z_delta, z_beta, ipa = self._fake_masked_dot(
            params,
            folded,
            y,
            Fr.eq_table(u_cols),
            Transcript.copy(self.transcript),
            lambda t, d, b: zk_first_challenge(t, com, list(claim.point), y, d, b),
        )
        self.transcript.arm(EVAL_CHALLENGE, c)
        self._send("OPEN", ZkEvalProof(y, delta, beta, z_delta, z_beta, ipa).write)
        super().open(params, com, claim, what)
        self._check_consumed("OPEN", what)

    def _fake_dot_batch(self, items: Sequence[tuple], slots: int, ahead: Transcript) -> DotBatchProof:
        """Σ-simulator of a batched proof of dot product for the registered ``(offset, w, Y, C)``: choose ``α``
        (programmed), then :meth:`_fake_masked_dot` for ``C′ = Σ α^k·C_k`` and ``Y′ = Σ α^k·Y_k`` on ``ahead``."""
        p = self.params
        alpha = self._rand() or 1  # the verifier redraws a zero α
        ap = powers(alpha, len(items))
        com = lincomb([it[3] for it in items], ap)
        y = linear_v([(w, it[2]) for w, it in zip(ap, items)]).commitment(p)
        c, delta, beta, z_delta, z_beta, ipa = self._fake_masked_dot(
            p,
            com,
            y,
            dot_batch_weights(items, slots),
            ahead,
            lambda t, d, b: dot_batch_challenges(t, len(items), slots, d, b),
        )
        self.transcript.arm(MASKS_ALPHA, alpha)
        self.transcript.arm(MASKS_CHALLENGE, c)
        return DotBatchProof(delta, beta, z_delta, z_beta, ipa)

    def finish(self) -> None:
        ahead = Transcript.copy(self.transcript)  # drawing a challenge moves it as the programmed draw will
        items = self.acc.products()
        batches = []
        start = 0
        for k in product_chunks(len(items)):
            batches.append(self._fake_product_batch(items[start : start + k]))
            replay_product_batch(ahead, batches[-1])
            start += k
        dots = [self._fake_dot_batch(its, slots, ahead) for its, slots in self.acc.dot_chunks()]
        w_pt = self.acc.combined_point(ahead)
        e, s = self._rand(), self._rand()
        a = lincomb([self.params.h, w_pt], [s, -e])  # s·h = A + e·W
        self.transcript.arm(ZERO_CHALLENGE, e)
        self._send("OPEN", ZeroProof(a, s, tuple(batches), tuple(dots)).write)
        super().finish()
        self._check_consumed("OPEN", "zero checks")


def _empty_proof(statement: Statement) -> bytes:
    cw = ContainerWriter(training.PROTOCOL_ID, flags=0)
    for s in SECTIONS:
        w = Writer()
        if s == "HEAD":
            w.write_raw(statement.digest())
        cw.add_section(s, w)
    return cw.to_bytes()


def simulate(params: PublicParams, statement: Statement, rng: Any = None) -> tuple[bytes, tuple[Challenge, ...]]:
    """A zero-knowledge training proof for ``statement`` made without any witness, and the challenges (the
    interactive verifier's coins) under which it verifies: ``verify_with_challenges(params, statement, proof,
    challenges)``. Randomness from the OS CSPRNG unless ``rng`` (tests).

    The verifier's own code (:func:`training.verify`) drives the simulation, so every message is checked as it
    is made; a failure there is a simulator bug and raises :class:`SimulatorError`."""
    pub = training.Public.of(statement)
    backend = make_range_backend(statement.range_backend)
    tables = {**backend.committed_log_sizes(pub.layout), **loss.committed_log_sizes(statement)}
    sizes = {f"commit/{name}": k for name, k in tables.items()}  # every table the proof commits (as verify reads)
    made: list[SimulatorChannel] = []

    def factory(t: Transcript, readers, params_: PublicParams) -> SimulatorChannel:
        ch = SimulatorChannel(ProgrammableTranscript.from_transcript(t), params_, sizes, rng)
        made.append(ch)
        return ch

    try:
        training.verify(params, statement, _empty_proof(statement), channel_factory=factory)
    except VerificationError as exc:
        raise SimulatorError(f"a simulated message failed the verifier's check: {exc}") from exc
    (ch,) = made
    cw = ContainerWriter(training.PROTOCOL_ID, flags=0)
    head = Writer()
    head.write_raw(statement.digest())
    for s in SECTIONS:
        cw.add_section(s, head if s == "HEAD" else ch.writers[s])
    return cw.to_bytes(), ch.transcript.record


def replay_channel(challenges: Sequence[Challenge], channels: list | None = None):
    """A ``channel_factory`` for :func:`training.verify`: the real :class:`ZkVerifierChannel` over a transcript
    that returns ``challenges`` in order. Appends each channel it makes to ``channels`` if given."""

    def factory(t: Transcript, readers, params: PublicParams) -> ZkVerifierChannel:
        ch = ZkVerifierChannel(ProgrammableTranscript.from_transcript(t, replay=challenges), readers, params)
        if channels is not None:
            channels.append(ch)
        return ch

    return factory


def verify_with_challenges(
    params: PublicParams, statement: Statement, proof: bytes, challenges: Sequence[Challenge]
) -> dict[str, float]:
    """The interactive verifier with the given coins: :func:`training.verify` (its checks, its channel) whose
    challenges are ``challenges`` in order; every recorded challenge must be drawn. Raises like
    :func:`training.verify`, and :class:`ChallengeMismatch` if the schedule differs."""
    made: list[ZkVerifierChannel] = []
    out = training.verify(params, statement, proof, channel_factory=replay_channel(challenges, made))
    if made and not made[0].transcript.replay_finished():
        raise ChallengeMismatch("the verifier drew fewer challenges than recorded")
    return out
