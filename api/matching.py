"""Matching a published advisory against every enterprise inventory in its scope.

Products are given as names (``6ES7 315-2EH14-0AB0``, matched whole, case and spacing
insensitive) or as regular expressions; versions as ranges (``{lt: V3.2.12}``). The matching
itself is the asset map's (``assetmap.advisories.AdvisoryStore.match``: vendor aliases,
product strings from identity attributes such as the order number, firmware versions with
Siemens-style wildcards); this module turns an API advisory into its record format, walks the
store's assets and groups matches by enterprise.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from assetmap.advisories import AdvisoryStore
from icssa.store import AssetQuery, Store


class MatchError(ValueError):
    """The advisory's products or versions cannot be matched (bad pattern, bad version)."""


def name_pattern(name: str) -> str:
    """A regex matching the product name as a whole, ignoring case and spacing differences."""
    parts = [re.escape(p) for p in name.split()]
    return r"^\s*" + r"\s*".join(parts) + r"\s*$"


def matcher(ref: str, title: str, affected: Sequence[Mapping[str, Any]]) -> AdvisoryStore:
    entries = []
    for aff in affected:
        products = [name_pattern(p) for p in aff.get("products") or ()] + list(aff.get("product_patterns") or ())
        entry: dict[str, Any] = {"vendor": aff["vendor"], "products": products}
        if aff.get("versions"):
            entry["versions"] = [dict(v) for v in aff["versions"]]
        entries.append(entry)
    record = {"id": re.sub(r"[^A-Za-z0-9._:-]", "-", ref), "title": title or ref, "affected": entries}
    try:
        return AdvisoryStore.from_data([(ref, {"advisories": [record]})])
    except ValueError as exc:
        raise MatchError(str(exc)) from exc


def match_inventory(
    store: Store, adv: AdvisoryStore, orgs: list[str] | None, max_scan: int
) -> tuple[dict[str, list[dict[str, Any]]], int]:
    """(enterprise -> matched assets, assets scanned)."""
    found: dict[str, list[dict[str, Any]]] = {}
    scanned = 0
    cursor: str | None = None
    while scanned < max_scan:
        page = store.search_assets(AssetQuery(organizations=orgs), size=1000, cursor=cursor)
        scanned += len(page.items)
        for asset in page.items:
            hits = adv.match(asset)
            if not hits:
                continue
            org = asset.get("organization")
            oid = org.get("id") if isinstance(org, Mapping) else asset.get("organization.id")
            hit = hits[0]
            found.setdefault(str(oid), []).append({
                "asset": f"{oid}/{asset.get('id')}", "ip": asset.get("ip"), "name": asset.get("name"),
                "vendor": asset.get("vendor"), "product": asset.get("product"), "firmware": asset.get("firmware"),
                "status": hit["status"], "matched": hit["matched"],
            })
        cursor = page.cursor
        if cursor is None:
            break
    return found, scanned
