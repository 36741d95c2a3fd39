"""Detectors of rules with a baseline: first seen (``first_seen``) and request rates (``rate``).

Both learn during the baseline period of the event's organization (``Env.in_baseline``: from
that organization's first event, ``Engine(baseline_seconds=...)`` long) and alert afterwards;
see ``correlation.detectors`` for the calling convention and the bounds of their state.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from correlation.detectors import ENDS, Alert, Detector, Env, Key, make_room
from correlation.model import Rule


class FirstSeenDetector(Detector):
    """Keys learned during the baseline (bounded by ``Limits.learned``, oldest first); after
    it, a key never seen raises an alert, which later events of the key join while it is open."""

    def __init__(self, rule: Rule, env: Env) -> None:
        spec = rule.first_seen
        assert spec is not None
        super().__init__(rule, env, spec.key)
        self.known_key = env.keyfn(spec.known) if spec.known else None
        # a key's later events join the alert it raised: they share the key's fields too
        self.same_ends = self.same_ends and ENDS <= set(spec.key)
        #: key -> the alert it raised while that alert is open, else None
        self.learned: dict[Key, Alert | None] = {}
        self.known: dict[Key, None] = {}

    def inline(self, key: str, value: str, const: Callable[[Any], str]) -> list[str]:
        if key == "None":
            return super().inline(key, value, const)
        # a key learned before and no alert of it open: nothing to do (see handle)
        return [
            f"if {const(self.learned)}.get({key}, {const(_NEW)}) is not None:",
            f"    {const(self.handle)}(e, t, ts, eid, {key})",
        ]

    def handle(self, e: Mapping[str, Any], t: float, ts: str, eid: Any, key: Key | None) -> None:
        if key is None:
            key = self.primary(e)
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
        sub = self.known_key(e) if self.known_key is not None else None
        if self.env.in_baseline(key[0], t):
            if sub is not None and sub not in self.known:
                if len(self.known) >= cap:
                    self.known.pop(next(iter(self.known)))
                self.known[sub] = None
            return
        if sub is not None and sub not in self.known:
            return
        alert = self._open(e, t, ts, key)
        if alert is not None:
            alert.add(eid, t, ts, e)
            self.book.emit_now(alert)
            learned[key] = alert if alert.open else None


_NEW: Any = object()

#: 2 ** 63: window numbers are signed 64-bit ints, as the native engine holds them
_I64 = 9_223_372_036_854_775_808.0


def _number(q: float) -> int:
    """The window number of ``q = t // window``: beyond the 64-bit range, its bound; NaN (a NaN
    or infinite time) is window 0 (the native engine's saturating cast)."""
    if -_I64 <= q < _I64:
        return int(q)
    if q != q:
        return 0
    return (1 << 63) - 1 if q > 0 else -(1 << 63)


class RateDetector(Detector):
    """Fixed windows. Per group: ``[last seen, window number, count, learned peak, learning?,
    fired?, evidence]``; the peak is learned from windows that start in the baseline."""

    def __init__(self, rule: Rule, env: Env) -> None:
        spec = rule.rate
        assert spec is not None
        super().__init__(rule, env, spec.group_by)
        self.spec = spec
        self.groups: dict[Key, list[Any]] = {}

    def inline(self, key: str, value: str, const: Callable[[Any], str]) -> list[str]:
        if key == "None":
            return super().inline(key, value, const)
        # one more event in the current window of a group learning its peak (see handle)
        return [
            f"st = {const(self.groups)}.get({key})",
            f"if st is not None and st[4] and st[1] == t // {const(self.spec.window)}:",
            "    st[0] = t",
            "    st[2] += 1",
            "else:",
            f"    {const(self.handle)}(e, t, ts, eid, {key})",
        ]

    def handle(self, e: Mapping[str, Any], t: float, ts: str, eid: Any, key: Key | None) -> None:
        if key is None:
            key = self.primary(e)
        # the window number: ``t // window`` (a whole float) equals the int the group holds
        # exactly when it is that window; else its number as a 64-bit int (see _number)
        q = t // self.spec.window
        st = self.groups.get(key)
        if st is None or st[1] != q:
            window = _number(q)
            if st is None or st[1] != window:
                st = self._window(key, t, window, st)
        st[0] = t
        st[2] += 1
        if st[4]:
            return  # a window of the baseline only counts (it never fires: no evidence kept)
        if st[5]:
            self._joined(e, t, ts, eid, key)
            return
        if len(st[6]) < 50:
            st[6].append((t, ts, eid))
        spec = self.spec
        if st[2] <= max(spec.min_count - 1, spec.factor * st[3]):
            return
        st[5] = True
        alert = self._open(e, t, ts, key)
        if alert is None:
            return
        for et, ets, eeid in st[6]:
            alert.add(eeid, et, ets)
        # the whole window counts, though only its first 50 events are kept as evidence
        alert.add_count(st[2] - len(st[6]))
        alert.related(e)
        self.book.emit_now(alert)

    def _window(self, key: Key, t: float, window: int, st: list[Any] | None) -> list[Any]:
        """The state of ``key`` for a new window: a new group, or the next window of one."""
        if st is None:
            make_room(self.groups, self.env.limits.groups, t, self.spec.window, self.env.stats)
            st = self.groups[key] = [t, window, 0, 0, self.env.in_baseline(key[0], t), False, []]
        else:
            if st[4]:
                st[3] = max(st[3], st[2])
            st[1], st[2], st[4], st[5], st[6] = window, 0, self.env.in_baseline(key[0], t), False, []
        return st
