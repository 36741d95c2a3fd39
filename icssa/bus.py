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

The sensor's side, batching, spooling and pipelined sends, is ``icssa.publisher.Publisher``.
"""

from __future__ import annotations

import logging
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from urllib.parse import parse_qs, urlsplit

from icssa.spool import SpoolRecord

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


class Delivery(ABC):
    """Records handed to a producer, on their way to the broker."""

    @abstractmethod
    def done(self) -> bool:
        """True once every record is acknowledged or has failed (``wait`` returns at once)."""

    @abstractmethod
    def wait(self) -> None:
        """Return once every record is acknowledged; raise BusError if one is not."""


class Producer(ABC):
    @abstractmethod
    def send(self, records: Sequence[SpoolRecord]) -> Delivery:
        """Hand records over without waiting for the broker; BusError if it refuses them. Records
        of one partition keep their order within a send; a caller that needs order across sends
        waits for one delivery before the next send."""

    def send_batch(self, records: Sequence[SpoolRecord]) -> None:
        """Deliver every record (acknowledged) or raise BusError."""
        self.send(records).wait()

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


class Delivered(Delivery):
    """Records the broker took as they were handed over (the memory bus)."""

    def done(self) -> bool:
        return True

    def wait(self) -> None:
        """Nothing outstanding."""


DELIVERED = Delivered()


class _MemoryProducer(Producer):
    def __init__(self, bus: MemoryBus) -> None:
        self.bus = bus

    def send(self, records: Sequence[SpoolRecord]) -> Delivery:
        for r in records:
            parts = self.bus.logs.get(r.topic)
            if parts is None:
                raise BusError(f"unknown topic {r.topic}")
            if sum(map(len, parts)) >= self.bus.capacity:
                raise BusError(f"memory bus: {r.topic} holds {self.bus.capacity} records")
            p = murmur2_partition(r.partition_key or r.key or b"", len(parts))
            parts[p].append((r.key, r.value))
        return DELIVERED

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
