"""Per-rule detectors: what happens when a rule's conditions hold for an event.

| kind | state (per group, always within one organization) | fires when |
|---|---|---|
| match | none | every matching event (aggregated into one alert per window) |
| threshold | the last ``count`` event times, or the distinct values seen in the window | ``count`` events / distinct values within ``window`` |
| sequence | the next expected step, when the sequence started, the evidence so far | the last step arrives within ``window`` of the first |
| first_seen | keys learned during the baseline period, and keys seen since | a key never seen before, after the baseline |
| rate | events in the current fixed window; the busiest window learned in the baseline | a window's count passes ``factor`` x the learned peak and ``min_count`` |

While a rule's alert for a group is open, further matching events join it (count, span,
evidence) instead of feeding the detector again.

Each detector is called with the event's key for its ``primary`` grouping (threshold,
sequence and rate groups, the first-seen key, the aggregation group of a match rule),
computed once per event for all the detectors that share it (``correlation.plans``), or
``None`` when that key reads ``context.*`` fields: the detector then computes it itself.

State is bounded (``Limits``; ``tests/test_correlation_bounds.py`` checks every cap):

| state | cap |
|---|---|
| groups per threshold, sequence and rate rule | ``Limits.groups`` (threshold: also ``window_entries`` / ``count``) |
| entries per threshold group | ``count`` (a deque of event times, or ``count`` distinct values) |
| evidence per partial sequence / rate window | one per step / 50 |
| first-seen keys learned, and known sub-keys | ``Limits.learned`` each |
| open alerts a match rule keeps at hand | ``Limits.groups`` |

Past a cap the oldest group is dropped, preferring groups idle for longer than the rule's
window (their state has expired anyway); drops of live state are counted in
``Engine.stats["state_evicted"]``.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from correlation.alerts import AlertBook, Fanout, OpenAlert
from correlation.fields import Getter, KeyFn, hashable, time_order
from correlation.model import Rule

Key = tuple[Any, ...]
Alert = OpenAlert | Fanout


@dataclass(frozen=True)
class Limits:
    #: groups per stateful rule (and open alerts a match rule keeps at hand)
    groups: int = 10_000
    #: first-seen keys per rule (and as many known sub-keys)
    learned: int = 200_000
    #: per rule: threshold windows hold at most this many entries in all (groups x count)
    window_entries: int = 2_000_000


class Env:
    """What detectors need from the engine: key functions, field readers, the baseline clock,
    the alert book, limits and counters."""

    def __init__(
        self,
        book: AlertBook,
        keyfn: Callable[[tuple[str, ...]], KeyFn],
        getter: Callable[[str], Getter],
        in_baseline: Callable[[Any, float], bool],
        limits: Limits,
        stats: dict[str, int],
    ) -> None:
        self.book = book
        self.keyfn = keyfn
        self.getter = getter
        self.in_baseline = in_baseline
        self.limits = limits
        self.stats = stats


def make_room(groups: dict[Key, list[Any]], cap: int, now: float, idle: float, stats: dict[str, int]) -> None:
    """Drop groups until one more fits; idle ones (last seen before ``now - idle``) go first."""
    while len(groups) >= cap:
        for _ in range(8):
            oldest = next(iter(groups))
            st = groups.pop(oldest)
            if st[0] < now - idle:
                break
            groups[oldest] = st  # still live: give it a second chance at the young end
        else:
            groups.pop(next(iter(groups)))
            stats["state_evicted"] = stats.get("state_evicted", 0) + 1


#: the fields holding the addresses of both ends of an event
ENDS = frozenset({"source.ip", "destination.ip"})


def _reads_context(fields: tuple[str, ...]) -> bool:
    return any(f.startswith("context.") for f in fields)


class Detector:
    """The state of one detection, serving every rule with exactly this logic (conditions,
    stateful spec, aggregation, suppression): it runs once, each rule gets its own alert."""

    def __init__(self, rule: Rule, env: Env, primary: tuple[str, ...] | None = None) -> None:
        self.rule = rule
        self.rules = [rule]
        self.env = env
        self.book = env.book
        self.agg = rule.aggregate_group_by
        self.agg_key = env.keyfn(rule.aggregate_group_by)
        self.sup_key = env.keyfn(rule.suppress_group_by)
        fields = rule.aggregate_group_by if primary is None else primary
        #: the grouping ``handle`` receives the key of (see the module docstring)
        self.primary_fields = fields
        self.primary = env.keyfn(fields)
        self.primary_reads_context = _reads_context(fields)
        #: the aggregation group is the primary one: its key serves for the alerts too
        self.agg_is_primary = self.agg_key is self.primary
        #: events join this detector's alerts by a group holding both ends' addresses, so
        #: they all have the alert's source.ip and destination.ip (``OpenAlert.add``)
        self.same_ends = ENDS <= set(self.agg)

    def share(self, rule: Rule) -> None:
        """Serve one more rule (same logic, other id, title, severity, tags)."""
        self.rules.append(rule)

    def handle(self, e: Mapping[str, Any], t: float, ts: str, eid: Any, key: Key | None) -> None:
        raise NotImplementedError

    def inline(self, key: str, value: str, const: Callable[[Any], str]) -> list[str]:
        """Lines of a dispatch plan (``correlation.plans``) feeding this detector the event
        ``e`` (``t``, ``ts``, ``eid``) whose primary key is in variable ``key`` (``None``:
        not computed) and, for a distinct-count threshold, the value in ``value``. The
        common case may be done in place, exactly as the detector's own method would."""
        return [f"{const(self.handle)}(e, t, ts, eid, {key})"]

    def _agg(self, e: Mapping[str, Any], key: Key) -> Key:
        """The aggregation key of ``e``, given its primary ``key``."""
        return key if self.agg_is_primary else self.agg_key(e)

    def _open(self, e: Mapping[str, Any], t: float, ts: str, key: Key) -> Alert | None:
        """The open alert(s) of the rules for the event's aggregation group, opened if needed
        (None when every rule is suppressed for the group)."""
        agg = self._agg(e, key)
        book = self.book
        found = []
        skey: Key | None = None
        for rule in self.rules:
            alert = book.get(rule, agg)
            if alert is None:
                if rule.suppress_window > 0 and skey is None:
                    skey = agg if self.sup_key is self.agg_key else self.sup_key(e)
                alert = book.start(rule, agg, self.agg, e, t, ts, skey if rule.suppress_window > 0 else None,
                                   self.same_ends)
            if alert is not None:
                found.append(alert)
        return _one(found)

    def _joined(self, e: Mapping[str, Any], t: float, ts: str, eid: Any, key: Key) -> Alert | None:
        """Add the event to the rules' open alerts for its group, if there are any."""
        agg = self._agg(e, key)
        found = [a for a in (self.book.get(rule, agg) for rule in self.rules) if a is not None]
        alert = _one(found)
        if alert is not None:
            alert.add(eid, t, ts, e)
        return alert


