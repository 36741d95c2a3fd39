"""Link and network layers through the sensor: link types, VLAN tags, IPv4/IPv6, fragments, UDP.

Each case carries one Modbus request/response pair (hand-labelled ADUs below) inside packets
crafted with scapy, runs them through ``Sensor`` and asserts the Modbus events that come out.
"""

from __future__ import annotations

import random
import struct
import tracemalloc
from pathlib import Path

import pytest
from refs import tshark_fields
from scapy.layers.inet import IP, TCP, UDP, IPOption, fragment
from scapy.layers.inet6 import (
    IPv6,
    IPv6ExtHdrDestOpt,
    IPv6ExtHdrFragment,
    IPv6ExtHdrHopByHop,
    IPv6ExtHdrRouting,
    fragment6,
)
from scapy.layers.l2 import CookedLinux, CookedLinuxV2, Dot1AD, Dot1Q, Ether
from scapy.packet import Packet, Raw

from parsers import modbus
from sensors.engine import Sensor
from sensors.ipfrag import MAX_PENDING

CLIENT, SERVER = "192.0.2.10", "192.0.2.20"
CLIENT6, SERVER6 = "fd00::10", "fd00::20"
CMAC, SMAC = "02:00:00:00:00:0a", "02:00:00:00:00:14"
CPORT = 40001

READ_HR_REQUEST = (
    b"\x00\x01"  # transaction id 1
    b"\x00\x00"  # protocol id 0
    b"\x00\x06"  # length 6
    b"\x11"  # unit id 17
    b"\x03"  # function 3: read holding registers
    b"\x00\x6b"  # address 107
    b"\x00\x03"  # quantity 3
)
READ_HR_RESPONSE = (
    b"\x00\x01"  # transaction id 1
    b"\x00\x00"  # protocol id 0
    b"\x00\x09"  # length 9
    b"\x11"  # unit id 17
    b"\x03"  # function 3
    b"\x06"  # byte count 6
    b"\x02\x2b"  # register 107: 555
    b"\x00\x00"  # register 108: 0
    b"\x00\x64"  # register 109: 100
)
#: the two events READ_HR_REQUEST and READ_HR_RESPONSE must give: (action, is_response, fields)
READ_HR_EVENTS = [
    ("read_holding_registers", False, {"transaction_id": 1, "unit_id": 17, "address": 107, "quantity": 3}),
    ("read_holding_registers", True, {"transaction_id": 1, "matched": True, "values": [555, 0, 100]}),
]

# FC 16 with 100 registers 0..99: large enough to be cut into several IP fragments
WRITE_100_REQUEST = (
    b"\x00\x07"  # transaction id 7
    b"\x00\x00"  # protocol id 0
    b"\x00\xcf"  # length 207
    b"\x01"  # unit id 1
    b"\x10"  # function 16: write multiple registers
    b"\x00\x00"  # address 0
    b"\x00\x64"  # quantity 100
    b"\xc8"  # byte count 200
) + b"".join(struct.pack("!H", v) for v in range(100))  # registers 0..99


def _run(frames: list[bytes], linktype: int = 1) -> tuple[list[dict], Sensor]:
    events: list[dict] = []
    sensor = Sensor(events.append, specs=[modbus.SPEC], capture_id="t")
    for i, frame in enumerate(frames):
        sensor.packet(1_700_000_000_000_000_000 + i * 1_000_000, linktype, frame)
    sensor.finish()
    return events, sensor


def _summary(events: list[dict]) -> list[tuple[str, bool, dict]]:
    out = []
    for e in events:
        assert e["event"]["dataset"] == "modbus"
        out.append((e["event"]["action"], e["modbus"]["is_response"], e["modbus"]))
    return out


