"""The sensor: packets in, events out.

``Sensor.packet`` is the hot path. For the common case (Ethernet or cooked capture, IPv4, TCP,
in-order segment of an already detected flow) it stays in one function with no per-packet
allocation beyond the payload slice; everything else (VLAN, IPv6, fragments, out-of-order
segments, detection) takes a slower, shared path.

Events are built here from parser ``Message`` values: the envelope per flow and direction is
made once and reused (events are read-only to every consumer).
"""

from __future__ import annotations

import base64
import hashlib
import ipaddress
import logging
import struct
from collections import Counter
from collections.abc import Callable, Iterable

from icssa.events import Event, Timestamps
from parsers import ProtocolSpec, registry
from parsers.base import Message, StreamParser
from sensors.decode import ip6, network
from sensors.flows import SEQ_MOD, Flow, Reassembler
from sensors.ipfrag import Defragmenter

log = logging.getLogger("icssa.sensor")

_TCP = struct.Struct("!HHIIBB")
_UDP = struct.Struct("!HH")
_IP4 = struct.Struct("!BBHHHBB")

MAX_ERROR_EVENTS_PER_FLOW = 16  # beyond this a flow's parse errors are only counted
MAX_PROBES = 4  # payload segments per flow tried against the signatures before giving up
FLOW_TIMEOUT_NS = 600 * 1_000_000_000
CLOSED_TIMEOUT_NS = 30 * 1_000_000_000
SWEEP_EVERY_NS = 10 * 1_000_000_000

Emit = Callable[[Event], None]


def community_id(saddr: bytes, daddr: bytes, sport: int, dport: int, proto: int) -> str:
    """Community ID v1 (seed 0) of a flow: the same string for both directions."""
    if (saddr, sport) > (daddr, dport):
        saddr, daddr, sport, dport = daddr, saddr, dport, sport
    data = b"\x00\x00" + saddr + daddr + bytes((proto, 0)) + struct.pack("!HH", sport, dport)
    return "1:" + base64.b64encode(hashlib.sha1(data).digest()).decode()


def ip_text(addr: bytes) -> str:
    return str(ipaddress.ip_address(addr))


