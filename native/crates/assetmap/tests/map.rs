//! The asset map from hand-built events: roles, levels, grouping by MAC, identity, findings,
//! advisories, caps, and no panic on random events. Expected values follow the tables of
//! `assetmap/roles.py`, `exposure.py` and `store.py` (the Python reference).

use icssa_assetmap::{AssetMap, ZoneInfo};
use icssa_core::event::{Envelope, Event};
use icssa_core::{map, Map, Value};
use std::sync::Arc;

const CONFIG: &str = r#"{
  "max_assets": 1000,
  "max_edges": null,
  "site": null,
  "advisories": [
    {"id": "ADV-1", "record": {"id": "ADV-1", "title": "t", "cvss": {"version": "3.1", "score": 7.5}},
     "affected": [{"vendor": "Siemens", "vendor_key": "siemens", "products": ["^CPU\\s*31[2-9]"],
                   "versions": [{"lt": "V3.X.16"}]}]},
    {"id": "ADV-2", "record": {"id": "ADV-2", "title": "u"},
     "affected": [{"vendor": "Siemens", "vendor_key": "siemens", "products": ["^CPU"]}]}
  ],
  "fingerprints": [
    {"id": "s7-300", "match": {"module_type_name": "^CPU\\s*31[2-9]"},
     "result": {"vendor": "Siemens", "family": "SIMATIC S7-300", "device_type": "plc"}, "confidence": 0.85}
  ],
  "vendors": [["^siemens\\b", "Siemens"], ["^schneider\\b", "Schneider Electric"]],
  "oui": {"00:1b:1b": "Siemens"}
}"#;

fn config(site: Option<&str>, max_assets: usize) -> String {
    let mut doc: serde_json::Value = serde_json::from_str(CONFIG).unwrap();
    doc["max_assets"] = max_assets.into();
    if let Some(site) = site {
        doc["site"] = serde_json::from_str(site).unwrap();
    }
    doc.to_string()
}

struct Msg<'a> {
    t: u32,
    dataset: &'static str,
    action: &'a str,
    src: (&'a str, u16, Option<&'a str>),
    dst: (&'a str, u16, Option<&'a str>),
    to_server: bool,
    fields: Map,
}

fn event(m: Msg<'_>, n: usize) -> Event {
    let side = |s: (&str, u16, Option<&str>)| (s.0.to_owned(), s.1, s.2.map(str::to_owned));
    let env = Envelope::new(
        side(m.src),
        side(m.dst),
        "tcp",
        m.dataset,
        "1:x".into(),
        m.to_server,
        Arc::from("replay"),
        Arc::from("default"),
    );
    Event {
        ts_ns: 0,
        timestamp: format!("2026-01-01T00:{:02}:{:02}.000000Z", m.t / 60, m.t % 60).into(),
        id: format!("e{n}"),
        kind: "event",
        dataset: m.dataset,
        action: m.action.to_owned().into(),
        env: Arc::new(env),
        fields: m.fields,
    }
}

/// A request and its response between a client and a server at second `t`.
fn exchange(
    out: &mut Vec<Event>,
    t: u32,
    dataset: &'static str,
    action: &str,
    client: &str,
    server: (&str, u16),
    response: Map,
) {
    let (c, s) = ((client, 40000, None), (server.0, server.1, None));
    let n = out.len();
    out.push(event(
        Msg {
            t,
            dataset,
            action,
            src: c,
            dst: s,
            to_server: true,
            fields: Map::new(),
        },
        n,
    ));
    out.push(event(
        Msg {
            t,
            dataset,
            action,
            src: s,
            dst: c,
            to_server: false,
            fields: response,
        },
        n + 1,
    ));
}

fn asset(m: &mut AssetMap, id: &str) -> Map {
    m.assets()
        .iter()
        .find(|a| a.get("id").and_then(Value::as_str) == Some(id))
        .cloned()
        .unwrap_or_else(|| panic!("no {id}"))
}

fn strs(v: Option<&Value>) -> Vec<String> {
    match v {
        Some(Value::List(l)) => l
            .iter()
            .filter_map(|x| x.as_str().map(str::to_owned))
            .collect(),
        _ => Vec::new(),
    }
}

