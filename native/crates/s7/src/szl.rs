//! SZL (System Status List, "Systemzustandsliste") answers -> device identity (port of
//! `parsers/s7_szl.py`).
//!
//! A read-SZL response's data (after the 4-byte userdata data header): SZL id (2: bits 8-11
//! partial list extract, bits 0-7 partial list number), SZL index (2, record selector), record
//! length (2, LENTHDR), record count (2, N_DR), then the records.
//!
//! Records used for identity (Siemens, "System Software for S7-300/400", SZL chapter):
//!
//! - 0x0011 / 0x0111 module identification, 28 bytes: index (2; 1 module, 6 basic hardware,
//!   7 basic firmware), order number MlfB (20 ASCII), module type BGTyp (2), Ausbg (2), Ausbe
//!   (2): the release number in Ausbg, or 'V' + three numbers on firmware records.
//! - 0x001C / 0x011C component identification, 34 bytes: index (2), 32 bytes text (1 system
//!   name, 2 module name, 3 plant designation, 4 copyright, 5 serial number, 7 module type name,
//!   8 memory card serial number, 9 manufacturer id / profile, 10 OEM id, 11 location).
//! - 0x0131 index 1 communication capabilities: index, max PDU size (2), max connections (2),
//!   MPI rate (4), communication bus rate (4).
//! - 0x0232 index 4 protection: index, protection level set by the key switch (2),
//!   parameterised level (2), valid level (2), mode selector position (2), startup switch (2).
//! - 0x0424 current mode, 20 bytes: event id (2), 0xFF (1), mode ids (1: low nibble requested /
//!   current mode, high nibble previous mode), reserved, startup info, timestamp.
//!
//! Some servers (the pure-Python snap7 server among them) send 0x001C with a zero header and
//! zero record indexes; the records then are read in the standard order and the answer is
//! flagged.

use crate::names;
use crate::py::{latin1_rstrip, u16_at, u32_at, Flags};
use icssa_core::{Map, Value};

/// Records decoded at most per answer; a list is bounded by the PDU size anyway.
pub const MAX_RECORDS: usize = 256;

/// NUL-terminated text, trailing whitespace removed.
fn text(raw: &[u8]) -> Value {
    let cut = raw.iter().position(|&c| c == 0).unwrap_or(raw.len());
    Value::Str(latin1_rstrip(&raw[..cut]))
}

/// Ausbg/Ausbe of a 0x0011 record as text.
///
/// Firmware records carry 'V' and the major number in Ausbg and minor/patch in Ausbe ("V3.2.6");
/// module and hardware records carry the release number in Ausbg ("4"). Short 26-byte records
/// (python-snap7's own server) end in three version bytes, read as snap7's client does ("3.3.0").
fn version(rec: &[u8]) -> String {
    let n = rec.len();
    if n < 28 {
        return format!("{}.{}.{}", rec[n - 3], rec[n - 2], rec[n - 1]);
    }
    let lead = rec[24];
    if (0x41..=0x5A).contains(&lead) {
        return format!("{}{}.{}.{}", lead as char, rec[25], rec[26], rec[27]);
    }
    u16_at(rec, 24).to_string()
}

fn module_ident<'a>(records: impl Iterator<Item = &'a [u8]>, ident: &mut Map, flags: &mut Flags) {
    for rec in records {
        if rec.len() < 26 {
            continue;
        }
        if rec.len() < 28 {
            flags.push("szl_record_short");
        }
        let index = u16_at(rec, 0);
        let order = text(&rec[2..22]);
        match index {
            1 => {
                if order.truthy() {
                    ident.set("order_number", order);
                }
                ident.set("module_version", version(rec));
            }
            6 => {
                if order.truthy() && !ident.contains_key("order_number") {
                    ident.push("order_number", order);
                }
                ident.set("hardware_version", version(rec));
            }
            7 => ident.set("firmware_version", version(rec)),
            0x81 => ident.set("firmware_extension_version", version(rec)),
            _ => {}
        }
    }
}

fn component_ident<'a>(
    records: impl Iterator<Item = &'a [u8]>,
    ident: &mut Map,
    flags: &mut Flags,
) {
    let mut missing = false;
    for (pos, rec) in records.enumerate() {
        if rec.len() < 4 {
            continue;
        }
        let mut index = u16_at(rec, 0);
        if index == 0 && pos < names::COMPONENT_ORDER.len() {
            index = names::COMPONENT_ORDER[pos];
            missing = true;
        }
        if index == 9 && rec.len() >= 8 {
            ident.set("manufacturer_id", u16_at(rec, 2));
            ident.set("profile_id", u16_at(rec, 4));
            continue;
        }
        if let Some(key) = names::component_key(index) {
            let value = text(&rec[2..]);
            if value.truthy() {
                ident.set(key, value);
            }
        }
    }
    if missing {
        flags.push("szl_record_index_missing");
    }
}