def _one(alerts: list[OpenAlert]) -> Alert | None:
    if not alerts:
        return None
    return alerts[0] if len(alerts) == 1 else Fanout(alerts)


class MatchDetector(Detector):
    """Every matching event is evidence; the open alert of each group is kept at hand."""

    def __init__(self, rule: Rule, env: Env) -> None:
        super().__init__(rule, env)
        self.recent: dict[Key, Alert] = {}

    def inline(self, key: str, value: str, const: Callable[[Any], str]) -> list[str]:
        if key == "None":
            return super().inline(key, value, const)
        # an open alert for the group: the event joins it (the first branch of handle)
        return [
            f"a = {const(self.recent)}.get({key})",
            "if a is not None and a.open:",
            "    a.add(eid, t, ts, e)",
            "else:",
            f"    {const(self.handle)}(e, t, ts, eid, {key})",
        ]

    def handle(self, e: Mapping[str, Any], t: float, ts: str, eid: Any, key: Key | None) -> None:
        if key is None:
            key = self.primary(e)
        alert = self.recent.get(key)
        if alert is not None and alert.open:
            alert.add(eid, t, ts, e)
            return
        alert = self._open(e, t, ts, key)
        if alert is None:
            return
        alert.add(eid, t, ts, e)
        self.book.emit_now(alert)
        if alert.open:
            recent = self.recent
            if len(recent) >= self.env.limits.groups:
                for k in [k for k, a in recent.items() if not a.open]:
                    del recent[k]
                if len(recent) >= self.env.limits.groups:
                    recent.pop(next(iter(recent)))
            recent[key] = alert


