"""Reading events: dotted field paths, event time, durations.

Events are nested dicts (DESIGN.md); producers may also send dotted keys (``"modbus.unit_id"``)
or a mix. ``nest`` turns such an event into the nested form once, so that the compiled field
readers only ever walk dicts. A path that crosses a list (``s7comm.items.area``) yields the list
of the values found in its elements: conditions on it hold when any element satisfies them.
"""

from __future__ import annotations

import math
import re
import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from types import MappingProxyType
from typing import Any

from correlation.codegen import make


class _Missing:
    """The value of a field that is absent (distinct from an explicit null)."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "MISSING"

    def __bool__(self) -> bool:
        return False


MISSING: Any = _Missing()

Getter = Callable[[Mapping[str, Any]], Any]

FIELD_RE = re.compile(r"^(@timestamp|[a-z0-9_]+(\.[a-z0-9_]+)*)$")


def walk(value: Any, parts: tuple[str, ...]) -> Any:
    """Follow ``parts`` through nested dicts; lists fan out (values found, flattened)."""
    for i, part in enumerate(parts):
        if isinstance(value, Mapping):
            value = value.get(part, MISSING)
            if value is MISSING:
                return MISSING
        elif isinstance(value, list):
            found: list[Any] = []
            for item in value:
                if isinstance(item, list):
                    continue  # lists of lists are not event fields (and could nest without end)
                sub = walk(item, parts[i:])
                if sub is MISSING or sub is None:
                    continue
                if isinstance(sub, list):
                    found.extend(sub)
                else:
                    found.append(sub)
            return found
        else:
            return MISSING
    return value


class _Walk:
    """A top-level value that is not a dict, read through ``get`` as ``walk`` reads it."""

    __slots__ = ("value",)

    def __init__(self, value: Any) -> None:
        self.value = value

    def get(self, key: str, default: Any = None) -> Any:
        return walk(self.value, (key,))


_NOTHING: Mapping[str, Any] = MappingProxyType({})


def as_object(value: Any) -> Any:
    """A top-level event value that is not a dict, as something whose ``get(key, MISSING)``
    answers what ``getter("<top>.<key>")`` answers: nothing for None, else ``walk``."""
    return _NOTHING if value is None else _Walk(value)


def getter(path: str) -> Getter:
    """A fast reader of ``path`` from a nested event (MISSING when absent)."""
    parts = tuple(path.split("."))
    if len(parts) == 1:
        (a,) = parts

        def get1(e: Mapping[str, Any]) -> Any:
            return e.get(a, MISSING)

        return get1
    if len(parts) == 2:
        a, b = parts

        def get2(e: Mapping[str, Any]) -> Any:
            x = e.get(a)
            if x.__class__ is dict:
                return x.get(b, MISSING)
            return walk(x, (b,)) if x is not None else MISSING

        return get2
    head, rest = parts[0], parts[1:]

    def getn(e: Mapping[str, Any]) -> Any:
        x = e.get(head)
        return walk(x, rest) if x is not None else MISSING

    return getn


def inline_load(path: str, fallback: str) -> str:
    """A Python expression reading ``path`` from the event ``e`` (MISSING as ``_M``).

    Two-level paths through dicts are read inline; anything else (lists on the way, deeper
    paths, non-dict values) calls ``fallback(e)``, the ``getter`` of the same path. Uses the
    local name ``_x`` as scratch.
    """
    parts = path.split(".")
    if len(parts) == 1:
        return f"e.get({parts[0]!r}, _M)"
    if len(parts) == 2:
        a, b = parts
        return f"(_x.get({b!r}, _M) if (_x := e.get({a!r})).__class__ is dict else (_M if _x is None else {fallback}(e)))"
    return f"{fallback}(e)"


#: top-level keys of a nested event (envelope, datasets, ECS objects); a quick "no dots" test
PLAIN_KEYS = frozenset({
    "@timestamp", "event", "source", "destination", "network", "observer", "organization",
    "modbus", "s7comm", "s7comm_plus", "cotp", "opcua", "icssa", "related", "tags", "message",
    "host", "rule", "threat", "labels", "ecs", "agent",
})


def is_nested(event: Mapping[str, Any]) -> bool:
    """True when no top-level key is dotted (the form the compiled readers expect)."""
    for key in event:
        if "." in key:
            return False
    return True


def nest(event: Mapping[str, Any]) -> dict[str, Any]:
    """A nested copy of an event that has dotted keys (nested parts are merged, not replaced)."""
    out: dict[str, Any] = {}
    for key, value in event.items():
        if isinstance(value, Mapping):
            value = nest(value)
        parts = key.split(".") if key != "@timestamp" else [key]
        node = out
        for part in parts[:-1]:
            nxt = node.get(part)
            if not isinstance(nxt, dict):
                nxt = node[part] = {}
            node = nxt
        last = parts[-1]
        if isinstance(value, dict) and isinstance(node.get(last), dict):
            node[last].update(value)
        else:
            node[last] = value
    return out


_UTC = UTC


#: whole seconds whose time a Clock keeps
CLOCK_CACHE = 4096


class Clock:
    """Event time -> seconds since the epoch (float), caching the whole-second prefix."""

    __slots__ = ("_cache", "_prefix", "_base_t")

    def __init__(self) -> None:
        self._cache: dict[str, float] = {}
        self._prefix = ""
        self._base_t = 0.0

    def seconds(self, ts: Any) -> float | None:
        """Seconds since the epoch, or None when ``ts`` is not a time."""
        if ts.__class__ is str:
            if len(ts) == 27 and ts[26] == "Z" and ts[19] == ".":
                prefix = ts[:19]
                if prefix == self._prefix:
                    base: float | None = self._base_t
                else:
                    base = self._cache.get(prefix)
                    if base is None:
                        base = self._base(prefix)
                    if base is not None:
                        self._prefix, self._base_t = prefix, base
                frac = ts[20:26]
                if base is not None and frac.isdecimal():
                    return base + int(frac) * 1e-6
            return _parse_iso(ts)
        if ts.__class__ is int or ts.__class__ is float:
            return float(ts)
        return None

    def base(self, prefix: str) -> float | None:
        """Seconds since the epoch of a whole second ``YYYY-MM-DDTHH:MM:SS`` (None when it is
        not one): ``seconds`` adds the fraction to this for the sensor's timestamps."""
        if prefix == self._prefix and prefix:
            return self._base_t
        base = self._cache.get(prefix)
        return base if base is not None else self._base(prefix)

    def _base(self, prefix: str) -> float | None:
        t = _parse_iso(prefix + "Z")
        if t is not None:
            if len(self._cache) >= CLOCK_CACHE:
                self._cache.clear()
            self._cache[prefix] = t
        return t


