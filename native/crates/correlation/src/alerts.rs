//! Alert aggregation, deduplication and suppression (`correlation/alerts.py`).
//!
//! A rule that fires for a group opens an alert; later evidence for the same rule and group
//! within the rule's aggregation window joins it (count, time span, evidence ids). The alert
//! leaves when its window has passed in event time, or on `flush`; a rule with
//! `aggregate.window: 0` emits at once. After an alert, `suppress` keeps the same rule quiet
//! for the same suppression group for a while. Everything is bounded (`Limits`).
//!
//! Alerts live in an arena; detectors hold `AlertId`s. An alert is open while it is in the
//! arena: it leaves it when its document is written.

use crate::document::{document, Doc};
use crate::limits::Limits;
use crate::linked::{owned, LinkedMap, Probe};
use crate::value::{base_hash, Key, Owned, KV};
use icssa_core::json::{Map, Value};
use std::cmp::{Ordering, Reverse};
use std::collections::BinaryHeap;
use std::rc::Rc;
use std::sync::Arc;

/// A handle on an alert of the arena (stale once the alert has left).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AlertId {
    idx: u32,
    gen: u32,
}

/// The alert(s) a detector raised: one rule's, or those of every rule sharing the detector.
#[derive(Debug, Clone)]
pub enum Alert {
    One(AlertId),
    Fan(Rc<[AlertId]>),
}

impl Alert {
    pub fn of(found: Vec<AlertId>) -> Option<Alert> {
        match found.len() {
            0 => None,
            1 => Some(Alert::One(found[0])),
            _ => Some(Alert::Fan(Rc::from(found))),
        }
    }

    pub fn ids(&self) -> &[AlertId] {
        match self {
            Alert::One(id) => std::slice::from_ref(id),
            Alert::Fan(ids) => ids,
        }
    }
}

/// The addresses of an event's ends (`ip` of `source` / `destination` when they are dicts
/// holding a string there).
#[derive(Debug, Clone, Copy, Default)]
pub struct Ends<'a> {
    pub src: Option<&'a str>,
    pub dst: Option<&'a str>,
}

/// What an alert copies from the event that opens it.
#[derive(Debug, Clone)]
pub struct Origin {
    /// `source` / `destination`: None when not a dict, else their `ip` and `port` when held
    pub src: Option<(Option<Value>, Option<Value>)>,
    pub dst: Option<(Option<Value>, Option<Value>)>,
    pub org: Value,
    pub observer: Value,
    pub community_id: Value,
}

/// An alert collecting evidence until its window closes (`OpenAlert`).
#[derive(Debug)]
pub struct OpenAlert {
    pub rule: usize,
    pub tag: u32,
    pub key: Key,
    /// the fields of the group (`aggregate.group_by`) the key holds after the organization
    pub group: Rc<[Box<str>]>,
    agg_window: f64,
    pub deadline: f64,
    seq: u64,
    pub trigger_ts: Arc<str>,
    start_t: f64,
    pub start_ts: Arc<str>,
    end_t: f64,
    pub end_ts: Arc<str>,
    pub count: i64,
    pub evidence: Vec<Rc<str>>,
    room: usize,
    pub ips: Vec<Box<str>>,
    ips_full: bool,
    same_ends: bool,
    ends_done: bool,
    /// distinct values counted, each with its hash (`value::base_hash` of it alone)
    pub values: Vec<(u64, Owned)>,
    pub distinct: i64,
    pub steps: Vec<Rc<str>>,
    pub origin: Origin,
    /// the slot of its entry in the book's open alerts (aggregated alerts)
    open_slot: Option<u32>,
}

impl OpenAlert {
    fn add(
        &mut self,
        eid: Option<&Rc<str>>,
        t: f64,
        ts: &Arc<str>,
        ends: Option<Ends>,
        lim: &Limits,
    ) {
        self.count += 1;
        if let Some(eid) = eid {
            if self.room > 0 {
                self.room -= 1;
                self.evidence.push(eid.clone());
            }
        }
        if t >= self.end_t {
            self.end_t = t;
            self.end_ts = ts.clone();
        } else if t < self.start_t {
            self.start_t = t;
            self.start_ts = ts.clone();
        }
        if let Some(ends) = ends {
            self.related(ends, lim);
        }
    }

    fn related(&mut self, ends: Ends, lim: &Limits) {
        if self.ends_done || self.ips_full {
            return;
        }
        if let Some(ip) = ends.src {
            if !self.ips.iter().any(|x| **x == *ip) {
                self.ips.push(ip.into());
            }
        }
        if let Some(ip) = ends.dst {
            if self.ips.len() < lim.related_ip && !self.ips.iter().any(|x| **x == *ip) {
                self.ips.push(ip.into());
            }
        }
        self.ips_full = self.ips.len() >= lim.related_ip;
        self.ends_done =
            self.ips_full || (ends.src.is_some() && ends.dst.is_some() && self.same_ends);
    }

