"""``@timestamp``: packet time (ns since the epoch) -> ISO 8601 text (``icssa.events.Timestamps``).

Expected texts are written out by hand; the sequence walks one ``Timestamps`` through its cached
second, the next one, an earlier one and the ends of what four-digit years can write.
"""

from __future__ import annotations

from scapy.layers.inet import IP, TCP
from scapy.layers.l2 import Ether
from scapy.packet import Raw

from icssa.events import Timestamps, iso_from_ns
from parsers import modbus
from sensors.engine import Sensor

SEQUENCE = [
    (1_700_000_000_123_456_789, "2023-11-14T22:13:20.123456Z"),  # nanoseconds are cut, not rounded
    (1_700_000_000_999_999_999, "2023-11-14T22:13:20.999999Z"),  # same second: the cached text
    (1_700_000_001_000_000_000, "2023-11-14T22:13:21.000000Z"),  # the next second
    (1_700_000_000_000_000_999, "2023-11-14T22:13:20.000000Z"),  # back to the earlier second
    (0, "1970-01-01T00:00:00.000000Z"),
    (-1, "1969-12-31T23:59:59.999999Z"),  # before the epoch: the second below, not above
    (253_402_300_799_999_999_999, "9999-12-31T23:59:59.999999Z"),  # the last time ISO 8601 years write
    (253_402_300_800_000_000_000, "9999-12-31T23:59:59.999999Z"),  # beyond: clamped
    ((2**64 - 1) * 1_000_000_000, "9999-12-31T23:59:59.999999Z"),  # a pcapng u64 of seconds
    (-62_135_596_800_000_000_000, "0001-01-01T00:00:00.000000Z"),  # the first one
    (-(10**30), "0001-01-01T00:00:00.000000Z"),  # before it: clamped
    (1_700_000_000_500_000_000, "2023-11-14T22:13:20.500000Z"),  # and back to an ordinary time
]


def test_timestamps_through_cached_and_new_seconds() -> None:
    times = Timestamps()
    assert [times.iso(ns) for ns, _ in SEQUENCE] == [text for _, text in SEQUENCE]


def test_iso_from_ns_agrees_with_a_fresh_cache() -> None:
    assert [iso_from_ns(ns) for ns, _ in SEQUENCE] == [text for _, text in SEQUENCE]


READ_COILS = (
    b"\x00\x05"  # transaction id 5
    b"\x00\x00"  # protocol id 0
    b"\x00\x06"  # length 6
    b"\x01"  # unit id 1
    b"\x01"  # function 1: read coils
    b"\x00\x00"  # address 0
    b"\x00\x08"  # quantity 8
)


def test_hostile_capture_time_is_clamped_not_a_crash() -> None:
    """A pcapng interface with second resolution and an all-ones timestamp: 1.8e19 s."""
    events: list[dict] = []
    sensor = Sensor(events.append, specs=[modbus.SPEC], capture_id="t")
    frame = Ether() / IP(src="192.0.2.1", dst="192.0.2.2") / TCP(sport=40000, dport=502, flags="PA") / Raw(READ_COILS)
    sensor.packet((2**64 - 1) * 1_000_000_000, 1, bytes(frame))
    sensor.finish()
    assert [(e["@timestamp"], e["event"]["action"]) for e in events] == [
        ("9999-12-31T23:59:59.999999Z", "read_coils")
    ]
