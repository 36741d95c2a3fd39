//! S7comm jobs and their answers (ROSCTR 1 / 2 / 3): hand-labelled PDUs, pairing, inheritance.

mod common;
use common::{dt, feed};

#[rustfmt::skip]
const SETUP_JOB: &[u8] = &[
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

#[rustfmt::skip]
const SETUP_ACK: &[u8] = &[
    0x32,       // S7comm
    0x03,       // ROSCTR ack_data
    0x00, 0x00, // redundancy id
    0x00, 0x01, // PDU reference 1
    0x00, 0x08, // parameter length 8
    0x00, 0x00, // data length 0
    0x00,       // error class
    0x00,       // error code
    0xF0,       // setup communication
    0x00,       // reserved
    0x00, 0x01, // max AmQ calling 1
    0x00, 0x01, // max AmQ called 1
    0x00, 0xF0, // PDU size 240
];

#[test]
fn setup_communication_job_and_ack_data() {
    let mut p = icssa_s7::parser();
    let (dataset, action, fields) = feed(&mut *p, true, &dt(SETUP_JOB)).one();
    assert_eq!(
        (dataset, action.as_str()),
        ("s7comm", "setup_communication")
    );
    assert_eq!(
        fields,
        r#"{"rosctr":1,"rosctr_name":"job","pdu_ref":1,"param_length":8,"data_length":0,"is_response":false,"function_code":240,"function":"Setup communication","max_amq_calling":1,"max_amq_called":1,"pdu_size":480}"#
    );
    let (_, action, fields) = feed(&mut *p, false, &dt(SETUP_ACK)).one();
    assert_eq!(action, "setup_communication");
    assert_eq!(
        fields,
        r#"{"rosctr":3,"rosctr_name":"ack_data","pdu_ref":1,"param_length":8,"data_length":0,"error_class":0,"error_code":0,"error_class_name":"No error","is_response":true,"matched":true,"function_code":240,"function":"Setup communication","max_amq_calling":1,"max_amq_called":1,"pdu_size":240}"#
    );
}

#[rustfmt::skip]
const READ_JOB: &[u8] = &[
    0x32, 0x01, 0x00, 0x00, // S7comm job, redundancy id
    0x00, 0x02,             // PDU reference 2
    0x00, 0x0E,             // parameter length 14
    0x00, 0x00,             // data length 0
    0x04,                   // read var
    0x01,                   // item count 1
    0x12,                   // variable specification
    0x0A,                   // spec length 10
    0x10,                   // syntax id S7ANY
    0x04,                   // transport size WORD
    0x00, 0x01,             // length 1
    0x00, 0x01,             // DB 1
    0x84,                   // area DB
    0x00, 0x00, 0x50,       // address: byte 10, bit 0
];

#[rustfmt::skip]
const READ_ACK: &[u8] = &[
    0x32, 0x03, 0x00, 0x00, // S7comm ack_data, redundancy id
    0x00, 0x02,             // PDU reference 2
    0x00, 0x02,             // parameter length 2
    0x00, 0x06,             // data length 6
    0x00, 0x00,             // no error
    0x04,                   // read var
    0x01,                   // item count 1
    0xFF,                   // return code: success
    0x04,                   // data transport size BYTE/WORD/DWORD
    0x00, 0x10,             // length 16 bits
    0x12, 0x34,             // value 0x1234
];

#[test]
fn read_var_answer_inherits_item_addresses() {
    let mut p = icssa_s7::parser();
    let (_, action, fields) = feed(&mut *p, true, &dt(READ_JOB)).one();
    assert_eq!(action, "read_var");
    assert_eq!(
        fields,
        r#"{"rosctr":1,"rosctr_name":"job","pdu_ref":2,"param_length":14,"data_length":0,"is_response":false,"function_code":4,"function":"Read Var","item_count":1,"items":[{"syntax_id":16,"syntax":"S7ANY","transport_size":4,"transport_size_name":"WORD","length":1,"db":1,"area":"DB","area_code":132,"address":10,"bit":0}]}"#
    );
    let (_, action, fields) = feed(&mut *p, false, &dt(READ_ACK)).one();
    assert_eq!(action, "read_var");
    assert_eq!(
        fields,
        r#"{"rosctr":3,"rosctr_name":"ack_data","pdu_ref":2,"param_length":2,"data_length":6,"error_class":0,"error_code":0,"error_class_name":"No error","is_response":true,"matched":true,"function_code":4,"function":"Read Var","item_count":1,"values":[4660],"inherited":["item_addresses"],"items":[{"syntax_id":16,"syntax":"S7ANY","transport_size":4,"transport_size_name":"WORD","length":2,"db":1,"area":"DB","area_code":132,"address":10,"bit":0,"return_code":255,"return_name":"Success","data_transport_size":4,"data_transport_size_name":"BYTE/WORD/DWORD"}]}"#
    );
}

#[test]
fn write_var_of_a_negative_int_and_its_return_codes() {
    #[rustfmt::skip]
    let job: &[u8] = &[
        0x32, 0x01, 0x00, 0x00, // S7comm job, redundancy id
        0x00, 0x03,             // PDU reference 3
        0x00, 0x0E,             // parameter length 14
        0x00, 0x06,             // data length 6
        0x05,                   // write var
        0x01,                   // item count 1
        0x12, 0x0A, 0x10,       // variable specification, length 10, S7ANY
        0x05,                   // transport size INT
        0x00, 0x01,             // length 1
        0x00, 0x00,             // DB 0
        0x1D,                   // area T (timers: the address is a number)
        0x00, 0x00, 0x07,       // timer 7
        0x00,                   // return code: reserved (0 in requests)
        0x05,                   // data transport size INTEGER
        0x00, 0x10,             // length 16 bits
        0xFF, 0xFE,             // value -2
    ];
    #[rustfmt::skip]
    let ack: &[u8] = &[
        0x32, 0x03, 0x00, 0x00, // S7comm ack_data, redundancy id
        0x00, 0x03,             // PDU reference 3
        0x00, 0x02,             // parameter length 2
        0x00, 0x01,             // data length 1
        0x00, 0x00,             // no error
        0x05,                   // write var
        0x01,                   // item count 1
        0x0A,                   // return code: object does not exist
    ];
    let mut p = icssa_s7::parser();
    let (_, action, fields) = feed(&mut *p, true, &dt(job)).one();
    assert_eq!(action, "write_var");
    assert!(fields.ends_with(r#""item_count":1,"items":[{"syntax_id":16,"syntax":"S7ANY","transport_size":5,"transport_size_name":"INT","length":1,"db":0,"area":"T","area_code":29,"address":7,"bit":0,"data_transport_size":5}],"values":[-2]}"#), "{fields}");
    let (_, _, fields) = feed(&mut *p, false, &dt(ack)).one();
    assert!(fields.ends_with(r#""item_count":1,"inherited":["item_addresses"],"items":[{"syntax_id":16,"syntax":"S7ANY","transport_size":5,"transport_size_name":"INT","length":1,"db":0,"area":"T","area_code":29,"address":7,"bit":0,"data_transport_size":5,"return_code":10,"return_name":"Object does not exist"}]}"#), "{fields}");
}

#[test]
fn request_download_names_the_block_and_its_answer_inherits_it() {
    #[rustfmt::skip]
    let job: &[u8] = &[
        0x32, 0x01, 0x00, 0x00, // S7comm job, redundancy id
        0x00, 0x04,             // PDU reference 4
        0x00, 0x20,             // parameter length 32
        0x00, 0x00,             // data length 0
        0x1A,                   // request download
        0x00,                   // function status
        0x00, 0x01,             // unknown
        0x00, 0x00, 0x00, 0x00, // upload id / error code
        0x09,                   // file name length 9
        b'_', b'0', b'A',       // '_' + block type 0A (DB)
        b'0', b'0', b'0', b'0', b'1', // block number 00001
        b'P',                   // passive filesystem
        0x0D, b'1',             // part 2: length, unknown char
        b'0', b'0', b'0', b'1', b'2', b'3', // load memory length 123
        b'0', b'0', b'0', b'0', b'4', b'5', // MC7 length 45
    ];
    #[rustfmt::skip]
    let ack: &[u8] = &[
        0x32, 0x03, 0x00, 0x00, // S7comm ack_data, redundancy id
        0x00, 0x04,             // PDU reference 4
        0x00, 0x01,             // parameter length 1
        0x00, 0x00,             // data length 0
        0x00, 0x00,             // no error
        0x1A,                   // request download
    ];
    let mut p = icssa_s7::parser();
    let (_, action, fields) = feed(&mut *p, true, &dt(job)).one();
    assert_eq!(action, "request_download");
    assert!(fields.ends_with(r#""function_code":26,"function":"Request download","function_status":0,"more_data":false,"filename":"_0A00001P","block_type_code":"0A","block_type":"DB","block_number":1,"filesystem":"P","filesystem_name":"passive","load_memory_length":123,"mc7_length":45}"#), "{fields}");
    let (_, _, fields) = feed(&mut *p, false, &dt(ack)).one();
    assert!(fields.ends_with(r#""is_response":true,"matched":true,"function_code":26,"function":"Request download","block_type":"DB","block_type_code":"0A","block_number":1,"filename":"_0A00001P","inherited":["block_type","block_type_code","block_number","filename"]}"#), "{fields}");
}

#[test]
fn start_upload_answer_with_block_length() {
    #[rustfmt::skip]
    let ack: &[u8] = &[
        0x32, 0x03, 0x00, 0x00, // S7comm ack_data, redundancy id
        0x00, 0x09,             // PDU reference 9 (no request seen)
        0x00, 0x0E,             // parameter length 14
        0x00, 0x00,             // data length 0
        0x00, 0x00,             // no error
        0x1D,                   // start upload
        0x01,                   // function status: more data
        0x01, 0x00,             // unknown
        0x00, 0x00, 0x00, 0x07, // upload id 7
        0x04,                   // block length string: 4 characters
        b'0', b'2', b'5', b'6', // 256 bytes
        0x00,                   // (trailing byte of the parameter part)
    ];
    let mut p = icssa_s7::parser();
    let (_, action, fields) = feed(&mut *p, false, &dt(ack)).one();
    assert_eq!(action, "start_upload");
    assert!(fields.ends_with(r#""is_response":true,"matched":false,"function_code":29,"function":"Start upload","function_status":1,"more_data":true,"upload_id":7,"block_length":256}"#), "{fields}");
}

#[test]
fn pi_service_cold_start_and_plc_stop() {
    #[rustfmt::skip]
    let start: &[u8] = &[
        0x32, 0x01, 0x00, 0x00, // S7comm job, redundancy id
        0x00, 0x05,             // PDU reference 5
        0x00, 0x16,             // parameter length 22
        0x00, 0x00,             // data length 0
        0x28,                   // PI service
        0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0xFD, // unknown
        0x00, 0x02,             // parameter block length 2
        b'C', 0x00,             // parameter block "C" (cold), NUL padded
        0x09,                   // service name length 9
        b'P', b'_', b'P', b'R', b'O', b'G', b'R', b'A', b'M', // P_PROGRAM
    ];
    #[rustfmt::skip]
    let stop: &[u8] = &[
        0x32, 0x01, 0x00, 0x00, // S7comm job, redundancy id
        0x00, 0x06,             // PDU reference 6
        0x00, 0x10,             // parameter length 16
        0x00, 0x00,             // data length 0
        0x29,                   // PLC stop
        0x00, 0x00, 0x00, 0x00, 0x00, // unknown
        0x09,                   // service name length 9
        b'P', b'_', b'P', b'R', b'O', b'G', b'R', b'A', b'M', // P_PROGRAM
    ];
    let mut p = icssa_s7::parser();
    let (_, action, fields) = feed(&mut *p, true, &dt(start)).one();
    assert_eq!(action, "plc_control");
    assert!(fields.ends_with(r#""function_code":40,"function":"PI-Service","pi_service":"P_PROGRAM","pi_service_description":"PLC Start / Stop","pi_argument":"C","start_type":"cold"}"#), "{fields}");
    let (_, action, fields) = feed(&mut *p, true, &dt(stop)).one();
    assert_eq!(action, "plc_stop");
    assert!(
        fields.ends_with(r#""function_code":41,"function":"PLC Stop","pi_service":"P_PROGRAM"}"#),
        "{fields}"
    );
}

#[test]
fn pi_service_insert_lists_its_blocks() {
    #[rustfmt::skip]
    let job: &[u8] = &[
        0x32, 0x01, 0x00, 0x00, // S7comm job, redundancy id
        0x00, 0x07,             // PDU reference 7
        0x00, 0x1A,             // parameter length 26
        0x00, 0x00,             // data length 0
        0x28,                   // PI service
        0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0xFD, // unknown
        0x00, 0x0A,             // parameter block length 10
        0x01,                   // block count 1
        0x00,                   // unknown
        b'0', b'C',             // block type FC
        b'0', b'0', b'0', b'1', b'2', // number 12
        b'P',                   // passive filesystem
        0x05,                   // service name length 5
        b'_', b'I', b'N', b'S', b'E', // _INSE
    ];
    let mut p = icssa_s7::parser();
    let (_, _, fields) = feed(&mut *p, true, &dt(job)).one();
    assert!(fields.ends_with(r#""pi_service":"_INSE","pi_service_description":"Activates a PLC module","blocks":[{"block_type_code":"0C","block_type":"FC","block_number":12,"filesystem":"P","filesystem_name":"passive"}]}"#), "{fields}");
}

#[test]
fn error_ack_without_parameter_inherits_the_function() {
    #[rustfmt::skip]
    let ack: &[u8] = &[
        0x32, 0x03, 0x00, 0x00, // S7comm ack_data, redundancy id
        0x00, 0x02,             // PDU reference 2 (the read job)
        0x00, 0x00,             // parameter length 0
        0x00, 0x00,             // data length 0
        0x85,                   // error class: error on supplies
        0x00,                   // error code 0x8500: wrong frames
    ];
    let mut p = icssa_s7::parser();
    feed(&mut *p, true, &dt(READ_JOB));
    let (_, action, fields) = feed(&mut *p, false, &dt(ack)).one();
    assert_eq!(action, "read_var");
    assert_eq!(
        fields,
        r#"{"rosctr":3,"rosctr_name":"ack_data","pdu_ref":2,"param_length":0,"data_length":0,"error_class":133,"error_code":0,"error_class_name":"Error on supplies","error":"Wrong frames","is_response":true,"matched":true,"inherited":["function_code","function"],"function_code":4,"function":"Read Var"}"#
    );
    // a bare ack with nothing pending
    let mut bare = ack.to_vec();
    bare[1] = 0x02; // ROSCTR ack
    let (_, action, fields) = feed(&mut *p, false, &dt(&bare)).one();
    assert_eq!(action, "ack");
    assert!(
        fields.ends_with(r#""is_response":true,"matched":false}"#),
        "{fields}"
    );
}

#[test]
fn answer_of_another_function_inherits_nothing() {
    let mut p = icssa_s7::parser();
    feed(&mut *p, true, &dt(READ_JOB));
    let mut ack = READ_ACK.to_vec();
    ack[12] = 0x05; // write var instead of read var
    ack[13] = 0x00; // no items
    let (_, action, fields) = feed(&mut *p, false, &dt(&ack)).one();
    assert_eq!(action, "write_var");
    assert!(fields.ends_with(r#""matched":true,"function_code":5,"function":"Write Var","item_count":0,"items":[],"flags":["function_code_mismatch"]}"#), "{fields}");
}

#[test]
fn pending_requests_are_bounded() {
    let mut p = icssa_s7::parser();
    let mut job = READ_JOB.to_vec();
    for r in 0..501u16 {
        job[4..6].copy_from_slice(&r.to_be_bytes());
        let (_, _, fields) = feed(&mut *p, true, &dt(&job)).one();
        assert_eq!(
            fields.contains("pending_requests_bound_hit"),
            r == 500,
            "request {r}"
        );
    }
    // the oldest request (reference 0) was dropped, the newest is still pending
    let mut ack = READ_ACK.to_vec();
    ack[4..6].copy_from_slice(&0u16.to_be_bytes());
    assert!(feed(&mut *p, false, &dt(&ack))
        .one()
        .2
        .contains(r#""matched":false"#));
    ack[4..6].copy_from_slice(&500u16.to_be_bytes());
    assert!(feed(&mut *p, false, &dt(&ack))
        .one()
        .2
        .contains(r#""matched":true"#));
    // the flag is raised once per flow
    job[4..6].copy_from_slice(&600u16.to_be_bytes());
    feed(&mut *p, true, &dt(&job));
    job[4..6].copy_from_slice(&601u16.to_be_bytes());
    assert!(!feed(&mut *p, true, &dt(&job)).one().2.contains("bound_hit"));
}

#[test]
fn unknown_rosctr_and_header_flags() {
    #[rustfmt::skip]
    let pdu: &[u8] = &[
        0x32,       // S7comm
        0x05,       // ROSCTR 5: unknown
        0x00, 0x01, // redundancy id not zero
        0x00, 0x01, // PDU reference 1
        0x00, 0x04, // parameter length 4
        0x00, 0x00, // data length 0 (only 2 parameter bytes follow)
        0xAA, 0xBB, // parameter
    ];
    let mut p = icssa_s7::parser();
    let (_, action, fields) = feed(&mut *p, true, &dt(pdu)).one();
    assert_eq!(action, "unknown_rosctr");
    assert_eq!(
        fields,
        r#"{"rosctr":5,"rosctr_name":"unknown","pdu_ref":1,"param_length":4,"data_length":0,"is_response":false,"flags":["reserved_not_zero","length_mismatch","unknown_rosctr"]}"#
    );
}

#[test]
fn block_length_beyond_64_bits_is_left_out() {
    #[rustfmt::skip]
    let ack: &[u8] = &[
        0x32, 0x03, 0x00, 0x00, // S7comm ack_data, redundancy id
        0x00, 0x09,             // PDU reference 9
        0x00, 0x1E,             // parameter length 30
        0x00, 0x00,             // data length 0
        0x00, 0x00,             // no error
        0x1D, 0x00,             // start upload, function status 0
        0x01, 0x00,             // unknown
        0x00, 0x00, 0x00, 0x07, // upload id 7
        0x15,                   // block length string: 21 characters
        b'9', b'9', b'9', b'9', b'9', b'9', b'9', b'9', b'9', b'9', b'9', // 21 nines: more
        b'9', b'9', b'9', b'9', b'9', b'9', b'9', b'9', b'9', b'9',       // than 64 bits hold
    ];
    // the Python decodes the number and then cannot serialise it (orjson: "Integer exceeds
    // 64-bit range"); this port leaves the field out
    let mut p = icssa_s7::parser();
    let (_, _, fields) = feed(&mut *p, false, &dt(ack)).one();
    assert!(
        fields.ends_with(r#""function_status":0,"more_data":false,"upload_id":7}"#),
        "{fields}"
    );
}
