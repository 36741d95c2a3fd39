//! Service layer (OPC 10000-4 7.28, 7.29; OPC 10000-6 5.2.2.15): the encoding NodeId that names
//! the service, the common request and response headers, and the per-service body decoders
//! (port of `parsers/opcua/services.py`).
//!
//! | RequestHeader       | type            | ResponseHeader      | type            |
//! |---------------------|-----------------|---------------------|-----------------|
//! | AuthenticationToken | NodeId (secret) | Timestamp           | DateTime        |
//! | Timestamp           | DateTime        | RequestHandle       | UInt32          |
//! | RequestHandle       | UInt32          | ServiceResult       | StatusCode      |
//! | ReturnDiagnostics   | UInt32          | ServiceDiagnostics  | DiagnosticInfo  |
//! | AuditEntryId        | String          | StringTable         | String[]        |
//! | TimeoutHint         | UInt32 (ms)     | AdditionalHeader    | ExtensionObject |
//! | AdditionalHeader    | ExtensionObject |                     |                 |
//!
//! Every service in `ids::SERVICES` is named and gets its header decoded; the bodies in `body`
//! are decoded as well. ServiceFault (397) is a response made of the header alone.

use icssa_core::{Decoded, Map, Text};
use icssa_opcua_codec::ids::{service_name, ACTIONS, SERVICES};
use icssa_opcua_codec::nodes;
use icssa_opcua_codec::statuscodes::status_name;
use icssa_opcua_codec::types::Reader;

use crate::{discovery, subscriptions};
use icssa_opcua_codec::scalars::u32_at;

pub const SERVICE_FAULT: u32 = 397;

type Body = fn(&mut Reader) -> Decoded<Map>;

/// The body decoder of a service, if its body is decoded.
fn body(service: u32) -> Option<Body> {
    Some(match service {
        446 => discovery::open_secure_channel_request,
        449 => discovery::open_secure_channel_response,
        422 => discovery::find_servers_request,
        425 => discovery::find_servers_response,
        428 => discovery::get_endpoints_request,
        431 => discovery::get_endpoints_response,
        461 => discovery::create_session_request,
        464 => discovery::create_session_response,
        467 => discovery::activate_session_request,
        470 => discovery::activate_session_response,
        473 => discovery::close_session_request,
        527 => nodes::browse_request,
        530 | 536 => nodes::browse_response,
        533 => nodes::browse_next_request,
        631 => nodes::read_request,
        634 => nodes::read_response,
        673 => nodes::write_request,
        676 => nodes::write_response,
        712 => nodes::call_request,
        715 => nodes::call_response,
        787 => subscriptions::create_subscription_request,
        790 => subscriptions::create_subscription_response,
        751 => subscriptions::create_monitored_items_request,
        754 => subscriptions::create_monitored_items_response,
        781 => subscriptions::delete_monitored_items_request,
        784 | 850 => subscriptions::results_response,
        847 => subscriptions::delete_subscriptions_request,
        826 => subscriptions::publish_request,
        829 => subscriptions::publish_response,
        _ => return None,
    })
}

/// Decodes a RequestHeader into `fields` (nothing is added when it is malformed).
pub fn request_header(r: &mut Reader, fields: &mut Map) -> Decoded {
    r.skip_node_id()?; // AuthenticationToken: a session secret, never reported
                       // Timestamp (the event has the packet time), RequestHandle, ReturnDiagnostics
    let fixed = r.unpack::<16>()?;
    let handle = u32_at(&fixed, 8);
    let audit = r.string()?;
    let timeout = r.u32()?;
    r.extension_object()?; // AdditionalHeader
    fields.push("request_handle", handle);
    fields.push("timeout_hint", timeout);
    if let Some(audit) = audit.filter(|s| !s.is_empty()) {
        fields.push("audit_entry_id", audit);
    }
    Ok(())
}

/// Decodes a ResponseHeader into `fields` (nothing is added when it is malformed).
pub fn response_header(r: &mut Reader, fields: &mut Map) -> Decoded {
    let fixed = r.unpack::<16>()?; // Timestamp, RequestHandle, ServiceResult
    let handle = u32_at(&fixed, 8);
    let result = u32_at(&fixed, 12);
    let diag = r.diagnostic_info()?;
    let table = r.string_array()?;
    r.extension_object()?; // AdditionalHeader
    fields.push("request_handle", handle);
    fields.push("status_code", result);
    fields.push("status", status_name(result));
    if !diag.is_empty() {
        fields.push("service_diagnostics", diag);
    }
    if !table.is_empty() {
        fields.push("string_table", table);
    }
    Ok(())
}

/// What `decode_service` put in `fields` about the service itself (so that the caller need not
/// look it up): `service_id`, and for a standard service its name and `is_response`.
#[derive(Debug, Default, Clone, Copy)]
pub struct Service {
    pub id: Option<u32>,
    pub name: &'static str,
    pub is_response: Option<bool>,
}

/// Decodes the service at `r` into `fields` (and what names it into `service`); returns the
/// action. Header fields are in `fields` before a body error is returned, so a malformed body
/// still names its service.
pub fn decode_service(r: &mut Reader, fields: &mut Map, service: &mut Service) -> Decoded<Text> {
    let Some(type_id) = r.numeric_node_id()? else {
        fields.push("service", "ServiceId_non_numeric");
        return Ok(Text::Borrowed("unknown_service"));
    };
    fields.push("service_id", type_id);
    service.id = Some(type_id);
    let Some(name) = SERVICES.get(type_id) else {
        fields.push("service", service_name(type_id));
        return Ok(Text::Borrowed("unknown_service"));
    };
    // service ids answered by the server: responses and ServiceFault
    let is_response = type_id == SERVICE_FAULT || name.ends_with("Response");
    fields.push("service", name);
    fields.push("is_response", is_response);
    service.name = name;
    service.is_response = Some(is_response);
    if is_response {
        response_header(r, fields)?;
    } else {
        request_header(r, fields)?;
    }
    if let Some(body) = body(type_id) {
        let out = body(r)?;
        if matches!(type_id, 446 | 449) {
            // dict.update: `security_mode` (446) and `token_id` (449) may be there already and
            // keep their place; no other body key meets a header or secure-layer key
            for (k, v) in out.0 {
                fields.set(k, v);
            }
        } else {
            fields.0.extend(out.0);
        }
    }
    Ok(Text::Borrowed(
        ACTIONS.get(type_id).unwrap_or("unknown_service"),
    ))
}
