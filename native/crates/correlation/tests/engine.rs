//! The engine's behaviour on small hand-made rule sets (rules/README.md): thresholds,
//! aggregation windows, suppression, sequences, first-seen baselines, zones, caps.

use icssa_core::json::{write_map, Map, Value};
use icssa_core::parity::value_from_json;
use icssa_correlation::net::Net;
use icssa_correlation::{Answer, Engine, JsonEvent, Limits, NoContext, StaticZones, ZoneContext};
use serde_json::{json, Value as J};

fn field(path: &str, id: u32, op: J) -> J {
    json!({"field": path, "id": id, "exists": null, "negate": false, "scalar_only": true, "ops": [op]})
}

fn modbus_request() -> J {
    json!({"group": "all", "children": [
        field("event.dataset", 0, json!({"op": "eq", "value": "modbus"})),
        field("modbus.is_response", 1, json!({"op": "eq", "value": false})),
    ]})
}

fn rule(id: &str, kind: &str, m: J, extra: J) -> J {
    let mut r = json!({
        "id": id, "title": format!("Rule {id}"), "description": "A rule.", "reference": "https://example.invalid/",
        "ruleset": "rules", "version": "1", "kind": kind, "severity": 50, "tags": ["attack.t0855"],
        "technique": {"id": ["T0855"], "name": ["Unauthorized Command Message"],
                      "reference": ["https://attack.mitre.org/versions/v15/techniques/T0855/"]},
        "tactic": {"id": ["TA0106"], "name": ["Impair Process Control"],
                   "reference": ["https://attack.mitre.org/versions/v15/tactics/TA0106/"]},
        "match": m, "threshold": null, "sequence": null, "first_seen": null, "rate": null,
        "aggregate": {"window": 60.0, "group_by": ["source.ip", "destination.ip"]},
        "suppress": {"window": 0.0, "group_by": ["source.ip", "destination.ip"]}, "shares": null,
    });
    for (k, v) in extra.as_object().expect("an object") {
        r[k] = v.clone();
    }
    r
}

fn engine(rules: Vec<J>, context: bool, baseline: f64, limits: Limits) -> Engine {
    let doc = json!({
        "format": 1, "datasets": ["cotp", "icssa", "modbus", "opcua", "s7comm", "s7comm_plus"],
        "attack": {"framework": "MITRE ATT&CK for ICS", "version": "v15"}, "rules": rules, "errors": [],
    });
    Engine::from_rules(&doc, context, baseline, limits).expect("rules")
}

/// A Modbus request from `src` to `dst` at second `sec` of 2024-03-01 08:00.
fn ev(sec: u32, src: &str, dst: &str, action: &str, id: &str) -> JsonEvent {
    let j = json!({
        "@timestamp": format!("2024-03-01T08:{:02}:{:02}.{:06}Z", sec / 60, sec % 60, sec),
        "event": {"id": id, "kind": "event", "dataset": "modbus", "action": action},
        "source": {"ip": src, "port": 40000}, "destination": {"ip": dst, "port": 502},
        "network": {"transport": "tcp", "community_id": "1:abc", "direction_to_server": true},
        "observer": {"name": "replay"}, "organization": {"id": "default"},
        "modbus": {"is_response": false, "function_code": 5},
    });
    match value_from_json(&j) {
        Value::Map(m) => JsonEvent::new(m),
        _ => unreachable!("an object"),
    }
}

fn text(a: &Map) -> J {
    let mut out = Vec::new();
    write_map(&mut out, a);
    serde_json::from_slice(&out).expect("JSON")
}

#[test]
fn threshold_fires_at_its_count_then_aggregates_until_the_window_ends() {
    let r = rule(
        "burst",
        "threshold",
        modbus_request(),
        json!({"threshold": {"count": 3, "window": 10.0, "group_by": ["source.ip"], "distinct": null},
               "aggregate": {"window": 60.0, "group_by": ["source.ip"]}}),
    );
    let mut e = engine(vec![r], false, 86_400.0, Limits::default());
    let mut ctx = NoContext;
    for i in 0..6 {
        assert!(e
            .process(
                &ev(
                    i,
                    "10.0.0.1",
                    "10.0.0.2",
                    "write_single_coil",
                    &format!("e{i}")
                ),
                &mut ctx
            )
            .is_empty());
    }
    // two events of another source: below the count
    for i in 0..2 {
        assert!(e
            .process(
                &ev(i, "10.0.0.9", "10.0.0.2", "write_single_coil", "x"),
                &mut ctx
            )
            .is_empty());
    }
    // the alert opened at second 2 leaves once its 60 s have passed
    let out = e.process(
        &ev(63, "10.0.0.7", "10.0.0.2", "read_coils", "late"),
        &mut ctx,
    );
    assert_eq!(out.len(), 1);
    let a = text(&out[0]);
    assert_eq!(a["event"]["count"], 6);
    assert_eq!(
        a["related"]["events"],
        json!(["e0", "e1", "e2", "e3", "e4", "e5"])
    );
    assert_eq!(a["related"]["ip"], json!(["10.0.0.1", "10.0.0.2"]));
    assert_eq!(a["event"]["start"], "2024-03-01T08:00:00.000000Z");
    assert_eq!(a["event"]["end"], "2024-03-01T08:00:05.000005Z");
    assert_eq!(a["@timestamp"], "2024-03-01T08:00:02.000002Z");
    assert_eq!(
        a["icssa"]["alert"]["group"],
        json!({"source.ip": "10.0.0.1"})
    );
    assert_eq!(a["message"], "Rule burst: 10.0.0.1 -> 10.0.0.2 (6 events)");
    assert_eq!(a["rule"]["category"], "threshold");
    assert_eq!(a["network"]["community_id"], "1:abc");
    assert_eq!(a["event"]["id"].as_str().map(str::len), Some(32));
    assert!(e.flush().is_empty());
}

