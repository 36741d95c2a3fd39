"""MAC address -> NIC vendor, from a bundled subset of IEEE OUI (MA-L) assignments.

``data/oui.csv`` lists industrial-automation vendors only (facts from the IEEE registry); a MAC
whose first three octets are not in it has no OUI vendor. Locally administered and group
(multicast/broadcast) addresses never have one, and the all-zero MAC is no address at all.
"""

from __future__ import annotations

import csv
from functools import lru_cache
from importlib import resources
from pathlib import Path


def normalize_mac(mac: object) -> str | None:
    """``00-1B-1B-aa-bb-cc`` / ``001b.1baa.bbcc`` -> ``00:1b:1b:aa:bb:cc``; None when not a MAC."""
    if not isinstance(mac, str):
        return None
    hexdigits = "".join(c for c in mac.lower() if c in "0123456789abcdef")
    if len(hexdigits) != 12 or len(mac) > 17:
        return None
    return ":".join(hexdigits[i : i + 2] for i in range(0, 12, 2))


def is_host_mac(mac: str) -> bool:
    """A unicast, non-zero MAC that can name one interface (not broadcast, multicast or 00:..:00)."""
    first = int(mac[:2], 16)
    return not (first & 1) and mac != "00:00:00:00:00:00"


class OuiTable:
    """Prefix ``AA:BB:CC`` -> (canonical vendor, registrant)."""

    def __init__(self, rows: dict[str, tuple[str, str]]) -> None:
        self._rows = rows

    @classmethod
    def load(cls, path: Path | None = None) -> OuiTable:
        if path is None:
            text = resources.files("assetmap").joinpath("data/oui.csv").read_text(encoding="utf-8")
        else:
            text = Path(path).read_text(encoding="utf-8")
        lines = [line for line in text.splitlines() if line and not line.startswith("#")]
        rows: dict[str, tuple[str, str]] = {}
        for rec in csv.DictReader(lines):
            prefix = rec["prefix"].strip().lower()
            rows[prefix] = (rec["vendor"].strip(), rec["registrant"].strip())
        return cls(rows)

    def __len__(self) -> int:
        return len(self._rows)

    def lookup(self, mac: str) -> tuple[str, str] | None:
        """(vendor, registrant) for a normalised MAC, or None."""
        if not is_host_mac(mac) or int(mac[:2], 16) & 2:  # locally administered: no OUI
            return None
        return self._rows.get(mac[:8])

    def vendor(self, mac: str) -> str | None:
        hit = self.lookup(mac)
        return hit[0] if hit else None


@lru_cache(maxsize=1)
def default_oui() -> OuiTable:
    return OuiTable.load()
