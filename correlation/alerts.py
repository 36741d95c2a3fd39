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

import heapq
from collections import Counter
from collections.abc import Mapping
from typing import Any

from correlation.document import Parts, document
from correlation.fields import NAN_BEFORE, time_order
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
        "org", "observer", "community_id", "open", "_last_src", "_last_dst", "_room", "_ips_full",
        "_same_ends", "_ends_done",
    )

    def __init__(
        self, rule: Rule, key: Key, group: tuple[str, ...], e: Mapping[str, Any], t: float, ts: str,
        same_ends: bool = False,
    ) -> None:
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
        #: evidence ids that may still be kept (MAX_EVIDENCE in all)
        self._room = MAX_EVIDENCE
        self.ips: dict[str, None] = {}
        #: related.ip holds MAX_RELATED_IP addresses: nothing more joins it
        self._ips_full = False
        #: every event given to ``add`` has this alert's source.ip and destination.ip (they
        #: are in the group that events join it by), so once both are in related.ip, the
        #: ends of events have nothing more to add (``_ends_done``; also once related.ip is full)
        self._same_ends = same_ends
        self._ends_done = False
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
        if eid is not None and self._room:
            self._room -= 1
            self.evidence.append(eid if eid.__class__ is str else str(eid))
        if t >= self.end_t:
            self.end_t = t
            self.end_ts = ts
        elif t < self.start_t:
            self.start_t = t
            self.start_ts = ts
        if e is not None and not self._ends_done:
            self.related(e)

    def add_with_value(self, eid: Any, t: float, ts: str, e: Mapping[str, Any], value: Any, is_ip: bool) -> None:
        """One more evidence event of a scan and the value it counts: ``add`` then
        ``add_value``, the value seen before (the common case) answered first."""
        self.add(eid, t, ts, e)
        if value not in self.values:
            self.add_value(value, is_ip)

    def related(self, e: Mapping[str, Any]) -> None:
        """Record the source and destination addresses of ``e`` (bounded)."""
        if self._ends_done:
            return
        src = e.get("source")
        dst = e.get("destination")
        if src is not self._last_src or dst is not self._last_dst:
            self._related(src, dst)

    def _related(self, src: Any, dst: Any) -> None:
        """The addresses of an event's source and destination objects (the last ones are
        remembered: the sensor shares them between the events of a flow)."""
        self._last_src = src
        self._last_dst = dst
        if self._ips_full:
            return
        ips = self.ips
        both = True
        if src.__class__ is dict and (ip := src.get("ip")).__class__ is str:
            ips[ip] = None
        else:
            both = False
        if dst.__class__ is dict and (ip := dst.get("ip")).__class__ is str:
            if len(ips) < MAX_RELATED_IP:
                ips[ip] = None
        else:
            both = False
        self._ips_full = len(ips) >= MAX_RELATED_IP
        self._ends_done = self._ips_full or (both and self._same_ends)

    def add_value(self, value: Any, is_ip: bool = False) -> None:
        """A distinct value counted by a scan (an address also joins related.ip)."""
        if value in self.values:
            return
        self.distinct += 1
        if len(self.values) < MAX_VALUES:
            self.values[value] = None
        if is_ip and value.__class__ is str and not self._ips_full:
            self.ips[value] = None
            if len(self.ips) >= MAX_RELATED_IP:
                self._ips_full = self._ends_done = True

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
        for a in self.alerts:
            if a.open:
                return True
        return False

    def add(self, eid: Any, t: float, ts: str, e: Mapping[str, Any] | None = None) -> None:
        for a in self.alerts:
            a.add(eid, t, ts, e)

    def add_with_value(self, eid: Any, t: float, ts: str, e: Mapping[str, Any], value: Any, is_ip: bool) -> None:
        for a in self.alerts:
            a.add_with_value(eid, t, ts, e, value, is_ip)

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
        #: rule id -> the parts of its documents that never change (one entry per rule)
        self._parts: dict[str, Parts] = {}

    def get(self, rule: Rule, key: Key) -> OpenAlert | None:
        return self.open.get((rule.id, key))

    def start(
        self, rule: Rule, key: Key, group: tuple[str, ...], e: Mapping[str, Any], t: float, ts: str,
        suppress_key: Key | None = None, same_ends: bool = False,
    ) -> OpenAlert | None:
        """Open an alert for (rule, key); None when the rule is suppressed for this group.
        ``same_ends``: the events that will join it share its source.ip and destination.ip."""
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
        alert = OpenAlert(rule, key, group, e, t, ts, same_ends)
        if rule.aggregate_window <= 0:
            return alert  # the caller fills it and calls emit_now
        if len(self.open) >= MAX_OPEN:
            self.stats["closed_early"] += 1
            self._close_oldest()
        self._seq += 1
        alert.seq = self._seq
        ident = (rule.id, key)
        self.open[ident] = alert
        deadline = alert.deadline
        if deadline != deadline:  # the time of the event was a NaN
            deadline = time_order(deadline)
        heapq.heappush(self._heap, (deadline, alert.seq, ident))
        return alert

    def emit_now(self, alert: OpenAlert | Fanout) -> None:
        """Emit the alerts of rules that do not aggregate (``aggregate.window: 0``)."""
        for a in alert.alerts if isinstance(alert, Fanout) else (alert,):
            if a.rule.aggregate_window <= 0:
                self._emit(a)

    def _emit(self, alert: OpenAlert) -> None:
        alert.open = False
        rule = alert.rule
        parts = self._parts.get(rule.id)
        if parts is None or parts.rule is not rule:
            parts = self._parts[rule.id] = Parts(rule)
        self.ready.append(document(alert, parts))

    def expire(self, now: float) -> None:
        """Close every alert whose window ended before ``now``."""
        heap = self._heap
        while heap and heap[0][0] < now:
            if heap[0][0] is NAN_BEFORE:
                break  # first in the heap (fields.time_order), it never passes: nothing does
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
