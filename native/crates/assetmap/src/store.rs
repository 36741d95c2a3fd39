//! Bounded state of the asset map: host records, communication edges, and what each MAC was seen
//! with (a port of `assetmap/store.py`; the caps table there holds here too).
//!
//! A host record (`Unit`) is one (IP, MAC) pair as seen on the wire; assets are formed from
//! records when they are read out (`snapshot`). Records and edges carry `seq` stamps that order
//! them by their last touch: twice the number of the message, plus one for its receiver (an
//! edge: plus one when the message was a request). Past `max_units` records (or `max_edges`
//! edges) the least recently touched is evicted with everything that hangs on it, and counted.
//!
//! Python keeps a record's times and stamp on its edges and reads them with a walk; they are
//! the extremes over every message that touched the record, so they are kept here as fields,
//! updated on each touch, with the same values.

use crate::links::Links;
use crate::lru::{Handle, Lru};
use crate::roles::SERVER_ROLE;
use crate::site::is_public;
pub use crate::slab::Slab;
pub use crate::units::{Edge, MacInfo, Unit};
use std::collections::HashMap;
use std::sync::Arc;

/// An event time text (`YYYY-MM-DDTHH:MM:SS.ffffffZ`, compared as text).
pub type Ts = Arc<str>;

pub const MAX_IPS_PER_MAC: usize = 16;
pub const MAX_EDGE_IDS: usize = 4;
pub const MAX_PORTS: usize = 4;
pub const MAX_UNIT_EDGES: usize = 4096;
pub const UNIT_EDGES_KEPT: usize = 3072;
pub const MAX_UNITS_PER_IP: usize = 16;
pub const MAX_PROTOCOLS: usize = 16;

/// How often each per-record cap bit.
#[derive(Debug, Default, Clone, Copy)]
pub struct Capped {
    pub unit_edges: u64,
    pub units_per_ip: u64,
    pub protocols: u64,
}

#[derive(Debug)]
pub struct Store {
    pub max_units: usize,
    pub max_edges: usize,
    pub units: Slab<Unit>,
    pub edges: Slab<Edge>,
    edge_keys: HashMap<(u32, u32, &'static str), u32>,
    /// records at each IP, in the order they were made
    pub by_ip: HashMap<Arc<str>, Vec<u32>>,
    pub macs: HashMap<Arc<str>, MacInfo>,
    pub evicted_units: u64,
    pub evicted_edges: u64,
    pub capped: Capped,
    pub links: Links,
    unit_lru: Lru,
    edge_lru: Lru,
}

impl Store {
    pub fn new(max_units: usize, max_edges: usize) -> Store {
        Store {
            max_units,
            max_edges,
            units: Slab::default(),
            edges: Slab::default(),
            edge_keys: HashMap::new(),
            by_ip: HashMap::new(),
            macs: HashMap::new(),
            evicted_units: 0,
            evicted_edges: 0,
            capped: Capped::default(),
            links: Links::default(),
            unit_lru: Lru::default(),
            edge_lru: Lru::default(),
        }
    }

    /// The record of (ip, mac), if held.
    pub fn find(&self, ip: &str, mac: Option<&str>) -> Option<u32> {
        self.by_ip
            .get(ip)?
            .iter()
            .copied()
            .find(|&u| self.units[u].mac.as_deref() == mac)
    }

    /// The record of (ip, mac), touched now with stamp `seq`; true when it was created.
    pub fn unit(&mut self, ip: &str, mac: Option<&str>, ts: &Ts, seq: u64) -> (u32, bool) {
        match self.find(ip, mac) {
            Some(u) => {
                self.units[u].touch(ts, seq);
                (u, false)
            }
            None => (self.new_unit(ip, mac, ts, seq), true),
        }
    }

