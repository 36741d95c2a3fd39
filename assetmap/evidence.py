"""Evidence per attribute: every value seen, with confidence, count, time span and event ids.

Conflicting values are kept side by side (a PLC that reported two firmware versions keeps both,
each with its events); the *chosen* value is the one with the highest confidence, then the most
observations, then the latest. Memory is bounded: at most ``MAX_ATTRS`` attributes (the
attributes of ``identity.py`` and ``oui_vendor`` are far fewer), ``MAX_VALUES`` values per
attribute and ``MAX_IDS`` event ids per value (the first ones seen; ``count`` keeps counting).
Values past a cap are counted in ``dropped``.
"""

from __future__ import annotations

from typing import Any

MAX_ATTRS = 64
MAX_VALUES = 8
MAX_IDS = 5

# claim layout (a list, for memory): [confidence, count, first_seen, last_seen, event_ids]
Claim = list[Any]


class Evidence:
    __slots__ = ("attrs", "dropped")

    def __init__(self) -> None:
        self.attrs: dict[str, dict[Any, Claim]] = {}
        #: values not kept because of MAX_ATTRS or MAX_VALUES
        self.dropped = 0

    def __bool__(self) -> bool:
        return bool(self.attrs)

    def add(self, attr: str, value: Any, confidence: float, event_id: str | None, ts: str) -> None:
        values = self.attrs.get(attr)
        if values is None:
            if len(self.attrs) >= MAX_ATTRS:
                self.dropped += 1
                return
            values = self.attrs[attr] = {}
        claim = values.get(value)
        if claim is None:
            if len(values) >= MAX_VALUES:
                self.dropped += 1
                return
            values[value] = [confidence, 1, ts, ts, [event_id] if event_id else []]
            return
        if confidence > claim[0]:
            claim[0] = confidence
        claim[1] += 1
        if ts < claim[2]:
            claim[2] = ts
        if ts > claim[3]:
            claim[3] = ts
        ids = claim[4]
        if event_id and len(ids) < MAX_IDS and event_id not in ids:
            ids.append(event_id)

    def merge(self, other: Evidence) -> None:
        """Fold `other`'s claims into this one (used when several records form one asset)."""
        for attr, values in other.attrs.items():
            mine = self.attrs.get(attr)
            if mine is None:
                if len(self.attrs) >= MAX_ATTRS:
                    self.dropped += len(values)
                    continue
                mine = self.attrs[attr] = {}
            for value, (conf, count, first, last, ids) in values.items():
                claim = mine.get(value)
                if claim is None:
                    if len(mine) >= MAX_VALUES:
                        self.dropped += 1
                        continue
                    mine[value] = [conf, count, first, last, list(ids)]
                    continue
                claim[0] = max(claim[0], conf)
                claim[1] += count
                claim[2] = min(claim[2], first)
                claim[3] = max(claim[3], last)
                for eid in ids:
                    if len(claim[4]) < MAX_IDS and eid not in claim[4]:
                        claim[4].append(eid)
        self.dropped += other.dropped

    def values(self, attr: str) -> dict[Any, Claim]:
        return self.attrs.get(attr, {})

    def best(self, attr: str) -> Any:
        """The chosen value of `attr` (see module docstring), or None."""
        values = self.attrs.get(attr)
        if not values:
            return None
        return max(values.items(), key=lambda kv: (kv[1][0], kv[1][1], kv[1][3]))[0]

    def ids(self, attr: str, value: Any) -> list[str]:
        claim = self.attrs.get(attr, {}).get(value)
        return list(claim[4]) if claim else []

    def identity(self) -> dict[str, Any]:
        """attribute -> chosen value."""
        return {attr: self.best(attr) for attr in self.attrs}

    def export(self) -> dict[str, list[dict[str, Any]]]:
        """{attribute: [{value, confidence, count, first_seen, last_seen, event_ids}]}, best first."""
        out: dict[str, list[dict[str, Any]]] = {}
        for attr in sorted(self.attrs):
            claims = sorted(
                self.attrs[attr].items(), key=lambda kv: (kv[1][0], kv[1][1], kv[1][3]), reverse=True
            )
            out[attr] = [
                {
                    "value": value,
                    "confidence": round(conf, 3),
                    "count": count,
                    "first_seen": first,
                    "last_seen": last,
                    "event_ids": list(ids),
                }
                for value, (conf, count, first, last, ids) in claims
            ]
        return out
