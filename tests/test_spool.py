"""The sensor's on-disk spool (order, durability across reopen, bounds, torn writes) and the
publisher that puts it between the sensor and the bus."""

from __future__ import annotations

import json
import zlib
from collections.abc import Sequence
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from icssa.bus import MAX_MESSAGE, BusError, Delivery, MemoryBus, Producer, split_events
from icssa.publisher import Publisher
from icssa.spool import Spool, SpoolRecord, encode


def rec(i: int, topic: str = "icssa.events") -> SpoolRecord:
    return SpoolRecord(topic, f"flow-{i % 3}".encode(), b"org", f'{{"n":{i}}}'.encode())


def drain_all(spool: Spool, chunk: int = 10_000) -> list[SpoolRecord]:
    out: list[SpoolRecord] = []
    while spool.drain(out.extend, chunk):
        pass
    return out


def test_record_layout() -> None:
    body = (
        b"\x01\x00" + b"t"  # topic length 1, topic "t"
        + b"\x01\x00\x00\x00" + b"k"  # key length 1, key "k"
        + b"\xff\xff\xff\xff"  # partition key length -1: none
        + b"v"  # value
    )
    head = len(body).to_bytes(4, "little") + zlib.crc32(body).to_bytes(4, "little")
    assert encode(SpoolRecord("t", b"k", None, b"v")) == head + body


def test_empty_spool(tmp_path: Path) -> None:
    spool = Spool(tmp_path)
    calls: list[object] = []
    assert spool.append([]) == 0
    assert spool.drain(calls.append) == 0
    assert calls == [] and len(spool) == 0


def test_batches_come_out_in_order(tmp_path: Path) -> None:
    spool = Spool(tmp_path)
    assert spool.append([rec(0), rec(1)]) == 2
    assert spool.append([rec(2)]) == 1
    assert len(spool) == 3
    assert drain_all(spool) == [rec(0), rec(1), rec(2)]
    assert len(spool) == 0 and spool.bytes == 0
    assert not list(tmp_path.glob("*.seg"))  # an empty spool leaves no segment behind


def test_none_key_and_empty_value_survive(tmp_path: Path) -> None:
    spool = Spool(tmp_path)
    r = SpoolRecord("icssa.alerts", None, None, b"")
    spool.append([r])
    spool.close()
    assert drain_all(Spool(tmp_path)) == [r]


def test_reopen_keeps_records_and_drain_position(tmp_path: Path) -> None:
    spool = Spool(tmp_path)
    spool.append([rec(i) for i in range(5)])
    got: list[SpoolRecord] = []
    assert spool.drain(got.extend, 3) == 3
    spool.close()
    again = Spool(tmp_path)
    assert len(again) == 2
    assert got + drain_all(again) == [rec(i) for i in range(5)]


def test_failed_send_keeps_the_records(tmp_path: Path) -> None:
    spool = Spool(tmp_path)
    spool.append([rec(0), rec(1)])

    def broken(batch: list[SpoolRecord]) -> None:
        raise ConnectionError("broker down")

    with pytest.raises(ConnectionError):
        spool.drain(broken)
    assert len(spool) == 2
    assert drain_all(spool) == [rec(0), rec(1)]


def test_segments_roll_and_are_removed_when_drained(tmp_path: Path) -> None:
    one = len(encode(rec(0)))
    spool = Spool(tmp_path, segment_bytes=one * 2)
    for i in range(7):
        spool.append([rec(i)])
    assert len(list(tmp_path.glob("*.seg"))) == 4  # 2 + 2 + 2 + 1
    got: list[SpoolRecord] = []
    spool.drain(got.extend)  # at most one segment per call
    assert got == [rec(0), rec(1)]
    assert len(list(tmp_path.glob("*.seg"))) == 3
    assert got + drain_all(spool) == [rec(i) for i in range(7)]


