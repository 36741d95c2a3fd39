//! Link and network layer decoding: link types, VLAN tags, IPv6 extension headers (port of
//! `sensors/decode.py`).
//!
//! | link type | header |
//! |---|---|
//! | 0 NULL / 108 LOOP | 4-byte address family (host order / network order) |
//! | 1 EN10MB | dst(6) src(6) ethertype(2), then 802.1Q / 802.1ad / QinQ tags (4 each) |
//! | 12, 14, 101 RAW | IP version nibble |
//! | 113 LINUX_SLL | type(2) arphrd(2) addrlen(2) addr(8) protocol(2) |
//! | 276 LINUX_SLL2 | protocol(2) reserved(2) ifindex(4) arphrd(2) type(1) addrlen(1) addr(8) |
//!
//! The sensor never reads the link-layer addresses `network` returns in Python (it takes MACs
//! from the Ethernet header itself), so they are left out here.

pub const ETH_IPV4: u16 = 0x0800;
pub const ETH_IPV6: u16 = 0x86DD;
pub const MAX_VLAN_TAGS: usize = 4;

fn is_vlan(etype: u16) -> bool {
    matches!(etype, 0x8100 | 0x88A8 | 0x9100 | 0x9200)
}

fn be16(data: &[u8], at: usize) -> u16 {
    u16::from_be_bytes([data[at], data[at + 1]])
}

fn version_of(etype: u16) -> u8 {
    match etype {
        ETH_IPV4 => 4,
        ETH_IPV6 => 6,
        _ => 0,
    }
}

/// `(l3 offset, IP version)` of a frame, or `None` when it carries no IP.
pub fn network(linktype: u32, data: &[u8]) -> Option<(usize, u8)> {
    let n = data.len();
    let found = match linktype {
        1 => {
            if n < 14 {
                return None;
            }
            let mut etype = be16(data, 12);
            let mut off = 14;
            let mut tags = 0;
            while is_vlan(etype) && tags < MAX_VLAN_TAGS {
                if off + 4 > n {
                    return None;
                }
                etype = be16(data, off + 2);
                off += 4;
                tags += 1;
            }
            (off, version_of(etype))
        }
        101 | 12 | 14 => {
            let v = *data.first()? >> 4;
            (0, if v == 4 || v == 6 { v } else { 0 })
        }
        113 => {
            if n < 16 {
                return None;
            }
            let mut proto = be16(data, 14);
            let mut off = 16;
            if is_vlan(proto) && n >= 20 {
                proto = be16(data, 18);
                off = 20;
            }
            (off, version_of(proto))
        }
        276 => {
            if n < 20 {
                return None;
            }
            (20, version_of(be16(data, 0)))
        }
        0 | 108 => {
            if n < 4 {
                return None;
            }
            let raw = [data[0], data[1], data[2], data[3]];
            let (first, second) = (u32::from_be_bytes(raw), u32::from_le_bytes(raw));
            let (mut fam, other) = if linktype == 108 {
                (first, second)
            } else {
                (second, first)
            };
            if fam > 0xFFFF {
                fam = other; // written on the other byte order
            }
            match fam {
                2 => (4, 4),
                10 | 24 | 28 | 30 => (4, 6),
                _ => return None,
            }
        }
        _ => return None,
    };
    (found.1 != 0).then_some(found)
}

/// An IPv6 header that `ip6` accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ip6 {
    /// offsets of the source and destination addresses (16 bytes each)
    pub src: usize,
    pub dst: usize,
    pub proto: u8,
    pub l4: usize,
    pub end: usize,
    /// `(ident, offset, more, header end)` when a fragment header was found
    pub frag: Option<(u32, u16, bool, usize)>,
}

fn is_ext(nxt: u8) -> bool {
    matches!(nxt, 0 | 43 | 60 | 135 | 139 | 140)
}

