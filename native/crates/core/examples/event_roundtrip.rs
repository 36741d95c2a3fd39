//! `cargo run --features parity --example event_roundtrip -- events.jsonl`: every line read as
//! a native `Event` and written again must give the same bytes (checks `Event::write_json`).
use std::io::BufRead;

fn main() {
    let mut bad = 0usize;
    let mut n = 0usize;
    for path in std::env::args().skip(1) {
        let file = std::fs::File::open(&path).expect("events file");
        for line in std::io::BufReader::new(file).lines() {
            let line = line.expect("line");
            let event = icssa_core::parity::event_from_json(&line);
            let mut out = Vec::new();
            event.write_json(&mut out);
            n += 1;
            if out[..out.len() - 1] != *line.as_bytes() {
                bad += 1;
                if bad <= 3 {
                    println!("python: {line}\nnative: {}", String::from_utf8_lossy(&out));
                }
            }
        }
    }
    println!("{n} events, {bad} differ");
    std::process::exit(i32::from(bad > 0));
}
