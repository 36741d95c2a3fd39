//! Identity claims read from protocol evidence in one event (a port of `assetmap/identity.py`).
//!
//! Each claim is (who, attribute, value, confidence); who is the flow's server (facts only a
//! server reports), the sender describing itself, or the receiver.
//!
//! | source | attributes | confidence |
//! |---|---|---|
//! | Modbus FC 43/14 response `modbus.device_id.*` | vendor, product_code, revision, vendor_url, product_name, model_name, user_application_name | 0.9 |
//! | S7 SZL response `s7comm.identity.*` | order_number, module_name, module_type_name, serial_number, system_name, plant_id, copyright, firmware_version, hardware_version, protection_level, cpu_mode | 0.95 |
//! | OPC UA application description | application_name, application_uri, product_uri | 0.85 |
//! | OPC UA certificate subject | certificate_subject | 0.85 |
//! | OPC UA endpoints offered | opcua_endpoint_url, opcua_security_mode, opcua_security_policy, opcua_user_token | 0.9 |
//! | OPC UA ActivateSession request | opcua_session_token (at the server) | 0.7 |

use crate::pytext;
use icssa_core::{Map, Value};
use std::borrow::Cow;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Who {
    Server,
    Src,
    Dst,
}

/// (who, attribute, value, confidence); the value borrowed from the event where it is kept as is.
pub type Claim<'a> = (Who, &'static str, Cow<'a, Value>, f64);

/// The datasets whose events can carry identity.
pub fn claims_dataset(dataset: &str) -> bool {
    matches!(dataset, "modbus" | "s7comm" | "opcua")
}

const MODBUS_DEVICE_ID: &[(&str, &str)] = &[
    ("vendor_name", "vendor"),
    ("product_code", "product_code"),
    ("revision", "revision"),
    ("vendor_url", "vendor_url"),
    ("product_name", "product_name"),
    ("model_name", "model_name"),
    ("user_application_name", "user_application_name"),
];
const S7_IDENTITY: &[(&str, &str)] = &[
    ("order_number", "order_number"),
    ("module_name", "module_name"),
    ("module_type_name", "module_type_name"),
    ("serial_number", "serial_number"),
    ("system_name", "system_name"),
    ("plant_id", "plant_id"),
    ("copyright", "copyright"),
    ("firmware_version", "firmware_version"),
    ("hardware_version", "hardware_version"),
    ("protection_level", "protection_level"),
    ("mode", "cpu_mode"),
];
const OPCUA_APP: &[&str] = &["application_name", "application_uri", "product_uri"];
const OPCUA_CERT_FIELDS: &[&str] = &[
    "certificate_subject",
    "server_certificate_subject",
    "client_certificate_subject",
    "sender_certificate_subject",
];
/// services whose application descriptions describe other servers (discovery results)
const OPCUA_FOREIGN: &[&str] = &["find_servers", "find_servers_on_network"];
const MAX_ENDPOINTS: usize = 64;

/// Strings without NULs and blanks (None when empty); ints and floats as they are.
pub fn clean(value: &Value) -> Option<Cow<'_, Value>> {
    match value {
        Value::Str(s) => {
            let owned;
            let text = if s.contains('\0') {
                owned = s.replace('\0', "");
                owned.as_str()
            } else {
                s
            };
            let text = pytext::strip(text);
            if text.is_empty() {
                None
            } else if text.len() == s.len() {
                Some(Cow::Borrowed(value))
            } else {
                Some(Cow::Owned(Value::Str(text.to_owned().into())))
            }
        }
        Value::Int(_) | Value::UInt(_) | Value::Float(_) => Some(Cow::Borrowed(value)),
        _ => None,
    }
}

