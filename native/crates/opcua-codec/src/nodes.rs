//! Service bodies that name nodes: View, Attribute and Method services (OPC 10000-4 5.8, 5.10,
//! 5.11). A port of `parsers/opcua/nodes.py`.
//!
//! | service    | request fields                                      | response fields                       |
//! |------------|-----------------------------------------------------|---------------------------------------|
//! | Browse     | View, RequestedMaxReferencesPerNode,                | Results: BrowseResult[] (StatusCode,  |
//! |            | NodesToBrowse: BrowseDescription[] (NodeId,         | ContinuationPoint, References:        |
//! |            | BrowseDirection, ReferenceTypeId, IncludeSubtypes,  | ReferenceDescription[]),              |
//! |            | NodeClassMask, ResultMask)                          | DiagnosticInfos[]                     |
//! | BrowseNext | ReleaseContinuationPoints, ContinuationPoints[]     | as Browse                             |
//! | Read       | MaxAge, TimestampsToReturn, NodesToRead:            | Results: DataValue[],                 |
//! |            | ReadValueId[] (NodeId, AttributeId, IndexRange,     | DiagnosticInfos[]                     |
//! |            | DataEncoding)                                       |                                       |
//! | Write      | NodesToWrite: WriteValue[] (NodeId, AttributeId,    | Results: StatusCode[],                |
//! |            | IndexRange, Value: DataValue)                       | DiagnosticInfos[]                     |
//! | Call       | MethodsToCall: CallMethodRequest[] (ObjectId,       | Results: CallMethodResult[] (Status,  |
//! |            | MethodId, InputArguments: Variant[])                | InputArgumentResults[], ..., Outputs) |
//!
//! ReferenceDescription: ReferenceTypeId NodeId, IsForward Boolean, NodeId ExpandedNodeId,
//! BrowseName QualifiedName, DisplayName LocalizedText, NodeClass UInt32, TypeDefinition
//! ExpandedNodeId.

use icssa_core::parser::Decoded;
use icssa_core::{map, Map, Text, Value};

use crate::ids::{enum_text, ATTRIBUTES, BROWSE_DIRECTIONS, NODE_CLASSES, TIMESTAMPS_TO_RETURN};
use crate::scalars::{i32_at, u32_at};
use crate::types::{Reader, MAX_ITEMS, MAX_WALK};

/// NodeId 2, UInt32, NodeId 2, Boolean, UInt32, UInt32
const MIN_BROWSE_DESCRIPTION: usize = 17;
/// StatusCode, ByteString, array count
const MIN_BROWSE_RESULT: usize = 12;
/// NodeId 2, Boolean, ExpandedNodeId 2, QualifiedName 6, LocalizedText 1, UInt32, 2
const MIN_REFERENCE: usize = 18;
/// NodeId 2, UInt32, String, QualifiedName 6
const MIN_READ_VALUE_ID: usize = 16;
/// NodeId 2, UInt32, String, DataValue 1
const MIN_WRITE_VALUE: usize = 11;
/// NodeId 2, NodeId 2, array count
const MIN_CALL: usize = 8;
/// StatusCode + three array counts
const MIN_CALL_RESULT: usize = 16;

/// (NodeId, AttributeId, IndexRange); DataEncoding is skipped.
pub fn read_value_id(r: &mut Reader) -> Decoded<(Text, u32, Option<String>)> {
    let node = r.node_id()?;
    let p = r.pos;
    if p + 14 <= r.end {
        // fast path: no IndexRange, no DataEncoding name; after the NodeId: AttributeId,
        // IndexRange length, DataEncoding namespace and name length
        let attribute = u32_at(r.buf, p);
        let range_length = i32_at(r.buf, p + 4);
        let name_length = i32_at(r.buf, p + 10);
        if (-1..=0).contains(&range_length) && (-1..=0).contains(&name_length) {
            r.pos = p + 14;
            let range = if range_length != 0 {
                None
            } else {
                Some(String::new())
            };
            return Ok((node, attribute, range));
        }
    }
    let attribute = r.u32()?;
    let index_range = r.string()?;
    r.qualified_name()?;
    Ok((node, attribute, index_range))
}

fn targets(out: &mut Map, nodes: Vec<Value>, attributes: &[u32], total: usize) {
    out.push("nodes", nodes);
    out.push("node_count", total);
    out.push("attribute_ids", attributes.to_vec());
    let names: Vec<Value> = attributes
        .iter()
        .map(|&a| enum_text(&ATTRIBUTES, a).into())
        .collect();
    out.push("attributes", names);
}

