"""The Elasticsearch store's bulk write path on a real node.

Events as they travel on the bus are indexed from their bytes: when an event starts the way
the sensor encodes it, its index and id are read from that start without decoding it, and
they must be the ones decoding gives (the expected index of each case below is worked out
by hand from the timestamp, in UTC). The document stored is the bytes sent, unchanged. A
document Elasticsearch refuses goes to the dead-letter index and the rest of its batch is
stored; a batch large enough to go in parallel requests is stored whole, once.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import orjson
import pytest

from icssa import es_bulk
from icssa.store import EventQuery, open_store

from .conftest import ES_URL

# (event as it travels, index it belongs in after the prefix, document id)
CASES: list[tuple[bytes, str, str]] = [
    # the sensor's form; the last microsecond of December
    (b'{"@timestamp":"2025-12-31T23:59:59.999999Z","event":{"id":"t-1","kind":"event"}}', "events-2025.12", "t-1"),
    # the sensor's form without a fraction of a second
    (b'{"@timestamp":"2026-01-01T00:00:00Z","event":{"id":"t-2"}}', "events-2026.01", "t-2"),
    # nanoseconds
    (b'{"@timestamp":"2026-01-01T00:00:00.123456789Z","event":{"id":"t-3"}}', "events-2026.01", "t-3"),
    # a UTC offset: 2025-12-31T23:59:59Z, so still December
    (b'{"@timestamp":"2026-01-01T07:59:59+08:00","event":{"id":"t-4"}}', "events-2025.12", "t-4"),
    # the id before the timestamp
    (b'{"event":{"id":"t-5"},"@timestamp":"2026-02-01T00:00:00Z"}', "events-2026.02", "t-5"),
    # another field between the timestamp and the id
    (b'{"@timestamp":"2026-02-01T00:00:00Z","event":{"kind":"event","id":"t-6"}}', "events-2026.02", "t-6"),
    # February has no 30th
    (b'{"@timestamp":"2026-02-30T00:00:00Z","event":{"id":"t-7"}}', "events-undated", "t-7"),
    # hour 24
    (b'{"@timestamp":"2026-03-01T24:00:00Z","event":{"id":"t-8"}}', "events-undated", "t-8"),
    # month 13
    (b'{"@timestamp":"2026-13-01T00:00:00Z","event":{"id":"t-9"}}', "events-undated", "t-9"),
    # no timestamp at all
    (b'{"event":{"id":"t-10"}}', "events-undated", "t-10"),
    # an escaped quote in the id
    (b'{"@timestamp":"2026-03-01T00:00:00Z","event":{"id":"t\\"11"}}', "events-2026.03", 't"11'),
    # an escaped non-ASCII letter in the id
    (b'{"@timestamp":"2026-03-01T00:00:00Z","event":{"id":"t\\u00e9-12"}}', "events-2026.03", "t\u00e9-12"),
    # the same letter as raw UTF-8
    (b'{"@timestamp":"2026-03-01T00:00:00Z","event":{"id":"t\xc3\xa9-13"}}', "events-2026.03", "t\u00e9-13"),
]


@pytest.fixture
def es_store(engines: None) -> Iterator[Any]:
    store = open_store(f"{ES_URL}?prefix=it{uuid.uuid4().hex[:8]}-")
    yield store
    store.drop()
    store.delete_templates()
    store.close()


def _where(store: Any) -> dict[str, tuple[str, Any]]:
    """id -> (index after the prefix, _source) of every stored event."""
    store.refresh()
    resp = store.es.search(index=store.events_pattern, query={"match_all": {}}, size=1000)
    return {h["_id"]: (h["_index"][len(store.prefix):], h["_source"]) for h in resp["hits"]["hits"]}


def test_raw_events_land_in_their_month_under_their_id(es_store: Any) -> None:
    assert es_store.put_raw_events([raw for raw, _, _ in CASES]) == len(CASES)
    got = _where(es_store)
    assert {i: idx for i, (idx, _) in got.items()} == {i: idx for _, idx, i in CASES}
    for raw, _, doc_id in CASES:
        assert got[doc_id][1] == orjson.loads(raw), f"{doc_id}: the stored document differs from the bytes sent"


@pytest.mark.parametrize(("raw", "index", "doc_id"), CASES, ids=[c[2] for c in CASES])
def test_decoded_and_raw_events_agree(es_store: Any, raw: bytes, index: str, doc_id: str) -> None:
    """put_events (decoded) and put_raw_events (bytes) put one event in the same place."""
    assert es_store.put_events([orjson.loads(raw)]) == 1
    first = _where(es_store)
    es_store.drop()
    assert es_store.put_raw_events([raw]) == 1
    assert _where(es_store) == first == {doc_id: (index, orjson.loads(raw))}


@pytest.mark.parametrize(
    "raw",
    [
        b'{"@timestamp":"2026-03-01T00:00:00Z","event":{"kind":"event"}}',  # no event.id
        b'{"@timestamp":"2026-03-01T00:00:00Z","event":{"id":""}}',  # an empty one
        b'{"@timestamp":"2026-03-01T00:00:00Z","event":{"id":7}}',  # not a string
        b'{"@timestamp":"2026-03-01T00:00:00","event":{"id":"t-1"',  # cut short, and not the sensor's form
        b"",  # nothing
    ],
)
def test_event_without_a_usable_id_is_refused_before_writing(es_store: Any, raw: bytes) -> None:
    good = CASES[0][0]
    with pytest.raises(ValueError):
        es_store.put_raw_events([good, raw])
    es_store.refresh()
    assert es_store.count_events(EventQuery()) == 0


def test_refused_document_goes_to_dead_letters_and_the_rest_is_stored(es_store: Any) -> None:
    # event.dataset is an indexed keyword: an object there is refused (ignore_malformed keeps
    # only malformed values, not objects, out of the way)
    bad = b'{"@timestamp":"2026-03-01T00:00:00Z","event":{"id":"bad-1","dataset":{"not":"a keyword"}}}'
    batch = [raw for raw, _, _ in CASES[:3]] + [bad]
    assert es_store.put_raw_events(batch) == 3
    assert set(_where(es_store)) == {"t-1", "t-2", "t-3"}
    es_store.refresh()
    dead = es_store.es.search(index=es_store.dead_index, query={"match_all": {}})["hits"]["hits"]
    assert [(h["_id"], h["_source"]["kind"], h["_source"]["doc"]) for h in dead] == [
        ("events/bad-1", "events", orjson.loads(bad))
    ]
    assert es_store.stats["dead_letter_events"] == 1


def test_event_cut_short_is_kept_as_text_in_dead_letters(es_store: Any) -> None:
    """The sensor's form, cut short after the id: indexed from its start without decoding,
    refused by Elasticsearch, kept as text (it is no JSON document)."""
    cut = b'{"@timestamp":"2026-03-01T00:00:00Z","event":{"id":"cut-1","kind":"ev'
    assert es_store.put_raw_events([CASES[0][0], cut]) == 1
    assert set(_where(es_store)) == {"t-1"}
    es_store.refresh()
    dead = es_store.es.search(index=es_store.dead_index, query={"match_all": {}})["hits"]["hits"]
    assert [(h["_id"], h["_source"]["raw"], "doc" in h["_source"]) for h in dead] == [
        ("events/cut-1", cut.decode(), False)
    ]
    assert es_store.stats["dead_letter_events"] == 1
    assert es_store.stats["dead_letter_lost_events"] == 0


def test_a_large_batch_in_parallel_requests_is_stored_once(es_store: Any) -> None:
    n = 5003  # not a multiple of the number of requests
    raw = [b'{"@timestamp":"2026-03-01T00:00:%02d.%06dZ","event":{"id":"p-%d"}}' % (i % 60, i, i) for i in range(n)]
    assert es_store.put_raw_events(raw) == n
    assert es_store.put_raw_events(raw) == n  # again: overwrites, no duplicates
    es_store.refresh()
    ids = list(es_store.iter_ids("events"))
    assert len(ids) == n
    assert set(ids) == {f"p-{i}" for i in range(n)}


def _sensor_event(ts: str, doc_id: str) -> bytes:
    return b'{"@timestamp":"%s","event":{"id":"%s","kind":"event"}}' % (ts.encode(), doc_id.encode())


def _placement(store: Any) -> dict[str, str]:
    """id -> index after the prefix, of every stored event."""
    store.refresh()
    resp = store.es.search(index=store.events_pattern, query={"match_all": {}}, size=5000, _source=False)
    return {h["_id"]: h["_index"][len(store.prefix):] for h in resp["hits"]["hits"]}


def test_blocks_across_midnight_an_invalid_date_and_a_foreign_form(es_store: Any) -> None:
    """Bodies are made by blocks of RAW_BLOCK events; a block whose events are on two dates,
    on a date that does not exist, or not all in the sensor's form, lands every event where
    it would land alone. Layout (B = RAW_BLOCK): the last day of January up to 300, then
    February 1st up to 600, then February 30th (no such day) up to 4 B, then an escaped id."""
    block = es_bulk.RAW_BLOCK
    assert block < 300 < 2 * block < 600 < 3 * block  # blocks 0 and 3 on one date, 1 and 2 on two
    raw = [
        _sensor_event(f"2026-01-31T23:59:59.{i:06d}Z" if i < 300 else
                      f"2026-02-01T00:00:00.{i:06d}Z" if i < 600 else
                      f"2026-02-30T00:00:00.{i:06d}Z", f"b-{i}")
        for i in range(4 * block)
    ]
    raw.append(b'{"@timestamp":"2026-03-01T00:00:00Z","event":{"id":"b\\"q"}}')  # an escaped quote
    assert es_store.put_raw_events(raw) == len(raw)
    want = {f"b-{i}": "events-2026.01" if i < 300 else "events-2026.02" if i < 600 else "events-undated"
            for i in range(4 * block)}
    want['b"q'] = "events-2026.03"
    assert _placement(es_store) == want


def test_refused_document_inside_a_block_of_one_date(es_store: Any) -> None:
    """A block in the sensor's form on one date, with one document Elasticsearch refuses:
    the rest of the block is stored, the refused one kept in the dead letters."""
    raw = [_sensor_event(f"2026-03-01T00:00:00.{i:06d}Z", f"r-{i}") for i in range(50)]
    raw[17] = b'{"@timestamp":"2026-03-01T00:00:01Z","event":{"id":"r-17","dataset":{"not":"a keyword"}}}'
    assert es_store.put_raw_events(raw) == 49
    assert _placement(es_store) == {f"r-{i}": "events-2026.03" for i in range(50) if i != 17}
    es_store.refresh()
    dead = es_store.es.search(index=es_store.dead_index, query={"match_all": {}})["hits"]["hits"]
    assert [h["_id"] for h in dead] == ["events/r-17"]


@pytest.mark.parametrize("limit", [300, 80_000], ids=["two-items", "two-blocks"])
def test_requests_stay_under_the_size_bound(es_store: Any, monkeypatch: pytest.MonkeyPatch, limit: int) -> None:
    """A block larger than the request bound goes item by item, smaller blocks are grouped
    into requests under it (an item here is ~150 bytes, a block ~RAW_BLOCK items); every
    event is stored once either way."""
    monkeypatch.setattr(es_bulk, "MAX_BULK_BYTES", limit)
    sizes: list[int] = []
    send = es_store._send

    def counted(kind: str, body: bytes) -> Any:
        sizes.append(len(body))
        return send(kind, body)

    monkeypatch.setattr(es_store, "_send", counted)
    raw = [_sensor_event(f"2026-03-01T00:00:00.{i:06d}Z", f"s-{i}") for i in range(700)]
    assert es_store.put_raw_events(raw) == 700
    assert len(sizes) > 1
    assert max(sizes) <= limit
    assert _placement(es_store) == {f"s-{i}": "events-2026.03" for i in range(700)}
