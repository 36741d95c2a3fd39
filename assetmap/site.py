"""The site file: which address ranges form which named zone at which Purdue level.

YAML, validated by ``data/site.schema.json``::

    name: plant-a                      # optional
    zones:
      - name: internet                 # any name; level decides what is trusted
        level: 5
        cidrs: [0.0.0.0/0]
      - name: enterprise
        level: 4
        cidrs: [10.1.0.0/16]
      - name: dmz
        level: 3.5
        cidrs: [10.2.0.0/24]
      - name: control
        level: 1
        cidrs: [192.168.10.0/24, "fd00:10::/64"]

An address belongs to the zone of its longest matching CIDR. Purdue levels: 0-1 field devices
and controllers, 2 supervisory (HMI, SCADA), 3 operations, 3.5 DMZ, 4-5 enterprise and internet.
Without a site file nothing is zoned, except that globally routable addresses count as internet.
"""

from __future__ import annotations

import ipaddress
import json
import socket
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

import jsonschema
import yaml

INTERNET = {"zone": "internet", "level": 5.0}
#: levels at or above this are enterprise or internet: untrusted as seen from the control network
UNTRUSTED_LEVEL = 4.0


@dataclass(frozen=True)
class Zone:
    name: str
    level: float


@lru_cache(maxsize=65536)
def _address(ip: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(ip)
    except ValueError:
        return None


# IPv4 ranges that are not globally routable unicast (IANA special-purpose registry, multicast,
# reserved): (mask, network) as integers, for a fast check without ipaddress objects
_NOT_GLOBAL_V4 = [
    (((1 << n) - 1) << (32 - n), int(ipaddress.IPv4Address(net)))
    for net, n in (
        ("0.0.0.0", 8), ("10.0.0.0", 8), ("100.64.0.0", 10), ("127.0.0.0", 8), ("169.254.0.0", 16),
        ("172.16.0.0", 12), ("192.0.0.0", 24), ("192.0.2.0", 24), ("192.168.0.0", 16), ("198.18.0.0", 15),
        ("198.51.100.0", 24), ("203.0.113.0", 24), ("224.0.0.0", 4), ("240.0.0.0", 4),
    )
]
# 192.0.0.9 and 192.0.0.10 (PCP anycast, TURN anycast) are global inside 192.0.0.0/24
_GLOBAL_EXCEPTIONS_V4 = frozenset({0xC0000009, 0xC000000A})


def _v4(ip: str) -> int | None:
    try:
        return int.from_bytes(socket.inet_pton(socket.AF_INET, ip), "big")
    except (OSError, ValueError, TypeError):
        return None


def is_public(ip: str) -> bool:
    """A globally routable unicast address (not private, loopback, link-local, multicast, ...)."""
    value = _v4(ip)
    if value is not None:
        if value in _GLOBAL_EXCEPTIONS_V4:
            return True
        return not any(value & mask == net for mask, net in _NOT_GLOBAL_V4)
    addr = _address(ip)
    if addr is None:
        return False
    if isinstance(addr, ipaddress.IPv6Address) and addr.ipv4_mapped is not None:
        addr = addr.ipv4_mapped
    return addr.is_global and not addr.is_multicast


@lru_cache(maxsize=1)
def _schema() -> dict[str, Any]:
    return json.loads(resources.files("assetmap").joinpath("data/site.schema.json").read_text(encoding="utf-8"))


class Site:
    """Zones by CIDR with longest-prefix lookup (cached per address)."""

    def __init__(self, zones: list[tuple[str, float, list[str]]], name: str = "") -> None:
        self.name = name
        self.zones = [Zone(n, float(lv)) for n, lv, _ in zones]
        nets: list[tuple[int, int, int, Zone]] = []  # (prefixlen, version, network int, zone)
        self._nets4: list[tuple[int, int, Zone]] = []
        self._nets6: list[tuple[int, int, Zone]] = []
        for (_, _, cidrs), zone in zip(zones, self.zones, strict=True):
            for cidr in cidrs:
                net = ipaddress.ip_network(cidr, strict=False)
                nets.append((net.prefixlen, net.version, int(net.network_address), zone))
        nets.sort(key=lambda t: -t[0])
        for plen, version, addr, zone in nets:
            bits = 32 if version == 4 else 128
            mask = ((1 << plen) - 1) << (bits - plen) if plen else 0
            (self._nets4 if version == 4 else self._nets6).append((mask, addr, zone))
        self._cache: dict[str, Zone | None] = {}

    @classmethod
    def load(cls, path: str | Path) -> Site:
        """Read and validate a site file; ValueError names the file and the problem."""
        p = Path(path)
        try:
            data = yaml.safe_load(p.read_text(encoding="utf-8"))
        except (OSError, yaml.YAMLError) as exc:
            raise ValueError(f"{p}: cannot read site file: {exc}") from exc
        return cls.from_dict(data, source=str(p))

    @classmethod
    def from_dict(cls, data: Any, source: str = "site") -> Site:
        try:
            jsonschema.validate(data, _schema())
        except jsonschema.ValidationError as exc:
            where = "/".join(str(x) for x in exc.absolute_path) or "(top)"
            raise ValueError(f"{source}: {where}: {exc.message}") from exc
        zones = []
        for z in data["zones"]:
            for cidr in z["cidrs"]:
                try:
                    ipaddress.ip_network(cidr, strict=False)
                except ValueError as exc:
                    raise ValueError(f"{source}: zone {z['name']}: bad CIDR {cidr!r}") from exc
            zones.append((z["name"], float(z["level"]), list(z["cidrs"])))
        return cls(zones, name=str(data.get("name", "")))

    def zone(self, ip: str) -> Zone | None:
        """The zone of the longest CIDR containing `ip`, or None."""
        hit = self._cache.get(ip, False)
        if hit is not False:
            return hit  # type: ignore[return-value]
        found: Zone | None = None
        value4 = _v4(ip)
        addr = None if value4 is not None else _address(ip)
        if value4 is not None:
            for mask, net, zone in self._nets4:
                if value4 & mask == net:
                    found = zone
                    break
        elif addr is not None:
            if isinstance(addr, ipaddress.IPv6Address) and addr.ipv4_mapped is not None:
                addr = addr.ipv4_mapped
            value = int(addr)
            for mask, net, zone in self._nets4 if addr.version == 4 else self._nets6:
                if value & mask == net:
                    found = zone
                    break
        if len(self._cache) >= 65536:
            self._cache.clear()
        self._cache[ip] = found
        return found


def zone_info(site: Site | None, ip: str) -> dict[str, Any] | None:
    """{"zone": name, "level": float} from the site file, else internet for public addresses."""
    if site is not None:
        zone = site.zone(ip)
        if zone is not None:
            return {"zone": zone.name, "level": zone.level}
    if is_public(ip):
        return dict(INTERNET)
    return None
