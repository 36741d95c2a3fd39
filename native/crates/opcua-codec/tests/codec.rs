//! The `Reader` methods, `datetime_text` and the `nodes` bodies against the Python reference's
//! results on the same bytes (`tests/expected/mod.rs`, written by `tools/expected.py`): value,
//! error reason and detail, and the reader's position and depth afterwards.

mod expected;

use icssa_core::{Decoded, Value};
use icssa_opcua_codec::types::Identifier;
use icssa_opcua_codec::values::datetime_text;
use icssa_opcua_codec::{nodes, Reader};

/// The byte vector of a case: hex tokens, `hex*N` repeated N times.
fn expand(spec: &str) -> Vec<u8> {
    let mut out = Vec::new();
    for token in spec.split_whitespace() {
        let (chunk, times) = match token.split_once('*') {
            Some((c, n)) => (c, n.parse::<usize>().unwrap()),
            None => (token, 1),
        };
        let bytes: Vec<u8> = (0..chunk.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&chunk[i..i + 2], 16).unwrap())
            .collect();
        for _ in 0..times {
            out.extend_from_slice(&bytes);
        }
    }
    out
}

fn list(items: Vec<Value>) -> Value {
    Value::List(items)
}

fn ident(value: Identifier) -> Value {
    match value {
        Identifier::Numeric(n) => n.into(),
        Identifier::String(s) | Identifier::Guid(s) | Identifier::Opaque(s) => s.into(),
    }
}

/// Calls `method` as the Python script does; the result as the Python object's JSON value.
fn call(r: &mut Reader, method: &str, args: &[i64]) -> Decoded<Value> {
    Ok(match method {
        "u8" => r.u8()?.into(),
        "boolean" => r.boolean()?.into(),
        "u16" => r.u16()?.into(),
        "u32" => r.u32()?.into(),
        "i32" => r.i32()?.into(),
        "f64" => r.f64()?.into(),
        "take" => r.take(args[0] as usize)?.into(),
        "skip" => {
            r.skip(args[0] as usize)?;
            Value::Null
        }
        "date_time" => r.date_time()?.into(),
        "guid" => r.guid()?.into(),
        "length" => r.length()?.into(),
        "array_length" => r.array_length_with(args[0] as usize, args[1] != 0)?.into(),
        "string" => r.string()?.into(),
        "bytestring_length" => r.bytestring_length()?.into(),
        "bytestring_hex" => r.bytestring_hex()?.into(),
        "string_array" => r.string_array()?.into(),
        "u32_array" => r.u32_array()?.into(),
        "status_array" => r.status_array()?.into(),
        "node_id" => r.node_id()?.into(),
        "node_id_raw" => {
            let (ns, kind, value) = r.node_id_raw(args.first().map(|&m| m as u8))?;
            list(vec![ns.into(), kind.into(), ident(value)])
        }
        "numeric_node_id" => r.numeric_node_id()?.into(),
        "expanded_node_id" => r.expanded_node_id()?.into(),
        "skip_node_id" => {
            r.skip_node_id()?;
            Value::Null
        }
        "qualified_name" => r.qualified_name()?.into(),
        "localized_text" => {
            let (locale, text) = r.localized_text()?;
            list(vec![locale.into(), text.into()])
        }
        "extension_object" => {
            let (numeric, text, start, end) = r.extension_object()?;
            list(vec![numeric.into(), text.into(), start.into(), end.into()])
        }
        "sub" => {
            let sub = r.sub(args[0] as usize, args[1] as usize)?;
            list(vec![sub.pos.into(), sub.end.into(), sub.depth.into()])
        }
        "variant" => r.variant()?,
        "data_value" => Value::Map(r.data_value()?),
        "value_and_status" => {
            let (value, status) = r.value_and_status()?;
            list(vec![value, status.into()])
        }
        "diagnostic_info" => Value::Map(r.diagnostic_info()?),
        "diagnostic_infos" => r.diagnostic_infos()?.into(),
        "nodes.read_value_id" => {
            let (node, attribute, range) = nodes::read_value_id(r)?;
            list(vec![node.into(), attribute.into(), range.into()])
        }
        "nodes.read_request" => Value::Map(nodes::read_request(r)?),
        "nodes.read_response" => Value::Map(nodes::read_response(r)?),
        "nodes.write_request" => Value::Map(nodes::write_request(r)?),
        "nodes.write_response" => Value::Map(nodes::write_response(r)?),
        "nodes.browse_request" => Value::Map(nodes::browse_request(r)?),
        "nodes.browse_response" => Value::Map(nodes::browse_response(r)?),
        "nodes.browse_next_request" => Value::Map(nodes::browse_next_request(r)?),
        "nodes.call_request" => Value::Map(nodes::call_request(r)?),
        "nodes.call_response" => Value::Map(nodes::call_response(r)?),
        other => panic!("no such method {other}"),
    })
}

fn outcome(r: &Reader, result: Decoded<Value>) -> String {
    match result {
        Ok(v) => {
            let json = String::from_utf8(v.to_json()).unwrap();
            format!("ok {} {} {json}", r.pos, r.depth)
        }
        Err(e) => format!("err {} {} {} {}", r.pos, r.depth, e.reason, e.detail),
    }
}

#[test]
fn byte_vectors_as_python() {
    let mut failures = Vec::new();
    let mut count = 0;
    for case in expected::CASES {
        let data = expand(case.data);
        for &(end, expect) in case.results {
            let end = end.unwrap_or(data.len());
            let mut r = Reader::with_depth(&data, case.pos, end, case.depth);
            let result = call(&mut r, case.method, case.args);
            let got = outcome(&r, result);
            count += 1;
            if got != expect {
                failures.push(format!(
                    "{} ({}, end {end}):\n  python {expect}\n  rust   {got}",
                    case.label, case.method
                ));
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {count} differ:\n{}",
        failures.len(),
        failures.join("\n")
    );
    assert_eq!(count, 1132);
}

#[test]
fn datetimes_as_python() {
    for &(ticks, expect) in expected::DATETIMES {
        let got = String::from_utf8(Value::from(datetime_text(ticks)).to_json()).unwrap();
        assert_eq!(got, expect, "ticks {ticks}");
    }
}

/// Random cases with the Python results, from `tools/expected.py COUNT SEED PATH`:
/// `OPCUA_CODEC_CASES=PATH cargo test -p icssa-opcua-codec -- --ignored`.
#[test]
#[ignore]
fn random_vectors_as_python() {
    let path = std::env::var("OPCUA_CODEC_CASES").expect("OPCUA_CODEC_CASES=<file of expected.py>");
    let text = std::fs::read_to_string(path).unwrap();
    let mut failures = Vec::new();
    let mut count = 0;
    for line in text.lines() {
        let f: Vec<&str> = line.splitn(7, '\t').collect();
        let data = expand(f[1]);
        let (pos, end, depth) = (
            f[3].parse().unwrap(),
            f[4].parse().unwrap(),
            f[5].parse().unwrap(),
        );
        let mut r = Reader::with_depth(&data, pos, end, depth);
        let result = call(&mut r, f[0], &[]);
        let got = outcome(&r, result);
        count += 1;
        if got != f[6] {
            failures.push(format!(
                "{} {}:\n  python {}\n  rust   {got}",
                f[0], f[1], f[6]
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {count} differ:\n{}",
        failures.len(),
        failures.join("\n")
    );
}
