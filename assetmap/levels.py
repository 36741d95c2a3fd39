"""The inferred zone of one address, computed from the records around it (no snapshot).

``inferred_zone(store, site, fingerprints, ip)`` answers what ``build_snapshot(...).inferred_zone(ip)``
would answer now, at a cost that depends on the asset at ``ip`` and its peers, not on the
size of the inventory: it finds the asset the snapshot would put at the address
(``grouping``), folds only that asset's edges, and runs the snapshot's own role and placement
code on it (``snapshot.assign_roles``, ``snapshot.place``). Whether a peer is a controller
comes from ``Unit.served`` instead of folding the peer's edges.
"""

from __future__ import annotations

from typing import Any

from assetmap import roles as R
from assetmap.fingerprints import Fingerprints
from assetmap.grouping import Grouper
from assetmap.site import Site, zone_info
from assetmap.snapshot import AssetView, FoldedEdge, assign_roles, place
from assetmap.store import Edge, Store, Unit


def asset_at(grouper: Grouper, ip: str) -> str | None:
    """The asset id the snapshot maps `ip` to (``Snapshot.by_ip``), or None."""
    units = grouper.store.by_ip.get(ip)
    if not units:
        return None
    if len(units) == 1:
        return grouper.gid(units[0])
    # the snapshot walks assets in the order their first record is held, each asset's records
    # in the store's order, and keeps the asset whose latest record is older than this one's
    gids = [grouper.gid(u) for u in units]
    first = {gid: grouper.members(gid)[0].seq for gid in gids}
    latest = {gid: max(u.last_seen for u in grouper.members(gid)) for gid in gids}
    prior: str | None = None
    for _, _, gid, unit in sorted((first[g], u.seq, g, u) for g, u in zip(gids, units, strict=True)):
        if prior is None or latest[prior] < unit.last_seen:
            prior = gid
    return prior


def _fold(gid: str, members: list[Unit], grouper: Grouper, view: AssetView) -> None:
    """The asset's edges, folded by (peer asset, protocol) into ``view.in_edges`` / ``out_edges``."""
    mine = set(members)
    raw: dict[Edge, None] = {}
    for unit in members:
        for edge in unit.edges:
            raw[edge] = None
    folded: dict[tuple[str, str, str], FoldedEdge] = {}
    for edge in raw:
        client = gid if edge.client in mine else grouper.gid(edge.client)
        server = gid if edge.server in mine else grouper.gid(edge.server)
        key = (client, server, edge.protocol)
        f = folded.get(key)
        if f is None:
            f = folded[key] = FoldedEdge(client, server, edge.protocol, edge)
            if client == gid:
                view.out_edges.append(f)
            if server == gid:
                view.in_edges.append(f)
        f.add(edge)


def inferred_zone(store: Store, site: Site | None, fingerprints: Fingerprints, ip: str) -> dict[str, Any] | None:
    """{"zone": name or None, "level": float} of the asset at `ip`, or None (see module docstring)."""
    grouper = Grouper(store)
    gid = asset_at(grouper, ip)
    if gid is None:
        return None
    members = grouper.members(gid)
    view = AssetView(gid, members)
    info = zone_info(site, view.ip)
    if info is None:
        _fold(gid, members, grouper, view)
        served = R.server_roles(view.in_edges)

        def is_controller(peer: str) -> bool:
            if peer == gid:
                return any(r in R.CONTROLLER_ROLES for r in served)
            return grouper.is_served(peer)

        assign_roles(view, served, is_controller, fingerprints)
    place(view, site)
    if view.level is None:
        return None
    return {"zone": view.zone, "level": view.level}
