"""The one state envelope: every counter's, problem's, noise generator's and DP-FTRL plan's ``state_dict`` is
``{"format": "dpstream-state", "version": v, "mechanism": name, ...fields}``, written by ``base.pack_state`` and
checked by ``base.unpack_state``; states persisted by dpstream 0.1.0 (version-1 sealed states and SQLite stores,
torch checkpoints of a DP-FTRL plan) are still read, and continue exactly as the old code continued them."""

from __future__ import annotations

import copy
import json
import shutil
import sqlite3
from pathlib import Path

import numpy as np
import pytest

from dpstream import counters, problems
from dpstream.accounting import EpsDP, Guarantee, zCDP
from dpstream.base import STATE_FORMAT, InvalidParameter, StateError, check_int, unpack_state
from dpstream.counters.gradient_noise import GradientNoise, make_gradient_noise
from dpstream.state import ENVELOPE_VERSION, Ledger, canonical_json, mac, unseal
from dpstream.training import DPFTRLNoise

DATA = Path(__file__).parent / "data"
LEGACY = json.loads((DATA / "legacy_states_v1.json").read_text())
KEY = bytes.fromhex(LEGACY["key"])

# name -> (make a fresh mechanism that has consumed a few items, restore a state, feed it some more)
COUNTERS = {
    "binary-tree": lambda: counters.make("binary-tree", horizon=40, privacy=zCDP(0.5), seed=1),
    "binary-tree-eps": lambda: counters.make("binary-tree", horizon=40, privacy=EpsDP(1.0), seed=1),
    "honaker": lambda: counters.make("honaker", horizon=40, privacy=zCDP(0.5), seed=2, dim=2),
    "smooth-binary": lambda: counters.make("smooth-binary", horizon=40, privacy=zCDP(0.5), seed=3),
    "square-root": lambda: counters.make("square-root", horizon=40, privacy=zCDP(0.5), seed=4),
    "blt": lambda: counters.make("blt", horizon=40, privacy=zCDP(0.5), seed=5),
    "hybrid": lambda: counters.make("hybrid", privacy=zCDP(0.5), seed=6),
    "block-counter": lambda: counters.make("binary-tree", horizon=40, privacy=zCDP(0.5), seed=7, release_every=3),
}
PROBLEMS = {
    "MaxSumTree": lambda: problems.MaxSumTree(horizon=20, dim=3, rho=0.5, seed=1),
    "SumSelectTree": lambda: problems.SumSelectTree(horizon=20, dim=3, epsilon=1.0, seed=2),
    "MaxSumSVT": lambda: problems.MaxSumSVT(horizon=20, dim=3, rho=0.5, seed=3),
    "SumSelectSVT": lambda: problems.SumSelectSVT(horizon=20, dim=3, rho=0.5, seed=4),
    "MaxSumTrivial": lambda: problems.MaxSumTrivial(horizon=20, dim=3, rho=0.5, seed=5),
    "SumSelectTrivial": lambda: problems.SumSelectTrivial(horizon=20, dim=3, rho=0.5, seed=6),
}


def _feed(m):
    if m.name in PROBLEMS or getattr(m, "state_kind", "") == "problem":
        return m.update_many([[1, 0, 1], [0, 1, 1], [1, 1, 0]])
    if m.dim > 1:
        return m.update_many(np.tile([[0.0, 1.0]], (5, 1)))
    return m.update_many([0.0, 1.0, 0.5, 1.0, 1.0])


def _restore(state):
    if state.get("mechanism") in PROBLEMS:
        return problems.from_state_dict(state, trusted=True)
    return counters.from_state_dict(state, trusted=True)


ALL = {**COUNTERS, **PROBLEMS}


