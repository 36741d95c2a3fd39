//! S7comm-plus (protocol id 0x72), as used by S7-1200/1500, inside COTP DT (port of
//! `parsers/s7comm_plus.py`).
//!
//! Header, then data, then (on the last fragment only) a trailer repeating the header with
//! length 0 (layout from Thomas Wiens' `s7comm_plus` Wireshark plugin and Zeek ICSNPP):
//!
//! | field | width | meaning |
//! |---|---|---|
//! | protocol id | 1 | 0x72 |
//! | protocol version | 1 | 1, 2, 3; 0xFE system event; 0xFF keep-alive |
//! | data length | 2 | bytes of data after the header, trailer excluded |
//! | integrity (V3) | 1 + n | digest length (32) and the digest, before the data |
//! | opcode | 1 | 0x31 request, 0x32 response, 0x33 notification, 0x02 response2 |
//! | reserved | 2 | request/response only |
//! | function | 2 | 0x04CA CreateObject, 0x04F2 SetVariable, 0x054C GetMultiVariables, ... |
//! | reserved | 2 | |
//! | sequence number | 2 | pairs a response with its request |
//! | session id | 4 | requests only |
//! | transport flags | 1 | |
//! | payload | n | object/attribute lists; not decoded (V3 payloads are integrity protected) |
//! | trailer | 4 | 0x72, version, 0x0000 |
//!
//! A message without a trailer is a fragment; the fragments up to the one with a trailer form
//! one message (each V3 fragment carries its own integrity part). Notifications carry a
//! subscription object id (4) instead of reserved/function/sequence. V2 places the integrity
//! part at the end of the data; it is reported when a 32-byte digest is found there. Values
//! inside the payload are never guessed.

use crate::names;
use crate::ordered::OrderedMap;
use crate::py::{append_list, at, u16_at, u32_at, Flags};
use icssa_core::{Decoded, Map, Message, ParseError, Text, Value};

/// Requests waiting for their response per flow.
pub const MAX_PENDING: usize = 500;
/// Fragments of one message at most before it is emitted as it is.
pub const MAX_FRAGMENTS: usize = 1024;

/// Opcode and function part of a first (or only) fragment; returns event.action.
fn opcode(buf: &[u8], pos: usize, end: usize, f: &mut Map, flags: &mut Flags) -> &'static str {
    if pos >= end {
        flags.push("truncated_data");
        return "unknown_opcode";
    }
    let op = at(buf, pos);
    f.push("opcode", op);
    f.push("opcode_name", names::plus_opcode(op).unwrap_or("unknown"));
    if op == 0x33 {
        if end - pos >= 5 {
            f.push("subscription_id", u32_at(buf, pos + 1));
        }
        return "notification";
    }
    if !matches!(op, 0x31 | 0x32 | 0x02) {
        flags.push("unknown_opcode");
        return "unknown_opcode";
    }
    if end - pos < 9 {
        flags.push("truncated_data");
        return "unknown_function";
    }
    let fnc = u16_at(buf, pos + 3);
    let (action, fname) = names::plus_function(fnc).unwrap_or(("unknown_function", "unknown"));
    f.push("function_code", fnc);
    f.push("function", fname);
    f.push("sequence", u16_at(buf, pos + 7));
    if op == 0x31 {
        if end - pos >= 14 {
            f.push("session_id", u32_at(buf, pos + 9));
            f.push("transport_flags", at(buf, pos + 13));
        } else {
            flags.push("truncated_data");
        }
    } else if end - pos >= 10 {
        f.push("transport_flags", at(buf, pos + 9));
    }
    action
}

/// The first fragment of an open message: its fields, action and the fragments seen.
struct Open {
    f: Map,
    action: &'static str,
    count: usize,
}

/// A request awaiting its response.
struct Request {
    function_code: Option<u16>,
    session_id: Option<u32>,
}

/// Per-flow S7comm-plus state: fragments per direction and requests awaiting a response.
#[derive(Default)]
pub struct PlusState {
    // per direction (index 1 = to server): the open message
    frag: [Option<Open>; 2],
    pending: OrderedMap<Request>,
    pending_hit: bool,
}

fn u16_field(f: &Map, key: &str) -> Option<u16> {
    f.get(key)
        .and_then(Value::as_i64)
        .and_then(|v| u16::try_from(v).ok())
}

impl PlusState {
    pub fn reset(&mut self, to_server: bool) {
        self.frag[to_server as usize] = None;
    }

