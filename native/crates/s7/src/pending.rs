//! Requests awaiting their answer, and what an answer takes from its request (the pairing
//! state of `parsers/s7comm.py`): a response carries what it does not repeat (SZL id, block,
//! PI service) from its request, and lists those keys in `inherited`.

use crate::ordered::OrderedMap;
use crate::py::{append_list, Flags};
use icssa_core::{Map, Value};

/// Requests waiting for a response per flow (Suricata uses the same bound).
pub const MAX_PENDING: usize = 500;
/// Request fields a response inherits when it does not repeat them.
const INHERIT: [&str; 7] = [
    "szl_id",
    "szl_index",
    "block_type",
    "block_type_code",
    "block_number",
    "filename",
    "pi_service",
];

/// What a response needs from its request.
pub enum Context {
    /// A job: its function, its item specifications (read / write var) and `INHERIT` fields.
    Job {
        function_code: u8,
        items: Option<Vec<Value>>,
        inherit: Vec<(&'static str, Value)>,
    },
    /// A userdata request: its group and subfunction and `INHERIT` fields.
    Userdata {
        group: u8,
        subfunction: u8,
        inherit: Vec<(&'static str, Value)>,
    },
}

/// The `INHERIT` fields of `f`, in `INHERIT` order.
pub fn inheritable(f: &Map) -> Vec<(&'static str, Value)> {
    INHERIT
        .iter()
        .filter_map(|&k| f.get(k).map(|v| (k, v.clone())))
        .collect()
}

/// Copies what the response does not repeat from its request; lists the copied keys.
pub fn inherit(req: &Context, f: &mut Map) {
    let (Context::Job { inherit, .. } | Context::Userdata { inherit, .. }) = req;
    let mut got: [&'static str; INHERIT.len()] = [""; INHERIT.len()];
    let mut n = 0;
    for (k, v) in inherit {
        if !f.contains_key(k) {
            f.push(*k, v.clone());
            got[n] = k;
            n += 1;
        }
    }
    if n > 0 {
        append_list(f, "inherited", &got[..n]);
    }
}

/// A pending-request key: the direction the request went and its PDU reference.
pub fn key(to_server: bool, pdu_ref: u16) -> u32 {
    (u32::from(to_server) << 16) | u32::from(pdu_ref)
}

/// (request sent to server?, pdu_ref) -> request context, oldest first, bounded.
#[derive(Default)]
pub struct Pending {
    requests: OrderedMap<Context>,
    // the bound was hit once: flagged on that message only
    hit: bool,
}

impl Pending {
    pub fn remember(&mut self, key: u32, ctx: Context, flags: &mut Flags) {
        if self.requests.len() >= MAX_PENDING {
            self.requests.pop_first();
            if !self.hit {
                self.hit = true;
                flags.push("pending_requests_bound_hit");
            }
        }
        self.requests.insert(key, ctx);
    }

    /// The request waiting under `key`, no longer pending.
    pub fn take(&mut self, key: u32) -> Option<Context> {
        self.requests.remove(key)
    }
}
