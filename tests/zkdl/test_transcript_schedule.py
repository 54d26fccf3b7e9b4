"""The audited Fiat–Shamir schedule, pinned.

For each range back-end and proof mode, the ordered list of transcript records (kind, label, element count) of a
real training proof is pinned in ``tests/zkdl/data/transcript_schedule.json``: an absorb that is removed (a
sumcheck claim no longer bound), added, moved after a challenge, or a changed element count fails the test. The
transcripts are the real ones — ``training._new_transcript`` and every absorb of the protocol run unchanged; only
the ``Transcript`` class is replaced by a subclass that turns on its debug log. Every label is also listed in
docs/transcript.md (a new record must be documented and reviewed before it lands).

Regenerate after a reviewed schedule change: ``python tests/zkdl/test_transcript_schedule.py``.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
from training_instances import make_instance  # noqa: E402

from zkdl.commit.generators import PublicParams  # noqa: E402
from zkdl.protocol import training  # noqa: E402
from zkdl.transcript import Transcript  # noqa: E402

DOC = Path(__file__).resolve().parents[2] / "docs" / "transcript.md"
PINNED = Path(__file__).resolve().parent / "data" / "transcript_schedule.json"
CASES = [(backend, mode) for backend in ("lookup", "bits") for mode in ("zk", "transparent")]


def _documented_labels() -> set[str]:
    section = DOC.read_text().split("### Every label", 1)[1]
    return set(re.findall(r"^\| `([^`]+)` \|", section, flags=re.M))


def record_schedules(pp, backend: str, mode: str, mp) -> tuple[list[str], list[str]]:
    """Prove and verify a tiny run; returns the prover's and the verifier's ordered transcript records."""
    made: list[Transcript] = []

    class Recording(Transcript):
        __slots__ = ()

        def __init__(self, *args, **kw):
            kw["debug"] = True
            super().__init__(*args, **kw)
            made.append(self)

    mp.setattr(training, "Transcript", Recording)
    st, run, X, Y, opens = make_instance(pp, (3, 3, 2), 2, 2, 5, backend=backend)
    proof, _ = training.prove(pp, st, run, X, Y, opens, zk=mode == "zk")
    training.verify(pp, st, proof)
    assert len(made) == 2, "one transcript per prover and per verifier"
    return [[f"{e.kind}:{e.label}:{e.count}" for e in t.log] for t in made]


@pytest.fixture(scope="module")
def pp():
    return PublicParams.ephemeral(2048)


@pytest.mark.parametrize("backend,mode", CASES)
def test_schedule_is_pinned_and_documented(pp, backend, mode, monkeypatch):
    prover, verifier = record_schedules(pp, backend, mode, monkeypatch)
    assert prover == verifier, "prover and verifier must replay the same records"
    pinned = json.loads(PINNED.read_text())[f"{backend}/{mode}"]
    for i, (got, want) in enumerate(zip(prover, pinned)):
        assert got == want, f"record {i} differs: got {got!r}, pinned {want!r}"
    assert len(prover) == len(pinned), f"{len(prover)} records, pinned {len(pinned)}"
    # the container version and the mode are bound before anything else, in particular before any challenge
    first_challenge = next(i for i, r in enumerate(prover) if r.startswith("challenge"))
    labels = [r.split(":")[1] for r in prover[:first_challenge]]
    assert labels[:4] == ["zkdl/train/v1", "container/format-version", "mode", "statement"], labels
    seen = {re.sub(r"\d+", "{l}", r.split(":")[1]) for r in prover[1:]}
    missing = seen - _documented_labels()
    assert not missing, f"transcript records not listed in docs/transcript.md: {sorted(missing)}"


if __name__ == "__main__":  # regenerate the pinned schedules
    out = {}
    with pytest.MonkeyPatch.context() as mp:
        params = PublicParams.ephemeral(2048)
        for backend, mode in CASES:
            out[f"{backend}/{mode}"] = record_schedules(params, backend, mode, mp)[0]
    PINNED.write_text(json.dumps(out, indent=0) + "\n")
    print({k: len(v) for k, v in out.items()})
