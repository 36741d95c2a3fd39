//! Replays fixtures written by `native/tools/dump_streams.py` through a native parser and
//! compares, call by call, the messages (as JSON bytes) and errors with the Python parser's.

use crate::json::{write, write_str, Value};
use crate::parser::{Message, Parser};
use serde_json::Value as J;
use std::io::BufRead;

#[derive(Debug, Default)]
pub struct Report {
    pub flows: usize,
    pub feeds: usize,
    pub mismatches: usize,
    /// the first few mismatches, described
    pub examples: Vec<String>,
}

fn messages_json(msgs: &[Message]) -> String {
    let mut out = vec![b'['];
    for (i, m) in msgs.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        out.push(b'[');
        write_str(&mut out, m.dataset);
        out.push(b',');
        write_str(&mut out, &m.action);
        out.push(b',');
        write(&mut out, &Value::Map(m.fields.clone()));
        out.extend_from_slice(if m.to_server { b",true]" } else { b",false]" });
    }
    out.push(b']');
    String::from_utf8(out).expect("JSON writer emits UTF-8")
}

fn unhex(s: &str) -> Vec<u8> {
    (0..s.len() / 2)
        .map(|i| u8::from_str_radix(&s[2 * i..2 * i + 2], 16).expect("fixture hex"))
        .collect()
}

/// Runs every flow of `path` whose protocol `make` knows; `max_examples` mismatches are described.
pub fn run(
    path: &str,
    make: &dyn Fn(&str) -> Option<Box<dyn Parser>>,
    max_examples: usize,
) -> Report {
    let file = std::fs::File::open(path).unwrap_or_else(|e| panic!("{path}: {e}"));
    let mut report = Report::default();
    for (lineno, line) in std::io::BufReader::new(file).lines().enumerate() {
        let line = line.expect("fixture line");
        let flow: J = serde_json::from_str(&line).expect("fixture JSON");
        let Some(mut parser) = make(flow["proto"].as_str().unwrap_or("")) else {
            continue;
        };
        report.flows += 1;
        let mut out = Vec::new();
        for (i, op) in flow["ops"].as_array().expect("ops").iter().enumerate() {
            let op = op.as_array().expect("op");
            match op[0].as_str() {
                Some("feed") => {
                    report.feeds += 1;
                    out.clear();
                    let to_server = op[1].as_bool().unwrap_or(false);
                    parser.feed(&unhex(op[2].as_str().unwrap_or("")), to_server, &mut out);
                    let got = messages_json(&out);
                    let errs: Vec<(String, String)> = parser
                        .errors()
                        .0
                        .drain(..)
                        .map(|e| (e.reason.into_owned(), e.detail))
                        .collect();
                    let want_errs: Vec<(String, String)> = op[4]
                        .as_array()
                        .map(|a| {
                            a.iter()
                                .map(|e| {
                                    (
                                        e[0].as_str().unwrap_or("").to_owned(),
                                        e[1].as_str().unwrap_or("").to_owned(),
                                    )
                                })
                                .collect()
                        })
                        .unwrap_or_default();
                    let want = op[3].as_str().unwrap_or("");
                    if got != want || errs != want_errs {
                        report.mismatches += 1;
                        if report.examples.len() < max_examples {
                            report.examples.push(format!(
                                "line {} op {i} ({} bytes to_server={to_server}):\n  python: {want}\n  native: {got}\n  python errors: {want_errs:?}\n  native errors: {errs:?}",
                                lineno + 1,
                                op[2].as_str().unwrap_or("").len() / 2
                            ));
                        }
                    }
                }
                Some("gap") => parser.gap(op[1].as_bool().unwrap_or(false)),
                Some("mid") => parser.start_midstream(),
                other => panic!("unknown op {other:?}"),
            }
        }
    }
    report
}

/// `cargo run --example parity -- FIXTURE...` in a parser crate: prints the report, exits 1 on
/// any mismatch.
pub fn main_with(make: &dyn Fn(&str) -> Option<Box<dyn Parser>>) {
    let mut bad = 0;
    for path in std::env::args().skip(1) {
        let r = run(&path, make, 5);
        println!(
            "{path}: {} flows, {} feeds, {} mismatches",
            r.flows, r.feeds, r.mismatches
        );
        for e in &r.examples {
            println!("{e}");
        }
        bad += r.mismatches;
    }
    std::process::exit(if bad > 0 { 1 } else { 0 });
}

/// A JSON document as a `Value` (key order kept).
pub fn value_from_json(j: &J) -> Value {
    match j {
        J::Null => Value::Null,
        J::Bool(b) => Value::Bool(*b),
        J::Number(n) => {
            if let Some(i) = n.as_i64() {
                Value::Int(i)
            } else if let Some(u) = n.as_u64() {
                Value::UInt(u)
            } else {
                Value::Float(n.as_f64().unwrap_or(f64::NAN))
            }
        }
        J::String(s) => Value::Str(s.clone().into()),
        J::Array(a) => Value::List(a.iter().map(value_from_json).collect()),
        J::Object(o) => Value::Map(crate::json::Map(
            o.iter()
                .map(|(k, v)| (k.clone().into(), value_from_json(v)))
                .collect(),
        )),
    }
}

/// One line of the Python path's `events.jsonl` as a native `Event` (for analytics parity runs).
pub fn event_from_json(line: &str) -> crate::event::Event {
    use crate::event::{Envelope, Event};
    let j: J = serde_json::from_str(line).expect("event JSON");
    let s = |p: &J| p.as_str().unwrap_or("").to_owned();
    let leak = |p: &J| -> &'static str { Box::leak(s(p).into_boxed_str()) };
    let dataset = leak(&j["event"]["dataset"]);
    let host = |h: &J| {
        (
            s(&h["ip"]),
            h["port"].as_u64().unwrap_or(0) as u16,
            h["mac"].as_str().map(str::to_owned),
        )
    };
    let env = Envelope::new(
        host(&j["source"]),
        host(&j["destination"]),
        leak(&j["network"]["transport"]),
        leak(&j["network"]["protocol"]),
        s(&j["network"]["community_id"]),
        j["network"]["direction_to_server"]
            .as_bool()
            .unwrap_or(false),
        s(&j["observer"]["name"]).into(),
        s(&j["organization"]["id"]).into(),
    );
    let fields = match value_from_json(&j[dataset]) {
        Value::Map(m) => m,
        _ => crate::json::Map::new(),
    };
    Event {
        ts_ns: 0,
        timestamp: s(&j["@timestamp"]).into(),
        id: s(&j["event"]["id"]),
        kind: leak(&j["event"]["kind"]),
        dataset,
        action: s(&j["event"]["action"]).into(),
        env: std::sync::Arc::new(env),
        fields,
    }
}