pub fn browse_request(r: &mut Reader) -> Decoded<Map> {
    let buf = r.buf;
    let end = r.end;
    let p = r.pos;
    let mut head = None;
    if p + 22 <= end && r.byte(p) == 0 && r.byte(p + 1) == 0 {
        // no view: after the two-byte null View NodeId, View Timestamp and ViewVersion,
        // RequestedMaxReferencesPerNode, NodesToBrowse count in one read
        let max_refs = u32_at(buf, p + 14);
        let n = i64::from(i32_at(buf, p + 18));
        if 0 <= n
            && n <= MAX_WALK as i64
            && n * MIN_BROWSE_DESCRIPTION as i64 <= (end - p - 22) as i64
        {
            head = Some((max_refs, n as usize));
        }
    }
    let (view, max_refs, n) = match head {
        Some((max_refs, n)) => {
            r.pos = p + 22;
            (None, max_refs, n)
        }
        None => {
            let view = r.node_id()?;
            r.skip(8)?; // View.Timestamp
            r.u32()?; // View.ViewVersion
            let max_refs = r.u32()?;
            let n = r.array_length(MIN_BROWSE_DESCRIPTION)?;
            (Some(view), max_refs, n)
        }
    };
    let mut nodes = Vec::with_capacity(n.min(MAX_ITEMS));
    let mut directions = Vec::with_capacity(n.min(MAX_ITEMS));
    for i in 0..n {
        let node = r.node_id()?;
        let p = r.pos;
        let direction = if p + 15 <= end && r.byte(p + 4) == 0 {
            // two-byte ReferenceTypeId: one bounds check
            r.pos = p + 15;
            u32_at(buf, p)
        } else {
            let direction = r.u32()?;
            r.skip_node_id()?; // ReferenceTypeId
            r.skip(9)?; // IncludeSubtypes, NodeClassMask, ResultMask
            direction
        };
        if i < MAX_ITEMS {
            nodes.push(Value::Str(node));
            directions.push(Value::Str(enum_text(&BROWSE_DIRECTIONS, direction)));
        }
    }
    let mut out = map! {
        "nodes" => nodes,
        "node_count" => n,
        "browse_directions" => directions,
        "requested_max_references" => max_refs,
    };
    if let Some(view) = view {
        if view != "i=0" {
            out.push("view", view);
        }
    }
    Ok(out)
}

fn browse_results(r: &mut Reader) -> Decoded<Map> {
    let mut statuses: Vec<u32> = Vec::new();
    let mut references: Vec<Value> = Vec::new();
    let mut total: usize = 0;
    let buf = r.buf;
    let end = r.end;
    for i in 0..r.array_length(MIN_BROWSE_RESULT)? {
        let p = r.pos;
        let mut fast = None;
        if p + 12 <= end {
            // no ContinuationPoint: status and reference count in one read
            let status = u32_at(buf, p);
            let point = i32_at(buf, p + 4);
            let n = i64::from(i32_at(buf, p + 8));
            if (-1..=0).contains(&point)
                && 0 <= n
                && n <= MAX_WALK as i64
                && n * MIN_REFERENCE as i64 <= (end - p - 12) as i64
            {
                fast = Some((status, n as usize));
            }
        }
        let (status, n) = match fast {
            Some(head) => {
                r.pos = p + 12;
                head
            }
            None => {
                let status = r.u32()?;
                r.bytestring_length()?; // ContinuationPoint
                (status, r.array_length(MIN_REFERENCE)?)
            }
        };
        if i < MAX_ITEMS {
            statuses.push(status);
        }
        for _ in 0..n {
            // fast paths (same result, same errors): two-byte ReferenceTypeId, NodeIds without
            // the expanded flags, DisplayName with text only
            let p = r.pos;
            let node = if p + 4 <= end && r.byte(p) == 0 && r.byte(p + 3) & 0xC0 == 0 {
                r.pos = p + 3; // ReferenceTypeId, IsForward
                r.node_id()?
            } else {
                r.skip_node_id()?; // ReferenceTypeId
                r.boolean()?; // IsForward
                r.expanded_node_id()?
            };
            let browse_name = r.qualified_name()?;
            let p = r.pos;
            let display = if p < end && r.byte(p) == 2 {
                r.pos = p + 1;
                r.string()?
            } else {
                r.localized_text()?.1
            };
            let p = r.pos;
            let (node_class, type_def) = if p + 5 <= end && r.byte(p + 4) & 0xC0 == 0 {
                r.pos = p + 4;
                (u32_at(buf, p), r.node_id()?)
            } else {
                let node_class = r.u32()?;
                (node_class, r.expanded_node_id()?)
            };
            total += 1;
            if references.len() < MAX_ITEMS {
                references.push(Value::Map(map! {
                    "node" => node,
                    "browse_name" => browse_name,
                    "display_name" => display,
                    "node_class" => enum_text(&NODE_CLASSES, node_class),
                    "type_definition" => type_def,
                }));
            }
        }
    }
    let mut out =
        map! {"results" => statuses, "references" => references, "reference_count" => total};
    diagnostics(r, &mut out)?;
    Ok(out)
}

/// `diags = r.diagnostic_infos(); if diags: out["diagnostic_infos"] = diags`.
fn diagnostics(r: &mut Reader, out: &mut Map) -> Decoded<()> {
    let diags = r.diagnostic_infos()?;
    if !diags.is_empty() {
        out.push("diagnostic_infos", diags);
    }
    Ok(())
}

pub fn browse_response(r: &mut Reader) -> Decoded<Map> {
    browse_results(r)
}

