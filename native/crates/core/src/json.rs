//! JSON values in insertion order, written byte for byte as orjson writes the Python objects
//! the pure-Python path builds (compact, UTF-8 kept, floats as orjson prints them).
//!
//! Keys and most strings are `&'static str` (field names, function names): a `Str` is a
//! `Cow` so that decoded text and fixed names share one type without copying the fixed ones.

use std::borrow::Cow;

pub type Text = Cow<'static, str>;

#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Null,
    Bool(bool),
    Int(i64),
    UInt(u64),
    Float(f64),
    Str(Text),
    List(Vec<Value>),
    Map(Map),
}

/// An ordered map: Python dicts keep insertion order, and so does the JSON written from them.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Map(pub Vec<(Text, Value)>);

impl Map {
    pub fn new() -> Self {
        Map(Vec::new())
    }

    pub fn with_capacity(n: usize) -> Self {
        Map(Vec::with_capacity(n))
    }

    /// `d[key] = value`: replaces an existing key in place (keeping its position), else appends.
    pub fn set(&mut self, key: impl Into<Text>, value: impl Into<Value>) {
        let key = key.into();
        let value = value.into();
        if let Some(slot) = self.0.iter_mut().find(|(k, _)| *k == key) {
            slot.1 = value;
        } else {
            self.0.push((key, value));
        }
    }

    /// Appends without looking for the key: for keys known to be new (the common case).
    pub fn push(&mut self, key: impl Into<Text>, value: impl Into<Value>) {
        self.0.push((key.into(), value.into()));
    }

    pub fn get(&self, key: &str) -> Option<&Value> {
        self.0.iter().find(|(k, _)| k == key).map(|(_, v)| v)
    }

    pub fn get_mut(&mut self, key: &str) -> Option<&mut Value> {
        self.0.iter_mut().find(|(k, _)| k == key).map(|(_, v)| v)
    }

    pub fn contains_key(&self, key: &str) -> bool {
        self.0.iter().any(|(k, _)| k == key)
    }

    /// `d.pop(key)`: removes and returns the value (later keys move up, as in a Python dict).
    pub fn remove(&mut self, key: &str) -> Option<Value> {
        let i = self.0.iter().position(|(k, _)| k == key)?;
        Some(self.0.remove(i).1)
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn iter(&self) -> impl Iterator<Item = (&Text, &Value)> {
        self.0.iter().map(|(k, v)| (k, v))
    }
}

macro_rules! from_int {
    ($($t:ty => $v:ident),*) => {$(
        impl From<$t> for Value {
            fn from(x: $t) -> Self {
                Value::$v(x.into())
            }
        }
    )*};
}
from_int!(i8 => Int, i16 => Int, i32 => Int, i64 => Int, u8 => Int, u16 => Int, u32 => Int, u64 => UInt);

impl From<usize> for Value {
    fn from(x: usize) -> Self {
        Value::Int(x as i64)
    }
}

impl From<bool> for Value {
    fn from(x: bool) -> Self {
        Value::Bool(x)
    }
}

impl From<f64> for Value {
    fn from(x: f64) -> Self {
        Value::Float(x)
    }
}

impl From<f32> for Value {
    fn from(x: f32) -> Self {
        Value::Float(x as f64)
    }
}

impl From<&'static str> for Value {
    fn from(x: &'static str) -> Self {
        Value::Str(Cow::Borrowed(x))
    }
}

impl From<String> for Value {
    fn from(x: String) -> Self {
        Value::Str(Cow::Owned(x))
    }
}

impl From<Text> for Value {
    fn from(x: Text) -> Self {
        Value::Str(x)
    }
}

impl From<Map> for Value {
    fn from(x: Map) -> Self {
        Value::Map(x)
    }
}

impl<T: Into<Value>> From<Vec<T>> for Value {
    fn from(x: Vec<T>) -> Self {
        Value::List(x.into_iter().map(Into::into).collect())
    }
}

impl<T: Into<Value>> From<Option<T>> for Value {
    fn from(x: Option<T>) -> Self {
        x.map_or(Value::Null, Into::into)
    }
}

impl Value {
    pub fn as_map(&self) -> Option<&Map> {
        match self {
            Value::Map(m) => Some(m),
            _ => None,
        }
    }

    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::Str(s) => Some(s),
            _ => None,
        }
    }

    pub fn as_i64(&self) -> Option<i64> {
        match *self {
            Value::Int(i) => Some(i),
            Value::UInt(u) => i64::try_from(u).ok(),
            _ => None,
        }
    }

    /// Python truthiness (``if value:``).
    pub fn truthy(&self) -> bool {
        match self {
            Value::Null => false,
            Value::Bool(b) => *b,
            Value::Int(i) => *i != 0,
            Value::UInt(u) => *u != 0,
            Value::Float(f) => *f != 0.0,
            Value::Str(s) => !s.is_empty(),
            Value::List(l) => !l.is_empty(),
            Value::Map(m) => !m.is_empty(),
        }
    }

    pub fn to_json(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(128);
        write(&mut out, self);
        out
    }
}

