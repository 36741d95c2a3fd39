"""Service bodies that name nodes: View, Attribute and Method services (OPC 10000-4 5.8, 5.10, 5.11).

| service    | request fields                                      | response fields                       |
|------------|-----------------------------------------------------|---------------------------------------|
| Browse     | View, RequestedMaxReferencesPerNode,                | Results: BrowseResult[] (StatusCode,  |
|            | NodesToBrowse: BrowseDescription[] (NodeId,         | ContinuationPoint, References:        |
|            | BrowseDirection, ReferenceTypeId, IncludeSubtypes,  | ReferenceDescription[]),              |
|            | NodeClassMask, ResultMask)                          | DiagnosticInfos[]                     |
| BrowseNext | ReleaseContinuationPoints, ContinuationPoints[]     | as Browse                             |
| Read       | MaxAge, TimestampsToReturn, NodesToRead:            | Results: DataValue[],                 |
|            | ReadValueId[] (NodeId, AttributeId, IndexRange,     | DiagnosticInfos[]                     |
|            | DataEncoding)                                       |                                       |
| Write      | NodesToWrite: WriteValue[] (NodeId, AttributeId,    | Results: StatusCode[],                |
|            | IndexRange, Value: DataValue)                       | DiagnosticInfos[]                     |
| Call       | MethodsToCall: CallMethodRequest[] (ObjectId,       | Results: CallMethodResult[] (Status,  |
|            | MethodId, InputArguments: Variant[])                | InputArgumentResults[], ..., Outputs) |

ReferenceDescription: ReferenceTypeId NodeId, IsForward Boolean, NodeId ExpandedNodeId, BrowseName
QualifiedName, DisplayName LocalizedText, NodeClass UInt32, TypeDefinition ExpandedNodeId.
"""

from __future__ import annotations

import struct
from typing import Any

from parsers.opcua.ids import ATTRIBUTES, BROWSE_DIRECTIONS, NODE_CLASSES, TIMESTAMPS_TO_RETURN, enum_text
from parsers.opcua.types import MAX_ITEMS, MAX_WALK, Reader

Fields = dict[str, Any]

_U32 = struct.Struct("<I")
# after a two-byte null View NodeId: View Timestamp and ViewVersion, RequestedMaxReferencesPerNode,
# NodesToBrowse count
_BROWSE_HEAD = struct.Struct("<12sIi")
# BrowseResult: StatusCode, ContinuationPoint length, References count
_BROWSE_RESULT = struct.Struct("<Iii")
# after a ReadValueId's NodeId: AttributeId, IndexRange length, DataEncoding namespace and name length
_READ_VALUE_TAIL = struct.Struct("<IiHi")

_MIN_BROWSE_DESCRIPTION = 17  # NodeId 2, UInt32, NodeId 2, Boolean, UInt32, UInt32
_MIN_BROWSE_RESULT = 12  # StatusCode, ByteString, array count
_MIN_REFERENCE = 18  # NodeId 2, Boolean, ExpandedNodeId 2, QualifiedName 6, LocalizedText 1, UInt32, 2
_MIN_READ_VALUE_ID = 16  # NodeId 2, UInt32, String, QualifiedName 6
_MIN_WRITE_VALUE = 11  # NodeId 2, UInt32, String, DataValue 1
_MIN_CALL = 8  # NodeId 2, NodeId 2, array count
_MIN_CALL_RESULT = 16  # StatusCode + three array counts


def read_value_id(r: Reader) -> tuple[str, int, str | None]:
    """(NodeId, AttributeId, IndexRange); DataEncoding is skipped."""
    node = r.node_id()
    p = r.pos
    if p + 14 <= r.end:  # fast path: no IndexRange, no DataEncoding name, in one read
        attribute, range_length, _, name_length = _READ_VALUE_TAIL.unpack_from(r.buf, p)
        if -1 <= range_length <= 0 and -1 <= name_length <= 0:
            r.pos = p + 14
            return node, attribute, None if range_length else ""
    attribute = r.u32()
    index_range = r.string()
    r.qualified_name()
    return node, attribute, index_range


