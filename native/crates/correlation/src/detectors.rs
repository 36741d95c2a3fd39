//! Per-rule detectors (`correlation/detectors.py`): what happens when a rule's conditions hold
//! for an event.
//!
//! | kind | state per group (always within one organization) | fires when |
//! |---|---|---|
//! | match | none | every matching event (aggregated into one alert per window) |
//! | threshold | the last `count` event times, or the distinct values in the window | `count` events / values within `window` |
//! | sequence | the next expected step, when it started, the evidence | the last step within `window` of the first |
//!
//! (first_seen and rate: `baselines`). While a rule's alert for a group is open, further
//! matching events join it instead of feeding the detector again. Each detector gets the key
//! of its primary grouping, or None when that reads `context.*` fields (it builds it itself).
//! State is bounded (`Limits`): past a cap the oldest group goes, idle ones first.

use crate::alerts::{Alert, AlertBook, Ends, Origin, Start};
use crate::baselines::{FirstSeenDetector, Orgs, RateDetector};
use crate::bucket::Reader;
use crate::keys::{build, KeyBuf, KeySpec};
use crate::limits::Limits;
use crate::linked::LinkedMap;
pub use crate::sequence::SequenceDetector;
pub use crate::threshold::ThresholdDetector;
use crate::value::{to_json, Val};
use crate::view::{EventView, Obj};
use icssa_core::json::Value;
use std::borrow::Cow;
use std::rc::Rc;
use std::sync::Arc;

/// `event.id` of the event being handled, copied once something keeps it.
pub struct Eid<'e> {
    text: Option<Cow<'e, str>>,
    rc: Option<Rc<str>>,
}

impl<'e> Eid<'e> {
    /// `eid if eid.__class__ is str else str(eid)`; None for None.
    pub fn new(v: Val<'e>) -> Self {
        let text = match v {
            Val::Missing | Val::Null => None,
            Val::Str(s) => Some(Cow::Borrowed(s)),
            other => {
                let mut s = String::new();
                crate::value::py_str(&other, &mut s);
                Some(Cow::Owned(s))
            }
        };
        Eid { text, rc: None }
    }

    pub fn get(&mut self) -> Option<Rc<str>> {
        if self.rc.is_none() {
            self.rc = self.text.as_deref().map(Rc::from);
        }
        self.rc.clone()
    }
}

/// One event's time, id and surroundings, for the detectors it reaches.
pub struct Cx<'a, 'e, 'z, E: EventView> {
    pub r: &'a mut Reader<'e, 'z, E>,
    pub book: &'a mut AlertBook,
    pub specs: &'a [KeySpec],
    pub orgs: &'a mut Orgs,
    pub evicted: &'a mut u64,
    pub limits: Limits,
    pub t: f64,
    pub ts: &'a Arc<str>,
    pub eid: &'a mut Eid<'e>,
}

impl<'e, E: EventView> Cx<'_, 'e, '_, E> {
    /// The addresses of the event's ends (for related.ip).
    pub fn ends(&self) -> Ends<'e> {
        let side = |dest: bool| match self.r.e.end(dest) {
            crate::view::End {
                obj: Obj::Dict,
                ip: Some(Val::Str(s)),
                ..
            } => Some(s),
            _ => None,
        };
        Ends {
            src: side(false),
            dst: side(true),
        }
    }

    fn origin(&self) -> Origin {
        let e = self.r.e;
        let end = |dest: bool| {
            let x = e.end(dest);
            (x.obj == Obj::Dict).then(|| (x.ip.as_ref().map(to_json), x.port.as_ref().map(to_json)))
        };
        Origin {
            src: end(false),
            dst: end(true),
            org: e.organization_id().map_or(Value::Null, |v| to_json(&v)),
            observer: to_json(&e.envelope("observer", "name")),
            community_id: to_json(&e.envelope("network", "community_id")),
        }
    }

    pub fn key(&mut self, spec: usize) -> KeyBuf<'e> {
        build(self.r, &self.specs[spec])
    }

    /// `(t, ts, eid)` of the event, as trackers keep it.
    pub fn entry(&mut self) -> Entry {
        (self.t, self.ts.clone(), self.eid.get())
    }

    /// The event's id when one of `a` still keeps evidence ids (copied only then).
    pub fn eid_for(&mut self, a: &Alert) -> Option<Rc<str>> {
        if self.book.has_room(a) {
            self.eid.get()
        } else {
            None
        }
    }

    /// One more evidence event for `a`, with the event's addresses.
    pub fn add(&mut self, a: &Alert) {
        let (eid, ends) = (self.eid_for(a), self.ends());
        self.book.add(a, eid.as_ref(), self.t, self.ts, Some(ends));
    }
}

