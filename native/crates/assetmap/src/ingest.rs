//! The asset map's per-event work: `AssetMap::observe` (a port of `assetmap/ingest.py`).
//!
//! An event names a sender and a receiver; `observe` finds their host records (made if new,
//! with the NIC vendor of a new record's MAC), decides which is the flow's client and server
//! (`network.direction_to_server`), counts the operation on the (client, server, protocol)
//! edge, and adds identity claims with their event ids.
//!
//! Messages of a known link (`links`) only update their edge and the times and stamps of its
//! records; a message of a new link finds or makes its records and edge (`attach`) and makes
//! the link; messages of protocols beyond the link tables' cap take `attach` every time (as
//! Python's general path does). Native events always come in the sensor's form, so Python's
//! checks of other forms (dotted keys, non-dict objects, non-bool directions) have no
//! counterpart here.

use crate::identity::{claims, claims_dataset, Who};
use crate::inventory::AssetMap;
use crate::links::{LinkRef, Links};
use crate::ops::{classify, is_identity_op, Class};
use crate::oui::host_mac;
use crate::roles::server_role;
use crate::store::{MAX_EDGE_IDS, MAX_PORTS};
use icssa_core::event::Event;
use icssa_core::Value;

/// datasets that are not traffic between assets (sensor notices)
const IGNORED_DATASETS: &[&str] = &["icssa"];

/// `modbus.subfunction` when it is an int (a bool counts, as in Python).
fn subfunction(ev: &Event) -> Option<i64> {
    match ev.fields.get("subfunction")? {
        Value::Int(i) => Some(*i),
        Value::UInt(u) => i64::try_from(*u).ok(),
        Value::Bool(b) => Some(i64::from(*b)),
        _ => None,
    }
}

impl AssetMap {
    /// Take one event.
    pub fn observe(&mut self, ev: &Event) {
        let env = &*ev.env;
        let dataset = ev.dataset;
        if ev.kind == "alert" || dataset.is_empty() || IGNORED_DATASETS.contains(&dataset) {
            self.skipped += 1;
            return;
        }
        if env.src_ip.is_empty() || env.dst_ip.is_empty() {
            self.skipped += 1;
            return;
        }
        let n = self.events + 1;
        self.events = n;
        let ts = &ev.timestamp;
        let event_id = (!ev.id.is_empty()).then_some(ev.id.as_str());
        let action: &str = &ev.action;
        let to_server = env.to_server;
        let (src, dst, e) = self.link(ev, n);

        let store = &mut self.store;
        let edge = &mut store.edges[e];
        if **ts > *edge.last_seen {
            edge.last_seen = ts.clone();
        } else if **ts < *edge.first_seen {
            edge.first_seen = ts.clone();
        }
        if let Some(id) = event_id {
            if edge.event_ids.len() < MAX_EDGE_IDS {
                edge.event_ids.push(id.into());
            }
        }
        if to_server {
            // the sub-function refines Modbus diagnostics only
            let sub = if action == "diagnostics" && dataset == "modbus" {
                subfunction(ev)
            } else {
                None
            };
            let (class, op) = classify(dataset, action, sub);
            match class {
                Class::Read => {
                    edge.reads += 1;
                    let t = self.clock.seconds(ts);
                    edge.add_read_time(t);
                }
                Class::Write => edge.writes += 1,
                Class::Control => {
                    edge.control += 1;
                    match edge.control_ops.iter_mut().find(|(o, _)| *o == op) {
                        Some(slot) => slot.1 += 1,
                        None => edge.control_ops.push((op, 1)),
                    }
                }
                Class::Other => {
                    edge.other += 1;
                    if is_identity_op(action) {
                        edge.identity_reads += 1;
                    }
                }
            }
            if matches!(class, Class::Write | Class::Control)
                && edge.change_ids.len() < MAX_EDGE_IDS
            {
                if let Some(id) = event_id {
                    edge.change_ids.push(id.into());
                }
            }
        } else {
            if edge.responses == 0 && server_role(edge.protocol).is_some() {
                store.units[edge.server].served += 1; // its first answer (`store.answered`)
            }
            edge.responses += 1;
        }
        if claims_dataset(dataset) {
            let found = claims(&ev.fields, dataset, action, !to_server);
            let server = if to_server { dst } else { src };
            for (who, attr, value, confidence) in found {
                let target = match who {
                    Who::Server => server,
                    Who::Src => src,
                    Who::Dst => dst,
                };
                let unit = &mut store.units[target];
                unit.evidence
                    .get_or_insert_with(Default::default)
                    .add(attr, value, confidence, event_id, ts);
            }
        }
    }

