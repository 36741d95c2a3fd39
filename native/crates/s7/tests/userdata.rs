//! S7comm userdata (ROSCTR 7): SZL, fragments, blocks, clock, cyclic data, mode transitions.

mod common;
use common::{dt, feed};

#[rustfmt::skip]
const SZL_REQUEST: &[u8] = &[
    0x32, 0x07, 0x00, 0x00, // S7comm userdata, redundancy id
    0x00, 0x05,             // PDU reference 5
    0x00, 0x08,             // parameter length 8
    0x00, 0x08,             // data length 8
    0x00,                   // function 0
    0x01,                   // item count 1
    0x12,                   // variable specification
    0x04,                   // 4 bytes follow
    0x11,                   // method: request
    0x44,                   // type 1 (request), group 4 (CPU functions)
    0x01,                   // subfunction 1: read SZL
    0x00,                   // sequence 0
    0xFF,                   // return code: success
    0x09,                   // transport size: octet string
    0x00, 0x04,             // length 4
    0x00, 0x11,             // SZL id 0x0011: module identification
    0x00, 0x00,             // SZL index 0
];

#[rustfmt::skip]
const SZL_RESPONSE: &[u8] = &[
    0x32, 0x07, 0x00, 0x00, // S7comm userdata, redundancy id
    0x00, 0x05,             // PDU reference 5
    0x00, 0x0C,             // parameter length 12
    0x00, 0x28,             // data length 40
    0x00, 0x01, 0x12,       // function, item count, variable specification
    0x08,                   // 8 bytes follow
    0x12,                   // method: response
    0x84,                   // type 2 (response), group 4
    0x01,                   // subfunction 1: read SZL
    0x01,                   // sequence 1
    0x00,                   // data unit reference 0
    0x00,                   // last data unit
    0x00, 0x00,             // error code 0
    0xFF, 0x09,             // return code success, octet string
    0x00, 0x24,             // length 36
    0x00, 0x11,             // SZL id 0x0011
    0x00, 0x00,             // SZL index 0
    0x00, 0x1C,             // record length 28
    0x00, 0x01,             // 1 record
    0x00, 0x01,             // record index 1: module
    b'6', b'E', b'S', b'7', b' ', b'3', b'1', b'5', b'-', b'2', // order number (20 chars)
    b'E', b'H', b'1', b'4', b'-', b'0', b'A', b'B', b'0', b' ',
    0x00, 0x00,             // module type
    0x00, 0x04,             // Ausbg: release 4
    0x00, 0x00,             // Ausbe
];

#[test]
fn read_szl_module_identification() {
    let mut p = icssa_s7::parser();
    let (dataset, action, fields) = feed(&mut *p, true, &dt(SZL_REQUEST)).one();
    assert_eq!((dataset, action.as_str()), ("s7comm", "read_szl"));
    assert_eq!(
        fields,
        r#"{"rosctr":7,"rosctr_name":"userdata","pdu_ref":5,"param_length":8,"data_length":8,"userdata":{"method":17,"type":"request","type_code":1,"group":4,"group_name":"CPU functions","subfunction":1,"sequence":0},"is_response":false,"return_code":255,"return_name":"Success","szl_id":17,"szl_index":0}"#
    );
    let (_, action, fields) = feed(&mut *p, false, &dt(SZL_RESPONSE)).one();
    assert_eq!(action, "read_szl");
    assert_eq!(
        fields,
        r#"{"rosctr":7,"rosctr_name":"userdata","pdu_ref":5,"param_length":12,"data_length":40,"userdata":{"method":18,"type":"response","type_code":2,"group":4,"group_name":"CPU functions","subfunction":1,"sequence":1,"data_unit_ref":0,"last_data_unit":true,"error_code":0},"is_response":true,"return_code":255,"return_name":"Success","szl_id":17,"szl_index":0,"szl_record_length":28,"szl_record_count":1,"identity":{"order_number":"6ES7 315-2EH14-0AB0","module_version":"4"},"matched":true}"#
    );
}

