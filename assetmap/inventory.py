"""``AssetMap``: the asset inventory and communication graph, fed one event at a time.

``observe(event)`` does the per-event work (cheap, bounded): it finds the host records of the
sender and receiver, decides which is the flow's client and server, adds identity claims with
their event ids, and counts the operation on the (client, server, protocol) edge.
Everything else (assets from records, roles, Purdue levels, fingerprints, advisories, exposure
findings, the networkx graph) is computed when read (``assets()``, ``graph()``, ``findings()``)
and cached until the next event. ``zone_of(ip)``, asked per event by correlation, looks only at
the asset at that address and its peers (``levels.py``), never at the whole inventory.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

import networkx as nx

from assetmap import ops
from assetmap.advisories import AdvisoryStore
from assetmap.fingerprints import Fingerprints, default_fingerprints
from assetmap.identity import CLAIM_DATASETS, claims
from assetmap.levels import inferred_zone
from assetmap.oui import OuiTable, default_oui
from assetmap.reader import PLAIN_KEYS, EventClock, MacCache, is_plain, mapping, port
from assetmap.site import Site, zone_info
from assetmap.snapshot import Snapshot, build_snapshot
from assetmap.store import MAX_EDGE_IDS, MAX_PORTS, Store, Unit, answered
from icssa.events import get

#: the protocols' registered server ports (a hint when an event does not say who is the client)
SERVICE_PORTS = frozenset({502, 102, 4840})
#: datasets that are not traffic between assets (sensor notices)
_IGNORED_DATASETS = frozenset({"icssa"})


@contextmanager
def paused_gc() -> Iterator[None]:
    """No garbage collection inside: read-outs allocate many small containers and no cycles,
    and collections would only walk the heap again and again."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _side(event: Mapping[str, Any], side: str) -> tuple[Any, int | None, Any]:
    """(ip, port, mac) of one end; a port that is not an int is no port."""
    sub = event.get(side)
    if isinstance(sub, Mapping):
        ip, p, mac = sub.get("ip"), sub.get("port"), sub.get("mac")
    else:
        ip, p, mac = get(event, f"{side}.ip"), get(event, f"{side}.port"), get(event, f"{side}.mac")
    return ip, port(p), mac