#[test]
fn roles_levels_and_zones_from_behaviour() {
    let mut events = Vec::new();
    for t in 0..6 {
        // an HMI polls every 2 s: cyclic reads (4 or more, no spread)
        exchange(
            &mut events,
            2 * t,
            "modbus",
            "read_holding_registers",
            "10.0.2.1",
            ("10.0.1.1", 502),
            Map::new(),
        );
    }
    exchange(
        &mut events,
        20,
        "s7comm",
        "plc_stop",
        "10.0.3.1",
        ("10.0.1.2", 102),
        Map::new(),
    );
    let mut m = AssetMap::from_config_json(&config(None, 1000)).unwrap();
    for e in &events {
        m.observe(e);
    }
    // before the read-out, zone_of folds the asset and its peers
    let plc = m.zone_of("10.0.1.1");
    assert_eq!(
        plc,
        Some(ZoneInfo {
            zone: None,
            level: 1.0
        })
    );
    assert_eq!(m.zone_of("10.0.2.1").map(|z| z.level), Some(2.0));
    assert_eq!(m.zone_of("10.9.9.9"), None);
    assert_eq!(
        m.zone_of("8.8.8.8"),
        Some(ZoneInfo {
            zone: Some("internet".into()),
            level: 5.0
        })
    );
    let a = asset(&mut m, "ip:10.0.1.1");
    assert_eq!(strs(a.get("roles")), ["plc"]);
    assert_eq!(strs(a.get("services")), ["modbus/502"]);
    assert_eq!(a.get("purdue_level"), Some(&Value::Float(1.0)));
    assert_eq!(a.get("level_source"), Some(&Value::from("roles")));
    let roles = a
        .get("evidence")
        .and_then(Value::as_map)
        .and_then(|e| e.get("roles"))
        .cloned();
    let Some(Value::List(roles)) = roles else {
        panic!("roles evidence")
    };
    assert_eq!(
        roles[0].as_map().and_then(|r| r.get("confidence")),
        Some(&Value::Float(0.9))
    ); // on 502
    assert_eq!(strs(asset(&mut m, "ip:10.0.2.1").get("roles")), ["hmi"]);
    assert_eq!(
        strs(asset(&mut m, "ip:10.0.3.1").get("roles")),
        ["engineering_workstation"]
    );
    // after the read-out the snapshot answers, with the same values
    assert_eq!(m.zone_of("10.0.1.1"), plc);
    let graph = m.graph_node_link();
    let edges = graph.as_map().and_then(|g| g.get("edges")).cloned();
    let Some(Value::List(edges)) = edges else {
        panic!("edges")
    };
    let first = edges[0].as_map().unwrap();
    assert_eq!(first.get("source"), Some(&Value::from("ip:10.0.2.1")));
    assert_eq!(first.get("reads"), Some(&Value::UInt(6)));
    assert_eq!(first.get("events"), Some(&Value::UInt(12)));
}

#[test]
fn site_zones_and_exposure() {
    let site = r#"{"zones": [{"name": "office", "level": 4.0}, {"name": "cell", "level": 1.0}],
                   "nets4": [["ffffff00", "0a000300", 0], ["ffff0000", "0a000000", 1]], "nets6": []}"#;
    let mut events = Vec::new();
    exchange(
        &mut events,
        1,
        "modbus",
        "write_single_register",
        "10.0.3.1",
        ("10.0.1.1", 502),
        Map::new(),
    );
    let mut m = AssetMap::from_config_json(&config(Some(site), 1000)).unwrap();
    for e in &events {
        m.observe(e);
    }
    assert_eq!(
        m.zone_of("10.0.3.1"),
        Some(ZoneInfo {
            zone: Some("office".into()),
            level: 4.0
        })
    );
    assert_eq!(
        m.zone_of("10.0.200.1"),
        Some(ZoneInfo {
            zone: Some("cell".into()),
            level: 1.0
        })
    );
    let kinds: Vec<(String, String)> = m
        .findings()
        .iter()
        .map(|f| {
            (
                f.get("kind").and_then(Value::as_str).unwrap().into(),
                f.get("severity").and_then(Value::as_str).unwrap().into(),
            )
        })
        .collect();
    // a level-4 host writes to a controller: its talking to it is critical (it changes
    // something), the change itself high (no control operation)
    assert_eq!(
        kinds,
        [
            ("change_from_outside_levels_2_3".into(), "high".into()),
            ("controller_untrusted_peer".into(), "critical".into())
        ]
    );
    let plc = asset(&mut m, "ip:10.0.1.1");
    assert_eq!(plc.get("level_source"), Some(&Value::from("site")));
    let Some(Value::List(exposure)) = plc.get("exposure") else {
        panic!("exposure")
    };
    assert_eq!(exposure.len(), 2);
}

