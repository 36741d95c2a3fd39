"""The engine's shortcuts give the same answers as the long way round.

- Event time: the sensor's timestamps (``YYYY-MM-DDTHH:MM:SS.ffffffZ``) are read from the
  second parsed once; any other form goes through the full parser. Expected times here come
  from ``datetime.fromisoformat``.
- Baselines: the organization object of the latest event is remembered by identity; tenants
  sharing the event stream through shared objects keep their own baselines.
- Group keys and counted values that read the zone context are left to the detector.
- Dispatch plans do the common case of a rule in place (an event joining an open alert, a
  key seen before, a group tracked below its count, a rate window that learns); the rare cases
  go to the detector.
- An alert stops reading the addresses of the events joining it once it holds both ends and
  its group (and a first-seen key) holds both: every later event has the same ones.
- Envelope fields every event has are read by subscript; an event without one is evaluated by
  the interpreter, with the same answers.
- The organization of events decoded from JSON (one object per event) is compared by id.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from test_correlation import FIRST_SEEN, WRITE, engine_for, event, run, ts, write_ev

from correlation import StaticZones
from correlation.fields import Clock

THRESHOLD_FAST = WRITE + "threshold: {count: 2, window: 300ms}\naggregate: {window: 0}\n"


def _seconds(text: str) -> float:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


@pytest.mark.parametrize(
    ("first", "second", "fires"),
    [
        ("2024-03-01T08:00:00.250000Z", "2024-03-01T08:00:00.500000Z", True),  # 0.25 s apart
        ("2024-03-01T08:00:00.250000Z", "2024-03-01T08:00:00.600000Z", False),  # 0.35 s apart
        ("2024-03-01T08:00:00.250000Z", "2024-03-01T08:00:00.5+00:00", True),  # offset form, same second
        ("2024-03-01T08:00:00.250000Z", "2024-03-01T08:00:00.6+00:00", False),
        ("2024-03-01T08:00:00.250000Z", "2024-03-01T09:00:00.5+01:00", True),  # another zone, same instant
        ("2024-03-01T08:00:00.250000Z", "2024-03-01T08:00:00.50000Z", True),  # five digits
        ("2024-03-01T08:00:00.250000Z", "2024-03-01T08:00:00.60000Z", False),
        ("2024-03-01T08:00:00.9+00:00", "2024-03-01T08:00:01.100000Z", True),  # across a second
    ],
)
def test_every_timestamp_form_is_timed_as_the_iso_parser_reads_it(tmp_path: Path, first: str, second: str, fires: bool) -> None:
    assert (abs(_seconds(second) - _seconds(first)) <= 0.3) is fires  # the table itself
    engine = engine_for(tmp_path, THRESHOLD_FAST)
    events = [write_ev(0, "a"), write_ev(0, "b")]
    events[0]["@timestamp"], events[1]["@timestamp"] = first, second
    alerts = run(engine, events)
    assert bool(alerts) is fires
    if fires:
        assert alerts[0]["event"]["start"] == first and alerts[0]["event"]["end"] == second


def test_a_fraction_of_non_decimal_digits_is_a_bad_time_not_a_crash(tmp_path: Path) -> None:
    engine = engine_for(tmp_path, THRESHOLD_FAST)
    odd = write_ev(0, "b")
    odd["@timestamp"] = ts(0)[:20] + "\u00b2" + ts(0)[21:]  # superscript two: a digit, not a decimal
    assert run(engine, [write_ev(0, "a"), odd])  # taken at the latest time seen: within 300 ms
    assert engine.stats["bad_timestamp"] == 1


def test_clock_base_plus_the_fraction_is_the_parsed_time() -> None:
    clock = Clock()
    for text in ("2024-03-01T08:00:00.000001Z", "2024-03-01T08:00:00.999999Z", "1999-12-31T23:59:59.500000Z"):
        base = clock.base(text[:19])
        assert base is not None
        assert base + int(text[20:26]) * 1e-6 == clock.seconds(text)
        assert abs(clock.seconds(text) - _seconds(text)) < 1e-6  # type: ignore[operator]
    assert clock.base("not a time at all!!") is None


def test_tenants_sharing_objects_keep_their_own_baselines(tmp_path: Path) -> None:
    engine = engine_for(tmp_path, FIRST_SEEN, baseline_seconds=100)
    org_a, org_b = {"id": "org-a"}, {"id": "org-b"}  # one object per tenant, as the sensor does

    def ev(at: float, eid: str, org: dict[str, Any], src: str) -> dict[str, Any]:
        e = write_ev(at, eid, src=src)
        e["organization"] = org
        return e

    events = [
        ev(0, "a-first", org_a, "10.0.0.20"),
        ev(1, "a-again", org_a, "10.0.0.20"),
        ev(150, "b-first", org_b, "10.0.0.30"),  # org-b's baseline starts here
        ev(160, "a-new", org_a, "10.0.0.66"),  # org-a is past its baseline: alert
        ev(170, "b-new", org_b, "10.0.0.66"),  # org-b is still in its baseline: learned
    ]
    (alert,) = run(engine, events)
    assert alert["organization"]["id"] == "org-a" and alert["related"]["events"] == ["a-new"]


ZONES = StaticZones({"10.1.0.0/16": {"zone": "cell-1", "level": 1}, "10.2.0.0/16": {"zone": "cell-2", "level": 1}})


def test_threshold_grouped_by_a_zone_counts_the_hosts_of_that_zone(tmp_path: Path) -> None:
    body = WRITE + "threshold: {count: 3, window: 60s, group_by: [context.source.zone]}\n"
    engine = engine_for(tmp_path, body, context=ZONES)
    events = [write_ev(i, f"e{i}", src=src) for i, src in enumerate(["10.1.0.1", "10.2.0.1", "10.1.0.2", "10.2.0.2", "10.1.0.3"])]
    (alert,) = run(engine, events)
    assert alert["related"]["events"] == ["e0", "e2", "e4"]
    assert alert["icssa"]["alert"]["group"] == {"context.source.zone": "cell-1"}


def test_distinct_count_of_a_zone_value(tmp_path: Path) -> None:
    body = WRITE + "threshold: {count: 2, window: 60s, group_by: [source.ip], distinct: context.destination.zone}\n"
    engine = engine_for(tmp_path, body, context=ZONES)
    events = [write_ev(0, "a", dst="10.1.0.9"), write_ev(1, "b", dst="10.1.0.8"), write_ev(2, "c", dst="10.2.0.9")]
    (alert,) = run(engine, events)
    assert alert["related"]["events"] == ["b", "c"]  # each value's latest event (detectors.py)
    assert sorted(alert["icssa"]["alert"]["values"]) == ["cell-1", "cell-2"]


def test_events_join_open_alerts_until_the_window_closes_then_open_new_ones(tmp_path: Path) -> None:
    body = WRITE + "threshold: {count: 2, window: 10s}\naggregate: {window: 30s}\n"
    engine = engine_for(tmp_path, body)
    alerts = run(engine, [write_ev(i * 5, f"e{i}") for i in range(14)])  # every 5 s, 0..65 s
    # e1 (5 s) is the second event within 10 s: the alert opens at 5 s with e0 and e1 and stays
    # open 30 s, until 35 s: e2..e7 join it. e8 (40 s) finds it closed and starts counting
    # again; e9 (45 s) opens the next alert, open until 75 s: e10..e13 join it.
    assert [a["related"]["events"] for a in alerts] == [[f"e{i}" for i in range(8)], [f"e{i}" for i in range(8, 14)]]
    assert [a["event"]["count"] for a in alerts] == [8, 6]
    assert [a["@timestamp"] for a in alerts] == [ts(5), ts(45)]
    assert [(a["event"]["start"], a["event"]["end"]) for a in alerts] == [(ts(0), ts(35)), (ts(40), ts(65))]


def test_a_key_seen_before_raises_nothing_and_a_new_one_joins_its_open_alert(tmp_path: Path) -> None:
    engine = engine_for(tmp_path, FIRST_SEEN, baseline_seconds=10)
    events = [write_ev(0, "known"), write_ev(20, "known-again"), write_ev(21, "new", src="10.0.0.7"), write_ev(22, "new-again", src="10.0.0.7")]
    (alert,) = run(engine, events)
    assert alert["related"]["events"] == ["new", "new-again"]
    assert event(0, "x")["organization"] == {"id": "org-a"}  # the helper's default tenant


def test_tenants_in_events_decoded_one_by_one_keep_their_own_baselines(tmp_path: Path) -> None:
    engine = engine_for(tmp_path, FIRST_SEEN, baseline_seconds=100)
    # event() makes a new organization object per event, as JSON decoding does; each
    # tenant's first event is a read the rule does not match, and its baseline starts there
    events = [event(0, "a-read", org="org-a"), event(150, "b-read", org="org-b"), event(151, "b-read2", org="org-b")]
    events += [write_ev(160, "a-new", org="org-a"), write_ev(240, "b-early", org="org-b", src="10.0.0.77")]
    events += [write_ev(255, "b-new", org="org-b")]
    # org-a's baseline ended at 100 s, org-b's at 250 s: both new pairs alert, b-early is learned
    alerts = sorted(run(engine, events), key=lambda a: a["organization"]["id"])
    assert [(a["organization"]["id"], a["related"]["events"]) for a in alerts] == [("org-a", ["a-new"]), ("org-b", ["b-new"])]


FIRST_SOURCE = WRITE + "first_seen: {key: [source.ip]}\naggregate: {window: 60s, group_by: [source.ip, destination.ip]}\n"


def test_a_first_seen_alert_keyed_by_one_end_collects_every_peer_that_joins_it(tmp_path: Path) -> None:
    engine = engine_for(tmp_path, FIRST_SOURCE, baseline_seconds=10)
    # the new source's later events join the alert it raised whatever their destination
    events = [write_ev(0, "known", src="10.0.0.20"), write_ev(20, "new", src="10.0.0.66", dst="10.0.0.10")]
    events += [write_ev(21, "peer2", src="10.0.0.66", dst="10.0.0.11"), write_ev(22, "peer3", src="10.0.0.66", dst="10.0.0.12")]
    (alert,) = run(engine, events)
    assert alert["related"]["events"] == ["new", "peer2", "peer3"]
    assert alert["related"]["ip"] == ["10.0.0.10", "10.0.0.11", "10.0.0.12", "10.0.0.66"]


def test_an_alert_grouped_by_one_end_collects_every_peer(tmp_path: Path) -> None:
    engine = engine_for(tmp_path, WRITE + "aggregate: {window: 60s, group_by: [source.ip]}\n")
    events = [write_ev(i, f"e{i}", dst=f"10.0.1.{i % 3}") for i in range(6)]
    (alert,) = run(engine, events)
    assert alert["event"]["count"] == 6
    assert alert["related"]["ip"] == ["10.0.0.66", "10.0.1.0", "10.0.1.1", "10.0.1.2"]


def test_an_alert_whose_first_event_has_no_address_still_records_later_ones(tmp_path: Path) -> None:
    engine = engine_for(tmp_path, WRITE)
    first = write_ev(0, "a")
    first["source"] = {"ip": None}  # grouped with the events below only if they lack it too
    events = [first, write_ev(1, "b", src=None), write_ev(2, "c", dst="10.0.0.10")]
    events[1]["source"] = {"ip": None}
    alerts = run(engine, events)
    by_events = {tuple(a["related"]["events"]): a["related"]["ip"] for a in alerts}
    assert by_events == {("a", "b"): ["10.0.0.10"], ("c",): ["10.0.0.10", "10.0.0.66"]}


def test_distinct_values_tracked_below_the_count_fire_on_the_count(tmp_path: Path) -> None:
    body = WRITE + "threshold: {count: 3, window: 10s, group_by: [source.ip], distinct: destination.ip}\n"
    engine = engine_for(tmp_path, body)
    dsts = ["10.0.1.1", "10.0.1.1", "10.0.1.2", "10.0.1.2", "10.0.1.3", "10.0.1.3"]
    alerts = run(engine, [write_ev(i, f"e{i}", dst=d) for i, d in enumerate(dsts)])
    (alert,) = alerts
    # each value's latest event up to the third value (e4), then e5 joins the open alert
    assert alert["related"]["events"] == ["e1", "e3", "e4", "e5"]
    assert alert["icssa"]["alert"]["values"] == ["10.0.1.1", "10.0.1.2", "10.0.1.3"]


PORT = WRITE + "  destination.port: {not: 502}\n"


@pytest.mark.parametrize(
    ("destination", "fires"),
    [
        ({"ip": "10.0.0.10", "port": 502}, False),
        ({"ip": "10.0.0.10", "port": 5020}, True),
        ({"ip": "10.0.0.10"}, True),  # no port: not 502
        (None, True),  # no destination object at all
        ("garbage", True),
    ],
)
def test_an_event_without_an_envelope_field_reads_it_as_missing(tmp_path: Path, destination: Any, fires: bool) -> None:
    engine = engine_for(tmp_path, PORT)
    e = write_ev(0, "a")
    if destination is None:
        del e["destination"]
    else:
        e["destination"] = destination
    assert bool(run(engine, [e])) is fires
