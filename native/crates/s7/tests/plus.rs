//! S7comm-plus (0x72): request / response pairing, fragments, keep-alive.

mod common;
use common::{dt, feed};

#[rustfmt::skip]
const SET_VARIABLE: &[u8] = &[
    0x72,                   // S7comm-plus
    0x01,                   // protocol version V1
    0x00, 0x0E,             // data length 14
    0x31,                   // opcode: request
    0x00, 0x00,             // reserved
    0x04, 0xF2,             // function SetVariable
    0x00, 0x00,             // reserved
    0x00, 0x07,             // sequence 7
    0x00, 0x00, 0x00, 0x2A, // session id 42
    0x36,                   // transport flags
    0x72, 0x01, 0x00, 0x00, // trailer
];

#[rustfmt::skip]
const SET_VARIABLE_RESPONSE: &[u8] = &[
    0x72,                   // S7comm-plus
    0x01,                   // protocol version V1
    0x00, 0x0A,             // data length 10
    0x32,                   // opcode: response
    0x00, 0x00,             // reserved
    0x04, 0xF2,             // function SetVariable
    0x00, 0x00,             // reserved
    0x00, 0x07,             // sequence 7
    0x00,                   // transport flags
    0x72, 0x01, 0x00, 0x00, // trailer
];

#[test]
fn response_inherits_the_session_of_its_request() {
    let mut p = icssa_s7::parser();
    let (dataset, action, fields) = feed(&mut *p, true, &dt(SET_VARIABLE)).one();
    assert_eq!((dataset, action.as_str()), ("s7comm_plus", "set_variable"));
    assert_eq!(
        fields,
        r#"{"protocol_version":1,"protocol_version_name":"V1","data_length":14,"integrity":false,"trailer":true,"opcode":49,"opcode_name":"request","function_code":1266,"function":"SetVariable","sequence":7,"session_id":42,"transport_flags":54,"is_response":false}"#
    );
    let (_, action, fields) = feed(&mut *p, false, &dt(SET_VARIABLE_RESPONSE)).one();
    assert_eq!(action, "set_variable");
    assert_eq!(
        fields,
        r#"{"protocol_version":1,"protocol_version_name":"V1","data_length":10,"integrity":false,"trailer":true,"opcode":50,"opcode_name":"response","function_code":1266,"function":"SetVariable","sequence":7,"transport_flags":0,"is_response":true,"matched":true,"session_id":42,"inherited":["session_id"]}"#
    );
}

#[test]
fn v3_message_in_two_fragments() {
    #[rustfmt::skip]
    let first: &[u8] = &[
        0x72, 0x03,             // S7comm-plus V3
        0x00, 0x0F,             // data length 15
        0x00,                   // integrity part: digest length 0
        0x31,                   // opcode: request
        0x00, 0x00,             // reserved
        0x05, 0x4C,             // function GetMultiVariables
        0x00, 0x00,             // reserved
        0x00, 0x08,             // sequence 8
        0x00, 0x00, 0x00, 0x01, // session id 1
        0x36,                   // transport flags
    ];
    #[rustfmt::skip]
    let last: &[u8] = &[
        0x72, 0x03,             // S7comm-plus V3
        0x00, 0x02,             // data length 2
        0x00,                   // digest length 0
        0xAA,                   // payload
        0x72, 0x03, 0x00, 0x00, // trailer
    ];
    let mut p = icssa_s7::parser();
    assert!(feed(&mut *p, true, &dt(first)).msgs.is_empty());
    let (_, action, fields) = feed(&mut *p, true, &dt(last)).one();
    assert_eq!(action, "get_multiple_variables");
    assert_eq!(
        fields,
        r#"{"protocol_version":3,"protocol_version_name":"V3","data_length":15,"digest_length":0,"integrity":false,"trailer":false,"opcode":49,"opcode_name":"request","function_code":1356,"function":"GetMultiVariables","sequence":8,"session_id":1,"transport_flags":54,"fragments":2,"is_response":false}"#
    );
}

#[test]
fn keep_alive_and_unknown_opcode() {
    #[rustfmt::skip]
    let keep_alive: &[u8] = &[
        0x72,       // S7comm-plus
        0xFF,       // keep-alive
        0x03,       // sequence 3 (the high byte of the length field)
        0x00,
    ];
    #[rustfmt::skip]
    let unknown: &[u8] = &[
        0x72, 0x02,             // S7comm-plus V2
        0x00, 0x01,             // data length 1
        0x44,                   // opcode 0x44: unknown
        0x72, 0x02, 0x00, 0x00, // trailer
    ];
    let mut p = icssa_s7::parser();
    let (_, action, fields) = feed(&mut *p, false, &dt(keep_alive)).one();
    assert_eq!(action, "keep_alive");
    assert_eq!(
        fields,
        r#"{"protocol_version":255,"protocol_version_name":"keep_alive","data_length":768,"keep_alive_sequence":3}"#
    );
    let (_, action, fields) = feed(&mut *p, false, &dt(unknown)).one();
    assert_eq!(action, "unknown_opcode");
    assert_eq!(
        fields,
        r#"{"protocol_version":2,"protocol_version_name":"V2","data_length":1,"integrity":false,"trailer":true,"opcode":68,"opcode_name":"unknown","flags":["unknown_opcode"],"is_response":false}"#
    );
}

#[test]
fn endless_fragments_are_emitted_after_the_bound() {
    #[rustfmt::skip]
    let fragment: &[u8] = &[
        0x72, 0x01,             // S7comm-plus V1
        0x00, 0x0A,             // data length 10
        0x32, 0x00, 0x00,       // response, reserved
        0x04, 0xCA,             // CreateObject
        0x00, 0x00,             // reserved
        0x00, 0x01,             // sequence 1
        0x00,                   // transport flags (no trailer follows)
    ];
    let mut p = icssa_s7::parser();
    for _ in 0..1023 {
        assert!(feed(&mut *p, false, &dt(fragment)).msgs.is_empty());
    }
    let (_, action, fields) = feed(&mut *p, false, &dt(fragment)).one();
    assert_eq!(action, "create_object");
    assert!(
        fields.ends_with(
            r#""fragments":1024,"flags":["too_many_fragments"],"is_response":true,"matched":false}"#
        ),
        "{fields}"
    );
}