@pytest.mark.parametrize("name", list(ALL))
def test_every_state_is_the_envelope_and_round_trips(name):
    m = ALL[name]()
    _feed(m)
    st = m.state_dict()
    assert list(st)[:3] == ["format", "version", "mechanism"]
    assert st["format"] == STATE_FORMAT == "dpstream-state"
    assert st["mechanism"] == ("block-counter" if name == "block-counter" else m.name)
    assert st["version"] == type(m).state_version and type(st["version"]) is int
    json.dumps(st)  # JSON-able
    r = _restore(copy.deepcopy(st))
    assert type(r) is type(m) and r.state_dict() == st
    np.testing.assert_array_equal(_feed(r), _feed(m))  # continues the same stream


@pytest.mark.parametrize("name", list(ALL))
def test_sealed_state_holds_the_envelope(name):
    m = ALL[name]()
    _feed(m)
    env = m.save_state(KEY)
    assert env["version"] == ENVELOPE_VERSION == 2
    assert env["state"]["format"] == STATE_FORMAT and env["state"]["mechanism"] == m.state_dict()["mechanism"]
    restore = problems.from_state_dict if name in PROBLEMS else counters.from_state_dict
    r = restore(env, key=KEY, ledger=Ledger())
    np.testing.assert_array_equal(_feed(r), _feed(m))


def _states():
    """(label, state, loader) for every kind of state: the registries' loaders and the generators' own."""
    out = []
    for name, mk in ALL.items():
        m = mk()
        _feed(m)
        out.append((name, m.state_dict(), _restore))
    for mech in ("blt", "tree", "honaker"):
        g = make_gradient_noise(mech, 3, 16, seed=1)
        for _ in range(5):
            g.step()
        out.append((f"gradient-noise/{mech}", g.state_dict(), GradientNoise.from_state_dict))
    plan = DPFTRLNoise("tree", 3, steps_per_epoch=4, epochs=2, clip_norm=1.0, noise_multiplier=2.0, seed=1)
    for _ in range(5):
        plan.noise()
    out.append(("dpftrl-noise", plan.state_dict(), DPFTRLNoise.from_state_dict))
    return out


STATES = _states()
IDS = [s[0] for s in STATES]


@pytest.mark.parametrize(("label", "state", "load"), STATES, ids=IDS)
def test_unknown_mechanism_is_refused_by_name(label, state, load):
    with pytest.raises(StateError, match="'no-such-mechanism'"):
        load({**state, "mechanism": "no-such-mechanism"})
    with pytest.raises(StateError, match="'mechanism' must be a string"):
        load({**state, "mechanism": 7})


@pytest.mark.parametrize("name", list(ALL))
def test_a_mechanism_refuses_the_state_of_another(name):
    m = ALL[name]()
    cls, mine = type(m), m.state_dict()["mechanism"]
    for other, _state, _ in STATES:
        if other == name or (name == "binary-tree" and other == "binary-tree-eps"):
            continue
        if name == "binary-tree-eps" and other == "binary-tree":
            continue
        with pytest.raises(StateError, match=rf"state is for mechanism '{_state['mechanism']}', not '{mine}'"):
            cls.from_state_dict(_state)


@pytest.mark.parametrize(("label", "state", "load"), STATES, ids=IDS)
@pytest.mark.parametrize("version", [0, 99, "1", 1.0, True, None])
def test_wrong_or_unknown_version_is_refused(label, state, load, version):
    if version == state["version"] and type(version) is int:
        return
    with pytest.raises(StateError, match=r"version .* this dpstream reads version"):
        load({**state, "version": version})


@pytest.mark.parametrize(("label", "state", "load"), STATES, ids=IDS)
def test_missing_header_or_field_is_named(label, state, load):
    for header in ("format", "mechanism", "version"):
        bad = {k: v for k, v in state.items() if k != header}
        with pytest.raises(StateError):
            load(bad)
    with pytest.raises(StateError, match="format is 'dpstream.nonsense'"):
        load({**state, "format": "dpstream.nonsense"})
    for field in list(state)[3:]:
        bad = {k: v for k, v in state.items() if k != field}
        with pytest.raises(StateError, match=rf"lacks the field\(s\) \['{field}'\]"):
            load(bad)
    with pytest.raises(StateError, match=r"unknown field\(s\) \['surplus'\]"):
        load({**state, "surplus": 1})


