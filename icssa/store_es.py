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

Writes (bulk NDJSON, retries, dead letters) are ``icssa.es_bulk.BulkIngest``, a mixin of
``ElasticStore``; this module holds the connection, templates, queries and lifecycle.
"""

from __future__ import annotations

import json
import logging
import time
from collections import Counter
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from elastic_transport import OrjsonSerializer
from elasticsearch import ApiError, Elasticsearch, TransportError, helpers

from icssa.es_bulk import RETRYABLE, BulkIngest
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
    decode_cursor,
    encode_cursor,
    iso_from_micros,
    month_start,
)

log = logging.getLogger("icssa.store.es")
TEMPLATES = Path(__file__).with_name("es_templates")
#: query string of every search: the shard request cache, and missing indices are no error
SEARCH_PARAMS = {"request_cache": "true", "allow_no_indices": "true", "ignore_unavailable": "true"}


class ElasticStore(BulkIngest, Store):
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
        self.events_pattern = f"{self.prefix}events-*"
        self.alerts_index = f"{self.prefix}alerts"
        self.assets_index = f"{self.prefix}assets"
        self.dead_index = f"{self.prefix}deadletter"
        self._init_bulk(request_timeout)
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
        tenants. ``filter_path`` trims what comes back to what is read (not for documents: see
        ``_page``)."""
        resp = self._retry(lambda: self.es.search(**kw, **SEARCH_PARAMS), what)  # type: ignore[arg-type]
        return dict(resp)

    def _page(self, index: str, query: dict[str, Any], sort: list[Any], size: int, cursor: str | None) -> Page:
        # no filter_path: filtering makes Elasticsearch re-parse every _source to write it out
        # (twice its CPU for a page of 50), where unfiltered it copies the stored bytes
        kw: dict[str, Any] = {"index": index, "query": query, "sort": sort, "size": size + 1, "track_total_hits": True}
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
            resp = self._retry(lambda: self._es_404.get(index=self._index(kind), id=doc_id, source=True), "get")
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
        self._close_bulk()
        self.es.close()
