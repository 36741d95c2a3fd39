//! The correlation engine (`correlation/engine.py`): events in, alerts out, time taken only
//! from the events.
//!
//! Each rule becomes one matcher (a sequence: one per step); rules with identical logic share
//! one detector, and each still raises its own alerts. Matchers are indexed by the
//! `event.dataset` / `event.action` values their conditions pin; for each (dataset, action)
//! seen, the candidate matchers are specialised (whatever depends only on the dataset and
//! action is decided once) into a `Bucket`. The matchers that hold run their detectors in the
//! bucket's group order, sequences last. Alerts are aggregated and leave through `process`
//! when their window has passed in event time (checked once per new second of event time), or
//! through `flush`.
//!
//! Group keys always start with `organization.id`: tenants never share state. The baseline of
//! first-seen and rate rules starts, per organization, at that organization's first event.
//! Memory does not grow with the stream: every table is capped (`Limits`).

use crate::alerts::AlertBook;
use crate::baselines::Orgs;
use crate::bucket::{Bucket, Reader};
use crate::clock::{iso, prefix19, Clock};
use crate::cond::{Cond, Fields};
use crate::context::{ZoneCache, ZoneContext};
use crate::detectors::{Cx, Detector, Eid, Served};
use crate::dispatch::{detector, run, Matcher};
use crate::document::{Doc, RuleDoc};
use crate::keys::KeySpecs;
use crate::limits::Limits;
use crate::linked::LinkedMap;
use crate::matching::{index_values, specialize, Spec};
use crate::rules::read;
use crate::value::{Owned, Val, KV};
use crate::view::EventView;
use hashbrown::HashMap;
use icssa_core::json::Map;
use std::collections::HashSet;
use std::rc::Rc;
use std::sync::Arc;

/// The baseline of first-seen and rate rules: one day of event time.
pub const DEFAULT_BASELINE_SECONDS: f64 = 86_400.0;
/// (dataset, action) buckets kept: past that, every bucket is made again when next needed.
pub const MAX_BUCKETS: usize = 4096;

/// Counters (`Engine.stats`, `AlertBook.stats`).
#[derive(Debug, Default, Clone, Copy, PartialEq)]
pub struct Stats {
    pub events: u64,
    /// (matcher, event) pairs whose conditions held
    pub matches: u64,
    pub bad_timestamp: u64,
    pub state_evicted: u64,
    pub suppressed: u64,
    pub closed_early: u64,
    pub alerts: u64,
}

/// The dataset/action values a matcher pins, and the rest of its condition.
struct Indexed {
    datasets: Option<HashSet<Box<str>>>,
    actions: Option<HashSet<Box<str>>>,
    rest: Cond,
}

type BucketKey = (Option<Box<str>>, Option<Box<str>>);

/// Evaluate rules over an event stream (see the module documentation).
pub struct Engine {
    fields: Fields,
    specs: KeySpecs,
    detectors: Vec<Detector>,
    matchers: Vec<Matcher>,
    index: Vec<Indexed>,
    datasets: Vec<String>,
    dataset_field: u32,
    action_field: u32,
    has_context: bool,
    buckets: HashMap<BucketKey, Rc<Bucket>>,
    book: AlertBook,
    clock: Clock,
    zones: Option<ZoneCache>,
    orgs: Orgs,
    /// the organization id of the latest event, once noted (None: none)
    org: Option<Owned>,
    track_orgs: bool,
    /// the whole second (`@timestamp[:19]`) of the latest tick
    sec: Option<String>,
    now: f64,
    limits: Limits,
    stats: Stats,
    mask: Vec<bool>,
}

