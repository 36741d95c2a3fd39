//! Numeric identifiers of OPC UA (OPC 10000-6 NodeIds.csv, OPC 10000-4 enumerations) as data:
//! a port of `parsers/opcua/ids.py`.
//!
//! `SERVICES` maps the encoding NodeId of every standard service message (the `TypeId` that
//! precedes a service body, namespace 0, e.g. 631 ReadRequest_Encoding_DefaultBinary) to its
//! name. The tables are generated from the Python dicts by `tools/gen_tables.py`.

use icssa_core::Text;
use std::borrow::Cow;

mod tables;

pub use tables::{
    ACTIONS, APPLICATION_TYPES, ATTRIBUTES, BROWSE_DIRECTIONS, IDENTITY_TOKENS, MONITORING_MODES,
    NODE_CLASSES, SECURITY_MODES, SERVICES, TIMESTAMPS_TO_RETURN, TOKEN_REQUEST_TYPES,
    USER_TOKEN_TYPES,
};

/// A Python `dict[int, str]`, as a slice sorted by key.
#[derive(Debug, Clone, Copy)]
pub struct Table(pub &'static [(u32, &'static str)]);

impl Table {
    /// `table.get(key)`.
    #[inline]
    pub fn get(&self, key: u32) -> Option<&'static str> {
        match self.0.binary_search_by_key(&key, |&(k, _)| k) {
            Ok(i) => Some(self.0[i].1),
            Err(_) => None,
        }
    }

    /// `table.get(key)` for a key of any integer type (a negative or too large key is absent).
    #[inline]
    pub fn get_i64(&self, key: i64) -> Option<&'static str> {
        u32::try_from(key).ok().and_then(|k| self.get(k))
    }

    /// `key in table`.
    #[inline]
    pub fn contains_key(&self, key: u32) -> bool {
        self.get(key).is_some()
    }

    /// `table.items()`, in key order (the Python dicts are written in key order too).
    pub fn iter(&self) -> impl Iterator<Item = (u32, &'static str)> {
        self.0.iter().copied()
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// ExtensionObject encoding ids inside PublishResponse.NotificationMessage.NotificationData
pub const DATA_CHANGE_NOTIFICATION: u32 = 811;
pub const EVENT_NOTIFICATION_LIST: u32 = 916;
pub const STATUS_CHANGE_NOTIFICATION: u32 = 820;

/// Name of an enumeration value; an unknown value is kept as its number (as text).
pub fn enum_text(table: &Table, value: u32) -> Text {
    match table.get(value) {
        Some(name) => Cow::Borrowed(name),
        None => Cow::Owned(value.to_string()),
    }
}

/// `ReadRequest` for 631; an id outside the table gives `ServiceId_<n>`.
pub fn service_name(type_id: u32) -> Text {
    match SERVICES.get(type_id) {
        Some(name) => Cow::Borrowed(name),
        None => Cow::Owned(format!("ServiceId_{type_id}")),
    }
}

/// event.action for a service: snake_case without Request/Response (`GetEndpointsRequest` ->
/// `get_endpoints`, `ServiceFault` -> `service_fault`). Python splits with the regular expression
/// `(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])`, then lowercases.
pub fn action_name(service: &str) -> String {
    let service = service
        .strip_suffix("Request")
        .or_else(|| service.strip_suffix("Response"))
        .unwrap_or(service);
    let chars: Vec<char> = service.chars().collect();
    let mut out = String::with_capacity(service.len() + 4);
    for (i, &c) in chars.iter().enumerate() {
        if i > 0 && c.is_ascii_uppercase() {
            let prev = chars[i - 1];
            let next_lower = chars.get(i + 1).is_some_and(|n| n.is_ascii_lowercase());
            if prev.is_ascii_lowercase()
                || prev.is_ascii_digit()
                || (prev.is_ascii_uppercase() && next_lower)
            {
                out.push('_');
            }
        }
        out.extend(c.to_lowercase());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables_are_sorted() {
        for t in [
            &SERVICES,
            &ACTIONS,
            &IDENTITY_TOKENS,
            &NODE_CLASSES,
            &ATTRIBUTES,
        ] {
            assert!(t.0.windows(2).all(|w| w[0].0 < w[1].0));
        }
    }

    #[test]
    fn lookups() {
        // expected values: parsers/opcua/ids.py (SERVICES[631], ACTIONS[...], enum_text)
        assert_eq!(SERVICES.get(631), Some("ReadRequest"));
        assert_eq!(SERVICES.get(632), None);
        assert_eq!(ACTIONS.get(428), Some("get_endpoints"));
        assert_eq!(ACTIONS.get(397), Some("service_fault"));
        assert_eq!(ACTIONS.get(12211), Some("register_server2"));
        assert_eq!(ACTIONS.get(554), Some("translate_browse_paths_to_node_ids"));
        assert_eq!(enum_text(&SECURITY_MODES, 3), "SignAndEncrypt");
        assert_eq!(enum_text(&SECURITY_MODES, 7), "7");
        assert_eq!(service_name(631), "ReadRequest");
        assert_eq!(service_name(9), "ServiceId_9");
        assert_eq!(NODE_CLASSES.get(128), Some("View"));
        assert_eq!(IDENTITY_TOKENS.get(940), Some("issued"));
    }

    #[test]
    fn action_names_as_python() {
        // expected values: parsers.opcua.ids.action_name on the same input
        assert_eq!(action_name("GetEndpointsRequest"), "get_endpoints");
        assert_eq!(action_name("ServiceFault"), "service_fault");
        assert_eq!(action_name("RegisterServer2Response"), "register_server2");
        assert_eq!(action_name("ServiceId_12"), "service_id_12");
        assert_eq!(action_name("HTTPServerA1B"), "http_server_a1_b");
        assert_eq!(action_name("Response"), "");
        for (id, name) in SERVICES.iter() {
            assert_eq!(Some(action_name(name).as_str()), ACTIONS.get(id));
        }
    }
}
