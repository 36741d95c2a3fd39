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

Bulk writes are NDJSON built here. Events from the bus pass through as the bytes they
arrived as, and are not decoded either: an event the sensor encoded starts with its
timestamp and id (``_RAW_HEAD``), which name its index and document id; anything else is
decoded to find them. Only the status and error of each item come back (``filter_path``),
so reading a response costs little next to writing the request. Items refused for load
(429, 5xx) and transport failures are retried with exponential backoff; items refused for
their content (other 4xx) go to the dead-letter index and are counted in ``stats``, so one
bad document never blocks a batch. When retries run out, ``StoreError`` is raised and
nothing is acknowledged: the caller retries the batch.
"""

from __future__ import annotations

import json
import logging
import re
import threading
import time
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor, wait
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import orjson
from elastic_transport import NdjsonSerializer, OrjsonSerializer
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
#: events are sent in up to this many bulk requests at once (Elasticsearch indexes each
#: request on one thread of its write pool, which has a thread per core)
BULK_WORKERS = 2
#: fewer events than this go in one request
MIN_PARALLEL_EVENTS = 1000
#: what a bulk response keeps: per item, its status and (when refused) the error
BULK_FILTER = "errors,items.*.status,items.*.error"
#: the start of an event as the sensor encodes it: a UTC timestamp (a form datetime.fromisoformat
#: reads the same way), then ``event.id`` without escapes; group 1 is the date, group 2 the id
_RAW_HEAD = re.compile(
    rb'\{"@timestamp":"(\d{4}-\d{2}-\d{2})T(?:[01]\d|2[0-3]):[0-5]\d:[0-5]\d(?:\.\d{1,9})?Z",'
    rb'"event":\{"id":"([^"\\\x00-\x1f]+)"'
)
#: distinct dates remembered with their event index (more are forgotten and looked up again)
MAX_DATES = 4096
#: a bulk item: the action line (with its newline) and the document (without)
Item = tuple[bytes, bytes]


def _action(index: str, doc_id: str) -> bytes:
    return orjson.dumps({"index": {"_index": index, "_id": doc_id}}) + b"\n"


class _BulkResponses(OrjsonSerializer):
    """Reads bulk responses: when no item failed, only that fact (``errors`` comes first);
    the item list, a few thousand small objects a request, is decoded only when needed.
    Those objects cost little to make but, alive during a collection, they are promoted
    and bring on full collections of the consumer's large heap."""

    def loads(self, data: bytes) -> Any:
        if data.startswith(b'{"errors":false'):
            return {"errors": False}
        return super().loads(data)


