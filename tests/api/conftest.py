"""Fixtures for the platform API tests (helpers live in apitest.py)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from apitest import Env, build_env


@pytest.fixture
def env(tmp_path: Path) -> Iterator[Env]:
    e = build_env(tmp_path)
    yield e
    e.app.state.store.close()
    e.app.state.db.close()
