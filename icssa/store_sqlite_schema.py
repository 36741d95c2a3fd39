"""The SQLite store's lower layer: schema, migration, statistics, connections, SQL conditions,
and folding grouped rows into answers.

Tables (``store_sqlite`` explains why each exists):

| table | key | holds |
|---|---|---|
| ``events`` | ``id`` | event JSON; ``ts`` (µs since the epoch, ``UNDATED`` when absent), tenant, dataset, action, addresses, observer, community id |
| ``alerts`` | ``id`` | alert JSON; ``ts``, tenant, rule, severity, addresses |
| ``alert_techniques`` | ``(alert_id, technique)`` | one row per ATT&CK technique of an alert, with the alert's ``ts``, tenant, rule and severity |
| ``alert_rollup`` | ``(org, kind, key)`` | alerts per tenant (``NO_ORG``: without one) and ``kind``: ``all`` (key ``''``), ``rule``, ``severity``, ``technique``, ``day`` (days since the epoch, dated alerts only); kept by triggers |
| ``assets`` | ``doc_id`` | asset JSON; tenant, asset id, address, zone, vendor |

``PRAGMA user_version`` is ``VERSION``; a file of the first schema (version 0: nullable ``ts``,
no technique or count table) is rebuilt in place by ``setup``.
"""

from __future__ import annotations

import ipaddress
import queue
import sqlite3
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path
from typing import Any

from icssa.store import AlertQuery, AlertStats, iso_from_micros, ts_micros

#: ``ts`` of a document without a readable ``@timestamp``: sorts after every real time
UNDATED = -(1 << 63)
#: ``alert_rollup`` tenant of alerts without ``organization.id`` (no organization has this id)
NO_ORG = ""
DAY_US = 86_400_000_000
VERSION = 2

SCHEMA = """
CREATE TABLE IF NOT EXISTS events (
  id TEXT PRIMARY KEY, ts INTEGER NOT NULL, org TEXT, dataset TEXT, action TEXT,
  src_ip TEXT, dst_ip TEXT, observer TEXT, cid TEXT, doc TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS alerts (
  id TEXT PRIMARY KEY, ts INTEGER NOT NULL, org TEXT, rule_id TEXT, severity INTEGER,
  src_ip TEXT, dst_ip TEXT, doc TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS alert_techniques (
  alert_id TEXT NOT NULL, technique TEXT NOT NULL, ts INTEGER NOT NULL, org TEXT, rule_id TEXT,
  severity INTEGER, PRIMARY KEY (alert_id, technique)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS alert_rollup (
  org TEXT NOT NULL, kind TEXT NOT NULL, key NOT NULL, n INTEGER NOT NULL, PRIMARY KEY (org, kind, key)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS assets (
  doc_id TEXT PRIMARY KEY, org TEXT, asset_id TEXT, ip TEXT, zone TEXT, vendor TEXT, doc TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS events_ts ON events(ts, id);
CREATE INDEX IF NOT EXISTS events_org_ts ON events(org, ts, id);
CREATE INDEX IF NOT EXISTS events_dataset ON events(dataset, action);
CREATE INDEX IF NOT EXISTS events_src ON events(src_ip);
CREATE INDEX IF NOT EXISTS events_dst ON events(dst_ip);
CREATE INDEX IF NOT EXISTS events_cid ON events(cid);
CREATE INDEX IF NOT EXISTS alerts_ts ON alerts(ts, id, org, severity, rule_id);
CREATE INDEX IF NOT EXISTS alerts_org_ts ON alerts(org, ts, id, severity, rule_id);
CREATE INDEX IF NOT EXISTS alerts_org_rule ON alerts(org, rule_id, ts, id, severity);
CREATE INDEX IF NOT EXISTS alerts_org_severity ON alerts(org, severity, ts, id, rule_id);
CREATE INDEX IF NOT EXISTS alert_techniques_ts ON alert_techniques(technique, ts, alert_id, org, severity, rule_id);
CREATE INDEX IF NOT EXISTS alert_techniques_org ON alert_techniques(org, technique, ts, alert_id, severity, rule_id);
CREATE INDEX IF NOT EXISTS assets_org ON assets(org, asset_id);
CREATE INDEX IF NOT EXISTS assets_ip ON assets(ip);
"""