#[test]
fn suppression_keeps_a_rule_quiet_for_its_group() {
    let r = rule(
        "write",
        "match",
        modbus_request(),
        json!({"aggregate": {"window": 0.0, "group_by": ["source.ip", "destination.ip"]},
               "suppress": {"window": 3600.0, "group_by": ["destination.ip"]}}),
    );
    let mut e = engine(vec![r], false, 86_400.0, Limits::default());
    let mut ctx = NoContext;
    let a = e.process(
        &ev(0, "10.0.0.1", "10.0.0.2", "write_single_coil", "a"),
        &mut ctx,
    );
    let b = e.process(
        &ev(10, "10.0.0.3", "10.0.0.2", "write_single_coil", "b"),
        &mut ctx,
    );
    let c = e.process(
        &ev(20, "10.0.0.1", "10.0.0.4", "write_single_coil", "c"),
        &mut ctx,
    );
    assert_eq!((a.len(), b.len(), c.len()), (1, 0, 1));
    assert_eq!(e.stats().suppressed, 1);
    assert_eq!(text(&c[0])["related"]["events"], json!(["c"]));
}

#[test]
fn a_sequence_alerts_when_its_steps_come_in_order_within_the_window() {
    let step =
        |id: u32, action: &str| field("event.action", id, json!({"op": "eq", "value": action}));
    let seq = json!({"window": 600.0, "group_by": ["source.ip", "destination.ip"], "steps": [
        {"name": "stop", "match": {"group": "all", "children": [modbus_request(), step(10, "diagnostics")]}},
        {"name": "start", "match": {"group": "all", "children": [modbus_request(), step(11, "write_single_coil")]}},
    ]});
    let r = rule(
        "seq",
        "sequence",
        json!({"group": "all", "children": []}),
        json!({"sequence": seq}),
    );
    let mut e = engine(vec![r], false, 86_400.0, Limits::default());
    let mut ctx = NoContext;
    e.process(
        &ev(0, "10.0.0.9", "10.0.0.2", "write_single_coil", "lone start"),
        &mut ctx,
    );
    e.process(
        &ev(1, "10.0.0.1", "10.0.0.2", "diagnostics", "s1"),
        &mut ctx,
    );
    e.process(
        &ev(5, "10.0.0.1", "10.0.0.2", "write_single_coil", "s2"),
        &mut ctx,
    );
    let out = e.flush();
    assert_eq!(out.len(), 1);
    let a = text(&out[0]);
    assert_eq!(a["icssa"]["alert"]["sequence"], json!(["stop", "start"]));
    assert_eq!(a["related"]["events"], json!(["s1", "s2"]));
}

#[test]
fn first_seen_learns_during_the_baseline_and_alerts_after_it() {
    let r = rule(
        "new",
        "first_seen",
        modbus_request(),
        json!({"first_seen": {"key": ["source.ip"], "known": []},
               "aggregate": {"window": 60.0, "group_by": ["source.ip"]}}),
    );
    let mut e = engine(vec![r], false, 100.0, Limits::default());
    let mut ctx = NoContext;
    e.process(&ev(0, "10.0.0.1", "10.0.0.2", "read_coils", "a0"), &mut ctx);
    e.process(
        &ev(200, "10.0.0.1", "10.0.0.2", "read_coils", "a1"),
        &mut ctx,
    );
    e.process(
        &ev(300, "10.0.0.5", "10.0.0.2", "read_coils", "b0"),
        &mut ctx,
    );
    let out = e.flush();
    assert_eq!(out.len(), 1);
    assert_eq!(
        text(&out[0])["icssa"]["alert"]["group"],
        json!({"source.ip": "10.0.0.5"})
    );
}

/// Counts the questions it answers (10.1.0.0/16: zone a, 10.2.0.0/16: zone b).
struct Counting(StaticZones, usize);

