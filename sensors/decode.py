"""Link and network layer decoding: link types, VLAN tags, IPv4 (with fragments), IPv6.

``network(linktype, data)`` returns ``(l3_offset, ip_version, dst_mac, src_mac)`` or ``None``
for frames that carry no IP. ``ip4``/``ip6`` return ``(src, dst, proto, l4_offset, l4_end)``
with addresses as raw bytes (turned into text once per flow, not per packet).

| link type | header |
|---|---|
| 0 NULL / 108 LOOP | 4-byte address family (host order / network order) |
| 1 EN10MB | dst(6) src(6) ethertype(2), then 802.1Q / 802.1ad / QinQ tags (4 each) |
| 12, 14, 101 RAW | IP version nibble |
| 113 LINUX_SLL | type(2) arphrd(2) addrlen(2) addr(8) protocol(2) |
| 276 LINUX_SLL2 | protocol(2) reserved(2) ifindex(4) arphrd(2) type(1) addrlen(1) addr(8) |
"""

from __future__ import annotations

import struct

ETH_IPV4 = 0x0800
ETH_IPV6 = 0x86DD
VLAN_TYPES = frozenset({0x8100, 0x88A8, 0x9100, 0x9200})
MAX_VLAN_TAGS = 4

_u16 = struct.Struct("!H").unpack_from
_IP6_EXT = frozenset({0, 43, 60, 135, 139, 140})
_NULL_V4 = frozenset({2})
_NULL_V6 = frozenset({10, 24, 28, 30})

Network = tuple[int, int, bytes, bytes]


def network(linktype: int, data: bytes) -> Network | None:
    n = len(data)
    if linktype == 1:
        if n < 14:
            return None
        etype = (data[12] << 8) | data[13]
        off = 14
        tags = 0
        while etype in VLAN_TYPES and tags < MAX_VLAN_TAGS:
            if off + 4 > n:
                return None
            etype = (data[off + 2] << 8) | data[off + 3]
            off += 4
            tags += 1
        version = 4 if etype == ETH_IPV4 else 6 if etype == ETH_IPV6 else 0
        return (off, version, data[0:6], data[6:12]) if version else None
    if linktype in (101, 12, 14):
        return _raw(data, 0)
    if linktype == 113:
        if n < 16:
            return None
        proto = _u16(data, 14)[0]
        off = 16
        if proto in VLAN_TYPES and n >= 20:
            proto = _u16(data, 18)[0]
            off = 20
        version = 4 if proto == ETH_IPV4 else 6 if proto == ETH_IPV6 else 0
        return (off, version, b"", data[6 : 6 + min(8, data[5])]) if version else None
    if linktype == 276:
        if n < 20:
            return None
        proto = _u16(data, 0)[0]
        version = 4 if proto == ETH_IPV4 else 6 if proto == ETH_IPV6 else 0
        return (20, version, b"", data[12 : 12 + min(8, data[11])]) if version else None
    if linktype in (0, 108):
        if n < 4:
            return None
        fam = int.from_bytes(data[:4], "big" if linktype == 108 else "little")
        if fam > 0xFFFF:  # written on the other byte order
            fam = int.from_bytes(data[:4], "little" if linktype == 108 else "big")
        if fam in _NULL_V4:
            return (4, 4, b"", b"")
        if fam in _NULL_V6:
            return (4, 6, b"", b"")
        return None
    return None


def _raw(data: bytes, off: int) -> Network | None:
    if len(data) <= off:
        return None
    v = data[off] >> 4
    return (off, v, b"", b"") if v in (4, 6) else None


IP = tuple[bytes, bytes, int, int, int]


def ip6(data: bytes, off: int) -> tuple[IP | None, tuple[int, int, bool, int] | None]:
    """IPv6 header and extension chain.

    Returns ``(ip, fragment)``: ``fragment`` is ``(ident, offset, more, header_end)`` when a
    fragment header was found (the caller reassembles), else ``None``.
    """
    n = len(data)
    if off + 40 > n:
        return None, None
    plen = _u16(data, off + 4)[0]
    nxt = data[off + 6]
    src = data[off + 8 : off + 24]
    dst = data[off + 24 : off + 40]
    end = min(n, off + 40 + plen) if plen else n
    pos = off + 40
    frag = None
    hops = 0
    while hops < 8:
        hops += 1
        if nxt in _IP6_EXT:
            if pos + 8 > end:
                return None, None
            nxt2 = data[pos]
            pos += (data[pos + 1] + 1) * 8
            nxt = nxt2
        elif nxt == 44:  # fragment header
            if pos + 8 > end:
                return None, None
            nxt2 = data[pos]
            fo = _u16(data, pos + 2)[0]
            ident = int.from_bytes(data[pos + 4 : pos + 8], "big")
            pos += 8
            frag = (ident, fo & 0xFFF8, bool(fo & 1), pos)
            nxt = nxt2
            if frag[1] or frag[2]:
                break
            frag = None  # atomic fragment: just a header
        elif nxt == 51:  # AH
            if pos + 8 > end:
                return None, None
            nxt2 = data[pos]
            pos += (data[pos + 1] + 2) * 4
            nxt = nxt2
        else:
            break
    if pos > end:
        return None, None
    return (src, dst, nxt, pos, end), frag
