//! Sensor output: parser `Message` values -> events (port of `sensors/output.py`).
//!
//! Per flow and direction an `Envelope` holds `source`, `destination`, `network` (with the
//! flow's Community ID), `observer` and `organization`, made once and shared by the events
//! (Python: one template per flow, direction and dataset, whose envelope is the same for every
//! dataset). Each event adds `@timestamp`, `event` and the protocol's own fields.
//!
//! `event.id` is `<capture id>-<frame number>-<message number within the frame>`: the same
//! capture always gives the same ids.

use crate::flows::{Addr, Flow};
use crate::time::Timestamps;
use base64::Engine as _;
use foldhash::HashMap;
use icssa_core::event::{Envelope, Event};
use icssa_core::{Message, Text};
use sha1::{Digest, Sha1};
use std::fmt::Write;
use std::hash::Hash;
use std::sync::Arc;

/// Addresses turned into text, kept for the next flows between the same hosts.
pub const MAX_ADDRESS_TEXTS: usize = 65536;

/// Community ID v1 (seed 0) of a flow: the same string for both directions.
/// <https://github.com/corelight/community-id-spec>
pub fn community_id(saddr: &Addr, daddr: &Addr, sport: u16, dport: u16, proto: u8) -> String {
    let (mut s, mut d, mut sp, mut dp) = (saddr, daddr, sport, dport);
    if (s.as_bytes(), sp) > (d.as_bytes(), dp) {
        (s, d, sp, dp) = (d, s, dp, sp);
    }
    let mut h = Sha1::new();
    h.update([0u8, 0]);
    h.update(s.as_bytes());
    h.update(d.as_bytes());
    h.update([proto, 0]);
    h.update(sp.to_be_bytes());
    h.update(dp.to_be_bytes());
    let mut out = String::with_capacity(30);
    out.push_str("1:");
    base64::engine::general_purpose::STANDARD.encode_string(h.finalize(), &mut out);
    out
}

/// `str(ipaddress.ip_address(addr))` as Python 3.11 prints it: dotted IPv4; IPv6 in lowercase
/// hextets with the longest run (the first of equal runs) of two or more zero hextets written
/// `::`, IPv4-mapped addresses included (`::ffff:102:304`).
pub fn ip_text(addr: &Addr) -> String {
    let b = addr.as_bytes();
    let mut s = String::with_capacity(39);
    if !addr.is_v6() {
        let _ = write!(s, "{}.{}.{}.{}", b[0], b[1], b[2], b[3]);
        return s;
    }
    let h: Vec<u16> = b
        .chunks_exact(2)
        .map(|c| u16::from_be_bytes([c[0], c[1]]))
        .collect();
    let (mut best_start, mut best_len, mut cur_start, mut cur_len) =
        (0usize, 0usize, 0usize, 0usize);
    for (i, &x) in h.iter().enumerate() {
        if x == 0 {
            if cur_len == 0 {
                cur_start = i;
            }
            cur_len += 1;
            if cur_len > best_len {
                (best_start, best_len) = (cur_start, cur_len);
            }
        } else {
            cur_len = 0;
        }
    }
    let hex = |s: &mut String, range: &[u16]| {
        for (i, x) in range.iter().enumerate() {
            if i > 0 {
                s.push(':');
            }
            let _ = write!(s, "{x:x}");
        }
    };
    if best_len > 1 {
        hex(&mut s, &h[..best_start]);
        s.push_str("::");
        hex(&mut s, &h[best_start + best_len..]);
    } else {
        hex(&mut s, &h);
    }
    s
}

/// A link-layer address as `AA-BB-CC-DD-EE-FF`; an all-zero one as `""`.
pub fn mac_text(mac: &[u8; 6]) -> String {
    if mac.iter().all(|&b| b == 0) {
        return String::new();
    }
    let mut s = String::with_capacity(17);
    for (i, b) in mac.iter().enumerate() {
        if i > 0 {
            s.push('-');
        }
        let _ = write!(s, "{b:02X}");
    }
    s
}

/// A Python `Counter`/dict of counts: first-insertion order kept.
#[derive(Debug, Clone)]
pub struct Tally<K> {
    items: Vec<(K, u64)>,
    index: HashMap<K, usize>,
}

impl<K> Default for Tally<K> {
    fn default() -> Self {
        Tally {
            items: Vec::new(),
            index: HashMap::default(),
        }
    }
}

impl<K: Hash + Eq + Clone> Tally<K> {
    /// `counts[key] += n`; returns the count before.
    pub fn add(&mut self, key: K, n: u64) -> u64 {
        match self.index.get(&key) {
            Some(&i) => {
                let before = self.items[i].1;
                self.items[i].1 += n;
                before
            }
            None => {
                self.index.insert(key.clone(), self.items.len());
                self.items.push((key, n));
                0
            }
        }
    }

    pub fn items(&self) -> &[(K, u64)] {
        &self.items
    }
}

/// Makes the events of a flow's messages; counts them by (dataset, action).
#[derive(Debug)]
pub struct EventMaker {
    observer: Arc<str>,
    organization: Arc<str>,
    capture_id: String,
    /// messages by (dataset, action)
    pub counts: Tally<(&'static str, Text)>,
    times: Timestamps,
    ip_text: HashMap<Addr, Arc<str>>,
}

impl EventMaker {
    pub fn new(observer: &str, organization: &str, capture_id: &str) -> Self {
        EventMaker {
            observer: observer.into(),
            organization: organization.into(),
            capture_id: capture_id.to_owned(),
            counts: Tally::default(),
            times: Timestamps::new(),
            ip_text: HashMap::default(),
        }
    }

    pub fn capture_id(&self) -> &str {
        &self.capture_id
    }

