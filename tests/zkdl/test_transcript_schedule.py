"""The audited absorb schedule: every transcript record of a real training proof is listed in
docs/transcript.md (a new absorb or challenge must be documented, and reviewed, before it lands)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from training_instances import make_instance  # noqa: E402  (tests/zkdl is on sys.path)

from zkdl.commit.generators import PublicParams
from zkdl.protocol import training
from zkdl.transcript import Transcript

DOC = Path(__file__).resolve().parents[2] / "docs" / "transcript.md"


def _documented_labels() -> set[str]:
    section = DOC.read_text().split("### Every label", 1)[1]
    return set(re.findall(r"^\| `([^`]+)` \|", section, flags=re.M))


@pytest.mark.parametrize("backend", ["lookup", "bits"])
def test_every_absorb_and_challenge_is_documented(monkeypatch, backend):
    pp = PublicParams.ephemeral(2048)
    st, run, X, Y, opens = make_instance(pp, (3, 3, 2), 2, 2, 5, backend=backend)

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
