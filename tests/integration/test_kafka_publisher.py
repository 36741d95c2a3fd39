"""The sensor's publisher on the real broker: batches handed over while the next one fills
arrive once each and in sensor order per tenant, and a batch the broker refuses in flight
is reported by its delivery and kept in the spool."""

from __future__ import annotations

import os
from pathlib import Path

import orjson
from kafka import KafkaAdminClient, KafkaConsumer, TopicPartition
from kafka.admin import NewTopic

from icssa.bus import BusError, open_bus, split_events
from icssa.publisher import Publisher
from icssa.spool import Spool, SpoolRecord

from .conftest import KAFKA, Namespace

TENANTS = ["js/nj/a", "js/sz/b", "js/wx/c"]


def _event(i: int, org: str, pad: str = "") -> dict:
    return {"event": {"id": f"e{i}"}, "organization": {"id": org}, "pad": pad}


def _read_topic(topic: str) -> dict[str, list[str]]:
    """Event ids per tenant (message key), in partition order, from the start of the topic;
    checks that each tenant stays in one partition."""
    c = KafkaConsumer(bootstrap_servers=KAFKA, enable_auto_commit=False, request_timeout_ms=10_000)
    try:
        tps = [TopicPartition(topic, p) for p in sorted(c.partitions_for_topic(topic) or ())]
        c.assign(tps)
        c.seek_to_beginning(*tps)
        ends = c.end_offsets(tps)
        out: dict[str, list[str]] = {}
        where: dict[str, set[int]] = {}
        while any(c.position(tp) < ends[tp] for tp in tps):
            for tp, records in c.poll(timeout_ms=1000).items():
                for r in records:
                    ids = [orjson.loads(x)["event"]["id"] for x in split_events(r.value)]
                    out.setdefault(r.key.decode(), []).extend(ids)
                    where.setdefault(r.key.decode(), set()).add(tp.partition)
        assert all(len(parts) == 1 for parts in where.values()), where
        return out
    finally:
        c.close()


def test_pipelined_batches_arrive_once_in_sensor_order(ns: Namespace, tmp_path: Path) -> None:
    bus = open_bus(ns.bus)
    pub = Publisher(bus, Spool(tmp_path / "spool"), batch_size=37, linger=60)
    sent: dict[str, list[str]] = {}
    for i in range(3000):
        org = TENANTS[(i * 7 // 5) % len(TENANTS)]
        pub.publish(_event(i, org))
        sent.setdefault(org, []).append(f"e{i}")
    pub.close()
    assert pub.stats["published"] == 3000 and pub.stats["spooled"] == 0 and pub.spool_depth == 0
    assert _read_topic(bus.topics.events) == sent


def test_a_record_the_broker_refuses_fails_its_delivery_and_is_spooled(ns: Namespace, tmp_path: Path) -> None:
    bus = open_bus(ns.bus)
    admin = KafkaAdminClient(bootstrap_servers=KAFKA, request_timeout_ms=10_000)
    try:  # the events topic takes messages of at most 4 KB
        admin.create_topics([NewTopic(bus.topics.events, 4, 1, topic_configs={"max.message.bytes": "4096"})])
    finally:
        admin.close()
    big = os.urandom(16_000).hex()  # random: stays far above 4 KB once compressed
    producer = bus.producer()
    try:
        delivery = producer.send([SpoolRecord(bus.topics.events, b"k", b"k", orjson.dumps(_event(0, "x", big)))])
        try:
            delivery.wait()
        except BusError as exc:
            assert "delivery failed" in str(exc)
        else:
            raise AssertionError("the broker took a message over its max.message.bytes")
        assert delivery.done()
    finally:
        producer.close()

    pub = Publisher(bus, Spool(tmp_path / "spool"), batch_size=2, linger=60)
    pub.publish(_event(1, "x", big))
    pub.publish(_event(2, "x", big))  # handed over; the broker refuses it
    pub.close(drain_timeout=0)
    assert pub.stats["published"] == 0 and pub.stats["spooled"] == 2 and pub.spool_depth == 1