    /// Appends one event per message of packet `frame` to `out`, after the `n` the packet
    /// already gave; returns the packet's new count of events. `protocol` is the flow's.
    #[allow(clippy::too_many_arguments)]
    pub fn events(
        &mut self,
        flow: &mut Flow,
        protocol: &'static str,
        msgs: impl Iterator<Item = Message>,
        ts_ns: i128,
        frame: u64,
        mut n: u64,
        out: &mut Vec<Event>,
    ) -> u64 {
        let timestamp = self.times.iso(ts_ns);
        let clamped =
            Timestamps::clamp(ts_ns).clamp(i128::from(i64::MIN), i128::from(i64::MAX)) as i64;
        for m in msgs {
            n += 1;
            self.counts.add((m.dataset, m.action.clone()), 1);
            let d = usize::from(m.to_server);
            let env = match &flow.env[d] {
                Some(env) => env.clone(),
                None => self.envelope(flow, protocol, m.to_server),
            };
            let mut id = String::with_capacity(self.capture_id.len() + 16);
            id.push_str(&self.capture_id);
            id.push('-');
            id.push_str(itoa::Buffer::new().format(frame));
            id.push('-');
            id.push_str(itoa::Buffer::new().format(n));
            out.push(Event {
                ts_ns: clamped,
                timestamp: timestamp.clone(),
                id,
                kind: "event",
                dataset: m.dataset,
                action: m.action,
                env,
                fields: m.fields,
            });
        }
        n
    }

    /// An IPv4 or IPv6 address as text (cached).
    pub fn text(&mut self, addr: &Addr) -> Arc<str> {
        if let Some(t) = self.ip_text.get(addr) {
            return t.clone();
        }
        if self.ip_text.len() >= MAX_ADDRESS_TEXTS {
            self.ip_text.clear();
        }
        let t: Arc<str> = ip_text(addr).into();
        self.ip_text.insert(*addr, t.clone());
        t
    }

    /// The envelope of this direction of the flow (made on its first event).
    fn envelope(
        &mut self,
        flow: &mut Flow,
        protocol: &'static str,
        to_server: bool,
    ) -> Arc<Envelope> {
        let c = (
            self.text(&flow.client).to_string(),
            flow.cport,
            flow.c2s.mac.as_ref().map(mac_text),
        );
        let s = (
            self.text(&flow.server).to_string(),
            flow.sport,
            flow.s2c.mac.as_ref().map(mac_text),
        );
        if flow.community_id.is_empty() {
            let proto = if flow.udp { 17 } else { 6 };
            flow.community_id =
                community_id(&flow.client, &flow.server, flow.cport, flow.sport, proto);
        }
        let (src, dst) = if to_server { (c, s) } else { (s, c) };
        let env = Arc::new(Envelope::new(
            src,
            dst,
            if flow.udp { "udp" } else { "tcp" },
            protocol,
            flow.community_id.clone(),
            to_server,
            self.observer.clone(),
            self.organization.clone(),
        ));
        flow.env[usize::from(to_server)] = Some(env.clone());
        env
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v6(text_bytes: [u8; 16]) -> String {
        ip_text(&Addr::v6(text_bytes))
    }

    #[test]
    fn address_texts_as_python() {
        // expected strings: Python 3.11 str(ipaddress.ip_address(bytes))
        let mut mapped = [0u8; 16];
        mapped[10..].copy_from_slice(&[0xff, 0xff, 1, 2, 3, 4]);
        assert_eq!(v6(mapped), "::ffff:102:304");
        assert_eq!(v6([0; 16]), "::");
        let mut one = [0u8; 16];
        one[15] = 1;
        assert_eq!(v6(one), "::1");
        let mut net = [0u8; 16];
        net[..2].copy_from_slice(&[0x20, 0x01]);
        assert_eq!(v6(net), "2001::");
        // 1:0:0:2:0:0:0:0 -> the longer run wins
        assert_eq!(
            v6([0, 1, 0, 0, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0, 0]),
            "1:0:0:2::"
        );
        // 0:1:0:0:0:0:1:0 -> one zero hextet is not compressed
        assert_eq!(
            v6([0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0]),
            "0:1::1:0"
        );
        // 1:0:0:1:0:0:1:1 -> equal runs: the first
        assert_eq!(
            v6([0, 1, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 1, 0, 1]),
            "1::1:0:0:1:1"
        );
        assert_eq!(
            v6([0xfe, 0x80, 0, 0, 0, 0, 0, 0, 0xab, 0xcd, 0, 0x12, 0, 0, 0, 1]),
            "fe80::abcd:12:0:1"
        );
        assert_eq!(ip_text(&Addr::v4([192, 168, 0, 255])), "192.168.0.255");
    }

    #[test]
    fn community_id_spec_vector() {
        // Community ID spec baseline (community-id-spec, tcp test vector):
        // 128.232.110.120:34855 -> 66.35.250.204:80 = 1:LQU9qZlK+B5F3KDmev6m5PMibrg=
        let a = Addr::v4([128, 232, 110, 120]);
        let b = Addr::v4([66, 35, 250, 204]);
        assert_eq!(
            community_id(&a, &b, 34855, 80, 6),
            "1:LQU9qZlK+B5F3KDmev6m5PMibrg="
        );
        assert_eq!(
            community_id(&b, &a, 80, 34855, 6),
            "1:LQU9qZlK+B5F3KDmev6m5PMibrg="
        );
    }

    #[test]
    fn mac_texts() {
        assert_eq!(mac_text(&[0, 0x1b, 0xa, 0, 0, 0xff]), "00-1B-0A-00-00-FF");
        assert_eq!(mac_text(&[0; 6]), "");
    }
}
