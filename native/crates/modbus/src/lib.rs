//! Modbus/TCP (MODBUS Application Protocol Specification V1.1b3, Messaging on TCP/IP V1.0b):
//! a port of `parsers/modbus.py`, message for message.
//!
//! MBAP header (Messaging guide, section 3.1.3):
//!
//! | field | width | meaning |
//! |---|---|---|
//! | transaction id | 2 | pairs a response with its request |
//! | protocol id | 2 | 0 for Modbus |
//! | length | 2 | bytes that follow: unit id + PDU (2..254) |
//! | unit id | 1 | addressed server behind a gateway |
//! | function code | 1 | bit 7 set on exception responses |
//!
//! The PDU layouts per function code live in `pdu`; this module frames ADUs, pairs requests
//! with responses (bounded pending table, `pending`) and produces `Message` values.

pub mod names;
pub mod pdu;
pub mod pending;

use icssa_core::json::{Map, Value};
use icssa_core::parser::{Decoded, Errors, Message, Parser, Protocol, StreamParser};
use icssa_core::{NEED_MORE, NOT_PROTOCOL};
use names::{action, exception_name, function_name};
use pdu::{decode_request, decode_response, Flags, Request};
use pending::{Pending, MAX_PENDING};

/// `ProtocolSpec.name`.
pub const NAME: &str = "modbus";
/// `ProtocolSpec.ports`.
pub const PORTS: &[u16] = &[502];

/// `MEI_ACTIONS`: the action of function 43 by MEI type.
fn mei_action(mei: Option<&Value>) -> &'static str {
    match mei.and_then(Value::as_i64) {
        Some(13) => "can_open_general_reference",
        Some(14) => "read_device_identification",
        _ => "encapsulated_interface_transport",
    }
}

/// Modbus/TCP: one instance per flow.
#[derive(Debug, Default)]
pub struct Modbus {
    // (transaction id, unit id) -> request context for pairing
    pending: Pending,
    pending_hit: bool,
}

impl Modbus {
    pub fn new() -> Self {
        Self::default()
    }
}

impl Protocol for Modbus {
    fn dataset(&self) -> &'static str {
        "modbus"
    }

    fn max_message(&self) -> usize {
        260
    }

    fn frame(&self, buf: &[u8], pos: usize, end: usize) -> i64 {
        if end.saturating_sub(pos) < 7 {
            return NEED_MORE;
        }
        let Some(h) = buf.get(pos..pos + 7) else {
            return NEED_MORE;
        };
        if h[2] != 0 || h[3] != 0 {
            return NOT_PROTOCOL; // protocol id must be 0
        }
        let length = i64::from(u16::from_be_bytes([h[4], h[5]]));
        if !(2..=254).contains(&length) {
            return NOT_PROTOCOL;
        }
        length + 6
    }

    fn plausible(&self, buf: &[u8], pos: usize, end: usize, length: usize) -> bool {
        let fc = if pos + 7 < end {
            buf.get(pos + 7).copied().unwrap_or(1)
        } else {
            1
        };
        if function_name(fc & 0x7F).is_none() {
            return false;
        }
        let nxt = pos + length;
        nxt >= end || end - nxt < 7 || self.frame(buf, nxt, end) > 0
    }

    fn decode(
        &mut self,
        buf: &[u8],
        pos: usize,
        end: usize,
        to_server: bool,
        out: &mut Vec<Message>,
        _errors: &mut Errors,
    ) -> Decoded {
        // the driver hands over whole frames (8 bytes at least: `frame` answers length + 6)
        let Some(adu) = buf.get(pos..end).filter(|a| a.len() >= 8) else {
            return Ok(());
        };
        let tid = u16::from_be_bytes([adu[0], adu[1]]);
        let unit = adu[6];
        let raw_fc = adu[7];
        let fc = raw_fc & 0x7F;
        let mut f = Map::with_capacity(12);
        f.push("transaction_id", tid);
        f.push("unit_id", unit);
        f.push("function_code", fc);
        f.push("function", function_name(fc).unwrap_or("UNKNOWN"));
        f.push("is_response", !to_server);
        let mut flags = Flags::new();
        let pdu = &adu[8..];
        if to_server {
            if raw_fc & 0x80 != 0 {
                flags.push(Value::from("exception_bit_in_request"));
            }
            let mut req = Request {
                function_code: fc,
                ..Request::default()
            };
            decode_request(fc, pdu, &mut f, &mut flags, &mut req);
            if self.pending.len() >= MAX_PENDING {
                self.pending.pop_oldest();
                if !self.pending_hit {
                    self.pending_hit = true;
                    flags.push(Value::from("pending_requests_bound_hit"));
                }
            }
            self.pending.insert(tid, unit, req);
        } else {
            let req = self.pending.take(tid, unit);
            f.push("matched", req.is_some());
            if req.is_some_and(|r| r.function_code != fc) {
                flags.push(Value::from("function_code_mismatch"));
            }
            if raw_fc & 0x80 != 0 {
                let code = pdu.first().map_or(-1, |&c| i64::from(c));
                f.push("exception_code", code);
                let name = exception_name(code);
                f.push("exception", name.unwrap_or("UNKNOWN"));
                if name.is_none() {
                    flags.push(Value::from("bad_exception_code"));
                }
                if pdu.len() != 1 {
                    flags.push(Value::from("bad_length"));
                }
                if let Some(r) = req {
                    copy_request(&r, &mut f);
                }
            } else {
                decode_response(fc, pdu, &mut f, &mut flags, req.as_ref());
            }
        }
        if !flags.is_empty() {
            f.push("flags", Value::List(flags));
        }
        let action = if fc == 43 {
            mei_action(f.get("mei_type"))
        } else {
            action(fc)
        };
        out.push(Message::new("modbus", action, f, to_server));
        Ok(())
    }
}

/// An exception response names what its request asked for.
fn copy_request(r: &Request, f: &mut Map) {
    for (key, value) in [
        ("address", r.address),
        ("quantity", r.quantity),
        ("subfunction", r.subfunction),
    ] {
        if let Some(v) = value {
            f.push(key, v);
        }
    }
    if let Some(mei) = r.mei_type {
        f.push("mei_type", mei);
    }
}

/// Modbus/TCP signature: the chunk splits exactly into plausible ADUs (at most 4 checked).
pub fn probe(data: &[u8], to_server: bool) -> bool {
    let end = data.len();
    let mut pos = 0;
    let mut seen = 0;
    while pos < end && seen < 4 {
        let Some(h) = data.get(pos..pos + 8) else {
            return false;
        };
        if h[2] != 0 || h[3] != 0 {
            return false;
        }
        let length = usize::from(u16::from_be_bytes([h[4], h[5]]));
        let fc = h[7];
        if !(2..=254).contains(&length) || function_name(fc & 0x7F).is_none() {
            return false;
        }
        if fc & 0x80 != 0 && to_server {
            return false;
        }
        pos += 6 + length;
        seen += 1;
    }
    seen > 0 && (pos == end || seen == 4)
}

/// `ProtocolSpec.parser()`: a fresh parser for one flow.
pub fn parser() -> Box<dyn Parser> {
    Box::new(StreamParser::new(Modbus::new()))
}
