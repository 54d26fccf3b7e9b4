"""Tests of the Fiat–Shamir transcript: framing, binding of every absorbed item, challenge hygiene, replay."""

from __future__ import annotations

import hashlib
import struct

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from py_arkworks_bls12381 import G1Point, Scalar

from zkdl.errors import FieldRangeError
from zkdl.serialize import FR_MODULUS as R
from zkdl.serialize import ContainerReader, ContainerWriter
from zkdl.transcript import Transcript, first_divergence

G = G1Point()


def pt(k: int) -> G1Point:
    return G * Scalar(k)


class FakeFr:
    """Stands in for zkdl.field.Fr: only ``to_le_bytes()`` is used by the transcript."""

    def __init__(self, ints):
        self._b = b"".join(int(x).to_bytes(32, "little") for x in ints)

    def to_le_bytes(self) -> bytes:
        return self._b


# ------------------------------------------------------------------ an independent model of docs/transcript.md


def _lab(label) -> bytes:
    b = label.encode() if isinstance(label, str) else label
    return bytes([len(b)]) + b


def _u64(v) -> bytes:
    return struct.pack("<Q", v)


def ref_record(op) -> bytes:
    """Bytes that docs/transcript.md says an absorb appends (written from the doc, not from the code)."""
    kind, label, value = op
    if kind == "fr":
        return b"\x01" + _lab(label) + value.to_bytes(32, "little")
    if kind == "frs":
        return b"\x02" + _lab(label) + _u64(len(value)) + b"".join(x.to_bytes(32, "little") for x in value)
    if kind == "g1":
        return b"\x03" + _lab(label) + pt(value).to_compressed_bytes()
    if kind == "g1s":
        return b"\x04" + _lab(label) + _u64(len(value)) + b"".join(pt(k).to_compressed_bytes() for k in value)
    if kind == "bytes":
        return b"\x05" + _lab(label) + _u64(len(value)) + value
    if kind == "shape":
        return b"\x06" + _lab(label) + _u64(len(value)) + b"".join(_u64(d) for d in value)
    if kind == "u64":
        return b"\x07" + _lab(label) + _u64(value)
    raise AssertionError(kind)


def ref_init(protocol="zkdl/test", version=1) -> bytes:
    return b"\x00" + _lab(b"zkdl/transcript/v1") + _lab(protocol) + version.to_bytes(2, "little")


def ref_parse(stream: bytes):
    """Parse a stream of absorb records back into ops: proves the framing is prefix-free (injective)."""
    ops, i = [], 0
    sizes = {1: 32, 3: 48, 7: 8}
    units = {2: 32, 4: 48, 5: 1, 6: 8}
    while i < len(stream):
        kind = stream[i]
        n = stream[i + 1]
        label = stream[i + 2 : i + 2 + n]
        i += 2 + n
        if kind in sizes:
            payload = stream[i : i + sizes[kind]]
            i += sizes[kind]
            ops.append((kind, label, None, payload))
        else:
            cnt = struct.unpack_from("<Q", stream, i)[0]
            i += 8
            payload = stream[i : i + cnt * units[kind]]
            i += cnt * units[kind]
            ops.append((kind, label, cnt, payload))
    assert i == len(stream)
    return ops


def apply(t: Transcript, op) -> None:
    kind, label, value = op
    if kind == "fr":
        t.absorb_fr(label, value)
    elif kind == "frs":
        t.absorb_frs(label, value)
    elif kind == "g1":
        t.absorb_g1(label, pt(value))
    elif kind == "g1s":
        t.absorb_g1s(label, [pt(k) for k in value])
    elif kind == "bytes":
        t.absorb_bytes(label, value)
    elif kind == "shape":
        t.absorb_shape(label, value)
    elif kind == "u64":
        t.absorb_u64(label, value)
    else:
        raise AssertionError(kind)


