"""The Elasticsearch 8 store.

Layout (``P`` is the prefix, ``icssa-`` unless the URL says ``?prefix=``):

| index | holds | template |
|---|---|---|
| ``P events-YYYY.MM`` | events, one index a calendar month (UTC) of ``@timestamp`` | ``es_templates/events.json`` |
| ``P alerts`` | alerts | ``es_templates/alerts.json`` |
| ``P assets`` | assets | ``es_templates/assets.json`` |
| ``P deadletter`` | documents Elasticsearch refused, whole, with the reason | ``es_templates/deadletter.json`` |

Lifecycle: events live in monthly indices and ``expire_events`` drops whole months, so
retention never rewrites documents (the same role an ILM delete phase plays; this works on
distributions without the ILM plugin, such as the one scripts/services.sh runs).

Bulk writes are NDJSON built here (events from the bus pass through as the bytes they
arrived as). Items refused for load (429, 5xx) and transport failures are retried with
exponential backoff; items refused for their content (other 4xx) go to the dead-letter
index and are counted in ``stats``, so one bad document never blocks a batch. When retries
run out, ``StoreError`` is raised and nothing is acknowledged: the caller retries the batch.
"""

from __future__ import annotations

import json
import logging
import time
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import orjson
from elasticsearch import ApiError, Elasticsearch, TransportError, helpers

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
)

log = logging.getLogger("icssa.store.es")
TEMPLATES = Path(__file__).with_name("es_templates")
RETRYABLE = frozenset({429, 500, 502, 503, 504})
#: bulk request size (Elasticsearch refuses bodies over http.max_content_length, 100 MB)
MAX_BULK_BYTES = 8 << 20


