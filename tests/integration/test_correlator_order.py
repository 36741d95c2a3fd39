"""The correlator's order of writes, on the in-memory bus with a store that records.

Events and alerts go to the store in batches as they are consumed (``store_every``, the
store bounds), ahead of any commit; assets go with a checkpoint, and offsets are committed
only once the checkpoint, and so everything consumed before it, is stored. Checked at every
commit: every event of every message below the committed offset is stored, and so are the
assets of a checkpoint made after those messages were consumed.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import orjson
import pytest

from icssa.bus import MemoryBus, Rebalanced, split_events
from icssa.correlator import Correlator
from icssa.pipeline import replay_events
from icssa.publisher import Publisher
from icssa.spool import Spool, SpoolRecord

from .conftest import ROOT, wait_until

CAPTURES = [ROOT / "pcaps" / name for name in ("modbus_poll_cycle.pcap", "s7_connect_szl.pcap",
                                               "opcua_read_write_call.pcap", "modbus_register_scan.pcap")]


class Recorder:
    """The four writes the correlator makes, in order, with what each carried."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.log: list[tuple[str, int]] = []
        self.event_ids: set[str] = set()

    def put_raw_events(self, raw: list[bytes]) -> int:
        with self.lock:
            self.log.append(("events", len(raw)))
            self.event_ids.update(orjson.loads(r)["event"]["id"] for r in raw)
        return len(raw)

    def put_alerts(self, alerts: list[dict[str, Any]]) -> int:
        with self.lock:
            self.log.append(("alerts", len(alerts)))
        return len(alerts)

    def put_assets(self, assets: list[dict[str, Any]]) -> int:
        with self.lock:
            self.log.append(("assets", len(assets)))
        return len(assets)

    def delete_assets(self, ids: list[str]) -> int:
        with self.lock:
            self.log.append(("gone", len(ids)))
        return len(ids)

    def snapshot(self) -> tuple[list[tuple[str, int]], set[str]]:
        with self.lock:
            return list(self.log), set(self.event_ids)


class GatedRecorder(Recorder):
    """Event writes wait at a gate the test opens (a store slow to take events)."""

    def __init__(self) -> None:
        super().__init__()
        self.gate = threading.Event()
        self.entered = threading.Event()

    def put_raw_events(self, raw: list[bytes]) -> int:
        self.entered.set()
        self.gate.wait()
        return super().put_raw_events(raw)


class WatchedBus(MemoryBus):
    """Records, at each commit, the offsets and what the store held at that moment."""

    def __init__(self, store: Recorder, refuse: int = 0) -> None:
        super().__init__(partitions=2)
        self.store = store
        self.refuse = refuse  # the first commits fail as during a rebalance
        self.commits: list[tuple[dict[tuple[str, int], int], list[tuple[str, int]], set[str]]] = []

    def consumer(self, group: str, topics: Any, **kw: Any) -> Any:
        c = super().consumer(group, topics, **kw)
        commit = c.commit

        def watched(offsets: Mapping[tuple[str, int], int]) -> None:
            if self.refuse:
                self.refuse -= 1
                raise Rebalanced("commit refused: the group is rebalancing")
            self.commits.append((dict(offsets), *self.store.snapshot()))
            commit(offsets)

        c.commit = watched  # type: ignore[method-assign]
        return c


def _publish(bus: MemoryBus, tmp: Path, batch_size: int) -> int:
    pub = Publisher(bus, Spool(tmp / "spool"), batch_size=batch_size, linger=0)
    n = 0
    for i, path in enumerate(CAPTURES):
        for ev in replay_events([path], organization=f"js/t{i}"):
            pub.publish(ev)
            n += 1
    pub.close()
    return n


def _ids_below(bus: MemoryBus, topic: str, offsets: Mapping[tuple[str, int], int]) -> set[str]:
    ids: set[str] = set()
    for (t, p), upto in offsets.items():
        assert t == topic
        for _key, value in bus.logs[t][p][:upto]:
            ids.update(orjson.loads(r)["event"]["id"] for r in split_events(value))
    return ids


