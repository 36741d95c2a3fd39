"""``AssetMap``: the asset inventory and communication graph, fed one event at a time.

``observe(event)`` does the per-event work (cheap, bounded): it finds the host records of the
sender and receiver, decides which is the flow's client and server, adds identity claims with
their event ids, and counts the operation on the (client, server, protocol) edge.
Everything else (assets from records, roles, Purdue levels, fingerprints, advisories, exposure
findings, the networkx graph) is computed when read (``assets()``, ``graph()``, ``findings()``)
and cached until the next event.
"""

from __future__ import annotations

import gc
from collections.abc import Mapping
from datetime import datetime
from typing import Any

import networkx as nx

from assetmap import ops
from assetmap.advisories import AdvisoryStore
from assetmap.fingerprints import Fingerprints, default_fingerprints
from assetmap.identity import claims
from assetmap.oui import OuiTable, default_oui, is_host_mac, normalize_mac
from assetmap.site import Site, zone_info
from assetmap.snapshot import Snapshot, build_snapshot
from assetmap.store import MAX_EDGE_IDS, MAX_PORTS, Store, Unit
from icssa.events import get

#: the protocols' registered server ports (a hint when an event does not say who is the client)
SERVICE_PORTS = frozenset({502, 102, 4840})
#: datasets that are not traffic between assets (sensor notices)
_IGNORED_DATASETS = frozenset({"icssa"})


def _side(event: Mapping[str, Any], side: str) -> tuple[Any, int | None, Any]:
    """(ip, port, mac) of one end; a port that is not an int is no port."""
    sub = event.get(side)
    if isinstance(sub, Mapping):
        ip, port, mac = sub.get("ip"), sub.get("port"), sub.get("mac")
    else:
        ip, port, mac = get(event, f"{side}.ip"), get(event, f"{side}.port"), get(event, f"{side}.mac")
    return ip, port if isinstance(port, int) and not isinstance(port, bool) else None, mac


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
        self._zone_snapshot: Snapshot | None = None
        self._zone_snapshot_at = 0
        self._ts_text = ""
        self._ts_value = 0.0

    # -- input --------------------------------------------------------------------------------
    def _time(self, ts: str) -> float:
        if ts != self._ts_text:
            try:
                self._ts_value = datetime.fromisoformat(ts).timestamp()
            except ValueError:
                pass  # keep the previous time: ordering stays monotone for a bad stamp
            self._ts_text = ts
        return self._ts_value

    def _unit(self, ip: str, mac: Any, ts: str, t: float, event_id: str | None) -> Unit:
        norm = normalize_mac(mac)
        host_mac = norm if norm is not None and is_host_mac(norm) else None
        unit, created = self.store.unit(ip, host_mac, ts, t)
        if created and host_mac is not None:
            vendor = self.oui.vendor(host_mac)
            if vendor is not None:
                unit.claim("oui_vendor", vendor, 0.5, event_id, ts)
        return unit

    def observe(self, event: Mapping[str, Any]) -> None:
        """Take one event (nested or dotted keys, see icssa.events)."""
        dataset = get(event, "event.dataset")
        if get(event, "event.kind") == "alert" or not isinstance(dataset, str) or not dataset \
                or dataset in _IGNORED_DATASETS:
            self.skipped += 1
            return
        src_ip, src_port, src_mac = _side(event, "source")
        dst_ip, dst_port, dst_mac = _side(event, "destination")
        if not isinstance(src_ip, str) or not isinstance(dst_ip, str) or not src_ip or not dst_ip:
            self.skipped += 1
            return
        self.events += 1
        self._snapshot = None
        ts = str(event.get("@timestamp") or "")
        t = self._time(ts)
        raw_id = get(event, "event.id")
        event_id = str(raw_id) if raw_id is not None else None
        action = str(get(event, "event.action") or "")

        src = self._unit(src_ip, src_mac, ts, t, event_id)
        dst = self._unit(dst_ip, dst_mac, ts, t, event_id)
        if src.mac is not None and src.mac == dst.mac and src_ip != dst_ip:
            self.store.mark_shared(src.mac)  # one MAC on both ends: not a host's own address

        to_server = get(event, "network.direction_to_server")
        if not isinstance(to_server, bool):
            to_server = self._guess_to_server(event, dataset, src_port, dst_port)
        client, server = (src, dst) if to_server else (dst, src)
        server_port = dst_port if to_server else src_port
        is_response = not to_server

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
        if isinstance(server_port, int) and server_port not in edge.ports and len(edge.ports) < MAX_PORTS:
            edge.ports += (server_port,)
        if to_server:
            edge.requests += 1
            kind, op = ops.classify(dataset, action, get(event, f"{dataset}.subfunction"))
            if kind == ops.READ:
                edge.reads += 1
                edge.add_read_time(t)
            elif kind == ops.WRITE:
                edge.writes += 1
            elif kind == ops.CONTROL:
                edge.control += 1
                if edge.control_ops is None:
                    edge.control_ops = {}
                edge.control_ops[op] = edge.control_ops.get(op, 0) + 1
            else:
                edge.other += 1
                if action in ops.IDENTITY_OPS:
                    edge.identity_reads += 1
            if kind in (ops.WRITE, ops.CONTROL) and event_id and len(edge.change_ids) < MAX_EDGE_IDS:
                edge.change_ids.append(event_id)
        else:
            edge.responses += 1

        for who, attr, value, confidence in claims(event, dataset, action, is_response):
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
            # the read-out allocates many small containers and no cycles: collections would only
            # walk the heap again and again
            enabled = gc.isenabled()
            gc.disable()
            try:
                self._snapshot = build_snapshot(self.store, self.site, self.fingerprints, self.advisories)
            finally:
                if enabled:
                    gc.enable()
        return self._snapshot

    def assets(self) -> list[dict[str, Any]]:
        """The inventory (DESIGN.md asset contract plus id, purdue_level, identity, evidence, ...)."""
        return self.snapshot().asset_list()

    def findings(self) -> list[dict[str, Any]]:
        """Exposure findings, each with kind, asset, description and evidence event ids."""
        return self.snapshot().findings

    def graph(self) -> nx.MultiDiGraph:
        """Assets as nodes; one edge per (client, server, protocol), keyed by protocol."""
        return self.snapshot().graph()

    def graph_node_link(self) -> dict[str, Any]:
        """The graph in networkx node-link form (``edges`` key)."""
        return nx.node_link_data(self.graph(), edges="edges")

    def zone_of(self, ip: str) -> dict[str, Any] | None:
        """{"zone": name, "level": float} from the site file (or internet for public addresses);
        else the Purdue level inferred from the roles of the asset at `ip` (zone None); else None.
        """
        info = zone_info(self.site, ip)
        if info is not None:
            return info
        # roles need a snapshot; for per-event callers reuse one until the inventory has seen
        # as many new events as it holds records (amortised O(1) per call)
        fresh = self._snapshot
        if fresh is None:
            stale = self._zone_snapshot
            if stale is None or self.events - self._zone_snapshot_at > max(1000, len(self.store.units)):
                stale = self._zone_snapshot = self.snapshot()
                self._zone_snapshot_at = self.events
            fresh = stale
        return fresh.inferred_zone(ip)

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
