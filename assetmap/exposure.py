"""Exposure findings from a snapshot, each with the events that show it.

| kind | when | severity |
|---|---|---|
| controller_untrusted_peer | a controller (plc, opcua_server) talks with an asset at level >= 4 (enterprise or internet by the site file, or a public address) | high; critical when the peer writes or controls |
| change_from_outside_levels_2_3 | a host whose level is known and outside 2-3 writes to or controls a controller | high; critical for control operations |
| untrusted_path_to_controller | a chain of client-to-server connections (2 hops or more) leads from a level >= 4 asset to a controller | high |
| opcua_security_none | an OPC UA server offers an endpoint with security mode None | medium |
| opcua_anonymous_access | an OPC UA server offers the anonymous user token, or a session is activated with one | medium |
| s7_no_protection | an S7 CPU reports protection level 1 (no protection) in SZL 0x0232 | high |

Hosts with no known level (no site zone, no role) never trigger the level-based kinds. Path
search stops at ``MAX_HOPS`` hops and ``MAX_PATH_FINDINGS`` findings.
"""

from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING, Any

import networkx as nx

from assetmap.roles import CONTROLLER_ROLES
from assetmap.site import UNTRUSTED_LEVEL

if TYPE_CHECKING:
    from assetmap.snapshot import AssetView, FoldedEdge, Snapshot

MAX_HOPS = 6
MAX_PATH_FINDINGS = 1000
MAX_EVIDENCE = 10


def _finding(kind: str, severity: str, view: AssetView, description: str, evidence: list[str],
             discriminator: str = "", **extra: Any) -> dict[str, Any]:
    digest = hashlib.blake2b(f"{kind}|{view.id}|{discriminator}".encode(), digest_size=8).hexdigest()
    ids: list[str] = []
    for eid in evidence:
        if eid not in ids and len(ids) < MAX_EVIDENCE:
            ids.append(eid)
    return {
        "id": f"{kind}:{digest}",
        "kind": kind,
        "severity": severity,
        "asset": view.id,
        "ip": view.ip,
        "description": description,
        "evidence": ids,
        **extra,
    }


def _where(view: AssetView) -> str:
    zone = f"zone {view.zone}" if view.zone else "no zone"
    return f"{view.ip} ({zone}, level {view.level:g})" if view.level is not None else f"{view.ip} ({zone})"


def _untrusted_peers(snap: Snapshot, controllers: set[str], untrusted: set[str]) -> list[dict[str, Any]]:
    pairs: dict[tuple[str, str], list[FoldedEdge]] = {}
    for edge in snap.edges.values():
        for ctrl, peer in ((edge.server, edge.client), (edge.client, edge.server)):
            if ctrl != peer and ctrl in controllers and peer in untrusted:
                pairs.setdefault((ctrl, peer), []).append(edge)
    out = []
    for (ctrl, peer), edges in sorted(pairs.items()):
        view, other = snap.assets[ctrl], snap.assets[peer]
        changes = any(e.client == peer and (e.writes or e.control) for e in edges)
        protocols = sorted({e.protocol for e in edges})
        inbound = any(e.client == peer for e in edges)
        evidence = [i for e in edges for i in e.change_ids] + [i for e in edges for i in e.event_ids]
        out.append(_finding(
            "controller_untrusted_peer", "critical" if changes else "high", view,
            f"controller {view.ip} ({', '.join(sorted(view.roles))}) talks {'/'.join(protocols)} with "
            f"{_where(other)}, {'which connects to it' if inbound else 'to which it connects'}",
            evidence, peer, peer=other.ip, peer_zone=other.zone, peer_level=other.level, protocols=protocols,
            direction="inbound" if inbound else "outbound",
        ))
    return out


