//! Modbus PDU bodies per function code (Application Protocol Specification V1.1b3, section 6):
//! a port of `parsers/modbus_pdu.py`.
//!
//! Each decoder fills the event fields in place and appends spec violations to `flags`; a PDU
//! too short for its function is flagged `bad_length` and decoded as far as it goes.
//!
//! | fc | request | response |
//! |---|---|---|
//! | 1, 2 | address(2) quantity(2) 1..2000 | byte count(1) bits |
//! | 3, 4 | address(2) quantity(2) 1..125 | byte count(1) registers |
//! | 5 | address(2) value(2) 0xFF00/0x0000 | echo |
//! | 6 | address(2) value(2) | echo |
//! | 7, 11, 12, 17 | (empty) | status / counters / log / server id |
//! | 8 | subfunction(2) data | echo |
//! | 15 | address(2) quantity(2) 1..1968 byte count(1) bits | address(2) quantity(2) |
//! | 16 | address(2) quantity(2) 1..123 byte count(1) registers | address(2) quantity(2) |
//! | 20 | byte count(1) {ref type 6, file(2), record(2), length(2)}* | byte count(1) {len(1) ref(1) data}* |
//! | 21 | byte count(1) {ref type 6, file(2), record(2), length(2), data}* | echo |
//! | 22 | address(2) and mask(2) or mask(2) | echo |
//! | 23 | read addr(2) read qty(2) 1..125 write addr(2) write qty(2) 1..121 byte count(1) registers | byte count(1) registers |
//! | 24 | FIFO pointer address(2) | byte count(2) FIFO count(2) registers |
//! | 43 | MEI type(1): 13 CANopen, 14 device id: code(1) object id(1) | MEI type, code, conformity, more, next id, count, objects |

use icssa_core::json::{Map, Value};
use icssa_core::text::{hex, utf8_replace};

use crate::names::{device_id_object, diagnostic_subfunction, mei_name};

/// The objects of a device identification response kept at most (Python: `MAX_DEVICE_ID_OBJECTS`).
pub const MAX_DEVICE_ID_OBJECTS: usize = 256;
/// File record (sub-)requests kept at most per PDU.
const MAX_FILE_RECORDS: usize = 64;

/// `_READ_LIMITS`: the largest quantity a read of coils, inputs or registers may ask for.
fn read_limit(fc: u8) -> Option<u16> {
    match fc {
        1 | 2 => Some(2000),
        3 | 4 => Some(125),
        _ => None,
    }
}

/// What a response needs of its request (the keys Python's response decoders read or copy).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Request {
    pub function_code: u8,
    pub address: Option<u16>,
    pub quantity: Option<u16>,
    pub subfunction: Option<u16>,
    pub read_address: Option<u16>,
    pub read_quantity: Option<u16>,
    pub write_address: Option<u16>,
    pub mei_type: Option<u8>,
}

/// Spec violations of one message, in the order found.
pub type Flags = Vec<Value>;

fn flag(flags: &mut Flags, name: &'static str) {
    flags.push(Value::from(name));
}

fn byte(b: &[u8], i: usize) -> u8 {
    b.get(i).copied().unwrap_or(0)
}

fn u16_at(b: &[u8], i: usize) -> u16 {
    (u16::from(byte(b, i)) << 8) | u16::from(byte(b, i + 1))
}

/// `b[start:end].hex()` with Python's slice clamping.
fn hex_slice(b: &[u8], start: usize, end: usize) -> Value {
    let end = end.min(b.len());
    Value::from(hex(b.get(start..end).unwrap_or_default()))
}

/// Big-endian registers from `start`, at most `count`, whole ones only.
fn regs(b: &[u8], start: usize, count: usize) -> Value {
    let end = b.len().min(start.saturating_add(count.saturating_mul(2)));
    let data = b.get(start..end).unwrap_or_default();
    Value::List(
        data.chunks_exact(2)
            .map(|r| Value::Int(i64::from(u16::from_be_bytes([r[0], r[1]]))))
            .collect(),
    )
}