class ElasticStore(Store):
    def __init__(
        self,
        url: str,
        *,
        prefix: str | None = None,
        max_retries: int = 8,
        backoff: float = 0.5,
        max_backoff: float = 10.0,
        refresh: bool | str = False,
        request_timeout: float = 30.0,
    ) -> None:
        parts = urlsplit(url)
        query = parse_qs(parts.query)
        self.prefix = prefix or query.get("prefix", ["icssa-"])[0]
        self.url = f"{parts.scheme}://{parts.netloc}"
        self.max_retries = max_retries
        self.backoff = backoff
        self.max_backoff = max_backoff
        self.write_refresh = refresh
        self.stats: Counter[str] = Counter()
        self.es = Elasticsearch(self.url, request_timeout=request_timeout, retry_on_timeout=True, max_retries=2)
        self.events_pattern = f"{self.prefix}events-*"
        self.alerts_index = f"{self.prefix}alerts"
        self.assets_index = f"{self.prefix}assets"
        self.dead_index = f"{self.prefix}deadletter"
        self._retry(self._install, "install templates")

    def _index(self, kind: Kind) -> str:
        return {"events": self.events_pattern, "alerts": self.alerts_index, "assets": self.assets_index}[kind]

    def _install(self) -> None:
        for name in ("events", "alerts", "assets", "deadletter"):
            body = json.loads((TEMPLATES / f"{name}.json").read_text())
            body.pop("_comment", None)
            body["index_patterns"] = [p.replace("{prefix}", self.prefix) for p in body["index_patterns"]]
            self.es.indices.put_index_template(name=f"{self.prefix}{name}", **body)
        # indices are created by the first write that needs them; reads ignore missing ones

    # -- retries ---------------------------------------------------------------------------
    def _retry(self, fn: Any, what: str) -> Any:
        delay = self.backoff
        for attempt in range(self.max_retries + 1):
            try:
                return fn()
            except (TransportError, ApiError) as exc:
                status = getattr(exc, "status_code", None) or getattr(exc, "status", None)
                if isinstance(exc, ApiError) and status not in RETRYABLE:
                    raise StoreError(f"{self.url}: {what}: {exc}") from exc
                if attempt == self.max_retries:
                    raise StoreError(f"{self.url}: {what} failed after {attempt + 1} tries: {exc}") from exc
                self.stats["retries"] += 1
                log.warning("%s: %s failed (%s); retry in %.1f s", self.url, what, exc, delay)
                time.sleep(delay)
                delay = min(delay * 2, self.max_backoff)
        raise AssertionError("unreachable")

    # -- writes ----------------------------------------------------------------------------
    def _bulk(self, kind: str, items: list[tuple[str, str, bytes]]) -> int:
        """items: (index, id, document JSON), sent in requests of at most MAX_BULK_BYTES.
        Returns the number stored."""
        stored = 0
        start, size = 0, 0
        for i, (_, _, doc) in enumerate(items):
            if size and size + len(doc) > MAX_BULK_BYTES:
                stored += self._bulk_request(kind, items[start:i])
                start, size = i, 0
            size += len(doc) + 100
        return stored + self._bulk_request(kind, items[start:])

    def _bulk_request(self, kind: str, items: list[tuple[str, str, bytes]]) -> int:
        pending = items
        delay = self.backoff
        stored = 0
        for attempt in range(self.max_retries + 1):
            body = bytearray()
            for index, doc_id, doc in pending:
                body += orjson.dumps({"index": {"_index": index, "_id": doc_id}})
                body += b"\n"
                body += doc
                body += b"\n"
            resp = self._retry(
                lambda b=bytes(body): self.es.bulk(operations=b, refresh=self.write_refresh),  # type: ignore[arg-type]
                f"bulk {kind}",
            )
            if not resp.get("errors"):
                return stored + len(pending)
            again: list[tuple[str, str, bytes]] = []
            refused: list[tuple[str, str, bytes, str]] = []
            for item, res in zip(pending, resp["items"], strict=True):
                st = res["index"].get("status", 500)
                if st < 300:
                    stored += 1
                elif st in RETRYABLE:
                    again.append(item)
                else:
                    refused.append((*item, json.dumps(res["index"].get("error"))[:2000]))
            if refused:
                self._dead_letter(kind, refused)
            if not again:
                return stored
            if attempt == self.max_retries:
                break
            self.stats["item_retries"] += len(again)
            time.sleep(delay)
            delay = min(delay * 2, self.max_backoff)
            pending = again
        raise StoreError(f"{self.url}: bulk {kind}: {len(pending)} documents still refused after retries")

    def _dead_letter(self, kind: str, refused: list[tuple[str, str, bytes, str]]) -> None:
        now = datetime.now(UTC).isoformat()
        body = bytearray()
        for _index, doc_id, doc, reason in refused:
            log.warning("%s %s refused: %s", kind, doc_id, reason[:300])
            body += orjson.dumps({"index": {"_index": self.dead_index, "_id": f"{kind}/{doc_id}"}}) + b"\n"
            body += orjson.dumps({"@timestamp": now, "kind": kind, "id": doc_id, "reason": reason}).rstrip(b"}")
            body += b',"doc":' + doc + b"}\n"
        self._retry(lambda: self.es.bulk(operations=bytes(body)), "bulk dead letters")  # type: ignore[arg-type]
        self.stats[f"dead_letter_{kind}"] += len(refused)

    def _event_index(self, ts: Any) -> str:
        ym = month_start(ts) if isinstance(ts, str) else None
        return f"{self.prefix}events-{ym[0]:04d}.{ym[1]:02d}" if ym else f"{self.prefix}events-undated"

    def put_events(self, events: Iterable[Doc]) -> int:
        items = [(self._event_index(get(e, "@timestamp")), event_id(e), orjson.dumps(e)) for e in events]
        return self._bulk("events", items) if items else 0

    def put_raw_events(self, raw: Sequence[bytes]) -> int:
        items = []
        for r in raw:
            e = orjson.loads(r)
            items.append((self._event_index(get(e, "@timestamp")), event_id(e), r))
        return self._bulk("events", items) if items else 0

    def put_alerts(self, alerts: Iterable[Doc]) -> int:
        items = [(self.alerts_index, event_id(a), orjson.dumps(a)) for a in alerts]
        return self._bulk("alerts", items) if items else 0

    def put_assets(self, assets: Iterable[Doc]) -> int:
        items = [(self.assets_index, asset_doc_id(a), orjson.dumps(a)) for a in assets]
        return self._bulk("assets", items) if items else 0

    def delete_assets(self, doc_ids: Iterable[str]) -> int:
        body = b"".join(
            orjson.dumps({"delete": {"_index": self.assets_index, "_id": d}}) + b"\n" for d in doc_ids
        )
        if not body:
            return 0
        resp = self._retry(
            lambda: self.es.bulk(operations=body, refresh=self.write_refresh),  # type: ignore[arg-type]
            "bulk delete assets",
        )
        return sum(1 for item in resp["items"] if item["delete"].get("result") == "deleted")

    def refresh(self) -> None:
        self._retry(
            lambda: self.es.indices.refresh(index=f"{self.prefix}*", allow_no_indices=True), "refresh"
        )

    # -- queries ---------------------------------------------------------------------------
    @staticmethod
    def _time(filters: list[dict[str, Any]], start: str | None, end: str | None) -> None:
        rng: dict[str, Any] = {}
        if start is not None:
            rng["gte"] = start
        if end is not None:
            rng["lt"] = end
        if rng:
            filters.append({"range": {"@timestamp": rng}})

    @staticmethod
    def _terms(filters: list[dict[str, Any]], name: str, values: Sequence[str] | None) -> None:
        if values is not None:
            filters.append({"terms": {name: list(values)}})

    @staticmethod
    def _ip(filters: list[dict[str, Any]], fields: tuple[str, ...], ip: str | None) -> None:
        if ip is not None:
            filters.append({"bool": {"should": [{"term": {f: ip}} for f in fields], "minimum_should_match": 1}})

    def _event_query(self, q: EventQuery) -> dict[str, Any]:
        f: list[dict[str, Any]] = []
        self._time(f, q.start, q.end)
        self._terms(f, "organization.id", q.organizations)
        for name, value in (
            ("event.dataset", q.dataset), ("event.action", q.action), ("observer.name", q.observer),
            ("network.community_id", q.community_id),
        ):
            if value is not None:
                f.append({"term": {name: value}})
        self._ip(f, ("source.ip", "destination.ip"), q.ip)
        return {"bool": {"filter": f}}

    def _alert_query(self, q: AlertQuery) -> dict[str, Any]:
        f: list[dict[str, Any]] = []
        self._time(f, q.start, q.end)
        self._terms(f, "organization.id", q.organizations)
        if q.rule_id is not None:
            f.append({"term": {"rule.id": q.rule_id}})
        if q.technique is not None:
            f.append({"term": {"threat.technique.id": q.technique}})
        if q.min_severity is not None:
            f.append({"range": {"event.severity": {"gte": q.min_severity}}})
        self._ip(f, ("source.ip", "destination.ip"), q.ip)
        return {"bool": {"filter": f}}

    def _asset_query(self, q: AssetQuery) -> dict[str, Any]:
        f: list[dict[str, Any]] = []
        self._terms(f, "organization.id", q.organizations)
        for name, value in (("roles", q.role), ("protocols", q.protocol), ("zone", q.zone), ("vendor", q.vendor)):
            if value is not None:
                f.append({"term": {name: value}})
        self._ip(f, ("ip", "ips"), q.ip)
        return {"bool": {"filter": f}}

    def _page(self, index: str, query: dict[str, Any], sort: list[Any], size: int, cursor: str | None) -> Page:
        kw: dict[str, Any] = {"index": index, "query": query, "sort": sort, "size": size + 1, "track_total_hits": True}
        if cursor is not None:
            kw["search_after"] = decode_cursor(cursor)
        resp = self._retry(lambda: self.es.search(**kw, allow_no_indices=True, ignore_unavailable=True), "search")
        hits = resp["hits"]["hits"]
        more = len(hits) > size
        hits = hits[:size]
        return Page(
            [h["_source"] for h in hits], resp["hits"]["total"]["value"], encode_cursor(hits[-1]["sort"]) if more else None
        )

    _TIMELINE = [{"@timestamp": {"order": "desc", "missing": "_last"}}, {"event.id": {"order": "desc"}}]

    def search_events(self, q: EventQuery, size: int = 100, cursor: str | None = None) -> Page:
        return self._page(self.events_pattern, self._event_query(q), self._TIMELINE, size, cursor)

    def search_alerts(self, q: AlertQuery, size: int = 100, cursor: str | None = None) -> Page:
        return self._page(self.alerts_index, self._alert_query(q), self._TIMELINE, size, cursor)

    def search_assets(self, q: AssetQuery, size: int = 100, cursor: str | None = None) -> Page:
        sort = [{"organization.id": {"order": "asc"}}, {"id": {"order": "asc"}}]
        return self._page(self.assets_index, self._asset_query(q), sort, size, cursor)

    def _count(self, index: str, query: dict[str, Any]) -> int:
        resp = self._retry(
            lambda: self.es.count(index=index, query=query, allow_no_indices=True, ignore_unavailable=True), "count"
        )
        return int(resp["count"])

    def count_events(self, q: EventQuery) -> int:
        return self._count(self.events_pattern, self._event_query(q))

    def count_alerts(self, q: AlertQuery) -> int:
        return self._count(self.alerts_index, self._alert_query(q))

    def count_assets(self, q: AssetQuery) -> int:
        return self._count(self.assets_index, self._asset_query(q))

    def _aggs(self, index: str, query: dict[str, Any], aggs: dict[str, Any]) -> dict[str, Any]:
        resp = self._retry(
            lambda: self.es.search(
                index=index, query=query, aggs=aggs, size=0, track_total_hits=True,
                allow_no_indices=True, ignore_unavailable=True,
            ),
            "aggregate",
        )
        return {"total": resp["hits"]["total"]["value"], **resp.get("aggregations", {})}

    @staticmethod
    def _buckets(agg: dict[str, Any] | None) -> dict[Any, int]:
        return {b["key"]: b["doc_count"] for b in (agg or {}).get("buckets", [])}

    def event_stats(self, q: EventQuery, top: int = 100) -> EventStats:
        r = self._aggs(self.events_pattern, self._event_query(q), {
            "ds": {"terms": {"field": "event.dataset", "size": top}},
            "act": {"terms": {"field": "event.action", "size": top}},
        })
        return EventStats(r["total"], self._buckets(r.get("ds")), self._buckets(r.get("act")))

    def alert_stats(self, q: AlertQuery, interval_seconds: int = 3600, top: int = 100) -> AlertStats:
        r = self._aggs(self.alerts_index, self._alert_query(q), {
            "tech": {"terms": {"field": "threat.technique.id", "size": top}},
            "sev": {"terms": {"field": "event.severity", "size": top}},
            "rule": {"terms": {"field": "rule.id", "size": top}},
            "time": {"date_histogram": {"field": "@timestamp", "fixed_interval": f"{int(interval_seconds)}s",
                                        "min_doc_count": 1}},
        })
        over = [(iso_from_micros(int(b["key"]) * 1000), b["doc_count"]) for b in r.get("time", {}).get("buckets", [])]
        return AlertStats(
            r["total"], self._buckets(r.get("tech")), {int(k): n for k, n in self._buckets(r.get("sev")).items()},
            self._buckets(r.get("rule")), over,
        )

    # -- reads by id -----------------------------------------------------------------------
    def get(self, kind: Kind, doc_id: str) -> Doc | None:
        resp = self._retry(
            lambda: self.es.search(
                index=self._index(kind), query={"ids": {"values": [doc_id]}}, size=1,
                allow_no_indices=True, ignore_unavailable=True,
            ),
            "get",
        )
        hits = resp["hits"]["hits"]
        return hits[0]["_source"] if hits else None

    def iter_ids(self, kind: Kind) -> Iterator[str]:
        for hit in helpers.scan(
            self.es, index=self._index(kind), query={"query": {"match_all": {}}}, _source=False, size=2000,
            allow_no_indices=True, ignore_unavailable=True,
        ):
            yield hit["_id"]

    # -- lifecycle -------------------------------------------------------------------------
    def _indices(self, pattern: str) -> list[str]:
        resp = self._retry(
            lambda: self.es.indices.get(index=pattern, allow_no_indices=True, ignore_unavailable=True,
                                        expand_wildcards="open,closed"),
            "list indices",
        )
        return sorted(resp.keys())

    def expire_events(self, before: str) -> int:
        ym = month_start(before)
        if ym is None:
            raise ValueError(f"bad time {before!r} (ISO 8601 expected)")
        cutoff = f"{self.prefix}events-{ym[0]:04d}.{ym[1]:02d}"
        old = [i for i in self._indices(self.events_pattern) if i[-7:].replace(".", "").isdigit() and i < cutoff]
        gone = 0
        for index in old:
            gone += self._count(index, {"match_all": {}})
            self._retry(lambda i=index: self.es.indices.delete(index=i), "delete index")
        return gone

    def drop(self) -> None:
        names = self._indices(f"{self.prefix}*")
        for i in range(0, len(names), 50):
            chunk = ",".join(names[i : i + 50])
            self._retry(lambda c=chunk: self.es.indices.delete(index=c, ignore_unavailable=True), "delete indices")
        self._retry(self._install, "install templates")

    def delete_templates(self) -> None:
        """Remove this prefix's index templates (after ``drop``, to leave no trace)."""
        for name in ("events", "alerts", "assets", "deadletter"):
            self.es.options(ignore_status=404).indices.delete_index_template(name=f"{self.prefix}{name}")

    def close(self) -> None:
        self.es.close()
