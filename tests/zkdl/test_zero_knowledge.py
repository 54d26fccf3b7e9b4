"""Zero knowledge of the training proof: leak detectors on a real (tiny) training run.

* No 32-byte window of the proof (at any offset, outside the public HEAD digest) encodes a witness value:
  an entry of any witness tensor, or any value the prover committed to (MLE evaluations of witness tensors at
  the transcript's points, round-polynomial evaluations, sumcheck finals, limbs, products).
* Two proofs of the same witness with fresh randomness share no 32-byte window outside HEAD.
* The transparent (debugging) mode does leak such values, and is marked in the header: the detector works.
"""

from __future__ import annotations

import numpy as np
import pytest
from training_instances import build_and_prove  # noqa: E402  (tests/zkdl is on sys.path)

from zkdl.commit import sigma
from zkdl.commit.generators import PublicParams
from zkdl.field import MODULUS as R
from zkdl.protocol import training
from zkdl.protocol.channel import ProverChannel
from zkdl.serialize import parse_header


@pytest.fixture(scope="module")
def pp() -> PublicParams:
    return PublicParams.ephemeral(4096)


def _enc(v: int) -> bytes:
    return (int(v) % R).to_bytes(32, "little")


def _windows(data: bytes, skip: tuple[int, int] | None = None) -> set[bytes]:
    out = set()
    for i in range(len(data) - 31):
        if skip and skip[0] <= i < skip[1]:
            continue
        out.add(data[i : i + 32])
    return out


def _head_span(proof: bytes) -> tuple[int, int]:
    """The public prefix: container header, section table and the statement digest (HEAD)."""
    head = next(s for s in parse_header(proof).sections if s.tag == "HEAD")
    return 0, head.offset + head.length


@pytest.fixture(scope="module")
def zk_run(pp):
    """A tiny run proven in ZK mode, with every value the prover committed to recorded."""
    committed: list[int] = []
    orig = sigma.PScalar.__post_init__

    def record(self):
        orig(self)
        committed.append(self.value)

    sigma.PScalar.__post_init__ = record
    try:
        st, proof, run = build_and_prove(pp, (4, 3, 2), 3, 2, 7)
    finally:
        sigma.PScalar.__post_init__ = orig
    training.verify(pp, st, proof)
    return st, proof, run, committed


def _witness_values(run) -> set[int]:
    vals: set[int] = set()
    for tr in run.traces:
        for arr in (tr.X, tr.Y):
            vals.update(int(v) % R for v in np.asarray(arr).reshape(-1))
        for lay in tr.layers:
            for name in (
                "W",
                "b",
                "Z",
                "Z_rescaled",
                "Z_remainder",
                "S",
                "A",
                "G_A",
                "G_A_rescaled",
                "G_A_remainder",
                "G_Z",
                "G_W",
                "dW",
                "dW_remainder",
                "db",
                "db_remainder",
            ):
                arr = getattr(lay, name)
                if arr is not None:
                    vals.update(int(v) % R for v in np.asarray(arr).reshape(-1))
    return vals


def test_zk_proof_is_marked_and_verifies(zk_run):
    st, proof, _, committed = zk_run
    assert not parse_header(proof).transparent
    assert len(committed) > 50  # the prover did commit its stated values


def test_no_witness_value_appears_in_the_proof(zk_run):
    _, proof, run, committed = zk_run
    windows = _windows(proof, _head_span(proof))
    secrets_ = {_enc(v) for v in _witness_values(run)} | {_enc(v) for v in committed}
    leaked = windows & secrets_
    assert not leaked, f"{len(leaked)} witness-derived field elements appear in the proof"


def test_fresh_randomness_shares_nothing(pp, zk_run):
    st, proof, _, _ = zk_run
    st2, proof2, _ = build_and_prove(pp, (4, 3, 2), 3, 2, 7)  # same data, model and schedule
    assert st2.commitments["W0.1"] != st.commitments["W0.1"]  # hiding commitments: fresh blinding
    common = _windows(proof, _head_span(proof)) & _windows(proof2, _head_span(proof2))
    assert not common


def test_detector_catches_the_transparent_mode(pp):
    """The same run in transparent mode sends its stated values in the clear: the detector fires."""
    stated: list[int] = []
    orig = ProverChannel.values

    def record(self, label, values, section="SUMC"):
        out = orig(self, label, values, section)
        stated.extend(out)
        return out

    ProverChannel.values = record
    try:
        st, proof, _ = build_and_prove(pp, (4, 3, 2), 3, 2, 7, zk=False)
    finally:
        ProverChannel.values = orig
    assert parse_header(proof).transparent
    training.verify(pp, st, proof)
    assert stated
    assert _windows(proof, _head_span(proof)) & {_enc(v) for v in stated}
