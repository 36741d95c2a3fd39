"""Reading events quickly: the sensor's nested form, event time, MAC addresses.

Events come nested (the sensor's form) or with dotted keys (``icssa.events.get`` reads both).
When no top-level key is dotted (``is_plain``), ``get(event, "a.b")`` is simply
``event["a"]["b"]``, and the asset map reads fields straight from the objects; anything else
goes through ``get``. Time and MAC parsing are cached, with the same results as the plain
parsers (``datetime.fromisoformat(ts).timestamp()``, ``oui.normalize_mac``).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from assetmap.oui import is_host_mac, normalize_mac

#: top-level keys of events in the sensor's nested form: a quick plainness test
PLAIN_KEYS = frozenset({
    "@timestamp", "event", "source", "destination", "network", "observer", "organization", "related",
    "tags", "message", "modbus", "s7comm", "s7comm_plus", "cotp", "opcua", "icssa",
})
EMPTY: Mapping[str, Any] = {}
#: raw MAC strings remembered with their host MAC (or None); cleared when full
MAC_CACHE = 4096
_ISO_SECOND = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}", re.ASCII)


def is_plain(event: Mapping[str, Any]) -> bool:
    """True when no top-level key is dotted: then ``get(event, "a.b")`` is ``event["a"]["b"]``."""
    keys = event.keys()
    if keys <= PLAIN_KEYS:
        return True
    return not any(isinstance(key, str) and "." in key for key in keys)


def mapping(value: Any) -> Mapping[str, Any]:
    """`value` when it is an object, else an empty one (what ``get`` finds below a non-object)."""
    return value if value.__class__ is dict or isinstance(value, Mapping) else EMPTY


def port(value: Any) -> int | None:
    """A port number, or None for anything that is not an int (bools are not ports)."""
    return value if isinstance(value, int) and not isinstance(value, bool) else None


class EventClock:
    """Event time text -> seconds since the epoch; a bad stamp keeps the previous time."""

    __slots__ = ("_text", "_value", "_prefix", "_base_us")

    def __init__(self) -> None:
        self._text = ""
        self._value = 0.0
        # ``YYYY-MM-DDTHH:MM:SS.`` of the last whole second read, and that second in microseconds
        self._prefix = "1970-01-01T00:00:00."
        self._base_us = 0

    def seconds(self, ts: str) -> float:
        if ts == self._text:
            return self._value
        self._text = ts
        # ``YYYY-MM-DDTHH:MM:SS.ffffffZ`` (the sensor's form) in the second read last: the same
        # float as ``datetime.fromisoformat(ts).timestamp()`` (microseconds / 10**6)
        if ts.startswith(self._prefix) and len(ts) == 27 and ts[26] == "Z":
            frac = ts[20:26]
            if frac.isdigit() and frac.isascii():
                self._value = (self._base_us + int(frac)) / 1_000_000
                return self._value
        return self._other(ts)

    def _other(self, ts: str) -> float:
        if len(ts) == 27 and ts[19] == "." and ts[26] == "Z":
            frac = ts[20:26]
            if frac.isascii() and frac.isdigit():
                base = _whole_second(ts[:19])
                if base is not None:
                    self._prefix, self._base_us = ts[:20], base * 1_000_000
                    self._value = (self._base_us + int(frac)) / 1_000_000
                    return self._value
        try:
            self._value = datetime.fromisoformat(ts).timestamp()
        except ValueError:
            pass  # keep the previous time: ordering stays monotone for a bad stamp
        return self._value


def _whole_second(text: str) -> int | None:
    """Seconds since the epoch of ``YYYY-MM-DDTHH:MM:SS`` in UTC, or None when it is no time."""
    if not _ISO_SECOND.fullmatch(text):
        return None
    try:
        return int(datetime.fromisoformat(text + "Z").timestamp())
    except ValueError:
        return None


class MacCache(dict[str, "str | None"]):
    """Raw MAC string -> the normalised MAC when it can name one host, else None: ``cache[mac]``
    (a plain dict lookup once seen); ``host_mac(value)`` takes any value. Cleared when full."""

    def __missing__(self, mac: str) -> str | None:
        host = _host_mac(mac)
        if len(self) >= MAC_CACHE:
            self.clear()
        self[mac] = host
        return host

    def host_mac(self, mac: Any) -> str | None:
        return self[mac] if mac.__class__ is str else _host_mac(mac)


def _host_mac(mac: Any) -> str | None:
    norm = normalize_mac(mac)
    return norm if norm is not None and is_host_mac(norm) else None
