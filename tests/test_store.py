"""One store test suite, run on SQLite and on a real Elasticsearch (scripts/services.sh).

The documents are written by hand below and every expected answer is a literal worked out
from them, never from the store under test. Elasticsearch must be running or startable: a
service that cannot start fails the run, it is never skipped.
"""

from __future__ import annotations

import copy
import os
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from icssa.store import AlertQuery, AssetQuery, EventQuery, Store, open_store

ROOT = Path(__file__).resolve().parents[1]
ES_URL = os.environ.get("ICSSA_ES_URL", "http://127.0.0.1:9200")


def _event(eid: str, ts: str, org: str, dataset: str, action: str, src: str, dst: str, observer: str, cid: str) -> dict:
    return {
        "@timestamp": ts,
        "event": {"id": eid, "kind": "event", "dataset": dataset, "action": action},
        "source": {"ip": src, "port": 50000},
        "destination": {"ip": dst, "port": 502},
        "network": {"transport": "tcp", "community_id": cid},
        "observer": {"name": observer},
        "organization": {"id": org},
        dataset: {"function_code": 3},
    }


# newest first: a-3, b-2, then b-1 and a-2 share a timestamp (ties: id descending), a-1
EVENTS = [
    _event("a-1", "2025-12-31T23:59:59.999999Z", "js/nj/a", "modbus", "read_holding_registers",
           "127.1.0.5", "127.1.0.10", "s1", "1:aaa"),
    _event("a-2", "2026-01-01T00:00:00.000000Z", "js/nj/a", "modbus", "write_single_coil",
           "127.1.0.5", "127.1.0.10", "s1", "1:aaa"),
    _event("b-1", "2026-01-01T00:00:00.000000Z", "js/sz/b", "s7comm", "plc_stop",
           "127.5.0.2", "127.5.0.9", "s2", "1:bbb"),
    _event("b-2", "2026-01-02T08:00:00.000001Z", "js/sz/b", "opcua", "create_session",
           "2001:db8::1", "2001:db8::2", "s2", "1:ccc"),
    _event("a-3", "2026-02-01T00:00:00.500000Z", "js/nj/a", "modbus", "read_holding_registers",
           "127.1.0.10", "127.1.0.5", "s1", "1:aaa"),
]
ALL = ["a-3", "b-2", "b-1", "a-2", "a-1"]


def _alert(aid: str, ts: str, org: str, rule: str, severity: int, techniques: list[str], src: str, dst: str) -> dict:
    return {
        "@timestamp": ts,
        "event": {"id": aid, "kind": "alert", "severity": severity, "action": rule},
        "rule": {"id": rule, "name": rule.replace("-", " ")},
        "threat": {"technique": {"id": techniques}},
        "source": {"ip": src},
        "destination": {"ip": dst},
        "related": {"events": ["a-2"], "ip": [src, dst]},
        "organization": {"id": org},
    }


ALERTS = [
    _alert("al-1", "2026-01-01T00:10:00.000000Z", "js/nj/a", "modbus-coil-write", 47, ["T0855", "T0831"],
           "127.1.0.5", "127.1.0.10"),
    _alert("al-2", "2026-01-01T00:50:00.000000Z", "js/sz/b", "s7-plc-stop", 73, ["T0881", "T0858"],
           "127.5.0.2", "127.5.0.9"),
    _alert("al-3", "2026-01-01T02:00:00.000000Z", "js/nj/a", "modbus-coil-write", 47, ["T0855"],
           "127.1.0.6", "127.1.0.10"),
]


def _asset(aid: str, org: str, ip: str, ips: list[str], roles: list[str], protocols: list[str],
           zone: str | None, vendor: str | None) -> dict:
    return {
        "id": aid, "organization": {"id": org}, "ip": ip, "ips": ips, "roles": roles, "protocols": protocols,
        "services": [f"{protocols[0]}/502"], "vendor": vendor, "zone": zone,
        "first_seen": "2026-01-01T00:00:00.000000Z", "last_seen": "2026-01-02T00:00:00.000000Z",
    }


