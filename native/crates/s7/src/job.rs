//! S7comm job / ack_data parameter and data parts: pure functions, bytes -> fields (port of
//! `parsers/s7_job.py`).
//!
//! Every decoder takes the whole buffer `buf` with the parameter part at `buf[p..p_end]` and the
//! data part at `buf[d..d_end]` and fills `f` (the `s7comm` fields) and `flags`. Counted strings
//! may run past their part: they are read from the buffer as the Python slices read them.
//! Layouts (Wireshark `packet-s7comm.c`):
//!
//! Setup communication (0xF0): function (1), reserved (1), max AmQ calling (2), max AmQ called
//! (2), PDU size (2).
//!
//! Read / write var item (variable specification, syntax id 0x10 "S7ANY", 12 bytes): spec type
//! 0x12 (1), spec length 10 (1), syntax id (1), transport size (1), length (2), DB number (2),
//! area (1), address (3: byte address << 3 | bit). Data items: return code (1), transport size
//! (1), length (2, in bits for sizes 3/4/5), data, a fill byte after odd-length items except the
//! last.
//!
//! Block control (0x1A..0x1F): function status (1), 2 unknown bytes, upload id or error code,
//! then a counted file name such as `_0A00001P` ('_' + block type '0A' + number '00001' +
//! filesystem 'P'). PI service (0x28): 7 unknown bytes, parameter block length (2), parameter
//! block, counted service name (`_INSE`, `_DELE`, `P_PROGRAM`, `_MODU`, `_GARB`, ...). PLC stop
//! (0x29): 5 unknown bytes, counted service name.

use crate::names;
use crate::py::{at, int_of_digits, latin1, latin1_rstrip_nul_space, slice, u16_at, u32_at, Flags};
use icssa_core::text::hex;
use icssa_core::{Map, Value};

/// Bytes of one value rendered as hex at most (a PDU is rarely larger than 960 bytes).
pub const MAX_VALUE_BYTES: usize = 512;

pub fn setup_communication(buf: &[u8], p: usize, p_end: usize, f: &mut Map, flags: &mut Flags) {
    if p_end.saturating_sub(p) < 8 {
        flags.push("truncated_parameter");
        return;
    }
    f.push("max_amq_calling", u16_at(buf, p + 2));
    f.push("max_amq_called", u16_at(buf, p + 4));
    f.push("pdu_size", u16_at(buf, p + 6));
}

/// `count` variable specifications from `pos`; returns the items and the end offset.
pub fn var_items(
    buf: &[u8],
    mut pos: usize,
    end: usize,
    count: u8,
    flags: &mut Flags,
) -> (Vec<Value>, usize) {
    let mut items = Vec::with_capacity(count as usize);
    for i in 0..count {
        if end.saturating_sub(pos) < 3 {
            flags.push("truncated_item");
            break;
        }
        let spec_len = at(buf, pos + 1) as usize;
        let syntax = at(buf, pos + 2);
        let nxt = pos + 2 + spec_len;
        if nxt > end || spec_len < 1 {
            flags.push("truncated_item");
            break;
        }
        let mut item = Map::with_capacity(10);
        item.push("syntax_id", syntax);
        item.push("syntax", names::syntax_id(syntax).unwrap_or("unknown"));
        if at(buf, pos) != 0x12 {
            flags.push("bad_variable_specification");
        }
        if syntax == 0x10 && spec_len == 10 {
            let ts = at(buf, pos + 3);
            let area = at(buf, pos + 8);
            let address = (u32::from(at(buf, pos + 9)) << 16) | u32::from(u16_at(buf, pos + 10));
            item.push("transport_size", ts);
            item.push(
                "transport_size_name",
                names::item_transport_size(ts).unwrap_or("unknown"),
            );
            item.push("length", u16_at(buf, pos + 4));
            item.push("db", u16_at(buf, pos + 6));
            item.push(
                "area",
                names::area(area).unwrap_or_else(|| names::unknown_hex(area)),
            );
            item.push("area_code", area);
            if names::number_area(area) {
                item.push("address", address & 0xFFFF);
                item.push("bit", 0u8);
            } else {
                item.push("address", (address >> 3) & 0xFFFF);
                item.push("bit", address & 0x07);
            }
        } else {
            item.push("specification", hex(slice(buf, pos + 3, nxt)));
        }
        items.push(Value::Map(item));
        pos = nxt;
        if (2 + spec_len) & 1 == 1 && i < count - 1 {
            pos += 1; // fill byte after an odd-length item
        }
    }
    (items, pos)
}

