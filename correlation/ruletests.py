"""The test cases a rule file carries (``tests: {fire: [...], silent: [...]}``), as event lists.

A case is one of:

- an event (dotted or nested keys): a case of one event;
- ``{events: [case, ...]}``: the events of each item, in order;
- ``{event: {...}, repeat: N, step: {field: number}}``: N copies of the event, copy i with
  ``field`` increased by i x number (``@timestamp`` in seconds).

Missing ``@timestamp`` values continue one second after the previous event (the first is
``2024-01-01T00:00:00Z``); missing ``event.id`` values are numbered within the case. The
engine, not this module, decides whether the rule fires.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from correlation.fields import Clock, iso, nest

START = "2024-01-01T00:00:00.000000Z"
MAX_CASE_EVENTS = 20_000


def expand_case(case: Mapping[str, Any], name: str = "case") -> list[dict[str, Any]]:
    """The nested events of one case, with times and ids filled in."""
    flat: list[dict[str, Any]] = []
    _collect(case, flat)
    clock = Clock()
    prev = clock.seconds(START)
    assert prev is not None
    out = []
    for i, e in enumerate(flat[:MAX_CASE_EVENTS]):
        ev = nest(e)
        t = clock.seconds(ev.get("@timestamp"))
        if t is None:
            t = prev + 1.0 if i else prev
            ev["@timestamp"] = iso(t)
        prev = t
        meta = ev.setdefault("event", {})
        meta.setdefault("id", f"{name}-{i}")
        meta.setdefault("kind", "event")
        out.append(ev)
    return out


def _collect(case: Mapping[str, Any], out: list[dict[str, Any]]) -> None:
    if "events" in case and isinstance(case["events"], list):
        for item in case["events"]:
            _collect(item, out)
    elif "repeat" in case and "event" in case:
        base = nest(case["event"])
        step = case.get("step", {})
        clock = Clock()
        t0 = clock.seconds(base.get("@timestamp"))
        for i in range(min(int(case["repeat"]), MAX_CASE_EVENTS)):
            e = nest(base)  # a deep enough copy: nest rebuilds every mapping
            for field, inc in step.items():
                if field == "@timestamp":
                    if t0 is not None:
                        e["@timestamp"] = iso(t0 + i * inc)
                    continue
                _add(e, field.split("."), i * inc)
            out.append(e)
    else:
        out.append(dict(case))


def _add(e: dict[str, Any], parts: list[str], inc: float) -> None:
    node = e
    for part in parts[:-1]:
        node = node.setdefault(part, {})
    value = node.get(parts[-1], 0)
    total = value + inc
    node[parts[-1]] = int(total) if isinstance(value, int) and float(total).is_integer() else total
