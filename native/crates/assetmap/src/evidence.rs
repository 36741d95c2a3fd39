//! Evidence per attribute: every value seen, with confidence, count, time span and event ids (a
//! port of `assetmap/evidence.py`).
//!
//! Conflicting values are kept side by side; the chosen value is the one with the highest
//! confidence, then the most observations, then the latest. At most `MAX_ATTRS` attributes,
//! `MAX_VALUES` values per attribute and `MAX_IDS` event ids per value (the first ones);
//! values past a cap are counted in `dropped`. Values are dict keys in Python: `1` and `1.0`
//! are one value (`pytext::py_eq`), and the first spelling is kept.

use crate::pytext::{py_eq, round3};
use crate::store::Ts;
use icssa_core::{Map, Value};
use std::borrow::Cow;
use std::cmp::Ordering;

pub const MAX_ATTRS: usize = 64;
pub const MAX_VALUES: usize = 8;
pub const MAX_IDS: usize = 5;

#[derive(Debug, Clone)]
pub struct Claim {
    pub confidence: f64,
    pub count: u64,
    pub first: Ts,
    pub last: Ts,
    pub ids: Vec<Box<str>>,
}

#[derive(Debug, Clone, Default)]
pub struct Evidence {
    pub attrs: Vec<(&'static str, Vec<(Value, Claim)>)>,
    pub dropped: u64,
}

/// The order of `best` and `export`: confidence, count, last seen.
fn rank(a: &Claim, b: &Claim) -> Ordering {
    a.confidence
        .partial_cmp(&b.confidence)
        .unwrap_or(Ordering::Equal)
        .then(a.count.cmp(&b.count))
        .then_with(|| a.last.cmp(&b.last))
}

impl Evidence {
    pub fn is_empty(&self) -> bool {
        self.attrs.is_empty()
    }

    pub fn add(
        &mut self,
        attr: &'static str,
        value: Cow<'_, Value>,
        confidence: f64,
        event_id: Option<&str>,
        ts: &Ts,
    ) {
        let values = match self.attrs.iter_mut().position(|(a, _)| *a == attr) {
            Some(i) => &mut self.attrs[i].1,
            None => {
                if self.attrs.len() >= MAX_ATTRS {
                    self.dropped += 1;
                    return;
                }
                self.attrs.push((attr, Vec::new()));
                &mut self.attrs.last_mut().expect("just pushed").1
            }
        };
        let Some(claim) = values
            .iter_mut()
            .find(|(v, _)| py_eq(v, &value))
            .map(|(_, c)| c)
        else {
            if values.len() >= MAX_VALUES {
                self.dropped += 1;
                return;
            }
            let ids = event_id.map(|id| vec![Box::from(id)]).unwrap_or_default();
            values.push((
                value.into_owned(),
                Claim {
                    confidence,
                    count: 1,
                    first: ts.clone(),
                    last: ts.clone(),
                    ids,
                },
            ));
            return;
        };
        if confidence > claim.confidence {
            claim.confidence = confidence;
        }
        claim.count += 1;
        if **ts < *claim.first {
            claim.first = ts.clone();
        }
        if **ts > *claim.last {
            claim.last = ts.clone();
        }
        if let Some(id) = event_id {
            if claim.ids.len() < MAX_IDS && !claim.ids.iter().any(|i| **i == *id) {
                claim.ids.push(id.into());
            }
        }
    }

    /// Fold `other`'s claims into this one (several records forming one asset).
    pub fn merge(&mut self, other: &Evidence) {
        for (attr, values) in &other.attrs {
            let mine = match self.attrs.iter_mut().position(|(a, _)| a == attr) {
                Some(i) => &mut self.attrs[i].1,
                None => {
                    if self.attrs.len() >= MAX_ATTRS {
                        self.dropped += values.len() as u64;
                        continue;
                    }
                    self.attrs.push((attr, Vec::new()));
                    &mut self.attrs.last_mut().expect("just pushed").1
                }
            };
            for (value, theirs) in values {
                let Some(claim) = mine
                    .iter_mut()
                    .find(|(v, _)| py_eq(v, value))
                    .map(|(_, c)| c)
                else {
                    if mine.len() >= MAX_VALUES {
                        self.dropped += 1;
                        continue;
                    }
                    mine.push((value.clone(), theirs.clone()));
                    continue;
                };
                claim.confidence = claim.confidence.max(theirs.confidence);
                claim.count += theirs.count;
                if theirs.first < claim.first {
                    claim.first = theirs.first.clone();
                }
                if theirs.last > claim.last {
                    claim.last = theirs.last.clone();
                }
                for id in &theirs.ids {
                    if claim.ids.len() < MAX_IDS && !claim.ids.contains(id) {
                        claim.ids.push(id.clone());
                    }
                }
            }
        }
        self.dropped += other.dropped;
    }

