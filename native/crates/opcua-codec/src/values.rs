//! The nested built-in types of the OPC UA binary encoding (OPC 10000-6 5.2.2.16 to 5.2.2.17):
//! Variant, DataValue, DiagnosticInfo, each entered at most `MAX_DEPTH` levels deep. A port of
//! `parsers/opcua/values.py`; the Python functions are bound as `Reader` methods, and so are
//! these.
//!
//! | type           | encoding                                                                          |
//! |----------------|-----------------------------------------------------------------------------------|
//! | Variant        | Byte mask: bits 0-5 built-in type, 0x80 array (Int32 count), 0x40 dimensions      |
//! |                | (Int32 count + Int32 each, after the values)                                      |
//! | DataValue      | Byte mask 0x01 Value, 0x02 Status, 0x04 SourceTimestamp, 0x10 SourcePicoseconds,  |
//! |                | 0x08 ServerTimestamp, 0x20 ServerPicoseconds (on the wire in that order)          |
//! | DiagnosticInfo | Byte mask 0x01 SymbolicId, 0x02 NamespaceUri, 0x08 Locale, 0x04 LocalizedText,    |
//! |                | 0x10 AdditionalInfo, 0x20 InnerStatusCode, 0x40 InnerDiagnosticInfo (wire order)  |
//!
//! Arrays of fixed-width types are skipped by arithmetic (their first `MAX_ITEMS` values
//! decoded); arrays of variable-width types are walked, at most `MAX_WALK` elements.

use icssa_core::parser::{Decoded, ParseError};
use icssa_core::{Map, Value};

use crate::scalars::{bytes_at, guid_text, i64_at, truncated, truncated_byte, u16_at, u32_at};
use crate::types::Reader;

pub const MAX_DEPTH: usize = 16;
pub const MAX_ITEMS: usize = 64;
pub const MAX_TEXT: usize = 1024;
pub const MAX_HEX: usize = 64;
pub const MAX_WALK: usize = 100_000;

/// 9999-12-31T23:59:59.9999999, the largest DateTime the spec allows
const MAX_TICKS: i64 = 2_650_467_743_999_999_999;
/// days from 1601-01-01 (the DateTime epoch) to 0000-03-01 of the proleptic Gregorian calendar
const EPOCH_FROM_MARCH_0: i64 = 584_694;

/// ISO 8601 text of a DateTime; 0 and out-of-range values (`min`/`max` markers) give None.
/// As Python's `(EPOCH + timedelta(microseconds=ticks // 10)).isoformat()` with `Z`:
/// `1601-01-01T00:00:00Z`, or `.ffffff` microseconds when they are not zero.
pub fn datetime_text(ticks: i64) -> Option<String> {
    if ticks <= 0 || ticks > MAX_TICKS {
        return None;
    }
    let micros = ticks / 10;
    let secs = micros / 1_000_000;
    let frac = micros % 1_000_000;
    let (days, rem) = (secs / 86_400, secs % 86_400);
    // civil date from a day count (H. Hinnant's algorithm, years from March)
    let z = days + EPOCH_FROM_MARCH_0;
    let era = z / 146_097;
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    let mut s = String::with_capacity(27);
    push_digits(&mut s, year, 4);
    s.push('-');
    push_digits(&mut s, month, 2);
    s.push('-');
    push_digits(&mut s, day, 2);
    s.push('T');
    push_digits(&mut s, rem / 3600, 2);
    s.push(':');
    push_digits(&mut s, rem / 60 % 60, 2);
    s.push(':');
    push_digits(&mut s, rem % 60, 2);
    if frac != 0 {
        s.push('.');
        push_digits(&mut s, frac, 6);
    }
    s.push('Z');
    Some(s)
}

/// `f"{v:0{width}d}"` for `0 <= v < 10**width`.
fn push_digits(s: &mut String, v: i64, width: u32) {
    let mut div = 10_i64.pow(width - 1);
    while div > 0 {
        s.push(char::from(b'0' + (v / div % 10) as u8));
        div /= 10;
    }
}

/// Size of a fixed-width Variant built-in type (Python's `_FIXED`), 0 for the others.
#[inline]
fn fixed_size(t: u8) -> usize {
    match t {
        1..=3 => 1,
        4 | 5 => 2,
        6 | 7 | 10 | 19 => 4,
        8 | 9 | 11 | 13 => 8,
        14 => 16,
        _ => 0,
    }
}