# sorted by (organization, id): as1, as2 (js/nj/a), as4, as3 (js/sz/b)
ASSETS = {
    "as1": _asset("ip:127.1.0.10", "js/nj/a", "127.1.0.10", ["127.1.0.10"], ["plc"], ["modbus"], "cell-1",
                  "Schneider Electric"),
    "as2": _asset("ip:127.1.0.5", "js/nj/a", "127.1.0.5", ["127.1.0.5"], ["hmi"], ["modbus"], "cell-1", None),
    "as3": _asset("mac:00-1B-1B-00-00-01", "js/sz/b", "127.5.0.9", ["127.5.0.9", "127.5.0.19"], ["plc"],
                  ["s7comm"], None, "Siemens"),
    # the same asset-map id in another tenant is another asset
    "as4": _asset("ip:127.1.0.10", "js/sz/b", "127.1.0.10", ["127.1.0.10"], ["opcua_server"], ["opcua"], None, None),
}
ASSET_ORDER = ["as1", "as2", "as4", "as3"]


@pytest.fixture(scope="session")
def elasticsearch_up() -> str:
    res = subprocess.run([str(ROOT / "scripts" / "services.sh"), "start", "es"], capture_output=True, text=True,
                         timeout=900)
    assert res.returncode == 0, f"Elasticsearch did not start:\n{res.stderr[-3000:]}"
    return ES_URL


def _open(backend: str, tmp: Path, request: pytest.FixtureRequest) -> Store:
    if backend == "sqlite":
        return open_store(f"sqlite:///{tmp / 'store.db'}")
    url = request.getfixturevalue("elasticsearch_up")
    return open_store(f"{url}?prefix=icssa-test-{uuid.uuid4().hex[:10]}-")


def _close(store: Store) -> None:
    store.drop()
    delete = getattr(store, "delete_templates", None)
    if delete is not None:
        delete()
    store.close()


