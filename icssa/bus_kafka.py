"""Kafka behind the ``Bus`` interface, with kafka-python.

Producer: acks from all in-sync replicas, idempotent (the broker drops retried duplicates),
compressed, in requests of up to 1 MiB a partition. ``send`` appends the records to
kafka-python's buffer and returns at once; its sender thread compresses and sends them
without lingering (callers hand over whole batches). The ``Delivery`` it returns waits for
every acknowledgement: a batch is either delivered or reported as failed (and then spooled
by the caller). The partition is chosen here from the record's partition key (see
``icssa.bus``).

Compression (``kafka://...?compression=lz4|zstd|snappy|gzip|none``): lz4 by default when the
``lz4`` package is installed, else gzip (in the standard library). Per event on this machine
(~800-byte events, batches of ~600): lz4 ~0.5 µs, gzip ~11 µs (kafka-python compresses at
level 9), which was a third of the sensor's time. Record batches carry a CRC-32C that
kafka-python computes (producer) and checks (consumer) in pure Python unless the ``crc32c``
package is installed (~4 µs per event each side without it).

Consumer: a group member with automatic commits off; offsets are committed by the caller
once what it derived from the records is stored. A revocation or assignment is reported to
the caller's callbacks inside ``poll``. Events messages are large (hundreds of events, up
to ``MAX_MESSAGE``), so a poll asks for a few dozen of them, not hundreds: what one poll
returns is decompressed at once and stays in memory until it has been processed.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any

from kafka import ConsumerRebalanceListener, KafkaAdminClient, KafkaConsumer, KafkaProducer
from kafka.admin import NewTopic
from kafka.codec import has_gzip, has_lz4, has_snappy, has_zstd
from kafka.errors import (
    CommitFailedError,
    IllegalGenerationError,
    KafkaError,
    RebalanceInProgressError,
    TopicAlreadyExistsError,
    UnknownMemberIdError,
)
from kafka.structs import OffsetAndMetadata, TopicPartition

from icssa.bus import (
    DEFAULT_PARTITIONS,
    Assigned,
    Bus,
    BusError,
    Consumer,
    Delivery,
    Message,
    Producer,
    Rebalanced,
    Topics,
    murmur2_partition,
)
from icssa.spool import SpoolRecord

log = logging.getLogger("icssa.bus.kafka")
for noisy in ("kafka", "kafka.conn", "kafka.client", "kafka.net"):
    logging.getLogger(noisy).setLevel(logging.CRITICAL)

TIMEOUT_MS = 5000
CODECS = {"lz4": has_lz4, "zstd": has_zstd, "snappy": has_snappy, "gzip": has_gzip, "none": lambda: True}


def default_compression() -> str:
    return "lz4" if has_lz4() else "gzip"


def check_compression(name: str) -> str:
    """The codec name if kafka-python can use it here, else BusError saying what to install."""
    have = CODECS.get(name)
    if have is None:
        raise BusError(f"unknown compression {name!r}: use one of {', '.join(CODECS)}")
    if not have():
        raise BusError(f"compression {name} needs the python package {'python-snappy' if name == 'snappy' else name}")
    return name


class KafkaBus(Bus):
    def __init__(
        self, servers: str, *, prefix: str = "icssa.", partitions: int = DEFAULT_PARTITIONS,
        compression: str | None = None,
    ) -> None:
        self.servers = servers.split(",")
        self.topics = Topics.with_prefix(prefix)
        self.partitions = partitions
        self.compression = check_compression(compression or default_compression())
        self._ensured = False

    def ensure_topics(self, partitions: int | None = None) -> None:
        if self._ensured:
            return
        n = partitions or self.partitions
        try:
            admin = KafkaAdminClient(
                bootstrap_servers=self.servers, client_id="icssa-admin", request_timeout_ms=TIMEOUT_MS,
                bootstrap_timeout_ms=TIMEOUT_MS,
            )
        except KafkaError as exc:
            raise BusError(f"kafka {','.join(self.servers)}: {exc}") from exc
        try:
            existing = set(admin.list_topics())
            wanted = [
                NewTopic(self.topics.events, n, 1),
                NewTopic(self.topics.alerts, n, 1),
                NewTopic(self.topics.assets, n, 1, topic_configs={"cleanup.policy": "compact"}),
            ]
            missing = [t for t in wanted if t.name not in existing]
            if missing:
                try:
                    admin.create_topics(missing, timeout_ms=TIMEOUT_MS)
                except TopicAlreadyExistsError:
                    pass  # another sensor or consumer made them first
        except KafkaError as exc:
            raise BusError(f"kafka {','.join(self.servers)}: creating topics: {exc}") from exc
        finally:
            admin.close()
        self._ensured = True

    def producer(self) -> Producer:
        return _KafkaProducer(self.servers, self.compression)

    def consumer(
        self, group: str, topics: Sequence[str], *, on_revoke: Assigned | None = None,
        on_assign: Assigned | None = None, on_lost: Assigned | None = None, **config: Any,
    ) -> Consumer:
        return _KafkaConsumer(self.servers, group, list(topics), _Listener(on_revoke, on_assign, on_lost), config)


class _KafkaProducer(Producer):
    def __init__(self, servers: list[str], compression: str) -> None:
        try:
            self.p = KafkaProducer(
                bootstrap_servers=servers, client_id="icssa-sensor", acks="all", enable_idempotence=True,
                compression_type=None if compression == "none" else compression, linger_ms=0,
                batch_size=1 << 20, max_request_size=8 << 20,
                max_block_ms=TIMEOUT_MS, request_timeout_ms=TIMEOUT_MS,
                delivery_timeout_ms=3 * TIMEOUT_MS, bootstrap_timeout_ms=TIMEOUT_MS,
            )
        except KafkaError as exc:
            raise BusError(f"kafka {','.join(servers)}: {exc}") from exc
        self.partitions: dict[str, int] = {}

    def _count(self, topic: str) -> int:
        n = self.partitions.get(topic)
        if n is None:
            parts = self.p.partitions_for(topic)
            if not parts:
                raise BusError(f"kafka: topic {topic} has no partitions")
            n = self.partitions[topic] = len(parts)
        return n

    def send(self, records: Sequence[SpoolRecord]) -> Delivery:
        try:
            futures = []
            for r in records:
                part = murmur2_partition(r.partition_key or r.key or b"", self._count(r.topic))
                # an empty value is a tombstone (a deleted asset on the compacted topic)
                futures.append(self.p.send(r.topic, value=r.value or None, key=r.key, partition=part))
        except KafkaError as exc:
            raise BusError(f"kafka: {exc}") from exc
        return _KafkaDelivery(self.p, futures)

    def close(self) -> None:
        try:
            self.p.close(timeout=0)
        except KafkaError as exc:
            log.debug("closing producer: %s", exc)


class _KafkaDelivery(Delivery):
    def __init__(self, producer: KafkaProducer, futures: list[Any]) -> None:
        self.p = producer
        self.futures = futures

    def done(self) -> bool:
        return all(f.is_done for f in self.futures)

    def wait(self) -> None:
        try:
            if not self.done():  # waits for the producer's outstanding records
                self.p.flush(timeout=3 * TIMEOUT_MS / 1000)
        except KafkaError as exc:
            raise BusError(f"kafka: {exc}") from exc
        for f in self.futures:
            if not f.is_done:
                raise BusError("kafka: delivery not acknowledged in time")
            if f.failed():
                raise BusError(f"kafka: delivery failed: {f.exception}")


class _Listener(ConsumerRebalanceListener):
    def __init__(self, on_revoke: Assigned | None, on_assign: Assigned | None, on_lost: Assigned | None) -> None:
        self.on_revoke = on_revoke
        self.on_assign = on_assign
        self.on_lost = on_lost

    def on_partitions_revoked(self, revoked: Any) -> None:
        if self.on_revoke is not None:
            self.on_revoke({(tp.topic, tp.partition) for tp in revoked})

    def on_partitions_assigned(self, assigned: Any) -> None:
        if self.on_assign is not None:
            self.on_assign({(tp.topic, tp.partition) for tp in assigned})

    def on_partitions_lost(self, lost: Any) -> None:
        """Out of the group (session expired, generation fenced): kafka-python then drops
        these partitions' positions; without this handler it would call the revoke one."""
        if self.on_lost is not None:
            self.on_lost({(tp.topic, tp.partition) for tp in lost})
        elif self.on_revoke is not None:
            self.on_revoke({(tp.topic, tp.partition) for tp in lost})


