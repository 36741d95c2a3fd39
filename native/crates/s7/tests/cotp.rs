//! COTP connection management and DT reassembly, on hand-labelled TPKT packets.

mod common;
use common::{dt, dt_segment, feed};

#[rustfmt::skip]
const CR: &[u8] = &[
    0x03, 0x00, 0x00, 0x16, // TPKT v3, length 22
    0x11,                   // LI 17
    0xE0,                   // CR, credit 0
    0x00, 0x00,             // dst-ref 0
    0x00, 0x01,             // src-ref 1
    0x00,                   // class 0, no options
    0xC1, 0x02, 0x01, 0x00, // calling TSAP 0100
    0xC2, 0x02, 0x01, 0x02, // called TSAP: PG, rack 0 slot 2
    0xC0, 0x01, 0x0A,       // TPDU size 2**10
];

#[test]
fn connection_request_with_tsaps() {
    let mut p = icssa_s7::parser();
    let (dataset, action, fields) = feed(&mut *p, true, CR).one();
    assert_eq!((dataset, action.as_str()), ("cotp", "connection_request"));
    assert_eq!(
        fields,
        r#"{"pdu_type":14,"pdu_code":224,"pdu_name":"CR Connection Request","dst_ref":0,"src_ref":1,"credit":0,"class":0,"extended_formats":false,"no_explicit_flow_control":false,"src_tsap":"0100","dst_tsap":"0102","connection_type":1,"connection_type_name":"PG","rack":0,"slot":2,"tpdu_size":1024,"tpdu_size_code":10}"#
    );
}

#[test]
fn connection_confirm_class_4_with_unknown_parameter_and_user_data() {
    #[rustfmt::skip]
    let cc: &[u8] = &[
        0x03, 0x00, 0x00, 0x11, // TPKT v3, length 17
        0x0A,                   // LI 10
        0xD3,                   // CC, credit 3
        0x00, 0x01,             // dst-ref 1
        0x00, 0x02,             // src-ref 2
        0x43,                   // class 4, extended formats, no explicit flow control
        0xC7, 0x02, 0xAB, 0xCD, // parameter 0xC7 (not known): kept as other_parameters
        0x99, 0x98,             // user data (2 bytes)
    ];
    let mut p = icssa_s7::parser();
    let (_, action, fields) = feed(&mut *p, false, cc).one();
    assert_eq!(action, "connection_confirm");
    assert_eq!(
        fields,
        r#"{"pdu_type":13,"pdu_code":211,"pdu_name":"CC Connection Confirm","dst_ref":1,"src_ref":2,"credit":3,"class":4,"extended_formats":true,"no_explicit_flow_control":true,"other_parameters":[{"code":199,"value":"abcd"}],"user_data_length":2,"flags":["class_not_0"]}"#
    );
}

#[test]
fn disconnect_request_with_reason() {
    #[rustfmt::skip]
    let dr: &[u8] = &[
        0x03, 0x00, 0x00, 0x0B, // TPKT v3, length 11
        0x06,                   // LI 6
        0x80,                   // DR
        0x00, 0x01,             // dst-ref 1
        0x00, 0x02,             // src-ref 2
        0x80,                   // reason 128: normal disconnect
    ];
    let mut p = icssa_s7::parser();
    let (_, action, fields) = feed(&mut *p, true, dr).one();
    assert_eq!(action, "disconnect_request");
    assert_eq!(
        fields,
        r#"{"pdu_type":8,"pdu_code":128,"pdu_name":"DR Disconnect Request","dst_ref":1,"src_ref":2,"reason":128,"reason_name":"Normal disconnect initiated by the session entity"}"#
    );
}

#[test]
fn tpdu_error_with_calling_tsap() {
    #[rustfmt::skip]
    let er: &[u8] = &[
        0x03, 0x00, 0x00, 0x0D, // TPKT v3, length 13
        0x08,                   // LI 8
        0x70,                   // ER
        0x00, 0x05,             // dst-ref 5
        0x02,                   // reject cause 2: invalid TPDU type
        0xC1, 0x02, 0xAB, 0xCD, // calling TSAP abcd
    ];
    let mut p = icssa_s7::parser();
    let (_, action, fields) = feed(&mut *p, false, er).one();
    assert_eq!(action, "tpdu_error");
    assert_eq!(
        fields,
        r#"{"pdu_type":7,"pdu_code":112,"pdu_name":"ER TPDU Error","dst_ref":5,"reject_cause":2,"reject_cause_name":"Invalid TPDU type","src_tsap":"abcd"}"#
    );
}