def _assert_read_hr(events: list[dict], client: str = CLIENT, server: str = SERVER, transport: str = "tcp") -> None:
    assert len(events) == 2, events
    for e, (action, is_response, fields) in zip(events, READ_HR_EVENTS, strict=True):
        assert e["event"]["action"] == action
        assert e["modbus"]["is_response"] is is_response
        assert {k: e["modbus"][k] for k in fields} == fields
        src, dst = (server, client) if is_response else (client, server)
        sport, dport = (502, CPORT) if is_response else (CPORT, 502)
        assert (e["source"]["ip"], e["source"]["port"]) == (src, sport)
        assert (e["destination"]["ip"], e["destination"]["port"]) == (dst, dport)
        assert e["network"]["transport"] == transport
        assert e["network"]["direction_to_server"] is (not is_response)


def _tcp_exchange(ip_c2s: Packet, ip_s2c: Packet) -> list[Packet]:
    """Handshake, request, response: IP-layer packets (the caller adds the link layer)."""
    c, s = 1000, 9000
    return [
        ip_c2s / TCP(sport=CPORT, dport=502, flags="S", seq=c - 1),
        ip_s2c / TCP(sport=502, dport=CPORT, flags="SA", seq=s - 1, ack=c),
        ip_c2s / TCP(sport=CPORT, dport=502, flags="A", seq=c, ack=s),
        ip_c2s / TCP(sport=CPORT, dport=502, flags="PA", seq=c, ack=s) / Raw(READ_HR_REQUEST),
        ip_s2c / TCP(sport=502, dport=CPORT, flags="PA", seq=s, ack=c + len(READ_HR_REQUEST)) / Raw(READ_HR_RESPONSE),
    ]


def _v4() -> list[Packet]:
    return _tcp_exchange(IP(src=CLIENT, dst=SERVER), IP(src=SERVER, dst=CLIENT))


def _v6() -> list[Packet]:
    return _tcp_exchange(IPv6(src=CLIENT6, dst=SERVER6), IPv6(src=SERVER6, dst=CLIENT6))


def _c2s(p: Packet) -> bool:
    """Sent by the client? (works for fragments too: by source address)"""
    return p.src in (CLIENT, CLIENT6)


# -- link types -------------------------------------------------------------------------------


def _ether(p: Packet) -> bytes:
    src, dst = (CMAC, SMAC) if _c2s(p) else (SMAC, CMAC)
    return bytes(Ether(src=src, dst=dst) / p)


def _sll(p: Packet) -> bytes:
    mac = bytes.fromhex((CMAC if _c2s(p) else SMAC).replace(":", ""))
    return bytes(CookedLinux(pkttype=0, lladdrtype=1, lladdrlen=6, src=mac + b"\x00\x00", proto=0x0800) / p)


def _sll2(p: Packet) -> bytes:
    mac = bytes.fromhex((CMAC if _c2s(p) else SMAC).replace(":", ""))
    return bytes(CookedLinuxV2(proto=0x0800, ifindex=3, lladdrtype=1, lladdrlen=6, src=mac + b"\x00\x00") / p)


LINK_TYPES = {
    "ethernet": (1, _ether),
    "linux_sll": (113, _sll),
    "linux_sll2": (276, _sll2),
    "raw_101": (101, bytes),
    "raw_12": (12, bytes),
    "raw_14": (14, bytes),
    # BSD null: the address family in the capturing host's byte order (2 = AF_INET)
    "null_little_endian": (0, lambda p: struct.pack("<I", 2) + bytes(p)),
    "null_big_endian_host": (0, lambda p: struct.pack(">I", 2) + bytes(p)),
    # OpenBSD loop: the address family in network order
    "loop": (108, lambda p: struct.pack(">I", 2) + bytes(p)),
}


@pytest.mark.parametrize("name", LINK_TYPES)
def test_link_type_carries_modbus(name: str) -> None:
    linktype, wrap = LINK_TYPES[name]
    events, _ = _run([wrap(p) for p in _v4()], linktype)
    _assert_read_hr(events)


