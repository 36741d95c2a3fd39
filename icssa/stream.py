"""The distributed path: sensors publish events to the bus; correlators consume them.

``sensor_pcap`` and ``sensor_live`` drive the same ``Sensor`` as ``icssa replay`` (through
``pipeline.run_capture`` for files) and hand its events to a ``Publisher``. A stop request
(SIGTERM) is honoured between packets: flows are flushed, the batch is sent or spooled.

``Correlator`` is one member of the consumer group ``icssa-correlate``. Per tenant it keeps
a correlation engine and an asset map (a tenant's events all arrive on one partition, see
``icssa.bus``). At each checkpoint (every ``checkpoint_every`` seconds, when the consumer
has caught up, or at ``max_pending`` events / ``max_pending_bytes``) a writer thread stores, in
this order, the events, the alerts, the changed assets, publishes alerts and assets to their
topics, and only then are the offsets committed: a crash at any point replays from the last
commit, and deterministic ids turn the replay into overwrites. One batch may wait while
another is written, so consuming and correlating overlap with storing and memory stays bounded.
Correlation state (open windows, baselines, the asset map) lives in memory: after a crash
it restarts empty from the committed offset, so an alert whose evidence spans the crash may
be missed, and assets seen before it are updated only from what follows.
"""

from __future__ import annotations

import logging
import queue
import struct
import threading
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from icssa.bus import Bus, BusError, Publisher, Rebalanced, split_events
from icssa.events import Event
from icssa.pipeline import expand, run_capture
from icssa.spool import SpoolRecord
from icssa.store import Store, StoreError, asset_doc_id
from sensors.engine import Sensor

log = logging.getLogger("icssa.stream")

GROUP = "icssa-correlate"
SOL_PACKET = 263
PACKET_STATISTICS = 6


class Stopped(Exception):
    """A stop was requested; raised between packets."""


# -- sensors --------------------------------------------------------------------------------
@dataclass
class SensorReport:
    packets: int = 0
    events: int = 0
    kernel_drops: int = 0
    own_drops: int = 0
    errors: list[str] = field(default_factory=list)
    sensor: Counter[str] = field(default_factory=Counter)
    parse_errors: Counter[tuple[str, str]] = field(default_factory=Counter)

    def add(self, s: Sensor) -> None:
        self.packets += s.stats["packets"]
        self.sensor.update(s.stats)
        self.parse_errors.update(s.parse_errors)


def _counting(publisher: Publisher, report: SensorReport) -> Callable[[Event], None]:
    publish = publisher.publish

    def emit(event: Event) -> None:
        report.events += 1
        publish(event)

    return emit


def sensor_pcap(
    paths: Sequence[Path], publisher: Publisher, *, observer: str, organization: str, stop: threading.Event
) -> SensorReport:
    """Publish the events of capture files (the same ids as ``icssa replay``)."""
    report = SensorReport()
    emit = _counting(publisher, report)

    def between_packets(_: int) -> None:
        if stop.is_set():
            raise Stopped
        publisher.tick()

    try:
        for path in expand(paths):
            sensor, error = run_capture(path, emit, observer=observer, organization=organization,
                                        progress=between_packets)
            report.add(sensor)
            if error:
                report.errors.append(error)
    except Stopped:
        log.warning("stop requested: flows flushed, remaining captures skipped")
    publisher.flush()
    return report


class LiveCapture:
    """Raw frames from an interface (Linux packet socket through scapy, BPF in the kernel) on a
    thread, into a bounded queue; ``own_drops`` counts frames the queue had no room for."""

    def __init__(self, iface: str, bpf: str | None, queue_size: int = 65_536) -> None:
        from scapy.arch.linux import L2ListenSocket
        from scapy.layers.l2 import CookedLinux, Ether

        self.sock = L2ListenSocket(iface=iface, filter=bpf, promisc=True)
        ll = self.sock.LL
        self.linktype = 1 if ll is Ether else 113 if ll is CookedLinux else 1
        self.queue: queue.Queue[tuple[int, int, bytes]] = queue.Queue(maxsize=queue_size)
        self.own_drops = 0
        self.kernel_drops = 0
        self.kernel_packets = 0
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, name=f"capture-{iface}", daemon=True)

    def start(self) -> None:
        self.thread.start()

    def _run(self) -> None:
        import select

        put = self.queue.put_nowait
        sock = self.sock
        while not self.stop.is_set():
            ready, _, _ = select.select([sock.ins], [], [], 0.2)
            if not ready:
                continue
            _cls, data, ts = sock.recv_raw(65_535)
            if data is None:
                continue
            try:
                put((int((ts or time.time()) * 1_000_000) * 1000, self.linktype, data))
            except queue.Full:
                self.own_drops += 1

    def read_kernel_stats(self) -> None:
        """Add the kernel's counters since the last read (reading resets them)."""
        try:
            raw = self.sock.ins.getsockopt(SOL_PACKET, PACKET_STATISTICS, 8)
        except OSError:
            return
        packets, drops = struct.unpack("II", raw)
        self.kernel_packets += packets
        self.kernel_drops += drops

    def close(self) -> None:
        self.stop.set()
        self.thread.join(timeout=2)
        self.read_kernel_stats()
        self.sock.close()


