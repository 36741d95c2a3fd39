//! S7comm userdata (ROSCTR 7): parameter head and the per-group data, pure functions (port of
//! `parsers/s7_userdata.py`).
//!
//! Parameter part (Wireshark `s7comm_decode_ud`):
//!
//! | field | width | meaning |
//! |---|---|---|
//! | function | 1 | 0x00; 0x01 marks a mode-transition push |
//! | item count | 1 | 1 |
//! | variable specification | 1 | 0x12 |
//! | length | 1 | 4 (request) or 8 (response) bytes follow |
//! | syntax id / method | 1 | 0x11 request, 0x12 response |
//! | type, group | 1 | bits 6-7 type (0 push, 1 request, 2 response), bits 0-5 group |
//! | subfunction | 1 | per group (4/1 = read SZL, 3/1 = list blocks, 7/1 = read clock, ...) |
//! | sequence number | 1 | pairs fragments of one answer |
//! | data unit reference | 1 | only when method is 0x12 |
//! | last data unit | 1 | 0 = last, 1 = more follow |
//! | error code | 2 | see `names::error_code` |
//!
//! Data part: return code (1), transport size (1), length (2), then the group's payload, which a
//! PLC splits over several PDUs when it is longer than the negotiated PDU size.

use crate::job::{block_name, data_items, var_items};
use crate::names;
use crate::py::{at, latin1, slice, u16_at, Flags};
use crate::szl::{szl_request, szl_response};
use icssa_core::text::hex;
use icssa_core::{Map, Value};

/// Block numbers listed per event at most (a list-of-type answer can hold thousands).
pub const MAX_BLOCK_NUMBERS: usize = 1024;
/// Entries of a list-blocks answer read at most (a CPU knows about 8 block types).
pub const MAX_BLOCK_TYPES: usize = 32;

#[derive(Debug, Clone, Copy)]
pub struct UdHead {
    pub group: u8,
    pub subfunction: u8,
    pub utype: u8,
    pub data_unit_ref: u8,
    pub last_data_unit: u8,
    pub mode_transition: bool,
}

/// Decodes the userdata parameter head into `f["userdata"]`; None when too short.
pub fn userdata_param(
    buf: &[u8],
    p: usize,
    p_end: usize,
    f: &mut Map,
    flags: &mut Flags,
) -> Option<UdHead> {
    if p_end.saturating_sub(p) < 8 {
        flags.push("truncated_parameter");
        return None;
    }
    let [fnc, count, spec, _plen, method, tg, sub, seq] = std::array::from_fn(|i| at(buf, p + i));
    if count != 1 || spec != 0x12 {
        flags.push("bad_parameter_head");
    }
    let group = tg & 0x3F;
    if fnc == 0x01 || group == 0 {
        // mode transition
        let (word, full) = names::cpu_mode(sub).unwrap_or(("unknown", "Unknown"));
        f.push("mode", word);
        f.push("mode_name", full);
        f.push("mode_code", sub);
        let mut ud = Map::with_capacity(7);
        ud.push("method", method);
        ud.push("group", 0u8);
        ud.push("group_name", "Mode transition");
        ud.push("subfunction", sub);
        ud.push("type", "push");
        ud.push("type_code", 0u8);
        ud.push("sequence", seq);
        f.push("userdata", ud);
        let head = UdHead {
            group: 0,
            subfunction: sub,
            utype: 0,
            data_unit_ref: 0,
            last_data_unit: 0,
            mode_transition: true,
        };
        return Some(head);
    }
    let utype = tg >> 6;
    let mut ud = Map::with_capacity(10);
    ud.push("method", method);
    ud.push("type", names::userdata_type(utype).unwrap_or("unknown"));
    ud.push("type_code", utype);
    ud.push("group", group);
    ud.push(
        "group_name",
        names::userdata_group(group).unwrap_or("unknown"),
    );
    ud.push("subfunction", sub);
    ud.push("sequence", seq);
    let (mut dur, mut last) = (0, 0);
    if method == 0x12 {
        if p_end - p < 12 {
            flags.push("truncated_parameter");
        } else {
            dur = at(buf, p + 8);
            last = at(buf, p + 9);
            let err = u16_at(buf, p + 10);
            ud.push("data_unit_ref", dur);
            ud.push("last_data_unit", last == 0);
            ud.push("error_code", err);
            if err != 0 {
                f.push("error", names::error_code(err).unwrap_or("unknown"));
            }
        }
    }
    f.push("userdata", ud);
    let head = UdHead {
        group,
        subfunction: sub,
        utype,
        data_unit_ref: dur,
        last_data_unit: last,
        mode_transition: false,
    };
    Some(head)
}

