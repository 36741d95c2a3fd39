//! Fixed-width and length-prefixed built-in types of the OPC UA binary encoding
//! (OPC 10000-6 5.2.2): a port of `parsers/opcua/scalars.py`.
//!
//! Python's `Cursor` is the base class of `types.Reader`; here its methods are an `impl` block
//! of [`Reader`] (and `Cursor` an alias of it). Every read checks the bound first. Errors are only
//! `ParseError`: `truncated` (a fixed-size field runs past the end), `bad_length` (a length prefix
//! below -1 or beyond the bytes left) and `array_too_long` (more than `MAX_WALK` variable-size
//! elements).
//!
//! | type       | encoding                                                               |
//! |------------|------------------------------------------------------------------------|
//! | Boolean    | Byte, 0 false                                                          |
//! | Integers   | little-endian, 1 to 8 bytes; Float and Double IEEE 754                 |
//! | String     | Int32 length (-1 = null) + UTF-8 bytes                                 |
//! | ByteString | Int32 length (-1 = null) + bytes; XmlElement is encoded the same way   |
//! | DateTime   | Int64, 100 ns ticks since 1601-01-01 UTC                               |
//! | Guid       | UInt32, UInt16, UInt16, 8 bytes (`uuid.UUID(bytes_le=...)`)            |
//! | arrays     | Int32 count (-1 = null) + elements                                     |
//!
//! Strings are cut at `MAX_TEXT` characters, arrays at `MAX_ITEMS` elements (all are still walked).

use icssa_core::parser::{Decoded, ParseError};
use icssa_core::text::{hex, utf8_replace};

use crate::types::Reader;
use crate::values::{datetime_text, MAX_HEX, MAX_ITEMS, MAX_TEXT, MAX_WALK};

/// Python's `Cursor`: the same type as [`Reader`] (the methods of both live on it).
pub type Cursor<'a> = Reader<'a>;

/// `N` bytes of `buf` at `p`, or zeros where `buf` is shorter: the callers check the bound
/// against the reader's `end` first, as the Python does before `unpack_from`.
#[inline(always)]
pub fn bytes_at<const N: usize>(buf: &[u8], p: usize) -> [u8; N] {
    match p.checked_add(N).and_then(|q| buf.get(p..q)) {
        Some(s) => s.try_into().unwrap_or([0; N]),
        None => [0; N],
    }
}

/// `struct.unpack_from("<H", buf, p)` (0 past the end of `buf`; see [`bytes_at`]).
#[inline(always)]
pub fn u16_at(buf: &[u8], p: usize) -> u16 {
    u16::from_le_bytes(bytes_at(buf, p))
}

/// `struct.unpack_from("<I", buf, p)` (0 past the end of `buf`; see [`bytes_at`]).
#[inline(always)]
pub fn u32_at(buf: &[u8], p: usize) -> u32 {
    u32::from_le_bytes(bytes_at(buf, p))
}

/// `struct.unpack_from("<i", buf, p)` (0 past the end of `buf`; see [`bytes_at`]).
#[inline(always)]
pub fn i32_at(buf: &[u8], p: usize) -> i32 {
    i32::from_le_bytes(bytes_at(buf, p))
}

/// `struct.unpack_from("<q", buf, p)` (0 past the end of `buf`; see [`bytes_at`]).
#[inline(always)]
pub fn i64_at(buf: &[u8], p: usize) -> i64 {
    i64::from_le_bytes(bytes_at(buf, p))
}

/// `struct.unpack_from("<d", buf, p)` (0.0 past the end of `buf`; see [`bytes_at`]).
#[inline(always)]
pub fn f64_at(buf: &[u8], p: usize) -> f64 {
    f64::from_le_bytes(bytes_at(buf, p))
}

/// `str(uuid.UUID(bytes_le=b))`: the first three fields little-endian, lowercase hex.
pub fn guid_text(b: &[u8; 16]) -> String {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let order: [usize; 16] = [3, 2, 1, 0, 5, 4, 7, 6, 8, 9, 10, 11, 12, 13, 14, 15];
    let mut s = String::with_capacity(36);
    for (i, &k) in order.iter().enumerate() {
        if i == 4 || i == 6 || i == 8 || i == 10 {
            s.push('-');
        }
        s.push(HEX[(b[k] >> 4) as usize] as char);
        s.push(HEX[(b[k] & 15) as usize] as char);
    }
    s
}

