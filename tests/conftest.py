"""Fixtures for every test: the generator cache lives in a temporary ZKDL_HOME (never the user's cache), and
the default compute backend is reset around each test (a CLI test selecting ``--backend`` must not leak)."""

from __future__ import annotations

import sys

import pytest


@pytest.fixture(scope="session")
def _zkdl_home(tmp_path_factory):
    """One temporary ZKDL_HOME per session (generators are derived at most once per session)."""
    return tmp_path_factory.mktemp("zkdl-home")


def _reset_default_backend() -> None:
    backend = sys.modules.get("zkdl.field.backend")  # tests that never import zkdl do not pay for it
    if backend is not None:
        backend._default_name = None


@pytest.fixture(autouse=True)
def _isolated_zkdl(_zkdl_home, monkeypatch):
    monkeypatch.setenv("ZKDL_HOME", str(_zkdl_home))
    monkeypatch.delenv("ZKDL_BACKEND", raising=False)
    _reset_default_backend()
    yield
    _reset_default_backend()