class ThresholdDetector(Detector):
    """Per group: ``[last seen, tracker, open alert]``; the tracker is a deque of the last
    ``count`` events, or a dict distinct value -> its latest event."""

    def __init__(self, rule: Rule, env: Env) -> None:
        spec = rule.threshold
        assert spec is not None
        super().__init__(rule, env, spec.group_by)
        self.count = spec.count
        self.window = spec.window
        self.distinct = env.getter(spec.distinct) if spec.distinct else None
        self.distinct_path = spec.distinct
        self.distinct_ips = bool(spec.distinct and spec.distinct.endswith(".ip"))
        #: the alert group is the threshold group: keep the open alert in the group state
        self.own_alert = self.agg_is_primary
        self.groups: dict[Key, list[Any]] = {}
        self.cap = max(16, min(env.limits.groups, env.limits.window_entries // spec.count))

    def handle(self, e: Mapping[str, Any], t: float, ts: str, eid: Any, key: Key | None) -> None:
        distinct = self.distinct
        self.handle_value(e, t, ts, eid, key, distinct(e) if distinct is not None else None)

    def inline(self, key: str, value: str, const: Callable[[Any], str]) -> list[str]:
        call = f"{const(self.handle_value)}(e, t, ts, eid, {key}, {value})"
        if key == "None" or not self.own_alert:
            return [call]
        # a group seen before (the first branches of handle_value): the event joins the
        # group's open alert, else it is tracked, and the detector fires when the count is met
        if self.distinct is None:
            test, join = "", "a.add(eid, t, ts, e)"
            track = [
                "tr.append((t, ts, eid))",
                f"if len(tr) >= {self.count!r} and not tr[0][0] < t - {const(self.window)}:",
                f"    {const(self._fire)}(e, t, ts, {key}, st, list(tr), [])",
            ]
        else:
            test = f" and ({value}.__class__ is str or {value}.__class__ is int)"
            join = f"a.add_with_value(eid, t, ts, e, {value}, {self.distinct_ips!r})"
            track = [
                f"tr[{value}] = (t, ts, eid)",
                f"if len(tr) >= {self.count!r}:",
                f"    {const(self._distinct_full)}(e, t, ts, {key}, st)",
            ]
        return [
            f"st = {const(self.groups)}.get({key})",
            f"if st is not None{test}:",
            "    st[0] = t",
            "    a = st[2]",
            "    if a is not None and a.open:",
            f"        {join}",
            "    else:",
            "        st[2] = None",
            "        tr = st[1]",
            *(f"        {line}" for line in track),
            "else:",
            f"    {call}",
        ]

    def handle_value(self, e: Mapping[str, Any], t: float, ts: str, eid: Any, key: Key | None, value: Any) -> None:
        """``handle`` with the value of the distinct field already read (None: no such field
        in the rule)."""
        if value.__class__ is not str and value.__class__ is not int and self.distinct is not None:
            value = hashable(value)
            if value is None:
                return
        if key is None:
            key = self.primary(e)
        st = self.groups.get(key)
        if st is not None:
            st[0] = t
            alert = st[2]
            if alert is not None and self.own_alert:
                # the hot path of a scan in progress: the event joins the open alert
                if alert.open:
                    if value is None:
                        alert.add(eid, t, ts, e)
                    else:
                        alert.add_with_value(eid, t, ts, e, value, self.distinct_ips)
                    return
                st[2] = None
            tracker = st[1]
            if value is not None and self.own_alert:
                # the other hot path: one more (value, event) in a window below the count
                tracker[value] = (t, ts, eid)
                if len(tracker) < self.count:
                    return
                self._distinct_full(e, t, ts, key, st)
                return
        else:
            tracker = None
        distinct = self.distinct
        if not self.own_alert:
            alert = self._joined(e, t, ts, eid, key)
            if alert is not None:
                if value is not None:
                    alert.add_value(value, self.distinct_ips)
                return
        if tracker is None:
            make_room(self.groups, self.cap, t, self.window, self.env.stats)
            tracker = {} if distinct is not None else deque(maxlen=self.count)
            st = self.groups[key] = [t, tracker, None]
        if value is None:
            tracker.append((t, ts, eid))
            if len(tracker) < self.count or tracker[0][0] < t - self.window:
                return
            self._fire(e, t, ts, key, st, list(tracker), [])  # type: ignore[arg-type]
            return
        tracker[value] = (t, ts, eid)
        if len(tracker) >= self.count:
            self._distinct_full(e, t, ts, key, st)  # type: ignore[arg-type]

    def _distinct_full(self, e: Mapping[str, Any], t: float, ts: str, key: Key, st: list[Any]) -> None:
        """``count`` distinct values are tracked: drop those older than the window, fire if
        ``count`` are left."""
        tracker = st[1]
        cutoff = t - self.window
        for v in [v for v, entry in tracker.items() if entry[0] < cutoff]:
            del tracker[v]
        if len(tracker) < self.count:
            return
        self._fire(e, t, ts, key, st, sorted(tracker.values(), key=lambda entry: time_order(entry[0])), list(tracker))

    def _fire(self, e: Mapping[str, Any], t: float, ts: str, key: Key, st: list[Any], evidence: list[Any], values: list[Any]) -> None:
        st[1].clear()
        alert = self._open(e, t, ts, key)
        st[2] = alert
        if alert is None:
            return
        for et, ets, eeid in evidence:
            alert.add(eeid, et, ets)
        alert.related(e)
        for v in values:
            alert.add_value(v, self.distinct_ips)
        self.book.emit_now(alert)


class SequenceDetector(Detector):
    """Per group: ``[last seen, next step, started at, evidence]`` (one partial sequence)."""

    def __init__(self, rule: Rule, env: Env) -> None:
        spec = rule.sequence
        assert spec is not None
        super().__init__(rule, env, spec.group_by)
        self.spec = spec
        self.names = [s.name for s in spec.steps]
        self.groups: dict[Key, list[Any]] = {}

    def handle(self, e: Mapping[str, Any], t: float, ts: str, eid: Any, key: Key | None) -> None:
        self.handle_steps(e, t, ts, eid, key, (0,))

    def handle_steps(
        self, e: Mapping[str, Any], t: float, ts: str, eid: Any, key: Key | None, steps: tuple[int, ...] | list[int]
    ) -> None:
        if key is None:
            key = self.primary(e)
        groups = self.groups
        st = groups.get(key)
        if st is not None and t - st[2] > self.spec.window:
            del groups[key]
            st = None
        if st is not None and st[1] in steps:
            st[0] = t
            st[3].append((t, ts, eid, self.names[st[1]]))
            st[1] += 1
            if st[1] < len(self.names):
                return
            del groups[key]
            alert = self._open(e, t, ts, key)
            if alert is None:
                return
            for et, ets, eeid, _ in st[3]:
                alert.add(eeid, et, ets)
            alert.add_steps([step[3] for step in st[3]])
            alert.related(e)
            self.book.emit_now(alert)
        elif 0 in steps:
            if st is None:
                make_room(groups, self.env.limits.groups, t, self.spec.window, self.env.stats)
            groups[key] = [t, 1, t, [(t, ts, eid, self.names[0])]]
