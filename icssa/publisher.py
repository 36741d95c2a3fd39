"""The sensor's publisher: events in, batches out to the bus (``icssa.bus``).

``Publisher`` is the sensor's side: batches by size and by time, sends each batch with
acks from all replicas, and when the broker is unreachable keeps batches in the on-disk
``Spool`` (fsync per batch) and drains it, in order, before anything newer once the broker
answers again.

Publishing overlaps parsing: a full batch is handed to the producer (``Producer.send``) and
the sensor goes on parsing the next one while the broker acknowledges it. One batch is in
flight at a time: batch N+1 is handed over only once batch N is acknowledged, so it can never
overtake N, and a failure leaves an ordered tail (N, then N+1, then newer) for the spool. At
most two batches are in memory (the one in flight and the one filling); ``flush`` and
``close`` wait until every batch is acknowledged or spooled.
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from collections.abc import Sequence

import orjson

from icssa.bus import MAX_MESSAGE, Bus, BusError, Delivery, Producer
from icssa.events import Event
from icssa.spool import Spool, SpoolRecord

log = logging.getLogger("icssa.bus")


def _events_in(records: Sequence[SpoolRecord]) -> int:
    return sum(r.value.count(b"\n") + 1 for r in records)


class Publisher:
    """Events in, batches out to the bus; the spool holds them while the bus is away."""

    def __init__(
        self, bus: Bus, spool: Spool, *, batch_size: int = 2000, linger: float = 0.2,
        retry_initial: float = 0.5, retry_max: float = 15.0, drain_budget: float = 2.0,
    ) -> None:
        self.bus = bus
        self.spool = spool
        self.topic = bus.topics.events
        self.batch_size = batch_size
        self.linger = linger
        self.retry_initial = retry_initial
        self.retry_max = retry_max
        self.drain_budget = drain_budget
        self.stats: Counter[str] = Counter()
        #: tenant -> its encoded events, in order
        self._groups: dict[str, list[bytes]] = {}
        self._count = 0
        self._first = 0.0
        self._producer: Producer | None = None
        #: the batch handed to the producer and not yet acknowledged, with its delivery
        self._inflight: tuple[Delivery, list[SpoolRecord]] | None = None
        self._retry_at = 0.0
        self._delay = retry_initial
        self._dumps = orjson.dumps

    # -- input -----------------------------------------------------------------------------
    def publish(self, event: Event) -> None:
        org = event.get("organization")
        oid = org.get("id") if org.__class__ is dict else None
        if not self._count:
            self._first = time.monotonic()
        k = oid if oid.__class__ is str else "default" if oid is None else str(oid)
        group = self._groups.get(k)
        if group is None:
            self._groups[k] = [self._dumps(event)]
        else:
            group.append(self._dumps(event))
        self._count += 1
        if self._count >= self.batch_size:
            self._ship()

    def _take(self) -> list[SpoolRecord]:
        """The batch as messages: one per tenant (more if it outgrows MAX_MESSAGE)."""
        out: list[SpoolRecord] = []
        topic = self.topic
        for org, blobs in self._groups.items():
            ob = org.encode()
            start, size = 0, 0
            for i, b in enumerate(blobs):
                if size and size + len(b) > MAX_MESSAGE:
                    out.append(SpoolRecord(topic, ob, ob, b"\n".join(blobs[start:i])))
                    start, size = i, 0
                size += len(b) + 1
            out.append(SpoolRecord(topic, ob, ob, b"\n".join(blobs[start:])))
        self.stats["events"] += self._count
        self._groups = {}
        self._count = 0
        return out

    def tick(self) -> None:
        """Call now and then (idle capture): settles an answered delivery, sends a batch older than
        ``linger`` unless the one before it is still in flight, retries the spool. Never waits
        for the broker."""
        if self._inflight is not None and not self._settle(wait=False):
            return
        now = time.monotonic()
        if (self._count and now - self._first >= self.linger) or (len(self.spool) and now >= self._retry_at):
            self._ship()

    @property
    def spool_depth(self) -> int:
        return len(self.spool)

    # -- output ----------------------------------------------------------------------------
    def flush(self) -> None:
        """Send what is batched and wait: then every event taken so far is acknowledged or spooled."""
        self._ship()
        self._settle(wait=True)

    def _ship(self) -> None:
        """Hand the batch to the producer once the batch in flight is settled and the spool empty."""
        batch = self._take() if self._count else []
        self._settle(wait=True)
        if len(self.spool) and not self._drain():
            self._to_spool(batch)
            return
        if not batch:
            return
        producer = self._connect()
        if producer is None:
            self._to_spool(batch)
            return
        try:
            self._inflight = (producer.send(batch), batch)
        except BusError as exc:
            self._lost(exc)
            self._to_spool(batch)

    def _settle(self, *, wait: bool) -> bool:
        """Account for the batch in flight: published once acknowledged, else spooled (before
        anything newer). Without ``wait``, only if the broker has answered. True when settled."""
        if self._inflight is None:
            return True
        delivery, batch = self._inflight
        if not wait and not delivery.done():
            return False
        try:
            delivery.wait()
        except BusError as exc:
            self._inflight = None
            self._lost(exc)
            self._to_spool(batch)
            return True
        self._inflight = None
        self.stats["published"] += _events_in(batch)
        self.stats["messages"] += len(batch)
        return True

    def _to_spool(self, batch: list[SpoolRecord]) -> None:
        if not batch:
            return
        kept = self.spool.append(batch)
        self.stats["spooled"] += _events_in(batch[:kept])
        if kept < len(batch):
            lost = _events_in(batch[kept:])
            self.stats["spool_dropped"] += lost
            log.error("spool full (%d bytes): %d events dropped", self.spool.max_bytes, lost)

    def _connect(self) -> Producer | None:
        if self._producer is not None:
            return self._producer
        if time.monotonic() < self._retry_at:
            return None
        try:
            self.bus.ensure_topics()
            self._producer = self.bus.producer()
        except BusError as exc:
            self._lost(exc)
            return None
        if self.stats["disconnects"]:
            log.warning("bus reachable again")
        self._delay = self.retry_initial
        return self._producer

    def _lost(self, exc: BaseException) -> None:
        if self._producer is not None:
            self._producer.close()
            self._producer = None
        self.stats["disconnects"] += 1
        log.warning("bus unreachable (%s): spooling; retry in %.1f s", exc, self._delay)
        self._retry_at = time.monotonic() + self._delay
        self._delay = min(self._delay * 2, self.retry_max)

    def _drain(self, budget: float | None = None) -> bool:
        """Send spooled records oldest first; True when the spool is empty."""
        deadline = time.monotonic() + (self.drain_budget if budget is None else budget)
        while len(self.spool):
            producer = self._connect()
            if producer is None:
                return False
            def send(records: list[SpoolRecord], producer: Producer = producer) -> None:
                producer.send_batch(records)
                self.stats["drained"] += _events_in(records)

            try:
                self.spool.drain(send, 256)
            except BusError as exc:
                self._lost(exc)
                return False
            if time.monotonic() > deadline:
                return not len(self.spool)
        return True

    def close(self, drain_timeout: float = 10.0) -> None:
        """Send what is batched and wait for it; try to empty the spool for up to drain_timeout seconds."""
        self.flush()
        deadline = time.monotonic() + drain_timeout
        while len(self.spool) and time.monotonic() < deadline:
            if not self._drain(budget=max(0.0, deadline - time.monotonic())):
                wait = min(self._retry_at, deadline) - time.monotonic()
                if wait > 0:
                    time.sleep(wait)
        if len(self.spool):
            log.warning("%d events stay in the spool %s for the next start", len(self.spool), self.spool.dir)
        if self._producer is not None:
            self._producer.close()
            self._producer = None
        self.spool.close()
