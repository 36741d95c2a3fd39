//! Threshold detectors (`ThresholdDetector` of `correlation/detectors.py`): `count` events, or
//! `count` distinct values of a field (scans), within a sliding `window` per group.

use crate::alerts::Alert;
use crate::detectors::{make_room, Common, Cx, Entry};
use crate::keys::KeyBuf;
use crate::limits::Limits;
use crate::linked::LinkedMap;
use crate::value::{Owned, KV};
use crate::view::EventView;
use std::collections::VecDeque;

/// Per group: last seen, the tracker (the last `count` events, or distinct value -> its
/// latest event), and the alert it raised.
struct ThresholdState {
    last: f64,
    tracker: Tracker,
    alert: Option<Alert>,
}

enum Tracker {
    Events(VecDeque<Entry>),
    Values(LinkedMap<Entry>),
}

pub struct ThresholdDetector {
    count: usize,
    window: f64,
    distinct: Option<u32>,
    distinct_ips: bool,
    /// the alert group is the threshold group: the open alert is kept in the group state
    own_alert: bool,
    cap: usize,
    groups: LinkedMap<ThresholdState>,
}

impl ThresholdDetector {
    pub fn new(
        count: usize,
        window: f64,
        distinct: Option<(u32, bool)>,
        own_alert: bool,
        limits: &Limits,
    ) -> Self {
        ThresholdDetector {
            count,
            window,
            distinct: distinct.map(|d| d.0),
            distinct_ips: distinct.is_some_and(|d| d.1),
            own_alert,
            cap: 16.max(limits.groups.min(limits.window_entries / count.max(1))),
            groups: LinkedMap::default(),
        }
    }

    pub(crate) fn handle<'e, E: EventView>(
        &mut self,
        c: &Common,
        cx: &mut Cx<'_, 'e, '_, E>,
        key: Option<&KeyBuf<'e>>,
    ) {
        let value = match self.distinct {
            None => None,
            Some(f) => {
                let fields = cx.r.fields;
                let v = cx.r.value(fields.get(f)).hashable();
                if matches!(v, KV::None) {
                    return;
                }
                Some(v)
            }
        };
        let key = c.primary_key(cx, key);
        let is_ip = self.distinct_ips;
        let found = self.groups.find(0, &*key);
        if let Some(slot) = found {
            let st = self
                .groups
                .at_mut(slot)
                .expect("a found slot holds a state");
            st.last = cx.t;
            if let (Some(alert), true) = (st.alert.clone(), self.own_alert) {
                if cx.book.is_open(&alert) {
                    let (eid, ends) = (cx.eid_for(&alert), cx.ends());
                    match &value {
                        None => cx.book.add(&alert, eid.as_ref(), cx.t, cx.ts, Some(ends)),
                        Some(v) => cx.book.add_with_value(
                            &alert,
                            eid.as_ref(),
                            cx.t,
                            cx.ts,
                            ends,
                            (v, is_ip),
                        ),
                    }
                    return;
                }
                st.alert = None;
            }
            if let (Some(v), true) = (&value, self.own_alert) {
                let entry = cx.entry();
                if let Tracker::Values(tr) = &mut st.tracker {
                    tr.set(0, std::slice::from_ref(v), entry);
                    if tr.len() < self.count {
                        return;
                    }
                }
                self.distinct_full(c, cx, &key, slot);
                return;
            }
        }
        if !self.own_alert {
            if let Some(alert) = c.joined(cx, &key) {
                if let Some(v) = &value {
                    cx.book.add_value(&alert, v, is_ip);
                }
                return;
            }
        }
        let slot = match found {
            Some(slot) => slot,
            None => {
                make_room(
                    &mut self.groups,
                    self.cap,
                    cx.t,
                    self.window,
                    |s| s.last,
                    cx.evicted,
                );
                let tracker = match self.distinct {
                    Some(_) => Tracker::Values(LinkedMap::default()),
                    None => Tracker::Events(VecDeque::with_capacity(self.count.min(64))),
                };
                self.groups.push(
                    0,
                    &*key,
                    ThresholdState {
                        last: cx.t,
                        tracker,
                        alert: None,
                    },
                )
            }
        };
        let entry = cx.entry();
        let st = self
            .groups
            .at_mut(slot)
            .expect("the group was just found or made");
        match (&mut st.tracker, &value) {
            (Tracker::Events(tr), None) => {
                if tr.len() >= self.count {
                    tr.pop_front();
                }
                tr.push_back(entry);
                if tr.len() < self.count || tr.front().is_some_and(|f| f.0 < cx.t - self.window) {
                    return;
                }
                let evidence: Vec<Entry> = tr.iter().cloned().collect();
                self.fire(c, cx, &key, slot, evidence, Vec::new());
            }
            (Tracker::Values(tr), Some(v)) => {
                tr.set(0, std::slice::from_ref(v), entry);
                if tr.len() >= self.count {
                    self.distinct_full(c, cx, &key, slot);
                }
            }
            _ => {}
        }
    }

    /// `count` distinct values are tracked: drop those older than the window, fire if
    /// `count` are left.
    fn distinct_full<'e, E: EventView>(
        &mut self,
        c: &Common,
        cx: &mut Cx<'_, 'e, '_, E>,
        key: &KeyBuf<'e>,
        slot: u32,
    ) {
        let Some(ThresholdState {
            tracker: Tracker::Values(tr),
            ..
        }) = self.groups.at_mut(slot)
        else {
            return;
        };
        let cutoff = cx.t - self.window;
        for s in tr.slots() {
            if tr.at(s).is_some_and(|entry| entry.0 < cutoff) {
                tr.remove_at(s);
            }
        }
        if tr.len() < self.count {
            return;
        }
        let mut evidence: Vec<Entry> = tr.values().cloned().collect();
        // stable, by time (-0.0 equal to 0.0, as Python compares them)
        let time = |x: f64| if x == 0.0 { 0.0 } else { x };
        evidence.sort_by(|a, b| time(a.0).total_cmp(&time(b.0)));
        let values: Vec<Owned> = tr
            .slots()
            .into_iter()
            .filter_map(|s| tr.key_at(s).map(|k| k[0].clone()))
            .collect();
        self.fire(c, cx, key, slot, evidence, values);
    }

    fn fire<'e, E: EventView>(
        &mut self,
        c: &Common,
        cx: &mut Cx<'_, 'e, '_, E>,
        key: &KeyBuf<'e>,
        slot: u32,
        evidence: Vec<Entry>,
        values: Vec<Owned>,
    ) {
        if let Some(st) = self.groups.at_mut(slot) {
            match &mut st.tracker {
                Tracker::Events(tr) => tr.clear(),
                Tracker::Values(tr) => tr.clear(),
            }
        }
        let alert = c.open(cx, key);
        if let Some(st) = self.groups.at_mut(slot) {
            st.alert = alert.clone();
        }
        let Some(alert) = alert else { return };
        for (et, ets, eeid) in &evidence {
            cx.book.add(&alert, eeid.as_ref(), *et, ets, None);
        }
        let ends = cx.ends();
        cx.book.related(&alert, ends);
        for v in &values {
            cx.book.add_value(&alert, v, self.distinct_ips);
        }
        cx.book.emit_now(&alert);
    }
}