    fn add_value(&mut self, value: &KV<impl AsRef<str>>, is_ip: bool, lim: &Limits) {
        let h = base_hash(std::slice::from_ref(value));
        if self.values.iter().any(|(vh, v)| *vh == h && v.py_eq(value)) {
            return;
        }
        self.distinct += 1;
        if self.values.len() < lim.values {
            self.values.push((h, value.to_owned_kv()));
        }
        if let (true, KV::Str(s), false) = (is_ip, value, self.ips_full) {
            let s = s.as_ref();
            if !self.ips.iter().any(|x| **x == *s) {
                self.ips.push(s.into());
            }
            if self.ips.len() >= lim.related_ip {
                self.ips_full = true;
                self.ends_done = true;
            }
        }
    }
}

#[derive(Debug, PartialEq)]
struct Due(f64, u64, AlertId);

impl Eq for Due {}

impl PartialOrd for Due {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Due {
    fn cmp(&self, other: &Self) -> Ordering {
        self.0.total_cmp(&other.0).then(self.1.cmp(&other.1))
    }
}

/// Open alerts by (rule, group), closed by event time; finished documents in `ready`.
pub struct AlertBook {
    arena: Vec<(u32, Option<OpenAlert>)>,
    free: Vec<u32>,
    open: LinkedMap<AlertId>,
    heap: BinaryHeap<Reverse<Due>>,
    seq: u64,
    suppressed: LinkedMap<f64>,
    pub ready: Vec<Map>,
    pub limits: Limits,
    pub doc: Doc,
    /// suppressed firings, alerts closed early to make room, alerts emitted
    pub stats_suppressed: u64,
    pub stats_closed_early: u64,
}

/// A new alert's rule and group.
pub struct Start<'k, P: Probe + ?Sized> {
    pub rule: usize,
    /// the rule's id as a number (rules with one id share open alerts and suppression)
    pub tag: u32,
    pub aggregate_window: f64,
    pub suppress_window: f64,
    pub key: &'k P,
    pub group: Rc<[Box<str>]>,
    pub same_ends: bool,
}

impl AlertBook {
    pub fn new(limits: Limits, doc: Doc) -> Self {
        AlertBook {
            arena: Vec::new(),
            free: Vec::new(),
            open: LinkedMap::default(),
            heap: BinaryHeap::new(),
            seq: 0,
            suppressed: LinkedMap::default(),
            ready: Vec::new(),
            limits,
            doc,
            stats_suppressed: 0,
            stats_closed_early: 0,
        }
    }

    fn alert(&mut self, id: AlertId) -> Option<&mut OpenAlert> {
        match self.arena.get_mut(id.idx as usize) {
            Some((gen, a)) if *gen == id.gen => a.as_mut(),
            _ => None,
        }
    }

    /// `alert.open` (of any of them, for several rules' alerts).
    pub fn is_open(&self, a: &Alert) -> bool {
        a.ids()
            .iter()
            .any(|id| matches!(self.arena.get(id.idx as usize), Some((g, Some(_))) if *g == id.gen))
    }

    /// Some of the alerts still keeps evidence ids.
    pub fn has_room(&self, a: &Alert) -> bool {
        a.ids()
            .iter()
            .any(|id| match self.arena.get(id.idx as usize) {
                Some((g, Some(x))) if *g == id.gen => x.room > 0,
                _ => false,
            })
    }

    /// The open alert of a rule for a group.
    pub fn get<P: Probe + ?Sized>(&self, tag: u32, key: &P) -> Option<AlertId> {
        self.open.get(tag, key).copied()
    }

    /// Opens an alert; None when the rule is suppressed for the group (`suppress_key`: the
    /// suppression group's key, for rules that suppress).
    pub fn start<P: Probe + ?Sized, Q: Probe + ?Sized>(
        &mut self,
        s: Start<'_, P>,
        suppress_key: Option<&Q>,
        origin: &Origin,
        t: f64,
        ts: &Arc<str>,
    ) -> Option<AlertId> {
        if s.suppress_window > 0.0 {
            let until = match suppress_key {
                Some(k) => self.suppressed.get(s.tag, k).copied(),
                None => self.suppressed.get(s.tag, s.key).copied(),
            };
            if until.is_some_and(|u| t < u) {
                self.stats_suppressed += 1;
                return None;
            }
            if self.suppressed.len() >= self.limits.suppressed {
                self.suppressed.pop_front();
            }
            let value = t + s.suppress_window;
            match suppress_key {
                Some(k) => {
                    self.suppressed.remove(s.tag, k);
                    self.suppressed.set(s.tag, k, value);
                }
                None => {
                    self.suppressed.remove(s.tag, s.key);
                    self.suppressed.set(s.tag, s.key, value);
                }
            }
        }
        let key: Key = owned(s.key);
        let mut alert = OpenAlert {
            rule: s.rule,
            tag: s.tag,
            key,
            group: s.group,
            agg_window: s.aggregate_window,
            deadline: t + s.aggregate_window,
            seq: 0,
            trigger_ts: ts.clone(),
            start_t: t,
            start_ts: ts.clone(),
            end_t: t,
            end_ts: ts.clone(),
            count: 0,
            evidence: Vec::new(),
            room: self.limits.evidence,
            ips: Vec::new(),
            ips_full: false,
            same_ends: s.same_ends,
            ends_done: false,
            values: Vec::new(),
            distinct: 0,
            steps: Vec::new(),
            origin: origin.clone(),
            open_slot: None,
        };
        if s.aggregate_window <= 0.0 {
            return Some(self.store(alert)); // the caller fills it and calls emit_now
        }
        if self.open.len() >= self.limits.open {
            self.stats_closed_early += 1;
            self.close_oldest();
        }
        self.seq += 1;
        alert.seq = self.seq;
        let (deadline, seq, tag) = (alert.deadline, alert.seq, alert.tag);
        let key = alert.key.clone();
        let id = self.store(alert);
        let slot = self.open.push(tag, &key[..], id);
        if let Some(a) = self.alert(id) {
            a.open_slot = Some(slot);
        }
        self.heap.push(Reverse(Due(deadline, seq, id)));
        Some(id)
    }