/// S7 DATE_AND_TIME (BCD): reserved, century, year, month, day, hour, minute, second, ms.
fn clock(raw: &[u8]) -> Option<String> {
    if raw.len() < 10 {
        return None;
    }
    let d = hex(raw);
    let d = d.as_bytes();
    if !d[4..19].iter().all(u8::is_ascii_digit) {
        return None;
    }
    let s = |a: usize, b: usize| std::str::from_utf8(&d[a..b]).unwrap_or("");
    let mut year = u32::from(d[4] - b'0') * 10 + u32::from(d[5] - b'0');
    year += if year < 90 { 2000 } else { 1900 };
    let (mo, day, h, mi, sec, ms) = (
        s(6, 8),
        s(8, 10),
        s(10, 12),
        s(12, 14),
        s(14, 16),
        s(16, 19),
    );
    Some(format!("{year:04}-{mo}-{day}T{h}:{mi}:{sec}.{ms}"))
}

fn blocks(sub: u8, utype: u8, buf: &[u8], pos: usize, end: usize, f: &mut Map, flags: &mut Flags) {
    if sub == 1 && utype == 2 {
        let mut counts = Map::new();
        let stop = end.saturating_sub(3).min(pos + 4 * MAX_BLOCK_TYPES);
        let mut off = pos;
        while off < stop {
            let raw = slice(buf, off, off + 2);
            let code = std::str::from_utf8(raw).ok().and_then(names::block_type);
            let key = match code {
                Some(name) => name.into(),
                None => latin1(raw),
            };
            counts.set(key, u16_at(buf, off + 2));
            off += 4;
        }
        f.push("block_counts", counts);
    } else if sub == 2 && utype == 1 && end.saturating_sub(pos) >= 2 {
        let code = latin1(slice(buf, pos, pos + 2));
        let name = names::block_type(&code).unwrap_or("unknown");
        f.push("block_type_code", code);
        f.push("block_type", name);
    } else if sub == 2 && utype == 2 {
        let n = end.saturating_sub(pos) / 4;
        f.push("block_count", n);
        let numbers: Vec<Value> = (0..n.min(MAX_BLOCK_NUMBERS))
            .map(|i| u16_at(buf, pos + 4 * i).into())
            .collect();
        f.push("block_numbers", numbers);
    } else if sub == 3 && utype == 1 && end.saturating_sub(pos) >= 7 {
        block_name(slice(buf, pos, end.min(pos + 8)), f, flags);
    }
}

fn cyclic(sub: u8, utype: u8, buf: &[u8], pos: usize, end: usize, f: &mut Map, flags: &mut Flags) {
    let len = end.saturating_sub(pos);
    if matches!(sub, 1 | 5 | 7) && len >= 2 {
        let count = at(buf, pos + 1);
        if utype == 1 && len >= 4 {
            f.push("cycle_timebase", at(buf, pos + 2));
            f.push("cycle_time", at(buf, pos + 3));
            let (items, _) = var_items(buf, pos + 4, end, count, flags);
            f.push("items", items);
        } else if utype == 0 || utype == 2 {
            let (items, values, _) = data_items(buf, pos + 2, end, count, flags);
            f.push("items", items);
            f.push("values", values);
        }
    } else if sub == 4 && utype == 1 && len >= 2 {
        f.push("cyclic_job_id", at(buf, pos + 1));
    }
}

/// Decodes one complete (reassembled) userdata payload `buf[pos..end]` for its group.
pub fn userdata_data(
    head: &UdHead,
    ret: u8,
    buf: &[u8],
    pos: usize,
    end: usize,
    f: &mut Map,
    flags: &mut Flags,
) {
    let (group, sub, utype) = (head.group, head.subfunction, head.utype);
    let ok = ret == 0xFF;
    if group == 4 && sub == 1 {
        if utype == 1 {
            szl_request(buf, pos, end, f, flags);
        } else if ok {
            szl_response(buf, pos, end, f, flags);
        }
    } else if group == 3 {
        if utype == 1 || ok {
            blocks(sub, utype, buf, pos, end, f, flags);
        }
    } else if group == 7 {
        if (matches!(sub, 1 | 3) && utype == 2 && ok) || (matches!(sub, 2 | 4) && utype == 1) {
            match clock(slice(buf, pos, pos + 10)) {
                Some(c) => f.push("clock", c),
                None => flags.push("bad_clock"),
            }
        }
    } else if group == 2 {
        cyclic(sub, utype, buf, pos, end, f, flags);
    } else if group == 5 && utype == 1 {
        // the (weakly encoded) password itself is never logged
        f.push("password_length", end.saturating_sub(pos));
    }
}
