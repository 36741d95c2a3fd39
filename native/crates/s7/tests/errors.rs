//! Errors: each reason and detail string, on hand-labelled packets; truncation at every field
//! boundary of a valid PDU; the payload signature.

mod common;
use common::{dt, feed};

fn errors_of(to_server: bool, data: &[u8]) -> Vec<(String, String)> {
    let mut p = icssa_s7::parser();
    let fed = feed(&mut *p, to_server, data);
    assert!(fed.msgs.is_empty(), "{:?}", fed.msgs);
    fed.errors
}

fn one(reason: &str, detail: &str) -> Vec<(String, String)> {
    vec![(reason.to_owned(), detail.to_owned())]
}

#[test]
fn truncated_s7_header() {
    #[rustfmt::skip]
    let job: &[u8] = &[
        0x32, 0x01, 0x00, 0x00, // S7comm job, redundancy id
        0x00,                   // half a PDU reference: 5 bytes in all
    ];
    assert_eq!(
        errors_of(true, &dt(job)),
        one("truncated_s7_header", "5 bytes")
    );
    #[rustfmt::skip]
    let ack: &[u8] = &[
        0x32, 0x02, 0x00, 0x00, // S7comm ack, redundancy id
        0x00, 0x01,             // PDU reference 1
        0x00, 0x00, 0x00, 0x00, // parameter and data length 0; no error class / code
    ];
    assert_eq!(
        errors_of(false, &dt(ack)),
        one("truncated_s7_header", "10 bytes")
    );
}

#[test]
fn unknown_protocol_id() {
    assert_eq!(
        errors_of(true, &dt(&[0x99, 0x01])),
        one("unknown_protocol_id", "0x99")
    );
}

#[test]
fn truncated_s7comm_plus() {
    // S7comm-plus id, version 1, one byte of the length field
    assert_eq!(
        errors_of(true, &dt(&[0x72, 0x01, 0x00])),
        one("truncated_s7comm_plus", "3 bytes")
    );
}

#[test]
fn bad_cotp_lengths() {
    #[rustfmt::skip]
    let dt_li_3: &[u8] = &[
        0x03, 0x00, 0x00, 0x09, // TPKT v3, length 9
        0x03,                   // LI 3: a class 0 DT has 2
        0xF0, 0x80, 0x00,       // DT, EOT, one more header byte
        0x32,                   // S7comm
    ];
    assert_eq!(
        errors_of(true, dt_li_3),
        one("bad_cotp_length", "DT with LI 3")
    );
    #[rustfmt::skip]
    let li_past_end: &[u8] = &[
        0x03, 0x00, 0x00, 0x08, // TPKT v3, length 8
        0x10,                   // LI 16: more than the 3 bytes that follow
        0xE0, 0x00, 0x00,       // CR, dst-ref
    ];
    assert_eq!(
        errors_of(true, li_past_end),
        one("bad_cotp_length", "LI 16 with 3 bytes")
    );
    #[rustfmt::skip]
    let short_cr: &[u8] = &[
        0x03, 0x00, 0x00, 0x0A, // TPKT v3, length 10
        0x05,                   // LI 5: a CR needs 6
        0xE0,                   // CR
        0x00, 0x00, 0x00, 0x01, // dst-ref, src-ref
    ];
    assert_eq!(
        errors_of(true, short_cr),
        one("bad_cotp_length", "CR Connection Request with LI 5")
    );
    #[rustfmt::skip]
    let short_dc: &[u8] = &[
        0x03, 0x00, 0x00, 0x09, // TPKT v3, length 9
        0x04,                   // LI 4: a DC needs 5
        0xC0,                   // DC
        0x00, 0x00, 0x00,       // dst-ref, half a src-ref
    ];
    assert_eq!(
        errors_of(true, short_dc),
        one("bad_cotp_length", "DC with LI 4")
    );
    #[rustfmt::skip]
    let short_er: &[u8] = &[
        0x03, 0x00, 0x00, 0x08, // TPKT v3, length 8
        0x02,                   // LI 2: an ER needs 3
        0x70,                   // ER
        0x00, 0x00,             // dst-ref
    ];
    assert_eq!(
        errors_of(true, short_er),
        one("bad_cotp_length", "ER with LI 2")
    );
}

#[test]
fn tpdu_error_whose_cause_lies_past_the_buffer() {
    #[rustfmt::skip]
    let er: &[u8] = &[
        0x03, 0x00, 0x00, 0x08, // TPKT v3, length 8
        0x03,                   // LI 3: the reject cause falls outside the header
        0x70,                   // ER
        0x00, 0x05,             // dst-ref 5
    ];
    // the cause would be the next packet's first byte: an error, and the next message still decodes
    let mut p = icssa_s7::parser();
    let mut two = er.to_vec();
    two.extend_from_slice(&dt(&[0x72, 0xFF, 0x01, 0x00]));
    let fed = feed(&mut *p, false, &two);
    assert_eq!(fed.msgs.len(), 1);
    assert_eq!(fed.msgs[0].dataset, "s7comm_plus");
    assert_eq!(fed.errors, one("bad_cotp_length", "ER with LI 3"));
    assert_eq!(errors_of(false, er), one("bad_cotp_length", "ER with LI 3"));
}

