"""What only the SQLite store has: migrating a file of the first schema, undated documents,
its helper tables after a reset, and reads from several threads while it writes.

The engine-neutral behaviour is in tests/test_store.py (run on both engines).
"""

from __future__ import annotations

import json
import sqlite3
import threading
from pathlib import Path

from icssa.store import AlertQuery, EventQuery, open_store

# the first schema's tables, as version 0 of the store wrote them (PRAGMA user_version 0)
V0_SCHEMA = """
CREATE TABLE events (
  id TEXT PRIMARY KEY, ts INTEGER, org TEXT, dataset TEXT, action TEXT,
  src_ip TEXT, dst_ip TEXT, observer TEXT, cid TEXT, doc TEXT NOT NULL);
CREATE INDEX events_ts ON events(ts, id);
CREATE INDEX events_org_ts ON events(org, ts);
CREATE INDEX events_dataset ON events(dataset, action);
CREATE INDEX events_src ON events(src_ip);
CREATE INDEX events_dst ON events(dst_ip);
CREATE INDEX events_cid ON events(cid);
CREATE TABLE alerts (
  id TEXT PRIMARY KEY, ts INTEGER, org TEXT, rule_id TEXT, severity INTEGER,
  src_ip TEXT, dst_ip TEXT, doc TEXT NOT NULL);
CREATE INDEX alerts_ts ON alerts(ts, id);
CREATE INDEX alerts_org_ts ON alerts(org, ts);
CREATE INDEX alerts_rule ON alerts(rule_id);
CREATE TABLE assets (
  doc_id TEXT PRIMARY KEY, org TEXT, asset_id TEXT, ip TEXT, zone TEXT, vendor TEXT, doc TEXT NOT NULL);
CREATE INDEX assets_org ON assets(org, asset_id);
CREATE INDEX assets_ip ON assets(ip);
"""
T_0010 = 1_767_226_200_000_000  # 2026-01-01T00:10:00Z in µs since the epoch (20454 days + 600 s)
T_0200 = 1_767_232_800_000_000  # 2026-01-01T02:00:00Z


def _v0_file(path: Path) -> None:
    db = sqlite3.connect(path)
    db.executescript(V0_SCHEMA)
    rows = [
        # nested technique list
        ("al-1", T_0010, "js/nj/a", "modbus-coil-write", 47,
         {"event": {"id": "al-1"}, "threat": {"technique": {"id": ["T0855", "T0831"]}}}),
        # dotted key, one string
        ("al-3", T_0200, "js/nj/a", "modbus-coil-write", 47, {"event.id": "al-3", "threat.technique.id": "T0855"}),
        # no timestamp (ts NULL in version 0), no organization
        ("al-0", None, None, "s7-plc-stop", 73, {"event": {"id": "al-0"}, "threat": {"technique": {"id": ["T0881"]}}}),
    ]
    db.executemany("INSERT INTO alerts VALUES (?,?,?,?,?,NULL,NULL,?)",
                   [(*r[:5], json.dumps(r[5])) for r in rows])
    db.execute("INSERT INTO events VALUES ('e-1', NULL, 'js/nj/a', 'modbus', 'read_coils', NULL, NULL, NULL, NULL, "
               "'{\"event\": {\"id\": \"e-1\"}}')")
    db.execute("INSERT INTO events VALUES ('e-2', ?, 'js/nj/a', 'modbus', 'read_coils', NULL, NULL, NULL, NULL, "
               "'{\"event\": {\"id\": \"e-2\"}}')", (T_0010,))
    db.commit()
    db.close()


def _ids(items: list[dict]) -> list[str]:
    return [i.get("event.id") or i["event"]["id"] for i in items]