@pytest.fixture(params=["sqlite", "elasticsearch"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    """An empty store of each engine."""
    s = _open(request.param, tmp_path, request)
    yield s
    _close(s)


@pytest.fixture(scope="module", params=["sqlite", "elasticsearch"])
def loaded(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Store]:
    """A store of each engine holding EVENTS, ALERTS and ASSETS (read-only tests)."""
    s = _open(request.param, tmp_path_factory.mktemp("store"), request)
    assert s.put_events(copy.deepcopy(EVENTS)) == 5
    assert s.put_alerts(copy.deepcopy(ALERTS)) == 3
    assert s.put_assets(copy.deepcopy(list(ASSETS.values()))) == 4
    s.refresh()
    yield s
    _close(s)


def _ids(items: list[dict[str, Any]]) -> list[str]:
    return [i["event"]["id"] for i in items]


def _asset_names(items: list[dict[str, Any]]) -> list[str]:
    by_key = {(a["organization"]["id"], a["id"]): name for name, a in ASSETS.items()}
    return [by_key[(a["organization"]["id"], a["id"])] for a in items]


# -- events ----------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("query", "expected"),
    [
        (EventQuery(), ALL),
        (EventQuery(start="2026-01-01T00:00:00Z"), ["a-3", "b-2", "b-1", "a-2"]),  # start is inclusive
        (EventQuery(start="2026-01-01T08:00:00+08:00"), ["a-3", "b-2", "b-1", "a-2"]),  # same instant, +08:00
        (EventQuery(end="2026-01-01T00:00:00Z"), ["a-1"]),  # end is exclusive
        (EventQuery(start="2026-01-01T00:00:00Z", end="2026-02-01T00:00:00.500000Z"), ["b-2", "b-1", "a-2"]),
        (EventQuery(organizations=["js/nj/a"]), ["a-3", "a-2", "a-1"]),
        (EventQuery(organizations=["js/nj/a", "js/sz/b"]), ALL),
        (EventQuery(organizations=[]), []),  # a user who may see no tenant sees nothing
        (EventQuery(dataset="modbus"), ["a-3", "a-2", "a-1"]),
        (EventQuery(action="plc_stop"), ["b-1"]),
        (EventQuery(dataset="modbus", action="write_single_coil"), ["a-2"]),
        (EventQuery(dataset="modbus", action="plc_stop"), []),
        (EventQuery(ip="127.1.0.10"), ["a-3", "a-2", "a-1"]),  # destination of a-1/a-2, source of a-3
        (EventQuery(ip="127.1.0.0/16"), ["a-3", "a-2", "a-1"]),
        (EventQuery(ip="127.5.0.9"), ["b-1"]),
        (EventQuery(ip="2001:db8::2"), ["b-2"]),
        (EventQuery(ip="2001:db8::/32"), ["b-2"]),
        (EventQuery(ip="127.9.9.9"), []),
        (EventQuery(observer="s2"), ["b-2", "b-1"]),
        (EventQuery(community_id="1:aaa", organizations=["js/nj/a"]), ["a-3", "a-2", "a-1"]),
        (EventQuery(community_id="1:nope"), []),
    ],
)
def test_search_events_filters(loaded: Store, query: EventQuery, expected: list[str]) -> None:
    page = loaded.search_events(query, size=50)
    assert _ids(page.items) == expected
    assert page.total == len(expected)
    assert page.cursor is None
    assert loaded.count_events(query) == len(expected)


@pytest.mark.parametrize(("size", "pages"), [
    (2, [["a-3", "b-2"], ["b-1", "a-2"], ["a-1"]]),
    (1, [["a-3"], ["b-2"], ["b-1"], ["a-2"], ["a-1"]]),
    (5, [ALL]),  # a full last page says there is no next one
])
def test_event_pages_walk_newest_first_ties_by_id(loaded: Store, size: int, pages: list[list[str]]) -> None:
    seen = []
    cursor = None
    while True:
        page = loaded.search_events(EventQuery(), size=size, cursor=cursor)
        assert page.total == 5
        seen.append(_ids(page.items))
        cursor = page.cursor
        if cursor is None:
            break
        assert len(seen) <= len(pages)
    assert seen == pages


def test_event_pages_with_a_filter(loaded: Store) -> None:
    q = EventQuery(organizations=["js/nj/a"])
    first = loaded.search_events(q, size=2)
    assert _ids(first.items) == ["a-3", "a-2"]
    assert first.cursor is not None
    second = loaded.search_events(q, size=2, cursor=first.cursor)
    assert (_ids(second.items), second.cursor) == (["a-1"], None)


def test_get_by_id(loaded: Store) -> None:
    got = loaded.get("events", "b-1")
    assert got is not None
    assert got["event"]["action"] == "plc_stop"
    assert got["s7comm"] == {"function_code": 3}
    assert loaded.get("events", "missing") is None
    alert = loaded.get("alerts", "al-2")
    assert alert is not None and alert["threat"]["technique"]["id"] == ["T0881", "T0858"]
    asset = loaded.get("assets", "js/sz/b/ip:127.1.0.10")
    assert asset is not None and asset["roles"] == ["opcua_server"]


def test_event_stats(loaded: Store) -> None:
    stats = loaded.event_stats(EventQuery())
    assert stats.total == 5
    # most frequent first, ties by name
    assert list(stats.by_dataset.items()) == [("modbus", 3), ("opcua", 1), ("s7comm", 1)]
    assert list(stats.by_action.items()) == [
        ("read_holding_registers", 2), ("create_session", 1), ("plc_stop", 1), ("write_single_coil", 1)
    ]
    narrow = loaded.event_stats(EventQuery(organizations=["js/sz/b"]))
    assert (narrow.total, narrow.by_dataset) == (2, {"opcua": 1, "s7comm": 1})


def test_iter_ids(loaded: Store) -> None:
    assert sorted(loaded.iter_ids("events")) == sorted(ALL)
    assert sorted(loaded.iter_ids("alerts")) == ["al-1", "al-2", "al-3"]
    assert sorted(loaded.iter_ids("assets")) == sorted([
        "js/nj/a/ip:127.1.0.10", "js/nj/a/ip:127.1.0.5", "js/sz/b/ip:127.1.0.10", "js/sz/b/mac:00-1B-1B-00-00-01",
    ])


# -- alerts ----------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("query", "expected"),
    [
        (AlertQuery(), ["al-3", "al-2", "al-1"]),
        (AlertQuery(technique="T0855"), ["al-3", "al-1"]),
        (AlertQuery(technique="T0858"), ["al-2"]),
        (AlertQuery(technique="T0800"), []),
        (AlertQuery(min_severity=50), ["al-2"]),
        (AlertQuery(min_severity=47), ["al-3", "al-2", "al-1"]),
        (AlertQuery(rule_id="modbus-coil-write"), ["al-3", "al-1"]),
        (AlertQuery(ip="127.5.0.9"), ["al-2"]),
        (AlertQuery(ip="127.1.0.6"), ["al-3"]),
        (AlertQuery(organizations=["js/nj/a"]), ["al-3", "al-1"]),
        (AlertQuery(start="2026-01-01T00:30:00Z"), ["al-3", "al-2"]),
        (AlertQuery(start="2026-01-01T00:30:00Z", technique="T0855"), ["al-3"]),
    ],
)
def test_search_alerts_filters(loaded: Store, query: AlertQuery, expected: list[str]) -> None:
    page = loaded.search_alerts(query, size=50)
    assert _ids(page.items) == expected
    assert page.total == len(expected) == loaded.count_alerts(query)