@pytest.fixture
def running() -> Iterator[Any]:
    started: list[tuple[threading.Thread, threading.Event]] = []

    def start(c: Correlator) -> threading.Event:
        stop = threading.Event()
        t = threading.Thread(target=c.run, args=(stop,), daemon=True)
        t.start()
        started.append((t, stop))
        return stop

    yield start
    for t, stop in started:
        stop.set()
        t.join(timeout=60)


def test_events_are_stored_before_the_checkpoint_and_committed_after_it(running: Any, tmp_path: Path) -> None:
    store = Recorder()
    bus = WatchedBus(store)
    n = _publish(bus, tmp_path, batch_size=25)
    c = Correlator(bus, store, store_every=0.05, checkpoint_every=3600, idle_flush=3600)  # type: ignore[arg-type]
    stop = running(c)
    wait_until("every event stored", lambda: len(store.snapshot()[1]) == n, timeout=60, every=0.02)
    log, _ = store.snapshot()
    assert bus.commits == [], "offsets committed before any checkpoint"
    assert not [w for w in log if w[0] == "assets"], "assets stored before the checkpoint"
    stop.set()
    topic = bus.topics.events
    end = {(topic, p): len(part) for p, part in enumerate(bus.logs[topic]) if part}
    wait_until("the final commit", lambda: bus.commits, timeout=60, every=0.02)
    assert len(bus.commits) == 1, "one checkpoint, at the stop"
    offsets, log, stored = bus.commits[0]
    assert offsets == end
    assert [kind for kind, k in log if kind == "assets" and k] == ["assets"], "the checkpoint's assets, once"
    assert _ids_below(bus, topic, offsets) <= stored


def test_store_bounds_split_events_into_several_batches(running: Any, tmp_path: Path) -> None:
    store = Recorder()
    bus = WatchedBus(store)
    n = _publish(bus, tmp_path, batch_size=10)
    c = Correlator(bus, store, store_every=3600, store_events=40, checkpoint_every=3600,  # type: ignore[arg-type]
                   idle_flush=3600, poll_records=3)
    running(c)
    wait_until("every event stored", lambda: len(store.snapshot()[1]) == n, timeout=60, every=0.02)
    sizes = [k for kind, k in store.snapshot()[0] if kind == "events"]
    assert sum(sizes) == n
    assert len(sizes) >= n // 50
    # a batch is handed over once it reaches the bound, checked after each message (<= 10 events)
    assert max(sizes) < 40 + 10


def test_every_commit_covers_only_what_is_stored(running: Any, tmp_path: Path) -> None:
    store = Recorder()
    bus = WatchedBus(store)
    c = Correlator(bus, store, store_every=0.01, checkpoint_every=0.01, idle_flush=3600,  # type: ignore[arg-type]
                   poll_records=1)
    stop = running(c)
    n = _publish(bus, tmp_path, batch_size=5)
    wait_until("every event stored", lambda: len(store.snapshot()[1]) == n, timeout=60, every=0.02)
    stop.set()
    topic = bus.topics.events
    end = {(topic, p): len(part) for p, part in enumerate(bus.logs[topic]) if part}

    def committed_so_far() -> dict[tuple[str, int], int]:
        out: dict[tuple[str, int], int] = {}
        for offsets, _, _ in list(bus.commits):
            out.update(offsets)
        return out

    wait_until("the end committed", lambda: committed_so_far() == end, timeout=60, every=0.02)
    assert len(bus.commits) > 1, "the test needs several checkpoints"
    committed: dict[tuple[str, int], int] = {}
    for offsets, log, stored in bus.commits:
        committed.update(offsets)
        missing = _ids_below(bus, topic, committed) - stored
        assert not missing, f"committed past {len(missing)} events not yet stored"
        assert any(kind == "assets" for kind, _ in log), "committed before any assets were stored"


