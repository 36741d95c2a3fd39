"""The SQLite store: one file, no services (the embedded default).

Each kind is one table: the document as JSON text plus the columns queries filter and sort
on, indexed. Lists inside documents (techniques, roles, protocols, addresses) are read with
SQLite's ``json_each``. Upserts are ``INSERT OR REPLACE`` by document id, one transaction a
batch. Times are kept as microseconds since the epoch (UTC) for exact ordering.
"""

from __future__ import annotations

import ipaddress
import sqlite3
import threading
from collections.abc import Iterable, Iterator
from functools import lru_cache
from pathlib import Path
from typing import Any

import orjson

from icssa.events import get
from icssa.store import (
    AlertQuery,
    AlertStats,
    AssetQuery,
    Doc,
    EventQuery,
    EventStats,
    Kind,
    Page,
    Store,
    StoreError,
    asset_doc_id,
    decode_cursor,
    encode_cursor,
    event_id,
    iso_from_micros,
    month_start,
    ts_micros,
)

SCHEMA = """
PRAGMA journal_mode=WAL;
PRAGMA synchronous=NORMAL;
CREATE TABLE IF NOT EXISTS events (
  id TEXT PRIMARY KEY, ts INTEGER, org TEXT, dataset TEXT, action TEXT,
  src_ip TEXT, dst_ip TEXT, observer TEXT, cid TEXT, doc TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS events_ts ON events(ts, id);
CREATE INDEX IF NOT EXISTS events_org_ts ON events(org, ts);
CREATE INDEX IF NOT EXISTS events_dataset ON events(dataset, action);
CREATE INDEX IF NOT EXISTS events_src ON events(src_ip);
CREATE INDEX IF NOT EXISTS events_dst ON events(dst_ip);
CREATE INDEX IF NOT EXISTS events_cid ON events(cid);
CREATE TABLE IF NOT EXISTS alerts (
  id TEXT PRIMARY KEY, ts INTEGER, org TEXT, rule_id TEXT, severity INTEGER,
  src_ip TEXT, dst_ip TEXT, doc TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS alerts_ts ON alerts(ts, id);
CREATE INDEX IF NOT EXISTS alerts_org_ts ON alerts(org, ts);
CREATE INDEX IF NOT EXISTS alerts_rule ON alerts(rule_id);
CREATE TABLE IF NOT EXISTS assets (
  doc_id TEXT PRIMARY KEY, org TEXT, asset_id TEXT, ip TEXT, zone TEXT, vendor TEXT, doc TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS assets_org ON assets(org, asset_id);
CREATE INDEX IF NOT EXISTS assets_ip ON assets(ip);
"""


@lru_cache(maxsize=4096)
def _network(text: str) -> ipaddress.IPv4Network | ipaddress.IPv6Network | None:
    try:
        return ipaddress.ip_network(text, strict=False)
    except ValueError:
        return None


def _ip_in(ip: str | None, net: str) -> int:
    if not ip:
        return 0
    n = _network(net)
    if n is None:
        return 0
    try:
        return int(ipaddress.ip_address(ip) in n)
    except ValueError:
        return 0


class _Where:
    """Conditions and their parameters, joined with AND."""

    def __init__(self) -> None:
        self.parts: list[str] = []
        self.args: list[Any] = []

    def add(self, sql: str, *args: Any) -> None:
        self.parts.append(sql)
        self.args.extend(args)

    def sql(self) -> str:
        return " WHERE " + " AND ".join(self.parts) if self.parts else ""

    def time(self, start: str | None, end: str | None) -> None:
        if start is not None:
            self.add("ts >= ?", _need_ts(start))
        if end is not None:
            self.add("ts < ?", _need_ts(end))

    def orgs(self, orgs: Any) -> None:
        if orgs is not None:
            orgs = list(orgs)
            self.add(f"org IN ({','.join('?' * len(orgs))})" if orgs else "0", *orgs)

    def ip(self, cols: tuple[str, ...], ip: str | None) -> None:
        if ip is None:
            return
        if "/" in ip:
            self.add("(" + " OR ".join(f"ip_in({c}, ?)" for c in cols) + ")", *([ip] * len(cols)))
        else:
            self.add("(" + " OR ".join(f"{c} = ?" for c in cols) + ")", *([ip] * len(cols)))


