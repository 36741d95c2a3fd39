"""Capture readers: pcap (both byte orders, micro/nanoseconds) and pcapng (SHB/IDB/EPB/SPB).

Every capture here is written from labelled byte constants (one comment per field), so the
expected timestamps, link types and frames come from the bytes, not from the reader.
"""

from __future__ import annotations

import struct
import tracemalloc
from pathlib import Path

import pytest
from scapy.layers.inet import IP, TCP
from scapy.layers.l2 import Ether
from scapy.utils import PcapWriter

from sensors.capture import BLOCK, MAX_CAPLEN, CaptureError, TruncatedCapture, open_capture

FRAME_A = b"\x11" * 60
FRAME_B = b"\x22" * 61  # odd length: pcapng pads it to 64
FRAME_C = b"\x33" * 3

# -- pcap -------------------------------------------------------------------------------------

PCAP_LE_USEC = (
    b"\xd4\xc3\xb2\xa1"  # magic: little-endian, microseconds
    b"\x02\x00\x04\x00"  # version 2.4
    b"\x00\x00\x00\x00"  # thiszone
    b"\x00\x00\x00\x00"  # sigfigs
    b"\xff\xff\x00\x00"  # snaplen 65535
    b"\x01\x00\x00\x00"  # link type 1 (Ethernet)
)
PCAP_BE_NSEC = (
    b"\xa1\xb2\x3c\x4d"  # magic: big-endian, nanoseconds
    b"\x00\x02\x00\x04"  # version 2.4
    b"\x00\x00\x00\x00"  # thiszone
    b"\x00\x00\x00\x00"  # sigfigs
    b"\x00\x00\xff\xff"  # snaplen 65535
    b"\x00\x00\x00\x65"  # link type 101 (raw IP)
)
PCAP_LE_USEC_RECORD_A = (
    b"\x00\x5e\xd0\xb2"  # ts_sec 3000000000 (after 2038: unsigned)
    b"\x3f\x42\x0f\x00"  # ts_usec 999999
    b"\x3c\x00\x00\x00"  # caplen 60
    b"\x3c\x00\x00\x00"  # origlen 60
    + FRAME_A
)
PCAP_LE_USEC_RECORD_B = (
    b"\x01\x00\x00\x00"  # ts_sec 1
    b"\x01\x00\x00\x00"  # ts_usec 1
    b"\x3d\x00\x00\x00"  # caplen 61
    b"\xe8\x03\x00\x00"  # origlen 1000 (snapped)
    + FRAME_B
)
PCAP_BE_NSEC_RECORD_A = (
    b"\x65\x00\x00\x00"  # ts_sec 1694498816
    b"\x3b\x9a\xc9\xff"  # ts_nsec 999999999
    b"\x00\x00\x00\x3c"  # caplen 60
    b"\x00\x00\x00\x3c"  # origlen 60
    + FRAME_A
)
PCAP_BE_NSEC_RECORD_C = (
    b"\x00\x00\x00\x00"  # ts_sec 0
    b"\x00\x00\x00\x07"  # ts_nsec 7
    b"\x00\x00\x00\x03"  # caplen 3
    b"\x00\x00\x00\x03"  # origlen 3
    + FRAME_C
)
PCAP_LE_EMPTY_RECORD = (
    b"\x02\x00\x00\x00"  # ts_sec 2
    b"\x00\x00\x00\x00"  # ts_usec 0
    b"\x00\x00\x00\x00"  # caplen 0
    b"\x00\x00\x00\x00"  # origlen 0
)


def _write(tmp_path: Path, data: bytes, name: str = "c.pcap") -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


def test_pcap_little_endian_microseconds(tmp_path: Path) -> None:
    path = _write(tmp_path, PCAP_LE_USEC + PCAP_LE_USEC_RECORD_A + PCAP_LE_USEC_RECORD_B + PCAP_LE_EMPTY_RECORD)
    assert list(open_capture(path)) == [
        (3_000_000_000 * 10**9 + 999_999_000, 1, FRAME_A),
        (1_000_001_000, 1, FRAME_B),
        (2_000_000_000, 1, b""),
    ]


