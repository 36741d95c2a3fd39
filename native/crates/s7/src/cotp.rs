//! TPKT (RFC 1006) framing and ISO 8073 COTP (class 0) as used by Siemens S7 on TCP port 102
//! (port of `parsers/cotp.py`).
//!
//! TPKT header (RFC 1006 section 6): version (1, always 3), reserved (1, 0), length (2, the
//! whole packet including this header, 7..65535 here).
//!
//! COTP header (ISO 8073 section 13): `LI` (1, header length without itself), PDU code (1, high
//! nibble the type, low nibble the credit on CR/CC), then per type:
//!
//! | type | code | fixed part after the code | variable part |
//! |---|---|---|---|
//! | CR connection request | 0xE0 | dst-ref 2, src-ref 2, class/options 1 | parameters |
//! | CC connection confirm | 0xD0 | dst-ref 2, src-ref 2, class/options 1 | parameters |
//! | DR disconnect request | 0x80 | dst-ref 2, src-ref 2, reason 1 | parameters |
//! | DC disconnect confirm | 0xC0 | dst-ref 2, src-ref 2 | parameters |
//! | ER TPDU error | 0x70 | dst-ref 2, reject cause 1 | parameters (0xC1 invalid TPDU) |
//! | DT data (class 0) | 0xF0 | EOT bit 0x80 + TPDU number 1 | user data follows the header |
//!
//! Parameters are (code 1, length 1, value): 0xC0 TPDU size (2**value bytes), 0xC1 calling
//! (source) TSAP, 0xC2 called (destination) TSAP. For S7 the destination TSAP's first byte is
//! the connection type (1 PG, 2 OP, 3 S7 basic), its second byte packs rack (bits 5-7) and slot
//! (bits 0-4).

use crate::names;
use crate::py::{at, u16_at, Flags};
use icssa_core::text::hex;
use icssa_core::{map, Decoded, Map, ParseError, Value, NEED_MORE, NOT_PROTOCOL};

/// Shortest TPKT that can carry COTP: 4 (TPKT) + LI + DT code + EOT.
pub const MIN_TPKT: usize = 7;

pub const CR: u8 = 0xE;
pub const CC: u8 = 0xD;
pub const DR: u8 = 0x8;
pub const DC: u8 = 0xC;
pub const ER: u8 = 0x7;
pub const DT: u8 = 0xF;

/// NEED_MORE, NOT_PROTOCOL, or the TPKT packet length starting at `pos`.
pub fn tpkt_frame(buf: &[u8], pos: usize, end: usize) -> i64 {
    if end.saturating_sub(pos) < 4 {
        return NEED_MORE;
    }
    let length = u16_at(buf, pos + 2) as usize;
    if at(buf, pos) != 3 || at(buf, pos + 1) != 0 || length < MIN_TPKT {
        return NOT_PROTOCOL;
    }
    length as i64
}

/// Does the COTP header at `pos` (just after TPKT) fit in `length` and have a known type?
pub fn plausible_cotp(buf: &[u8], pos: usize, end: usize, length: usize) -> bool {
    if end.saturating_sub(pos) < 2 {
        return true; // not buffered yet: the TPKT header alone has to do
    }
    let li = at(buf, pos) as usize;
    let code = at(buf, pos + 1) >> 4;
    if code == DT {
        return li == 2;
    }
    names::cotp_pdu_type(code).is_some() && 2 <= li && li < length
}

/// COTP variable part: (code, length, value) triples; every step consumes 2+ bytes.
fn params(buf: &[u8], mut pos: usize, end: usize, f: &mut Map, flags: &mut Flags) {
    while pos < end {
        if end - pos < 2 {
            flags.push("truncated_parameter");
            return;
        }
        let code = at(buf, pos);
        let plen = at(buf, pos + 1) as usize;
        let start = pos + 2;
        pos = start + plen;
        if pos > end {
            flags.push("truncated_parameter");
            return;
        }
        let value = &buf[start..pos];
        if code == 0xC0 && plen == 1 {
            let v = value[0];
            f.set("tpdu_size", if v < 32 { 1i64 << v } else { -1 });
            f.set("tpdu_size_code", v);
        } else if code == 0xC1 {
            f.set("src_tsap", hex(value));
        } else if code == 0xC2 {
            f.set("dst_tsap", hex(value));
            if plen == 2 {
                f.set("connection_type", value[0]);
                f.set(
                    "connection_type_name",
                    names::s7_connection_type(value[0]).unwrap_or("other"),
                );
                f.set("rack", value[1] >> 5);
                f.set("slot", value[1] & 0x1F);
            }
        } else if code == 0xC6 {
            f.set("additional_options", hex(value));
        } else if code == 0xE0 {
            f.set("disconnect_info", hex(value));
        } else {
            let param = map! {"code" => code, "value" => hex(&value[..value.len().min(64)])};
            match f.get_mut("other_parameters") {
                Some(Value::List(list)) => {
                    if list.len() < 16 {
                        list.push(param.into());
                    }
                }
                _ => f.push("other_parameters", Value::List(vec![param.into()])),
            }
        }
    }
}

