"""Sharing: what becomes STIX, where it is served from, what may leave for the parent platform.

Shared objects are materialized in ``stix_objects`` (kind ``alerts``, ``advisories``,
``incidents`` or ``inbox`` for what child platforms pushed to us), each row owned by one
organization (``''``: definitions everyone may read) with a strictly increasing ``added``
time, so TAXII pagination and ``added_after`` are exact and every API process serves the same.

Alerts reach the table two ways: at once when they come in through the API, and by
``sync_alerts`` passes over the store (alerts the correlation engine wrote directly): each pass
reads alerts from the newest ``@timestamp`` seen minus a grace window and publishes those not
yet in ``shared_alerts``.

Upstream policy (``may_go_upstream``): TLP:CLEAR and GREEN go up; AMBER when
``forward_amber``; AMBER+STRICT only when ``forward_amber_strict``; RED never, whatever the
settings. Objects that may go up are queued in the ``outbox`` with the rows (one transaction).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from api import stix
from api.db import Database, dumps, loads, now_iso
from api.settings import Settings
from api.tenancy import Tenancy
from icssa.events import get
from icssa.store import AlertQuery, Store

TLP_LEVELS = stix.TLP_ORDER
_STEP = timedelta(microseconds=1)


def may_go_upstream(tlp: str | None, settings: Settings) -> bool:
    if tlp is None or tlp in ("clear", "green"):
        return True
    if tlp == "amber":
        return settings.forward_amber
    if tlp == "amber+strict":
        return settings.forward_amber_strict
    return False  # red, and anything unknown


def _parse_iso(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


class Sharing:
    def __init__(self, db: Database, store: Store, tenancy: Tenancy, settings: Settings) -> None:
        self.db = db
        self.store = store
        self.tenancy = tenancy
        self.settings = settings

    # -- the table ---------------------------------------------------------------------------
    def publish(self, kind: str, objects: Sequence[Mapping[str, Any]], org: str = "", tlp: str | None = None) -> int:
        """Add objects to a kind's table (new versions only); queue the shareable ones upstream.

        Returns how many rows were new. ``tlp`` None: each object's own marking decides.
        """
        new = 0
        upstream = bool(self.settings.upstream_url)
        with self.db.tx() as conn:
            # seq and added grow together, so the newest row (by rowid) holds the latest time
            last = conn.execute("SELECT added FROM stix_objects ORDER BY seq DESC LIMIT 1").fetchone()
            added = datetime.now(UTC)
            if last is not None and _parse_iso(last[0]) >= added:
                added = _parse_iso(last[0]) + _STEP
            for obj in objects:
                level = tlp if tlp is not None else stix.tlp_of(obj)
                version = stix.version_of(obj)
                text = dumps(obj)
                cur = conn.execute(
                    "INSERT OR IGNORE INTO stix_objects (kind, id, version, added, org, tlp, type, doc) "
                    "VALUES (?,?,?,?,?,?,?,?)",
                    (kind, obj["id"], version, now_iso(added), org, level, obj["type"], text),
                )
                if cur.rowcount:
                    new += 1
                    added += _STEP
                if upstream and may_go_upstream(level, self.settings) and kind != "common":
                    conn.execute(
                        "INSERT OR IGNORE INTO outbox (object_id, version, doc, tlp) VALUES (?,?,?,?)",
                        (obj["id"], version, text, level),
                    )
        return new

    def publish_common(self) -> None:
        """TLP definitions, our identity and extension definition: readable by everyone."""
        name = self.settings.platform_name
        objects = [stix.tlp_marking(level) for level in TLP_LEVELS]
        objects += [stix.platform_identity(name), stix.extension_definition(name)]
        for kind in ("alerts", "advisories", "incidents", "inbox"):
            self.publish(kind, objects, "", None)
        if self.settings.upstream_url:  # the parent needs them to read what we send
            with self.db.tx() as conn:
                for obj in objects:
                    conn.execute(
                        "INSERT OR IGNORE INTO outbox (object_id, version, doc, tlp) VALUES (?,?,?,NULL)",
                        (obj["id"], stix.version_of(obj), dumps(obj)),
                    )

    def org_identity(self, org_id: str) -> dict[str, Any] | None:
        node = self.tenancy.tree.nodes.get(org_id)
        if node is None:
            return None
        return stix.org_identity(node.id, node.name, node.level, node.path, self.settings.platform_name)

    # -- alerts ------------------------------------------------------------------------------
    def alert_tlp(self, alert: Mapping[str, Any], override: str | None = None) -> str:
        if override is None:
            override = self.db.scalar("SELECT tlp FROM alert_tlp WHERE alert_id = ?", (get(alert, "event.id"),))
        if override in TLP_LEVELS:
            return str(override)
        own = get(alert, "marking.tlp")
        if isinstance(own, str) and own.lower() in TLP_LEVELS:
            return own.lower()
        return self.settings.default_tlp

    def publish_alert(self, alert: Mapping[str, Any], tlp: str | None = None) -> int:
        org_id = get(alert, "organization.id")
        node = self.tenancy.tree.nodes.get(org_id) if isinstance(org_id, str) else None
        level = tlp or self.alert_tlp(alert)
        org = (node.id, node.name, node.level, node.path) if node else None
        objects = stix.alert_objects(alert, level, org, self.settings.platform_name)
        ident = self.org_identity(node.id) if node else None
        if ident is not None:
            objects.insert(0, ident)
        new = self.publish("alerts", objects, node.id if node else str(org_id or ""), level)
        self.db.execute(
            "INSERT OR REPLACE INTO shared_alerts VALUES (?, ?)", (str(get(alert, "event.id")), now_iso())
        )
        return new

    def publish_alerts(self, alerts: Iterable[Mapping[str, Any]]) -> int:
        return sum(self.publish_alert(a) for a in alerts)

    def sync_alerts(self, page_size: int = 500) -> int:
        """Publish alerts in the store that are not shared yet (see the module docstring)."""
        mark = self.db.get_meta("alerts_watermark")
        start = None
        if mark:
            start = now_iso(_parse_iso(mark) - timedelta(seconds=self.settings.sync_grace_seconds))
        newest = mark
        published = 0
        cursor: str | None = None
        while True:
            page = self.store.search_alerts(AlertQuery(start=start), size=page_size, cursor=cursor)
            ids = [str(get(a, "event.id")) for a in page.items]
            seen: set[str] = set()
            for i in range(0, len(ids), 500):
                chunk = ids[i : i + 500]
                rows = self.db.query(
                    f"SELECT alert_id FROM shared_alerts WHERE alert_id IN ({','.join('?' * len(chunk))})", chunk
                )
                seen.update(r[0] for r in rows)
            for alert in page.items:
                ts = get(alert, "@timestamp")
                if isinstance(ts, str) and (newest is None or ts > newest):
                    newest = ts
                if str(get(alert, "event.id")) not in seen:
                    self.publish_alert(alert)
                    published += 1
            cursor = page.cursor
            if cursor is None:
                break
        if newest and newest != mark:
            self.db.set_meta("alerts_watermark", newest)
        return published

    def republish_alert(self, alert_id: str, tlp: str) -> int:
        """A new version of an alert's objects after its marking changed (same ids, later modified)."""
        alert = self.store.get("alerts", alert_id)
        if alert is None:
            return 0
        node = self.tenancy.tree.nodes.get(str(get(alert, "organization.id")))
        org = (node.id, node.name, node.level, node.path) if node else None
        objects = stix.alert_objects(alert, tlp, org, self.settings.platform_name)
        stamp = now_iso()
        for obj in objects:
            if "modified" in obj:
                obj["modified"] = max(stamp, obj["modified"])
        return self.publish("alerts", objects, node.id if node else "", tlp)

    # -- received objects ---------------------------------------------------------------------
    def receive(self, objects: Sequence[Mapping[str, Any]], org: str) -> int:
        return self.publish("inbox", objects, org, None)

    def outbox_status(self) -> dict[str, Any]:
        row = self.db.one(
            "SELECT COUNT(*) total, SUM(sent IS NOT NULL) sent, SUM(sent IS NULL) pending, "
            "SUM(sent IS NULL AND attempts > 0) retrying, MAX(attempts) max_attempts FROM outbox"
        )
        assert row is not None  # an aggregate always answers one row
        last = self.db.one("SELECT last_error FROM outbox WHERE last_error IS NOT NULL ORDER BY seq DESC LIMIT 1")
        return {
            "upstream": self.settings.upstream_url,
            "total": row["total"] or 0,
            "sent": row["sent"] or 0,
            "pending": row["pending"] or 0,
            "retrying": row["retrying"] or 0,
            "max_attempts": row["max_attempts"] or 0,
            "last_error": last["last_error"] if last else None,
        }


def stored_objects(db: Database, kind: str, ids: Sequence[str]) -> list[dict[str, Any]]:
    """Latest stored versions of objects by id (any organization)."""
    if not ids:
        return []
    rows = db.query(
        f"SELECT doc FROM stix_objects WHERE kind = ? AND id IN ({','.join('?' * len(ids))}) ORDER BY seq",
        [kind, *ids],
    )
    latest: dict[str, dict[str, Any]] = {}
    for r in rows:
        obj = loads(r["doc"])
        latest[obj["id"]] = obj
    return list(latest.values())
