"""What the asset map remembers between messages of one flow, so that the next costs little.

- links: (client IP and MAC, server IP and MAC, server port, protocol) as written in the events
  (``link_key``) -> the edge between the client and server records (which it names). Finding
  records (MAC normalisation, the OUI vendor of a new record, shared-MAC marking), listing the
  protocol on both records and the server port on the edge are idempotent, so they are done
  once, when the link is made. A link is valid while its edge is in the store (``Edge.live``):
  a record that leaves the store takes its edges with it, and an edge that leaves the store
  takes its links with it (``Links.forget``), so that the cache holds nothing evicted.
- ``Ops``: per protocol, what a request action does to its edge (a code from ``ops.classify``)
  and whether events of an action can carry identity (``identity.claim_keys``); a linked edge
  holds its protocol's table (``Edge.ops``).

Only messages whose link fields are matched exactly by equality are cached: IPs and MACs as
``str`` (MACs may be absent), the server port as ``int`` or absent, the action as ``str`` or
absent. The caches are bounded (``MAX_LINKS`` links, ``MAX_DATASETS`` tables of ``MAX_OPS``
actions each way; links and actions are cleared when full): they change the speed of the asset
map, never its results.
"""

from __future__ import annotations

from typing import Any

from assetmap import ops
from assetmap.identity import claim_keys
from assetmap.store import Edge

MAX_LINKS = 16_384
MAX_KEYS_PER_EDGE = 4
MAX_DATASETS = 64
MAX_OPS = 1_024

# what a request does to its edge (``Ops.requests`` values: (code, operation name, claim keys))
READ, WRITE, CONTROL, OTHER, IDENTITY, DIAGNOSTICS = range(6)
CODES = {ops.READ: READ, ops.WRITE: WRITE, ops.CONTROL: CONTROL, ops.OTHER: OTHER}


class Ops:
    """What the actions of one protocol do: request action -> (code, operation, claim keys),
    response action -> claim keys (``identity.claim_keys``), each filled on first use."""

    __slots__ = ("dataset", "requests", "responses")

    def __init__(self, dataset: str) -> None:
        self.dataset = dataset
        self.requests: dict[str | None, tuple[int, str, Any]] = {}
        self.responses: dict[str | None, Any] = {}

    def request(self, raw: str | None) -> tuple[int, str, Any]:
        action = raw or ""
        op_class, op = ops.classify(self.dataset, action)
        code = CODES[op_class]
        if self.dataset == "modbus" and action == "diagnostics":
            code = DIAGNOSTICS  # the class depends on modbus.subfunction (ops.classify)
        elif code == OTHER and action in ops.IDENTITY_OPS:
            code = IDENTITY
        info = (code, op, claim_keys(self.dataset, action, False))
        if len(self.requests) >= MAX_OPS:
            self.requests.clear()
        self.requests[raw] = info
        return info

    def response(self, raw: str | None) -> Any:
        keys = claim_keys(self.dataset, raw or "", True)
        if len(self.responses) >= MAX_OPS:
            self.responses.clear()
        self.responses[raw] = keys
        return keys


class Links:
    """The cached links, and the action tables of the first MAX_DATASETS protocols (messages of
    later ones take the general path; the tables are never dropped, as linked edges hold them)."""

    __slots__ = ("links", "tables")

    def __init__(self) -> None:
        self.links: dict[tuple[Any, ...], Edge] = {}
        self.tables: dict[str, Ops] = {}

    def table(self, dataset: str) -> Ops | None:
        table = self.tables.get(dataset)
        if table is None and len(self.tables) < MAX_DATASETS:
            table = self.tables[dataset] = Ops(dataset)
        return table

    def add(self, key: tuple[Any, ...], edge: Edge, table: Ops) -> Edge:
        """Link `key` to `edge`; an edge keeps the keys of its links (``Edge.link``: its MACs
        or server port spelt several ways), at most MAX_KEYS_PER_EDGE, the oldest dropped."""
        if len(self.links) >= MAX_LINKS:
            self.links.clear()
        keys = edge.link or ()
        if key not in keys:
            if len(keys) >= MAX_KEYS_PER_EDGE:
                self._unlink(keys[0], edge)
                keys = keys[1:]
            edge.link = (*keys, key)
        edge.ops = table
        self.links[key] = edge
        return edge

    def forget(self, edge: Edge) -> None:
        """An edge left the store: its links go too, so that the cache holds nothing evicted."""
        for key in edge.link or ():
            self._unlink(key, edge)

    def _unlink(self, key: tuple[Any, ...], edge: Edge) -> None:
        if self.links.get(key) is edge:
            del self.links[key]


def link_key(src: dict[str, Any], dst: dict[str, Any], dataset: Any, to_server: bool) -> tuple[Any, ...]:
    """(client IP, client MAC, server IP, server MAC, server port, dataset) of a message, from
    its source and destination objects as they are (missing keys: None)."""
    if to_server:
        return (src.get("ip"), src.get("mac"), dst.get("ip"), dst.get("mac"), dst.get("port"), dataset)
    return (dst.get("ip"), dst.get("mac"), src.get("ip"), src.get("mac"), src.get("port"), dataset)


def cacheable(key: tuple[Any, ...]) -> bool:
    """True when equality of link keys means equal results (see module docstring)."""
    client_ip, client_mac, server_ip, server_mac, server_port, _ = key
    return (
        client_ip.__class__ is str and server_ip.__class__ is str
        and (client_mac is None or client_mac.__class__ is str)
        and (server_mac is None or server_mac.__class__ is str)
        and (server_port is None or server_port.__class__ is int)
    )
