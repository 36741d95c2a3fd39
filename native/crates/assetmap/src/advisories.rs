//! The local advisory store: published vulnerabilities matched against the inventory (a port of
//! `assetmap/advisories.py`; the advisories come with the configuration, validated in Python).
//!
//! Product strings are the asset's product, product family and the identity attributes that
//! name a product. A match is `affected` when the asset's firmware falls in a range (or the
//! entry covers all versions) and `possible` when the entry has ranges but the asset's version
//! is unknown; results are ordered most severe first.

use crate::pyre::PyRegex;
use crate::pytext::py_str;
use crate::vendors::Vendors;
use crate::versions::{self, Range, Version};
use icssa_core::{Map, Value};
use std::collections::HashMap;

/// identity attributes that name a product (searched by advisory product patterns)
const PRODUCT_ATTRIBUTES: &[&str] = &[
    "product_name",
    "model_name",
    "product_code",
    "module_type_name",
    "module_name",
    "order_number",
    "application_name",
    "application_uri",
    "product_uri",
];
/// identity attributes that carry the running version, in order of preference
const VERSION_ATTRIBUTES: &[&str] = &["firmware_version", "revision"];

#[derive(Debug, Clone)]
pub struct Affected {
    pub vendor_key: String,
    pub vendor: String,
    pub products: Vec<PyRegex>,
    pub ranges: Vec<Range>,
}

#[derive(Debug, Clone)]
pub struct Advisory {
    pub id: String,
    /// the advisory as written, less `affected`
    pub record: Map,
    pub affected: Vec<Affected>,
}

#[derive(Debug, Clone, Default)]
pub struct AdvisoryStore {
    pub advisories: Vec<Advisory>,
    by_vendor: HashMap<String, Vec<(usize, usize)>>,
}

fn sub_map<'a>(asset: &'a Map, key: &str) -> Option<&'a Map> {
    asset.get(key).and_then(Value::as_map)
}

fn field<'a>(m: Option<&'a Map>, key: &str) -> &'a Value {
    m.and_then(|m| m.get(key)).unwrap_or(&Value::Null)
}

/// `v not in (None, "")`, then `str(v)`.
fn text_of(v: &Value) -> Option<String> {
    match v {
        Value::Null => None,
        Value::Str(s) if s.is_empty() => None,
        v => py_str(v).map(|s| s.into_owned()),
    }
}

fn product_strings(asset: &Map) -> Vec<String> {
    let identity = sub_map(asset, "identity");
    let fingerprint = sub_map(asset, "fingerprint");
    let mut values = vec![
        asset.get("product").unwrap_or(&Value::Null),
        field(fingerprint, "family"),
    ];
    values.extend(PRODUCT_ATTRIBUTES.iter().map(|a| field(identity, a)));
    values.into_iter().filter_map(text_of).collect()
}

fn asset_version(asset: &Map) -> Option<Version> {
    let identity = sub_map(asset, "identity");
    let mut values = vec![asset.get("firmware").unwrap_or(&Value::Null)];
    values.extend(VERSION_ATTRIBUTES.iter().map(|a| field(identity, a)));
    values
        .into_iter()
        .filter_map(text_of)
        .find_map(|t| versions::parse(&t, false))
}

impl AdvisoryStore {
    pub fn new(advisories: Vec<Advisory>) -> Self {
        let mut by_vendor: HashMap<String, Vec<(usize, usize)>> = HashMap::new();
        for (i, adv) in advisories.iter().enumerate() {
            for (j, aff) in adv.affected.iter().enumerate() {
                by_vendor
                    .entry(aff.vendor_key.clone())
                    .or_default()
                    .push((i, j));
            }
        }
        AdvisoryStore {
            advisories,
            by_vendor,
        }
    }

    fn vendor_keys(&self, asset: &Map, vendors: &Vendors) -> Vec<String> {
        let identity = sub_map(asset, "identity");
        let fingerprint = sub_map(asset, "fingerprint");
        let names = [
            asset.get("vendor").unwrap_or(&Value::Null),
            field(identity, "vendor"),
            field(fingerprint, "vendor"),
            field(identity, "oui_vendor"),
        ];
        let mut keys: Vec<String> = names
            .iter()
            .filter(|n| !matches!(n, Value::Null))
            .filter_map(|n| py_str(n))
            .filter_map(|n| vendors.key(&n))
            .collect();
        keys.sort();
        keys.dedup();
        keys
    }

    /// Advisories that apply to `asset` (an asset record), most severe first.
    pub fn matches(&self, asset: &Map, vendors: &Vendors) -> Vec<Value> {
        let keys = self.vendor_keys(asset, vendors);
        if keys.is_empty() {
            return Vec::new();
        }
        let products = product_strings(asset);
        let version = asset_version(asset);
        let mut results: Vec<(String, bool, Map)> = Vec::new();
        for key in &keys {
            for &(i, j) in self.by_vendor.get(key).map_or(&[][..], Vec::as_slice) {
                let (adv, aff) = (&self.advisories[i], &self.advisories[i].affected[j]);
                let Some(product) = products
                    .iter()
                    .find(|s| aff.products.iter().any(|p| p.search(s)))
                else {
                    continue;
                };
                let (affected, range) = if aff.ranges.is_empty() {
                    (true, None)
                } else if let Some(v) = &version {
                    match aff.ranges.iter().find(|r| r.contains(v)) {
                        Some(r) => (true, Some(r)),
                        None => continue,
                    }
                } else {
                    (false, None)
                };
                let prior = results.iter().position(|(id, _, _)| *id == adv.id);
                if prior.is_some_and(|p| results[p].1) {
                    continue;
                }
                let mut record = adv.record.clone();
                record.set("status", if affected { "affected" } else { "possible" });
                let range_value = range.map_or(Value::Null, |r| {
                    Value::Map(Map(r
                        .bounds
                        .iter()
                        .map(|(op, raw, _)| (op.clone().into(), Value::from(raw.clone())))
                        .collect()))
                });
                record.set(
                    "matched",
                    icssa_core::map! {
                        "vendor" => aff.vendor.clone(),
                        "product" => product.clone(),
                        "version" => version.as_ref().map(|v| v.raw.clone()),
                        "range" => range_value,
                    },
                );
                match prior {
                    Some(p) => results[p] = (adv.id.clone(), affected, record),
                    None => results.push((adv.id.clone(), affected, record)),
                }
            }
        }
        results.sort_by(|a, b| {
            severity(a)
                .partial_cmp(&severity(b))
                .unwrap_or(std::cmp::Ordering::Equal)
                .then_with(|| a.0.cmp(&b.0))
        });
        results.into_iter().map(|(_, _, r)| Value::Map(r)).collect()
    }
}

/// (0 if affected else 1, -(cvss score or 0.0)) of a result.
fn severity((_, affected, record): &(String, bool, Map)) -> (u8, f64) {
    let score = match record.get("cvss") {
        Some(Value::Map(cvss)) => match cvss.get("score") {
            Some(Value::Float(f)) => *f,
            Some(Value::Int(i)) => *i as f64,
            Some(Value::UInt(u)) => *u as f64,
            _ => 0.0,
        },
        _ => 0.0,
    };
    (u8::from(!affected), -score)
}