fn value(ts: u8, data: &[u8]) -> Value {
    let n = data.len();
    if ts == 3 && n == 1 {
        return data[0].into();
    }
    if matches!(ts, 4..=6) && matches!(n, 1 | 2 | 4) {
        let raw = data.iter().fold(0u32, |acc, &b| (acc << 8) | u32::from(b));
        if ts == 4 {
            return raw.into();
        }
        let shift = 32 - 8 * n as u32;
        return ((raw << shift) as i32 >> shift).into();
    }
    hex(&data[..n.min(MAX_VALUE_BYTES)]).into()
}

/// Data items (read response, write request, cyclic data): items, values, end offset.
pub fn data_items(
    buf: &[u8],
    mut pos: usize,
    end: usize,
    count: u8,
    flags: &mut Flags,
) -> (Vec<Value>, Vec<Value>, usize) {
    let mut items = Vec::with_capacity(count as usize);
    let mut values = Vec::with_capacity(count as usize);
    for i in 0..count {
        if end.saturating_sub(pos) < 4 {
            flags.push("truncated_data_item");
            break;
        }
        let ret = at(buf, pos);
        let ts = at(buf, pos + 1);
        let length = u16_at(buf, pos + 2) as usize;
        pos += 4;
        let mut nbytes = if names::data_ts_bits(ts) {
            (length + 7) >> 3
        } else {
            length
        };
        let mut item = Map::with_capacity(6);
        item.push("return_code", ret);
        item.push("return_name", names::return_code(ret).unwrap_or("unknown"));
        item.push("data_transport_size", ts);
        item.push(
            "data_transport_size_name",
            names::data_transport_size(ts).unwrap_or("unknown"),
        );
        item.push("length", nbytes);
        let mut v = Value::Null;
        if (ret == 0xFF || ret == 0x00) && nbytes != 0 {
            if pos + nbytes > end {
                flags.push("truncated_data_item");
                nbytes = end.saturating_sub(pos);
            }
            v = value(ts, slice(buf, pos, pos + nbytes));
            if nbytes > MAX_VALUE_BYTES {
                flags.push("value_truncated");
            }
            pos += nbytes;
            if nbytes & 1 == 1 && i < count - 1 {
                pos += 1;
            }
        }
        items.push(Value::Map(item));
        values.push(v);
    }
    (items, values, pos.min(end))
}

/// Write var response: one return code per item.
pub fn return_codes(
    buf: &[u8],
    pos: usize,
    end: usize,
    count: u8,
    flags: &mut Flags,
) -> Vec<Value> {
    let n = (count as usize).min(end.saturating_sub(pos));
    if n < count as usize {
        flags.push("truncated_data_item");
    }
    slice(buf, pos, pos + n)
        .iter()
        .map(|&c| {
            let mut m = Map::with_capacity(2);
            m.push("return_code", c);
            m.push("return_name", names::return_code(c).unwrap_or("unknown"));
            Value::Map(m)
        })
        .collect()
}

/// Block type code ('0A'), number ('00001') and filesystem ('P') -> fields.
pub fn block_name(raw: &[u8], f: &mut Map, flags: &mut Flags) {
    let code = latin1(slice(raw, 0, 2));
    let block_type = names::block_type(&code).unwrap_or("unknown");
    f.push("block_type_code", code);
    f.push("block_type", block_type);
    let num = slice(raw, 2, 7);
    match int_of_digits(num) {
        Some(n) => f.push("block_number", n),
        None => {
            f.push("block_number_raw", latin1(num));
            flags.push("bad_block_number");
        }
    }
    if raw.len() > 7 {
        let fs = latin1(&raw[7..8]);
        let name = names::filesystem(&fs).unwrap_or("unknown");
        f.push("filesystem", fs);
        f.push("filesystem_name", name);
    }
}

fn filename(buf: &[u8], pos: usize, end: usize, f: &mut Map, flags: &mut Flags) -> usize {
    if pos >= end {
        flags.push("truncated_parameter");
        return end;
    }
    let n = at(buf, pos) as usize;
    let raw = slice(buf, pos + 1, pos + 1 + n);
    if raw.len() < n {
        flags.push("truncated_parameter");
    }
    f.push("filename", latin1(raw));
    if raw.len() == 9 && (raw[0] == b'_' || raw[0] == b'$') && is_block_code(&raw[1..3]) {
        block_name(&raw[1..], f, flags);
    }
    pos + 1 + n
}

fn is_block_code(code: &[u8]) -> bool {
    std::str::from_utf8(code).is_ok_and(|s| names::block_type(s).is_some())
}