    pub fn decode(
        &mut self,
        buf: &[u8],
        pos: usize,
        end: usize,
        to_server: bool,
        out: &mut Vec<Message>,
    ) -> Decoded {
        let end = end.min(buf.len());
        if end.saturating_sub(pos) < 4 {
            let n = end as i64 - pos as i64;
            return Err(ParseError::new(
                "truncated_s7comm_plus",
                format!("{n} bytes"),
            ));
        }
        let ver = at(buf, pos + 1);
        let dlen = u16_at(buf, pos + 2) as usize;
        let mut f = Map::with_capacity(16);
        f.push("protocol_version", ver);
        f.push(
            "protocol_version_name",
            names::plus_version(ver).unwrap_or("unknown"),
        );
        f.push("data_length", dlen);
        if ver == 0xFF {
            f.push("keep_alive_sequence", at(buf, pos + 2));
            out.push(Message::new("s7comm_plus", "keep_alive", f, to_server));
            return Ok(());
        }
        if ver == 0xFE {
            out.push(Message::new("s7comm_plus", "system_event", f, to_server));
            return Ok(());
        }
        let mut flags = Flags::default();
        let mut data = pos + 4;
        let mut data_end = data + dlen;
        let mut trailer = false;
        if data_end > end {
            flags.push("length_mismatch");
            data_end = end;
        } else if end - data_end >= 4 && at(buf, data_end) == 0x72 {
            trailer = true;
            if end - data_end > 4 {
                flags.push("trailing_bytes");
            }
        } else if end != data_end {
            flags.push("trailing_bytes");
        }
        let mut integrity = false;
        if ver == 3 && data < data_end {
            let dig = at(buf, data) as usize;
            if data + 1 + dig <= data_end {
                integrity = dig > 0;
                f.push("digest_length", dig);
                data += 1 + dig;
            } else {
                flags.push("bad_integrity_length");
            }
        } else if ver == 2 && data_end - data >= 34 && at(buf, data_end - 33) == 0x20 {
            integrity = true;
            f.push("digest_length", 32u8);
        }
        let d = to_server as usize;
        if let Some(open) = self.frag[d].as_mut() {
            open.count += 1;
            if !trailer && open.count < MAX_FRAGMENTS {
                return Ok(());
            }
            let Some(Open {
                f: mut first,
                action,
                count,
            }) = self.frag[d].take()
            else {
                return Ok(());
            };
            first.push("fragments", count);
            if !trailer {
                append_list(&mut first, "flags", &["too_many_fragments"]);
            }
            self.emit(first, action, to_server, out);
            return Ok(());
        }
        f.push("integrity", integrity);
        f.push("trailer", trailer);
        let action = opcode(buf, data, data_end, &mut f, &mut flags);
        let clean = flags.0.is_empty();
        flags.store(&mut f);
        if !trailer && clean {
            // first fragment: wait for the one with the trailer
            self.frag[d] = Some(Open {
                f,
                action,
                count: 1,
            });
            return Ok(());
        }
        self.emit(f, action, to_server, out);
        Ok(())
    }

    fn emit(&mut self, mut f: Map, action: &'static str, to_server: bool, out: &mut Vec<Message>) {
        let op = f.get("opcode").and_then(Value::as_i64);
        let seq = u16_field(&f, "sequence");
        let is_response = matches!(op, Some(0x32 | 0x02));
        f.push("is_response", is_response);
        if let (Some(0x31), Some(seq)) = (op, seq) {
            if self.pending.len() >= MAX_PENDING {
                self.pending.pop_first();
                if !self.pending_hit {
                    self.pending_hit = true;
                    append_list(&mut f, "flags", &["pending_requests_bound_hit"]);
                }
            }
            let session_id = f
                .get("session_id")
                .and_then(Value::as_i64)
                .map(|v| v as u32);
            let req = Request {
                function_code: u16_field(&f, "function_code"),
                session_id,
            };
            self.pending.insert(key(to_server, seq), req);
        } else if let (true, Some(seq)) = (is_response, seq) {
            let req = self.pending.remove(key(!to_server, seq));
            f.push("matched", req.is_some());
            if let Some(req) = req {
                if req.function_code != u16_field(&f, "function_code") {
                    append_list(&mut f, "flags", &["function_code_mismatch"]);
                }
                if let Some(session) = req.session_id {
                    f.set("session_id", session);
                    f.push("inherited", vec![Value::Str(Text::Borrowed("session_id"))]);
                }
            }
        }
        out.push(Message::new("s7comm_plus", action, f, to_server));
    }
}

/// Pending-request key: direction of the request and its sequence number.
fn key(to_server: bool, seq: u16) -> u32 {
    (u32::from(to_server) << 16) | u32::from(seq)
}