def test_pcap_big_endian_nanoseconds(tmp_path: Path) -> None:
    path = _write(tmp_path, PCAP_BE_NSEC + PCAP_BE_NSEC_RECORD_A + PCAP_BE_NSEC_RECORD_C)
    assert list(open_capture(path)) == [
        (0x65000000 * 10**9 + 999_999_999, 101, FRAME_A),
        (7, 101, FRAME_C),
    ]


def test_pcap_link_type_fcs_bits_are_masked(tmp_path: Path) -> None:
    header = PCAP_LE_USEC[:20] + (
        b"\x01\x00\x00\x14"  # link type 1 with FCS length 1 and the F bit (upper bits, pcap draft 4.1)
    )
    path = _write(tmp_path, header + PCAP_LE_USEC_RECORD_B)
    assert [p[1] for p in open_capture(path)] == [1]


@pytest.mark.parametrize("nano", [False, True], ids=["usec", "nsec"])
@pytest.mark.parametrize("endian", ["<", ">"], ids=["le", "be"])
def test_pcap_written_by_scapy(tmp_path: Path, nano: bool, endian: str) -> None:
    path = tmp_path / "s.pcap"
    frames = [Ether() / IP(dst="127.0.0.1") / TCP(dport=502 + i) for i in range(3)]
    with PcapWriter(str(path), nano=nano, endianness=endian, linktype=1) as w:
        for i, f in enumerate(frames):
            f.time = 1_700_000_000 + i
            w.write(f)
    got = list(open_capture(path))
    assert got == [((1_700_000_000 + i) * 10**9, 1, bytes(f)) for i, f in enumerate(frames)]


# -- pcapng -----------------------------------------------------------------------------------


def _pad(data: bytes) -> bytes:
    return data + b"\x00" * (-len(data) % 4)


def _block(order: str, btype: int, body: bytes) -> bytes:
    """type(4) total length(4) body(padded) total length(4)."""
    body = _pad(body)
    n = 12 + len(body)
    return struct.pack(order + "II", btype, n) + body + struct.pack(order + "I", n)


def _shb(order: str) -> bytes:
    return _block(
        order,
        0x0A0D0D0A,  # block type: section header
        struct.pack(order + "I", 0x1A2B3C4D)  # byte-order magic
        + struct.pack(order + "HH", 1, 0)  # version 1.0
        + struct.pack(order + "q", -1),  # section length: unknown
    )


def _idb(order: str, linktype: int, tsresol: int | None = None, snaplen: int = 0) -> bytes:
    options = b""
    if tsresol is not None:
        options = (
            struct.pack(order + "HH", 9, 1)  # option if_tsresol, length 1
            + bytes([tsresol, 0, 0, 0])  # value + padding
            + struct.pack(order + "HH", 0, 0)  # opt_endofopt
        )
    return _block(
        order,
        1,  # block type: interface description
        struct.pack(order + "HHI", linktype, 0, snaplen)  # link type, reserved, snaplen
        + options,
    )


def _epb(order: str, iface: int, ticks: int, frame: bytes, origlen: int | None = None) -> bytes:
    return _block(
        order,
        6,  # block type: enhanced packet
        struct.pack(
            order + "IIIII",
            iface,  # interface id
            ticks >> 32,  # timestamp high
            ticks & 0xFFFFFFFF,  # timestamp low
            len(frame),  # captured length
            len(frame) if origlen is None else origlen,  # original length
        )
        + frame,
    )


def _spb(order: str, frame: bytes) -> bytes:
    return _block(order, 3, struct.pack(order + "I", len(frame)) + frame)  # simple packet: origlen, data


def _unknown(order: str) -> bytes:
    return _block(order, 0x00000BAD, b"custom block body, skipped")  # custom block type 0xBAD


