"""The event schema: the shared envelope every event carries, and helpers to read events.

An event is a nested dict with ECS names (readers also accept dotted keys, see ``get``):

| field | meaning |
|---|---|
| ``@timestamp`` | ISO 8601 UTC time of the packet that completed the message |
| ``event.id`` | deterministic id: the same capture always gives the same ids |
| ``event.kind`` | ``event`` or ``alert`` |
| ``event.dataset`` | ``modbus``, ``s7comm``, ``s7comm_plus``, ``cotp``, ``opcua``, ``icssa`` (sensor notices) |
| ``event.action`` | snake_case operation (``read_holding_registers``, ``plc_stop``, ``create_session``) |
| ``source.ip`` / ``source.port`` | sender of this message |
| ``destination.ip`` / ``destination.port`` | receiver of this message |
| ``source.mac`` / ``destination.mac`` | link-layer addresses when the capture has them |
| ``network.transport`` | ``tcp`` or ``udp`` |
| ``network.community_id`` | Community ID v1 of the flow (same for both directions) |
| ``network.direction_to_server`` | True when the sender is the flow's client |
| ``observer.name`` | the sensor's name |
| ``organization.id`` | the tenant |
| ``<dataset>.*`` | the protocol's own fields (``modbus.function_code``, ...) |
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

Event = dict[str, Any]

_MISSING = object()


def get(event: Mapping[str, Any], dotted: str, default: Any = None) -> Any:
    """Read ``a.b.c`` from a nested event, or from a flat one with dotted keys, or a mix."""
    value = event.get(dotted, _MISSING)
    if value is not _MISSING:
        return value
    head, sep, rest = dotted.partition(".")
    while sep:
        sub = event.get(head, _MISSING)
        if type(sub) is dict or isinstance(sub, Mapping):  # the ABC check only when not a dict
            value = sub.get(rest, _MISSING)
            if value is not _MISSING:
                return value
            event = sub
            head, sep, rest = rest.partition(".")
            continue
        nxt, sep, rest = rest.partition(".")
        head = f"{head}.{nxt}"
    return default


def flatten(event: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """Nested -> dotted keys (lists are kept as values)."""
    out: dict[str, Any] = {}
    for key, value in event.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping) and value:
            out.update(flatten(value, name + "."))
        else:
            out[name] = value
    return out


class Timestamps:
    """Packet time (ns since epoch) -> ISO 8601, caching the formatted second."""

    __slots__ = ("_sec", "_prefix")

    def __init__(self) -> None:
        self._sec = -1
        self._prefix = ""

    def iso(self, ts_ns: int) -> str:
        sec, frac = divmod(ts_ns, 1_000_000_000)
        if sec != self._sec:
            self._sec = sec
            self._prefix = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(sec))
        return f"{self._prefix}.{frac // 1000:06d}Z"


def iso_from_ns(ts_ns: int) -> str:
    return Timestamps().iso(ts_ns)