    fn new_unit(&mut self, ip: &str, mac: Option<&str>, ts: &Ts, seq: u64) -> u32 {
        if let Some(same) = self.by_ip.get(ip).filter(|s| s.len() >= MAX_UNITS_PER_IP) {
            let victim = same.iter().copied().min_by_key(|&u| self.units[u].seq);
            self.capped.units_per_ip += 1;
            if let Some(v) = victim {
                self.remove_unit(v);
            }
        }
        let ip: Arc<str> = match self.by_ip.get_key_value(ip) {
            Some((k, _)) => k.clone(),
            None => Arc::from(ip),
        };
        let mac: Option<Arc<str>> = mac.map(|m| match self.macs.get_key_value(m) {
            Some((k, _)) => k.clone(),
            None => Arc::from(m),
        });
        let unit = Unit {
            ip: ip.clone(),
            mac: mac.clone(),
            first_seen: ts.clone(),
            last_seen: ts.clone(),
            seq,
            evidence: None,
            protocols: Vec::new(),
            edges: Vec::new(),
            served: 0,
        };
        let id = self.units.insert(unit);
        self.by_ip.entry(ip.clone()).or_default().push(id);
        let units = &self.units;
        self.unit_lru.added(
            units.handle(id),
            seq,
            || live(units, |u| u.seq),
            units.len(),
        );
        if let Some(m) = &mac {
            self.macs.entry(m.clone()).or_default().refs += 1;
        }
        if self.units.len() > self.max_units {
            let units = &self.units;
            let victim = self
                .unit_lru
                .oldest(|| live(units, |u| u.seq), |h| units.live(h).map(|u| u.seq));
            if let Some((v, _)) = victim {
                self.remove_unit(v);
            }
        }
        if let Some(info) = mac.and_then(|m| self.macs.get_mut(&m)) {
            // after the eviction, which may have freed a place
            if let Some(slot) = info.ips.iter_mut().find(|(i, _)| *i == ip) {
                slot.1 = id;
            } else if info.ips.len() < MAX_IPS_PER_MAC {
                info.ips.push((ip, id));
            } else {
                info.shared = true; // far more addresses than one host has: a router
            }
        }
        id
    }

    pub fn mark_shared(&mut self, mac: &str) {
        if let Some(info) = self.macs.get_mut(mac) {
            info.shared = true;
        }
    }

    /// Lists `protocol` on the record (at most MAX_PROTOCOLS).
    pub fn add_protocol(&mut self, u: u32, protocol: &'static str) {
        let unit = &mut self.units[u];
        if !unit.protocols.contains(&protocol) {
            if unit.protocols.len() < MAX_PROTOCOLS {
                unit.protocols.push(protocol);
            } else {
                self.capped.protocols += 1;
            }
        }
    }

    /// Evict `u` and all that hangs on it.
    fn remove_unit(&mut self, u: u32) {
        for e in self.units[u].edges.clone() {
            self.drop_edge(e);
        }
        let Some(unit) = self.units.remove(u) else {
            return;
        };
        self.evicted_units += 1;
        if let Some(same) = self.by_ip.get_mut(&unit.ip) {
            same.retain(|&x| x != u);
            if same.is_empty() {
                self.by_ip.remove(&unit.ip);
            }
        }
        if let Some(mac) = &unit.mac {
            if let Some(info) = self.macs.get_mut(mac) {
                info.refs = info.refs.saturating_sub(1);
                info.ips.retain(|(ip, x)| !(*ip == unit.ip && *x == u));
                if info.refs == 0 {
                    self.macs.remove(mac);
                }
            }
        }
    }