def test_a_checkpoint_waits_for_the_events_handed_over_before_it(running: Any, tmp_path: Path) -> None:
    """Assets are written while events are still held up; offsets are not committed until
    those events are stored too."""
    store = GatedRecorder()
    bus = WatchedBus(store)
    n = _publish(bus, tmp_path, batch_size=100)
    c = Correlator(bus, store, store_every=0.01, checkpoint_every=0.01, idle_flush=3600,  # type: ignore[arg-type]
                   poll_records=1)
    running(c)
    wait_until("assets stored while events are held", lambda: store.entered.is_set() and any(
        kind == "assets" for kind, _ in store.snapshot()[0]), timeout=60, every=0.02)
    # a negative check, not a synchronisation: for a second, nothing may be committed
    with pytest.raises(AssertionError, match="timed out"):
        wait_until("a commit while events are held", lambda: bus.commits, timeout=1.0, every=0.02)
    store.gate.set()
    wait_until("every event stored", lambda: len(store.snapshot()[1]) == n, timeout=60, every=0.02)
    wait_until("a commit", lambda: bus.commits, timeout=60, every=0.02)
    for offsets, _, stored in bus.commits:
        assert _ids_below(bus, bus.topics.events, offsets) <= stored


def test_a_refused_commit_loses_nothing(running: Any, tmp_path: Path) -> None:
    """A commit refused mid-stream (the group rebalancing) drops nothing consumed: the
    partitions keep their positions, so nothing would be read again."""
    store = Recorder()
    bus = WatchedBus(store, refuse=3)
    # events go to the store with checkpoints only, so some are always pending at a commit
    c = Correlator(bus, store, store_every=3600, checkpoint_every=0.01, idle_flush=3600,  # type: ignore[arg-type]
                   poll_records=1)
    stop = running(c)
    n = _publish(bus, tmp_path, batch_size=5)
    wait_until("every event stored", lambda: len(store.snapshot()[1]) == n, timeout=60, every=0.02)
    stop.set()
    topic = bus.topics.events
    end = {(topic, p): len(part) for p, part in enumerate(bus.logs[topic]) if part}

    def committed() -> dict[tuple[str, int], int]:
        out: dict[tuple[str, int], int] = {}
        for offsets, _, _ in list(bus.commits):
            out.update(offsets)
        return out

    wait_until("the end committed", lambda: committed() == end, timeout=60, every=0.02)
    assert bus.refuse == 0, "the test needs refused commits"


def test_undecodable_lines_are_counted_and_not_stored() -> None:
    """A message's lines that are no JSON, or name no tenant, are counted and left out; the
    other events of that message, before and after them, are stored."""
    store = Recorder()
    bus = WatchedBus(store)
    bus.ensure_topics()
    good = [orjson.dumps(ev) for ev in replay_events([CAPTURES[0]], organization="js/t0")][:3]
    lines = [
        good[0],
        b'{"@timestamp":"2026-03-01T00:00:00Z","event":{"id":"cut',  # cut short: no JSON
        good[1],
        b'{"@timestamp":"2026-03-01T00:00:00Z","event":{"id":"no-tenant"}}',  # no organization.id
        b"{cut",  # no JSON, twice: each counted
        b"{cut",
        good[2],
    ]
    bus.producer().send_batch([SpoolRecord(bus.topics.events, b"js/t0", b"js/t0", b"\n".join(lines))])
    c = Correlator(bus, store, store_every=0.01, checkpoint_every=3600, idle_flush=3600)  # type: ignore[arg-type]
    stop = threading.Event()
    t = threading.Thread(target=c.run, args=(stop,), daemon=True)
    t.start()
    wait_until("the good events stored", lambda: len(store.snapshot()[1]) == 3, timeout=60, every=0.02)
    stop.set()
    t.join(timeout=60)
    assert not t.is_alive()
    assert store.snapshot()[1] == {orjson.loads(g)["event"]["id"] for g in good}
    assert sum(k for kind, k in store.snapshot()[0] if kind == "events") == 3
    assert c.stats["consumed"] == 7
    assert c.stats["undecodable"] == 4
