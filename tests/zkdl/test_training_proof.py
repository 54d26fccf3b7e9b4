"""Completeness of the training proof: honest proofs verify across shapes, biases, schedules and back-ends.

Shapes are tiny (the range tensor's fixed 2^17-entry table dominates the cost), and deliberately not powers of
two, so every padding path (steps, batch, widths, dataset rows) is exercised. The soundness side is in
``test_training_soundness.py``.
"""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as hst
from training_instances import build_and_prove  # noqa: E402  (tests/zkdl is on sys.path)

from zkdl.commit.generators import PublicParams
from zkdl.protocol import training
from zkdl.protocol.statement import Statement
from zkdl.serialize import parse_header


@pytest.fixture(scope="module")
def pp() -> PublicParams:
    return PublicParams.ephemeral(4096)


CASES = [
    # id, widths, B, T, n, kwargs
    ("5-3-2/B3/T3/n11", (5, 3, 2), 3, 3, 11, {}),
    ("4-3-3-2/B4/T3/n12/bias-mixed", (4, 3, 3, 2), 4, 3, 12, {"bias": (True, False, True)}),
    ("5-3-2/B2/T2/n5/no-bias/transparent", (5, 3, 2), 2, 2, 5, {"bias": False, "zk": False}),
    ("3-4-2/B3/T3/n7/seeded", (3, 4, 2), 3, 3, 7, {"seed": 12345}),
    ("3-3-2/B4/T2/n3/batch>rows", (3, 3, 2), 4, 2, 3, {"seed": 2**64 - 1}),
    ("tiny/2-3-1/B1/T1/n1", (2, 3, 1), 1, 1, 1, {}),
    ("tiny/4-3-2/B2/T2/n3", (4, 3, 2), 2, 2, 3, {"bias": (False, True)}),
]


@pytest.mark.parametrize("widths,B,T,n,kw", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_honest_proof_verifies(pp, widths, B, T, n, kw):
    st, proof, run = build_and_prove(pp, widths, B, T, n, **kw)
    assert run.steps == T and len(run.traces) == T
    out = training.verify(pp, st, proof)
    assert set(out) >= {"verify"}
    # the container holds exactly the protocol's sections, each non-empty
    hdr = parse_header(proof)
    assert hdr.transparent == (not kw.get("zk", True))
    assert [s.tag for s in hdr.sections] == ["HEAD", "COMM", "SUMC", "OPEN"]
    assert all(s.length > 0 for s in hdr.sections)


@pytest.mark.slow
def test_bits_backend_transparent_and_statement_json_roundtrip(pp):
    """The bit-decomposition back-end (slower; one case), and a statement that went through statement.json."""
    st, proof, _ = build_and_prove(pp, (3, 3, 2), 3, 2, 5, backend="bits", seed=7, zk=False)
    assert st.range_backend == "bits"
    training.verify(pp, st, proof)
    st2 = Statement.from_json(st.to_json())
    assert st2.digest() == st.digest()
    training.verify(pp, st2, proof)


def test_bits_backend_zero_knowledge(pp):
    # was a completeness bug (the bits translation compared an int with a committed claim value); fixed when
    # the range gadget moved onto the channel
    st, proof, _ = build_and_prove(pp, (3, 3, 2), 2, 1, 3, backend="bits")
    training.verify(pp, st, proof)


@settings(max_examples=3, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    widths=hst.lists(hst.integers(1, 5), min_size=2, max_size=4),
    B=hst.integers(1, 4),
    T=hst.integers(1, 3),
    n=hst.integers(1, 12),
    bias_bits=hst.integers(0, 7),
    seed=hst.one_of(hst.none(), hst.integers(0, 2**64 - 1)),
)
@pytest.mark.slow
def test_random_small_architectures(pp, widths, B, T, n, bias_bits, seed):
    flags = tuple(bool(bias_bits >> i & 1) for i in range(len(widths) - 1))
    st, proof, _ = build_and_prove(pp, tuple(widths), B, T, n, bias=flags, seed=seed)
    training.verify(pp, st, proof)
