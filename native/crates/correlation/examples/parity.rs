//! Parity runs of the native correlation engine against the Python one.
//!
//! Replay: the events of a Python `events.jsonl` through an engine built from the rules
//! document (`native/tools/correlation_rules.py`), the asset map's zone answers replayed from
//! `native/tools/correlation_zones.py` (each asked address checked), alerts written as JSON lines
//! (compare them with the Python run's `alerts.jsonl`); prints µs/event of `process`:
//!
//!     parity replay RULES.json ZONES.jsonl EVENTS.jsonl OUT.jsonl [ZONE_CACHE]
//!
//! (`ZONE_CACHE`: the size of the zone cache, as `correlation_zones.py --zone-cache` ran.)
//!
//! Cases: every run of `native/tools/correlation_ruletests.py` (rule test cases, hostile
//! streams), alerts compared byte for byte with the Python engine's:
//!
//!     parity cases CASES.jsonl...

use icssa_core::json::{write_map, Map};
use icssa_core::parity::{event_from_json, value_from_json};
use icssa_correlation::parse::network;
use icssa_correlation::{
    Answer, Engine, JsonEvent, Limits, StaticZones, ZoneContext, DEFAULT_BASELINE_SECONDS,
};
use serde_json::Value as J;
use std::io::{BufRead, BufWriter, Write};
use std::time::Instant;

/// The asset map's answers, in the order the Python engine asked for them.
struct Replayed {
    answers: Vec<(String, Answer)>,
    next: usize,
    wrong: Vec<String>,
}

impl ZoneContext for Replayed {
    fn zone_of(&mut self, ip: &str) -> Answer {
        let Some((want, answer)) = self.answers.get(self.next) else {
            self.wrong.push(format!(
                "zone_of({ip:?}) asked after the {} recorded answers",
                self.answers.len()
            ));
            return None;
        };
        self.next += 1;
        if want != ip {
            self.wrong.push(format!(
                "answer {}: zone_of({ip:?}) asked, Python asked zone_of({want:?})",
                self.next
            ));
        }
        answer.clone()
    }
}

fn lines(path: &str) -> impl Iterator<Item = String> {
    let file = std::fs::File::open(path).unwrap_or_else(|e| panic!("{path}: {e}"));
    std::io::BufReader::new(file)
        .lines()
        .map(|l| l.expect("a line"))
        .filter(|l| !l.trim().is_empty())
}

fn alert_line(a: &Map) -> Vec<u8> {
    let mut out = Vec::with_capacity(2048);
    write_map(&mut out, a);
    out
}

fn replay(
    rules: &str,
    zones: &str,
    events_path: &str,
    out: &str,
    zone_cache: Option<&String>,
) -> bool {
    let doc = std::fs::read_to_string(rules).unwrap_or_else(|e| panic!("{rules}: {e}"));
    let mut limits = Limits::default();
    if let Some(n) = zone_cache {
        limits.zone_cache = n.parse().expect("a zone cache size");
    }
    let mut engine =
        Engine::from_rules_json(&doc, true, DEFAULT_BASELINE_SECONDS, limits).expect("rules");
    let answers = lines(zones)
        .map(|l| {
            let j: J = serde_json::from_str(&l).expect("zone answer");
            let answer = j[1]
                .as_array()
                .map(|a| (a[0].as_str().map(str::to_owned), a[1].as_f64()));
            (j[0].as_str().unwrap_or("").to_owned(), answer)
        })
        .collect();
    let mut ctx = Replayed {
        answers,
        next: 0,
        wrong: Vec::new(),
    };
    // each event is processed right after it is read (in cache, as the sensor hands it over);
    // only process and flush are timed
    let mut alerts = Vec::new();
    let mut took = std::time::Duration::ZERO;
    let mut n = 0usize;
    for l in lines(events_path) {
        let e = event_from_json(&l);
        let started = Instant::now();
        alerts.extend(engine.process(&e, &mut ctx));
        took += started.elapsed();
        n += 1;
    }
    let started = Instant::now();
    alerts.extend(engine.flush());
    took += started.elapsed();
    let mut w = BufWriter::new(std::fs::File::create(out).unwrap_or_else(|e| panic!("{out}: {e}")));
    for a in &alerts {
        w.write_all(&alert_line(a)).expect("write");
        w.write_all(b"\n").expect("write");
    }
    let per = took.as_secs_f64() * 1e6 / n.max(1) as f64;
    println!(
        "{events_path}: {} events, {} alerts, {:.3} s in process/flush = {per:.3} µs/event; zone answers used {}/{}",
        n,
        alerts.len(),
        took.as_secs_f64(),
        ctx.next,
        ctx.answers.len()
    );
    println!("stats: {:?}", engine.stats());
    for wrong in ctx.wrong.iter().take(5) {
        println!("  {wrong}");
    }
    ctx.wrong.is_empty() && ctx.next == ctx.answers.len()
}

