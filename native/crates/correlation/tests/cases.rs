//! The rules' own test cases (`tests.fire` / `tests.silent` of every rule file), each through
//! an engine holding only its rule, as `tests/test_rules.py` runs them: the alerts must be the
//! Python engine's, byte for byte. `tests/data/cases.jsonl` was written by
//! `python native/tools/correlation_ruletests.py --out native/crates/correlation/tests/data/cases.jsonl`.

use icssa_core::json::{write_map, Map};
use icssa_core::parity::value_from_json;
use icssa_correlation::parse::network;
use icssa_correlation::{
    Engine, JsonEvent, Limits, NoContext, StaticZones, ZoneContext, DEFAULT_BASELINE_SECONDS,
};
use serde_json::Value as J;

fn run(case: &J) -> Vec<String> {
    let baseline = case["baseline_seconds"]
        .as_f64()
        .unwrap_or(DEFAULT_BASELINE_SECONDS);
    let mut zones = case["zones"].as_array().map(|nets| {
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
    let mut engine =
        Engine::from_rules(&case["rules"], zones.is_some(), baseline, Limits::default())
            .expect("rules");
    let mut none = NoContext;
    let ctx: &mut dyn ZoneContext = match zones.as_mut() {
        Some(z) => z,
        None => &mut none,
    };
    let mut alerts: Vec<Map> = Vec::new();
    for e in case["events"].as_array().expect("events") {
        let map = match value_from_json(e) {
            icssa_core::Value::Map(m) => m,
            _ => Map::new(),
        };
        alerts.extend(engine.process(&JsonEvent::new(map), ctx));
    }
    alerts.extend(engine.flush());
    alerts
        .iter()
        .map(|a| {
            let mut out = Vec::new();
            write_map(&mut out, a);
            String::from_utf8(out).expect("UTF-8")
        })
        .collect()
}

#[test]
fn rule_test_cases_raise_the_python_engines_alerts() {
    let (mut n, mut fire, mut bad) = (0, 0, Vec::new());
    for line in include_str!("data/cases.jsonl").lines() {
        let case: J = serde_json::from_str(line).expect("a case");
        let name = case["name"].as_str().unwrap_or("?").to_owned();
        let got = run(&case);
        let want: Vec<&str> = case["alerts"]
            .as_array()
            .expect("alerts")
            .iter()
            .filter_map(J::as_str)
            .collect();
        n += 1;
        match case["expect"].as_str() {
            Some("fire") => {
                fire += 1;
                if got.is_empty() {
                    bad.push(format!("{name}: no alert"));
                }
            }
            Some("silent") if !got.is_empty() => bad.push(format!("{name}: {} alerts", got.len())),
            _ => {}
        }
        if got != want {
            bad.push(format!(
                "{name}: alerts differ\n native: {got:?}\n python: {want:?}"
            ));
        }
    }
    assert!(
        n >= 100 && fire >= 50,
        "the fixture holds the cases ({n} runs, {fire} fire)"
    );
    assert!(bad.is_empty(), "{}", bad.join("\n"));
}
