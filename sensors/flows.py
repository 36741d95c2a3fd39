"""Flows and per-direction TCP reassembly.

A ``Flow`` is one TCP connection or UDP conversation, oriented client -> server. Each direction
(``Half``) delivers its bytes in order to the flow's parser:

- in-order segments go straight through (the fast path, no copy);
- out-of-order segments wait in a bounded buffer until the hole is filled;
- retransmissions and overlaps keep the bytes seen first (counted);
- a hole that will never be filled (the peer acknowledged past it, the buffer bound is hit,
  or the flow ends) becomes a gap: the parser is told, and resynchronises at the next message
  boundary it can find.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable

from parsers.base import StreamParser

SEQ_MOD = 0xFFFFFFFF
#: out-of-order bytes buffered per direction before the hole is declared a gap
MAX_OOO_BYTES = 256 * 1024
MAX_OOO_SEGMENTS = 256

Deliver = Callable[["Flow", bool, bytes], None]


def seq_diff(a: int, b: int) -> int:
    """a - b in 32-bit sequence space, as a signed number."""
    d = (a - b) & SEQ_MOD
    return d - 0x100000000 if d & 0x80000000 else d


class Half:
    """One direction of a TCP connection."""

    __slots__ = ("next_seq", "ooo", "ooo_bytes", "syn", "fin", "mac", "segments")

    def __init__(self) -> None:
        self.next_seq: int | None = None  # next expected sequence number, once known
        self.ooo: dict[int, bytes] = {}  # out-of-order segments by sequence number
        self.ooo_bytes = 0
        self.syn = False
        self.fin = False
        self.mac = b""
        self.segments = 0  # payload-carrying segments seen (for detection limits)


class Flow:
    __slots__ = (
        "key", "transport", "client", "server", "cport", "sport", "c2s", "s2c", "parser", "proto",
        "probes", "first_ns", "last_ns", "closed", "env", "community_id", "closing",
        "error_events",
    )

    def __init__(
        self, key: tuple, transport: str, client: bytes, cport: int, server: bytes, sport: int, ts_ns: int
    ) -> None:
        self.key = key
        self.transport = transport
        self.client = client
        self.cport = cport
        self.server = server
        self.sport = sport
        self.c2s = Half()
        self.s2c = Half()
        self.parser: StreamParser | None = None
        self.proto = ""  # detected protocol name, "" while undecided, "-" when given up
        self.probes = 0
        self.first_ns = ts_ns
        self.last_ns = ts_ns
        self.closed = False
        self.closing = False
        # per direction (index 1 = to server): event templates by dataset (see sensors.output.EventMaker)
        self.env: tuple[dict[str, dict], dict[str, dict]] = ({}, {})
        self.community_id = ""
        self.error_events = 0  # parse-error events emitted for this flow


class Reassembler:
    """The slow path of TCP reassembly, shared by every flow; counts what it sees."""

    def __init__(self, deliver: Deliver, stats: Counter[str]) -> None:
        self.deliver = deliver
        self.stats = stats

    def segment(self, flow: Flow, to_server: bool, half: Half, seq: int, payload: bytes) -> None:
        """A segment that is not the next expected one (or arrives while others wait)."""
        nxt = half.next_seq
        assert nxt is not None
        d = seq_diff(seq, nxt)
        if d < 0:
            if d + len(payload) <= 0:
                self.stats["tcp_retransmissions"] += 1
                return
            self.stats["tcp_overlaps"] += 1
            payload = payload[-d:]
            seq = nxt
            d = 0
        if d == 0 and not half.ooo:
            half.next_seq = (seq + len(payload)) & SEQ_MOD
            self.deliver(flow, to_server, payload)
            return
        # bytes already waiting were seen first: only the parts they do not cover are new
        self._insert(half, seq, payload)
        if d == 0:
            self.drain(flow, to_server, half)
            return
        self.stats["tcp_out_of_order"] += 1
        if half.ooo_bytes > MAX_OOO_BYTES or len(half.ooo) > MAX_OOO_SEGMENTS:
            self.stats["tcp_ooo_bound_hit"] += 1
            self.skip_gap(flow, to_server, half)

    def _insert(self, half: Half, seq: int, payload: bytes) -> None:
        """Add a segment to the waiting ones, keeping the bytes seen first where they overlap."""
        ooo = half.ooo
        nxt = half.next_seq
        assert nxt is not None
        start = seq_diff(seq, nxt)  # offsets relative to the next expected byte
        end = start + len(payload)
        pieces: list[tuple[int, int]] = []
        cur = start
        for s in sorted(ooo, key=lambda s: seq_diff(s, nxt)):
            s_start = seq_diff(s, nxt)
            if s_start >= end:
                break
            s_end = s_start + len(ooo[s])
            if s_end <= cur:
                continue
            if s_start > cur:
                pieces.append((cur, s_start))
            cur = s_end
            if cur >= end:
                break
        if cur < end:
            pieces.append((cur, end))
        if not pieces:
            self.stats["tcp_retransmissions"] += 1
            return
        if len(pieces) > 1 or pieces[0] != (start, end):
            self.stats["tcp_overlaps"] += 1
        for a, b in pieces:
            ooo[(nxt + a) & SEQ_MOD] = payload[a - start : b - start]
            half.ooo_bytes += b - a

    def drain(self, flow: Flow, to_server: bool, half: Half) -> None:
        """Deliver waiting segments that have become in order (one sort, then a walk)."""
        ooo = half.ooo
        start = half.next_seq
        assert start is not None
        for seq in sorted(ooo, key=lambda s: seq_diff(s, start)):
            nxt = half.next_seq
            assert nxt is not None
            d = seq_diff(seq, nxt)
            if d > 0:
                return
            payload = ooo.pop(seq)
            half.ooo_bytes -= len(payload)
            if d + len(payload) <= 0:
                self.stats["tcp_retransmissions"] += 1
                continue
            if d < 0:
                payload = payload[-d:]
            half.next_seq = (nxt + len(payload)) & SEQ_MOD
            self.deliver(flow, to_server, payload)

    def skip_gap(self, flow: Flow, to_server: bool, half: Half) -> None:
        """Give up on the hole before the lowest waiting segment: count it, tell the parser."""
        if not half.ooo or half.next_seq is None:
            return
        nxt = half.next_seq
        first = min(half.ooo, key=lambda s: seq_diff(s, nxt))
        self.stats["tcp_gaps"] += 1
        self.stats["tcp_gap_bytes"] += max(0, seq_diff(first, nxt))
        if flow.parser is not None:
            flow.parser.gap(to_server)
        half.next_seq = first
        self.drain(flow, to_server, half)

    def acked(self, flow: Flow, to_server: bool, half: Half, ack: int) -> None:
        """The peer acknowledged ``ack``: a hole below it will never be filled."""
        if half.next_seq is not None and seq_diff(ack, half.next_seq) > 0:
            first = min(half.ooo, key=lambda s: seq_diff(s, half.next_seq or 0))
            if seq_diff(ack, first) >= 0:
                self.skip_gap(flow, to_server, half)