    /// The records of message `n`'s sender and receiver and their edge: through the message's
    /// link when it is held (touching them as a message does), else made as `attach` makes them
    /// and linked, if its protocol may have links.
    fn link(&mut self, ev: &Event, n: u64) -> (u32, u32, u32) {
        let env = &*ev.env;
        let store = &mut self.store;
        if let Some((handle, epoch, serial)) = store.links.flow(&ev.env, ev.dataset) {
            let held = epoch == store.links.epoch
                && store
                    .edges
                    .live(handle)
                    .is_some_and(|e| e.link.iter().any(|(_, s)| *s == serial));
            if held {
                return self.linked(ev, n, handle.0);
            }
        }
        let key = if env.to_server {
            LinkRef {
                client_ip: &env.src_ip,
                client_mac: env.src_mac.as_deref(),
                server_ip: &env.dst_ip,
                server_mac: env.dst_mac.as_deref(),
                server_port: env.dst_port,
                dataset: ev.dataset,
            }
        } else {
            LinkRef {
                client_ip: &env.dst_ip,
                client_mac: env.dst_mac.as_deref(),
                server_ip: &env.src_ip,
                server_mac: env.src_mac.as_deref(),
                server_port: env.src_port,
                dataset: ev.dataset,
            }
        };
        let hash = store.links.hash(&key);
        let found = store
            .links
            .get(hash, &key)
            .filter(|h| store.edges.live(*h).is_some());
        let (ends, handle) = match found {
            Some(handle) => (self.linked(ev, n, handle.0), handle),
            None => {
                if !self.store.links.table(ev.dataset) {
                    return self.attach(ev, n);
                }
                let ends = self.attach(ev, n);
                let store = &mut self.store;
                let handle = store.edges.handle(ends.2);
                let mut keys = std::mem::take(&mut store.edges[ends.2].link);
                store.links.add(hash, key, handle, &mut keys);
                store.edges[ends.2].link = keys;
                (ends, handle)
            }
        };
        let store = &mut self.store;
        if let Some(serial) = Links::serial(&store.edges[ends.2].link, &key) {
            store.links.remember(&ev.env, ev.dataset, handle, serial);
        }
        ends
    }

    /// Message `n` of a held link: its edge and records touched as a message touches them.
    fn linked(&mut self, ev: &Event, n: u64, e: u32) -> (u32, u32, u32) {
        let store = &mut self.store;
        let to_server = ev.env.to_server;
        let edge = &mut store.edges[e];
        edge.seq = 2 * n + u64::from(to_server);
        let (src, dst) = if to_server {
            (edge.client, edge.server)
        } else {
            (edge.server, edge.client)
        };
        store.units[src].touch(&ev.timestamp, 2 * n);
        store.units[dst].touch(&ev.timestamp, 2 * n + 1);
        (src, dst, e)
    }

    /// The records of message `n`'s sender and receiver and their edge, touched (made if new);
    /// the protocol listed on both, the server port on the edge.
    fn attach(&mut self, ev: &Event, n: u64) -> (u32, u32, u32) {
        let env = &*ev.env;
        let ts = &ev.timestamp;
        let event_id = (!ev.id.is_empty()).then_some(ev.id.as_str());
        let src_mac = host_mac(env.src_mac.as_deref());
        let dst_mac = host_mac(env.dst_mac.as_deref());
        let (src, created) = self.store.unit(&env.src_ip, src_mac.as_deref(), ts, 2 * n);
        if created {
            self.created(src, event_id, ts);
        }
        let (dst, created) = self
            .store
            .unit(&env.dst_ip, dst_mac.as_deref(), ts, 2 * n + 1);
        if created {
            self.created(dst, event_id, ts);
        }
        if let (Some(a), Some(b)) = (&src_mac, &dst_mac) {
            if a == b && env.src_ip != env.dst_ip {
                self.store.mark_shared(a); // one MAC on both ends: not a host's own address
            }
        }
        self.store.add_protocol(src, ev.dataset);
        self.store.add_protocol(dst, ev.dataset);
        let (client, server) = if env.to_server {
            (src, dst)
        } else {
            (dst, src)
        };
        let seq = if env.to_server { 2 * n + 1 } else { 2 * n };
        let e = self.store.edge(client, server, ev.dataset, ts, seq);
        let port = if env.to_server {
            env.dst_port
        } else {
            env.src_port
        };
        let edge = &mut self.store.edges[e];
        if !edge.ports.contains(&port) && edge.ports.len() < MAX_PORTS {
            edge.ports.push(port);
        }
        (src, dst, e)
    }

    /// A new record: its NIC vendor from the OUI table, if the MAC has one.
    fn created(&mut self, u: u32, event_id: Option<&str>, ts: &crate::store::Ts) {
        let unit = &mut self.store.units[u];
        let Some(mac) = &unit.mac else { return };
        if let Some(vendor) = self.oui.vendor(mac) {
            let vendor = std::borrow::Cow::Owned(Value::from(vendor.to_owned()));
            unit.evidence.get_or_insert_with(Default::default).add(
                "oui_vendor",
                vendor,
                0.5,
                event_id,
                ts,
            );
        }
    }
}