def mac_text(mac: bytes) -> str:
    return "-".join(f"{b:02X}" for b in mac) if len(mac) == 6 and any(mac) else ""


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
        self.emit = emit
        self.observer = {"name": observer}
        self.organization = {"id": organization}
        self.capture_id = capture_id
        self.specs = list(specs if specs is not None else registry())
        self.by_port: dict[int, ProtocolSpec] = {}
        for spec in reversed(self.specs):
            for port in spec.ports:
                self.by_port[port] = spec
        self.max_flows = max_flows
        self.flows: dict[tuple, Flow] = {}
        # both directions' 4-tuples -> (flow, sent by the client?): one lookup per packet
        self._lookup: dict[tuple, tuple[Flow, bool]] = {}
        self.stats: Counter[str] = Counter()
        self.messages: Counter[str] = Counter()
        self.actions: Counter[tuple[str, str]] = Counter()
        self.parse_errors: Counter[tuple[str, str]] = Counter()
        self.frame = 0  # packets seen (the frame number of the current packet)
        self.bytes = 0
        self._frame_msgs = 0
        self._ts = 0
        self._next_sweep = 0
        self._times = Timestamps()
        self._ip_text: dict[bytes, str] = {}
        self.reasm = Reassembler(self._deliver, self.stats)
        self.defrag = Defragmenter(stats=self.stats)
        self._transport_tcp = {"transport": "tcp"}

    # -- packets ------------------------------------------------------------------------------
    def run(self, packets: Iterable[tuple[int, int, bytes]]) -> None:
        handle = self.packet
        for ts_ns, linktype, data in packets:
            handle(ts_ns, linktype, data)

    def packet(self, ts_ns: int, linktype: int, data: bytes) -> None:
        self.frame += 1
        self._frame_msgs = 0
        self._ts = ts_ns
        self.bytes += len(data)
        stats = self.stats
        if ts_ns >= self._next_sweep:
            self._sweep(ts_ns)
        # fast path: Ethernet II, IPv4 without options or fragments, TCP
        if linktype == 1 and len(data) >= 54 and data[12] == 8 and data[13] == 0 and data[14] == 0x45:
            off = 14
        else:
            net = network(linktype, data)
            if net is None:
                stats["non_ip"] += 1
                return
            off, version, dmac, smac = net
            if version == 6:
                self._ip6(data, off, smac, dmac)
                return
            if len(data) < off + 20 or data[off] >> 4 != 4:
                stats["bad_ip"] += 1
                return
        vihl, _tos, total, ident, frag, _ttl, proto = _IP4.unpack_from(data, off)
        ihl = (vihl & 15) * 4
        end = off + total if total else len(data)  # total 0: segmentation offload, rest of frame
        if end > len(data):
            stats["ip_truncated"] += 1
            end = len(data)
        if ihl < 20 or end - off < ihl:
            stats["bad_ip"] += 1
            return
        src = data[off + 12 : off + 16]
        dst = data[off + 16 : off + 20]
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
        if l4 + 20 > end:
            self.stats["tcp_truncated"] += 1
            return
        sport, dport, seq, ack, doff, flags = _TCP.unpack_from(data, l4)
        start = l4 + (doff >> 4) * 4
        if start > end or doff >> 4 < 5:
            self.stats["tcp_bad_header"] += 1
            return
        hit = self._lookup.get((src, sport, dst, dport))
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
            payload = data[start:end]
            if flow.proto == "-":
                return
            half.segments += 1
            if half.next_seq is None:
                half.next_seq = seq
                if flow.parser is not None and not half.syn:
                    flow.parser.start_midstream()
            if seq == half.next_seq and not half.ooo:
                half.next_seq = (seq + end - start) & SEQ_MOD
                self._deliver(flow, to_server, payload)
            else:
                self.reasm.segment(flow, to_server, half, seq, payload)

    def _udp(self, data: bytes, l4: int, end: int, src: bytes, dst: bytes, linktype: int) -> None:
        if l4 + 8 > end:
            self.stats["udp_truncated"] += 1
            return
        sport, dport = _UDP.unpack_from(data, l4)
        hit = self._lookup.get((src, sport, dst, dport, 17))
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
        self._lookup[flow.key] = (flow, True)
        self._lookup[(flow.server, flow.sport, flow.client, flow.cport, *flow.key[4:])] = (flow, False)
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
        self._lookup.pop(flow.key, None)
        self._lookup.pop((flow.server, flow.sport, flow.client, flow.cport, *flow.key[4:]), None)

    def finish(self) -> None:
        """End of input: flush every flow."""
        for f in list(self.flows.values()):
            self._close(f)
        self.stats["packets"] = self.frame
        self.stats["bytes"] = self.bytes
        for (dataset, _action), n in self.actions.items():
            self.messages[dataset] += n

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
            self._events(flow, msgs)

    def _count_errors(self, flow: Flow, parser: StreamParser) -> None:
        """Count and log parse errors; the first few of each flow also become events."""
        for err in parser.errors:
            key = (parser.dataset or flow.proto, err.reason)
            if not self.parse_errors[key]:
                log.warning(
                    "%s parse error %s (%s) in flow %s:%d -> %s:%d; further ones counted",
                    key[0], err.reason, err.detail, self._text(flow.client), flow.cport,
                    self._text(flow.server), flow.sport,
                )
            self.parse_errors[key] += 1
            if flow.error_events < MAX_ERROR_EVENTS_PER_FLOW:
                flow.error_events += 1
                fields = {"protocol": key[0], "reason": err.reason, "detail": err.detail[:200]}
                self._events(flow, [Message("icssa", "parse_error", fields, True)])
        parser.errors.clear()

    def _text(self, addr: bytes) -> str:
        text = self._ip_text.get(addr)
        if text is None:
            if len(self._ip_text) > 65536:
                self._ip_text.clear()
            text = self._ip_text[addr] = ip_text(addr)
        return text

    def _envelope(self, flow: Flow, to_server: bool) -> tuple[dict, dict, dict]:
        c = {"ip": self._text(flow.client), "port": flow.cport}
        s = {"ip": self._text(flow.server), "port": flow.sport}
        if flow.c2s.mac:
            c["mac"] = mac_text(flow.c2s.mac)
        if flow.s2c.mac:
            s["mac"] = mac_text(flow.s2c.mac)
        if not flow.community_id:
            flow.community_id = community_id(
                flow.client, flow.server, flow.cport, flow.sport, 6 if flow.transport == "tcp" else 17
            )
        net = {"transport": flow.transport, "protocol": flow.proto, "community_id": flow.community_id}
        flow.env[1] = (c, s, {**net, "direction_to_server": True})
        flow.env[0] = (s, c, {**net, "direction_to_server": False})
        env = flow.env[1 if to_server else 0]
        assert env is not None
        return env

    def _events(self, flow: Flow, msgs: list[Message]) -> None:
        ts = self._times.iso(self._ts)
        frame = self.frame
        emit = self.emit
        counts = self.actions
        for m in msgs:
            d = 1 if m.to_server else 0
            env = flow.env[d] or self._envelope(flow, m.to_server)
            self._frame_msgs += 1
            counts[(m.dataset, m.action)] += 1
            emit({
                "@timestamp": ts,
                "event": {
                    "id": f"{self.capture_id}-{frame}-{self._frame_msgs}",
                    "kind": "event",
                    "dataset": m.dataset,
                    "action": m.action,
                },
                "source": env[0],
                "destination": env[1],
                "network": env[2],
                "observer": self.observer,
                "organization": self.organization,
                m.dataset: m.fields,
            })
        flow.msg_count += len(msgs)
