"""A read-out of the asset map: host records folded into assets, edges folded between assets.

Node schema (one per asset, ``graph()`` node attributes and ``assets()`` items):

| field | meaning |
|---|---|
| id | ``mac:<mac>`` for a host known by its own MAC, else ``ip:<ip>`` |
| ip, ips | the most recently seen address, and all of them (DHCP changes, several IPs per MAC) |
| mac | the host's MAC (None behind a router or without link layer) |
| roles | behaviour and fingerprint roles (``roles.py``), each with evidence |
| protocols, services | datasets spoken; ``proto/port`` served (answered; transports such as COTP are not services) |
| vendor, product, firmware, serial, name | chosen identity (fingerprint vendor first) |
| identity, evidence | every identity attribute's chosen value; all values with confidence and event ids |
| fingerprint | matched fingerprints: vendor, family, device_type, ids |
| zone, purdue_level, level_source | site zone (or ``internet`` for public addresses) and level from ``site``, ``public`` or ``roles`` |
| exposure, vulnerabilities | findings about this asset; matched advisories |
| first_seen, last_seen | ISO 8601 times |

Edge schema (one per client asset, server asset, protocol; networkx key = protocol): ``protocol,
ports, reads, writes, control, control_ops {op: n}, other, requests, responses, events,
first_seen, last_seen, event_ids`` (the first events) and ``change_ids`` (the first writes and
control operations).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import networkx as nx

from assetmap import roles as R
from assetmap.advisories import AdvisoryStore
from assetmap.evidence import Evidence
from assetmap.fingerprints import Fingerprints
from assetmap.grouping import Grouper
from assetmap.site import Site, zone_info
from assetmap.store import MAX_EDGE_IDS, Edge, Store, Unit
from assetmap.vendors import default_vendors

_PRODUCT_ATTRS = ("product_name", "model_name", "module_type_name", "module_name", "product_code")
_NAME_ATTRS = ("system_name", "user_application_name", "application_name")
_FIRMWARE_ATTRS = ("firmware_version", "revision")
#: asset record fields that are graph node attributes
NODE_ATTRS = ("ip", "ips", "mac", "roles", "purdue_level", "zone", "vendor", "product", "name", "protocols", "services")
#: transports below an application protocol: spoken, but not a service of their own (COTP carries S7)
TRANSPORT_DATASETS = frozenset({"cotp"})


class FoldedEdge:
    __slots__ = (
        "client", "server", "protocol", "ports", "reads", "writes", "control", "other", "control_ops",
        "identity_reads", "requests", "responses", "events", "first_seen", "last_seen", "event_ids", "change_ids", "is_cyclic",
    )

    def __init__(self, client: str, server: str, protocol: str, first: Edge) -> None:
        self.client, self.server, self.protocol = client, server, protocol
        self.ports: list[int] = []
        self.reads = self.writes = self.control = self.other = 0
        self.requests = self.responses = self.events = 0
        self.control_ops: dict[str, int] = {}
        self.identity_reads = 0
        self.first_seen, self.last_seen = first.first_seen, first.last_seen
        self.event_ids: list[str] = []
        self.change_ids: list[str] = []
        self.is_cyclic = False

    def add(self, e: Edge) -> None:
        for port in e.ports:
            if port not in self.ports:
                self.ports.append(port)
        self.reads += e.reads
        self.writes += e.writes
        self.control += e.control
        self.other += e.other
        self.identity_reads += e.identity_reads
        self.requests += e.requests
        self.responses += e.responses
        self.events += e.events
        for op, n in (e.control_ops or {}).items():
            self.control_ops[op] = self.control_ops.get(op, 0) + n
        self.first_seen = min(self.first_seen, e.first_seen)
        self.last_seen = max(self.last_seen, e.last_seen)
        for src, dst in ((e.event_ids, self.event_ids), (e.change_ids, self.change_ids)):
            for eid in src:
                if len(dst) < MAX_EDGE_IDS and eid not in dst:
                    dst.append(eid)
        self.is_cyclic = self.is_cyclic or e.is_cyclic

    def attrs(self) -> dict[str, Any]:
        return {
            "protocol": self.protocol, "ports": sorted(self.ports), "reads": self.reads, "writes": self.writes,
            "control": self.control, "control_ops": dict(sorted(self.control_ops.items())), "other": self.other,
            "identity_reads": self.identity_reads,
            "requests": self.requests, "responses": self.responses, "events": self.events,
            "first_seen": self.first_seen, "last_seen": self.last_seen,
            "event_ids": list(self.event_ids), "change_ids": list(self.change_ids),
        }


class AssetView:
    """One asset while a snapshot is built."""

    __slots__ = ("id", "units", "evidence", "in_edges", "out_edges", "roles", "zone", "level", "level_source",
                 "record")

    def __init__(self, gid: str, units: list[Unit]) -> None:
        self.id = gid
        self.units = sorted(units, key=lambda u: u.last_seen, reverse=True)
        with_evidence = [u.evidence for u in units if u.evidence]
        if len(with_evidence) == 1:
            self.evidence = with_evidence[0]  # read only here: no copy needed
        else:
            self.evidence = Evidence()
            for evidence in with_evidence:
                self.evidence.merge(evidence)
        self.in_edges: list[FoldedEdge] = []
        self.out_edges: list[FoldedEdge] = []
        self.roles: R.Roles = {}
        self.zone: str | None = None
        self.level: float | None = None
        self.level_source: str | None = None
        self.record: dict[str, Any] = {}

    @property
    def ip(self) -> str:
        return self.units[0].ip


def _group_ids(store: Store) -> dict[tuple[str, str | None], str]:
    grouper = Grouper(store)
    return {key: grouper.gid(unit) for key, unit in store.units.items()}


class Snapshot:
    def __init__(self) -> None:
        self.assets: dict[str, AssetView] = {}
        self.edges: dict[tuple[str, str, str], FoldedEdge] = {}
        self.by_ip: dict[str, str] = {}
        self.findings: list[dict[str, Any]] = []

    def asset_list(self) -> list[dict[str, Any]]:
        return [self.assets[gid].record for gid in sorted(self.assets)]

    def inferred_zone(self, ip: str) -> dict[str, Any] | None:
        gid = self.by_ip.get(ip)
        view = self.assets.get(gid) if gid else None
        if view is None or view.level is None:
            return None
        return {"zone": view.zone, "level": view.level}

    def graph(self) -> nx.MultiDiGraph:
        g = nx.MultiDiGraph()
        for gid in sorted(self.assets):
            rec = self.assets[gid].record
            g.add_node(gid, **{k: rec[k] for k in NODE_ATTRS})
        for (client, server, protocol), edge in sorted(self.edges.items()):
            g.add_edge(client, server, key=protocol, **edge.attrs())
        return g

    def node_link(self) -> dict[str, Any]:
        """``nx.node_link_data(self.graph(), edges="edges")``, without the graph in between: nodes
        in the graph's order (sorted ids), edges in its order (sorted (client, server, protocol),
        the order they are added in, which the graph's adjacency walk gives back)."""
        nodes = []
        for gid in sorted(self.assets):
            rec = self.assets[gid].record
            node = {k: rec[k] for k in NODE_ATTRS}
            node["id"] = gid
            nodes.append(node)
        edges = []
        for (client, server, protocol), edge in sorted(self.edges.items()):
            attrs = edge.attrs()
            attrs["source"], attrs["target"], attrs["key"] = client, server, protocol
            edges.append(attrs)
        return {"directed": True, "multigraph": True, "graph": {}, "nodes": nodes, "edges": edges}


