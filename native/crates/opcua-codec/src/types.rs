//! Built-in types of the OPC UA binary encoding (OPC 10000-6 5.2), decoded with every length
//! bounded: a port of `parsers/opcua/types.py`.
//!
//! All values are little-endian. A [`Reader`] walks one message body: the fixed-width and
//! length-prefixed types come from `scalars` (Python's `Cursor`), the NodeId family and
//! ExtensionObject are here, Variant, DataValue and DiagnosticInfo (the nested types) in `values`.
//! It fails only with `ParseError`: `truncated`, `bad_length`, `array_too_long` (see `scalars`),
//! `bad_encoding` (an unknown NodeId/Variant/ExtensionObject encoding) and `too_deep`
//! (Variant/DataValue/DiagnosticInfo/ExtensionObject nested beyond `MAX_DEPTH`).
//!
//! | type            | encoding                                                                     |
//! |-----------------|------------------------------------------------------------------------------|
//! | NodeId          | Byte encoding 0 two-byte, 1 four-byte, 2 numeric, 3 string, 4 guid, 5 opaque |
//! | ExpandedNodeId  | NodeId with flags 0x80 (NamespaceUri String follows), 0x40 (ServerIndex)     |
//! | QualifiedName   | UInt16 namespace + String                                                    |
//! | LocalizedText   | Byte mask 0x01 Locale String, 0x02 Text String                               |
//! | ExtensionObject | NodeId type + Byte encoding 0 none, 1 ByteString body, 2 XmlElement body     |
//!
//! Values come back ready for JSON: NodeIds in the standard string form (`ns=1;s=the.answer`,
//! `i=85`), Guids as text, DateTimes as ISO 8601, ByteStrings as hex of their first `MAX_HEX`
//! bytes, strings cut at `MAX_TEXT` characters, arrays cut at `MAX_ITEMS` elements (all are
//! still walked).

use std::borrow::Cow;
use std::fmt;

use icssa_core::parser::{Decoded, ParseError};
use icssa_core::text::utf8_replace;
use icssa_core::Text;

use crate::scalars::{i32_at, u16_at, u32_at};
pub use crate::values::{datetime_text, MAX_DEPTH, MAX_HEX, MAX_ITEMS, MAX_TEXT, MAX_WALK};

mod tables;

pub use tables::TWO_BYTE_TEXT;

/// The identifier of a NodeId, by kind (`i`, `s`, `g`, `b`), formatted as Python formats it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Identifier {
    /// `i`: a UInt32 (or the Byte/UInt16 of the two-byte and four-byte encodings).
    Numeric(u32),
    /// `s`: the String (`""` for null), cut at `MAX_TEXT` characters.
    String(String),
    /// `g`: the Guid as `uuid` text.
    Guid(String),
    /// `b`: base64 of the first `MAX_HEX` bytes of the ByteString.
    Opaque(String),
}

impl Identifier {
    /// The kind letter of the standard string form.
    pub fn kind(&self) -> &'static str {
        match self {
            Identifier::Numeric(_) => "i",
            Identifier::String(_) => "s",
            Identifier::Guid(_) => "g",
            Identifier::Opaque(_) => "b",
        }
    }
}

impl fmt::Display for Identifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Identifier::Numeric(n) => write!(f, "{n}"),
            Identifier::String(s) | Identifier::Guid(s) | Identifier::Opaque(s) => f.write_str(s),
        }
    }
}

/// Standard string form of a NodeId (OPC 10000-6 5.3.1.10): `i=85`, `ns=1;s=name`.
pub fn node_id_text(ns: u16, kind: &str, value: &Identifier) -> String {
    match value {
        Identifier::Numeric(n) => kind_text(ns, kind, itoa::Buffer::new().format(*n)),
        Identifier::String(s) | Identifier::Guid(s) | Identifier::Opaque(s) => {
            kind_text(ns, kind, s)
        }
    }
}

/// `f"ns={ns};{kind}={value}" if ns else f"{kind}={value}"`, without the formatter.
fn kind_text(ns: u16, kind: &str, value: &str) -> String {
    let mut s = String::with_capacity(value.len() + 10);
    if ns != 0 {
        s.push_str("ns=");
        s.push_str(itoa::Buffer::new().format(ns));
        s.push(';');
    }
    s.push_str(kind);
    s.push('=');
    s.push_str(value);
    s
}

