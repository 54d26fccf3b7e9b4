"""Fixed-seed proofs, pinned byte for byte.

A refactor of the prover or the verifier (moving relations between modules, renaming, typing, formatting) must
not change a single byte of a proof made from the same witness and the same randomness. These SHA-256 digests
pin four such proofs — lookup and bits back-ends, zero-knowledge and transparent, a 3-layer model with mixed
biases. A change that alters them on purpose (a new message, a new range check, a transcript label) updates
them in the same commit and says why in its message; any other change must leave them as they are.
"""

from __future__ import annotations

import hashlib

import numpy as np
import pytest
from training_instances import make_instance  # noqa: E402  (tests/zkdl is on sys.path)

from zkdl.commit.generators import PublicParams
from zkdl.protocol import training

CASES = {
    "lookup-zk": (dict(widths=[5, 4, 3], B=3, T=2, n=7, backend="lookup"), True),
    "lookup-transparent": (dict(widths=[5, 4, 3], B=3, T=2, n=7, backend="lookup"), False),
    "bits-zk": (dict(widths=[4, 3, 2], B=2, T=1, n=5, backend="bits"), True),
    "lookup-3-layers-mixed-bias": (
        dict(widths=[6, 5, 4, 3], B=4, T=3, n=9, backend="lookup", bias=[True, False, True]),
        True,
    ),
}

PINNED = {
    "lookup-zk": "d153fabc71f4fcca13f906e2ca3fc08e39fc3f68c2a2575d785ee49a0fdf5dd3",
    "lookup-transparent": "96da23c5a6ccc3d08ccdaf11982ada539ce50073ff8e56c431da64bfedc0927f",
    "bits-zk": "bdc540af1e47a3795cd739c892d259eca9009189e6ea53d763ae62e0288bb227",
    "lookup-3-layers-mixed-bias": "778156e332b006059d74fcfc864324e9698f68c41d67674295c1586d1107245c",
}


@pytest.fixture(scope="module")
def pp() -> PublicParams:
    return PublicParams.ephemeral(4096)


def _proof(pp, name: str) -> bytes:
    kw, zk = CASES[name]
    st, run, X, Y, opens = make_instance(pp, seed=3, commit_rng=np.random.default_rng(5), **kw)
    proof, _ = training.prove(pp, st, run, X, Y, opens, zk=zk, rng=np.random.default_rng(7))
    training.verify(pp, st, proof)
    return proof


@pytest.mark.parametrize(
    "name",
    [
        "lookup-zk",
        "lookup-transparent",
        pytest.param("bits-zk", marks=pytest.mark.slow),
        pytest.param("lookup-3-layers-mixed-bias", marks=pytest.mark.slow),
    ],
)
def test_fixed_seed_proof_bytes_are_pinned(pp, name):
    assert hashlib.sha256(_proof(pp, name)).hexdigest() == PINNED[name]


def test_the_same_seeds_give_the_same_proof(pp):
    """The pin is meaningful only if proving is deterministic given its randomness."""
    assert _proof(pp, "lookup-transparent") == _proof(pp, "lookup-transparent")
