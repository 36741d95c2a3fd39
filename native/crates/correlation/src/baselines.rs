//! Detectors of rules with a baseline (`correlation/baselines.py`): first seen (`first_seen`)
//! and request rates (`rate`). Both learn during the baseline period of the event's
//! organization (from that organization's first event, `baseline_seconds` long) and alert
//! afterwards; see `detectors` for the calling convention and the bounds of their state.

use crate::alerts::Alert;
use crate::clock::floordiv;
use crate::detectors::{make_room, Common, Cx, Entry};
use crate::keys::KeyBuf;
use crate::linked::LinkedMap;
use crate::value::{Owned, KV};
use crate::view::EventView;

/// When each organization's baseline started (`Engine._org_start`).
pub struct Orgs {
    pub start: LinkedMap<f64>,
    pub baseline_seconds: f64,
}

impl Orgs {
    /// `Engine._in_baseline(org, t)`: an organization not seen yet starts now.
    pub fn in_baseline(&mut self, org: &KV<impl AsRef<str>>, t: f64) -> bool {
        let key = std::slice::from_ref(org);
        let start = match self.start.get(0, key) {
            Some(&s) => s,
            None => {
                self.start.set(0, key, t);
                t
            }
        };
        t < start + self.baseline_seconds
    }
}

/// Keys learned during the baseline (bounded by `Limits.learned`, oldest first); after it, a
/// key never seen raises an alert, which later events of the key join while it is open.
pub struct FirstSeenDetector {
    known_spec: Option<usize>,
    /// key -> the alert it raised while that alert is open, else None
    learned: LinkedMap<Option<Alert>>,
    known: LinkedMap<()>,
}

impl FirstSeenDetector {
    pub fn new(known_spec: Option<usize>) -> Self {
        FirstSeenDetector {
            known_spec,
            learned: LinkedMap::default(),
            known: LinkedMap::default(),
        }
    }

    pub fn handle<'e, E: EventView>(
        &mut self,
        c: &Common,
        cx: &mut Cx<'_, 'e, '_, E>,
        key: Option<&KeyBuf<'e>>,
    ) {
        let key = c.primary_key(cx, key);
        if let Some(slot) = self.learned.find(0, &*key) {
            if let Some(Some(seen)) = self.learned.at(slot).cloned() {
                if cx.book.is_open(&seen) {
                    cx.add(&seen);
                } else if let Some(v) = self.learned.at_mut(slot) {
                    *v = None;
                }
            }
            return;
        }
        let cap = cx.limits.learned;
        if self.learned.len() >= cap {
            self.learned.pop_front();
            *cx.evicted += 1;
        }
        let slot = self.learned.push(0, &*key, None);
        let sub = self.known_spec.map(|s| cx.key(s));
        let org = key.first().cloned().unwrap_or(KV::None);
        if cx.orgs.in_baseline(&org, cx.t) {
            if let Some(sub) = sub {
                if self.known.find(0, &sub).is_none() {
                    if self.known.len() >= cap {
                        self.known.pop_front();
                    }
                    self.known.push(0, &sub, ());
                }
            }
            return;
        }
        if sub.is_some_and(|sub| self.known.find(0, &sub).is_none()) {
            return;
        }
        let Some(alert) = c.open(cx, &key) else {
            return;
        };
        cx.add(&alert);
        cx.book.emit_now(&alert);
        let open = cx.book.is_open(&alert);
        if let Some(v) = self.learned.at_mut(slot) {
            *v = open.then_some(alert);
        }
    }
}

/// Fixed windows. Per group: last seen, window number, count, the learned peak, whether the
/// window learns (starts in the baseline), whether it fired, its first 50 events.
struct RateState {
    last: f64,
    window: i64,
    count: i64,
    peak: i64,
    learning: bool,
    fired: bool,
    evidence: Vec<Entry>,
}

pub struct RateDetector {
    window: f64,
    factor: f64,
    min_count: i128,
    groups: LinkedMap<RateState>,
}

impl RateDetector {
    pub fn new(window: f64, factor: f64, min_count: i128) -> Self {
        RateDetector {
            window,
            factor,
            min_count,
            groups: LinkedMap::default(),
        }
    }

    pub fn handle<'e, E: EventView>(
        &mut self,
        c: &Common,
        cx: &mut Cx<'_, 'e, '_, E>,
        key: Option<&KeyBuf<'e>>,
    ) {
        let key = c.primary_key(cx, key);
        let window = floordiv(cx.t, self.window) as i64;
        let org: Owned = key.first().map_or(KV::None, KV::to_owned_kv);
        let slot = match self.groups.find(0, &*key) {
            Some(slot) if self.groups.at(slot).is_some_and(|st| st.window == window) => slot,
            Some(slot) => {
                let learning = cx.orgs.in_baseline(&org, cx.t);
                let st = self
                    .groups
                    .at_mut(slot)
                    .expect("a found slot holds a state");
                if st.learning {
                    st.peak = st.peak.max(st.count);
                }
                (st.window, st.count, st.learning, st.fired) = (window, 0, learning, false);
                st.evidence.clear();
                slot
            }
            None => {
                make_room(
                    &mut self.groups,
                    cx.limits.groups,
                    cx.t,
                    self.window,
                    |s| s.last,
                    cx.evicted,
                );
                let learning = cx.orgs.in_baseline(&org, cx.t);
                let st = RateState {
                    last: cx.t,
                    window,
                    count: 0,
                    peak: 0,
                    learning,
                    fired: false,
                    evidence: Vec::new(),
                };
                self.groups.push(0, &*key, st)
            }
        };
        let entry = cx.entry();
        let st = self
            .groups
            .at_mut(slot)
            .expect("the group was just found or made");
        st.last = cx.t;
        st.count += 1;
        if st.learning {
            return; // a window of the baseline only counts (it never fires: no evidence kept)
        }
        if st.fired {
            c.joined(cx, &key);
            return;
        }
        if st.evidence.len() < 50 {
            st.evidence.push(entry);
        }
        // count <= max(min_count - 1, factor * peak), ints and floats compared exactly
        let limit = self.factor * st.peak as f64;
        let below = i128::from(st.count) < self.min_count
            || crate::value::int_float_cmp(i128::from(st.count), limit).is_some_and(|o| o.is_le());
        if below {
            return;
        }
        st.fired = true;
        let (count, evidence) = (st.count, st.evidence.clone());
        let Some(alert) = c.open(cx, &key) else {
            return;
        };
        for (et, ets, eeid) in &evidence {
            cx.book.add(&alert, eeid.as_ref(), *et, ets, None);
        }
        // the whole window counts, though only its first 50 events are kept as evidence
        cx.book.add_count(&alert, count - evidence.len() as i64);
        let ends = cx.ends();
        cx.book.related(&alert, ends);
        cx.book.emit_now(&alert);
    }
}
