"""Fuzz campaign against the verifier: mutated proofs and mutated statements of a small real run.

Proofs (``--proofs``, default 10^5) are mutated by: bit flips, byte runs (random, 0x00, 0xff), section reorder /
duplication / removal, section-length and payload length fields set to boundary values, truncation, extension,
field elements and G1 points overwritten with boundary encodings (r, r ± 1, 2^256 − 1, the identity, a point off
the prime-order subgroup, x ≥ p, flag bits cleared or set). Each mutant goes through ``zkdl.verify`` (the API).

Statements (``--statements``, default 10^4) are mutated at the JSON level (keys dropped, added, renamed or
duplicated; values replaced by other JSON types and by integer boundary values; nested params and commitments
changed) and at the text level (byte flips, truncation); each mutant goes through ``zkdl.verify`` and through the
command line (``zkdl.cli.main`` in-process, every ``--cli-every``-th also as a real ``python -m zkdl.cli``
subprocess).

Counted: ``accepted`` (verified VALID although the proof bytes, or the statement's meaning, changed: must be 0),
``crashed`` (an exception that is not one of zkdl's typed errors, a traceback, or a CLI exit other than 1/2:
must be 0), and the distribution of error types. Writes ``bench/results/fuzz.json``; with ``--budget-s`` it stops
early and reports the counts reached.

    python bench/fuzz.py                                  # 10^5 proofs, 10^4 statements
    python bench/fuzz.py --proofs 1000 --statements 1000  # the quick version (also in the test suite)
"""

from __future__ import annotations

import argparse
import collections
import contextlib
import io
import json
import os
import random
import struct
import subprocess
import sys
import tempfile
import time
import traceback
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

R = 0x73EDA753299D7D483339D80809A1D80553BDA402FFFE5BFEFFFFFFFF00000001
P = 0x1A0111EA397FE69A4B1BA7B6434BACD764774B84F38512BF6730D2A0F6B0F6241EABFFFEB153FFFFB9FEFFFFFFFFAAAB
U64_BOUNDS = [
    0,
    1,
    2,
    31,
    32,
    33,
    47,
    48,
    49,
    255,
    256,
    (1 << 31) - 1,
    1 << 31,
    (1 << 32) - 1,
    1 << 32,
    (1 << 63) - 1,
    1 << 63,
    (1 << 64) - 1,
]
INT_BOUNDS = [
    0,
    1,
    -1,
    2,
    3,
    16,
    17,
    31,
    32,
    62,
    63,
    64,
    255,
    256,
    1 << 31,
    1 << 32,
    (1 << 63) - 1,
    1 << 63,
    (1 << 64) - 1,
    1 << 64,
    -(1 << 63),
    10**30,
]


# =========================================================================================================
# the run
# =========================================================================================================
def make_run(zk: bool = True):
    """A small real run: widths (3, 3, 2), batch 2, 2 steps, 5 rows, lookup back-end. Returns (params,
    statement, proof)."""
    sys.path.insert(0, str(ROOT / "tests" / "zkdl"))
    from training_instances import build_and_prove

    from zkdl.commit.generators import PublicParams

    pp = PublicParams.ephemeral(4096)
    st, proof, _ = build_and_prove(pp, (3, 3, 2), 2, 2, 5, zk=zk)
    return pp, st, proof


# =========================================================================================================
# proof mutators
# =========================================================================================================
def _split_container(proof: bytes):
    plen = proof[12]
    prefix = proof[: 13 + plen]
    (n,) = struct.unpack_from("<I", proof, 13 + plen)
    pos = 17 + plen
    sections = []
    for _ in range(n):
        tag = proof[pos : pos + 4]
        (length,) = struct.unpack_from("<Q", proof, pos + 4)
        sections.append((tag, proof[pos + 12 : pos + 12 + length], pos))
        pos += 12 + length
    return prefix, sections


def _join(prefix: bytes, sections) -> bytes:
    out = bytearray(prefix) + struct.pack("<I", len(sections))
    for tag, payload in sections:
        out += tag + struct.pack("<Q", len(payload)) + payload
    return bytes(out)