/// An event as trackers keep it: time, `@timestamp`, id.
pub type Entry = (f64, Arc<str>, Option<Rc<str>>);

/// A rule a detector raises alerts for.
#[derive(Debug, Clone)]
pub struct Served {
    pub rule: usize,
    pub tag: u32,
    pub aggregate_window: f64,
    pub suppress_window: f64,
}

/// What every detector has: the rules it serves and its groupings.
#[derive(Debug)]
pub struct Common {
    pub served: Vec<Served>,
    pub agg: usize,
    pub sup: usize,
    pub primary: usize,
    /// events join its alerts by a group holding both ends' addresses
    pub same_ends: bool,
}

impl Common {
    pub fn agg_is_primary(&self) -> bool {
        self.agg == self.primary
    }

    /// The key of `primary` (given, or built when it reads the context).
    pub fn primary_key<'k, 'e, E: EventView>(
        &self,
        cx: &mut Cx<'_, 'e, '_, E>,
        key: Option<&'k KeyBuf<'e>>,
    ) -> Cow<'k, KeyBuf<'e>> {
        match key {
            Some(k) => Cow::Borrowed(k),
            None => Cow::Owned(cx.key(self.primary)),
        }
    }

    fn agg_key<'k, 'e, E: EventView>(
        &self,
        cx: &mut Cx<'_, 'e, '_, E>,
        key: &'k KeyBuf<'e>,
    ) -> Cow<'k, KeyBuf<'e>> {
        if self.agg_is_primary() {
            Cow::Borrowed(key)
        } else {
            Cow::Owned(cx.key(self.agg))
        }
    }

    /// `_open`: the open alert(s) of the rules for the event's aggregation group, opened if
    /// needed (None when every rule is suppressed for the group).
    pub fn open<'e, E: EventView>(
        &self,
        cx: &mut Cx<'_, 'e, '_, E>,
        key: &KeyBuf<'e>,
    ) -> Option<Alert> {
        let agg = self.agg_key(cx, key);
        let mut found = Vec::new();
        let mut skey: Option<KeyBuf<'e>> = None;
        let mut origin: Option<Origin> = None;
        for s in &self.served {
            if let Some(id) = cx.book.get(s.tag, &*agg) {
                found.push(id);
                continue;
            }
            if s.suppress_window > 0.0 && skey.is_none() {
                skey = Some(if self.sup == self.agg {
                    agg.clone().into_owned()
                } else {
                    cx.key(self.sup)
                });
            }
            let origin = origin.get_or_insert_with(|| cx.origin());
            let start = Start {
                rule: s.rule,
                tag: s.tag,
                aggregate_window: s.aggregate_window,
                suppress_window: s.suppress_window,
                key: &*agg,
                group: cx.specs[self.agg].names.clone(),
                same_ends: self.same_ends,
            };
            let sk = if s.suppress_window > 0.0 {
                skey.as_ref()
            } else {
                None
            };
            if let Some(id) = cx.book.start(start, sk, origin, cx.t, cx.ts) {
                found.push(id);
            }
        }
        Alert::of(found)
    }

    /// `_joined`: adds the event to the rules' open alerts for its group, if any.
    pub fn joined<'e, E: EventView>(
        &self,
        cx: &mut Cx<'_, 'e, '_, E>,
        key: &KeyBuf<'e>,
    ) -> Option<Alert> {
        let agg = self.agg_key(cx, key);
        let found = self
            .served
            .iter()
            .filter_map(|s| cx.book.get(s.tag, &*agg))
            .collect();
        let alert = Alert::of(found)?;
        cx.add(&alert);
        Some(alert)
    }
}

