"""Per-rule detectors: what happens when a rule's conditions hold for an event.

| kind | state (per group, always within one organization) | fires when |
|---|---|---|
| match | none | every matching event (aggregated into one alert per window) |
| threshold | the last ``count`` event times, or the distinct values seen in the window | ``count`` events / distinct values within ``window`` |
| sequence | the next expected step, when the sequence started, the evidence so far | the last step arrives within ``window`` of the first |
| first_seen | keys learned during the baseline period, and keys seen since | a key never seen before, after the baseline |
| rate | events in the current fixed window; the busiest window learned in the baseline | a window's count passes ``factor`` x the learned peak and ``min_count`` |

While a rule's alert for a group is open, further matching events join it (count, span,
evidence) instead of feeding the detector again. State is bounded: past ``Limits.groups``
groups, the oldest group is dropped, preferring groups idle for longer than the rule's window
(their state has expired anyway); drops of live state are counted in ``Engine.stats``.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from correlation.alerts import AlertBook, Fanout, OpenAlert
from correlation.fields import Getter, KeyFn, hashable
from correlation.model import Rule

Key = tuple[Any, ...]
Memo = dict[KeyFn, Key]
Alert = OpenAlert | Fanout


@dataclass(frozen=True)
class Limits:
    groups: int = 10_000
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


def key_of(kf: KeyFn, e: Mapping[str, Any], memo: Memo) -> Key:
    key = memo.get(kf)
    if key is None:
        key = memo[kf] = kf(e)
    return key


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


class Detector:
    """The state of one detection, serving every rule with exactly this logic (conditions,
    stateful spec, aggregation, suppression): it runs once, each rule gets its own alert."""

    def __init__(self, rule: Rule, env: Env) -> None:
        self.rule = rule
        self.rules = [rule]
        self.env = env
        self.book = env.book
        self.agg = rule.aggregate_group_by
        self.agg_key = env.keyfn(rule.aggregate_group_by)
        self.sup_key = env.keyfn(rule.suppress_group_by)

    def share(self, rule: Rule) -> None:
        """Serve one more rule (same logic, other id, title, severity, tags)."""
        self.rules.append(rule)

    def handle(self, e: Mapping[str, Any], t: float, ts: str, eid: Any, memo: Memo) -> None:
        raise NotImplementedError

    def _open(self, e: Mapping[str, Any], t: float, ts: str, memo: Memo) -> Alert | None:
        """The open alert(s) of the rules for the event's aggregation group, opened if needed
        (None when every rule is suppressed for the group)."""
        key = key_of(self.agg_key, e, memo)
        book = self.book
        found = []
        for rule in self.rules:
            alert = book.get(rule, key)
            if alert is None:
                skey = key_of(self.sup_key, e, memo) if rule.suppress_window > 0 else None
                alert = book.start(rule, key, self.agg, e, t, ts, skey)
            if alert is not None:
                found.append(alert)
        return _one(found)

    def _joined(self, e: Mapping[str, Any], t: float, ts: str, eid: Any, memo: Memo) -> Alert | None:
        """Add the event to the rules' open alerts for its group, if there are any."""
        key = key_of(self.agg_key, e, memo)
        found = [a for a in (self.book.get(rule, key) for rule in self.rules) if a is not None]
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

    def handle(self, e: Mapping[str, Any], t: float, ts: str, eid: Any, memo: Memo) -> None:
        kf = self.agg_key
        key = memo.get(kf)
        if key is None:
            key = memo[kf] = kf(e)
        alert = self.recent.get(key)
        if alert is not None and alert.open:
            alert.add(eid, t, ts, e)
            return
        alert = self._open(e, t, ts, memo)
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
        super().__init__(rule, env)
        spec = rule.threshold
        assert spec is not None
        self.count = spec.count
        self.window = spec.window
        self.group_key = env.keyfn(spec.group_by)
        self.distinct = env.getter(spec.distinct) if spec.distinct else None
        self.distinct_ips = bool(spec.distinct and spec.distinct.endswith(".ip"))
        #: the alert group is the threshold group: keep the open alert in the group state
        self.own_alert = rule.aggregate_group_by == spec.group_by
        self.groups: dict[Key, list[Any]] = {}
        self.cap = max(16, min(env.limits.groups, env.limits.window_entries // spec.count))

    def handle(self, e: Mapping[str, Any], t: float, ts: str, eid: Any, memo: Memo) -> None:
        value: Any = None
        distinct = self.distinct
        if distinct is not None:
            value = distinct(e)
            if value.__class__ is not str and value.__class__ is not int:
                value = hashable(value)
                if value is None:
                    return
        kf = self.group_key
        key = memo.get(kf)
        if key is None:
            key = memo[kf] = kf(e)
        st = self.groups.get(key)
        if st is not None:
            st[0] = t
            if self.own_alert:
                alert = st[2]
                if alert is not None:
                    if alert.open:
                        alert.add(eid, t, ts, e)
                        if value is not None:
                            alert.add_value(value, self.distinct_ips)
                        return
                    st[2] = None
            tracker = st[1]
        else:
            tracker = None
        if not self.own_alert:
            alert = self._joined(e, t, ts, eid, memo)
            if alert is not None:
                if value is not None:
                    alert.add_value(value, self.distinct_ips)
                return
        if tracker is None:
            make_room(self.groups, self.cap, t, self.window, self.env.stats)
            tracker = {} if distinct is not None else deque(maxlen=self.count)
            st = self.groups[key] = [t, tracker, None]
        count = self.count
        if value is None:
            tracker.append((t, ts, eid))
            if len(tracker) < count or tracker[0][0] < t - self.window:
                return
            evidence = list(tracker)
            values: list[Any] = []
        else:
            tracker[value] = (t, ts, eid)
            if len(tracker) < count:
                return
            cutoff = t - self.window
            for v in [v for v, entry in tracker.items() if entry[0] < cutoff]:
                del tracker[v]
            if len(tracker) < count:
                return
            evidence = sorted(tracker.values(), key=lambda entry: entry[0])
            values = list(tracker)
        tracker.clear()
        alert = self._open(e, t, ts, memo)
        st[2] = alert  # type: ignore[index]
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
        super().__init__(rule, env)
        spec = rule.sequence
        assert spec is not None
        self.spec = spec
        self.group_key = env.keyfn(spec.group_by)
        self.names = [s.name for s in spec.steps]
        self.groups: dict[Key, list[Any]] = {}

    def handle(self, e: Mapping[str, Any], t: float, ts: str, eid: Any, memo: Memo) -> None:
        self.handle_steps(e, t, ts, eid, memo, (0,))

    def handle_steps(self, e: Mapping[str, Any], t: float, ts: str, eid: Any, memo: Memo, steps: tuple[int, ...] | list[int]) -> None:
        key = key_of(self.group_key, e, memo)
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
            alert = self._open(e, t, ts, memo)
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


class FirstSeenDetector(Detector):
    def __init__(self, rule: Rule, env: Env) -> None:
        super().__init__(rule, env)
        spec = rule.first_seen
        assert spec is not None
        self.key = env.keyfn(spec.key)
        self.known_key = env.keyfn(spec.known) if spec.known else None
        #: key -> the alert it raised while that alert is open, else None
        self.learned: dict[Key, Alert | None] = {}
        self.known: dict[Key, None] = {}

    def handle(self, e: Mapping[str, Any], t: float, ts: str, eid: Any, memo: Memo) -> None:
        key = key_of(self.key, e, memo)
        learned = self.learned
        seen = learned.get(key, _NEW)
        if seen is not _NEW:
            if seen is not None:
                if seen.open:
                    seen.add(eid, t, ts, e)
                else:
                    learned[key] = None
            return
        cap = self.env.limits.learned
        if len(learned) >= cap:
            learned.pop(next(iter(learned)))
            self.env.stats["state_evicted"] = self.env.stats.get("state_evicted", 0) + 1
        learned[key] = None
        sub = key_of(self.known_key, e, memo) if self.known_key is not None else None
        if self.env.in_baseline(key[0], t):
            if sub is not None and sub not in self.known:
                if len(self.known) >= cap:
                    self.known.pop(next(iter(self.known)))
                self.known[sub] = None
            return
        if sub is not None and sub not in self.known:
            return
        alert = self._open(e, t, ts, memo)
        if alert is not None:
            alert.add(eid, t, ts, e)
            self.book.emit_now(alert)
            learned[key] = alert if alert.open else None


_NEW: Any = object()


class RateDetector(Detector):
    """Fixed windows. Per group: ``[last seen, window number, count, learned peak, learning?,
    fired?, evidence]``; the peak is learned from windows that start in the baseline."""

    def __init__(self, rule: Rule, env: Env) -> None:
        super().__init__(rule, env)
        spec = rule.rate
        assert spec is not None
        self.spec = spec
        self.group_key = env.keyfn(spec.group_by)
        self.groups: dict[Key, list[Any]] = {}

    def handle(self, e: Mapping[str, Any], t: float, ts: str, eid: Any, memo: Memo) -> None:
        spec = self.spec
        key = key_of(self.group_key, e, memo)
        window = int(t // spec.window)
        st = self.groups.get(key)
        if st is None:
            make_room(self.groups, self.env.limits.groups, t, spec.window, self.env.stats)
            st = self.groups[key] = [t, window, 0, 0, self.env.in_baseline(key[0], t), False, []]
        elif st[1] != window:
            if st[4]:
                st[3] = max(st[3], st[2])
            st[1], st[2], st[4], st[5], st[6] = window, 0, self.env.in_baseline(key[0], t), False, []
        st[0] = t
        st[2] += 1
        if st[5]:
            self._joined(e, t, ts, eid, memo)
            return
        if len(st[6]) < 50:
            st[6].append((t, ts, eid))
        if st[4] or st[2] <= max(spec.min_count - 1, spec.factor * st[3]):
            return
        st[5] = True
        alert = self._open(e, t, ts, memo)
        if alert is None:
            return
        for et, ets, eeid in st[6]:
            alert.add(eeid, et, ets)
        # the whole window counts, though only its first 50 events are kept as evidence
        alert.add_count(st[2] - len(st[6]))
        alert.related(e)
        self.book.emit_now(alert)


KINDS: dict[str, type[Detector]] = {
    "match": MatchDetector,
    "threshold": ThresholdDetector,
    "sequence": SequenceDetector,
    "first_seen": FirstSeenDetector,
    "rate": RateDetector,
}
