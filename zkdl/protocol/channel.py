"""Prover and verifier channels: every message goes to a proof section and into the transcript.

The proof is a sequence of messages in protocol order. The prover writes each message to its section and
absorbs it; the verifier reads the same message with the count it expects (a wrong shape is a format error)
and absorbs it. The protocol code talks only to a channel: it sends *scalars* (stated values), runs sumchecks
whose first tables may be public (the verifier evaluates their MLEs itself), and states *zero checks*
(two sides of an identity). The clear channels below send field elements and compare values directly; the
zero-knowledge channels (``zk_channel.py``) send commitments instead and prove the checks at the end, with the
protocol code unchanged.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from ..commit import evaluation as ev
from ..commit.pedersen import Commitment
from ..errors import VerificationError
from ..field import Fr
from ..piop import sumcheck as sc
from ..serialize import Reader, Writer

SECTIONS = ("HEAD", "COMM", "SUMC", "OPEN")
R = sc.R
PublicMle = Callable[[Sequence[int]], int]


class ProverChannel:
    """Clear-mode prover channel: scalars are ints."""

    zk = False

    def __init__(self, transcript):
        self.transcript = transcript
        self.writers = {s: Writer() for s in SECTIONS}

    # --- messages -----------------------------------------------------------------------------------------
    def values(self, label: str, values: Sequence[int], section: str = "SUMC") -> list:
        vals = [int(v) % R for v in values]
        self.writers[section].write_frs(vals)
        self.transcript.absorb_frs(label, vals)
        return vals

    def commitment(self, label: str, com: Commitment) -> None:
        com.write(self.writers["COMM"])
        self.transcript.absorb_bytes(label, com.to_bytes())

    def obj(self, proof, section: str) -> None:
        """Any proof object with ``write(w)`` whose messages were absorbed by its own gadget."""
        proof.write(self.writers[section])

    # --- checks ---------------------------------------------------------------------------------------------
    def zero(self, x, what: str) -> None:
        """State that ``x`` (a derived scalar) is zero. The honest prover's is; nothing to send in clear mode."""

    def mul(self, x, y):
        """The product of two stated (or derived) scalars; in zero-knowledge mode a proof of product is sent."""
        return int(x) * int(y) % R

    def nonzero(self, x, what: str) -> None:
        """State that ``x`` is not zero (zero-knowledge mode: a proof that its inverse exists)."""

    # --- sumcheck -------------------------------------------------------------------------------------------
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
        """Prove ``relation`` over ``tables`` (the first ``n_public`` are public) for the stated claim.
        Returns the point and every table's value there (public ones as ints). ``engine``: a specialised
        round engine (see ``sumcheck.prove``)."""
        proof, res = sc.prove(
            list(tables), relation, self.transcript, eq_point=eq_point, claim=int(claim) % R, engine=engine
        )
        proof.write(self.writers["SUMC"])
        return list(res.point), list(res.values)

    # --- openings -------------------------------------------------------------------------------------------
    def open(self, params, com: Commitment, opening, table: Fr, claim, folded_rows: Fr | None = None) -> None:
        """Open a committed table at the claim's point (clear mode: the folded row is sent). ``folded_rows``:
        the table folded at the point's row coordinates, when the caller has it (``evaluation.fold_rows``)."""
        _, proof = ev.prove_eval(
            params, com, opening, table, list(claim.point), transcript=self.transcript, folded_rows=folded_rows
        )
        proof.write(self.writers["OPEN"])

    def finish(self) -> None:
        """Nothing is left to prove at the end in clear mode (every check was made where it arose)."""


class VerifierChannel:
    """Clear-mode verifier channel."""

    zk = False

    def __init__(self, transcript, readers: dict[str, Reader]):
        self.transcript = transcript
        self.readers = readers

    def values(self, label: str, count: int, section: str = "SUMC") -> list:
        vals = self.readers[section].read_frs(count=count)
        self.transcript.absorb_frs(label, vals)
        return vals

    def commitment(self, label: str) -> Commitment:
        com = Commitment.read(self.readers["COMM"])
        self.transcript.absorb_bytes(label, com.to_bytes())
        return com

    def reader(self, section: str) -> Reader:
        return self.readers[section]

    def zero(self, x, what: str) -> None:
        if int(x) % R:
            raise VerificationError(what)

    def mul(self, x, y):
        return int(x) * int(y) % R

    def nonzero(self, x, what: str) -> None:
        if int(x) % R == 0:
            raise VerificationError(what)

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
        """Check a sumcheck; the first ``len(public)`` tables are public and their MLEs are recomputed here."""
        proof = sc.SumcheckProof.read(self.readers["SUMC"], num_vars, relation)
        res = sc.verify(proof, relation, num_vars, int(claim) % R, self.transcript, eq_point=eq_point)
        for i, mle in enumerate(public):
            if res.values[i] != mle(res.point) % R:
                raise VerificationError(f"{what}: a public table's final value is wrong")
        return list(res.point), list(res.values)

    def open(self, params, com: Commitment, claim, what: str = "opening") -> None:
        proof = ev.EvalProof.read(self.readers["OPEN"], com.layout)
        value = ev.verify_eval(params, com, list(claim.point), proof, transcript=self.transcript)
        self.zero(value - claim.value, f"{what} does not match the claimed evaluation")

    def finish(self) -> None:
        """Nothing is left to check at the end in clear mode."""
