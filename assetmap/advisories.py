"""The local advisory store: published vulnerabilities matched against the inventory.

Advisory files are YAML validated by ``data/advisory.schema.json``::

    advisories:
      - id: SSA-818183                       # the publisher's id
        title: ...
        cve: [CVE-2016-3949]
        cnvd: []                             # CNVD ids where the publisher gave them
        aliases: [ICSA-16-161-01]
        cvss: {version: "3.0", score: 7.5, vector: "CVSS:3.0/AV:N/..."}
        severity: high
        remediation: Update to V3.2.12 or later
        references: [https://...]
        affected:
          - vendor: Siemens                  # compared through vendor aliases
            products: ['^CPU\\s*31\\d.*PN']  # regexes searched in the asset's product strings
            versions:                        # any range; a range needs all its bounds
              - {lt: V3.2.12}                # bounds: eq ge gt le lt; X wildcards allowed
                                             # no versions: every version is affected

Product strings are the asset's product, product family and the identity attributes that name a
product (order number, module type, product code, application URI, ...). A match is
``affected`` when the asset's firmware falls in a range (or the entry covers all versions) and
``possible`` when the entry has ranges but the asset's version is unknown.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

import jsonschema
import yaml

from assetmap import versions
from assetmap.vendors import Vendors, default_vendors

#: identity attributes that name a product (searched by advisory product patterns)
PRODUCT_ATTRIBUTES = (
    "product_name", "model_name", "product_code", "module_type_name", "module_name", "order_number",
    "application_name", "application_uri", "product_uri",
)
#: identity attributes that carry the running version, in order of preference
VERSION_ATTRIBUTES = ("firmware_version", "revision")


@dataclass(frozen=True)
class Affected:
    vendor_key: str
    vendor: str
    products: tuple[re.Pattern[str], ...]
    ranges: tuple[Mapping[str, str], ...]


@dataclass(frozen=True)
class Advisory:
    id: str
    record: Mapping[str, Any]  # the advisory as written, less `affected`
    affected: tuple[Affected, ...]


@lru_cache(maxsize=1)
def _schema() -> dict[str, Any]:
    text = resources.files("assetmap").joinpath("data/advisory.schema.json").read_text(encoding="utf-8")
    return json.loads(text)


def _files(paths: Iterable[str | Path]) -> list[Path]:
    out: list[Path] = []
    for path in paths:
        p = Path(path)
        if p.is_dir():
            out.extend(sorted(q for q in p.iterdir() if q.suffix in (".yaml", ".yml")))
        else:
            out.append(p)
    return out


def product_strings(asset: Mapping[str, Any]) -> list[str]:
    identity = asset.get("identity") or {}
    fingerprint = asset.get("fingerprint") or {}
    values = [asset.get("product"), fingerprint.get("family")]
    values += [identity.get(attr) for attr in PRODUCT_ATTRIBUTES]
    return [str(v) for v in values if v not in (None, "")]


def asset_version(asset: Mapping[str, Any]) -> versions.Version | None:
    identity = asset.get("identity") or {}
    for value in (asset.get("firmware"), *(identity.get(a) for a in VERSION_ATTRIBUTES)):
        parsed = versions.parse(value) if value not in (None, "") else None
        if parsed is not None:
            return parsed
    return None


class AdvisoryStore:
    def __init__(self, advisories: Iterable[Advisory], vendors: Vendors | None = None) -> None:
        self.vendors = vendors or default_vendors()
        self.advisories = list(advisories)
        self._by_vendor: dict[str, list[tuple[Advisory, Affected]]] = {}
        for adv in self.advisories:
            for aff in adv.affected:
                self._by_vendor.setdefault(aff.vendor_key, []).append((adv, aff))

    def __len__(self) -> int:
        return len(self.advisories)

    @classmethod
    def from_data(cls, docs: Iterable[tuple[str, Any]], vendors: Vendors | None = None) -> AdvisoryStore:
        """Advisories from (source name, parsed YAML) pairs; ValueError names source and place."""
        vendors = vendors or default_vendors()
        schema = _schema()
        found: list[Advisory] = []
        seen: dict[str, str] = {}
        for source, data in docs:
            try:
                jsonschema.validate(data, schema, format_checker=jsonschema.FormatChecker())
            except jsonschema.ValidationError as exc:
                where = "/".join(str(x) for x in exc.absolute_path) or "(top)"
                raise ValueError(f"{source}: {where}: {exc.message}") from exc
            for item in data["advisories"]:
                if item["id"] in seen:
                    raise ValueError(f"{source}: advisory {item['id']} already defined in {seen[item['id']]}")
                seen[item["id"]] = source
                affected = []
                for aff in item["affected"]:
                    for rng in aff.get("versions", []):
                        for bound in rng.values():
                            if versions.parse(bound, wildcards=True) is None:
                                raise ValueError(f"{source}: advisory {item['id']}: bad version {bound!r}")
                    key = vendors.key(aff["vendor"])
                    assert key is not None  # the schema requires a non-empty vendor
                    affected.append(
                        Affected(
                            vendor_key=key,
                            vendor=aff["vendor"],
                            products=tuple(re.compile(p, re.IGNORECASE) for p in aff["products"]),
                            ranges=tuple(dict(r) for r in aff.get("versions", [])),
                        )
                    )
                record = {k: v for k, v in item.items() if k != "affected"}
                found.append(Advisory(item["id"], record, tuple(affected)))
        return cls(found, vendors)

    @classmethod
    def load(cls, paths: Iterable[str | Path] | str | Path, vendors: Vendors | None = None) -> AdvisoryStore:
        """Advisories from YAML files or folders of them."""
        if isinstance(paths, str | Path):
            paths = [paths]
        docs = []
        for p in _files(paths):
            try:
                docs.append((str(p), yaml.safe_load(p.read_text(encoding="utf-8"))))
            except (OSError, yaml.YAMLError) as exc:
                raise ValueError(f"{p}: cannot read advisories: {exc}") from exc
        return cls.from_data(docs, vendors)

    @classmethod
    def bundled(cls) -> AdvisoryStore:
        """The curated advisories shipped in ``assetmap/data/advisories``."""
        folder = resources.files("assetmap").joinpath("data/advisories")
        docs = [
            (f"assetmap/data/advisories/{f.name}", yaml.safe_load(f.read_text(encoding="utf-8")))
            for f in sorted(folder.iterdir(), key=lambda f: f.name)
            if f.name.endswith((".yaml", ".yml"))
        ]
        return cls.from_data(docs)

    def _asset_vendor_keys(self, asset: Mapping[str, Any]) -> set[str]:
        identity = asset.get("identity") or {}
        fingerprint = asset.get("fingerprint") or {}
        names = (asset.get("vendor"), identity.get("vendor"), fingerprint.get("vendor"), identity.get("oui_vendor"))
        return {k for k in (self.vendors.key(n) for n in names) if k}

    def match(self, asset: Mapping[str, Any]) -> list[dict[str, Any]]:
        """Advisories that apply to `asset` (an ``AssetMap.assets()`` item), most severe first."""
        keys = self._asset_vendor_keys(asset)
        if not keys:
            return []
        products = product_strings(asset)
        version = asset_version(asset)
        results: dict[str, dict[str, Any]] = {}
        for key in sorted(keys):
            for adv, aff in self._by_vendor.get(key, ()):
                product = next((s for s in products if any(p.search(s) for p in aff.products)), None)
                if product is None:
                    continue
                status, rng = _version_status(aff, version)
                if status is None:
                    continue
                prior = results.get(adv.id)
                if prior is not None and prior["status"] == "affected":
                    continue
                results[adv.id] = {
                    **adv.record,
                    "status": status,
                    "matched": {
                        "vendor": aff.vendor,
                        "product": product,
                        "version": version.raw if version else None,
                        "range": rng,
                    },
                }
        return sorted(results.values(), key=_severity_order)


def _version_status(aff: Affected, version: versions.Version | None) -> tuple[str | None, Any]:
    if not aff.ranges:
        return "affected", None
    if version is None:
        return "possible", None
    for rng in aff.ranges:
        if versions.in_range(version, rng):
            return "affected", dict(rng)
    return None, None


def _severity_order(result: Mapping[str, Any]) -> tuple[int, float, str]:
    cvss = result.get("cvss") or {}
    score = cvss.get("score") if isinstance(cvss, Mapping) else None
    return (0 if result["status"] == "affected" else 1, -(score or 0.0), str(result["id"]))
