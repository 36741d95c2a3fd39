//! What the asset map remembers between messages of one flow, so that the next costs little (a
//! port of `assetmap/links.py`).
//!
//! A link is (client IP and MAC, server IP and MAC, server port, protocol) as written in the
//! events -> the edge between the client and server records. Finding records (MAC
//! normalisation, the OUI vendor of a new record, shared-MAC marking), listing the protocol on
//! both records and the server port on the edge are done once, when the link is made; later
//! messages of the link only update the edge and the times and stamps of its records. A link is
//! valid while its edge is in the store: an edge that leaves the store takes its links with it
//! (`forget`). At most `MAX_LINKS` links (cleared when full), `MAX_KEYS_PER_EDGE` per edge (the
//! oldest dropped), and the first `MAX_DATASETS` protocols get links (messages of later ones
//! take the general path, which lists the protocol on every message, as Python counts it).
//!
//! In front of the links, at most `MAX_FLOWS` flows (cleared when full) remember the link of a
//! flow direction's shared envelope (the sensor makes one per flow direction), by the
//! envelope's address: a message whose envelope and protocol are remembered finds its link
//! without hashing the addresses in it. A flow's answer is taken only while the link it names is
//! still held: no clear since (`epoch`), its edge in the store, and the key still among the
//! edge's keys (`serial`).

use crate::lru::Handle;
use icssa_core::event::Envelope;
use std::collections::hash_map::RandomState;
use std::collections::HashMap;
use std::hash::{BuildHasher, BuildHasherDefault, Hasher};
use std::sync::Arc;

pub const MAX_LINKS: usize = 16_384;
pub const MAX_KEYS_PER_EDGE: usize = 4;
pub const MAX_DATASETS: usize = 64;
pub const MAX_FLOWS: usize = 16_384;

/// A key of an edge's links, with the number it got when it joined the edge.
pub type EdgeKey = (LinkKey, u64);

/// A link's key, held.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LinkKey {
    client_ip: Box<str>,
    client_mac: Option<Box<str>>,
    server_ip: Box<str>,
    server_mac: Option<Box<str>>,
    server_port: u16,
    dataset: Box<str>,
}

/// A link's key, as a message names it.
#[derive(Debug, Clone, Copy)]
pub struct LinkRef<'a> {
    pub client_ip: &'a str,
    pub client_mac: Option<&'a str>,
    pub server_ip: &'a str,
    pub server_mac: Option<&'a str>,
    pub server_port: u16,
    pub dataset: &'a str,
}

impl LinkRef<'_> {
    fn matches(&self, k: &LinkKey) -> bool {
        self.server_port == k.server_port
            && self.client_ip == &*k.client_ip
            && self.server_ip == &*k.server_ip
            && self.client_mac == k.client_mac.as_deref()
            && self.server_mac == k.server_mac.as_deref()
            && self.dataset == &*k.dataset
    }

    fn to_key(self) -> LinkKey {
        LinkKey {
            client_ip: self.client_ip.into(),
            client_mac: self.client_mac.map(Into::into),
            server_ip: self.server_ip.into(),
            server_mac: self.server_mac.map(Into::into),
            server_port: self.server_port,
            dataset: self.dataset.into(),
        }
    }

    fn of(k: &LinkKey) -> LinkRef<'_> {
        LinkRef {
            client_ip: &k.client_ip,
            client_mac: k.client_mac.as_deref(),
            server_ip: &k.server_ip,
            server_mac: k.server_mac.as_deref(),
            server_port: k.server_port,
            dataset: &k.dataset,
        }
    }
}

/// Keys that are already hashes.
#[derive(Debug, Default)]
struct Prehashed(u64);

impl Hasher for Prehashed {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0 << 8) | u64::from(b);
        }
    }
    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }
}

/// A flow direction's envelope and protocol, and the link its messages had.
#[derive(Debug)]
struct Flow {
    /// held, so that its address names no other envelope while remembered
    env: Arc<Envelope>,
    dataset: &'static str,
    edge: Handle,
    epoch: u64,
    serial: u64,
}

/// Hashes a flow's envelope address and protocol name (neither chosen by the traffic).
#[derive(Debug, Default)]
struct AddressHasher(u64);

impl Hasher for AddressHasher {
    fn finish(&self) -> u64 {
        // splitmix64's finaliser: every bit of the input reaches the low bits
        let z = (self.0 ^ (self.0 >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        let z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(b);
        }
    }
    fn write_usize(&mut self, n: usize) {
        self.0 = self.0.rotate_left(32) ^ n as u64;
    }
}

/// The cached links (by the hash of their key), the protocols that have links, and the flows
/// remembered in front of them.
#[derive(Debug, Default)]
pub struct Links {
    hasher: RandomState,
    map: HashMap<u64, Vec<(LinkKey, Handle)>, BuildHasherDefault<Prehashed>>,
    len: usize,
    datasets: Vec<Box<str>>,
    /// clears so far
    pub epoch: u64,
    serials: u64,
    flows: HashMap<(usize, &'static str), Flow, BuildHasherDefault<AddressHasher>>,
}

fn flow_key(env: &Arc<Envelope>, dataset: &'static str) -> (usize, &'static str) {
    (Arc::as_ptr(env) as usize, dataset)
}

impl Links {
    pub fn hash(&self, k: &LinkRef<'_>) -> u64 {
        self.hasher.hash_one((
            k.client_ip,
            k.client_mac,
            k.server_ip,
            k.server_mac,
            k.server_port,
            k.dataset,
        ))
    }

