"""Sealed states: every field of every mechanism's state is authenticated, restores happen once and never rewind,
raw states are validated with typed errors.  Each attack names the check that must reject it."""

from __future__ import annotations

import json
import secrets

import numpy as np
import pytest

from dpstream import counters, problems
from dpstream.base import InvalidParameter, StateError
from dpstream.counters import EpsDP, zCDP
from dpstream.state import Ledger, canonical_json

KEY = secrets.token_bytes(32)
T = 64


def _counter(name, priv=None, release_every=1, **kw):
    c = counters.make(name, horizon=T, privacy=priv or zCDP(0.5), release_every=release_every, **kw)
    c.update_many(np.random.default_rng(1).integers(0, 2, size=21).astype(float))
    return c


def _problem(cls, **kw):
    m = cls(horizon=T, dim=3, rho=2.0, **kw)
    m.update_many(np.random.default_rng(2).integers(0, 2, size=(21, 3)))
    return m


COUNTERS = [(n, None, 1) for n in counters.names()] + [
    ("binary-tree", EpsDP(1.0), 1),
    ("honaker", EpsDP(1.0), 1),
    ("binary-tree", None, 4),
    ("honaker", None, 3),
]
COUNTER_IDS = [f"{n}-{'eps' if p else 'rho'}-every{k}" for n, p, k in COUNTERS]
PROBLEMS = [
    problems.MaxSumTree,
    problems.SumSelectTree,
    problems.MaxSumSVT,
    problems.SumSelectSVT,
    problems.MaxSumTrivial,
    problems.SumSelectTrivial,
]


def _mechanism_list():
    for (n, p, k), i in zip(COUNTERS, COUNTER_IDS, strict=True):
        yield pytest.param(lambda n=n, p=p, k=k: (_counter(n, p, k), counters), id=i)
        if k == 1 and p is None:
            yield pytest.param(lambda n=n: (_counter(n, seed=5), counters), id=f"{i}-seeded")
    for cls in PROBLEMS:
        yield pytest.param(lambda cls=cls: (_problem(cls), problems), id=cls.__name__)
        yield pytest.param(lambda cls=cls: (_problem(cls, seed=3), problems), id=f"{cls.__name__}-seeded")


def _mechanisms():
    return list(_mechanism_list())


def _leaves(obj, path=()):
    if isinstance(obj, dict):
        for k, v in obj.items():
            yield from _leaves(v, (*path, k))
    elif isinstance(obj, list) and obj:
        for i, v in enumerate(obj):
            yield from _leaves(v, (*path, i))
    else:
        yield path, obj


def _mutated(value):
    if isinstance(value, bool):
        return not value
    if isinstance(value, int):
        return value + 1
    if isinstance(value, float):
        return value + 1.0
    if isinstance(value, str):
        return value[:-1] + ("0" if value[-1:] != "0" else "1") if value else "x"
    if value is None:
        return 0
    return [0]  # an empty list


def _set(obj, path, value):
    for p in path[:-1]:
        obj = obj[p]
    obj[path[-1]] = value


