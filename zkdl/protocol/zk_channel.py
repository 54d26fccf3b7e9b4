"""Zero-knowledge channels: the same protocol code, with every stated value committed.

Compared with the clear channels (``channel.py``):

* a stated value is sent as a Pedersen commitment ``v·g_v + ρ·h`` with a fresh uniform ``ρ``; the protocol code
  then computes with *committed scalars* (``PScalar`` for the prover, ``VScalar`` for the verifier), whose
  linear combinations with public coefficients are homomorphic and need no message;
* sumchecks are the zero-knowledge sumcheck (rounds masked by a committed random polynomial, committed finals of
  the secret tables, committed products where the relation multiplies secret tables);
* zero checks and products go into one accumulator, proven at the end by batched proofs of product and a single
  Schnorr proof;
* openings keep the evaluation committed (Hyrax proof of dot product, linked to the claim's commitment).

No field element derived from the witness is sent in the clear: the messages are hiding commitments and
Σ-protocol responses. ``docs/zero-knowledge.md`` has the argument.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from ..commit import evaluation as ev
from ..commit.batch import MsmBatch
from ..commit.pedersen import Commitment
from ..commit.sigma import (
    NonzeroProof,
    PScalar,
    VScalar,
    ZeroAccumulator,
    ZeroProof,
    commit_product,
    commit_values,
    prove_nonzero,
    random_scalar,
    receive_product,
    verify_nonzero,
)
from ..errors import VerificationError, ZkdlError
from ..field import Fr
from ..piop import sumcheck as sc
from ..piop import zk_sumcheck as zsc
from ..serialize import SubgroupChecks
from .channel import ProverChannel, PublicMle, VerifierChannel

R = sc.R


def _as_p(x) -> PScalar:
    return x if isinstance(x, PScalar) else PScalar.public(int(x))


def _as_v(x) -> VScalar:
    return x if isinstance(x, VScalar) else VScalar.constant(int(x))


class ZkProverChannel(ProverChannel):
    zk = True

    def __init__(self, transcript, params, rng=None):
        super().__init__(transcript)
        self.params = params
        self.rng = rng
        self.acc = ZeroAccumulator(params, rng=rng)

    def values(self, label: str, values: Sequence[int], section: str = "SUMC") -> list:
        vals = [int(v) % R for v in values]
        blinds = [random_scalar(self.rng) for _ in vals]
        points = commit_values(self.params, vals, blinds) if vals else []
        self.writers[section].write_g1s(points)
        self.transcript.absorb_g1s(label, points)
        out = []
        for v, b, p in zip(vals, blinds, points):
            s = PScalar(v, b)
            s._point.append(p)
            out.append(s)
        return out

    def zero(self, x, what: str) -> None:
        if isinstance(x, PScalar):
            self.acc.add(x, what)

    def mul(self, x, y):
        if not isinstance(x, PScalar) or not isinstance(y, PScalar):
            return x * y  # a public factor: linear
        z = commit_product(self.params, x, y, self.transcript, self.acc, rng=self.rng)
        self.writers["SUMC"].write_g1(z.commitment(self.params))
        return z

    def nonzero(self, x, what: str) -> None:
        if isinstance(x, PScalar):
            prove_nonzero(self.params, x, self.transcript, self.acc, rng=self.rng).write(self.writers["SUMC"])

    def sumcheck(
        self,
        tables: Sequence[Fr],
        relation: sc.Relation,
        claim,
        *,
        n_public: int = 0,
        eq_point: Sequence[int] | None = None,
        engine=None,
    ) -> tuple[list[int], list]:
        proof, res = zsc.prove_zk(
            self.params,
            list(tables),
            relation,
            self.transcript,
            claim=_as_p(claim),
            eq_point=eq_point,
            public=frozenset(range(n_public)),
            acc=self.acc,
            rng=self.rng,
            engine=engine,
        )
        proof.write(self.writers["SUMC"])
        vals = [res.public_values[k] if k < n_public else res.finals[k] for k in range(relation.n_tables)]
        return list(res.point), vals

    def open(self, params, com: Commitment, opening, table: Fr, claim, folded_rows: Fr | None = None) -> None:
        value = _as_p(claim.value)
        _, _, proof = ev.prove_eval_zk(
            params,
            com,
            opening,
            table,
            list(claim.point),
            self.transcript,
            value_blind=value.blind,
            rng=self.rng,
            folded_rows=folded_rows,
        )
        proof.write(self.writers["OPEN"])

    def finish(self) -> None:
        """Prove every deferred product and zero check at once (call after the last message)."""
        self.acc.prove(self.transcript).write(self.writers["OPEN"])


class ZkVerifierChannel(VerifierChannel):
    zk = True

    def __init__(self, transcript, readers, params):
        super().__init__(transcript, readers)
        self.params = params
        self.batch = MsmBatch(params)  # every group equation of the proof: one MSM in finish()
        self.acc = ZeroAccumulator(params, batch=self.batch)

    def values(self, label: str, count: int, section: str = "SUMC") -> list:
        points = self.readers[section].read_g1s(allow_identity=True, count=count)
        self.transcript.absorb_g1s(label, points)
        return [VScalar(p) for p in points]

    def zero(self, x, what: str) -> None:
        if isinstance(x, VScalar):
            self.acc.add(x, what)
        else:
            super().zero(x, what)

    def mul(self, x, y):
        if not isinstance(x, VScalar) or not isinstance(y, VScalar):
            return x * y
        cz = self.readers["SUMC"].read_g1(allow_identity=True)
        return receive_product(self.params, x, y, cz, self.transcript, self.acc)

    def nonzero(self, x, what: str) -> None:
        if isinstance(x, VScalar):
            verify_nonzero(self.params, x, NonzeroProof.read(self.readers["SUMC"]), self.transcript, self.acc)
        else:
            super().nonzero(x, what)

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
        pub = frozenset(range(len(public)))
        proof = zsc.ZkSumcheckProof.read(self.readers["SUMC"], num_vars, relation, pub)
        res = zsc.verify_zk(
            self.params,
            proof,
            relation,
            num_vars,
            _as_v(claim),
            self.transcript,
            eq_point=eq_point,
            public=dict(enumerate(public)),
            acc=self.acc,
        )
        vals = [res.public_values[k] if k in pub else res.finals[k] for k in range(relation.n_tables)]
        return list(res.point), vals

    def open(self, params, com: Commitment, claim, what: str = "opening") -> None:
        proof = ev.ZkEvalProof.read(self.readers["OPEN"], com.layout)
        ev.verify_eval_zk(
            params,
            com,
            list(claim.point),
            proof,
            self.transcript,
            value_commitment=_as_v(claim.value),
            batch=self.batch if params is self.params else None,
        )

    def finish(self) -> None:
        """The batched proofs of product and the zero checks' Schnorr proof, then the final MSM over every deferred
        group equation."""
        self.acc.verify(ZeroProof.read(self.readers["OPEN"], self.acc.n_products, self.acc.dot_slots), self.transcript)
        self.batch.verify()


def run_verifier(body: Callable[[SubgroupChecks, list], None], subgroup: SubgroupChecks | None = None) -> None:
    """Run a verifier ``body(subgroup, channels)`` with its proof's points subgroup-checked in helper processes
    (:class:`~zkdl.serialize.SubgroupChecks`: ``body`` passes ``subgroup`` to its ``ContainerReader``) and return
    only once every check passed; ``body`` appends its verifier channel to ``channels``. On a rejection the cause
    reported is, in this order: a point outside the subgroup (``ProofFormatError``, or the error its collector was
    told to raise, e.g. a statement's ``StatementFormatError``), the first false group equation deferred to the
    channel's :class:`~zkdl.commit.batch.MsmBatch`, then the error that stopped ``body``. Training and evaluation
    proofs are verified through this one function.

    ``subgroup``: a collector that already holds deferred checks (the statement's points, parsed with
    ``Statement.from_json(..., subgroup=...)``); its owner closes it. Without it, one is made here."""
    if subgroup is not None:
        _run_verifier(body, subgroup)
        return
    with SubgroupChecks() as own:
        _run_verifier(body, own)


def _run_verifier(body: Callable[[SubgroupChecks, list], None], subgroup: SubgroupChecks) -> None:
    channels: list = []
    try:
        body(subgroup, channels)
    except ZkdlError as err:
        subgroup.finish()  # a point outside the subgroup is the first cause
        batch = getattr(channels[0], "batch", None) if channels else None
        if isinstance(err, VerificationError) and isinstance(batch, MsmBatch) and not batch.closed:
            batch.diagnose()  # then the first false group equation met before this error
        raise
    subgroup.finish()
