"""Engine.flush closes every window at once, with garbage collection paused while the alert
documents are built: it must hand back every alert and leave the collector as it found it."""

from __future__ import annotations

import gc
from pathlib import Path

import pytest
from test_correlation import WRITE, engine_for, write_ev


@pytest.mark.parametrize("enabled", [True, False])
def test_flush_leaves_the_collector_as_it_was(tmp_path: Path, enabled: bool) -> None:
    engine = engine_for(tmp_path, WRITE)
    for i in range(3):  # three groups, each alert open until the end
        assert engine.process(write_ev(i, f"e{i}", src=f"10.0.0.{i + 1}")) == []
    was = gc.isenabled()
    try:
        if not enabled:
            gc.disable()
        alerts = engine.flush()
        assert gc.isenabled() is enabled
    finally:
        if was:
            gc.enable()
    assert sorted(a["related"]["events"][0] for a in alerts) == ["e0", "e1", "e2"]
    assert engine.flush() == []  # nothing left open