/// `ParseError("truncated", f"{n} bytes at offset {p}, {left} left")`.
#[cold]
pub(crate) fn truncated(n: usize, p: usize, left: i64) -> ParseError {
    ParseError::new("truncated", format!("{n} bytes at offset {p}, {left} left"))
}

/// `ParseError("truncated", f"1 byte at offset {p}, 0 left")`.
#[cold]
pub(crate) fn truncated_byte(p: usize) -> ParseError {
    ParseError::new("truncated", format!("1 byte at offset {p}, 0 left"))
}

/// `ParseError("bad_length", f"{what} {n} at offset {at}, {left} left")`.
#[cold]
fn bad_length(what: &str, n: i32, at: usize, left: i64) -> ParseError {
    ParseError::new(
        "bad_length",
        format!("{what} {n} at offset {at}, {left} left"),
    )
}

impl<'a> Reader<'a> {
    /// `end - p` as Python computes it (negative when `p` is past the end).
    #[inline(always)]
    pub fn left(&self, p: usize) -> i64 {
        self.end as i64 - p as i64
    }

    /// Whether `n` bytes from `p` fit before `end` (`p + n <= end`).
    #[inline(always)]
    pub fn fits(&self, p: usize, n: usize) -> bool {
        p.checked_add(n).is_some_and(|q| q <= self.end)
    }

    // -- fixed width --------------------------------------------------------------------------

    /// Claim `n` bytes; return where they start.
    #[inline]
    pub fn take(&mut self, n: usize) -> Decoded<usize> {
        let p = self.pos;
        if !self.fits(p, n) {
            return Err(truncated(n, p, self.left(p)));
        }
        self.pos = p + n;
        Ok(p)
    }

    #[inline]
    pub fn u8(&mut self) -> Decoded<u8> {
        let p = self.pos;
        if p >= self.end {
            return Err(truncated_byte(p));
        }
        self.pos = p + 1;
        Ok(self.buf.get(p).copied().unwrap_or(0))
    }

    #[inline]
    pub fn boolean(&mut self) -> Decoded<bool> {
        Ok(self.u8()? != 0)
    }

    #[inline]
    pub fn u16(&mut self) -> Decoded<u16> {
        let p = self.take(2)?;
        Ok(u16_at(self.buf, p))
    }

    #[inline]
    pub fn u32(&mut self) -> Decoded<u32> {
        let p = self.take(4)?;
        Ok(u32_at(self.buf, p))
    }

    #[inline]
    pub fn i32(&mut self) -> Decoded<i32> {
        let p = self.take(4)?;
        Ok(i32_at(self.buf, p))
    }

    #[inline]
    pub fn f64(&mut self) -> Decoded<f64> {
        let p = self.take(8)?;
        Ok(f64_at(self.buf, p))
    }

    /// Several fixed-width fields at once (Python: `unpack(struct.Struct)`): the `N` bytes,
    /// for the caller to split with [`u32_at`] and friends.
    #[inline]
    pub fn unpack<const N: usize>(&mut self) -> Decoded<[u8; N]> {
        let p = self.take(N)?;
        Ok(bytes_at(self.buf, p))
    }

    #[inline]
    pub fn skip(&mut self, n: usize) -> Decoded<()> {
        self.take(n).map(|_| ())
    }

    pub fn date_time(&mut self) -> Decoded<Option<String>> {
        let p = self.take(8)?;
        Ok(datetime_text(i64_at(self.buf, p)))
    }

    pub fn guid(&mut self) -> Decoded<String> {
        let p = self.take(16)?;
        Ok(guid_text(&bytes_at(self.buf, p)))
    }

    // -- length-prefixed ----------------------------------------------------------------------

    /// An Int32 length prefix: -1 (null) or a count of bytes that must all be present.
    #[inline]
    pub fn length(&mut self) -> Decoded<i32> {
        let p = self.take(4)?;
        let n = i32_at(self.buf, p);
        let q = p + 4;
        if n < -1 || i64::from(n) > self.left(q) {
            return Err(bad_length("length", n, p, self.left(q)));
        }
        Ok(n)
    }

