"""Engine behaviour: aggregation, dedup, suppression, determinism, bad input, bounds, zones.

Rules are written by each test into a temporary directory (the helpers below are shared with
the other test_correlation_* modules); events are built by hand with explicit times, so the
expected alerts follow from the rule text and the event list alone.
"""

from __future__ import annotations

import json
import textwrap
import time
from pathlib import Path
from typing import Any

import pytest

from correlation import Engine, Limits, StaticZones

BASE = 1_709_280_000.0  # 2024-03-01T08:00:00Z


def ts(seconds: float) -> str:
    """BASE + seconds in the sensor's format (microseconds, Z)."""
    micros = round((BASE + seconds) * 1_000_000)
    sec, frac = divmod(micros, 1_000_000)
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(sec)) + f".{frac:06d}Z"


def event(at: float, eid: str, dataset: str = "modbus", action: str = "read_coils", org: str = "org-a", **fields: Any) -> dict[str, Any]:
    """A nested event; keyword names use "__" for dots (source__ip -> source.ip)."""
    e: dict[str, Any] = {
        "@timestamp": ts(at),
        "event": {"id": eid, "kind": "event", "dataset": dataset, "action": action},
        "observer": {"name": "sensor-1"},
        "organization": {"id": org},
    }
    for name, value in fields.items():
        parts = name.split("__")
        node = e
        for p in parts[:-1]:
            node = node.setdefault(p, {})
        node[parts[-1]] = value
    return e


HEADER = """\
id: {id}
title: Test rule {id}
status: test
description: A rule written by a unit test.
severity: {severity}
attack_version: v15
tags: [attack.t0855]
references: [https://attack.mitre.org/techniques/T0855/]
falsepositives: [none]
"""
TESTS = """\
tests:
  fire: [{event.dataset: modbus}]
  silent: [{event.dataset: s7comm}]
"""


def write_rule(directory: Path, rid: str, body: str, severity: int = 50) -> Path:
    """A complete rule file: the required boilerplate plus ``body`` (dedented)."""
    path = directory / f"{rid}.yaml"
    path.write_text(HEADER.format(id=rid, severity=severity) + textwrap.dedent(body) + TESTS)
    return path


def engine_for(tmp_path: Path, body: str, rid: str = "r", **kwargs: Any) -> Engine:
    write_rule(tmp_path, rid, body)
    engine = Engine.from_directory(tmp_path, **kwargs)
    assert engine.load_errors == []
    return engine


