"""Events from anywhere (``icssa correlate`` reads arbitrary JSON from Kafka): organization ids
that are lists or mappings, numeric ``@timestamp`` values of any size, NaN and infinite times.

The engine takes them all and decides as the native engine (``native/crates/correlation``)
does, so that both keep giving the same alerts:

- an organization id is a tenant as group keys hold values (``fields.hashable``: a list as the
  tuple of its items, a mapping as its sorted (key, value) pairs); alerts keep the id as the
  event gave it;
- a numeric time is written with 64-bit microseconds: beyond them, their bounds (the same
  bounds as Java's and Spark's microsecond timestamps); NaN, infinite times and those whose
  microseconds overflow a float are written as the epoch;
- a rate window number is a 64-bit int (saturated; NaN and infinite times fall in window 0);
- NaN times are ordered as ``f64::total_cmp`` orders them: a positive NaN after every time, a
  negative one before.

Expected texts and alert ids are written by hand (the microsecond bounds, blake2b of the
documented ``rule\\0key\\0first evidence`` text), never computed by the code under test.
"""

from __future__ import annotations

import hashlib
import math
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from test_correlation import BASE, DISTINCT, FIRST_SEEN, WRITE, engine_for, event, run, ts, write_ev

from correlation import Engine

# -- organization ids that are lists or mappings --------------------------------------------


def alert_id(rule_id: str, key_repr: str, first: str) -> str:
    """``document.alert_id`` of a key written out by hand."""
    return hashlib.blake2b(f"{rule_id}\x00{key_repr}\x00{first}".encode(), digest_size=16).hexdigest()


@pytest.mark.parametrize(
    ("oid", "key_repr"),
    [
        ([1, "a"], "((1, 'a'), '10.0.0.66', '10.0.0.10')"),
        ({"b": [1], "a": 2}, "((('a', 2), ('b', (1,))), '10.0.0.66', '10.0.0.10')"),
        ([{"k": None}, [3]], "(((('k', None),), (3,)), '10.0.0.66', '10.0.0.10')"),
        ([], "((), '10.0.0.66', '10.0.0.10')"),
        ({}, "((), '10.0.0.66', '10.0.0.10')"),
    ],
)
def test_an_organization_id_that_is_a_list_or_a_mapping_is_a_tenant(tmp_path: Path, oid: Any, key_repr: str) -> None:
    engine = engine_for(tmp_path, WRITE)
    events = [
        write_ev(0, "a", org=oid),
        write_ev(1, "b", org=[*oid] if isinstance(oid, list) else dict(reversed(oid.items()))),  # equal, another object
        write_ev(2, "c", org="x"),
    ]
    alerts = run(engine, events)
    assert [a["related"]["events"] for a in alerts] == [["a", "b"], ["c"]]
    assert alerts[0]["organization"] == {"id": oid}  # as the first event gave it
    assert alerts[0]["event"]["id"] == alert_id("r", key_repr, "a")
    assert alerts[1]["organization"] == {"id": "x"}


def test_mappings_with_their_keys_in_another_order_are_one_tenant(tmp_path: Path) -> None:
    engine = engine_for(tmp_path, WRITE)
    alerts = run(engine, [write_ev(0, "a", org={"b": [1], "a": 2}), write_ev(1, "b", org={"a": 2, "b": [1]})])
    assert [a["related"]["events"] for a in alerts] == [["a", "b"]]
    assert list(alerts[0]["organization"]["id"]) == ["b", "a"]


def test_a_list_id_is_the_tenant_of_its_items_but_not_of_another_list(tmp_path: Path) -> None:
    engine = engine_for(tmp_path, WRITE)
    alerts = run(engine, [write_ev(0, "a", org=[1, 2]), write_ev(1, "b", org=[2, 1]), write_ev(2, "c", org=[1, 2])])
    assert sorted(a["related"]["events"] for a in alerts) == [["a", "c"], ["b"]]


def test_the_baseline_of_a_list_id_starts_at_its_first_event(tmp_path: Path) -> None:
    # first-seen rules track each organization's first event (Engine._start_org)
    engine = engine_for(tmp_path, FIRST_SEEN, baseline_seconds=10)
    events = [
        write_ev(0, "a", org=[1]),  # organization [1] starts learning
        write_ev(20, "b", org=[1], src="10.0.0.99"),  # after its baseline: a new writer
        write_ev(21, "c", org=[2], src="10.0.0.98"),  # organization [2] starts learning now
        write_ev(22, "d", org={"x": [1]}, src="10.0.0.97"),  # and so does {"x": [1]}
    ]
    alerts = run(engine, events)
    assert [(a["related"]["events"], a["organization"]["id"]) for a in alerts] == [(["b"], [1])]