/// `f"ns={ns};i={ident}" if ns else f"i={ident}"` (static text for the two-byte identifiers).
fn numeric_text(ns: u16, ident: u32) -> Text {
    if ns == 0 {
        if let Some(t) = TWO_BYTE_TEXT.get(ident as usize) {
            return Cow::Borrowed(t);
        }
    }
    Cow::Owned(kind_text(ns, "i", itoa::Buffer::new().format(ident)))
}

/// `f"{ns}:{name}" if ns else name` (a QualifiedName).
fn qualified_text(ns: u16, name: String) -> String {
    if ns == 0 {
        return name;
    }
    let mut s = String::with_capacity(name.len() + 6);
    s.push_str(itoa::Buffer::new().format(ns));
    s.push(':');
    s.push_str(&name);
    s
}

#[cold]
fn bad_node_encoding(mask: u8, at: usize) -> ParseError {
    ParseError::new(
        "bad_encoding",
        format!("NodeId encoding 0x{mask:02x} at offset {at}"),
    )
}

/// `base64.b64encode(data).decode()`.
pub fn base64(data: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut s = String::with_capacity(data.len().div_ceil(3) * 4);
    for chunk in data.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let v = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                s.push(ALPHABET[((v >> (18 - 6 * i)) & 63) as usize] as char);
            } else {
                s.push('=');
            }
        }
    }
    s
}

/// A cursor over `buf[pos..end]` (one message body), plus the NodeId family, ExtensionObject
/// and the nested types (`values`). Every read checks the bound first.
///
/// `buf` is the whole buffer the Python `Reader` gets (not only the body): `string` decodes a
/// String longer than `MAX_TEXT` from `buf` past its end, as the Python does.
#[derive(Debug, Clone)]
pub struct Reader<'a> {
    pub buf: &'a [u8],
    pub pos: usize,
    pub end: usize,
    /// nesting level of Variant/DataValue/DiagnosticInfo/ExtensionObject bodies
    pub depth: usize,
}

impl<'a> Reader<'a> {
    /// `Reader(buf, pos, end)` (`end` is kept within `buf`).
    pub fn new(buf: &'a [u8], pos: usize, end: usize) -> Self {
        Reader {
            buf,
            pos,
            end: end.min(buf.len()),
            depth: 0,
        }
    }

    /// `Reader(buf, pos, end, depth)`.
    pub fn with_depth(buf: &'a [u8], pos: usize, end: usize, depth: usize) -> Self {
        Reader {
            buf,
            pos,
            end: end.min(buf.len()),
            depth,
        }
    }

    /// The byte at `p` (0 past the end of `buf`; callers check against `end` first).
    #[inline(always)]
    pub fn byte(&self, p: usize) -> u8 {
        self.buf.get(p).copied().unwrap_or(0)
    }

    // -- NodeId family ------------------------------------------------------------------------

    /// (namespace, kind `i`/`s`/`g`/`b`, identifier) of a NodeId; `mask` is the encoding byte
    /// when the caller has read it already.
    pub fn node_id_raw(&mut self, mask: Option<u8>) -> Decoded<(u16, &'static str, Identifier)> {
        let mask = match mask {
            Some(m) => m,
            None => self.u8()?,
        };
        match mask & 0x3F {
            0 => {
                let p = self.take(1)?;
                Ok((0, "i", Identifier::Numeric(u32::from(self.byte(p)))))
            }
            1 => {
                let p = self.take(3)?;
                Ok((
                    u16::from(self.byte(p)),
                    "i",
                    Identifier::Numeric(u32::from(u16_at(self.buf, p + 1))),
                ))
            }
            2 => {
                let p = self.take(6)?;
                Ok((
                    u16_at(self.buf, p),
                    "i",
                    Identifier::Numeric(u32_at(self.buf, p + 2)),
                ))
            }
            3 => {
                let ns = self.u16()?;
                Ok((
                    ns,
                    "s",
                    Identifier::String(self.string()?.unwrap_or_default()),
                ))
            }
            4 => {
                let ns = self.u16()?;
                Ok((ns, "g", Identifier::Guid(self.guid()?)))
            }
            5 => {
                let ns = self.u16()?;
                let n = self.length()?.max(0) as usize;
                let p = self.pos;
                self.pos = p + n;
                let data = self.buf.get(p..p + n.min(MAX_HEX)).unwrap_or_default();
                Ok((ns, "b", Identifier::Opaque(base64(data))))
            }
            _ => Err(bad_node_encoding(mask, self.pos.wrapping_sub(1))),
        }
    }