def test_alert_stats(loaded: Store) -> None:
    stats = loaded.alert_stats(AlertQuery(), interval_seconds=3600)
    assert stats.total == 3
    assert list(stats.by_technique.items()) == [("T0855", 2), ("T0831", 1), ("T0858", 1), ("T0881", 1)]
    assert list(stats.by_severity.items()) == [(47, 2), (73, 1)]
    assert list(stats.by_rule.items()) == [("modbus-coil-write", 2), ("s7-plc-stop", 1)]
    # hourly buckets from the epoch; the empty 01:00 bucket is left out
    assert stats.over_time == [("2026-01-01T00:00:00.000000Z", 2), ("2026-01-01T02:00:00.000000Z", 1)]


def test_alert_stats_follow_the_filter(loaded: Store) -> None:
    stats = loaded.alert_stats(AlertQuery(technique="T0855"), interval_seconds=86_400, top=1)
    assert stats.total == 2
    assert stats.by_technique == {"T0855": 2}  # top=1 keeps the most frequent
    assert stats.over_time == [("2026-01-01T00:00:00.000000Z", 2)]


def test_alert_stats_of_every_alert_by_day(loaded: Store) -> None:
    # no filter but tenants and whole days: the SQLite store answers from its rollup table
    stats = loaded.alert_stats(AlertQuery(), interval_seconds=86_400)
    assert stats.total == 3
    assert list(stats.by_technique.items()) == [("T0855", 2), ("T0831", 1), ("T0858", 1), ("T0881", 1)]
    assert list(stats.by_severity.items()) == [(47, 2), (73, 1)]
    assert list(stats.by_rule.items()) == [("modbus-coil-write", 2), ("s7-plc-stop", 1)]
    assert stats.over_time == [("2026-01-01T00:00:00.000000Z", 3)]


