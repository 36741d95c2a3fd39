//! The sensor on hand-built packets. Expected lines and counters: what the Python `Sensor`
//! (observer "obs", organization "org", capture id "cid") gives for the same packets.
// the Modbus cases need the parser: without it their packet builders go unused
#![cfg_attr(not(feature = "modbus"), allow(dead_code))]

use icssa_sensor::Sensor;

const T: i128 = 1_700_000_000 * 1_000_000_000;
const CLIENT_MAC: [u8; 6] = [2, 0, 0, 0, 0, 1];
const SERVER_MAC: [u8; 6] = [2, 0, 0, 0, 0, 2];
const C: [u8; 4] = [10, 0, 0, 1];
const S: [u8; 4] = [10, 0, 0, 2];
/// Modbus read holding registers: transaction 1, protocol 0, length 6, unit 1, fc 3, address
/// 16, quantity 2
const REQ: [u8; 12] = [0, 1, 0, 0, 0, 6, 1, 3, 0, 0x10, 0, 2];
/// its response: length 7, unit 1, fc 3, 4 bytes, values 10 and 11
const RSP: [u8; 13] = [0, 1, 0, 0, 0, 7, 1, 3, 4, 0, 0x0a, 0, 0x0b];

/// Ethernet II: destination, source, VLAN tags (TPID, TCI 5), ethertype
fn eth(dst: [u8; 6], src: [u8; 6], tags: &[u16], etype: u16, payload: &[u8]) -> Vec<u8> {
    let mut f = [dst, src].concat();
    for t in tags {
        f.extend(t.to_be_bytes());
        f.extend([0, 5]);
    }
    f.extend(etype.to_be_bytes());
    f.extend_from_slice(payload);
    f
}

/// IPv4 without options: version/IHL 0x45, TOS, total, ident 1, no fragment, TTL 64, protocol,
/// checksum 0, addresses
fn ip4(src: [u8; 4], dst: [u8; 4], proto: u8, payload: &[u8]) -> Vec<u8> {
    let total = (20 + payload.len()) as u16;
    let mut p = vec![0x45, 0];
    p.extend(total.to_be_bytes());
    p.extend([0, 1, 0, 0, 64, proto, 0, 0]);
    p.extend(src);
    p.extend(dst);
    p.extend_from_slice(payload);
    p
}

/// IPv6: version 6, payload length, next header, hop limit 64, addresses
fn ip6(src: [u8; 16], dst: [u8; 16], nxt: u8, payload: &[u8]) -> Vec<u8> {
    let mut p = vec![0x60, 0, 0, 0];
    p.extend((payload.len() as u16).to_be_bytes());
    p.extend([nxt, 64]);
    p.extend(src);
    p.extend(dst);
    p.extend_from_slice(payload);
    p
}

/// TCP: ports, seq, ack, data offset 5, flags, window 8192, checksum 0, urgent 0
fn tcp(sport: u16, dport: u16, seq: u32, ack: u32, flags: u8, payload: &[u8]) -> Vec<u8> {
    let mut p = [sport.to_be_bytes(), dport.to_be_bytes()].concat();
    p.extend(seq.to_be_bytes());
    p.extend(ack.to_be_bytes());
    p.extend([0x50, flags, 0x20, 0, 0, 0, 0, 0]);
    p.extend_from_slice(payload);
    p
}

fn c2s(seq: u32, ack: u32, flags: u8, payload: &[u8]) -> Vec<u8> {
    eth(
        SERVER_MAC,
        CLIENT_MAC,
        &[],
        0x0800,
        &ip4(C, S, 6, &tcp(40000, 502, seq, ack, flags, payload)),
    )
}

fn s2c(seq: u32, ack: u32, flags: u8, payload: &[u8]) -> Vec<u8> {
    eth(
        CLIENT_MAC,
        SERVER_MAC,
        &[],
        0x0800,
        &ip4(S, C, 6, &tcp(502, 40000, seq, ack, flags, payload)),
    )
}

fn handshake() -> Vec<(i128, Vec<u8>)> {
    vec![
        (T, c2s(100, 0, 0x02, &[])),
        (T + 1_000_000, s2c(500, 101, 0x12, &[])),
    ]
}

/// Runs the packets; returns the event lines and the sensor.
fn run(packets: &[(i128, Vec<u8>)], sensor: &mut Sensor) -> Vec<String> {
    let mut lines = Vec::new();
    for (ts, frame) in packets {
        sensor.packet(*ts, 1, frame);
    }
    sensor.finish();
    for e in sensor.take_events() {
        let mut out = Vec::new();
        e.write_json(&mut out);
        lines.push(String::from_utf8(out).expect("UTF-8").trim_end().to_owned());
    }
    lines
}

