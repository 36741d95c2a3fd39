//! Siemens S7 on ISO-on-TCP (port 102): the per-flow parser (COTP reassembly, request pairing
//! in `pending`, userdata fragments in `fragments`) and its messages (port of
//! `parsers/s7comm.py`).
//!
//! S7comm header (Wireshark `packet-s7comm.c`, `dissect_s7comm`):
//!
//! | field | width | meaning |
//! |---|---|---|
//! | protocol id | 1 | 0x32 |
//! | ROSCTR | 1 | 1 job, 2 ack, 3 ack_data, 7 userdata |
//! | redundancy id | 2 | reserved, 0 |
//! | PDU reference | 2 | echoed by the answer: pairs requests with responses |
//! | parameter length | 2 | bytes of the parameter part |
//! | data length | 2 | bytes of the data part |
//! | error class | 1 | ack / ack_data only |
//! | error code | 1 | ack / ack_data only |
//!
//! Messages: `cotp` for connection management, `s7comm` and `s7comm_plus` for application
//! messages. A response carries what it does not repeat (SZL id, block, PI service, item
//! addresses) from its request, and lists those keys in `inherited`.

use crate::cotp::{decode_cotp, is_eot, plausible_cotp, tpkt_frame, Cotp, Reassembler, DT};
use crate::fragments::{Payload, UdReassembly, MAX_REASSEMBLY};
use crate::job::{
    block_control, data_items, pi_service, plc_stop, return_codes, setup_communication, var_items,
};
use crate::names;
use crate::ordered::OrderedMap;
use crate::pending::{inherit, inheritable, key, Context, Pending, MAX_PENDING};
use crate::plus::PlusState;
use crate::py::{append_list, at, slice, u16_at, Flags};
use crate::userdata::{userdata_data, userdata_param};
use icssa_core::{Decoded, Errors, Map, Message, ParseError, Protocol, Value};

/// S7comm / S7comm-plus over TPKT/COTP: one instance per TCP flow.
pub struct S7Protocol {
    cotp: [Reassembler; 2],
    pending: Pending,
    // group << 8 | subfunction -> pending key of the latest userdata request, for PLCs that do
    // not echo the PDU reference
    ud_recent: OrderedMap<u32>,
    ud_frags: UdReassembly,
    plus: PlusState,
}

impl Default for S7Protocol {
    fn default() -> Self {
        Self::new()
    }
}

impl S7Protocol {
    pub fn new() -> Self {
        S7Protocol {
            cotp: [
                Reassembler::new(MAX_REASSEMBLY),
                Reassembler::new(MAX_REASSEMBLY),
            ],
            pending: Pending::default(),
            ud_recent: OrderedMap::default(),
            ud_frags: UdReassembly::default(),
            plus: PlusState::default(),
        }
    }

    /// Hands a whole TSDU at `buf[data..end]` to S7comm or S7comm-plus.
    fn tsdu(
        &mut self,
        buf: &[u8],
        data: usize,
        end: usize,
        to_server: bool,
        out: &mut Vec<Message>,
        segments: usize,
    ) -> Decoded {
        match at(buf, data) {
            0x32 => self.s7(buf, data, end, to_server, out, segments),
            0x72 => self.plus.decode(buf, data, end, to_server, out),
            proto => Err(ParseError::new(
                "unknown_protocol_id",
                format!("0x{proto:02x}"),
            )),
        }
    }