def test_full_spool_refuses_and_counts(tmp_path: Path) -> None:
    one = len(encode(rec(0)))
    spool = Spool(tmp_path, max_bytes=one * 3)
    assert spool.append([rec(0), rec(1)]) == 2
    assert spool.append([rec(2), rec(3), rec(4)]) == 1
    assert (len(spool), spool.dropped) == (3, 2)
    drain_all(spool)
    assert spool.append([rec(5)]) == 1  # room again once drained


@pytest.mark.parametrize("cut", [1, 4, 8, 9, 12])  # inside the length, crc, and body of the last record
def test_torn_tail_is_cut_off_on_open(tmp_path: Path, cut: int) -> None:
    spool = Spool(tmp_path)
    spool.append([rec(0), rec(1)])
    spool.close()
    seg = next(tmp_path.glob("*.seg"))
    seg.write_bytes(seg.read_bytes() + encode(rec(2))[:cut])
    again = Spool(tmp_path)
    assert len(again) == 2
    again.append([rec(3)])
    assert drain_all(again) == [rec(0), rec(1), rec(3)]


def test_corrupt_record_stops_reading(tmp_path: Path) -> None:
    spool = Spool(tmp_path)
    spool.append([rec(0), rec(1), rec(2)])
    spool.close()
    seg = next(tmp_path.glob("*.seg"))
    data = bytearray(seg.read_bytes())
    data[len(encode(rec(0))) + 10] ^= 0xFF  # a byte in the second record's body: crc mismatch
    seg.write_bytes(bytes(data))
    assert drain_all(Spool(tmp_path)) == [rec(0)]


@settings(max_examples=200, deadline=None)
@given(
    batches=st.lists(st.integers(min_value=0, max_value=6), max_size=12),
    chunk=st.integers(min_value=1, max_value=5),
    fail_every=st.integers(min_value=2, max_value=5),
    reopen_every=st.integers(min_value=1, max_value=6),
)
def test_everything_comes_out_once_in_order(
    tmp_path_factory: pytest.TempPathFactory, batches: list[int], chunk: int, fail_every: int, reopen_every: int
) -> None:
    folder = tmp_path_factory.mktemp("spool")
    spool = Spool(folder, segment_bytes=len(encode(rec(0))) * 3)
    sent: list[SpoolRecord] = []
    calls = 0

    def flaky(batch: list[SpoolRecord]) -> None:
        nonlocal calls
        calls += 1
        if calls % fail_every == 0:
            raise ConnectionError
        sent.extend(batch)

    n = 0
    for step, size in enumerate(batches):
        spool.append([rec(n + i) for i in range(size)])
        n += size
        try:
            spool.drain(flaky, chunk)
        except ConnectionError:
            pass
        if step % reopen_every == 0:
            spool.close()
            spool = Spool(folder, segment_bytes=len(encode(rec(0))) * 3)
    while len(spool):
        try:
            spool.drain(flaky, chunk)
        except ConnectionError:
            pass
    assert sent == [rec(i) for i in range(n)]


# -- the sensor's publisher on top of the spool ----------------------------------------------
class FlakyBus(MemoryBus):
    """A memory bus whose broker can be taken away."""

    def __init__(self) -> None:
        super().__init__(partitions=2)
        self.down = False

    def producer(self) -> Producer:
        if self.down:
            raise BusError("broker unreachable")
        inner = super().producer()
        bus = self

        class P(Producer):
            def send(self, records: Sequence[SpoolRecord]) -> Delivery:
                if bus.down:
                    raise BusError("connection lost")
                return inner.send(records)

            def close(self) -> None:
                inner.close()

        return P()


def event(i: int, flow: str, org: str = "js") -> dict:
    return {"event": {"id": f"e{i}"}, "network": {"community_id": flow}, "organization": {"id": org}}


