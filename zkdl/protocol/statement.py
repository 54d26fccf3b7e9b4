"""The statement of a training proof: everything public, as data (``statement.json``).

The statement is always an argument of ``verify``; it is never read back from the proof. Its canonical JSON
encoding (sorted keys, no whitespace) is absorbed into the transcript before the first challenge, so a proof
made for one statement fails for any other.

Schema (``statement.json``, version 1). Parsing is strict: exactly these keys, exactly these JSON types, no
duplicate keys; anything else raises :class:`~zkdl.errors.StatementFormatError`, so a reader of the file never
sees a claim that nothing checked (an extra ``"claimed_test_accuracy"``, ``has_bias: ["false"]``, ``2.0``)::

    version            integer 1
    widths             array of ≥ 2 integers ≥ 1
    has_bias           array of booleans, one per layer
    params             object: exactly the integer fields of FixedPointParams (frac_bits, lr_shift, input_bits,
                       label_bits, weight_bits, bias_bits, act_bits, grad_bits, update_bits)
    batch_size, steps, n_rows   integers ≥ 1
    schedule_seed      null or an integer in [0, 2^64)
    range_backend      "lookup" or "bits"
    generators_digest  64 lowercase hex digits
    commitments        object: name → lowercase hex of the serialized commitment
    test_split         OPTIONAL (absent unless the run committed one; a statement without it is byte-identical to
                       one from before the field existed): object with exactly ``n_rows`` (integer ≥ 1), ``X`` and
                       ``Y`` (lowercase hex of the serialized commitments to the held-out inputs, padded to
                       pow2(n_rows) × pow2(d_0), and to their one-hot labels, pow2(n_rows) × pow2(d_L), entries 0/1),
                       committed before any training step is proven (``docs/evaluation.md``)
    step_offset        OPTIONAL integer ≥ 1: the global index of the statement's first step (a chunk of a chunked
                       run, ``zkdl.runs``); absent means 0, and a statement with offset 0 never writes the key, so
                       an unchunked statement (and the proof over its bytes) is unchanged by the field
    loss               OPTIONAL: "ce" (softmax cross-entropy, ``relations/loss.py``); absent means MSE, and
                       "mse" itself is not accepted (one encoding per statement, so MSE statements and their
                       proofs are byte-identical to those of versions without this field)
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field

from ..commit.pedersen import Commitment, Layout
from ..errors import ProofFormatError, StatementFormatError, StatementMismatch, ZkdlError
from ..quant.fixedpoint import FixedPointParams
from ..serialize import SubgroupChecks
from .shapes import Shapes, pow2

STATEMENT_VERSION = 1
RANGE_BACKENDS = ("lookup", "bits")
LOSSES = ("mse", "ce")
#: Keys a statement may carry in addition to :data:`STATEMENT_KEYS` (each only when not at its default).
PARAM_KEYS = (
    "frac_bits",
    "lr_shift",
    "input_bits",
    "label_bits",
    "weight_bits",
    "bias_bits",
    "act_bits",
    "grad_bits",
    "update_bits",
)
STATEMENT_KEYS = (
    "version",
    "widths",
    "has_bias",
    "params",
    "batch_size",
    "steps",
    "n_rows",
    "schedule_seed",
    "range_backend",
    "generators_digest",
    "commitments",
)
TEST_SPLIT_KEY = "test_split"
OPTIONAL_STATEMENT_KEYS = ("step_offset", TEST_SPLIT_KEY, "loss")
_HEX = frozenset("0123456789abcdef")


def is_json_int(v) -> bool:
    """A JSON integer (``bool`` is not one)."""
    return isinstance(v, int) and not isinstance(v, bool)


def _need(cond: bool, what: str) -> None:
    if not cond:
        raise StatementFormatError(f"malformed statement: {what}")


def _reject_duplicates(pairs):
    out = {}
    for k, v in pairs:
        if k in out:
            raise StatementFormatError(f"malformed statement: duplicate key {k!r}")
        out[k] = v
    return out


def _lower_hex(v) -> bool:
    return isinstance(v, str) and len(v) % 2 == 0 and set(v) <= _HEX


@dataclass(frozen=True)
class Statement:
    """Public inputs of a training proof.

    ``commitments`` maps names to commitments: ``X`` (dataset, N'×d'_0), ``Y`` (labels, N'×d'_L), and per layer
    ``l = 1..L``: ``W0.l``, ``WT.l`` (initial and final weights, d'_{l-1}×d'_l) and, for layers with a bias,
    ``b0.l``, ``bT.l`` (d'_l). Tensors are zero-padded axis by axis to powers of two before committing.
    """

    widths: tuple[int, ...]
    has_bias: tuple[bool, ...]
    params: FixedPointParams
    batch_size: int
    steps: int
    n_rows: int
    schedule_seed: int | None
    range_backend: str
    generators_digest: str
    commitments: dict[str, Commitment] = field(default_factory=dict)
    version: int = STATEMENT_VERSION
    #: the held-out split committed with the statement: ``{"n_rows": int, "X": Commitment, "Y": Commitment}``
    test_split: dict | None = None
    step_offset: int = 0  #: global index of the first step (chunks of a run); its batches are rows(step_offset + t)
    loss: str = "mse"

    def __post_init__(self):
        object.__setattr__(self, "params", _fixed_point_params(self.params))
        object.__setattr__(self, "widths", tuple(int(w) for w in self.widths))
        object.__setattr__(self, "has_bias", tuple(bool(b) for b in self.has_bias))
        if len(self.widths) < 2 or any(w < 1 for w in self.widths):
            raise StatementMismatch(f"widths must list at least two positive sizes, got {self.widths}")
        if len(self.has_bias) != len(self.widths) - 1:
            raise StatementMismatch("has_bias needs one flag per layer")
        if self.batch_size < 1 or self.steps < 1 or self.n_rows < 1:
            raise StatementMismatch("batch_size, steps and n_rows must be positive")
        if not is_json_int(self.step_offset) or not 0 <= self.step_offset < 1 << 62:
            raise StatementMismatch(f"step_offset must be an integer in [0, 2^62), got {self.step_offset!r}")
        if self.range_backend not in RANGE_BACKENDS:
            raise StatementMismatch(f"unknown range backend {self.range_backend!r}; use one of {RANGE_BACKENDS}")
        if self.loss not in LOSSES:
            raise StatementMismatch(f"unknown loss {self.loss!r}; use one of {LOSSES}")

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
            raise StatementMismatch(
                f"statement commitments do not match the architecture: missing {missing}, unexpected {extra}"
            )
        for name, n in expected.items():
            lay = self.commitments[name].layout
            if lay.size != n or lay.n_entries != n:
                raise StatementMismatch(f"commitment {name} covers {lay.n_entries} entries, expected {n}")
            if lay != Layout.for_length(n):
                raise StatementMismatch(
                    f"commitment {name} is laid out as 2^{lay.log_rows} × 2^{lay.log_cols}; only the canonical "
                    f"layout 2^{Layout.for_length(n).log_rows} × 2^{Layout.for_length(n).log_cols} is accepted"
                )
        self.check_test_split()

    def test_split_tables(self) -> dict[str, int]:
        """Name → padded number of entries of the test split's commitments (empty without a test split)."""
        if self.test_split is None:
            return {}
        n = pow2(self.test_split["n_rows"])
        return {"X": n * pow2(self.widths[0]), "Y": n * pow2(self.widths[-1])}

    def check_test_split(self) -> None:
        for name, n in self.test_split_tables().items():
            assert self.test_split is not None
            if self.test_split[name].layout != Layout.for_length(n):
                raise StatementMismatch(f"the test split's commitment {name} is not laid out for {n} entries")

    # --- encoding -----------------------------------------------------------------------------------------
    def to_dict(self) -> dict:
        out = {
            "version": self.version,
            "widths": list(self.widths),
            "has_bias": list(self.has_bias),
            "params": self.params.to_dict(),
            "batch_size": self.batch_size,
            "steps": self.steps,
            "n_rows": self.n_rows,
            "schedule_seed": self.schedule_seed,
            "range_backend": self.range_backend,
            "generators_digest": self.generators_digest,
            "commitments": {k: self.commitments[k].to_bytes().hex() for k in sorted(self.commitments)},
        }
        if self.step_offset:  # absent for 0: an unchunked statement keeps its bytes (module docstring)
            out["step_offset"] = self.step_offset
        if self.loss != "mse":  # absent for MSE: MSE statements encode exactly as before the field existed
            out["loss"] = self.loss
        return out | self._test_split_dict()

    def _test_split_dict(self) -> dict:
        if self.test_split is None:
            return {}
        ts = self.test_split
        return {TEST_SPLIT_KEY: {"n_rows": ts["n_rows"], "X": ts["X"].to_bytes().hex(), "Y": ts["Y"].to_bytes().hex()}}

    def canonical_bytes(self) -> bytes:
        return json.dumps(self.to_dict(), sort_keys=True, separators=(",", ":")).encode()

    def digest(self) -> bytes:
        return hashlib.sha256(b"zkdl/statement/v1\0" + self.canonical_bytes()).digest()

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, sort_keys=True) + "\n"

    @classmethod
    def from_dict(cls, d: dict, *, subgroup: SubgroupChecks | None = None) -> Statement:
        """Parse the one schema (module docstring) strictly; raises :class:`StatementFormatError`.

        ``subgroup`` (a verifier only): the commitments' encodings are checked here and their points'
        decompression and prime-order-subgroup checks deferred to that collector, which rejects a point off the
        curve or off the subgroup with a :class:`StatementFormatError`; until its ``finish`` passed, the statement
        must not be trusted. Without it every point is fully checked here."""
        _need(isinstance(d, dict), "the statement must be a JSON object")
        keys = set(d)
        allowed = set(STATEMENT_KEYS) | set(OPTIONAL_STATEMENT_KEYS)
        _need(
            set(STATEMENT_KEYS) <= keys <= allowed,
            f"keys must be exactly {sorted(STATEMENT_KEYS)} (optionally {list(OPTIONAL_STATEMENT_KEYS)}); missing "
            f"{sorted(set(STATEMENT_KEYS) - keys)}, unknown {sorted(map(str, keys - allowed))}",
        )
        offset = d.get("step_offset", 0)
        _need(
            is_json_int(offset) and 0 <= offset < 1 << 62 and ("step_offset" not in d or offset >= 1),
            "step_offset must be an integer in [1, 2^62) when present (0 is written by leaving it out)",
        )
        loss = d.get("loss", "mse")
        _need(
            "loss" not in d or (isinstance(loss, str) and loss in LOSSES and loss != "mse"),
            'loss must be "ce" when present (MSE is the default and is written by leaving the key out)',
        )
        _need(is_json_int(d["version"]), "version must be an integer")
        if d["version"] != STATEMENT_VERSION:
            raise StatementFormatError(f"unsupported statement version {d['version']!r}")
        w = d["widths"]
        _need(
            isinstance(w, list) and len(w) >= 2 and all(is_json_int(x) and x >= 1 for x in w),
            "widths must be an array of at least two integers ≥ 1",
        )
        hb = d["has_bias"]
        _need(
            isinstance(hb, list) and all(isinstance(x, bool) for x in hb) and len(hb) == len(w) - 1,
            "has_bias must be an array of booleans, one per layer",
        )
        p = d["params"]
        _need(
            isinstance(p, dict) and set(p) == set(PARAM_KEYS) and all(is_json_int(v) for v in p.values()),
            f"params must be an object with exactly the integer fields {list(PARAM_KEYS)}",
        )
        for k in ("batch_size", "steps", "n_rows"):
            _need(is_json_int(d[k]) and d[k] >= 1, f"{k} must be an integer ≥ 1")
        seed = d["schedule_seed"]
        _need(
            seed is None or (is_json_int(seed) and 0 <= seed < 1 << 64),
            "schedule_seed must be null or an integer in [0, 2^64)",
        )
        _need(
            d["range_backend"] in RANGE_BACKENDS and isinstance(d["range_backend"], str),
            f"range_backend must be one of {list(RANGE_BACKENDS)}",
        )
        gd = d["generators_digest"]
        _need(_lower_hex(gd) and len(gd) == 64, "generators_digest must be 64 lowercase hex digits")
        c = d["commitments"]
        _need(
            isinstance(c, dict) and all(isinstance(k, str) and _lower_hex(v) and v for k, v in c.items()),
            "commitments must be an object of name → lowercase hex",
        )
        try:
            coms = {k: _commitment(v, subgroup, "a commitment") for k, v in c.items()}
        except ProofFormatError as exc:
            raise StatementFormatError(f"malformed statement: a commitment does not decode: {exc}") from exc
        test_split = _parse_test_split(d[TEST_SPLIT_KEY], subgroup) if TEST_SPLIT_KEY in d else None
        try:
            return cls(
                test_split=test_split,
                widths=tuple(w),
                has_bias=tuple(hb),
                params=_fixed_point_params(dict(p)),
                batch_size=d["batch_size"],
                steps=d["steps"],
                n_rows=d["n_rows"],
                schedule_seed=seed,
                range_backend=d["range_backend"],
                generators_digest=gd,
                commitments=coms,
                step_offset=offset,
                loss=loss,
            )
        except StatementMismatch as exc:
            raise StatementFormatError(f"malformed statement: {exc}") from exc

    @classmethod
    def from_json(cls, text: str | bytes, *, subgroup: SubgroupChecks | None = None) -> Statement:
        """Parse ``statement.json`` (duplicate keys, NaN/Infinity and non-UTF-8 text are rejected); ``subgroup``:
        as in :meth:`from_dict`."""

        def no_constants(name):
            raise StatementFormatError(f"malformed statement: {name} is not JSON")

        try:
            d = json.loads(text, object_pairs_hook=_reject_duplicates, parse_constant=no_constants)
        except (json.JSONDecodeError, UnicodeDecodeError, RecursionError) as exc:
            raise StatementFormatError(f"statement is not valid JSON: {exc}") from exc
        return cls.from_dict(d, subgroup=subgroup)


