"""Fingerprints: data that turns reported identity strings into vendor, product family and device type.

A fingerprint file is YAML validated by ``data/fingerprint.schema.json``::

    fingerprints:
      - id: siemens-s7-300-order-number
        description: S7-300 CPUs have order numbers 6ES7 31x-...
        match:                                 # every condition must hold
          order_number: '^6ES7\\s?31[2-9]'      # identity attribute -> regex (re.search, no case)
        result: {vendor: Siemens, family: SIMATIC S7-300, device_type: plc}
        confidence: 0.95

Identity attributes are those of ``identity.py`` (``vendor``, ``product_code``, ``order_number``,
``application_uri``, ...; ``oui_vendor`` from the MAC). New devices need a new entry, not code.
When several fingerprints match, each result field comes from the most confident one.
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

from assetmap.vendors import Vendors, default_vendors


@dataclass(frozen=True)
class Fingerprint:
    id: str
    description: str
    match: tuple[tuple[str, re.Pattern[str]], ...]
    result: Mapping[str, str]
    confidence: float

    def matches(self, identity: Mapping[str, Any]) -> bool:
        for attr, pattern in self.match:
            value = identity.get(attr)
            if value is None or not pattern.search(str(value)):
                return False
        return True


@lru_cache(maxsize=1)
def _schema() -> dict[str, Any]:
    text = resources.files("assetmap").joinpath("data/fingerprint.schema.json").read_text(encoding="utf-8")
    return json.loads(text)


def validate(data: Any, source: str = "fingerprints") -> None:
    """Raise ValueError naming `source` and the place when `data` breaks the schema."""
    try:
        jsonschema.validate(data, _schema(), format_checker=jsonschema.FormatChecker())
    except jsonschema.ValidationError as exc:
        where = "/".join(str(x) for x in exc.absolute_path) or "(top)"
        raise ValueError(f"{source}: {where}: {exc.message}") from exc
    seen: set[str] = set()
    for fp in data["fingerprints"]:
        if fp["id"] in seen:
            raise ValueError(f"{source}: duplicate fingerprint id {fp['id']!r}")
        seen.add(fp["id"])


class Fingerprints:
    def __init__(self, fingerprints: Iterable[Fingerprint], vendors: Vendors | None = None) -> None:
        self.items = list(fingerprints)
        self.vendors = vendors or default_vendors()

    @classmethod
    def from_data(cls, data: Any, source: str = "fingerprints", vendors: Vendors | None = None) -> Fingerprints:
        validate(data, source)
        items = [
            Fingerprint(
                id=fp["id"],
                description=fp.get("description", ""),
                match=tuple((attr, re.compile(rx, re.IGNORECASE)) for attr, rx in fp["match"].items()),
                result=dict(fp["result"]),
                confidence=float(fp.get("confidence", 0.8)),
            )
            for fp in data["fingerprints"]
        ]
        return cls(items, vendors)

    @classmethod
    def load(cls, paths: Iterable[str | Path] | None = None, vendors: Vendors | None = None) -> Fingerprints:
        """The bundled fingerprints, or those of the given YAML files (all of them, in order)."""
        if paths is None:
            text = resources.files("assetmap").joinpath("data/fingerprints.yaml").read_text(encoding="utf-8")
            return cls.from_data(yaml.safe_load(text), "assetmap/data/fingerprints.yaml", vendors)
        items: list[Fingerprint] = []
        for path in paths:
            p = Path(path)
            try:
                data = yaml.safe_load(p.read_text(encoding="utf-8"))
            except (OSError, yaml.YAMLError) as exc:
                raise ValueError(f"{p}: cannot read fingerprints: {exc}") from exc
            items.extend(cls.from_data(data, str(p), vendors).items)
        return cls(items, vendors)

    def apply(self, identity: Mapping[str, Any]) -> dict[str, Any] | None:
        """{vendor, family, device_type, confidence, ids} of the matching fingerprints, or None."""
        hits = sorted((fp for fp in self.items if fp.matches(identity)), key=lambda fp: -fp.confidence)
        if not hits:
            return None
        out: dict[str, Any] = {"ids": [fp.id for fp in hits], "confidence": hits[0].confidence}
        for field in ("vendor", "family", "device_type"):
            for fp in hits:
                value = fp.result.get(field)
                if value:
                    out[field] = self.vendors.canonical(value) if field == "vendor" else value
                    break
        return out


@lru_cache(maxsize=1)
def default_fingerprints() -> Fingerprints:
    return Fingerprints.load()
