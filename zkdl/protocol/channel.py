"""Prover and verifier message channels: every message goes to a proof section and into the transcript.

The proof is a sequence of messages in protocol order. The prover writes each one to its section and absorbs
it; the verifier reads the same message (with the count it expects, so a wrong shape is a format error) and
absorbs it. Sumcheck proofs absorb their own messages inside the engine; the channel only stores them.
"""

from __future__ import annotations

from ..commit.pedersen import Commitment
from ..piop import sumcheck as sc
from ..serialize import Reader, Writer

SECTIONS = ("HEAD", "COMM", "SUMC", "OPEN")


class ProverChannel:
    def __init__(self, transcript):
        self.transcript = transcript
        self.writers = {s: Writer() for s in SECTIONS}

    def frs(self, label: str, values, section: str = "SUMC") -> list[int]:
        vals = [int(v) % sc.R for v in values]
        self.writers[section].write_frs(vals)
        self.transcript.absorb_frs(label, vals)
        return vals

    def sumcheck(self, proof: sc.SumcheckProof, section: str = "SUMC") -> None:
        proof.write(self.writers[section])

    def commitment(self, label: str, com: Commitment) -> None:
        com.write(self.writers["COMM"])
        self.transcript.absorb_bytes(label, com.to_bytes())

    def obj(self, proof, section: str) -> None:
        """Any proof object with ``write(w)`` whose messages were absorbed by its own gadget."""
        proof.write(self.writers[section])


class VerifierChannel:
    def __init__(self, transcript, readers: dict[str, Reader]):
        self.transcript = transcript
        self.readers = readers

    def frs(self, label: str, count: int, section: str = "SUMC") -> list[int]:
        vals = self.readers[section].read_frs(count=count)
        self.transcript.absorb_frs(label, vals)
        return vals

    def sumcheck(self, num_vars: int, relation: sc.Relation, section: str = "SUMC") -> sc.SumcheckProof:
        return sc.SumcheckProof.read(self.readers[section], num_vars, relation)

    def commitment(self, label: str) -> Commitment:
        com = Commitment.read(self.readers["COMM"])
        self.transcript.absorb_bytes(label, com.to_bytes())
        return com

    def reader(self, section: str) -> Reader:
        return self.readers[section]
