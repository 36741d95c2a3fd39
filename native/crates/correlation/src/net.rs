//! IP addresses as Python's `ipaddress.ip_address(text)` reads them (3.11: IPv4 dotted quads
//! without leading zeros, IPv6 with `::`, an embedded IPv4 tail and a `%scope`), and networks
//! as the Python loader parsed them (`[version, network, netmask]`).

/// A parsed address: version (4 or 6) and its integer.
pub type Addr = (u8, u128);

/// A network: `addr in net` when the versions agree and `addr & netmask == network`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Net {
    pub version: u8,
    pub network: u128,
    pub netmask: u128,
}

impl Net {
    pub fn contains(&self, (version, ip): Addr) -> bool {
        version == self.version && ip & self.netmask == self.network
    }
}

/// `ipaddress.ip_address(text)`: None where Python raises ValueError.
pub fn ip_address(text: &str) -> Option<Addr> {
    if let Some(v4) = ipv4(text) {
        return Some((4, u128::from(v4)));
    }
    ipv6(text).map(|v6| (6, v6))
}

/// `IPv4Address(text)`: four decimal octets, 1-3 ASCII digits each, no leading zero, <= 255.
fn ipv4(text: &str) -> Option<u32> {
    if text.is_empty() || text.contains('/') {
        return None;
    }
    let mut out = 0u32;
    let mut n = 0;
    for octet in text.split('.') {
        n += 1;
        if n > 4
            || octet.is_empty()
            || octet.len() > 3
            || !octet.bytes().all(|c| c.is_ascii_digit())
        {
            return None;
        }
        if octet.len() > 1 && octet.starts_with('0') {
            return None;
        }
        let v: u32 = octet.parse().ok()?;
        if v > 255 {
            return None;
        }
        out = out << 8 | v;
    }
    (n == 4).then_some(out)
}

/// `IPv6Address(text)` (`_split_scope_id`, then `_ip_int_from_string`).
fn ipv6(text: &str) -> Option<u128> {
    if text.contains('/') {
        return None;
    }
    let addr = match text.split_once('%') {
        None => text,
        Some((addr, scope)) => {
            if scope.is_empty() || scope.contains('%') {
                return None;
            }
            addr
        }
    };
    if addr.is_empty() {
        return None;
    }
    let mut parts: Vec<String> = addr.split(':').map(str::to_owned).collect();
    if parts.len() < 3 {
        return None;
    }
    if parts.last().is_some_and(|p| p.contains('.')) {
        let v4 = ipv4(&parts.pop()?)?;
        parts.push(format!("{:x}", v4 >> 16 & 0xffff));
        parts.push(format!("{:x}", v4 & 0xffff));
    }
    const HEXTETS: usize = 8;
    if parts.len() > HEXTETS + 1 {
        return None;
    }
    let mut skip: Option<usize> = None;
    for (i, p) in parts.iter().enumerate().take(parts.len() - 1).skip(1) {
        if p.is_empty() {
            if skip.is_some() {
                return None;
            }
            skip = Some(i);
        }
    }
    let n = parts.len();
    let (hi, lo, skipped) = match skip {
        Some(i) => {
            let mut hi = i;
            let mut lo = n - i - 1;
            if parts[0].is_empty() {
                hi -= 1;
                if hi > 0 {
                    return None;
                }
            }
            if parts[n - 1].is_empty() {
                lo -= 1;
                if lo > 0 {
                    return None;
                }
            }
            let skipped = HEXTETS as isize - (hi + lo) as isize;
            if skipped < 1 {
                return None;
            }
            (hi, lo, skipped as usize)
        }
        None => {
            if n != HEXTETS || parts[0].is_empty() || parts[n - 1].is_empty() {
                return None;
            }
            (n, 0, 0)
        }
    };
    let mut ip: u128 = 0;
    for p in &parts[..hi] {
        ip = ip << 16 | u128::from(hextet(p)?);
    }
    ip = ip.checked_shl(16 * skipped as u32).unwrap_or(0);
    for p in &parts[n - lo..] {
        ip = ip << 16 | u128::from(hextet(p)?);
    }
    Some(ip)
}

/// `_parse_hextet`: 1-4 ASCII hex digits.
fn hextet(p: &str) -> Option<u16> {
    if p.is_empty() || p.len() > 4 || !p.bytes().all(|c| c.is_ascii_hexdigit()) {
        return None;
    }
    u16::from_str_radix(p, 16).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_as_python_reads_them() {
        // expected: ipaddress.ip_address() in CPython 3.11 (None: ValueError)
        assert_eq!(ip_address("10.1.0.5"), Some((4, 0x0a01_0005)));
        assert_eq!(ip_address("255.255.255.255"), Some((4, 0xffff_ffff)));
        assert_eq!(ip_address("010.1.1.1"), None); // leading zero
        assert_eq!(ip_address("1.2.3"), None);
        assert_eq!(ip_address("1.2.3.4.5"), None);
        assert_eq!(ip_address("256.1.1.1"), None);
        assert_eq!(ip_address("1.2.3.4/32"), None);
        assert_eq!(ip_address("١.2.3.4"), None); // a non-ASCII digit
        assert_eq!(ip_address("::1"), Some((6, 1)));
        assert_eq!(ip_address("::"), Some((6, 0)));
        assert_eq!(ip_address("fe80::1%eth0"), Some((6, 0xfe80 << 112 | 1)));
        assert_eq!(ip_address("fe80::1%"), None);
        assert_eq!(ip_address("::ffff:10.1.0.5"), Some((6, 0xffff_0a01_0005)));
        assert_eq!(
            ip_address("1:2:3:4:5:6:7:8"),
            Some((6, 0x0001_0002_0003_0004_0005_0006_0007_0008))
        );
        assert_eq!(ip_address("1:2:3:4:5:6:7:8:9"), None);
        assert_eq!(ip_address("1::2::3"), None);
        assert_eq!(ip_address(":1:2:3:4:5:6:7"), None);
        assert_eq!(
            ip_address("1:2:3:4:5:6:7::"),
            Some((6, 0x0001_0002_0003_0004_0005_0006_0007_0000))
        );
        assert_eq!(ip_address("12345::"), None);
        assert_eq!(ip_address(""), None);
        assert_eq!(ip_address("x"), None);
    }

    #[test]
    fn networks_hold_their_addresses() {
        let net = Net {
            version: 4,
            network: 0x0a00_0000,
            netmask: 0xff00_0000,
        }; // 10.0.0.0/8
        assert!(net.contains((4, 0x0a01_0005)));
        assert!(!net.contains((4, 0x0b00_0000)));
        assert!(!net.contains((6, 0x0a01_0005)));
    }
}
