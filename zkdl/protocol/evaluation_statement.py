"""The statement of an evaluation or inference proof (``evaluation.json``): what the proof claims, as data.

An evaluation statement is bound to one training statement (by its digest, the SHA-256 of its canonical
bytes, the same digest ``zkdl verify`` prints): the proof's weight commitments are that statement's final ones
(``WT.l``, ``bT.l``), never new ones. The public data are given by their hashes (:func:`array_sha256`) and
travel next to the statement as arrays (``inputs.npy``, ``labels.npy``, ``outputs.npy``).

Schema (version 1). Parsing is strict like ``statement.json``: exactly these keys, exactly these JSON types, no
duplicate keys; anything else raises :class:`~zkdl.errors.StatementFormatError`::

    version             integer 1
    kind                "evaluation" (a count of correct predictions on labelled data) or "inference"
                        (the outputs on given inputs)
    training_statement  64 lowercase hex digits: the digest of the training statement
    n_rows              integer ≥ 1: rows of the inputs
    test_data           "public" (inputs and labels given at evaluation time, by their hashes) or
                        "training-split" (they are also the held-out split committed in the training statement's
                        test_split before training; the openings of those commitments travel with the proof)
    inputs_sha256       64 lowercase hex digits: array_sha256 of the quantized inputs (int64, n_rows × d_0)
    labels_sha256       evaluation: 64 lowercase hex digits (array_sha256 of the int64 class labels); inference: null
    correct             evaluation: integer in [0, n_rows], the rows whose predicted class equals the label;
                        inference: null
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

from ..errors import StatementFormatError
from .statement import RANGE_BACKENDS, is_json_int

EVAL_STATEMENT_VERSION = 1
KINDS = ("evaluation", "inference")
TEST_DATA = ("public", "training-split")
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
_HEX = frozenset("0123456789abcdef")


def array_sha256(a: np.ndarray) -> str:
    """SHA-256 of an integer array: a domain tag, its shape and its entries as little-endian int64."""
    a = np.ascontiguousarray(np.asarray(a), dtype="<i8")
    head = b"zkdl/array/v1\0" + json.dumps(list(a.shape)).encode() + b"\0"
    return hashlib.sha256(head + a.tobytes()).hexdigest()


def _digest(v) -> bool:
    return isinstance(v, str) and len(v) == 64 and set(v) <= _HEX


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
    inputs_sha256: str
    range_backend: str
    generators_digest: str
    labels_sha256: str | None = None
    correct: int | None = None
    outputs_sha256: str | None = None
    test_data: str = "public"
    version: int = EVAL_STATEMENT_VERSION

    def __post_init__(self):
        self.check()

    def check(self) -> None:
        _need(self.version == EVAL_STATEMENT_VERSION, f"unsupported version {self.version!r}")
        _need(self.kind in KINDS, f"kind must be one of {list(KINDS)}")
        _need(self.test_data in TEST_DATA, f"test_data must be one of {list(TEST_DATA)}")
        _need(_digest(self.training_statement), "training_statement must be 64 lowercase hex digits")
        _need(is_json_int(self.n_rows) and self.n_rows >= 1, "n_rows must be an integer ≥ 1")
        _need(_digest(self.inputs_sha256), "inputs_sha256 must be 64 lowercase hex digits")
        _need(self.range_backend in RANGE_BACKENDS, f"range_backend must be one of {list(RANGE_BACKENDS)}")
        _need(_digest(self.generators_digest), "generators_digest must be 64 lowercase hex digits")
        if self.kind == "evaluation":
            _need(_digest(self.labels_sha256), "an evaluation needs labels_sha256 (64 lowercase hex digits)")
            _need(
                is_json_int(self.correct) and 0 <= self.correct <= self.n_rows,  # type: ignore[operator]
                "an evaluation needs correct, an integer in [0, n_rows]",
            )
            _need(self.outputs_sha256 is None, "an evaluation has outputs_sha256 null")
        else:
            _need(_digest(self.outputs_sha256), "an inference needs outputs_sha256 (64 lowercase hex digits)")
            _need(self.labels_sha256 is None and self.correct is None, "an inference has labels_sha256, correct null")

    @property
    def accuracy(self) -> float | None:
        return None if self.correct is None else self.correct / self.n_rows

    def to_dict(self) -> dict:
        return {k: getattr(self, k) for k in EVAL_STATEMENT_KEYS}

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
        _need(
            keys == set(EVAL_STATEMENT_KEYS),
            f"keys must be exactly {sorted(EVAL_STATEMENT_KEYS)}; missing "
            f"{sorted(set(EVAL_STATEMENT_KEYS) - keys)}, unknown {sorted(map(str, keys - set(EVAL_STATEMENT_KEYS)))}",
        )
        _need(is_json_int(d["version"]), "version must be an integer")
        _need(d["correct"] is None or is_json_int(d["correct"]), "correct must be null or an integer")
        for k in ("kind", "test_data", "range_backend"):
            _need(isinstance(d[k], str), f"{k} must be a string")
        return cls(**{k: d[k] for k in EVAL_STATEMENT_KEYS})

    @classmethod
    def from_json(cls, text: str | bytes) -> EvalStatement:
        def no_constants(name):
            raise StatementFormatError(f"malformed evaluation statement: {name} is not JSON")

        try:
            d = json.loads(text, object_pairs_hook=_reject_duplicates, parse_constant=no_constants)
        except (json.JSONDecodeError, UnicodeDecodeError, RecursionError) as exc:
            raise StatementFormatError(f"evaluation statement is not valid JSON: {exc}") from exc
        return cls.from_dict(d)
