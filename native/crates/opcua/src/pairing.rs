//! Request/response pairing (the `_pair` step of `parsers/opcua/parser.py`): requests waiting for
//! their response, keyed by request id, bounded by `MAX_PENDING`, in insertion order as the
//! Python dict (the oldest is dropped first; a repeated request id keeps its place).

use icssa_core::{Map, Text, Value};

use crate::services::{Service, SERVICE_FAULT};

/// Requests waiting for a response, per connection (Suricata caps Modbus at 500).
pub const MAX_PENDING: usize = 512;
const CLOSE_SECURE_CHANNEL: u32 = 452;

/// Request fields a response inherits when paired, in this order (Python's `CONTEXT_KEYS`):
/// the index of `key` in that list.
fn context_index(key: &str) -> Option<u8> {
    Some(match key {
        "nodes" => 0,
        "node_count" => 1,
        "attribute_ids" => 2,
        "attributes" => 3,
        "values" => 4,
        "object_ids" => 5,
        "method_ids" => 6,
        "endpoint_url" => 7,
        "session_name" => 8,
        "identity_token_type" => 9,
        "user_name" => 10,
        "subscription_id" => 11,
        _ => return None,
    })
}

/// What a response inherits from its request.
#[derive(Debug)]
struct Context {
    /// the context keys of the request, in `context_index` order
    fields: Vec<(Text, Value)>,
    service: &'static str,
    action: Text,
}

#[derive(Debug, Default)]
pub struct Pending {
    entries: Vec<(u32, Context)>,
}

impl Pending {
    /// Remembers a request's context or gives a response its request's context (`service` is
    /// the request or response decoded into `fields`). Returns the action (a ServiceFault takes
    /// the action of the request it answers).
    pub fn pair(
        &mut self,
        request_id: u32,
        is_response: bool,
        service: &Service,
        fields: &mut Map,
        flags: &mut Vec<Value>,
        action: Text,
    ) -> Text {
        let at = self.entries.iter().position(|(k, _)| *k == request_id);
        if !is_response {
            if at.is_none() && self.entries.len() >= MAX_PENDING {
                self.entries.remove(0);
                flags.push(Value::from("pending_requests_overflow"));
            }
            if service.id == Some(CLOSE_SECURE_CHANNEL) {
                // CloseSecureChannel has no response
                return action;
            }
            let mut ctx: Vec<(u8, &Text, &Value)> = Vec::new();
            for (k, v) in fields.iter() {
                if let Some(i) = context_index(k) {
                    ctx.push((i, k, v));
                }
            }
            ctx.sort_unstable_by_key(|&(i, _, _)| i);
            let context = Context {
                fields: ctx
                    .into_iter()
                    .map(|(_, k, v)| (k.clone(), v.clone()))
                    .collect(),
                service: service.name,
                action: action.clone(),
            };
            match at {
                Some(i) => self.entries[i].1 = context,
                None => self.entries.push((request_id, context)),
            }
            return action;
        }
        let Some(i) = at else {
            fields.push("matched", false);
            return action;
        };
        let (_, request) = self.entries.remove(i);
        fields.push("matched", true);
        fields.push("request_service", request.service);
        for (k, v) in request.fields {
            if !fields.contains_key(&k) {
                fields.push(k, v);
            }
        }
        if service.id == Some(SERVICE_FAULT) {
            request.action
        } else {
            action
        }
    }
}
