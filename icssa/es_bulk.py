"""Writes to Elasticsearch: the bulk path of ``icssa.store_es.ElasticStore`` (a mixin).

Bulk writes are NDJSON built here. Events from the bus pass through as the bytes they
arrived as, and are not decoded either: an event the sensor encoded starts with its
timestamp and id (``_RAW_HEAD``), which name its index and document id; anything else is
decoded to find them. Their bulk bodies are made ``RAW_BLOCK`` events at a time: when every
event of a block has the sensor's form and all are on one date (every block but those that
straddle midnight), by C loops (map, zip, join) with no Python code run per event; other
blocks event by event. Only the status and error of each item come back (``filter_path``),
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
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor, wait
from datetime import UTC, date, datetime
from itertools import chain, repeat
from operator import itemgetter, methodcaller
from typing import Any, TypeVar

import orjson
from elastic_transport import NdjsonSerializer, OrjsonSerializer
from elasticsearch import Elasticsearch

from icssa.events import get
from icssa.store import Doc, StoreError, asset_doc_id, event_id, month_start

log = logging.getLogger("icssa.store.es")
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
#: events as they travel are made into bulk bodies this many at a time (see _raw_block)
RAW_BLOCK = 256
#: a block of events: its part of a bulk body, and the events (to retry them one by one)
Block = tuple[bytes, Sequence[bytes]]
_date_and_id = methodcaller("group", 1, 2)
_first = itemgetter(0)
_second = itemgetter(1)
T = TypeVar("T")


def _requests(things: Sequence[T], size: Callable[[T], int]) -> Iterator[list[T]]:
    """``things`` in order, in runs whose sizes add up to at most MAX_BULK_BYTES (a larger
    one alone): the contents of one bulk request each."""
    group: list[T] = []
    total = 0
    for thing in things:
        n = size(thing)
        if group and total + n > MAX_BULK_BYTES:
            yield group
            group, total = [], 0
        group.append(thing)
        total += n
    if group:
        yield group


def _item_bytes(item: Item) -> int:
    return len(item[0]) + len(item[1]) + 1


def _block_bytes(block: Block) -> int:
    return len(block[0])


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


class BulkIngest:
    """The write half of the Elasticsearch store. The store sets the attributes below and
    calls ``_init_bulk`` from its constructor and ``_close_bulk`` from ``close``."""

    url: str
    prefix: str
    max_retries: int
    backoff: float
    max_backoff: float
    write_refresh: bool | str
    stats: Counter[str]
    es: Elasticsearch
    alerts_index: str
    assets_index: str
    dead_index: str
    _retry: Callable[[Any, str], Any]

    def _init_bulk(self, request_timeout: float) -> None:
        #: bulk writes only (bodies sent by _BulkBodies, responses read by _BulkResponses)
        self._bulk_es = Elasticsearch(
            self.url, request_timeout=request_timeout, retry_on_timeout=True, max_retries=2,
            serializers={"application/json": _BulkResponses(), "application/x-ndjson": _BulkBodies()},
        )
        #: date (YYYY-MM-DD) -> the JSON-quoted name of its events index; None: not a date
        self._date_index: dict[bytes, bytes | None] = {}
        self._pool: ThreadPoolExecutor | None = None
        self._stats_lock = threading.Lock()

    def _close_bulk(self) -> None:
        if self._pool is not None:
            self._pool.shutdown()
        self._bulk_es.close()

    # -- requests --------------------------------------------------------------------------
    def _bulk(self, kind: str, items: list[Item]) -> int:
        """Send items in requests of at most MAX_BULK_BYTES; returns the number stored."""
        return sum(self._bulk_request(kind, group) for group in _requests(items, _item_bytes))

    def _send(self, kind: str, body: bytes) -> Any:
        return self._retry(
            lambda: self._bulk_es.bulk(operations=body, refresh=self.write_refresh, filter_path=BULK_FILTER),  # type: ignore[arg-type]
            f"bulk {kind}",
        )

    def _bulk_request(self, kind: str, items: list[Item], resp: Any = None) -> int:
        """One request of items, retried item by item; ``resp``: the answer to a request of
        exactly these items already sent (then only what it refused is sent again)."""
        pending = items
        delay = self.backoff
        stored = 0
        for attempt in range(self.max_retries + 1):
            if resp is None:
                resp = self._send(kind, b"".join(chain.from_iterable((action, doc, b"\n") for action, doc in pending)))
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
            resp = None
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

    # -- events: index and id --------------------------------------------------------------
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

    def _raw_block(self, raw: Sequence[bytes]) -> Block:
        """The bulk body of a block of encoded events. When each starts in the sensor's form
        and all on one date, the body is joined from their heads' ids in C (the items
        _raw_item would give, one after the other); else it is made item by item."""
        heads = list(map(_RAW_HEAD.match, raw))
        if all(heads):
            found = list(map(_date_and_id, heads))
            days = set(map(_first, found))
            if len(days) == 1:
                index = self._index_of_date(days.pop())
                if index is not None:
                    head = b'{"index":{"_index":' + index + b',"_id":"'
                    return b"".join(chain.from_iterable(
                        zip(repeat(head), map(_second, found), repeat(b'"}}\n'), raw, repeat(b"\n"))
                    )), raw
        return b"".join(chain.from_iterable((a, d, b"\n") for a, d in map(self._raw_item, raw))), raw

    def _raw_request(self, blocks: list[Block]) -> int:
        """Blocks of events in one request; what it refuses is retried item by item."""
        body = blocks[0][0] if len(blocks) == 1 else b"".join(map(_first, blocks))
        if len(blocks) == 1 and len(body) > MAX_BULK_BYTES:  # large events: requests by item
            return self._bulk("events", [self._raw_item(r) for r in blocks[0][1]])
        resp = self._send("events", body)
        if not resp.get("errors"):
            return sum(len(raw) for _, raw in blocks)
        return self._bulk_request("events", [self._raw_item(r) for _, raw in blocks for r in raw], resp)

    def _raw_requests(self, blocks: list[Block]) -> int:
        """Blocks in requests of at most MAX_BULK_BYTES (a larger block alone)."""
        return sum(self._raw_request(group) for group in _requests(blocks, _block_bytes))

    # -- the Store's writes ----------------------------------------------------------------
    def put_events(self, events: Iterable[Doc]) -> int:
        items = [(_action(self._event_index(get(e, "@timestamp")), event_id(e)), orjson.dumps(e)) for e in events]
        k = min(BULK_WORKERS, len(items) // MIN_PARALLEL_EVENTS)
        if k <= 1:
            return self._bulk("events", items) if items else 0
        n = len(items)
        return self._parallel(lambda c: self._bulk("events", c), [items[i * n // k : (i + 1) * n // k] for i in range(k)])

    def put_raw_events(self, raw: Sequence[bytes]) -> int:
        """Every body is made before the first request: an event without a usable id raises
        ValueError with nothing written."""
        blocks = [self._raw_block(raw[i : i + RAW_BLOCK]) for i in range(0, len(raw), RAW_BLOCK)]
        k = min(BULK_WORKERS, len(raw) // MIN_PARALLEL_EVENTS)
        if k <= 1:
            return self._raw_requests(blocks) if blocks else 0
        n = len(blocks)
        return self._parallel(self._raw_requests, [blocks[i * n // k : (i + 1) * n // k] for i in range(k)])

    def _parallel(self, write: Callable[[list[T]], int], chunks: list[list[T]]) -> int:
        """Events in up to BULK_WORKERS requests at once. Their order does not matter: an
        event id always stands for the same event. Waits for every request; a failure of
        any raises (after all have finished), and the caller sends the batch again."""
        if self._pool is None:
            self._pool = ThreadPoolExecutor(BULK_WORKERS - 1, thread_name_prefix="es-bulk")
        others = [self._pool.submit(write, c) for c in chunks[1:]]
        try:
            stored = write(chunks[0])
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