    /// The edge of a link, if the link is held.
    pub fn get(&self, hash: u64, k: &LinkRef<'_>) -> Option<Handle> {
        self.map
            .get(&hash)?
            .iter()
            .find(|(key, _)| k.matches(key))
            .map(|(_, edge)| *edge)
    }

    /// True when `dataset` may have links (one of the first MAX_DATASETS protocols).
    pub fn table(&mut self, dataset: &str) -> bool {
        if self.datasets.iter().any(|d| **d == *dataset) {
            return true;
        }
        if self.datasets.len() < MAX_DATASETS {
            self.datasets.push(dataset.into());
            return true;
        }
        false
    }

    /// The link remembered for `env` and `dataset`: (edge, epoch, serial), to be checked by
    /// the caller (see the module docs).
    pub fn flow(&self, env: &Arc<Envelope>, dataset: &'static str) -> Option<(Handle, u64, u64)> {
        let f = self.flows.get(&flow_key(env, dataset))?;
        (Arc::ptr_eq(&f.env, env) && f.dataset == dataset).then_some((f.edge, f.epoch, f.serial))
    }

    /// Remember the link of a flow direction (its key's `serial` among the edge's keys).
    pub fn remember(
        &mut self,
        env: &Arc<Envelope>,
        dataset: &'static str,
        edge: Handle,
        serial: u64,
    ) {
        if self.flows.len() >= MAX_FLOWS {
            self.flows.clear();
        }
        let flow = Flow {
            env: env.clone(),
            dataset,
            edge,
            epoch: self.epoch,
            serial,
        };
        self.flows.insert(flow_key(env, dataset), flow);
    }

    /// The serial of `k` among an edge's keys.
    pub fn serial(edge_keys: &[EdgeKey], k: &LinkRef<'_>) -> Option<u64> {
        edge_keys
            .iter()
            .find(|(key, _)| k.matches(key))
            .map(|(_, serial)| *serial)
    }

    /// Link `k` to `edge`, whose keys (`edge_keys`, at most MAX_KEYS_PER_EDGE, the oldest
    /// dropped) learn it.
    pub fn add(&mut self, hash: u64, k: LinkRef<'_>, edge: Handle, edge_keys: &mut Vec<EdgeKey>) {
        if self.len >= MAX_LINKS {
            self.map.clear();
            self.len = 0;
            self.epoch += 1;
        }
        if !edge_keys.iter().any(|(key, _)| k.matches(key)) {
            if edge_keys.len() >= MAX_KEYS_PER_EDGE {
                let (oldest, _) = edge_keys.remove(0);
                self.unlink(&oldest, edge);
            }
            self.serials += 1;
            edge_keys.push((k.to_key(), self.serials));
        }
        let bucket = self.map.entry(hash).or_default();
        match bucket.iter_mut().find(|(key, _)| k.matches(key)) {
            Some(slot) => slot.1 = edge,
            None => {
                bucket.push((k.to_key(), edge));
                self.len += 1;
            }
        }
    }

    /// An edge left the store: its links go too.
    pub fn forget(&mut self, keys: &[EdgeKey], edge: Handle) {
        for (key, _) in keys {
            self.unlink(key, edge);
        }
    }

    fn unlink(&mut self, key: &LinkKey, edge: Handle) {
        let r = LinkRef::of(key);
        let hash = self.hash(&r);
        let Some(bucket) = self.map.get_mut(&hash) else {
            return;
        };
        if let Some(i) = bucket.iter().position(|(k, e)| *e == edge && r.matches(k)) {
            bucket.swap_remove(i);
            self.len -= 1;
            if bucket.is_empty() {
                self.map.remove(&hash);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(port: u16) -> LinkRef<'static> {
        LinkRef {
            client_ip: "10.0.0.1",
            client_mac: None,
            server_ip: "10.0.0.2",
            server_mac: Some(""),
            server_port: port,
            dataset: "modbus",
        }
    }

    #[test]
    fn an_edge_keeps_its_last_keys_and_takes_them_along() {
        let mut links = Links::default();
        let mut keys = Vec::new();
        for port in 0..6 {
            let k = key(port);
            links.add(links.hash(&k), k, (7, 0), &mut keys);
        }
        assert_eq!(keys.len(), MAX_KEYS_PER_EDGE);
        assert_eq!(links.len, MAX_KEYS_PER_EDGE);
        assert!(links.get(links.hash(&key(0)), &key(0)).is_none());
        assert_eq!(links.get(links.hash(&key(5)), &key(5)), Some((7, 0)));
        links.forget(&keys, (7, 0));
        assert_eq!(links.len, 0);
    }

    #[test]
    fn datasets_beyond_the_cap_get_no_links() {
        let mut links = Links::default();
        for i in 0..MAX_DATASETS {
            assert!(links.table(&format!("p{i}")));
        }
        assert!(links.table("p0"));
        assert!(!links.table("late"));
    }
}