#[rustfmt::skip]
const COMPONENT_SZL: &[u8] = &[
    0x00, 0x1C,             // SZL id 0x001C: component identification
    0x00, 0x00,             // SZL index 0
    0x00, 0x22,             // record length 34
    0x00, 0x02,             // 2 records
    0x00, 0x01,             // record index 1: automation system name
    b'P', b'L', b'C', b'_', b'1', 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, // 32 bytes text
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0x00, 0x05,             // record index 5: serial number
    b'S', b' ', b'C', b'-', b'X', b'4', b'U', 0, 0, 0, 0, 0, 0, 0, 0, 0, // 32 bytes text
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
];

/// A read-SZL answer fragment carrying `payload` (data unit reference 3).
fn szl_fragment(more: bool, payload: &[u8]) -> Vec<u8> {
    let dlen = (payload.len() + 4) as u16;
    #[rustfmt::skip]
    let mut pdu = vec![
        0x32, 0x07, 0x00, 0x00, // S7comm userdata, redundancy id
        0x00, 0x08,             // PDU reference 8
        0x00, 0x0C,             // parameter length 12
        (dlen >> 8) as u8, dlen as u8, // data length
        0x00, 0x01, 0x12, 0x08, // function, item count, variable specification, 8 bytes
        0x12,                   // method: response
        0x84,                   // type 2, group 4
        0x01,                   // read SZL
        0x02,                   // sequence 2
        0x03,                   // data unit reference 3
        u8::from(more),         // 1: more data units follow
        0x00, 0x00,             // error code 0
        0xFF, 0x09,             // return code success, octet string
        0x00, payload.len() as u8, // length
    ];
    pdu.extend_from_slice(payload);
    pdu
}