def build_snapshot(
    store: Store, site: Site | None, fingerprints: Fingerprints, advisories: AdvisoryStore | None
) -> Snapshot:
    from assetmap.exposure import find  # exposure reads snapshots

    snap = Snapshot()
    gids = _group_ids(store)
    members: dict[str, list[Unit]] = {}
    for unit in store.ordered_units():
        members.setdefault(gids[unit.key], []).append(unit)
    for gid, units in members.items():
        snap.assets[gid] = AssetView(gid, units)
        for unit in units:
            prior = snap.by_ip.get(unit.ip)
            if prior is None or snap.assets[prior].units[0].last_seen < unit.last_seen:
                snap.by_ip[unit.ip] = gid
    for edge in store.ordered_edges():
        client, server = gids[edge.client.key], gids[edge.server.key]
        folded = snap.edges.get((client, server, edge.protocol))
        if folded is None:
            folded = snap.edges[(client, server, edge.protocol)] = FoldedEdge(client, server, edge.protocol, edge)
            snap.assets[client].out_edges.append(folded)
            snap.assets[server].in_edges.append(folded)
        folded.add(edge)

    served = {gid: R.server_roles(v.in_edges) for gid, v in snap.assets.items()}

    def is_controller(gid: str) -> bool:
        return any(r in R.CONTROLLER_ROLES for r in served.get(gid, ()))

    for gid, view in snap.assets.items():
        identity, fingerprint = assign_roles(view, served[gid], is_controller, fingerprints)
        place(view, site)
        view.record = _record(view, identity, fingerprint)
        if advisories is not None:
            view.record["vulnerabilities"] = advisories.match(view.record)

    snap.findings = find(snap)
    by_asset: dict[str, list[dict[str, Any]]] = {}
    for finding in snap.findings:
        by_asset.setdefault(finding["asset"], []).append(
            {"id": finding["id"], "kind": finding["kind"], "severity": finding["severity"]}
        )
    for gid, view in snap.assets.items():
        view.record["exposure"] = by_asset.get(gid, [])
    return snap