labels = st.sampled_from(["a", "b", "ab", "x/y", "é"])
fr_vals = st.one_of(st.sampled_from([0, 1, R - 1]), st.integers(0, R - 1))
ops = st.one_of(
    st.tuples(st.just("fr"), labels, fr_vals),
    st.tuples(st.just("frs"), labels, st.lists(fr_vals, max_size=4)),
    st.tuples(st.just("g1"), labels, st.integers(1, 5)),
    st.tuples(st.just("g1s"), labels, st.lists(st.integers(1, 5), max_size=3)),
    st.tuples(st.just("bytes"), labels, st.binary(max_size=6)),
    st.tuples(st.just("shape"), labels, st.lists(st.integers(0, 2**64 - 1), max_size=3).map(tuple)),
    st.tuples(st.just("u64"), labels, st.integers(0, 2**64 - 1)),
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(ops, min_size=1, max_size=6))
def test_stream_matches_documented_format_and_parses_back(seq):
    t = Transcript("zkdl/test")
    for op in seq:
        apply(t, op)
    body = b"".join(ref_record(op) for op in seq)
    assert t.state_digest() == hashlib.blake2b(ref_init() + body, digest_size=64).digest()
    parsed = ref_parse(body)
    assert len(parsed) == len(seq)
    assert [p[1].decode() for p in parsed] == [op[1] for op in seq]


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(ops, min_size=1, max_size=4), st.lists(ops, min_size=1, max_size=4))
def test_different_absorb_sequences_give_different_challenges(s1, s2):
    t1, t2 = Transcript("zkdl/test"), Transcript("zkdl/test")
    for op in s1:
        apply(t1, op)
    for op in s2:
        apply(t2, op)
    same = [ref_record(o) for o in s1] == [ref_record(o) for o in s2]
    assert (t1.challenge_fr("c") == t2.challenge_fr("c")) == same


def test_challenge_matches_documented_derivation():
    t = Transcript("zkdl/test")
    t.absorb_u64("n", 7)
    stream = ref_init() + ref_record(("u64", "n", 7)) + b"\x10" + _lab("c") + _u64(3)
    seed = hashlib.blake2b(stream, digest_size=64).digest()
    expect = [int.from_bytes(hashlib.blake2b(seed + _u64(i), digest_size=64).digest(), "little") % R for i in range(3)]
    assert t.challenge_frs("c", 3) == expect
    assert t.state_digest() == hashlib.blake2b(stream + seed, digest_size=64).digest()


def test_golden_vector():
    """Pins the format: if this changes, every proof changes (update docs/transcript.md deliberately)."""
    t = Transcript("zkdl/golden", version=1)
    t.absorb_frs("v", [1, 2, R - 1])
    t.absorb_g1("P", G)
    t.absorb_shape("s", (3, 4))
    c = t.challenge_frs("c", 2)
    assert [hex(x) for x in c] == [
        "0x56a088df94575743d28e108a3e7a3bf37b8aac8d2c448a17fd27386dad786826",
        "0x665995ca9515ab4ca492035f2bc2695618453aa4ea760040462c23ad8ac6dd3a",
    ]


# ------------------------------------------------------------------ binding: every later challenge changes

BASE = [
    ("u64", "batch", 64),
    ("shape", "widths", (784, 128, 10)),
    ("g1s", "commit/W", [1, 2, 3]),
    ("frs", "claims", [5, 6, 7]),
    ("bytes", "digest", b"\x01\x02\x03"),
    ("fr", "sum", 12345),
    ("g1", "commit/X", 4),
]
CHALLENGE_AFTER = {1, 3, 4, 6}  # draw two challenges after these op indices


def run(seq, protocol="zkdl/test", version=1):
    t = Transcript(protocol, version=version)
    out = []
    for i, op in enumerate(seq):
        apply(t, op)
        if i in CHALLENGE_AFTER:
            out.append(t.challenge_fr(f"r{i}"))
            out += t.challenge_frs(f"rs{i}", 2)
    return out


def _chal_index(op_index: int) -> int:
    """Index in run()'s output of the first challenge drawn after op ``op_index``."""
    return 3 * sum(1 for j in CHALLENGE_AFTER if j < op_index)


def _mutations():
    m = []
    for i, (kind, label, value) in enumerate(BASE):
        m.append((f"label[{i}]", i, BASE[:i] + [(kind, label + "_", value)] + BASE[i + 1 :]))
        if kind == "u64":
            nv = value + 1
        elif kind == "fr":
            nv = (value + 1) % R
        elif kind == "g1":
            nv = value + 1
        elif kind == "bytes":
            nv = value[:-1] + bytes([value[-1] ^ 1])
        elif kind == "shape":
            nv = value[:-1] + (value[-1] + 1,)
        else:  # vectors: change the last element
            nv = value[:-1] + [value[-1] + 1]
        m.append((f"value[{i}]", i, BASE[:i] + [(kind, label, nv)] + BASE[i + 1 :]))
        if kind in ("frs", "g1s", "bytes", "shape"):
            m.append((f"length[{i}]", i, BASE[:i] + [(kind, label, value[:-1])] + BASE[i + 1 :]))
    # order: swap two consecutive absorbs between challenges
    m.append(("order[2,3]", 2, BASE[:2] + [BASE[3], BASE[2]] + BASE[4:]))
    # framing: split the vector [5,6,7] as [5,6] + [7] instead of one absorb
    m.append(("split[3]", 3, BASE[:3] + [("frs", "claims", [5, 6]), ("frs", "claims", [7])] + BASE[4:]))
    return m


