"""The run manifest (``run.json``) and the chain checks of a chunked run.

``run.json`` (version 1), parsed strictly (exactly these keys and JSON types, no duplicates; anything else is a
:class:`~zkdl.errors.RunFormatError`)::

    format             "zkdl-run"
    version            integer 1
    widths, has_bias, params, batch_size, n_rows, schedule_seed, range_backend, generators_digest
                       as in statement.json; every chunk's statement carries the same values
    steps              integer T ≥ 1: steps of the whole run
    chunks             array of [start, stop] pairs: chunk k proves steps start..stop-1
    data               object: "X", "Y" → hex of the dataset and label commitments every chunk shares
    initial            object: "W0.l" / "b0.l" → hex of chunk 0's initial weight commitments
    final              object: "WT.l" / "bT.l" → hex of the last chunk's final weight commitments
    statement_digests  array of 64-hex-digit SHA-256 digests (``Statement.digest``), one per chunk, in order
    zero_knowledge     boolean: the mode the chunk proofs were made in

The chain (:func:`check_chain`): the chunks are exactly ``chunks/0000 .. chunks/K-1``; chunk k's statement has the
digest the manifest lists, step offset ``start_k``, ``stop_k − start_k`` steps, the manifest's architecture,
parameters, schedule and dataset commitments; its initial weight commitments are byte for byte the final ones of
chunk k−1 (chunk 0: the manifest's ``initial``; the last chunk's final ones: ``final``); the chunks cover
``0..T`` without a gap or an overlap. Together with every chunk proof this proves T consecutive SGD steps from the
committed initial weights to the committed final weights on one committed dataset.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import ChainError, RunFormatError, StatementFormatError
from ..protocol.statement import Statement

RUN_FORMAT = "zkdl-run"
RUN_VERSION = 1
MANIFEST_FILE = "run.json"
CHUNKS_DIR = "chunks"
PROOF_FILE = "proof.zkdl"
STATEMENT_FILE = "statement.json"
SHARED_FIELDS = (
    "widths",
    "has_bias",
    "params",
    "batch_size",
    "n_rows",
    "schedule_seed",
    "range_backend",
    "generators_digest",
)
MANIFEST_KEYS = (
    "format",
    "version",
    *SHARED_FIELDS,
    "steps",
    "chunks",
    "data",
    "initial",
    "final",
    "statement_digests",
    "zero_knowledge",
)


def chunk_dir(index: int) -> str:
    """The directory of chunk ``index`` relative to the run directory."""
    return f"{CHUNKS_DIR}/{index:04d}"


def initial_names(st: Statement) -> list[str]:
    out = []
    for l in range(1, st.num_layers + 1):
        out.append(f"W0.{l}")
        if st.has_bias[l - 1]:
            out.append(f"b0.{l}")
    return out


def final_name(initial: str) -> str:
    """``W0.l`` → ``WT.l``, ``b0.l`` → ``bT.l``."""
    return initial.replace("0.", "T.", 1)


@dataclass(frozen=True)
class RunManifest:
    """What ``run.json`` holds (module docstring)."""

    shared: dict  # SHARED_FIELDS → values, as in statement.json
    steps: int
    chunks: tuple[tuple[int, int], ...]
    data: dict[str, str]
    initial: dict[str, str]
    final: dict[str, str]
    statement_digests: tuple[str, ...]
    zero_knowledge: bool
    extra: dict = field(default_factory=dict)

    @classmethod
    def of(cls, statements: list[Statement], *, zero_knowledge: bool) -> RunManifest:
        """The manifest of a run whose chunk statements are ``statements`` (in order)."""
        first, last = statements[0], statements[-1]
        d = first.to_dict()
        return cls(
            shared={k: d[k] for k in SHARED_FIELDS},
            steps=sum(st.steps for st in statements),
            chunks=tuple((st.step_offset, st.step_offset + st.steps) for st in statements),
            data={k: first.commitments[k].to_bytes().hex() for k in ("X", "Y")},
            initial={k: first.commitments[k].to_bytes().hex() for k in initial_names(first)},
            final={final_name(k): last.commitments[final_name(k)].to_bytes().hex() for k in initial_names(last)},
            statement_digests=tuple(st.digest().hex() for st in statements),
            zero_knowledge=zero_knowledge,
        )

    def to_dict(self) -> dict:
        return {
            "format": RUN_FORMAT,
            "version": RUN_VERSION,
            **self.shared,
            "steps": self.steps,
            "chunks": [list(c) for c in self.chunks],
            "data": dict(sorted(self.data.items())),
            "initial": dict(sorted(self.initial.items())),
            "final": dict(sorted(self.final.items())),
            "statement_digests": list(self.statement_digests),
            "zero_knowledge": self.zero_knowledge,
        }

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=1, sort_keys=True) + "\n"

    @classmethod
    def from_json(cls, text: str | bytes) -> RunManifest:
        def dup(pairs):
            out = {}
            for k, v in pairs:
                if k in out:
                    raise RunFormatError(f"malformed run manifest: duplicate key {k!r}")
                out[k] = v
            return out

        def no_constants(name):
            raise RunFormatError(f"malformed run manifest: {name} is not JSON")

        try:
            d = json.loads(text, object_pairs_hook=dup, parse_constant=no_constants)
        except (json.JSONDecodeError, UnicodeDecodeError, RecursionError) as exc:
            raise RunFormatError(f"run manifest is not valid JSON: {exc}") from exc
        return cls.from_dict(d)

    @classmethod
    def from_dict(cls, d) -> RunManifest:
        def need(cond, what):
            if not cond:
                raise RunFormatError(f"malformed run manifest: {what}")

        def is_int(v):
            return isinstance(v, int) and not isinstance(v, bool)

        def hexmap(v):
            return isinstance(v, dict) and all(isinstance(k, str) and _hex(x) for k, x in v.items())

        need(isinstance(d, dict), "the manifest must be a JSON object")
        need(
            set(d) == set(MANIFEST_KEYS),
            f"keys must be exactly {sorted(MANIFEST_KEYS)}; missing {sorted(set(MANIFEST_KEYS) - set(d))}, "
            f"unknown {sorted(map(str, set(d) - set(MANIFEST_KEYS)))}",
        )
        need(d["format"] == RUN_FORMAT, f"format must be {RUN_FORMAT!r}")
        need(is_int(d["version"]), "version must be an integer")
        if d["version"] != RUN_VERSION:
            raise RunFormatError(f"unsupported run manifest version {d['version']!r}")
        need(is_int(d["steps"]) and d["steps"] >= 1, "steps must be an integer ≥ 1")
        ch = d["chunks"]
        need(
            isinstance(ch, list)
            and len(ch) >= 1
            and all(isinstance(c, list) and len(c) == 2 and all(is_int(x) and x >= 0 for x in c) for c in ch),
            "chunks must be a non-empty array of [start, stop] integer pairs",
        )
        sd = d["statement_digests"]
        need(
            isinstance(sd, list) and all(_hex(x) and len(x) == 64 for x in sd),
            "statement_digests must be an array of 64-hex-digit digests",
        )
        for k in ("data", "initial", "final"):
            need(hexmap(d[k]), f"{k} must be an object of name → lowercase hex")
        need(isinstance(d["zero_knowledge"], bool), "zero_knowledge must be a boolean")
        # the shared fields are checked by the statement's own parser (through a probe statement)
        probe = {**{k: d[k] for k in SHARED_FIELDS}, "version": 1, "steps": 1, "commitments": {}}
        try:
            Statement.from_dict(probe)
        except StatementFormatError as exc:  # the same words for the same fields
            raise RunFormatError(f"malformed run manifest: {exc}") from exc
        return cls(
            shared={k: d[k] for k in SHARED_FIELDS},
            steps=d["steps"],
            chunks=tuple((a, b) for a, b in ch),
            data=dict(d["data"]),
            initial=dict(d["initial"]),
            final=dict(d["final"]),
            statement_digests=tuple(sd),
            zero_knowledge=d["zero_knowledge"],
        )


def _hex(v) -> bool:
    return isinstance(v, str) and len(v) % 2 == 0 and bool(v) and set(v) <= set("0123456789abcdef")


def chunk_dirs_on_disk(run_dir: Path) -> list[str]:
    """Names of the entries under ``chunks/`` (sorted)."""
    root = run_dir / CHUNKS_DIR
    return sorted(p.name for p in root.iterdir()) if root.is_dir() else []


def check_layout(m: RunManifest, run_dir: Path) -> None:
    """The chunk directories are exactly ``chunks/0000 .. chunks/K-1`` with a proof and a statement each."""
    k = len(m.chunks)
    if len(m.statement_digests) != k:
        raise ChainError(f"the manifest lists {k} chunks but {len(m.statement_digests)} statement digests")
    expected = {f"{i:04d}" for i in range(k)}
    on_disk = chunk_dirs_on_disk(run_dir)
    extra = sorted(set(on_disk) - expected)
    if extra:
        raise ChainError(
            f"unexpected chunk {CHUNKS_DIR}/{extra[0]}: the manifest lists {k} chunks (0000..{k - 1:04d})",
            chunk=int(extra[0]) if extra[0].isdigit() else None,
        )
    for i in range(k):
        d = run_dir / chunk_dir(i)
        for f in (STATEMENT_FILE, PROOF_FILE):
            if not (d / f).is_file():
                raise ChainError(f"chunk {i} is missing: {chunk_dir(i)}/{f} does not exist", chunk=i)


def check_chain(m: RunManifest, statements: list[Statement]) -> None:
    """Raise :class:`ChainError` naming the first chunk that breaks the chain (module docstring)."""
    k = len(m.chunks)
    if len(statements) != k:
        raise ChainError(f"the run has {len(statements)} chunk statements, the manifest lists {k}")
    # the manifest's own boundaries: consecutive, non-empty, covering 0..T
    pos = 0
    for i, (a, b) in enumerate(m.chunks):
        if a != pos:
            raise ChainError(f"chunk {i} starts at step {a}, expected {pos} (a gap or an overlap)", chunk=i)
        if b <= a:
            raise ChainError(f"chunk {i} holds no steps ({a}..{b})", chunk=i)
        pos = b
    if pos != m.steps:
        raise ChainError(f"the chunks cover steps 0..{pos}, the run has {m.steps} steps (truncated run)")
    prev_final: dict[str, str] | None = None
    for i, (st, (a, b), digest) in enumerate(zip(statements, m.chunks, m.statement_digests)):
        if st.digest().hex() != digest:
            raise ChainError(
                f"chunk {i}: its statement is not the one the manifest lists (digest {st.digest().hex()[:16]}… ≠ "
                f"{digest[:16]}…): a foreign, reordered or replaced chunk",
                chunk=i,
            )
        d = st.to_dict()
        for f in SHARED_FIELDS:
            if d[f] != m.shared[f]:
                what = "schedule" if f in ("schedule_seed", "batch_size", "n_rows") else f
                raise ChainError(f"chunk {i}: its {f} differs from the run's (another {what})", chunk=i)
        if st.step_offset != a or st.steps != b - a:
            raise ChainError(
                f"chunk {i} proves steps {st.step_offset}..{st.step_offset + st.steps - 1}, the manifest places it "
                f"at steps {a}..{b - 1} (reordered or duplicated chunk)",
                chunk=i,
            )
        hexes = {n: c.to_bytes().hex() for n, c in st.commitments.items()}
        for n in ("X", "Y"):
            if hexes.get(n) != m.data.get(n):
                raise ChainError(f"chunk {i} commits another dataset ({n} differs from the run's)", chunk=i)
        names = initial_names(st)
        initial = {n: hexes.get(n, "") for n in names}
        if i == 0:
            if initial != m.initial:
                raise ChainError("chunk 0: its initial weights are not the run's initial weights", chunk=0)
        elif prev_final is not None:
            for n in names:
                if initial[n] != prev_final.get(final_name(n)):
                    raise ChainError(
                        f"chunk {i}: its initial {n} is not chunk {i - 1}'s final {final_name(n)} (broken link)",
                        chunk=i,
                    )
        prev_final = {final_name(n): hexes.get(final_name(n), "") for n in names}
    if prev_final != m.final:
        raise ChainError(f"chunk {k - 1}: its final weights are not the run's final weights", chunk=k - 1)