# one section, little-endian, laid out byte by byte: SHB, IDB (Ethernet, ns), EPB
PCAPNG_LE_ONE_PACKET = (
    b"\x0a\x0d\x0d\x0a"  # SHB: block type
    b"\x1c\x00\x00\x00"  # SHB: total length 28
    b"\x4d\x3c\x2b\x1a"  # SHB: byte-order magic (little-endian)
    b"\x01\x00\x00\x00"  # SHB: version 1.0
    b"\xff\xff\xff\xff\xff\xff\xff\xff"  # SHB: section length -1
    b"\x1c\x00\x00\x00"  # SHB: total length 28
    b"\x01\x00\x00\x00"  # IDB: block type
    b"\x1c\x00\x00\x00"  # IDB: total length 28
    b"\x01\x00"  # IDB: link type 1 (Ethernet)
    b"\x00\x00"  # IDB: reserved
    b"\x00\x00\x04\x00"  # IDB: snaplen 262144
    b"\x09\x00\x01\x00"  # IDB option: if_tsresol, length 1
    b"\x09\x00\x00\x00"  # IDB option value: 10^-9 (ns) + padding (no opt_endofopt: optional)
    b"\x1c\x00\x00\x00"  # IDB: total length 28
    b"\x06\x00\x00\x00"  # EPB: block type
    b"\x24\x00\x00\x00"  # EPB: total length 36
    b"\x00\x00\x00\x00"  # EPB: interface 0
    b"\x01\x00\x00\x00"  # EPB: timestamp high 1
    b"\x02\x00\x00\x00"  # EPB: timestamp low 2
    b"\x03\x00\x00\x00"  # EPB: captured length 3
    b"\x03\x00\x00\x00"  # EPB: original length 3
    b"\x33\x33\x33\x00"  # EPB: frame (3 bytes) + padding
    b"\x24\x00\x00\x00"  # EPB: total length 36
)


def test_pcapng_hand_labelled_section(tmp_path: Path) -> None:
    path = _write(tmp_path, PCAPNG_LE_ONE_PACKET, "c.pcapng")
    assert list(open_capture(path)) == [((1 << 32) + 2, 1, FRAME_C)]


def test_pcapng_interfaces_with_different_link_types_and_resolutions(tmp_path: Path) -> None:
    data = (
        _shb("<")
        + _idb("<", 1)  # 0: Ethernet, default resolution (microseconds)
        + _unknown("<")
        + _idb("<", 113, tsresol=9)  # 1: Linux cooked, nanoseconds
        + _idb("<", 101, tsresol=3)  # 2: raw IP, milliseconds
        + _idb("<", 0, tsresol=0x80 | 10)  # 3: BSD null, 2^-10 s
        + _idb("<", 276, tsresol=12)  # 4: SLL2, picoseconds
        + _epb("<", 0, 1_700_000_000_123_456, FRAME_A)
        + _epb("<", 1, 1_700_000_000_123_456_789, FRAME_B)
        + _unknown("<")
        + _epb("<", 2, 1_700_000_000_123, FRAME_C)
        + _epb("<", 3, 3 * 1024 + 512, FRAME_A)
        + _epb("<", 4, 123_456_789_012, FRAME_B)
        + _spb("<", FRAME_C)
        + _epb("<", 9, 1, FRAME_C)  # unknown interface: skipped
    )
    got = list(open_capture(_write(tmp_path, data, "c.pcapng")))
    assert got == [
        (1_700_000_000_123_456_000, 1, FRAME_A),
        (1_700_000_000_123_456_789, 113, FRAME_B),
        (1_700_000_000_123_000_000, 101, FRAME_C),
        (3_500_000_000, 0, FRAME_A),
        (123_456_789, 276, FRAME_B),  # 123456789012 ps
        (0, 1, FRAME_C),  # simple packet: interface 0, no timestamp
    ]


