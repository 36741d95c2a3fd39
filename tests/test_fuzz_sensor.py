"""Hypothesis fuzzing of the readers, the sensor, the TCP reassembler and the Modbus parser.

Random and mutated inputs must end in packets, events or counted errors: never another
exception, never a hang, never unbounded state.
"""

from __future__ import annotations

import struct
from collections import Counter
from pathlib import Path

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scapy.layers.inet import IP, TCP, UDP
from scapy.layers.inet6 import IPv6, IPv6ExtHdrFragment, IPv6ExtHdrHopByHop
from scapy.layers.l2 import CookedLinux, Dot1Q, Ether
from scapy.packet import Raw

from parsers import modbus
from parsers.base import Message, ParseError
from parsers.modbus import ModbusParser
from sensors.capture import CaptureError, open_capture
from sensors.engine import Sensor
from sensors.flows import SEQ_MOD, Flow, Reassembler
from sensors.ipfrag import MAX_PENDING

FUZZ = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])

READ_HR = (
    b"\x00\x01"  # transaction id 1
    b"\x00\x00"  # protocol id 0
    b"\x00\x06"  # length 6
    b"\x01"  # unit id 1
    b"\x03"  # function 3
    b"\x00\x6b"  # address 107
    b"\x00\x03"  # quantity 3
)
READ_HR_RESPONSE = (
    b"\x00\x01"  # transaction id 1
    b"\x00\x00"  # protocol id 0
    b"\x00\x09"  # length 9
    b"\x01"  # unit id 1
    b"\x03"  # function 3
    b"\x06"  # byte count 6
    b"\x02\x2b\x00\x00\x00\x64"  # 555, 0, 100
)
WRITE_COILS = (
    b"\x00\x02"  # transaction id 2
    b"\x00\x00"  # protocol id 0
    b"\x00\x09"  # length 9
    b"\x01"  # unit id 1
    b"\x0f"  # function 15
    b"\x00\x13"  # address 19
    b"\x00\x0a"  # quantity 10
    b"\x02"  # byte count 2
    b"\xcd\x01"  # coils
)
DEVICE_ID_RESPONSE = (
    b"\x00\x03"  # transaction id 3
    b"\x00\x00"  # protocol id 0
    b"\x00\x15"  # length 21
    b"\x01"  # unit id 1
    b"\x2b\x0e"  # function 43, MEI 14
    b"\x01\x01\x00\x00"  # code 1, conformity 1, no more, next 0
    b"\x02"  # 2 objects
    b"\x00\x04ACME"  # vendor name
    b"\x01\x05PX-42"  # product code
)
ADUS = [READ_HR, READ_HR_RESPONSE, WRITE_COILS, DEVICE_ID_RESPONSE]
#: (action, transaction id) of each ADU above when sent by the client (a response sent to the
#: server decodes as a request of the same function)
ADU_MESSAGES = [
    ("read_holding_registers", 1),
    ("read_holding_registers", 1),
    ("write_multiple_coils", 2),
    ("read_device_identification", 3),
]


def _mutate(seed: bytes, edits: list[tuple[int, int]], cut: int | None) -> bytes:
    data = bytearray(seed)
    for pos, value in edits:
        if data:
            data[pos % len(data)] = value
    return bytes(data[:cut] if cut is not None else data)


def mutated(seeds: list[bytes]) -> st.SearchStrategy[bytes]:
    return st.builds(
        _mutate,
        st.sampled_from(seeds),
        st.lists(st.tuples(st.integers(0, 1 << 16), st.integers(0, 255)), max_size=8),
        st.none() | st.integers(0, 600),
    )


# -- capture readers --------------------------------------------------------------------------