def run(engine: Engine, events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for e in events:
        out.extend(engine.process(e))
    out.extend(engine.flush())
    return out


WRITE = """\
match:
  event.dataset: modbus
  event.action: write_single_coil
  modbus.is_response: false
"""


def write_ev(at: float, eid: str, src: str = "10.0.0.66", dst: str = "10.0.0.10", **kw: Any) -> dict[str, Any]:
    return event(at, eid, action="write_single_coil", modbus__is_response=False, source__ip=src, destination__ip=dst, **kw)


# -- aggregation, dedup, suppression -------------------------------------------------------


def test_many_matches_in_one_window_give_one_alert_with_count_span_and_bounded_evidence(tmp_path: Path) -> None:
    engine = engine_for(tmp_path, WRITE)
    events = [write_ev(i * 0.1, f"e{i}") for i in range(200)]
    alerts = run(engine, events)
    assert len(alerts) == 1
    a = alerts[0]
    assert a["event"]["count"] == 200
    assert a["related"]["events"] == [f"e{i}" for i in range(50)]
    assert a["icssa"]["alert"]["evidence_truncated"] is True
    assert a["event"]["start"] == ts(0) and a["event"]["end"] == ts(19.9)
    assert a["@timestamp"] == ts(0)
    assert a["related"]["ip"] == ["10.0.0.10", "10.0.0.66"]
    assert a["source"] == {"ip": "10.0.0.66"} and a["destination"] == {"ip": "10.0.0.10"}


def test_alert_leaves_process_once_its_window_has_passed_in_event_time(tmp_path: Path) -> None:
    engine = engine_for(tmp_path, WRITE + "aggregate: {window: 30s}\n")
    assert engine.process(write_ev(0, "a")) == []
    assert engine.process(write_ev(29, "b")) == []
    # an unrelated event 31 s later closes the window
    out = engine.process(event(31, "c", action="read_coils", source__ip="10.0.0.20"))
    assert [a["related"]["events"] for a in out] == [["a", "b"]]
    assert engine.flush() == []


def test_matches_after_the_window_open_a_second_alert(tmp_path: Path) -> None:
    engine = engine_for(tmp_path, WRITE + "aggregate: {window: 30s}\n")
    alerts = run(engine, [write_ev(0, "a"), write_ev(10, "b"), write_ev(40, "c")])
    assert [a["related"]["events"] for a in alerts] == [["a", "b"], ["c"]]
    assert alerts[0]["event"]["id"] != alerts[1]["event"]["id"]


def test_different_groups_get_different_alerts(tmp_path: Path) -> None:
    engine = engine_for(tmp_path, WRITE)
    alerts = run(engine, [write_ev(0, "a", src="10.0.0.1"), write_ev(1, "b", src="10.0.0.2"), write_ev(2, "c", src="10.0.0.1")])
    by_src = {a["source"]["ip"]: a["related"]["events"] for a in alerts}
    assert by_src == {"10.0.0.1": ["a", "c"], "10.0.0.2": ["b"]}


def test_window_zero_emits_every_match_at_once(tmp_path: Path) -> None:
    engine = engine_for(tmp_path, WRITE + "aggregate: {window: 0}\n")
    assert len(engine.process(write_ev(0, "a"))) == 1
    assert len(engine.process(write_ev(0.5, "b"))) == 1


def test_suppression_drops_repeats_for_the_group_and_counts_them(tmp_path: Path) -> None:
    body = WRITE + "aggregate: {window: 10s}\nsuppress: {window: 1h, group_by: [destination.ip]}\n"
    engine = engine_for(tmp_path, body)
    events = [write_ev(0, "a"), write_ev(20, "b", src="10.0.0.99"), write_ev(3700, "c")]
    alerts = run(engine, events)
    assert [a["related"]["events"] for a in alerts] == [["a"], ["c"]]
    assert engine.book.stats["suppressed"] == 1


def test_alert_document_follows_the_design_contract(tmp_path: Path) -> None:
    engine = engine_for(tmp_path, WRITE)
    (alert,) = run(engine, [write_ev(0, "a", source__port=40000, destination__port=502)])
    assert alert["event"]["kind"] == "alert"
    assert alert["event"]["dataset"] == "icssa.alert"
    assert alert["event"]["action"] == "r" and alert["event"]["severity"] == 50
    assert alert["rule"]["id"] == "r" and alert["rule"]["name"] == "Test rule r"
    assert alert["rule"]["reference"] == "https://attack.mitre.org/techniques/T0855/"
    assert alert["rule"]["ruleset"] == tmp_path.name and alert["rule"]["version"] == "1"
    assert alert["threat"]["framework"] == "MITRE ATT&CK for ICS"
    assert alert["threat"]["technique"]["id"] == ["T0855"]
    assert alert["threat"]["technique"]["name"] == ["Unauthorized Command Message"]
    assert alert["threat"]["tactic"]["id"] == ["TA0106"]
    assert alert["threat"]["tactic"]["name"] == ["Impair Process Control"]
    assert alert["source"] == {"ip": "10.0.0.66", "port": 40000}
    assert alert["destination"] == {"ip": "10.0.0.10", "port": 502}
    assert alert["organization"] == {"id": "org-a"} and alert["observer"] == {"name": "sensor-1"}
    json.dumps(alert)  # serialisable as is


THRESHOLD = WRITE + "threshold: {count: 5, window: 10s}\n"


DISTINCT = """\
match:
  event.dataset: modbus
  modbus.is_response: false
threshold: {count: 4, window: 60s, distinct: modbus.unit_id}
"""


FIRST_SEEN = WRITE + "first_seen: {key: [destination.ip, source.ip]}\n"



# -- rules shared with test_correlation_stateful, determinism, bad input, bounds -------------


def _mixed_events() -> list[dict[str, Any]]:
    out = []
    for i in range(300):
        out.append(write_ev(i * 0.5, f"w{i}", src=f"10.0.0.{i % 7}"))
        out.append(event(i * 0.5, f"r{i}", modbus__is_response=False, modbus__unit_id=i % 13, source__ip="10.0.0.66"))
    return out


def test_same_events_give_the_same_alerts_and_ids(tmp_path: Path) -> None:
    write_rule(tmp_path, "a", WRITE + "threshold: {count: 3, window: 5s}\n")
    write_rule(tmp_path, "b", DISTINCT)
    first = run(Engine.from_directory(tmp_path), _mixed_events())
    second = run(Engine.from_directory(tmp_path), _mixed_events())
    assert first and first == second
    assert len({a["event"]["id"] for a in first}) == len(first)


def _flat(e: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in e.items():
        if isinstance(v, dict):
            out.update(_flat(v, f"{prefix}{k}."))
        else:
            out[f"{prefix}{k}"] = v
    return out


def test_dotted_events_give_the_same_alerts_as_nested_ones(tmp_path: Path) -> None:
    write_rule(tmp_path, "b", DISTINCT)
    nested = run(Engine.from_directory(tmp_path), _mixed_events())
    dotted = run(Engine.from_directory(tmp_path), [_flat(e) for e in _mixed_events()])
    assert nested and nested == dotted


@pytest.mark.parametrize(
    "bad",
    [
        {},
        {"event": "not a mapping"},
        {"event": {"dataset": ["modbus"], "action": {"x": 1}}},
        {"@timestamp": None, "event": {"dataset": "modbus", "action": "write_single_coil"}, "modbus": {"is_response": False}},
        {"@timestamp": "yesterday", "event": {"dataset": "modbus", "action": "write_single_coil"}, "modbus": {"is_response": False}},
        {"@timestamp": 12345, "event": {"dataset": "modbus", "action": "write_single_coil"}, "modbus": {"is_response": False}},
        {"@timestamp": ts(0), "event": {"dataset": "modbus", "action": "write_single_coil"}, "modbus": "garbage", "source": [1, 2]},
        {"@timestamp": ts(0), "event": {"dataset": "modbus", "action": "write_single_coil"}, "modbus": {"is_response": False, "unit_id": {"a": [1]}}},
    ],
)
def test_malformed_events_never_raise(tmp_path: Path, bad: dict[str, Any]) -> None:
    write_rule(tmp_path, "a", WRITE)
    write_rule(tmp_path, "b", DISTINCT)
    write_rule(tmp_path, "c", FIRST_SEEN.replace("[destination.ip, source.ip]", "[modbus.unit_id]"))
    engine = Engine.from_directory(tmp_path)
    for e in (bad, bad):
        assert isinstance(engine.process(e), list)
    assert isinstance(engine.flush(), list)


def test_group_state_is_bounded_and_evictions_counted(tmp_path: Path) -> None:
    write_rule(tmp_path, "r", THRESHOLD)
    engine = Engine.from_directory(tmp_path, limits=Limits(groups=16))
    run(engine, [write_ev(i * 0.01, f"e{i}", src=f"10.1.{i // 256}.{i % 256}") for i in range(2000)])
    det = engine._matchers[0][0]
    assert len(det.groups) <= 16  # type: ignore[attr-defined]
    assert engine.stats["state_evicted"] >= 2000 - 16


def test_open_alerts_are_bounded(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("correlation.alerts.MAX_OPEN", 10)
    engine = engine_for(tmp_path, WRITE)
    early = []
    for i in range(100):
        early.extend(engine.process(write_ev(i * 0.01, f"e{i}", src=f"10.2.0.{i}")))
        assert len(engine.book.open) <= 10
    assert len(early) == 90 and engine.book.stats["closed_early"] == 90
    assert len(engine.flush()) == 10


# -- zones from the context ------------------------------------------------------------------

CROSS = """\
match:
  event.dataset: modbus
  context.zone_crossing: true
  context.level_gap: {gte: 2}
"""


def test_zone_fields_come_from_the_context(tmp_path: Path) -> None:
    zones = StaticZones({"10.9.0.0/16": {"zone": "it", "level": 4}, "10.0.0.0/24": {"zone": "cell", "level": 1}, "10.0.1.0/24": {"zone": "scada", "level": 2}})
    engine = engine_for(tmp_path, CROSS, context=zones)
    events = [
        event(0, "it", source__ip="10.9.1.1", destination__ip="10.0.0.10"),
        event(1, "scada", source__ip="10.0.1.5", destination__ip="10.0.0.10"),
        event(2, "unknown", source__ip="192.0.2.1", destination__ip="10.0.0.10"),
    ]
    (alert,) = run(engine, events)
    assert alert["related"]["events"] == ["it"]


def test_zone_rules_stay_silent_without_a_context(tmp_path: Path) -> None:
    engine = engine_for(tmp_path, CROSS)
    assert run(engine, [event(0, "it", source__ip="10.9.1.1", destination__ip="10.0.0.10")]) == []


# -- rules with the same logic ----------------------------------------------------------------


def test_rules_with_identical_logic_share_one_detector_and_each_alert(tmp_path: Path) -> None:
    write_rule(tmp_path, "first", THRESHOLD, severity=40)
    write_rule(tmp_path, "second", THRESHOLD, severity=70)
    write_rule(tmp_path, "other", THRESHOLD.replace("count: 5", "count: 6"), severity=70)
    engine = Engine.from_directory(tmp_path)
    assert len(engine._matchers) == 2  # first and second run as one
    alerts = run(engine, [write_ev(i, f"e{i}") for i in range(5)])
    assert sorted((a["rule"]["id"], a["event"]["severity"]) for a in alerts) == [("first", 40), ("second", 70)]
    assert alerts[0]["related"]["events"] == alerts[1]["related"]["events"] == [f"e{i}" for i in range(5)]
    assert alerts[0]["event"]["id"] != alerts[1]["event"]["id"]


def test_wildcard_rule_branches_on_dataset_and_action(tmp_path: Path) -> None:
    body = """\
    match:
      any:
        - {event.dataset: modbus, event.action: diagnostics}
        - {event.dataset: s7comm, s7comm.is_response: false}
        - {event.dataset: opcua, event.action: {not: read}}
    """
    engine = engine_for(tmp_path, body)
    events = [
        event(0, "mb-diag", action="diagnostics"),
        event(0, "mb-read", action="read_coils"),
        event(0, "s7-req", dataset="s7comm", action="read_var", s7comm__is_response=False),
        event(0, "s7-resp", dataset="s7comm", action="read_var", s7comm__is_response=True),
        event(0, "ua-write", dataset="opcua", action="write"),
        event(0, "ua-read", dataset="opcua", action="read"),
        event(0, "no-dataset", action="diagnostics", event={"id": "x", "action": "diagnostics"}),
    ]
    alerts = run(engine, events)
    assert sorted(e for a in alerts for e in a["related"]["events"]) == ["mb-diag", "s7-req", "ua-write"]


def test_non_mapping_events_are_counted_and_skipped(tmp_path: Path) -> None:
    engine = engine_for(tmp_path, WRITE)
    for junk in (None, [1, 2], "event", 42):
        assert engine.process(junk) == []  # type: ignore[arg-type]
    assert engine.stats["not_a_mapping"] == 4


def test_event_without_a_usable_time_takes_the_latest_time_seen(tmp_path: Path) -> None:
    engine = engine_for(tmp_path, WRITE)
    engine.process(event(100, "timed", action="read_coils"))
    late = write_ev(0, "untimed")
    late["@timestamp"] = "not a time"
    (alert,) = [*engine.process(late), *engine.flush()]
    assert alert["@timestamp"] == ts(100) and alert["event"]["start"] == ts(100)
    assert engine.stats["bad_timestamp"] == 1


class RolesOnly:
    """An asset map without a site file: levels inferred from roles, no zone names."""

    def __init__(self) -> None:
        self.asked: list[str] = []

    def zone_of(self, ip: str) -> dict[str, Any] | None:
        self.asked.append(ip)
        return {"zone": None, "level": 4 if ip.startswith("10.9.") else 1}


def test_levels_without_zone_names_give_a_gap_but_no_crossing(tmp_path: Path) -> None:
    context = RolesOnly()
    gap = "match:\n  event.dataset: modbus\n  context.level_gap: {gte: 2}\n"
    engine = engine_for(tmp_path, gap, context=context)
    (alert,) = run(engine, [event(i, f"e{i}", source__ip="10.9.1.1", destination__ip="10.0.0.10") for i in range(3)])
    assert alert["event"]["count"] == 3
    assert context.asked == ["10.9.1.1", "10.0.0.10"]  # asked once per address
    crossing = tmp_path / "crossing"
    crossing.mkdir()
    engine = engine_for(crossing, CROSS, context=RolesOnly())
    assert run(engine, [event(0, "it", source__ip="10.9.1.1", destination__ip="10.0.0.10")]) == []