def test_pcapng_big_endian_section_after_little_endian_one(tmp_path: Path) -> None:
    data = (
        _shb("<") + _idb("<", 1, tsresol=9) + _epb("<", 0, 5, FRAME_A)
        # a new section resets the interfaces; this one is big-endian
        + _shb(">") + _idb(">", 101, tsresol=6) + _epb(">", 0, 7, FRAME_B) + _spb(">", FRAME_C)
    )
    assert list(open_capture(_write(tmp_path, data, "c.pcapng"))) == [
        (5, 1, FRAME_A),
        (7000, 101, FRAME_B),
        (0, 101, FRAME_C),
    ]


def test_pcapng_obsolete_packet_block(tmp_path: Path) -> None:
    pb = _block(
        "<",
        2,  # block type: packet (obsolete)
        struct.pack(
            "<HHIIII",
            1,  # interface id 1
            0,  # drops count
            0,  # timestamp high
            1_500_000,  # timestamp low: 1.5 s in microseconds
            len(FRAME_B),  # captured length
            len(FRAME_B),  # original length
        )
        + FRAME_B,
    )
    data = _shb("<") + _idb("<", 1) + _idb("<", 113) + pb
    assert list(open_capture(_write(tmp_path, data, "c.pcapng"))) == [(1_500_000_000, 113, FRAME_B)]


def test_pcapng_resolution_and_offset_after_other_options(tmp_path: Path) -> None:
    idb = _block(
        "<",
        1,  # block type: interface description
        struct.pack("<HHI", 1, 0, 0)  # link type 1, reserved, snaplen 0
        + struct.pack("<HH", 2, 4) + b"eth0"  # option if_name "eth0"
        + struct.pack("<HH", 1, 5) + b"hello\x00\x00\x00"  # option opt_comment, padded to 8
        + struct.pack("<HH", 9, 1) + b"\x03\x00\x00\x00"  # option if_tsresol 10^-3 (ms) + padding
        + struct.pack("<HH", 14, 8) + struct.pack("<q", 1_600_000_000)  # option if_tsoffset, seconds
        + struct.pack("<HH", 0, 0),  # opt_endofopt
    )
    data = _shb("<") + idb + _epb("<", 0, 2_500, FRAME_A)
    assert list(open_capture(_write(tmp_path, data, "c.pcapng"))) == [(1_600_000_002_500_000_000, 1, FRAME_A)]


def test_pcapng_simple_packet_is_cut_to_snaplen(tmp_path: Path) -> None:
    data = _shb("<") + _idb("<", 1, snaplen=10) + _spb("<", FRAME_A)
    assert list(open_capture(_write(tmp_path, data, "c.pcapng"))) == [(0, 1, FRAME_A[:10])]


def test_pcapng_written_by_scapy(tmp_path: Path) -> None:
    """A pcapng from scapy's writer (not ours): frames and microsecond times survive."""
    from scapy.utils import PcapNgWriter

    path = tmp_path / "s.pcapng"
    frames = [Ether() / IP(dst="127.0.0.1") / TCP(dport=502 + i) for i in range(3)]
    with PcapNgWriter(str(path)) as w:
        for i, f in enumerate(frames):
            f.time = 1_700_000_000 + i
            w.write(f)
    assert list(open_capture(path)) == [((1_700_000_000 + i) * 10**9, 1, bytes(f)) for i, f in enumerate(frames)]


# -- memory -----------------------------------------------------------------------------------


def test_large_capture_streams_in_constant_memory(tmp_path: Path) -> None:
    record = struct.pack("<IIII", 1, 0, 1400, 1400) + b"\x55" * 1400
    n = (16 * BLOCK) // len(record)
    path = tmp_path / "big.pcap"
    with open(path, "wb") as fh:
        fh.write(PCAP_LE_USEC)
        fh.write(record * n)
    size = path.stat().st_size
    assert size > 15 * BLOCK
    tracemalloc.start()
    try:
        count = 0
        for _ts, _lt, frame in open_capture(path):
            count += len(frame) == 1400
        _cur, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert count == n
    assert peak < size // 4, f"peak {peak} for a {size}-byte file"


# -- bad files --------------------------------------------------------------------------------

FULL_PCAP = PCAP_LE_USEC + PCAP_LE_USEC_RECORD_A + PCAP_LE_USEC_RECORD_B


