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
_U16 = struct.Struct("<H")
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


#: service id -> (name, is a response, body decoder or None, action), one lookup per message
_SERVICE_INFO: dict[int, tuple[str, bool, Body | None, str]] = {
    sid: (name, sid in _RESPONSES, BODIES.get(sid), ACTIONS[sid]) for sid, name in SERVICES.items()
}


def request_header(r: Reader, fields: Fields) -> None:
    """Decode a RequestHeader into ``fields`` (nothing is added when it is malformed)."""
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
                fields["request_handle"] = handle
                fields["timeout_hint"] = timeout
                return
    r.skip_node_id()  # AuthenticationToken: a session secret, never reported
    _, handle, _ = r.unpack(_REQUEST_FIXED)  # Timestamp (the event has the packet time), handle, diagnostics
    audit = r.string()
    timeout = r.u32()
    r.extension_object()  # AdditionalHeader
    fields["request_handle"] = handle
    fields["timeout_hint"] = timeout
    if audit:
        fields["audit_entry_id"] = audit


def response_header(r: Reader, fields: Fields) -> None:
    """Decode a ResponseHeader into ``fields`` (nothing is added when it is malformed)."""
    p = r.pos
    if p + 24 <= r.end and r.depth < MAX_DEPTH:  # fast path: no diagnostics, strings, additional header
        _, handle, result, diag_mask, strings, extension = _RESPONSE_FAST.unpack_from(r.buf, p)
        if not diag_mask and (strings == -1 or strings == 0) and extension == b"\x00\x00\x00":
            r.pos = p + 24
            fields["request_handle"] = handle
            fields["status_code"] = result
            fields["status"] = "Good" if result == 0 else status_name(result)
            return
    _, handle, result = r.unpack(_RESPONSE_FIXED)  # Timestamp, RequestHandle, ServiceResult
    out: Fields = {"request_handle": handle, "status_code": result, "status": status_name(result)}
    diag = r.diagnostic_info()
    if diag:
        out["service_diagnostics"] = diag
    table = r.string_array()
    if table:
        out["string_table"] = table
    r.extension_object()  # AdditionalHeader
    fields.update(out)


def decode_service(r: Reader, fields: Fields) -> str:
    """Decode the service at ``r`` into ``fields``; return the action. Header fields are in
    ``fields`` before a body error is raised, so a malformed body still names its service."""
    buf = r.buf
    p = r.pos
    if p + 4 <= r.end and buf[p] == 0x01 and buf[p + 1] == 0:  # four-byte NodeId, namespace 0
        r.pos = p + 4
        type_id: int | None = _U16.unpack_from(buf, p + 2)[0]
    else:
        type_id = r.numeric_node_id()
    if type_id is None:
        fields["service"] = "ServiceId_non_numeric"
        return "unknown_service"
    fields["service_id"] = type_id
    info = _SERVICE_INFO.get(type_id)
    if info is None:
        fields["service"] = service_name(type_id)
        return "unknown_service"
    name, is_response, body, action = info
    fields["service"] = name
    fields["is_response"] = is_response
    if is_response:
        response_header(r, fields)
    else:
        request_header(r, fields)
    if body is not None:
        fields.update(body(r))
    return action


__all__ = ["BODIES", "decode_service", "request_header", "response_header"]