class _KafkaConsumer(Consumer):
    def __init__(
        self, servers: list[str], group: str, topics: list[str], listener: _Listener, config: dict[str, Any],
    ) -> None:
        options: dict[str, Any] = {
            "bootstrap_servers": servers, "group_id": group, "client_id": f"{group}-consumer",
            "enable_auto_commit": False, "auto_offset_reset": "earliest", "max_poll_records": 64,
            "fetch_max_bytes": 16 << 20, "max_partition_fetch_bytes": 4 << 20,
            # a store outage may hold the loop (retrying) this long before the group moves on
            "max_poll_interval_ms": 600_000, "session_timeout_ms": 10_000, "heartbeat_interval_ms": 2_000,
            "request_timeout_ms": 30_000, "bootstrap_timeout_ms": TIMEOUT_MS,
        }
        options.update(config)
        try:
            self.c = KafkaConsumer(**options)
        except KafkaError as exc:
            raise BusError(f"kafka {','.join(servers)}: {exc}") from exc
        self.c.subscribe(topics, listener=listener)

    def poll(self, max_records: int, timeout: float) -> list[Message]:
        try:
            batches = self.c.poll(timeout_ms=int(timeout * 1000), max_records=max_records)
        except KafkaError as exc:
            raise BusError(f"kafka: poll: {exc}") from exc
        out: list[Message] = []
        for tp, records in batches.items():
            out.extend(Message(tp.topic, tp.partition, r.offset, r.key, r.value) for r in records)
        return out

    def commit(self, offsets: Mapping[tuple[str, int], int]) -> None:
        if not offsets:
            return
        try:
            self.c.commit(
                {TopicPartition(t, p): OffsetAndMetadata(o, "", -1) for (t, p), o in offsets.items()},
                timeout_ms=3 * TIMEOUT_MS,
            )
        except (CommitFailedError, IllegalGenerationError, UnknownMemberIdError, RebalanceInProgressError) as exc:
            raise Rebalanced(f"kafka: commit refused: {exc}") from exc
        except KafkaError as exc:
            raise BusError(f"kafka: commit: {exc}") from exc

    def assignment(self) -> set[tuple[str, int]]:
        return {(tp.topic, tp.partition) for tp in self.c.assignment()}

    def close(self) -> None:
        try:
            self.c.close(autocommit=False, timeout_ms=TIMEOUT_MS)
        except KafkaError as exc:
            log.debug("closing consumer: %s", exc)