def _targets(out: Fields, nodes: list[str], attributes: list[int], total: int) -> None:
    out["nodes"] = nodes
    out["node_count"] = total
    out["attribute_ids"] = attributes
    out["attributes"] = [ATTRIBUTES.get(a) or str(a) for a in attributes]


def browse_request(r: Reader) -> Fields:
    buf = r.buf
    end = r.end
    p = r.pos
    fast = False
    if p + 22 <= end and buf[p] == 0 and buf[p + 1] == 0:  # no view: the head in one read
        _, max_refs, n = _BROWSE_HEAD.unpack_from(buf, p + 2)
        fast = 0 <= n <= MAX_WALK and n * _MIN_BROWSE_DESCRIPTION <= end - p - 22
    if fast:
        view = "i=0"
        r.pos = p + 22
    else:
        view = r.node_id()
        r.skip(8)  # View.Timestamp
        r.u32()  # View.ViewVersion
        max_refs = r.u32()
        n = r.array_length(_MIN_BROWSE_DESCRIPTION)
    nodes: list[str] = []
    directions: list[str] = []
    for i in range(n):
        node = r.node_id()
        p = r.pos
        if p + 15 <= end and buf[p + 4] == 0:  # two-byte ReferenceTypeId: one bounds check
            direction = _U32.unpack_from(buf, p)[0]
            r.pos = p + 15
        else:
            direction = r.u32()
            r.skip_node_id()  # ReferenceTypeId
            r.skip(9)  # IncludeSubtypes, NodeClassMask, ResultMask
        if i < MAX_ITEMS:
            nodes.append(node)
            directions.append(BROWSE_DIRECTIONS.get(direction) or str(direction))
    out: Fields = {"nodes": nodes, "node_count": n, "browse_directions": directions,
                   "requested_max_references": max_refs}
    if view != "i=0":
        out["view"] = view
    return out


def _browse_results(r: Reader) -> Fields:
    statuses: list[int] = []
    references: list[Fields] = []
    total = 0
    buf = r.buf
    end = r.end
    node_id = r.node_id
    for i in range(r.array_length(_MIN_BROWSE_RESULT)):
        p = r.pos
        fast = False
        if p + 12 <= end:  # no ContinuationPoint: status and reference count in one read
            status, point, n = _BROWSE_RESULT.unpack_from(buf, p)
            fast = -1 <= point <= 0 and 0 <= n <= MAX_WALK and n * _MIN_REFERENCE <= end - p - 12
        if fast:
            r.pos = p + 12
        else:
            status = r.u32()
            r.bytestring_length()  # ContinuationPoint
            n = r.array_length(_MIN_REFERENCE)
        if i < MAX_ITEMS:
            statuses.append(status)
        for _ in range(n):
            # fast paths (same result, same errors): two-byte ReferenceTypeId, NodeIds without the
            # expanded flags, DisplayName with text only
            p = r.pos
            if p + 4 <= end and buf[p] == 0 and not buf[p + 3] & 0xC0:
                r.pos = p + 3  # ReferenceTypeId, IsForward
                node = node_id()
            else:
                r.skip_node_id()  # ReferenceTypeId
                r.boolean()  # IsForward
                node = r.expanded_node_id()
            browse_name = r.qualified_name()
            p = r.pos
            if p < end and buf[p] == 2:
                r.pos = p + 1
                display = r.string()
            else:
                _, display = r.localized_text()
            p = r.pos
            if p + 5 <= end and not buf[p + 4] & 0xC0:
                node_class = _U32.unpack_from(buf, p)[0]
                r.pos = p + 4
                type_def = node_id()
            else:
                node_class = r.u32()
                type_def = r.expanded_node_id()
            total += 1
            if len(references) < MAX_ITEMS:
                references.append({
                    "node": node, "browse_name": browse_name, "display_name": display,
                    "node_class": NODE_CLASSES.get(node_class) or str(node_class), "type_definition": type_def,
                })
    out: Fields = {"results": statuses, "references": references, "reference_count": total}
    diags = r.diagnostic_infos()
    if diags:
        out["diagnostic_infos"] = diags
    return out