/// Bits from `start`, least significant first in each byte, at most `count`.
fn bits(b: &[u8], start: usize, count: usize) -> Value {
    let stop = b.len().min(start.saturating_add(count.div_ceil(8)));
    let data = b.get(start..stop).unwrap_or_default();
    let n = count.min(8 * data.len());
    Value::List(
        data.iter()
            .flat_map(|&x| (0..8).map(move |i| Value::Int(i64::from((x >> i) & 1))))
            .take(n)
            .collect(),
    )
}

/// Decodes a request PDU (`p`: after the function code) into `f`; fills `req` for pairing.
pub fn decode_request(fc: u8, p: &[u8], f: &mut Map, flags: &mut Flags, req: &mut Request) {
    let n = p.len();
    let limit = read_limit(fc);
    if limit.is_some() || matches!(fc, 5 | 6 | 15 | 16 | 22) {
        if n < 4 {
            flag(flags, "bad_length");
            return;
        }
        let address = u16_at(p, 0);
        f.push("address", address);
        req.address = Some(address);
    }
    match fc {
        1..=4 => {
            let q = u16_at(p, 2);
            f.push("quantity", q);
            req.quantity = Some(q);
            if !(1..=limit.unwrap_or(0)).contains(&q) {
                flag(flags, "bad_quantity");
            }
            if n != 4 {
                flag(flags, "bad_length");
            }
        }
        5 => {
            let v = u16_at(p, 2);
            f.push("quantity", 1u8);
            req.quantity = Some(1);
            f.push(
                "values",
                Value::List(vec![Value::Int(i64::from(v == 0xFF00))]),
            );
            if v != 0xFF00 && v != 0 {
                flag(flags, "bad_coil_value");
            }
            if n != 4 {
                flag(flags, "bad_length");
            }
        }
        6 => {
            f.push("quantity", 1u8);
            req.quantity = Some(1);
            f.push("values", Value::List(vec![Value::from(u16_at(p, 2))]));
            if n != 4 {
                flag(flags, "bad_length");
            }
        }
        15 | 16 => {
            let q = u16_at(p, 2);
            f.push("quantity", q);
            req.quantity = Some(q);
            let count = if n > 4 { usize::from(p[4]) } else { 0 };
            let q = usize::from(q);
            let ok = if fc == 15 {
                f.push("values", bits(p, 5, q));
                (1..=1968).contains(&q) && count == q.div_ceil(8)
            } else {
                f.push("values", regs(p, 5, q));
                (1..=123).contains(&q) && count == 2 * q
            };
            if !ok {
                flag(flags, "bad_quantity");
            }
            if n != 5 + count {
                flag(flags, "bad_length");
            }
        }
        8 => req.subfunction = diagnostics(p, f, flags),
        22 => {
            if n != 6 {
                flag(flags, "bad_length");
                return;
            }
            f.push("and_mask", u16_at(p, 2));
            f.push("or_mask", u16_at(p, 4));
        }
        23 => {
            if n < 9 {
                flag(flags, "bad_length");
                return;
            }
            let (ra, rq, wa, wq) = (u16_at(p, 0), u16_at(p, 2), u16_at(p, 4), u16_at(p, 6));
            f.push("read_address", ra);
            f.push("address", ra);
            f.push("read_quantity", rq);
            f.push("quantity", rq);
            f.push("write_address", wa);
            f.push("write_quantity", wq);
            f.push("values", regs(p, 9, usize::from(wq)));
            *req = Request {
                address: Some(ra),
                quantity: Some(rq),
                read_address: Some(ra),
                read_quantity: Some(rq),
                write_address: Some(wa),
                ..*req
            };
            let count = usize::from(p[8]);
            if !((1..=125).contains(&rq) && (1..=121).contains(&wq) && count == 2 * usize::from(wq))
            {
                flag(flags, "bad_quantity");
            }
            if n != 9 + count {
                flag(flags, "bad_length");
            }
        }
        24 => {
            if n != 2 {
                flag(flags, "bad_length");
                return;
            }
            let address = u16_at(p, 0);
            f.push("address", address);
            req.address = Some(address);
        }
        20 | 21 => req.quantity = file_records(p, f, flags, true, fc == 21),
        43 => req.mei_type = mei_request(p, f, flags),
        7 | 11 | 12 | 17 => {
            if n != 0 {
                flag(flags, "bad_length");
            }
        }
        _ => f.push("data", hex_slice(p, 0, 64)),
    }
}

