//! The configuration document: what `Analytics().asset_map()` is built from in Python (the site
//! file, the advisories, the fingerprint, vendor and OUI tables), read and validated there and
//! handed over as one JSON document by `native/tools/assetmap_config.py`:
//!
//! ```json
//! {"max_assets": 200000, "max_edges": 400000,
//!  "site": null | {"zones": [{"name": "control", "level": 1.0}],
//!                  "nets4": [["ffffff00", "0a0a0100", 0]], "nets6": [[mask, net, zone]]},
//!  "advisories": null | [{"id": "...", "record": {...},
//!                         "affected": [{"vendor": "...", "vendor_key": "...",
//!                                       "products": ["regex"], "versions": [{"lt": "V3.2.12"}]}]}],
//!  "fingerprints": [{"id": "...", "match": {"attr": "regex"}, "result": {...}, "confidence": 0.9}],
//!  "vendors": [["regex", "Canonical"]],
//!  "oui": {"00:1b:1b": "Siemens"}}
//! ```
//!
//! Networks come in `Site`'s lookup order (longest prefix first), masks and networks as hex;
//! fingerprint and advisory patterns are compiled case-insensitively, vendor patterns as they
//! are (as Python compiles them).

use crate::advisories::{Advisory, AdvisoryStore, Affected};
use crate::fingerprints::{Fingerprint, Fingerprints};
use crate::inventory::{AssetMap, Config};
use crate::oui::OuiTable;
use crate::pyre::PyRegex;
use crate::site::{Site, Zone};
use crate::vendors::Vendors;
use crate::versions::{self, Range};
use icssa_core::{Map, Value};

type Result<T> = std::result::Result<T, String>;

fn map<'a>(v: &'a Value, what: &str) -> Result<&'a Map> {
    v.as_map()
        .ok_or_else(|| format!("{what}: expected an object"))
}

fn list<'a>(v: Option<&'a Value>, what: &str) -> Result<&'a [Value]> {
    match v {
        Some(Value::List(l)) => Ok(l),
        _ => Err(format!("{what}: expected a list")),
    }
}

fn text<'a>(v: Option<&'a Value>, what: &str) -> Result<&'a str> {
    v.and_then(Value::as_str)
        .ok_or_else(|| format!("{what}: expected a string"))
}

fn number(v: Option<&Value>, what: &str) -> Result<f64> {
    match v {
        Some(Value::Float(f)) => Ok(*f),
        Some(Value::Int(i)) => Ok(*i as f64),
        Some(Value::UInt(u)) => Ok(*u as f64),
        _ => Err(format!("{what}: expected a number")),
    }
}

fn count(v: Option<&Value>, what: &str) -> Result<usize> {
    v.and_then(Value::as_i64)
        .and_then(|i| usize::try_from(i).ok())
        .ok_or_else(|| format!("{what}: expected a count"))
}

fn site(v: &Value) -> Result<Site> {
    let m = map(v, "site")?;
    let mut out = Site::default();
    for z in list(m.get("zones"), "site.zones")? {
        let z = map(z, "site zone")?;
        out.zones.push(Zone {
            name: text(z.get("name"), "zone name")?.into(),
            level: number(z.get("level"), "zone level")?,
        });
    }
    let net = |n: &Value| -> Result<(u128, u128, usize)> {
        let parts = list(Some(n), "site network")?;
        let hex = |i: usize| {
            let s = text(parts.get(i), "site network")?;
            u128::from_str_radix(s, 16).map_err(|e| format!("site network {s:?}: {e}"))
        };
        let zone = count(parts.get(2), "site network zone")?;
        if zone >= out.zones.len() {
            return Err(format!("site network zone {zone} out of range"));
        }
        Ok((hex(0)?, hex(1)?, zone))
    };
    for n in list(m.get("nets4"), "site.nets4")? {
        let (mask, addr, zone) = net(n)?;
        let narrow =
            |x: u128| u32::try_from(x).map_err(|_| "site nets4: not an IPv4 value".to_owned());
        out.nets4.push((narrow(mask)?, narrow(addr)?, zone));
    }
    for n in list(m.get("nets6"), "site.nets6")? {
        out.nets6.push(net(n)?);
    }
    Ok(out)
}

fn ranges(v: Option<&Value>, id: &str) -> Result<Vec<Range>> {
    let Some(v) = v else { return Ok(Vec::new()) };
    let mut out = Vec::new();
    for r in list(Some(v), "advisory versions")? {
        let mut bounds = Vec::new();
        for (op, bound) in map(r, "advisory version range")?.iter() {
            if !matches!(&**op, "eq" | "ge" | "gt" | "le" | "lt") {
                return Err(format!("advisory {id}: unknown version bound {op:?}"));
            }
            let raw = text(Some(bound), "version bound")?;
            let parsed = versions::parse(raw, true)
                .ok_or_else(|| format!("advisory {id}: bad version {raw:?}"))?;
            bounds.push((op.to_string(), raw.to_owned(), parsed));
        }
        out.push(Range { bounds });
    }
    Ok(out)
}