    fn store(&mut self, alert: OpenAlert) -> AlertId {
        match self.free.pop() {
            Some(idx) => {
                let slot = &mut self.arena[idx as usize];
                slot.0 = slot.0.wrapping_add(1);
                slot.1 = Some(alert);
                AlertId { idx, gen: slot.0 }
            }
            None => {
                self.arena.push((0, Some(alert)));
                AlertId {
                    idx: (self.arena.len() - 1) as u32,
                    gen: 0,
                }
            }
        }
    }

    /// One more evidence event (its addresses join related.ip when `ends` is given).
    pub fn add(
        &mut self,
        a: &Alert,
        eid: Option<&Rc<str>>,
        t: f64,
        ts: &Arc<str>,
        ends: Option<Ends>,
    ) {
        let lim = self.limits;
        for &id in a.ids() {
            if let Some(x) = self.alert(id) {
                x.add(eid, t, ts, ends, &lim);
            }
        }
    }

    /// `add` then `add_value` (`add_with_value`): `value` and whether it is an address.
    pub fn add_with_value(
        &mut self,
        a: &Alert,
        eid: Option<&Rc<str>>,
        t: f64,
        ts: &Arc<str>,
        ends: Ends,
        value: (&KV<impl AsRef<str>>, bool),
    ) {
        let lim = self.limits;
        for &id in a.ids() {
            if let Some(x) = self.alert(id) {
                x.add(eid, t, ts, Some(ends), &lim);
                x.add_value(value.0, value.1, &lim);
            }
        }
    }

    pub fn related(&mut self, a: &Alert, ends: Ends) {
        let lim = self.limits;
        for &id in a.ids() {
            if let Some(x) = self.alert(id) {
                x.related(ends, &lim);
            }
        }
    }

    pub fn add_value(&mut self, a: &Alert, value: &KV<impl AsRef<str>>, is_ip: bool) {
        let lim = self.limits;
        for &id in a.ids() {
            if let Some(x) = self.alert(id) {
                x.add_value(value, is_ip, &lim);
            }
        }
    }

    pub fn add_steps(&mut self, a: &Alert, names: &[Rc<str>]) {
        for &id in a.ids() {
            if let Some(x) = self.alert(id) {
                let room = 64usize.saturating_sub(x.steps.len());
                x.steps.extend(names.iter().take(room).cloned());
            }
        }
    }

    /// Events that count without being kept as evidence.
    pub fn add_count(&mut self, a: &Alert, n: i64) {
        for &id in a.ids() {
            if let Some(x) = self.alert(id) {
                x.count += n;
            }
        }
    }

    /// Emits the alerts of rules that do not aggregate (`aggregate.window: 0`).
    pub fn emit_now(&mut self, a: &Alert) {
        for &id in a.ids() {
            if self.alert(id).is_some_and(|x| x.agg_window <= 0.0) {
                self.emit(id);
            }
        }
    }

    fn emit(&mut self, id: AlertId) {
        let Some(slot) = self.arena.get_mut(id.idx as usize) else {
            return;
        };
        let Some(alert) = slot.1.take() else { return };
        self.free.push(id.idx);
        let doc = document(&alert, &self.doc);
        self.ready.push(doc);
    }

    /// Closes every alert whose window ended before `now`.
    pub fn expire(&mut self, now: f64) {
        while let Some(Reverse(Due(deadline, _, id))) = self.heap.peek() {
            if deadline.partial_cmp(&now) != Some(Ordering::Less) {
                break;
            }
            let id = *id;
            self.heap.pop();
            self.close(id);
        }
    }

    /// Removes a live aggregated alert from the open ones and emits it (false: stale entry).
    fn close(&mut self, id: AlertId) -> bool {
        let Some(slot) = self.alert(id).and_then(|a| a.open_slot) else {
            return false;
        };
        self.open.remove_at(slot);
        self.emit(id);
        true
    }

    pub fn flush(&mut self) {
        self.expire(f64::INFINITY);
    }

    fn close_oldest(&mut self) {
        while let Some(Reverse(Due(_, _, id))) = self.heap.pop() {
            if self.close(id) {
                return;
            }
        }
    }

    pub fn drain(&mut self) -> Vec<Map> {
        std::mem::take(&mut self.ready)
    }
}