def _commitment(hex_text: str, subgroup: SubgroupChecks | None, what: str) -> Commitment:
    """A commitment of the statement; with ``subgroup``, its points' subgroup checks are deferred there and an
    off-subgroup point is reported as a malformed statement (``what`` names the kind of commitment)."""
    data = bytes.fromhex(hex_text)
    if subgroup is None:
        return Commitment.from_bytes(data)
    with subgroup.errors_as(lambda exc: StatementFormatError(f"malformed statement: {what} does not decode: {exc}")):
        return Commitment.from_bytes(data, subgroup=subgroup)


def _fixed_point_params(p: FixedPointParams | dict) -> FixedPointParams:
    """The statement's fixed-point parameters, parsed once: a :class:`FixedPointParams`, or a mapping of its fields
    (a complete mapping must already be in canonical form, i.e. be what ``to_dict`` writes)."""
    if isinstance(p, FixedPointParams):
        return p
    if not isinstance(p, dict):
        raise StatementMismatch(f"params must be FixedPointParams or a mapping of its fields, got {type(p).__name__}")
    try:
        fp = FixedPointParams(**p)
    except (ZkdlError, TypeError) as exc:
        raise StatementMismatch(f"unusable fixed-point parameters in the statement: {exc}") from exc
    if set(p) == set(PARAM_KEYS) and fp.to_dict() != {k: int(v) for k, v in p.items()}:
        raise StatementMismatch("the statement's fixed-point parameters are not in canonical form")
    return fp


def _parse_test_split(ts, subgroup: SubgroupChecks | None = None) -> dict:
    _need(
        isinstance(ts, dict) and set(ts) == {"n_rows", "X", "Y"},
        "test_split must be an object with exactly n_rows, X and Y",
    )
    _need(is_json_int(ts["n_rows"]) and ts["n_rows"] >= 1, "test_split.n_rows must be an integer ≥ 1")
    _need(all(_lower_hex(ts[k]) and ts[k] for k in ("X", "Y")), "test_split.X and .Y must be lowercase hex")
    try:
        return {"n_rows": ts["n_rows"], **{k: _commitment(ts[k], subgroup, "a test split commitment") for k in "XY"}}
    except ProofFormatError as exc:
        raise StatementFormatError(f"malformed statement: a test split commitment does not decode: {exc}") from exc


def padded_rows(statement: Statement) -> int:
    return pow2(statement.n_rows)
