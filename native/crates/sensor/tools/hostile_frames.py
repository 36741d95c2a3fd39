"""Building blocks of the hostile captures (see make_hostile.py): read the TCP/UDP segments of
a reference capture, rebuild them as IPv4/IPv6 packets in any link-layer framing, and write
pcap (both byte orders, micro/nanoseconds) and pcapng files.

Everything is built with struct (no checksums: the sensor does not read them).
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, replace
from pathlib import Path

ETH_IPV4 = 0x0800
ETH_IPV6 = 0x86DD
NS = 1_000_000_000


@dataclass(frozen=True)
class Seg:
    """One TCP segment or UDP datagram between two IPv4 hosts."""

    ts: int  # ns since the epoch
    src: bytes  # 4 bytes
    dst: bytes
    sport: int
    dport: int
    payload: bytes
    proto: int = 6
    seq: int = 0
    ack: int = 0
    flags: int = 0x18
    smac: bytes = b"\x02\x00\x00\x00\x00\x01"
    dmac: bytes = b"\x02\x00\x00\x00\x00\x02"

    def moved(self, **kw: object) -> Seg:
        return replace(self, **kw)  # type: ignore[arg-type]


def read_pcap(path: Path) -> tuple[int, list[tuple[int, bytes]]]:
    """(linktype, [(ts_ns, frame)]) of a little-endian microsecond pcap."""
    data = path.read_bytes()
    magic = data[:4]
    assert magic == b"\xd4\xc3\xb2\xa1", f"{path}: only LE/us pcap sources are supported"
    link = struct.unpack_from("<I", data, 20)[0] & 0xFFFF
    out = []
    pos = 24
    while pos + 16 <= len(data):
        sec, usec, caplen, _ = struct.unpack_from("<IIII", data, pos)
        out.append((sec * NS + usec * 1000, data[pos + 16 : pos + 16 + caplen]))
        pos += 16 + caplen
    return link, out


def segments(path: Path) -> list[Seg]:
    """The IPv4 TCP/UDP segments of a capture (Ethernet or NULL link type)."""
    link, frames = read_pcap(path)
    out = []
    for ts, f in frames:
        if link == 1:
            smac, dmac, ip = f[6:12], f[0:6], f[14:]
            if f[12:14] != b"\x08\x00":
                continue
        elif link == 0:
            smac, dmac, ip = Seg.smac, Seg.dmac, f[4:]
        else:
            continue
        ihl = (ip[0] & 15) * 4
        total = struct.unpack_from("!H", ip, 2)[0]
        proto = ip[9]
        src, dst = ip[12:16], ip[16:20]
        l4 = ip[ihl:total]
        if proto == 6:
            sport, dport, seq, ack, doff, flags = struct.unpack_from("!HHIIBB", l4)
            payload = l4[(doff >> 4) * 4 :]
            out.append(Seg(ts, src, dst, sport, dport, payload, 6, seq, ack, flags, smac, dmac))
        elif proto == 17:
            sport, dport = struct.unpack_from("!HH", l4)
            out.append(Seg(ts, src, dst, sport, dport, l4[8:], 17, smac=smac, dmac=dmac))
    return out


# -- layer 4 / layer 3 -----------------------------------------------------------------------
def l4(seg: Seg, tcp_options: bytes = b"") -> bytes:
    if seg.proto == 17:
        return struct.pack("!HHHH", seg.sport, seg.dport, 8 + len(seg.payload), 0) + seg.payload
    doff = 5 + len(tcp_options) // 4
    hdr = struct.pack("!HHIIBBHHH", seg.sport, seg.dport, seg.seq & 0xFFFFFFFF, seg.ack & 0xFFFFFFFF,
                      doff << 4, seg.flags, 8192, 0, 0)
    return hdr + tcp_options + seg.payload


def ipv4(seg: Seg, body: bytes | None = None, *, ident: int = 1, frag: int = 0, options: bytes = b"",
         total: int | None = None, ihl: int | None = None, proto: int | None = None) -> bytes:
    body = l4(seg) if body is None else body
    hl = 20 + len(options)
    ihl_field = hl // 4 if ihl is None else ihl
    tot = hl + len(body) if total is None else total
    hdr = struct.pack("!BBHHHBBH4s4s", 0x40 | ihl_field, 0, tot & 0xFFFF, ident & 0xFFFF, frag, 64,
                      seg.proto if proto is None else proto, 0, seg.src, seg.dst)
    return hdr + options + body


def v6addr(v4: bytes, style: str) -> bytes:
    if style == "mapped":
        return bytes(10) + b"\xff\xff" + v4
    if style == "compat":
        return bytes(12) + v4
    if style == "linklocal":
        return b"\xfe\x80" + bytes(6) + b"\x02\x00\x00\xff\xfe\x00" + v4[2:]
    return b"\x20\x01\x0d\xb8" + bytes(4) + b"\x00\x01\x00\x00" + v4  # documentation prefix


def ipv6(seg: Seg, body: bytes | None = None, *, style: str = "doc", ext: bytes = b"", first_next: int | None = None,
         plen: int | None = None) -> bytes:
    """IPv6 with optional extension headers ``ext`` (whose chain the caller built) before ``body``."""
    body = l4(seg) if body is None else body
    payload = ext + body
    nxt = seg.proto if first_next is None else first_next
    hdr = struct.pack("!IHBB16s16s", 0x60000000, len(payload) if plen is None else plen, nxt, 64,
                      v6addr(seg.src, style), v6addr(seg.dst, style))
    return hdr + payload


def ext_header(next_header: int, length_units: int = 0, fill: int = 0) -> bytes:
    """Hop-by-hop / destination options / routing: next, length in 8-byte units beyond the first."""
    return bytes((next_header, length_units)) + bytes([fill]) * (6 + 8 * length_units)


def ah_header(next_header: int, payload_len: int = 4) -> bytes:
    """AH: length in 4-byte units minus 2."""
    return bytes((next_header, payload_len)) + bytes(2) + bytes(4 * (payload_len + 2) - 4)


def frag6_header(next_header: int, offset: int, more: bool, ident: int) -> bytes:
    return struct.pack("!BBHI", next_header, 0, (offset & 0xFFF8) | int(more), ident)


# -- link layers -----------------------------------------------------------------------------
def ether(seg: Seg, l3: bytes, etype: int = ETH_IPV4, tags: tuple[int, ...] = ()) -> bytes:
    out = seg.dmac + seg.smac
    for tpid in tags:
        out += struct.pack("!HH", tpid, 5)
    return out + struct.pack("!H", etype) + l3


def sll(l3: bytes, etype: int = ETH_IPV4, vlan: bool = False) -> bytes:
    hdr = struct.pack("!HHH8s", 0, 1, 6, b"\x02\x00\x00\x00\x00\x01\x00\x00")
    if vlan:
        return hdr + struct.pack("!HHH", 0x8100, 5, etype) + l3
    return hdr + struct.pack("!H", etype) + l3


def sll2(l3: bytes, etype: int = ETH_IPV4) -> bytes:
    return struct.pack("!HHIHBB8s", etype, 0, 2, 1, 0, 6, b"\x02\x00\x00\x00\x00\x01\x00\x00") + l3


def null(l3: bytes, family: int, big: bool) -> bytes:
    return struct.pack(">I" if big else "<I", family) + l3


# -- files -----------------------------------------------------------------------------------
def pcap_bytes(frames: list[tuple[int, bytes]], linktype: int, *, big: bool = False, nano: bool = False,
               caplen_override: dict[int, int] | None = None) -> bytes:
    o = ">" if big else "<"
    magic = 0xA1B23C4D if nano else 0xA1B2C3D4
    out = [struct.pack(o + "IHHiIII", magic, 2, 4, 0, 0, 262144, linktype)]
    for i, (ts, frame) in enumerate(frames):
        sec, frac = divmod(ts, NS)
        if not nano:
            frac //= 1000
        caplen = (caplen_override or {}).get(i, len(frame))
        out.append(struct.pack(o + "IIII", sec & 0xFFFFFFFF, frac, caplen, len(frame)) + frame)
    return b"".join(out)


def write_pcap(path: Path, frames: list[tuple[int, bytes]], linktype: int, **kw: object) -> None:
    path.write_bytes(pcap_bytes(frames, linktype, **kw))  # type: ignore[arg-type]


class Pcapng:
    """A pcapng file being built block by block (``big``: the current section's byte order)."""

    def __init__(self) -> None:
        self.parts: list[bytes] = []
        self.big = False

    def block(self, btype: int, body: bytes, *, length: int | None = None) -> None:
        o = ">" if self.big else "<"
        body += bytes(-len(body) % 4)
        n = 12 + len(body) if length is None else length
        self.parts.append(struct.pack(o + "II", btype, n) + body + struct.pack(o + "I", n))

    def shb(self, big: bool = False, bom: bytes | None = None) -> None:
        self.big = big
        o = ">" if big else "<"
        body = (bom if bom is not None else struct.pack(o + "I", 0x1A2B3C4D)) + struct.pack(o + "HHq", 1, 0, -1)
        self.block(0x0A0D0D0A, body)

    def idb(self, linktype: int, snaplen: int = 0, tsresol: int | None = None, tsoffset: int | None = None) -> None:
        o = ">" if self.big else "<"
        opts = b""
        if tsresol is not None:
            opts += struct.pack(o + "HH", 9, 1) + bytes((tsresol,)) + bytes(3)
        if tsoffset is not None:
            opts += struct.pack(o + "HHq", 14, 8, tsoffset)
        if opts:
            opts += struct.pack(o + "HH", 0, 0)
        self.block(1, struct.pack(o + "HHI", linktype, 0, snaplen) + opts)

    def epb(self, iface: int, ticks: int, frame: bytes, caplen: int | None = None) -> None:
        o = ">" if self.big else "<"
        ticks &= 0xFFFFFFFFFFFFFFFF
        cap = len(frame) if caplen is None else caplen
        self.block(6, struct.pack(o + "IIIII", iface, ticks >> 32, ticks & 0xFFFFFFFF, cap, len(frame)) + frame)

    def spb(self, frame: bytes, origlen: int | None = None) -> None:
        o = ">" if self.big else "<"
        self.block(3, struct.pack(o + "I", len(frame) if origlen is None else origlen) + frame)

    def pb(self, iface: int, ticks: int, frame: bytes) -> None:
        o = ">" if self.big else "<"
        self.block(2, struct.pack(o + "HHIIII", iface, 0, ticks >> 32, ticks & 0xFFFFFFFF, len(frame), len(frame)) + frame)

    def raw(self, data: bytes) -> None:
        self.parts.append(data)

    def bytes(self) -> bytes:
        return b"".join(self.parts)
