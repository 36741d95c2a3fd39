//! `replay [--observer NAME] [--org ID] --out DIR PCAP...`: what
//! `icssa replay PCAP... --out DIR --events-only --quiet --no-progress` writes (events.jsonl,
//! an empty alerts.jsonl, assets.json and graph.json without analytics), with the sensor's
//! summary counters printed as one JSON line on stdout and the time taken on stderr.
//! Errors as the CLI prints them: `icssa: error: ...` on stderr, exit code 2.

use icssa_core::json::{write, Map, Value};
use icssa_sensor::pipeline::{expand, run_capture, Summary, CAPTURE_SUFFIXES};
use std::io::Write;
use std::path::PathBuf;
use std::time::Instant;

/// Bytes of JSON lines gathered before a write to events.jsonl.
const WRITE_BLOCK: usize = 1 << 20;

fn fail(msg: &str) -> ! {
    eprintln!("icssa: error: {msg}");
    std::process::exit(2);
}

fn summary_json(s: &Summary) -> Vec<u8> {
    let mut m = Map::new();
    m.push("files", s.files);
    m.push("packets", s.packets);
    m.push("bytes", s.bytes);
    m.push("flows", s.flows);
    m.push("events", s.events);
    let counts = |items: &[(String, u64)]| {
        Value::Map(Map(items
            .iter()
            .map(|(k, n)| (k.clone().into(), Value::UInt(*n)))
            .collect()))
    };
    let pairs = |items: &[((String, String), u64)]| {
        Value::List(
            items
                .iter()
                .map(|((a, b), n)| {
                    Value::List(vec![a.clone().into(), b.clone().into(), Value::UInt(*n)])
                })
                .collect(),
        )
    };
    m.push("messages", counts(s.messages.items()));
    m.push("actions", pairs(s.actions.items()));
    m.push("parse_errors", pairs(s.parse_errors.items()));
    m.push("sensor", counts(s.sensor.items()));
    m.push(
        "errors",
        Value::List(s.errors.iter().map(|e| e.clone().into()).collect()),
    );
    let mut out = Vec::new();
    write(&mut out, &Value::Map(m));
    out.push(b'\n');
    out
}

fn main() {
    let mut args = std::env::args().skip(1);
    let (mut out_dir, mut observer, mut org, mut pcaps) =
        (None, "replay".to_owned(), "default".to_owned(), Vec::new());
    while let Some(a) = args.next() {
        match a.as_str() {
            "--out" | "-o" => out_dir = args.next().map(PathBuf::from),
            "--observer" => {
                observer = args
                    .next()
                    .unwrap_or_else(|| fail("--observer needs a value"))
            }
            "--org" => org = args.next().unwrap_or_else(|| fail("--org needs a value")),
            "--events-only" | "--quiet" | "-q" | "--no-progress" => {}
            _ => pcaps.push(PathBuf::from(a)),
        }
    }
    let Some(out_dir) = out_dir else {
        fail("--out DIR is required")
    };
    let files = expand(&pcaps);
    for p in &pcaps {
        if !p.exists() {
            fail(&format!(
                "{}: no such file or folder",
                icssa_sensor::pipeline::py_path(&p.to_string_lossy())
            ));
        }
    }
    if files.is_empty() {
        let shown: Vec<String> = pcaps
            .iter()
            .map(|p| icssa_sensor::pipeline::py_path(&p.to_string_lossy()))
            .collect();
        fail(&format!(
            "no captures ({}) in {}",
            CAPTURE_SUFFIXES.join(", "),
            shown.join(" ")
        ));
    }
    if out_dir.exists() && !out_dir.is_dir() {
        fail(&format!(
            "--out {}: exists and is not a folder",
            out_dir.display()
        ));
    }
    std::fs::create_dir_all(&out_dir)
        .unwrap_or_else(|e| fail(&format!("--out {}: {e}", out_dir.display())));
    let started = Instant::now();
    let file = std::fs::File::create(out_dir.join("events.jsonl"))
        .unwrap_or_else(|e| fail(&e.to_string()));
    let mut events_out = file;
    let mut summary = Summary::default();
    // JSON lines gathered, written a block at a time
    let mut buf = Vec::with_capacity(WRITE_BLOCK + 65536);
    let mut write_error = None;
    for path in &files {
        summary.files += 1;
        let mut emit = |event: icssa_core::event::Event| {
            event.write_json(&mut buf);
            summary.events += 1;
            if buf.len() >= WRITE_BLOCK {
                if let Err(e) = events_out.write_all(&buf) {
                    write_error.get_or_insert(e);
                }
                buf.clear();
            }
        };
        let (mut sensor, error) = run_capture(path, &observer, &org, &mut emit, None);
        for msg in sensor.take_log() {
            eprintln!("WARNING icssa.sensor: {msg}");
        }
        summary.errors.extend(error);
        summary.add(&sensor);
    }
    if let Some(e) = write_error.or_else(|| events_out.write_all(&buf).err()) {
        fail(&format!("events.jsonl: {e}"));
    }
    let seconds = started.elapsed().as_secs_f64();
    let others: [(&str, &[u8]); 3] = [
        ("alerts.jsonl", b""),
        ("assets.json", b"{\n  \"assets\": []\n}"),
        (
            "graph.json",
            b"{\n  \"directed\": true,\n  \"multigraph\": false,\n  \"graph\": {},\n  \"nodes\": [],\n  \"edges\": []\n}",
        ),
    ];
    for (name, body) in others {
        std::fs::write(out_dir.join(name), body).unwrap_or_else(|e| fail(&format!("{name}: {e}")));
    }
    std::io::stdout()
        .write_all(&summary_json(&summary))
        .unwrap_or_else(|e| fail(&e.to_string()));
    let rate = if seconds > 0.0 {
        summary.packets as f64 / seconds
    } else {
        0.0
    };
    eprintln!(
        "{} packets, {} events in {seconds:.3} s ({rate:.0} packets/s)",
        summary.packets, summary.events
    );
    for e in &summary.errors {
        eprintln!("icssa: error: {e}");
    }
    if !summary.errors.is_empty() {
        std::process::exit(2);
    }
}
