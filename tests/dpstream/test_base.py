"""The streaming interface and the typed errors."""

import numpy as np
import pytest

from dpstream import base
from dpstream.accounting import Guarantee


def test_error_hierarchy():
    assert issubclass(base.InvalidParameter, base.DPError) and issubclass(base.InvalidParameter, ValueError)
    assert issubclass(base.DimensionMismatch, base.InvalidInput)
    assert issubclass(base.InvalidInput, ValueError)
    for cls in (base.HorizonExceeded, base.BudgetExceeded, base.StateError):
        assert issubclass(cls, base.DPError)


@pytest.mark.parametrize("bad", [0, -1, 1.5, True, "10", None, 2**41])
def test_check_horizon(bad):
    with pytest.raises(base.InvalidParameter, match="horizon"):
        base.check_horizon(bad)
    assert base.check_horizon(np.int64(7)) == 7


def test_checks_name_the_argument():
    with pytest.raises(base.InvalidParameter, match="rho"):
        base.check_positive("rho", -1)
    with pytest.raises(base.InvalidParameter, match="beta"):
        base.check_probability("beta", 1.0)
    assert base.check_positive("x", float("inf"), allow_inf=True) == float("inf")


class _Sum(base.Mechanism):
    """A minimal (non-private) mechanism: the default scalar update goes through update_many."""

    name = "sum"

    def __init__(self, horizon):
        self.horizon, self.t, self.s = horizon, 0, 0.0

    def update_many(self, xs):
        xs = np.asarray(xs, dtype=float)
        self._check_room(len(xs))
        out = self.s + np.cumsum(xs)
        self.s = float(out[-1]) if len(out) else self.s
        self.t += len(xs)
        return out

    @property
    def guarantee(self):
        return Guarantee(rho=float("inf"))

    def error_bound(self, beta=0.05):
        return 0.0

    def state_dict(self):
        return {"t": self.t, "s": self.s}

    @classmethod
    def from_state_dict(cls, state):
        return cls(None)


def test_default_update_and_horizon_message():
    m = _Sum(3)
    assert m.update(2) == 2.0 and isinstance(m.update(1), float)
    assert m.remaining == 1
    with pytest.raises(base.HorizonExceeded, match="larger horizon"):
        m.update_many([1, 1])
    assert m.t == 2
