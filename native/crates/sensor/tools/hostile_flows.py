"""Hostile variants of real flows for make_hostile.py: link-layer framings, TCP segmentation
games (splits, reordering, duplicates, overlaps, gaps, midstream starts, sequence wrap, port
reuse, out-of-order floods, timeouts), IPv4/IPv6 fragments, UDP, protocol detection on other
ports, and malformed IP/TCP/UDP headers.
"""

from __future__ import annotations

import random
import struct
from collections.abc import Callable

from hostile_frames import (
    ETH_IPV4,
    ETH_IPV6,
    NS,
    Seg,
    ah_header,
    ether,
    ext_header,
    frag6_header,
    ipv4,
    ipv6,
    l4,
    null,
    sll,
    sll2,
)

Frames = list[tuple[int, bytes]]
Wrap = Callable[[Seg], bytes]

V6_EXT = ext_header(60) + ext_header(51, 1) + ah_header(6)

#: name -> (linktype, frame builder)
ENCAPSULATIONS: dict[str, tuple[int, Wrap]] = {
    "vlan": (1, lambda s: ether(s, ipv4(s), tags=(0x8100,))),
    "qinq": (1, lambda s: ether(s, ipv4(s), tags=(0x88A8, 0x8100))),
    "tags4": (1, lambda s: ether(s, ipv4(s), tags=(0x9100, 0x9200, 0x88A8, 0x8100))),
    "tags5": (1, lambda s: ether(s, ipv4(s), tags=(0x8100,) * 5)),
    "vlan_v6": (1, lambda s: ether(s, ipv6(s), ETH_IPV6, tags=(0x8100,))),
    "v6": (1, lambda s: ether(s, ipv6(s), ETH_IPV6)),
    "v6_mapped": (1, lambda s: ether(s, ipv6(s, style="mapped"), ETH_IPV6)),
    "v6_linklocal": (1, lambda s: ether(s, ipv6(s, style="linklocal"), ETH_IPV6)),
    "v6_ext": (1, lambda s: ether(s, ipv6(s, ext=V6_EXT, first_next=0), ETH_IPV6)),
    "v6_atomic": (1, lambda s: ether(s, ipv6(s, ext=frag6_header(s.proto, 0, False, 9), first_next=44), ETH_IPV6)),
    "v6_plen0": (1, lambda s: ether(s, ipv6(s, plen=0), ETH_IPV6)),
    "ip_options": (1, lambda s: ether(s, ipv4(s, options=b"\x01\x01\x01\x00"))),
    "ip_total0": (1, lambda s: ether(s, ipv4(s, total=0))),
    "tcp_options": (1, lambda s: ether(s, ipv4(s, l4(s, b"\x02\x04\x05\xb4\x01\x03\x03\x07\x01\x01\x01\x00")))),
    "zero_mac": (1, lambda s: ether(s.moved(smac=bytes(6), dmac=bytes(6)), ipv4(s))),
    "eth_trailer": (1, lambda s: ether(s, ipv4(s) + b"\x00" * 6)),
    "sll": (113, lambda s: sll(ipv4(s))),
    "sll_vlan": (113, lambda s: sll(ipv4(s), vlan=True)),
    "sll_v6": (113, lambda s: sll(ipv6(s), ETH_IPV6)),
    "sll2": (276, lambda s: sll2(ipv4(s))),
    "sll2_v6": (276, lambda s: sll2(ipv6(s, style="compat"), ETH_IPV6)),
    "null_le": (0, lambda s: null(ipv4(s), 2, False)),
    "null_be": (0, lambda s: null(ipv4(s), 2, True)),
    "null_v6_24": (0, lambda s: null(ipv6(s), 24, False)),
    "null_v6_30": (0, lambda s: null(ipv6(s), 30, True)),
    "loop": (108, lambda s: null(ipv4(s), 2, True)),
    "loop_le_v6": (108, lambda s: null(ipv6(s), 10, False)),
    "raw101": (101, ipv4),
    "raw12_v6": (12, ipv6),
    "raw14": (14, ipv4),
    "link147": (147, lambda s: ether(s, ipv4(s))),
}


def eth(segs: list[Seg]) -> Frames:
    return [(s.ts, ether(s, ipv4(s))) for s in segs]