#[test]
fn fragmented_szl_answer_is_reassembled() {
    let mut p = icssa_s7::parser();
    let (_, action, fields) = feed(
        &mut *p,
        false,
        &dt(&szl_fragment(true, &COMPONENT_SZL[..40])),
    )
    .one();
    assert_eq!(action, "read_szl");
    assert_eq!(
        fields,
        r#"{"rosctr":7,"rosctr_name":"userdata","pdu_ref":8,"param_length":12,"data_length":44,"userdata":{"method":18,"type":"response","type_code":2,"group":4,"group_name":"CPU functions","subfunction":1,"sequence":2,"data_unit_ref":3,"last_data_unit":false,"error_code":0},"is_response":true,"return_code":255,"return_name":"Success","fragment":true,"matched":false}"#
    );
    let (_, _, fields) = feed(
        &mut *p,
        false,
        &dt(&szl_fragment(false, &COMPONENT_SZL[40..])),
    )
    .one();
    assert!(fields.ends_with(r#""return_code":255,"return_name":"Success","reassembled":true,"fragments":2,"szl_id":28,"szl_index":0,"szl_record_length":34,"szl_record_count":2,"identity":{"system_name":"PLC_1","serial_number":"S C-X4U"},"matched":false}"#), "{fields}");
}

#[test]
fn gap_drops_userdata_fragments_of_its_direction() {
    let mut p = icssa_s7::parser();
    feed(
        &mut *p,
        false,
        &dt(&szl_fragment(true, &COMPONENT_SZL[..40])),
    );
    p.gap(false);
    let (_, _, fields) = feed(
        &mut *p,
        false,
        &dt(&szl_fragment(false, &COMPONENT_SZL[40..])),
    )
    .one();
    // decoded alone: the rest of a record list is not an SZL header
    assert!(
        !fields.contains("reassembled") && fields.contains("szl_records_truncated"),
        "{fields}"
    );
}

#[test]
fn error_answer_with_another_reference_pairs_by_group_and_inherits_the_szl_id() {
    #[rustfmt::skip]
    let request: &[u8] = &[
        0x32, 0x07, 0x00, 0x00, // S7comm userdata, redundancy id
        0x00, 0x0A,             // PDU reference 10
        0x00, 0x08, 0x00, 0x08, // parameter length 8, data length 8
        0x00, 0x01, 0x12, 0x04, 0x11, // head of a request
        0x44, 0x01, 0x00,       // request, group 4, read SZL, sequence 0
        0xFF, 0x09, 0x00, 0x04, // success, octet string, length 4
        0x04, 0x24,             // SZL id 0x0424: current mode
        0x00, 0x00,             // index 0
    ];
    #[rustfmt::skip]
    let answer: &[u8] = &[
        0x32, 0x07, 0x00, 0x00, // S7comm userdata, redundancy id
        0x00, 0x63,             // PDU reference 99: not echoed
        0x00, 0x0C, 0x00, 0x04, // parameter length 12, data length 4
        0x00, 0x01, 0x12, 0x08, 0x12, // head of a response
        0x84, 0x01, 0x01,       // response, group 4, read SZL, sequence 1
        0x00, 0x00,             // data unit reference 0, last data unit
        0xD4, 0x01,             // error code 0xD401: information function unavailable
        0x0A, 0x00, 0x00, 0x00, // return code: object does not exist, no payload
    ];
    let mut p = icssa_s7::parser();
    feed(&mut *p, true, &dt(request));
    let (_, _, fields) = feed(&mut *p, false, &dt(answer)).one();
    assert_eq!(
        fields,
        r#"{"rosctr":7,"rosctr_name":"userdata","pdu_ref":99,"param_length":12,"data_length":4,"error":"Information function unavailable","userdata":{"method":18,"type":"response","type_code":2,"group":4,"group_name":"CPU functions","subfunction":1,"sequence":1,"data_unit_ref":0,"last_data_unit":true,"error_code":54273},"is_response":true,"return_code":10,"return_name":"Object does not exist","matched":true,"szl_id":1060,"szl_index":0,"inherited":["szl_id","szl_index"]}"#
    );
}

#[test]
fn mode_transition_push() {
    #[rustfmt::skip]
    let push: &[u8] = &[
        0x32, 0x07, 0x00, 0x00, // S7comm userdata, redundancy id
        0x00, 0x00,             // PDU reference 0
        0x00, 0x08, 0x00, 0x00, // parameter length 8, data length 0
        0x00, 0x01, 0x12, 0x04, // function, item count, variable specification, 4 bytes
        0x11,                   // method
        0x00,                   // type 0, group 0: mode transition
        0x08,                   // new mode 8: RUN
        0x00,                   // sequence 0
    ];
    let mut p = icssa_s7::parser();
    let (_, action, fields) = feed(&mut *p, false, &dt(push)).one();
    assert_eq!(action, "mode_transition");
    assert_eq!(
        fields,
        r#"{"rosctr":7,"rosctr_name":"userdata","pdu_ref":0,"param_length":8,"data_length":0,"mode":"run","mode_name":"RUN","mode_code":8,"userdata":{"method":17,"group":0,"group_name":"Mode transition","subfunction":8,"type":"push","type_code":0,"sequence":0},"is_response":false}"#
    );
}

#[test]
fn read_clock_answer() {
    #[rustfmt::skip]
    let answer: &[u8] = &[
        0x32, 0x07, 0x00, 0x00, // S7comm userdata, redundancy id
        0x00, 0x0B,             // PDU reference 11
        0x00, 0x0C, 0x00, 0x0E, // parameter length 12, data length 14
        0x00, 0x01, 0x12, 0x08, 0x12, // head of a response
        0x87, 0x01, 0x03,       // response, group 7 (time), read clock, sequence 3
        0x00, 0x00, 0x00, 0x00, // data unit reference, last data unit, error code
        0xFF, 0x09, 0x00, 0x0A, // success, octet string, length 10
        0x00, 0x19,             // reserved, century (BCD)
        0x24, 0x03, 0x25,       // 2024-03-25
        0x15, 0x30, 0x45,       // 15:30:45
        0x01, 0x23,             // .012 and the weekday nibble
    ];
    let mut p = icssa_s7::parser();
    let (_, action, fields) = feed(&mut *p, false, &dt(answer)).one();
    assert_eq!(action, "read_clock");
    assert!(fields.ends_with(r#""return_code":255,"return_name":"Success","clock":"2024-03-25T15:30:45.012","matched":false}"#), "{fields}");
}

#[test]
fn list_blocks_answer_counts_by_type() {
    #[rustfmt::skip]
    let answer: &[u8] = &[
        0x32, 0x07, 0x00, 0x00, // S7comm userdata, redundancy id
        0x00, 0x0C,             // PDU reference 12
        0x00, 0x0C, 0x00, 0x10, // parameter length 12, data length 16
        0x00, 0x01, 0x12, 0x08, 0x12, // head of a response
        0x83, 0x01, 0x00,       // response, group 3 (blocks), list blocks, sequence 0
        0x00, 0x00, 0x00, 0x00, // data unit reference, last data unit, error code
        0xFF, 0x09, 0x00, 0x0C, // success, octet string, length 12
        b'0', b'8', 0x00, 0x03, // 3 OBs
        b'0', b'A', 0x00, 0x05, // 5 DBs
        b'Z', b'Z', 0x00, 0x01, // 1 block of an unknown type ZZ
    ];
    let mut p = icssa_s7::parser();
    let (_, action, fields) = feed(&mut *p, false, &dt(answer)).one();
    assert_eq!(action, "list_blocks");
    assert!(
        fields.ends_with(r#""block_counts":{"OB":3,"DB":5,"ZZ":1},"matched":false}"#),
        "{fields}"
    );
}

#[test]
fn set_password_logs_only_its_length() {
    #[rustfmt::skip]
    let request: &[u8] = &[
        0x32, 0x07, 0x00, 0x00, // S7comm userdata, redundancy id
        0x00, 0x0D,             // PDU reference 13
        0x00, 0x08, 0x00, 0x0C, // parameter length 8, data length 12
        0x00, 0x01, 0x12, 0x04, 0x11, // head of a request
        0x45, 0x01, 0x00,       // request, group 5 (security), set password, sequence 0
        0xFF, 0x09, 0x00, 0x08, // success, octet string, length 8
        0x55, 0x32, 0x33, 0x11, 0x04, 0x02, 0x30, 0x12, // encoded password
    ];
    let mut p = icssa_s7::parser();
    let (_, action, fields) = feed(&mut *p, true, &dt(request)).one();
    assert_eq!(action, "set_password");
    assert!(
        fields.ends_with(
            r#""is_response":false,"return_code":255,"return_name":"Success","password_length":8}"#
        ),
        "{fields}"
    );
}

#[test]
fn cyclic_data_push_with_one_value() {
    #[rustfmt::skip]
    let push: &[u8] = &[
        0x32, 0x07, 0x00, 0x00, // S7comm userdata, redundancy id
        0x00, 0x0E,             // PDU reference 14
        0x00, 0x08, 0x00, 0x0C, // parameter length 8, data length 12
        0x00, 0x01, 0x12, 0x04, 0x11, // head
        0x02, 0x01, 0x00,       // push, group 2 (cyclic), cyclic data, sequence 0
        0xFF, 0x09, 0x00, 0x08, // success, octet string, length 8
        0x00,                   // unknown
        0x01,                   // item count 1
        0xFF, 0x04, 0x00, 0x10, // success, BYTE/WORD/DWORD, 16 bits
        0x00, 0x2A,             // 42
    ];
    let mut p = icssa_s7::parser();
    let (_, action, fields) = feed(&mut *p, false, &dt(push)).one();
    assert_eq!(action, "cyclic_data");
    assert!(fields.ends_with(r#""is_response":false,"return_code":255,"return_name":"Success","items":[{"return_code":255,"return_name":"Success","data_transport_size":4,"data_transport_size_name":"BYTE/WORD/DWORD","length":2}],"values":[42]}"#), "{fields}");
}