    /// The edge of (client, server, protocol), touched now with stamp `seq` (created if new).
    pub fn edge(
        &mut self,
        client: u32,
        server: u32,
        protocol: &'static str,
        ts: &Ts,
        seq: u64,
    ) -> u32 {
        if let Some(&e) = self.edge_keys.get(&(client, server, protocol)) {
            self.edges[e].seq = seq;
            return e;
        }
        let slot_client = self.units[client].edges.len() as u32;
        let slot_server = if client == server {
            slot_client
        } else {
            self.units[server].edges.len() as u32
        };
        let id = self.edges.insert(Edge {
            client,
            server,
            protocol,
            ports: Vec::new(),
            reads: 0,
            writes: 0,
            control: 0,
            other: 0,
            control_ops: Vec::new(),
            identity_reads: 0,
            responses: 0,
            first_seen: ts.clone(),
            last_seen: ts.clone(),
            event_ids: Vec::new(),
            change_ids: Vec::new(),
            read_n: 0,
            read_last: 0.0,
            read_mean: 0.0,
            read_m2: 0.0,
            seq,
            link: Vec::new(),
            slot_client,
            slot_server,
        });
        self.edge_keys.insert((client, server, protocol), id);
        self.units[client].edges.push(id);
        if client != server {
            self.units[server].edges.push(id);
        }
        let edges = &self.edges;
        self.edge_lru.added(
            edges.handle(id),
            seq,
            || live(edges, |e| e.seq),
            edges.len(),
        );
        if self.edges.len() > self.max_edges {
            let edges = &self.edges;
            let victim = self
                .edge_lru
                .oldest(|| live(edges, |e| e.seq), |h| edges.live(h).map(|e| e.seq));
            if let Some((v, _)) = victim {
                self.drop_edge(v);
            }
        }
        for u in [client, server] {
            if self
                .units
                .get(u)
                .is_some_and(|unit| unit.edges.len() > MAX_UNIT_EDGES)
            {
                self.trim(u);
            }
        }
        id
    }

    /// Drop the least recently touched edges of a record with too many, down to UNIT_EDGES_KEPT.
    fn trim(&mut self, u: u32) {
        self.capped.unit_edges += 1;
        let mut edges = self.units[u].edges.clone();
        edges.sort_by_key(|&e| self.edges[e].seq);
        let excess = edges.len().saturating_sub(UNIT_EDGES_KEPT);
        for e in edges.into_iter().take(excess) {
            self.drop_edge(e);
        }
    }

    fn drop_edge(&mut self, e: u32) {
        let handle = self.edges.handle(e);
        let Some(edge) = self.edges.remove(e) else {
            return;
        };
        self.links.forget(&edge.link, handle);
        self.evicted_edges += 1;
        self.edge_keys
            .remove(&(edge.client, edge.server, edge.protocol));
        self.detach(edge.client, edge.slot_client);
        if edge.server != edge.client {
            self.detach(edge.server, edge.slot_server);
        }
        if edge.responses > 0 && SERVER_ROLE.iter().any(|(p, _)| *p == edge.protocol) {
            if let Some(server) = self.units.get_mut(edge.server) {
                server.served = server.served.saturating_sub(1);
            }
        }
    }

    /// Remove the edge at `slot` of record `u`'s edges; the edge moved into its place learns
    /// its new slot.
    fn detach(&mut self, u: u32, slot: u32) {
        let Some(unit) = self.units.get_mut(u) else {
            return;
        };
        let slot = slot as usize;
        if slot >= unit.edges.len() {
            return;
        }
        unit.edges.swap_remove(slot);
        if let Some(&moved) = unit.edges.get(slot) {
            if let Some(m) = self.edges.get_mut(moved) {
                if m.client == u {
                    m.slot_client = slot as u32;
                }
                if m.server == u {
                    m.slot_server = slot as u32;
                }
            }
        }
    }

    /// Records sorted by their last touch, least recent first.
    pub fn ordered_units(&self) -> Vec<u32> {
        let mut out: Vec<u32> = self.units.iter().map(|(i, _)| i).collect();
        out.sort_by_key(|&u| self.units[u].seq);
        out
    }

    /// Edges sorted by their last touch, least recent first.
    pub fn ordered_edges(&self) -> Vec<u32> {
        let mut out: Vec<u32> = self.edges.iter().map(|(i, _)| i).collect();
        out.sort_by_key(|&e| self.edges[e].seq);
        out
    }

