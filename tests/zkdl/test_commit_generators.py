"""Generators: hash-to-curve cross-checks (blst / arkworks / py_ecc) and the validated on-disk cache."""

from __future__ import annotations

import hashlib
import os
import struct
from pathlib import Path

import pytest
from py_arkworks_bls12381 import G1Point
from py_ecc.bls.hash_to_curve import hash_to_G1
from py_ecc.bls.point_compression import compress_G1

from zkdl.commit import generators as G
from zkdl.errors import SetupError


def _py_ecc_compressed(msg: bytes) -> bytes:
    return compress_G1(hash_to_G1(msg, G.DST, hashlib.sha256)).to_bytes(48, "big")


@pytest.fixture(scope="module")
def small_params():
    return G.PublicParams.ephemeral(8)


def test_generators_match_py_ecc_and_arkworks(small_params):
    pp = small_params
    cases = [(G.KIND_BLINDING, 0, pp.h), (G.KIND_VALUE, 0, pp.g_v)]
    cases += [(G.KIND_VECTOR, i, g) for i, g in enumerate(pp.gens(3))]
    for kind, index, point in cases:
        msg = G.generator_message(kind, index)
        ours = point.to_compressed_bytes()
        assert ours == _py_ecc_compressed(msg), (kind, index)
        assert ours == G1Point.hash_to_curve(msg, G.DST).to_compressed_bytes(), (kind, index)
        assert point.is_in_subgroup()


def test_generators_are_distinct_and_message_encoding(small_params):
    pp = small_params
    pts = [pp.h, pp.g_v] + pp.gens(8)
    assert len({p.to_compressed_bytes() for p in pts}) == len(pts)
    assert G.generator_message(b"g", 1) == G.LABEL + b"\x00g" + (1).to_bytes(8, "big")
    with pytest.raises(ValueError):
        G.generator_message(b"gg", 1)


C = G.CHUNK  # 4096 points per chunk
ONE = C - G.N_EXTRA  # vector generators in a one-chunk cache
TWO = 2 * C - G.N_EXTRA


@pytest.fixture(scope="module")
def two_chunk_bytes(tmp_path_factory):
    """The bytes of a canonical cache of two chunks (derived once per module, ~1.2 s)."""
    path = tmp_path_factory.mktemp("gens") / "gens.bin"
    G.setup(TWO, path)
    return path.read_bytes()


@pytest.fixture()
def multi_chunk(tmp_path, two_chunk_bytes):
    path = tmp_path / "gens.bin"
    path.write_bytes(two_chunk_bytes)
    return path


def test_cache_round_trip_and_digest(multi_chunk, small_params, tmp_path):
    pp = G.load(multi_chunk)
    assert pp.capacity == TWO
    assert pp.gens(8) == small_params.gens(8)
    assert pp.h == small_params.h and pp.g_v == small_params.g_v
    assert pp.digest == small_params.digest == G.GENERATORS_DIGEST
    assert len(pp.file_digest) == 32
    # setup rounds up to whole chunks and keeps an existing valid cache that is large enough
    assert G.setup(5000, multi_chunk).file_digest == pp.file_digest
    assert G._whole_chunks(1) == ONE and G._whole_chunks(ONE + 1) == TWO and G._whole_chunks(G.N_MAX) == G.N_MAX
    with pytest.raises(SetupError, match="canonical"):
        G.setup(G.N_MAX + 1, tmp_path / "huge.bin")


def test_digest_commits_to_every_pinned_chunk():
    assert len(G.PINNED_CHUNK_HASHES) == G.N_CHUNKS_MAX == 17
    assert G.GENERATORS_DIGEST == G.params_digest(G.PINNED_CHUNK_HASHES)
    for k in range(G.N_CHUNKS_MAX):  # changing any one chunk's hash changes the digest
        other = list(G.PINNED_CHUNK_HASHES)
        other[k] = bytes(32)
        assert G.params_digest(other) != G.GENERATORS_DIGEST


def test_pinned_hashes_first_and_last_chunk_rederived():
    """The pinned constants are what hash-to-curve gives (the first and the short last chunk; all: slow test)."""
    for k in (0, G.N_CHUNKS_MAX - 1):
        assert hashlib.sha256(G._derive_chunk(k)).digest() == G.PINNED_CHUNK_HASHES[k], k


@pytest.mark.slow
def test_pinned_hashes_all_chunks_rederived():
    """Derive the whole canonical set (2^16 + 2 points, ~10 s) and recompute the pinned digest."""
    hashes = [hashlib.sha256(G._derive_chunk(k)).digest() for k in range(G.N_CHUNKS_MAX)]
    assert tuple(hashes) == G.PINNED_CHUNK_HASHES
    assert G.params_digest(hashes) == G.GENERATORS_DIGEST


