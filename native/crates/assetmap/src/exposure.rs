//! Exposure findings from a snapshot, each with the events that show it (a port of
//! `assetmap/exposure.py`).
//!
//! | kind | when | severity |
//! |---|---|---|
//! | controller_untrusted_peer | a controller talks with an asset at level >= 4 | high; critical when the peer writes or controls |
//! | change_from_outside_levels_2_3 | a host whose level is known and outside 2-3 writes to or controls a controller | high; critical for control |
//! | untrusted_path_to_controller | a chain of 2 hops or more leads from a level >= 4 asset to a controller | high |
//! | opcua_security_none | an OPC UA server offers an endpoint with security mode None | medium |
//! | opcua_anonymous_access | an OPC UA server offers or accepted the anonymous user token | medium |
//! | s7_no_protection | an S7 CPU reports protection level 1 | high |
//!
//! Path search (breadth first, as networkx's `single_source_shortest_path` walks the graph in
//! the order its edges were added) stops at `MAX_HOPS` hops and `MAX_PATH_FINDINGS` findings.

use crate::pytext::{fmt_g, py_str};
use crate::roles::is_controller_role;
use crate::snapshot::{AssetView, FoldedEdge};
use blake2::digest::{Update, VariableOutput};
use icssa_core::{Map, Value};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;

const MAX_HOPS: usize = 6;
const MAX_PATH_FINDINGS: usize = 1000;
const MAX_EVIDENCE: usize = 10;
const UNTRUSTED_LEVEL: f64 = 4.0;

fn digest(text: &str) -> String {
    let mut h = blake2::Blake2bVar::new(8).expect("8 is a valid BLAKE2b size");
    h.update(text.as_bytes());
    let mut out = [0u8; 8];
    h.finalize_variable(&mut out).expect("8 bytes");
    icssa_core::text::hex(&out)
}

fn finding(
    kind: &str,
    severity: &str,
    view: &AssetView<'_>,
    description: String,
    evidence: &[Box<str>],
    discriminator: &str,
) -> Map {
    let mut ids: Vec<&str> = Vec::new();
    for id in evidence {
        if ids.len() < MAX_EVIDENCE && !ids.contains(&&**id) {
            ids.push(id);
        }
    }
    icssa_core::map! {
        "id" => format!("{kind}:{}", digest(&format!("{kind}|{}|{discriminator}", view.id))),
        "kind" => kind.to_owned(),
        "severity" => severity.to_owned(),
        "asset" => view.id.to_string(),
        "ip" => view.ip.to_string(),
        "description" => description,
        "evidence" => Value::List(ids.into_iter().map(|i| Value::from(i.to_owned())).collect()),
    }
}

fn level(v: Option<f64>) -> Value {
    v.into()
}

fn zone(v: &AssetView<'_>) -> Value {
    v.zone.as_ref().map(|z| z.to_string()).into()
}

fn where_(view: &AssetView<'_>) -> String {
    let zone = match &view.zone {
        Some(z) if !z.is_empty() => format!("zone {z}"),
        _ => "no zone".to_owned(),
    };
    match view.level {
        Some(l) => format!("{} ({zone}, level {})", view.ip, fmt_g(l)),
        None => format!("{} ({zone})", view.ip),
    }
}

fn sorted_roles(view: &AssetView<'_>) -> String {
    let mut roles: Vec<&str> = view.roles.iter().map(|(r, _, _)| *r).collect();
    roles.sort_unstable();
    roles.join(", ")
}

type Index = HashMap<Arc<str>, usize>;

