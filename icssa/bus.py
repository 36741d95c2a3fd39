"""The event bus: topics, producers and consumer groups, in memory or on Kafka.

Topics (``icssa.`` is the default prefix; ``kafka://HOST:PORT?prefix=NAME`` changes it):

| topic | key | value | kept |
|---|---|---|---|
| ``icssa.events`` | ``organization.id`` (the tenant) | events of that tenant, in order, JSON, one a line | by time |
| ``icssa.alerts`` | alert ``event.id`` | alert JSON | by time |
| ``icssa.assets`` | ``organization.id/asset id`` | asset JSON | compacted: the latest per asset |

Partitioning: a record's partition is chosen from its *partition key*, the tenant
(``organization.id``), with Kafka's own murmur2 hash (the partition any Kafka client would pick
for that key). Correlation and the asset map keep state per tenant (the engine's group keys
start with ``organization.id``) and read events in order across flows (scans, sequences,
evidence), so a tenant's events travel in one partition in the order the sensor saw them:
then N consumers in a group produce exactly what one does, and every flow, being inside a
tenant, keeps its order. (Keying by flow would keep each flow's order but let a consumer see
one tenant's flows interleaved differently from the sensor, and the results would differ.)

An events message carries consecutive events of one tenant from one publisher batch, as JSON
lines (``split_events``): Kafka's per-message cost is paid per batch, not per event, which
halves the sensor's and the consumer's work in Python. A message stays under
``MAX_MESSAGE`` bytes (a large batch takes several).

``Publisher`` is the sensor's side: batches by size and by time, sends each batch with
acks from all replicas, and when the broker is unreachable keeps batches in the on-disk
``Spool`` (fsync per batch) and drains it, in order, before anything newer once the broker
answers again.
"""

from __future__ import annotations

import logging
import time
from abc import ABC, abstractmethod
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from urllib.parse import parse_qs, urlsplit

import orjson

from icssa.events import Event
from icssa.spool import Spool, SpoolRecord

log = logging.getLogger("icssa.bus")

DEFAULT_PARTITIONS = 4
MAX_MESSAGE = 512 << 10


def split_events(value: bytes) -> list[bytes]:
    """The events in an events message (JSON never holds a raw newline)."""
    return value.split(b"\n") if value else []


class BusError(Exception):
    """The broker could not take or give records (unreachable, timed out, refused)."""


class Rebalanced(BusError):
    """The consumer group moved partitions away before offsets could be committed."""


@dataclass(frozen=True)
class Topics:
    events: str
    alerts: str
    assets: str

    @classmethod
    def with_prefix(cls, prefix: str = "icssa.") -> Topics:
        return cls(f"{prefix}events", f"{prefix}alerts", f"{prefix}assets")


@dataclass(frozen=True, slots=True)
class Message:
    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes


def murmur2_partition(key: bytes, partitions: int) -> int:
    """Kafka's default partitioner: the same partition a Java or librdkafka producer picks."""
    from kafka.partitioner.default import murmur2

    return (murmur2(key) & 0x7FFFFFFF) % partitions


class Producer(ABC):
    @abstractmethod
    def send_batch(self, records: Sequence[SpoolRecord]) -> None:
        """Deliver every record (acknowledged) or raise BusError."""

    @abstractmethod
    def close(self) -> None: ...


Assigned = Callable[[set[tuple[str, int]]], None]


class Consumer(ABC):
    @abstractmethod
    def poll(self, max_records: int, timeout: float) -> list[Message]: ...

    @abstractmethod
    def commit(self, offsets: Mapping[tuple[str, int], int]) -> None:
        """Commit the next offsets to read; raises Rebalanced when the group moved on."""

    @abstractmethod
    def assignment(self) -> set[tuple[str, int]]: ...

    @abstractmethod
    def close(self) -> None: ...


class Bus(ABC):
    topics: Topics

    @abstractmethod
    def ensure_topics(self, partitions: int = DEFAULT_PARTITIONS) -> None: ...

    @abstractmethod
    def producer(self) -> Producer: ...

    @abstractmethod
    def consumer(
        self, group: str, topics: Sequence[str], *, on_revoke: Assigned | None = None,
        on_assign: Assigned | None = None, on_lost: Assigned | None = None,
    ) -> Consumer:
        """A group member. Called inside ``poll``: ``on_revoke`` before a rebalance takes
        partitions away (offsets may still be committed), ``on_lost`` when the member was
        put out of the group (they may not: those partitions are read again from their
        committed offsets, here or elsewhere), ``on_assign`` with the new assignment.
        A partition kept through a rebalance keeps its position."""

    def close(self) -> None:  # noqa: B027 - most buses hold nothing between calls
        """Nothing to release by default."""