@pytest.mark.tshark
@pytest.mark.parametrize("name", LINK_TYPES)
def test_link_type_frames_agree_with_tshark(name: str, tmp_path: Path) -> None:
    """The crafted frames are what tshark reads too: same addresses and function codes."""
    linktype, wrap = LINK_TYPES[name]
    frames = [wrap(p) for p in _v4()]
    path = tmp_path / f"{name}.pcap"
    header = struct.pack(
        "<IHHiIII",
        0xA1B2C3D4,  # magic: microseconds, written little-endian
        2, 4,  # version 2.4
        0,  # thiszone
        0,  # sigfigs
        65535,  # snaplen
        linktype,  # link type (scapy's writer turns 0 into 1, so it is written here)
    )
    records = b"".join(struct.pack("<IIII", 1_700_000_000, i, len(f), len(f)) + f for i, f in enumerate(frames))
    path.write_bytes(header + records)
    rows = tshark_fields(path, "mbtcp", ["ip.src", "ip.dst", "modbus.func_code"])
    events, _ = _run(frames, linktype)
    ours = [[e["source"]["ip"], e["destination"]["ip"], str(e["modbus"]["function_code"])] for e in events]
    assert ours == rows


def test_ethernet_macs_land_on_the_events() -> None:
    events, _ = _run([_ether(p) for p in _v4()])
    assert events[0]["source"]["mac"] == "02-00-00-00-00-0A"
    assert events[0]["destination"]["mac"] == "02-00-00-00-00-14"
    assert events[1]["source"]["mac"] == "02-00-00-00-00-14"


@pytest.mark.parametrize("family", [24, 28, 30], ids=["netbsd", "freebsd", "darwin"])
def test_null_link_with_ipv6_families(family: int) -> None:
    events, _ = _run([struct.pack("<I", family) + bytes(p) for p in _v6()], 0)
    _assert_read_hr(events, CLIENT6, SERVER6)


def test_unknown_link_type_is_counted_not_raised() -> None:
    events, sensor = _run([bytes(p) for p in _v4()], 147)  # DLT_USER0
    assert events == []
    assert sensor.stats["non_ip"] == 5


@pytest.mark.parametrize(
    "linktype, frame",
    [
        (1, b""),  # empty Ethernet frame
        (1, b"\x00" * 13),  # shorter than an Ethernet header
        (1, b"\xff" * 12 + b"\x81\x00" + b"\x00\x01"),  # VLAN tag cut off
        (1, b"\xff" * 12 + b"\x08\x00"),  # Ethernet header, no IP header
        (1, b"\xff" * 12 + b"\x08\x00" + b"\x45" + b"\x00" * 10),  # IPv4 header cut off
        (1, b"\xff" * 12 + b"\x86\xdd" + b"\x60" + b"\x00" * 20),  # IPv6 header cut off
        (113, b"\x00" * 15),  # shorter than an SLL header
        (276, b"\x08\x00" + b"\x00" * 17),  # shorter than an SLL2 header
        (0, b"\x02\x00"),  # null header cut off
        (0, b"\x07\x00\x00\x00" + b"\x45" * 40),  # null: unknown address family
        (101, b""),  # raw: empty
        (101, b"\x75" + b"\x00" * 40),  # raw: IP version 7
    ],
    ids=[
        "eth_empty", "eth_short", "vlan_cut", "eth_no_ip", "ipv4_cut", "ipv6_cut", "sll_short",
        "sll2_short", "null_cut", "null_family", "raw_empty", "raw_version",
    ],
)
def test_truncated_or_foreign_frames_are_counted(linktype: int, frame: bytes) -> None:
    events, sensor = _run([frame], linktype)
    assert events == []
    assert sensor.stats["packets"] == 1
    assert sensor.stats["non_ip"] + sensor.stats["bad_ip"] + sensor.stats["tcp_truncated"] == 1


# -- VLAN -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "tags",
    [
        [Dot1Q(vlan=10)],
        [Dot1AD(vlan=100), Dot1Q(vlan=10)],  # QinQ, 802.1ad outer tag
        [Dot1Q(vlan=100, type=0x8100), Dot1Q(vlan=10)],  # QinQ, old-style 0x8100 outer tag
    ],
    ids=["dot1q", "qinq_8021ad", "qinq_8100"],
)
def test_vlan_tags(tags: list[Packet]) -> None:
    frames = []
    for p in _v4():
        src, dst = (CMAC, SMAC) if _c2s(p) else (SMAC, CMAC)
        layer: Packet = Ether(src=src, dst=dst)
        for tag in tags:
            layer = layer / tag.copy()
        frames.append(bytes(layer / p))
    events, _ = _run(frames)
    _assert_read_hr(events)