fn limits(j: &J) -> Limits {
    let n = |k: &str| j[k].as_u64().unwrap_or(0) as usize;
    Limits {
        groups: n("groups"),
        learned: n("learned"),
        window_entries: n("window_entries"),
        evidence: n("evidence"),
        related_ip: n("related_ip"),
        values: n("values"),
        open: n("open"),
        suppressed: n("suppressed"),
        orgs: n("orgs"),
        zone_cache: n("zone_cache"),
        zone_ttl: j["zone_ttl"].as_f64().unwrap_or(0.0),
    }
}

fn cases(path: &str) -> bool {
    let (mut runs, mut same, mut agree) = (0, 0, 0);
    let mut total = icssa_correlation::Stats::default();
    let mut shown = 0;
    for l in lines(path) {
        let run: J = serde_json::from_str(&l).expect("a run");
        runs += 1;
        let name = run["name"].as_str().unwrap_or("?");
        let lim = if run["limits"].is_null() {
            Limits::default()
        } else {
            limits(&run["limits"])
        };
        let baseline = run["baseline_seconds"]
            .as_f64()
            .unwrap_or(DEFAULT_BASELINE_SECONDS);
        let mut zones = run["zones"].as_array().map(|nets| {
            StaticZones::new(
                nets.iter()
                    .map(|n| {
                        (
                            network(n).expect("network"),
                            n[3].as_str().map(str::to_owned),
                            n[4].as_f64().unwrap_or(0.0),
                        )
                    })
                    .collect(),
            )
        });
        let mut engine = match Engine::from_rules(&run["rules"], zones.is_some(), baseline, lim) {
            Ok(e) => e,
            Err(e) => {
                println!("{name}: {e}");
                continue;
            }
        };
        let mut none = icssa_correlation::NoContext;
        let ctx: &mut dyn ZoneContext = match zones.as_mut() {
            Some(z) => z,
            None => &mut none,
        };
        let mut got = Vec::new();
        for e in run["events"].as_array().expect("events") {
            let map = match value_from_json(e) {
                icssa_core::Value::Map(m) => m,
                _ => Map::new(),
            };
            got.extend(engine.process(&JsonEvent::new(map), ctx));
        }
        got.extend(engine.flush());
        let st = engine.stats();
        total.events += st.events;
        total.matches += st.matches;
        total.alerts += st.alerts;
        total.suppressed += st.suppressed;
        total.closed_early += st.closed_early;
        total.state_evicted += st.state_evicted;
        total.bad_timestamp += st.bad_timestamp;
        let got: Vec<String> = got
            .iter()
            .map(|a| String::from_utf8(alert_line(a)).expect("UTF-8"))
            .collect();
        let want: Vec<&str> = run["alerts"]
            .as_array()
            .expect("alerts")
            .iter()
            .filter_map(J::as_str)
            .collect();
        let fired = !got.is_empty();
        match run["expect"].as_str() {
            Some("fire") if !fired => println!("{name}: no alert (a fire case)"),
            Some("silent") if fired => println!("{name}: {} alerts (a silent case)", got.len()),
            _ => agree += 1,
        }
        if got == want {
            same += 1;
        } else if shown < 5 {
            shown += 1;
            println!("{name}: {} alerts, Python {}", got.len(), want.len());
            if let Some(i) = (0..got.len().max(want.len()))
                .find(|&i| got.get(i).map(String::as_str) != want.get(i).copied())
            {
                println!(
                    "  first difference at alert {i}:\n  native: {:?}\n  python: {:?}",
                    got.get(i),
                    want.get(i)
                );
            }
        }
    }
    println!("{path}: {runs} runs, {same} with the same alerts, {agree} fire/silent as expected");
    println!("  in all: {total:?}");
    same == runs && agree == runs
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let ok = match args.first().map(String::as_str) {
        Some("replay") if args.len() == 5 || args.len() == 6 => {
            replay(&args[1], &args[2], &args[3], &args[4], args.get(5))
        }
        Some("cases") => args[1..].iter().all(|p| cases(p)),
        _ => {
            eprintln!(
                "usage: parity replay RULES ZONES EVENTS OUT [ZONE_CACHE] | parity cases FILE..."
            );
            false
        }
    };
    std::process::exit(if ok { 0 } else { 1 });
}