def test_alert_stats_of_one_tenant_by_day(loaded: Store) -> None:
    stats = loaded.alert_stats(AlertQuery(organizations=["js/nj/a"]), interval_seconds=86_400, top=1)
    assert (stats.total, stats.by_technique, stats.by_severity) == (2, {"T0855": 2}, {47: 2})
    assert stats.by_rule == {"modbus-coil-write": 2}
    assert stats.over_time == [("2026-01-01T00:00:00.000000Z", 2)]
    assert loaded.alert_stats(AlertQuery(organizations=[]), interval_seconds=86_400).total == 0


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        (AlertQuery(), {"js/nj/a": 2, "js/sz/b": 1}),
        (AlertQuery(organizations=["js/sz/b", "js/none"]), {"js/sz/b": 1}),
        (AlertQuery(organizations=[]), {}),
        (AlertQuery(min_severity=50), {"js/sz/b": 1}),
        (AlertQuery(technique="T0855", start="2026-01-01T00:30:00Z"), {"js/nj/a": 1}),
    ],
)
def test_count_alerts_by_org(loaded: Store, query: AlertQuery, expected: dict[str, int]) -> None:
    # not (yet) in the Store interface: both engines have it, the API uses it when present
    assert loaded.count_alerts_by_org(query) == expected  # type: ignore[attr-defined]


def test_replaced_alerts_move_in_totals_and_aggregates(store: Store) -> None:
    store.put_alerts(copy.deepcopy(ALERTS))
    moved = copy.deepcopy(ALERTS[0])  # al-1: another tenant, rule, severity, technique and day
    moved.update({"@timestamp": "2026-01-03T05:00:00.000000Z", "organization": {"id": "js/sz/b"},
                  "rule": {"id": "s7-plc-stop"}, "threat": {"technique": {"id": ["T0858"]}}})
    moved["event"]["severity"] = 73
    store.put_alerts([moved])
    store.put_alerts(copy.deepcopy(ALERTS[1:2]))  # al-2 again, unchanged
    store.refresh()
    stats = store.alert_stats(AlertQuery(), interval_seconds=86_400)
    assert stats.total == 3
    assert stats.by_technique == {"T0858": 2, "T0855": 1, "T0881": 1}
    assert stats.by_severity == {73: 2, 47: 1}
    assert stats.by_rule == {"s7-plc-stop": 2, "modbus-coil-write": 1}
    assert stats.over_time == [("2026-01-01T00:00:00.000000Z", 2), ("2026-01-03T00:00:00.000000Z", 1)]
    assert store.count_alerts_by_org(AlertQuery()) == {"js/nj/a": 1, "js/sz/b": 2}  # type: ignore[attr-defined]
    page = store.search_alerts(AlertQuery(organizations=["js/sz/b"]), size=1)
    assert (_ids(page.items), page.total) == (["al-1"], 2)
    assert _ids(store.search_alerts(AlertQuery(technique="T0855")).items) == ["al-3"]


def test_alert_page(loaded: Store) -> None:
    first = loaded.search_alerts(AlertQuery(), size=2)
    assert _ids(first.items) == ["al-3", "al-2"] and first.cursor is not None
    second = loaded.search_alerts(AlertQuery(), size=2, cursor=first.cursor)
    assert (_ids(second.items), second.cursor, second.total) == (["al-1"], None, 3)