#: the microseconds ``iso`` writes a time with are a signed 64-bit integer (as the native engine
#: holds them): times beyond are written as its bounds, 294247-01-10T04:00:54.775807Z and
#: -290308-12-21T19:59:05.224192Z
_MICROS_MAX = (1 << 63) - 1
_MICROS_MIN = -(1 << 63)


def iso(t: float) -> str:
    """Seconds since the epoch -> ``YYYY-MM-DDTHH:MM:SS.ffffffZ`` (the sensor's format; a numeric
    ``@timestamp`` of any size gives a text: see ``_MICROS_MAX``; NaN and infinite times, and
    those whose microseconds overflow a float, are written as the epoch)."""
    try:
        micros = round(t * 1_000_000)
    except (ValueError, OverflowError):
        micros = 0
    if not _MICROS_MIN <= micros <= _MICROS_MAX:
        micros = _MICROS_MAX if micros > 0 else _MICROS_MIN
    sec, frac = divmod(micros, 1_000_000)
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(sec)) + f".{frac:06d}Z"


class _NaNTime:
    """A NaN time (a NaN ``@timestamp`` given as a number) where times are ordered (alert
    deadlines, threshold evidence), placed as the native engine places it (``f64::total_cmp``):
    a positive NaN after every time, a negative one before; equal to itself only."""

    __slots__ = ("after",)

    def __init__(self, after: bool) -> None:
        self.after = after

    def __lt__(self, other: object) -> bool:
        return other is not self and not self.after

    def __gt__(self, other: object) -> bool:
        return other is not self and self.after

    def __eq__(self, other: object) -> bool:
        return other is self

    __hash__ = object.__hash__

    def __repr__(self) -> str:
        return "+nan" if self.after else "-nan"


NAN_AFTER = _NaNTime(True)
NAN_BEFORE = _NaNTime(False)


def time_order(t: float) -> Any:
    """``t`` as ordered times hold it: itself, or for a NaN ``NAN_AFTER`` / ``NAN_BEFORE`` by
    its sign (Python's ``<`` on NaN is always false, which sorts and heaps cannot use)."""
    if t == t:
        return t
    return NAN_AFTER if math.copysign(1.0, t) > 0 else NAN_BEFORE


def _parse_iso(ts: str) -> float | None:
    try:
        dt = datetime.fromisoformat(ts)
    except ValueError:
        return None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=_UTC)
    return dt.timestamp()


_DURATION_RE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?\s*$")
_UNIT = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0, None: 1.0}


def duration(value: Any) -> float | None:
    """``30``, ``"30s"``, ``"5m"``, ``"1h"``, ``"2d"`` -> seconds; None when not a duration."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value) if value >= 0 else None
    if isinstance(value, str):
        m = _DURATION_RE.match(value)
        if m:
            return float(m.group(1)) * _UNIT[m.group(2)]
    return None


def hashable(value: Any) -> Any:
    """A value usable in a group key: lists become tuples, mappings sorted pairs, MISSING None."""
    if value is MISSING:
        return None
    if value.__class__ is list:
        return tuple(hashable(v) for v in value)
    if isinstance(value, Mapping):
        return tuple(sorted((str(k), hashable(v)) for k, v in value.items()))
    return value


KeyFn = Callable[[Mapping[str, Any]], tuple[Any, ...]]
SIMPLE = frozenset({str, int, float, bool, type(None)})


def make_keyfn(fields: tuple[str, ...], getter_for: Callable[[str], Getter]) -> KeyFn:
    """A function building the group key ``(organization.id, *values of fields)`` of an event."""
    consts: list[Any] = []
    lines = ["def _make(_M, _S, _h, " + ", ".join(f"g{i}" for i in range(len(fields))) + "):" if fields else "def _make(_M, _S, _h):"]
    lines.append("    def key(e):")
    lines.append("        o = e.get('organization')")
    lines.append("        o = o.get('id') if o.__class__ is dict else None")
    # an id that is a list or a mapping (events from anywhere) as keys hold values
    lines.append("        if o.__class__ is not str and o.__class__ not in _S:")
    lines.append("            o = _h(o)")
    parts = ["o"]
    for i, f in enumerate(fields):
        consts.append(getter_for(f))
        load = f"g{i}(e)" if f.startswith("context.") else inline_load(f, f"g{i}")
        lines.append(f"        a{i} = {load}")
        parts.append(f"(a{i} if a{i}.__class__ in _S else _h(a{i}))")
    lines.append("        return (" + ", ".join(parts) + ",)")
    lines.append("    return key")
    fn: KeyFn = make("\n".join(lines) + "\n", "<correlation key>", MISSING, SIMPLE, hashable, *consts)
    return fn
