"""``icssa correlate``: one member of the consumer group ``icssa-correlate``.

Per tenant it keeps a correlation engine and an asset map (a tenant's events all arrive on
one partition, see ``icssa.bus``). Each event is decoded once, for the analytics; the store
gets its bytes as they came. Two writer threads (``icssa.correlator_writer``) store what the
loop hands them, each in order, so consuming and correlating overlap with storing:
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
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import orjson

from icssa.bus import Bus, BusError, Rebalanced, split_events
from icssa.correlator_writer import Batch, Checkpoint, Writer
from icssa.spool import SpoolRecord
from icssa.store import Store, asset_doc_id

log = logging.getLogger("icssa.correlator")

GROUP = "icssa-correlate"


@dataclass
class Tenant:
    engine: Any
    assets: Any
    partitions: set[tuple[str, int]] = field(default_factory=set)
    dirty: bool = False
    #: asset doc id -> the JSON last stored (to store only what changed)
    stored: dict[str, bytes] = field(default_factory=dict)


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
        self._seq = 0
        self.writer = Writer(bus, store, self.stats, retry_max=retry_max)
        #: the analytics of the first tenant, made before joining the group (compiling the
        #: rules and loading the asset map's data take a good part of a second)
        self._spare: tuple[Any, Any] | None = None

    # -- the loop --------------------------------------------------------------------------
    def run(self, stop: threading.Event, exit_when_idle: float | None = None) -> None:
        if not self.tenants and self._spare is None:
            self._spare = self.make_tenant()
        self._connect(stop)
        last_msg = time.monotonic()
        delay = 0.5
        behind = self.writer.behind
        while not stop.is_set():
            # wait for records no longer than until pending events are due at the store
            if not self.events:
                wait = 0.5
            elif behind():  # the writer is behind: gather more, without spinning
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
                elif (self.events or self.alerts) and not behind() \
                        and (not msgs or now - self._last_store >= self.store_every):
                    self._hand_over()  # caught up, or due: stored now, committed at the checkpoint
            elif exit_when_idle is not None and self._flushed and now - last_msg >= exit_when_idle \
                    and self.writer.idle() and not self.writer.has_written():
                break
        self._flush_engines()
        self.finish()
        self.close()

    def _connect(self, stop: threading.Event) -> None:
        delay = 0.5
        while True:
            try:
                self.bus.ensure_topics()
                self.writer.connect()
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
            engine, assets = self._spare or self.make_tenant()
            self._spare = None
            t = self.tenants[org] = Tenant(engine, assets)
        t.partitions.add(tp)
        return t

    def _process(self, msgs: list[Any]) -> None:
        """Decode each event once, feed its tenant's asset map and engine, keep its bytes for
        the store; hand events over whenever one of the store bounds is reached."""
        loads = orjson.loads
        consumed = undecodable = 0
        for m in msgs:
            tp = (m.topic, m.partition)
            self.offsets[tp] = m.offset + 1
            value = m.value or b""
            self._pending_bytes += len(value)
            lines = split_events(value)
            consumed += len(lines)
            bad: set[bytes] | None = None
            org: Any = None
            t: Tenant | None = None
            observe: Any = None
            process: Any = None
            for raw in lines:
                try:
                    ev = loads(raw)
                    o = ev["organization"]["id"]
                except (orjson.JSONDecodeError, KeyError, TypeError):
                    if bad is None:
                        bad = set()
                    bad.add(raw)  # the same bytes are as undecodable wherever they occur
                    continue
                if t is None or o != org:  # a message holds one tenant's events, as a rule
                    org = o
                    t = self._tenant(str(o), tp)
                    t.dirty = True
                    observe, process = t.assets.observe, t.engine.process
                try:
                    observe(ev)
                    alerts = process(ev)
                except Exception:  # a bad event must not stop the consumer: count, log once, go on
                    if not self.stats["engine_errors"]:
                        log.exception("correlation failed on an event at offset %s; further ones counted", m.offset)
                    self.stats["engine_errors"] += 1
                    continue
                if alerts:
                    self.alerts.extend(alerts)
            if bad is None:
                self.events += lines
            else:
                undecodable += sum(1 for raw in lines if raw in bad)
                self.events += [raw for raw in lines if raw not in bad]
            self._flushed = False
            if len(self.events) >= self.store_events or self._pending_bytes >= self.store_bytes or self._store_due():
                self._hand_over()
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

    # -- hand-overs and checkpoints --------------------------------------------------------
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
        return time.monotonic() - self._last_store >= self.store_every and not self.writer.behind()

    def _hand_over(self) -> None:
        """Pending events and alerts to the events lane: stored soon, committed with the
        next checkpoint. Blocks while the lane is two batches behind."""
        if self.events or self.alerts:
            self._seq += 1
            self.writer.put_batch(Batch(self.events, self.alerts, self._alert_records(), self._seq))
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
            self.writer.put_checkpoint(ck)
        self._last_checkpoint = time.monotonic()
        self._commit_written()

    def _commit_written(self) -> None:
        """Commit what the lanes have written, for the partitions this member holds."""
        offsets = self.writer.take_written(self.consumer.assignment())
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
        self.writer.committed(offsets)

    # -- group membership ------------------------------------------------------------------
    def _revoked(self, partitions: set[tuple[str, int]]) -> None:
        if not partitions:
            return
        self.stats["rebalances"] += 1
        self.checkpoint()
        self.writer.wait()
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
        self.writer.forget(partitions)
        log.warning("lost %s: they are read again from their committed offsets", sorted(partitions))

    def _assigned(self, partitions: set[tuple[str, int]]) -> None:
        for org in [o for o, t in self.tenants.items() if not t.partitions <= partitions]:
            del self.tenants[org]
        log.info("assigned %s", sorted(partitions))

    def finish(self, timeout: float = 60.0) -> None:
        """At exit: write what is pending, wait for it (bounded), commit."""
        self.checkpoint()
        if not self.writer.wait(timeout):
            log.error("store or bus still away after %.0f s: uncommitted events are read again on restart", timeout)
        self.writer.abandon()
        self._commit_written()

    def close(self) -> None:
        if self.consumer is not None:
            self.consumer.close()
        self.consumer = None
        self.writer.close()