const ENV_C2S: &str = r#""source":{"ip":"10.0.0.1","port":40000,"mac":"02-00-00-00-00-01"},"destination":{"ip":"10.0.0.2","port":502,"mac":"02-00-00-00-00-02"},"network":{"transport":"tcp","protocol":"modbus","community_id":"1:/+JBy2Q1zp1KkEWqSPgaxJf5R90=","direction_to_server":true},"observer":{"name":"obs"},"organization":{"id":"org"}"#;
const ENV_S2C: &str = r#""source":{"ip":"10.0.0.2","port":502,"mac":"02-00-00-00-00-02"},"destination":{"ip":"10.0.0.1","port":40000,"mac":"02-00-00-00-00-01"},"network":{"transport":"tcp","protocol":"modbus","community_id":"1:/+JBy2Q1zp1KkEWqSPgaxJf5R90=","direction_to_server":false},"observer":{"name":"obs"},"organization":{"id":"org"}"#;
const REQ_FIELDS: &str = r#""modbus":{"transaction_id":1,"unit_id":1,"function_code":3,"function":"READ_HOLDING_REGISTERS","is_response":false,"address":16,"quantity":2}"#;
const RSP_FIELDS: &str = r#""modbus":{"transaction_id":1,"unit_id":1,"function_code":3,"function":"READ_HOLDING_REGISTERS","is_response":true,"matched":true,"address":16,"quantity":2,"values":[10,11]}"#;

fn line(ts: &str, id: &str, dataset: &str, action: &str, env: &str, fields: &str) -> String {
    format!(
        r#"{{"@timestamp":"{ts}","event":{{"id":"{id}","kind":"event","dataset":"{dataset}","action":"{action}"}},{env},{fields}}}"#
    )
}

#[cfg(feature = "modbus")]
#[test]
fn modbus_request_and_response() {
    let mut packets = handshake();
    packets.push((T + 2_000_000, c2s(101, 501, 0x18, &REQ)));
    packets.push((T + 3_000_000, s2c(501, 113, 0x18, &RSP)));
    let mut sensor = Sensor::new("obs", "org", "cid", 100_000);
    let lines = run(&packets, &mut sensor);
    let rhr = "read_holding_registers";
    assert_eq!(
        lines,
        vec![
            line(
                "2023-11-14T22:13:20.002000Z",
                "cid-3-1",
                "modbus",
                rhr,
                ENV_C2S,
                REQ_FIELDS
            ),
            line(
                "2023-11-14T22:13:20.003000Z",
                "cid-4-1",
                "modbus",
                rhr,
                ENV_S2C,
                RSP_FIELDS
            ),
        ]
    );
    assert_eq!(
        sensor.stats(),
        vec![
            ("fragments_timed_out", 0),
            ("flows_timed_out", 0),
            ("flows", 1),
            ("flows_modbus", 1),
            ("packets", 4),
            ("bytes", 241)
        ]
    );
    assert_eq!(sensor.actions(), vec![("modbus", rhr, 2)]);
    assert_eq!(sensor.messages(), &[("modbus", 2)]);
}

#[cfg(feature = "modbus")]
#[test]
fn out_of_order_request_is_reassembled() {
    let mut packets = handshake();
    packets.push((T + 2_000_000, c2s(107, 501, 0x18, &REQ[6..])));
    packets.push((T + 2_500_000, c2s(101, 501, 0x18, &REQ[..6])));
    packets.push((T + 3_000_000, s2c(501, 113, 0x18, &RSP)));
    let mut sensor = Sensor::new("obs", "org", "cid", 100_000);
    let lines = run(&packets, &mut sensor);
    let rhr = "read_holding_registers";
    assert_eq!(
        lines,
        vec![
            line(
                "2023-11-14T22:13:20.002500Z",
                "cid-4-1",
                "modbus",
                rhr,
                ENV_C2S,
                REQ_FIELDS
            ),
            line(
                "2023-11-14T22:13:20.003000Z",
                "cid-5-1",
                "modbus",
                rhr,
                ENV_S2C,
                RSP_FIELDS
            ),
        ]
    );
    assert!(sensor.stats().contains(&("tcp_out_of_order", 1)));
}

