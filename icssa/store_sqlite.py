"""The SQLite store: one file, no services (the embedded default).

Each kind is one table: the document as JSON text plus the columns queries filter and sort on.
Times are microseconds since the epoch (UTC), ``NOT NULL``: a document without a readable
``@timestamp`` gets ``UNDATED`` (the smallest 64-bit integer), so newest first is one index scan
(``ORDER BY ts DESC, id DESC`` on an index that starts ``(ts, id)``) with undated documents
last, as in Elasticsearch.

Alerts have two helpers written in the alert's transaction:

- ``alert_techniques``: a row per (alert, ATT&CK technique) with the alert's filter columns,
  so a technique filter or aggregate reads an index instead of parsing JSON per alert;
- ``alert_rollup``: alerts per tenant, and per tenant and rule, severity, technique or day,
  kept by triggers in the same transaction; the total of a page filtered by tenants only (the
  default list) and the aggregates of all of a tenant set's alerts (the default dashboard)
  read a row per tenant and value instead of a row per alert.

The alert indexes carry the filter columns (organization, severity, rule): filters are checked
in the index and only the page's rows are read from the table.

Connections: one writer (writes serialized under a lock) and a bounded pool of read-only
connections (``readers``). In WAL mode readers wait neither for the writer nor for each other,
and SQLite releases the GIL while it works, so reads run in parallel; a read that needs several
statements runs them in one read transaction (one snapshot). ``:memory:`` uses one connection
for everything (each connection would be another database).

Schema, migration and connections live in ``store_sqlite_schema``; a file of the first schema
is migrated when opened. Planner statistics (``ANALYZE``, sampled) are taken when missing and
again each time the tables have doubled.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Iterator, Sequence
from contextlib import nullcontext
from dataclasses import replace
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
from icssa.store_sqlite_schema import (
    ALERT_UPSERT,
    DAY_US,
    NO_ORG,
    TENANT_TOTALS,
    UNDATED,
    Connections,
    Where,
    need_ts,
    rollup_stats,
    tenants_only,
    top_counts,
)


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def _techniques(alert: Doc) -> list[str]:
    value = get(alert, "threat.technique.id")
    values = value if isinstance(value, list) else [value]
    return list(dict.fromkeys(v for v in values if isinstance(v, str)))


class SqliteStore(Store):
    #: reads are local and short (index range scans of a page, rollup rows): an asyncio caller
    #: may run them on its event loop rather than hand them to a thread (``api.deps.store_read``)
    inline_reads = True

    def __init__(self, path: str | Path, *, readers: int = 4, **_: Any) -> None:
        self.path = str(path)
        try:
            self.conns = Connections(self.path, readers)
        except sqlite3.Error as exc:
            raise StoreError(f"sqlite:///{self.path}: {exc}") from exc
        self._read, self._write = self.conns.read, self.conns.write

    def _rows(self, sql: str, args: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        with self._read() as conn:
            return conn.execute(sql, args).fetchall()

    # -- writes ----------------------------------------------------------------------------
    def put_events(self, events: Iterable[Doc]) -> int:
        rows = []
        for e in events:
            ts = ts_micros(get(e, "@timestamp"))
            rows.append((
                event_id(e), UNDATED if ts is None else ts, _text(get(e, "organization.id")),
                _text(get(e, "event.dataset")), _text(get(e, "event.action")),
                _text(get(e, "source.ip")), _text(get(e, "destination.ip")), _text(get(e, "observer.name")),
                _text(get(e, "network.community_id")), orjson.dumps(e).decode(),
            ))
        return self._write([("INSERT OR REPLACE INTO events VALUES (?,?,?,?,?,?,?,?,?,?)", rows)]) if rows else 0

    def put_alerts(self, alerts: Iterable[Doc]) -> int:
        given = [(event_id(a), a) for a in alerts]
        latest = dict(given)  # a batch naming one alert twice keeps the last
        rows, techniques = [], []
        for aid, a in latest.items():
            ts, sev = ts_micros(get(a, "@timestamp")), get(a, "event.severity")
            row = (aid, UNDATED if ts is None else ts, _text(get(a, "organization.id")), _text(get(a, "rule.id")),
                   sev if isinstance(sev, int) and not isinstance(sev, bool) else None)
            rows.append((*row, _text(get(a, "source.ip")), _text(get(a, "destination.ip")), orjson.dumps(a).decode()))
            techniques += [(aid, t, row[1], row[2], row[3], row[4]) for t in _techniques(a)]
        if not rows:
            return 0
        self._write([
            (ALERT_UPSERT, rows),
            ("DELETE FROM alert_techniques WHERE alert_id = ?", [(r[0],) for r in rows]),
            ("INSERT OR IGNORE INTO alert_techniques VALUES (?,?,?,?,?,?)", techniques),
        ])
        return len(given)

    def put_assets(self, assets: Iterable[Doc]) -> int:
        rows = [
            (
                asset_doc_id(a), _text(get(a, "organization.id")), str(a["id"]), _text(a.get("ip")),
                _text(a.get("zone")), _text(a.get("vendor")), orjson.dumps(a).decode(),
            )
            for a in assets
        ]
        return self._write([("INSERT OR REPLACE INTO assets VALUES (?,?,?,?,?,?,?)", rows)]) if rows else 0

    def delete_assets(self, doc_ids: Iterable[str]) -> int:
        rows = [(d,) for d in doc_ids]
        if not rows:
            return 0
        with self.conns.writer() as db:
            before = db.total_changes
            db.execute("BEGIN")
            db.executemany("DELETE FROM assets WHERE doc_id = ?", rows)
            db.execute("COMMIT")
            return db.total_changes - before

    def refresh(self) -> None:
        """Committed writes are visible at once."""

    # -- query parts -----------------------------------------------------------------------
    def get(self, kind: Kind, doc_id: str) -> Doc | None:
        key = "doc_id" if kind == "assets" else "id"
        rows = self._rows(f"SELECT doc FROM {kind} WHERE {key} = ?", (doc_id,))
        return orjson.loads(rows[0][0]) if rows else None

    def _event_where(self, q: EventQuery) -> Where:
        w = Where()
        w.time(q.start, q.end)
        w.orgs(q.organizations)
        for col, value in (("dataset", q.dataset), ("action", q.action), ("observer", q.observer), ("cid", q.community_id)):
            if value is not None:
                w.add(f"{col} = ?", value)
        w.ip(("src_ip", "dst_ip"), q.ip)
        return w

    def _alert_where(self, q: AlertQuery, table: str = "alerts") -> Where:
        """Conditions on ``alerts`` or on ``alert_techniques`` (which has every alert column a
        filter needs but the addresses). On ``alert_techniques`` a technique filter keeps the
        rows of that technique: one per alert."""
        w = Where()
        w.time(q.start, q.end)
        w.orgs(q.organizations)
        if q.rule_id is not None:
            w.add("rule_id = ?", q.rule_id)
        if q.min_severity is not None:
            w.add("severity >= ?", q.min_severity)
        if table == "alerts":
            if q.technique is not None:
                w.add("id IN (SELECT alert_id FROM alert_techniques WHERE technique = ?)", q.technique)
            w.ip(("src_ip", "dst_ip"), q.ip)
            return w
        if q.technique is not None:
            w.add("technique = ?", q.technique)
        if q.ip is not None:
            ip = Where()
            ip.ip(("src_ip", "dst_ip"), q.ip)
            w.add(f"alert_id IN (SELECT id FROM alerts{ip.sql()})", *ip.args)
        return w

    def _asset_where(self, q: AssetQuery) -> Where:
        w = Where()
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

    @staticmethod
    def _count(conn: sqlite3.Connection, table: str, w: Where) -> int:
        return int(conn.execute(f"SELECT COUNT(*) FROM {table}{w.sql()}", w.args).fetchone()[0])

    @staticmethod
    def _tenant_counts(conn: sqlite3.Connection, q: AlertQuery) -> tuple[int, int] | None:
        """(alerts, tenants holding any) from ``alert_rollup`` when only tenants filter; else None."""
        if not tenants_only(q):
            return None
        w = Where()
        w.orgs(q.organizations)
        n, tenants = conn.execute(f"SELECT coalesce(SUM(n), 0), COUNT(*) FROM alert_rollup{w.sql(*TENANT_TOTALS)}",
                                  w.args).fetchone()
        return int(n), int(tenants)

    def _count_alerts(self, conn: sqlite3.Connection, q: AlertQuery) -> int | None:
        counts = self._tenant_counts(conn, q)
        return None if counts is None else counts[0]

    def _alert_source(self, q: AlertQuery) -> tuple[str, str, Where]:
        """(table, id column, conditions) to search: the technique table for a technique filter."""
        if q.technique is not None:
            return "alert_techniques", "alert_id", self._alert_where(q, "alert_techniques")
        return "alerts", "id", self._alert_where(q)

    # -- reads -----------------------------------------------------------------------------
    def _timeline(self, kind: str, table: str, id_col: str, w: Where, size: int, cursor: str | None,
                  total: int | None = None, conn: sqlite3.Connection | None = None) -> Page:
        after: list[Any] = []
        if cursor is not None:
            ts, last_id = decode_cursor(cursor)
            ts = UNDATED if ts is None else ts  # cursors made before undated times were UNDATED
            after = [f"(ts < ? OR (ts = ? AND {id_col} < ?))", ts, ts, last_id]
        with self._read() if conn is None else nullcontext(conn) as c:
            if total is None:
                total = self._count(c, table, w)
            order = f" ORDER BY ts DESC, {id_col} DESC LIMIT ?"
            if table.startswith(kind):
                rows = c.execute(f"SELECT doc, ts, id FROM {table}{w.sql(*after[:1])}{order}",
                                 [*w.args, *after[1:], size + 1]).fetchall()
            else:  # keys from the helper table, then the documents
                keys = c.execute(f"SELECT ts, {id_col} FROM {table}{w.sql(*after[:1])}{order}",
                                 [*w.args, *after[1:], size + 1]).fetchall()
                docs = dict(c.execute(f"SELECT id, doc FROM {kind} WHERE id IN ({','.join('?' * len(keys))})",
                                      [k[1] for k in keys]).fetchall()) if keys else {}
                rows = [(docs[k[1]], k[0], k[1]) for k in keys if k[1] in docs]
        more = len(rows) > size
        rows = rows[:size]
        return Page(
            [orjson.loads(r[0]) for r in rows], total, encode_cursor([rows[-1][1], rows[-1][2]]) if more else None
        )

    def search_events(self, q: EventQuery, size: int = 100, cursor: str | None = None) -> Page:
        return self._timeline("events", "events", "id", self._event_where(q), size, cursor)

    def search_alerts(self, q: AlertQuery, size: int = 100, cursor: str | None = None) -> Page:
        table, id_col, w = self._alert_source(q)
        with self._read() as conn:
            counts = self._tenant_counts(conn, q)
            if counts is None:
                return self._timeline("alerts", table, id_col, w, size, cursor, None, conn)
            # Tenants only, two plans: newest first over all alerts (alerts_ts) reads about
            # every/matching rows per row wanted; each tenant's (org, ts) range newest first
            # (alerts_org_ts) about one row per tenant per row wanted. SQLite's statistics rate
            # the three indexes that start with org alike and miss the second plan; the
            # rollup's counts tell which reads less.
            matching, tenants = counts
            every = conn.execute("SELECT coalesce(MAX(rowid), 0) FROM alerts").fetchone()[0]  # near enough
            index = "alerts_ts" if matching and every < matching * tenants else "alerts_org_ts"
            return self._timeline("alerts", f"alerts INDEXED BY {index}", id_col, w, size, cursor, matching, conn)

    def search_assets(self, q: AssetQuery, size: int = 100, cursor: str | None = None) -> Page:
        w = self._asset_where(q)
        after: list[Any] = []
        if cursor is not None:
            org, aid = decode_cursor(cursor)
            after = ["(org > ? OR (org = ? AND asset_id > ?))", org, org, aid]
        with self._read() as conn:
            total = self._count(conn, "assets", w)
            rows = conn.execute(f"SELECT doc, org, asset_id FROM assets{w.sql(*after[:1])} ORDER BY org, asset_id "
                                "LIMIT ?", [*w.args, *after[1:], size + 1]).fetchall()
        more = len(rows) > size
        rows = rows[:size]
        return Page(
            [orjson.loads(r[0]) for r in rows], total, encode_cursor([rows[-1][1], rows[-1][2]]) if more else None
        )

    def count_events(self, q: EventQuery) -> int:
        with self._read() as conn:
            return self._count(conn, "events", self._event_where(q))

    def count_alerts(self, q: AlertQuery) -> int:
        table, _, w = self._alert_source(q)
        with self._read() as conn:
            n = self._count_alerts(conn, q)
            return self._count(conn, table, w) if n is None else n

    def count_alerts_by_org(self, q: AlertQuery) -> dict[str, int]:
        """Alerts per organization (those with none are left out)."""
        table, _, w = self._alert_source(q)
        if tenants_only(q):
            w = Where()  # the counts kept by triggers
            w.orgs(q.organizations)
            rows = self._rows(f"SELECT org, n FROM alert_rollup{w.sql(*TENANT_TOTALS, f'org != {NO_ORG!r}')}", w.args)
        else:
            rows = self._rows(f"SELECT org, COUNT(*) FROM {table}{w.sql('org IS NOT NULL')} GROUP BY org", w.args)
        return dict(rows)

    def count_assets(self, q: AssetQuery) -> int:
        with self._read() as conn:
            return self._count(conn, "assets", self._asset_where(q))

    @staticmethod
    def _terms(conn: sqlite3.Connection, col: str, table: str, w: Where) -> list[tuple[Any, ...]]:
        """``(tenant, value of col, documents)`` per pair: grouped in the order of the index on
        ``(org, col)``, so nothing is sorted (``_top`` adds the tenants up)."""
        return conn.execute(f"SELECT org, {col}, COUNT(*) FROM {table}{w.sql()} GROUP BY org, {col}", w.args).fetchall()

    def event_stats(self, q: EventQuery, top: int = 100) -> EventStats:
        w = self._event_where(q)
        with self._read() as c:
            datasets = self._terms(c, "dataset", "events", w)
            actions = self._terms(c, "action", "events", w)
        return EventStats(sum(r[-1] for r in datasets), top_counts(datasets, 1, top), top_counts(actions, 1, top))

    def alert_stats(self, q: AlertQuery, interval_seconds: int = 3600, top: int = 100) -> AlertStats:
        step = int(interval_seconds) * 1_000_000
        if tenants_only(q) and step % DAY_US == 0:
            return self._rollup_stats(q.organizations, step, top)
        table, _, w = self._alert_source(q)
        tech = self._alert_where(replace(q, technique=None), "alert_techniques")
        if q.technique is not None:  # every technique of the alerts that have this one
            tech.add("alert_id IN (SELECT alert_id FROM alert_techniques WHERE technique = ?)", q.technique)
        with self._read() as c:
            total = self._count_alerts(c, q)
            over = c.execute(f"SELECT (ts / ?) * ? b, COUNT(*) FROM {table}{w.sql(f'ts > {UNDATED}')} "
                             "GROUP BY b ORDER BY b", [step, step, *w.args]).fetchall()
            rules = self._terms(c, "rule_id", table, w)
            severities = self._terms(c, "severity", table, w)
            techniques = self._terms(c, "technique", "alert_techniques", tech)
        return AlertStats(
            total=sum(r[-1] for r in rules) if total is None else total,
            by_technique=top_counts(techniques, 1, top), by_severity=top_counts(severities, 1, top), by_rule=top_counts(rules, 1, top),
            over_time=[(iso_from_micros(b), n) for b, n in over],
        )

    def _rollup_stats(self, orgs: Sequence[str] | None, step: int, top: int) -> AlertStats:
        """``alert_stats`` of all of some tenants' alerts, from ``alert_rollup``."""
        w = Where()
        w.orgs(orgs)
        rows = self._rows(f"SELECT kind, key, SUM(n) FROM alert_rollup{w.sql('n > 0')} GROUP BY kind, key", w.args)
        return rollup_stats(rows, step, top)

    def iter_ids(self, kind: Kind) -> Iterator[str]:
        key = "doc_id" if kind == "assets" else "id"
        for (doc_id,) in self._rows(f"SELECT {key} FROM {kind}"):
            yield doc_id

    # -- lifecycle -------------------------------------------------------------------------
    def expire_events(self, before: str) -> int:
        ym = month_start(before)
        if ym is None:
            raise ValueError(f"bad time {before!r} (ISO 8601 expected)")
        cutoff = need_ts(f"{ym[0]:04d}-{ym[1]:02d}-01T00:00:00Z")
        with self.conns.writer() as db:
            return db.execute("DELETE FROM events WHERE ts < ? AND ts > ?", (cutoff, UNDATED)).rowcount

    def drop(self) -> None:
        with self.conns.writer() as db:
            db.executescript("BEGIN; DELETE FROM events; DELETE FROM alerts; DELETE FROM alert_techniques; "
                             "DELETE FROM alert_rollup; DELETE FROM assets; COMMIT;")

    def close(self) -> None:
        self.conns.close()
