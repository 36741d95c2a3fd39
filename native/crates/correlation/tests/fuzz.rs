//! No panic on hostile events: pseudo-random events (fields dropped or of any type, NaN and
//! infinite numbers, absurd timestamps, deep lists) through the repository's rule set
//! (`tests/data/rules.json`, from `native/tools/correlation_rules.py`), with and without a zone
//! context, with the default caps and with tiny ones.

use icssa_core::json::{Map, Value};
use icssa_correlation::net::Net;
use icssa_correlation::{Engine, JsonEvent, Limits, NoContext, StaticZones, ZoneContext};

/// xorshift64*: deterministic, no extra crate.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    fn pick<'a, T>(&mut self, xs: &'a [T]) -> &'a T {
        &xs[self.below(xs.len())]
    }

    fn text(&mut self, xs: &[&'static str]) -> &'static str {
        xs[self.below(xs.len())]
    }
}

fn s(x: &str) -> Value {
    Value::Str(x.to_owned().into())
}

fn odd(r: &mut Rng, depth: u32) -> Value {
    match r.below(if depth > 3 { 9 } else { 12 }) {
        0 => Value::Null,
        1 => Value::Bool(r.below(2) == 1),
        2 => Value::Int(*r.pick(&[0, 1, -1, 502, 5, 43, i64::MIN, i64::MAX])),
        3 => Value::UInt(u64::MAX),
        4 => Value::Float(*r.pick(&[f64::NAN, f64::INFINITY, -0.0, 1.5, 1e300, -1e-300, 4.0])),
        5 => s(r.text(&[
            "",
            "x",
            "10.1.0.5",
            "10.2.0.9",
            "::1",
            "fe80::1%eth0",
            "bad_length",
            "é\u{2028}\0",
            "plc_stop",
        ])),
        6 => s(r.text(&[
            "read_coils",
            "write_single_coil",
            "diagnostics",
            "P_PROGRAM",
            "BadUserAccessDenied",
            "None",
            "admin",
        ])),
        7 => s(r.text(&[
            "2024-03-01T08:00:00.000000Z",
            "2024-03-01T08:00:00Z",
            "garbage",
            "9999-12-31T23:59:59.999999Z",
        ])),
        8 => Value::Int(r.below(70_000) as i64),
        9 => Value::List((0..r.below(4)).map(|_| odd(r, depth + 1)).collect()),
        10 => Value::Map(obj(r, depth + 1)),
        _ => Value::List(vec![
            Value::Map(obj(r, depth + 1)),
            Value::List(vec![odd(r, depth + 1)]),
        ]),
    }
}

fn obj(r: &mut Rng, depth: u32) -> Map {
    let keys = [
        "ip",
        "port",
        "id",
        "area",
        "flags",
        "is_response",
        "unit_id",
        "function_code",
        "address",
        "items",
        "zone",
    ];
    let mut m = Map::new();
    for _ in 0..r.below(5) {
        m.set(r.text(&keys).to_string(), odd(r, depth));
    }
    m
}

fn event(r: &mut Rng, t: &mut f64) -> JsonEvent {
    *t += *r.pick(&[0.0, 0.001, 0.5, 1.0, 61.0, 3601.0, 90_000.0, -5.0]);
    let datasets = [
        "modbus",
        "s7comm",
        "s7comm_plus",
        "cotp",
        "opcua",
        "icssa",
        "other",
    ];
    let ds = r.text(&datasets).to_string();
    let ts = match r.below(12) {
        0 => odd(r, 0),
        1 => Value::Float(*t),
        _ => s(&icssa_correlation::clock::iso(*t)),
    };
    let mut m = Map::new();
    let mut put = |r: &mut Rng, key: &str, v: Value| {
        if r.below(25) != 0 {
            m.set(key.to_owned(), v);
        }
    };
    put(r, "@timestamp", ts);
    let (id, action) = (odd(r, 3), odd(r, 3));
    put(
        r,
        "event",
        Value::Map(icssa_core::map! {"id" => id, "dataset" => s(&ds), "action" => action}),
    );
    for side in ["source", "destination"] {
        let ip = if r.below(6) == 0 {
            odd(r, 3)
        } else {
            s(r.text(&["10.1.0.5", "10.2.0.9", "10.1.0.7", "192.168.1.1"]))
        };
        let v = if r.below(15) == 0 {
            odd(r, 3)
        } else {
            Value::Map(icssa_core::map! {"ip" => ip, "port" => odd(r, 3)})
        };
        put(r, side, v);
    }
    let net = Value::Map(
        icssa_core::map! {"direction_to_server" => odd(r, 3), "community_id" => odd(r, 3)},
    );
    put(r, "network", net);
    let org = Value::Map(icssa_core::map! {"id" => s(r.text(&["default", "other"]))});
    put(r, "organization", org);
    let fields = Value::Map(obj(r, 1));
    put(r, &ds, fields);
    JsonEvent::new(m)
}

/// A sensor event (`icssa_core::event::Event`) with odd fields of its own.
fn sensor_event(r: &mut Rng, t: &mut f64) -> icssa_core::event::Event {
    use icssa_core::event::{Envelope, Event};
    *t += *r.pick(&[0.0, 0.25, 1.0, 30.0]);
    let ips = ["10.1.0.5", "10.2.0.9", "10.1.0.7", "x"];
    let env = Envelope::new(
        (r.text(&ips).to_string(), 40000, Some("02-00".into())),
        (
            r.text(&ips).to_string(),
            *r.pick(&[502, 102, 4840, 80]),
            None,
        ),
        "tcp",
        "modbus",
        "1:c".into(),
        r.below(2) == 0,
        "replay".into(),
        r.text(&["default", "other"]).into(),
    );
    let actions = [
        "read_coils",
        "write_single_coil",
        "diagnostics",
        "plc_stop",
        "read_szl",
        "activate_session",
        "hello",
    ];
    Event {
        ts_ns: 0,
        timestamp: icssa_correlation::clock::iso(*t).into(),
        id: format!("e{}", r.below(1000)),
        kind: "event",
        dataset: r.text(&["modbus", "s7comm", "opcua", "cotp"]),
        action: r.text(&actions).into(),
        env: std::sync::Arc::new(env),
        fields: obj(r, 1),
    }
}

#[test]
fn hostile_events_never_panic() {
    let doc = include_str!("data/rules.json");
    let net = |n: u32| Net {
        version: 4,
        network: u128::from(n),
        netmask: 0xffff_0000,
    };
    let tiny = Limits {
        groups: 3,
        learned: 3,
        window_entries: 10,
        evidence: 2,
        related_ip: 2,
        values: 2,
        open: 3,
        suppressed: 2,
        orgs: 1,
        zone_cache: 2,
        zone_ttl: 5.0,
    };
    for (seed, context, limits) in [
        (1, true, Limits::default()),
        (2, false, Limits::default()),
        (3, true, tiny),
        (4, false, tiny),
    ] {
        let mut engine =
            Engine::from_rules_json(doc, context, 30.0, limits).expect("the rules document");
        let mut zones = StaticZones::new(vec![
            (net(0x0a01_0000), Some("a".into()), 3.0),
            (net(0x0a02_0000), None, 1.0),
        ]);
        let mut none = NoContext;
        let ctx: &mut dyn ZoneContext = if context { &mut zones } else { &mut none };
        let mut r = Rng(0x9e37_79b9_7f4a_7c15 ^ seed);
        let mut t = 1_709_280_000.0;
        let mut alerts = 0;
        for _ in 0..2000 {
            alerts += engine.process(&event(&mut r, &mut t), ctx).len();
            alerts += engine.process(&sensor_event(&mut r, &mut t), ctx).len();
        }
        alerts += engine.flush().len();
        let st = engine.stats();
        assert_eq!(st.events, 4000);
        assert_eq!(st.alerts, alerts as u64);
        assert!(alerts > 0, "seed {seed}: the stream raises alerts");
    }
}