    fn s7(
        &mut self,
        b: &[u8],
        pos: usize,
        end: usize,
        to_server: bool,
        out: &mut Vec<Message>,
        segments: usize,
    ) -> Decoded {
        let size = end.saturating_sub(pos);
        if size < 10 {
            return Err(ParseError::new(
                "truncated_s7_header",
                format!("{size} bytes"),
            ));
        }
        let rosctr = at(b, pos + 1);
        let redid = u16_at(b, pos + 2);
        let pdu_ref = u16_at(b, pos + 4);
        let plen = u16_at(b, pos + 6) as usize;
        let dlen = u16_at(b, pos + 8) as usize;
        let hlen = if matches!(rosctr, 2 | 3) { 12 } else { 10 };
        if size < hlen {
            return Err(ParseError::new(
                "truncated_s7_header",
                format!("{size} bytes"),
            ));
        }
        let mut f = Map::with_capacity(16);
        f.push("rosctr", rosctr);
        f.push("rosctr_name", names::rosctr(rosctr).unwrap_or("unknown"));
        f.push("pdu_ref", pdu_ref);
        f.push("param_length", plen);
        f.push("data_length", dlen);
        let mut flags = Flags::default();
        if redid != 0 {
            flags.push("reserved_not_zero");
        }
        if segments > 1 {
            f.push("cotp_segments", segments);
        }
        let p = pos + hlen;
        let mut p_end = p + plen;
        let mut d_end = p_end + dlen;
        if d_end > end {
            flags.push("length_mismatch");
            p_end = p_end.min(end);
            d_end = end;
        } else if d_end < end {
            flags.push("trailing_bytes");
        }
        if hlen == 12 {
            let (ecls, ecode) = (at(b, pos + 10), at(b, pos + 11));
            let class_name = names::error_class(ecls).unwrap_or("unknown");
            f.push("error_class", ecls);
            f.push("error_code", ecode);
            f.push("error_class_name", class_name);
            if ecls != 0 || ecode != 0 {
                let code = (u16::from(ecls) << 8) | u16::from(ecode);
                f.push("error", names::error_code(code).unwrap_or(class_name));
            }
        }
        let part = Part {
            b,
            p,
            p_end,
            d_end,
            to_server,
            pdu_ref,
        };
        let action = match rosctr {
            1..=3 => self.job(rosctr, &part, &mut f, &mut flags),
            7 => self.userdata(&part, &mut f, &mut flags),
            _ => {
                flags.push("unknown_rosctr");
                f.push("is_response", !to_server);
                "unknown_rosctr"
            }
        };
        flags.store(&mut f);
        out.push(Message::new("s7comm", action, f, to_server));
        Ok(())
    }