/// Smallest encoding of the variable-width Variant types (Python's `_MIN_SIZE`, default 1).
#[inline]
fn min_size(t: u8) -> usize {
    match t {
        12 | 15 | 16 => 4,
        17 | 18 => 2,
        20 => 6,
        22 => 3,
        _ => 1,
    }
}

/// One value of fixed-width type `t` at `buf[p..]` (bounds checked by the caller).
#[inline]
fn fixed_value(buf: &[u8], t: u8, p: usize) -> Value {
    let b = buf.get(p).copied().unwrap_or(0);
    match t {
        1 => Value::Bool(b != 0),
        2 => Value::Int(i64::from(b as i8)),
        3 => Value::Int(i64::from(b)),
        4 => Value::Int(i64::from(u16_at(buf, p) as i16)),
        5 => Value::Int(i64::from(u16_at(buf, p))),
        6 => Value::Int(i64::from(u32_at(buf, p) as i32)),
        7 | 19 => Value::Int(i64::from(u32_at(buf, p))),
        8 => Value::Int(i64_at(buf, p)),
        9 => Value::UInt(u64::from_le_bytes(bytes_at(buf, p))),
        10 => Value::Float(f64::from(f32::from_le_bytes(bytes_at(buf, p)))),
        11 => Value::Float(f64::from_le_bytes(bytes_at(buf, p))),
        13 => datetime_text(i64_at(buf, p)).into(),
        14 => Value::from(guid_text(&bytes_at(buf, p))),
        _ => Value::Null,
    }
}

impl<'a> Reader<'a> {
    /// Go one level deeper and read the encoding mask byte (Python's `_enter`).
    #[inline]
    fn enter(&mut self) -> Decoded<u8> {
        if self.depth >= MAX_DEPTH {
            let detail = format!("nesting beyond {MAX_DEPTH} at offset {}", self.pos);
            return Err(ParseError::new("too_deep", detail));
        }
        self.depth += 1;
        let p = self.pos;
        if p >= self.end {
            return Err(truncated_byte(p));
        }
        self.pos = p + 1;
        Ok(self.byte(p))
    }

    /// A Variant: a scalar, a list (arrays, cut at `MAX_ITEMS`) or, with dimensions,
    /// `{"dimensions": [...], "values": [...]}`.
    pub fn variant(&mut self) -> Decoded<Value> {
        let mask = self.enter()?;
        let t = mask & 0x3F;
        if t > 25 {
            let detail = format!("Variant type {t} at offset {}", self.pos - 1);
            return Err(ParseError::new("bad_encoding", detail));
        }
        if mask & 0x80 == 0 {
            let value = match t {
                0 => Value::Null,
                12 => self.string()?.into(),
                13 | 14 => self.scalar(t)?,
                _ => {
                    let size = fixed_size(t);
                    if size == 0 {
                        self.scalar(t)?
                    } else {
                        let p = self.pos;
                        if !self.fits(p, size) {
                            return Err(truncated(size, p, self.left(p)));
                        }
                        self.pos = p + size;
                        fixed_value(self.buf, t, p)
                    }
                }
            };
            self.depth -= 1;
            return Ok(value);
        }
        let size = fixed_size(t);
        let fixed = size != 0;
        let n = self.array_length_with(if fixed { size } else { min_size(t) }, !fixed)?;
        if t == 0 && n != 0 {
            let detail = format!("array of {n} Null values at offset {}", self.pos - 4);
            return Err(ParseError::new("bad_encoding", detail));
        }
        let values = if fixed {
            self.fixed_array(t, size, n)?
        } else {
            let mut values = Vec::with_capacity(n.min(MAX_ITEMS));
            for i in 0..n {
                let v = self.scalar(t)?;
                if i < MAX_ITEMS {
                    values.push(v);
                }
            }
            values
        };
        let result = if mask & 0x40 != 0 {
            let dims = self.u32_array()?;
            Value::Map(icssa_core::map! {"dimensions" => dims, "values" => values})
        } else {
            Value::List(values)
        };
        self.depth -= 1;
        Ok(result)
    }

    /// `n` values of fixed-width type `t` (`size` bytes each): the first `MAX_ITEMS` decoded.
    fn fixed_array(&mut self, t: u8, size: usize, n: usize) -> Decoded<Vec<Value>> {
        let p = self.take(n * size)?;
        let k = n.min(MAX_ITEMS);
        Ok((0..k)
            .map(|i| fixed_value(self.buf, t, p + i * size))
            .collect())
    }