def _outside_changes(snap: Snapshot, controllers: set[str]) -> list[dict[str, Any]]:
    out = []
    for (client, server, protocol), edge in sorted(snap.edges.items()):
        if client == server or server not in controllers or not (edge.writes or edge.control):
            continue
        peer = snap.assets[client]
        if peer.level is None or 2.0 <= peer.level <= 3.0:
            continue
        view = snap.assets[server]
        what = f"{edge.control} control operation(s) ({', '.join(sorted(edge.control_ops))})" if edge.control else ""
        what = " and ".join(x for x in (f"{edge.writes} write(s)" if edge.writes else "", what) if x)
        out.append(_finding(
            "change_from_outside_levels_2_3", "critical" if edge.control else "high", view,
            f"{_where(peer)} sent {what} over {protocol} to controller {view.ip}; "
            "changes should come from levels 2-3",
            edge.change_ids, f"{client}|{protocol}", peer=peer.ip, peer_level=peer.level, protocol=protocol,
        ))
    return out


def _paths(snap: Snapshot, controllers: set[str], untrusted: set[str]) -> list[dict[str, Any]]:
    if not untrusted or not controllers:
        return []
    g = nx.DiGraph()
    for (client, server, _), edge in snap.edges.items():
        if client != server and not g.has_edge(client, server):
            g.add_edge(client, server, first=edge.event_ids[:1])
    out: list[dict[str, Any]] = []
    for source in sorted(untrusted):
        if source not in g:
            continue
        paths = nx.single_source_shortest_path(g, source, cutoff=MAX_HOPS)
        for target in sorted(controllers & paths.keys()):
            path = paths[target]
            if len(path) < 3 or target in untrusted:
                continue
            view = snap.assets[target]
            hops = [snap.assets[n].ip for n in path]
            evidence = [i for a, b in zip(path, path[1:], strict=False) for i in g.edges[a, b]["first"]]
            out.append(_finding(
                "untrusted_path_to_controller", "high", view,
                f"{_where(snap.assets[source])} reaches controller {view.ip} in {len(path) - 1} hops: "
                + " -> ".join(hops),
                evidence, source, path=hops, source=snap.assets[source].ip,
            ))
            if len(out) >= MAX_PATH_FINDINGS:
                return out
    return out


def _configuration(snap: Snapshot) -> list[dict[str, Any]]:
    out = []
    for gid in sorted(snap.assets):
        view = snap.assets[gid]
        ev = view.evidence
        modes = ev.values("opcua_security_mode")
        if "None" in modes:
            urls = sorted(str(u) for u in ev.values("opcua_endpoint_url"))
            out.append(_finding(
                "opcua_security_none", "medium", view,
                f"OPC UA server {view.ip} offers an endpoint with security mode None"
                + (f" ({', '.join(urls[:3])})" if urls else ""),
                ev.ids("opcua_security_mode", "None"),
            ))
        offered = "anonymous" in ev.values("opcua_user_token")
        used = "anonymous" in ev.values("opcua_session_token")
        if offered or used:
            how = " and ".join(x for x in ("offers anonymous logon" if offered else "",
                                            "accepted anonymous session activation" if used else "") if x)
            out.append(_finding(
                "opcua_anonymous_access", "medium", view, f"OPC UA server {view.ip} {how}",
                ev.ids("opcua_user_token", "anonymous") + ev.ids("opcua_session_token", "anonymous"),
            ))
        for value in ev.values("protection_level"):
            if str(value).strip() == "1":
                out.append(_finding(
                    "s7_no_protection", "high", view,
                    f"S7 CPU {view.ip} reports protection level 1 (no protection): anyone who reaches "
                    "port 102 can read, write, download and stop it",
                    ev.ids("protection_level", value),
                ))
    return out


def find(snap: Snapshot) -> list[dict[str, Any]]:
    controllers = {gid for gid, v in snap.assets.items() if CONTROLLER_ROLES & v.roles.keys()}
    untrusted = {gid for gid, v in snap.assets.items() if v.level is not None and v.level >= UNTRUSTED_LEVEL}
    findings = (
        _untrusted_peers(snap, controllers, untrusted)
        + _outside_changes(snap, controllers)
        + _paths(snap, controllers, untrusted)
        + _configuration(snap)
    )
    return sorted(findings, key=lambda f: (f["asset"], f["kind"], f["id"]))
