//! Time of `AssetMap::observe` per event (development tool).
//!
//! `bench EVENTS CONFIG [ROUNDS]`: feeds the events of a Python `events.jsonl` to a fresh asset
//! map ROUNDS times (default 5) and prints the best round's time in `observe` per event. As in
//! the replay, each event is observed soon after it is made (events are read in batches of 64,
//! and only `observe` is timed), and the events of one flow direction share their envelope,
//! and all of them the protocol names.

use icssa_assetmap::AssetMap;
use icssa_core::event::{Envelope, Event};
use icssa_core::parity::event_from_json;
use std::collections::HashMap;
use std::io::BufRead;
use std::sync::Arc;
use std::time::{Duration, Instant};

const BATCH: usize = 64;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.len() < 2 {
        eprintln!("usage: bench EVENTS CONFIG [ROUNDS]");
        std::process::exit(2);
    }
    let config = std::fs::read_to_string(&args[1]).expect("configuration");
    let rounds: usize = args.get(2).and_then(|r| r.parse().ok()).unwrap_or(5);
    let file = std::fs::File::open(&args[0]).expect("events");
    let lines: Vec<String> = std::io::BufReader::new(file)
        .lines()
        .map(|l| l.expect("a line"))
        .collect();
    let mut best = f64::INFINITY;
    let mut setup = f64::INFINITY;
    for _ in 0..rounds {
        let started = Instant::now();
        let mut amap = AssetMap::from_config_json(&config).expect("a valid configuration");
        setup = setup.min(started.elapsed().as_secs_f64());
        let mut shared: HashMap<String, Arc<Envelope>> = HashMap::new();
        let mut names: HashMap<String, &'static str> = HashMap::new();
        let mut spent = Duration::ZERO;
        for chunk in lines.chunks(BATCH) {
            let events: Vec<Event> = chunk
                .iter()
                .map(|l| {
                    let mut e = event_from_json(l);
                    let key = format!("{:?}", e.env);
                    e.env = shared.entry(key).or_insert_with(|| e.env.clone()).clone();
                    e.dataset = names.entry(e.dataset.to_owned()).or_insert(e.dataset);
                    e
                })
                .collect();
            let started = Instant::now();
            for e in &events {
                amap.observe(e);
            }
            spent += started.elapsed();
        }
        best = best.min(spent.as_secs_f64());
        std::hint::black_box(amap.stats());
    }
    println!(
        "{} events: observe {:.3} us/event (best of {rounds}); from_config {:.1} ms",
        lines.len(),
        best * 1e6 / lines.len().max(1) as f64,
        setup * 1e3
    );
}