def test_elasticsearch_keeps_alerts_in_timeline_order(request: pytest.FixtureRequest, tmp_path: Path) -> None:
    """The alerts index is sorted as the API pages it (newest first, ties by id descending):
    a page of the newest alerts is read from neighbouring stored documents."""
    s = _open("elasticsearch", tmp_path, request)
    try:
        assert s.put_alerts(copy.deepcopy(ALERTS)) == 3
        index = s.alerts_index  # type: ignore[attr-defined]
        got = s.es.indices.get_settings(index=index)[index]["settings"]["index"]["sort"]  # type: ignore[attr-defined]
        assert (got["field"], got["order"], got["missing"]) == (
            ["@timestamp", "event.id"], ["desc", "desc"], ["_last", "_last"])
    finally:
        _close(s)


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ({"term": {"modbus.function_code": 3}}, ["a-1", "a-2", "a-3"]),
        ({"term": {"s7comm.function_code": 3}}, ["b-1"]),
        ({"range": {"source.port": {"gte": 40000}}}, ["a-1", "a-2", "b-1", "b-2"]),
        ({"term": {"destination.port": 102}}, ["odd"]),
        ({"term": {"network.transport": "tcp"}}, ["a-1", "a-2", "b-1", "b-2", "odd"]),
        ({"term": {"event.kind": "event"}}, ["a-1", "a-2", "a-3", "b-1", "b-2", "odd"]),
    ],
)
def test_elasticsearch_contract_fields_stay_searchable(
    request: pytest.FixtureRequest, tmp_path: Path, query: dict[str, Any], expected: list[str]
) -> None:
    """Event fields the store never filters on (ports, transport, protocol fields DESIGN.md
    names) are not indexed per event but stay searchable from Elasticsearch; a value of the
    wrong type in one event (a-3's source port) neither fails the query nor matches it."""
    s = _open("elasticsearch", tmp_path, request)
    try:
        odd = _event("odd", "2026-01-03T00:00:00Z", "js/nj/a", "opcua", "read", "127.1.0.7", "127.1.0.8", "s1", "1:d")
        odd["destination"]["port"] = 102
        odd["source"]["port"] = 1
        odd["opcua"] = {"function_code": "three"}
        events = copy.deepcopy(EVENTS)
        events[4]["source"]["port"] = "not a port"
        del events[4]["network"]["transport"]
        s.put_events([*events, odd])
        s.refresh()
        resp = s.es.search(index=s.events_pattern, query=query, size=20)  # type: ignore[attr-defined]
        assert sorted(h["_id"] for h in resp["hits"]["hits"]) == expected
    finally:
        _close(s)


# -- assets ----------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("query", "expected"),
    [
        (AssetQuery(), ASSET_ORDER),
        (AssetQuery(role="plc"), ["as1", "as3"]),
        (AssetQuery(protocol="modbus"), ["as1", "as2"]),
        (AssetQuery(ip="127.5.0.19"), ["as3"]),  # a secondary address
        (AssetQuery(ip="127.1.0.10"), ["as1", "as4"]),
        (AssetQuery(ip="127.5.0.0/16"), ["as3"]),
        (AssetQuery(zone="cell-1"), ["as1", "as2"]),
        (AssetQuery(vendor="Siemens"), ["as3"]),
        (AssetQuery(organizations=["js/sz/b"]), ["as4", "as3"]),
        (AssetQuery(organizations=["js/sz/b"], role="plc"), ["as3"]),
        (AssetQuery(role="engineering_workstation"), []),
    ],
)
def test_search_assets_filters(loaded: Store, query: AssetQuery, expected: list[str]) -> None:
    page = loaded.search_assets(query, size=50)
    assert _asset_names(page.items) == expected
    assert page.total == len(expected) == loaded.count_assets(query)


def test_asset_pages(loaded: Store) -> None:
    names = []
    cursor = None
    for _ in range(4):
        page = loaded.search_assets(AssetQuery(), size=3, cursor=cursor)
        names += _asset_names(page.items)
        cursor = page.cursor
        if cursor is None:
            break
    assert names == ASSET_ORDER


# -- writes ----------------------------------------------------------------------------------
def test_upsert_is_idempotent_and_replaces(store: Store) -> None:
    store.put_events(copy.deepcopy(EVENTS))
    again = copy.deepcopy(EVENTS)
    again[0]["event"]["action"] = "read_input_registers"
    assert store.put_events(again) == 5
    store.put_alerts(copy.deepcopy(ALERTS))
    store.put_alerts(copy.deepcopy(ALERTS))
    store.put_assets(copy.deepcopy(list(ASSETS.values())))
    changed = copy.deepcopy(ASSETS["as2"])
    changed["roles"] = ["engineering_workstation"]
    store.put_assets([changed])
    store.refresh()
    assert store.count_events(EventQuery()) == 5
    assert _ids(store.search_events(EventQuery(action="read_input_registers")).items) == ["a-1"]
    assert store.count_alerts(AlertQuery()) == 3
    assert store.count_assets(AssetQuery()) == 4
    assert _asset_names(store.search_assets(AssetQuery(role="engineering_workstation")).items) == ["as2"]
    assert _asset_names(store.search_assets(AssetQuery(role="hmi")).items) == []


