"""Stateful rules: thresholds (counts and distinct values), sequences, first-seen baselines, rates.

Each test writes its rule and builds its events by hand (helpers from test_correlation), so the
expected alerts follow from the rule text and the event times alone.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from test_correlation import DISTINCT, FIRST_SEEN, THRESHOLD, engine_for, event, run, ts, write_ev

# -- thresholds ------------------------------------------------------------------------------



def test_threshold_fires_on_the_nth_event_within_the_window(tmp_path: Path) -> None:
    engine = engine_for(tmp_path, THRESHOLD)
    alerts = run(engine, [write_ev(i * 2, f"e{i}") for i in range(5)])  # 0..8 s
    assert len(alerts) == 1
    assert alerts[0]["related"]["events"] == ["e0", "e1", "e2", "e3", "e4"]
    assert alerts[0]["@timestamp"] == ts(8)


def test_threshold_stays_silent_below_the_count_or_outside_the_window(tmp_path: Path) -> None:
    engine = engine_for(tmp_path, THRESHOLD)
    assert run(engine, [write_ev(i, f"a{i}") for i in range(4)]) == []
    engine = engine_for(tmp_path, THRESHOLD)
    assert run(engine, [write_ev(i * 3, f"b{i}") for i in range(5)]) == []  # 0..12 s


def test_threshold_window_slides(tmp_path: Path) -> None:
    engine = engine_for(tmp_path, THRESHOLD)
    # 0, 3, 6, 9 then 11, 12: the last five (3..12) fit in 10 s
    times = [0, 3, 6, 9, 11, 12]
    alerts = run(engine, [write_ev(t, f"e{t}") for t in times])
    assert len(alerts) == 1
    assert alerts[0]["related"]["events"] == ["e3", "e6", "e9", "e11", "e12"]


def test_threshold_groups_and_organizations_are_separate(tmp_path: Path) -> None:
    engine = engine_for(tmp_path, THRESHOLD)
    events = [write_ev(i, f"a{i}", src="10.0.0.1") for i in range(3)]
    events += [write_ev(i, f"b{i}", src="10.0.0.2") for i in range(3)]
    events += [write_ev(i, f"c{i}", org="org-b") for i in range(2)]
    events += [write_ev(i, f"d{i}") for i in range(3)]
    assert run(engine, events) == []


def test_events_after_a_threshold_alert_join_it(tmp_path: Path) -> None:
    engine = engine_for(tmp_path, THRESHOLD)
    alerts = run(engine, [write_ev(i, f"e{i}") for i in range(12)])
    assert len(alerts) == 1
    assert alerts[0]["event"]["count"] == 12




def test_distinct_threshold_counts_values_not_events(tmp_path: Path) -> None:
    engine = engine_for(tmp_path, DISTINCT)
    same = [event(i, f"s{i}", modbus__is_response=False, modbus__unit_id=1, source__ip="10.0.0.20") for i in range(50)]
    assert run(engine, same) == []
    engine = engine_for(tmp_path, DISTINCT)
    scan = [event(i, f"u{i}", modbus__is_response=False, modbus__unit_id=i % 6, source__ip="10.0.0.66") for i in range(6)]
    (alert,) = run(engine, scan)
    assert alert["icssa"]["alert"]["values"] == [0, 1, 2, 3, 4, 5]
    assert alert["icssa"]["alert"]["distinct"] == 6
    assert alert["event"]["count"] == 6


def test_distinct_values_expire_from_the_window(tmp_path: Path) -> None:
    engine = engine_for(tmp_path, DISTINCT)
    events = [event(i * 25, f"u{i}", modbus__is_response=False, modbus__unit_id=i) for i in range(8)]
    assert run(engine, events) == []  # never more than three ids within 60 s


def test_events_without_the_distinct_field_are_ignored(tmp_path: Path) -> None:
    engine = engine_for(tmp_path, DISTINCT)
    assert run(engine, [event(i, f"e{i}", modbus__is_response=False) for i in range(10)]) == []


# -- sequences -------------------------------------------------------------------------------

SEQUENCE = """\
match:
  event.dataset: s7comm
  s7comm.is_response: false
sequence:
  window: 10m
  steps:
    - {name: stop, match: {event.action: plc_stop}}
    - {name: download, match: {event.action: request_download}}
    - {name: start, match: {event.action: plc_control, s7comm.pi_service: P_PROGRAM}}