def sensor_live(
    iface: str, bpf: str | None, publisher: Publisher, *, observer: str, organization: str,
    stop: threading.Event, stats_every: float = 30.0, ready: Callable[[], None] | None = None,
) -> SensorReport:
    """Capture until ``stop``; event ids are unique per run (``live-<observer>-<start>``)."""
    report = SensorReport()
    capture = LiveCapture(iface, bpf)
    sensor = Sensor(_counting(publisher, report), observer=observer, organization=organization,
                    capture_id=f"live-{observer}-{time.time_ns() // 1_000_000:x}")
    capture.start()
    if ready is not None:
        ready()
    get = capture.queue.get
    handle = sensor.packet
    next_stats = time.monotonic() + stats_every
    try:
        while not stop.is_set():
            try:
                ts_ns, linktype, data = get(timeout=0.1)
            except queue.Empty:
                publisher.tick()
                continue
            handle(ts_ns, linktype, data)
            if not sensor.frame & 0xFF:
                publisher.tick()
                if stats_every and time.monotonic() >= next_stats:
                    next_stats = time.monotonic() + stats_every
                    capture.read_kernel_stats()
                    log.info("%s: %d packets, %d events, drops kernel %d own %d, spool %d", iface, sensor.frame,
                             report.events, capture.kernel_drops, capture.own_drops, publisher.spool_depth)
    finally:
        capture.close()
        while True:  # what the capture thread queued before it stopped
            try:
                handle(*capture.queue.get_nowait())
            except queue.Empty:
                break
        sensor.finish()
        publisher.flush()
    report.add(sensor)
    report.kernel_drops, report.own_drops = capture.kernel_drops, capture.own_drops
    return report


# -- correlator -----------------------------------------------------------------------------
@dataclass
class Tenant:
    engine: Any
    assets: Any
    partitions: set[tuple[str, int]] = field(default_factory=set)
    dirty: bool = False
    #: asset doc id -> the JSON last stored (to store only what changed)
    stored: dict[str, bytes] = field(default_factory=dict)


@dataclass
class Batch:
    """One checkpoint: what to store and publish before ``offsets`` may be committed."""

    events: list[bytes]
    alerts: list[dict[str, Any]]
    assets: list[dict[str, Any]]
    gone: list[str]
    records: list[SpoolRecord]
    offsets: dict[tuple[str, int], int]


def default_tenant() -> tuple[Any, Any]:
    from assetmap import AssetMap
    from correlation import Engine

    assets = AssetMap()
    return Engine.from_directory(None, context=assets), assets


