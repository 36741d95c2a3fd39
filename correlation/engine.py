"""The correlation engine: events in, alerts out, time taken only from the events.

Each rule becomes one matcher (a sequence: one per step); rules with identical logic share
one detector and matcher, and each still raises its own alerts. Matchers are indexed by the
``event.dataset`` / ``event.action`` values their conditions pin. For each (dataset, action)
seen, the candidate matchers are specialised (whatever depends only on the dataset and action
is decided once) and compiled into one function (``compiler.compile_bucket``), so the cost of
an event depends on the rules that could apply to it, not on the size of the rule set. The
bucket answers with a bit mask of the matchers that hold; each mask met gets its own
generated dispatch (``plans.compile_plan``) that computes the group keys its detectors share
once and calls them (``detectors``). Alerts are aggregated and leave through ``process`` when
their window has passed in event time, or through ``flush``. The event's time is parsed only
when some matcher holds.

Group keys always start with ``organization.id`` (as ``fields.hashable`` holds values: an id
that is a list or a mapping, from events read off the bus, is a tenant too): tenants never
share state. The baseline of first-seen and rate rules starts, per organization, at that
organization's first event (the organization object of the latest event is remembered by
identity: the sensor shares one per organization and never changes it).

Memory does not grow with the stream: every table is capped, and the oldest entries go first
(``tests/test_correlation_bounds.py`` drives each cap with ever new hosts and values).

| state | cap |
|---|---|
| per-rule detector state | ``Limits`` (see ``correlation.detectors``) |
| open alerts; suppression memory | ``alerts.MAX_OPEN``; ``alerts.MAX_SUPPRESSED`` |
| evidence ids, related addresses, distinct values per alert | ``alerts.MAX_EVIDENCE``, ``MAX_RELATED_IP``, ``MAX_VALUES`` |
| organizations whose baseline start is known | ``MAX_ORGS`` |
| zone answers (per address, for ``ZONE_TTL`` s of event time) | ``ZONE_CACHE`` |
| compiled buckets; dispatch plans | ``MAX_BUCKETS``; ``MAX_PLANS`` |
| whole seconds parsed; CIDR answers per network test; compiled code | ``fields.CLOCK_CACHE``; ``Cidr.CACHE``; ``codegen.MAX_CODE`` |
"""

from __future__ import annotations

import gc
from collections import Counter
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from correlation.alerts import AlertBook
from correlation.baselines import FirstSeenDetector, RateDetector
from correlation.compiler import Bucket, compile_bucket
from correlation.conditions import TRUE, Cond
from correlation.context import ZoneCache, ZoneContext
from correlation.detectors import Detector, Env, Limits, MatchDetector, SequenceDetector, ThresholdDetector
from correlation.fields import (
    MISSING,
    PLAIN_KEYS,
    SIMPLE,
    Clock,
    Getter,
    KeyFn,
    getter,
    hashable,
    is_nested,
    iso,
    make_keyfn,
    nest,
)
from correlation.loader import DEFAULT_RULES, load_directory
from correlation.matching import index_values, specialize
from correlation.model import LoadError, Rule
from correlation.plans import PlanFn, compile_plan
from correlation.vocab import DATASETS

