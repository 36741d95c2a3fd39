"""Zone context: where the two ends of an event sit (zone name, Purdue level).

``ZoneCache`` asks the engine's context (the asset map: ``zone_of(ip)``) once per address and
keeps the answer for ``ttl`` seconds of event time (the asset map learns as traffic goes by);
the compiled rule tests read ``cache`` inline and call ``miss`` for an address not in it.

``StaticZones`` is a fixed zone map (CIDR -> zone and Purdue level) for rule tests and simple
deployments: it answers from a table such as ``{"10.1.0.0/16": {"zone": "enterprise",
"level": 4}}``, the most specific network first.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from typing import Any, Protocol

Zone = tuple[str | None, float | None]
#: the zone of an end nothing is known about
UNKNOWN: Zone = (None, None)


class ZoneContext(Protocol):
    def zone_of(self, ip: str) -> Mapping[str, Any] | None: ...


class ZoneCache:
    """Answers of ``context.zone_of`` per address: at most ``size`` of them, for ``ttl``
    seconds of event time each (the whole cache is asked again after that)."""

    def __init__(self, context: ZoneContext, size: int, ttl: float) -> None:
        self.context = context
        self.size = size
        self.ttl = ttl
        #: address -> (zone, level); read inline by the compiled tests (never replaced)
        self.cache: dict[str, Zone] = {}
        self._since = 0.0

    def miss(self, ip: str) -> Zone:
        """Ask the context about ``ip`` (a string) and remember the answer."""
        answer = self.context.zone_of(ip)
        z = UNKNOWN
        if isinstance(answer, Mapping):
            name, level = answer.get("zone"), answer.get("level")
            z = (
                name if isinstance(name, str) else None,
                float(level) if isinstance(level, int | float) and not isinstance(level, bool) else None,
            )
        if len(self.cache) >= self.size:
            self.cache.clear()
        self.cache[ip] = z
        return z

    def side(self, e: Mapping[str, Any], side: str) -> Zone:
        """(zone, level) of ``e``'s ``source`` or ``destination``; UNKNOWN without an address."""
        obj = e.get(side)
        ip = obj.get("ip") if obj.__class__ is dict else None  # type: ignore[union-attr]
        if ip.__class__ is not str:
            return UNKNOWN
        return self.cache.get(ip) or self.miss(ip)  # type: ignore[arg-type]

    def tick(self, t: float) -> None:
        """Event time moved on to ``t``: forget answers older than the TTL."""
        if t - self._since > self.ttl:
            self.cache.clear()
            self._since = t


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