    fn job(&mut self, rosctr: u8, part: &Part, f: &mut Map, flags: &mut Flags) -> &'static str {
        let Part {
            b,
            p,
            p_end,
            to_server,
            pdu_ref,
            ..
        } = *part;
        let job = rosctr == 1;
        f.push("is_response", !job);
        let mut req = if job {
            None
        } else {
            self.pending.take(key(!to_server, pdu_ref))
        };
        if !job {
            f.push("matched", req.is_some());
        }
        let fnc = (p < p_end).then(|| at(b, p));
        let mismatch = match &req {
            Some(Context::Job { function_code, .. }) => fnc.is_some_and(|x| x != *function_code),
            Some(Context::Userdata { .. }) => true,
            None => false,
        };
        if mismatch {
            flags.push("function_code_mismatch");
            req = None; // a different request: inherit nothing from it
        }
        let fnc = match (fnc, &req) {
            (Some(x), _) => x,
            (None, Some(Context::Job { function_code, .. })) => {
                f.push(
                    "inherited",
                    vec![Value::from("function_code"), Value::from("function")],
                );
                *function_code
            }
            (None, _) => {
                return if rosctr == 2 {
                    "ack"
                } else {
                    "unknown_function"
                }
            }
        };
        let (action, fname) = names::function(fnc).unwrap_or(("unknown_function", "unknown"));
        f.push("function_code", fnc);
        f.push("function", fname);
        if p < p_end {
            job_body(fnc, job, part, f, flags, req.as_ref());
        }
        if job {
            let items = match f.get("items") {
                Some(Value::List(items)) => Some(items.clone()),
                _ => None,
            };
            let ctx = Context::Job {
                function_code: fnc,
                items,
                inherit: inheritable(f),
            };
            self.pending.remember(key(to_server, pdu_ref), ctx, flags);
        } else if let Some(req) = &req {
            inherit(req, f);
        }
        action
    }

    fn userdata(&mut self, part: &Part, f: &mut Map, flags: &mut Flags) -> &'static str {
        let Part {
            b,
            p,
            p_end,
            d_end,
            to_server,
            pdu_ref,
        } = *part;
        let Some(head) = userdata_param(b, p, p_end, f, flags) else {
            f.push("is_response", !to_server);
            return "userdata";
        };
        let (group, sub, utype) = (head.group, head.subfunction, head.utype);
        f.push("is_response", utype == 2);
        if head.mode_transition {
            return "mode_transition";
        }
        let group_sub = (u32::from(group) << 8) | u32::from(sub);
        let action = names::userdata_action((group, sub))
            .or_else(|| names::userdata_group_action(group))
            .unwrap_or("userdata");
        if d_end.saturating_sub(p_end) >= 4 {
            let ret = at(b, p_end);
            let length = u16_at(b, p_end + 2) as usize;
            f.push("return_code", ret);
            f.push("return_name", names::return_code(ret).unwrap_or("unknown"));
            let start = p_end + 4;
            let mut stop = start + length;
            if stop > d_end {
                flags.push("truncated_data");
                stop = d_end;
            }
            if utype == 1 || (head.data_unit_ref == 0 && head.last_data_unit == 0) {
                // not fragmented
                userdata_data(&head, ret, b, start, stop, f, flags);
            } else {
                match self
                    .ud_frags
                    .reassemble(&head, to_server, slice(b, start, stop), f, flags)
                {
                    Payload::Direct => userdata_data(&head, ret, b, start, stop, f, flags),
                    Payload::Whole(whole) => {
                        userdata_data(&head, ret, &whole, 0, whole.len(), f, flags)
                    }
                    Payload::Pending => {}
                }
            }
        } else if d_end > p_end {
            flags.push("truncated_data");
        }
        if utype == 1 {
            let ctx = Context::Userdata {
                group,
                subfunction: sub,
                inherit: inheritable(f),
            };
            let k = key(to_server, pdu_ref);
            self.pending.remember(k, ctx, flags);
            self.ud_recent.insert(group_sub, k);
            if self.ud_recent.len() > MAX_PENDING {
                self.ud_recent.pop_first();
            }
        } else if utype == 2 {
            let mut req = self.pending.take(key(!to_server, pdu_ref));
            if req.is_none() {
                if let Some(&alt) = self.ud_recent.get(group_sub) {
                    if (alt >> 16 != 0) != to_server {
                        req = self.pending.take(alt);
                    }
                }
            }
            f.push("matched", req.is_some());
            if let Some(req) = &req {
                match req {
                    Context::Userdata {
                        group: g,
                        subfunction: s,
                        ..
                    } if (*g, *s) == (group, sub) => inherit(req, f),
                    _ => flags.push("function_code_mismatch"),
                }
            }
        }
        action
    }
}

/// One S7 PDU's parts: parameter at `b[p..p_end]`, data at `b[p_end..d_end]`.
#[derive(Clone, Copy)]
struct Part<'a> {
    b: &'a [u8],
    p: usize,
    p_end: usize,
    d_end: usize,
    to_server: bool,
    pdu_ref: u16,
}

