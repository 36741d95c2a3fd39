//! The site file: which address ranges form which named zone at which Purdue level (a port of
//! `assetmap/site.py`). The file is read and validated in Python; the configuration carries its
//! networks as `Site` holds them (longest prefix first, masks and networks as integers).
//!
//! An address belongs to the zone of its longest matching CIDR; without a zone, globally
//! routable addresses count as internet (`is_public`, with the special-purpose ranges of
//! Python 3.11's `ipaddress` for IPv6 and IPv4-mapped addresses).

use std::net::{Ipv4Addr, Ipv6Addr};
use std::sync::Arc;

/// `{"zone": name or None, "level": float}` as `AssetMap.zone_of` answers.
#[derive(Debug, Clone, PartialEq)]
pub struct ZoneInfo {
    pub zone: Option<Arc<str>>,
    pub level: f64,
}

#[derive(Debug, Clone)]
pub struct Zone {
    pub name: Arc<str>,
    pub level: f64,
}

/// Zones by CIDR, longest prefix first (`Site._nets4` / `_nets6`: mask, network, zone index).
#[derive(Debug, Clone, Default)]
pub struct Site {
    pub zones: Vec<Zone>,
    pub nets4: Vec<(u32, u32, usize)>,
    pub nets6: Vec<(u128, u128, usize)>,
}

/// An address as Python reads it: `socket.inet_pton(AF_INET)` first, else `ipaddress`
/// (IPv6 with an optional `%scope`), IPv4-mapped IPv6 addresses as their IPv4 address.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Addr {
    V4(u32),
    Mapped(u32),
    V6(u128),
}

fn parse(ip: &str) -> Option<Addr> {
    if let Ok(v4) = ip.parse::<Ipv4Addr>() {
        return Some(Addr::V4(v4.into()));
    }
    let body = match ip.split_once('%') {
        Some((addr, scope)) if !scope.is_empty() && !scope.contains('%') => addr,
        Some(_) => return None,
        None => ip,
    };
    let v6: Ipv6Addr = body.parse().ok()?;
    let value = u128::from(v6);
    Some(if value >> 32 == 0xffff {
        Addr::Mapped(value as u32)
    } else {
        Addr::V6(value)
    })
}

impl Site {
    /// The zone of the longest CIDR containing `ip`, or None.
    pub fn zone(&self, ip: &str) -> Option<&Zone> {
        let found = match parse(ip)? {
            Addr::V4(v) | Addr::Mapped(v) => {
                self.nets4.iter().find(|(mask, net, _)| v & mask == *net)?.2
            }
            Addr::V6(v) => self.nets6.iter().find(|(mask, net, _)| v & mask == *net)?.2,
        };
        self.zones.get(found)
    }
}

const fn net4(a: u8, b: u8, c: u8, d: u8, len: u32) -> (u32, u32) {
    let mask = if len == 0 { 0 } else { u32::MAX << (32 - len) };
    (mask, u32::from_be_bytes([a, b, c, d]))
}

/// `site._NOT_GLOBAL_V4`: IPv4 ranges that are not globally routable unicast.
const NOT_GLOBAL_V4: [(u32, u32); 14] = [
    net4(0, 0, 0, 0, 8),
    net4(10, 0, 0, 0, 8),
    net4(100, 64, 0, 0, 10),
    net4(127, 0, 0, 0, 8),
    net4(169, 254, 0, 0, 16),
    net4(172, 16, 0, 0, 12),
    net4(192, 0, 0, 0, 24),
    net4(192, 0, 2, 0, 24),
    net4(192, 168, 0, 0, 16),
    net4(198, 18, 0, 0, 15),
    net4(198, 51, 100, 0, 24),
    net4(203, 0, 113, 0, 24),
    net4(224, 0, 0, 0, 4),
    net4(240, 0, 0, 0, 4),
];
/// 192.0.0.9 and 192.0.0.10 (PCP anycast, TURN anycast) are global inside 192.0.0.0/24
const GLOBAL_EXCEPTIONS_V4: [u32; 2] = [0xC000_0009, 0xC000_000A];

