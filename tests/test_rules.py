"""Tests generated from the rule files themselves: each rule's own fire and silent cases.

For every ``rules/*.yaml``: the rule loads; each ``tests.fire`` case makes it raise an alert
(with the techniques its tags name, and evidence from the case's events); each
``tests.silent`` case raises none; every field condition carries a comment. The expectations
come from the files (read here with plain PyYAML), never from the engine.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from correlation import Engine, StaticZones, load_file
from correlation.ruletests import expand_case

RULES = Path(__file__).resolve().parents[1] / "rules"
RULE_FILES = sorted(RULES.glob("*.yaml"))
GROUP_KEYS = {"any", "all", "not"}


def _data(path: Path) -> dict[str, Any]:
    return yaml.safe_load(path.read_text())


def _run(path: Path, case: Any, name: str) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(events, alerts of this rule) for one case through an engine holding only this rule."""
    rule, errors = load_file(path)
    assert rule is not None, errors
    tests = _data(path)["tests"]
    context = StaticZones(tests["zones"]) if "zones" in tests else None
    kwargs: dict[str, Any] = {"context": context}
    if "baseline_seconds" in tests:
        kwargs["baseline_seconds"] = tests["baseline_seconds"]
    engine = Engine([rule], **kwargs)
    events = expand_case(case, name)
    alerts: list[dict[str, Any]] = []
    for e in events:
        alerts.extend(engine.process(e))
    alerts.extend(engine.flush())
    return events, [a for a in alerts if a["rule"]["id"] == path.stem]


def test_rule_files_exist() -> None:
    assert len(RULE_FILES) >= 25


def test_default_rule_set_loads_cleanly() -> None:
    engine = Engine.from_directory()
    assert engine.load_errors == []
    assert sorted(r.id for r in engine.rules) == sorted(p.stem for p in RULE_FILES)


@pytest.mark.parametrize("path", RULE_FILES, ids=[p.stem for p in RULE_FILES])
def test_rule_fires_on_its_fire_cases(path: Path) -> None:
    data = _data(path)
    techniques = sorted(t.split(".")[1].upper() for t in data["tags"] if re.fullmatch(r"attack\.t\d{4}", t))
    for i, case in enumerate(data["tests"]["fire"]):
        events, alerts = _run(path, case, f"fire{i}")
        assert alerts, f"{path.name}: fire case {i} raised no alert"
        ids = {e["event"]["id"] for e in events}
        for alert in alerts:
            assert alert["event"]["kind"] == "alert"
            assert alert["event"]["severity"] == data["severity"]
            assert sorted(alert["threat"]["technique"]["id"]) == techniques
            assert alert["related"]["events"], "an alert carries its evidence"
            assert set(alert["related"]["events"]) <= ids
            assert alert["event"]["count"] >= len(alert["related"]["events"])


@pytest.mark.parametrize("path", RULE_FILES, ids=[p.stem for p in RULE_FILES])
def test_rule_silent_on_its_silent_cases(path: Path) -> None:
    data = _data(path)
    for i, case in enumerate(data["tests"]["silent"]):
        _, alerts = _run(path, case, f"silent{i}")
        assert not alerts, f"{path.name}: silent case {i} raised {alerts[0]['message']}"


def _match_nodes(node: yaml.Node) -> list[yaml.Node]:
    """Key nodes of field conditions inside a match mapping (recursing into any/all/not)."""
    out: list[yaml.Node] = []
    if isinstance(node, yaml.MappingNode):
        for k, v in node.value:
            if k.value in GROUP_KEYS:
                items = v.value if isinstance(v, yaml.SequenceNode) else [v]
                for item in items:
                    out.extend(_match_nodes(item))
            else:
                out.append(k)
    return out


@pytest.mark.parametrize("path", RULE_FILES, ids=[p.stem for p in RULE_FILES])
def test_every_condition_has_a_comment(path: Path) -> None:
    """STYLE.md: a comment above every match says which protocol field and value it means and why."""
    text = path.read_text()
    lines = text.splitlines()
    root = yaml.compose(text)
    blocks: list[yaml.Node] = []
    for k, v in root.value:
        if k.value == "match":
            blocks.append(v)
        if k.value == "sequence":
            for kk, vv in v.value:
                if kk.value == "steps":
                    for step in vv.value:
                        blocks.extend(sv for sk, sv in step.value if sk.value == "match")
    assert blocks, "a rule has at least one match block"
    for block in blocks:
        for key in _match_nodes(block):
            line = key.start_mark.line
            above = lines[line - 1].strip().removeprefix("- ").strip() if line else ""
            inline = "#" in lines[line][key.end_mark.column :]
            assert above.startswith("#") or inline, f"{path.name}:{line + 1}: '{key.value}' has no comment"


REQUIRED_TECHNIQUES = {
    "T0846", "T0888", "T0861", "T0801", "T0836", "T0855", "T0806", "T0843", "T0845", "T0858",
    "T0816", "T0814", "T0835", "T0848", "T0859", "T0812", "T0869", "T0885",
}


def test_rule_set_covers_the_required_techniques_and_protocols() -> None:
    tags = set()
    datasets = set()
    for path in RULE_FILES:
        data = _data(path)
        tags |= {t.split(".")[1].upper() for t in data["tags"] if re.fullmatch(r"attack\.t\d{4}", t)}
        ds = (data.get("match") or {}).get("event.dataset")
        datasets |= set(ds if isinstance(ds, list) else [ds])
    assert REQUIRED_TECHNIQUES <= tags, sorted(REQUIRED_TECHNIQUES - tags)
    assert {"modbus", "s7comm", "opcua"} <= datasets
    insecure = [p for p in RULE_FILES if "icssa.insecure_practice" in _data(p)["tags"]]
    assert len(insecure) >= 3


@pytest.mark.parametrize("path", RULE_FILES, ids=[p.stem for p in RULE_FILES])
def test_rule_file_is_named_after_its_id_and_documents_itself(path: Path) -> None:
    data = _data(path)
    assert data["id"] == path.stem
    assert data["attack_version"] == "v15"
    assert data["falsepositives"] and data["references"]
