"""Any commitment layout a proof or statement may carry verifies or is INVALID (exit 1), never a setup error
(exit 2) because the prover chose rows wider than the verifier's generator cache: only the canonical layout
(columns 2^ceil(n/2)) is accepted for a statement's tensors, only ``Layout.for_proof_table`` (rows at least 2^11
wide) for a proof's own tables, and the statement's generator need is computed from them."""

from __future__ import annotations

import dataclasses

import pytest
from training_instances import make_instance

from zkdl import api
from zkdl.cli import main
from zkdl.commit import generators as G
from zkdl.commit import pedersen
from zkdl.protocol import training


@pytest.fixture(scope="module")
def wide_pp():
    return G.PublicParams.ephemeral(2 * G.CHUNK)  # the cheating prover holds more generators than needed


@pytest.fixture(scope="module")
def instance(wide_pp):
    return make_instance(wide_pp, (3, 3, 2), 2, 2, 5)


def test_proof_table_layout():
    """A proof's own tables: the canonical columns, but at least 2^11 of them (one row up to 2^11 entries)."""
    assert pedersen.Layout.for_proof_table(1 << 17) == pedersen.Layout(1 << 17, 6, 11)  # canonical: 2^8 × 2^9
    assert pedersen.Layout.for_proof_table(1 << 23) == pedersen.Layout.for_length(1 << 23)  # 2^10 × 2^13 either way
    assert pedersen.Layout.for_proof_table(100) == pedersen.Layout(100, 0, 7)
    for n in range(0, 30):
        lay = pedersen.Layout.for_proof_table(1 << n)
        assert lay.log_cols == max(pedersen.canonical_log_cols(n), min(n, 11))
        assert lay.cols <= max(pedersen.Layout.for_length(1 << n).cols, training.DOT_CHUNK)  # generators_needed


@pytest.mark.parametrize("log_cols", [13, 9], ids=["wider", "canonical-narrower"])
def test_proof_with_other_rows_is_invalid_not_a_setup_error(wide_pp, instance, tmp_path, monkeypatch, capsys, log_cols):
    st, run, X, Y, opens = instance
    real_commit = pedersen.commit

    def other_commit(params, values, **kw):  # the range tensor L as 2^4 rows of 2^13 columns, or 2^8 × 2^9
        if getattr(values, "size", 0) == 1 << 17:
            kw["log_cols"] = log_cols
        return real_commit(params, values, **kw)

    monkeypatch.setattr(training, "commit", other_commit)
    proof, _ = training.prove(wide_pp, st, run, X, Y, opens)
    monkeypatch.undo()
    assert training.generators_needed(st) == 2048  # the zero-knowledge masks' chunk (the widest row is 512)
    cache = tmp_path / "gens.bin"
    G.setup(2048, cache)  # what the verifier derives for this statement: one chunk (4094 generators)
    res = api.verify(proof, st, params_path=cache)
    assert not res.valid and res.error_type == "ProofFormatError" and "layout of a proof's table" in res.reason
    (tmp_path / "proof.zkdl").write_bytes(proof)
    (tmp_path / "st.json").write_text(st.to_json())
    assert (
        main(["verify", str(tmp_path / "proof.zkdl"), "--statement", str(tmp_path / "st.json"), "--params", str(cache)])
        == 1
    )
    assert "layout of a proof's table" in capsys.readouterr().out


def test_statement_commitment_with_another_layout_is_invalid(wide_pp, instance):
    st, run, X, Y, opens = instance
    n = st.expected_tables()["X"]
    x_padded = training.Witness(training.Public.of(st), run, X, Y).ints["X"].reshape(-1)
    com_x, _ = pedersen.commit_int(wide_pp, x_padded, log_cols=(n - 1).bit_length())  # one row
    bad = dataclasses.replace(st, commitments={**st.commitments, "X": com_x})
    res = api.verify(b"\x00", bad)
    assert not res.valid and res.error_type == "StatementMismatch" and "canonical layout" in res.reason


def test_statement_beyond_the_canonical_generator_set_is_invalid(instance):
    st = instance[0]
    huge = dataclasses.replace(st, widths=(1 << 17, 1 << 17, 2))
    res = api.verify(b"\x00", huge)
    assert not res.valid and res.error_type == "StatementMismatch"
