//! What runs for an event once its bucket said which matchers hold (`correlation/plans.py`):
//! their detectors in the bucket's group order, each grouping's key built once per event, the
//! steps of a sequence handed over together after the other detectors; and the making of each
//! rule's detector.

use crate::baselines::{FirstSeenDetector, RateDetector};
use crate::bucket::Bucket;
use crate::cond::Fields;
use crate::detectors::{
    Common, Cx, Detector, Kind, MatchDetector, SequenceDetector, Served, ThresholdDetector,
};
use crate::keys::{build, KeyBuf, KeySpecs};
use crate::limits::Limits;
use crate::rules::{Rule, RuleKind};
use crate::view::EventView;
use std::rc::Rc;

/// A matcher: the detector it feeds, and for a sequence the step.
pub(crate) struct Matcher {
    pub det: usize,
    pub step: Option<usize>,
}

/// Runs the detectors of the matchers that hold, in group order, sequences after the others
/// with all their steps at once; returns how many matchers held.
pub(crate) fn run<'e, E: EventView>(
    bucket: &Bucket,
    mask: &[bool],
    matchers: &[Matcher],
    detectors: &mut [Detector],
    cx: &mut Cx<'_, 'e, '_, E>,
) -> u64 {
    let mut keys: Vec<(usize, KeyBuf<'e>)> = Vec::new();
    let mut steps: Vec<(usize, Vec<usize>)> = Vec::new();
    let mut n_held = 0;
    for (g, numbers) in bucket.groups.iter().enumerate() {
        if !mask[g] {
            continue;
        }
        for &n in numbers {
            n_held += 1;
            let m = &matchers[n];
            if let Some(step) = m.step {
                match steps.iter_mut().find(|(d, _)| *d == m.det) {
                    Some((_, s)) => s.push(step),
                    None => steps.push((m.det, vec![step])),
                }
                continue;
            }
            let det = &mut detectors[m.det];
            let key = primary(cx, &mut keys, det.c.primary).map(|i| &keys[i].1);
            det.handle(cx, key);
        }
    }
    for (d, s) in steps {
        let det = &mut detectors[d];
        let key = primary(cx, &mut keys, det.c.primary).map(|i| &keys[i].1);
        det.handle_steps(cx, key, &s);
    }
    n_held
}

/// The key of a grouping for this event, built once (None when it reads the context: the
/// detector builds it if it needs it): its index in `keys`.
fn primary<'e, E: EventView>(
    cx: &mut Cx<'_, 'e, '_, E>,
    keys: &mut Vec<(usize, KeyBuf<'e>)>,
    spec: usize,
) -> Option<usize> {
    if cx.specs[spec].reads_context {
        return None;
    }
    if let Some(i) = keys.iter().position(|(s, _)| *s == spec) {
        return Some(i);
    }
    let k = build(cx.r, &cx.specs[spec]);
    keys.push((spec, k));
    Some(keys.len() - 1)
}

/// A rule's detector.
pub(crate) fn detector(
    rule: &Rule,
    served: Served,
    specs: &mut KeySpecs,
    fields: &Fields,
    limits: &Limits,
) -> Detector {
    let primary_fields: &[u32] = match rule.kind {
        RuleKind::Match => &rule.aggregate_group_by,
        RuleKind::Threshold => rule.threshold.as_ref().map_or(&[], |t| &t.group_by),
        RuleKind::Sequence => rule.sequence.as_ref().map_or(&[], |s| &s.group_by),
        RuleKind::FirstSeen => rule.first_seen.as_ref().map_or(&[], |f| &f.key),
        RuleKind::Rate => rule.rate.as_ref().map_or(&[], |r| &r.group_by),
    };
    let has = |fs: &[u32], name: &str| fs.iter().any(|&f| &*fields.get(f).text == name);
    let ends = |fs: &[u32]| has(fs, "source.ip") && has(fs, "destination.ip");
    let mut c = Common {
        served: vec![served],
        agg: specs.intern(&rule.aggregate_group_by, fields),
        sup: specs.intern(&rule.suppress_group_by, fields),
        primary: specs.intern(primary_fields, fields),
        same_ends: ends(&rule.aggregate_group_by),
    };
    let kind = match rule.kind {
        RuleKind::Match => Kind::Match(MatchDetector::default()),
        RuleKind::Threshold => {
            let t = rule
                .threshold
                .as_ref()
                .expect("a threshold rule has its spec");
            let distinct = t.distinct.map(|f| (f, fields.get(f).text.ends_with(".ip")));
            Kind::Threshold(ThresholdDetector::new(
                t.count,
                t.window,
                distinct,
                c.agg == c.primary,
                limits,
            ))
        }
        RuleKind::Sequence => {
            let s = rule
                .sequence
                .as_ref()
                .expect("a sequence rule has its spec");
            Kind::Sequence(SequenceDetector::new(
                s.window,
                s.steps.iter().map(|(n, _)| Rc::from(n.as_str())).collect(),
            ))
        }
        RuleKind::FirstSeen => {
            let f = rule
                .first_seen
                .as_ref()
                .expect("a first-seen rule has its spec");
            c.same_ends = c.same_ends && ends(&f.key);
            let known = (!f.known.is_empty()).then(|| specs.intern(&f.known, fields));
            Kind::FirstSeen(FirstSeenDetector::new(known))
        }
        RuleKind::Rate => {
            let r = rule.rate.as_ref().expect("a rate rule has its spec");
            Kind::Rate(RateDetector::new(r.window, r.factor, r.min_count))
        }
    };
    Detector { c, kind }
}
