"""The asset map's configuration for the native core (``native/crates/assetmap``).

What an ``AssetMap`` is built from (the site file, the advisories, the fingerprint, vendor and
OUI tables, the caps) is read and validated here in Python; ``config_of(amap)`` turns a new
``AssetMap`` into the JSON-ready document ``icssa_assetmap::AssetMap::from_config`` reads, so
both maps start from the same data.
"""

from __future__ import annotations

import re
from typing import Any

import orjson

from assetmap.advisories import AdvisoryStore
from assetmap.inventory import AssetMap
from assetmap.site import Site
from assetmap.snapshot import default_vendors
from assetmap.vendors import Vendors


def _pattern(p: re.Pattern[str]) -> str:
    """The pattern's text: fingerprint and advisory patterns are compiled with re.IGNORECASE,
    vendor aliases without flags, in Python and in the native map alike (inline flags are part
    of the text)."""
    return p.pattern


def _site(site: Site | None) -> dict[str, Any] | None:
    if site is None:
        return None
    index = {id(z): i for i, z in enumerate(site.zones)}
    return {
        "name": site.name,
        "zones": [{"name": z.name, "level": float(z.level)} for z in site.zones],
        "nets4": [[f"{mask:x}", f"{net:x}", index[id(zone)]] for mask, net, zone in site._nets4],
        "nets6": [[f"{mask:x}", f"{net:x}", index[id(zone)]] for mask, net, zone in site._nets6],
    }


def _plain(value: Any) -> Any:
    """The value as its JSON text reads back (what orjson writes of it)."""
    return orjson.loads(orjson.dumps(value))


def _advisories(store: AdvisoryStore | None) -> list[dict[str, Any]] | None:
    if store is None:
        return None
    return [
        {
            "id": adv.id,
            "record": _plain(dict(adv.record)),
            "affected": [
                {
                    "vendor": aff.vendor,
                    "vendor_key": aff.vendor_key,
                    "products": [_pattern(p) for p in aff.products],
                    "versions": [{op: str(bound) for op, bound in rng.items()} for rng in aff.ranges],
                }
                for aff in adv.affected
            ],
        }
        for adv in store.advisories
    ]


def _vendors(vendors: Vendors) -> list[list[str]]:
    return [[_pattern(p), canonical] for p, canonical in vendors._patterns]


def config_of(amap: AssetMap) -> dict[str, Any]:
    """The configuration document of `amap` (as made, before any event)."""
    vendors = default_vendors()
    used = [amap.fingerprints.vendors] + ([amap.advisories.vendors] if amap.advisories is not None else [])
    if any(v is not vendors for v in used):
        raise ValueError("the native map has one vendor table: fingerprints and advisories must use the default one")
    return {
        "max_assets": amap.store.max_units,
        "max_edges": amap.store.max_edges,
        "site": _site(amap.site),
        "advisories": _advisories(amap.advisories),
        "fingerprints": [
            {
                "id": fp.id,
                "match": {attr: _pattern(p) for attr, p in fp.match},
                "result": dict(fp.result),
                "confidence": float(fp.confidence),
            }
            for fp in amap.fingerprints.items
        ],
        "vendors": _vendors(vendors),
        "oui": {prefix: vendor for prefix, (vendor, _) in amap.oui._rows.items()},
    }