#[test]
fn garbage_is_not_protocol_and_resyncs_at_the_next_tpkt() {
    let mut data = b"GET /".to_vec();
    data.extend_from_slice(&dt(&[0x72, 0xFF, 0x01, 0x00])); // a keep-alive after the garbage
    let mut p = icssa_s7::parser();
    let fed = feed(&mut *p, true, &data);
    assert_eq!(fed.errors, one("not_protocol", "at offset 0"));
    assert_eq!(fed.msgs.len(), 1);
    assert_eq!(fed.msgs[0].action, "keep_alive");
    assert_eq!(p.skipped(), [0, 4]); // the first byte counts as the not_protocol error
}

#[rustfmt::skip]
const READ_JOB: &[u8] = &[
    0x03, 0x00, 0x00, 0x1F, // TPKT v3, length 31
    0x02, 0xF0, 0x80,       // COTP DT, EOT
    0x32, 0x01, 0x00, 0x00, // S7comm job, redundancy id
    0x00, 0x02,             // PDU reference 2
    0x00, 0x0E,             // parameter length 14
    0x00, 0x00,             // data length 0
    0x04, 0x01,             // read var, 1 item
    0x12, 0x0A, 0x10,       // variable specification, length 10, S7ANY
    0x04,                   // transport size WORD
    0x00, 0x01,             // length 1
    0x00, 0x01,             // DB 1
    0x84,                   // area DB
    0x00, 0x00, 0x50,       // address: byte 10, bit 0
];

#[test]
fn read_job_cut_at_every_field_boundary() {
    // (bytes kept, expected messages, expected error reason) with the TPKT length patched to fit
    let cases: &[(usize, usize, Option<&str>)] = &[
        (7, 0, None),                         // DT header only: nothing to report
        (8, 0, Some("truncated_s7_header")),  // protocol id
        (9, 0, Some("truncated_s7_header")),  // ROSCTR
        (13, 0, Some("truncated_s7_header")), // PDU reference
        (17, 1, None),                        // whole header, no parameter: unknown_function
        (18, 1, None),                        // function code
        (19, 1, None),                        // item count
        (22, 1, None),                        // item head
        (31, 1, None),                        // whole
    ];
    for &(keep, msgs, reason) in cases {
        let mut data = READ_JOB[..keep].to_vec();
        data[3] = keep as u8;
        let mut p = icssa_s7::parser();
        let fed = feed(&mut *p, true, &data);
        assert_eq!(fed.msgs.len(), msgs, "cut at {keep}");
        assert_eq!(
            fed.errors.first().map(|e| e.0.as_str()),
            reason,
            "cut at {keep}"
        );
    }
    // the same cuts without patching the length: the parser waits for the rest
    for keep in 0..READ_JOB.len() {
        let mut p = icssa_s7::parser();
        let fed = feed(&mut *p, true, &READ_JOB[..keep]);
        assert!(
            fed.msgs.is_empty() && fed.errors.is_empty(),
            "cut at {keep}"
        );
        let fed = feed(&mut *p, true, &READ_JOB[keep..]);
        assert_eq!(fed.msgs.len(), 1, "rest after {keep}");
    }
}

#[test]
fn probe_accepts_s7_and_rejects_others() {
    use icssa_s7::probe;
    #[rustfmt::skip]
    let cr: &[u8] = &[
        0x03, 0x00, 0x00, 0x16, 0x11, 0xE0, // TPKT, LI 17, CR
        0x00, 0x00, 0x00, 0x01, 0x00,       // refs, class 0
        0xC1, 0x02, 0x01, 0x00,             // calling TSAP
        0xC2, 0x02, 0x01, 0x02,             // called TSAP: PG, rack 0 slot 2
        0xC0, 0x01, 0x0A,                   // TPDU size
    ];
    assert!(probe(cr, true));
    assert!(!probe(cr, false)); // a CR comes from the client
    let mut mms = cr.to_vec();
    mms[17] = 0x00; // called TSAP 0002: not an S7 connection type
    assert!(!probe(&mms, true));
    assert!(probe(READ_JOB, true));
    let mut bad_len = READ_JOB.to_vec();
    bad_len[3] = 0x20; // TPKT length disagrees with the S7 lengths
    assert!(!probe(&bad_len, true));
    assert!(probe(&dt(SET_VARIABLE_V1), true));
    assert!(!probe(b"GET / HTTP/1.1\r\n", true));
    assert!(!probe(&READ_JOB[..8], true));
    assert_eq!((icssa_s7::NAME, icssa_s7::PORTS), ("s7comm", &[102u16][..]));
}

#[rustfmt::skip]
const SET_VARIABLE_V1: &[u8] = &[
    0x72, 0x01, 0x00, 0x01, // S7comm-plus V1, data length 1
    0x31,                   // opcode
    0x72, 0x01, 0x00, 0x00, // trailer
];