def _rollup_keys(row: str) -> list[tuple[str, str, str]]:
    """(kind, key, condition) of the rollup rows an alert (``NEW`` or ``OLD`` in a trigger) counts in."""
    return [("all", "''", "1"), ("rule", f"{row}.rule_id", f"{row}.rule_id IS NOT NULL"),
            ("severity", f"{row}.severity", f"{row}.severity IS NOT NULL"),
            ("day", f"{row}.ts / {DAY_US}", f"{row}.ts > {UNDATED}")]


def _add(row: str) -> str:
    org = f"coalesce({row}.org, '{NO_ORG}')"
    union = " UNION ALL ".join(f"SELECT {org}, '{kind}', {key} WHERE {cond}" for kind, key, cond in _rollup_keys(row))
    return f"INSERT INTO alert_rollup SELECT *, 1 FROM ({union}) WHERE true ON CONFLICT DO UPDATE SET n = n + 1;"


def _sub(row: str) -> str:
    """One statement per row, each a primary key look-up (a row-value IN would scan the table)."""
    org = f"coalesce({row}.org, '{NO_ORG}')"
    return "\n  ".join(f"UPDATE alert_rollup SET n = n - 1 WHERE org = {org} AND kind = '{kind}' AND key = {key} "
                       f"AND {cond};" for kind, key, cond in _rollup_keys(row))


TRIGGERS = f"""
CREATE TRIGGER IF NOT EXISTS alerts_rollup_insert AFTER INSERT ON alerts BEGIN
  {_add('NEW')}
END;
CREATE TRIGGER IF NOT EXISTS alerts_rollup_delete AFTER DELETE ON alerts BEGIN
  {_sub('OLD')}
END;
CREATE TRIGGER IF NOT EXISTS alerts_rollup_update AFTER UPDATE OF org, rule_id, severity, ts ON alerts
WHEN OLD.org IS NOT NEW.org OR OLD.rule_id IS NOT NEW.rule_id OR OLD.severity IS NOT NEW.severity
  OR OLD.ts / {DAY_US} IS NOT NEW.ts / {DAY_US} OR (OLD.ts > {UNDATED}) IS NOT (NEW.ts > {UNDATED}) BEGIN
  {_sub('OLD')}
  {_add('NEW')}
END;
CREATE TRIGGER IF NOT EXISTS alert_techniques_rollup_insert AFTER INSERT ON alert_techniques BEGIN
  INSERT INTO alert_rollup VALUES (coalesce(NEW.org, '{NO_ORG}'), 'technique', NEW.technique, 1)
  ON CONFLICT DO UPDATE SET n = n + 1;
END;
CREATE TRIGGER IF NOT EXISTS alert_techniques_rollup_delete AFTER DELETE ON alert_techniques BEGIN
  UPDATE alert_rollup SET n = n - 1 WHERE org = coalesce(OLD.org, '{NO_ORG}') AND kind = 'technique'
  AND key = OLD.technique;
END;
"""
#: conditions selecting the per-tenant totals in ``alert_rollup``
TENANT_TOTALS = ("kind = 'all'", "key = ''", "n > 0")
ALERT_UPSERT = (
    "INSERT INTO alerts VALUES (?,?,?,?,?,?,?,?) ON CONFLICT(id) DO UPDATE SET ts = excluded.ts, "
    "org = excluded.org, rule_id = excluded.rule_id, severity = excluded.severity, src_ip = excluded.src_ip, "
    "dst_ip = excluded.dst_ip, doc = excluded.doc"
)
#: version 0's indexes (their names are taken again by SCHEMA)
_V0_INDEXES = ("events_ts", "events_org_ts", "events_dataset", "events_src", "events_dst", "events_cid",
               "alerts_ts", "alerts_org_ts", "alerts_rule")
_V0_COPY = (
    f"INSERT INTO events SELECT id, coalesce(ts, {UNDATED}), org, dataset, action, src_ip, dst_ip, observer, cid, doc "
    "FROM events_v0",
    f"INSERT INTO alerts SELECT id, coalesce(ts, {UNDATED}), org, rule_id, severity, src_ip, dst_ip, doc FROM alerts_v0",
    "DROP TABLE events_v0",
    "DROP TABLE alerts_v0",
    # techniques as nested (threat.technique.id) or dotted keys, a list or one string
    "INSERT OR IGNORE INTO alert_techniques SELECT a.id, t.value, a.ts, a.org, a.rule_id, a.severity FROM alerts a, "
    "json_each(a.doc, CASE WHEN json_type(a.doc, '$.threat.technique.id') IS NOT NULL THEN '$.threat.technique.id' "
    "ELSE '$.\"threat.technique.id\"' END) t WHERE t.type = 'text'",
    "INSERT INTO alert_rollup SELECT org, kind, key, COUNT(*) FROM ("
    f"SELECT coalesce(org, '{NO_ORG}') org, 'all' kind, '' key FROM alerts UNION ALL "
    f"SELECT coalesce(org, '{NO_ORG}'), 'rule', rule_id FROM alerts WHERE rule_id IS NOT NULL UNION ALL "
    f"SELECT coalesce(org, '{NO_ORG}'), 'severity', severity FROM alerts WHERE severity IS NOT NULL UNION ALL "
    f"SELECT coalesce(org, '{NO_ORG}'), 'day', ts / {DAY_US} FROM alerts WHERE ts > {UNDATED} UNION ALL "
    f"SELECT coalesce(org, '{NO_ORG}'), 'technique', technique FROM alert_techniques) GROUP BY org, kind, key",
)


