"""Bounded state of the asset map: host records, communication edges, and what each MAC was seen with.

A *host record* (``Unit``) is one (IP, MAC) pair as seen on the wire; assets are formed from
records when they are read out (see ``snapshot.py``), because whether a MAC names one host or a
router in front of many is only known from what it was seen with over time:

- a MAC seen with IPs one after another (DHCP renewals) is one host with several addresses;
- a MAC seen with three or more IPs at overlapping times, with a public IP beside another, or as
  both sender and receiver of one message between two IPs (loopback captures), is a router or
  a shared address and keys nothing: the records behind it become assets by IP;
- the all-zero, broadcast and multicast MACs key nothing.

Records and edges carry ``seq`` stamps that order them by their last touch (``ordered_units``,
``ordered_edges``); past ``max_units`` records (or ``max_edges`` edges) the least recently
touched is evicted with everything that hangs on it (``lru.py``), and counted.

When MACs were seen with their IPs (overlap, DHCP) is read from the records' ``first_seen`` and
``last_seen``, the event time texts compared as text: the order of time for the sensor's
``YYYY-MM-DDTHH:MM:SS.ffffffZ`` stamps.

Caps per record and per edge, so that memory depends on these limits and not on the traffic
(each cap, when it bites, is counted in ``Store.capped``; what is kept is always the same for
the same events):

| collection | cap | past the cap |
|---|---|---|
| edges of one record (its peers and protocols) | ``MAX_UNIT_EDGES`` | the record's least recently touched edges are dropped, down to ``UNIT_EDGES_KEPT`` |
| records at one IP (one per MAC seen with it) | ``MAX_UNITS_PER_IP`` | the least recently touched record at the IP is evicted |
| protocols of one record | ``MAX_PROTOCOLS`` | further protocols are not listed |
| IPs of one MAC | ``MAX_IPS_PER_MAC`` | further IPs are not listed; the MAC counts as a router |
| ports, first event ids, first change ids of one edge | ``MAX_PORTS``, ``MAX_EDGE_IDS`` | the first ones are kept |
| control operations counted per edge | the operation names of ``ops.py`` (a fixed set) | |
| identity evidence of one record | ``evidence.MAX_ATTRS`` attributes, ``MAX_VALUES`` values, ``MAX_IDS`` ids | see ``evidence.py`` |
| records, edges | ``max_units``, ``max_edges`` (``AssetMap``'s ``max_assets``, ``max_edges``) | the least recently touched is evicted |
| the asset map's caches: links, action tables, MAC texts | ``links.MAX_LINKS``, ``MAX_DATASETS``, ``MAX_OPS``, ``reader.MAC_CACHE`` | cleared (speed only) |
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from assetmap.evidence import Evidence
from assetmap.lru import Lru
from assetmap.roles import SERVER_ROLE, cyclic

UnitKey = tuple[str, str | None]  # (ip, host MAC or None)
EdgeKey = tuple[UnitKey, UnitKey, str]  # (client, server, protocol)

MAX_IPS_PER_MAC = 16
MAX_EDGE_IDS = 4
MAX_PORTS = 4
MAX_UNIT_EDGES = 4096
UNIT_EDGES_KEPT = 3072
MAX_UNITS_PER_IP = 16
MAX_PROTOCOLS = 16


class Unit:
    """One (IP, MAC) pair: when it was seen, its identity evidence, its protocols and edges.

    Every message touches its two records and their edge, at the same time, so a record's times
    and order are kept on its edges, once per message, and read from there (``first_seen``,
    ``last_seen``, ``seq``: a walk over the record's edges): ``first``, ``last`` and ``stamp``
    hold the record's creation, its touches in the general path, and the edges it lost.
    ``seq`` (twice the number of the record's last message, plus one when it was the receiver)
    orders records by their last touch. ``served`` counts the record's edges as the server of a
    controller protocol (``roles.SERVER_ROLE``) with at least one response, kept by
    ``AssetMap.observe`` and edge eviction.
    """

    __slots__ = ("key", "ip", "mac", "first", "last", "stamp", "evidence", "protocols", "edges", "served")

    def __init__(self, key: UnitKey, ts: str, seq: int = 0) -> None:
        self.key = key
        self.ip, self.mac = key
        self.first = self.last = ts
        self.stamp = seq
        self.evidence: Evidence | None = None
        self.protocols: tuple[str, ...] = ()
        self.edges: set[Edge] = set()
        self.served = 0

    @property
    def first_seen(self) -> str:
        first = self.first
        for edge in self.edges:
            if edge.first_seen < first:
                first = edge.first_seen
        return first

    @property
    def last_seen(self) -> str:
        last = self.last
        for edge in self.edges:
            if edge.last_seen > last:
                last = edge.last_seen
        return last

    @property
    def seq(self) -> int:
        stamp = self.stamp
        for edge in self.edges:
            mine = edge.stamp_of(self)
            if mine > stamp:
                stamp = mine
        return stamp

    def touch(self, ts: str, seq: int) -> None:
        """A touch outside an edge update (the general path, before its edge is touched)."""
        self.stamp = seq
        if ts > self.last:
            self.last = ts
        elif ts < self.first:
            self.first = ts

    def claim(self, attr: str, value: Any, confidence: float, event_id: str | None, ts: str) -> None:
        if self.evidence is None:
            self.evidence = Evidence()
        self.evidence.add(attr, value, confidence, event_id, ts)

    def add_protocol(self, protocol: str, capped: dict[str, int]) -> None:
        if protocol not in self.protocols:
            if len(self.protocols) < MAX_PROTOCOLS:
                self.protocols += (protocol,)
            else:
                capped["protocols"] += 1


class Edge:
    """Traffic of one client to one server in one protocol.

    Every request counts as exactly one of reads, writes, control, other (``requests`` is
    their sum) and every event is a request or a response (``events``). ``seq``, twice the
    number of the edge's last message plus one when that was a request, orders edges by their
    last touch and gives its records' stamps (``stamp_of``); ``live`` turns False when the edge
    leaves the store (the asset map's cached links check it, see ``links.py``).
    """

    __slots__ = (
        "key", "client", "server", "protocol", "ports", "reads", "writes", "control", "other",
        "control_ops", "identity_reads", "responses", "first_seen", "last_seen",
        "event_ids", "change_ids", "read_n", "read_last", "read_mean", "read_m2", "seq", "live", "ops", "link",
    )

    def __init__(self, key: EdgeKey, client: Unit, server: Unit, ts: str, seq: int = 0) -> None:
        self.key = key
        self.client = client
        self.server = server
        self.protocol = key[2]
        self.ports: tuple[int, ...] = ()
        self.reads = self.writes = self.control = self.other = 0
        self.control_ops: dict[str, int] | None = None  # made on the first control operation
        self.identity_reads = 0
        self.responses = 0
        self.seq = seq
        self.live = True
        self.ops: Any = None  # the protocol's action table (links.Ops) once the edge is linked
        self.link: tuple[Any, ...] | None = None  # and the keys of its links
        self.first_seen = self.last_seen = ts
        #: the first events of the edge, and the first writes/control operations
        self.event_ids: list[str] = []
        self.change_ids: list[str] = []
        # intervals between reads (Welford): count of reads, last read time, mean and M2 of gaps
        self.read_n = 0
        self.read_last = 0.0
        self.read_mean = 0.0
        self.read_m2 = 0.0

    def stamp_of(self, unit: Unit) -> int:
        """The ``Unit.seq`` that the last message on this edge gave `unit` (one of its ends):
        twice the message number, plus one for its receiver."""
        seq = self.seq
        if self.client is self.server:
            return seq | 1  # sender, then receiver
        return (seq & ~1) | ((self.server is unit) == (seq & 1))

    @property
    def requests(self) -> int:
        return self.reads + self.writes + self.control + self.other

    @property
    def events(self) -> int:
        return self.reads + self.writes + self.control + self.other + self.responses

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
    """What one host MAC was seen with: its records by IP (at most MAX_IPS_PER_MAC), and
    whether it is shared."""

    __slots__ = ("ips", "shared", "refs")

    def __init__(self) -> None:
        self.ips: dict[str, Unit] = {}
        self.shared = False
        self.refs = 0


class Store:
    def __init__(self, max_units: int, max_edges: int) -> None:
        if max_units < 1 or max_edges < 1:
            raise ValueError("max_units and max_edges must be positive")
        self.max_units = max_units
        self.max_edges = max_edges
        self.units: dict[UnitKey, Unit] = {}
        self.edges: dict[EdgeKey, Edge] = {}
        self.by_ip: dict[str, list[Unit]] = {}
        self.macs: dict[str, MacInfo] = {}
        self.evicted_units = 0
        self.evicted_edges = 0
        #: how often each per-record cap bit (see module docstring)
        self.capped = {"unit_edges": 0, "units_per_ip": 0, "protocols": 0}
        self._unit_lru = Lru(self._has_unit)
        self._edge_lru = Lru(_edge_live)
        #: told of every edge that leaves the store (the asset map's link cache forgets it)
        self.on_drop: Callable[[Edge], None] | None = None

    # -- records ------------------------------------------------------------------------------
    def unit(self, ip: str, mac: str | None, ts: str, seq: int) -> tuple[Unit, bool]:
        """The record of (ip, mac), touched now with stamp `seq`; True when it was created."""
        key = (ip, mac)
        unit = self.units.get(key)
        if unit is None:
            return self._new_unit(key, ts, seq), True
        unit.touch(ts, seq)
        return unit, False

    def ordered_units(self) -> list[Unit]:
        """The records, least recently touched first."""
        return sorted(self.units.values(), key=_seq)

    def _has_unit(self, unit: Unit) -> bool:
        return self.units.get(unit.key) is unit

    def _live_units(self) -> Sequence[Unit]:
        return list(self.units.values())

    def _new_unit(self, key: UnitKey, ts: str, seq: int) -> Unit:
        ip, mac = key
        same_ip = self.by_ip.get(ip)
        if same_ip is not None and len(same_ip) >= MAX_UNITS_PER_IP:
            self.capped["units_per_ip"] += 1
            self._remove_unit(min(same_ip, key=_seq))
        unit = Unit(key, ts, seq)
        self.units[key] = unit
        self.by_ip.setdefault(ip, []).append(unit)
        self._unit_lru.added(unit, self._live_units, len(self.units))
        info = None
        if mac is not None:
            info = self.macs.get(mac)
            if info is None:
                info = self.macs[mac] = MacInfo()
            info.refs += 1
        if len(self.units) > self.max_units:
            self._remove_unit(self._unit_lru.oldest(self._live_units))
        if info is not None:  # after the eviction, which may have freed a place
            if len(info.ips) < MAX_IPS_PER_MAC:
                info.ips[ip] = unit
            else:
                info.shared = True  # far more addresses than one host has: a router
        return unit

    def mark_shared(self, mac: str) -> None:
        info = self.macs.get(mac)
        if info is not None:
            info.shared = True

    def _remove_unit(self, unit: Unit) -> None:
        """Evict `unit` and all that hangs on it."""
        del self.units[unit.key]
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
                if info.ips.get(unit.ip) is unit:
                    del info.ips[unit.ip]
                if info.refs <= 0:
                    del self.macs[unit.mac]

    # -- edges --------------------------------------------------------------------------------
    def edge(self, client: Unit, server: Unit, protocol: str, ts: str, seq: int) -> Edge:
        """The edge of (client, server, protocol), touched now with stamp `seq` (``Edge.seq``;
        created if new)."""
        key = (client.key, server.key, protocol)
        edge = self.edges.get(key)
        if edge is not None:
            edge.seq = seq
            return edge
        edge = Edge(key, client, server, ts, seq)
        self.edges[key] = edge
        client.edges.add(edge)
        server.edges.add(edge)
        self._edge_lru.added(edge, self._live_edges, len(self.edges))
        if len(self.edges) > self.max_edges:
            self._drop_edge(self._edge_lru.oldest(self._live_edges))
        for unit in (client, server):
            if len(unit.edges) > MAX_UNIT_EDGES:
                self._trim(unit)
        return edge

    def ordered_edges(self) -> list[Edge]:
        """The edges, least recently touched first."""
        return sorted(self.edges.values(), key=_seq)

    def _live_edges(self) -> Sequence[Edge]:
        return list(self.edges.values())

    def _trim(self, unit: Unit) -> None:
        """Drop the least recently touched edges of a record with too many, down to
        UNIT_EDGES_KEPT (the newest edge, just added, is the most recent and stays)."""
        self.capped["unit_edges"] += 1
        for edge in sorted(unit.edges, key=_seq)[: len(unit.edges) - UNIT_EDGES_KEPT]:
            self._drop_edge(edge)

    def _drop_edge(self, edge: Edge) -> None:
        if self.edges.pop(edge.key, None) is not None:
            self.evicted_edges += 1
        _unlink(edge)  # an edge of a record is always in the store: this runs once per edge
        if self.on_drop is not None:
            self.on_drop(edge)

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
        return max_overlap([(u.first_seen, u.last_seen) for u in info.ips.values()]) >= 3


def _seq(item: Unit | Edge) -> int:
    return item.seq


def _edge_live(edge: Edge) -> bool:
    return edge.live


def answered(edge: Edge) -> None:
    """Count the first response on `edge` (call before ``edge.responses`` goes up)."""
    if not edge.responses and edge.protocol in SERVER_ROLE:
        edge.server.served += 1


def _unlink(edge: Edge) -> None:
    """Detach a removed edge from its records, which keep its times and stamps."""
    edge.live = False
    for unit in (edge.client, edge.server):
        stamp = edge.stamp_of(unit)
        if stamp > unit.stamp:
            unit.stamp = stamp
        if edge.last_seen > unit.last:
            unit.last = edge.last_seen
        if edge.first_seen < unit.first:
            unit.first = edge.first_seen
    edge.client.edges.discard(edge)
    edge.server.edges.discard(edge)
    if edge.responses and edge.protocol in SERVER_ROLE:
        edge.server.served -= 1


def max_overlap(spans: Sequence[tuple[Any, Any]]) -> int:
    """The most time intervals (first, last) that share one instant."""
    points = sorted([(s[0], 0) for s in spans] + [(s[1], 1) for s in spans])
    best = active = 0
    for _, kind in points:
        if kind == 0:
            active += 1
            best = max(best, active)
        else:
            active -= 1
    return best
