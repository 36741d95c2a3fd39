//! A read-out of the asset map: host records folded into assets, edges folded between assets
//! (a port of `assetmap/snapshot.py`; the asset record itself is built in `record`).
//!
//! Assets are formed in the order of their least recently touched record, edges are folded in
//! the order of their last touch, and every order the output or the findings depend on (ids
//! of roles, evidence of findings, paths) follows from those, as in Python.

use crate::advisories::AdvisoryStore;
use crate::evidence::Evidence;
use crate::fingerprints::Fingerprints;
use crate::grouping::Grouper;
use crate::roles::{self as R, RoleEdge, Roles};
use crate::site::{zone_info, Site, ZoneInfo};
use crate::store::{Edge, Store, Ts, MAX_EDGE_IDS};
use crate::vendors::Vendors;
use crate::{exposure, record};
use icssa_core::{Map, Value};
use std::collections::HashMap;
use std::sync::Arc;

/// The edges of one (client asset, server asset, protocol).
#[derive(Debug, Clone)]
pub struct FoldedEdge {
    pub client: Arc<str>,
    pub server: Arc<str>,
    pub protocol: &'static str,
    pub ports: Vec<u16>,
    pub reads: u64,
    pub writes: u64,
    pub control: u64,
    pub other: u64,
    pub control_ops: Vec<(&'static str, u64)>,
    pub identity_reads: u64,
    pub requests: u64,
    pub responses: u64,
    pub events: u64,
    pub first_seen: Ts,
    pub last_seen: Ts,
    pub event_ids: Vec<Box<str>>,
    pub change_ids: Vec<Box<str>>,
    pub is_cyclic: bool,
}

impl FoldedEdge {
    pub fn new(client: Arc<str>, server: Arc<str>, first: &Edge) -> Self {
        FoldedEdge {
            client,
            server,
            protocol: first.protocol,
            ports: Vec::new(),
            reads: 0,
            writes: 0,
            control: 0,
            other: 0,
            control_ops: Vec::new(),
            identity_reads: 0,
            requests: 0,
            responses: 0,
            events: 0,
            first_seen: first.first_seen.clone(),
            last_seen: first.last_seen.clone(),
            event_ids: Vec::new(),
            change_ids: Vec::new(),
            is_cyclic: false,
        }
    }

    pub fn add(&mut self, e: &Edge) {
        for port in &e.ports {
            if !self.ports.contains(port) {
                self.ports.push(*port);
            }
        }
        self.reads += e.reads;
        self.writes += e.writes;
        self.control += e.control;
        self.other += e.other;
        self.identity_reads += e.identity_reads;
        self.requests += e.requests();
        self.responses += e.responses;
        self.events += e.events();
        for &(op, n) in &e.control_ops {
            match self.control_ops.iter_mut().find(|(o, _)| *o == op) {
                Some(slot) => slot.1 += n,
                None => self.control_ops.push((op, n)),
            }
        }
        if e.first_seen < self.first_seen {
            self.first_seen = e.first_seen.clone();
        }
        if e.last_seen > self.last_seen {
            self.last_seen = e.last_seen.clone();
        }
        for (src, dst) in [
            (&e.event_ids, &mut self.event_ids),
            (&e.change_ids, &mut self.change_ids),
        ] {
            for id in src {
                if dst.len() < MAX_EDGE_IDS && !dst.contains(id) {
                    dst.push(id.clone());
                }
            }
        }
        self.is_cyclic = self.is_cyclic || e.is_cyclic();
    }
}

impl RoleEdge for FoldedEdge {
    fn protocol(&self) -> &str {
        self.protocol
    }
    fn ports(&self) -> &[u16] {
        &self.ports
    }
    fn responses(&self) -> u64 {
        self.responses
    }
    fn reads(&self) -> u64 {
        self.reads
    }
    fn writes(&self) -> u64 {
        self.writes
    }
    fn identity_reads(&self) -> u64 {
        self.identity_reads
    }
    fn control_ops(&self) -> &[(&'static str, u64)] {
        &self.control_ops
    }
    fn event_ids(&self) -> &[Box<str>] {
        &self.event_ids
    }
    fn change_ids(&self) -> &[Box<str>] {
        &self.change_ids
    }
    fn is_cyclic(&self) -> bool {
        self.is_cyclic
    }
    fn server(&self) -> &str {
        &self.server
    }
}

/// An asset's evidence: its one record's, or the merge of several.
pub enum Ev<'s> {
    Unit(&'s Evidence),
    Merged(Evidence),
}

impl std::ops::Deref for Ev<'_> {
    type Target = Evidence;
    fn deref(&self) -> &Evidence {
        match self {
            Ev::Unit(e) => e,
            Ev::Merged(e) => e,
        }
    }
}

/// One asset while a snapshot (or a zone answer) is built.
pub struct AssetView<'s> {
    pub id: Arc<str>,
    /// the address of its latest record
    pub ip: Arc<str>,
    /// its records, latest first
    pub units: Vec<u32>,
    pub evidence: Ev<'s>,
    pub in_edges: Vec<usize>,
    pub out_edges: Vec<usize>,
    pub roles: Roles,
    pub zone: Option<Arc<str>>,
    pub level: Option<f64>,
    pub level_source: Option<&'static str>,
    pub record: Map,
}