@pytest.mark.parametrize("factory", _mechanisms())
def test_every_field_of_every_state_is_authenticated(factory):
    mech, registry = factory()
    env = mech.save_state(KEY)
    leaves = list(_leaves(env))
    assert len(leaves) > 8
    # at most 80 fields per mechanism (carries can be long): the first ones, then every k-th
    step = max(1, len(leaves) // 80)
    for path, value in leaves[:20] + leaves[20::step]:
        if path == ("mac",):
            continue
        bad = json.loads(json.dumps(env))
        _set(bad, path, _mutated(value))
        with pytest.raises(StateError, match="authentication"):
            registry.from_state_dict(bad, key=KEY, ledger=Ledger())
    bad = json.loads(json.dumps(env))
    bad["mac"] = "0" * 64
    with pytest.raises(StateError, match="authentication"):
        registry.from_state_dict(bad, key=KEY, ledger=Ledger())
    with pytest.raises(StateError, match="authentication"):
        registry.from_state_dict(env, key=secrets.token_bytes(32), ledger=Ledger())
    # the untouched envelope restores, to the same state, and only once
    ledger = Ledger()
    r = registry.from_state_dict(json.loads(json.dumps(env)), key=KEY, ledger=ledger)
    assert canonical_json(r.state_dict()) == canonical_json(mech.state_dict())
    with pytest.raises(StateError, match="already restored"):
        registry.from_state_dict(env, key=KEY, ledger=ledger)


@pytest.mark.parametrize("factory", _mechanisms())
def test_restore_once_and_no_rewind(factory):
    mech, registry = factory()
    ledger = Ledger()
    old = mech.save_state(KEY)
    new = mech.save_state(KEY)
    assert new["generation"] == old["generation"] + 1 and new["stream"] == old["stream"]
    r = registry.from_state_dict(new, key=KEY, ledger=ledger)
    with pytest.raises(StateError, match="not newer"):  # an older snapshot of the same stream: a rewind
        registry.from_state_dict(old, key=KEY, ledger=ledger)
    # the restored copy continues the lineage: its next seal is newer and restores
    later = r.save_state(KEY)
    assert later["generation"] == new["generation"] + 1
    registry.from_state_dict(later, key=KEY, ledger=ledger)


def test_restoring_twice_no_longer_replays_noise():
    """The issue's attack: two restores of one state fed 1 and 0 differ by exactly 1.0 (the data leaks)."""
    c = counters.make("binary-tree", horizon=T, privacy=zCDP(0.5))
    c.update_many(np.ones(5))
    env = c.save_state(KEY)
    a = counters.from_state_dict(env, key=KEY)  # the process ledger
    assert a.update(1.0) is not None
    with pytest.raises(StateError, match="already restored"):
        counters.from_state_dict(env, key=KEY)
    # raw states are refused unless the caller says the dict never left the program
    with pytest.raises(StateError, match="unauthenticated"):
        counters.from_state_dict(c.state_dict())
    with pytest.raises(StateError, match="unauthenticated"):
        problems.from_state_dict(problems.MaxSumSVT(horizon=10, rho=1.0).state_dict())
    with pytest.raises(StateError, match="sealed"):
        counters.from_state_dict(env)  # no key


def test_ledger_file_makes_restore_once_hold_across_processes(tmp_path):
    c = counters.make("honaker", horizon=T, privacy=zCDP(0.5))
    env = c.save_state(KEY)
    counters.from_state_dict(env, key=KEY, ledger=Ledger(str(tmp_path / "ledger.db")))
    with pytest.raises(StateError, match="already restored"):  # a fresh Ledger object on the same file
        counters.from_state_dict(env, key=KEY, ledger=Ledger(str(tmp_path / "ledger.db")))


def test_bad_keys_are_parameter_errors():
    c = counters.make("binary-tree", horizon=T, privacy=zCDP(0.5))
    for key in (b"short", "a string key of enough length", None, 12345):
        with pytest.raises(InvalidParameter):
            c.save_state(key)


# ---------------------------------------------------------------------------------------- raw, trusted path ---
def _raw(name):
    return json.loads(json.dumps(_counter(name).state_dict()))


@pytest.mark.parametrize("name", counters.names())
def test_raw_states_tampered_horizon_carry_or_types_raise_state_error(name):
    s = _raw(name)
    cases = {
        "horizon": lambda d: d["params"].__setitem__("horizon", -3),
        "horizon-str": lambda d: d["params"].__setitem__("horizon", "64"),
        "t-str": lambda d: d.__setitem__("t", "21"),
        "t-float": lambda d: d.__setitem__("t", 21.0),
        "t-past-horizon": lambda d: d.__setitem__("t", T + 1),
        "carry": lambda d: d.__setitem__("carry", {"nonsense": [1, 2]} if d["carry"] is not None else [[1.5]]),
        "carry-shape": lambda d: d.__setitem__("carry", [[[1.0, 2.0]]] * 99),
        "extra-field": lambda d: d.__setitem__("extra", 1),
        "entropy-uppercase": lambda d: d.__setitem__("entropy", d["entropy"].upper() + "A"),
        "privacy": lambda d: d["params"].__setitem__("privacy", {"rho": -1}),
        "seeded": lambda d: d.__setitem__("seeded", "yes"),
    }
    for what, edit in cases.items():
        bad = json.loads(json.dumps(s))
        edit(bad)
        with pytest.raises(StateError):
            counters.from_state_dict(bad, trusted=True)
        assert what  # (names the case in a failure's traceback)
    counters.from_state_dict(s, trusted=True)  # the untouched one restores


def test_raw_svt_state_with_changed_epsilon_is_refused():
    """The issue: a changed SVT eps left .privacy at 0.5 while .guarantee said 5000-zCDP."""
    m = _problem(problems.MaxSumSVT)
    s = json.loads(json.dumps(m.state_dict()))
    for field, value in (
        ("eps1", s["params"]["eps1"] * 100),
        ("eps0", s["params"]["eps0"] * 100),
        ("k", s["params"]["k"] * 10),
        ("sensitivity", 2),
        ("horizon", T * 2),
    ):
        bad = json.loads(json.dumps(s))
        bad["params"][field] = value
        if field in ("eps1",):
            bad["params"]["eps0"] = bad["params"]["eps1"] + bad["params"]["eps2"]
        with pytest.raises(StateError):
            problems.from_state_dict(bad, trusted=True)
    bad = json.loads(json.dumps(s))
    bad["rounds"] = bad["t"] + 1  # more rounds than records
    with pytest.raises(StateError):
        problems.from_state_dict(bad, trusted=True)
    r = problems.from_state_dict(s, trusted=True)
    assert r.guarantee.rho == pytest.approx(m.privacy.rho)


def test_svt_rounds_reset_in_a_sealed_state_is_refused():
    m = problems.MaxSumSVT(horizon=2000, dim=3, rho=2.0)
    while m.rounds == 0:
        m.update_many(np.ones((10, 3), dtype=int))
    env = m.save_state(KEY)
    env["state"]["rounds"] = 0
    with pytest.raises(StateError, match="authentication"):
        problems.from_state_dict(env, key=KEY, ledger=Ledger())


def test_block_counter_state_validation():
    c = _counter("binary-tree", release_every=4)
    s = json.loads(json.dumps(c.state_dict()))
    for edit in (
        lambda d: d.__setitem__("npending", 7),
        lambda d: d.__setitem__("release_every", 5),
        lambda d: d.__setitem__("t", 2),
        lambda d: d.__setitem__("pending", [float("nan")]),
    ):
        bad = json.loads(json.dumps(s))
        edit(bad)
        with pytest.raises(StateError):
            counters.from_state_dict(bad, trusted=True)
    r = counters.from_state_dict(s, trusted=True)
    assert (r.t, r.releases, r.release_every) == (c.t, c.releases, 4)