fn int_name(value: &Value, names: &[&'static str]) -> Option<Option<String>> {
    let n: i128 = match *value {
        Value::Int(i) => i.into(),
        Value::UInt(u) => u.into(),
        _ => return None,
    };
    Some(Some(
        match usize::try_from(n).ok().and_then(|i| names.get(i)) {
            Some(name) => (*name).to_owned(),
            None => format!("unknown_{n}"),
        },
    ))
}

fn security_mode(value: &Value) -> Option<String> {
    if let Some(name) = int_name(value, &["Invalid", "None", "Sign", "SignAndEncrypt"]) {
        return name;
    }
    match &*clean(value)? {
        Value::Str(s) => Some(s.to_string()),
        _ => None,
    }
}

fn token_type(value: &Value) -> Option<String> {
    let value = match value {
        Value::Map(m) => match m.get("token_type") {
            Some(v) => v,
            None => m.get("type").unwrap_or(&Value::Null),
        },
        v => v,
    };
    if let Some(name) = int_name(value, &["anonymous", "username", "x509", "issued"]) {
        return name;
    }
    match &*clean(value)? {
        Value::Str(s) => Some(s.to_lowercase()),
        _ => None,
    }
}

fn modbus<'a>(fields: &'a Map, out: &mut Vec<Claim<'a>>) {
    let Some(Value::Map(device)) = fields.get("device_id") else {
        return;
    };
    for (field, attr) in MODBUS_DEVICE_ID {
        if let Some(value) = device.get(field).and_then(clean) {
            out.push((Who::Server, attr, value, 0.9));
        }
    }
}

fn s7<'a>(fields: &'a Map, out: &mut Vec<Claim<'a>>) {
    let Some(Value::Map(ident)) = fields.get("identity") else {
        return;
    };
    for (field, attr) in S7_IDENTITY {
        if let Some(value) = ident.get(field).and_then(clean) {
            out.push((Who::Server, attr, value, 0.95));
        }
    }
}

fn endpoint_claims<'a>(endpoint: &'a Map, out: &mut Vec<Claim<'a>>) {
    for attr in OPCUA_APP {
        if let Some(value) = endpoint.get(attr).and_then(clean) {
            out.push((Who::Src, attr, value, 0.85));
        }
    }
    if let Some(url) = endpoint
        .get("endpoint_url")
        .and_then(clean)
        .filter(|v| matches!(**v, Value::Str(_)))
    {
        out.push((Who::Src, "opcua_endpoint_url", url, 0.9));
    }
    if let Some(mode) = endpoint.get("security_mode").and_then(security_mode) {
        out.push((
            Who::Src,
            "opcua_security_mode",
            Cow::Owned(mode.into()),
            0.9,
        ));
    }
    if let Some(policy) = endpoint
        .get("security_policy")
        .and_then(clean)
        .filter(|v| matches!(**v, Value::Str(_)))
    {
        out.push((Who::Src, "opcua_security_policy", policy, 0.9));
    }
    if let Some(Value::List(tokens)) = endpoint.get("user_token_types") {
        for name in tokens.iter().filter_map(token_type) {
            out.push((Who::Src, "opcua_user_token", Cow::Owned(name.into()), 0.9));
        }
    }
}

/// True when the OPC UA object has a field the claims read (`identity._OPCUA_KEYS`): most
/// messages have none, and are done with in one pass over their keys.
fn opcua_may_claim(fields: &Map) -> bool {
    fields.iter().any(|(k, _)| {
        matches!(
            &**k,
            "application_name"
                | "application_uri"
                | "product_uri"
                | "certificate_subject"
                | "server_certificate_subject"
                | "client_certificate_subject"
                | "sender_certificate_subject"
                | "endpoints"
                | "identity_token_type"
        )
    })
}

fn opcua<'a>(fields: &'a Map, action: &str, is_response: bool, out: &mut Vec<Claim<'a>>) {
    if OPCUA_FOREIGN.contains(&action) || !opcua_may_claim(fields) {
        return;
    }
    for attr in OPCUA_APP {
        if let Some(value) = fields.get(attr).and_then(clean) {
            out.push((Who::Src, attr, value, 0.85));
        }
    }
    for field in OPCUA_CERT_FIELDS {
        if let Some(value) = fields.get(field).and_then(clean) {
            out.push((Who::Src, "certificate_subject", value, 0.85));
        }
    }
    if is_response {
        if let Some(Value::List(endpoints)) = fields.get("endpoints") {
            for endpoint in endpoints.iter().take(MAX_ENDPOINTS) {
                if let Value::Map(e) = endpoint {
                    endpoint_claims(e, out);
                }
            }
        }
    } else if action == "activate_session" {
        if let Some(name) = token_type(fields.get("identity_token_type").unwrap_or(&Value::Null)) {
            out.push((
                Who::Dst,
                "opcua_session_token",
                Cow::Owned(name.into()),
                0.7,
            ));
        }
    }
}

