"""Tests of the proof container and the validating Reader/Writer: round trips, fuzzing (only ProofFormatError
may escape), canonical field elements, G1 on-curve / subgroup / encoding checks, cross-check with py_ecc."""

from __future__ import annotations

import struct

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from py_arkworks_bls12381 import G1Point, Scalar
from py_ecc.bls.point_compression import compress_G1
from py_ecc.optimized_bls12_381 import FQ, G1, b, curve_order, is_inf, is_on_curve, multiply

from zkdl.errors import FieldRangeError, ProofFormatError
from zkdl.serialize import (
    FLAG_TRANSPARENT,
    FORMAT_VERSION,
    FP_MODULUS,
    FR_MODULUS,
    G1_IDENTITY_BYTES,
    MAGIC,
    ContainerReader,
    ContainerWriter,
    Reader,
    Writer,
    describe,
    parse_header,
    section_sizes,
)

R = FR_MODULUS
P = FP_MODULUS
GEN = G1Point()
PROTO = "zkdl/test/v1"
LAYOUT = ["HEAD", "COMM", "EVAL", "OPTL"]
OPTIONAL = ["OPTL"]

FUZZ = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def pt(k: int) -> G1Point:
    return GEN * Scalar(k) if k else G1Point.identity()


# ------------------------------------------------------------------ a small protocol used for round trips/fuzzing

fr_vals = st.one_of(st.sampled_from([0, 1, R - 1, R - 2]), st.integers(0, R - 1))
contents = st.fixed_dictionaries(
    {
        "u8": st.integers(0, 255),
        "u16": st.integers(0, 2**16 - 1),
        "u32": st.integers(0, 2**32 - 1),
        "u64": st.integers(0, 2**64 - 1),
        "flag": st.booleans(),
        "shape": st.lists(st.integers(0, 2**64 - 1), max_size=4).map(tuple),
        "blob": st.binary(max_size=40),
        "points": st.lists(st.integers(0, 50), max_size=3),  # 0 = identity (allowed here)
        "point": st.integers(1, 50),  # identity not allowed here
        "frs": st.lists(fr_vals, max_size=5),
        "fr": fr_vals,
        "opt": st.one_of(st.none(), st.binary(max_size=10)),
        "transparent": st.booleans(),
    }
)


def build(c) -> bytes:
    cw = ContainerWriter(PROTO, flags=FLAG_TRANSPARENT if c["transparent"] else 0)
    with cw.section("HEAD") as w:
        w.write_u8(c["u8"])
        w.write_u16(c["u16"])
        w.write_u32(c["u32"])
        w.write_u64(c["u64"])
        w.write_bool(c["flag"])
        w.write_shape(c["shape"])
        w.write_bytes(c["blob"])
    with cw.section("COMM") as w:
        w.write_g1s([pt(k) for k in c["points"]])
        w.write_g1(pt(c["point"]))
    with cw.section("EVAL") as w:
        w.write_frs(c["frs"])
        w.write_fr(c["fr"])
    if c["opt"] is not None:
        with cw.section("OPTL") as w:
            w.write_raw(c["opt"])
    return cw.to_bytes()


def parse(data: bytes):
    """The verifier side of the toy protocol; returns comparable values."""
    cr = ContainerReader(data, protocol_id=PROTO, layout=LAYOUT, optional=OPTIONAL)
    out = {"transparent": cr.transparent}
    with cr.section("HEAD") as r:
        out["u8"] = r.read_u8()
        out["u16"] = r.read_u16()
        out["u32"] = r.read_u32()
        out["u64"] = r.read_u64()
        out["flag"] = r.read_bool()
        out["shape"] = r.read_shape()
        out["blob"] = r.read_bytes(max_len=1000)
    with cr.section("COMM") as r:
        out["points"] = [p.to_compressed_bytes() for p in r.read_g1s(allow_identity=True, max_count=16)]
        out["point"] = r.read_g1(allow_identity=False).to_compressed_bytes()
    with cr.section("EVAL") as r:
        out["frs"] = r.read_frs(max_count=16)
        out["fr"] = r.read_fr()
    if cr.has("OPTL"):
        r = cr.section("OPTL")
        out["opt"] = r.read_raw(r.remaining)
    else:
        out["opt"] = None
    cr.finish()
    return out