def test_delete_assets(store: Store) -> None:
    store.put_assets(copy.deepcopy(list(ASSETS.values())))
    store.refresh()
    assert store.delete_assets(["js/sz/b/ip:127.1.0.10", "js/nj/a/ip:127.9.9.9"]) == 1  # the second never existed
    assert store.delete_assets([]) == 0
    store.refresh()
    assert _asset_names(store.search_assets(AssetQuery()).items) == ["as1", "as2", "as3"]


def test_raw_events_as_they_travel_on_the_bus(store: Store) -> None:
    raw = [
        b'{"@timestamp":"2026-03-01T00:00:00.000000Z","event":{"id":"r-1","kind":"event","dataset":"modbus",'
        b'"action":"read_coils"},"organization":{"id":"js"},"source":{"ip":"127.0.0.1"},'
        b'"destination":{"ip":"127.0.0.2"}}',
        b'{"@timestamp":"2026-03-01T00:00:01.000000Z","event":{"id":"r-2","kind":"event","dataset":"opcua",'
        b'"action":"hello"},"organization":{"id":"js"}}',
    ]
    assert store.put_raw_events(raw) == 2
    store.refresh()
    assert _ids(store.search_events(EventQuery(ip="127.0.0.2")).items) == ["r-1"]
    assert _ids(store.search_events(EventQuery()).items) == ["r-2", "r-1"]


def test_event_without_id_is_refused_before_writing(store: Store) -> None:
    bad = copy.deepcopy(EVENTS[0])
    del bad["event"]["id"]
    with pytest.raises(ValueError, match="event.id"):
        store.put_events([copy.deepcopy(EVENTS[1]), bad])
    store.refresh()
    assert store.count_events(EventQuery()) == 0


def test_one_odd_document_does_not_block_its_batch(store: Store) -> None:
    odd = copy.deepcopy(EVENTS[2])
    odd["event"]["dataset"] = {"nested": "object where a name belongs"}
    odd["source"]["port"] = "not a port"
    store.put_events([copy.deepcopy(EVENTS[0]), odd, copy.deepcopy(EVENTS[4])])
    store.refresh()
    assert {"a-1", "a-3"} <= set(store.iter_ids("events"))
    assert store.get("events", "a-3") is not None


def test_expire_events_drops_whole_months(store: Store) -> None:
    store.put_events(copy.deepcopy(EVENTS))
    store.refresh()
    # months wholly before January 2026: December 2025 holds a-1
    assert store.expire_events("2026-01-15T12:00:00Z") == 1
    store.refresh()
    assert sorted(store.iter_ids("events")) == ["a-2", "a-3", "b-1", "b-2"]
    assert store.expire_events("2026-01-31T00:00:00Z") == 0


def test_drop_empties_everything(store: Store) -> None:
    store.put_events(copy.deepcopy(EVENTS))
    store.put_alerts(copy.deepcopy(ALERTS))
    store.put_assets(copy.deepcopy(list(ASSETS.values())))
    store.refresh()
    store.drop()
    store.refresh()
    assert (store.count_events(EventQuery()), store.count_alerts(AlertQuery()), store.count_assets(AssetQuery())) == (0, 0, 0)
    store.put_events(copy.deepcopy(EVENTS[:1]))  # still usable
    store.refresh()
    assert list(store.iter_ids("events")) == ["a-1"]


@pytest.mark.parametrize("cursor", ["", "not-base64!", "bnVsbA=="])  # "" / garbage / base64 of JSON null
def test_bad_cursor_is_a_value_error(loaded: Store, cursor: str) -> None:
    with pytest.raises(ValueError):
        loaded.search_events(EventQuery(), size=1, cursor=cursor)