#[cfg(feature = "modbus")]
#[test]
fn parse_errors_become_events_up_to_sixteen_per_flow() {
    let mut packets = handshake();
    // a request, then 6 bytes of a header with protocol id 1
    let bad = [0u8, 1, 0, 1, 0, 6];
    for k in 0..20u32 {
        packets.push((
            T + 10 + i128::from(k),
            c2s(101 + 18 * k, 501, 0x18, &[&REQ[..], &bad].concat()),
        ));
    }
    let mut sensor = Sensor::new("obs", "org", "cid", 100_000);
    let lines = run(&packets, &mut sensor);
    assert_eq!(lines.len(), 36);
    let ts = "2023-11-14T22:13:20.000000Z";
    let error = r#""icssa":{"protocol":"modbus","reason":"not_protocol","detail":"at offset 0"}"#;
    assert_eq!(
        lines[1],
        line(ts, "cid-4-1", "icssa", "parse_error", ENV_C2S, error)
    );
    assert_eq!(
        lines[2],
        line(
            ts,
            "cid-4-2",
            "modbus",
            "read_holding_registers",
            ENV_C2S,
            REQ_FIELDS
        )
    );
    assert_eq!(sensor.parse_errors(), vec![("modbus", "not_protocol", 19)]);
    assert_eq!(
        sensor.actions(),
        vec![
            ("modbus", "read_holding_registers", 20),
            ("icssa", "parse_error", 16)
        ]
    );
    assert_eq!(
        sensor.take_log(),
        vec!["modbus parse error not_protocol (at offset 0) in flow 10.0.0.1:40000 -> 10.0.0.2:502; further ones counted"]
    );
}

#[cfg(feature = "modbus")]
#[test]
fn ipv6_in_vlan_has_no_macs() {
    let c6 = [0xfe, 0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1];
    let s6 = [0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2];
    let v6 = |src, dst, sp, dp, seq, ack, flags, p: &[u8]| {
        eth(
            SERVER_MAC,
            CLIENT_MAC,
            &[0x8100],
            0x86dd,
            &ip6(src, dst, 6, &tcp(sp, dp, seq, ack, flags, p)),
        )
    };
    let packets = vec![
        (T, v6(c6, s6, 40000, 502, 100, 0, 0x02, &[])),
        (T + 1, v6(s6, c6, 502, 40000, 500, 101, 0x12, &[])),
        (T + 2, v6(c6, s6, 40000, 502, 101, 501, 0x18, &REQ)),
    ];
    let mut sensor = Sensor::new("obs", "org", "cid", 100_000);
    let lines = run(&packets, &mut sensor);
    let env = r#""source":{"ip":"fe80::1","port":40000},"destination":{"ip":"2001:db8::2","port":502},"network":{"transport":"tcp","protocol":"modbus","community_id":"1:vjAAhXMrcZAhjSF/QJT6wEi8mSk=","direction_to_server":true},"observer":{"name":"obs"},"organization":{"id":"org"}"#;
    let ts = "2023-11-14T22:13:20.000000Z";
    assert_eq!(
        lines,
        vec![line(
            ts,
            "cid-3-1",
            "modbus",
            "read_holding_registers",
            env,
            REQ_FIELDS
        )]
    );
}

#[test]
fn header_problems_are_counted() {
    let e = |etype, p: &[u8]| eth(SERVER_MAC, CLIENT_MAC, &[], etype, p);
    let udp = |data: &[u8]| [&[0x13, 0x88, 0x17, 0x70, 0, 9, 0, 0][..], data].concat(); // 5000 -> 6000
    let mut bad_doff = tcp(1, 2, 3, 4, 0x18, &[]);
    bad_doff[12] = 0x40; // data offset 4
    let packets = vec![
        (T, vec![0u8; 13]),                                  // shorter than Ethernet
        (T, e(0x0806, &[0; 28])),                            // ARP
        (T, e(0x0800, &[&[0x46u8][..], &[0; 19]].concat())), // IHL 6 beyond the packet
        (T, e(0x0800, &ip4(C, S, 1, &[8, 0, 0, 0]))),        // ICMP
        (T, e(0x0800, &ip4(C, S, 17, &[0, 0x35]))),          // UDP header cut
        (
            T,
            e(0x0800, &ip4(C, S, 6, &tcp(1, 2, 3, 4, 0x18, &[])[..12])),
        ), // TCP header cut
        (T, e(0x0800, &ip4(C, S, 6, &bad_doff))),
        (T, e(0x0800, &ip4(C, S, 17, &udp(b"x")))),
        (T + 700_000_000_000, e(0x0800, &ip4(C, S, 17, &udp(b"y")))), // after the idle timeout
    ];
    let mut sensor = Sensor::with_specs("obs", "org", "cid", 100_000, Vec::new());
    assert!(run(&packets, &mut sensor).is_empty());
    assert_eq!(
        sensor.stats(),
        vec![
            ("fragments_timed_out", 0),
            ("flows_timed_out", 1),
            ("non_ip", 2),
            ("bad_ip", 1),
            ("other_ip_proto", 1),
            ("udp_truncated", 1),
            ("tcp_truncated", 1),
            ("tcp_bad_header", 1),
            ("flows", 2),
            ("packets", 9),
            ("bytes", 349)
        ]
    );
}