@pytest.mark.parametrize(("label", "state", "load"), STATES, ids=IDS)
def test_malformed_payload_is_a_state_error(label, state, load):
    for field in list(state)[3:]:
        for junk in ({"junk": [1]}, "junk"):
            if state[field] == junk:
                continue
            bad = {**state, field: junk}
            try:
                load(bad)
            except StateError:
                continue
            # a value the loader may take as it is must at least not change the restored state
            raise AssertionError(f"{label}: {field}={junk!r} was accepted")


@pytest.mark.parametrize("not_a_state", [None, [], "state", 3])
def test_not_a_dict_is_a_state_error(not_a_state):
    for load in (_restore_counter, _restore_problem, GradientNoise.from_state_dict, DPFTRLNoise.from_state_dict):
        with pytest.raises(StateError, match="is a dict"):
            load(not_a_state)


def _restore_counter(s):
    return counters.from_state_dict(s, trusted=True)


def _restore_problem(s):
    return problems.from_state_dict(s, trusted=True)


def test_unpack_state_checks_in_the_documented_order():
    st = {"format": STATE_FORMAT, "version": 3, "mechanism": "m", "a": 1, "b": 2}
    assert unpack_state(st, "m", 3, ("a", "b")) == {"a": 1, "b": 2}
    with pytest.raises(StateError, match="for mechanism 'm', not 'n'"):
        unpack_state(st, "n", 3, ("a", "b"))
    with pytest.raises(StateError, match="has version 3; this dpstream reads version 4"):
        unpack_state(st, "m", 4, ("a", "b"))
    with pytest.raises(StateError, match=r"lacks the field\(s\) \['c'\]"):
        unpack_state(st, "m", 3, ("a", "b", "c"))
    with pytest.raises(StateError, match=r"unknown field\(s\) \['b'\]"):
        unpack_state(st, "m", 3, ("a",))


def test_counters_and_problems_do_not_load_each_other():
    c, p = COUNTERS["binary-tree"](), PROBLEMS["MaxSumSVT"]()
    with pytest.raises(StateError, match="'MaxSumSVT', which is not a counter"):
        counters.from_state_dict(p.state_dict(), trusted=True)
    with pytest.raises(StateError, match="'binary-tree', which is not a MaxSum / SumSelect one"):
        problems.from_state_dict(c.state_dict(), trusted=True)
    g = make_gradient_noise("blt", 2, 8, seed=1)
    with pytest.raises(StateError, match="'gradient-noise/blt', which is not a counter"):
        counters.from_state_dict(g.state_dict(), trusted=True)
    with pytest.raises(StateError, match="'blt', not a gradient-noise generator"):
        GradientNoise.from_state_dict(counters.make("blt", horizon=8, privacy=zCDP(1.0), seed=1).state_dict())


# ------------------------------------------------------------------------------------------------------------------
# states of dpstream 0.1.0 (written by tests/dpstream/data: the pre-envelope code, see the fixture's keys)
# ------------------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("label", "restore"),
    [
        ("sealed_block_counter", counters.from_state_dict),
        ("sealed_blt", counters.from_state_dict),
        ("sealed_svt", problems.from_state_dict),
        ("sealed_sumselect_tree", problems.from_state_dict),
    ],
)
def test_sealed_states_of_version_1_restore_and_continue_as_before(label, restore):
    env = copy.deepcopy(LEGACY[label])
    assert env["version"] == 1 and env["state"].get("format") != STATE_FORMAT
    m = restore(env, key=KEY, ledger=Ledger())
    assert m.state_dict()["format"] == STATE_FORMAT
    nxt = LEGACY[f"{label}_next"]
    feed = (
        [[1, 1]] * 6
        if label == "sealed_svt"
        else [[0, 1]] * 4
        if label == "sealed_sumselect_tree"
        else [0, 1, 1, 0, 1]
        if label == "sealed_block_counter"
        else [0.75, 0.0]
    )
    np.testing.assert_array_equal(np.asarray(m.update_many(feed)), np.asarray(nxt))
    # and the restored mechanism seals in the new envelope
    assert m.save_state(KEY)["version"] == 2


