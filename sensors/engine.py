"""The sensor: packets in, events out.

``Sensor.packet`` is the hot path. For the common case (Ethernet, IPv4 without options, TCP,
in-order segment of an already detected flow) it reads the IPv4 and TCP headers at once and
allocates nothing per packet beyond the flow key and the payload slice; everything else (other
link types, VLAN, IPv6, fragments, out-of-order segments, detection) takes a slower, shared path.

Events are made from parser ``Message`` values by ``sensors.output.EventMaker``.
"""

from __future__ import annotations

import logging
import struct
from collections import Counter
from collections.abc import Iterable

from parsers import ProtocolSpec, registry
from parsers.base import Message, StreamParser
from sensors.decode import ip6, network
from sensors.flows import SEQ_MOD, Flow, Reassembler
from sensors.ipfrag import Defragmenter
from sensors.output import Emit, EventMaker

log = logging.getLogger("icssa.sensor")

_TCP = struct.Struct("!HHIIBB")
_UDP = struct.Struct("!HH")
_PORTS = struct.Struct("!HH")
_IP4 = struct.Struct("!BxHHHxB2x4s4s")
#: the fast path's IPv4 header without options (from total length on) and TCP header, in one read
_IP4_TCP = struct.Struct("!2xHHHxB2x4s4sHHIIBB")

MAX_ERROR_EVENTS_PER_FLOW = 16  # beyond this a flow's parse errors are only counted
MAX_PROBES = 4  # payload segments per flow tried against the signatures before giving up
FLOW_TIMEOUT_NS = 600 * 1_000_000_000
CLOSED_TIMEOUT_NS = 30 * 1_000_000_000
SWEEP_EVERY_NS = 10 * 1_000_000_000

def lookup_key(saddr: bytes, daddr: bytes, sport: int, dport: int, transport: str) -> bytes:
    """The flow table's key of one direction: addresses and ports as on the wire (a TCP/IPv4
    packet's key is one slice of it), plus the protocol number for UDP so the two never meet."""
    key = saddr + daddr + _PORTS.pack(sport, dport)
    return key if transport == "tcp" else key + b"\x11"