# -- numeric times of any size --------------------------------------------------------------

#: alerts leave at once (an aggregation window ending at +inf or NaN never passes: see below)
NOW = "aggregate: {window: 0}\n"
MAX_TEXT = "294247-01-10T04:00:54.775807Z"  # (2**63 - 1) microseconds after the epoch
MIN_TEXT = "-290308-12-21T19:59:05.224192Z"  # -2**63 microseconds
EPOCH = "1970-01-01T00:00:00.000000Z"


@pytest.mark.parametrize(
    ("stamp", "text"),
    [
        (1.5e9, "2017-07-14T02:40:00.000000Z"),
        (1_500_000_000, "2017-07-14T02:40:00.000000Z"),
        (1e13, MAX_TEXT),  # 10**19 microseconds: beyond 64 bits
        (1e20, MAX_TEXT),
        ((1 << 64) - 1, MAX_TEXT),
        (1e300, MAX_TEXT),
        (-1e13, MIN_TEXT),
        (-1e20, MIN_TEXT),
        (-(1 << 63), MIN_TEXT),
        (-1e300, MIN_TEXT),
        (1.7976931348623157e308, EPOCH),  # its microseconds overflow a float
        (math.nan, EPOCH),
        (-math.nan, EPOCH),
        (math.inf, EPOCH),
        (-math.inf, EPOCH),
        (-0.0, EPOCH),
    ],
)
def test_a_numeric_time_of_any_size_is_written_as_the_native_engine_writes_it(tmp_path: Path, stamp: Any, text: str) -> None:
    engine = engine_for(tmp_path, WRITE + NOW)
    e = write_ev(0, "a")
    e["@timestamp"] = stamp
    alerts = run(engine, [e])
    assert [(a["@timestamp"], a["event"]["start"], a["event"]["end"]) for a in alerts] == [(text, text, text)]
    assert engine.stats["bad_timestamp"] == 0


@pytest.mark.parametrize("stamp", [True, False, None, [1.5e9], {"t": 1}])
def test_a_time_that_is_not_a_number_nor_a_text_is_the_latest_time_seen(tmp_path: Path, stamp: Any) -> None:
    engine = engine_for(tmp_path, WRITE)
    bad = write_ev(0, "b", src="10.0.0.1")
    bad["@timestamp"] = stamp
    alerts = run(engine, [write_ev(5, "a"), bad])
    assert {a["related"]["events"][0]: a["@timestamp"] for a in alerts} == {"a": ts(5), "b": ts(5)}
    assert engine.stats["bad_timestamp"] == 1


RATE = """\
match:
  event.dataset: modbus
  modbus.is_response: false
rate: {window: 10s, group_by: [source.ip, destination.ip], factor: 2, min_count: 2}
"""


@pytest.mark.parametrize(
    ("first", "second", "fires"),
    [
        (1e300, 2e300, True),  # both beyond 64-bit window numbers: the last window, for both
        (1e300, BASE + 100, False),
        (math.nan, 5.0, True),  # a NaN time is in window 0, as 5.0 is
        (math.inf, -math.inf, True),  # so are infinite ones
        (math.nan, 15.0, False),  # window 1
    ],
)
def test_rate_window_numbers_are_64_bit(tmp_path: Path, first: float, second: float, fires: bool) -> None:
    engine = engine_for(tmp_path, RATE, baseline_seconds=1)
    events = [event(0, "learn", source__ip="10.0.0.1", destination__ip="10.0.0.2", modbus__is_response=False)]
    for at, eid in ((first, "x"), (second, "y")):
        e = event(0, eid, source__ip="10.0.0.66", destination__ip="10.0.0.10", modbus__is_response=False)
        e["@timestamp"] = at
        events.append(e)
    alerts = run(engine, events)
    assert [a["related"]["events"] for a in alerts] == ([["x", "y"]] if fires else [])


@pytest.mark.parametrize(("later", "fires"), [(4, False), (5, True)])
def test_a_nan_time_counts_in_the_learning_window_0(tmp_path: Path, later: int, fires: bool) -> None:
    """Window 0 learns 2 events (1.0 s and NaN): a later window fires above 2 x 2 events (had the
    NaN event not counted there, above 2 x 1)."""
    engine = engine_for(tmp_path, RATE, baseline_seconds=100)
    events = []
    for i, at in enumerate([1.0, math.nan] + [200.0 + i for i in range(later)]):
        e = event(0, f"e{i}", source__ip="10.0.0.66", destination__ip="10.0.0.10", modbus__is_response=False)
        e["@timestamp"] = at
        events.append(e)
    alerts = run(engine, events)
    assert [a["event"]["count"] for a in alerts] == ([later] if fires else [])


