"""Honest-verifier zero knowledge of the training proof, shown with the simulator (``zkdl.protocol.simulator``).

* The simulator takes only public inputs (parameters, statement, randomness) — it even works for a statement
  with no witness at all, for both range-check back-ends — and its proof is accepted by the
  real verifier (``training.verify`` with its own ``ZkVerifierChannel``) under the challenges the simulator
  chose (interactive setting); it is rejected under plain Fiat–Shamir and under any other challenge in place
  of a programmed one, so the acceptance is not vacuous.
* A real proof verifies under the same replay mechanism (its recorded Fiat–Shamir challenges).
* Distribution: every field element (Σ-protocol responses) and every point of real and simulated proofs of the
  same statement is extracted while the verifier reads it; the low 8 bits of the field elements and of the
  points' x-coordinates are uniform (chi-square) in both, and real and simulated agree (two-sample
  chi-square). Each of the 6 chi-square tests rejects at p < 1e-7 only, so a correct implementation fails
  with probability < 1e-6; the seeds are fixed, so the outcome is deterministic.
"""

from __future__ import annotations

import dataclasses
import inspect
import random

import numpy as np
import pytest
from scipy import stats
from training_instances import make_instance  # noqa: E402  (tests/zkdl is on sys.path)

from zkdl.commit.generators import PublicParams
from zkdl.commit.pedersen import commit_int
from zkdl.errors import VerificationError
from zkdl.field import MODULUS
from zkdl.protocol import simulator, training
from zkdl.protocol.simulator import Challenge, ChallengeMismatch, ProgrammableTranscript
from zkdl.protocol.zk_channel import ZkVerifierChannel
from zkdl.serialize import Reader, parse_header

N_PROOFS = 3  # real and simulated proofs each, for the distribution tests
ALPHA = 1e-7  # per chi-square test; 6 tests: false-failure probability < 1e-6


@pytest.fixture(scope="module")
def pp() -> PublicParams:
    return PublicParams.ephemeral(4096)


@pytest.fixture(scope="module")
def instance(pp):
    """A tiny training run, its statement (commitments only) and the prover's openings."""
    return make_instance(pp, (4, 3, 2), 3, 2, 7, commit_rng=random.Random(1))


class _Tap(Reader):
    """A Reader that records every field element and (compressed) point read from it."""

    def __init__(self, data: bytes, sink: dict) -> None:
        super().__init__(data, name="tapped section")
        self.sink = sink

    def read_fr(self) -> int:
        x = super().read_fr()
        self.sink["fr"].append(x)
        return x

    def read_frs_bytes(self, **kw) -> bytes:
        b = super().read_frs_bytes(**kw)
        self.sink["fr"] += [int.from_bytes(b[i : i + 32], "little") for i in range(0, len(b), 32)]
        return b

    def read_g1(self, *, allow_identity: bool):
        p = super().read_g1(allow_identity=allow_identity)
        self.sink["g1"].append(bytes(p.to_compressed_bytes()))
        return p


def _verify_tapped(pp, st, proof, challenges=None) -> dict:
    """Verify (Fiat–Shamir, or the interactive verifier with ``challenges``) and return every field element
    and point the verifier read, and the challenges it drew."""
    sink: dict = {"fr": [], "g1": []}
    taps: list[_Tap] = []
    made: list = []

    def factory(t, readers, params):
        tapped = {}
        for s, r in readers.items():
            tapped[s] = _Tap(r.read_raw(r.remaining), sink)
            taps.append(tapped[s])
        transcript = ProgrammableTranscript.from_transcript(t, replay=challenges)
        ch = ZkVerifierChannel(transcript, tapped, params)
        made.append(ch)
        return ch

    training.verify(pp, st, proof, channel_factory=factory)
    assert all(tap.remaining == 0 for tap in taps)  # the verifier read every byte through the taps
    assert made[0].transcript.replay_finished()
    sink["challenges"] = made[0].transcript.record
    return sink


@pytest.fixture(scope="module")
def real(pp, instance):
    st, run, X, Y, opens = instance
    out = []
    for i in range(N_PROOFS):
        proof, _ = training.prove(pp, st, run, X, Y, opens, rng=random.Random(100 + i))
        out.append((proof, _verify_tapped(pp, st, proof)))
    return out


@pytest.fixture(scope="module")
def simulated(pp, instance):
    st = instance[0]
    out = []
    for i in range(N_PROOFS):
        proof, challenges = simulator.simulate(pp, st, random.Random(200 + i))
        out.append((proof, challenges, _verify_tapped(pp, st, proof, challenges)))
    return out


def test_simulator_takes_only_public_inputs():
    assert list(inspect.signature(simulator.simulate).parameters) == ["params", "statement", "rng"]


