"""The channel interface: what every relation and gadget may say to the proof.

Protocol code (``piop.claims``, ``gadgets``, ``protocol.relations``) is written once against these two
interfaces; ``protocol/channel.py`` implements them in clear mode (field elements in the proof) and
``protocol/zk_channel.py`` in zero-knowledge mode (Pedersen commitments in the proof, checks proven at the end).
They are ``typing.Protocol`` classes: structural, so the implementations need not inherit from them, and a type
checker verifies that every call a gadget makes exists on both.

A :data:`Scalar` is a value the prover states or derives from stated values: a Python ``int`` in ``[0, r)``
in clear mode, a committed scalar (``commit.sigma.PScalar`` on the prover's side, ``VScalar`` on the
verifier's) in zero-knowledge mode. Scalars support ``+``, ``-`` and multiplication by public ints; a product of
two scalars goes through ``mul`` (a proof of product in zero-knowledge mode). Challenges and points are always
plain ints.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Protocol

from ..field import Fr
from ..transcript import Transcript
from .sumcheck import Relation

Scalar = Any  # int (clear mode) | PScalar / VScalar (zero-knowledge mode); see the module docstring
PublicMle = Callable[[Sequence[int]], int]


class ProverChannelProtocol(Protocol):
    """The prover's side: it knows the values and sends them (or commitments to them)."""

    transcript: Transcript
    zk: bool

    def values(self, label: str, values: Sequence[int], section: str = "SUMC") -> list[Scalar]:
        """State values (absorbed under ``label``); returns them as scalars of this mode."""
        ...

    def commitment(self, label: str, com: Any) -> None:
        """Send (and absorb) a commitment to a table."""
        ...

    def obj(self, proof: Any, section: str) -> None:
        """Send a proof object whose messages its own gadget absorbed."""
        ...

    def zero(self, x: Scalar, what: str) -> None:
        """State that a derived scalar is zero."""
        ...

    def mul(self, x: Scalar, y: Scalar) -> Scalar:
        """The product of two scalars."""
        ...

    def nonzero(self, x: Scalar, what: str) -> None:
        """State that a scalar is not zero."""
        ...

    def sumcheck(
        self,
        tables: Sequence[Fr],
        relation: Relation,
        claim: Scalar,
        *,
        n_public: int = 0,
        eq_point: Sequence[int] | None = None,
        engine: Any = None,
    ) -> tuple[list[int], list[Scalar]]:
        """Prove ``relation`` over ``tables`` (the first ``n_public`` public) for ``claim``; returns the point
        and every table's value there (public ones as ints)."""
        ...

    def open(self, params: Any, com: Any, opening: Any, table: Fr, claim: Any, folded_rows: Fr | None = None) -> None:
        """Open a committed table at a claim's point (``folded_rows``: the table folded at the point's row
        coordinates, when the caller has it)."""
        ...

    def finish(self) -> None:
        """Prove what was left for the end (zero knowledge: all zero checks at once)."""
        ...


class VerifierChannelProtocol(Protocol):
    """The verifier's side: it reads what the prover sent and checks."""

    transcript: Transcript
    zk: bool

    def values(self, label: str, count: int, section: str = "SUMC") -> list[Scalar]:
        """Read ``count`` stated values (absorbed under ``label``)."""
        ...

    def commitment(self, label: str) -> Any:
        """Read (and absorb) a commitment to a table."""
        ...

    def reader(self, section: str) -> Any:
        """The raw reader of a proof section (for gadgets that read their own proof objects)."""
        ...

    def zero(self, x: Scalar, what: str) -> None:
        """Check (clear) or record for the final proof (zero knowledge) that ``x`` is zero."""
        ...

    def mul(self, x: Scalar, y: Scalar) -> Scalar:
        """The product of two scalars (zero knowledge: checked through the prover's proof of product)."""
        ...

    def nonzero(self, x: Scalar, what: str) -> None:
        """Check that a scalar is not zero."""
        ...

    def sumcheck(
        self,
        num_vars: int,
        relation: Relation,
        claim: Scalar,
        *,
        public: Sequence[PublicMle] = (),
        eq_point: Sequence[int] | None = None,
        what: str = "sumcheck",
    ) -> tuple[list[int], list[Scalar]]:
        """Check a sumcheck whose first ``len(public)`` tables are public (their MLEs recomputed here)."""
        ...

    def open(self, params: Any, com: Any, claim: Any, what: str = "opening") -> None:
        """Check an opening of a committed table against a claim."""
        ...

    def finish(self) -> None:
        """Check what was left for the end (zero knowledge: the proof of all zero checks)."""
        ...
