"""The audited absorb schedule: every transcript record of a real training proof is listed in
docs/transcript.md (a new absorb or challenge must be documented, and reviewed, before it lands)."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import numpy as np
import pytest

from zkdl.commit.generators import PublicParams
from zkdl.protocol import training
from zkdl.protocol.statement import Statement
from zkdl.quant import BatchSchedule, FixedPointParams, init_model, quantize_model, train_quantized
from zkdl.transcript import Transcript

DOC = Path(__file__).resolve().parents[2] / "docs" / "transcript.md"


def _documented_labels() -> set[str]:
    section = DOC.read_text().split("### Every label", 1)[1]
    return set(re.findall(r"^\| `([^`]+)` \|", section, flags=re.M))


@pytest.mark.parametrize("backend", ["lookup", "bits"])
def test_every_absorb_and_challenge_is_documented(monkeypatch, backend):
    p = FixedPointParams()
    rng = np.random.default_rng(0)
    widths, B, T, n = (3, 3, 2), 2, 2, 5
    X = np.round(rng.uniform(0, 1, (n, 3)) * 2**16).astype(np.int64)
    Y = (np.eye(2)[rng.integers(0, 2, n)] * 2**16).astype(np.int64)
    run = train_quantized(quantize_model(init_model(widths, seed=1), p), X, Y, p, BatchSchedule(n, B), T)
    pp = PublicParams.ephemeral(2048)
    st0 = Statement(widths=widths, has_bias=[True, True], params=p.to_dict(), batch_size=B, steps=T, n_rows=n,
                    schedule_seed=None, range_backend=backend, generators_digest=pp.digest.hex())
    w = training.Witness(training.Public.of(st0), run, X, Y)
    coms, opens = training.commit_statement_tensors(pp, w)
    st = dataclasses.replace(st0, commitments=coms)

    transcripts: list[Transcript] = []

    def debug_transcript(statement):
        t = Transcript(training.PROTOCOL_ID, version=1, debug=True)
        t.absorb_bytes("statement", statement.canonical_bytes())
        transcripts.append(t)
        return t

    monkeypatch.setattr(training, "_new_transcript", debug_transcript)
    for zk in (True, False):
        proof, _ = training.prove(pp, st, run, X, Y, opens, zk=zk)
        training.verify(pp, st, proof)
    seen = {re.sub(r"\d+", "{l}", e.label) for t in transcripts for e in t.log}
    assert len(transcripts) == 4
    # prover and verifier replay the same records
    assert [e.label for e in transcripts[0].log] == [e.label for e in transcripts[1].log]
    missing = seen - _documented_labels()
    assert not missing, f"transcript records not listed in docs/transcript.md: {sorted(missing)}"