/// Drops groups until one more fits; idle ones (last seen before `now - idle`) go first.
pub fn make_room<S>(
    groups: &mut LinkedMap<S>,
    cap: usize,
    now: f64,
    idle: f64,
    last: impl Fn(&S) -> f64,
    evicted: &mut u64,
) {
    while groups.len() >= cap {
        let mut dropped = false;
        for _ in 0..8 {
            let Some(front) = groups.front() else { return };
            if groups.at(front).is_some_and(|s| last(s) < now - idle) {
                groups.remove_at(front);
                dropped = true;
                break;
            }
            groups.move_to_back(front); // still live: a second chance at the young end
        }
        if !dropped {
            groups.pop_front();
            *evicted += 1;
        }
    }
}

/// A detector: its rules and groupings, and its kind's state.
pub struct Detector {
    pub c: Common,
    pub kind: Kind,
}

pub enum Kind {
    Match(MatchDetector),
    Threshold(ThresholdDetector),
    Sequence(SequenceDetector),
    FirstSeen(FirstSeenDetector),
    Rate(RateDetector),
}

impl Detector {
    /// One matching event (for a sequence: its first step).
    pub fn handle<'e, E: EventView>(
        &mut self,
        cx: &mut Cx<'_, 'e, '_, E>,
        key: Option<&KeyBuf<'e>>,
    ) {
        match &mut self.kind {
            Kind::Match(d) => d.handle(&self.c, cx, key),
            Kind::Threshold(d) => d.handle(&self.c, cx, key),
            Kind::Sequence(d) => d.handle_steps(&self.c, cx, key, &[0]),
            Kind::FirstSeen(d) => d.handle(&self.c, cx, key),
            Kind::Rate(d) => d.handle(&self.c, cx, key),
        }
    }

    /// The steps of a sequence that hold for the event.
    pub fn handle_steps<'e, E: EventView>(
        &mut self,
        cx: &mut Cx<'_, 'e, '_, E>,
        key: Option<&KeyBuf<'e>>,
        steps: &[usize],
    ) {
        if let Kind::Sequence(d) = &mut self.kind {
            d.handle_steps(&self.c, cx, key, steps);
        }
    }
}

/// Every matching event is evidence; the open alert of each group is kept at hand.
#[derive(Default)]
pub struct MatchDetector {
    recent: LinkedMap<Alert>,
}

impl MatchDetector {
    fn handle<'e, E: EventView>(
        &mut self,
        c: &Common,
        cx: &mut Cx<'_, 'e, '_, E>,
        key: Option<&KeyBuf<'e>>,
    ) {
        let key = c.primary_key(cx, key);
        if let Some(a) = self.recent.get(0, &*key) {
            if cx.book.is_open(a) {
                let a = a.clone();
                cx.add(&a);
                return;
            }
        }
        let Some(alert) = c.open(cx, &key) else {
            return;
        };
        cx.add(&alert);
        cx.book.emit_now(&alert);
        if cx.book.is_open(&alert) {
            if self.recent.len() >= cx.limits.groups {
                for slot in self.recent.slots() {
                    if self.recent.at(slot).is_some_and(|a| !cx.book.is_open(a)) {
                        self.recent.remove_at(slot);
                    }
                }
                if self.recent.len() >= cx.limits.groups {
                    self.recent.pop_front();
                }
            }
            self.recent.set(0, &*key, alert);
        }
    }
}
