"""Alert aggregation, deduplication and suppression, and the alert document (DESIGN.md).

A rule that fires for a group (by default source and destination, always within one
organization) opens an alert; later evidence for the same rule and group within the rule's
aggregation window joins it (count, time span, evidence ids) instead of raising another. The
alert leaves when its window has passed in event time, or on ``flush``. A rule with
``aggregate.window: 0`` emits at once. After an alert, ``suppress`` keeps the same rule quiet for
the same suppression group for a while (the drops are counted, not lost silently).

Everything is bounded: open alerts, evidence ids and related addresses per alert, and the
suppression memory.
"""

from __future__ import annotations

import hashlib
import heapq
from collections import Counter
from collections.abc import Mapping
from typing import Any

from correlation import attack
from correlation.model import Rule

MAX_EVIDENCE = 50
MAX_RELATED_IP = 50
MAX_VALUES = 50
MAX_OPEN = 10_000
MAX_SUPPRESSED = 100_000

Key = tuple[Any, ...]


class OpenAlert:
    """An alert collecting evidence until its window closes."""

    __slots__ = (
        "rule", "key", "group", "deadline", "seq", "trigger_ts", "start_t", "start_ts", "end_t",
        "end_ts", "count", "evidence", "ips", "values", "distinct", "steps", "src", "dst",
        "org", "observer", "community_id", "open", "_last_src", "_last_dst",
    )

    def __init__(self, rule: Rule, key: Key, group: tuple[str, ...], e: Mapping[str, Any], t: float, ts: str) -> None:
        self.rule = rule
        self.key = key
        self.group = group
        #: True while evidence may join (False once the alert has left the book)
        self.open = True
        self.deadline = t + rule.aggregate_window
        self.seq = 0
        self.trigger_ts = ts
        self.start_t = self.end_t = t
        self.start_ts = self.end_ts = ts
        self.count = 0
        self.evidence: list[str] = []
        self.ips: dict[str, None] = {}
        self.values: dict[Any, None] = {}
        self.distinct = 0
        self.steps: list[str] = []
        self._last_src: Any = None
        self._last_dst: Any = None
        src = e.get("source")
        dst = e.get("destination")
        self.src = src if isinstance(src, Mapping) else {}
        self.dst = dst if isinstance(dst, Mapping) else {}
        org = e.get("organization")
        obs = e.get("observer")
        net = e.get("network")
        self.org = org.get("id") if isinstance(org, Mapping) else None
        self.observer = obs.get("name") if isinstance(obs, Mapping) else None
        self.community_id = net.get("community_id") if isinstance(net, Mapping) else None

    def add(self, eid: Any, t: float, ts: str, e: Mapping[str, Any] | None = None) -> None:
        """One more evidence event (its addresses join related.ip when the event is given)."""
        self.count += 1
        if eid is not None and len(self.evidence) < MAX_EVIDENCE:
            self.evidence.append(str(eid))
        if t >= self.end_t:
            self.end_t, self.end_ts = t, ts
        elif t < self.start_t:
            self.start_t, self.start_ts = t, ts
        if e is not None:
            self.related(e)

    def related(self, e: Mapping[str, Any]) -> None:
        """Record the source and destination addresses of ``e`` (bounded)."""
        src = e.get("source")
        dst = e.get("destination")
        if src is self._last_src and dst is self._last_dst:
            return  # the sensor shares these objects within a flow: nothing new
        self._last_src, self._last_dst = src, dst
        ips = self.ips
        for obj in (src, dst):
            if len(ips) < MAX_RELATED_IP and obj.__class__ is dict:
                ip = obj.get("ip")  # type: ignore[union-attr]
                if ip.__class__ is str:
                    ips[ip] = None

    def add_value(self, value: Any, is_ip: bool = False) -> None:
        """A distinct value counted by a scan (an address also joins related.ip)."""
        if value in self.values:
            return
        self.distinct += 1
        if len(self.values) < MAX_VALUES:
            self.values[value] = None
        if is_ip and value.__class__ is str and len(self.ips) < MAX_RELATED_IP:
            self.ips[value] = None

    def add_steps(self, names: list[str]) -> None:
        room = 64 - len(self.steps)
        if room > 0:
            self.steps.extend(names[:room])

    def add_count(self, n: int) -> None:
        """Events that count without being kept as evidence."""
        self.count += n


class Fanout:
    """The alerts of several rules that share one detector, driven as one."""

    __slots__ = ("alerts",)

    def __init__(self, alerts: list[OpenAlert]) -> None:
        self.alerts = alerts

    @property
    def open(self) -> bool:
        return any(a.open for a in self.alerts)

    def add(self, eid: Any, t: float, ts: str, e: Mapping[str, Any] | None = None) -> None:
        for a in self.alerts:
            a.add(eid, t, ts, e)

    def related(self, e: Mapping[str, Any]) -> None:
        for a in self.alerts:
            a.related(e)

    def add_value(self, value: Any, is_ip: bool = False) -> None:
        for a in self.alerts:
            a.add_value(value, is_ip)

    def add_steps(self, names: list[str]) -> None:
        for a in self.alerts:
            a.add_steps(names)

    def add_count(self, n: int) -> None:
        for a in self.alerts:
            a.add_count(n)