/// Appends the JSON of `v` to `out`, as `orjson.dumps` writes the equivalent Python object.
pub fn write(out: &mut Vec<u8>, v: &Value) {
    match v {
        Value::Null => out.extend_from_slice(b"null"),
        Value::Bool(true) => out.extend_from_slice(b"true"),
        Value::Bool(false) => out.extend_from_slice(b"false"),
        Value::Int(i) => out.extend_from_slice(itoa::Buffer::new().format(*i).as_bytes()),
        Value::UInt(u) => out.extend_from_slice(itoa::Buffer::new().format(*u).as_bytes()),
        Value::Float(f) => write_float(out, *f),
        Value::Str(s) => write_str(out, s),
        Value::List(items) => {
            out.push(b'[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write(out, item);
            }
            out.push(b']');
        }
        Value::Map(map) => write_map(out, map),
    }
}

pub fn write_map(out: &mut Vec<u8>, map: &Map) {
    out.push(b'{');
    for (i, (k, v)) in map.0.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        write_str(out, k);
        out.push(b':');
        write(out, v);
    }
    out.push(b'}');
}

/// orjson's float form: the shortest repr; exponent as `e-7` / `e+16` (Python's repr less its
/// zero padding); NaN and infinities as `null`.
pub fn write_float(out: &mut Vec<u8>, f: f64) {
    if !f.is_finite() {
        out.extend_from_slice(b"null");
        return;
    }
    let mut buf = ryu::Buffer::new();
    let s = buf.format_finite(f).as_bytes();
    match s.iter().position(|&c| c == b'e') {
        Some(e) => {
            out.extend_from_slice(&s[..=e]);
            if s[e + 1] != b'-' {
                out.push(b'+');
            }
            out.extend_from_slice(&s[e + 1..]);
        }
        None => out.extend_from_slice(s),
    }
}

const HEX: &[u8; 16] = b"0123456789abcdef";

/// Bytes a JSON string must escape: control characters, `"` and `\\`.
static ESCAPE: [bool; 256] = {
    let mut t = [false; 256];
    let mut c = 0;
    while c < 0x20 {
        t[c] = true;
        c += 1;
    }
    t[b'"' as usize] = true;
    t[b'\\' as usize] = true;
    t
};

/// A JSON string as orjson writes it: `"` and `\\` escaped, control characters as `\\b \\t \\n \\f \\r`
/// or `\\u00XX`; everything else (DEL, non-ASCII) as its UTF-8 bytes.
pub fn write_str(out: &mut Vec<u8>, s: &str) {
    let bytes = s.as_bytes();
    out.reserve(bytes.len() + 2);
    out.push(b'"');
    let mut start = 0;
    for (i, &c) in bytes.iter().enumerate() {
        if !ESCAPE[c as usize] {
            continue;
        }
        out.extend_from_slice(&bytes[start..i]);
        match c {
            b'"' => out.extend_from_slice(b"\\\""),
            b'\\' => out.extend_from_slice(b"\\\\"),
            b'\n' => out.extend_from_slice(b"\\n"),
            b'\r' => out.extend_from_slice(b"\\r"),
            b'\t' => out.extend_from_slice(b"\\t"),
            0x08 => out.extend_from_slice(b"\\b"),
            0x0C => out.extend_from_slice(b"\\f"),
            _ => out.extend_from_slice(&[
                b'\\',
                b'u',
                b'0',
                b'0',
                HEX[(c >> 4) as usize],
                HEX[(c & 15) as usize],
            ]),
        }
        start = i + 1;
    }
    out.extend_from_slice(&bytes[start..]);
    out.push(b'"');
}

/// Builds a `Map` from `key => value` pairs in order: `map! {"a" => 1, "b" => "x"}`.
#[macro_export]
macro_rules! map {
    () => { $crate::json::Map::new() };
    ($($k:expr => $v:expr),+ $(,)?) => {{
        let mut m = $crate::json::Map::with_capacity([$(stringify!($k)),+].len());
        $(m.push($k, $v);)+
        m
    }};
}

#[cfg(test)]
mod tests {
    use super::*;

    fn float(f: f64) -> String {
        let mut out = Vec::new();
        write_float(&mut out, f);
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn floats_as_orjson() {
        // expected strings: orjson 3.x output of the same Python floats
        assert_eq!(float(1.0), "1.0");
        assert_eq!(float(0.1), "0.1");
        assert_eq!(float(1e-7), "1e-7");
        assert_eq!(float(1e16), "1e+16");
        assert_eq!(float(1e15), "1000000000000000.0");
        assert_eq!(float(-0.0), "-0.0");
        assert_eq!(float(5e-324), "5e-324");
        assert_eq!(float(f64::NAN), "null");
        assert_eq!(float(123456789.123), "123456789.123");
    }

    #[test]
    fn strings_as_orjson() {
        let mut out = Vec::new();
        write_str(&mut out, "a\u{0}\u{1f}\u{7f}\u{2028}\"\\ é");
        assert_eq!(out, b"\"a\\u0000\\u001f\x7f\xe2\x80\xa8\\\"\\\\ \xc3\xa9\"");
    }

    #[test]
    fn map_keeps_order_and_replaces_in_place() {
        let mut m = map! {"b" => 1u8, "a" => "x"};
        m.set("b", 2u8);
        m.set("c", Value::Null);
        assert_eq!(Value::Map(m).to_json(), br#"{"b":2,"a":"x","c":null}"#);
    }
}