impl Engine {
    /// An engine from the rules document of `native/tools/correlation_rules.py`. `context`:
    /// whether `process` gets a zone context (an engine without one reads `context.*` fields
    /// as absent). Err: a document this engine cannot run (a regex it cannot compile).
    pub fn from_rules(
        doc: &serde_json::Value,
        context: bool,
        baseline_seconds: f64,
        limits: Limits,
    ) -> Result<Engine, String> {
        let set = read(doc)?;
        let mut fields = set.fields;
        let dataset_field = fields.intern("event.dataset");
        let action_field = fields.intern("event.action");
        let mut specs = KeySpecs::default();
        let mut tags: std::collections::HashMap<String, u32> = std::collections::HashMap::new();
        let mut det_of_rule: Vec<usize> = Vec::new();
        let mut detectors: Vec<Detector> = Vec::new();
        let mut matchers = Vec::new();
        let mut index = Vec::new();
        let mut docs = Vec::new();
        for (i, rule) in set.rules.iter().enumerate() {
            let next = tags.len() as u32;
            let tag = *tags.entry(rule.id.clone()).or_insert(next);
            docs.push(RuleDoc {
                id: rule.id.clone(),
                title: rule.title.clone(),
                severity: rule.severity.clone(),
                rule: rule.doc_rule.clone(),
                threat: rule.doc_threat.clone(),
                tags: rule.doc_tags.clone(),
            });
            let served = Served {
                rule: i,
                tag,
                aggregate_window: rule.aggregate_window,
                suppress_window: rule.suppress_window,
            };
            if let Some(first) = rule.shares.and_then(|j| det_of_rule.get(j).copied()) {
                detectors[first].c.served.push(served);
                det_of_rule.push(first);
                continue;
            }
            let det = detectors.len();
            det_of_rule.push(det);
            detectors.push(detector(rule, served, &mut specs, &fields, &limits));
            let mut add = |step: Option<usize>, cond: &Cond| {
                let (datasets, rest) = index_values(cond, dataset_field);
                let (actions, rest) = index_values(&rest, action_field);
                matchers.push(Matcher { det, step });
                index.push(Indexed {
                    datasets,
                    actions,
                    rest,
                });
            };
            match &rule.sequence {
                Some(seq) => seq
                    .steps
                    .iter()
                    .enumerate()
                    .for_each(|(s, (_, cond))| add(Some(s), cond)),
                None => add(None, &rule.match_),
            }
        }
        let track_orgs = set
            .rules
            .iter()
            .any(|r| r.first_seen.is_some() || r.rate.is_some());
        Ok(Engine {
            fields,
            specs,
            detectors,
            matchers,
            index,
            datasets: set.datasets,
            dataset_field,
            action_field,
            has_context: context,
            buckets: HashMap::new(),
            book: AlertBook::new(
                limits,
                Doc {
                    rules: docs,
                    attack_version: set.attack_version,
                },
            ),
            clock: Clock::default(),
            zones: context.then(|| ZoneCache::new(limits.zone_cache, limits.zone_ttl)),
            orgs: Orgs {
                start: LinkedMap::default(),
                baseline_seconds,
            },
            org: None,
            track_orgs,
            sec: None,
            now: f64::NEG_INFINITY,
            limits,
            stats: Stats::default(),
            mask: Vec::new(),
        })
    }

    /// `from_rules` of the document's JSON text.
    pub fn from_rules_json(
        text: &str,
        context: bool,
        baseline_seconds: f64,
        limits: Limits,
    ) -> Result<Engine, String> {
        let doc: serde_json::Value =
            serde_json::from_str(text).map_err(|e| format!("rules document: {e}"))?;
        Engine::from_rules(&doc, context, baseline_seconds, limits)
    }

    pub fn stats(&self) -> Stats {
        Stats {
            suppressed: self.book.stats_suppressed,
            closed_early: self.book.stats_closed_early,
            ..self.stats
        }
    }

    /// Feeds one event; returns the alerts that are complete now. `ctx` answers `zone_of`
    /// (an engine made without context never asks it).
    pub fn process<E: EventView>(&mut self, e: &E, ctx: &mut dyn ZoneContext) -> Vec<Map> {
        self.stats.events += 1;
        let ts = e.timestamp();
        let tick = match ts.as_str() {
            Some(s) => self.sec.as_deref() != Some(prefix19(s)),
            None => true,
        };
        if tick {
            self.tick(&ts);
        }
        let (ds, act) = e.dataset_action();
        let bucket = self.bucket(ds, act);
        let zones: Option<(&mut ZoneCache, &mut dyn ZoneContext)> = match self.zones.as_mut() {
            Some(z) => Some((z, ctx)),
            None => None,
        };
        let mut reader = Reader::new(e, &self.fields, zones);
        bucket.test(&mut reader, &mut self.mask);
        if self.track_orgs {
            let org = e.organization_id();
            let same = match (&org, &self.org) {
                (Some(v), Some(seen)) => v.hashable().py_eq(seen),
                _ => false,
            };
            if !same {
                let oid = org.map(|v| v.hashable());
                note_org(
                    &mut self.orgs,
                    &mut self.org,
                    &mut self.clock,
                    self.limits.orgs,
                    oid,
                    &ts,
                );
            }
        }
        if self.mask.iter().any(|&m| m) {
            let (t, text) = match self.clock.seconds(&ts) {
                Some(t) => (t, e.timestamp_text().unwrap_or_else(|| Arc::from(iso(t)))),
                None => {
                    self.stats.bad_timestamp += 1;
                    let t = if self.now != f64::NEG_INFINITY {
                        self.now
                    } else {
                        0.0
                    };
                    (t, Arc::from(iso(t)))
                }
            };
            let mut eid = Eid::new(e.event_id());
            let mut cx = Cx {
                r: &mut reader,
                book: &mut self.book,
                specs: &self.specs.specs,
                orgs: &mut self.orgs,
                evicted: &mut self.stats.state_evicted,
                limits: self.limits,
                t,
                ts: &text,
                eid: &mut eid,
            };
            self.stats.matches += run(
                &bucket,
                &self.mask,
                &self.matchers,
                &mut self.detectors,
                &mut cx,
            );
        }
        if self.book.ready.is_empty() {
            return Vec::new();
        }
        let out = self.book.drain();
        self.stats.alerts += out.len() as u64;
        out
    }

