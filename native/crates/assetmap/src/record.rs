//! The asset record and the graph's node and edge attributes (`snapshot._record`,
//! `FoldedEdge.attrs`, `Snapshot.node_link` in `assetmap/snapshot.py`).
//!
//! Node schema: id, ip, ips, mac, roles, protocols, services, vendor, product, firmware, serial,
//! name, first_seen, last_seen, zone, purdue_level, level_source, exposure, identity,
//! fingerprint, evidence, vulnerabilities. Edge schema: protocol, ports, reads, writes,
//! control, control_ops, other, identity_reads, requests, responses, events, first_seen,
//! last_seen, event_ids, change_ids (plus source, target, key in the node-link form).

use crate::evidence::{ids_value, ts_value};
use crate::pytext::{py_str, round3};
use crate::snapshot::{AssetView, FoldedEdge};
use crate::store::Store;
use crate::vendors::Vendors;
use icssa_core::{Map, Value};

const PRODUCT_ATTRS: &[&str] = &[
    "product_name",
    "model_name",
    "module_type_name",
    "module_name",
    "product_code",
];
const NAME_ATTRS: &[&str] = &["system_name", "user_application_name", "application_name"];
const FIRMWARE_ATTRS: &[&str] = &["firmware_version", "revision"];
/// asset record fields that are graph node attributes
const NODE_ATTRS: &[&str] = &[
    "ip",
    "ips",
    "mac",
    "roles",
    "purdue_level",
    "zone",
    "vendor",
    "product",
    "name",
    "protocols",
    "services",
];
/// transports below an application protocol: spoken, but not a service of their own
const TRANSPORT_DATASETS: &[&str] = &["cotp"];