    /// The values of `attr` with their claims, in the order they were first seen.
    pub fn values(&self, attr: &str) -> &[(Value, Claim)] {
        self.attrs
            .iter()
            .find(|(a, _)| *a == attr)
            .map_or(&[], |(_, v)| v.as_slice())
    }

    /// The chosen value of `attr` (the first of the highest rank), or None.
    pub fn best(&self, attr: &str) -> Option<&Value> {
        let mut best: Option<&(Value, Claim)> = None;
        for item in self.values(attr) {
            if best.is_none_or(|b| rank(&item.1, &b.1) == Ordering::Greater) {
                best = Some(item);
            }
        }
        best.map(|(v, _)| v)
    }

    pub fn ids(&self, attr: &str, value: &Value) -> Vec<Box<str>> {
        self.values(attr)
            .iter()
            .find(|(v, _)| py_eq(v, value))
            .map(|(_, c)| c.ids.clone())
            .unwrap_or_default()
    }

    /// attribute -> chosen value, in the attributes' order.
    pub fn identity(&self) -> Vec<(&'static str, Value)> {
        self.attrs
            .iter()
            .filter_map(|(a, _)| Some((*a, self.best(a)?.clone())))
            .collect()
    }

    /// `{attribute: [{value, confidence, count, first_seen, last_seen, event_ids}]}`, attributes
    /// sorted, values best first.
    pub fn export(&self) -> Map {
        let mut attrs: Vec<&(&'static str, Vec<(Value, Claim)>)> = self.attrs.iter().collect();
        attrs.sort_by(|a, b| a.0.cmp(b.0));
        let mut out = Map::with_capacity(attrs.len() + 1);
        for (attr, values) in attrs {
            let mut claims: Vec<&(Value, Claim)> = values.iter().collect();
            claims.sort_by(|a, b| rank(&b.1, &a.1)); // stable: ties keep their order
            let list = claims
                .into_iter()
                .map(|(value, c)| {
                    Value::Map(icssa_core::map! {
                        "value" => value.clone(),
                        "confidence" => round3(c.confidence),
                        "count" => c.count,
                        "first_seen" => ts_value(&c.first),
                        "last_seen" => ts_value(&c.last),
                        "event_ids" => ids_value(&c.ids),
                    })
                })
                .collect();
            out.push(*attr, Value::List(list));
        }
        out
    }
}

pub fn ts_value(ts: &Ts) -> Value {
    Value::Str(ts.to_string().into())
}

pub fn ids_value(ids: &[Box<str>]) -> Value {
    Value::List(
        ids.iter()
            .map(|i| Value::Str(i.to_string().into()))
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    fn ts(s: &str) -> Ts {
        Arc::from(s)
    }

    fn v(x: impl Into<Value>) -> Cow<'static, Value> {
        Cow::Owned(x.into())
    }

    #[test]
    fn conflicting_values_and_caps() {
        let mut e = Evidence::default();
        e.add("firmware_version", v("V1"), 0.9, Some("a"), &ts("2"));
        e.add("firmware_version", v("V2"), 0.95, Some("b"), &ts("1"));
        e.add("firmware_version", v("V1"), 0.5, Some("a"), &ts("3"));
        assert_eq!(e.best("firmware_version"), Some(&Value::from("V2")));
        let v1 = &e.values("firmware_version")[0].1;
        assert_eq!(
            (v1.count, &*v1.first, &*v1.last, v1.ids.len()),
            (2, "2", "3", 1)
        );
        for i in 0..10 {
            e.add("x", v(Value::Int(i)), 0.5, None, &ts("1"));
        }
        assert_eq!((e.values("x").len(), e.dropped), (MAX_VALUES, 2));
        e.add("n", v(Value::Int(1)), 0.5, Some("c"), &ts("1"));
        e.add("n", v(Value::Float(1.0)), 0.5, Some("d"), &ts("1"));
        assert_eq!(e.values("n").len(), 1);
        assert_eq!(e.values("n")[0].0, Value::Int(1));
    }

    #[test]
    fn best_prefers_confidence_then_count_then_latest_then_first() {
        let mut e = Evidence::default();
        e.add("a", v("x"), 0.5, None, &ts("1"));
        e.add("a", v("y"), 0.5, None, &ts("1"));
        assert_eq!(e.best("a"), Some(&Value::from("x")));
        e.add("a", v("y"), 0.5, None, &ts("0"));
        assert_eq!(e.best("a"), Some(&Value::from("y")));
    }
}