/// Decodes a normal (not exception) response PDU into `f`, using its request when paired.
pub fn decode_response(fc: u8, p: &[u8], f: &mut Map, flags: &mut Flags, req: Option<&Request>) {
    let n = p.len();
    if let Some(r) = req {
        let copied = [
            ("address", r.address),
            ("quantity", r.quantity),
            ("subfunction", r.subfunction),
            ("read_address", r.read_address),
            ("read_quantity", r.read_quantity),
            ("write_address", r.write_address),
        ];
        for (key, value) in copied {
            if let Some(v) = value {
                f.push(key, v);
            }
        }
    }
    match fc {
        1..=4 | 12 | 17 | 23 => {
            let count = usize::from(p.first().copied().unwrap_or(0));
            if n != 1 + count {
                flag(flags, "bad_length");
            }
            match fc {
                1 | 2 => {
                    let q = req.and_then(|r| r.quantity).map_or(8 * count, usize::from);
                    f.push("values", bits(p, 1, q.min(8 * count)));
                    if req.is_some() && count != q.div_ceil(8) {
                        flag(flags, "bad_byte_count");
                    }
                }
                3 | 4 | 23 => {
                    f.push("values", regs(p, 1, count / 2));
                    let want = req.map(|r| r.quantity.map_or(count / 2, usize::from));
                    if count % 2 != 0 || want.is_some_and(|q| count != 2 * q) {
                        flag(flags, "bad_byte_count");
                    }
                }
                17 => f.push("data", hex_slice(p, 1, (1 + count).min(65))),
                _ => {
                    if n >= 7 {
                        f.push("status", u16_at(p, 1));
                        f.push("event_count", u16_at(p, 3));
                        f.push("message_count", u16_at(p, 5));
                    }
                }
            }
        }
        5 | 6 => {
            if n != 4 {
                flag(flags, "bad_length");
                return;
            }
            f.set("address", u16_at(p, 0));
            let v = u16_at(p, 2);
            let value = if fc == 5 {
                Value::Int(i64::from(v == 0xFF00))
            } else {
                Value::from(v)
            };
            f.push("values", Value::List(vec![value]));
        }
        15 | 16 => {
            if n != 4 {
                flag(flags, "bad_length");
                return;
            }
            f.set("address", u16_at(p, 0));
            f.set("quantity", u16_at(p, 2));
        }
        22 => {
            if n != 6 {
                flag(flags, "bad_length");
                return;
            }
            f.set("address", u16_at(p, 0));
            f.push("and_mask", u16_at(p, 2));
            f.push("or_mask", u16_at(p, 4));
        }
        7 => {
            if n != 1 {
                flag(flags, "bad_length");
                return;
            }
            f.push("values", Value::List(vec![Value::from(p[0])]));
        }
        8 => {
            diagnostics(p, f, flags);
        }
        11 => {
            if n != 4 {
                flag(flags, "bad_length");
                return;
            }
            f.push("status", u16_at(p, 0));
            f.push("event_count", u16_at(p, 2));
        }
        24 => {
            if n < 4 {
                flag(flags, "bad_length");
                return;
            }
            let count = u16_at(p, 2);
            f.push("values", regs(p, 4, usize::from(count.min(31))));
            if count > 31 || u32::from(u16_at(p, 0)) != 2 + 2 * u32::from(count) {
                flag(flags, "bad_byte_count");
            }
        }
        20 | 21 => {
            file_records(p, f, flags, false, fc == 21);
        }
        43 => mei_response(p, f, flags),
        _ => f.push("data", hex_slice(p, 0, 64)),
    }
}