    /// True when `mac` does not name one host: shared, or seen with a public address beside
    /// another, or with three or more addresses at overlapping times.
    pub fn is_router(&self, mac: &str) -> bool {
        let Some(info) = self.macs.get(mac) else {
            return false;
        };
        if info.shared {
            return true;
        }
        if info.ips.len() < 2 {
            return false;
        }
        if info.ips.iter().any(|(ip, _)| is_public(ip)) {
            return true;
        }
        let spans: Vec<(&str, &str)> = info
            .ips
            .iter()
            .map(|&(_, u)| (&*self.units[u].first_seen, &*self.units[u].last_seen))
            .collect();
        max_overlap(&spans) >= 3
    }
}

fn live<T>(slab: &Slab<T>, seq: impl Fn(&T) -> u64) -> Vec<(u64, Handle)> {
    slab.iter().map(|(i, t)| (seq(t), slab.handle(i))).collect()
}

/// The most time intervals (first, last) that share one instant.
pub fn max_overlap(spans: &[(&str, &str)]) -> usize {
    let mut points: Vec<(&str, u8)> = spans.iter().flat_map(|&(a, b)| [(a, 0), (b, 1)]).collect();
    points.sort_unstable();
    let (mut best, mut active) = (0usize, 0usize);
    for (_, kind) in points {
        if kind == 0 {
            active += 1;
            best = best.max(active);
        } else {
            active = active.saturating_sub(1);
        }
    }
    best
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ts(s: &str) -> Ts {
        Arc::from(s)
    }

    #[test]
    fn overlap() {
        assert_eq!(max_overlap(&[("1", "3"), ("2", "4"), ("3", "5")]), 3); // touching counts
        assert_eq!(max_overlap(&[("1", "2"), ("3", "4"), ("5", "6")]), 1);
    }

    #[test]
    fn least_recent_record_is_evicted_with_its_edges() {
        let mut s = Store::new(3, 10);
        let (a, _) = s.unit("10.0.0.1", None, &ts("1"), 2);
        let (b, _) = s.unit("10.0.0.2", None, &ts("1"), 3);
        s.edge(a, b, "modbus", &ts("1"), 3);
        let (c, _) = s.unit("10.0.0.3", None, &ts("2"), 4);
        let (d, _) = s.unit("10.0.0.4", None, &ts("2"), 5);
        s.edge(c, d, "modbus", &ts("2"), 5);
        assert_eq!(
            (
                s.units.len(),
                s.evicted_units,
                s.edges.len(),
                s.evicted_edges
            ),
            (3, 1, 1, 1)
        );
        assert!(s.find("10.0.0.1", None).is_none());
        assert!(s.units[b].edges.is_empty());
    }

    #[test]
    fn records_per_ip_and_ips_per_mac_are_capped() {
        let mut s = Store::new(1000, 1000);
        for i in 0..17u64 {
            let mac = format!("00:00:00:00:00:{i:02x}");
            s.unit("10.0.0.1", Some(&mac), &ts("1"), 2 * i);
        }
        assert_eq!(
            (s.by_ip["10.0.0.1"].len(), s.capped.units_per_ip),
            (MAX_UNITS_PER_IP, 1)
        );
        assert!(s.find("10.0.0.1", Some("00:00:00:00:00:00")).is_none());
        for i in 0..17u64 {
            s.unit(
                &format!("10.1.0.{i}"),
                Some("00:1b:1b:00:00:01"),
                &ts("1"),
                100 + 2 * i,
            );
        }
        assert!(s.macs["00:1b:1b:00:00:01"].shared);
    }

    #[test]
    fn a_record_with_too_many_edges_is_trimmed() {
        let mut s = Store::new(10_000, 10_000);
        let (hub, _) = s.unit("10.0.0.1", None, &ts("1"), 0);
        for i in 0..=MAX_UNIT_EDGES as u64 {
            let (c, _) = s.unit(
                &format!("10.1.{}.{}", i / 256, i % 256),
                None,
                &ts("1"),
                2 * i + 2,
            );
            s.edge(c, hub, "modbus", &ts("1"), 2 * i + 3);
        }
        assert_eq!(
            (s.units[hub].edges.len(), s.capped.unit_edges),
            (UNIT_EDGES_KEPT, 1)
        );
        let kept: Vec<u64> = s.units[hub].edges.iter().map(|&e| s.edges[e].seq).collect();
        assert!(kept
            .iter()
            .all(|&q| q > 2 * (MAX_UNIT_EDGES - UNIT_EDGES_KEPT) as u64));
        for &e in &s.units[hub].edges {
            let edge = &s.edges[e];
            assert_eq!(s.units[edge.server].edges[edge.slot_server as usize], e);
        }
    }
}