class ProofMutator:
    def __init__(self, proof: bytes, seed: int):
        from py_arkworks_bls12381 import G1Point

        from zkdl.serialize.encoding import g1_from_bytes

        self.proof = proof
        self.rng = random.Random(seed)
        self.prefix, secs = _split_container(proof)
        self.sections = [(t, p) for t, p, _ in secs]
        self.section_pos = [pos for _, _, pos in secs]
        # offsets of compressed points and of field elements (found once by decoding; used as targets)
        self.points, self.frs = [], []
        for (_, payload), base in zip(self.sections, self.section_pos):
            start = base + 12
            i = 0
            while i + 48 <= len(payload):
                b = payload[i : i + 48]
                if b[0] & 0x80 and not b[0] & 0x40:
                    try:
                        g1_from_bytes(b, allow_identity=False)
                        self.points.append(start + i)
                        i += 48
                        continue
                    except ValueError:
                        pass
                i += 1
            i = 0
            while i + 8 <= len(payload):  # frs blocks: u64 count, then count canonical 32-byte elements
                (c,) = struct.unpack_from("<Q", payload, i)
                end = i + 8 + 32 * c
                if (
                    0 < c <= 4096
                    and end <= len(payload)
                    and all(int.from_bytes(payload[j : j + 32], "little") < R for j in range(i + 8, end, 32))
                ):
                    self.frs += [start + j for j in range(i + 8, end, 32)]
                    i = end
                else:
                    i += 1
        g = G1Point()
        self.bad_points = [
            bytes([0xC0]) + bytes(47),  # identity
            bytes([0xC0]) + bytes(46) + b"\x01",  # identity flag with garbage
            bytes([0xE0]) + bytes(47),  # identity with sign bit
            bytes([0x80]) + bytes(47),  # x = 0
            (P | (0x80 << 376)).to_bytes(48, "big"),  # x = p
            ((P + 1) | (0x80 << 376)).to_bytes(48, "big"),  # x = p + 1
            b"\xff" * 48,
            b"\x00" * 48,  # compression flag cleared
            (-g).to_compressed_bytes(),  # a valid point, not the one committed
            _non_subgroup_point(),
        ]
        self.bad_frs = [v.to_bytes(32, "little") for v in (R, R + 1, R - 1, (1 << 256) - 1, 0, 1, 1 << 255)]
        self.kinds = [
            "bitflip",
            "byterun",
            "section_reorder",
            "section_duplicate",
            "section_remove",
            "section_length",
            "length_field",
            "truncate",
            "extend",
            "point_boundary",
            "fr_boundary",
            "header_field",
        ]

    def mutate(self) -> tuple[str, bytes]:
        for _ in range(100):
            kind = self.rng.choice(self.kinds)
            out = getattr(self, "_" + kind)()
            if out != self.proof:
                return kind, out
        raise RuntimeError("no mutation changed the proof")

    def _bitflip(self):
        b = bytearray(self.proof)
        for _ in range(self.rng.choice([1, 1, 1, 2, 3, 8])):
            i = self.rng.randrange(len(b))
            b[i] ^= 1 << self.rng.randrange(8)
        return bytes(b)

    def _byterun(self):
        b = bytearray(self.proof)
        n = self.rng.choice([1, 2, 4, 8, 16, 32, 48, 100])
        i = self.rng.randrange(len(b))
        fill = self.rng.choice(["random", "zero", "ff"])
        for j in range(i, min(i + n, len(b))):
            b[j] = self.rng.randrange(256) if fill == "random" else (0 if fill == "zero" else 0xFF)
        return bytes(b)

    def _section_reorder(self):
        s = list(self.sections)
        self.rng.shuffle(s)
        return _join(self.prefix, s)

    def _section_duplicate(self):
        s = list(self.sections)
        k = self.rng.randrange(len(s))
        s.insert(self.rng.randrange(len(s) + 1), s[k])
        return _join(self.prefix, s)

    def _section_remove(self):
        s = list(self.sections)
        del s[self.rng.randrange(len(s))]
        return _join(self.prefix, s)

    def _section_length(self):
        b = bytearray(self.proof)
        pos = self.rng.choice(self.section_pos) + 4
        true = struct.unpack_from("<Q", b, pos)[0]
        v = self.rng.choice(U64_BOUNDS + [true - 1, true + 1, true + 32, max(0, true - 32)])
        struct.pack_into("<Q", b, pos, v % (1 << 64))
        return bytes(b)

    def _length_field(self):
        """An 8-byte word inside a payload (u64 counts and lengths live there) set to a boundary value."""
        b = bytearray(self.proof)
        k = self.rng.randrange(len(self.sections))
        base, n = self.section_pos[k] + 12, len(self.sections[k][1])
        if n < 8:
            return bytes(b)
        pos = base + self.rng.randrange(0, n - 7)
        if self.frs and self.rng.random() < 0.5:  # the count just before a known field-element block
            pos = max(self.section_pos[0] + 12, self.rng.choice(self.frs) - 8)
        cur = struct.unpack_from("<Q", b, pos)[0]
        struct.pack_into("<Q", b, pos, self.rng.choice(U64_BOUNDS + [cur + 1, max(cur - 1, 0)]) % (1 << 64))
        return bytes(b)

    def _truncate(self):
        return self.proof[: self.rng.randrange(len(self.proof))]

    def _extend(self):
        extra = self.rng.choice([b"\x00", b"\xff", bytes(32), os.urandom(self.rng.randrange(1, 100)), self.proof[-48:]])
        return self.proof + extra

    def _point_boundary(self):
        if not self.points:
            return self._bitflip()
        b = bytearray(self.proof)
        i = self.rng.choice(self.points)
        b[i : i + 48] = self.rng.choice(self.bad_points)
        return bytes(b)

    def _fr_boundary(self):
        if not self.frs:
            return self._bitflip()
        b = bytearray(self.proof)
        i = self.rng.choice(self.frs)
        b[i : i + 32] = self.rng.choice(self.bad_frs)
        return bytes(b)

    def _header_field(self):
        b = bytearray(self.proof)
        which = self.rng.choice(["magic", "version", "flags", "protolen", "nsections"])
        if which == "magic":
            b[self.rng.randrange(8)] ^= 0xFF
        elif which == "version":
            struct.pack_into("<H", b, 8, self.rng.choice([0, 2, 3, 0xFFFF]))
        elif which == "flags":
            struct.pack_into(
                "<H", b, 10, self.rng.choice([1, 2, 3, 0x8000, 0xFFFF]) ^ struct.unpack_from("<H", b, 10)[0]
            )
        elif which == "protolen":
            b[12] = self.rng.choice([0, 1, b[12] - 1, b[12] + 1, 255])
        else:
            struct.pack_into("<I", b, 13 + self.proof[12], self.rng.choice([0, 1, 3, 5, 16, 17, 0xFFFFFFFF]))
        return bytes(b)