#[test]
fn identity_fingerprint_advisories_and_protection() {
    let identity = map! {
        "module_type_name" => "CPU 315-2 PN/DP\u{0}",
        "firmware_version" => " V3.2.6 ",
        "protection_level" => 1u8,
        "order_number" => "6ES7 315-2EH14-0AB0",
    };
    let mut events = Vec::new();
    exchange(
        &mut events,
        1,
        "s7comm",
        "read_szl",
        "10.0.3.1",
        ("10.0.1.1", 102),
        map! {"identity" => identity},
    );
    let mut m = AssetMap::from_config_json(&config(None, 1000)).unwrap();
    for e in &events {
        m.observe(e);
    }
    let plc = asset(&mut m, "ip:10.0.1.1");
    assert_eq!(plc.get("product"), Some(&Value::from("CPU 315-2 PN/DP")));
    assert_eq!(plc.get("firmware"), Some(&Value::from("V3.2.6")));
    assert_eq!(plc.get("vendor"), Some(&Value::from("Siemens"))); // from the fingerprint
    assert_eq!(strs(plc.get("roles")), ["plc"]); // the fingerprint's device type
    let Some(Value::List(vulns)) = plc.get("vulnerabilities") else {
        panic!("vulnerabilities")
    };
    let found: Vec<(String, String)> = vulns
        .iter()
        .map(|v| {
            let v = v.as_map().unwrap();
            (
                v.get("id").and_then(Value::as_str).unwrap().into(),
                v.get("status").and_then(Value::as_str).unwrap().into(),
            )
        })
        .collect();
    // V3.2.6 < V3.X.16 (X = 2): affected; ADV-2 has no ranges: affected; the scored one first
    assert_eq!(
        found,
        [
            ("ADV-1".into(), "affected".into()),
            ("ADV-2".into(), "affected".into())
        ]
    );
    let kinds: Vec<&str> = m
        .findings()
        .iter()
        .filter_map(|f| f.get("kind").and_then(Value::as_str))
        .collect();
    assert_eq!(kinds, ["s7_no_protection"]);
}

#[test]
fn one_mac_with_addresses_in_turn_is_one_asset_and_three_at_once_a_router() {
    let mut events = Vec::new();
    let host = Some("00:1B:1B:00:00:01"); // a Siemens OUI, spelt in capitals
    for (i, ip) in ["10.0.5.1", "10.0.5.2"].iter().enumerate() {
        let t = 10 * i as u32;
        let n = events.len();
        let m = Msg {
            t,
            dataset: "modbus",
            action: "read_coils",
            src: ("10.0.2.1", 40000, None),
            dst: (ip, 502, host),
            to_server: true,
            fields: Map::new(),
        };
        events.push(event(m, n));
    }
    let router = Some("00:00:5e:00:00:09");
    for ip in ["10.0.6.1", "10.0.6.2", "10.0.6.3"] {
        for t in [30, 40] {
            let n = events.len();
            let m = Msg {
                t,
                dataset: "opcua",
                action: "read",
                src: (ip, 40000, router),
                dst: ("10.0.1.9", 4840, None),
                to_server: true,
                fields: Map::new(),
            };
            events.push(event(m, n));
        }
    }
    let mut m = AssetMap::from_config_json(&config(None, 1000)).unwrap();
    for e in &events {
        m.observe(e);
    }
    let a = asset(&mut m, "mac:00:1b:1b:00:00:01");
    assert_eq!(strs(a.get("ips")), ["10.0.5.2", "10.0.5.1"]); // latest first
    assert_eq!(a.get("vendor"), Some(&Value::from("Siemens"))); // the OUI's
    let ids: Vec<String> = m
        .assets()
        .iter()
        .filter_map(|a| a.get("id").and_then(Value::as_str).map(str::to_owned))
        .collect();
    assert!(ids.contains(&"ip:10.0.6.1".to_owned()) && ids.contains(&"ip:10.0.6.3".to_owned()));
    assert!(!ids.iter().any(|i| i.contains("00:00:5e")));
}