def test_a_version_2_seal_of_an_old_layout_is_refused():
    """Old layouts are read only from version-1 containers: a new seal must hold the envelope."""
    env = copy.deepcopy(LEGACY["sealed_svt"])
    body = {k: v for k, v in env.items() if k != "mac"}
    body["version"] = 2
    from dpstream.state import _DOMAIN

    forged = {**body, "mac": mac(KEY, _DOMAIN, body)}  # authentic under KEY, but a v2 seal of a legacy state
    with pytest.raises(StateError, match="format is None"):
        unseal(forged, KEY, "problem", problems.combined._restore_raw, Ledger())


def test_tampered_version_1_seal_is_still_refused():
    env = copy.deepcopy(LEGACY["sealed_block_counter"])
    env["state"]["t"] += 1
    with pytest.raises(StateError, match="failed authentication"):
        counters.from_state_dict(env, key=KEY, ledger=Ledger())


@pytest.mark.parametrize("mech", ["blt", "tree"])
def test_dpftrl_plan_of_version_1_restores_and_continues_as_before(mech):
    legacy = copy.deepcopy(LEGACY[f"dpftrl_{mech}_plan"])
    assert legacy["format"] == "dpstream.dpftrl"
    plan = DPFTRLNoise.from_state_dict(legacy)
    got = [plan.noise().tolist() for _ in range(2)]
    np.testing.assert_array_equal(np.float32(got), np.float32(LEGACY[f"dpftrl_{mech}_next"]))
    st = plan.state_dict()
    assert (st["format"], st["mechanism"], st["noise"]) == (STATE_FORMAT, "dpftrl-noise", mech)
    assert st["generator"]["mechanism"] == f"gradient-noise/{mech}"


def _meta(path) -> dict:
    con = sqlite3.connect(path)
    try:
        return dict(con.execute("SELECT k, v FROM meta").fetchall())
    finally:
        con.close()


def _head_state(path) -> dict:
    con = sqlite3.connect(path)
    try:
        return json.loads(con.execute("SELECT state FROM head").fetchone()[0])
    finally:
        con.close()


def test_version_1_counter_store_opens_continues_and_is_rewritten_to_version_2(tmp_path):
    path = tmp_path / "c.db"
    shutil.copy(DATA / "legacy_store_counter_v1.db", path)
    assert _meta(path)["version"] == "1" and _head_state(path)["format"] == "dpstream.counter"
    with counters.open(path, key=KEY) as c:
        assert c.answers() == LEGACY["counter_store_answers"]  # what 0.1.0 released, read back
        assert c.update_many([1, 1, 0, 0, 1]).tolist() == LEGACY["counter_store_next"]  # as 0.1.0 continued
    assert _meta(path)["version"] == "2"
    assert _head_state(path)["format"] == STATE_FORMAT
    with counters.open(path, key=KEY) as c:  # the rewritten store reopens (its head re-tagged under the key)
        assert c.t == 15 and len(c.answers()) == 15


def test_version_1_problem_store_is_read_and_upgraded_at_open(tmp_path):
    path = tmp_path / "p.db"
    shutil.copy(DATA / "legacy_store_problem_v1.db", path)
    with problems.open(path) as m:
        assert m.answers() == LEGACY["problem_store_answers"]
        recs = [[1, 0, 1], [0, 1, 1], [1, 1, 1], [0, 0, 1]]
        assert m.update_many(recs).tolist() == LEGACY["problem_store_next"]
    st = _head_state(path)
    assert (st["format"], st["mechanism"], st["version"]) == (STATE_FORMAT, "MaxSumTree", 2)


