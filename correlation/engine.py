"""The correlation engine: events in, alerts out, time taken only from the events.

Each rule becomes one matcher (a sequence: one per step); rules with identical logic share
one detector and matcher, and each still raises its own alerts. Matchers are indexed by the
``event.dataset`` / ``event.action`` values their conditions pin. For each (dataset, action)
seen, the candidate matchers are specialised (whatever depends only on the dataset and action
is decided once) and compiled into one function (``compiler.compile_bucket``), so the cost of
an event depends on the rules that could apply to it, not on the size of the rule set.
Matching events go to the detectors (``detectors``); alerts are aggregated and leave through
``process`` when their window has passed in event time, or through ``flush``.

Group keys always start with ``organization.id``: tenants never share state. The baseline of
first-seen and rate rules starts, per organization, at that organization's first event.
"""

from __future__ import annotations

import gc
from collections import Counter
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Protocol

from correlation.alerts import AlertBook
from correlation.compiler import Bucket, compile_bucket
from correlation.conditions import TRUE, Cond
from correlation.detectors import KINDS, Detector, Env, Limits, Memo, SequenceDetector
from correlation.fields import (
    MISSING,
    PLAIN_KEYS,
    Clock,
    Getter,
    KeyFn,
    getter,
    is_nested,
    iso,
    make_keyfn,
    nest,
)
from correlation.loader import DEFAULT_RULES, load_directory
from correlation.matching import index_values, specialize
from correlation.model import LoadError, Rule
from correlation.vocab import DATASETS

DEFAULT_BASELINE_SECONDS = 86_400.0
MAX_BUCKETS = 4096
MAX_ORGS = 100_000
ZONE_CACHE = 65_536
#: event seconds after which cached zone answers are asked again (the asset map learns)
ZONE_TTL = 300.0


class ZoneContext(Protocol):
    def zone_of(self, ip: str) -> Mapping[str, Any] | None: ...