/// Function 8: subfunction(2) then data; returns the subfunction when there is one.
fn diagnostics(p: &[u8], f: &mut Map, flags: &mut Flags) -> Option<u16> {
    if p.len() < 2 {
        flag(flags, "bad_length");
        return None;
    }
    let sub = u16_at(p, 0);
    f.set("subfunction", sub);
    f.push("subfunction_name", diagnostic_subfunction(sub));
    f.push("data", hex_slice(p, 2, 66));
    Some(sub)
}

/// Functions 20 and 21: byte count(1) then (sub-)requests; returns the records kept, if any
/// were looked for.
fn file_records(
    p: &[u8],
    f: &mut Map,
    flags: &mut Flags,
    request: bool,
    write: bool,
) -> Option<u16> {
    let Some(&count) = p.first() else {
        flag(flags, "bad_length");
        return None;
    };
    let count = usize::from(count);
    let end = p.len().min(1 + count);
    if p.len() != 1 + count {
        flag(flags, "bad_length");
    }
    let mut records = Vec::new();
    let mut pos = 1;
    while pos < end && records.len() < MAX_FILE_RECORDS {
        if request || write {
            if pos + 7 > end {
                flag(flags, "bad_length");
                break;
            }
            let length = u16_at(p, pos + 5);
            records.push(Value::Map(icssa_core::map! {
                "file" => u16_at(p, pos + 1),
                "record" => u16_at(p, pos + 3),
                "length" => length,
            }));
            if p[pos] != 6 {
                flag(flags, "bad_reference_type");
            }
            pos += 7 + if write { 2 * usize::from(length) } else { 0 };
        } else {
            let sub_len = usize::from(p[pos]);
            if sub_len < 1 || pos + 1 + sub_len > end {
                flag(flags, "bad_length");
                break;
            }
            records.push(Value::Map(icssa_core::map! {"length" => (sub_len - 1) / 2}));
            pos += 1 + sub_len;
        }
    }
    let kept = records.len() as u16;
    f.push("records", Value::List(records));
    f.set("quantity", kept);
    Some(kept)
}

/// Function 43 request: MEI type(1), then for 14 read device id code(1) object id(1).
fn mei_request(p: &[u8], f: &mut Map, flags: &mut Flags) -> Option<u8> {
    let Some(&mei) = p.first() else {
        flag(flags, "bad_length");
        return None;
    };
    f.push("mei_type", mei);
    f.push("mei", mei_name(mei));
    if mei == 14 {
        if p.len() != 3 {
            flag(flags, "bad_length");
        }
        if p.len() >= 3 {
            f.push("read_device_id_code", p[1]);
            f.push("object_id", p[2]);
        }
    } else {
        f.push("data", hex_slice(p, 1, 65));
    }
    Some(mei)
}

/// Function 43 response: for MEI 14 the device identification objects as `device_id`.
fn mei_response(p: &[u8], f: &mut Map, flags: &mut Flags) {
    let Some(&mei) = p.first() else {
        flag(flags, "bad_length");
        return;
    };
    f.push("mei_type", mei);
    f.push("mei", mei_name(mei));
    if mei != 14 {
        f.push("data", hex_slice(p, 1, 65));
        return;
    }
    if p.len() < 6 {
        flag(flags, "bad_length");
        return;
    }
    f.push("read_device_id_code", p[1]);
    f.push("conformity_level", p[2]);
    f.push("more_follows", p[3] == 0xFF);
    let mut objects = Map::new();
    let mut pos = 6;
    let mut complete = true;
    for _ in 0..usize::from(p[5]).min(MAX_DEVICE_ID_OBJECTS) {
        let (Some(&oid), Some(&olen)) = (p.get(pos), p.get(pos + 1)) else {
            complete = false;
            break;
        };
        let Some(value) = p.get(pos + 2..pos + 2 + usize::from(olen)) else {
            complete = false;
            break;
        };
        let value = Value::from(utf8_replace(value));
        match device_id_object(oid) {
            Some(name) => objects.set(name, value),
            None => objects.set(format!("object_{oid:#04x}"), value),
        }
        pos += 2 + usize::from(olen);
    }
    if !complete || pos != p.len() {
        flag(flags, "bad_length");
    }
    f.push("device_id", Value::Map(objects));
}