def test_vlan_inside_linux_cooked_capture() -> None:
    frames = [
        bytes(CookedLinux(lladdrtype=1, lladdrlen=6, src=b"\x02" * 8, proto=0x8100) / Dot1Q(vlan=10) / p)
        for p in _v4()
    ]
    events, _ = _run(frames, 113)
    _assert_read_hr(events)


# -- IPv4 -------------------------------------------------------------------------------------


def test_ipv4_with_options_takes_the_slow_path() -> None:
    ip_c = IP(src=CLIENT, dst=SERVER, options=[IPOption(b"\x01\x01\x01\x00")])  # NOP NOP NOP EOL
    ip_s = IP(src=SERVER, dst=CLIENT, options=[IPOption(b"\x01\x01\x01\x00")])
    events, _ = _run([_ether(p) for p in _tcp_exchange(ip_c, ip_s)])
    _assert_read_hr(events)


def test_fast_and_slow_path_packets_of_one_connection_share_its_flow() -> None:
    """The client's packets carry IPv4 options (general path), the server's do not (fast path):
    one flow, and the response pairs with the request."""
    ip_c = IP(src=CLIENT, dst=SERVER, options=[IPOption(b"\x01\x01\x01\x00")])  # NOP NOP NOP EOL
    events, sensor = _run([_ether(p) for p in _tcp_exchange(ip_c, IP(src=SERVER, dst=CLIENT))])
    _assert_read_hr(events)
    assert sensor.stats["flows"] == 1


@pytest.mark.parametrize(
    "field, value",
    [
        (slice(14 + 6, 14 + 8), b"\x20\x00"),  # IPv4 flags: more fragments (a first fragment)
        (slice(14 + 9, 14 + 10), b"\x11"),  # IPv4 protocol 17: UDP, not TCP
        (slice(14 + 20 + 12, 14 + 20 + 13), b"\x40"),  # TCP data offset 4 words: below the minimum
        (slice(14 + 20 + 12, 14 + 20 + 13), b"\xf0"),  # TCP data offset 15 words: beyond the packet
    ],
    ids=["fragment", "udp", "tcp_offset_too_small", "tcp_offset_beyond_packet"],
)
def test_request_the_fast_path_declines_gives_no_tcp_event(field: slice, value: bytes) -> None:
    """A frame that looks like Ethernet/IPv4/TCP at first sight but is not a plain TCP segment
    leaves the fast path: the request is not parsed as TCP, the response still is."""
    frames = [bytearray(_ether(p)) for p in _v4()]
    frames[3][field] = value
    events, _ = _run([bytes(f) for f in frames])
    tcp = [e for e in events if e["network"]["transport"] == "tcp"]
    assert [(e["event"]["action"], e["modbus"]["is_response"], e["modbus"]["matched"]) for e in tcp] == [
        ("read_holding_registers", True, False),
    ]


def test_ethernet_padding_is_not_payload() -> None:
    """A 1-byte segment is padded to 60 bytes on the wire; the padding must not join the stream."""
    ip_c, ip_s = IP(src=CLIENT, dst=SERVER), IP(src=SERVER, dst=CLIENT)
    c = 1000
    frames = [
        Ether(src=CMAC, dst=SMAC) / ip_c / TCP(sport=CPORT, dport=502, flags="S", seq=c - 1),
        Ether(src=SMAC, dst=CMAC) / ip_s / TCP(sport=502, dport=CPORT, flags="SA", seq=8999, ack=c),
        Ether(src=CMAC, dst=SMAC) / ip_c / TCP(sport=CPORT, dport=502, flags="PA", seq=c) / Raw(READ_HR_REQUEST[:1]),
        Ether(src=CMAC, dst=SMAC) / ip_c / TCP(sport=CPORT, dport=502, flags="PA", seq=c + 1) / Raw(READ_HR_REQUEST[1:]),
        Ether(src=SMAC, dst=CMAC) / ip_s / TCP(sport=502, dport=CPORT, flags="PA", seq=9000) / Raw(READ_HR_RESPONSE),
    ]
    raw = [bytes(f) for f in frames]
    raw = [r + b"\x00" * (60 - len(r)) if len(r) < 60 else r for r in raw]
    assert len(raw[2]) == 60  # really padded
    events, _ = _run(raw)
    _assert_read_hr(events)