def _legacy_copy(tmp_path, name: str, sql: str = "", *args) -> Path:
    """A copy of a version-1 store fixture, with ``sql`` run on it."""
    path = tmp_path / name
    shutil.copy(DATA / name, path)
    if sql:
        con = sqlite3.connect(path)
        con.execute(sql, args)
        con.commit()
        con.close()
    return path


def test_version_2_store_with_an_old_layout_is_refused(tmp_path):
    """Only a version-1 store may hold the old layout: relabelling one as version 2 does not smuggle it in."""
    path = _legacy_copy(tmp_path, "legacy_store_problem_v1.db", "UPDATE meta SET v='2' WHERE k='version'")
    with pytest.raises(StateError, match="format is None"):
        problems.open(path)


def test_tampered_version_1_store_is_refused(tmp_path):
    path = _legacy_copy(tmp_path, "legacy_store_counter_v1.db")
    st = _head_state(path)
    st["t"] = 9
    path = _legacy_copy(tmp_path, "legacy_store_counter_v1.db", "UPDATE head SET state=?", canonical_json(st).decode())
    with pytest.raises(StateError, match="failed authentication"):
        counters.open(path, key=KEY)
    assert _meta(path)["version"] == "1"  # a refused open rewrites nothing


def test_unknown_store_version_is_refused(tmp_path):
    path = _legacy_copy(tmp_path, "legacy_store_counter_v1.db", "UPDATE meta SET v='3' WHERE k='version'")
    from dpstream.store import StoreError

    with pytest.raises(StoreError, match="version '3'; this dpstream reads versions 1 and 2"):
        counters.open(path, key=KEY)


def test_new_stores_are_version_2_with_the_envelope(tmp_path):
    with counters.open(tmp_path / "n.db", "honaker", horizon=8, privacy=zCDP(1.0), seed=1) as c:
        c.update_many([1, 0])
    assert _meta(tmp_path / "n.db")["version"] == "2"
    assert _head_state(tmp_path / "n.db")["mechanism"] == "honaker"


# ------------------------------------------------------------------------------------------------------------------
# the guarantee as a Guarantee; privacy targets' methods; validators
# ------------------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", [n for n in COUNTERS if n != "block-counter"])
def test_noise_process_returns_a_guarantee(name):
    c = COUNTERS[name]()
    g = c.process.guarantee()
    assert isinstance(g, Guarantee)
    full = c.guarantee
    assert (full.rho, full.epsilon, full.mu, full.notes) == (g.rho, g.epsilon, g.mu, g.notes)
    assert full.seeded and full.domain == {"bounds": [0.0, 1.0], "dim": c.dim, "clip": False}


def test_privacy_targets_scale_and_say_their_pure_epsilon():
    assert zCDP(0.5).scaled(0.5) == zCDP(0.25) and EpsDP(2.0).scaled(3) == EpsDP(6.0)
    assert zCDP(0.5).pure_epsilon is None and EpsDP(2.0).pure_epsilon == 2.0
    assert zCDP(0.5).to_dict() == {"rho": 0.5} and EpsDP(2.0).implied_rho() == 2.0
    with pytest.raises(InvalidParameter):
        zCDP(0.5).scaled(0)
    # the hybrid counter spends half on each of its two parts
    assert counters.make("hybrid", privacy=EpsDP(1.0), seed=1).process._half == EpsDP(0.5)


def test_check_int_bounds():
    assert check_int("n", np.int64(5), 1, 5) == 5
    for bad in (0, 6, True, 2.0, "3"):
        with pytest.raises(InvalidParameter, match="n must be an integer"):
            check_int("n", bad, 1, 5)
