//! The bits of Python semantics the S7 decoders rely on: slices that clamp instead of
//! panicking, `bytes.isdigit()` / `int(bytes)`, `str.rstrip()`, and the flag list.

use icssa_core::{Map, Text, Value};
use std::borrow::Cow;

/// `buf[a:b]`: clamped to the buffer, empty when `a >= b`.
pub fn slice(buf: &[u8], a: usize, b: usize) -> &[u8] {
    let b = b.min(buf.len());
    buf.get(a..b).unwrap_or(&[])
}

/// `buf[i]` for an index the caller has checked against a bound inside `buf`.
pub fn at(buf: &[u8], i: usize) -> u8 {
    buf.get(i).copied().unwrap_or(0)
}

/// Big-endian u16 at `i` (0 past the end: callers check lengths first, as the Python does).
pub fn u16_at(buf: &[u8], i: usize) -> u16 {
    (u16::from(at(buf, i)) << 8) | u16::from(at(buf, i + 1))
}

/// Big-endian u32 at `i`.
pub fn u32_at(buf: &[u8], i: usize) -> u32 {
    (u32::from(u16_at(buf, i)) << 16) | u32::from(u16_at(buf, i + 2))
}

/// `bytes.isdigit()`: not empty and only ASCII digits.
pub fn isdigit(raw: &[u8]) -> bool {
    !raw.is_empty() && raw.iter().all(u8::is_ascii_digit)
}

/// `int(raw) if raw.isdigit()` as a JSON integer; None for other bytes, and beyond 64 bits,
/// which the Python path cannot serialise (orjson refuses it).
pub fn int_of_digits(raw: &[u8]) -> Option<Value> {
    if !isdigit(raw) {
        return None;
    }
    let mut n: u64 = 0;
    for &c in raw {
        n = n.checked_mul(10)?.checked_add(u64::from(c - b'0'))?;
    }
    Some(match i64::try_from(n) {
        Ok(i) => Value::Int(i),
        Err(_) => Value::UInt(n),
    })
}

/// `raw.decode("latin-1")` as a JSON string.
pub fn latin1(raw: &[u8]) -> Text {
    Cow::Owned(icssa_core::text::latin1(raw))
}

/// Python's `str.isspace()` for the characters latin-1 decoding gives.
fn py_space(c: u8) -> bool {
    matches!(c, 0x09..=0x0D | 0x1C..=0x20 | 0x85 | 0xA0)
}

/// `raw.decode("latin-1").rstrip()`.
pub fn latin1_rstrip(raw: &[u8]) -> Text {
    let n = raw.iter().rposition(|&c| !py_space(c)).map_or(0, |i| i + 1);
    latin1(&raw[..n])
}

/// `raw.decode("latin-1").rstrip("\x00 ")`.
pub fn latin1_rstrip_nul_space(raw: &[u8]) -> Text {
    let n = raw
        .iter()
        .rposition(|&c| c != 0 && c != b' ')
        .map_or(0, |i| i + 1);
    latin1(&raw[..n])
}

/// `d.setdefault(key, []).append(item)` / `.extend(items)` for a list of strings.
pub fn append_list(f: &mut Map, key: &'static str, items: &[&'static str]) {
    if let Some(Value::List(list)) = f.get_mut(key) {
        list.extend(items.iter().map(|&s| Value::from(s)));
    } else {
        f.push(
            key,
            Value::List(items.iter().map(|&s| Value::from(s)).collect()),
        );
    }
}

/// The `flags` list of a message: spec violations, as snake_case names.
#[derive(Debug, Default)]
pub struct Flags(pub Vec<Value>);

impl Flags {
    pub fn push(&mut self, flag: &'static str) {
        self.0.push(Value::Str(Cow::Borrowed(flag)));
    }

    /// `if flags: f["flags"] = flags`.
    pub fn store(self, f: &mut Map) {
        if !self.0.is_empty() {
            f.push("flags", Value::List(self.0));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn python_semantics() {
        assert_eq!(slice(b"abc", 1, 9), b"bc");
        assert_eq!(slice(b"abc", 5, 9), b"");
        assert_eq!(slice(b"abc", 2, 1), b"");
        assert!(isdigit(b"0123") && !isdigit(b"") && !isdigit(b"1a"));
        assert_eq!(int_of_digits(b"1a"), None);
        assert_eq!(int_of_digits(b"00042"), Some(Value::Int(42)));
        assert_eq!(
            int_of_digits(b"18446744073709551615"),
            Some(Value::UInt(u64::MAX))
        );
        assert_eq!(int_of_digits(b"18446744073709551616"), None);
        // Python: "ab \x1c\xa0\x85\t".rstrip() == "ab"; "a\x00 b \x00".rstrip("\x00 ") == "a\x00 b"
        assert_eq!(latin1_rstrip(b"ab \x1c\xa0\x85\t"), "ab");
        assert_eq!(latin1_rstrip_nul_space(b"a\x00 b \x00"), "a\u{0} b");
        assert_eq!(latin1(b"\xe9"), "\u{e9}");
    }
}