class Correlator:
    def __init__(
        self, bus: Bus, store: Store, *, group: str = GROUP, checkpoint_every: float = 2.0,
        max_pending: int = 20_000, max_pending_bytes: int = 32 << 20, idle_flush: float = 5.0,
        poll_records: int = 500,
        make_tenant: Callable[[], tuple[Any, Any]] = default_tenant, retry_max: float = 15.0,
    ) -> None:
        self.bus = bus
        self.store = store
        self.group = group
        self.checkpoint_every = checkpoint_every
        self.max_pending = max_pending
        self.max_pending_bytes = max_pending_bytes
        self._pending_bytes = 0
        self.idle_flush = idle_flush
        self.poll_records = poll_records
        self.make_tenant = make_tenant
        self.retry_max = retry_max
        self.stats: Counter[str] = Counter()
        self.tenants: dict[str, Tenant] = {}
        self.events: list[bytes] = []
        self.alerts: list[dict[str, Any]] = []
        self.offsets: dict[tuple[str, int], int] = {}
        self._flushed = True
        self._last_checkpoint = time.monotonic()
        self.consumer: Any = None
        self.producer: Any = None
        self._queue: queue.Queue[Batch] = queue.Queue(maxsize=1)
        self._written: dict[tuple[str, int], int] = {}
        self._lock = threading.Lock()
        self._abandon = threading.Event()
        threading.Thread(target=self._writer, name="correlate-writer", daemon=True).start()

    # -- the loop --------------------------------------------------------------------------
    def run(self, stop: threading.Event, exit_when_idle: float | None = None) -> None:
        self._connect(stop)
        last_msg = time.monotonic()
        delay = 0.5
        while not stop.is_set():
            try:
                msgs = self.consumer.poll(self.poll_records, 0.5)
                delay = 0.5
            except BusError as exc:
                log.warning("poll failed (%s); retry in %.1f s", exc, delay)
                stop.wait(delay)
                delay = min(delay * 2, self.retry_max)
                continue
            if msgs:
                self._process(msgs, stop)
                last_msg = time.monotonic()
            self._commit_written()
            now = time.monotonic()
            if not msgs and not self._flushed and now - last_msg >= self.idle_flush:
                self._flush_engines()
            if self.events or self.alerts or self._dirty():
                if len(self.events) >= self.max_pending or now - self._last_checkpoint >= self.checkpoint_every \
                        or not msgs:
                    self.checkpoint(stop)
            elif exit_when_idle is not None and self._flushed and now - last_msg >= exit_when_idle \
                    and not self._queue.unfinished_tasks and not self._written:
                break
        self._flush_engines()
        self.finish()
        self.close()

    def _connect(self, stop: threading.Event) -> None:
        delay = 0.5
        while True:
            try:
                self.bus.ensure_topics()
                self.producer = self.bus.producer()
                self.consumer = self.bus.consumer(
                    self.group, [self.bus.topics.events], on_revoke=self._revoked, on_assign=self._assigned
                )
                return
            except BusError as exc:
                if stop.is_set():
                    raise
                log.warning("bus unreachable (%s); retry in %.1f s", exc, delay)
                stop.wait(delay)
                delay = min(delay * 2, self.retry_max)

    def _tenant(self, org: str, tp: tuple[str, int]) -> Tenant:
        t = self.tenants.get(org)
        if t is None:
            engine, assets = self.make_tenant()
            t = self.tenants[org] = Tenant(engine, assets)
        t.partitions.add(tp)
        return t

    def _process(self, msgs: list[Any], stop: threading.Event) -> None:
        loads = orjson.loads
        stats = self.stats
        for m in msgs:
            if len(self.events) >= self.max_pending or self._pending_bytes >= self.max_pending_bytes:
                self.checkpoint(stop)  # bound what waits in memory, whatever one poll brought
            tp = (m.topic, m.partition)
            self.offsets[tp] = m.offset + 1
            self._pending_bytes += len(m.value)
            for raw in split_events(m.value):
                stats["consumed"] += 1
                try:
                    ev = loads(raw)
                    org = ev["organization"]["id"]
                except (orjson.JSONDecodeError, KeyError, TypeError):
                    stats["undecodable"] += 1
                    continue
                t = self._tenant(str(org), tp)
                self.events.append(raw)
                t.dirty = True
                self._flushed = False
                try:
                    t.assets.observe(ev)
                    alerts = t.engine.process(ev)
                except Exception:  # a bad event must not stop the consumer: count, log once, go on
                    if not stats["engine_errors"]:
                        log.exception("correlation failed on an event at offset %s; further ones counted", m.offset)
                    stats["engine_errors"] += 1
                    continue
                if alerts:
                    self.alerts.extend(alerts)

    def _flush_engines(self) -> None:
        for t in self.tenants.values():
            out = t.engine.flush()
            if out:
                self.alerts.extend(out)
                t.dirty = True
        self._flushed = True

    def _dirty(self) -> bool:
        return any(t.dirty for t in self.tenants.values())

    # -- checkpoints -----------------------------------------------------------------------
    # -- checkpoints -----------------------------------------------------------------------
    # The loop builds a Batch from what is pending and hands it to the writer thread (one may
    # wait while another is written, so reading and processing overlap with storing); the
    # loop commits the offsets of written batches, in order, on its own thread.
    def _build(self) -> Batch | None:
        if not (self.events or self.alerts or self._dirty()):
            return None
        topics = self.bus.topics
        docs: list[dict[str, Any]] = []
        gone: list[str] = []
        records = [
            SpoolRecord(topics.alerts, a["event"]["id"].encode(), str(a["organization"]["id"]).encode(), orjson.dumps(a))
            for a in self.alerts
        ]
        for org, t in self.tenants.items():
            if not t.dirty:
                continue
            now: dict[str, bytes] = {}
            for asset in t.assets.assets():
                doc = {**asset, "organization": {"id": org}}
                did = asset_doc_id(doc)
                blob = orjson.dumps(doc, option=orjson.OPT_SORT_KEYS | orjson.OPT_NON_STR_KEYS)
                now[did] = blob
                if t.stored.get(did) != blob:
                    docs.append(doc)
                    records.append(SpoolRecord(topics.assets, did.encode(), org.encode(), blob))
            vanished = [d for d in t.stored if d not in now]
            gone += vanished
            records += [SpoolRecord(topics.assets, d.encode(), org.encode(), b"") for d in vanished]
            t.stored, t.dirty = now, False
        batch = Batch(self.events, self.alerts, docs, gone, records, self.offsets)
        self.events, self.alerts, self.offsets = [], [], {}
        self._pending_bytes = 0
        return batch

    def _write(self, b: Batch) -> None:
        if b.events:
            self.store.put_raw_events(b.events)
        if b.alerts:
            self.store.put_alerts(b.alerts)
        if b.assets:
            self.store.put_assets(b.assets)
        if b.gone:
            self.store.delete_assets(b.gone)
        if b.records:
            self.producer.send_batch(b.records)

    def _writer(self) -> None:
        while True:
            b = self._queue.get()
            delay = 0.5
            try:
                while True:
                    try:
                        self._write(b)
                        break
                    except (StoreError, BusError) as exc:
                        self.stats["checkpoint_retries"] += 1
                        if isinstance(exc, BusError):
                            self._new_producer()
                        if self._abandon.is_set():
                            return
                        log.warning("checkpoint failed (%s); retry in %.1f s", exc, delay)
                        self._abandon.wait(delay)
                        delay = min(delay * 2, self.retry_max)
                with self._lock:
                    self._written.update(b.offsets)
                self.stats["events_stored"] += len(b.events)
                self.stats["alerts_stored"] += len(b.alerts)
                self.stats["assets_stored"] += len(b.assets)
                self.stats["checkpoints"] += 1
            finally:
                self._queue.task_done()

    def checkpoint(self, stop: threading.Event | None = None, final: bool = False) -> None:
        """Hand what is pending to the writer (waits while the writer is a batch behind)."""
        b = self._build()
        if b is not None:
            self._queue.put(b)
        self._last_checkpoint = time.monotonic()
        self._commit_written()

    def _wait_written(self, timeout: float | None = None) -> bool:
        deadline = None if timeout is None else time.monotonic() + timeout
        while self._queue.unfinished_tasks:
            if deadline is not None and time.monotonic() > deadline:
                return False
            time.sleep(0.02)
        return True

    def _commit_written(self) -> None:
        with self._lock:
            offsets = dict(self._written)
        if not offsets:
            return
        try:
            self.consumer.commit(offsets)
        except Rebalanced as exc:
            log.warning("%s: starting again from the committed offsets", exc)
            self._reset()
            return
        except BusError as exc:
            log.warning("commit failed (%s); committed with the next checkpoint", exc)
            return
        with self._lock:
            for tp, o in offsets.items():
                if self._written.get(tp) == o:
                    del self._written[tp]

    def _new_producer(self) -> None:
        try:
            self.producer.close()
            self.producer = self.bus.producer()
        except BusError as exc:
            log.debug("producer not back yet: %s", exc)

    def _reset(self) -> None:
        self.stats["resets"] += 1
        self.tenants.clear()
        self.events, self.alerts, self.offsets = [], [], {}
        self._pending_bytes = 0
        with self._lock:
            self._written.clear()
        self._flushed = True

    def _revoked(self, partitions: set[tuple[str, int]]) -> None:
        if not partitions:
            return
        self.stats["rebalances"] += 1
        self.checkpoint()
        self._wait_written()
        self._commit_written()

    def _assigned(self, partitions: set[tuple[str, int]]) -> None:
        for org in [o for o, t in self.tenants.items() if not t.partitions <= partitions]:
            del self.tenants[org]
        log.info("assigned %s", sorted(partitions))

    def finish(self, timeout: float = 60.0) -> None:
        """At exit: write what is pending, wait for it (bounded), commit."""
        self.checkpoint()
        if not self._wait_written(timeout):
            log.error("store or bus still away after %.0f s: uncommitted events are read again on restart", timeout)
        self._abandon.set()
        self._commit_written()

    def close(self) -> None:
        for c in (self.consumer, self.producer):
            if c is not None:
                c.close()
        self.consumer = self.producer = None