/// Request download / download block / download ended / start upload / upload / end upload.
#[allow(clippy::too_many_arguments)] // the Python signature: one PDU's parts and outputs
pub fn block_control(
    fnc: u8,
    job: bool,
    buf: &[u8],
    p: usize,
    p_end: usize,
    d: usize,
    d_end: usize,
    f: &mut Map,
    flags: &mut Flags,
) {
    let plen = p_end.saturating_sub(p);
    if plen >= 2 {
        let status = at(buf, p + 1);
        f.push("function_status", status);
        f.push("more_data", status & 0x01 != 0);
        if status & 0x02 != 0 {
            flags.push("function_status_error");
        }
    }
    if job {
        if plen < 8 {
            flags.push("truncated_parameter");
            return;
        }
        if matches!(fnc, 0x1C | 0x1F) {
            f.push("block_error_code", u16_at(buf, p + 2));
        }
        if matches!(fnc, 0x1D..=0x1F) {
            f.push("upload_id", u32_at(buf, p + 4));
        }
        if matches!(fnc, 0x1A..=0x1D) {
            let pos = filename(buf, p + 8, p_end, f, flags);
            if fnc == 0x1A && p_end >= pos + 14 {
                // part 2: length, unknown char, load memory and MC7 length as 6 digits each
                let (load, mc7) = (slice(buf, pos + 2, pos + 8), slice(buf, pos + 8, pos + 14));
                if let Some(n) = int_of_digits(load) {
                    f.push("load_memory_length", n);
                }
                if let Some(n) = int_of_digits(mc7) {
                    f.push("mc7_length", n);
                }
            }
        }
        return;
    }
    if fnc == 0x1D && plen >= 8 {
        f.push("upload_id", u32_at(buf, p + 4));
        if plen > 8 {
            let n = at(buf, p + 8) as usize;
            let text = slice(buf, p + 9, p + 9 + n);
            if let Some(v) = int_of_digits(text) {
                f.push("block_length", v);
            }
        }
    }
    if matches!(fnc, 0x1B | 0x1E) && d_end.saturating_sub(d) >= 4 {
        f.push("block_data_length", u16_at(buf, d));
    }
}

/// PI service job: the service name and its parameters (blocks, argument, NC strings).
pub fn pi_service(buf: &[u8], p: usize, p_end: usize, f: &mut Map, flags: &mut Flags) {
    if p_end.saturating_sub(p) < 11 {
        flags.push("truncated_parameter");
        return;
    }
    let blen = u16_at(buf, p + 8) as usize;
    let b0 = p + 10;
    let b_end = b0 + blen;
    if b_end >= p_end {
        flags.push("truncated_parameter");
        return;
    }
    let n = at(buf, b_end) as usize;
    let service = latin1_rstrip_nul_space(slice(buf, b_end + 1, b_end + 1 + n));
    if b_end + 1 + n > p_end {
        flags.push("truncated_parameter");
    }
    let description = names::pi_service(&service).unwrap_or("unknown");
    let nc = service.starts_with("_N_");
    let blocks = matches!(&*service, "_INSE" | "_INS2" | "_DELE");
    let program = service == "P_PROGRAM";
    f.push("pi_service", service);
    f.push("pi_service_description", description);
    let mut argument = None;
    if blocks && blen >= 2 {
        let count = at(buf, b0);
        let mut list = Vec::new();
        let mut pos = b0 + 2;
        for _ in 0..count {
            if pos + 8 > b_end {
                flags.push("truncated_parameter");
                break;
            }
            let mut blk = Map::with_capacity(7);
            block_name(slice(buf, pos, pos + 8), &mut blk, flags);
            list.push(Value::Map(blk));
            pos += 8;
        }
        f.push("blocks", list);
    } else if nc {
        let mut args = Vec::new();
        let mut pos = b0;
        while pos < b_end && args.len() < 16 {
            let sl = at(buf, pos) as usize;
            args.push(Value::Str(latin1_rstrip_nul_space(slice(
                buf,
                pos + 1,
                pos + 1 + sl,
            ))));
            pos += 1 + sl + usize::from(sl.is_multiple_of(2)); // strings of even length carry a fill byte
        }
        f.push("pi_arguments", args);
    } else if blen != 0 {
        let arg = latin1_rstrip_nul_space(slice(buf, b0, b_end));
        argument = Some(arg.clone());
        f.push("pi_argument", arg);
    }
    if program {
        let start_type: Value = match argument.as_deref() {
            None | Some("") => "hot".into(),
            Some("C") => "cold".into(),
            Some(_) => argument.unwrap_or_default().into(),
        };
        f.push("start_type", start_type);
    }
}

pub fn plc_stop(buf: &[u8], p: usize, p_end: usize, f: &mut Map, flags: &mut Flags) {
    if p_end.saturating_sub(p) < 7 {
        flags.push("truncated_parameter");
        return;
    }
    let n = at(buf, p + 6) as usize;
    f.push(
        "pi_service",
        latin1_rstrip_nul_space(slice(buf, p + 7, p + 7 + n)),
    );
    if p + 7 + n > p_end {
        flags.push("truncated_parameter");
    }
}