@pytest.mark.parametrize(
    "cut, before",
    [
        (24 + 8, 0),  # inside the first record header (after ts)
        (24 + 16, 0),  # after the first record header, before its frame
        (24 + 16 + 30, 0),  # inside the first frame
        (24 + 16 + 60 + 4, 1),  # inside the second record header
        (24 + 16 + 60 + 16 + 60, 1),  # one byte short of the second frame
    ],
)
def test_truncated_pcap_yields_packets_before_the_cut(tmp_path: Path, cut: int, before: int) -> None:
    got = []
    with pytest.raises(TruncatedCapture, match="cut off"):
        for pkt in open_capture(_write(tmp_path, FULL_PCAP[:cut])):
            got.append(pkt)
    assert [p[2] for p in got] == [FRAME_A, FRAME_B][:before]


@pytest.mark.parametrize("cut", [4, 8, 20, 23])
def test_pcap_cut_inside_global_header_is_truncated(tmp_path: Path, cut: int) -> None:
    with pytest.raises(TruncatedCapture):
        list(open_capture(_write(tmp_path, FULL_PCAP[:cut])))


FULL_PCAPNG = _shb("<") + _idb("<", 1, tsresol=9) + _epb("<", 0, 1, FRAME_A) + _epb("<", 0, 2, FRAME_B)
_SHB_LEN = len(_shb("<"))
_IDB_LEN = len(_idb("<", 1, tsresol=9))
_EPB_A_LEN = len(_epb("<", 0, 1, FRAME_A))


@pytest.mark.parametrize(
    "cut, before",
    [
        (4, 0),  # after the SHB block type
        (10, 0),  # inside the byte-order magic
        (_SHB_LEN - 1, 0),  # one byte short of the SHB
        (_SHB_LEN + 8, 0),  # IDB header only
        (_SHB_LEN + _IDB_LEN + 20, 0),  # inside the first EPB
        (_SHB_LEN + _IDB_LEN + _EPB_A_LEN + 4, 1),  # second EPB: block type only
        (len(FULL_PCAPNG) - 1, 1),  # second EPB: trailing length cut
    ],
)
def test_truncated_pcapng_yields_packets_before_the_cut(tmp_path: Path, cut: int, before: int) -> None:
    got = []
    with pytest.raises(TruncatedCapture):
        for pkt in open_capture(_write(tmp_path, FULL_PCAPNG[:cut], "c.pcapng")):
            got.append(pkt)
    assert [p[2] for p in got] == [FRAME_A, FRAME_B][:before]


@pytest.mark.parametrize(
    "data",
    [
        b"",  # empty file
        b"\x00",  # one byte
        b"GET / HTTP/1.1\r\nHost: x\r\n\r\n",  # text
        b"\x7fELF" + b"\x00" * 60,  # an executable
        b"PK\x03\x04" + b"\x00" * 60,  # a zip file
        b"\xa1\xb2\xc3\xd5" + b"\x00" * 60,  # pcap-like magic, one bit off
    ],
    ids=["empty", "one_byte", "text", "elf", "zip", "near_magic"],
)
def test_non_capture_raises_capture_error(tmp_path: Path, data: bytes) -> None:
    with pytest.raises(CaptureError, match="not a pcap or pcapng") as info:
        list(open_capture(_write(tmp_path, data)))
    assert not isinstance(info.value, TruncatedCapture)


def test_missing_file_raises_capture_error(tmp_path: Path) -> None:
    with pytest.raises(CaptureError, match="cannot open"):
        open_capture(tmp_path / "nope.pcap")


def test_pcap_with_hostile_caplen_stops_with_capture_error(tmp_path: Path) -> None:
    hostile = (
        b"\x03\x00\x00\x00"  # ts_sec 3
        b"\x00\x00\x00\x00"  # ts_usec 0
        b"\xff\xff\xff\xff"  # caplen 4 GiB
        b"\x3c\x00\x00\x00"  # origlen 60
    ) + b"\x00" * 64
    got = []
    with pytest.raises(CaptureError, match="caplen"):
        for pkt in open_capture(_write(tmp_path, PCAP_LE_USEC + PCAP_LE_USEC_RECORD_A + hostile)):
            got.append(pkt)
    assert [p[2] for p in got] == [FRAME_A]