def _need_ts(ts: str) -> int:
    us = ts_micros(ts)
    if us is None:
        raise ValueError(f"bad time {ts!r} (ISO 8601 expected)")
    return us


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) else None


class SqliteStore(Store):
    def __init__(self, path: str | Path, **_: Any) -> None:
        self.path = str(path)
        if self.path != ":memory:":
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        try:
            self.db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
            self.db.executescript(SCHEMA)
        except sqlite3.Error as exc:
            raise StoreError(f"sqlite:///{self.path}: {exc}") from exc
        self.db.create_function("ip_in", 2, _ip_in, deterministic=True)
        self.lock = threading.Lock()

    # -- writes ----------------------------------------------------------------------------
    def _write(self, sql: str, rows: list[tuple[Any, ...]]) -> int:
        if not rows:
            return 0
        with self.lock:
            self.db.execute("BEGIN")
            try:
                self.db.executemany(sql, rows)
            except BaseException:
                self.db.execute("ROLLBACK")
                raise
            self.db.execute("COMMIT")
        return len(rows)

    def put_events(self, events: Iterable[Doc]) -> int:
        rows = [
            (
                event_id(e), ts_micros(get(e, "@timestamp")), _text(get(e, "organization.id")),
                _text(get(e, "event.dataset")), _text(get(e, "event.action")),
                _text(get(e, "source.ip")), _text(get(e, "destination.ip")), _text(get(e, "observer.name")),
                _text(get(e, "network.community_id")), orjson.dumps(e).decode(),
            )
            for e in events
        ]
        return self._write("INSERT OR REPLACE INTO events VALUES (?,?,?,?,?,?,?,?,?,?)", rows)

    def put_alerts(self, alerts: Iterable[Doc]) -> int:
        rows = []
        for a in alerts:
            sev = get(a, "event.severity")
            rows.append((
                event_id(a), ts_micros(get(a, "@timestamp")), _text(get(a, "organization.id")),
                _text(get(a, "rule.id")), sev if isinstance(sev, int) else None,
                _text(get(a, "source.ip")), _text(get(a, "destination.ip")), orjson.dumps(a).decode(),
            ))
        return self._write("INSERT OR REPLACE INTO alerts VALUES (?,?,?,?,?,?,?,?)", rows)

    def put_assets(self, assets: Iterable[Doc]) -> int:
        rows = [
            (
                asset_doc_id(a), _text(get(a, "organization.id")), str(a["id"]), _text(a.get("ip")),
                _text(a.get("zone")), _text(a.get("vendor")), orjson.dumps(a).decode(),
            )
            for a in assets
        ]
        return self._write("INSERT OR REPLACE INTO assets VALUES (?,?,?,?,?,?,?)", rows)

    def delete_assets(self, doc_ids: Iterable[str]) -> int:
        rows = [(d,) for d in doc_ids]
        if not rows:
            return 0
        with self.lock:
            before = self.db.total_changes
            self.db.execute("BEGIN")
            self.db.executemany("DELETE FROM assets WHERE doc_id = ?", rows)
            self.db.execute("COMMIT")
            return self.db.total_changes - before

    def refresh(self) -> None:
        """Committed writes are visible at once."""

    # -- reads -----------------------------------------------------------------------------
    def _rows(self, sql: str, args: list[Any] | tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        with self.lock:
            return self.db.execute(sql, args).fetchall()

    def get(self, kind: Kind, doc_id: str) -> Doc | None:
        key = "doc_id" if kind == "assets" else "id"
        rows = self._rows(f"SELECT doc FROM {kind} WHERE {key} = ?", (doc_id,))
        return orjson.loads(rows[0][0]) if rows else None

    def _event_where(self, q: EventQuery) -> _Where:
        w = _Where()
        w.time(q.start, q.end)
        w.orgs(q.organizations)
        for col, value in (("dataset", q.dataset), ("action", q.action), ("observer", q.observer), ("cid", q.community_id)):
            if value is not None:
                w.add(f"{col} = ?", value)
        w.ip(("src_ip", "dst_ip"), q.ip)
        return w

    def _alert_where(self, q: AlertQuery) -> _Where:
        w = _Where()
        w.time(q.start, q.end)
        w.orgs(q.organizations)
        if q.rule_id is not None:
            w.add("rule_id = ?", q.rule_id)
        if q.min_severity is not None:
            w.add("severity >= ?", q.min_severity)
        if q.technique is not None:
            w.add("EXISTS (SELECT 1 FROM json_each(alerts.doc, '$.threat.technique.id') t WHERE t.value = ?)", q.technique)
        w.ip(("src_ip", "dst_ip"), q.ip)
        return w

    def _asset_where(self, q: AssetQuery) -> _Where:
        w = _Where()
        w.orgs(q.organizations)
        if q.zone is not None:
            w.add("zone = ?", q.zone)
        if q.vendor is not None:
            w.add("vendor = ?", q.vendor)
        for path, value in (("$.roles", q.role), ("$.protocols", q.protocol)):
            if value is not None:
                w.add(f"EXISTS (SELECT 1 FROM json_each(assets.doc, '{path}') j WHERE j.value = ?)", value)
        if q.ip is not None:
            match = "ip_in(j.value, ?)" if "/" in q.ip else "j.value = ?"
            w.add(
                f"(({'ip_in(ip, ?)' if '/' in q.ip else 'ip = ?'}) OR EXISTS "
                f"(SELECT 1 FROM json_each(assets.doc, '$.ips') j WHERE {match}))",
                q.ip, q.ip,
            )
        return w

    def _timeline(self, table: str, w: _Where, size: int, cursor: str | None) -> Page:
        total = self._rows(f"SELECT COUNT(*) FROM {table}{w.sql()}", w.args)[0][0]
        if cursor is not None:
            ts, last_id = decode_cursor(cursor)
            if ts is None:
                w.add("ts IS NULL AND id < ?", last_id)
            else:
                w.add("(ts IS NULL OR ts < ? OR (ts = ? AND id < ?))", ts, ts, last_id)
        rows = self._rows(
            f"SELECT doc, ts, id FROM {table}{w.sql()} ORDER BY ts IS NULL, ts DESC, id DESC LIMIT ?",
            [*w.args, size + 1],
        )
        more = len(rows) > size
        rows = rows[:size]
        return Page(
            [orjson.loads(r[0]) for r in rows], total, encode_cursor([rows[-1][1], rows[-1][2]]) if more else None
        )

    def search_events(self, q: EventQuery, size: int = 100, cursor: str | None = None) -> Page:
        return self._timeline("events", self._event_where(q), size, cursor)

    def search_alerts(self, q: AlertQuery, size: int = 100, cursor: str | None = None) -> Page:
        return self._timeline("alerts", self._alert_where(q), size, cursor)

    def search_assets(self, q: AssetQuery, size: int = 100, cursor: str | None = None) -> Page:
        w = self._asset_where(q)
        total = self._rows(f"SELECT COUNT(*) FROM assets{w.sql()}", w.args)[0][0]
        if cursor is not None:
            org, aid = decode_cursor(cursor)
            w.add("(org > ? OR (org = ? AND asset_id > ?))", org, org, aid)
        rows = self._rows(
            f"SELECT doc, org, asset_id FROM assets{w.sql()} ORDER BY org, asset_id LIMIT ?", [*w.args, size + 1]
        )
        more = len(rows) > size
        rows = rows[:size]
        return Page(
            [orjson.loads(r[0]) for r in rows], total, encode_cursor([rows[-1][1], rows[-1][2]]) if more else None
        )

    def count_events(self, q: EventQuery) -> int:
        w = self._event_where(q)
        return int(self._rows(f"SELECT COUNT(*) FROM events{w.sql()}", w.args)[0][0])

    def count_alerts(self, q: AlertQuery) -> int:
        w = self._alert_where(q)
        return int(self._rows(f"SELECT COUNT(*) FROM alerts{w.sql()}", w.args)[0][0])

    def count_assets(self, q: AssetQuery) -> int:
        w = self._asset_where(q)
        return int(self._rows(f"SELECT COUNT(*) FROM assets{w.sql()}", w.args)[0][0])

    def _terms(self, sql: str, args: list[Any], top: int) -> dict[Any, int]:
        rows = self._rows(f"{sql} ORDER BY n DESC, k ASC LIMIT ?", [*args, top])
        return {k: n for k, n in rows}

    def event_stats(self, q: EventQuery, top: int = 100) -> EventStats:
        w = self._event_where(q)
        cond = w.sql() + (" AND " if w.parts else " WHERE ")
        return EventStats(
            total=self.count_events(q),
            by_dataset=self._terms(f"SELECT dataset k, COUNT(*) n FROM events{cond}dataset IS NOT NULL GROUP BY k", w.args, top),
            by_action=self._terms(f"SELECT action k, COUNT(*) n FROM events{cond}action IS NOT NULL GROUP BY k", w.args, top),
        )

    def alert_stats(self, q: AlertQuery, interval_seconds: int = 3600, top: int = 100) -> AlertStats:
        w = self._alert_where(q)
        where = w.sql()
        cond = where + (" AND " if w.parts else " WHERE ")
        step = int(interval_seconds) * 1_000_000
        over = self._rows(
            f"SELECT (ts / ?) * ? b, COUNT(*) FROM alerts{cond}ts IS NOT NULL GROUP BY b ORDER BY b", [step, step, *w.args]
        )
        return AlertStats(
            total=self.count_alerts(q),
            by_technique=self._terms(
                "SELECT t.value k, COUNT(DISTINCT alerts.id) n FROM alerts, "
                f"json_each(alerts.doc, '$.threat.technique.id') t{where} GROUP BY k",
                w.args, top,
            ),
            by_severity=self._terms(f"SELECT severity k, COUNT(*) n FROM alerts{cond}severity IS NOT NULL GROUP BY k", w.args, top),
            by_rule=self._terms(f"SELECT rule_id k, COUNT(*) n FROM alerts{cond}rule_id IS NOT NULL GROUP BY k", w.args, top),
            over_time=[(iso_from_micros(b), n) for b, n in over],
        )

    def iter_ids(self, kind: Kind) -> Iterator[str]:
        key = "doc_id" if kind == "assets" else "id"
        for (doc_id,) in self._rows(f"SELECT {key} FROM {kind}"):
            yield doc_id

    # -- lifecycle -------------------------------------------------------------------------
    def expire_events(self, before: str) -> int:
        ym = month_start(before)
        if ym is None:
            raise ValueError(f"bad time {before!r} (ISO 8601 expected)")
        cutoff = _need_ts(f"{ym[0]:04d}-{ym[1]:02d}-01T00:00:00Z")
        with self.lock:
            cur = self.db.execute("DELETE FROM events WHERE ts < ?", (cutoff,))
            return cur.rowcount

    def drop(self) -> None:
        with self.lock:
            self.db.executescript("BEGIN; DELETE FROM events; DELETE FROM alerts; DELETE FROM assets; COMMIT;")

    def close(self) -> None:
        with self.lock:
            self.db.close()
