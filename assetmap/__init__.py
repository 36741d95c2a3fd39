"""Asset map: inventory, identity, roles, communication graph, zones and exposure.

Fed by protocol events (``AssetMap.observe``); read out as assets, a networkx graph, exposure
findings and matched advisories. Layers, one module each:

- ``ingest``: the per-event work (``AssetMap.observe``), with ``links`` (what is remembered per
  flow so that its next message costs little); ``store``: bounded host records and edges, with
  their caps, and ``lru`` (which record or edge to evict); ``reader``: fast field, time and MAC
  reading; ``identity``: claims read from events; ``ops``: read / write / control
  classification; ``evidence``: values with confidence and ids;
- ``snapshot``: records folded into assets (``grouping``), ``roles`` and Purdue levels,
  ``exposure`` findings; ``levels``: the inferred zone of one address without a snapshot;
- data: ``site`` (CIDR zones), ``fingerprints``, ``advisories`` and ``versions``, ``vendors``, ``oui``.
"""

from assetmap.advisories import AdvisoryStore
from assetmap.inventory import AssetMap
from assetmap.site import Site

__all__ = ["AdvisoryStore", "AssetMap", "Site"]