impl<'s> AssetView<'s> {
    /// `units` in the store's order (least recently touched first).
    pub fn new(store: &'s Store, id: Arc<str>, units: &[u32]) -> Self {
        let mut sorted = units.to_vec();
        sorted.sort_by(|&a, &b| store.units[b].last_seen.cmp(&store.units[a].last_seen));
        let with: Vec<&'s Evidence> = units
            .iter()
            .filter_map(|&u| store.units[u].evidence.as_deref())
            .filter(|e| !e.is_empty())
            .collect();
        let evidence = match with.as_slice() {
            [one] => Ev::Unit(one),
            many => {
                let mut merged = Evidence::default();
                for e in many {
                    merged.merge(e);
                }
                Ev::Merged(merged)
            }
        };
        let ip = sorted
            .first()
            .map_or_else(|| Arc::from(""), |&u| store.units[u].ip.clone());
        AssetView {
            id,
            ip,
            units: sorted,
            evidence,
            in_edges: Vec::new(),
            out_edges: Vec::new(),
            roles: Roles::new(),
            zone: None,
            level: None,
            level_source: None,
            record: Map::new(),
        }
    }
}

/// Set `view.roles` from its server roles, its client edges and its fingerprint; returns the
/// asset's identity and fingerprint.
pub fn assign_roles(
    view: &mut AssetView<'_>,
    edges: &[FoldedEdge],
    served: &Roles,
    is_controller: &dyn Fn(&str) -> bool,
    fingerprints: &Fingerprints,
    vendors: &Vendors,
) -> (Vec<(&'static str, Value)>, Option<Map>) {
    let identity = view.evidence.identity();
    let fingerprint = if identity.is_empty() {
        None
    } else {
        fingerprints.apply(&identity, vendors)
    };
    let mut fp_roles = Roles::new();
    if let Some(fp) = &fingerprint {
        let role = fp
            .get("device_type")
            .and_then(Value::as_str)
            .and_then(R::device_type_role);
        if let Some(role) = role {
            let ids: Vec<Box<str>> = identity
                .iter()
                .flat_map(|(attr, value)| view.evidence.ids(attr, value))
                .take(5)
                .collect();
            let confidence = match fp.get("confidence") {
                Some(Value::Float(f)) => *f,
                _ => 0.0,
            };
            fp_roles.push((role, confidence, ids));
        }
    }
    let client = R::client_roles(view.out_edges.iter().map(|&i| &edges[i]), is_controller);
    view.roles = R::merge(&[served, &client, &fp_roles]);
    (identity, fingerprint)
}

/// Zone and level of an asset: the site's (or internet's) for its address, else its roles'.
pub fn place(view: &mut AssetView<'_>, site: Option<&Site>) {
    if let Some(info) = zone_info(site, &view.ip) {
        view.zone = info.zone;
        view.level = Some(info.level);
        let by_site = site.is_some_and(|s| s.zone(&view.ip).is_some());
        view.level_source = Some(if by_site { "site" } else { "public" });
        return;
    }
    view.level = R::level(&view.roles);
    view.level_source = view.level.map(|_| "roles");
}

/// What stays of a snapshot while no event comes: the outputs and the zone answers.
#[derive(Debug, Default)]
pub struct Snapshot {
    /// asset records, sorted by id
    pub records: Vec<Map>,
    /// node-link edges, sorted by (client, server, protocol)
    pub edges: Vec<Map>,
    pub findings: Vec<Map>,
    /// the inferred zone of each address (`Snapshot.inferred_zone`)
    pub zones: HashMap<Arc<str>, Option<ZoneInfo>>,
}

impl Snapshot {
    pub fn inferred_zone(&self, ip: &str) -> Option<ZoneInfo> {
        self.zones.get(ip).cloned().flatten()
    }

    /// `nx.node_link_data(graph, edges="edges")` of the asset graph.
    pub fn node_link(&self) -> Value {
        let nodes = self
            .records
            .iter()
            .map(|r| Value::Map(record::node(r)))
            .collect();
        let edges = self.edges.iter().cloned().map(Value::Map).collect();
        Value::Map(icssa_core::map! {
            "directed" => true,
            "multigraph" => true,
            "graph" => Map::new(),
            "nodes" => Value::List(nodes),
            "edges" => Value::List(edges),
        })
    }
}

/// The configuration a read-out needs.
pub struct Context<'a> {
    pub site: Option<&'a Site>,
    pub fingerprints: &'a Fingerprints,
    pub advisories: Option<&'a AdvisoryStore>,
    pub vendors: &'a Vendors,
}

