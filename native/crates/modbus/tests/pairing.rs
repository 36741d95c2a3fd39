//! Exception responses, request/response pairing by (transaction id, unit id), the pending
//! table's bound, and the spec-violation flags of requests, on hand-labelled byte vectors.

mod common;
use common::{errors, feed, flow, one, pair};

/// An ADU: MBAP header (protocol id 0, length from the PDU) then function code and PDU.
fn adu(tid: u16, unit: u8, fc: u8, pdu: &[u8]) -> Vec<u8> {
    let mut v = tid.to_be_bytes().to_vec(); // transaction id
    v.extend_from_slice(&[0, 0]); // protocol id 0
    v.extend_from_slice(&(2 + pdu.len() as u16).to_be_bytes()); // length: unit + fc + PDU
    v.push(unit); // unit id
    v.push(fc); // function code
    v.extend_from_slice(pdu);
    v
}

const READ_3: &[u8] = &[
    0x00, 0x01, // address 1
    0x00, 0x02, // quantity 2
];

#[test]
fn exception_response_copies_the_request() {
    #[rustfmt::skip]
    let exc = [
        0x00, 0x30, 0x00, 0x00, 0x00, 0x03, 0x01, // MBAP: tid 48, length 3, unit 1
        0x83, // function 3 with the exception bit
        0x02, // exception code 2 illegal data address
    ];
    pair(
        &adu(48, 1, 3, READ_3),
        r#"read_holding_registers {"transaction_id":48,"unit_id":1,"function_code":3,"function":"READ_HOLDING_REGISTERS","is_response":false,"address":1,"quantity":2}"#,
        &exc,
        r#"read_holding_registers {"transaction_id":48,"unit_id":1,"function_code":3,"function":"READ_HOLDING_REGISTERS","is_response":true,"matched":true,"exception_code":2,"exception":"ILLEGAL_DATA_ADDRESS","address":1,"quantity":2}"#,
    );
}

#[test]
fn exception_codes_unknown_missing_and_too_long() {
    let mut p = flow();
    // unpaired, code 7 (not defined) followed by a stray byte
    assert_eq!(
        one(&mut p, &adu(1, 1, 0x83, &[0x07, 0x00]), false),
        r#"read_holding_registers {"transaction_id":1,"unit_id":1,"function_code":3,"function":"READ_HOLDING_REGISTERS","is_response":true,"matched":false,"exception_code":7,"exception":"UNKNOWN","flags":["bad_exception_code","bad_length"]}"#
    );
    // no exception code at all
    assert_eq!(
        one(&mut p, &adu(2, 1, 0x86, &[]), false),
        r#"write_single_register {"transaction_id":2,"unit_id":1,"function_code":6,"function":"WRITE_SINGLE_REGISTER","is_response":true,"matched":false,"exception_code":-1,"exception":"UNKNOWN","flags":["bad_exception_code","bad_length"]}"#
    );
    // every defined code keeps its name
    for (code, name) in [
        (1, "ILLEGAL_FUNCTION"),
        (3, "ILLEGAL_DATA_VALUE"),
        (4, "SERVER_DEVICE_FAILURE"),
        (5, "ACKNOWLEDGE"),
        (6, "SERVER_DEVICE_BUSY"),
        (8, "MEMORY_PARITY_ERROR"),
        (10, "GATEWAY_PATH_UNAVAILABLE"),
        (11, "GATEWAY_TARGET_DEVICE_FAILED_TO_RESPOND"),
    ] {
        let got = one(&mut p, &adu(3, 1, 0x81, &[code]), false);
        assert!(
            got.ends_with(&format!(
                r#""exception_code":{code},"exception":"{name}"}}"#
            )),
            "{got}"
        );
    }
}

#[test]
fn exception_to_device_identification_and_diagnostics_keep_the_request_context() {
    let mut p = flow();
    one(&mut p, &adu(9, 1, 43, &[0x0E, 0x01, 0x00]), true); // MEI 14, code 1, object 0
    one(&mut p, &adu(10, 1, 8, &[0x00, 0x04]), true); // subfunction 4 force listen only
    assert_eq!(
        one(&mut p, &adu(9, 1, 0xAB, &[0x01]), false),
        r#"read_device_identification {"transaction_id":9,"unit_id":1,"function_code":43,"function":"ENCAPSULATED_INTERFACE_TRANSPORT","is_response":true,"matched":true,"exception_code":1,"exception":"ILLEGAL_FUNCTION","mei_type":14}"#
    );
    assert_eq!(
        one(&mut p, &adu(10, 1, 0x88, &[0x01]), false),
        r#"diagnostics {"transaction_id":10,"unit_id":1,"function_code":8,"function":"DIAGNOSTICS","is_response":true,"matched":true,"exception_code":1,"exception":"ILLEGAL_FUNCTION","subfunction":4}"#
    );
}

