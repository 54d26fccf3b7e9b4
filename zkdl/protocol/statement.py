"""The statement of a training proof: everything public, as data (``statement.json``).

The statement is always an argument of ``verify``; it is never read back from the proof. Its canonical JSON
encoding (sorted keys, no whitespace) is absorbed into the transcript before the first challenge, so a proof
made for one statement fails for any other.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field

from ..commit.pedersen import Commitment
from ..errors import ProofFormatError, StatementMismatch
from .shapes import Shapes, pow2

STATEMENT_VERSION = 1
RANGE_BACKENDS = ("lookup", "bits")


@dataclass(frozen=True)
class Statement:
    """Public inputs of a training proof.

    ``commitments`` maps names to commitments: ``X`` (dataset, N'×d'_0), ``Y`` (labels, N'×d'_L), and per layer
    ``l = 1..L``: ``W0.l``, ``WT.l`` (initial and final weights, d'_{l-1}×d'_l) and, for layers with a bias,
    ``b0.l``, ``bT.l`` (d'_l). Tensors are zero-padded axis by axis to powers of two before committing.
    """

    widths: tuple[int, ...]
    has_bias: tuple[bool, ...]
    params: dict
    batch_size: int
    steps: int
    n_rows: int
    schedule_seed: int | None
    range_backend: str
    generators_digest: str
    commitments: dict[str, Commitment] = field(default_factory=dict)
    version: int = STATEMENT_VERSION

    def __post_init__(self):
        object.__setattr__(self, "widths", tuple(int(w) for w in self.widths))
        object.__setattr__(self, "has_bias", tuple(bool(b) for b in self.has_bias))
        if len(self.widths) < 2 or any(w < 1 for w in self.widths):
            raise StatementMismatch(f"widths must list at least two positive sizes, got {self.widths}")
        if len(self.has_bias) != len(self.widths) - 1:
            raise StatementMismatch("has_bias needs one flag per layer")
        if self.batch_size < 1 or self.steps < 1 or self.n_rows < 1:
            raise StatementMismatch("batch_size, steps and n_rows must be positive")
        if self.range_backend not in RANGE_BACKENDS:
            raise StatementMismatch(f"unknown range backend {self.range_backend!r}; use one of {RANGE_BACKENDS}")

    @property
    def num_layers(self) -> int:
        return len(self.widths) - 1

    @property
    def shapes(self) -> Shapes:
        return Shapes.of(self.widths, self.steps, self.batch_size, self.n_rows)

    def expected_tables(self) -> dict[str, int]:
        """Name → number of (padded) entries of each statement commitment."""
        sh = self.shapes
        out = {"X": sh.rows * sh.widths[0], "Y": sh.rows * sh.widths[-1]}
        for l in range(1, self.num_layers + 1):
            n = sh.widths[l - 1] * sh.widths[l]
            out[f"W0.{l}"] = out[f"WT.{l}"] = n
            if self.has_bias[l - 1]:
                out[f"b0.{l}"] = out[f"bT.{l}"] = sh.widths[l]
        return out

    def check_commitments(self) -> None:
        expected = self.expected_tables()
        if set(expected) != set(self.commitments):
            missing = sorted(set(expected) - set(self.commitments))
            extra = sorted(set(self.commitments) - set(expected))
            raise StatementMismatch(f"statement commitments do not match the architecture: missing {missing}, "
                                    f"unexpected {extra}")
        for name, n in expected.items():
            lay = self.commitments[name].layout
            if lay.size != n or lay.n_entries != n:
                raise StatementMismatch(f"commitment {name} covers {lay.n_entries} entries, expected {n}")

    # --- encoding -----------------------------------------------------------------------------------------
    def to_dict(self) -> dict:
        return {
            "version": self.version,
            "widths": list(self.widths),
            "has_bias": list(self.has_bias),
            "params": {k: int(v) for k, v in sorted(self.params.items())},
            "batch_size": self.batch_size,
            "steps": self.steps,
            "n_rows": self.n_rows,
            "schedule_seed": self.schedule_seed,
            "range_backend": self.range_backend,
            "generators_digest": self.generators_digest,
            "commitments": {k: self.commitments[k].to_bytes().hex() for k in sorted(self.commitments)},
        }

    def canonical_bytes(self) -> bytes:
        return json.dumps(self.to_dict(), sort_keys=True, separators=(",", ":")).encode()

    def digest(self) -> bytes:
        return hashlib.sha256(b"zkdl/statement/v1\0" + self.canonical_bytes()).digest()

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, sort_keys=True) + "\n"

    @classmethod
    def from_dict(cls, d: dict) -> Statement:
        try:
            if d.get("version") != STATEMENT_VERSION:
                raise ProofFormatError(f"unsupported statement version {d.get('version')!r}")
            coms = {k: Commitment.from_bytes(bytes.fromhex(v)) for k, v in d["commitments"].items()}
            seed = d["schedule_seed"]
            return cls(
                widths=tuple(int(w) for w in d["widths"]),
                has_bias=tuple(bool(b) for b in d["has_bias"]),
                params={str(k): int(v) for k, v in d["params"].items()},
                batch_size=int(d["batch_size"]),
                steps=int(d["steps"]),
                n_rows=int(d["n_rows"]),
                schedule_seed=None if seed is None else int(seed),
                range_backend=str(d["range_backend"]),
                generators_digest=str(d["generators_digest"]),
                commitments=coms,
            )
        except ProofFormatError:
            raise
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise ProofFormatError(f"malformed statement: {type(exc).__name__}: {exc}") from exc

    @classmethod
    def from_json(cls, text: str | bytes) -> Statement:
        try:
            d = json.loads(text)
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise ProofFormatError(f"statement is not valid JSON: {exc}") from exc
        if not isinstance(d, dict):
            raise ProofFormatError("statement JSON must be an object")
        return cls.from_dict(d)


def padded_rows(statement: Statement) -> int:
    return pow2(statement.n_rows)
