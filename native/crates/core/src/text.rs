//! Python's text conversions, as the parsers use them.

/// `bytes.hex()`: lowercase, no separator.
pub fn hex(data: &[u8]) -> String {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(data.len() * 2);
    for &b in data {
        s.push(HEX[(b >> 4) as usize] as char);
        s.push(HEX[(b & 15) as usize] as char);
    }
    s
}

/// `bytes.decode("latin-1")`.
pub fn latin1(data: &[u8]) -> String {
    data.iter().map(|&b| b as char).collect()
}

/// `bytes.decode("utf-8", "replace")`: both replace each maximal invalid subpart with U+FFFD.
pub fn utf8_replace(data: &[u8]) -> String {
    String::from_utf8_lossy(data).into_owned()
}

/// `bytes.decode("ascii", "replace")`: every byte above 0x7F becomes U+FFFD.
pub fn ascii_replace(data: &[u8]) -> String {
    data.iter()
        .map(|&b| if b < 0x80 { b as char } else { '\u{FFFD}' })
        .collect()
}

/// `repr(bytes)`: `b'...'` (or `b"..."` when the bytes hold `'` and no `"`), with `\\t \\n \\r`,
/// `\\\\`, the quote escaped and other bytes outside 0x20-0x7E as `\\xNN`.
pub fn bytes_repr(data: &[u8]) -> String {
    let quote = if data.contains(&b'\'') && !data.contains(&b'"') {
        '"'
    } else {
        '\''
    };
    let mut s = String::with_capacity(data.len() + 3);
    s.push('b');
    s.push(quote);
    for &b in data {
        match b {
            b'\t' => s.push_str("\\t"),
            b'\n' => s.push_str("\\n"),
            b'\r' => s.push_str("\\r"),
            b'\\' => s.push_str("\\\\"),
            _ if b as char == quote => {
                s.push('\\');
                s.push(quote);
            }
            0x20..=0x7e => s.push(b as char),
            _ => s.push_str(&format!("\\x{b:02x}")),
        }
    }
    s.push(quote);
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn conversions() {
        assert_eq!(hex(&[0x01, 0xab]), "01ab");
        assert_eq!(latin1(&[0x41, 0xe9]), "Aé");
        // Python: b"a\xff\xe2\x82b".decode("utf-8", "replace") == "a\ufffd\ufffdb"
        assert_eq!(utf8_replace(b"a\xff\xe2\x82b"), "a\u{fffd}\u{fffd}b");
        assert_eq!(ascii_replace(b"a\xffb"), "a\u{fffd}b");
        // Python: repr(b"a'\\\t\x00\x7f") and repr(b"'\"")
        assert_eq!(bytes_repr(b"a'\\\t\x00\x7f"), r#"b"a'\\\t\x00\x7f""#);
        assert_eq!(bytes_repr(b"'\""), r#"b'\'"'"#);
    }
}