fn advisories(v: &Value) -> Result<AdvisoryStore> {
    let mut out = Vec::new();
    for a in list(Some(v), "advisories")? {
        let a = map(a, "advisory")?;
        let id = text(a.get("id"), "advisory id")?.to_owned();
        let mut affected = Vec::new();
        for aff in list(a.get("affected"), "advisory affected")? {
            let aff = map(aff, "affected")?;
            let products = list(aff.get("products"), "affected products")?
                .iter()
                .map(|p| PyRegex::new(text(Some(p), "product pattern")?, true))
                .collect::<Result<Vec<_>>>()?;
            affected.push(Affected {
                vendor_key: text(aff.get("vendor_key"), "affected vendor_key")?.to_owned(),
                vendor: text(aff.get("vendor"), "affected vendor")?.to_owned(),
                products,
                ranges: ranges(aff.get("versions"), &id)?,
            });
        }
        let record = map(a.get("record").unwrap_or(&Value::Null), "advisory record")?.clone();
        out.push(Advisory {
            id,
            record,
            affected,
        });
    }
    Ok(AdvisoryStore::new(out))
}

fn fingerprints(v: Option<&Value>) -> Result<Fingerprints> {
    let mut items = Vec::new();
    for f in list(v, "fingerprints")? {
        let f = map(f, "fingerprint")?;
        let conditions = map(f.get("match").unwrap_or(&Value::Null), "fingerprint match")?
            .iter()
            .map(|(attr, p)| {
                Ok((
                    attr.to_string(),
                    PyRegex::new(text(Some(p), "fingerprint pattern")?, true)?,
                ))
            })
            .collect::<Result<Vec<_>>>()?;
        let result = map(
            f.get("result").unwrap_or(&Value::Null),
            "fingerprint result",
        )?
        .iter()
        .map(|(k, v)| {
            Ok((
                k.to_string(),
                text(Some(v), "fingerprint result")?.to_owned(),
            ))
        })
        .collect::<Result<Vec<_>>>()?;
        items.push(Fingerprint {
            id: text(f.get("id"), "fingerprint id")?.to_owned(),
            conditions,
            result,
            confidence: number(f.get("confidence"), "fingerprint confidence")?,
        });
    }
    Ok(Fingerprints { items })
}

fn vendors(v: Option<&Value>) -> Result<Vendors> {
    let mut patterns = Vec::new();
    for pair in list(v, "vendors")? {
        let pair = list(Some(pair), "vendor alias")?;
        let pattern = PyRegex::new(text(pair.first(), "vendor pattern")?, false)?;
        patterns.push((pattern, text(pair.get(1), "vendor name")?.to_owned()));
    }
    Ok(Vendors::new(patterns))
}

fn oui(v: Option<&Value>) -> Result<OuiTable> {
    let rows = map(v.unwrap_or(&Value::Null), "oui")?
        .iter()
        .map(|(k, v)| Ok((k.to_string(), text(Some(v), "oui vendor")?.to_owned())))
        .collect::<Result<_>>()?;
    Ok(OuiTable { rows })
}

/// A JSON document as a `Value` (key order kept).
pub fn value_from_json(j: &serde_json::Value) -> Value {
    use serde_json::Value as J;
    match j {
        J::Null => Value::Null,
        J::Bool(b) => Value::Bool(*b),
        J::Number(n) => match (n.as_i64(), n.as_u64()) {
            (Some(i), _) => Value::Int(i),
            (None, Some(u)) => Value::UInt(u),
            _ => Value::Float(n.as_f64().unwrap_or(f64::NAN)),
        },
        J::String(s) => Value::Str(s.clone().into()),
        J::Array(a) => Value::List(a.iter().map(value_from_json).collect()),
        J::Object(o) => Value::Map(Map(o
            .iter()
            .map(|(k, v)| (k.clone().into(), value_from_json(v)))
            .collect())),
    }
}

impl AssetMap {
    /// The asset map a configuration document describes (see the module docs).
    pub fn from_config(doc: &Value) -> Result<AssetMap> {
        let m = map(doc, "configuration")?;
        let max_assets = count(m.get("max_assets"), "max_assets")?;
        let max_edges = match m.get("max_edges") {
            None | Some(Value::Null) => 2 * max_assets,
            v => count(v, "max_edges")?,
        };
        let site = match m.get("site") {
            None | Some(Value::Null) => None,
            Some(v) => Some(site(v)?),
        };
        let advisories = match m.get("advisories") {
            None | Some(Value::Null) => None,
            Some(v) => Some(advisories(v)?),
        };
        AssetMap::new(Config {
            site,
            advisories,
            max_assets,
            max_edges,
            fingerprints: fingerprints(m.get("fingerprints"))?,
            vendors: vendors(m.get("vendors"))?,
            oui: oui(m.get("oui"))?,
        })
    }

    /// `from_config` of the document's JSON text.
    pub fn from_config_json(text: &str) -> Result<AssetMap> {
        let j: serde_json::Value =
            serde_json::from_str(text).map_err(|e| format!("configuration: {e}"))?;
        AssetMap::from_config(&value_from_json(&j))
    }
}