    /// An array count (null arrays give 0), bounded by the bytes left at `min_size` each and
    /// capped at `MAX_WALK` (Python's `array_length(min_size)`, `walk=True`).
    #[inline]
    pub fn array_length(&mut self, min_size: usize) -> Decoded<usize> {
        self.array_length_with(min_size, true)
    }

    /// Python's `array_length(min_size, walk)`. `walk`: the caller visits each element, so the
    /// count is also capped at `MAX_WALK`.
    pub fn array_length_with(&mut self, min_size: usize, walk: bool) -> Decoded<usize> {
        let p = self.take(4)?;
        let n = i32_at(self.buf, p);
        let q = p + 4;
        let what = if min_size == 1 {
            "length"
        } else {
            "array count"
        };
        if n <= 0 {
            if n < -1 {
                return Err(bad_length(what, n, p, self.left(q)));
            }
            return Ok(0);
        }
        if i64::from(n) * min_size as i64 > self.left(q) {
            return Err(bad_length(what, n, p, self.left(q)));
        }
        if walk && n as usize > MAX_WALK {
            return Err(ParseError::new(
                "array_too_long",
                format!("{n} elements at offset {p}"),
            ));
        }
        Ok(n as usize)
    }

    /// A String: None for null, cut at `MAX_TEXT` characters. A longer string is decoded from the
    /// `MAX_TEXT * 4` bytes of `buf` from its start, as the Python slices `buf` (not the string).
    pub fn string(&mut self) -> Decoded<Option<String>> {
        let p = self.take(4)?;
        let n = i32_at(self.buf, p);
        let q = p + 4;
        if n <= 0 {
            return match n {
                -1 => Ok(None),
                0 => Ok(Some(String::new())),
                _ => Err(bad_length("length", n, p, self.left(q))),
            };
        }
        let n = n as usize;
        if !self.fits(q, n) {
            return Err(bad_length("length", n as i32, p, self.left(q)));
        }
        self.pos = q + n;
        if n <= MAX_TEXT {
            return Ok(Some(utf8_replace(
                self.buf.get(q..q + n).unwrap_or_default(),
            )));
        }
        let stop = (q + MAX_TEXT * 4).min(self.buf.len());
        let text = utf8_replace(self.buf.get(q..stop).unwrap_or_default());
        Ok(Some(cut_chars(text, MAX_TEXT)))
    }

    /// Skip a ByteString, returning its length (-1 for null).
    #[inline]
    pub fn bytestring_length(&mut self) -> Decoded<i32> {
        let n = self.length()?;
        if n > 0 {
            self.pos += n as usize;
        }
        Ok(n)
    }

    /// A ByteString as hex of its first `MAX_HEX` bytes; None for null.
    pub fn bytestring_hex(&mut self) -> Decoded<Option<String>> {
        let n = self.length()?;
        if n < 0 {
            return Ok(None);
        }
        let p = self.pos;
        self.pos = p + n as usize;
        let k = (n as usize).min(MAX_HEX);
        Ok(Some(hex(self.buf.get(p..p + k).unwrap_or_default())))
    }

    pub fn string_array(&mut self) -> Decoded<Vec<Option<String>>> {
        let n = self.array_length(4)?;
        let mut out = Vec::with_capacity(n.min(MAX_ITEMS));
        for i in 0..n {
            let s = self.string()?;
            if i < MAX_ITEMS {
                out.push(s);
            }
        }
        Ok(out)
    }

    /// A UInt32 array (not walked): its first `MAX_ITEMS` values.
    pub fn u32_array(&mut self) -> Decoded<Vec<u32>> {
        let n = self.array_length_with(4, false)?;
        if n == 0 {
            return Ok(Vec::new());
        }
        let p = self.take(4 * n)?;
        Ok((0..n.min(MAX_ITEMS))
            .map(|i| u32_at(self.buf, p + 4 * i))
            .collect())
    }

    /// A StatusCode array (`status_array = u32_array`).
    #[inline]
    pub fn status_array(&mut self) -> Decoded<Vec<u32>> {
        self.u32_array()
    }
}

/// `text[:n]` in characters (code points).
pub(crate) fn cut_chars(mut text: String, n: usize) -> String {
    if let Some((i, _)) = text.char_indices().nth(n) {
        text.truncate(i);
    }
    text
}