def _write100_datagram() -> Packet:
    return IP(src=CLIENT, dst=SERVER, id=0x4242) / TCP(sport=CPORT, dport=502, flags="PA", seq=1000) / Raw(WRITE_100_REQUEST)


def _write100_events(events: list[dict]) -> None:
    assert [(e["event"]["action"], e["modbus"]["quantity"], e["modbus"]["values"]) for e in events] == [
        ("write_multiple_registers", 100, list(range(100)))
    ]


@pytest.mark.parametrize("order", ["in_order", "reversed", "shuffled", "duplicated"])
def test_ipv4_fragments_are_reassembled(order: str) -> None:
    frags = fragment(_write100_datagram(), fragsize=64)
    assert len(frags) >= 4
    if order == "reversed":
        frags = frags[::-1]
    elif order == "shuffled":
        random.Random(7).shuffle(frags)
    elif order == "duplicated":
        frags = [f for f in frags for _ in range(2)]
    events, sensor = _run([_ether(f) for f in frags])
    _write100_events(events)
    assert sensor.stats["tcp_retransmissions"] == 0


def _frag(offset: int, piece: bytes, more: bool, ident: int = 0x4242) -> bytes:
    """An IPv4 fragment carrying ``piece`` at byte ``offset`` of a TCP segment."""
    hdr = IP(src=CLIENT, dst=SERVER, id=ident, proto=6, frag=offset // 8, flags="MF" if more else 0)
    return bytes(Ether(src=CMAC, dst=SMAC) / hdr / Raw(piece))


def _l4(p: Packet) -> bytes:
    return bytes(p[TCP])


def test_overlapping_fragment_keeps_the_first_bytes_seen() -> None:
    whole = _l4(_write100_datagram())
    garbage = b"\xee" * 16
    frames = [
        _frag(0, whole[:32], True),
        _frag(32, whole[32:64], True),
        _frag(40, garbage, True),  # overlaps bytes 40..56: arrives second, loses
        _frag(64, whole[64:], False),
    ]
    events, _ = _run(frames)
    _write100_events(events)


def test_overlapping_fragment_seen_first_wins() -> None:
    whole = _l4(_write100_datagram())
    garbage = b"\xee" * 16
    frames = [
        _frag(40, garbage, True),  # arrives first: its bytes 40..56 are kept
        _frag(0, whole[:32], True),
        _frag(32, whole[32:64], True),
        _frag(64, whole[64:], False),
    ]
    events, _ = _run(frames)
    expected = whole[:40] + garbage + whole[56:]
    # registers start after TCP header (20), MBAP (7), fc (1), address (2), quantity (2), count (1)
    regs = list(struct.unpack("!100H", expected[33:233]))
    assert regs[:3] == [0, 1, 2] and regs[12:] == list(range(12, 100))
    assert [e["modbus"]["values"] for e in events] == [regs]


def test_fragment_flood_stays_bounded_and_later_datagrams_still_reassemble() -> None:
    whole = _l4(_write100_datagram())
    first = bytearray(_frag(0, whole[:32], True, ident=0))
    flood = []
    for i in range(MAX_PENDING * 3):
        struct.pack_into("!H", first, 14 + 4, i)  # IP identification: a new datagram each time
        flood.append(bytes(first))
    frags = fragment(_write100_datagram(), fragsize=64)
    events, sensor = _run(flood + [_ether(f) for f in frags])
    _write100_events(events)
    assert sensor.defrag.stats["fragments_dropped_bound"] >= MAX_PENDING * 2


def test_overlapping_fragment_flood_into_one_datagram_stays_bounded_in_bytes() -> None:
    """8000 fragments of 1400 bytes at distinct offsets of one datagram: 11 MB if all were kept."""
    events: list[dict] = []
    sensor = Sensor(events.append, specs=[modbus.SPEC], capture_id="t")
    template = bytearray(bytes(Ether(src=CMAC, dst=SMAC) / IP(src=CLIENT, dst=SERVER, id=9, proto=6, flags="MF") / Raw(b"\xab" * 1400)))
    tracemalloc.start()
    try:
        base, _ = tracemalloc.get_traced_memory()
        for i in range(8000):
            struct.pack_into("!H", template, 14 + 6, 0x2000 | (i % 8000))  # MF + offset i*8
            sensor.packet(1_700_000_000_000_000_000, 1, bytes(template))
        cur, _peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert events == []
    assert cur - base < 4 * 1024 * 1024, f"{cur - base} bytes held for one datagram"


def test_fragment_beyond_64k_is_dropped() -> None:
    whole = _l4(_write100_datagram())
    frames = [_frag(0, whole[:32], True), _frag(65528, b"\x00" * 16, False)]
    events, sensor = _run(frames)
    assert events == []
    assert sensor.defrag.stats["fragment_too_large"] == 1


# -- IPv6 -------------------------------------------------------------------------------------


def test_ipv6_over_ethernet() -> None:
    events, _ = _run([_ether(p) for p in _v6()])
    _assert_read_hr(events, CLIENT6, SERVER6)


def test_ipv6_with_extension_headers() -> None:
    def with_ext(p: Packet) -> Packet:
        tcp = p[TCP].copy()
        return (
            IPv6(src=p[IPv6].src, dst=p[IPv6].dst)
            / IPv6ExtHdrHopByHop()
            / IPv6ExtHdrDestOpt()
            / IPv6ExtHdrRouting()
            / IPv6ExtHdrFragment(offset=0, m=0, id=5)  # atomic fragment: a header only
            / tcp
        )

    events, _ = _run([_ether(with_ext(p)) for p in _v6()])
    _assert_read_hr(events, CLIENT6, SERVER6)


@pytest.mark.parametrize("order", ["in_order", "reversed"])
def test_ipv6_fragments_with_extension_headers_are_reassembled(order: str) -> None:
    datagram = (
        IPv6(src=CLIENT6, dst=SERVER6)
        / IPv6ExtHdrHopByHop()
        / IPv6ExtHdrFragment(id=0x77)
        / TCP(sport=CPORT, dport=502, flags="PA", seq=1000)
        / Raw(WRITE_100_REQUEST)
    )
    frags = fragment6(datagram, 96)
    assert len(frags) >= 3
    if order == "reversed":
        frags = frags[::-1]
    events, _ = _run([bytes(Ether(src=CMAC, dst=SMAC) / f) for f in frags])
    _write100_events(events)
    assert events[0]["source"]["ip"] == CLIENT6


@pytest.mark.parametrize(
    "cut", [41, 47, 48, 55], ids=["in_hop_by_hop", "end_of_hop_by_hop", "fragment_header", "in_fragment_header"]
)
def test_ipv6_extension_chain_cut_off_is_counted(cut: int) -> None:
    ip6 = bytes(IPv6(src=CLIENT6, dst=SERVER6) / IPv6ExtHdrHopByHop() / IPv6ExtHdrFragment(m=1) / Raw(b"x" * 32))
    events, sensor = _run([ip6[:cut]], 101)
    assert events == []
    assert sensor.stats["bad_ip"] == 1


# -- UDP --------------------------------------------------------------------------------------


def test_modbus_over_udp() -> None:
    frames = [
        bytes(Ether(src=CMAC, dst=SMAC) / IP(src=CLIENT, dst=SERVER) / UDP(sport=CPORT, dport=502) / Raw(READ_HR_REQUEST)),
        bytes(Ether(src=SMAC, dst=CMAC) / IP(src=SERVER, dst=CLIENT) / UDP(sport=502, dport=CPORT) / Raw(READ_HR_RESPONSE)),
    ]
    events, _ = _run(frames)
    _assert_read_hr(events, transport="udp")


def test_modbus_over_udp_ipv6() -> None:
    frames = [
        bytes(IPv6(src=CLIENT6, dst=SERVER6) / UDP(sport=CPORT, dport=502) / Raw(READ_HR_REQUEST)),
        bytes(IPv6(src=SERVER6, dst=CLIENT6) / UDP(sport=502, dport=CPORT) / Raw(READ_HR_RESPONSE)),
    ]
    events, _ = _run(frames, 101)
    _assert_read_hr(events, CLIENT6, SERVER6, transport="udp")


def test_udp_datagram_with_half_an_adu_does_not_poison_the_next() -> None:
    frames = [
        bytes(IP(src=CLIENT, dst=SERVER) / UDP(sport=CPORT, dport=502) / Raw(READ_HR_REQUEST[:9])),
        bytes(IP(src=CLIENT, dst=SERVER) / UDP(sport=CPORT, dport=502) / Raw(READ_HR_REQUEST)),
        bytes(IP(src=SERVER, dst=CLIENT) / UDP(sport=502, dport=CPORT) / Raw(READ_HR_RESPONSE)),
    ]
    events, _ = _run(frames, 101)
    _assert_read_hr(events, transport="udp")


@pytest.mark.parametrize("cut", [20, 27], ids=["no_udp_header", "udp_header_cut"])
def test_truncated_udp_header_is_counted(cut: int) -> None:
    frame = bytes(IP(src=CLIENT, dst=SERVER) / UDP(sport=CPORT, dport=502) / Raw(READ_HR_REQUEST))[:cut]
    # fix the IP total length so that the cut is seen as a short UDP header, not a short IP packet
    frame = frame[:2] + struct.pack("!H", cut) + frame[4:]
    events, sensor = _run([frame], 101)
    assert events == []
    assert sensor.stats["udp_truncated"] == 1


@pytest.mark.parametrize("cut", [20, 39], ids=["no_tcp_header", "tcp_header_cut"])
def test_truncated_tcp_header_is_counted(cut: int) -> None:
    frame = bytes(IP(src=CLIENT, dst=SERVER) / TCP(sport=CPORT, dport=502) / Raw(READ_HR_REQUEST))[:cut]
    frame = frame[:2] + struct.pack("!H", cut) + frame[4:]
    events, sensor = _run([frame], 101)
    assert events == []
    assert sensor.stats["tcp_truncated"] == 1


def test_ipv4_total_length_zero_from_segmentation_offload() -> None:
    frames = [bytearray(_ether(p)) for p in _v4()]
    frames[3][14 + 2 : 14 + 4] = b"\x00\x00"  # the request's IPv4 total length: 0, as TSO captures show it
    events, _ = _run([bytes(f) for f in frames])
    _assert_read_hr(events)


def test_tcp_and_udp_on_the_same_ports_are_separate_flows() -> None:
    tcp = _v4()
    half = IP(src=CLIENT, dst=SERVER) / TCP(sport=CPORT, dport=502, flags="PA", seq=1000) / Raw(READ_HR_REQUEST[:5])
    rest = IP(src=CLIENT, dst=SERVER) / TCP(sport=CPORT, dport=502, flags="PA", seq=1005) / Raw(READ_HR_REQUEST[5:])
    udp = IP(src=CLIENT, dst=SERVER) / UDP(sport=CPORT, dport=502) / Raw(WRITE_100_REQUEST)
    frames = [_ether(p) for p in [*tcp[:3], half, udp, rest, tcp[4]]]
    events, _ = _run(frames)
    assert [(e["network"]["transport"], e["event"]["action"]) for e in events] == [
        ("udp", "write_multiple_registers"),
        ("tcp", "read_holding_registers"),
        ("tcp", "read_holding_registers"),
    ]