@pytest.mark.parametrize("name,first,seq", _mutations(), ids=[m[0] for m in _mutations()])
def test_changing_any_absorbed_item_changes_every_later_challenge(name, first, seq):
    base = run(BASE)
    other = run(seq)
    k = _chal_index(first)
    assert other[:k] == base[:k], "challenges before the change must not move"
    assert len(other) == len(base) and k < len(base)
    for j in range(k, len(base)):
        assert base[j] != other[j], f"{name}: challenge {j} did not change"


def test_framing_bytes_and_vector_splits():
    def ch(*absorbs):
        t = Transcript("zkdl/test")
        for kind, label, v in absorbs:
            apply(t, (kind, label, v))
        return t.challenge_fr("c")

    assert ch(("bytes", "l", b"ab"), ("bytes", "l", b"c")) != ch(("bytes", "l", b"a"), ("bytes", "l", b"bc"))
    assert ch(("frs", "l", [1, 2]), ("frs", "l", [3])) != ch(("frs", "l", [1]), ("frs", "l", [2, 3]))
    assert ch(("bytes", "ab", b"c")) != ch(("bytes", "a", b"bc"))
    assert ch(("fr", "l", 5)) != ch(("frs", "l", [5]))
    assert ch(("g1", "l", 2)) != ch(("g1s", "l", [2]))
    assert ch(("u64", "l", 3)) != ch(("shape", "l", (3,)))
    assert ch(("frs", "l", [])) != ch(("bytes", "l", b""))


def test_protocol_and_version_are_bound():
    seq = BASE[:2]
    a = run(seq)
    assert run(seq, protocol="zkdl/other") != a
    assert run(seq, version=2) != a
    assert all(x != y for x, y in zip(run(seq, protocol="zkdl/other"), a, strict=True))


# ------------------------------------------------------------------ challenge hygiene


