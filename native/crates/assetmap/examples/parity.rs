//! Parity run of the native asset map against the Python one (development tool).
//!
//! `parity EVENTS CONFIG OUT [REF]`: reads a Python `events.jsonl` and a configuration document
//! (`native/tools/assetmap_config.py`), observes every event (those of one flow direction
//! sharing their envelope, as the sensor's do), writes `assets.json`,
//! `graph.json` and `findings.json` into OUT and reports the time spent in `observe`. With REF
//! (a folder written by `native/tools/assetmap_ref.py`) it compares those files byte for byte,
//! the stats, the `zone_of` answers for every address at the end (before and after the
//! read-out) and, in a second run, the answers asked after single events (`zones.jsonl`);
//! exits 1 on any difference.

use icssa_assetmap::{write_pretty, AssetMap, ZoneInfo};
use icssa_core::event::{Envelope, Event};
use icssa_core::parity::event_from_json;
use serde_json::Value as J;
use std::collections::{BTreeMap, HashMap};
use std::io::BufRead;
use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

fn answer(z: Option<ZoneInfo>) -> J {
    match z {
        None => J::Null,
        Some(z) => serde_json::json!([z.zone.as_deref(), z.level]),
    }
}

fn read_lines(path: &Path) -> Vec<String> {
    let f = std::fs::File::open(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    std::io::BufReader::new(f)
        .lines()
        .map(|l| l.expect("a line"))
        .collect()
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.len() < 3 {
        eprintln!("usage: parity EVENTS CONFIG OUT [REF]");
        std::process::exit(2);
    }
    let (events_path, config_path, out) = (
        Path::new(&args[0]),
        Path::new(&args[1]),
        Path::new(&args[2]),
    );
    let reference = args.get(3).map(Path::new);
    let config = std::fs::read_to_string(config_path).expect("configuration");
    // the events of one flow direction share their envelope, and all the protocol names, as the
    // sensor makes them
    let mut shared: HashMap<String, Arc<Envelope>> = HashMap::new();
    let mut names: HashMap<String, &'static str> = HashMap::new();
    let events: Vec<Event> = read_lines(events_path)
        .iter()
        .map(|l| {
            let mut e = event_from_json(l);
            e.env = shared
                .entry(format!("{:?}", e.env))
                .or_insert_with(|| e.env.clone())
                .clone();
            e.dataset = names.entry(e.dataset.to_owned()).or_insert(e.dataset);
            e
        })
        .collect();

    let mut amap = AssetMap::from_config_json(&config).expect("a valid configuration");
    let started = Instant::now();
    for e in &events {
        amap.observe(e);
    }
    let spent = started.elapsed();
    println!(
        "{}: {} events, observe {:.3} s, {:.3} us/event; {:?}",
        events_path.display(),
        events.len(),
        spent.as_secs_f64(),
        spent.as_secs_f64() * 1e6 / events.len().max(1) as f64,
        amap.stats()
    );
    let mut ips: Vec<&str> = events
        .iter()
        .flat_map(|e| [e.env.src_ip.as_str(), e.env.dst_ip.as_str()])
        .collect();
    ips.sort_unstable();
    ips.dedup();
    let before: BTreeMap<&str, J> = ips
        .iter()
        .map(|ip| (*ip, answer(amap.zone_of(ip))))
        .collect();
    let started = Instant::now();
    let assets = amap.assets_json();
    let graph = amap.graph_json();
    println!("read-out {:.3} s", started.elapsed().as_secs_f64());
    let after: BTreeMap<&str, J> = ips
        .iter()
        .map(|ip| (*ip, answer(amap.zone_of(ip))))
        .collect();
    let findings = icssa_core::Value::List(
        amap.findings()
            .iter()
            .cloned()
            .map(icssa_core::Value::Map)
            .collect(),
    );
    let mut findings_json = Vec::new();
    write_pretty(&mut findings_json, &findings, 0);
    std::fs::create_dir_all(out).expect("output folder");
    std::fs::write(out.join("assets.json"), &assets).expect("write");
    std::fs::write(out.join("graph.json"), &graph).expect("write");
    std::fs::write(out.join("findings.json"), &findings_json).expect("write");

    let Some(reference) = reference else { return };
    let mut bad = 0;
    for (name, got) in [
        ("assets.json", &assets),
        ("graph.json", &graph),
        ("findings.json", &findings_json),
    ] {
        let want = std::fs::read(reference.join(name)).unwrap_or_default();
        let same = want == *got;
        println!("{name}: {}", if same { "identical" } else { "DIFFERENT" });
        bad += usize::from(!same);
    }
    let want: J = serde_json::from_slice(
        &std::fs::read(reference.join("zones_end.json")).expect("zones_end.json"),
    )
    .expect("zones_end JSON");
    for (label, got) in [("before", &before), ("after", &after)] {
        let mut wrong = 0;
        for (ip, answer) in got {
            if want[label].get(*ip) != Some(answer) {
                if wrong < 5 {
                    println!(
                        "zone_of({ip}) {label} the read-out: python {:?}, native {answer}",
                        want[label].get(*ip)
                    );
                }
                wrong += 1;
            }
        }
        println!(
            "zone_of at the end, {label} the read-out: {} addresses, {wrong} different",
            got.len()
        );
        bad += wrong;
    }
    let st = amap.stats();
    let stats = serde_json::json!({
        "events": st.events, "skipped": st.skipped, "records": st.records, "edges": st.edges,
        "evicted_records": st.evicted_records, "evicted_edges": st.evicted_edges,
        "capped_unit_edges": st.capped_unit_edges, "capped_units_per_ip": st.capped_units_per_ip,
        "capped_protocols": st.capped_protocols,
    });
    let want: J =
        serde_json::from_slice(&std::fs::read(reference.join("stats.json")).unwrap_or_default())
            .unwrap_or(J::Null);
    println!(
        "stats: {}",
        if want == stats {
            "identical".to_owned()
        } else {
            format!("DIFFERENT: python {want}")
        }
    );
    bad += usize::from(want != stats);
    let checks = read_lines(&reference.join("zones.jsonl"));
    if !checks.is_empty() {
        let mut amap = AssetMap::from_config_json(&config).expect("a valid configuration");
        let mut next = 0usize;
        let mut wrong = 0;
        for line in &checks {
            let check: J = serde_json::from_str(line).expect("zones line");
            let i = check[0].as_u64().unwrap_or(0) as usize;
            while next <= i && next < events.len() {
                amap.observe(&events[next]);
                next += 1;
            }
            let ip = check[1].as_str().unwrap_or("");
            let got = answer(amap.zone_of(ip));
            if got != check[2] {
                if wrong < 5 {
                    println!(
                        "zone_of({ip}) after event {i}: python {}, native {got}",
                        check[2]
                    );
                }
                wrong += 1;
            }
        }
        println!(
            "zone_of during the run: {} answers, {wrong} different",
            checks.len()
        );
        bad += wrong;
    }
    std::process::exit(i32::from(bad > 0));
}