def expected(c):
    e = dict(c)
    e["points"] = [pt(k).to_compressed_bytes() for k in c["points"]]
    e["point"] = pt(c["point"]).to_compressed_bytes()
    return e


def parse_or_format_error(data: bytes):
    """Only ProofFormatError may escape the reader; anything else propagates and fails the test."""
    try:
        return parse(data)
    except ProofFormatError as e:
        assert str(e)  # a message saying what and where
        return None


SAMPLE = {
    "u8": 7,
    "u16": 300,
    "u32": 70000,
    "u64": 2**40 + 3,
    "flag": True,
    "shape": (3, 4),
    "blob": b"hello",
    "points": [1, 0, 2],
    "point": 5,
    "frs": [0, 1, R - 1],
    "fr": 42,
    "opt": b"xyz",
    "transparent": False,
}
SAMPLE_BYTES = build(SAMPLE)


# ------------------------------------------------------------------ round trips


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(contents)
def test_round_trip(c):
    data = build(c)
    assert parse(data) == expected(c)
    sizes = section_sizes(data)
    assert list(sizes) == ["HEAD", "COMM", "EVAL"] + (["OPTL"] if c["opt"] is not None else [])


def test_sample_round_trip_and_describe():
    assert parse(SAMPLE_BYTES) == expected(SAMPLE)
    d = describe(SAMPLE_BYTES)
    assert d["format_version"] == FORMAT_VERSION and d["protocol_id"] == PROTO and d["zero_knowledge"]
    assert d["total_bytes"] == len(SAMPLE_BYTES)
    assert d["header_bytes"] == 8 + 2 + 2 + 1 + len(PROTO) + 4
    assert d["header_bytes"] + sum(12 + s["length"] for s in d["sections"]) == len(SAMPLE_BYTES)
    comm = section_sizes(SAMPLE_BYTES)["COMM"]
    assert comm == 8 + 3 * 48 + 48
    assert SAMPLE_BYTES.startswith(MAGIC + FORMAT_VERSION.to_bytes(2, "little"))


def test_reader_accepts_fr_vector_objects_and_returns_raw_bytes():
    class FakeFr:
        def to_le_bytes(self):
            return b"".join(x.to_bytes(32, "little") for x in (5, R - 1))

    w = Writer()
    w.write_frs(FakeFr())
    r = Reader(w.getvalue())
    raw = r.read_frs_bytes(count=2)
    r.finish()
    assert raw == FakeFr().to_le_bytes()


# ------------------------------------------------------------------ fuzzing: only ProofFormatError escapes


@FUZZ
@given(st.binary(max_size=300))
def test_fuzz_random_bytes(data):
    assert parse_or_format_error(data) is None


@FUZZ
@given(st.binary(max_size=300))
def test_fuzz_random_bytes_after_valid_magic(tail):
    head = MAGIC + FORMAT_VERSION.to_bytes(2, "little") + b"\x00\x00" + bytes([len(PROTO)]) + PROTO.encode()
    assert parse_or_format_error(head + tail) is None


def test_every_truncation_rejected():
    for n in range(len(SAMPLE_BYTES)):
        with pytest.raises(ProofFormatError):
            parse(SAMPLE_BYTES[:n])


@FUZZ
@given(st.binary(min_size=1, max_size=20))
def test_trailing_bytes_rejected(extra):
    with pytest.raises(ProofFormatError, match="trailing"):
        parse(SAMPLE_BYTES + extra)


@FUZZ
@given(st.data())
def test_single_byte_flips(data):
    pos = data.draw(st.integers(0, len(SAMPLE_BYTES) - 1))
    mask = data.draw(st.integers(1, 255))
    mutated = bytearray(SAMPLE_BYTES)
    mutated[pos] ^= mask
    got = parse_or_format_error(bytes(mutated))
    assert got is None or got != expected(SAMPLE)