def test_challenges_in_range_distinct_and_deterministic():
    t = Transcript("zkdl/test")
    t.absorb_u64("x", 1)
    cs = [t.challenge_fr("same") for _ in range(50)]
    cs += t.challenge_frs("many", 200)
    assert all(isinstance(c, int) and 0 <= c < R for c in cs)
    assert len(set(cs)) == len(cs)
    # roughly uniform: the top bit-ish (c > r/2) is set for about half
    frac = sum(c > R // 2 for c in cs) / len(cs)
    assert 0.35 < frac < 0.65
    t2 = Transcript("zkdl/test")
    t2.absorb_u64("x", 1)
    assert [t2.challenge_fr("same") for _ in range(50)] + t2.challenge_frs("many", 200) == cs


def test_challenge_fr_is_first_of_challenge_frs_and_zero_count_ratchets():
    t = Transcript("zkdl/test")
    t.absorb_bytes("b", b"x")
    u = t.copy()
    assert t.challenge_fr("c") == u.challenge_frs("c", 1)[0]
    v = t.copy()
    assert v.challenge_frs("z", 0) == []
    assert v.state_digest() != t.state_digest()
    assert v.challenge_fr("c") != t.copy().challenge_fr("c")


def test_challenge_before_absorb_raises():
    with pytest.raises(RuntimeError):
        Transcript("zkdl/test").challenge_fr("c")


def test_copy_and_fork():
    t = Transcript("zkdl/test")
    t.absorb_u64("x", 1)
    before = t.state_digest()
    c = t.copy()
    f1, f2 = t.fork("a"), t.fork("b")
    assert t.state_digest() == before
    assert c.challenge_fr("c") == t.copy().challenge_fr("c")
    assert len({f1.challenge_fr("c"), f2.challenge_fr("c"), t.copy().challenge_fr("c")}) == 3
    assert c.state_digest() != before and t.state_digest() == before


# ------------------------------------------------------------------ inputs


def test_equivalent_inputs_give_equal_streams():
    xs = [0, 1, R - 1, 12345]
    t1, t2, t3 = Transcript("p"), Transcript("p"), Transcript("p")
    t1.absorb_frs("v", xs)
    t2.absorb_frs("v", FakeFr(xs))
    t3.absorb_frs("v", [Scalar(x) for x in xs])
    assert t1.state_digest() == t2.state_digest() == t3.state_digest()
    p = pt(9)
    t1.absorb_g1("P", p)
    t2.absorb_g1("P", p.to_compressed_bytes())
    t3.absorb_g1s("P", [p])
    assert t1.state_digest() == t2.state_digest() != t3.state_digest()
    u1, u2 = Transcript("p"), Transcript("p")
    u1.absorb_g1s("Ps", [pt(1), pt(2)])
    u2.absorb_g1s("Ps", pt(1).to_compressed_bytes() + pt(2).to_compressed_bytes())
    assert u1.state_digest() == u2.state_digest()


@pytest.mark.parametrize("bad", [-1, R, R + 5, 2**256])
def test_out_of_range_field_elements_rejected(bad):
    t = Transcript("p")
    with pytest.raises(FieldRangeError):
        t.absorb_fr("x", bad)
    with pytest.raises(FieldRangeError):
        t.absorb_frs("x", [1, bad])
    if 0 <= bad < 2**256:
        with pytest.raises(FieldRangeError):
            t.absorb_frs("x", FakeFr([1, bad]))


def test_bad_labels_and_values_rejected():
    t = Transcript("p")
    with pytest.raises(ValueError):
        t.absorb_u64("", 1)
    with pytest.raises(ValueError):
        t.absorb_u64("x" * 256, 1)
    with pytest.raises(ValueError):
        t.absorb_u64("x", 2**64)
    with pytest.raises(ValueError):
        t.absorb_shape("x", (1, -1))
    with pytest.raises(TypeError):
        t.absorb_bytes("x", "not bytes")
    with pytest.raises(ValueError):
        t.absorb_g1("x", b"\x00" * 48)  # compression flag missing
    with pytest.raises(FieldRangeError):
        t.absorb_fr("x", 1.5)


def test_large_vector_absorb_is_one_hash_call():
    n = 1 << 16
    xs = FakeFr(range(n))
    t = Transcript("p")
    t.absorb_frs("v", xs)
    expect = hashlib.blake2b(ref_init("p") + b"\x02" + _lab("v") + _u64(n) + xs.to_le_bytes(), digest_size=64).digest()
    assert t.state_digest() == expect


# ------------------------------------------------------------------ prover / verifier replay


def _prove(witness: list[int]):
    t = Transcript("zkdl/toy", debug=True)
    commits = [pt(w + 1) for w in witness]
    t.absorb_shape("shape", (len(witness),))
    t.absorb_g1s("commits", commits)
    r = t.challenge_frs("rlc", len(witness))
    claim = sum(a * b for a, b in zip(r, witness, strict=True)) % R
    t.absorb_fr("claim", claim)
    z = t.challenge_fr("z")
    cw = ContainerWriter("zkdl/toy")
    with cw.section("COMM") as w:
        w.write_g1s(commits)
    with cw.section("CLAM") as w:
        w.write_fr(claim)
    return cw.to_bytes(), t, z


def _verify(proof: bytes, n: int, *, skip_claim=False):
    cr = ContainerReader(proof, protocol_id="zkdl/toy", layout=["COMM", "CLAM"])
    with cr.section("COMM") as r:
        commits = r.read_g1s(allow_identity=False, count=n)
    with cr.section("CLAM") as r:
        claim = r.read_fr()
    cr.finish()
    t = Transcript("zkdl/toy", debug=True)
    t.absorb_shape("shape", (n,))
    t.absorb_g1s("commits", commits)
    t.challenge_frs("rlc", n)
    if not skip_claim:
        t.absorb_fr("claim", claim)
    return t, t.challenge_fr("z")


def test_prover_verifier_replay_equal():
    proof, tp, zp = _prove([3, 1, 4, 1, 5])
    tv, zv = _verify(proof, 5)
    assert zp == zv
    assert tp.log == tv.log and first_divergence(tp, tv) is None
    assert tp.state_digest() == tv.state_digest()
    assert [e.kind for e in tp.log] == ["init", "shape", "g1_vec", "challenge", "fr", "challenge"]
    assert tp.log[2].count == 5 and tp.log[2].nbytes == 5 * 48


def test_replay_detects_missing_absorb():
    proof, tp, zp = _prove([3, 1, 4])
    tv, zv = _verify(proof, 3, skip_claim=True)
    assert zv != zp
    assert first_divergence(tp, tv) == 4  # the missing "claim" absorb