/// A decoded COTP header.
pub enum Cotp {
    /// DT: the offset of its user data (`is_eot` reads its last-data-unit flag).
    Data(usize),
    /// Any other type: the event action and the `cotp` dataset fields.
    Other(&'static str, Map),
}

/// Decodes the COTP header of one TPKT packet whose payload is `buf[pos..end]`.
pub fn decode_cotp(buf: &[u8], pos: usize, end: usize) -> Decoded<Cotp> {
    if end.saturating_sub(pos) < 2 {
        return Err(ParseError::new(
            "truncated_cotp",
            format!("{} bytes", end as i64 - pos as i64),
        ));
    }
    let li = at(buf, pos);
    let code = at(buf, pos + 1);
    let ptype = code >> 4;
    let hdr_end = pos + 1 + li as usize;
    if li < 1 || hdr_end > end {
        let detail = format!("LI {li} with {} bytes", end - pos - 1);
        return Err(ParseError::new("bad_cotp_length", detail));
    }
    if ptype == DT {
        if li != 2 {
            return Err(ParseError::new(
                "bad_cotp_length",
                format!("DT with LI {li}"),
            ));
        }
        return Ok(Cotp::Data(hdr_end));
    }
    let (action, pdu_name) =
        names::cotp_pdu_type(ptype).unwrap_or(("unknown_pdu", names::unknown_pdu(ptype)));
    let mut f = Map::with_capacity(20);
    f.push("pdu_type", ptype);
    f.push("pdu_code", code);
    f.push("pdu_name", pdu_name);
    let mut flags = Flags::default();
    let var_start;
    if matches!(ptype, CR | CC | DR) {
        if li < 6 {
            return Err(ParseError::new(
                "bad_cotp_length",
                format!("{pdu_name} with LI {li}"),
            ));
        }
        let opt = at(buf, pos + 6);
        f.push("dst_ref", u16_at(buf, pos + 2));
        f.push("src_ref", u16_at(buf, pos + 4));
        if ptype == DR {
            f.push("reason", opt);
            f.push(
                "reason_name",
                names::disconnect_reason(opt).unwrap_or("unknown"),
            );
        } else {
            f.push("credit", code & 0x0F);
            f.push("class", opt >> 4);
            f.push("extended_formats", opt & 0x02 != 0);
            f.push("no_explicit_flow_control", opt & 0x01 != 0);
            if opt >> 4 != 0 {
                flags.push("class_not_0");
            }
        }
        var_start = pos + 7;
    } else if ptype == DC {
        if li < 5 {
            return Err(ParseError::new(
                "bad_cotp_length",
                format!("DC with LI {li}"),
            ));
        }
        f.push("dst_ref", u16_at(buf, pos + 2));
        f.push("src_ref", u16_at(buf, pos + 4));
        var_start = pos + 6;
    } else if ptype == ER {
        // type, dst-ref (2), reject cause: the cause must lie inside the header
        if li < 4 {
            return Err(ParseError::new(
                "bad_cotp_length",
                format!("ER with LI {li}"),
            ));
        }
        let cause = at(buf, pos + 4);
        f.push("dst_ref", u16_at(buf, pos + 2));
        f.push("reject_cause", cause);
        f.push(
            "reject_cause_name",
            names::reject_cause(cause).unwrap_or("unknown"),
        );
        var_start = pos + 5;
    } else {
        var_start = hdr_end; // other classes' PDUs: keep only the type
    }
    if matches!(ptype, CR | CC | DR | DC | ER) {
        params(buf, var_start, hdr_end, &mut f, &mut flags);
    }
    if hdr_end < end && ptype != DR {
        f.push("user_data_length", end - hdr_end);
    }
    flags.store(&mut f);
    Ok(Cotp::Other(action, f))
}

/// For a DT header at `pos` (the LI byte): is this the last data unit?
pub fn is_eot(buf: &[u8], pos: usize) -> bool {
    at(buf, pos + 2) & 0x80 != 0
}

/// COTP DT segments of one direction until EOT; bounded, so a hostile stream cannot grow it.
///
/// A TSDU that outgrows the bound is dropped whole: its remaining segments, up to and including
/// the one with EOT, are discarded too.
#[derive(Debug)]
pub struct Reassembler {
    data: Vec<u8>,
    parts: usize,
    dropping: bool,
    limit: usize,
    /// segments are held (or being discarded) for an unfinished TSDU
    pub pending: bool,
}

impl Reassembler {
    pub fn new(limit: usize) -> Self {
        Reassembler {
            data: Vec::new(),
            parts: 0,
            dropping: false,
            limit,
            pending: false,
        }
    }

    /// Keeps a non-final segment; false when this segment makes the TSDU exceed the bound.
    pub fn add(&mut self, data: &[u8]) -> bool {
        if self.dropping {
            return true;
        }
        if self.data.len() + data.len() > self.limit {
            self.reset();
            self.dropping = true;
            self.pending = true;
            return false;
        }
        self.data.extend_from_slice(data);
        self.parts += 1;
        self.pending = true;
        true
    }

    /// The whole TSDU ending with `data` and its segment count (0: the TSDU was dropped).
    pub fn finish(&mut self, data: &[u8]) -> (Vec<u8>, usize) {
        if self.dropping {
            self.dropping = false;
            self.pending = false;
            return (Vec::new(), 0);
        }
        let mut whole = std::mem::take(&mut self.data);
        whole.extend_from_slice(data);
        let count = self.parts + 1;
        self.reset();
        (whole, count)
    }

    pub fn reset(&mut self) {
        self.data = Vec::new();
        self.parts = 0;
        self.dropping = false;
        self.pending = false;
    }
}