class Sensor:
    """Decodes packets, tracks flows, runs parsers and emits events through ``emit``."""

    def __init__(
        self,
        emit: Emit,
        *,
        observer: str = "icssa",
        organization: str = "default",
        capture_id: str = "live",
        specs: Iterable[ProtocolSpec] | None = None,
        max_flows: int = 100_000,
    ) -> None:
        self.capture_id = capture_id
        self.out = EventMaker(emit, observer, organization, capture_id)
        self.specs = list(specs if specs is not None else registry())
        self.by_port: dict[int, ProtocolSpec] = {}
        for spec in reversed(self.specs):
            for port in spec.ports:
                self.by_port[port] = spec
        self.max_flows = max_flows
        self.flows: dict[tuple, Flow] = {}
        # both directions' keys (``lookup_key``) -> (flow, sent by the client?): one lookup per packet
        self._lookup: dict[bytes, tuple[Flow, bool]] = {}
        self.stats: Counter[str] = Counter()
        self.messages: Counter[str] = Counter()
        self.parse_errors: Counter[tuple[str, str]] = Counter()
        self.frame = 0  # packets seen (the frame number of the current packet)
        self.bytes = 0
        self._frame_msgs = 0
        self._ts = 0
        self._next_sweep = 0
        self.reasm = Reassembler(self._deliver, self.stats)
        self.defrag = Defragmenter(stats=self.stats)

    # -- packets ------------------------------------------------------------------------------
    def run(self, packets: Iterable[tuple[int, int, bytes]]) -> None:
        handle = self.packet
        for ts_ns, linktype, data in packets:
            handle(ts_ns, linktype, data)

    def packet(self, ts_ns: int, linktype: int, data: bytes) -> None:
        self.frame += 1
        self._frame_msgs = 0
        self._ts = ts_ns
        n = len(data)
        self.bytes += n
        if ts_ns >= self._next_sweep:
            self._sweep(ts_ns)
        # fast path: Ethernet II, IPv4 without options or fragments, a well-formed TCP header;
        # anything else (or anything to count) takes the general path below
        if linktype == 1 and n >= 54 and data[12:15] == b"\x08\x00\x45":
            total, _ident, frag, proto, src, dst, sport, dport, seq, ack, doff, flags = _IP4_TCP.unpack_from(data, 14)
            end = 14 + total
            start = 34 + (doff >> 4) * 4
            if proto == 6 and not frag & 0x3FFF and end <= n and doff >= 0x50 and start <= end:
                self._segment(data, start, end, data[26:38], src, dst, sport, dport, seq, ack, flags, 1)
                return
            off = 14
        else:
            net = network(linktype, data)
            if net is None:
                self.stats["non_ip"] += 1
                return
            off, version, dmac, smac = net
            if version == 6:
                self._ip6(data, off, smac, dmac)
                return
            if n < off + 20 or data[off] >> 4 != 4:
                self.stats["bad_ip"] += 1
                return
        stats = self.stats
        vihl, total, ident, frag, proto, src, dst = _IP4.unpack_from(data, off)
        ihl = (vihl & 15) * 4
        end = off + total if total else n  # total 0: segmentation offload, rest of frame
        if end > n:
            stats["ip_truncated"] += 1
            end = n
        if ihl < 20 or end - off < ihl:
            stats["bad_ip"] += 1
            return
        l4 = off + ihl
        if frag & 0x3FFF:
            whole = self.defrag.add(
                (src, dst, ident, proto), (frag & 0x1FFF) * 8, bool(frag & 0x2000), data[l4:end], ts_ns
            )
            if whole is None:
                return
            data, l4, end = whole, 0, len(whole)
        if proto == 6:
            self._tcp(data, l4, end, src, dst, linktype)
        elif proto == 17:
            self._udp(data, l4, end, src, dst, linktype)
        else:
            stats["other_ip_proto"] += 1

    def _ip6(self, data: bytes, off: int, smac: bytes, dmac: bytes) -> None:
        ip, frag = ip6(data, off)
        if ip is None:
            self.stats["bad_ip"] += 1
            return
        src, dst, proto, l4, end = ip
        if frag is not None:
            ident, foff, more, start = frag
            whole = self.defrag.add((src, dst, ident, proto, 6), foff, more, data[start:end], self._ts)
            if whole is None:
                return
            data, l4, end = whole, 0, len(whole)
        if proto == 6:
            self._tcp(data, l4, end, src, dst, -1)
        elif proto == 17:
            self._udp(data, l4, end, src, dst, -1)
        else:
            self.stats["other_ip_proto"] += 1

    def _tcp(self, data: bytes, l4: int, end: int, src: bytes, dst: bytes, linktype: int) -> None:
        """A TCP header the fast path did not take: check it, then handle the segment."""
        if l4 + 20 > end:
            self.stats["tcp_truncated"] += 1
            return
        sport, dport, seq, ack, doff, flags = _TCP.unpack_from(data, l4)
        start = l4 + (doff >> 4) * 4
        if start > end or doff >> 4 < 5:
            self.stats["tcp_bad_header"] += 1
            return
        key = src + dst + data[l4 : l4 + 4]
        self._segment(data, start, end, key, src, dst, sport, dport, seq, ack, flags, linktype)

    def _segment(
        self, data: bytes, start: int, end: int, key: bytes, src: bytes, dst: bytes, sport: int, dport: int,
        seq: int, ack: int, flags: int, linktype: int,
    ) -> None:
        """One TCP segment (payload ``data[start:end]``) of the direction ``key`` names."""
        hit = self._lookup.get(key)
        if hit is not None and flags & 0x12 == 0x02:
            old = hit[0]
            if old.closing or old.c2s.segments or old.s2c.segments:
                self._close(old)  # a new connection reuses the 4-tuple: start clean
                self.stats["tcp_port_reuse"] += 1
                hit = None
        if hit is None:
            flow = self._new_flow(src, sport, dst, dport, "tcp", flags, data, linktype)
            to_server = flow.client == src and flow.cport == sport
        else:
            flow, to_server = hit
        flow.last_ns = self._ts
        half = flow.c2s if to_server else flow.s2c
        if flags & 0x10:
            # the ACK first: a hole it closes in the other direction was sent before this payload
            other = flow.s2c if to_server else flow.c2s
            if other.ooo:
                self.reasm.acked(flow, not to_server, other, ack)
        if flags & 0x07:  # FIN, SYN, RST
            if flags & 0x02:
                half.syn = True
                half.next_seq = (seq + 1) & SEQ_MOD
                return
            if flags & 0x04:
                flow.closing = True
            if flags & 0x01:
                half.fin = True
                if flow.c2s.fin and flow.s2c.fin:
                    flow.closing = True
        if start < end:
            if flow.proto == "-":
                return
            half.segments += 1
            if half.next_seq is None:
                half.next_seq = seq
                if flow.parser is not None and not half.syn:
                    flow.parser.start_midstream()
            if seq == half.next_seq and not half.ooo:
                half.next_seq = (seq + end - start) & SEQ_MOD
                self._deliver(flow, to_server, data[start:end])
            else:
                self.reasm.segment(flow, to_server, half, seq, data[start:end])

    def _udp(self, data: bytes, l4: int, end: int, src: bytes, dst: bytes, linktype: int) -> None:
        if l4 + 8 > end:
            self.stats["udp_truncated"] += 1
            return
        sport, dport = _UDP.unpack_from(data, l4)
        hit = self._lookup.get(src + dst + data[l4 : l4 + 4] + b"\x11")
        if hit is None:
            flow = self._new_flow(src, sport, dst, dport, "udp", 0, data, linktype)
            to_server = flow.client == src and flow.cport == sport
        else:
            flow, to_server = hit
        flow.last_ns = self._ts
        if l4 + 8 < end and flow.proto != "-":
            self._deliver(flow, to_server, data[l4 + 8 : end])
            if flow.parser is not None:
                flow.parser.gap(to_server)  # a datagram never continues in the next one

    # -- flows --------------------------------------------------------------------------------
    def _new_flow(
        self, src: bytes, sport: int, dst: bytes, dport: int, transport: str, flags: int, data: bytes, linktype: int
    ) -> Flow:
        if len(self.flows) >= self.max_flows:
            self._evict()
        self.stats["flows"] += 1
        by_port = self.by_port
        if transport == "tcp" and flags & 0x12 == 0x02:
            client_is_src = True  # SYN: the sender opens the connection
        elif transport == "tcp" and flags & 0x12 == 0x12:
            client_is_src = False  # SYN-ACK comes from the server
        elif dport in by_port:
            client_is_src = True
        elif sport in by_port:
            client_is_src = False
        else:
            client_is_src = sport >= dport
        # TCP keys are 4-tuples, UDP keys carry the protocol number: they never collide
        tail = () if transport == "tcp" else (17,)
        if client_is_src:
            flow = Flow((src, sport, dst, dport, *tail), transport, src, sport, dst, dport, self._ts)
        else:
            flow = Flow((dst, dport, src, sport, *tail), transport, dst, dport, src, sport, self._ts)
        if linktype == 1 and len(data) >= 12:
            (flow.c2s if client_is_src else flow.s2c).mac = data[6:12]
            (flow.s2c if client_is_src else flow.c2s).mac = data[0:6]
        spec = by_port.get(flow.sport)
        if spec is not None:
            self._attach(flow, spec)
        self.flows[flow.key] = flow
        self._lookup[lookup_key(flow.client, flow.server, flow.cport, flow.sport, transport)] = (flow, True)
        self._lookup[lookup_key(flow.server, flow.client, flow.sport, flow.cport, transport)] = (flow, False)
        return flow

    def _attach(self, flow: Flow, spec: ProtocolSpec) -> None:
        flow.proto = spec.name
        parser: StreamParser = spec.parser()
        flow.parser = parser
        self.stats[f"flows_{spec.name}"] += 1

    def _detect(self, flow: Flow, to_server: bool, payload: bytes) -> bool:
        for spec in self.specs:
            try:
                hit = spec.probe(payload, to_server)
            except Exception:  # a probe must never stop the sensor; count it
                log.exception("probe %s raised", spec.name)
                self.stats["probe_errors"] += 1
                hit = False
            if hit:
                self._attach(flow, spec)
                if flow.c2s.segments + flow.s2c.segments > 1:
                    assert flow.parser is not None
                    flow.parser.start_midstream()
                return True
        flow.probes += 1
        if flow.probes >= MAX_PROBES:
            flow.proto = "-"
        return False

    def _sweep(self, now: int) -> None:
        self._next_sweep = now + SWEEP_EVERY_NS
        self.defrag.expire(now)
        dead = [
            f for f in self.flows.values()
            if now - f.last_ns > (CLOSED_TIMEOUT_NS if f.closing else FLOW_TIMEOUT_NS)
        ]
        for f in dead:
            self._close(f)
        self.stats["flows_timed_out"] += len(dead)

    def _evict(self) -> None:
        """The table is full: close the least recently active tenth."""
        n = max(1, len(self.flows) // 10)
        for f in sorted(self.flows.values(), key=lambda f: f.last_ns)[:n]:
            self._close(f)
        self.stats["flows_evicted"] += n

    def _close(self, flow: Flow) -> None:
        for to_server, half in ((True, flow.c2s), (False, flow.s2c)):
            while half.ooo:
                self.reasm.skip_gap(flow, to_server, half)
        self.flows.pop(flow.key, None)
        self._lookup.pop(lookup_key(flow.client, flow.server, flow.cport, flow.sport, flow.transport), None)
        self._lookup.pop(lookup_key(flow.server, flow.client, flow.sport, flow.cport, flow.transport), None)

    def finish(self) -> None:
        """End of input: flush every flow."""
        for f in list(self.flows.values()):
            self._close(f)
        self.stats["packets"] = self.frame
        self.stats["bytes"] = self.bytes
        for (dataset, _action), n in self.out.counts.items():
            self.messages[dataset] += n

    @property
    def actions(self) -> Counter[tuple[str, str]]:
        """Messages by (dataset, action)."""
        return Counter(self.out.counts)

    # -- messages -> events -------------------------------------------------------------------
    def _deliver(self, flow: Flow, to_server: bool, payload: bytes) -> None:
        parser = flow.parser
        if parser is None:
            if flow.proto == "-" or not self._detect(flow, to_server, payload):
                return
            parser = flow.parser
            assert parser is not None
        msgs = parser.feed(payload, to_server)
        if parser.errors:
            self._count_errors(flow, parser)
        if msgs:
            self._frame_msgs = self.out.events(flow, msgs, self._ts, self.frame, self._frame_msgs)

    def _count_errors(self, flow: Flow, parser: StreamParser) -> None:
        """Count and log parse errors; the first few of each flow also become events."""
        for err in parser.errors:
            key = (parser.dataset or flow.proto, err.reason)
            if not self.parse_errors[key]:
                log.warning(
                    "%s parse error %s (%s) in flow %s:%d -> %s:%d; further ones counted",
                    key[0], err.reason, err.detail, self.out.text(flow.client), flow.cport,
                    self.out.text(flow.server), flow.sport,
                )
            self.parse_errors[key] += 1
            if flow.error_events < MAX_ERROR_EVENTS_PER_FLOW:
                flow.error_events += 1
                fields = {"protocol": key[0], "reason": err.reason, "detail": err.detail[:200]}
                msg = Message("icssa", "parse_error", fields, True)
                self._frame_msgs = self.out.events(flow, [msg], self._ts, self.frame, self._frame_msgs)
        parser.errors.clear()