def test_pcap_caplen_just_above_the_limit_is_corrupt(tmp_path: Path) -> None:
    record = struct.pack("<IIII", 0, 0, MAX_CAPLEN + 1, 60) + b"\x00" * 100
    with pytest.raises(CaptureError, match="corrupt"):
        list(open_capture(_write(tmp_path, PCAP_LE_USEC + record)))


@pytest.mark.parametrize(
    "block",
    [
        struct.pack("<II", 6, 0xFFFFFFF0) + b"\x00" * 32,  # hostile block length
        struct.pack("<II", 6, 13) + b"\x00" * 32,  # length not a multiple of 4
        struct.pack("<II", 6, 8) + b"\x00" * 32,  # length below the minimum block
    ],
    ids=["huge", "unaligned", "too_small"],
)
def test_pcapng_with_corrupt_block_length_stops_with_capture_error(tmp_path: Path, block: bytes) -> None:
    got = []
    with pytest.raises(CaptureError, match="corrupt block"):
        for pkt in open_capture(_write(tmp_path, FULL_PCAPNG + block, "c.pcapng")):
            got.append(pkt)
    assert [p[2] for p in got] == [FRAME_A, FRAME_B]


def test_pcapng_large_unread_block_is_skipped_in_constant_memory(tmp_path: Path) -> None:
    """A 16 MiB decryption-secrets block (type 0x0A) sits between two packets."""
    secrets = _block(
        "<",
        0x0000000A,  # block type: decryption secrets
        struct.pack("<II", 0x544C534B, 16 * BLOCK)  # secrets type "TLSK", length
        + b"CLIENT_RANDOM 00 00\n" * (16 * BLOCK // 20),
    )
    data = _shb("<") + _idb("<", 1, tsresol=9) + _epb("<", 0, 1, FRAME_A) + secrets + _epb("<", 0, 2, FRAME_B)
    path = _write(tmp_path, data, "c.pcapng")
    tracemalloc.start()
    try:
        got = list(open_capture(path))
        _cur, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert got == [(1, 1, FRAME_A), (2, 1, FRAME_B)]
    assert peak < 4 * BLOCK  # a few read blocks, not the 16 MiB block


def test_pcapng_cut_inside_a_large_unread_block(tmp_path: Path) -> None:
    big = _block("<", 0x0000000A, b"\x00" * (2 * BLOCK))
    data = FULL_PCAPNG + big
    got = []
    with pytest.raises(TruncatedCapture):
        for pkt in open_capture(_write(tmp_path, data[: len(FULL_PCAPNG) + BLOCK], "c.pcapng")):
            got.append(pkt)
    assert [p[2] for p in got] == [FRAME_A, FRAME_B]


def test_pcapng_epb_with_caplen_beyond_its_block_is_skipped(tmp_path: Path) -> None:
    body = struct.pack(
        "<IIIII",
        0,  # interface 0
        0,  # timestamp high
        9,  # timestamp low
        0x7FFFFFFF,  # captured length: beyond the block
        60,  # original length
    ) + FRAME_A
    data = FULL_PCAPNG + _block("<", 6, body) + _epb("<", 0, 3, FRAME_C)
    assert [p[2] for p in open_capture(_write(tmp_path, data, "c.pcapng"))] == [FRAME_A, FRAME_B, FRAME_C]


def test_pcapng_without_section_header_is_not_a_capture(tmp_path: Path) -> None:
    # starts with the pcapng magic but a bad byte-order magic
    data = b"\x0a\x0d\x0d\x0a" + b"\x1c\x00\x00\x00" + b"\x00\x00\x00\x00" + b"\x00" * 16
    with pytest.raises(CaptureError, match="byte-order"):
        list(open_capture(_write(tmp_path, data, "c.pcapng")))