DEFAULT_BASELINE_SECONDS = 86_400.0
MAX_BUCKETS = 4096
#: dispatch plans kept in all (one per distinct set of matchers seen holding together)
MAX_PLANS = 4096
MAX_ORGS = 100_000
ZONE_CACHE = 65_536
#: event seconds after which cached zone answers are asked again (the asset map learns)
ZONE_TTL = 300.0


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
        self._zones = ZoneCache(context, ZONE_CACHE, ZONE_TTL) if context is not None else None
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
        #: dataset -> action -> bucket (str or None keys only: anything else misses)
        self._buckets: dict[str | None, dict[str | None, Bucket]] = {}
        self._nbuckets = 0
        self._compiled: dict[tuple[Any, ...], Bucket] = {}
        self._plans = 0
        self._org_start: dict[Any, float] = {}
        #: the organization object (a dict) of the latest event, and its id, once that is noted
        self._org: Any = _NO_ORG
        self._org_id: Any = _NO_ORG
        self._track_orgs = any(r.first_seen is not None or r.rate is not None for r in self.rules)
        #: the whole second (``@timestamp[:19]``) of the latest _tick, and its time when known
        self._sec: str | None = None
        self._base: float | None = None
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
        if event.__class__ is not dict or not _plain(event):
            event = self._normal(event)  # type: ignore[assignment]
            if event is None:
                return []
        self.events += 1
        ev = event.get("event")
        ts = event.get("@timestamp")
        if ts.__class__ is not str or ts[:19] != self._sec:
            self._tick(ts)
        try:
            # only (str or None, str or None) keys are stored: anything else (an absent key
            # included, which _bucket_of reads as None) misses
            bucket = self._buckets[ev["dataset"]][ev["action"]] if ev.__class__ is dict else self._bucket_of(ev)  # type: ignore[index]
        except (KeyError, TypeError):
            bucket = self._bucket_of(ev)
        mask = bucket.test(event)
        if self._track_orgs:
            org = event.get("organization")
            # the organization of the latest event again (the same object, or one with its id)
            if org is not self._org and (org.__class__ is not dict or org.get("id") != self._org_id):
                self._start_org(org, ts)
        if mask:
            plan = bucket.plans.get(mask) or self._plan(bucket, mask)
            self.matches += plan[1]
            # the time: the sensor's form (YYYY-MM-DDTHH:MM:SS.ffffffZ) within the second
            # that _tick parsed, as Clock.seconds computes it; anything else through the clock
            base = self._base
            if base is not None and len(ts) == 27 and ts[19::7] == ".Z" and (frac := ts[20:26]).isdecimal():  # type: ignore[arg-type,index]
                t = base + int(frac) * 1e-6
            else:
                t, ts = self._time(ts)
            plan[0](event, t, ts, ev.get("id") if ev.__class__ is dict else None)  # type: ignore[union-attr,arg-type]
        if self.book.ready:
            return self.book.drain()
        return []

    def _normal(self, event: Any) -> dict[str, Any] | Mapping[str, Any] | None:
        """The event in the nested form the compiled readers expect (None: not an event)."""
        if event.__class__ is not dict and not isinstance(event, Mapping):
            self.stats["not_a_mapping"] += 1
            return None
        return event if is_nested(event) else nest(event)

    def _bucket_of(self, ev: Any) -> Bucket:
        """The bucket of an event whose (dataset, action) is not a known pair of strings."""
        ds = act = None
        if ev.__class__ is dict:
            ds, act = ev.get("dataset"), ev.get("action")
            ds = ds if ds.__class__ is str else None
            act = act if act.__class__ is str else None
        bucket = self._buckets.get(ds, {}).get(act)
        return bucket if bucket is not None else self._bucket(ds, act)

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

    def _time(self, ts: Any) -> tuple[float, str]:
        """(seconds, ISO text) of an event's @timestamp, whatever its form."""
        t = self.clock.seconds(ts)
        if t is None:
            # no usable time: the event happened "now", the latest time seen
            self.stats["bad_timestamp"] += 1
            t = self._now if self._now != float("-inf") else 0.0
            return t, iso(t)
        return t, ts if ts.__class__ is str else iso(t)

    def _plan(self, bucket: Bucket, mask: int) -> tuple[PlanFn, int]:
        """Compile the dispatch of the matchers in ``mask`` (at most MAX_PLANS in all: past
        that, every bucket starts again from none)."""
        if self._plans >= MAX_PLANS:
            for b in self._compiled.values():
                b.plans.clear()
            self._plans = 0
        numbers = bucket.numbers(mask)
        plan = bucket.plans[mask] = (compile_plan(numbers, self._matchers, self._getter), len(numbers))
        self._plans += 1
        return plan

    def _tick(self, ts: Any) -> None:
        """A new second of event time: close the alert windows that ended before it."""
        self._base = None
        t = self.clock.seconds(ts)
        if t is None:
            return
        if ts.__class__ is str:
            self._sec = ts[:19]
            self._base = self.clock.base(self._sec)
        if t > self._now:
            self._now = t
            self.book.expire(t)
            if self._zones is not None:
                self._zones.tick(t)

    def _start_org(self, org: Any, ts: Any) -> None:
        """Note when each organization's first event was (its baseline starts there). The
        object of the latest event is remembered: the sensor shares one per organization, so
        the next events need not look it up again."""
        oid = org.get("id") if org.__class__ is dict else None
        if oid.__class__ is not str and oid.__class__ not in SIMPLE:
            oid = hashable(oid)  # a list or a mapping: as group keys hold it (key[0])
        if oid not in self._org_start:
            t = self.clock.seconds(ts)
            if t is None:
                return
            if len(self._org_start) >= MAX_ORGS:
                self._org_start.pop(next(iter(self._org_start)))
                self._org = self._org_id = _NO_ORG  # it may have been the one forgotten
            self._org_start[oid] = t
        if org.__class__ is dict:
            self._org, self._org_id = org, oid
        else:
            self._org = self._org_id = _NO_ORG

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
                # every bucket (and its plans) goes: _buckets only ever holds compiled ones
                self._compiled.clear()
                self._buckets.clear()
                self._nbuckets = self._plans = 0
            fn = self._compiled[key] = compile_bucket(matchers, self._getter, self._value, self._zones)
        if self._nbuckets >= MAX_BUCKETS:
            self._buckets.clear()
            self._nbuckets = 0
        self._buckets.setdefault(ds, {})[act] = fn
        self._nbuckets += 1
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

    def _context_getter(self, path: str) -> Getter:
        zones = self._zones
        if zones is None:
            return _absent
        parts = path.split(".")
        if parts[1] in ("source", "destination"):
            side = parts[1]
            index = 0 if parts[2] == "zone" else 1

            def one(e: Mapping[str, Any]) -> Any:
                value = zones.side(e, side)[index]
                return MISSING if value is None else value

            return one
        crossing = parts[1] == "zone_crossing"

        def both(e: Mapping[str, Any]) -> Any:
            a = zones.side(e, "source")
            b = zones.side(e, "destination")
            if crossing:
                return MISSING if a[0] is None or b[0] is None else a[0] != b[0]
            return MISSING if a[1] is None or b[1] is None else abs(a[1] - b[1])

        return both


_NO_ORG = object()
#: True when no top-level key of an event is dotted (a quick test for the usual keys)
_plain = PLAIN_KEYS.issuperset

KINDS: dict[str, type[Detector]] = {
    "match": MatchDetector,
    "threshold": ThresholdDetector,
    "sequence": SequenceDetector,
    "first_seen": FirstSeenDetector,
    "rate": RateDetector,
}


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