/// The IPv6 header at `off` and its extension chain (at most 8 headers).
pub fn ip6(data: &[u8], off: usize) -> Option<Ip6> {
    let n = data.len();
    if off + 40 > n {
        return None;
    }
    let plen = be16(data, off + 4) as usize;
    let mut nxt = data[off + 6];
    let end = if plen > 0 { n.min(off + 40 + plen) } else { n };
    let mut pos = off + 40;
    let mut frag = None;
    let mut hops = 0;
    while hops < 8 {
        hops += 1;
        if is_ext(nxt) {
            if pos + 8 > end {
                return None;
            }
            let nxt2 = data[pos];
            pos += (data[pos + 1] as usize + 1) * 8;
            nxt = nxt2;
        } else if nxt == 44 {
            // fragment header
            if pos + 8 > end {
                return None;
            }
            let nxt2 = data[pos];
            let fo = be16(data, pos + 2);
            let ident =
                u32::from_be_bytes([data[pos + 4], data[pos + 5], data[pos + 6], data[pos + 7]]);
            pos += 8;
            nxt = nxt2;
            if fo & 0xFFF8 != 0 || fo & 1 != 0 {
                frag = Some((ident, fo & 0xFFF8, fo & 1 != 0, pos));
                break;
            }
            frag = None; // atomic fragment: just a header
        } else if nxt == 51 {
            // AH
            if pos + 8 > end {
                return None;
            }
            let nxt2 = data[pos];
            pos += (data[pos + 1] as usize + 2) * 4;
            nxt = nxt2;
        } else {
            break;
        }
    }
    if pos > end {
        return None;
    }
    Some(Ip6 {
        src: off + 8,
        dst: off + 24,
        proto: nxt,
        l4: pos,
        end,
        frag,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn link_types() {
        // Ethernet, 802.1Q tag (0x8100, TCI 5), then IPv4
        let mut eth = vec![0u8; 12];
        eth.extend_from_slice(&[0x81, 0x00, 0x00, 0x05, 0x08, 0x00]);
        assert_eq!(network(1, &eth), Some((18, 4)));
        // a tag cut off
        assert_eq!(network(1, &eth[..16]), None);
        // five stacked tags: the fifth is taken as the ethertype (0x8100): not IP
        let mut qinq = vec![0u8; 12];
        for _ in 0..5 {
            qinq.extend_from_slice(&[0x88, 0xa8, 0, 0]);
        }
        qinq.extend_from_slice(&[0x86, 0xdd]);
        assert_eq!(network(1, &qinq), None);
        // raw: version nibble
        assert_eq!(network(101, &[0x60]), Some((0, 6)));
        assert_eq!(network(12, &[0x50]), None);
        assert_eq!(network(14, &[]), None);
        // SLL: protocol at 14
        let mut sll = vec![0u8; 14];
        sll.extend_from_slice(&[0x86, 0xdd]);
        assert_eq!(network(113, &sll), Some((16, 6)));
        // SLL2: protocol at 0
        let mut sll2 = vec![0x08, 0x00];
        sll2.resize(20, 0);
        assert_eq!(network(276, &sll2), Some((20, 4)));
        // NULL: AF_INET6 (30, host order) and LOOP: AF_INET (2, network order), either order
        assert_eq!(network(0, &[30, 0, 0, 0]), Some((4, 6)));
        assert_eq!(network(0, &[0, 0, 0, 2]), Some((4, 4)));
        assert_eq!(network(108, &[0, 0, 0, 2]), Some((4, 4)));
        assert_eq!(network(108, &[7, 0, 0, 0]), None);
        assert_eq!(network(147, &[0; 64]), None);
    }

    #[test]
    fn ipv6_extension_chain() {
        // IPv6: payload length 16, next header 0 (hop-by-hop, 8 bytes) then 44 (fragment,
        // offset 8, more set, ident 0x01020304), then TCP (6)
        let mut p = vec![0x60, 0, 0, 0, 0, 16, 0, 64];
        p.extend_from_slice(&[0xaa; 32]);
        p.extend_from_slice(&[44, 0, 0, 0, 0, 0, 0, 0]);
        p.extend_from_slice(&[6, 0, 0x00, 0x09, 1, 2, 3, 4]);
        let ip = ip6(&p, 0).unwrap();
        assert_eq!((ip.proto, ip.l4, ip.end), (6, 56, 56));
        assert_eq!(ip.frag, Some((0x01020304, 8, true, 56)));
        // cut inside the extension header
        assert_eq!(ip6(&p[..44], 0), None);
    }
}