class AssetMap:
    """Inventory, communication graph, zones and exposure from ICS protocol events.

    max_assets bounds the host records kept (least recently seen evicted first; ``stats``
    counts evictions); max_edges bounds the edges (default: twice max_assets).
    """

    def __init__(
        self,
        site: Site | None = None,
        advisories: AdvisoryStore | None = None,
        max_assets: int = 200_000,
        *,
        max_edges: int | None = None,
        fingerprints: Fingerprints | None = None,
        oui: OuiTable | None = None,
    ) -> None:
        if max_assets < 2:
            raise ValueError("max_assets must be at least 2 (one message names two hosts)")
        self.site = site
        self.advisories = advisories
        self.fingerprints = fingerprints or default_fingerprints()
        self.oui = oui or default_oui()
        self.store = Store(max_assets, max_edges if max_edges is not None else 2 * max_assets)
        self.events = 0
        self.skipped = 0
        self._snapshot: Snapshot | None = None
        self._clock = EventClock()
        self._macs = MacCache()

    # -- input --------------------------------------------------------------------------------
    def _created(self, unit: Unit, event_id: str | None, ts: str) -> None:
        """A new record: its NIC vendor from the OUI table, if the MAC has one."""
        if unit.mac is not None:
            vendor = self.oui.vendor(unit.mac)
            if vendor is not None:
                unit.claim("oui_vendor", vendor, 0.5, event_id, ts)

    def observe(self, event: Mapping[str, Any]) -> None:
        """Take one event (nested or dotted keys, see icssa.events)."""
        # the sensor's form (no dotted top-level key): read the objects directly, which gives
        # the same values as get(); `x if x.__class__ is dict else mapping(x)` inlines mapping()
        plain = event.__class__ is dict and (event.keys() <= PLAIN_KEYS or is_plain(event))
        if plain:
            ev = event.get("event")
            ev = ev if ev.__class__ is dict else mapping(ev)
            kind, dataset, raw_id, action = ev.get("kind"), ev.get("dataset"), ev.get("id"), ev.get("action")
        else:
            kind, dataset = get(event, "event.kind"), get(event, "event.dataset")
            raw_id, action = get(event, "event.id"), get(event, "event.action")
        if kind == "alert" or not isinstance(dataset, str) or not dataset or dataset in _IGNORED_DATASETS:
            self.skipped += 1
            return
        if plain:
            side = event.get("source")
            side = side if side.__class__ is dict else mapping(side)
            src_ip, src_port, src_mac = side.get("ip"), side.get("port"), side.get("mac")
            side = event.get("destination")
            side = side if side.__class__ is dict else mapping(side)
            dst_ip, dst_port, dst_mac = side.get("ip"), side.get("port"), side.get("mac")
            if src_port.__class__ is not int:
                src_port = port(src_port)
            if dst_port.__class__ is not int:
                dst_port = port(dst_port)
        else:
            src_ip, src_port, src_mac = _side(event, "source")
            dst_ip, dst_port, dst_mac = _side(event, "destination")
        if not (isinstance(src_ip, str) and src_ip and isinstance(dst_ip, str) and dst_ip):
            self.skipped += 1
            return
        self.events += 1
        self._snapshot = None
        ts = str(event.get("@timestamp") or "")
        t = self._clock.seconds(ts)
        event_id = str(raw_id) if raw_id is not None else None
        action = str(action or "")

        macs, touch = self._macs, self.store.unit
        src, created = touch(src_ip, macs[src_mac] if src_mac.__class__ is str else macs.host_mac(src_mac), ts, t)
        if created:
            self._created(src, event_id, ts)
        dst, created = touch(dst_ip, macs[dst_mac] if dst_mac.__class__ is str else macs.host_mac(dst_mac), ts, t)
        if created:
            self._created(dst, event_id, ts)
        if src.mac is not None and src.mac == dst.mac and src_ip != dst_ip:
            self.store.mark_shared(src.mac)  # one MAC on both ends: not a host's own address

        if plain:
            net = event.get("network")
            to_server = (net if net.__class__ is dict else mapping(net)).get("direction_to_server")
        else:
            to_server = get(event, "network.direction_to_server")
        if to_server.__class__ is not bool:
            to_server = self._guess_to_server(event, dataset, src_port, dst_port)
        client, server = (src, dst) if to_server else (dst, src)
        server_port = dst_port if to_server else src_port

        if dataset not in src.protocols:
            src.protocols += (dataset,)
        if dataset not in dst.protocols:
            dst.protocols += (dataset,)
        edge = self.store.edge(client, server, dataset, ts)
        edge.events += 1
        if ts > edge.last_seen:
            edge.last_seen = ts
        elif ts < edge.first_seen:
            edge.first_seen = ts
        if event_id and len(edge.event_ids) < MAX_EDGE_IDS:
            edge.event_ids.append(event_id)
        if server_port is not None and server_port not in edge.ports and len(edge.ports) < MAX_PORTS:
            edge.ports += (server_port,)
        if to_server:
            edge.requests += 1
            # the sub-function refines Modbus diagnostics only (ops.classify)
            sub = get(event, "modbus.subfunction") if action == "diagnostics" and dataset == "modbus" else None
            op_class, op = ops.classify(dataset, action, sub)
            if op_class == ops.READ:
                edge.reads += 1
                edge.add_read_time(t)
            elif op_class == ops.WRITE:
                edge.writes += 1
            elif op_class == ops.CONTROL:
                edge.control += 1
                if edge.control_ops is None:
                    edge.control_ops = {}
                edge.control_ops[op] = edge.control_ops.get(op, 0) + 1
            else:
                edge.other += 1
                if action in ops.IDENTITY_OPS:
                    edge.identity_reads += 1
            if op_class in (ops.WRITE, ops.CONTROL) and event_id and len(edge.change_ids) < MAX_EDGE_IDS:
                edge.change_ids.append(event_id)
        else:
            if not edge.responses:
                answered(edge)
            edge.responses += 1

        if dataset in CLAIM_DATASETS:
            for who, attr, value, confidence in claims(event, dataset, action, not to_server, plain=plain):
                target = server if who == "server" else src if who == "src" else dst
                target.claim(attr, value, confidence, event_id, ts)

    @staticmethod
    def _guess_to_server(event: Mapping[str, Any], dataset: str, src_port: Any, dst_port: Any) -> bool:
        flag = get(event, f"{dataset}.is_response")
        if isinstance(flag, bool):
            return not flag
        if dst_port in SERVICE_PORTS and src_port not in SERVICE_PORTS:
            return True
        if src_port in SERVICE_PORTS and dst_port not in SERVICE_PORTS:
            return False
        return not (isinstance(src_port, int) and isinstance(dst_port, int) and src_port < dst_port)

    # -- output -------------------------------------------------------------------------------
    def snapshot(self) -> Snapshot:
        if self._snapshot is None:
            with paused_gc():
                self._snapshot = build_snapshot(self.store, self.site, self.fingerprints, self.advisories)
        return self._snapshot

    def assets(self) -> list[dict[str, Any]]:
        """The inventory (DESIGN.md asset contract plus id, purdue_level, identity, evidence, ...)."""
        return self.snapshot().asset_list()

    def findings(self) -> list[dict[str, Any]]:
        """Exposure findings, each with kind, asset, description and evidence event ids."""
        return self.snapshot().findings

    def graph(self) -> nx.MultiDiGraph:
        """Assets as nodes; one edge per (client, server, protocol), keyed by protocol."""
        snapshot = self.snapshot()
        with paused_gc():
            return snapshot.graph()

    def graph_node_link(self) -> dict[str, Any]:
        """The graph in networkx node-link form (``edges`` key)."""
        graph = self.graph()
        with paused_gc():
            return nx.node_link_data(graph, edges="edges")

    def zone_of(self, ip: str) -> dict[str, Any] | None:
        """{"zone": name, "level": float} from the site file (or internet for public addresses);
        else the Purdue level inferred from the roles of the asset at `ip` (zone None); else None.

        The answer is the one a snapshot taken now would give; without a current snapshot it
        is computed from the asset at `ip` and its peers only (``levels.py``).
        """
        info = zone_info(self.site, ip)
        if info is not None:
            return info
        if self._snapshot is not None:
            return self._snapshot.inferred_zone(ip)
        return inferred_zone(self.store, self.site, self.fingerprints, ip)

    @property
    def stats(self) -> dict[str, int]:
        return {
            "events": self.events,
            "skipped": self.skipped,
            "records": len(self.store.units),
            "edges": len(self.store.edges),
            "evicted_records": self.store.evicted_units,
            "evicted_edges": self.store.evicted_edges,
        }