"""


def s7(at: float, eid: str, action: str, src: str = "10.0.0.5", **kw: Any) -> dict[str, Any]:
    return event(at, eid, dataset="s7comm", action=action, s7comm__is_response=False, source__ip=src, destination__ip="10.0.0.10", **kw)


def test_sequence_in_order_fires_with_all_steps_as_evidence(tmp_path: Path) -> None:
    engine = engine_for(tmp_path, SEQUENCE)
    events = [
        s7(0, "stop", "plc_stop"),
        s7(1, "read", "read_var"),
        s7(60, "dl", "request_download"),
        s7(120, "start", "plc_control", s7comm__pi_service="P_PROGRAM"),
    ]
    (alert,) = run(engine, events)
    assert alert["related"]["events"] == ["stop", "dl", "start"]
    assert alert["icssa"]["alert"]["sequence"] == ["stop", "download", "start"]
    assert alert["event"]["start"] == ts(0) and alert["@timestamp"] == ts(120)


@pytest.mark.parametrize(
    "steps",
    [
        [(0, "request_download"), (10, "plc_stop"), (20, "plc_control")],  # wrong order
        [(0, "plc_stop"), (10, "plc_control"), (20, "request_download")],  # wrong order
        [(0, "plc_stop"), (300, "request_download"), (601, "plc_control")],  # past the window
        [(0, "plc_stop"), (10, "request_download")],  # incomplete
    ],
)
def test_sequence_out_of_order_or_too_slow_stays_silent(tmp_path: Path, steps: list[tuple[int, str]]) -> None:
    engine = engine_for(tmp_path, SEQUENCE)
    events = [s7(t, f"e{i}", a, s7comm__pi_service="P_PROGRAM") for i, (t, a) in enumerate(steps)]
    assert run(engine, events) == []


def test_sequence_steps_from_different_groups_do_not_combine(tmp_path: Path) -> None:
    engine = engine_for(tmp_path, SEQUENCE)
    events = [
        s7(0, "a", "plc_stop", src="10.0.0.5"),
        s7(1, "b", "request_download", src="10.0.0.6"),
        s7(2, "c", "plc_control", src="10.0.0.5", s7comm__pi_service="P_PROGRAM"),
    ]
    assert run(engine, events) == []


def test_a_new_first_step_restarts_the_sequence_window(tmp_path: Path) -> None:
    engine = engine_for(tmp_path, SEQUENCE)
    events = [
        s7(0, "old", "plc_stop"),
        s7(500, "new", "plc_stop"),
        s7(700, "dl", "request_download"),
        s7(900, "start", "plc_control", s7comm__pi_service="P_PROGRAM"),
    ]
    (alert,) = run(engine, events)
    assert alert["related"]["events"] == ["new", "dl", "start"]


# -- first seen and rate baselines ----------------------------------------------------------



def test_first_seen_learns_in_the_baseline_and_alerts_once_per_new_key(tmp_path: Path) -> None:
    engine = engine_for(tmp_path, FIRST_SEEN, baseline_seconds=100)
    events = [
        write_ev(0, "hmi1", src="10.0.0.20"),
        write_ev(50, "new-in-baseline", src="10.0.0.21"),  # learned, no alert
        write_ev(200, "hmi2", src="10.0.0.20"),
        write_ev(201, "rogue1", src="10.0.0.66"),
        write_ev(202, "rogue2", src="10.0.0.66"),
        write_ev(203, "late", src="10.0.0.21"),
    ]
    (alert,) = run(engine, events)
    assert alert["source"]["ip"] == "10.0.0.66"
    assert alert["related"]["events"] == ["rogue1", "rogue2"]


def test_baseline_starts_per_organization(tmp_path: Path) -> None:
    engine = engine_for(tmp_path, FIRST_SEEN, baseline_seconds=100)
    events = [
        event(0, "a0", org="org-a", action="read_coils"),
        write_ev(150, "b-first", org="org-b", src="10.0.0.66"),  # org-b's baseline starts here
        write_ev(160, "a-new", org="org-a", src="10.0.0.66"),  # org-a is past its baseline
    ]
    (alert,) = run(engine, events)
    assert alert["organization"]["id"] == "org-a"
    assert alert["related"]["events"] == ["a-new"]


KNOWN = """\
match:
  event.dataset: modbus
  modbus.is_response: false
first_seen: {key: [source.ip, destination.ip, modbus.function_code], known: [source.ip, destination.ip]}
"""


def test_first_seen_known_part_must_have_been_learned(tmp_path: Path) -> None:
    engine = engine_for(tmp_path, KNOWN, baseline_seconds=100)

    def req(at: float, eid: str, src: str, fc: int) -> dict[str, Any]:
        return event(at, eid, modbus__is_response=False, modbus__function_code=fc, source__ip=src, destination__ip="10.0.0.10")

    events = [req(0, "b", "10.0.0.20", 3), req(200, "same", "10.0.0.20", 3), req(201, "newfc", "10.0.0.20", 8), req(202, "newpair", "10.0.0.66", 8)]
    (alert,) = run(engine, events)
    assert alert["related"]["events"] == ["newfc"]


RATE = """\
match:
  event.dataset: modbus
rate: {window: 10s, factor: 3, min_count: 20}
"""


def test_rate_alerts_above_factor_times_the_learned_peak(tmp_path: Path) -> None:
    engine = engine_for(tmp_path, RATE, baseline_seconds=60)
    events = [event(i, f"b{i}", source__ip="10.0.0.20", destination__ip="10.0.0.10") for i in range(60)]  # 10 per window
    events += [event(100 + i * 0.1, f"q{i}", source__ip="10.0.0.20", destination__ip="10.0.0.10") for i in range(30)]  # 30 in 3 s
    events += [event(200 + i * 0.1, f"x{i}", source__ip="10.0.0.20", destination__ip="10.0.0.10") for i in range(40)]  # 40 in 4 s
    (alert,) = run(engine, events)
    assert alert["related"]["events"][0] == "x0"
    assert alert["event"]["count"] == 40
    assert alert["@timestamp"] == ts(203)  # the 31st event of the window passes 3 x 10