    /// Step over a NodeId without formatting it (session tokens, reference types).
    pub fn skip_node_id(&mut self) -> Decoded<()> {
        let p = self.pos;
        if p < self.end {
            let width = match self.byte(p) {
                0 => 2,
                1 => 4,
                2 => 7,
                4 => 19,
                _ => 0,
            };
            if width != 0 && p + width <= self.end {
                self.pos = p + width;
                return Ok(());
            }
        }
        let enc = self.u8()?;
        match enc {
            0 => self.skip(1),
            1 => self.skip(3),
            2 => self.skip(6),
            4 => self.skip(18),
            3 | 5 => {
                self.skip(2)?;
                self.bytestring_length().map(|_| ())
            }
            _ => Err(bad_node_encoding(enc, self.pos - 1)),
        }
    }

    /// A NodeId in its standard string form.
    pub fn node_id(&mut self) -> Decoded<Text> {
        let buf = self.buf;
        let p = self.pos;
        let end = self.end;
        if p + 2 <= end {
            // fast paths: two-byte, four-byte, numeric and short string encodings
            match self.byte(p) {
                0 => {
                    self.pos = p + 2;
                    return Ok(Cow::Borrowed(TWO_BYTE_TEXT[self.byte(p + 1) as usize]));
                }
                1 if p + 4 <= end => {
                    self.pos = p + 4;
                    return Ok(numeric_text(
                        u16::from(self.byte(p + 1)),
                        u32::from(u16_at(buf, p + 2)),
                    ));
                }
                3 if p + 7 <= end => {
                    let ns = u16_at(buf, p + 1);
                    let n = i32_at(buf, p + 3);
                    if n > 0 && n as usize <= MAX_TEXT && p + 7 + n as usize <= end {
                        let q = p + 7 + n as usize;
                        self.pos = q;
                        // from_utf8_lossy is text::utf8_replace without the copy
                        let s = String::from_utf8_lossy(buf.get(p + 7..q).unwrap_or_default());
                        return Ok(Cow::Owned(kind_text(ns, "s", &s)));
                    }
                }
                2 if p + 7 <= end => {
                    self.pos = p + 7;
                    return Ok(numeric_text(u16_at(buf, p + 1), u32_at(buf, p + 3)));
                }
                _ => {}
            }
        }
        let mask = self.u8()?;
        if mask & 0xC0 != 0 {
            return Err(bad_node_encoding(mask, self.pos - 1));
        }
        let (ns, kind, value) = self.node_id_raw(Some(mask))?;
        if let Identifier::Numeric(n) = value {
            return Ok(numeric_text(ns, n));
        }
        Ok(Cow::Owned(node_id_text(ns, kind, &value)))
    }

    /// The identifier of a namespace-0 numeric NodeId (type ids), else None.
    pub fn numeric_node_id(&mut self) -> Decoded<Option<u32>> {
        let p = self.pos;
        if p + 4 <= self.end && self.byte(p) == 0x01 && self.byte(p + 1) == 0 {
            // four-byte, namespace 0
            self.pos = p + 4;
            return Ok(Some(u32::from(u16_at(self.buf, p + 2))));
        }
        let mask = self.u8()?;
        if mask & 0xC0 != 0 {
            return Err(bad_node_encoding(mask, self.pos - 1));
        }
        Ok(match self.node_id_raw(Some(mask))? {
            (0, _, Identifier::Numeric(n)) => Some(n),
            _ => None,
        })
    }

    /// An ExpandedNodeId in its standard string form (`nsu=<uri>;...`, `svr=<index>;...`).
    pub fn expanded_node_id(&mut self) -> Decoded<Text> {
        let p = self.pos;
        if p < self.end && self.byte(p) & 0xC0 == 0 {
            // no NamespaceUri, no ServerIndex: a NodeId
            return self.node_id();
        }
        let mask = self.u8()?;
        let (ns, kind, value) = self.node_id_raw(Some(mask))?;
        let uri = if mask & 0x80 != 0 {
            self.string()?
        } else {
            None
        };
        let server = if mask & 0x40 != 0 { self.u32()? } else { 0 };
        let text = match uri {
            Some(uri) => format!("nsu={uri};{kind}={value}"),
            None => node_id_text(ns, kind, &value),
        };
        Ok(Cow::Owned(if server != 0 {
            format!("svr={server};{text}")
        } else {
            text
        }))
    }