def statements(script: str) -> list[str]:
    """The statements of a script (triggers kept whole), to run one by one in a transaction."""
    out, current = [], ""
    for line in script.strip().splitlines():
        current += line + "\n"
        if sqlite3.complete_statement(current):
            out.append(current.strip())
            current = ""
    return out


def setup(db: sqlite3.Connection) -> None:
    """Create the schema, or migrate a version 0 file, in one transaction (one process at a time)."""
    db.execute("BEGIN IMMEDIATE")
    try:
        version = db.execute("PRAGMA user_version").fetchone()[0]
        if version < VERSION:
            migrate = db.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'alerts'").fetchone()
            if migrate:
                for name in _V0_INDEXES:
                    db.execute(f"DROP INDEX IF EXISTS {name}")
                db.execute("ALTER TABLE events RENAME TO events_v0")
                db.execute("ALTER TABLE alerts RENAME TO alerts_v0")
            for statement in statements(SCHEMA):
                db.execute(statement)
            for statement in _V0_COPY if migrate else ():
                db.execute(statement)
            for statement in statements(TRIGGERS):
                db.execute(statement)
            db.execute(f"PRAGMA user_version = {VERSION}")
    except BaseException:
        db.execute("ROLLBACK")
        raise
    db.execute("COMMIT")


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


def connect(path: str, readonly: bool) -> sqlite3.Connection:
    """A connection in autocommit mode (transactions are explicit), usable from any thread
    (callers hand it to one thread at a time)."""
    conn = sqlite3.connect(path, check_same_thread=False, isolation_level=None, timeout=30)
    conn.execute("PRAGMA synchronous=NORMAL")
    conn.execute("PRAGMA mmap_size=268435456")
    if readonly:
        conn.execute("PRAGMA query_only=ON")
    else:  # index pages stay in memory across batches
        conn.execute("PRAGMA cache_size=-32768")
    conn.create_function("ip_in", 2, _ip_in, deterministic=True)
    return conn


class Connections:
    """One writer (under a lock) and a bounded pool of read-only connections; ``:memory:``
    has the writer only. Planner statistics are sampled when missing and again each time the
    rows written since the last sample outnumber the rows then."""

    def __init__(self, path: str, readers: int) -> None:
        self.memory = path == ":memory:"
        if not self.memory:
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        self.lock = threading.Lock()
        self._pool: queue.LifoQueue[sqlite3.Connection] = queue.LifoQueue()
        self._readers: list[sqlite3.Connection] = []
        self._written = 0
        self.db = connect(path, readonly=False)
        try:
            self.db.execute("PRAGMA journal_mode=WAL")
            setup(self.db)
            self._sampled = self._rows_ever()
            if self.db.execute("SELECT 1 FROM sqlite_master WHERE name = 'sqlite_stat1'").fetchone() is None:
                self._analyze()
            for _ in range(0 if self.memory else max(1, readers)):
                self._readers.append(connect(path, readonly=True))
                self._pool.put(self._readers[-1])
        except BaseException:
            self.close()
            raise

    def _rows_ever(self) -> int:
        """Rows inserted in the big tables, near enough (their largest rowids): O(log n)."""
        return sum(self.db.execute(f"SELECT coalesce(MAX(rowid), 0) FROM {t}").fetchone()[0] for t in ("events", "alerts"))

    def _analyze(self) -> None:
        """ANALYZE from a sample of each index: milliseconds whatever the size."""
        self.db.execute("PRAGMA analysis_limit=2000")
        self.db.execute("ANALYZE")
        self._sampled = self._rows_ever()

    @contextmanager
    def read(self) -> Iterator[sqlite3.Connection]:
        """A reader holding one snapshot (read transaction) for the statements run with it."""
        if self.memory:
            with self.lock:
                yield self.db
            return
        conn = self._pool.get()
        try:
            conn.execute("BEGIN")
            try:
                yield conn
            finally:
                conn.execute("COMMIT")
        finally:
            self._pool.put(conn)

    @contextmanager
    def writer(self) -> Iterator[sqlite3.Connection]:
        with self.lock:
            yield self.db

    def write(self, batches: Sequence[tuple[str, Sequence[tuple[Any, ...]]]]) -> int:
        """Run (statement, rows) pairs in one transaction; returns the count of the first's rows."""
        with self.lock:
            self.db.execute("BEGIN")
            try:
                for sql, rows in batches:
                    self.db.executemany(sql, rows)
            except BaseException:
                self.db.execute("ROLLBACK")
                raise
            self.db.execute("COMMIT")
            self._written += len(batches[0][1])
            if self._written > max(10_000, self._sampled):
                self._analyze()
                self._written = 0
        return len(batches[0][1])

    def close(self) -> None:
        with self.lock:
            for conn in [self.db, *self._readers]:
                conn.close()
            self._readers.clear()