def _non_subgroup_point() -> bytes:
    """A compressed point on the curve outside the prime-order subgroup (smallest x from 1)."""
    from py_arkworks_bls12381 import G1Point

    for x in range(1, 1000):
        for sign in (0, 0x20):
            b = (x | ((0x80 | sign) << 376)).to_bytes(48, "big")
            try:
                G1Point.from_compressed_bytes_unchecked(b)
            except Exception:  # noqa: BLE001 - not on the curve
                continue
            try:
                G1Point.from_compressed_bytes(b)
            except Exception:  # noqa: BLE001 - on the curve, not in the subgroup
                return b
    raise RuntimeError("no non-subgroup point found")


# =========================================================================================================
# statement mutators
# =========================================================================================================
class StatementMutator:
    def __init__(self, statement_json: str, seed: int):
        self.text = statement_json
        self.d = json.loads(statement_json)
        self.rng = random.Random(seed)
        self.kinds = [
            "drop_key",
            "add_key",
            "rename_key",
            "retype",
            "int_boundary",
            "param",
            "commitment",
            "duplicate_key",
            "text_flip",
            "text_truncate",
            "list_len",
        ]

    def mutate(self) -> tuple[str, str]:
        from zkdl.protocol.statement import Statement

        canon = Statement.from_json(self.text).canonical_bytes()
        for _ in range(100):
            kind = self.rng.choice(self.kinds)
            out = getattr(self, "_" + kind)()
            if out == self.text:
                continue
            try:  # a mutant that parses to the same statement (e.g. whitespace) is no mutation
                if Statement.from_json(out).canonical_bytes() == canon:
                    continue
            except Exception:  # noqa: BLE001 - it does not parse: a real mutation
                pass
            return kind, out
        raise RuntimeError("no mutation changed the statement")

    def _copy(self):
        return json.loads(json.dumps(self.d))

    def _value(self):
        return self.rng.choice(
            [
                None,
                True,
                False,
                0,
                1,
                -1,
                1.5,
                2.0,
                "1",
                "",
                "true",
                [],
                [1],
                {},
                {"a": 1},
                1 << 64,
                10**30,
                float("1e300"),
            ]
        )

    def _key(self, d):
        return self.rng.choice(sorted(d))

    def _drop_key(self):
        d = self._copy()
        target = d if self.rng.random() < 0.7 else d["params"]
        target.pop(self._key(target))
        return json.dumps(d)

    def _add_key(self):
        d = self._copy()
        target = d if self.rng.random() < 0.7 else d[self.rng.choice(["params", "commitments"])]
        target[self.rng.choice(["claimed_test_accuracy", "dataset", "extra", "Version", "steps "])] = self._value()
        return json.dumps(d)

    def _rename_key(self):
        d = self._copy()
        k = self._key(d)
        d[k.upper() if self.rng.random() < 0.5 else k + "_"] = d.pop(k)
        return json.dumps(d)

    def _retype(self):
        d = self._copy()
        k = self._key(d)
        v = d[k]
        choices = [self._value()]
        if isinstance(v, bool):
            choices += [str(v).lower(), int(v), [v]]
        elif isinstance(v, int):
            choices += [float(v), str(v), bool(v), [v]]
        elif isinstance(v, list):
            choices += [[str(x) for x in v], [float(x) if isinstance(x, int) else x for x in v], tuple(v) and v[0]]
        elif isinstance(v, str):
            choices += [v.upper(), v + "0", v[:-1], [v]]
        d[k] = self.rng.choice(choices)
        return json.dumps(d)

    def _int_boundary(self):
        d = self._copy()
        k = self.rng.choice(["batch_size", "steps", "n_rows", "schedule_seed", "version"])
        d[k] = self.rng.choice(INT_BOUNDS + [(d[k] or 0) + 1, (d[k] or 0) - 1])
        return json.dumps(d)

    def _param(self):
        d = self._copy()
        k = self._key(d["params"])
        d["params"][k] = self.rng.choice(
            INT_BOUNDS + [d["params"][k] + 1, d["params"][k] - 1, float(d["params"][k]), str(d["params"][k])]
        )
        return json.dumps(d)

    def _commitment(self):
        d = self._copy()
        names = sorted(d["commitments"])
        k = self.rng.choice(names)
        v = d["commitments"][k]
        op = self.rng.choice(["swap", "flip", "trunc", "upper", "drop"])
        if op == "swap":
            d["commitments"][k] = d["commitments"][self.rng.choice(names)]
        elif op == "flip":
            i = self.rng.randrange(len(v))
            d["commitments"][k] = v[:i] + format((int(v[i], 16) ^ (1 + self.rng.randrange(15))), "x") + v[i + 1 :]
        elif op == "trunc":
            d["commitments"][k] = v[: 2 * self.rng.randrange(len(v) // 2)]
        elif op == "upper":
            d["commitments"][k] = v.upper()
        else:
            del d["commitments"][k]
        return json.dumps(d)

    def _duplicate_key(self):
        k = self._key(self.d)
        body = json.dumps(self.d)
        return body[:-1] + f", {json.dumps(k)}: {json.dumps(self.d[k])}" + "}"

    def _text_flip(self):
        b = bytearray(self.text.encode())
        i = self.rng.randrange(len(b))
        b[i] ^= 1 << self.rng.randrange(8)
        return b.decode("utf-8", errors="surrogateescape")

    def _text_truncate(self):
        return self.text[: self.rng.randrange(len(self.text))]

    def _list_len(self):
        d = self._copy()
        k = self.rng.choice(["widths", "has_bias"])
        d[k] = d[k] + d[k][-1:] if self.rng.random() < 0.5 else d[k][:-1]
        return json.dumps(d)


# =========================================================================================================
# the campaign
# =========================================================================================================
class Tally:
    def __init__(self):
        self.n = 0
        self.accepted: list[dict] = []
        self.crashed: list[dict] = []
        self.errors: collections.Counter = collections.Counter()
        self.by_kind: dict[str, collections.Counter] = collections.defaultdict(collections.Counter)

    def add(self, kind: str, outcome: str, detail: dict | None = None):
        self.n += 1
        self.errors[outcome] += 1
        self.by_kind[kind][outcome] += 1
        if outcome == "ACCEPTED" and len(self.accepted) < 20:
            self.accepted.append({"kind": kind, **(detail or {})})
        if outcome.startswith("CRASH") and len(self.crashed) < 20:
            self.crashed.append({"kind": kind, **(detail or {})})

    def to_dict(self):
        return {
            "count": self.n,
            "accepted": self.errors["ACCEPTED"],
            "crashed": sum(v for k, v in self.errors.items() if k.startswith("CRASH")),
            "error_types": dict(self.errors.most_common()),
            "by_mutation": {k: dict(v) for k, v in sorted(self.by_kind.items())},
            "accepted_examples": self.accepted,
            "crash_examples": self.crashed,
        }


def verify_outcome(verify, proof, statement, **kw) -> tuple[str, dict]:
    """Run zkdl.verify; return ('ACCEPTED' | an error type name | 'CRASH:<exception>', detail)."""
    from zkdl.errors import ZkdlError

    try:
        res = verify(proof, statement, **kw)
    except ZkdlError as exc:  # unusable input: typed
        return type(exc).__name__, {}
    except Exception as exc:  # noqa: BLE001 - what the campaign is looking for
        return f"CRASH:{type(exc).__name__}", {"traceback": traceback.format_exc()[-1500:]}
    if res.valid:
        return "ACCEPTED", {}
    return res.error_type or "INVALID", {}


def cli_outcome(main, proof_path, statement_path, params_path) -> tuple[str, dict]:
    """zkdl verify in-process: exit 1 or 2 and no traceback, else a crash."""
    out, err = io.StringIO(), io.StringIO()
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            rc = main(["verify", str(proof_path), "--statement", str(statement_path), "--params", str(params_path)])
    except SystemExit as exc:
        rc = exc.code
    except Exception as exc:  # noqa: BLE001
        return f"CRASH:{type(exc).__name__}", {"traceback": traceback.format_exc()[-1500:]}
    if "Traceback" in err.getvalue():
        return "CRASH:traceback", {"stderr": err.getvalue()[-1500:]}
    if rc == 0:
        return "ACCEPTED", {}
    if rc not in (1, 2):
        return f"CRASH:exit{rc}", {"stderr": err.getvalue()[-500:]}
    return f"cli-exit-{rc}", {}


def cli_subprocess_outcome(proof_path, statement_path, params_path) -> tuple[str, dict]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    p = subprocess.run(
        [
            sys.executable,
            "-m",
            "zkdl.cli",
            "verify",
            str(proof_path),
            "--statement",
            str(statement_path),
            "--params",
            str(params_path),
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
    )
    if "Traceback" in p.stderr:
        return "CRASH:traceback", {"stderr": p.stderr[-1500:]}
    if p.returncode == 0:
        return "ACCEPTED", {}
    if p.returncode not in (1, 2):
        return f"CRASH:exit{p.returncode}", {"stderr": p.stderr[-500:]}
    return f"subprocess-exit-{p.returncode}", {}


def campaign(
    n_proofs: int,
    n_statements: int,
    *,
    seed: int = 0,
    budget_s: float | None = None,
    cli_every: int = 1,
    subprocess_every: int = 0,
    progress=None,
) -> dict:
    import zkdl
    from zkdl.cli import main

    t_start = time.perf_counter()
    pp, st, proof = make_run()
    base = zkdl.verify(proof, st, params=pp)
    assert base.valid, base.reason
    # with a budget, proofs get 80 % of it, statements the rest (and whatever the proofs left)
    deadline = None if budget_s is None else time.perf_counter() + 0.8 * budget_s
    proofs, statements = Tally(), Tally()
    pm = ProofMutator(proof, seed)
    t0 = time.perf_counter()
    for i in range(n_proofs):
        if deadline is not None and time.perf_counter() > deadline:
            break
        kind, mutant = pm.mutate()
        outcome, detail = verify_outcome(zkdl.verify, mutant, st, params=pp)
        proofs.add(kind, outcome, detail)
        if progress and (i + 1) % 1000 == 0:
            progress(f"proofs {i + 1}: {proofs.to_dict()['error_types']}")
    t_proofs = time.perf_counter() - t0

    sm = StatementMutator(st.to_json(), seed + 1)
    stopped = deadline is not None and time.perf_counter() > deadline
    if budget_s is not None:
        deadline = t_start + budget_s
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        from zkdl.commit.generators import setup

        params_path = tmp / "gens.bin"
        setup(zkdl.api._generators_needed(st), params_path)
        proof_path = tmp / "proof.zkdl"
        proof_path.write_bytes(proof)
        for i in range(n_statements):
            if deadline is not None and time.perf_counter() > deadline:
                break
            kind, text = sm.mutate()
            path = tmp / "st.json"
            path.write_bytes(text.encode("utf-8", errors="surrogateescape"))
            outcome, detail = verify_outcome(zkdl.verify, proof, path, params=pp)
            statements.add("api:" + kind, outcome, detail)
            if cli_every and i % cli_every == 0:
                outcome, detail = cli_outcome(main, proof_path, path, params_path)
                statements.add("cli:" + kind, outcome, detail)
            if subprocess_every and i % subprocess_every == 0:
                outcome, detail = cli_subprocess_outcome(proof_path, path, params_path)
                statements.add("subprocess:" + kind, outcome, detail)
            if progress and (i + 1) % 1000 == 0:
                progress(f"statements {i + 1}: {statements.to_dict()['error_types']}")
    t_statements = time.perf_counter() - t0
    return {
        "bench": "fuzz",
        "run": "widths (3, 3, 2), batch 2, 2 steps, 5 rows, lookup, zero-knowledge",
        "seed": seed,
        "requested": {"proofs": n_proofs, "statements": n_statements},
        "proof_bytes": len(proof),
        "proof_targets": {"points": len(pm.points), "field_elements": len(pm.frs)},
        "proofs": proofs.to_dict(),
        "statements": statements.to_dict(),
        "seconds": {
            "proofs": round(t_proofs, 1),
            "statements": round(t_statements, 1),
            "total": round(time.perf_counter() - t_start, 1),
        },
        "stopped_by_budget": stopped or (deadline is not None and time.perf_counter() > deadline),
    }


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--proofs", type=int, default=100_000)
    ap.add_argument("--statements", type=int, default=10_000)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument(
        "--budget-s",
        type=float,
        default=None,
        help="stop after about this many seconds (80 %% proofs, then statements) and report the counts",
    )
    ap.add_argument("--subprocess-every", type=int, default=500, help="every k-th statement also as a subprocess")
    ap.add_argument("--out", default=str(ROOT / "bench" / "results" / "fuzz.json"))
    args = ap.parse_args()
    res = campaign(
        args.proofs,
        args.statements,
        seed=args.seed,
        budget_s=args.budget_s,
        subprocess_every=args.subprocess_every,
        progress=lambda m: print(m, file=sys.stderr, flush=True),
    )
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(res, indent=2) + "\n")
    print(json.dumps({k: res[k] for k in ("requested", "seconds", "stopped_by_budget")}))
    print(
        json.dumps(
            {
                "proofs": {k: res["proofs"][k] for k in ("count", "accepted", "crashed", "error_types")},
                "statements": {k: res["statements"][k] for k in ("count", "accepted", "crashed", "error_types")},
            }
        )
    )


if __name__ == "__main__":
    main()