def browse_response(r: Reader) -> Fields:
    return _browse_results(r)


def browse_next_request(r: Reader) -> Fields:
    release = r.boolean()
    n = r.array_length(4)
    for _ in range(n):
        r.bytestring_length()
    return {"release_continuation_points": release, "continuation_points": n}


def read_request(r: Reader) -> Fields:
    max_age = r.f64()
    timestamps = r.u32()
    n = r.array_length(_MIN_READ_VALUE_ID)
    nodes: list[str] = []
    attributes: list[int] = []
    for i in range(n):
        node, attribute, _ = read_value_id(r)
        if i < MAX_ITEMS:
            nodes.append(node)
            attributes.append(attribute)
    out: Fields = {"max_age": max_age, "timestamps_to_return": enum_text(TIMESTAMPS_TO_RETURN, timestamps)}
    _targets(out, nodes, attributes, n)
    return out


def data_values(r: Reader) -> tuple[list[Any], list[int]]:
    """(values, status codes) of a DataValue array; a DataValue without status is Good (0)."""
    values: list[Any] = []
    statuses: list[int] = []
    for i in range(r.array_length(1)):
        value, status = r.value_and_status()
        if i < MAX_ITEMS:
            values.append(value)
            statuses.append(status)
    return values, statuses


def _results_and_diags(r: Reader, out: Fields) -> Fields:
    out["results"] = r.status_array()
    diags = r.diagnostic_infos()
    if diags:
        out["diagnostic_infos"] = diags
    return out


def read_response(r: Reader) -> Fields:
    values, statuses = data_values(r)
    out: Fields = {"values": values, "results": statuses}
    diags = r.diagnostic_infos()
    if diags:
        out["diagnostic_infos"] = diags
    return out


def write_request(r: Reader) -> Fields:
    n = r.array_length(_MIN_WRITE_VALUE)
    nodes: list[str] = []
    attributes: list[int] = []
    values: list[Any] = []
    for i in range(n):
        node = r.node_id()
        attribute = r.u32()
        r.string()  # IndexRange
        value, _ = r.value_and_status()
        if i < MAX_ITEMS:
            nodes.append(node)
            attributes.append(attribute)
            values.append(value)
    out: Fields = {}
    _targets(out, nodes, attributes, n)
    out["values"] = values
    return out


def write_response(r: Reader) -> Fields:
    return _results_and_diags(r, {})


def _variants(r: Reader) -> list[Any]:
    values = []
    for i in range(r.array_length(1)):
        v = r.variant()
        if i < MAX_ITEMS:
            values.append(v)
    return values


def call_request(r: Reader) -> Fields:
    n = r.array_length(_MIN_CALL)
    calls: list[Fields] = []
    for i in range(n):
        obj = r.node_id()
        method = r.node_id()
        args = _variants(r)
        if i < MAX_ITEMS:
            calls.append({"object_id": obj, "method_id": method, "input_arguments": args})
    return {
        "calls": calls,
        "object_ids": [c["object_id"] for c in calls],
        "method_ids": [c["method_id"] for c in calls],
        "nodes": [c["method_id"] for c in calls],
        "node_count": n,
    }


def call_response(r: Reader) -> Fields:
    statuses: list[int] = []
    outputs: list[list[Any]] = []
    for i in range(r.array_length(_MIN_CALL_RESULT)):
        status = r.u32()
        r.status_array()  # InputArgumentResults
        r.diagnostic_infos()  # InputArgumentDiagnosticInfos
        args = _variants(r)
        if i < MAX_ITEMS:
            statuses.append(status)
            outputs.append(args)
    out: Fields = {"results": statuses, "output_arguments": outputs}
    diags = r.diagnostic_infos()
    if diags:
        out["diagnostic_infos"] = diags
    return out