def data_split(segs: list[Seg]) -> list[Seg]:
    out = []
    for s in segs:
        p = s.payload
        if s.proto != 6 or len(p) < 3:
            out.append(s)
            continue
        cuts = [0, 1, len(p) // 2, len(p)]
        for a, b in zip(cuts, cuts[1:], strict=False):
            out.append(s.moved(seq=s.seq + a, payload=p[a:b]))
    return out


def reorder(segs: list[Seg]) -> list[Seg]:
    out = list(segs)
    i = 0
    while i + 1 < len(out):
        a, b = out[i], out[i + 1]
        if a.payload and b.payload and a.src == b.src:
            out[i], out[i + 1] = b.moved(ts=a.ts), a.moved(ts=b.ts)
            i += 2
        else:
            i += 1
    return out


def duplicate(segs: list[Seg]) -> list[Seg]:
    return [x for s in segs for x in ((s, s) if s.payload else (s,))]


def overlap(segs: list[Seg]) -> list[Seg]:
    out = []
    for s in segs:
        if s.proto == 6 and len(s.payload) >= 4:
            out.append(s.moved(seq=s.seq + 2, payload=b"\xee" * (len(s.payload) + 1)))
        out.append(s)
    return out


def drop_every(n: int) -> Callable[[list[Seg]], list[Seg]]:
    def apply(segs: list[Seg]) -> list[Seg]:
        out, k = [], 0
        for s in segs:
            if s.payload:
                k += 1
                if k % n == 0:
                    continue
            out.append(s)
        return out

    return apply


def seq_wrap(segs: list[Seg]) -> list[Seg]:
    first = segs[0]
    shift = {first.src: (0x100000000 - first.seq - 50), first.dst: (0x100000000 - first.ack - 5000)}
    return [
        s.moved(seq=(s.seq + shift.get(s.src, 0)) & 0xFFFFFFFF, ack=(s.ack + shift.get(s.dst, 0)) & 0xFFFFFFFF)
        for s in segs
    ]


def port_reuse(segs: list[Seg]) -> list[Seg]:
    span = segs[-1].ts - segs[0].ts + NS
    return segs + [s.moved(ts=s.ts + span) for s in segs]


def timeouts(segs: list[Seg]) -> list[Seg]:
    """An idle gap of 700 s in the middle, then the flow again after a 40 s pause."""
    mid = len(segs) // 2
    later = [s.moved(ts=s.ts + 700 * NS) for s in segs[mid:]]
    again = [s.moved(ts=s.ts + 740 * NS + (later[-1].ts - segs[0].ts)) for s in segs]
    return segs[:mid] + later + again


def rst_mid(segs: list[Seg]) -> list[Seg]:
    mid = len(segs) // 2
    return segs[:mid] + [segs[mid].moved(flags=0x14, payload=b"")] + segs[mid:]


def ooo_flood(segs: list[Seg]) -> list[Seg]:
    """A hole, then 300 one-byte segments beyond it (the per-direction segment bound)."""
    first = next(s for s in segs if s.payload)
    i = segs.index(first)
    flood = [first.moved(seq=first.seq + 1000 + 3 * k, payload=bytes([k & 0xFF]), ts=first.ts + k) for k in range(300)]
    return segs[:i] + flood + segs[i:]


def ooo_bytes(segs: list[Seg]) -> list[Seg]:
    """A hole, then 5 segments of 60000 bytes beyond it (the per-direction byte bound)."""
    first = next(s for s in segs if s.payload)
    i = segs.index(first)
    big = [first.moved(seq=first.seq + 10 + 60000 * k, payload=b"\x00\x01" * 30000) for k in range(5)]
    return segs[:i] + big + segs[i:]


TCP_VARIANTS: dict[str, Callable[[list[Seg]], list[Seg]]] = {
    "split": data_split,
    "reorder": reorder,
    "split_reorder": lambda s: reorder(data_split(s)),
    "duplicate": duplicate,
    "overlap": overlap,
    "gap7": drop_every(7),
    "gap3": drop_every(3),
    "midstream": lambda s: s[3:],
    "midstream_late": lambda s: s[len(s) // 3 :],
    "no_syn": lambda s: [x for x in s if not x.flags & 0x02],
    "seq_wrap": seq_wrap,
    "port_reuse": port_reuse,
    "timeouts": timeouts,
    "rst_mid": rst_mid,
    "ooo_flood": ooo_flood,
    "ooo_bytes": ooo_bytes,
    "reversed": lambda s: [x.moved(ts=s[0].ts + k) for k, x in enumerate(reversed(s))],
}


# -- fragments -------------------------------------------------------------------------------
def frag4(s: Seg, ident: int, mode: str) -> list[bytes]:
    body = l4(s)
    if len(body) < 24:
        return [ipv4(s, ident=ident)]
    cuts = [0, 8, (len(body) // 16) * 8, len(body)]
    pieces = []
    for a, b in zip(cuts, cuts[1:], strict=False):
        if a == b:
            continue
        more = 0x2000 if b < len(body) else 0
        pieces.append(ipv4(s, body[a:b], ident=ident, frag=more | (a // 8)))
    if mode == "overlap":
        a = cuts[2]
        pieces.insert(1, ipv4(s, b"\xcc" * 16, ident=ident, frag=0x2000 | max(0, a // 8 - 1)))
    elif mode == "reverse":
        pieces.reverse()
    elif mode == "dup":
        pieces = pieces + pieces[:1]
    elif mode == "missing" and len(pieces) > 2:
        pieces.pop(1)
    return pieces


def frag6(s: Seg, ident: int, reverse: bool) -> list[bytes]:
    body = l4(s)
    if len(body) < 24:
        return [ipv6(s)]
    cut = (len(body) // 16) * 8
    pieces = [
        ipv6(s, body[:cut], ext=frag6_header(s.proto, 0, True, ident), first_next=44),
        ipv6(s, body[cut:], ext=frag6_header(s.proto, cut, False, ident), first_next=44),
    ]
    return pieces[::-1] if reverse else pieces


def fragmented(segs: list[Seg], mode: str) -> Frames:
    out: Frames = []
    for k, s in enumerate(segs):
        if mode.startswith("v6"):
            frames = [ether(s, p, ETH_IPV6) for p in frag6(s, 1000 + k, mode == "v6_reverse")]
        else:
            frames = [ether(s, p) for p in frag4(s, 1000 + k, mode if k % 3 == 0 else "in_order")]
        out.extend((s.ts, f) for f in frames)
    return out


def fragment_bounds(base: Seg) -> Frames:
    """Too many pieces, too large, empty, the pending-datagram bound, then expiry."""
    s = base.moved(payload=b"\x00" * 64)
    out: Frames = []
    t = s.ts
    for k in range(300):  # 300 pieces of one datagram
        out.append((t, ether(s, ipv4(s, b"\xab" * 8, ident=7, frag=0x2000 | k))))
    out.append((t, ether(s, ipv4(s, b"\xab" * 16, ident=8, frag=0x2000 | 8190))))  # beyond 65535
    out.append((t, ether(s, ipv4(s, b"", ident=9, frag=0x2000 | 3))))  # empty
    for k in range(1100):  # 1100 incomplete datagrams
        out.append((t + k, ether(s, ipv4(s, b"\x01" * 8, ident=10000 + k, frag=0x2000 | 1))))
    t += 31 * NS
    out.append((t, ether(s, ipv4(s, b"\x02" * 8, ident=50000, frag=0x2000 | 1))))  # expires the rest
    for k in range(150):  # 150 x 60000 bytes pending: the byte bound
        out.append((t + k, ether(s, ipv4(s, b"\x03" * 60000, ident=60000 + k, frag=0x2000 | 1))))
    return out


# -- UDP, detection, malformed headers -------------------------------------------------------
def as_udp(segs: list[Seg], port: int) -> Frames:
    out: Frames = []
    for s in segs:
        if not s.payload:
            continue
        to_server = s.dport == segs[0].dport
        u = s.moved(proto=17, sport=40000 if to_server else port, dport=port if to_server else 40000)
        out.append((s.ts, ether(u, ipv4(u))))
    return out


def on_port(segs: list[Seg], server_port: int, new_port: int) -> list[Seg]:
    return [
        s.moved(sport=new_port if s.sport == server_port else s.sport,
                dport=new_port if s.dport == server_port else s.dport)
        for s in segs
    ]


def garbage_first(segs: list[Seg], n: int, rng: random.Random) -> list[Seg]:
    """``n`` garbage segments from the client before the real data (sequence numbers shifted)."""
    first = next(s for s in segs if s.payload)
    junk, shift = [], 0
    for _ in range(n):
        p = bytes(rng.randrange(256) for _ in range(rng.randrange(5, 40)))
        junk.append(first.moved(seq=first.seq + shift, payload=p))
        shift += len(p)
    out = []
    for s in segs:
        if s is first:
            out.extend(junk)
        if s.src == first.src and (s.payload or not s.flags & 0x02):
            s = s.moved(seq=s.seq + shift)
        elif s.dst == first.src and s.flags & 0x10:
            s = s.moved(ack=s.ack + shift)
        out.append(s)
    return out


def garbage_flow(port: int, n: int, rng: random.Random, t0: int) -> Frames:
    c = Seg(t0, b"\x0a\x00\x00\x63", b"\x0a\x00\x00\x64", 33333, port, b"", seq=100, ack=0, flags=0x02)
    out = [(t0, ether(c, ipv4(c)))]
    seq = 101
    for k in range(n):
        p = bytes(rng.randrange(256) for _ in range(rng.randrange(1, 120)))
        s = c.moved(ts=t0 + k + 1, seq=seq, flags=0x18, payload=p)
        out.append((s.ts, ether(s, ipv4(s))))
        seq += len(p)
    return out


def error_flow(t0: int) -> Frames:
    """30 segments of a valid Modbus request followed by 6 bytes of a header with protocol id 1:
    one parse error each (more than a flow's error events)."""
    c = Seg(t0, b"\x0a\x00\x00\x65", b"\x0a\x00\x00\x66", 33334, 502, b"", seq=500, flags=0x02)
    out = [(t0, ether(c, ipv4(c)))]
    seq = 501
    for k in range(30):
        p = struct.pack("!HHHBBHH", k, 0, 6, 1, 3, k, 1) + b"\x00\x01\x00\x01\x00\x06"
        s = c.moved(ts=t0 + k + 1, seq=seq, flags=0x18, payload=p)
        out.append((s.ts, ether(s, ipv4(s))))
        seq += len(p)
    return out


def malformed(base: Seg) -> Frames:
    s = base.moved(payload=b"\x00\x01\x00\x00\x00\x06\x01\x03\x00\x00\x00\x01", flags=0x18)
    t = s.ts
    tcp = l4(s)
    frames = [
        ether(s, ipv4(s, total=len(tcp) + 200)),  # total beyond the frame: ip_truncated
        ether(s, ipv4(s, ihl=4)),  # header length below 20
        ether(s, ipv4(s, total=16)),  # total below the header
        ether(s, ipv4(s, tcp[:12] + bytes([0x40]) + tcp[13:])),  # data offset 4
        ether(s, ipv4(s, tcp[:12] + bytes([0xF0]) + tcp[13:])),  # data offset beyond the end
        ether(s, ipv4(s, tcp[:15])),  # TCP header cut
        ether(s, ipv4(s, b"\x08\x00\x00\x00", proto=1)),  # ICMP
        ether(s, ipv4(s, b"\x01\x02\x03", proto=17)),  # UDP header cut
        ether(s, ipv4(s, struct.pack("!HHHH", 1, 2, 8, 0), proto=17)),  # UDP, no payload
        ether(s, ipv6(s)[:30], ETH_IPV6),  # IPv6 header cut
        ether(s, ipv6(s, ext=ext_header(0) * 9, first_next=0), ETH_IPV6),  # 9 hop-by-hop headers
        ether(s, ipv6(s, ext=ext_header(6, 30), first_next=0), ETH_IPV6),  # extension beyond the end
        ether(s, ipv6(s, ext=ah_header(6, 200), first_next=51), ETH_IPV6),  # AH beyond the end
        ether(s, ipv6(s), ETH_IPV4),  # IPv6 under the IPv4 ethertype
        ether(s, ipv4(s), ETH_IPV6),  # IPv4 under the IPv6 ethertype
        ether(s, b"\x45"),  # one byte of IP
        b"\x00" * 13,  # shorter than Ethernet
        ether(s, ipv4(s), 0x0806),  # ARP
        ether(s.moved(src=s.dst, sport=s.dport), ipv4(s.moved(src=s.dst, sport=s.dport))),  # self-flow
    ]
    return [(t + k, f) for k, f in enumerate(frames)]