pub fn browse_next_request(r: &mut Reader) -> Decoded<Map> {
    let release = r.boolean()?;
    let n = r.array_length(4)?;
    for _ in 0..n {
        r.bytestring_length()?;
    }
    Ok(map! {"release_continuation_points" => release, "continuation_points" => n})
}

pub fn read_request(r: &mut Reader) -> Decoded<Map> {
    let max_age = r.f64()?;
    let timestamps = r.u32()?;
    let n = r.array_length(MIN_READ_VALUE_ID)?;
    let mut nodes = Vec::with_capacity(n.min(MAX_ITEMS));
    let mut attributes = Vec::with_capacity(n.min(MAX_ITEMS));
    for i in 0..n {
        let (node, attribute, _) = read_value_id(r)?;
        if i < MAX_ITEMS {
            nodes.push(Value::Str(node));
            attributes.push(attribute);
        }
    }
    let mut out = map! {
        "max_age" => max_age,
        "timestamps_to_return" => enum_text(&TIMESTAMPS_TO_RETURN, timestamps),
    };
    targets(&mut out, nodes, &attributes, n);
    Ok(out)
}

/// (values, status codes) of a DataValue array; a DataValue without status is Good (0).
pub fn data_values(r: &mut Reader) -> Decoded<(Vec<Value>, Vec<u32>)> {
    let mut values = Vec::new();
    let mut statuses = Vec::new();
    for i in 0..r.array_length(1)? {
        let (value, status) = r.value_and_status()?;
        if i < MAX_ITEMS {
            values.push(value);
            statuses.push(status);
        }
    }
    Ok((values, statuses))
}

fn results_and_diags(r: &mut Reader, mut out: Map) -> Decoded<Map> {
    out.push("results", r.status_array()?);
    diagnostics(r, &mut out)?;
    Ok(out)
}

pub fn read_response(r: &mut Reader) -> Decoded<Map> {
    let (values, statuses) = data_values(r)?;
    let mut out = map! {"values" => values, "results" => statuses};
    diagnostics(r, &mut out)?;
    Ok(out)
}

pub fn write_request(r: &mut Reader) -> Decoded<Map> {
    let n = r.array_length(MIN_WRITE_VALUE)?;
    let mut nodes = Vec::with_capacity(n.min(MAX_ITEMS));
    let mut attributes = Vec::with_capacity(n.min(MAX_ITEMS));
    let mut values = Vec::with_capacity(n.min(MAX_ITEMS));
    for i in 0..n {
        let node = r.node_id()?;
        let attribute = r.u32()?;
        r.string()?; // IndexRange
        let (value, _) = r.value_and_status()?;
        if i < MAX_ITEMS {
            nodes.push(Value::Str(node));
            attributes.push(attribute);
            values.push(value);
        }
    }
    let mut out = Map::with_capacity(5);
    targets(&mut out, nodes, &attributes, n);
    out.push("values", values);
    Ok(out)
}

pub fn write_response(r: &mut Reader) -> Decoded<Map> {
    results_and_diags(r, Map::new())
}

fn variants(r: &mut Reader) -> Decoded<Vec<Value>> {
    let mut values = Vec::new();
    for i in 0..r.array_length(1)? {
        let v = r.variant()?;
        if i < MAX_ITEMS {
            values.push(v);
        }
    }
    Ok(values)
}

pub fn call_request(r: &mut Reader) -> Decoded<Map> {
    let n = r.array_length(MIN_CALL)?;
    let mut calls = Vec::with_capacity(n.min(MAX_ITEMS));
    let mut object_ids = Vec::with_capacity(n.min(MAX_ITEMS));
    let mut method_ids = Vec::with_capacity(n.min(MAX_ITEMS));
    for i in 0..n {
        let obj = r.node_id()?;
        let method = r.node_id()?;
        let args = variants(r)?;
        if i < MAX_ITEMS {
            object_ids.push(Value::Str(obj.clone()));
            method_ids.push(Value::Str(method.clone()));
            calls.push(Value::Map(
                map! {"object_id" => obj, "method_id" => method, "input_arguments" => args},
            ));
        }
    }
    Ok(map! {
        "calls" => calls,
        "object_ids" => object_ids,
        "method_ids" => method_ids.clone(),
        "nodes" => method_ids,
        "node_count" => n,
    })
}

pub fn call_response(r: &mut Reader) -> Decoded<Map> {
    let mut statuses: Vec<u32> = Vec::new();
    let mut outputs: Vec<Value> = Vec::new();
    for i in 0..r.array_length(MIN_CALL_RESULT)? {
        let status = r.u32()?;
        r.status_array()?; // InputArgumentResults
        r.diagnostic_infos()?; // InputArgumentDiagnosticInfos
        let args = variants(r)?;
        if i < MAX_ITEMS {
            statuses.push(status);
            outputs.push(Value::List(args));
        }
    }
    let mut out = map! {"results" => statuses, "output_arguments" => outputs};
    diagnostics(r, &mut out)?;
    Ok(out)
}