class Engine:
    """Evaluate rules over an event stream (see the module docstring)."""

    def __init__(
        self,
        rules: Sequence[Rule],
        *,
        context: ZoneContext | None = None,
        baseline_seconds: float = DEFAULT_BASELINE_SECONDS,
        load_errors: Sequence[LoadError] = (),
        limits: Limits | None = None,
    ) -> None:
        self.rules = list(rules)
        self.load_errors: list[LoadError] = list(load_errors)
        self.context = context
        self.baseline_seconds = float(baseline_seconds)
        self.stats: Counter[str] = Counter()
        self.events = 0
        #: (matcher, event) pairs whose conditions held
        self.matches = 0
        self.book = AlertBook()
        self.clock = Clock()
        self._getters: dict[str, Getter] = {}
        self._zones: dict[str, tuple[str | None, float | None]] = {}
        self._zones_since = 0.0
        self._keyfns: dict[tuple[str, ...], KeyFn] = {}
        env = Env(self.book, self._keyfn, self._getter, self._in_baseline, limits or Limits(), self.stats)
        self._matchers: list[tuple[Detector, int | None]] = []
        self._index: list[tuple[frozenset[str] | None, frozenset[str] | None, Cond]] = []
        shared: dict[tuple[Any, ...], Detector] = {}
        for rule in self.rules:
            sig = _signature(rule)
            if sig in shared:
                shared[sig].share(rule)  # same logic as an earlier rule: evaluated once
                continue
            det = shared[sig] = KINDS[rule.kind](rule, env)
            if rule.sequence is not None:
                for i, step in enumerate(rule.sequence.steps):
                    self._add(det, i, step.match)
            else:
                self._add(det, None, rule.match)
        self._buckets: dict[tuple[Any, Any], Bucket] = {}
        self._compiled: dict[tuple[Any, ...], Bucket] = {}
        self._org_start: dict[Any, float] = {}
        self._track_orgs = any(r.first_seen is not None or r.rate is not None for r in self.rules)
        self._sec: str | None = None
        self._now = float("-inf")

    @classmethod
    def from_directory(
        cls,
        path: Path | None = None,
        *,
        context: ZoneContext | None = None,
        baseline_seconds: float = DEFAULT_BASELINE_SECONDS,
        limits: Limits | None = None,
    ) -> Engine:
        """Load every rule file of ``path`` (default: the repository's rules/); broken files are
        reported in ``load_errors`` and the others run."""
        rules, errors = load_directory(path if path is not None else DEFAULT_RULES)
        return cls(rules, context=context, baseline_seconds=baseline_seconds, load_errors=errors, limits=limits)

    # -- the event path ----------------------------------------------------------------------
    def process(self, event: Mapping[str, Any]) -> list[dict[str, Any]]:
        """Feed one event; returns the alerts that are complete now."""
        if event.__class__ is not dict and not isinstance(event, Mapping):
            self.stats["not_a_mapping"] += 1
            return []
        if not event.keys() <= PLAIN_KEYS and not is_nested(event):
            event = nest(event)
        self.events += 1
        ev = event.get("event")
        if ev.__class__ is dict:
            ds = ev.get("dataset")  # type: ignore[union-attr]
            act = ev.get("action")  # type: ignore[union-attr]
            if ds.__class__ is not str:
                ds = None
            if act.__class__ is not str:
                act = None
        else:
            ds = act = None
        ts = event.get("@timestamp")
        if ts.__class__ is not str or ts[:19] != self._sec:
            self._tick(ts)
        bucket = self._buckets.get((ds, act))
        if bucket is None:
            bucket = self._bucket(ds, act)
        hits = bucket(event)
        if self._track_orgs:
            org = event.get("organization")
            oid = org.get("id") if org.__class__ is dict else None  # type: ignore[union-attr]
            if oid not in self._org_start:
                self._start_org(oid, ts)
        if hits:
            self._dispatch(event, ev, ts, hits)
        book = self.book
        if book.ready:
            return book.drain()
        return []

    def flush(self) -> list[dict[str, Any]]:
        """End of stream: close every aggregation window and return the pending alerts."""
        # every open alert becomes a document here, many small containers and no cycles:
        # collections would only walk the heap again and again while the list grows
        enabled = gc.isenabled()
        gc.disable()
        try:
            self.book.flush()
        finally:
            if enabled:
                gc.enable()
        return self.book.drain()

    def _dispatch(self, event: Mapping[str, Any], ev: Any, ts: Any, hits: tuple[int, ...]) -> None:
        t = self.clock.seconds(ts)
        if t is None:
            # no usable time: the event happened "now", the latest time seen
            self.stats["bad_timestamp"] += 1
            t = self._now if self._now != float("-inf") else 0.0
            ts = iso(t)
        elif ts.__class__ is not str:
            ts = iso(t)
        eid = ev.get("id") if ev.__class__ is dict else None
        memo: Memo = {}
        self.matches += len(hits)
        steps: dict[SequenceDetector, list[int]] | None = None
        matchers = self._matchers
        for n in hits:
            det, step = matchers[n]
            if step is None:
                det.handle(event, t, ts, eid, memo)
            else:
                if steps is None:
                    steps = {}
                steps.setdefault(det, []).append(step)  # type: ignore[arg-type]
        if steps:
            for seq, numbers in steps.items():
                seq.handle_steps(event, t, ts, eid, memo, numbers)

    def _tick(self, ts: Any) -> None:
        """A new second of event time: close the alert windows that ended before it."""
        t = self.clock.seconds(ts)
        if t is None:
            return
        if ts.__class__ is str:
            self._sec = ts[:19]
        if t > self._now:
            self._now = t
            self.book.expire(t)
            if t - self._zones_since > ZONE_TTL:
                self._zones.clear()
                self._zones_since = t

    def _start_org(self, oid: Any, ts: Any) -> None:
        t = self.clock.seconds(ts)
        if t is None:
            return
        if len(self._org_start) >= MAX_ORGS:
            self._org_start.pop(next(iter(self._org_start)))
        self._org_start[oid] = t

    def _in_baseline(self, org: Any, t: float) -> bool:
        start = self._org_start.get(org)
        if start is None:
            start = self._org_start[org] = t
        return t < start + self.baseline_seconds

    # -- index ---------------------------------------------------------------------------------
    def _add(self, det: Detector, step: int | None, cond: Cond) -> None:
        datasets, rest = index_values(cond, "event.dataset")
        actions, rest = index_values(rest, "event.action")
        self._matchers.append((det, step))
        self._index.append((datasets, actions, rest))

    def _bucket(self, ds: str | None, act: str | None) -> Bucket:
        """The compiled test of the matchers that may hold for events of (dataset, action):
        conditions on the dataset and action themselves are decided here, once."""
        known: dict[str, Any] = {}
        absent = {"context"} if self.context is None else set()
        if ds is not None:
            known["event.dataset"] = ds
            # an event carries the object of its own dataset only (DESIGN.md envelope)
            absent |= DATASETS - {ds}
        if act is not None:
            known["event.action"] = act
        frozen = frozenset(absent)
        matchers: list[tuple[int, Cond]] = []
        for n, (datasets, actions, cond) in enumerate(self._index):
            if (datasets is not None and ds not in datasets) or (actions is not None and act not in actions):
                continue
            spec = specialize(cond, known, frozen)
            if spec is not False:
                matchers.append((n, TRUE if spec is True else spec))  # type: ignore[arg-type]
        key = tuple((n, c.key()) for n, c in matchers)
        fn = self._compiled.get(key)
        if fn is None:
            if len(self._compiled) >= MAX_BUCKETS:
                self._compiled.clear()
            fn = self._compiled[key] = compile_bucket(matchers, self._getter, self._value)
        if len(self._buckets) >= MAX_BUCKETS:
            self._buckets.clear()
        self._buckets[(ds, act)] = fn
        return fn

    # -- fields -----------------------------------------------------------------------------
    def _getter(self, path: str) -> Getter:
        g = self._getters.get(path)
        if g is None:
            g = self._getters[path] = self._context_getter(path) if path.startswith("context.") else getter(path)
        return g

    def _value(self, path: str, e: Mapping[str, Any]) -> Any:
        return self._getter(path)(e)

    def _keyfn(self, fields: tuple[str, ...]) -> KeyFn:
        fn = self._keyfns.get(fields)
        if fn is None:
            fn = self._keyfns[fields] = make_keyfn(fields, self._getter)
        return fn

    def _zone(self, e: Mapping[str, Any], side: str) -> tuple[str | None, float | None]:
        """(zone name, Purdue level) of one end of the event; either may be unknown (None).

        ``context.zone_of(ip)`` answers ``{"zone": name or None, "level": number or None}`` or
        None; answers are cached per address for ZONE_TTL seconds of event time."""
        obj = e.get(side)
        ip = obj.get("ip") if obj.__class__ is dict else None  # type: ignore[union-attr]
        if ip.__class__ is not str or self.context is None:
            return _UNKNOWN
        z = self._zones.get(ip)
        if z is None:
            answer = self.context.zone_of(ip)
            z = _UNKNOWN
            if isinstance(answer, Mapping):
                name, level = answer.get("zone"), answer.get("level")
                z = (
                    name if isinstance(name, str) else None,
                    float(level) if isinstance(level, int | float) and not isinstance(level, bool) else None,
                )
            if len(self._zones) >= ZONE_CACHE:
                self._zones.clear()
            self._zones[ip] = z
        return z

    def _context_getter(self, path: str) -> Getter:
        if self.context is None:
            return _absent
        parts = path.split(".")
        if parts[1] in ("source", "destination"):
            side = parts[1]
            index = 0 if parts[2] == "zone" else 1

            def one(e: Mapping[str, Any]) -> Any:
                value = self._zone(e, side)[index]
                return MISSING if value is None else value

            return one
        crossing = parts[1] == "zone_crossing"

        def both(e: Mapping[str, Any]) -> Any:
            a = self._zone(e, "source")
            b = self._zone(e, "destination")
            if crossing:
                return MISSING if a[0] is None or b[0] is None else a[0] != b[0]
            return MISSING if a[1] is None or b[1] is None else abs(a[1] - b[1])

        return both


_UNKNOWN: tuple[str | None, float | None] = (None, None)


def _absent(e: Mapping[str, Any]) -> Any:
    """Context fields of an engine without a context: always absent."""
    return MISSING


def _signature(rule: Rule) -> tuple[Any, ...]:
    """Everything that decides when a rule alerts and what its alerts hold, except its name,
    text, severity and tags: rules with equal signatures can share one detector."""
    if rule.sequence is not None:
        seq = rule.sequence
        logic: Any = (seq.window, seq.group_by, tuple((st.name, st.match.key()) for st in seq.steps))
    else:
        logic = (rule.match.key(), rule.threshold, rule.first_seen, rule.rate)
    return (
        rule.kind, logic, rule.aggregate_window, rule.aggregate_group_by,
        rule.suppress_window, rule.suppress_group_by,
    )