def need_ts(ts: str) -> int:
    us = ts_micros(ts)
    if us is None:
        raise ValueError(f"bad time {ts!r} (ISO 8601 expected)")
    return us


class Where:
    """Conditions and their parameters, joined with AND."""

    def __init__(self) -> None:
        self.parts: list[str] = []
        self.args: list[Any] = []

    def add(self, sql: str, *args: Any) -> None:
        self.parts.append(sql)
        self.args.extend(args)

    def sql(self, *extra: str) -> str:
        parts = [*self.parts, *extra]
        return " WHERE " + " AND ".join(parts) if parts else ""

    def time(self, start: str | None, end: str | None) -> None:
        if start is not None:
            self.add("ts >= ?", need_ts(start))
        if end is not None:
            self.add("ts < ?", need_ts(end))
            if start is None:
                self.add("ts > ?", UNDATED)  # a time range holds dated documents only

    def orgs(self, orgs: Sequence[str] | None) -> None:
        if orgs is not None:
            orgs = list(orgs)
            self.add(f"org IN ({','.join('?' * len(orgs))})" if orgs else "0", *orgs)

    def ip(self, cols: tuple[str, ...], ip: str | None) -> None:
        if ip is None:
            return
        test = "ip_in({}, ?)" if "/" in ip else "{} = ?"
        self.add("(" + " OR ".join(test.format(c) for c in cols) + ")", *([ip] * len(cols)))


def tenants_only(q: AlertQuery) -> bool:
    """True when ``alert_rollup`` answers: no filter but tenants (and not the rollup's own key
    for alerts without a tenant, which ``org IN (...)`` never matches)."""
    return (q.start, q.end, q.rule_id, q.technique, q.min_severity, q.ip) == (None,) * 6 and (
        q.organizations is None or NO_ORG not in q.organizations)


def top_counts(rows: Sequence[tuple[Any, ...]], col: int, top: int) -> dict[Any, int]:
    """Counts (the last column) summed by ``row[col]`` (None left out): the ``top`` largest,
    ties in value order."""
    counts: dict[Any, int] = {}
    for row in rows:
        if row[col] is not None:
            counts[row[col]] = counts.get(row[col], 0) + row[-1]
    return dict(sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:top])


def rollup_stats(rows: Sequence[tuple[Any, ...]], step: int, top: int) -> AlertStats:
    """``AlertStats`` from ``(kind, key, alerts)`` rows of ``alert_rollup``. Days fold into
    buckets of ``step`` µs (a whole number of days) as ``(ts / step) * step`` would: SQLite's
    division rounds toward zero."""
    kinds: dict[str, list[tuple[Any, ...]]] = {}
    for row in rows:
        kinds.setdefault(row[0], []).append(row)
    buckets: dict[int, int] = {}
    for _, day, n in kinds.get("day", []):
        us = day * DAY_US
        b = (us // step if us >= 0 else -(-us // step)) * step
        buckets[b] = buckets.get(b, 0) + n
    return AlertStats(
        total=sum(r[-1] for r in kinds.get("all", [])), by_technique=top_counts(kinds.get("technique", []), 1, top),
        by_severity=top_counts(kinds.get("severity", []), 1, top), by_rule=top_counts(kinds.get("rule", []), 1, top),
        over_time=[(iso_from_micros(b), n) for b, n in sorted(buckets.items())],
    )
