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


#: the times ISO 8601 can write with four-digit years (0001-01-01 .. 9999-12-31), in ns; a
#: hostile capture's timestamps beyond them are clamped
FIRST_NS = -62_135_596_800 * 1_000_000_000
LAST_NS = 253_402_300_800 * 1_000_000_000 - 1


class Timestamps:
    """Packet time (ns since epoch) -> ISO 8601, caching the formatted second."""

    __slots__ = ("_start", "_end", "_format")

    def __init__(self) -> None:
        self._start = 1  # [start, end) in ns: the cached second (none yet)
        self._end = 0
        self._format = ""  # "<date>T<time>.%06dZ" of that second

    def iso(self, ts_ns: int) -> str:
        if not self._start <= ts_ns < self._end:
            ts_ns = self._second(ts_ns)
        return self._format % ((ts_ns - self._start) // 1000)

    def _second(self, ts_ns: int) -> int:
        """Cache the second of ``ts_ns``; returns ``ts_ns`` clamped to what ISO 8601 can write."""
        ts_ns = min(max(ts_ns, FIRST_NS), LAST_NS)
        sec = ts_ns // 1_000_000_000
        self._start = sec * 1_000_000_000
        self._end = self._start + 1_000_000_000
        t = time.gmtime(sec)
        self._format = (
            f"{t.tm_year:04d}-{t.tm_mon:02d}-{t.tm_mday:02d}T{t.tm_hour:02d}:{t.tm_min:02d}:{t.tm_sec:02d}.%06dZ"
        )
        return ts_ns


def iso_from_ns(ts_ns: int) -> str:
    return Timestamps().iso(ts_ns)