def assign_roles(
    view: AssetView, served: R.Roles, is_controller: Callable[[str], bool], fingerprints: Fingerprints
) -> tuple[dict[str, Any], dict[str, Any] | None]:
    """Set ``view.roles`` from its server roles, its client edges and its fingerprint;
    returns the asset's identity and fingerprint."""
    identity = view.evidence.identity()
    fingerprint = fingerprints.apply(identity) if identity else None
    fp_roles: R.Roles = {}
    if fingerprint and fingerprint.get("device_type") in R.DEVICE_TYPE_ROLES:
        attr_ids = [i for attr in identity for i in view.evidence.ids(attr, identity[attr])][:5]
        fp_roles[fingerprint["device_type"]] = (fingerprint["confidence"], attr_ids)
    view.roles = R.merge(served, R.client_roles(view.out_edges, is_controller), fp_roles)
    return identity, fingerprint


def place(view: AssetView, site: Site | None) -> None:
    """Zone and level of an asset: the site's (or internet's) for its address, else its roles'."""
    info = zone_info(site, view.ip)
    if info is not None:
        view.zone, view.level = info["zone"], info["level"]
        view.level_source = "site" if site is not None and site.zone(view.ip) is not None else "public"
        return
    view.level = R.level(view.roles)
    view.level_source = "roles" if view.level is not None else None


def _first(identity: dict[str, Any], attrs: Iterable[str]) -> Any:
    for attr in attrs:
        value = identity.get(attr)
        if value is not None:
            return value
    return None


def _record(view: AssetView, identity: dict[str, Any], fingerprint: dict[str, Any] | None) -> dict[str, Any]:
    vendors = default_vendors()
    vendor = (fingerprint or {}).get("vendor") or vendors.canonical(identity.get("vendor")) or identity.get("oui_vendor")
    product = _first(identity, _PRODUCT_ATTRS) or (fingerprint or {}).get("family")
    protocols = sorted({p for u in view.units for p in u.protocols})
    services = sorted({
        f"{e.protocol}/{port}"
        for e in view.in_edges
        if e.responses and e.protocol not in TRANSPORT_DATASETS
        for port in e.ports
    })
    evidence = view.evidence.export()
    evidence["roles"] = [
        {"value": role, "confidence": round(conf, 3), "event_ids": list(ids)}
        for role, (conf, ids) in sorted(view.roles.items(), key=lambda kv: -kv[1][0])
    ]
    ips = []
    for unit in view.units:
        if unit.ip not in ips:
            ips.append(unit.ip)
    return {
        "id": view.id,
        "ip": view.ip,
        "ips": ips,
        "mac": view.id[4:] if view.id.startswith("mac:") else None,
        "roles": sorted(view.roles),
        "protocols": protocols,
        "services": services,
        "vendor": vendor,
        "product": product,
        "firmware": _first(identity, _FIRMWARE_ATTRS),
        "serial": identity.get("serial_number"),
        "name": _first(identity, _NAME_ATTRS),
        "first_seen": min(u.first_seen for u in view.units),
        "last_seen": max(u.last_seen for u in view.units),
        "zone": view.zone,
        "purdue_level": view.level,
        "level_source": view.level_source,
        "exposure": [],
        "identity": identity,
        "fingerprint": fingerprint,
        "evidence": evidence,
        "vulnerabilities": [],
    }