#[test]
fn disconnect_confirm_with_cut_parameter_and_unknown_pdu_type() {
    #[rustfmt::skip]
    let dc: &[u8] = &[
        0x03, 0x00, 0x00, 0x0B, // TPKT v3, length 11
        0x06,                   // LI 6
        0xC0,                   // DC
        0x00, 0x07,             // dst-ref 7
        0x00, 0x08,             // src-ref 8
        0xC1,                   // a parameter code without its length
    ];
    #[rustfmt::skip]
    let unknown: &[u8] = &[
        0x03, 0x00, 0x00, 0x08, // TPKT v3, length 8
        0x02,                   // LI 2
        0x30,                   // type 3: not a class 0-4 PDU
        0x00,                   // (header byte)
        0xEE,                   // user data
    ];
    let mut p = icssa_s7::parser();
    let (_, action, fields) = feed(&mut *p, false, dc).one();
    assert_eq!(action, "disconnect_confirm");
    assert_eq!(
        fields,
        r#"{"pdu_type":12,"pdu_code":192,"pdu_name":"DC Disconnect Confirm","dst_ref":7,"src_ref":8,"flags":["truncated_parameter"]}"#
    );
    let (_, action, fields) = feed(&mut *p, false, unknown).one();
    assert_eq!(action, "unknown_pdu");
    assert_eq!(
        fields,
        r#"{"pdu_type":3,"pdu_code":48,"pdu_name":"Unknown COTP PDU-0x03","user_data_length":1}"#
    );
}

#[rustfmt::skip]
const SETUP: &[u8] = &[
    0x32,       // S7comm
    0x01,       // ROSCTR job
    0x00, 0x00, // redundancy id
    0x00, 0x01, // PDU reference 1
    0x00, 0x08, // parameter length 8
    0x00, 0x00, // data length 0
    0xF0,       // setup communication
    0x00,       // reserved
    0x00, 0x01, // max AmQ calling 1
    0x00, 0x01, // max AmQ called 1
    0x01, 0xE0, // PDU size 480
];

#[test]
fn tsdu_in_two_dt_segments_is_one_message() {
    let mut p = icssa_s7::parser();
    assert!(feed(&mut *p, true, &dt_segment(&SETUP[..5]))
        .msgs
        .is_empty());
    let (dataset, action, fields) = feed(&mut *p, true, &dt(&SETUP[5..])).one();
    assert_eq!(
        (dataset, action.as_str()),
        ("s7comm", "setup_communication")
    );
    assert!(
        fields.contains(r#""data_length":0,"cotp_segments":2,"is_response":false"#),
        "{fields}"
    );
}

#[test]
fn tsdu_beyond_the_bound_is_dropped_whole() {
    let mut p = icssa_s7::parser();
    let chunk = vec![0u8; 65000];
    for _ in 0..4 {
        let fed = feed(&mut *p, true, &dt_segment(&chunk));
        assert!(fed.msgs.is_empty() && fed.errors.is_empty());
    }
    // 5 x 65000 > 256 KiB
    let fed = feed(&mut *p, true, &dt_segment(&chunk));
    assert_eq!(
        fed.errors,
        vec![(
            "cotp_reassembly_overflow".into(),
            "more than 262144 bytes".into()
        )]
    );
    // the rest of the dropped TSDU, up to its EOT segment, is discarded quietly
    let fed = feed(&mut *p, true, &dt_segment(SETUP));
    assert!(fed.msgs.is_empty() && fed.errors.is_empty());
    let fed = feed(&mut *p, true, &dt(SETUP));
    assert!(fed.msgs.is_empty() && fed.errors.is_empty());
    // the next TSDU decodes again
    assert_eq!(
        feed(&mut *p, true, &dt(SETUP)).one().1,
        "setup_communication"
    );
}

#[test]
fn gap_drops_held_segments() {
    let mut p = icssa_s7::parser();
    feed(&mut *p, true, &dt_segment(&SETUP[..5]));
    p.gap(true);
    let (_, action, fields) = feed(&mut *p, true, &dt(SETUP)).one();
    assert_eq!(action, "setup_communication");
    assert!(!fields.contains("cotp_segments"));
}

#[test]
fn empty_dt_reports_nothing() {
    let mut p = icssa_s7::parser();
    let fed = feed(&mut *p, true, &dt(&[]));
    assert!(fed.msgs.is_empty() && fed.errors.is_empty());
}
