"""A fixed zone map (CIDR -> zone and Purdue level) for rule tests and simple deployments.

The asset map provides the live context (``zone_of(ip)``); this one answers from a table such
as ``{"10.1.0.0/16": {"zone": "enterprise", "level": 4}}``, the most specific network first.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from typing import Any


class StaticZones:
    def __init__(self, zones: Mapping[str, Mapping[str, Any]]) -> None:
        nets = [(ipaddress.ip_network(cidr, strict=False), dict(z)) for cidr, z in zones.items()]
        self._nets = sorted(nets, key=lambda nz: -nz[0].prefixlen)

    def zone_of(self, ip: str) -> dict[str, Any] | None:
        try:
            addr = ipaddress.ip_address(ip)
        except ValueError:
            return None
        for net, zone in self._nets:
            if addr.version == net.version and addr in net:
                return {"zone": zone["zone"], "level": float(zone["level"])}
        return None