class _BulkBodies(NdjsonSerializer):
    """Sends a bulk body built here as it is (the default copies it twice over)."""

    def dumps(self, data: Any) -> bytes:
        return data if isinstance(data, bytes) else super().dumps(data)


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
        #: searches and everything but bulk writes (responses read by orjson)
        self.es = Elasticsearch(self.url, request_timeout=request_timeout, retry_on_timeout=True, max_retries=2,
                                serializers={"application/json": OrjsonSerializer()})
        self._es_404 = self.es.options(ignore_status=404)  # made once: options() builds a client
        #: bulk writes only (bodies sent by _BulkBodies, responses read by _BulkResponses)
        self._bulk_es = Elasticsearch(
            self.url, request_timeout=request_timeout, retry_on_timeout=True, max_retries=2,
            serializers={"application/json": _BulkResponses(), "application/x-ndjson": _BulkBodies()},
        )
        self.events_pattern = f"{self.prefix}events-*"
        self.alerts_index = f"{self.prefix}alerts"
        self.assets_index = f"{self.prefix}assets"
        self.dead_index = f"{self.prefix}deadletter"
        #: date (YYYY-MM-DD) -> the JSON-quoted name of its events index; None: not a date
        self._date_index: dict[bytes, bytes | None] = {}
        self._pool: ThreadPoolExecutor | None = None
        self._stats_lock = threading.Lock()
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
    def _bulk(self, kind: str, items: list[Item]) -> int:
        """Send items in requests of at most MAX_BULK_BYTES; returns the number stored."""
        stored = 0
        start, size = 0, 0
        for i, (action, doc) in enumerate(items):
            n = len(action) + len(doc) + 1
            if size and size + n > MAX_BULK_BYTES:
                stored += self._bulk_request(kind, items[start:i])
                start, size = i, 0
            size += n
        return stored + self._bulk_request(kind, items[start:])

    def _bulk_request(self, kind: str, items: list[Item]) -> int:
        pending = items
        delay = self.backoff
        stored = 0
        for attempt in range(self.max_retries + 1):
            parts: list[bytes] = []
            for action, doc in pending:
                parts += (action, doc, b"\n")
            body = b"".join(parts)
            resp = self._retry(
                lambda b=body: self._bulk_es.bulk(  # type: ignore[misc]
                    operations=b, refresh=self.write_refresh, filter_path=BULK_FILTER
                ),
                f"bulk {kind}",
            )
            if not resp.get("errors"):
                return stored + len(pending)
            again: list[Item] = []
            refused: list[tuple[bytes, bytes, str]] = []
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
            with self._stats_lock:
                self.stats["item_retries"] += len(again)
            time.sleep(delay)
            delay = min(delay * 2, self.max_backoff)
            pending = again
        raise StoreError(f"{self.url}: bulk {kind}: {len(pending)} documents still refused after retries")

    def _dead_letter(self, kind: str, refused: list[tuple[bytes, bytes, str]]) -> None:
        """Refused documents, whole, with the reason: under ``doc`` when they are JSON, else
        (an event cut short on the way) as text under ``raw``."""
        now = datetime.now(UTC).isoformat()
        body = bytearray()
        for action, doc, reason in refused:
            doc_id = orjson.loads(action)["index"]["_id"]
            log.warning("%s %s refused: %s", kind, doc_id, reason[:300])
            body += orjson.dumps({"index": {"_index": self.dead_index, "_id": f"{kind}/{doc_id}"}}) + b"\n"
            body += orjson.dumps({"@timestamp": now, "kind": kind, "id": doc_id, "reason": reason}).rstrip(b"}")
            try:
                orjson.loads(doc)
            except orjson.JSONDecodeError:
                body += b',"raw":' + orjson.dumps(doc.decode("utf-8", "replace")) + b"}\n"
            else:
                body += b',"doc":' + doc + b"}\n"
        resp = self._retry(lambda: self.es.bulk(operations=bytes(body)), "bulk dead letters")  # type: ignore[arg-type]
        lost = sum(1 for item in resp["items"] if item["index"].get("status", 500) >= 300) if resp.get("errors") else 0
        with self._stats_lock:
            self.stats[f"dead_letter_{kind}"] += len(refused) - lost
            self.stats[f"dead_letter_lost_{kind}"] += lost
        if lost:
            log.error("%d refused %s could not be kept in %s either", lost, kind, self.dead_index)

    def _event_index(self, ts: Any) -> str:
        ym = month_start(ts) if isinstance(ts, str) else None
        return f"{self.prefix}events-{ym[0]:04d}.{ym[1]:02d}" if ym else f"{self.prefix}events-undated"

    def _index_of_date(self, day: bytes) -> bytes | None:
        """The JSON-quoted events index of a UTC date (YYYY-MM-DD); None when it is no date."""
        try:
            return self._date_index[day]
        except KeyError:
            pass
        try:
            d = date.fromisoformat(day.decode())
        except ValueError:
            index = None
        else:
            index = orjson.dumps(f"{self.prefix}events-{d.year:04d}.{d.month:02d}")
        if len(self._date_index) >= MAX_DATES:
            self._date_index.clear()
        self._date_index[day] = index
        return index

    def _raw_item(self, raw: bytes) -> Item:
        """The bulk item of an encoded event: from its head when it has the sensor's form,
        else from the decoded event (ValueError when it has no event.id)."""
        m = _RAW_HEAD.match(raw)
        if m is not None:
            index = self._index_of_date(m.group(1))
            if index is not None:
                return b'{"index":{"_index":' + index + b',"_id":"' + m.group(2) + b'"}}\n', raw
        e = orjson.loads(raw)
        return _action(self._event_index(get(e, "@timestamp")), event_id(e)), raw

    def put_events(self, events: Iterable[Doc]) -> int:
        items = [(_action(self._event_index(get(e, "@timestamp")), event_id(e)), orjson.dumps(e)) for e in events]
        return self._bulk_events(items)

    def put_raw_events(self, raw: Sequence[bytes]) -> int:
        item = self._raw_item
        return self._bulk_events([item(r) for r in raw])

    def _bulk_events(self, items: list[Item]) -> int:
        """Events in up to BULK_WORKERS requests at once. Their order does not matter: an
        event id always stands for the same event. Waits for every request; a failure of
        any raises (after all have finished), and the caller sends the batch again."""
        k = min(BULK_WORKERS, len(items) // MIN_PARALLEL_EVENTS)
        if k <= 1:
            return self._bulk("events", items) if items else 0
        if self._pool is None:
            self._pool = ThreadPoolExecutor(BULK_WORKERS - 1, thread_name_prefix="es-bulk")
        n = len(items)
        chunks = [items[i * n // k : (i + 1) * n // k] for i in range(k)]
        others = [self._pool.submit(self._bulk, "events", c) for c in chunks[1:]]
        try:
            stored = self._bulk("events", chunks[0])
        finally:
            wait(others)
        return stored + sum(f.result() for f in others)

    def put_alerts(self, alerts: Iterable[Doc]) -> int:
        items = [(_action(self.alerts_index, event_id(a)), orjson.dumps(a)) for a in alerts]
        return self._bulk("alerts", items) if items else 0

    def put_assets(self, assets: Iterable[Doc]) -> int:
        items = [(_action(self.assets_index, asset_doc_id(a)), orjson.dumps(a)) for a in assets]
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

    def _search(self, what: str, **kw: Any) -> dict[str, Any]:
        """A search in filter context (no scoring) through the shard request cache: an answer is
        kept until the shard next refreshes with changes, keyed by the whole request (tenancy
        filters included), so it is never staler than an uncached search nor shared across
        tenants. ``filter_path`` trims what comes back to what is read."""
        resp = self._retry(
            lambda: self.es.search(**kw, request_cache=True, allow_no_indices=True, ignore_unavailable=True), what
        )
        return dict(resp)

    def _page(self, index: str, query: dict[str, Any], sort: list[Any], size: int, cursor: str | None) -> Page:
        kw: dict[str, Any] = {"index": index, "query": query, "sort": sort, "size": size + 1, "track_total_hits": True,
                              "filter_path": "hits.total.value,hits.hits._source,hits.hits.sort"}
        if cursor is not None:
            kw["search_after"] = decode_cursor(cursor)
        resp = self._search("search", **kw)
        hits = resp["hits"].get("hits", [])
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
        resp = self._search("count", index=index, query=query, size=0, track_total_hits=True,
                            filter_path="hits.total.value")
        return int(resp["hits"]["total"]["value"])

    def count_events(self, q: EventQuery) -> int:
        return self._count(self.events_pattern, self._event_query(q))

    def count_alerts(self, q: AlertQuery) -> int:
        return self._count(self.alerts_index, self._alert_query(q))

    def count_assets(self, q: AssetQuery) -> int:
        return self._count(self.assets_index, self._asset_query(q))

    def count_alerts_by_org(self, q: AlertQuery) -> dict[str, int]:
        """Alerts per organization (those with none are left out), in one request."""
        orgs = None if q.organizations is None else sorted(set(q.organizations))
        if orgs == []:
            return {}
        terms: dict[str, Any] = {"field": "organization.id", "size": 65_536 if orgs is None else len(orgs)}
        if orgs is not None:
            terms["include"] = orgs
        r = self._aggs(self.alerts_index, self._alert_query(q), {"org": {"terms": terms}})
        return {str(k): n for k, n in self._buckets(r.get("org")).items()}

    def _aggs(self, index: str, query: dict[str, Any], aggs: dict[str, Any]) -> dict[str, Any]:
        resp = self._search("aggregate", index=index, query=query, aggs=aggs, size=0, track_total_hits=True,
                            filter_path="hits.total.value,aggregations")
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
        if kind != "events":  # one index: a real-time GET by id
            resp = self._retry(
                lambda: self._es_404.get(index=self._index(kind), id=doc_id, source=True), "get"
            )
            return resp["_source"] if resp.get("found") else None
        resp = self._search("get", index=self.events_pattern, query={"ids": {"values": [doc_id]}}, size=1,
                            filter_path="hits.hits._source")
        hits = resp.get("hits", {}).get("hits", [])
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
        if self._pool is not None:
            self._pool.shutdown()
        self.es.close()
        self._bulk_es.close()