    /// One element of a Variant of type `t` (1..=25).
    fn scalar(&mut self, t: u8) -> Decoded<Value> {
        let size = fixed_size(t);
        if size != 0 {
            let p = self.take(size)?;
            return Ok(fixed_value(self.buf, t, p));
        }
        Ok(match t {
            12 => self.string()?.into(),
            15 | 16 => self.bytestring_hex()?.into(),
            17 => self.node_id()?.into(),
            18 => self.expanded_node_id()?.into(),
            20 => self.qualified_name()?.into(),
            21 => self.localized_text()?.1.into(),
            22 => {
                let (_, type_text, start, end) = self.extension_object()?;
                Value::Map(icssa_core::map! {"type_id" => type_text, "length" => end - start})
            }
            23 => Value::Map(self.data_value()?),
            24 => self.variant()?,
            _ => Value::Map(self.diagnostic_info()?),
        })
    }

    /// A DataValue: `value`, `status_code`, `source_timestamp`, `server_timestamp` as present.
    pub fn data_value(&mut self) -> Decoded<Map> {
        let mask = self.enter()?;
        let mut out = Map::with_capacity(mask.count_ones() as usize);
        if mask & 0x01 != 0 {
            out.push("value", self.variant()?);
        }
        if mask & 0x02 != 0 {
            out.push("status_code", self.u32()?);
        }
        if mask & 0x04 != 0 {
            out.push("source_timestamp", self.date_time()?);
        }
        if mask & 0x10 != 0 {
            self.skip(2)?;
        }
        if mask & 0x08 != 0 {
            out.push("server_timestamp", self.date_time()?);
        }
        if mask & 0x20 != 0 {
            self.skip(2)?;
        }
        self.depth -= 1;
        Ok(out)
    }

    /// A DataValue's value (None if absent) and StatusCode (0, Good, if absent); the timestamps
    /// are checked and skipped, as `data_value` would read them.
    pub fn value_and_status(&mut self) -> Decoded<(Value, u32)> {
        let mask = self.enter()?;
        let value = if mask & 0x01 != 0 {
            self.variant()?
        } else {
            Value::Null
        };
        let status = if mask & 0x02 != 0 { self.u32()? } else { 0 };
        if mask & 0x3C != 0 {
            if mask & 0x04 != 0 {
                self.skip(8)?;
            }
            if mask & 0x10 != 0 {
                self.skip(2)?;
            }
            if mask & 0x08 != 0 {
                self.skip(8)?;
            }
            if mask & 0x20 != 0 {
                self.skip(2)?;
            }
        }
        self.depth -= 1;
        Ok((value, status))
    }

    /// A DiagnosticInfo: its fields as present (an empty map for mask 0).
    pub fn diagnostic_info(&mut self) -> Decoded<Map> {
        let mask = self.enter()?;
        let mut out = Map::new();
        if mask == 0 {
            self.depth -= 1;
            return Ok(out);
        }
        if mask & 0x01 != 0 {
            out.push("symbolic_id", self.i32()?);
        }
        if mask & 0x02 != 0 {
            out.push("namespace_uri", self.i32()?);
        }
        if mask & 0x08 != 0 {
            out.push("locale", self.i32()?);
        }
        if mask & 0x04 != 0 {
            out.push("localized_text", self.i32()?);
        }
        if mask & 0x10 != 0 {
            out.push("additional_info", self.string()?);
        }
        if mask & 0x20 != 0 {
            out.push("inner_status_code", self.u32()?);
        }
        if mask & 0x40 != 0 {
            out.push("inner_diagnostic_info", self.diagnostic_info()?);
        }
        self.depth -= 1;
        Ok(out)
    }

    /// A DiagnosticInfo array: its first `MAX_ITEMS` elements (maps), all walked.
    pub fn diagnostic_infos(&mut self) -> Decoded<Vec<Value>> {
        let n = self.array_length(1)?;
        let mut out = Vec::with_capacity(n.min(MAX_ITEMS));
        for i in 0..n {
            let d = self.diagnostic_info()?;
            if i < MAX_ITEMS {
                out.push(Value::Map(d));
            }
        }
        Ok(out)
    }
}
