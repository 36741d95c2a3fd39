"""``AssetMap``: the asset inventory and communication graph, fed one event at a time.

``observe(event)`` does the per-event work (cheap, bounded; ``ingest.py``): it finds the host
records of the sender and receiver, decides which is the flow's client and server, adds identity
claims with their event ids, and counts the operation on the (client, server, protocol) edge.
Everything else (assets from records, roles, Purdue levels, fingerprints, advisories, exposure
findings, the networkx graph) is computed when read (``assets()``, ``graph()``, ``findings()``)
and cached until the next event. ``zone_of(ip)``, asked per event by correlation, looks only at
the asset at that address and its peers (``levels.py``), never at the whole inventory.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import networkx as nx

from assetmap.advisories import AdvisoryStore
from assetmap.fingerprints import Fingerprints, default_fingerprints
from assetmap.ingest import SERVICE_PORTS, Ingest
from assetmap.levels import inferred_zone
from assetmap.oui import OuiTable, default_oui
from assetmap.site import Site, zone_info
from assetmap.snapshot import Snapshot, build_snapshot
from assetmap.store import Store

__all__ = ["SERVICE_PORTS", "AssetMap", "paused_gc"]


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


class AssetMap(Ingest):
    """Inventory, communication graph, zones and exposure from ICS protocol events.

    max_assets bounds the host records kept (least recently seen evicted first; ``stats``
    counts evictions); max_edges bounds the edges (default: twice max_assets). Per-record
    collections have caps of their own (``store.py``).
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
        super().__init__(Store(max_assets, max_edges if max_edges is not None else 2 * max_assets),
                         oui or default_oui())
        self.site = site
        self.advisories = advisories
        self.fingerprints = fingerprints or default_fingerprints()
        self._snapshot: Snapshot | None = None
        self._snapshot_at = -1  # ``events`` when the snapshot was built: valid until the next one

    # -- output -------------------------------------------------------------------------------
    def snapshot(self) -> Snapshot:
        if self._snapshot is None or self._snapshot_at != self.events:
            self._snapshot = None  # no two read-outs in memory at once
            with paused_gc():
                self._snapshot = build_snapshot(self.store, self.site, self.fingerprints, self.advisories)
            self._snapshot_at = self.events
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
        """The graph in networkx node-link form (``edges`` key): ``nx.node_link_data(self.graph(),
        edges="edges")``, made without the networkx graph in between."""
        snapshot = self.snapshot()
        with paused_gc():
            return snapshot.node_link()

    def zone_of(self, ip: str) -> dict[str, Any] | None:
        """{"zone": name, "level": float} from the site file (or internet for public addresses);
        else the Purdue level inferred from the roles of the asset at `ip` (zone None); else None.

        The answer is the one a snapshot taken now would give; without a current snapshot it
        is computed from the asset at `ip` and its peers only (``levels.py``).
        """
        info = zone_info(self.site, ip)
        if info is not None:
            return info
        if self._snapshot is not None and self._snapshot_at == self.events:
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
            **{f"capped_{name}": n for name, n in self.store.capped.items()},
        }