fn untrusted_peers(
    views: &[AssetView<'_>],
    edges: &[FoldedEdge],
    ix: &Index,
    ctrl: &BTreeSet<&str>,
    untrusted: &BTreeSet<&str>,
) -> Vec<Map> {
    let mut pairs: BTreeMap<(&str, &str), Vec<&FoldedEdge>> = BTreeMap::new();
    for e in edges {
        for (c, peer) in [(&*e.server, &*e.client), (&*e.client, &*e.server)] {
            if c != peer && ctrl.contains(c) && untrusted.contains(peer) {
                pairs.entry((c, peer)).or_default().push(e);
            }
        }
    }
    let mut out = Vec::new();
    for ((c, peer), es) in pairs {
        let (view, other) = (&views[ix[c]], &views[ix[peer]]);
        let changes = es
            .iter()
            .any(|e| &*e.client == peer && (e.writes > 0 || e.control > 0));
        let protocols: BTreeSet<&str> = es.iter().map(|e| e.protocol).collect();
        let protocols: Vec<&str> = protocols.into_iter().collect();
        let inbound = es.iter().any(|e| &*e.client == peer);
        let evidence: Vec<Box<str>> = es
            .iter()
            .flat_map(|e| e.change_ids.iter())
            .chain(es.iter().flat_map(|e| e.event_ids.iter()))
            .cloned()
            .collect();
        let description = format!(
            "controller {} ({}) talks {} with {}, {}",
            view.ip,
            sorted_roles(view),
            protocols.join("/"),
            where_(other),
            if inbound {
                "which connects to it"
            } else {
                "to which it connects"
            }
        );
        let mut f = finding(
            "controller_untrusted_peer",
            if changes { "critical" } else { "high" },
            view,
            description,
            &evidence,
            peer,
        );
        f.push("peer", other.ip.to_string());
        f.push("peer_zone", zone(other));
        f.push("peer_level", level(other.level));
        f.push(
            "protocols",
            Value::List(
                protocols
                    .iter()
                    .map(|p| Value::from(p.to_string()))
                    .collect(),
            ),
        );
        f.push("direction", if inbound { "inbound" } else { "outbound" });
        out.push(f);
    }
    out
}

fn outside_changes(
    views: &[AssetView<'_>],
    edges: &[FoldedEdge],
    ix: &Index,
    ctrl: &BTreeSet<&str>,
) -> Vec<Map> {
    let mut sorted: Vec<&FoldedEdge> = edges.iter().collect();
    sorted.sort_by(|a, b| {
        (&a.client, &a.server, a.protocol).cmp(&(&b.client, &b.server, b.protocol))
    });
    let mut out = Vec::new();
    for e in sorted {
        if e.client == e.server || !ctrl.contains(&*e.server) || (e.writes == 0 && e.control == 0) {
            continue;
        }
        let peer = &views[ix[&e.client]];
        match peer.level {
            Some(l) if !(2.0..=3.0).contains(&l) => {}
            _ => continue,
        }
        let view = &views[ix[&e.server]];
        let mut ops: Vec<&str> = e.control_ops.iter().map(|(op, _)| *op).collect();
        ops.sort_unstable();
        let control = if e.control > 0 {
            format!("{} control operation(s) ({})", e.control, ops.join(", "))
        } else {
            String::new()
        };
        let writes = if e.writes > 0 {
            format!("{} write(s)", e.writes)
        } else {
            String::new()
        };
        let what: Vec<&str> = [writes.as_str(), control.as_str()]
            .into_iter()
            .filter(|x| !x.is_empty())
            .collect();
        let description = format!(
            "{} sent {} over {} to controller {}; changes should come from levels 2-3",
            where_(peer),
            what.join(" and "),
            e.protocol,
            view.ip
        );
        let severity = if e.control > 0 { "critical" } else { "high" };
        let mut f = finding(
            "change_from_outside_levels_2_3",
            severity,
            view,
            description,
            &e.change_ids,
            &format!("{}|{}", e.client, e.protocol),
        );
        f.push("peer", peer.ip.to_string());
        f.push("peer_level", level(peer.level));
        f.push("protocol", e.protocol);
        out.push(f);
    }
    out
}

fn paths(
    views: &[AssetView<'_>],
    edges: &[FoldedEdge],
    ix: &Index,
    ctrl: &BTreeSet<&str>,
    untrusted: &BTreeSet<&str>,
) -> Vec<Map> {
    if untrusted.is_empty() || ctrl.is_empty() {
        return Vec::new();
    }
    // the DiGraph: successors in the order their edges were added, with the first edge's first id
    let mut adj: HashMap<&str, Vec<&str>> = HashMap::new();
    let mut first: HashMap<(&str, &str), Option<Box<str>>> = HashMap::new();
    for e in edges {
        let (c, s) = (&*e.client, &*e.server);
        if c != s && !first.contains_key(&(c, s)) {
            first.insert((c, s), e.event_ids.first().cloned());
            adj.entry(c).or_default().push(s);
            adj.entry(s).or_default();
        }
    }
    let mut out = Vec::new();
    for &source in untrusted {
        if !adj.contains_key(source) {
            continue;
        }
        let found = shortest_paths(&adj, source);
        let mut targets: Vec<&str> = found.keys().copied().filter(|t| ctrl.contains(t)).collect();
        targets.sort_unstable();
        for target in targets {
            let path = &found[target];
            if path.len() < 3 || untrusted.contains(target) {
                continue;
            }
            let view = &views[ix[target]];
            let hops: Vec<String> = path.iter().map(|n| views[ix[*n]].ip.to_string()).collect();
            let evidence: Vec<Box<str>> = path
                .windows(2)
                .filter_map(|w| first[&(w[0], w[1])].clone())
                .collect();
            let src = &views[ix[source]];
            let description = format!(
                "{} reaches controller {} in {} hops: {}",
                where_(src),
                view.ip,
                path.len() - 1,
                hops.join(" -> ")
            );
            let mut f = finding(
                "untrusted_path_to_controller",
                "high",
                view,
                description,
                &evidence,
                source,
            );
            f.push("path", hops);
            f.push("source", src.ip.to_string());
            out.push(f);
            if out.len() >= MAX_PATH_FINDINGS {
                return out;
            }
        }
    }
    out
}

/// `nx.single_source_shortest_path(g, source, cutoff=MAX_HOPS)`.
fn shortest_paths<'a>(
    adj: &HashMap<&'a str, Vec<&'a str>>,
    source: &'a str,
) -> HashMap<&'a str, Vec<&'a str>> {
    let mut paths: HashMap<&str, Vec<&str>> = HashMap::new();
    paths.insert(source, vec![source]);
    let mut next = vec![source];
    let mut depth = 0;
    while !next.is_empty() && depth < MAX_HOPS {
        let this = std::mem::take(&mut next);
        for v in this {
            for &w in adj.get(v).map_or(&[][..], Vec::as_slice) {
                if !paths.contains_key(w) {
                    let mut p = paths[v].clone();
                    p.push(w);
                    paths.insert(w, p);
                    next.push(w);
                }
            }
            if paths.len() == adj.len() {
                return paths;
            }
        }
        depth += 1;
    }
    paths
}

fn configuration(views: &[AssetView<'_>]) -> Vec<Map> {
    let mut order: Vec<&AssetView<'_>> = views.iter().collect();
    order.sort_by(|a, b| a.id.cmp(&b.id));
    let none: Value = "None".into();
    let anonymous: Value = "anonymous".into();
    let mut out = Vec::new();
    for view in order {
        let ev = &view.evidence;
        if ev
            .values("opcua_security_mode")
            .iter()
            .any(|(v, _)| *v == none)
        {
            let mut urls: Vec<String> = ev
                .values("opcua_endpoint_url")
                .iter()
                .filter_map(|(u, _)| py_str(u).map(|s| s.into_owned()))
                .collect();
            urls.sort();
            let listed = if urls.is_empty() {
                String::new()
            } else {
                format!(" ({})", urls[..urls.len().min(3)].join(", "))
            };
            let description = format!(
                "OPC UA server {} offers an endpoint with security mode None{listed}",
                view.ip
            );
            out.push(finding(
                "opcua_security_none",
                "medium",
                view,
                description,
                &ev.ids("opcua_security_mode", &none),
                "",
            ));
        }
        let offered = ev
            .values("opcua_user_token")
            .iter()
            .any(|(v, _)| *v == anonymous);
        let used = ev
            .values("opcua_session_token")
            .iter()
            .any(|(v, _)| *v == anonymous);
        if offered || used {
            let how: Vec<&str> = [
                (offered, "offers anonymous logon"),
                (used, "accepted anonymous session activation"),
            ]
            .into_iter()
            .filter_map(|(on, text)| on.then_some(text))
            .collect();
            let mut ids = ev.ids("opcua_user_token", &anonymous);
            ids.extend(ev.ids("opcua_session_token", &anonymous));
            let description = format!("OPC UA server {} {}", view.ip, how.join(" and "));
            out.push(finding(
                "opcua_anonymous_access",
                "medium",
                view,
                description,
                &ids,
                "",
            ));
        }
        for (value, claim) in ev.values("protection_level") {
            if py_str(value).is_some_and(|s| crate::pytext::strip(&s) == "1") {
                let description = format!(
                    "S7 CPU {} reports protection level 1 (no protection): anyone who reaches port 102 \
                     can read, write, download and stop it",
                    view.ip
                );
                out.push(finding(
                    "s7_no_protection",
                    "high",
                    view,
                    description,
                    &claim.ids,
                    "",
                ));
            }
        }
    }
    out
}

/// All findings, sorted by (asset, kind, id).
pub fn find(views: &[AssetView<'_>], edges: &[FoldedEdge], ix: &Index) -> Vec<Map> {
    let ctrl: BTreeSet<&str> = views
        .iter()
        .filter(|v| v.roles.iter().any(|(r, _, _)| is_controller_role(r)))
        .map(|v| &*v.id)
        .collect();
    let untrusted: BTreeSet<&str> = views
        .iter()
        .filter(|v| v.level.is_some_and(|l| l >= UNTRUSTED_LEVEL))
        .map(|v| &*v.id)
        .collect();
    let mut out = untrusted_peers(views, edges, ix, &ctrl, &untrusted);
    out.extend(outside_changes(views, edges, ix, &ctrl));
    out.extend(paths(views, edges, ix, &ctrl, &untrusted));
    out.extend(configuration(views));
    let key = |f: &Map| -> (String, String, String) {
        let s = |k: &str| f.get(k).and_then(Value::as_str).unwrap_or("").to_owned();
        (s("asset"), s("kind"), s("id"))
    };
    out.sort_by_cached_key(key);
    out
}