def test_default_cache_location(monkeypatch, tmp_path):
    monkeypatch.setenv("ZKDL_HOME", str(tmp_path / "home"))
    assert G.default_cache_path() == tmp_path / "home" / G.CACHE_FILENAME
    monkeypatch.delenv("ZKDL_HOME")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert G.default_cache_path() == tmp_path / "xdg" / "zkdl" / G.CACHE_FILENAME


def test_missing_and_too_small_cache(tmp_path, multi_chunk):
    with pytest.raises(SetupError, match="zkdl setup"):
        G.load(tmp_path / "absent.bin")
    pp = G.load(multi_chunk)
    with pytest.raises(SetupError, match="larger n"):
        pp.gens(TWO + 1)
    with pytest.raises(SetupError):
        G.setup(0, tmp_path / "zero.bin")


def _flip(path, offset_from_end=None, offset=None):
    data = bytearray(path.read_bytes())
    pos = offset if offset is not None else len(data) - offset_from_end
    data[pos] ^= 0x01
    path.write_bytes(bytes(data))


def _layout(path):
    """(header length, offset of the chunk table) of a cache file."""
    data = path.read_bytes()
    n_pts = G.load(path).capacity + G.N_EXTRA
    body_off = len(data) - n_pts * G.XY_BYTES
    n_chunks = -(-n_pts // C)
    return body_off, body_off - 32 - 32 * n_chunks


def _rehash(data: bytearray, body_off: int, table_off: int, n_chunks: int) -> None:
    """What an attacker does after changing points: recompute every chunk hash and the header hash."""
    for k in range(n_chunks):
        lo = body_off + k * C * G.XY_BYTES
        hi = min(lo + C * G.XY_BYTES, len(data))
        data[table_off + 32 * k : table_off + 32 * (k + 1)] = hashlib.sha256(bytes(data[lo:hi])).digest()
    data[body_off - 32 : body_off] = hashlib.sha256(bytes(data[: body_off - 32])).digest()


def test_lazy_loading_reads_only_needed_chunks(multi_chunk):
    # corrupt the last chunk: loading and using the first chunk works, touching the second one raises
    _flip(multi_chunk, offset_from_end=10)
    pp = G.load(multi_chunk)
    assert len(pp.gens(ONE)) == ONE
    with pytest.raises(SetupError, match="chunk 1"):
        pp.gens(ONE + 1)


def test_corrupted_point_bytes_raise(multi_chunk):
    _flip(multi_chunk, offset_from_end=(TWO + 2) * 96 - 5)  # inside h's bytes (first chunk): load fails at once
    with pytest.raises(SetupError, match="corrupted"):
        G.load(multi_chunk)


def test_corrupted_header_raises(multi_chunk):
    _flip(multi_chunk, offset=30)  # inside the label
    with pytest.raises(SetupError):
        G.load(multi_chunk)
    _flip(multi_chunk, offset=30)  # restore, then break the header hash itself
    G.load(multi_chunk)
    body_off, _ = _layout(multi_chunk)
    _flip(multi_chunk, offset=body_off - 1)
    with pytest.raises(SetupError, match="header hash"):
        G.load(multi_chunk)


@pytest.mark.parametrize(
    "mutate",
    [
        lambda d: b"XXXXXXXX" + d[8:],  # magic
        lambda d: d[:8] + struct.pack("<I", 1) + d[12:],  # format version
        lambda d: d[:-1],  # truncated
        lambda d: d + b"\x00",  # trailing byte
        lambda d: d[:40],  # truncated header
        lambda d: b"",
    ],
)
def test_malformed_cache_files_raise(multi_chunk, mutate):
    multi_chunk.write_bytes(mutate(multi_chunk.read_bytes()))
    with pytest.raises(SetupError, match="zkdl setup"):
        G.load(multi_chunk)


def test_other_label_is_rejected(tmp_path, monkeypatch):
    """A foreign cache (another label) is refused with a message that says to re-derive it."""
    monkeypatch.setattr(G, "LABEL", b"zkdl/v0/other")
    path = tmp_path / "other.bin"
    body = G._derive_xy(G._stream_spec(0, C), G.LABEL, G.DST)
    path.write_bytes(G._pack_header(G.LABEL, G.DST, ONE, [hashlib.sha256(body).digest()]) + body)
    monkeypatch.undo()
    with pytest.raises(SetupError, match="label.*zkdl setup"):
        G.load(path)


@pytest.mark.parametrize("chunk", [0, 1])
def test_attack_g1_is_2g0_with_recomputed_hashes_is_refused(multi_chunk, chunk):
    """The audit's attack: g_1 := 2·g_0 (or a point of the second chunk replaced), chunk hashes and header hash
    recomputed so the file is self-consistent. The pinned chunk hashes refuse it at load — every time (it was
    detected in 0 of 300 loads by the old spot checks), and the message says to re-derive the cache."""
    data = bytearray(multi_chunk.read_bytes())
    body_off, table_off = _layout(multi_chunk)
    g0 = G.derive_point(G.KIND_VECTOR, 0)
    j = G.N_EXTRA + 1 if chunk == 0 else C + 7  # stream index of the replaced point
    data[body_off + j * 96 : body_off + (j + 1) * 96] = (g0 + g0).to_xy_bytes_le()
    _rehash(data, body_off, table_off, 2)
    multi_chunk.write_bytes(bytes(data))
    for _ in range(3):
        with pytest.raises(SetupError, match=f"chunk {chunk} is not the canonical.*zkdl setup"):
            G.load(multi_chunk)


def test_attack_tampered_chunk_with_original_table_is_refused_when_used(multi_chunk):
    """Same attack, the chunk table left as pinned (only the points changed): the chunk's bytes are hashed and
    compared with the pinned hash when the chunk is first handed out."""
    data = bytearray(multi_chunk.read_bytes())
    body_off, _ = _layout(multi_chunk)
    j = C + 7
    g0 = G.derive_point(G.KIND_VECTOR, 0)
    data[body_off + j * 96 : body_off + (j + 1) * 96] = (g0 + g0).to_xy_bytes_le()
    multi_chunk.write_bytes(bytes(data))
    pp = G.load(multi_chunk)
    assert len(pp.gens(ONE)) == ONE
    with pytest.raises(SetupError, match="chunk 1 corrupted.*zkdl setup"):
        pp.gens(ONE + 6)


def test_get_params_caches_per_path(tmp_path):
    path = tmp_path / "g.bin"
    G.setup(4, path)
    assert G.get_params(path) is G.get_params(os.fspath(path))


def test_h_table_is_fixed_base_multiples(small_params):
    tab = small_params.h_table()
    assert tab.shape == (32, 256)
    assert tab[0, 1] == small_params.h and tab[0, 0] == G1Point.identity()
    assert tab[0, 255] + small_params.h == tab[1, 1]
    assert tab[2, 3] == tab[1, 1] * _scalar(3 * 256)


def _scalar(k: int):
    from py_arkworks_bls12381 import Scalar

    return Scalar.from_le_bytes(k.to_bytes(32, "little"))


def test_setup_never_silently_replaces_a_corrupted_cache(multi_chunk):
    _flip(multi_chunk, offset=30)
    with pytest.raises(SetupError):
        G.setup(20, multi_chunk)
    pp = G.setup(20, multi_chunk, overwrite=True)  # explicit regeneration only (one chunk now)
    assert pp.capacity == ONE
    assert pp.gens(20) == G.PublicParams.ephemeral(20).gens(20)
    assert G.load(multi_chunk).file_digest == pp.file_digest


def test_verify_refuses_a_foreign_params_file(multi_chunk, capsys):
    """``zkdl verify --params`` with the tampered cache: a SetupError (exit 2) that says to re-derive, before any
    proof is read."""
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from training_instances import make_instance

    from zkdl import api
    from zkdl.cli import main

    data = bytearray(multi_chunk.read_bytes())
    body_off, table_off = _layout(multi_chunk)
    g0 = G.derive_point(G.KIND_VECTOR, 0)
    data[body_off + 3 * 96 : body_off + 4 * 96] = (g0 + g0).to_xy_bytes_le()  # g_1 := 2·g_0
    _rehash(data, body_off, table_off, 2)
    multi_chunk.write_bytes(bytes(data))
    st = make_instance(G.PublicParams.ephemeral(64), (3, 3, 2), 2, 1, 4)[0]
    with pytest.raises(SetupError, match="zkdl setup"):
        api.verify(b"not read", st, params_path=multi_chunk)
    st_path = multi_chunk.parent / "st.json"
    st_path.write_text(st.to_json())
    (multi_chunk.parent / "p.zkdl").write_bytes(b"not read")
    assert (
        main(["verify", str(multi_chunk.parent / "p.zkdl"), "--statement", str(st_path), "--params", str(multi_chunk)])
        == 2
    )
    err = capsys.readouterr().err
    assert "SetupError" in err and "zkdl setup" in err


def test_suite_uses_a_temporary_zkdl_home(tmp_path_factory):
    """tests/conftest.py: every test's generator cache is under pytest's temporary directory, never the user's."""
    home = G.default_cache_dir()
    assert home == Path(os.environ["ZKDL_HOME"])
    assert home.is_relative_to(tmp_path_factory.getbasetemp()) and home.name.startswith("zkdl-home")