#[test]
fn skipped_events_and_eviction() {
    let mut events = Vec::new();
    for i in 0..5u16 {
        exchange(
            &mut events,
            u32::from(i),
            "modbus",
            "read_coils",
            &format!("10.0.2.{i}"),
            ("10.0.1.1", 502),
            Map::new(),
        );
    }
    let mut alert = events[0].clone();
    alert.kind = "alert";
    let mut notice = events[0].clone();
    notice.dataset = "icssa";
    let mut m = AssetMap::from_config_json(&config(None, 3)).unwrap();
    for e in events.iter().chain([&alert, &notice]) {
        m.observe(e);
    }
    let s = m.stats();
    assert_eq!((s.events, s.skipped), (10, 2));
    // 6 records met, 3 kept: the server and the two latest clients
    assert_eq!((s.records, s.evicted_records, s.edges), (3, 3, 2));
    let ids: Vec<String> = m
        .assets()
        .iter()
        .filter_map(|a| a.get("id").and_then(Value::as_str).map(str::to_owned))
        .collect();
    assert_eq!(ids, ["ip:10.0.1.1", "ip:10.0.2.3", "ip:10.0.2.4"]);
}

/// A deterministic pseudo-random sequence (xorshift).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[(self.next() % items.len() as u64) as usize]
    }

    fn value(&mut self, depth: u32) -> Value {
        match self.next() % 9 {
            0 => Value::Null,
            1 => Value::Bool(self.next().is_multiple_of(2)),
            2 => Value::Int(self.next() as i64 % 10),
            3 => Value::UInt(self.next()),
            4 => Value::Float((self.next() % 1000) as f64 / 7.0),
            5 if depth < 3 => Value::List(
                (0..self.next() % 4)
                    .map(|_| self.value(depth + 1))
                    .collect(),
            ),
            6 if depth < 3 => Value::Map(self.fields(depth + 1)),
            _ => Value::from(self.pick(TEXTS).to_owned()),
        }
    }

    fn fields(&mut self, depth: u32) -> Map {
        let mut m = Map::new();
        for _ in 0..self.next() % 6 {
            let key = self.pick(KEYS);
            let value = self.value(depth);
            m.set(key, value);
        }
        m
    }
}

const TEXTS: &[&str] = &[
    "",
    " ",
    "\u{0}",
    "V3.X.16",
    "\u{663}.\u{661}",
    "CPU 315-2 PN/DP",
    "None",
    "anonymous",
    "Siemens AG",
    "\u{1c}x",
    "x.y.z",
    "99999999999999999999999",
    "\u{130}",
    "1",
];
const KEYS: &[&str] = &[
    "device_id",
    "identity",
    "vendor_name",
    "revision",
    "endpoints",
    "security_mode",
    "user_token_types",
    "identity_token_type",
    "application_uri",
    "product_uri",
    "module_type_name",
    "firmware_version",
    "protection_level",
    "mode",
    "subfunction",
    "token_type",
    "type",
    "endpoint_url",
];

