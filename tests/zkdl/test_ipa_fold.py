"""The inner-product prover's generator fold shared with a helper process (zkdl/commit/ipa_fold.py): the same
L_j, R_j, z* and transcript as the prover folding alone, also when the helper dies mid-argument."""

from __future__ import annotations

import numpy as np
import pytest

from zkdl.commit import generators as G
from zkdl.commit import ipa as E
from zkdl.commit import ipa_fold
from zkdl.field import Fr
from zkdl.transcript import Transcript

N = 1024


@pytest.fixture(scope="module")
def pp():
    return G.PublicParams.ephemeral(N)


def _rounds(pp, z, a, helped: bool, monkeypatch):
    with monkeypatch.context() as m:
        if not helped:
            m.setattr(E, "fold_helper", lambda n: None)
        t = Transcript("test/ipa-fold")
        out = E.inner_product_rounds(pp, t, z, a, 12345)
        return out, t.challenge_fr("end")


@pytest.mark.parametrize("n", [ipa_fold.MIN_HELPED, N])
def test_helped_rounds_are_the_provers_own(pp, n, monkeypatch):
    rng = np.random.default_rng(n)
    z, a = Fr.random(n, rng), Fr.random(n, rng)
    calls = []
    real_fold = ipa_fold.FoldHelper.fold
    monkeypatch.setattr(ipa_fold.FoldHelper, "fold", lambda self, x: calls.append(x) or real_fold(self, x))
    helped = _rounds(pp, z, a, True, monkeypatch)
    assert len(calls) == n.bit_length() - 2  # the helper folded in every round but the last (verifier's)
    assert helped == _rounds(pp, z, a, False, monkeypatch)


def test_other_generators_replace_the_helpers(pp, monkeypatch):
    """Arguments over another parameter set (other points) after one over pp: the helper's points are replaced,
    not appended to (the bug this test caught: a warm-up prove with other parameters came first)."""
    from py_arkworks_bls12381 import G1Point, Scalar

    g = G1Point()
    other = G.PublicParams(None, N, b"", 0, points=[g * Scalar(k + 2) for k in range(N + G.N_EXTRA)])
    rng = np.random.default_rng(8)
    z, a = Fr.random(N, rng), Fr.random(N, rng)
    for params in (pp, other, pp):
        assert _rounds(params, z, a, True, monkeypatch) == _rounds(params, z, a, False, monkeypatch)


def test_zero_shares_are_the_identity(pp, monkeypatch):
    """A zero z: every share of L, R is the identity point (sent with its own encoding)."""
    z, a = Fr.zeros(N), Fr.random(N, np.random.default_rng(1))
    helped = _rounds(pp, z, a, True, monkeypatch)
    assert helped == _rounds(pp, z, a, False, monkeypatch)


@pytest.mark.parametrize("when", ["fold", "msm"])
def test_a_helper_that_dies_mid_argument_changes_nothing(pp, when, monkeypatch):
    rng = np.random.default_rng(5)
    z, a = Fr.random(N, rng), Fr.random(N, rng)
    want = _rounds(pp, z, a, False, monkeypatch)
    seen = []
    name = "fold" if when == "fold" else "send_msm"
    real = getattr(ipa_fold.FoldHelper, name)

    def dying(self, arg):
        seen.append(self)
        if len(seen) == 3:
            self.proc.kill()
            self.proc.wait()
        return real(self, arg)

    monkeypatch.setattr(ipa_fold.FoldHelper, name, dying)
    assert _rounds(pp, z, a, True, monkeypatch) == want
    assert len(seen) == 3 and ipa_fold._HELPER is not seen[0]  # it was used, died, and was dropped
    monkeypatch.undo()
    assert _rounds(pp, z, a, True, monkeypatch) == want  # the next argument starts a new helper


def test_no_helper_on_one_cpu_for_short_vectors_or_when_switched_off(monkeypatch):
    assert ipa_fold.fold_helper(ipa_fold.MIN_HELPED // 2) is None
    monkeypatch.setenv("ZKDL_THREADS", "1")
    assert ipa_fold.fold_helper(N) is None
    monkeypatch.delenv("ZKDL_THREADS")
    monkeypatch.setenv("ZKDL_FOLD_HELPER", "0")
    assert ipa_fold.fold_helper(N) is None


def test_prestart_starts_the_helper_that_the_next_argument_uses(pp, monkeypatch):
    ipa_fold.prestart()
    started = ipa_fold._HELPER
    assert started is not None and started.proc.poll() is None
    rng = np.random.default_rng(3)
    z, a = Fr.random(N, rng), Fr.random(N, rng)
    assert _rounds(pp, z, a, True, monkeypatch) == _rounds(pp, z, a, False, monkeypatch)
    assert ipa_fold._HELPER is started


def test_a_forked_child_starts_its_own_helper(pp, monkeypatch):
    ipa_fold.prestart()
    parents = ipa_fold._HELPER
    assert parents is not None
    monkeypatch.setattr(parents, "owner", parents.owner + 1)  # as seen from a forked child
    rng = np.random.default_rng(4)
    z, a = Fr.random(N, rng), Fr.random(N, rng)
    assert _rounds(pp, z, a, True, monkeypatch) == _rounds(pp, z, a, False, monkeypatch)
    assert ipa_fold._HELPER is not parents and parents.proc.poll() is None  # the parent's is left alone
    parents.close()