@FUZZ
@given(contents, st.data())
def test_flips_insertions_deletions_of_random_containers(c, data):
    raw = bytearray(build(c))
    op = data.draw(st.sampled_from(["flip", "insert", "delete"]))
    pos = data.draw(st.integers(0, len(raw) - 1))
    if op == "flip":
        raw[pos] ^= data.draw(st.integers(1, 255))
    elif op == "insert":
        raw[pos:pos] = data.draw(st.binary(min_size=1, max_size=4))
    else:
        del raw[pos : pos + data.draw(st.integers(1, 4))]
    got = parse_or_format_error(bytes(raw))
    assert got is None or got != expected(c)


@pytest.mark.parametrize("forged", [2**64 - 1, 2**63, 2**40, 10**6])
def test_forged_section_lengths_and_counts(forged):
    info = {s.tag: s for s in parse_header(SAMPLE_BYTES).sections}
    # the u64 length field sits just before each payload
    for tag in info:
        m = bytearray(SAMPLE_BYTES)
        m[info[tag].offset - 8 : info[tag].offset] = struct.pack("<Q", forged)
        with pytest.raises(ProofFormatError, match="declares"):
            parse(bytes(m))
    # the element counts inside COMM (g1s) and EVAL (frs) lead their payloads
    for tag, what in (("COMM", "G1 point"), ("EVAL", "field element")):
        m = bytearray(SAMPLE_BYTES)
        o = info[tag].offset
        m[o : o + 8] = struct.pack("<Q", forged)
        with pytest.raises(ProofFormatError, match=what):
            parse(bytes(m))
    # a byte-string length inside HEAD
    m = bytearray(SAMPLE_BYTES)
    o = info["HEAD"].offset + 1 + 2 + 4 + 8 + 1 + 1 + 16
    assert struct.unpack_from("<Q", m, o)[0] == len(SAMPLE["blob"])
    m[o : o + 8] = struct.pack("<Q", forged)
    with pytest.raises(ProofFormatError):
        parse(bytes(m))


_READS = ["u8", "u16", "u32", "u64", "bool", "fr", "frs", "bytes", "shape", "g1", "g1s", "raw"]


@FUZZ
@given(st.binary(max_size=200), st.lists(st.sampled_from(_READS), min_size=1, max_size=8))
def test_fuzz_typed_reads(data, reads):
    r = Reader(data, name="fuzz")
    try:
        for k in reads:
            if k == "fr":
                r.read_fr()
            elif k == "frs":
                r.read_frs()
            elif k == "bytes":
                r.read_bytes()
            elif k == "shape":
                r.read_shape()
            elif k == "g1":
                r.read_g1(allow_identity=True)
            elif k == "g1s":
                r.read_g1s(allow_identity=False)
            elif k == "raw":
                r.read_raw(3)
            else:
                getattr(r, f"read_{k}")()
        r.finish()
    except ProofFormatError as e:
        assert "fuzz at offset" in str(e)


# ------------------------------------------------------------------ header and schema errors


def _rebuild(sections, *, protocol=PROTO, flags=0):
    cw = ContainerWriter(protocol, flags=flags)
    for tag, payload in sections:
        cw.add_section(tag, payload)
    return cw.to_bytes()


def _sections(data):
    return [(s.tag, data[s.offset : s.offset + s.length]) for s in parse_header(data).sections]


def test_header_errors_name_both_values():
    with pytest.raises(ProofFormatError, match="bad magic"):
        parse(b"ZKDLPRX\x00" + SAMPLE_BYTES[8:])
    m = bytearray(SAMPLE_BYTES)
    m[8:10] = (7).to_bytes(2, "little")
    with pytest.raises(ProofFormatError, match="version 7 .*version 1"):
        parse(bytes(m))
    m = bytearray(SAMPLE_BYTES)
    m[10:12] = (0x8000).to_bytes(2, "little")
    with pytest.raises(ProofFormatError, match="unknown flag"):
        parse(bytes(m))
    other = _rebuild(_sections(SAMPLE_BYTES), protocol="zkdl/other/v1")
    with pytest.raises(ProofFormatError, match="'zkdl/other/v1', expected 'zkdl/test/v1'"):
        parse(other)