@pytest.mark.parametrize("backend", ["lookup", "bits"])
def test_simulator_needs_no_witness(pp, instance, backend):
    """A statement whose commitments open to random tensors (no training run behind them, so no witness
    exists): the simulator's proof is still accepted by the interactive verifier, and rejected under
    Fiat–Shamir. Both range-check back-ends run through the channel."""
    rng = np.random.default_rng(5)
    coms = {
        name: commit_int(pp, rng.integers(-(2**40), 2**40, n), rng=random.Random(3))[0]
        for name, n in instance[0].expected_tables().items()
    }
    st = dataclasses.replace(instance[0], commitments=coms, range_backend=backend)
    proof, challenges = simulator.simulate(pp, st, random.Random(7))
    simulator.verify_with_challenges(pp, st, proof, challenges)
    with pytest.raises(VerificationError):
        training.verify(pp, st, proof)


def test_simulated_proof_verifies_with_its_challenges(pp, instance, simulated):
    st = instance[0]
    proof, challenges, _ = simulated[0]
    simulator.verify_with_challenges(pp, st, proof, challenges)  # raises on failure
    labels = {c.label for c in challenges}
    assert {"products/c", "masks/c", "hyrax-eval-zk/c", "zero/e", "sumcheck-zk/r"} <= labels  # the Σ-protocols ran
    assert not parse_header(proof).transparent


def test_simulated_proof_is_rejected_under_fiat_shamir(pp, instance, simulated):
    st = instance[0]
    for proof, _, _ in simulated:
        with pytest.raises(VerificationError):
            training.verify(pp, st, proof)


def test_programmed_challenges_are_needed(pp, instance, simulated):
    """Changing one programmed challenge (the Schnorr proof's, the last one) or dropping one makes the
    interactive verifier reject."""
    st = instance[0]
    proof, challenges, _ = simulated[0]
    last = challenges[-1]
    assert last.label == "zero/e"
    changed = (*challenges[:-1], Challenge(last.label, 1, ((last.values[0] + 1) % MODULUS,)))
    with pytest.raises(VerificationError, match="zero checks failed"):
        simulator.verify_with_challenges(pp, st, proof, changed)
    with pytest.raises(ChallengeMismatch):
        simulator.verify_with_challenges(pp, st, proof, challenges[:-1])


def test_real_proof_verifies_with_recorded_challenges(pp, instance, real, simulated):
    st = instance[0]
    proof, seen = real[0]
    training.verify(pp, st, proof)
    simulator.verify_with_challenges(pp, st, proof, seen["challenges"])
    # the same schedule (labels and counts) as the simulator's, but its own challenge values
    sim_challenges = simulated[0][1]
    assert [(c.label, c.count) for c in seen["challenges"]] == [(c.label, c.count) for c in sim_challenges]
    with pytest.raises(VerificationError):
        simulator.verify_with_challenges(pp, st, proof, sim_challenges)


def test_simulated_proofs_have_the_real_shape(real, simulated):
    for (rp, rs), (sp, _, ss) in zip(real, simulated):
        assert len(sp) == len(rp)
        assert [(s.tag, s.length) for s in parse_header(sp).sections] == [
            (s.tag, s.length) for s in parse_header(rp).sections
        ]
        assert len(ss["fr"]) == len(rs["fr"]) and len(ss["g1"]) == len(rs["g1"])
    assert not set(real[0][1]["fr"]) & set(simulated[0][2]["fr"])


def _low_bytes(values: list[int]) -> np.ndarray:
    return np.bincount(np.array([v & 0xFF for v in values], dtype=np.int64), minlength=256)


def _x_low_bytes(points: list[bytes]) -> np.ndarray:
    # compressed G1: big-endian x with the flags in the top bits of byte 0, so byte 47 is x mod 256
    return np.bincount(np.frombuffer(b"".join(p[47:48] for p in points), dtype=np.uint8), minlength=256)


def _check(real_counts: np.ndarray, sim_counts: np.ndarray, what: str) -> None:
    for name, counts in (("real", real_counts), ("simulated", sim_counts)):
        assert counts.sum() >= 5 * 256, f"too few {what} for a chi-square test"
        p = stats.chisquare(counts).pvalue
        assert p > ALPHA, f"low 8 bits of {name} {what} are not uniform (p = {p:.3g})"
    p = stats.chi2_contingency(np.stack([real_counts, sim_counts])).pvalue
    assert p > ALPHA, f"low 8 bits of real and simulated {what} differ (p = {p:.3g})"


def test_field_elements_low_bits(real, simulated):
    r = sum(_low_bytes(s["fr"]) for _, s in real)
    s = sum(_low_bytes(x["fr"]) for _, _, x in simulated)
    _check(r, s, "field elements (masked sumcheck messages, Σ-protocol responses)")


def test_point_x_coordinates_low_bits(real, simulated):
    r = sum(_x_low_bytes(s["g1"]) for _, s in real)
    s = sum(_x_low_bytes(x["g1"]) for _, _, x in simulated)
    _check(r, s, "points (x-coordinates)")
