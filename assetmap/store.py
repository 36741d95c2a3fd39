"""Bounded state of the asset map: host records, communication edges, and what each MAC was seen with.

A *host record* (``Unit``) is one (IP, MAC) pair as seen on the wire; assets are formed from
records when they are read out (see ``snapshot.py``), because whether a MAC names one host or a
router in front of many is only known from what it was seen with over time:

- a MAC seen with IPs one after another (DHCP renewals) is one host with several addresses;
- a MAC seen with three or more IPs at overlapping times, with a public IP beside another, or as
  both sender and receiver of one message between two IPs (loopback captures), is a router or
  a shared address and keys nothing: the records behind it become assets by IP;
- the all-zero, broadcast and multicast MACs key nothing.

Records and edges live in least-recently-seen order; past ``max_units`` records (or
``max_edges`` edges) the oldest is evicted with everything that hangs on it, and counted.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Any

from assetmap.evidence import Evidence
from assetmap.roles import SERVER_ROLE, cyclic

UnitKey = tuple[str, str | None]  # (ip, host MAC or None)
EdgeKey = tuple[UnitKey, UnitKey, str]  # (client, server, protocol)

MAX_IPS_PER_MAC = 16
MAX_EDGE_IDS = 4
MAX_PORTS = 4


class Unit:
    """One (IP, MAC) pair: when it was seen, its identity evidence, its protocols and edges.

    ``seq`` orders records as the store holds them (least recently touched first); ``served``
    counts the record's edges as the server of a controller protocol (``roles.SERVER_ROLE``)
    with at least one response, kept by ``AssetMap.observe`` and edge eviction; ``span`` is the
    record's [first, last] time in its MAC's ``MacInfo.ips`` (None without one).
    """

    __slots__ = ("key", "ip", "mac", "first_seen", "last_seen", "evidence", "protocols", "edges",
                 "seq", "served", "span")

    def __init__(self, key: UnitKey, ts: str, seq: int = 0) -> None:
        self.key = key
        self.ip, self.mac = key
        self.first_seen = ts
        self.last_seen = ts
        self.evidence: Evidence | None = None
        self.protocols: tuple[str, ...] = ()
        self.edges: set[Edge] = set()
        self.seq = seq
        self.served = 0
        self.span: list[float] | None = None

    def claim(self, attr: str, value: Any, confidence: float, event_id: str | None, ts: str) -> None:
        if self.evidence is None:
            self.evidence = Evidence()
        self.evidence.add(attr, value, confidence, event_id, ts)


class Edge:
    """Traffic of one client to one server in one protocol."""

    __slots__ = (
        "key", "client", "server", "protocol", "ports", "reads", "writes", "control", "other",
        "control_ops", "identity_reads", "requests", "responses", "events", "first_seen", "last_seen",
        "event_ids", "change_ids", "read_n", "read_last", "read_mean", "read_m2",
    )

    def __init__(self, key: EdgeKey, client: Unit, server: Unit, ts: str) -> None:
        self.key = key
        self.client = client
        self.server = server
        self.protocol = key[2]
        self.ports: tuple[int, ...] = ()
        self.reads = self.writes = self.control = self.other = 0
        self.control_ops: dict[str, int] | None = None  # made on the first control operation
        self.identity_reads = 0
        self.requests = self.responses = self.events = 0
        self.first_seen = self.last_seen = ts
        #: the first events of the edge, and the first writes/control operations
        self.event_ids: list[str] = []
        self.change_ids: list[str] = []
        # intervals between reads (Welford): count of reads, last read time, mean and M2 of gaps
        self.read_n = 0
        self.read_last = 0.0
        self.read_mean = 0.0
        self.read_m2 = 0.0

    @property
    def is_cyclic(self) -> bool:
        return cyclic(self.read_n, self.read_mean, self.read_m2)

    def add_read_time(self, t: float) -> None:
        if self.read_n:
            gap = t - self.read_last
            k = self.read_n  # number of gaps after this one
            delta = gap - self.read_mean
            self.read_mean += delta / k
            self.read_m2 += delta * (gap - self.read_mean)
        self.read_n += 1
        self.read_last = t


class MacInfo:
    """What one host MAC was seen with: IP -> [first, last] time, and whether it is shared."""

    __slots__ = ("ips", "shared", "refs")

    def __init__(self) -> None:
        self.ips: dict[str, list[float]] = {}
        self.shared = False
        self.refs = 0


class Store:
    def __init__(self, max_units: int, max_edges: int) -> None:
        if max_units < 1 or max_edges < 1:
            raise ValueError("max_units and max_edges must be positive")
        self.max_units = max_units
        self.max_edges = max_edges
        self.units: OrderedDict[UnitKey, Unit] = OrderedDict()
        self.edges: OrderedDict[EdgeKey, Edge] = OrderedDict()
        self.by_ip: dict[str, list[Unit]] = {}
        self.macs: dict[str, MacInfo] = {}
        self.evicted_units = 0
        self.evicted_edges = 0
        self._seq = 0

    # -- records ------------------------------------------------------------------------------
    def unit(self, ip: str, mac: str | None, ts: str, t: float) -> tuple[Unit, bool]:
        """The record of (ip, mac), touched now; True when it was created by this call."""
        key = (ip, mac)
        unit = self.units.get(key)
        seq = self._seq = self._seq + 1
        if unit is None:
            return self._new_unit(key, ts, t, seq), True
        if unit.seq != seq - 1:  # else it is the last record touched: already at the end
            self.units.move_to_end(key)
        unit.seq = seq
        if ts > unit.last_seen:
            unit.last_seen = ts
        elif ts < unit.first_seen:
            unit.first_seen = ts
        if mac is not None:
            span = unit.span
            if span is None:
                self._mac_seen(unit, mac, t)
            elif t > span[1]:
                span[1] = t
            elif t < span[0]:
                span[0] = t
        return unit, False

    def _new_unit(self, key: UnitKey, ts: str, t: float, seq: int) -> Unit:
        ip, mac = key
        unit = Unit(key, ts, seq)
        self.units[key] = unit
        self.by_ip.setdefault(ip, []).append(unit)
        if mac is not None:
            info = self.macs.get(mac)
            if info is None:
                info = self.macs[mac] = MacInfo()
            info.refs += 1
        if len(self.units) > self.max_units:
            self._evict_unit()
        if mac is not None:
            self._mac_seen(unit, mac, t)
        return unit

    def _mac_seen(self, unit: Unit, mac: str, t: float) -> None:
        """A record with a MAC seen at `t` whose span is not known yet."""
        info = self.macs[mac]
        span = info.ips.get(unit.ip)
        if span is None:
            if len(info.ips) >= MAX_IPS_PER_MAC:
                info.shared = True  # far more addresses than one host has: a router
                return
            span = info.ips[unit.ip] = [t, t]
        elif t > span[1]:
            span[1] = t
        elif t < span[0]:
            span[0] = t
        unit.span = span

    def mark_shared(self, mac: str) -> None:
        info = self.macs.get(mac)
        if info is not None:
            info.shared = True

    def _evict_unit(self) -> None:
        _, unit = self.units.popitem(last=False)
        self.evicted_units += 1
        for edge in list(unit.edges):
            self._drop_edge(edge)
        same_ip = self.by_ip.get(unit.ip)
        if same_ip is not None:
            same_ip.remove(unit)
            if not same_ip:
                del self.by_ip[unit.ip]
        if unit.mac is not None:
            info = self.macs.get(unit.mac)
            if info is not None:
                info.refs -= 1
                info.ips.pop(unit.ip, None)
                if info.refs <= 0:
                    del self.macs[unit.mac]

    # -- edges --------------------------------------------------------------------------------
    def edge(self, client: Unit, server: Unit, protocol: str, ts: str) -> Edge:
        key = (client.key, server.key, protocol)
        edge = self.edges.get(key)
        if edge is None:
            edge = Edge(key, client, server, ts)
            self.edges[key] = edge
            client.edges.add(edge)
            server.edges.add(edge)
            if len(self.edges) > self.max_edges:
                _, oldest = self.edges.popitem(last=False)
                self.evicted_edges += 1
                _unlink(oldest)
        else:
            self.edges.move_to_end(key)
        return edge

    def _drop_edge(self, edge: Edge) -> None:
        if self.edges.pop(edge.key, None) is not None:
            self.evicted_edges += 1
        _unlink(edge)  # an edge of a record is always in the store: this runs once per edge

    # -- routers ------------------------------------------------------------------------------
    def is_router(self, mac: str, public: Any) -> bool:
        """True when `mac` does not name one host (see module docstring); `public(ip)` -> bool."""
        info = self.macs.get(mac)
        if info is None:
            return False
        if info.shared:
            return True
        if len(info.ips) < 2:
            return False
        if any(public(ip) for ip in info.ips):
            return True
        return max_overlap(list(info.ips.values())) >= 3


def answered(edge: Edge) -> None:
    """Count the first response on `edge` (call before ``edge.responses`` goes up)."""
    if not edge.responses and edge.protocol in SERVER_ROLE:
        edge.server.served += 1


def _unlink(edge: Edge) -> None:
    """Detach a removed edge from its records."""
    edge.client.edges.discard(edge)
    edge.server.edges.discard(edge)
    if edge.responses and edge.protocol in SERVER_ROLE:
        edge.server.served -= 1


def max_overlap(spans: list[list[float]]) -> int:
    """The most time intervals [first, last] that share one instant."""
    points = sorted([(s[0], 0) for s in spans] + [(s[1], 1) for s in spans])
    best = active = 0
    for _, kind in points:
        if kind == 0:
            active += 1
            best = max(best, active)
        else:
            active -= 1
    return best