    /// A QualifiedName as `name` (namespace 0) or `ns:name`.
    pub fn qualified_name(&mut self) -> Decoded<String> {
        let p = self.pos;
        let end = self.end;
        if p + 6 <= end {
            let ns = u16_at(self.buf, p);
            let n = i32_at(self.buf, p + 2);
            if n <= 0 {
                if n >= -1 {
                    // null or empty name
                    self.pos = p + 6;
                    return Ok(qualified_text(ns, String::new()));
                }
            } else if n as usize <= MAX_TEXT && p + 6 + n as usize <= end {
                let q = p + 6 + n as usize;
                self.pos = q;
                let name = utf8_replace(self.buf.get(p + 6..q).unwrap_or_default());
                return Ok(qualified_text(ns, name));
            }
        }
        let ns = self.u16()?;
        let name = self.string()?.unwrap_or_default();
        Ok(qualified_text(ns, name))
    }

    /// (locale, text).
    pub fn localized_text(&mut self) -> Decoded<(Option<String>, Option<String>)> {
        let p = self.pos;
        if p >= self.end {
            return Err(crate::scalars::truncated_byte(p));
        }
        let mask = self.byte(p);
        self.pos = p + 1;
        let locale = if mask & 0x01 != 0 {
            self.string()?
        } else {
            None
        };
        let text = if mask & 0x02 != 0 {
            self.string()?
        } else {
            None
        };
        Ok((locale, text))
    }

    // -- structured ---------------------------------------------------------------------------

    /// (numeric ns0 type id or None, type id text, body start, body end); the body is skipped.
    pub fn extension_object(&mut self) -> Decoded<(Option<u32>, Text, usize, usize)> {
        let buf = self.buf;
        let p = self.pos;
        let end = self.end;
        if p + 3 <= end {
            // fast path: a two-byte or four-byte namespace-0 type id
            let mask = self.byte(p);
            let fast = if mask == 0 {
                Some((u32::from(self.byte(p + 1)), p + 2))
            } else if mask == 1 && p + 5 <= end && self.byte(p + 1) == 0 {
                Some((u32::from(u16_at(buf, p + 2)), p + 4))
            } else {
                None
            };
            if let Some((ident, q)) = fast {
                let enc = self.byte(q);
                if enc == 0 {
                    self.pos = q + 1;
                    return Ok((Some(ident), numeric_text(0, ident), q + 1, q + 1));
                }
                if (enc == 1 || enc == 2) && q + 5 <= end {
                    let n = i64::from(i32_at(buf, q + 1));
                    let start = q + 5;
                    if -1 <= n && n <= (end - start) as i64 {
                        let stop = if n > 0 { start + n as usize } else { start };
                        self.pos = stop;
                        return Ok((Some(ident), numeric_text(0, ident), start, stop));
                    }
                }
            }
        }
        let mask = self.u8()?;
        if mask & 0xC0 != 0 {
            return Err(bad_node_encoding(mask, self.pos - 1));
        }
        let (ns, kind, value) = self.node_id_raw(Some(mask))?;
        let enc = self.u8()?;
        let (start, stop) = match enc {
            0 => (self.pos, self.pos),
            1 | 2 => {
                let n = self.length()?.max(0) as usize;
                let start = self.pos;
                self.pos = start + n;
                (start, start + n)
            }
            _ => {
                let detail = format!("ExtensionObject encoding {enc} at offset {}", self.pos - 1);
                return Err(ParseError::new("bad_encoding", detail));
            }
        };
        Ok(match value {
            Identifier::Numeric(n) => (
                if ns == 0 { Some(n) } else { None },
                numeric_text(ns, n),
                start,
                stop,
            ),
            _ => (
                None,
                Cow::Owned(node_id_text(ns, kind, &value)),
                start,
                stop,
            ),
        })
    }

    /// A reader over an ExtensionObject body, one level deeper.
    pub fn sub(&self, start: usize, end: usize) -> Decoded<Reader<'a>> {
        if self.depth >= MAX_DEPTH {
            return Err(ParseError::new(
                "too_deep",
                format!("nesting beyond {MAX_DEPTH} at offset {start}"),
            ));
        }
        Ok(Reader::with_depth(self.buf, start, end, self.depth + 1))
    }
}