/// Identity claims in an event's `dataset` object (empty for events that carry none).
pub fn claims<'a>(
    fields: &'a Map,
    dataset: &str,
    action: &str,
    is_response: bool,
) -> Vec<Claim<'a>> {
    let mut out = Vec::new();
    match dataset {
        "modbus" if action == "read_device_identification" && is_response => {
            modbus(fields, &mut out)
        }
        "s7comm" if is_response => s7(fields, &mut out),
        "opcua" => opcua(fields, action, is_response, &mut out),
        _ => {}
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use icssa_core::map;

    #[test]
    fn clean_values() {
        let clean = |v: Value| super::clean(&v).map(Cow::into_owned);
        assert_eq!(clean(" a\0b \u{1c}".into()), Some("ab".into()));
        assert_eq!(clean("\0 ".into()), None);
        assert_eq!(clean(Value::Bool(true)), None);
        assert_eq!(clean(Value::Int(3)), Some(Value::Int(3)));
        assert_eq!(clean(Value::List(vec![])), None);
    }

    #[test]
    fn opcua_endpoints_and_tokens() {
        let endpoint = map! {
            "endpoint_url" => " opc.tcp://plc:4840 ",
            "security_mode" => 1u8,
            "security_policy" => 7u8,
            "user_token_types" => Value::List(vec![
                Value::Int(0),
                "UserName".into(),
                Value::Int(9),
                Value::Map(map! {"token_type" => Value::Null, "type" => 2u8}),
                Value::Map(map! {"type" => 2u8}),
            ]),
        };
        let fields = map! {"endpoints" => Value::List(vec![Value::Map(endpoint), Value::Int(1)])};
        let got: Vec<(&str, Value)> = claims(&fields, "opcua", "get_endpoints", true)
            .into_iter()
            .map(|(_, a, v, _)| (a, v.into_owned()))
            .collect();
        assert_eq!(
            got,
            vec![
                ("opcua_endpoint_url", "opc.tcp://plc:4840".into()),
                ("opcua_security_mode", "None".into()),
                ("opcua_user_token", "anonymous".into()),
                ("opcua_user_token", "username".into()),
                ("opcua_user_token", "unknown_9".into()),
                ("opcua_user_token", "x509".into()),
            ]
        );
        let fields = map! {"identity_token_type" => "Anonymous", "application_name" => "x"};
        let got = claims(&fields, "opcua", "activate_session", false);
        assert_eq!(
            got[1],
            (
                Who::Dst,
                "opcua_session_token",
                Cow::Owned("anonymous".into()),
                0.7
            )
        );
        assert!(claims(&fields, "opcua", "find_servers", false).is_empty());
    }

    #[test]
    fn server_facts_only_in_responses() {
        let device = map! {"vendor_name" => "Schneider", "revision" => "v3.10"};
        let fields = map! {"device_id" => Value::Map(device)};
        assert_eq!(
            claims(&fields, "modbus", "read_device_identification", true).len(),
            2
        );
        assert!(claims(&fields, "modbus", "read_device_identification", false).is_empty());
        let fields =
            map! {"identity" => Value::Map(map! {"mode" => "RUN", "protection_level" => 1u8})};
        let got = claims(&fields, "s7comm", "read_szl", true);
        assert_eq!(got[0].1, "protection_level");
        assert_eq!(
            got[1],
            (Who::Server, "cpu_mode", Cow::Owned("RUN".into()), 0.95)
        );
    }
}