def _pcap(frames: list[bytes], magic: bytes = b"\xd4\xc3\xb2\xa1") -> bytes:
    order = "<" if magic in (b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1") else ">"
    out = magic + struct.pack(order + "HHiIII", 2, 4, 0, 0, 65535, 1)
    for i, f in enumerate(frames):
        out += struct.pack(order + "IIII", 1_700_000_000 + i, i, len(f), len(f)) + f
    return out


def _block(btype: int, body: bytes) -> bytes:
    body += b"\x00" * (-len(body) % 4)
    return struct.pack("<II", btype, len(body) + 12) + body + struct.pack("<I", len(body) + 12)


def _pcapng(frames: list[bytes]) -> bytes:
    out = _block(0x0A0D0D0A, struct.pack("<IHHq", 0x1A2B3C4D, 1, 0, -1))
    out += _block(1, struct.pack("<HHI", 1, 0, 0) + struct.pack("<HH", 9, 1) + b"\x09\x00\x00\x00")
    out += _block(1, struct.pack("<HHI", 101, 0, 0))
    for i, f in enumerate(frames):
        out += _block(6, struct.pack("<IIIII", i % 2, 0, i, len(f), len(f)) + f)
    out += _block(3, struct.pack("<I", len(frames[0])) + frames[0])
    out += _block(0xBAD, b"custom")
    return out


_ETH = Ether(src="02:00:00:00:00:01", dst="02:00:00:00:00:02")
_FRAMES = [
    bytes(_ETH / IP(src="10.0.0.1", dst="10.0.0.2") / TCP(sport=40000, dport=502, flags="PA") / Raw(READ_HR)),
    bytes(_ETH / IP(src="10.0.0.2", dst="10.0.0.1") / TCP(sport=502, dport=40000, flags="PA") / Raw(READ_HR_RESPONSE)),
]
CAPTURE_SEEDS = [
    _pcap(_FRAMES),
    _pcap(_FRAMES, b"\xa1\xb2\x3c\x4d"),
    _pcapng(_FRAMES),
]


@pytest.fixture(scope="module")
def capture_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("fuzz") / "fuzz.pcap"


def _read_all(path: Path, data: bytes) -> None:
    path.write_bytes(data)
    n = 0
    try:
        for ts, linktype, frame in open_capture(path):
            assert isinstance(ts, int)  # may be negative: if_tsoffset is signed
            assert isinstance(linktype, int) and isinstance(frame, bytes)
            n += 1
            assert n <= len(data) // 12 + 1  # every packet costs at least a header: no spinning
    except CaptureError:
        pass


@FUZZ
@given(data=st.binary(max_size=400))
def test_random_bytes_into_open_capture(capture_file: Path, data: bytes) -> None:
    _read_all(capture_file, data)


@FUZZ
@given(data=st.sampled_from([b"\xd4\xc3\xb2\xa1", b"\xa1\xb2\xc3\xd4", b"\x4d\x3c\xb2\xa1", b"\x0a\x0d\x0d\x0a"]).flatmap(
    lambda magic: st.binary(max_size=400).map(lambda rest: magic + rest)))
def test_random_bytes_behind_a_capture_magic(capture_file: Path, data: bytes) -> None:
    _read_all(capture_file, data)


@FUZZ
@given(data=mutated(CAPTURE_SEEDS))
def test_mutated_captures_into_open_capture(capture_file: Path, data: bytes) -> None:
    _read_all(capture_file, data)


# -- sensor -----------------------------------------------------------------------------------

_V6 = IPv6(src="fd00::1", dst="fd00::2")
FRAME_SEEDS: list[tuple[int, bytes]] = [
    (1, _FRAMES[0]),
    (1, _FRAMES[1]),
    (1, bytes(_ETH / Dot1Q(vlan=3) / Dot1Q(vlan=4) / IP() / TCP(dport=502) / Raw(WRITE_COILS))),
    (1, bytes(_ETH / IP(flags="MF", frag=0, id=7) / Raw(bytes(TCP(dport=502)) + READ_HR))),
    (1, bytes(_ETH / IP(frag=4, id=7, proto=6) / Raw(READ_HR))),
    (1, bytes(_ETH / _V6 / IPv6ExtHdrHopByHop() / TCP(sport=502, dport=1) / Raw(DEVICE_ID_RESPONSE))),
    (1, bytes(_ETH / _V6 / IPv6ExtHdrFragment(m=1, id=9) / Raw(bytes(TCP(dport=502)) + READ_HR))),
    (1, bytes(_ETH / IP() / UDP(sport=1, dport=502) / Raw(READ_HR))),
    (113, bytes(CookedLinux(proto=0x0800) / IP() / TCP(dport=502) / Raw(READ_HR))),
    (101, bytes(IP() / TCP(sport=502, dport=9) / Raw(READ_HR_RESPONSE))),
    (0, struct.pack("<I", 2) + bytes(IP() / TCP(dport=5020, flags="S"))),
]
S7_SETUP = (
    b"\x03\x00\x00\x19"  # TPKT: version 3, length 25
    b"\x02\xf0\x80"  # COTP data, last unit
    b"\x32\x01\x00\x00\x00\x00"  # S7: protocol 0x32, job, reserved, pdu ref 0
    b"\x00\x08\x00\x00"  # parameter length 8, data length 0
    b"\xf0\x00\x00\x01\x00\x01\x01\xe0"  # setup communication: 1/1 jobs, PDU 480
)
COTP_CR = (
    b"\x03\x00\x00\x16"  # TPKT: version 3, length 22
    b"\x11\xe0\x00\x00\x00\x01\x00"  # COTP connection request, dst ref 0, src ref 1, class 0
    b"\xc1\x02\x01\x00\xc2\x02\x01\x02\xc0\x01\x0a"  # src TSAP, dst TSAP, TPDU size 1024
)
OPCUA_HELLO = (
    b"HELF"  # message type HEL, final chunk
    b"\x30\x00\x00\x00"  # message size 48
    b"\x00\x00\x00\x00"  # protocol version 0
    b"\x00\x00\x01\x00\x00\x00\x01\x00"  # receive / send buffer size 65536
    b"\x00\x00\x00\x00\x00\x00\x00\x00"  # max message size, max chunk count: no limit
    b"\x10\x00\x00\x00opc.tcp://x:4840"  # endpoint URL, 16 bytes
)
FRAME_SEEDS += [
    (1, bytes(_ETH / IP() / TCP(sport=1100, dport=102, flags="PA") / Raw(COTP_CR + S7_SETUP))),
    (1, bytes(_ETH / IP() / TCP(sport=102, dport=1100, flags="PA") / Raw(S7_SETUP))),
    (1, bytes(_ETH / IP() / TCP(sport=1101, dport=4840, flags="PA") / Raw(OPCUA_HELLO))),
]
LINKTYPES = [0, 1, 12, 14, 101, 108, 113, 276, 147]


def _check_sensor(sensor: Sensor, events: list[dict]) -> None:
    assert len(sensor.flows) <= sensor.max_flows
    assert len(sensor.defrag._pending) <= MAX_PENDING
    for e in events:
        assert isinstance(e["event"]["dataset"], str) and isinstance(e["event"]["action"], str)
        assert e["event"]["id"].startswith("f-")
        orjson.dumps(e)  # every event serialises


@FUZZ
@given(frames=st.lists(st.tuples(st.sampled_from(LINKTYPES), st.binary(max_size=200)), max_size=20))
def test_random_frames_into_sensor(frames: list[tuple[int, bytes]]) -> None:
    events: list[dict] = []
    sensor = Sensor(events.append, capture_id="f", specs=[modbus.SPEC], max_flows=8)
    for i, (linktype, data) in enumerate(frames):
        sensor.packet(i * 1_000_000, linktype, data)
    sensor.finish()
    _check_sensor(sensor, events)


@FUZZ
@given(
    frames=st.lists(
        st.tuples(
            st.sampled_from(range(len(FRAME_SEEDS))),
            st.lists(st.tuples(st.integers(0, 1 << 16), st.integers(0, 255)), max_size=6),
            st.none() | st.integers(0, 200),
            st.integers(0, 700 * 1_000_000_000),
        ),
        max_size=25,
    )
)
def test_mutated_frames_into_sensor(frames: list[tuple[int, list[tuple[int, int]], int | None, int]]) -> None:
    events: list[dict] = []
    sensor = Sensor(events.append, capture_id="f", max_flows=4)
    for idx, edits, cut, ts in sorted(frames, key=lambda f: f[3]):
        linktype, seed = FRAME_SEEDS[idx]
        sensor.packet(ts, linktype, _mutate(seed, edits, cut))
    sensor.finish()
    _check_sensor(sensor, events)


# -- reassembler ------------------------------------------------------------------------------


Schedule = tuple[list[int], bytes, int, list[tuple[int, int]]]


@st.composite
def schedules(draw: st.DrawFn) -> Schedule:
    """ADU indexes, their stream, an initial sequence number, and the (start, end) ranges sent."""
    picks = draw(st.lists(st.integers(0, len(ADUS) - 1), min_size=1, max_size=8))
    stream = b"".join(ADUS[i] for i in picks)
    isn = draw(st.sampled_from([0, 1000, SEQ_MOD - 20, SEQ_MOD - 3, 0x7FFFFFFF]))
    cuts = sorted(set(draw(st.lists(st.integers(1, len(stream) - 1), max_size=10))))
    bounds = [0, *cuts, len(stream)]
    ranges = [(a, b) for a, b in zip(bounds, bounds[1:], strict=False)]
    # extra segments: retransmissions and overlapping re-segmentations of the same bytes
    extra = draw(st.lists(st.tuples(st.integers(0, len(stream) - 1), st.integers(1, 40)), max_size=6))
    ranges += [(a, min(len(stream), a + n)) for a, n in extra]
    ranges = draw(st.permutations(ranges))
    if draw(st.booleans()) and len(ranges) > 1:  # lose one segment
        drop = draw(st.integers(0, len(ranges) - 1))
        ranges = ranges[:drop] + ranges[drop + 1 :]
    return picks, stream, isn, ranges


def _first_hole(stream: bytes, ranges: list[tuple[int, int]]) -> int:
    """Index of the first byte no segment carried (len(stream) when all were sent)."""
    covered = bytearray(len(stream))
    for a, b in ranges:
        covered[a:b] = b"\x01" * (b - a)
    hole = covered.find(0)
    return len(stream) if hole < 0 else hole


@FUZZ
@given(schedule=schedules())
def test_reassembler_delivers_a_prefix_consistent_stream(schedule: Schedule) -> None:
    _picks, stream, isn, ranges = schedule
    stats: Counter[str] = Counter()
    chunks: list[tuple[int, bytes]] = []
    flow = Flow(("c", 1, "s", 2), "tcp", b"c", 1, b"s", 2, 0)
    half = flow.c2s
    half.next_seq = isn

    def deliver(f: Flow, to_server: bool, payload: bytes) -> None:
        assert f is flow and to_server and payload
        assert half.next_seq is not None
        start = (half.next_seq - len(payload) - isn) & SEQ_MOD
        chunks.append((start, payload))

    reasm = Reassembler(deliver, stats)
    for a, b in ranges:
        reasm.segment(flow, True, half, (isn + a) & SEQ_MOD, stream[a:b])
    while half.ooo:
        reasm.skip_gap(flow, True, half)
    end = 0
    for start, payload in chunks:
        assert start >= end, "bytes delivered twice or backwards"
        assert stream[start : start + len(payload)] == payload
        end = start + len(payload)
    hole = _first_hole(stream, ranges)
    assert b"".join(p for _, p in chunks)[:hole] == stream[:hole]  # nothing lost before the hole
    if hole == len(stream):
        assert b"".join(p for _, p in chunks) == stream
        assert stats["tcp_gaps"] == 0
    assert half.ooo_bytes == 0


@FUZZ
@given(schedule=schedules())
def test_random_segment_orders_through_the_sensor_give_the_in_order_messages(schedule: Schedule) -> None:
    picks, stream, isn, ranges = schedule
    expected = [ADU_MESSAGES[i] for i in picks]
    ip = IP(src="10.0.0.1", dst="10.0.0.2")
    events: list[dict] = []
    sensor = Sensor(events.append, capture_id="f", specs=[modbus.SPEC])
    sensor.packet(0, 101, bytes(ip / TCP(sport=40000, dport=502, flags="S", seq=(isn - 1) & SEQ_MOD)))
    for i, (a, b) in enumerate(ranges):
        seg = ip / TCP(sport=40000, dport=502, flags="PA", seq=(isn + a) & SEQ_MOD) / Raw(stream[a:b])
        sensor.packet(i + 1, 101, bytes(seg))
    sensor.finish()
    # after a lost segment the parser resynchronises: bytes it skips may be reported as parse errors
    modbus_events = [e for e in events if e["event"]["dataset"] == "modbus"]
    got = [(e["event"]["action"], e["modbus"]["transaction_id"]) for e in modbus_events]
    hole = _first_hole(stream, ranges)
    if hole == len(stream):
        assert modbus_events == events
        assert got == expected
    else:
        # every ADU wholly before the first missing byte is recovered, in order
        before, end = 0, 0
        for i in picks:
            end += len(ADUS[i])
            if end > hole:
                break
            before += 1
        assert got[:before] == expected[:before]


# -- Modbus parser ----------------------------------------------------------------------------


def _check_messages(parser: ModbusParser, msgs: list[Message], fed: int) -> None:
    assert len(msgs) <= fed // 8 + 1
    for m in msgs:
        assert isinstance(m, Message) and m.dataset == "modbus"
        assert isinstance(m.action, str) and m.action
        orjson.dumps(m.fields)
        assert 0 <= m.fields["function_code"] <= 0x7F
    for err in parser.errors:
        assert isinstance(err, ParseError) and err.reason
    assert len(parser.errors) <= parser.max_errors
    assert all(len(b) <= parser.max_message for b in parser._buf)


@FUZZ
@given(chunks=st.lists(st.tuples(st.booleans(), st.binary(max_size=120), st.booleans()), max_size=12))
def test_random_bytes_into_modbus_parser(chunks: list[tuple[bool, bytes, bool]]) -> None:
    parser = ModbusParser()
    fed = 0
    msgs: list[Message] = []
    for to_server, data, gap in chunks:
        if gap:
            parser.gap(to_server)
        msgs += parser.feed(data, to_server)
        fed += len(data)
    _check_messages(parser, msgs, fed)


@FUZZ
@given(
    parts=st.lists(st.tuples(st.booleans(), mutated(ADUS + [b"".join(ADUS)])), min_size=1, max_size=10),
    split=st.integers(1, 64),
)
def test_mutated_adus_into_modbus_parser(parts: list[tuple[bool, bytes]], split: int) -> None:
    parser = ModbusParser()
    fed = 0
    msgs: list[Message] = []
    for to_server, data in parts:
        for i in range(0, len(data), split):
            msgs += parser.feed(data[i : i + split], to_server)
        fed += len(data)
    _check_messages(parser, msgs, fed)


@FUZZ
@given(fc=st.integers(0, 255), body=st.binary(max_size=252), to_server=st.booleans(), unit=st.integers(0, 255))
def test_every_function_code_with_random_pdu_decodes_or_flags(fc: int, body: bytes, to_server: bool, unit: int) -> None:
    adu = struct.pack("!HHHBB", 1, 0, len(body) + 2, unit, fc) + body
    parser = ModbusParser()
    msgs = parser.feed(adu, to_server)
    assert len(msgs) == 1  # a well-framed ADU always gives a message, however bad its PDU
    _check_messages(parser, msgs, len(adu))
    assert msgs[0].fields["function_code"] == fc & 0x7F