def test_flags_expectation():
    t = _rebuild(_sections(SAMPLE_BYTES), flags=FLAG_TRANSPARENT)
    assert ContainerReader(t, protocol_id=PROTO, layout=LAYOUT, optional=OPTIONAL).transparent
    with pytest.raises(ProofFormatError, match="transparent"):
        ContainerReader(t, protocol_id=PROTO, layout=LAYOUT, optional=OPTIONAL, flags=0)
    with pytest.raises(ProofFormatError, match="zero-knowledge"):
        ContainerReader(SAMPLE_BYTES, protocol_id=PROTO, layout=LAYOUT, flags=FLAG_TRANSPARENT)


def test_schema_errors():
    secs = _sections(SAMPLE_BYTES)
    with pytest.raises(ProofFormatError, match="unknown section"):
        parse(_rebuild(secs + [("XTRA", b"")]))
    with pytest.raises(ProofFormatError, match="out of order"):
        parse(_rebuild([secs[1], secs[0]] + secs[2:]))
    with pytest.raises(ProofFormatError, match="missing required"):
        parse(_rebuild(secs[:1] + secs[2:]))
    # duplicate: the writer refuses, so forge it by renaming a tag in the bytes
    data = bytearray(SAMPLE_BYTES)
    comm = parse_header(SAMPLE_BYTES).sections[1]
    data[comm.offset - 12 : comm.offset - 8] = b"HEAD"
    with pytest.raises(ProofFormatError, match="duplicate"):
        parse(bytes(data))
    data[comm.offset - 12 : comm.offset - 8] = b"he!d"
    with pytest.raises(ProofFormatError, match="invalid tag"):
        parse(bytes(data))
    # a section that is present but not read, or not read to its end
    cr = ContainerReader(SAMPLE_BYTES, protocol_id=PROTO, layout=LAYOUT, optional=OPTIONAL)
    with pytest.raises(ProofFormatError, match="never read"):
        cr.finish()
    cr = ContainerReader(SAMPLE_BYTES, protocol_id=PROTO, layout=LAYOUT, optional=OPTIONAL)
    for tag in ["HEAD", "COMM", "EVAL", "OPTL"]:
        cr.section(tag)
    with pytest.raises(ProofFormatError, match="section 'HEAD' at offset 0 .*trailing"):
        cr.finish()


def test_count_expectations():
    w = Writer()
    w.write_frs([1, 2, 3])
    w.write_g1s([pt(1)])
    data = w.getvalue()
    with pytest.raises(ProofFormatError, match="count is 3, expected 4"):
        Reader(data).read_frs(count=4)
    with pytest.raises(ProofFormatError, match="exceeds the maximum 2"):
        Reader(data).read_frs(max_count=2)
    r = Reader(data)
    r.read_frs(count=3)
    with pytest.raises(ProofFormatError, match="count is 1, expected 2"):
        r.read_g1s(allow_identity=False, count=2)


def test_bool_and_shape_strictness():
    with pytest.raises(ProofFormatError, match="boolean"):
        Reader(b"\x02").read_bool()
    with pytest.raises(ProofFormatError, match="dimensions"):
        Reader(bytes([33]) + bytes(33 * 8)).read_shape()
    w = Writer()
    w.write_shape((2, 3))
    with pytest.raises(ProofFormatError, match="expected 3"):
        Reader(w.getvalue()).read_shape(ndim=3)


# ------------------------------------------------------------------ canonical field elements


@pytest.mark.parametrize("bad", [R, R + 1, 2**255, 2**256 - 1])
def test_noncanonical_field_elements_rejected(bad):
    enc = bad.to_bytes(32, "little")
    with pytest.raises(ProofFormatError, match="non-canonical"):
        Reader(enc, name="x").read_fr()
    vec = struct.pack("<Q", 3) + (1).to_bytes(32, "little") + (R - 1).to_bytes(32, "little") + enc
    with pytest.raises(ProofFormatError, match=r"offset 72 .*element 2 of 3"):
        Reader(vec, name="x").read_frs()
    with pytest.raises(ProofFormatError, match="offset 72"):
        Reader(vec, name="x").read_frs_bytes()


