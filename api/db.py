"""The platform's own state in SQLite: organizations, users, keys, incidents, advisories,
markings, the audit log, shared STIX objects and the TAXII outbox.

Events, alerts and assets live in the store (``icssa.store``); this database holds what people
and platforms add on top. API processes keep nothing else, so several can share one file
(WAL mode, a connection per thread, ``BEGIN IMMEDIATE`` for writes, one writer at a time
per process).

Times are ISO 8601 UTC strings with microseconds (``now_iso``), which sort as text.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson

SCHEMA = """
PRAGMA journal_mode=WAL;
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS orgs (
  id TEXT PRIMARY KEY, name TEXT NOT NULL, level TEXT NOT NULL, parent TEXT, code TEXT NOT NULL,
  created TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS users (
  id INTEGER PRIMARY KEY, username TEXT NOT NULL UNIQUE, password_hash TEXT, role TEXT NOT NULL,
  org TEXT NOT NULL, full_name TEXT, active INTEGER NOT NULL DEFAULT 1, created TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS user_enterprises (
  user_id INTEGER NOT NULL, org TEXT NOT NULL, PRIMARY KEY (user_id, org));
CREATE TABLE IF NOT EXISTS api_keys (
  id INTEGER PRIMARY KEY, user_id INTEGER NOT NULL, name TEXT NOT NULL, prefix TEXT NOT NULL,
  key_hash TEXT NOT NULL UNIQUE, created TEXT NOT NULL, revoked INTEGER NOT NULL DEFAULT 0);
CREATE TABLE IF NOT EXISTS teams (
  id INTEGER PRIMARY KEY, name TEXT NOT NULL, org TEXT NOT NULL, contact TEXT, created TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS incidents (
  id INTEGER PRIMARY KEY, org TEXT NOT NULL, title TEXT NOT NULL, description TEXT NOT NULL DEFAULT '',
  severity INTEGER NOT NULL, status TEXT NOT NULL, tlp TEXT NOT NULL, team_id INTEGER,
  created_by TEXT NOT NULL, created TEXT NOT NULL, updated TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS incidents_org ON incidents(org, status);
CREATE TABLE IF NOT EXISTS incident_alerts (
  incident_id INTEGER NOT NULL, alert_id TEXT NOT NULL, PRIMARY KEY (incident_id, alert_id));
CREATE TABLE IF NOT EXISTS comments (
  id INTEGER PRIMARY KEY, incident_id INTEGER NOT NULL, author TEXT NOT NULL, body TEXT NOT NULL,
  created TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS advisories (
  id INTEGER PRIMARY KEY, org TEXT NOT NULL, title TEXT NOT NULL, tlp TEXT NOT NULL, doc TEXT NOT NULL,
  published_by TEXT NOT NULL, created TEXT NOT NULL, matched TEXT);
CREATE TABLE IF NOT EXISTS advisory_targets (
  advisory_id INTEGER NOT NULL, org TEXT NOT NULL, assets TEXT NOT NULL,
  acknowledged INTEGER NOT NULL DEFAULT 0, remediation TEXT NOT NULL DEFAULT 'open', note TEXT,
  updated_by TEXT, updated TEXT, PRIMARY KEY (advisory_id, org));
CREATE TABLE IF NOT EXISTS alert_tlp (
  alert_id TEXT PRIMARY KEY, tlp TEXT NOT NULL, set_by TEXT NOT NULL, updated TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS audit (
  id INTEGER PRIMARY KEY, ts TEXT NOT NULL, actor TEXT NOT NULL, actor_org TEXT, action TEXT NOT NULL,
  resource TEXT NOT NULL, resource_id TEXT, orgs TEXT NOT NULL, detail TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS audit_resource ON audit(resource, resource_id);
CREATE TABLE IF NOT EXISTS stix_objects (
  seq INTEGER PRIMARY KEY AUTOINCREMENT, kind TEXT NOT NULL, id TEXT NOT NULL, version TEXT NOT NULL,
  added TEXT NOT NULL, org TEXT NOT NULL DEFAULT '', tlp TEXT, type TEXT NOT NULL, doc TEXT NOT NULL,
  UNIQUE (kind, id, version, org));
CREATE INDEX IF NOT EXISTS stix_kind_org ON stix_objects(kind, org, seq);
CREATE INDEX IF NOT EXISTS stix_kind_id ON stix_objects(kind, id, version, seq);
CREATE TABLE IF NOT EXISTS shared_alerts (alert_id TEXT PRIMARY KEY, version TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS outbox (
  seq INTEGER PRIMARY KEY AUTOINCREMENT, object_id TEXT NOT NULL, version TEXT NOT NULL,
  doc TEXT NOT NULL, tlp TEXT, attempts INTEGER NOT NULL DEFAULT 0, next_try REAL NOT NULL DEFAULT 0,
  lease REAL NOT NULL DEFAULT 0, last_error TEXT, sent TEXT, UNIQUE (object_id, version));
CREATE INDEX IF NOT EXISTS outbox_due ON outbox(sent, next_try);
CREATE TABLE IF NOT EXISTS taxii_status (
  id TEXT PRIMARY KEY, root TEXT NOT NULL, org TEXT, doc TEXT NOT NULL, created TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS workspaces (
  id TEXT PRIMARY KEY, owner TEXT NOT NULL, name TEXT NOT NULL, status TEXT NOT NULL,
  created TEXT NOT NULL, finished TEXT, summary TEXT, error TEXT);
"""


def now_iso(dt: datetime | None = None) -> str:
    """UTC ISO 8601 with microseconds and ``Z`` (sortable as text)."""
    dt = dt or datetime.now(UTC)
    return dt.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def dumps(value: Any) -> str:
    return orjson.dumps(value).decode()


def loads(text: str | bytes | None) -> Any:
    return orjson.loads(text) if text else None


class Database:
    """One SQLite file; a connection per thread (sqlite3 objects are not shared across threads)."""

    def __init__(self, path: str | Path) -> None:
        self.path = str(path)
        if self.path != ":memory:":
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        self._local = threading.local()
        self._lock = threading.Lock()
        # writers of this process queue here: SQLite's own wait for a busy file sleeps 1 to 100 ms
        self._writing = threading.RLock()
        self._conns: list[sqlite3.Connection] = []
        self.conn.executescript(SCHEMA)

    @property
    def conn(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False, timeout=30)
            conn.row_factory = sqlite3.Row
            conn.execute("PRAGMA synchronous=NORMAL")
            conn.execute("PRAGMA busy_timeout=30000")
            self._local.conn = conn
            with self._lock:
                self._conns.append(conn)
        return conn

    @contextmanager
    def _writer(self) -> Iterator[None]:
        """This process's write turn, given up after the same 30 s SQLite waits for a busy file."""
        if not self._writing.acquire(timeout=30):
            raise sqlite3.OperationalError("database is locked (30 s waiting for another writer)")
        try:
            yield
        finally:
            self._writing.release()

    def query(self, sql: str, args: Sequence[Any] = ()) -> list[sqlite3.Row]:
        return self.conn.execute(sql, args).fetchall()

    def one(self, sql: str, args: Sequence[Any] = ()) -> sqlite3.Row | None:
        return self.conn.execute(sql, args).fetchone()

    def scalar(self, sql: str, args: Sequence[Any] = ()) -> Any:
        row = self.conn.execute(sql, args).fetchone()
        return row[0] if row is not None else None

    def execute(self, sql: str, args: Sequence[Any] = ()) -> sqlite3.Cursor:
        """One statement in its own (autocommit) transaction."""
        with self._writer():
            return self.conn.execute(sql, args)

    @contextmanager
    def tx(self) -> Iterator[sqlite3.Connection]:
        """A write transaction (``BEGIN IMMEDIATE``): committed on success, rolled back on error."""
        conn = self.conn
        if conn.in_transaction:  # nested: the outer transaction decides
            yield conn
            return
        with self._writer():
            conn.execute("BEGIN IMMEDIATE")
            try:
                yield conn
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")

    def get_meta(self, key: str) -> str | None:
        return self.scalar("SELECT value FROM meta WHERE key = ?", (key,))

    def set_meta(self, key: str, value: str) -> None:
        self.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", (key, value))

    def bump(self, key: str) -> None:
        """Increment a counter in ``meta`` (e.g. ``orgs_version``: other processes reload)."""
        self.execute(
            "INSERT INTO meta VALUES (?, '1') ON CONFLICT(key) DO UPDATE SET value = CAST(value AS INTEGER) + 1",
            (key,),
        )

    def audit(
        self,
        actor: str,
        action: str,
        resource: str,
        resource_id: str | None = None,
        *,
        actor_org: str | None = None,
        orgs: Iterable[str] = (),
        detail: Any = None,
    ) -> None:
        """Append to the audit log (who, what, on which tenants' data, with what)."""
        self.execute(
            "INSERT INTO audit (ts, actor, actor_org, action, resource, resource_id, orgs, detail) "
            "VALUES (?,?,?,?,?,?,?,?)",
            (now_iso(), actor, actor_org, action, resource, resource_id, dumps(sorted(set(orgs))), dumps(detail or {})),
        )

    def close(self) -> None:
        with self._lock:
            for conn in self._conns:
                conn.close()
            self._conns.clear()
        self._local = threading.local()
