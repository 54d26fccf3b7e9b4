"""Generators: hash-to-curve cross-checks (blst / arkworks / py_ecc) and the validated on-disk cache."""

from __future__ import annotations

import hashlib
import os
import struct

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


def test_cache_round_trip_and_digest(tmp_path, small_params):
    path = tmp_path / "gens.bin"
    pp = G.setup(8, path)
    assert path.exists() and pp.capacity == 8
    again = G.load(path)
    assert again.gens(8) == small_params.gens(8)
    assert again.h == small_params.h and again.g_v == small_params.g_v
    assert again.digest == small_params.digest == pp.digest
    assert again.file_digest == pp.file_digest and len(again.file_digest) == 32
    # a larger cache built by the same rule has the same statement digest and the same prefix
    bigger = G.setup(20, tmp_path / "big.bin")
    assert bigger.digest == pp.digest and bigger.file_digest != pp.file_digest
    assert bigger.gens(8) == pp.gens(8)
    # setup keeps an existing valid cache that is large enough
    assert G.setup(4, path).file_digest == pp.file_digest


def test_default_cache_location(monkeypatch, tmp_path):
    monkeypatch.setenv("ZKDL_HOME", str(tmp_path / "home"))
    assert G.default_cache_path() == tmp_path / "home" / G.CACHE_FILENAME
    monkeypatch.delenv("ZKDL_HOME")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert G.default_cache_path() == tmp_path / "xdg" / "zkdl" / G.CACHE_FILENAME


def test_missing_and_too_small_cache(tmp_path):
    with pytest.raises(SetupError, match="zkdl setup"):
        G.load(tmp_path / "absent.bin")
    pp = G.setup(4, tmp_path / "g.bin")
    with pytest.raises(SetupError, match="larger n"):
        pp.gens(5)
    with pytest.raises(SetupError):
        G.setup(0, tmp_path / "zero.bin")


@pytest.fixture()
def multi_chunk(tmp_path, monkeypatch):
    """A cache of 20 generators in chunks of 8 points (h, g_v, g_0..g_5 | g_6..g_13 | g_14..g_19)."""
    monkeypatch.setattr(G, "CHUNK", 8)
    path = tmp_path / "gens.bin"
    G.setup(20, path)
    return path


def _flip(path, offset_from_end=None, offset=None):
    data = bytearray(path.read_bytes())
    pos = offset if offset is not None else len(data) - offset_from_end
    data[pos] ^= 0x01
    path.write_bytes(bytes(data))


def test_lazy_loading_reads_only_needed_chunks(multi_chunk):
    # corrupt the last chunk: loading and using the first chunks works, touching the last one raises
    _flip(multi_chunk, offset_from_end=10)
    pp = G.load(multi_chunk)
    assert len(pp.gens(6)) == 6
    assert len(pp.gens(14)) == 14
    with pytest.raises(SetupError, match="chunk 2"):
        pp.gens(15)


def test_corrupted_point_bytes_raise(multi_chunk):
    _flip(multi_chunk, offset_from_end=20 * 96 - 5)  # inside g_0's bytes (first chunk): load fails at once
    with pytest.raises(SetupError, match="corrupted"):
        G.load(multi_chunk)


def test_corrupted_header_raises(multi_chunk):
    _flip(multi_chunk, offset=30)  # inside the label
    with pytest.raises(SetupError):
        G.load(multi_chunk)
    _flip(multi_chunk, offset=30)  # restore, then break the header hash itself
    G.load(multi_chunk)
    data = multi_chunk.read_bytes()
    hdr_end = len(data) - 22 * 96
    _flip(multi_chunk, offset=hdr_end - 1)
    with pytest.raises(SetupError, match="header hash"):
        G.load(multi_chunk)


@pytest.mark.parametrize(
    "mutate",
    [
        lambda d: b"XXXXXXXX" + d[8:],  # magic
        lambda d: d[:8] + struct.pack("<I", 2) + d[12:],  # format version
        lambda d: d[:-1],  # truncated
        lambda d: d + b"\x00",  # trailing byte
        lambda d: d[:40],  # truncated header
        lambda d: b"",
    ],
)
def test_malformed_cache_files_raise(multi_chunk, mutate):
    multi_chunk.write_bytes(mutate(multi_chunk.read_bytes()))
    with pytest.raises(SetupError):
        G.load(multi_chunk)


def test_other_label_is_rejected(tmp_path, monkeypatch):
    monkeypatch.setattr(G, "LABEL", b"zkdl/v0/other")
    path = tmp_path / "other.bin"
    G.setup(4, path)
    monkeypatch.undo()
    with pytest.raises(SetupError, match="label"):
        G.load(path)


def test_consistently_rehashed_tampering_is_caught_by_spot_checks(multi_chunk):
    """An attacker replaces g_0 and fixes every hash: the spot check (h, g_v, g_0 always recomputed)
    catches it; nothing is silently regenerated or used."""
    data = bytearray(multi_chunk.read_bytes())
    n_pts = 22
    body_off = len(data) - n_pts * 96
    fake = (G.derive_point(G.KIND_VECTOR, 0) + G.derive_point(G.KIND_VECTOR, 1)).to_xy_bytes_le()
    data[body_off + 2 * 96 : body_off + 3 * 96] = fake
    # recompute chunk 0's hash and the header hash
    chunk0 = bytes(data[body_off : body_off + 8 * 96])
    hdr = bytes(data[: body_off - 32])
    n_chunks = 3
    table_off = len(hdr) - 32 * n_chunks
    hdr = hdr[:table_off] + hashlib.sha256(chunk0).digest() + hdr[table_off + 32 :]
    data[: body_off - 32] = hdr
    data[body_off - 32 : body_off] = hashlib.sha256(hdr).digest()
    multi_chunk.write_bytes(bytes(data))
    with pytest.raises(SetupError, match="hash-to-curve"):
        G.load(multi_chunk)
    assert G.load(multi_chunk, spot_checks=False).gens(1)[0] != G.derive_point(G.KIND_VECTOR, 0)


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
    pp = G.setup(20, multi_chunk, overwrite=True)  # explicit regeneration only
    assert pp.gens(20) == G.PublicParams.ephemeral(20).gens(20)
    assert G.load(multi_chunk).file_digest == pp.file_digest