def test_writer_rejects_bad_values():
    w = Writer()
    with pytest.raises(FieldRangeError):
        w.write_fr(R)
    with pytest.raises(FieldRangeError):
        w.write_frs([0, -1])
    with pytest.raises(ValueError):
        w.write_u8(256)
    with pytest.raises(TypeError):
        w.write_u16(True)
    with pytest.raises(ValueError):
        w.write_g1(b"\x00" * 48)
    with pytest.raises(ValueError):
        ContainerWriter("bad id with spaces")
    with pytest.raises(ValueError):
        ContainerWriter(PROTO).add_section("toolong", b"")
    assert len(w) == 0


# ------------------------------------------------------------------ G1 points


def _sqrt_p(v: int) -> int | None:
    y = pow(v, (P + 1) // 4, P)  # p = 3 mod 4
    return y if y * y % P == v % P else None


def _encode(x: int, y: int) -> bytes:
    flags = 0x80 | (0x20 if y > (P - 1) // 2 else 0)
    e = bytearray(x.to_bytes(48, "big"))
    e[0] |= flags
    return bytes(e)


def _find_x(on_curve: bool, start: int = 1) -> tuple[int, int | None]:
    x = start
    while True:
        y = _sqrt_p(x**3 + 4)
        if (y is not None) == on_curve:
            return x, y
        x += 1


def test_point_not_on_curve_rejected():
    x, _ = _find_x(on_curve=False)
    enc = _encode(x, 0)
    with pytest.raises(ProofFormatError, match="not on the curve"):
        Reader(enc).read_g1(allow_identity=True)


@pytest.mark.parametrize("start", [0, 1, 1000])
def test_point_on_curve_but_not_in_subgroup_rejected(start):
    x, y = _find_x(on_curve=True, start=start)
    # py_ecc confirms: on the curve, and r·P != O (not in the prime-order subgroup)
    q = (FQ(x), FQ(y), FQ(1))
    assert is_on_curve(q, b)
    assert not is_inf(multiply(q, curve_order))
    with pytest.raises(ProofFormatError, match="not in the prime-order subgroup"):
        Reader(_encode(x, y)).read_g1(allow_identity=True)
    # arkworks' unchecked decoding would have accepted it: the check is what rejects it
    G1Point.from_compressed_bytes_unchecked(_encode(x, y))


def test_point_encoding_rules():
    good = pt(3).to_compressed_bytes()
    cases = [
        ("compression flag", bytes([good[0] & 0x7F]) + good[1:]),
        ("non-canonical identity", b"\xc0" + bytes(46) + b"\x01"),
        ("non-canonical identity", b"\xe0" + bytes(47)),
        ("compression flag", b"\x40" + bytes(47)),
    ]
    for why, enc in cases:
        with pytest.raises(ProofFormatError, match=why):
            Reader(enc).read_g1(allow_identity=True)
    # x >= p (with the flags of a valid point)
    x_big = (P + 1).to_bytes(48, "big")
    with pytest.raises(ProofFormatError, match="x coordinate >= p"):
        Reader(bytes([x_big[0] | 0x80]) + x_big[1:]).read_g1(allow_identity=True)
    # the identity: canonical encoding only, and only where the caller allows it
    assert G1Point.identity().to_compressed_bytes() == G1_IDENTITY_BYTES
    assert Reader(G1_IDENTITY_BYTES).read_g1(allow_identity=True) == G1Point.identity()
    with pytest.raises(ProofFormatError, match="identity point not allowed"):
        Reader(G1_IDENTITY_BYTES).read_g1(allow_identity=False)
    blob = struct.pack("<Q", 2) + good + G1_IDENTITY_BYTES
    with pytest.raises(ProofFormatError, match="offset 56"):
        Reader(blob).read_g1s(allow_identity=False)
    # the negated point (sign flip) is a different valid point
    neg = bytes([good[0] ^ 0x20]) + good[1:]
    assert Reader(neg).read_g1(allow_identity=False) == pt(R - 3)


@pytest.mark.parametrize("k", [1, 2, 3, 255, 2**64 + 7, R - 1])
def test_compressed_bytes_match_py_ecc(k):
    ours = pt(k).to_compressed_bytes()
    theirs = compress_G1(multiply(G1, k)).to_bytes(48, "big")
    assert ours == theirs
    assert Reader(theirs).read_g1(allow_identity=False) == pt(k)