#[test]
fn pairing_uses_transaction_and_unit_id_once() {
    let mut p = flow();
    one(&mut p, &adu(5, 1, 3, READ_3), true);
    let resp = adu(5, 2, 3, &[0x04, 0x00, 0x01, 0x00, 0x02]); // byte count 4, registers 1, 2
    assert!(one(&mut p, &resp, false).contains(r#""matched":false,"values":[1,2]}"#));
    let resp = adu(5, 1, 3, &[0x04, 0x00, 0x01, 0x00, 0x02]);
    assert!(one(&mut p, &resp, false)
        .contains(r#""matched":true,"address":1,"quantity":2,"values":[1,2]}"#));
    // the request was consumed by its response
    assert!(one(&mut p, &resp, false).contains(r#""matched":false,"#));
}

#[test]
fn repeated_transaction_id_replaces_the_pending_request() {
    let mut p = flow();
    one(&mut p, &adu(6, 1, 3, READ_3), true);
    one(&mut p, &adu(6, 1, 4, &[0x00, 0x09, 0x00, 0x01]), true); // read input register 9
    assert_eq!(
        one(&mut p, &adu(6, 1, 4, &[0x02, 0x00, 0x07]), false),
        r#"read_input_registers {"transaction_id":6,"unit_id":1,"function_code":4,"function":"READ_INPUT_REGISTERS","is_response":true,"matched":true,"address":9,"quantity":1,"values":[7]}"#
    );
}

#[test]
fn function_code_mismatch_and_byte_counts() {
    let mut p = flow();
    one(&mut p, &adu(7, 1, 3, READ_3), true);
    // answered with function 4 and 3 registers where 2 were asked for
    assert_eq!(
        one(&mut p, &adu(7, 1, 4, &[0x06, 0, 1, 0, 2, 0, 3]), false),
        r#"read_input_registers {"transaction_id":7,"unit_id":1,"function_code":4,"function":"READ_INPUT_REGISTERS","is_response":true,"matched":true,"address":1,"quantity":2,"values":[1,2,3],"flags":["function_code_mismatch","bad_byte_count"]}"#
    );
    one(&mut p, &adu(8, 1, 1, &[0x00, 0x00, 0x00, 0x0A]), true); // read 10 coils
                                                                 // one byte for 10 coils: only 8 values, byte count flagged
    assert_eq!(
        one(&mut p, &adu(8, 1, 1, &[0x01, 0xFF]), false),
        r#"read_coils {"transaction_id":8,"unit_id":1,"function_code":1,"function":"READ_COILS","is_response":true,"matched":true,"address":0,"quantity":10,"values":[1,1,1,1,1,1,1,1]}"#
            .replace("]}", r#"],"flags":["bad_byte_count"]}"#)
    );
    // odd register byte count, unpaired
    assert!(one(&mut p, &adu(9, 1, 3, &[0x03, 0, 1, 2]), false)
        .ends_with(r#""matched":false,"values":[1],"flags":["bad_byte_count"]}"#));
    // FIFO count above 31 and a byte count that disagrees
    assert!(one(
        &mut p,
        &adu(9, 1, 24, &[0x00, 0x04, 0x00, 0x20, 0x00, 0x05]),
        false
    )
    .ends_with(r#""matched":false,"values":[5],"flags":["bad_byte_count"]}"#));
}

#[test]
fn pending_bound_evicts_the_oldest_and_flags_once() {
    let mut p = flow();
    for tid in 0..500u16 {
        assert!(!one(&mut p, &adu(tid, 1, 3, READ_3), true).contains("flags"));
    }
    assert!(one(&mut p, &adu(500, 1, 3, READ_3), true)
        .ends_with(r#""flags":["pending_requests_bound_hit"]}"#));
    assert!(!one(&mut p, &adu(501, 1, 3, READ_3), true).contains("flags"));
    let resp = |tid: u16| adu(tid, 1, 3, &[0x04, 0, 0, 0, 0]);
    assert!(one(&mut p, &resp(0), false).contains(r#""matched":false"#)); // evicted first
    assert!(one(&mut p, &resp(1), false).contains(r#""matched":false"#)); // evicted second
    assert!(one(&mut p, &resp(2), false).contains(r#""matched":true"#));
    assert!(one(&mut p, &resp(501), false).contains(r#""matched":true"#));
}

#[test]
fn request_flags() {
    let cases: &[(u8, &[u8], &str)] = &[
        // read holding registers, quantity 0
        (
            3,
            &[0x00, 0x00, 0x00, 0x00],
            r#""address":0,"quantity":0,"flags":["bad_quantity"]}"#,
        ),
        // read input registers, quantity 126 and a stray byte
        (
            4,
            &[0x00, 0x00, 0x00, 0x7E, 0x00],
            r#""quantity":126,"flags":["bad_quantity","bad_length"]}"#,
        ),
        // read coils, quantity 2001
        (
            1,
            &[0x00, 0x00, 0x07, 0xD1],
            r#""quantity":2001,"flags":["bad_quantity"]}"#,
        ),
        // write single coil, value 0x1234 (neither ON nor OFF)
        (
            5,
            &[0x00, 0x01, 0x12, 0x34],
            r#""quantity":1,"values":[0],"flags":["bad_coil_value"]}"#,
        ),
        // write multiple coils: 9 coils, byte count 1 (needs 2), one data byte
        (
            15,
            &[0x00, 0x00, 0x00, 0x09, 0x01, 0x81],
            r#""quantity":9,"values":[1,0,0,0,0,0,0,1],"flags":["bad_quantity"]}"#,
        ),
        // write multiple registers: 124 registers, byte count 2
        (
            16,
            &[0x00, 0x00, 0x00, 0x7C, 0x02, 0x00, 0x05],
            r#""quantity":124,"values":[5],"flags":["bad_quantity"]}"#,
        ),
        // read/write multiple: write quantity 0, byte count 0
        (
            23,
            &[0, 1, 0, 1, 0, 2, 0, 0, 0],
            r#""write_quantity":0,"values":[],"flags":["bad_quantity"]}"#,
        ),
        // read exception status with data
        (7, &[0x00], r#""is_response":false,"flags":["bad_length"]}"#),
        // file record with reference type 5
        (
            20,
            &[0x07, 0x05, 0, 1, 0, 2, 0, 3],
            r#""records":[{"file":1,"record":2,"length":3}],"quantity":1,"flags":["bad_reference_type"]}"#,
        ),
        // diagnostics, subfunction 5 (not defined)
        (
            8,
            &[0x00, 0x05],
            r#""subfunction":5,"subfunction_name":"UNKNOWN","data":""}"#,
        ),
    ];
    for (fc, pdu, want) in cases {
        let mut p = flow();
        let got = one(&mut p, &adu(1, 1, *fc, pdu), true);
        assert!(got.ends_with(want), "fc {fc}: {got}");
    }
}

#[test]
fn exception_bit_in_a_request_is_flagged() {
    let mut p = flow();
    assert_eq!(
        one(&mut p, &adu(1, 1, 0x83, READ_3), true),
        r#"read_holding_registers {"transaction_id":1,"unit_id":1,"function_code":3,"function":"READ_HOLDING_REGISTERS","is_response":false,"address":1,"quantity":2,"flags":["exception_bit_in_request"]}"#
    );
}

/// Whole request PDUs per function code, cut at every byte below: all are flagged
/// `bad_length`, except diagnostics once its subfunction is there (its data is free-form).
#[test]
fn truncated_requests_are_flagged() {
    let full: &[(u8, &[u8])] = &[
        (1, &[0, 1, 0, 2]),
        (3, &[0, 1, 0, 2]),
        (5, &[0, 1, 0xFF, 0]),
        (6, &[0, 1, 0, 2]),
        (8, &[0, 0, 0xA5, 0x37]),
        (15, &[0, 1, 0, 2, 1, 3]),
        (16, &[0, 1, 0, 1, 2, 0, 9]),
        (20, &[7, 6, 0, 1, 0, 2, 0, 3]),
        (21, &[9, 6, 0, 1, 0, 2, 0, 1, 0xAB, 0xCD]),
        (22, &[0, 1, 0, 2, 0, 3]),
        (23, &[0, 1, 0, 1, 0, 2, 0, 1, 2, 0, 5]),
        (24, &[0, 1]),
        (43, &[14, 1, 0]),
    ];
    for (fc, pdu) in full {
        let mut p = flow();
        assert!(
            !one(&mut p, &adu(1, 1, *fc, pdu), true).contains("flags"),
            "fc {fc} whole"
        );
        for cut in 0..pdu.len() {
            let got = one(&mut p, &adu(1, 1, *fc, &pdu[..cut]), true);
            let flagged = got.contains(r#""flags":["#) && got.contains("bad_length");
            assert_eq!(flagged, *fc != 8 || cut < 2, "fc {fc} cut {cut}: {got}");
        }
    }
}

#[test]
fn truncated_responses_are_flagged() {
    let full: &[(u8, &[u8])] = &[
        (3, &[4, 0, 1, 0, 2]),
        (5, &[0, 1, 0xFF, 0]),
        (7, &[0x6D]),
        (11, &[0, 0, 0, 1]),
        (12, &[6, 0, 0, 0, 1, 0, 2]),
        (16, &[0, 1, 0, 2]),
        (17, &[2, 1, 0xFF]),
        (20, &[4, 3, 6, 0, 1]),
        (22, &[0, 1, 0, 2, 0, 3]),
        (43, &[14, 1, 1, 0, 0, 1, 0, 1, b'A']),
    ];
    for (fc, pdu) in full {
        let mut p = flow();
        assert!(
            !one(&mut p, &adu(1, 1, *fc, pdu), false).contains("flags"),
            "fc {fc} whole"
        );
        for cut in 0..pdu.len() {
            let got = one(&mut p, &adu(1, 1, *fc, &pdu[..cut]), false);
            assert!(got.contains("bad_length"), "fc {fc} cut {cut}: {got}");
        }
    }
}

#[test]
fn framing_errors_and_resync() {
    let mut p = flow();
    #[rustfmt::skip]
    let bad = [
        0x00, 0x01, // transaction id 1
        0x00, 0x01, // protocol id 1: not Modbus
        0x00, 0x06, // length 6
        0x01, 0x03, // unit 1, function 3
        0x00, 0x00, 0x00, 0x01,
    ];
    assert!(feed(&mut p, &bad, true).is_empty());
    assert_eq!(
        errors(&mut p),
        vec![("not_protocol".to_owned(), "at offset 0".to_owned())]
    );
    // resync: offsets 1..5 cannot start an ADU, the last 6 bytes wait for more
    assert_eq!(p.skipped(), [0, 5]);
    let got = feed(&mut p, &adu(2, 1, 3, READ_3), true);
    assert_eq!(got.len(), 1);
    assert!(got[0].starts_with(r#"read_holding_registers {"transaction_id":2,"#));
    assert_eq!(p.skipped(), [0, 11]);
    assert!(errors(&mut p).is_empty());
    // length fields out of 2..254
    for length in [0u8, 1, 255] {
        let mut p = flow();
        feed(&mut p, &[0, 1, 0, 0, 0, length, 1, 3, 0, 0], false);
        assert_eq!(
            errors(&mut p),
            vec![("not_protocol".to_owned(), "at offset 0".to_owned())]
        );
    }
}

#[test]
fn chunking_and_gaps() {
    let two = [adu(1, 1, 3, READ_3), adu(2, 1, 6, &[0, 1, 0, 9])].concat();
    let mut p = flow();
    assert_eq!(feed(&mut p, &two, true).len(), 2);
    // byte by byte: the same messages
    let mut q = flow();
    let mut got = Vec::new();
    for b in &two {
        got.extend(feed(&mut q, std::slice::from_ref(b), true));
    }
    let mut p = flow();
    assert_eq!(got, feed(&mut p, &two, true));
    // a gap drops the partial ADU; the next whole one decodes
    let mut p = flow();
    assert!(feed(&mut p, &two[..5], true).is_empty());
    p.gap(true);
    let got = feed(&mut p, &adu(3, 1, 3, READ_3), true);
    assert_eq!(got.len(), 1);
    assert!(got[0].contains(r#""transaction_id":3,"#));
    assert!(errors(&mut p).is_empty());
}

#[test]
fn probe_signature() {
    use icssa_modbus::probe;
    let req = adu(1, 1, 3, READ_3);
    assert!(probe(&req, true));
    assert!(probe(&adu(1, 1, 0x83, &[2]), false)); // exception response
    assert!(!probe(&adu(1, 1, 0x83, &[2]), true)); // exception bit from the client
    assert!(!probe(&adu(1, 1, 0x41, &[]), true)); // unknown function
    assert!(!probe(&[], true));
    assert!(!probe(&req[..7], true)); // shorter than MBAP + function
    assert!(!probe(&[req.clone(), vec![0, 0, 0]].concat(), true)); // trailing bytes
    let mut bad_pid = req.clone();
    bad_pid[3] = 1; // protocol id 1
    assert!(!probe(&bad_pid, true));
    let mut short = req.clone();
    short[5] = 1; // length 1
    assert!(!probe(&short, true));
    // four ADUs are enough, whatever follows
    let four = [
        req.clone(),
        req.clone(),
        req.clone(),
        req.clone(),
        vec![0xFF],
    ]
    .concat();
    assert!(probe(&four, true));
    assert_eq!(icssa_modbus::NAME, "modbus");
    assert_eq!(icssa_modbus::PORTS, &[502]);
}
