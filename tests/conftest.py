"""Fixtures for every test: the generator cache lives in a temporary ZKDL_HOME (never the user's cache), and
the default compute backend is reset after each test (a CLI test selecting ``--backend`` must not leak)."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def _zkdl_home(tmp_path_factory):
    """One temporary ZKDL_HOME per session (generators are derived at most once per session)."""
    return tmp_path_factory.mktemp("zkdl-home")


@pytest.fixture(autouse=True)
def _isolated_zkdl(_zkdl_home, monkeypatch):
    from zkdl.field import backend

    monkeypatch.setenv("ZKDL_HOME", str(_zkdl_home))
    monkeypatch.delenv("ZKDL_BACKEND", raising=False)
    backend._default_name = None
    yield
    backend._default_name = None