class AlertBook:
    """Open alerts by (rule, group), closed by event time; finished alert documents in ``ready``."""

    def __init__(self) -> None:
        self.open: dict[tuple[str, Key], OpenAlert] = {}
        self._heap: list[tuple[float, int, tuple[str, Key]]] = []
        self._seq = 0
        self._suppressed: dict[tuple[str, Key], float] = {}
        self.ready: list[dict[str, Any]] = []
        self.stats: Counter[str] = Counter()

    def get(self, rule: Rule, key: Key) -> OpenAlert | None:
        return self.open.get((rule.id, key))

    def start(
        self, rule: Rule, key: Key, group: tuple[str, ...], e: Mapping[str, Any], t: float, ts: str,
        suppress_key: Key | None = None,
    ) -> OpenAlert | None:
        """Open an alert for (rule, key); None when the rule is suppressed for this group."""
        if rule.suppress_window > 0:
            skey = (rule.id, suppress_key if suppress_key is not None else key)
            until = self._suppressed.get(skey)
            if until is not None and t < until:
                self.stats["suppressed"] += 1
                return None
            if len(self._suppressed) >= MAX_SUPPRESSED:
                self._suppressed.pop(next(iter(self._suppressed)))
            self._suppressed.pop(skey, None)
            self._suppressed[skey] = t + rule.suppress_window
        alert = OpenAlert(rule, key, group, e, t, ts)
        if rule.aggregate_window <= 0:
            return alert  # the caller fills it and calls emit_now
        if len(self.open) >= MAX_OPEN:
            self.stats["closed_early"] += 1
            self._close_oldest()
        self._seq += 1
        alert.seq = self._seq
        ident = (rule.id, key)
        self.open[ident] = alert
        heapq.heappush(self._heap, (alert.deadline, alert.seq, ident))
        return alert

    def emit_now(self, alert: OpenAlert | Fanout) -> None:
        """Emit the alerts of rules that do not aggregate (``aggregate.window: 0``)."""
        for a in alert.alerts if isinstance(alert, Fanout) else (alert,):
            if a.rule.aggregate_window <= 0:
                self._emit(a)

    def _emit(self, alert: OpenAlert) -> None:
        alert.open = False
        self.ready.append(document(alert))

    def expire(self, now: float) -> None:
        """Close every alert whose window ended before ``now``."""
        heap = self._heap
        while heap and heap[0][0] < now:
            _, seq, ident = heapq.heappop(heap)
            alert = self.open.get(ident)
            if alert is not None and alert.seq == seq:
                del self.open[ident]
                self._emit(alert)

    def flush(self) -> None:
        self.expire(float("inf"))

    def _close_oldest(self) -> None:
        while self._heap:
            _, seq, ident = heapq.heappop(self._heap)
            alert = self.open.get(ident)
            if alert is not None and alert.seq == seq:
                del self.open[ident]
                self._emit(alert)
                return

    def drain(self) -> list[dict[str, Any]]:
        out = self.ready
        self.ready = []
        self.stats["alerts"] += len(out)
        return out


def alert_id(rule_id: str, key: Key, first: str) -> str:
    h = hashlib.blake2b(digest_size=16)
    h.update(f"{rule_id}\x00{key!r}\x00{first}".encode())
    return h.hexdigest()


def document(a: OpenAlert) -> dict[str, Any]:
    """The alert as DESIGN.md's contract describes it (ECS names)."""
    rule = a.rule
    first = a.evidence[0] if a.evidence else a.start_ts
    techniques = rule.techniques
    src_ip = a.src.get("ip")
    dst_ip = a.dst.get("ip")
    group = {name: _plain(value) for name, value in zip(a.group, a.key[1:], strict=False)}
    doc: dict[str, Any] = {
        "@timestamp": a.trigger_ts,
        "message": f"{rule.title}: {src_ip or '?'} -> {dst_ip or '?'} ({a.count} event{'s' if a.count != 1 else ''})",
        "event": {
            "id": alert_id(rule.id, a.key, first),
            "kind": "alert",
            "dataset": "icssa.alert",
            "module": "correlation",
            "severity": rule.severity,
            "action": rule.id,
            "count": a.count,
            "start": a.start_ts,
            "end": a.end_ts,
        },
        "rule": {
            "id": rule.id,
            "name": rule.title,
            "description": rule.description,
            "reference": rule.references[0],
            "ruleset": rule.ruleset,
            "version": str(rule.version),
            "category": rule.kind,
        },
        "threat": {
            "framework": attack.FRAMEWORK,
            "technique": {
                "id": [t.id for t in techniques],
                "name": [t.name for t in techniques],
                "reference": [attack.technique_url(t.id) for t in techniques],
            },
            "tactic": {
                "id": [t.id for t in rule.tactics],
                "name": [t.name for t in rule.tactics],
                "reference": [attack.tactic_url(t.id) for t in rule.tactics],
            },
        },
        "source": {k: a.src[k] for k in ("ip", "port") if k in a.src},
        "destination": {k: a.dst[k] for k in ("ip", "port") if k in a.dst},
        "related": {"events": list(a.evidence), "ip": sorted(a.ips)},
        "organization": {"id": a.org},
        "observer": {"name": a.observer},
        "tags": list(rule.tags),
        "icssa": {
            "alert": {
                "count": a.count,
                "evidence_truncated": a.count > len(a.evidence),
                "group": group,
                "attack_version": attack.VERSION,
            }
        },
    }
    if a.community_id:
        doc["network"] = {"community_id": a.community_id}
    extra = doc["icssa"]["alert"]
    if a.values:
        extra["distinct"] = a.distinct
        extra["values"] = [_plain(v) for v in a.values]
    if a.steps:
        extra["sequence"] = list(a.steps)
    return doc


def _plain(value: Any) -> Any:
    if isinstance(value, tuple):
        return [_plain(v) for v in value]
    return value
