"""The store: where events, alerts and assets rest and what the API asks of them.

Two engines implement ``Store`` and pass the same test suite (tests/test_store.py):
``sqlite:///PATH`` (embedded default, ``store_sqlite``) and ``http://HOST:9200``
(Elasticsearch 8, ``store_es``). ``open_store(url)`` picks one.

Writes are idempotent upserts keyed by deterministic ids, so a consumer that replays a batch
after a crash leaves no duplicates:

| kind | document id |
|---|---|
| event | ``event.id`` |
| alert | ``event.id`` of the alert |
| asset | ``organization.id`` + ``/`` + the asset map's ``id`` (assets are per tenant) |

Reads: filtered searches with cursor pagination (events and alerts newest first, ties broken
by id; assets by tenant and id), counts, and alert aggregations by technique, severity, rule
and time. Times are ISO 8601 strings; ``start`` is inclusive, ``end`` exclusive. ``ip`` matches
source or destination (or an asset's addresses) and may be a CIDR block. ``organizations``
limits results to those tenants (the API passes the subtree a user may see); ``None`` means all.
"""

from __future__ import annotations

import base64
from abc import ABC, abstractmethod
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from types import TracebackType
from typing import Any, Literal

import orjson

Doc = dict[str, Any]
Kind = Literal["events", "alerts", "assets"]
KINDS: tuple[Kind, ...] = ("events", "alerts", "assets")


class StoreError(Exception):
    """The store cannot be opened or a write could not be completed after retries."""


@dataclass(frozen=True)
class EventQuery:
    start: str | None = None
    end: str | None = None
    organizations: Sequence[str] | None = None
    dataset: str | None = None
    action: str | None = None
    ip: str | None = None
    observer: str | None = None
    community_id: str | None = None


@dataclass(frozen=True)
class AlertQuery:
    start: str | None = None
    end: str | None = None
    organizations: Sequence[str] | None = None
    rule_id: str | None = None
    technique: str | None = None
    min_severity: int | None = None
    ip: str | None = None


@dataclass(frozen=True)
class AssetQuery:
    organizations: Sequence[str] | None = None
    ip: str | None = None
    role: str | None = None
    protocol: str | None = None
    zone: str | None = None
    vendor: str | None = None


@dataclass
class Page:
    """One page of results; pass ``cursor`` back for the next (None: this was the last)."""

    items: list[Doc]
    total: int
    cursor: str | None = None


@dataclass
class AlertStats:
    total: int = 0
    by_technique: dict[str, int] = field(default_factory=dict)
    by_severity: dict[int, int] = field(default_factory=dict)
    by_rule: dict[str, int] = field(default_factory=dict)
    #: (bucket start as ISO 8601, alerts) for non-empty buckets, oldest first
    over_time: list[tuple[str, int]] = field(default_factory=list)


@dataclass
class EventStats:
    total: int = 0
    by_dataset: dict[str, int] = field(default_factory=dict)
    by_action: dict[str, int] = field(default_factory=dict)


