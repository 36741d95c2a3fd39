"""Capture readers: pcap and pcapng files streamed in constant memory.

Both readers yield ``(ts_ns, linktype, frame_bytes)`` per packet, reading the file in large
blocks so that memory does not grow with the file size.

pcap record header (https://datatracker.ietf.org/doc/draft-ietf-opsawg-pcap/):

| field | width | meaning |
|---|---|---|
| ts_sec | 4 | seconds |
| ts_frac | 4 | micro- or nanoseconds (by magic) |
| caplen | 4 | bytes captured |
| origlen | 4 | bytes on the wire |

pcapng blocks (https://datatracker.ietf.org/doc/draft-ietf-opsawg-pcapng/): type (4), total
length (4), body, total length (4). Handled: SHB (0x0A0D0D0A, byte order per section), IDB (1:
link type, snaplen, ``if_tsresol`` and ``if_tsoffset`` options), EPB (6: interface, timestamp
hi/lo, caplen, origlen), SPB (3: origlen, interface 0), obsolete PB (2). Other blocks are skipped.

A file cut off mid-record raises ``TruncatedCapture`` after every complete packet before the
cut has been yielded.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

BLOCK = 1 << 20
#: the largest packet we accept (a hostile caplen beyond this is a corrupt file)
MAX_CAPLEN = 262_144

PCAP_MAGIC = {
    b"\xd4\xc3\xb2\xa1": ("<", 1000),  # little-endian, microseconds
    b"\xa1\xb2\xc3\xd4": (">", 1000),
    b"\x4d\x3c\xb2\xa1": ("<", 1),  # nanoseconds
    b"\xa1\xb2\x3c\x4d": (">", 1),
}
PCAPNG_MAGIC = b"\x0a\x0d\x0d\x0a"

Packet = tuple[int, int, bytes]


class CaptureError(Exception):
    """The file is not a capture we can read."""


class TruncatedCapture(CaptureError):
    """The capture ends inside a record (packets before the cut were delivered)."""


def open_capture(path: Path) -> Iterator[Packet]:
    """Detect the format from the magic number and stream packets."""
    try:
        fh = open(path, "rb")  # noqa: SIM115 - closed by the generator
    except OSError as exc:
        raise CaptureError(f"{path}: cannot open: {exc.strerror or exc}") from exc
    magic = fh.read(4)
    fh.seek(0)
    if magic in PCAP_MAGIC:
        return _closing(fh, read_pcap(fh, str(path)))
    if magic == PCAPNG_MAGIC:
        return _closing(fh, read_pcapng(fh, str(path)))
    fh.close()
    raise CaptureError(f"{path}: not a pcap or pcapng capture (magic {magic.hex() or 'empty'})")


def _closing(fh: BinaryIO, packets: Iterator[Packet]) -> Iterator[Packet]:
    with fh:
        yield from packets


def read_pcap(fh: BinaryIO, name: str = "capture") -> Iterator[Packet]:
    header = fh.read(24)
    if header[:4] not in PCAP_MAGIC:
        raise CaptureError(f"{name}: not a pcap file")
    if len(header) < 24:
        raise TruncatedCapture(f"{name}: capture cut off at byte {len(header)} inside the file header")
    order, scale = PCAP_MAGIC[header[:4]]
    (linktype,) = struct.unpack_from(order + "I", header, 20)
    linktype &= 0xFFFF  # the upper 16 bits carry FCS length and reserved bits
    rec = struct.Struct(order + "IIII")
    unpack = rec.unpack_from
    buf = b""
    pos = 0
    offset = 24  # file offset of buf[0], for error messages
    while True:
        chunk = fh.read(BLOCK)
        if not chunk:
            break
        buf = buf[pos:] + chunk if pos < len(buf) else chunk
        offset += pos
        pos = 0
        end = len(buf)
        while pos + 16 <= end:
            sec, frac, caplen, _orig = unpack(buf, pos)
            if caplen > MAX_CAPLEN:
                raise CaptureError(f"{name}: corrupt record at byte {offset + pos}: caplen {caplen}")
            nxt = pos + 16 + caplen
            if nxt > end:
                break
            yield sec * 1_000_000_000 + frac * scale, linktype, buf[pos + 16 : nxt]
            pos = nxt
    if pos < len(buf):
        raise TruncatedCapture(
            f"{name}: capture cut off at byte {offset + len(buf)} inside the record at byte {offset + pos}"
        )


_BT_SHB = 0x0A0D0D0A
_BT_IDB = 1
_BT_PB = 2
_BT_SPB = 3
_BT_EPB = 6
#: blocks we decode, and so buffer whole; others longer than MAX_BLOCK are skipped unbuffered
_READ_BLOCKS = frozenset({_BT_SHB, _BT_IDB, _BT_PB, _BT_SPB, _BT_EPB})
MAX_BLOCK = MAX_CAPLEN + 4096 + 1024


def read_pcapng(fh: BinaryIO, name: str = "capture") -> Iterator[Packet]:
    order = "<"
    # per interface: (linktype, mul, div, offset, snaplen): ns = ticks * mul // div + offset
    interfaces: list[tuple[int, int, int, int, int]] = []
    buf = b""
    pos = 0
    offset = 0
    seen_shb = False
    while True:
        chunk = fh.read(BLOCK)
        if not chunk:
            break
        buf = buf[pos:] + chunk if pos < len(buf) else chunk
        offset += pos
        pos = 0
        end = len(buf)
        while pos + 12 <= end:
            raw_type = buf[pos : pos + 4]
            if raw_type == PCAPNG_MAGIC:
                bom = buf[pos + 8 : pos + 12]
                if bom == b"\x4d\x3c\x2b\x1a":
                    order = "<"
                elif bom == b"\x1a\x2b\x3c\x4d":
                    order = ">"
                else:
                    raise CaptureError(f"{name}: bad byte-order magic at byte {offset + pos}")
                seen_shb = True
                interfaces = []
            elif not seen_shb:
                raise CaptureError(f"{name}: pcapng file does not start with a section header")
            btype, blen = struct.unpack_from(order + "II", buf, pos)
            if blen < 12 or blen % 4 or (blen > MAX_BLOCK and btype in _READ_BLOCKS):
                raise CaptureError(f"{name}: corrupt block at byte {offset + pos}: length {blen}")
            if pos + blen > end:
                if blen <= MAX_BLOCK:
                    break
                # a large block we do not read (name resolution, decryption secrets, custom):
                # skip it without buffering it
                at, need = offset + pos, pos + blen - end
                while need > 0:
                    chunk = fh.read(min(BLOCK, need))
                    if not chunk:
                        raise TruncatedCapture(f"{name}: capture cut off inside the block at byte {at}")
                    need -= len(chunk)
                buf, pos, end, offset = b"", 0, 0, at + blen
                break
            body = pos + 8
            if btype == _BT_EPB and blen >= 32:
                iface, hi, lo, caplen, _orig = struct.unpack_from(order + "IIIII", buf, body)
                if iface < len(interfaces) and caplen <= blen - 32:
                    link, mul, div, off, _ = interfaces[iface]
                    start = body + 20
                    yield ((hi << 32) | lo) * mul // div + off, link, buf[start : start + caplen]
            elif btype == _BT_SPB and blen >= 16 and interfaces:
                (origlen,) = struct.unpack_from(order + "I", buf, body)
                link, _mul, _div, _off, snap = interfaces[0]
                caplen = min(origlen, blen - 16, snap or MAX_CAPLEN)
                yield 0, link, buf[body + 4 : body + 4 + caplen]
            elif btype == _BT_PB and blen >= 32:
                iface, _drops, hi, lo, caplen, _orig = struct.unpack_from(order + "HHIIII", buf, body)
                if iface < len(interfaces) and caplen <= blen - 32:
                    link, mul, div, off, _ = interfaces[iface]
                    yield ((hi << 32) | lo) * mul // div + off, link, buf[body + 20 : body + 20 + caplen]
            elif btype == _BT_IDB and blen >= 20:
                link, _res, snap = struct.unpack_from(order + "HHI", buf, body)
                mul, div, off = _ts_options(buf, body + 8, pos + blen - 4, order)
                interfaces.append((link, mul, div, off, snap))
            pos += blen
    if pos < len(buf):
        raise TruncatedCapture(
            f"{name}: capture cut off at byte {offset + len(buf)} inside the block at byte {offset + pos}"
        )


def _ts_options(buf: bytes, pos: int, end: int, order: str) -> tuple[int, int, int]:
    """``(mul, div, offset)`` with ns = ticks * mul // div + offset, from the IDB options.

    ``if_tsresol`` (9) is 10^-n s, or 2^-n s with the top bit set; the default is microseconds.
    It is kept as an exact fraction: 2^-10 s ticks or picoseconds are not a whole number of ns.
    ``if_tsoffset`` (14) is a signed number of seconds added to every timestamp.
    """
    opt = struct.Struct(order + "HH")
    mul, div, offset = 1000, 1, 0
    while pos + 4 <= end:
        code, length = opt.unpack_from(buf, pos)
        if code == 0:
            break
        if code == 9 and length >= 1 and pos + 4 < end:
            res = buf[pos + 4]
            if res & 0x80:
                mul, div = 1_000_000_000, 1 << (res & 0x7F)
            else:
                mul, div = (10 ** (9 - res), 1) if res <= 9 else (1, 10 ** (res - 9))
        elif code == 14 and length >= 8 and pos + 12 <= end:
            offset = struct.unpack_from(order + "q", buf, pos + 4)[0] * 1_000_000_000
        pos += 4 + ((length + 3) & ~3)
    return mul, div, offset
