//! `bench PCAP [--json]`: packets per second of `run_capture` on one capture, events dropped
//! (the packet path: reading, decoding, reassembly, parsing, events) or, with `--json`, also
//! written to memory as JSON lines (no file I/O). Prints one line per run (three runs).

use icssa_sensor::pipeline::run_capture;
use std::path::PathBuf;
use std::time::Instant;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let json = args.iter().any(|a| a == "--json");
    let Some(path) = args
        .iter()
        .find(|a| !a.starts_with("--"))
        .map(PathBuf::from)
    else {
        eprintln!("usage: bench PCAP [--json]");
        std::process::exit(2);
    };
    for _ in 0..3 {
        let started = Instant::now();
        let (mut events, mut bytes) = (0u64, 0usize);
        let mut line = Vec::with_capacity(1 << 16);
        let mut emit = |e: icssa_core::event::Event| {
            events += 1;
            if json {
                line.clear();
                e.write_json(&mut line);
                bytes += line.len();
            }
        };
        let (sensor, error) = run_capture(&path, "replay", "default", &mut emit, None);
        let secs = started.elapsed().as_secs_f64();
        let packets = sensor.frame();
        println!(
            "{packets} packets, {events} events, {bytes} JSON bytes in {secs:.3} s: {:.0} packets/s{}",
            packets as f64 / secs,
            error.map(|e| format!(" ({e})")).unwrap_or_default()
        );
    }
}