# -- NaN times where times are ordered ------------------------------------------------------


def nan_ev(at: float, eid: str, src: str) -> dict[str, Any]:
    e = write_ev(0, eid, src=src)
    e["@timestamp"] = at
    return e


@pytest.mark.parametrize(
    ("stamp", "at_40", "at_end"),
    [
        (math.nan, [["a"]], [["b"]]),
        # an infinite time is the latest time seen from then on: windows pass at the end only
        (math.inf, [], [["a"], ["b"]]),
    ],
)
def test_a_window_ending_at_a_positive_nan_or_inf_never_passes_and_holds_back_no_other(
    tmp_path: Path, stamp: float, at_40: list[list[str]], at_end: list[list[str]]
) -> None:
    engine = engine_for(tmp_path, WRITE + "aggregate: {window: 30s}\n")
    assert engine.process(nan_ev(stamp, "n", "10.0.0.1")) == []
    assert engine.process(write_ev(0, "a", src="10.0.0.2")) == []
    # 40 s: the window of "a" has ended; the one that ends at NaN or inf comes after every
    # time, the end of the stream included (as in the native engine: that alert never leaves)
    assert [a["related"]["events"] for a in engine.process(write_ev(40, "b", src="10.0.0.3"))] == at_40
    assert [a["related"]["events"] for a in engine.flush()] == at_end


def test_a_window_ending_at_a_negative_nan_comes_first_and_never_passes(tmp_path: Path) -> None:
    # the native engine orders deadlines by f64::total_cmp: -NaN first, and it never passes,
    # so no aggregation window closes after it (rules with aggregate.window 0 still emit)
    engine = engine_for(tmp_path, WRITE + "aggregate: {window: 30s}\n")
    assert engine.process(write_ev(0, "a", src="10.0.0.2")) == []
    assert engine.process(nan_ev(-math.nan, "n", "10.0.0.1")) == []
    assert engine.process(write_ev(40, "b", src="10.0.0.3")) == []
    assert engine.flush() == []


def test_threshold_evidence_puts_nan_times_first_or_last_by_their_sign(tmp_path: Path) -> None:
    engine = engine_for(tmp_path, DISTINCT + NOW)
    events = []
    for eid, at, unit in (("e0", ts(0), 1), ("e1", math.nan, 2), ("e2", ts(1), 3), ("e3", -math.nan, 4)):
        e = event(0, eid, modbus__is_response=False, modbus__unit_id=unit, source__ip="10.0.0.66", destination__ip="10.0.0.10")
        e["@timestamp"] = at
        events.append(e)
    alerts = run(engine, events)
    assert [a["related"]["events"] for a in alerts] == [["e3", "e0", "e2", "e1"]]


# -- anything JSON can hold, through the whole rule set -------------------------------------

_ENGINE: list[Engine] = []
#: the organization id of each hostile event given to _ENGINE, by event id
_OIDS: dict[str, Any] = {}
SCALARS = st.none() | st.booleans() | st.integers(-(1 << 63), (1 << 64) - 1) | st.floats() | st.text(max_size=4)
JSONISH = st.recursive(SCALARS, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=3), inner, max_size=3), max_leaves=8)
STAMPS = st.floats() | st.integers(-(1 << 63), (1 << 64) - 1) | st.sampled_from(["2024-03-01T08:00:00.5Z", True])


def _doc_equal(a: Any, b: Any) -> bool:
    """Equal as a JSON document holds them (NaN equal to itself, True not equal to 1)."""
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
        return True
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_doc_equal(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_doc_equal(a[k], b[k]) for k in a)
    return type(a) is type(b) and a == b


@settings(max_examples=300, deadline=None)
@given(oid=JSONISH, stamp=STAMPS)
def test_the_rule_set_takes_any_organization_id_and_any_numeric_time(oid: Any, stamp: Any) -> None:
    if not _ENGINE:
        _ENGINE.append(Engine.from_directory())
    engine = _ENGINE[0]
    eid = f"h{len(_OIDS)}"
    _OIDS[eid] = oid
    e = write_ev(0, eid, org=oid, dst="10.0.0.77")
    e["@timestamp"] = stamp
    later = write_ev(0, f"n{len(_OIDS)}", dst="10.0.0.77")
    later["@timestamp"] = BASE + 86_400 * 30
    for a in engine.process(e) + engine.process(later):
        assert isinstance(a["@timestamp"], str) and isinstance(a["event"]["start"], str)
        hostile = [_OIDS[x] for x in a["related"]["events"] if x in _OIDS]
        if hostile:  # the id of the event that opened the alert, as it gave it
            assert any(_doc_equal(a["organization"]["id"], o) for o in hostile)
