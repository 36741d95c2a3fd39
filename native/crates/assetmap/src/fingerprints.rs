//! Fingerprints: reported identity strings -> vendor, product family and device type (a port of
//! `assetmap/fingerprints.py`; the entries come with the configuration, from
//! `data/fingerprints.yaml`). Every condition of an entry must match (a case-insensitive
//! `re.search` in the attribute's value); when several entries match, each result field comes
//! from the most confident one.

use crate::pyre::PyRegex;
use crate::pytext::py_str;
use crate::vendors::Vendors;
use icssa_core::{Map, Value};

#[derive(Debug, Clone)]
pub struct Fingerprint {
    pub id: String,
    pub conditions: Vec<(String, PyRegex)>,
    /// result field -> value (vendor, family, device_type), as written
    pub result: Vec<(String, String)>,
    pub confidence: f64,
}

impl Fingerprint {
    fn matches(&self, identity: &[(&'static str, Value)]) -> bool {
        self.conditions.iter().all(|(attr, pattern)| {
            let value = identity.iter().find(|(a, _)| a == attr).map(|(_, v)| v);
            match value.and_then(py_str) {
                Some(text) => pattern.search(&text),
                None => false,
            }
        })
    }

    fn result(&self, field: &str) -> Option<&str> {
        self.result
            .iter()
            .find(|(f, _)| f == field)
            .map(|(_, v)| v.as_str())
            .filter(|v| !v.is_empty())
    }
}

#[derive(Debug, Clone, Default)]
pub struct Fingerprints {
    pub items: Vec<Fingerprint>,
}

impl Fingerprints {
    /// `{ids, confidence, vendor, family, device_type}` of the matching fingerprints, or None.
    pub fn apply(&self, identity: &[(&'static str, Value)], vendors: &Vendors) -> Option<Map> {
        let mut hits: Vec<&Fingerprint> = self
            .items
            .iter()
            .filter(|fp| fp.matches(identity))
            .collect();
        hits.sort_by(|a, b| {
            b.confidence
                .partial_cmp(&a.confidence)
                .unwrap_or(std::cmp::Ordering::Equal)
        });
        let top = hits.first()?;
        let mut out = Map::with_capacity(5);
        out.push(
            "ids",
            Value::List(
                hits.iter()
                    .map(|fp| Value::Str(fp.id.clone().into()))
                    .collect(),
            ),
        );
        out.push("confidence", top.confidence);
        for field in ["vendor", "family", "device_type"] {
            if let Some(value) = hits.iter().find_map(|fp| fp.result(field)) {
                let value = if field == "vendor" {
                    vendors.canonical(value).into()
                } else {
                    Value::from(value.to_owned())
                };
                out.push(field, value);
            }
        }
        Some(out)
    }
}