impl ZoneContext for Counting {
    fn zone_of(&mut self, ip: &str) -> Answer {
        self.1 += 1;
        self.0.zone_of(ip)
    }
}

#[test]
fn zones_come_from_the_context_once_per_address() {
    let crossing = json!({"field": "context.zone_crossing", "id": 5, "exists": null, "negate": false,
                          "scalar_only": true, "ops": [{"op": "eq", "value": true}]});
    let r = rule(
        "cross",
        "match",
        json!({"group": "all", "children": [modbus_request(), crossing]}),
        json!({}),
    );
    let mut e = engine(vec![r], true, 86_400.0, Limits::default());
    let net = |n: u32| Net {
        version: 4,
        network: u128::from(n),
        netmask: 0xffff_0000,
    };
    let zones = StaticZones::new(vec![
        (net(0x0a01_0000), Some("a".into()), 3.0),
        (net(0x0a02_0000), Some("b".into()), 1.0),
    ]);
    let mut ctx = Counting(zones, 0);
    e.process(&ev(0, "10.1.0.1", "10.2.0.1", "read_coils", "x"), &mut ctx);
    e.process(
        &ev(1, "10.1.0.1", "10.1.0.2", "read_coils", "same zone"),
        &mut ctx,
    );
    e.process(&ev(2, "10.1.0.1", "10.2.0.1", "read_coils", "y"), &mut ctx);
    assert_eq!(ctx.1, 3); // 10.1.0.1, 10.2.0.1, 10.1.0.2
    let out = e.flush();
    assert_eq!(out.len(), 1);
    assert_eq!(text(&out[0])["related"]["events"], json!(["x", "y"]));
}

#[test]
fn open_alerts_are_capped_and_the_oldest_leaves_first() {
    let r = rule("w", "match", modbus_request(), json!({}));
    let limits = Limits {
        open: 2,
        ..Limits::default()
    };
    let mut e = engine(vec![r], false, 86_400.0, limits);
    let mut ctx = NoContext;
    assert!(e
        .process(&ev(0, "10.0.0.1", "10.0.0.2", "read_coils", "a"), &mut ctx)
        .is_empty());
    assert!(e
        .process(&ev(0, "10.0.0.3", "10.0.0.2", "read_coils", "b"), &mut ctx)
        .is_empty());
    let out = e.process(&ev(0, "10.0.0.5", "10.0.0.2", "read_coils", "c"), &mut ctx);
    assert_eq!(out.len(), 1);
    assert_eq!(text(&out[0])["related"]["events"], json!(["a"]));
    assert_eq!(e.stats().closed_early, 1);
    assert_eq!(e.flush().len(), 2);
}

/// Writes down the addresses it is asked about.
struct Asked(StaticZones, Vec<String>);

impl ZoneContext for Asked {
    fn zone_of(&mut self, ip: &str) -> Answer {
        self.1.push(ip.to_owned());
        self.0.zone_of(ip)
    }
}

#[test]
fn zones_are_asked_where_the_generated_test_loads_them() {
    // r1: direction true, then zone crossing; r2: level gap first. The generated test loads
    // both ends by statements in r1's block, and again by statements before r2's test; with a
    // cache of one answer, each load misses (CPython 3.11: the same four questions, in order)
    let dataset = || field("event.dataset", 0, json!({"op": "eq", "value": "modbus"}));
    let ctx_field = |path: &str, id: u32, op: J| json!({"field": path, "id": id, "exists": null, "negate": false, "scalar_only": true, "ops": [op]});
    let r1 = rule(
        "r1",
        "match",
        json!({"group": "all", "children": [
            dataset(),
            field("network.direction_to_server", 1, json!({"op": "eq", "value": true})),
            ctx_field("context.zone_crossing", 2, json!({"op": "eq", "value": true})),
        ]}),
        json!({}),
    );
    let gap = json!({"op": "range", "bounds": [["gte", 1]]});
    let r2 = rule(
        "r2",
        "match",
        json!({"group": "all", "children": [dataset(), ctx_field("context.level_gap", 3, gap)]}),
        json!({}),
    );
    let limits = Limits {
        zone_cache: 1,
        ..Limits::default()
    };
    let mut e = engine(vec![r1, r2], true, 86_400.0, limits);
    let net = |n: u32| Net {
        version: 4,
        network: u128::from(n),
        netmask: 0xffff_0000,
    };
    let zones = StaticZones::new(vec![
        (net(0x0a01_0000), Some("a".into()), 3.0),
        (net(0x0a02_0000), Some("b".into()), 1.0),
    ]);
    let mut ctx = Asked(zones, Vec::new());
    e.process(&ev(0, "10.1.0.1", "10.2.0.1", "read_coils", "x"), &mut ctx);
    assert_eq!(ctx.1, ["10.1.0.1", "10.2.0.1", "10.1.0.1", "10.2.0.1"]);
    assert_eq!(e.flush().len(), 2);
}
