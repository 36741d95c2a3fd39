"""Service layer (OPC 10000-4 7.28, 7.29; OPC 10000-6 5.2.2.15): the encoding NodeId that names the
service, the common request and response headers, and the per-service body decoders.

| RequestHeader       | type            | ResponseHeader      | type            |
|---------------------|-----------------|---------------------|-----------------|
| AuthenticationToken | NodeId (secret) | Timestamp           | DateTime        |
| Timestamp           | DateTime        | RequestHandle       | UInt32          |
| RequestHandle       | UInt32          | ServiceResult       | StatusCode      |
| ReturnDiagnostics   | UInt32          | ServiceDiagnostics  | DiagnosticInfo  |
| AuditEntryId        | String          | StringTable         | String[]        |
| TimeoutHint         | UInt32 (ms)     | AdditionalHeader    | ExtensionObject |
| AdditionalHeader    | ExtensionObject |                     |                 |

Every service in ``ids.SERVICES`` is named and gets its header decoded; the bodies in ``BODIES`` are
decoded as well. ServiceFault (397) is a response made of the header alone.
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from typing import Any

from parsers.opcua import discovery, nodes, subscriptions
from parsers.opcua.ids import ACTIONS, SERVICES, service_name
from parsers.opcua.statuscodes import status_name
from parsers.opcua.types import MAX_DEPTH, Reader

Fields = dict[str, Any]
Body = Callable[[Reader], Fields]

SERVICE_FAULT = 397

_REQUEST_FIXED = struct.Struct("<qII")  # Timestamp, RequestHandle, ReturnDiagnostics
_RESPONSE_FIXED = struct.Struct("<qII")  # Timestamp, RequestHandle, ServiceResult
# the common headers in one read: after the token, Timestamp, RequestHandle, ReturnDiagnostics,
# AuditEntryId length, TimeoutHint; Timestamp, RequestHandle, ServiceResult, DiagnosticInfo mask,
# StringTable count, AdditionalHeader (3 bytes: two-byte NodeId 0, no body)
_REQUEST_FAST = struct.Struct("<qIIiI")
_RESPONSE_FAST = struct.Struct("<qIIBi3s")
#: bytes of an AuthenticationToken NodeId by encoding, for the fixed-width encodings
_TOKEN_WIDTH = {0: 2, 1: 4, 2: 7, 4: 19}
#: service ids answered by the server (responses and ServiceFault)
_RESPONSES = frozenset(sid for sid, name in SERVICES.items() if sid == SERVICE_FAULT or name.endswith("Response"))

BODIES: dict[int, Body] = {
    446: discovery.open_secure_channel_request,
    449: discovery.open_secure_channel_response,
    422: discovery.find_servers_request,
    425: discovery.find_servers_response,
    428: discovery.get_endpoints_request,
    431: discovery.get_endpoints_response,
    461: discovery.create_session_request,
    464: discovery.create_session_response,
    467: discovery.activate_session_request,
    470: discovery.activate_session_response,
    473: discovery.close_session_request,
    527: nodes.browse_request,
    530: nodes.browse_response,
    533: nodes.browse_next_request,
    536: nodes.browse_response,
    631: nodes.read_request,
    634: nodes.read_response,
    673: nodes.write_request,
    676: nodes.write_response,
    712: nodes.call_request,
    715: nodes.call_response,
    787: subscriptions.create_subscription_request,
    790: subscriptions.create_subscription_response,
    751: subscriptions.create_monitored_items_request,
    754: subscriptions.create_monitored_items_response,
    781: subscriptions.delete_monitored_items_request,
    784: subscriptions.results_response,
    847: subscriptions.delete_subscriptions_request,
    850: subscriptions.results_response,
    826: subscriptions.publish_request,
    829: subscriptions.publish_response,
}


def request_header(r: Reader) -> Fields:
    buf = r.buf
    p = r.pos
    end = r.end
    if p < end:  # fast path: a fixed-width token, no audit id, no additional header
        width = _TOKEN_WIDTH.get(buf[p])
        if width is not None and p + width + 27 <= end:
            q = p + width
            _, handle, _, audit_length, timeout = _REQUEST_FAST.unpack_from(buf, q)
            if (audit_length == -1 or audit_length == 0) and buf[q + 24 : q + 27] == b"\x00\x00\x00":
                r.pos = q + 27
                return {"request_handle": handle, "timeout_hint": timeout}
    r.skip_node_id()  # AuthenticationToken: a session secret, never reported
    _, handle, _ = r.unpack(_REQUEST_FIXED)  # Timestamp (the event has the packet time), handle, diagnostics
    audit = r.string()
    timeout = r.u32()
    r.extension_object()  # AdditionalHeader
    out: Fields = {"request_handle": handle, "timeout_hint": timeout}
    if audit:
        out["audit_entry_id"] = audit
    return out


def response_header(r: Reader) -> Fields:
    p = r.pos
    if p + 24 <= r.end and r.depth < MAX_DEPTH:  # fast path: no diagnostics, strings, additional header
        _, handle, result, diag_mask, strings, extension = _RESPONSE_FAST.unpack_from(r.buf, p)
        if not diag_mask and (strings == -1 or strings == 0) and extension == b"\x00\x00\x00":
            r.pos = p + 24
            return {"request_handle": handle, "status_code": result, "status": status_name(result)}
    _, handle, result = r.unpack(_RESPONSE_FIXED)  # Timestamp, RequestHandle, ServiceResult
    out: Fields = {"request_handle": handle, "status_code": result, "status": status_name(result)}
    diag = r.diagnostic_info()
    if diag:
        out["service_diagnostics"] = diag
    table = r.string_array()
    if table:
        out["string_table"] = table
    r.extension_object()  # AdditionalHeader
    return out


def decode_service(r: Reader, fields: Fields) -> str:
    """Decode the service at ``r`` into ``fields``; return the action. Header fields are in
    ``fields`` before a body error is raised, so a malformed body still names its service."""
    type_id = r.numeric_node_id()
    if type_id is None:
        fields["service"] = "ServiceId_non_numeric"
        return "unknown_service"
    fields["service_id"] = type_id
    name = SERVICES.get(type_id)
    if name is None:
        fields["service"] = service_name(type_id)
        return "unknown_service"
    fields["service"] = name
    is_response = type_id in _RESPONSES
    fields["is_response"] = is_response
    fields.update(response_header(r) if is_response else request_header(r))
    body = BODIES.get(type_id)
    if body is not None:
        fields.update(body(r))
    return ACTIONS[type_id]


__all__ = ["BODIES", "decode_service", "request_header", "response_header"]