fn job_body(
    fnc: u8,
    job: bool,
    part: &Part,
    f: &mut Map,
    flags: &mut Flags,
    req: Option<&Context>,
) {
    let Part {
        b, p, p_end, d_end, ..
    } = *part;
    match fnc {
        0xF0 => setup_communication(b, p, p_end, f, flags),
        0x04 | 0x05 => {
            let count = if p_end - p >= 2 { at(b, p + 1) } else { 0 };
            f.push("item_count", count);
            if job {
                let (mut items, _) = var_items(b, p + 2, p_end, count, flags);
                if fnc == 0x05 {
                    let (ditems, values, _) = data_items(b, p_end, d_end, count, flags);
                    for (item, ditem) in items.iter_mut().zip(&ditems) {
                        if let (Value::Map(item), Value::Map(ditem)) = (item, ditem) {
                            let ts = ditem
                                .get("data_transport_size")
                                .cloned()
                                .unwrap_or(Value::Null);
                            item.push("data_transport_size", ts);
                        }
                    }
                    f.push("items", items);
                    f.push("values", values);
                } else {
                    f.push("items", items);
                }
                return;
            }
            let mut items = if fnc == 0x04 {
                let (items, values, _) = data_items(b, p_end, d_end, count, flags);
                f.push("values", values);
                items
            } else {
                return_codes(b, p_end, d_end, count, flags)
            };
            if let Some(Context::Job { items: specs, .. }) = req {
                let specs = specs.as_deref().unwrap_or(&[]);
                if specs.len() == items.len() {
                    items = specs.iter().zip(items).map(merge).collect();
                    append_list(f, "inherited", &["item_addresses"]);
                }
            }
            f.push("items", items);
        }
        0x1A..=0x1F => block_control(fnc, job, b, p, p_end, p_end, d_end, f, flags),
        0x28 => {
            if job {
                pi_service(b, p, p_end, f, flags);
            } else if p_end - p >= 2 {
                f.push("function_status", at(b, p + 1));
            }
        }
        0x29 if job => plc_stop(b, p, p_end, f, flags),
        _ => {}
    }
}

/// `{**spec, **item}`.
fn merge((spec, item): (&Value, Value)) -> Value {
    match (spec, item) {
        (Value::Map(spec), Value::Map(item)) => {
            let mut m = spec.clone();
            for (k, v) in item.0 {
                m.set(k, v);
            }
            Value::Map(m)
        }
        (_, item) => item,
    }
}

impl Protocol for S7Protocol {
    fn dataset(&self) -> &'static str {
        "s7comm"
    }

    fn max_message(&self) -> usize {
        65535
    }

    fn frame(&self, buf: &[u8], pos: usize, end: usize) -> i64 {
        tpkt_frame(buf, pos, end)
    }

    fn plausible(&self, buf: &[u8], pos: usize, end: usize, length: usize) -> bool {
        if !plausible_cotp(buf, pos + 4, end, length.saturating_sub(4)) {
            return false;
        }
        if pos + 7 < end && at(buf, pos + 5) >> 4 == DT && at(buf, pos + 6) & 0x80 != 0 {
            return matches!(at(buf, pos + 7), 0x32 | 0x72);
        }
        true
    }

    fn gap(&mut self, to_server: bool) {
        self.cotp[to_server as usize].reset();
        self.plus.reset(to_server);
        self.ud_frags.gap(to_server);
    }

    fn decode(
        &mut self,
        buf: &[u8],
        pos: usize,
        end: usize,
        to_server: bool,
        out: &mut Vec<Message>,
        errors: &mut Errors,
    ) -> Decoded {
        let data = match decode_cotp(buf, pos + 4, end)? {
            Cotp::Other(action, f) => {
                out.push(Message::new("cotp", action, f, to_server));
                return Ok(());
            }
            Cotp::Data(data) => data,
        };
        let reasm = &mut self.cotp[to_server as usize];
        if !is_eot(buf, pos + 4) {
            if !reasm.add(slice(buf, data, end)) {
                errors.error(
                    "cotp_reassembly_overflow",
                    format!("more than {MAX_REASSEMBLY} bytes"),
                );
            }
            return Ok(());
        }
        if reasm.pending {
            let (whole, segments) = reasm.finish(slice(buf, data, end));
            if whole.is_empty() || segments == 0 {
                return Ok(()); // an empty DT carries nothing to report
            }
            return self.tsdu(&whole, 0, whole.len(), to_server, out, segments);
        }
        if data >= end {
            return Ok(());
        }
        self.tsdu(buf, data, end, to_server, out, 1)
    }
}