fn mode(first: Option<&[u8]>, ident: &mut Map, f: &mut Map) {
    let Some(rec) = first.filter(|r| r.len() >= 4) else {
        return;
    };
    let ids = rec[3];
    let current = ids & 0x0F;
    let (word, full) = names::cpu_mode(current).unwrap_or(("unknown", "Unknown"));
    ident.set("mode", word);
    ident.set("mode_name", full);
    ident.set("mode_code", current);
    f.push(
        "previous_mode",
        names::cpu_mode(ids >> 4).map_or("Unknown", |m| m.1),
    );
    f.push("mode_event_id", u16_at(rec, 0));
}

/// Decodes one complete SZL answer at `buf[pos..end]` into `f` (szl_* and identity).
pub fn szl_response(buf: &[u8], pos: usize, end: usize, f: &mut Map, flags: &mut Flags) {
    let end = end.min(buf.len());
    if end.saturating_sub(pos) < 4 {
        flags.push("truncated_szl");
        return;
    }
    let szl_id = u16_at(buf, pos);
    let index = u16_at(buf, pos + 2);
    f.push("szl_id", szl_id);
    f.push("szl_index", index);
    if end - pos < 8 {
        flags.push("truncated_szl");
        return;
    }
    let mut rec_len = u16_at(buf, pos + 4) as usize;
    let mut count = u16_at(buf, pos + 6) as usize;
    f.push("szl_record_length", rec_len);
    f.push("szl_record_count", count);
    let body = pos + 8;
    let avail = end - body;
    let list_no = szl_id & 0xFF;
    if rec_len == 0 && count == 0 && avail >= 34 && list_no == 0x1C {
        flags.push("szl_header_zero");
        rec_len = 34;
        count = avail / 34;
    }
    if rec_len == 0 {
        if avail != 0 {
            flags.push("szl_trailing_bytes");
        }
        return;
    }
    let fit = avail / rec_len;
    if count > fit {
        flags.push("szl_records_truncated");
        count = fit;
    } else if count * rec_len < avail && list_no != 0x1C {
        flags.push("szl_trailing_bytes");
    }
    let count = count.min(MAX_RECORDS);
    let records = (0..count).map(|i| &buf[body + i * rec_len..body + (i + 1) * rec_len]);
    let mut ident = Map::new();
    let extract = szl_id >> 8;
    if list_no == 0x11 && extract <= 0x01 {
        module_ident(records, &mut ident, flags);
    } else if list_no == 0x1C && extract <= 0x01 {
        component_ident(records, &mut ident, flags);
    } else if szl_id == 0x0131 && index == 1 {
        for rec in records.filter(|r| r.len() >= 14 && u16_at(r, 0) == 1) {
            ident.set("max_pdu_size", u16_at(rec, 2));
            ident.set("max_connections", u16_at(rec, 4));
            ident.set("mpi_rate", u32_at(rec, 6));
            ident.set("bus_rate", u32_at(rec, 10));
        }
    } else if szl_id == 0x0232 && index == 4 {
        for rec in records.filter(|r| r.len() >= 12 && u16_at(r, 0) == 4) {
            ident.set("protection_level", u16_at(rec, 6));
            ident.set("protection_level_switch", u16_at(rec, 2));
            ident.set("protection_level_parameter", u16_at(rec, 4));
            ident.set(
                "mode_selector",
                names::mode_selector(u16_at(rec, 8)).unwrap_or("unknown"),
            );
            ident.set("startup_switch", u16_at(rec, 10));
        }
    } else if szl_id == 0x0424 {
        mode(records.into_iter().next(), &mut ident, f);
    } else if szl_id == 0x0000 {
        let ids: Vec<Value> = records
            .filter(|r| r.len() >= 2)
            .map(|r| u16_at(r, 0).into())
            .collect();
        f.push("szl_ids", ids);
    }
    if !ident.is_empty() {
        f.push("identity", ident);
    }
}

pub fn szl_request(buf: &[u8], pos: usize, end: usize, f: &mut Map, flags: &mut Flags) {
    if end.saturating_sub(pos) < 4 {
        if end > pos {
            flags.push("truncated_szl");
        }
        return;
    }
    f.push("szl_id", u16_at(buf, pos));
    f.push("szl_index", u16_at(buf, pos + 2));
}