#[test]
fn random_events_never_panic() {
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let ips = [
        "10.0.0.1",
        "10.0.0.2",
        "8.8.8.8",
        "::ffff:10.0.0.3",
        "fd00::1",
        "",
        "x",
        "10.0.0.1%e",
    ];
    let macs = [
        "",
        "00:1b:1b:00:00:01",
        "FF-FF-FF-FF-FF-FF",
        "zz",
        "02:00:00:00:00:01",
        "0001.0203.0405",
    ];
    let datasets = [
        "modbus",
        "s7comm",
        "opcua",
        "cotp",
        "icssa",
        "s7comm_plus",
        "",
    ];
    let actions = [
        "read_device_identification",
        "read_szl",
        "diagnostics",
        "plc_stop",
        "get_endpoints",
        "activate_session",
        "read",
        "",
    ];
    let times = [
        "2026-01-01T00:00:01.000000Z",
        "2026-01-01T00:00:00.500000Z",
        "garbage",
        "",
        "0001-01-01T00:00:00.000000Z",
    ];
    for round in 0..4 {
        let mut m = AssetMap::from_config_json(&config(None, 2 + round * 5)).unwrap();
        for n in 0..3000 {
            let mac = |r: &mut Rng| (!r.next().is_multiple_of(3)).then(|| r.pick(&macs));
            let (smac, dmac) = (mac(&mut rng), mac(&mut rng));
            let msg = Msg {
                t: 0,
                dataset: rng.pick(&datasets),
                action: rng.pick(&actions),
                src: (rng.pick(&ips), (rng.next() % 3) as u16 + 501, smac),
                dst: (rng.pick(&ips), (rng.next() % 3) as u16 + 501, dmac),
                to_server: rng.next().is_multiple_of(2),
                fields: rng.fields(0),
            };
            let mut e = event(msg, n);
            e.timestamp = rng.pick(&times).into();
            m.observe(&e);
            if n % 97 == 0 {
                let ip = rng.pick(&ips);
                m.zone_of(ip);
            }
        }
        let before: Vec<Option<ZoneInfo>> = ips.iter().map(|ip| m.zone_of(ip)).collect();
        assert!(!m.assets_json().is_empty());
        assert!(!m.graph_json().is_empty());
        let after: Vec<Option<ZoneInfo>> = ips.iter().map(|ip| m.zone_of(ip)).collect();
        assert_eq!(before, after);
    }
}

/// The same messages with their flow's envelope shared (as the sensor makes them) or each with
/// its own: the flow slots in front of the links change nothing, also when the links are
/// cleared (more than 16,384 of them) and when edges leave the store (the per-record cap).
#[test]
fn shared_envelopes_give_the_same_results() {
    let flows: Vec<(Arc<Envelope>, Arc<Envelope>)> = (0..17_000u32)
        .map(|i| {
            let client = (
                format!("10.{}.{}.{}", 1 + i / 65536, (i / 256) % 256, i % 256),
                40000 + (i % 7) as u16,
            );
            let mac = (i % 5 == 0)
                .then(|| format!("00:1b:1b:00:{:02x}:{:02x}", (i / 256) % 256, i % 256));
            let server = ("10.0.1.1".to_owned(), 502, None);
            let env = |to_server: bool| {
                let (src, dst) = if to_server {
                    ((client.0.clone(), client.1, mac.clone()), server.clone())
                } else {
                    (server.clone(), (client.0.clone(), client.1, mac.clone()))
                };
                let (observer, org) = (Arc::from("replay"), Arc::from("default"));
                Arc::new(Envelope::new(
                    src,
                    dst,
                    "tcp",
                    "modbus",
                    "1:x".into(),
                    to_server,
                    observer,
                    org,
                ))
            };
            (env(true), env(false))
        })
        .collect();
    let mut order: Vec<(usize, bool)> = Vec::new();
    for i in 0..flows.len() {
        order.extend([(i, true), (i, false)]);
    }
    order.extend((0..3000).flat_map(|i| [(i * 5, true), (i * 5, false), (i, true)]));
    let run = |shared: bool| {
        let mut m = AssetMap::from_config_json(&config(None, 100_000)).unwrap();
        for (n, &(i, to_server)) in order.iter().enumerate() {
            let env = if to_server { &flows[i].0 } else { &flows[i].1 };
            let env = if shared {
                env.clone()
            } else {
                Arc::new((**env).clone())
            };
            let e = Event {
                ts_ns: 0,
                timestamp: format!(
                    "2026-01-01T00:{:02}:{:02}.{:06}Z",
                    n / 60_000_000,
                    (n / 1_000_000) % 60,
                    n % 1_000_000
                )
                .into(),
                id: format!("e{n}"),
                kind: "event",
                dataset: "modbus",
                action: "read_coils".into(),
                env,
                fields: Map::new(),
            };
            m.observe(&e);
        }
        (m.assets_json(), m.graph_json(), m.stats())
    };
    let (shared, own) = (run(true), run(false));
    assert_eq!(shared.2, own.2);
    assert!(shared.2.capped_unit_edges > 0);
    assert!(shared.0 == own.0 && shared.1 == own.1);
}
