"""The default rules over the project's captures (pcaps/, made with real protocol stacks).

pcaps/manifest.json lists, per capture, the ATT&CK for ICS techniques its scenario performs
(``[]`` for normal operation). Each attack capture must raise alerts naming every technique of
its scenario; a normal capture may raise informational alerts (security None, anonymous
sessions, engineering operations by themselves: severity 50 at most, see rules/README.md)
but nothing above 50. Each capture is replayed through its own engine with default settings:
one capture is too short for the first-seen and rate baselines, which never fire here.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

import pytest

from correlation import Engine

PCAPS = Path(__file__).resolve().parents[1] / "pcaps"
MANIFEST = PCAPS / "manifest.json"
CAPTURES: dict[str, dict[str, Any]] = json.loads(MANIFEST.read_text())["captures"] if MANIFEST.exists() else {}
ATTACKS = sorted(name for name, c in CAPTURES.items() if c["techniques"])
NORMAL = sorted(name for name, c in CAPTURES.items() if not c["techniques"])

pytestmark = pytest.mark.skipif(not CAPTURES, reason="pcaps/manifest.json not made yet (pcaps/make_captures.py)")


@cache
def replayed(name: str) -> tuple[tuple[str, ...], tuple[dict[str, Any], ...]]:
    """(event ids, alerts) of one capture through a fresh engine with the default rules."""
    from icssa.pipeline import replay_events

    engine = Engine.from_directory()
    assert engine.load_errors == []
    ids = []
    alerts: list[dict[str, Any]] = []
    for event in replay_events([PCAPS / CAPTURES[name]["file"]]):
        ids.append(event["event"]["id"])
        alerts.extend(engine.process(event))
    alerts.extend(engine.flush())
    return tuple(ids), tuple(alerts)


def test_manifest_has_attack_and_normal_captures() -> None:
    assert len(ATTACKS) >= 10 and len(NORMAL) >= 10


@pytest.mark.parametrize("name", ATTACKS)
def test_attack_capture_raises_alerts_naming_its_techniques(name: str) -> None:
    ids, alerts = replayed(name)
    named = {t for a in alerts for t in a["threat"]["technique"]["id"]}
    missing = set(CAPTURES[name]["techniques"]) - named
    assert not missing, f"{name}: no alert names {sorted(missing)}; alerts: {[a['rule']['id'] for a in alerts]}"
    for alert in alerts:
        assert alert["related"]["events"] and set(alert["related"]["events"]) <= set(ids)
        assert alert["source"]["ip"] in CAPTURES[name]["hosts"] or alert["destination"]["ip"] in CAPTURES[name]["hosts"]


@pytest.mark.parametrize("name", NORMAL)
def test_normal_capture_raises_nothing_above_severity_50(name: str) -> None:
    _, alerts = replayed(name)
    loud = [(a["rule"]["id"], a["event"]["severity"]) for a in alerts if a["event"]["severity"] > 50]
    assert not loud, f"{name}: {loud}"


def test_replaying_a_capture_again_gives_identical_alerts() -> None:
    name = ATTACKS[0]
    first = replayed(name)[1]
    replayed.cache_clear()
    assert replayed(name)[1] == first