def test_first_schema_file_is_migrated(tmp_path: Path) -> None:
    _v0_file(tmp_path / "old.db")
    store = open_store(f"sqlite:///{tmp_path / 'old.db'}")
    try:
        assert _ids(store.search_alerts(AlertQuery()).items) == ["al-3", "al-1", "al-0"]  # undated last
        assert _ids(store.search_alerts(AlertQuery(technique="T0855")).items) == ["al-3", "al-1"]
        assert _ids(store.search_alerts(AlertQuery(technique="T0881")).items) == ["al-0"]
        assert _ids(store.search_alerts(AlertQuery(end="2026-01-01T01:00:00Z")).items) == ["al-1"]
        stats = store.alert_stats(AlertQuery(), interval_seconds=86_400)
        assert (stats.total, stats.by_technique) == (3, {"T0855": 2, "T0831": 1, "T0881": 1})
        assert stats.over_time == [("2026-01-01T00:00:00.000000Z", 2)]  # the undated alert has no bucket
        assert store.count_alerts_by_org(AlertQuery()) == {"js/nj/a": 2}  # type: ignore[attr-defined]
        assert _ids(store.search_events(EventQuery()).items) == ["e-2", "e-1"]
    finally:
        store.close()
    db = sqlite3.connect(tmp_path / "old.db")
    assert db.execute("PRAGMA user_version").fetchone() == (2,)
    assert db.execute("SELECT name FROM sqlite_master WHERE name LIKE '%_v0'").fetchall() == []
    db.close()


def test_undated_documents_come_last_and_stay_out_of_time_ranges(tmp_path: Path) -> None:
    store = open_store(f"sqlite:///{tmp_path / 's.db'}")
    try:
        store.put_alerts([
            {"event": {"id": "a"}, "organization": {"id": "o"}},
            {"@timestamp": "2026-01-01T00:10:00Z", "event": {"id": "b"}, "organization": {"id": "o"}},
            {"@timestamp": "not a time", "event": {"id": "c"}, "organization": {"id": "o"}},
        ])
        assert _ids(store.search_alerts(AlertQuery()).items) == ["b", "c", "a"]  # undated: ids descending
        first = store.search_alerts(AlertQuery(), size=2)
        assert _ids(store.search_alerts(AlertQuery(), size=2, cursor=first.cursor).items) == ["a"]
        assert _ids(store.search_alerts(AlertQuery(end="2026-01-02T00:00:00Z")).items) == ["b"]
        assert store.count_alerts(AlertQuery(organizations=["o"])) == 3
        assert store.alert_stats(AlertQuery(), interval_seconds=86_400).over_time == [
            ("2026-01-01T00:00:00.000000Z", 1)]
    finally:
        store.close()


def test_drop_empties_the_helper_tables(tmp_path: Path) -> None:
    store = open_store(f"sqlite:///{tmp_path / 's.db'}")
    try:
        store.put_alerts([{"@timestamp": "2026-01-01T00:10:00Z", "event": {"id": "a", "severity": 5},
                           "rule": {"id": "r"}, "threat": {"technique": {"id": ["T0855"]}},
                           "organization": {"id": "o"}}])
        store.drop()
        stats = store.alert_stats(AlertQuery(), interval_seconds=86_400)
        assert (stats.total, stats.by_technique, stats.by_rule, stats.over_time) == (0, {}, {}, [])
        assert store.search_alerts(AlertQuery(technique="T0855")).total == 0
    finally:
        store.close()


def test_threads_read_one_snapshot_each_while_alerts_are_written(tmp_path: Path) -> None:
    store = open_store(f"sqlite:///{tmp_path / 's.db'}", readers=3)
    batch = 50
    failures: list[str] = []

    def alert(i: int) -> dict:
        return {"@timestamp": f"2026-01-01T00:{i // 60:02d}:{i % 60:02d}Z", "event": {"id": f"a-{i:04d}"},
                "organization": {"id": "o"}}

    def read() -> None:
        for _ in range(40):
            page = store.search_alerts(AlertQuery(organizations=["o"]), size=1000)
            # writes come in whole batches: a reader sees a multiple of the batch, and all of it
            if page.total % batch or len(page.items) != page.total:
                failures.append(f"total {page.total}, items {len(page.items)}")
    try:
        readers = [threading.Thread(target=read) for _ in range(6)]
        for t in readers:
            t.start()
        for start in range(0, 20 * batch, batch):
            store.put_alerts([alert(i) for i in range(start, start + batch)])
        for t in readers:
            t.join()
        assert failures == []
        assert store.search_alerts(AlertQuery(organizations=["o"])).total == 20 * batch
    finally:
        store.close()