    /// End of stream: closes every aggregation window and returns the pending alerts.
    pub fn flush(&mut self) -> Vec<Map> {
        self.book.flush();
        let out = self.book.drain();
        self.stats.alerts += out.len() as u64;
        out
    }

    /// A new second of event time: close the alert windows that ended before it.
    fn tick(&mut self, ts: &Val) {
        let Some(t) = self.clock.seconds(ts) else {
            return;
        };
        if let Some(s) = ts.as_str() {
            self.sec = Some(prefix19(s).to_owned());
        }
        if t > self.now {
            self.now = t;
            self.book.expire(t);
            if let Some(z) = self.zones.as_mut() {
                z.tick(t);
            }
        }
    }

    /// The bucket of (dataset, action): made on first use.
    fn bucket(&mut self, ds: Option<&str>, act: Option<&str>) -> Rc<Bucket> {
        if let Some(b) = self.buckets.get(&Probe(ds, act)) {
            return b.clone();
        }
        let mut known: Vec<(u32, &str)> = Vec::new();
        let mut absent: HashSet<&str> = HashSet::new();
        if !self.has_context {
            absent.insert("context");
        }
        if let Some(ds) = ds {
            known.push((self.dataset_field, ds));
            absent.extend(
                self.datasets
                    .iter()
                    .map(String::as_str)
                    .filter(|d| *d != ds),
            );
        }
        if let Some(act) = act {
            known.push((self.action_field, act));
        }
        let mut matchers = Vec::new();
        for (n, ix) in self.index.iter().enumerate() {
            if ix
                .datasets
                .as_ref()
                .is_some_and(|s| !ds.is_some_and(|d| s.contains(d)))
            {
                continue;
            }
            if ix
                .actions
                .as_ref()
                .is_some_and(|s| !act.is_some_and(|a| s.contains(a)))
            {
                continue;
            }
            match specialize(&ix.rest, &known, &absent, &self.fields) {
                Spec::Decided(false) => {}
                Spec::Decided(true) => matchers.push((n, Cond::truth())),
                Spec::Left(c) => matchers.push((n, c)),
            }
        }
        let bucket = Rc::new(Bucket::new(matchers, &self.fields));
        if self.buckets.len() >= MAX_BUCKETS {
            self.buckets.clear();
        }
        self.buckets
            .insert((ds.map(Box::from), act.map(Box::from)), bucket.clone());
        bucket
    }
}

/// Notes when each organization's first event was (its baseline starts there); `seen`
/// becomes the organization id of this event (None when its organization is not a dict).
fn note_org(
    orgs: &mut Orgs,
    seen: &mut Option<Owned>,
    clock: &mut Clock,
    cap: usize,
    org: Option<KV<std::borrow::Cow<'_, str>>>,
    ts: &Val,
) {
    let oid = org.clone().unwrap_or(KV::None);
    let key = std::slice::from_ref(&oid);
    if orgs.start.find(0, key).is_none() {
        let Some(t) = clock.seconds(ts) else { return };
        if orgs.start.len() >= cap {
            orgs.start.pop_front();
            *seen = None; // it may have been the one forgotten
        }
        orgs.start.set(0, key, t);
    }
    *seen = org.map(|o| o.to_owned_kv());
}

/// A (dataset, action) looked up without copying it.
#[derive(Hash)]
struct Probe<'a>(Option<&'a str>, Option<&'a str>);

impl hashbrown::Equivalent<BucketKey> for Probe<'_> {
    fn equivalent(&self, key: &BucketKey) -> bool {
        self.0 == key.0.as_deref() && self.1 == key.1.as_deref()
    }
}
