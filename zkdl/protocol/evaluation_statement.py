"""The statement of an evaluation or inference proof (``evaluation.json``): what the proof claims, as data.

An evaluation statement is bound to one training statement (by its digest, the SHA-256 of its canonical
bytes, the same digest ``zkdl verify`` prints): the proof's weight commitments are that statement's final ones
(``WT.l``, ``bT.l``), never new ones. Public data are given by their hashes (:func:`array_sha256`) and travel
next to the statement as arrays (``inputs.npy``, ``labels.npy``, ``outputs.npy``); committed data only by
commitments (``test_data`` "committed" / "training-split-committed": no rows, no hashes of rows).

Schema (version 1). Parsing is strict like ``statement.json``: exactly these keys (the OPTIONAL ones only where
said), exactly these JSON types, no duplicate keys; anything else raises
:class:`~zkdl.errors.StatementFormatError`::

    version             integer 1
    kind                "evaluation" (a count of correct predictions on labelled data) or "inference"
                        (the outputs on given inputs)
    training_statement  64 lowercase hex digits: the digest of the training statement
    n_rows              integer ≥ 1: rows of the inputs
    test_data           "public" (inputs and labels given at evaluation time, by their hashes);
                        "training-split" (public, and also the held-out split committed in the training statement's
                        test_split before training; the openings of those commitments travel with the proof);
                        "committed" (evaluation only: the rows stay private, the statement carries hiding
                        commitments to them made at evaluation time: inputs_commitment, labels_commitment);
                        "training-split-committed" (evaluation only: the rows stay private, the proof opens the
                        training statement's test_split commitments, made before training, at random points only)
    inputs_sha256       public data: 64 lowercase hex digits, array_sha256 of the quantized inputs (int64,
                        n_rows × d_0); committed data: null
    labels_sha256       evaluation on public data: 64 lowercase hex digits, array_sha256 of the int64 class labels
                        (n_rows) or, for a regression (sse), of the quantized targets (n_rows × d_L, scale 2^F);
                        otherwise null
    correct             classification evaluation: integer in [0, n_rows], the rows whose predicted class equals
                        the label; otherwise null
    sse                 OPTIONAL, regression evaluation only: integer ≥ 0, Σ over the n_rows × d_L entries of
                        (O − Y)², O the outputs and Y the targets at scale 2^F (so sse is at scale 2^(2F))
    inputs_commitment   OPTIONAL, test_data "committed" only: lowercase hex of the serialized commitment to the
                        inputs padded to pow2(n_rows) × pow2(d_0)
    labels_commitment   OPTIONAL, test_data "committed" only: lowercase hex of the serialized commitment to the
                        one-hot labels (classification) or the targets (regression), pow2(n_rows) × pow2(d_L)
    outputs_sha256      inference: 64 lowercase hex digits (array_sha256 of the int64 outputs O, n_rows × d_L);
                        evaluation: null
    range_backend       "lookup" or "bits"
    generators_digest   64 lowercase hex digits
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass

import numpy as np

from ..commit.pedersen import Commitment
from ..errors import ProofFormatError, StatementFormatError
from .statement import RANGE_BACKENDS, is_json_int

EVAL_STATEMENT_VERSION = 1
KINDS = ("evaluation", "inference")
TEST_DATA = ("public", "training-split", "committed", "training-split-committed")
#: test_data values whose rows never reach the verifier (only commitments)
COMMITTED_TEST_DATA = ("committed", "training-split-committed")
EVAL_STATEMENT_KEYS = (
    "version",
    "kind",
    "training_statement",
    "n_rows",
    "test_data",
    "inputs_sha256",
    "labels_sha256",
    "correct",
    "outputs_sha256",
    "range_backend",
    "generators_digest",
)
#: present only when not null (so statements without them keep their bytes)
OPTIONAL_EVAL_STATEMENT_KEYS = ("sse", "inputs_commitment", "labels_commitment")
_HEX = frozenset("0123456789abcdef")


def array_sha256(a: np.ndarray) -> str:
    """SHA-256 of an integer array: a domain tag, its shape and its entries as little-endian int64."""
    a = np.ascontiguousarray(np.asarray(a), dtype="<i8")
    head = b"zkdl/array/v1\0" + json.dumps(list(a.shape)).encode() + b"\0"
    return hashlib.sha256(head + a.tobytes()).hexdigest()


def _digest(v) -> bool:
    return isinstance(v, str) and len(v) == 64 and set(v) <= _HEX


def _commitment_hex(v) -> bool:
    if not (isinstance(v, str) and v and len(v) % 2 == 0 and set(v) <= _HEX):
        return False
    try:
        Commitment.from_bytes(bytes.fromhex(v))
    except ProofFormatError:
        return False
    return True


def _need(cond: bool, what: str) -> None:
    if not cond:
        raise StatementFormatError(f"malformed evaluation statement: {what}")


def _reject_duplicates(pairs):
    out = {}
    for k, v in pairs:
        if k in out:
            raise StatementFormatError(f"malformed evaluation statement: duplicate key {k!r}")
        out[k] = v
    return out


@dataclass(frozen=True)
class EvalStatement:
    """Public inputs of an evaluation or inference proof (module docstring)."""

    kind: str
    training_statement: str
    n_rows: int
    inputs_sha256: str | None
    range_backend: str
    generators_digest: str
    labels_sha256: str | None = None
    correct: int | None = None
    outputs_sha256: str | None = None
    test_data: str = "public"
    sse: int | None = None
    inputs_commitment: str | None = None  # hex of the serialized Commitment (test_data "committed")
    labels_commitment: str | None = None
    version: int = EVAL_STATEMENT_VERSION

    def __post_init__(self):
        self.check()

    def check(self) -> None:
        _need(self.version == EVAL_STATEMENT_VERSION, f"unsupported version {self.version!r}")
        _need(self.kind in KINDS, f"kind must be one of {list(KINDS)}")
        _need(self.test_data in TEST_DATA, f"test_data must be one of {list(TEST_DATA)}")
        _need(_digest(self.training_statement), "training_statement must be 64 lowercase hex digits")
        _need(is_json_int(self.n_rows) and self.n_rows >= 1, "n_rows must be an integer ≥ 1")
        _need(self.range_backend in RANGE_BACKENDS, f"range_backend must be one of {list(RANGE_BACKENDS)}")
        _need(_digest(self.generators_digest), "generators_digest must be 64 lowercase hex digits")
        if self.committed_data:
            _need(self.kind == "evaluation", "only an evaluation may have committed test data")
            _need(
                self.inputs_sha256 is None and self.labels_sha256 is None,
                "committed test data has inputs_sha256 and labels_sha256 null (no hash of the rows is published)",
            )
            fresh = self.test_data == "committed"
            for k in ("inputs_commitment", "labels_commitment"):
                v = getattr(self, k)
                if fresh:
                    _need(_commitment_hex(v), f"test_data committed needs {k}, the hex of a serialized commitment")
                else:
                    _need(v is None, f"{k} is only for test_data committed (the split's are the training statement's)")
        else:
            _need(_digest(self.inputs_sha256), "inputs_sha256 must be 64 lowercase hex digits")
            _need(
                self.inputs_commitment is None and self.labels_commitment is None,
                "public test data has no inputs_commitment or labels_commitment",
            )
        if self.kind == "evaluation":
            if not self.committed_data:
                _need(_digest(self.labels_sha256), "an evaluation needs labels_sha256 (64 lowercase hex digits)")
            _need(
                (self.correct is None) != (self.sse is None),
                "an evaluation has exactly one of correct (classification) and sse (regression)",
            )
            if self.correct is not None:
                _need(
                    is_json_int(self.correct) and 0 <= self.correct <= self.n_rows,
                    "correct must be an integer in [0, n_rows]",
                )
            else:
                _need(is_json_int(self.sse) and self.sse >= 0, "sse must be an integer ≥ 0")  # type: ignore[operator]
            _need(self.outputs_sha256 is None, "an evaluation has outputs_sha256 null")
        else:
            _need(_digest(self.outputs_sha256), "an inference needs outputs_sha256 (64 lowercase hex digits)")
            _need(
                self.labels_sha256 is None and self.correct is None and self.sse is None,
                "an inference has labels_sha256, correct and sse null",
            )

    @property
    def committed_data(self) -> bool:
        """The test rows are committed, never revealed (``test_data`` in :data:`COMMITTED_TEST_DATA`)."""
        return self.test_data in COMMITTED_TEST_DATA

    @property
    def regression(self) -> bool:
        """A regression evaluation: the public output is the sum of squared errors, not a count."""
        return self.kind == "evaluation" and self.sse is not None

    def data_commitments(self) -> dict[str, Commitment]:
        """test_data "committed": the commitments to the inputs (``TX``) and labels or targets (``TY``)."""
        if self.test_data != "committed":
            return {}
        assert self.inputs_commitment is not None and self.labels_commitment is not None
        return {
            "TX": Commitment.from_bytes(bytes.fromhex(self.inputs_commitment)),
            "TY": Commitment.from_bytes(bytes.fromhex(self.labels_commitment)),
        }

    @property
    def accuracy(self) -> float | None:
        return None if self.correct is None else self.correct / self.n_rows

    def to_dict(self) -> dict:
        out = {k: getattr(self, k) for k in EVAL_STATEMENT_KEYS}
        for k in OPTIONAL_EVAL_STATEMENT_KEYS:
            if getattr(self, k) is not None:
                out[k] = getattr(self, k)
        return out

    def canonical_bytes(self) -> bytes:
        return json.dumps(self.to_dict(), sort_keys=True, separators=(",", ":")).encode()

    def digest(self) -> bytes:
        return hashlib.sha256(b"zkdl/eval-statement/v1\0" + self.canonical_bytes()).digest()

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, sort_keys=True) + "\n"

    @classmethod
    def from_dict(cls, d) -> EvalStatement:
        _need(isinstance(d, dict), "it must be a JSON object")
        keys = set(d)
        allowed = set(EVAL_STATEMENT_KEYS) | set(OPTIONAL_EVAL_STATEMENT_KEYS)
        _need(
            set(EVAL_STATEMENT_KEYS) <= keys <= allowed,
            f"keys must be exactly {sorted(EVAL_STATEMENT_KEYS)} (and optionally "
            f"{list(OPTIONAL_EVAL_STATEMENT_KEYS)}); missing {sorted(set(EVAL_STATEMENT_KEYS) - keys)}, "
            f"unknown {sorted(map(str, keys - allowed))}",
        )
        for k in OPTIONAL_EVAL_STATEMENT_KEYS:
            _need(k not in d or d[k] is not None, f"{k} is absent when unused, never null")
        _need(is_json_int(d["version"]), "version must be an integer")
        for k in ("correct", "sse"):
            _need(d.get(k) is None or is_json_int(d[k]), f"{k} must be null or an integer")
        for k in ("kind", "test_data", "range_backend"):
            _need(isinstance(d[k], str), f"{k} must be a string")
        optional = {k: d[k] for k in OPTIONAL_EVAL_STATEMENT_KEYS if k in d}
        return cls(**{k: d[k] for k in EVAL_STATEMENT_KEYS}, **optional)

    @classmethod
    def from_json(cls, text: str | bytes) -> EvalStatement:
        def no_constants(name):
            raise StatementFormatError(f"malformed evaluation statement: {name} is not JSON")

        try:
            d = json.loads(text, object_pairs_hook=_reject_duplicates, parse_constant=no_constants)
        except (json.JSONDecodeError, UnicodeDecodeError, RecursionError) as exc:
            raise StatementFormatError(f"evaluation statement is not valid JSON: {exc}") from exc
        return cls.from_dict(d)