# -- in memory ------------------------------------------------------------------------------
class MemoryBus(Bus):
    """One process, bounded: ``send_batch`` raises BusError beyond ``capacity`` records a topic.
    Every consumer gets every partition; groups keep their committed offsets."""

    def __init__(self, partitions: int = DEFAULT_PARTITIONS, capacity: int = 1_000_000, prefix: str = "icssa.") -> None:
        self.topics = Topics.with_prefix(prefix)
        self.partitions = partitions
        self.capacity = capacity
        self.logs: dict[str, list[list[tuple[bytes | None, bytes]]]] = {}
        self.committed: dict[str, dict[tuple[str, int], int]] = {}

    def ensure_topics(self, partitions: int = DEFAULT_PARTITIONS) -> None:
        for t in (self.topics.events, self.topics.alerts, self.topics.assets):
            self.logs.setdefault(t, [[] for _ in range(self.partitions)])

    def producer(self) -> Producer:
        self.ensure_topics()
        return _MemoryProducer(self)

    def consumer(
        self, group: str, topics: Sequence[str], *, on_revoke: Assigned | None = None,
        on_assign: Assigned | None = None, on_lost: Assigned | None = None,
    ) -> Consumer:
        self.ensure_topics()
        c = _MemoryConsumer(self, group, list(topics))
        if on_assign is not None:
            on_assign(c.assignment())
        return c


class _MemoryProducer(Producer):
    def __init__(self, bus: MemoryBus) -> None:
        self.bus = bus

    def send_batch(self, records: Sequence[SpoolRecord]) -> None:
        for r in records:
            parts = self.bus.logs.get(r.topic)
            if parts is None:
                raise BusError(f"unknown topic {r.topic}")
            if sum(map(len, parts)) >= self.bus.capacity:
                raise BusError(f"memory bus: {r.topic} holds {self.bus.capacity} records")
            p = murmur2_partition(r.partition_key or r.key or b"", len(parts))
            parts[p].append((r.key, r.value))

    def close(self) -> None:
        """Nothing buffered."""


class _MemoryConsumer(Consumer):
    def __init__(self, bus: MemoryBus, group: str, topics: list[str]) -> None:
        self.bus = bus
        self.offsets = bus.committed.setdefault(group, {})
        self.topics = topics
        self.position = {
            (t, p): self.offsets.get((t, p), 0) for t in topics for p in range(len(bus.logs[t]))
        }

    def poll(self, max_records: int, timeout: float) -> list[Message]:
        out: list[Message] = []
        for (t, p), pos in self.position.items():
            log_ = self.bus.logs[t][p]
            take = log_[pos : pos + max_records - len(out)]
            out.extend(Message(t, p, pos + i, k, v) for i, (k, v) in enumerate(take))
            self.position[(t, p)] = pos + len(take)
            if len(out) >= max_records:
                break
        return out

    def commit(self, offsets: Mapping[tuple[str, int], int]) -> None:
        self.offsets.update(offsets)

    def assignment(self) -> set[tuple[str, int]]:
        return set(self.position)

    def close(self) -> None:
        """Nothing to release."""


def _events_in(records: Sequence[SpoolRecord]) -> int:
    return sum(r.value.count(b"\n") + 1 for r in records)


def open_bus(url: str) -> Bus:
    """``memory`` or ``kafka://HOST:PORT[,HOST:PORT...][?prefix=NAME&partitions=N&compression=CODEC]``."""
    if url == "memory":
        return MemoryBus()
    if url.startswith("kafka://"):
        from icssa.bus_kafka import KafkaBus

        parts = urlsplit(url)
        q = parse_qs(parts.query)
        if not parts.netloc:
            raise BusError(f"{url}: no broker address (kafka://HOST:PORT)")
        return KafkaBus(
            parts.netloc, prefix=q.get("prefix", ["icssa."])[0],
            partitions=int(q.get("partitions", [DEFAULT_PARTITIONS])[0]),
            compression=q.get("compression", [None])[0],
        )
    raise BusError(f"unknown bus {url!r}: use memory or kafka://HOST:PORT")


# -- the sensor's publisher ------------------------------------------------------------------
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
            self.flush()

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
        """Call now and then (idle capture): sends a batch older than ``linger``, retries the spool."""
        now = time.monotonic()
        if (self._count and now - self._first >= self.linger) or (len(self.spool) and now >= self._retry_at):
            self.flush()

    @property
    def spool_depth(self) -> int:
        return len(self.spool)

    # -- output ----------------------------------------------------------------------------
    def flush(self) -> None:
        batch = self._take() if self._count else []
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
            producer.send_batch(batch)
        except BusError as exc:
            self._lost(exc)
            self._to_spool(batch)
            return
        self.stats["published"] += _events_in(batch)
        self.stats["messages"] += len(batch)

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
        """Send what is batched; try to empty the spool for up to drain_timeout seconds."""
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
