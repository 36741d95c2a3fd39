"""The distributed path: sensors publish events to the bus; correlators consume them.

``sensor_pcap`` and ``sensor_live`` drive the same ``Sensor`` as ``icssa replay`` (through
``pipeline.run_capture`` for files) and hand its events to a ``Publisher``. A stop request
(SIGTERM) is honoured between packets: flows are flushed, the batch is sent or spooled.

``Correlator`` is one member of the consumer group ``icssa-correlate``. Per tenant it keeps
a correlation engine and an asset map (a tenant's events all arrive on one partition, see
``icssa.bus``). Each event is decoded once, for the analytics; the store gets its bytes as
they came. Two writer threads store what the loop hands them, each in order, so consuming
and correlating overlap with storing:
- events and the alerts they raised go to the store (and alerts to their topic) every
  ``store_every`` seconds, at ``store_events`` events or ``store_bytes`` bytes, and as soon
  as the consumer has caught up: this bounds packet-to-searchable latency;
- every ``checkpoint_every`` seconds, and when the consumer stops or loses partitions, a
  checkpoint reads the changed assets out of the asset maps (a cost that grows with the
  inventory, hence the longer period) for the second thread, which stores and publishes
  them; once that is done and the first thread has stored every batch handed over before
  the checkpoint, the offsets consumed up to the checkpoint are committed.
Events stored ahead of their commit are harmless: a crash at any point replays from the last
commit, and deterministic ids turn the replay into overwrites. What waits in memory is
bounded by the store bounds and the writers' queues.
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
    """Events and the alerts they raised, for the events lane; ``seq`` counts batches."""

    events: list[bytes]
    alerts: list[dict[str, Any]]
    records: list[SpoolRecord]
    seq: int
    made: float = field(default_factory=time.monotonic)


@dataclass
class Checkpoint:
    """Assets read out at a checkpoint, for the checkpoint lane. Once they are stored and
    published, and the events lane has written batch ``after`` (every batch handed over
    before the checkpoint), ``offsets`` may be committed."""

    assets: list[dict[str, Any]]
    gone: list[str]
    records: list[SpoolRecord]
    offsets: dict[tuple[str, int], int]
    after: int
    made: float = field(default_factory=time.monotonic)


def default_tenant() -> tuple[Any, Any]:
    from assetmap import AssetMap
    from correlation import Engine

    assets = AssetMap()
    return Engine.from_directory(None, context=assets), assets


class Correlator:
    """One consumer group member; see the module docstring for the order of writes.

    ``store_every`` (s), ``store_events`` and ``store_bytes`` bound how long and how much the
    events and alerts wait before they go to the store (packet-to-searchable latency, bulk
    size); ``checkpoint_every`` (s) is how often the assets are read out and offsets
    committed (reading out the assets costs time in proportion to the inventory).
    """

    def __init__(
        self, bus: Bus, store: Store, *, group: str = GROUP, checkpoint_every: float = 5.0,
        store_every: float = 0.1, store_events: int = 10_000, store_bytes: int = 8 << 20,
        idle_flush: float = 5.0, poll_records: int = 64,
        make_tenant: Callable[[], tuple[Any, Any]] = default_tenant, retry_max: float = 15.0,
    ) -> None:
        self.bus = bus
        self.store = store
        self.group = group
        self.checkpoint_every = checkpoint_every
        self.store_every = store_every
        self.store_events = store_events
        self.store_bytes = store_bytes
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
        self._last_checkpoint = self._last_store = time.monotonic()
        self.consumer: Any = None
        #: one producer a lane (alerts from the events lane, assets from the checkpoint lane)
        self.producers: dict[str, Any] = {"events": None, "checkpoint": None}
        #: what is handed over and not yet taken by a lane (each writes one more meanwhile)
        self._queue: queue.Queue[Batch] = queue.Queue(maxsize=2)
        self._checkpoints: queue.Queue[Checkpoint] = queue.Queue(maxsize=1)
        self._seq = 0
        self._events_done = 0
        self._done = threading.Condition()
        self._written: dict[tuple[str, int], int] = {}
        self._lock = threading.Lock()
        self._abandon = threading.Event()
        for name, q, write in (("events", self._queue, self._write_batch),
                               ("checkpoint", self._checkpoints, self._write_checkpoint)):
            threading.Thread(target=self._lane, args=(name, q, write), name=f"correlate-{name}", daemon=True).start()

    # -- the loop --------------------------------------------------------------------------
    def run(self, stop: threading.Event, exit_when_idle: float | None = None) -> None:
        self._connect(stop)
        last_msg = time.monotonic()
        delay = 0.5
        while not stop.is_set():
            # wait for records no longer than until pending events are due at the store
            if not self.events:
                wait = 0.5
            elif self._queue.qsize():  # the writer is behind: gather more, without spinning
                wait = 0.05
            else:
                wait = min(0.5, max(0.0, self._last_store + self.store_every - time.monotonic()))
            try:
                msgs = self.consumer.poll(self.poll_records, wait)
                delay = 0.5
            except BusError as exc:
                log.warning("poll failed (%s); retry in %.1f s", exc, delay)
                stop.wait(delay)
                delay = min(delay * 2, self.retry_max)
                continue
            if msgs:
                self._process(msgs)
                last_msg = time.monotonic()
            self._commit_written()
            now = time.monotonic()
            if not msgs and not self._flushed and now - last_msg >= self.idle_flush:
                self._flush_engines()
            if self.events or self.alerts or self.offsets or self._dirty():
                if now - self._last_checkpoint >= self.checkpoint_every:
                    self.checkpoint()
                elif (self.events or self.alerts) and not self._queue.qsize() \
                        and (not msgs or now - self._last_store >= self.store_every):
                    self._hand_over()  # caught up, or due: stored now, committed at the checkpoint
            elif exit_when_idle is not None and self._flushed and now - last_msg >= exit_when_idle \
                    and self._idle_lanes() and not self._written:
                break
        self._flush_engines()
        self.finish()
        self.close()

    def _connect(self, stop: threading.Event) -> None:
        delay = 0.5
        while True:
            try:
                self.bus.ensure_topics()
                for lane in self.producers:
                    self.producers[lane] = self.bus.producer()
                self.consumer = self.bus.consumer(
                    self.group, [self.bus.topics.events], on_revoke=self._revoked, on_assign=self._assigned,
                    on_lost=self._lost,
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

    def _process(self, msgs: list[Any]) -> None:
        """Decode each event once, feed its tenant's asset map and engine, keep its bytes for
        the store; hand events over whenever one of the store bounds is reached."""
        loads = orjson.loads
        events = self.events
        consumed = undecodable = 0
        for m in msgs:
            tp = (m.topic, m.partition)
            self.offsets[tp] = m.offset + 1
            value = m.value or b""
            self._pending_bytes += len(value)
            org: Any = None
            t: Tenant | None = None
            for raw in split_events(value):
                consumed += 1
                try:
                    ev = loads(raw)
                    o = ev["organization"]["id"]
                except (orjson.JSONDecodeError, KeyError, TypeError):
                    undecodable += 1
                    continue
                if t is None or o != org:  # a message holds one tenant's events, as a rule
                    org = o
                    t = self._tenant(str(o), tp)
                    t.dirty = True
                events.append(raw)
                try:
                    t.assets.observe(ev)
                    alerts = t.engine.process(ev)
                except Exception:  # a bad event must not stop the consumer: count, log once, go on
                    if not self.stats["engine_errors"]:
                        log.exception("correlation failed on an event at offset %s; further ones counted", m.offset)
                    self.stats["engine_errors"] += 1
                    continue
                if alerts:
                    self.alerts.extend(alerts)
            self._flushed = False
            if len(events) >= self.store_events or self._pending_bytes >= self.store_bytes or self._store_due():
                self._hand_over()
                events = self.events
        self.stats["consumed"] += consumed
        self.stats["undecodable"] += undecodable

    def _flush_engines(self) -> None:
        for t in self.tenants.values():
            out = t.engine.flush()
            if out:
                self.alerts.extend(out)
                t.dirty = True
        self._flushed = True

    def _dirty(self) -> bool:
        return any(t.dirty for t in self.tenants.values())

    # -- stores and checkpoints ------------------------------------------------------------
    # Two writer threads ("lanes") take what the loop hands over, each in order: the events
    # lane stores events and alerts (so that they become searchable soon), the checkpoint lane
    # stores assets and then marks offsets as written, once the events lane has caught up
    # with the checkpoint. Assets, a large write every few seconds, never hold events up.
    # The loop commits written offsets on its own thread.
    def _alert_records(self) -> list[SpoolRecord]:
        topic = self.bus.topics.alerts
        return [
            SpoolRecord(topic, a["event"]["id"].encode(), str(a["organization"]["id"]).encode(), orjson.dumps(a))
            for a in self.alerts
        ]

    def _store_due(self) -> bool:
        """Time to hand events over, and the events lane has none waiting. While it is
        behind, events gather into the next batch (up to the store bounds): batches grow to
        what the store takes in the time, and no event waits behind more than one batch."""
        return time.monotonic() - self._last_store >= self.store_every and not self._queue.qsize()

    def _hand_over(self) -> None:
        """Pending events and alerts to the events lane: stored soon, committed with the
        next checkpoint. Blocks while the lane is two batches behind."""
        if self.events or self.alerts:
            self._seq += 1
            self._queue.put(Batch(self.events, self.alerts, self._alert_records(), self._seq))
            self.events, self.alerts = [], []
            self._pending_bytes = 0
        self._last_store = time.monotonic()

    def _read_out(self) -> Checkpoint | None:
        """The assets that changed since the last checkpoint, and the offsets to commit."""
        if not (self.offsets or self._dirty()):
            return None
        topic = self.bus.topics.assets
        docs: list[dict[str, Any]] = []
        gone: list[str] = []
        records: list[SpoolRecord] = []
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
                    records.append(SpoolRecord(topic, did.encode(), org.encode(), blob))
            vanished = [d for d in t.stored if d not in now]
            gone += vanished
            records += [SpoolRecord(topic, d.encode(), org.encode(), b"") for d in vanished]
            t.stored, t.dirty = now, False
        ck = Checkpoint(docs, gone, records, self.offsets, self._seq)
        self.offsets = {}
        return ck

    def checkpoint(self) -> None:
        """Hand pending events over, then the assets and offsets (waits while a lane is behind)."""
        self._hand_over()
        ck = self._read_out()
        if ck is not None:
            self._checkpoints.put(ck)
        self._last_checkpoint = time.monotonic()
        self._commit_written()

    def _write_batch(self, b: Batch) -> None:
        if b.events:
            self.store.put_raw_events(b.events)
        if b.alerts:
            self.store.put_alerts(b.alerts)
        if b.records:
            self.producers["events"].send_batch(b.records)
        with self._done:
            self._events_done = b.seq
            self._done.notify_all()
        self.stats["stores"] += 1
        self.stats["events_stored"] += len(b.events)
        self.stats["alerts_stored"] += len(b.alerts)
        log.debug("stored %d events, %d alerts, %.3f s after hand-over", len(b.events), len(b.alerts),
                  time.monotonic() - b.made)

    def _write_checkpoint(self, ck: Checkpoint) -> None:
        if ck.assets:
            self.store.put_assets(ck.assets)
        if ck.gone:
            self.store.delete_assets(ck.gone)
        if ck.records:
            self.producers["checkpoint"].send_batch(ck.records)
        with self._done:
            while self._events_done < ck.after:
                if self._abandon.is_set():
                    return
                self._done.wait(0.5)
        with self._lock:
            self._written.update(ck.offsets)
        self.stats["checkpoints"] += 1
        self.stats["assets_stored"] += len(ck.assets)
        log.debug("checkpoint: %d assets stored, offsets writable %.3f s after the read-out", len(ck.assets),
                  time.monotonic() - ck.made)

    def _lane(self, name: str, q: queue.Queue[Any], write: Callable[[Any], None]) -> None:
        """Write what comes, in order; a failed write is retried (it is idempotent) until it
        succeeds or the correlator gives up at exit."""
        while True:
            item = q.get()
            delay = 0.5
            try:
                while True:
                    try:
                        write(item)
                        break
                    except (StoreError, BusError) as exc:
                        with self._lock:  # both lanes count here
                            self.stats["checkpoint_retries"] += 1
                        if isinstance(exc, BusError):
                            self._new_producer(name)
                        if self._abandon.is_set():
                            return
                        log.warning("%s failed (%s); retry in %.1f s",
                                    "checkpoint" if name == "checkpoint" else "storing events", exc, delay)
                        self._abandon.wait(delay)
                        delay = min(delay * 2, self.retry_max)
            finally:
                q.task_done()

    def _idle_lanes(self) -> bool:
        return not self._queue.unfinished_tasks and not self._checkpoints.unfinished_tasks

    def _wait_written(self, timeout: float | None = None) -> bool:
        deadline = None if timeout is None else time.monotonic() + timeout
        while not self._idle_lanes():
            if deadline is not None and time.monotonic() > deadline:
                return False
            time.sleep(0.02)
        return True

    def _commit_written(self) -> None:
        """Commit what the lanes have written, for the partitions this member holds."""
        mine = self.consumer.assignment()
        with self._lock:
            for tp in [tp for tp in self._written if tp not in mine]:
                del self._written[tp]  # its new owner reads on from the committed offset
            offsets = dict(self._written)
        if not offsets:
            return
        try:
            self.consumer.commit(offsets)
        except Rebalanced as exc:
            # The group is rebalancing or has moved on without this member; the next poll
            # joins again (see _revoked and _lost). Nothing is dropped here: a partition
            # kept through a rebalance keeps its position, so whatever was consumed and not
            # yet written would never be read again.
            log.warning("%s: committed after the rebalance", exc)
            return
        except BusError as exc:
            log.warning("commit failed (%s); committed with the next checkpoint", exc)
            return
        with self._lock:
            for tp, o in offsets.items():
                if self._written.get(tp) == o:
                    del self._written[tp]

    def _new_producer(self, lane: str) -> None:
        try:
            self.producers[lane].close()
            self.producers[lane] = self.bus.producer()
        except BusError as exc:
            log.debug("producer not back yet: %s", exc)

    def _revoked(self, partitions: set[tuple[str, int]]) -> None:
        if not partitions:
            return
        self.stats["rebalances"] += 1
        self.checkpoint()
        self._wait_written()
        self._commit_written()

    def _lost(self, partitions: set[tuple[str, int]]) -> None:
        """Put out of the group: these partitions are read again from their committed
        offsets, here or by another member. What is pending is stored (harmless); their
        analytics state and uncommitted offsets are forgotten, as after a crash."""
        if not partitions:
            return
        self.stats["lost"] += 1
        self._hand_over()
        for org in [o for o, t in self.tenants.items() if t.partitions & partitions]:
            del self.tenants[org]
        for tp in partitions:
            self.offsets.pop(tp, None)
        with self._lock:
            for tp in partitions:
                self._written.pop(tp, None)
        log.warning("lost %s: they are read again from their committed offsets", sorted(partitions))

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
        for c in (self.consumer, *self.producers.values()):
            if c is not None:
                c.close()
        self.consumer = None
        self.producers = dict.fromkeys(self.producers)