/// `ipaddress._IPv4Constants._private_networks` (Python 3.11.7), for IPv4-mapped addresses.
const PRIVATE_V4: [(u32, u32); 14] = [
    net4(0, 0, 0, 0, 8),
    net4(10, 0, 0, 0, 8),
    net4(127, 0, 0, 0, 8),
    net4(169, 254, 0, 0, 16),
    net4(172, 16, 0, 0, 12),
    net4(192, 0, 0, 0, 29),
    net4(192, 0, 0, 170, 31),
    net4(192, 0, 2, 0, 24),
    net4(192, 168, 0, 0, 16),
    net4(198, 18, 0, 0, 15),
    net4(198, 51, 100, 0, 24),
    net4(203, 0, 113, 0, 24),
    net4(240, 0, 0, 0, 4),
    net4(255, 255, 255, 255, 32),
];

const fn net6(prefix: u128, len: u32) -> (u128, u128) {
    (u128::MAX << (128 - len), prefix)
}

/// `ipaddress._IPv6Constants._private_networks` (Python 3.11.7).
const PRIVATE_V6: [(u128, u128); 10] = [
    net6(1, 128),
    net6(0, 128),
    net6(0xffff_0000_0000, 96),
    net6(0x0100 << 112, 64),
    net6(0x2001 << 112, 23),
    net6((0x2001 << 112) | (0x2 << 96), 48),
    net6((0x2001 << 112) | (0xdb8 << 96), 32),
    net6((0x2001 << 112) | (0x10 << 96), 28),
    net6(0xfc00 << 112, 7),
    net6(0xfe80 << 112, 10),
];

fn within4(v: u32, nets: &[(u32, u32)]) -> bool {
    nets.iter().any(|(mask, net)| v & mask == *net)
}

/// A globally routable unicast address (`site.is_public`).
pub fn is_public(ip: &str) -> bool {
    match parse(ip) {
        None => false,
        Some(Addr::V4(v)) => GLOBAL_EXCEPTIONS_V4.contains(&v) || !within4(v, &NOT_GLOBAL_V4),
        Some(Addr::Mapped(v)) => {
            // IPv4Address.is_global and not is_multicast
            let (shared_mask, shared) = net4(100, 64, 0, 0, 10);
            let (mc_mask, mc) = net4(224, 0, 0, 0, 4);
            v & shared_mask != shared && !within4(v, &PRIVATE_V4) && v & mc_mask != mc
        }
        Some(Addr::V6(v)) => {
            !PRIVATE_V6.iter().any(|(mask, net)| v & mask == *net) && v >> 120 != 0xff
        }
    }
}

/// `zone_info(site, ip)`: the site's zone of `ip`, else internet for public addresses.
pub fn zone_info(site: Option<&Site>, ip: &str) -> Option<ZoneInfo> {
    if let Some(zone) = site.and_then(|s| s.zone(ip)) {
        return Some(ZoneInfo {
            zone: Some(zone.name.clone()),
            level: zone.level,
        });
    }
    is_public(ip).then(|| ZoneInfo {
        zone: Some(Arc::from("internet")),
        level: 5.0,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn public_addresses_as_python() {
        // expected: assetmap.site.is_public in Python 3.11.7
        for (ip, want) in [
            ("8.8.8.8", true),
            ("10.1.2.3", false),
            ("100.64.0.1", false),
            ("192.0.0.9", true),
            ("192.0.0.8", false),
            ("224.0.0.1", false),
            ("127.0.0.1", false),
            ("::ffff:192.0.0.8", true),
            ("::ffff:100.64.0.1", false),
            ("::ffff:8.8.8.8", true),
            ("2001:4860::1", true),
            ("2001:db8::1", false),
            ("fe80::1%eth0", false),
            ("2a00::1%x", true),
            ("2a00::1%", false),
            ("ff02::1", false),
            ("::1", false),
            ("not an ip", false),
            ("01.2.3.4", false),
        ] {
            assert_eq!(is_public(ip), want, "{ip}");
        }
    }

    #[test]
    fn longest_prefix_and_mapped() {
        let site = Site {
            zones: vec![
                Zone {
                    name: "c".into(),
                    level: 1.0,
                },
                Zone {
                    name: "plc".into(),
                    level: 0.5,
                },
            ],
            nets4: vec![(u32::MAX, 0x0a0a_010a, 1), (0xff00_0000, 0x0a00_0000, 0)],
            nets6: vec![],
        };
        assert_eq!(site.zone("10.10.1.10").map(|z| z.level), Some(0.5));
        assert_eq!(site.zone("::ffff:10.1.2.3").map(|z| &*z.name), Some("c"));
        assert!(site.zone("fd00::1").is_none());
    }
}
