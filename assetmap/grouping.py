"""Which asset a host record belongs to, for every record (a snapshot) or for a few (a zone query).

A record's asset id is ``mac:<mac>`` when its MAC names one host (not a router or a shared
address, see ``store.py``); a record without link layer at an address where such hosts were
seen joins the latest of them; anything else is ``ip:<ip>``. ``members`` finds the records of
one asset without walking the whole store: a host MAC's records are at the addresses the MAC
was seen with, an ``ip:`` asset's records are at its address.
"""

from __future__ import annotations

from assetmap.site import is_public
from assetmap.store import Store, Unit


class Grouper:
    """Asset ids of records, with what it learns cached; valid while the store does not change."""

    __slots__ = ("store", "_routers", "_gids", "_members")

    def __init__(self, store: Store) -> None:
        self.store = store
        self._routers: dict[str, bool] = {}
        self._gids: dict[Unit, str] = {}
        self._members: dict[str, list[Unit]] = {}

    def host_mac(self, unit: Unit) -> str | None:
        """The record's MAC when it names one host, else None."""
        mac = unit.mac
        if mac is None:
            return None
        router = self._routers.get(mac)
        if router is None:
            router = self._routers[mac] = self.store.is_router(mac, is_public)
        return None if router else mac

    def gid(self, unit: Unit) -> str:
        """The asset id of one record."""
        gid = self._gids.get(unit)
        if gid is None:
            mac = self.host_mac(unit)
            if mac is None and unit.mac is None:
                # no link layer here: the host with a MAC at this address, the latest if several
                candidates = [u for u in self.store.by_ip.get(unit.ip, ()) if self.host_mac(u) is not None]
                if candidates:
                    mac = max(candidates, key=lambda u: u.last_seen).mac
            gid = self._gids[unit] = f"mac:{mac}" if mac is not None else f"ip:{unit.ip}"
        return gid

    def members(self, gid: str) -> list[Unit]:
        """The records of asset `gid`, in the store's order (least recently seen first)."""
        found = self._members.get(gid)
        if found is None:
            if gid.startswith("mac:"):
                # a host MAC's records are (ip, mac) for the addresses it was seen with, and the
                # records without link layer at those addresses that joined it
                mac = gid[4:]
                info = self.store.macs.get(mac)
                units = self.store.units
                found = []
                for ip in info.ips if info is not None else ():
                    for key in ((ip, mac), (ip, None)):
                        unit = units.get(key)
                        if unit is not None and self.gid(unit) == gid:
                            found.append(unit)
            else:
                found = [u for u in self.store.by_ip.get(gid[3:], ()) if self.gid(u) == gid]
            found.sort(key=_seq)
            self._members[gid] = found
        return found

    def is_served(self, gid: str) -> bool:
        """True when some record of the asset answered a controller protocol (``Unit.served``)."""
        return any(u.served for u in self.members(gid))


def _seq(unit: Unit) -> int:
    return unit.seq