def delivered(bus: MemoryBus) -> list[tuple[bytes | None, list[str]]]:
    """(key, event ids) of every events message, partition by partition."""
    out = []
    for part in bus.logs[bus.topics.events]:
        for key, value in part:
            out.append((key, [json.loads(line)["event"]["id"] for line in split_events(value)]))
    return out


def test_a_batch_is_one_message_per_tenant_in_sensor_order(tmp_path: Path) -> None:
    bus = FlakyBus()
    pub = Publisher(bus, Spool(tmp_path), batch_size=100, linger=60)
    for i, (flow, org) in enumerate([("f1", "a"), ("f2", "a"), ("f3", "b"), ("f1", "a"), ("f3", "b")]):
        pub.publish(event(i, flow, org))
    pub.flush()
    # flows interleave inside a tenant exactly as the sensor saw them
    assert sorted(delivered(bus)) == [(b"a", ["e0", "e1", "e3"]), (b"b", ["e2", "e4"])]
    assert pub.stats["published"] == 5 and pub.stats["messages"] == 2


def test_one_tenant_one_partition(tmp_path: Path) -> None:
    bus = FlakyBus()
    pub = Publisher(bus, Spool(tmp_path), batch_size=100)
    for i in range(20):
        pub.publish(event(i, f"flow{i}", org="js/nj/a"))
    pub.flush()
    used = [p for p, part in enumerate(bus.logs[bus.topics.events]) if part]
    assert len(used) == 1


def test_batch_size_sends_without_a_flush(tmp_path: Path) -> None:
    bus = FlakyBus()
    pub = Publisher(bus, Spool(tmp_path), batch_size=3, linger=60)
    for i in range(7):
        pub.publish(event(i, "f"))
    assert [ids for _, ids in delivered(bus)] == [["e0", "e1", "e2"], ["e3", "e4", "e5"]]


def test_outage_spools_then_drains_before_newer_events(tmp_path: Path) -> None:
    bus = FlakyBus()
    pub = Publisher(bus, Spool(tmp_path / "spool"), batch_size=2, retry_initial=0.0, retry_max=0.0)
    pub.publish(event(0, "f"))
    pub.publish(event(1, "f"))  # delivered
    bus.down = True
    for i in range(2, 6):
        pub.publish(event(i, "f"))  # two batches, both spooled
    assert pub.spool_depth == 2 and pub.stats["spooled"] == 4
    bus.down = False
    pub.publish(event(6, "f"))
    pub.publish(event(7, "f"))  # the spool goes first, then this batch
    assert [ids for _, ids in delivered(bus)] == [["e0", "e1"], ["e2", "e3"], ["e4", "e5"], ["e6", "e7"]]
    assert pub.spool_depth == 0 and pub.stats["drained"] == 4


def test_spooled_events_survive_a_restart(tmp_path: Path) -> None:
    bus = FlakyBus()
    bus.down = True
    pub = Publisher(bus, Spool(tmp_path), batch_size=10)
    for i in range(3):
        pub.publish(event(i, "f"))
    pub.close(drain_timeout=0)
    bus.down = False
    again = Publisher(bus, Spool(tmp_path), batch_size=10)
    again.close()
    assert [ids for _, ids in delivered(bus)] == [["e0", "e1", "e2"]]


def test_large_flow_batches_are_split_under_the_message_bound(tmp_path: Path) -> None:
    bus = FlakyBus()
    pub = Publisher(bus, Spool(tmp_path), batch_size=10_000, linger=60)
    big = "x" * 100_000
    for i in range(12):
        e = event(i, "f")
        e["pad"] = big
        pub.publish(e)
    pub.flush()
    msgs = bus.logs[bus.topics.events]
    sizes = [len(v) for part in msgs for _, v in part]
    assert max(sizes) <= MAX_MESSAGE and len(sizes) == 3  # 5 + 5 + 2 events of ~100 KB
    assert [i for _, ids in delivered(bus) for i in ids] == [f"e{i}" for i in range(12)]
