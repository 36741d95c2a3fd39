//! MAC addresses: normalisation, host MACs and the NIC vendor from the bundled OUI subset (a port
//! of `assetmap/oui.py`; the table itself comes with the configuration).

use std::borrow::Cow;
use std::collections::HashMap;

/// `normalize_mac`: `00-1B-1B-aa-bb-cc` / `001b.1baa.bbcc` -> `00:1b:1b:aa:bb:cc`; None when
/// not a MAC. Borrowed when `mac` is already in the normal form (the sensor's).
pub fn normalize_mac(mac: &str) -> Option<Cow<'_, str>> {
    let b = mac.as_bytes();
    let normal = b.len() == 17
        && b.iter().enumerate().all(|(i, &c)| {
            if i % 3 == 2 {
                c == b':'
            } else {
                c.is_ascii_digit() || (b'a'..=b'f').contains(&c)
            }
        });
    if normal {
        return Some(Cow::Borrowed(mac));
    }
    // str.lower() maps no other character to an ASCII hex digit
    let digits: Vec<u8> = mac
        .chars()
        .filter_map(|c| {
            let l = c.to_ascii_lowercase();
            (l.is_ascii_digit() || ('a'..='f').contains(&l)).then_some(l as u8)
        })
        .collect();
    if digits.len() != 12 || mac.chars().count() > 17 {
        return None;
    }
    let mut out = String::with_capacity(17);
    for (i, pair) in digits.chunks(2).enumerate() {
        if i > 0 {
            out.push(':');
        }
        out.push(pair[0] as char);
        out.push(pair[1] as char);
    }
    Some(Cow::Owned(out))
}

fn first_octet(mac: &str) -> u8 {
    mac.get(..2)
        .and_then(|h| u8::from_str_radix(h, 16).ok())
        .unwrap_or(1)
}

/// A unicast, non-zero MAC that can name one interface (of a normalised MAC).
pub fn is_host_mac(mac: &str) -> bool {
    first_octet(mac) & 1 == 0 && mac != "00:00:00:00:00:00"
}

/// `MacCache.host_mac`: the normalised MAC when it can name one host, else None.
pub fn host_mac(mac: Option<&str>) -> Option<Cow<'_, str>> {
    normalize_mac(mac?).filter(|m| is_host_mac(m))
}

/// Prefix `aa:bb:cc` -> canonical vendor.
#[derive(Debug, Clone, Default)]
pub struct OuiTable {
    pub rows: HashMap<String, String>,
}

impl OuiTable {
    /// The vendor of a normalised MAC (none for group and locally administered addresses).
    pub fn vendor(&self, mac: &str) -> Option<&str> {
        if !is_host_mac(mac) || first_octet(mac) & 2 != 0 {
            return None;
        }
        self.rows.get(mac.get(..8)?).map(String::as_str)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn macs_as_python() {
        // expected: assetmap.oui.normalize_mac / is_host_mac
        assert_eq!(
            normalize_mac("00-1B-1B-aa-bb-cc").as_deref(),
            Some("00:1b:1b:aa:bb:cc")
        );
        assert_eq!(
            normalize_mac("001b.1baa.bbcc").as_deref(),
            Some("00:1b:1b:aa:bb:cc")
        );
        assert_eq!(normalize_mac("00:1b:1b:aa:bb"), None);
        assert_eq!(normalize_mac("00:1b:1b:aa:bb:cc:"), None); // 18 characters
        assert_eq!(normalize_mac(""), None);
        assert!(host_mac(Some("01:00:5e:00:00:01")).is_none());
        assert!(host_mac(Some("00:00:00:00:00:00")).is_none());
        assert!(host_mac(Some("02:00:00:00:00:01")).is_some());
        let t = OuiTable {
            rows: [("00:1b:1b".to_string(), "Siemens".to_string())].into(),
        };
        assert_eq!(t.vendor("00:1b:1b:01:02:03"), Some("Siemens"));
        assert_eq!(t.vendor("02:1b:1b:01:02:03"), None);
    }
}