class Store(ABC):
    """Bulk idempotent writes and the queries the API needs (see the module docstring)."""

    # -- writes ----------------------------------------------------------------------------
    @abstractmethod
    def put_events(self, events: Iterable[Doc]) -> int:
        """Upsert events by ``event.id``; returns how many were written."""

    def put_raw_events(self, raw: Sequence[bytes]) -> int:
        """Upsert events given as their JSON encoding (as they travel on the bus)."""
        return self.put_events([orjson.loads(r) for r in raw])

    @abstractmethod
    def put_alerts(self, alerts: Iterable[Doc]) -> int:
        """Upsert alerts by their ``event.id``."""

    @abstractmethod
    def put_assets(self, assets: Iterable[Doc]) -> int:
        """Upsert assets by ``asset_doc_id`` (each needs ``id`` and ``organization.id``)."""

    @abstractmethod
    def delete_assets(self, doc_ids: Iterable[str]) -> int:
        """Remove assets by ``asset_doc_id`` (the asset map merged or evicted them)."""

    @abstractmethod
    def refresh(self) -> None:
        """Make everything written so far visible to searches."""

    # -- reads -----------------------------------------------------------------------------
    @abstractmethod
    def get(self, kind: Kind, doc_id: str) -> Doc | None: ...

    @abstractmethod
    def search_events(self, q: EventQuery, size: int = 100, cursor: str | None = None) -> Page: ...

    @abstractmethod
    def search_alerts(self, q: AlertQuery, size: int = 100, cursor: str | None = None) -> Page: ...

    @abstractmethod
    def search_assets(self, q: AssetQuery, size: int = 100, cursor: str | None = None) -> Page: ...

    @abstractmethod
    def count_events(self, q: EventQuery) -> int: ...

    @abstractmethod
    def count_alerts(self, q: AlertQuery) -> int: ...

    @abstractmethod
    def count_alerts_by_org(self, q: AlertQuery) -> dict[str, int]:
        """Alerts matching ``q`` per organization id (organizations with none are left out)."""

    @abstractmethod
    def count_assets(self, q: AssetQuery) -> int: ...

    @abstractmethod
    def event_stats(self, q: EventQuery, top: int = 100) -> EventStats: ...

    @abstractmethod
    def alert_stats(self, q: AlertQuery, interval_seconds: int = 3600, top: int = 100) -> AlertStats: ...

    @abstractmethod
    def iter_ids(self, kind: Kind) -> Iterator[str]:
        """Every document id of a kind (for audits and the fault tests), in no set order."""

    # -- lifecycle -------------------------------------------------------------------------
    @abstractmethod
    def expire_events(self, before: str) -> int:
        """Retention: drop events of the calendar months (UTC) wholly before ``before``'s month;
        returns how many events went."""

    @abstractmethod
    def drop(self) -> None:
        """Delete every document and index of this store (tests, resets)."""

    @abstractmethod
    def close(self) -> None: ...

    def __enter__(self) -> Store:
        return self

    def __exit__(
        self, t: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()


# -- helpers shared by the engines -------------------------------------------------------------
def asset_doc_id(asset: Mapping[str, Any]) -> str:
    org = asset.get("organization")
    oid = org.get("id") if isinstance(org, Mapping) else asset.get("organization.id")
    return f"{oid if oid is not None else 'default'}/{asset['id']}"


def event_id(doc: Mapping[str, Any]) -> str:
    ev = doc.get("event")
    eid = ev.get("id") if isinstance(ev, Mapping) else doc.get("event.id")
    if not isinstance(eid, str) or not eid:
        raise ValueError("document without event.id")
    return eid


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def ts_micros(ts: Any) -> int | None:
    """ISO 8601 -> microseconds since the epoch (UTC); None when absent or unreadable."""
    if not isinstance(ts, str) or not ts:
        return None
    try:
        dt = datetime.fromisoformat(ts)
    except ValueError:
        return None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    delta = dt - _EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def iso_from_micros(us: int) -> str:
    sec, frac = divmod(us, 1_000_000)
    return datetime.fromtimestamp(sec, tz=UTC).strftime("%Y-%m-%dT%H:%M:%S") + f".{frac:06d}Z"


def month_start(ts: str) -> tuple[int, int] | None:
    """(year, month) of an ISO timestamp, or None."""
    us = ts_micros(ts)
    if us is None:
        return None
    dt = datetime.fromtimestamp(us // 1_000_000, tz=UTC)
    return dt.year, dt.month


def encode_cursor(values: Sequence[Any]) -> str:
    return base64.urlsafe_b64encode(orjson.dumps(list(values))).decode()


def decode_cursor(cursor: str) -> list[Any]:
    try:
        values = orjson.loads(base64.urlsafe_b64decode(cursor.encode()))
    except (ValueError, orjson.JSONDecodeError) as exc:
        raise ValueError(f"bad cursor {cursor!r}") from exc
    if not isinstance(values, list):
        raise ValueError(f"bad cursor {cursor!r}")
    return values


def open_store(url: str, **options: Any) -> Store:
    """``sqlite:///PATH`` or ``http(s)://HOST:PORT[?prefix=NAME]``.

    SQLite paths follow SQLAlchemy's URLs: ``sqlite:///icssa.db`` is relative to the working
    folder, ``sqlite:////var/lib/icssa/icssa.db`` absolute, ``sqlite:///:memory:`` in memory.
    """
    if url.startswith("sqlite:"):
        from icssa.store_sqlite import SqliteStore

        if not url.startswith("sqlite:///") or len(url) == len("sqlite:///"):
            raise StoreError(f"{url}: expected sqlite:///PATH (sqlite:////ABSOLUTE/PATH)")
        return SqliteStore(url[len("sqlite:///") :], **options)
    if url.startswith(("http://", "https://")):
        from icssa.store_es import ElasticStore

        return ElasticStore(url, **options)
    raise StoreError(f"unknown store {url!r}: use sqlite:///PATH or http://HOST:9200")