fn get<'a>(identity: &'a [(&'static str, Value)], attr: &str) -> Option<&'a Value> {
    identity.iter().find(|(a, _)| *a == attr).map(|(_, v)| v)
}

fn first(identity: &[(&'static str, Value)], attrs: &[&str]) -> Option<Value> {
    attrs.iter().find_map(|a| get(identity, a)).cloned()
}

fn str_list(items: impl IntoIterator<Item = String>) -> Value {
    Value::List(items.into_iter().map(|s| Value::Str(s.into())).collect())
}

fn opt(v: Option<Value>) -> Value {
    v.unwrap_or(Value::Null)
}

/// Python's `a or b`.
fn or(a: Option<Value>, b: impl FnOnce() -> Option<Value>) -> Option<Value> {
    match a {
        Some(v) if v.truthy() => Some(v),
        _ => b(),
    }
}

pub fn record(
    view: &AssetView<'_>,
    store: &Store,
    edges: &[FoldedEdge],
    identity: Vec<(&'static str, Value)>,
    fingerprint: Option<Map>,
    vendors: &Vendors,
) -> Map {
    let fp_field = |k: &str| fingerprint.as_ref().and_then(|f| f.get(k)).cloned();
    let vendor = or(fp_field("vendor"), || {
        let canonical = get(&identity, "vendor")
            .and_then(py_str)
            .and_then(|n| vendors.canonical(&n))
            .map(Value::from);
        or(canonical, || get(&identity, "oui_vendor").cloned())
    });
    let product = or(first(&identity, PRODUCT_ATTRS), || fp_field("family"));
    let units: Vec<&crate::store::Unit> = view.units.iter().map(|&u| &store.units[u]).collect();
    let mut protocols: Vec<String> = units
        .iter()
        .flat_map(|u| u.protocols.iter().map(|p| p.to_string()))
        .collect();
    protocols.sort();
    protocols.dedup();
    let mut services: Vec<String> = view
        .in_edges
        .iter()
        .map(|&i| &edges[i])
        .filter(|e| e.responses > 0 && !TRANSPORT_DATASETS.contains(&e.protocol))
        .flat_map(|e| e.ports.iter().map(move |p| format!("{}/{p}", e.protocol)))
        .collect();
    services.sort();
    services.dedup();
    let mut evidence = view.evidence.export();
    let mut roles: Vec<&(&'static str, f64, Vec<Box<str>>)> = view.roles.iter().collect();
    roles.sort_by(|a, b| b.1.partial_cmp(&a.1).unwrap_or(std::cmp::Ordering::Equal));
    let role_evidence = roles
        .into_iter()
        .map(|(role, conf, ids)| {
            Value::Map(icssa_core::map! {
                "value" => *role,
                "confidence" => round3(*conf),
                "event_ids" => ids_value(ids),
            })
        })
        .collect();
    evidence.push("roles", Value::List(role_evidence));
    let mut ips: Vec<String> = Vec::new();
    for u in &units {
        if !ips.iter().any(|ip| **ip == *u.ip) {
            ips.push(u.ip.to_string());
        }
    }
    let mut role_names: Vec<String> = view.roles.iter().map(|(r, _, _)| r.to_string()).collect();
    role_names.sort();
    let first_seen = units.iter().map(|u| &u.first_seen).min();
    let last_seen = units.iter().map(|u| &u.last_seen).max();
    let identity_map = Map(identity
        .iter()
        .map(|(a, v)| ((*a).into(), v.clone()))
        .collect());
    icssa_core::map! {
        "id" => view.id.to_string(),
        "ip" => view.ip.to_string(),
        "ips" => str_list(ips),
        "mac" => view.id.strip_prefix("mac:").map(str::to_owned),
        "roles" => str_list(role_names),
        "protocols" => str_list(protocols),
        "services" => str_list(services),
        "vendor" => opt(vendor),
        "product" => opt(product),
        "firmware" => opt(first(&identity, FIRMWARE_ATTRS)),
        "serial" => opt(get(&identity, "serial_number").cloned()),
        "name" => opt(first(&identity, NAME_ATTRS)),
        "first_seen" => first_seen.map_or(Value::Null, ts_value),
        "last_seen" => last_seen.map_or(Value::Null, ts_value),
        "zone" => view.zone.as_ref().map(|z| z.to_string()),
        "purdue_level" => view.level,
        "level_source" => view.level_source,
        "exposure" => Value::List(Vec::new()),
        "identity" => identity_map,
        "fingerprint" => fingerprint.map_or(Value::Null, Value::Map),
        "evidence" => evidence,
        "vulnerabilities" => Value::List(Vec::new()),
    }
}

/// The graph node of an asset record: `NODE_ATTRS`, then its id.
pub fn node(record: &Map) -> Map {
    let mut node = Map::with_capacity(NODE_ATTRS.len() + 1);
    for k in NODE_ATTRS {
        node.push(*k, record.get(k).cloned().unwrap_or(Value::Null));
    }
    node.push("id", record.get("id").cloned().unwrap_or(Value::Null));
    node
}

/// `FoldedEdge.attrs()` with `source`, `target` and `key`.
pub fn edge_link(e: &FoldedEdge) -> Map {
    let mut ports = e.ports.clone();
    ports.sort_unstable();
    let mut ops = e.control_ops.clone();
    ops.sort_by(|a, b| a.0.cmp(b.0));
    let ops = Map(ops
        .into_iter()
        .map(|(op, n)| (op.into(), Value::from(n)))
        .collect());
    icssa_core::map! {
        "protocol" => e.protocol,
        "ports" => ports,
        "reads" => e.reads,
        "writes" => e.writes,
        "control" => e.control,
        "control_ops" => ops,
        "other" => e.other,
        "identity_reads" => e.identity_reads,
        "requests" => e.requests,
        "responses" => e.responses,
        "events" => e.events,
        "first_seen" => ts_value(&e.first_seen),
        "last_seen" => ts_value(&e.last_seen),
        "event_ids" => ids_value(&e.event_ids),
        "change_ids" => ids_value(&e.change_ids),
        "source" => e.client.to_string(),
        "target" => e.server.to_string(),
        "key" => e.protocol,
    }
}