pub fn build(store: &Store, cx: &Context<'_>) -> Snapshot {
    let mut grouper = Grouper::new(store);
    let mut views: Vec<AssetView<'_>> = Vec::new();
    let mut index: HashMap<Arc<str>, usize> = HashMap::new();
    let mut members: Vec<Vec<u32>> = Vec::new();
    for u in store.ordered_units() {
        let gid = grouper.gid(u);
        let i = *index.entry(gid.clone()).or_insert_with(|| {
            members.push(Vec::new());
            members.len() - 1
        });
        members[i].push(u);
    }
    let mut gids: Vec<Arc<str>> = vec![Arc::from(""); index.len()];
    for (g, &i) in &index {
        gids[i] = g.clone();
    }
    let mut by_ip: HashMap<Arc<str>, usize> = HashMap::new();
    for (i, units) in members.iter().enumerate() {
        views.push(AssetView::new(store, gids[i].clone(), units));
        for &u in units {
            let unit = &store.units[u];
            let newer = match by_ip.get(&unit.ip) {
                None => true,
                Some(&p) => store.units[views[p].units[0]].last_seen < unit.last_seen,
            };
            if newer {
                by_ip.insert(unit.ip.clone(), i);
            }
        }
    }
    let mut edges: Vec<FoldedEdge> = Vec::new();
    let mut edge_index: HashMap<(usize, usize, &'static str), usize> = HashMap::new();
    for e in store.ordered_edges() {
        let edge = &store.edges[e];
        let (c, s) = (
            index[&grouper.gid(edge.client)],
            index[&grouper.gid(edge.server)],
        );
        let k = *edge_index.entry((c, s, edge.protocol)).or_insert_with(|| {
            edges.push(FoldedEdge::new(gids[c].clone(), gids[s].clone(), edge));
            views[c].out_edges.push(edges.len() - 1);
            views[s].in_edges.push(edges.len() - 1);
            edges.len() - 1
        });
        edges[k].add(edge);
    }
    let served: Vec<Roles> = views
        .iter()
        .map(|v| R::server_roles(v.in_edges.iter().map(|&i| &edges[i])))
        .collect();
    let controller: Vec<bool> = served
        .iter()
        .map(|roles| roles.iter().any(|(r, _, _)| R::is_controller_role(r)))
        .collect();
    let is_controller = |gid: &str| index.get(gid).is_some_and(|&i| controller[i]);
    for (i, view) in views.iter_mut().enumerate() {
        let (identity, fingerprint) = assign_roles(
            view,
            &edges,
            &served[i],
            &is_controller,
            cx.fingerprints,
            cx.vendors,
        );
        place(view, cx.site);
        view.record = record::record(view, store, &edges, identity, fingerprint, cx.vendors);
        if let Some(advisories) = cx.advisories {
            let found = advisories.matches(&view.record, cx.vendors);
            view.record.set("vulnerabilities", Value::List(found));
        }
    }
    let findings = exposure::find(&views, &edges, &index);
    let mut exposure: Vec<Vec<Value>> = vec![Vec::new(); views.len()];
    for f in &findings {
        let asset = f
            .get("asset")
            .and_then(Value::as_str)
            .and_then(|a| index.get(a));
        if let Some(&i) = asset {
            let entry = icssa_core::map! {
                "id" => f.get("id").cloned().unwrap_or(Value::Null),
                "kind" => f.get("kind").cloned().unwrap_or(Value::Null),
                "severity" => f.get("severity").cloned().unwrap_or(Value::Null),
            };
            exposure[i].push(Value::Map(entry));
        }
    }
    for (view, found) in views.iter_mut().zip(exposure) {
        view.record.set("exposure", Value::List(found));
    }
    let zones = by_ip
        .into_iter()
        .map(|(ip, i)| {
            let v = &views[i];
            (
                ip,
                v.level.map(|level| ZoneInfo {
                    zone: v.zone.clone(),
                    level,
                }),
            )
        })
        .collect();
    let mut order: Vec<usize> = (0..views.len()).collect();
    order.sort_by(|&a, &b| views[a].id.cmp(&views[b].id));
    let mut sorted_edges: Vec<&FoldedEdge> = edges.iter().collect();
    sorted_edges.sort_by(|a, b| {
        (&a.client, &a.server, a.protocol).cmp(&(&b.client, &b.server, b.protocol))
    });
    Snapshot {
        edges: sorted_edges.into_iter().map(record::edge_link).collect(),
        records: order
            .into_iter()
            .map(|i| std::mem::take(&mut views[i].record))
            .collect(),
        findings,
        zones,
    }
}
