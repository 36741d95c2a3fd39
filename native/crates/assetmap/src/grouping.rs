//! Which asset a host record belongs to, for every record (a snapshot) or for a few (a zone
//! query) (a port of `assetmap/grouping.py`).
//!
//! A record's asset id is `mac:<mac>` when its MAC names one host (not a router or a shared
//! address, see `store`); a record without link layer at an address where such hosts were seen
//! joins the latest of them; anything else is `ip:<ip>`. `members` finds the records of one
//! asset without walking the whole store.

use crate::store::Store;
use std::collections::HashMap;
use std::sync::Arc;

/// Asset ids of records, with what it learns cached; valid while the store does not change.
pub struct Grouper<'s> {
    pub store: &'s Store,
    routers: HashMap<Arc<str>, bool>,
    gids: HashMap<u32, Arc<str>>,
    members: HashMap<Arc<str>, Vec<u32>>,
}

impl<'s> Grouper<'s> {
    pub fn new(store: &'s Store) -> Self {
        Grouper {
            store,
            routers: HashMap::new(),
            gids: HashMap::new(),
            members: HashMap::new(),
        }
    }

    /// The record's MAC when it names one host, else None.
    pub fn host_mac(&mut self, u: u32) -> Option<Arc<str>> {
        let mac = self.store.units[u].mac.clone()?;
        let store = self.store;
        let router = *self
            .routers
            .entry(mac.clone())
            .or_insert_with(|| store.is_router(&mac));
        (!router).then_some(mac)
    }

    /// The asset id of one record.
    pub fn gid(&mut self, u: u32) -> Arc<str> {
        if let Some(g) = self.gids.get(&u) {
            return g.clone();
        }
        let unit = &self.store.units[u];
        let mut mac = self.host_mac(u);
        if mac.is_none() && unit.mac.is_none() {
            // no link layer here: the host with a MAC at this address, the latest if several
            let mut best: Option<u32> = None;
            for &c in self
                .store
                .by_ip
                .get(&unit.ip)
                .map_or(&[][..], Vec::as_slice)
            {
                if self.host_mac(c).is_some()
                    && best.is_none_or(|b| {
                        self.store.units[c].last_seen > self.store.units[b].last_seen
                    })
                {
                    best = Some(c);
                }
            }
            mac = best.and_then(|b| self.store.units[b].mac.clone());
        }
        let gid: Arc<str> = match mac {
            Some(m) => format!("mac:{m}").into(),
            None => format!("ip:{}", unit.ip).into(),
        };
        self.gids.insert(u, gid.clone());
        gid
    }

    /// The records of asset `gid`, least recently seen first.
    pub fn members(&mut self, gid: &Arc<str>) -> Vec<u32> {
        if let Some(found) = self.members.get(gid) {
            return found.clone();
        }
        let store = self.store;
        let mut found = Vec::new();
        if let Some(mac) = gid.strip_prefix("mac:") {
            // a host MAC's records: (ip, mac) at the addresses it was seen with, and the records
            // without link layer there that joined it
            let ips: Vec<Arc<str>> = store.macs.get(mac).map_or(Vec::new(), |i| {
                i.ips.iter().map(|(ip, _)| ip.clone()).collect()
            });
            for ip in ips {
                for key in [Some(mac), None] {
                    if let Some(u) = store.find(&ip, key) {
                        if self.gid(u) == *gid {
                            found.push(u);
                        }
                    }
                }
            }
        } else {
            let ip = gid.strip_prefix("ip:").unwrap_or(gid);
            for &u in store.by_ip.get(ip).map_or(&[][..], Vec::as_slice) {
                if self.gid(u) == *gid {
                    found.push(u);
                }
            }
        }
        found.sort_by_key(|&u| store.units[u].seq);
        self.members.insert(gid.clone(), found.clone());
        found
    }

    /// True when some record of the asset answered a controller protocol (`Unit.served`).
    pub fn is_served(&mut self, gid: &Arc<str>) -> bool {
        self.members(gid)
            .iter()
            .any(|&u| self.store.units[u].served > 0)
    }
}
