//! The reading functions' requests and responses (1, 2, 3, 4, 7, 11, 12, 17, 20, 24), from
//! hand-labelled byte vectors (most are the examples of the MODBUS Application Protocol
//! Specification V1.1b3, section 6), paired on one flow; the expected fields are written out by
//! hand from the specification.

mod common;
use common::pair;

#[test]
fn fc1_read_coils() {
    #[rustfmt::skip]
    let req = [
        0x00, 0x01, // transaction id 1
        0x00, 0x00, // protocol id 0
        0x00, 0x06, // length 6
        0x01,       // unit id 1
        0x01,       // function 1 read coils
        0x00, 0x13, // starting address 19
        0x00, 0x13, // quantity of coils 19
    ];
    #[rustfmt::skip]
    let resp = [
        0x00, 0x01, 0x00, 0x00, 0x00, 0x06, 0x01, // MBAP: tid 1, pid 0, length 6, unit 1
        0x01,             // function 1
        0x03,             // byte count 3
        0xCD, 0x6B, 0x05, // coils 20..27, 28..35, 36..38 (LSB first)
    ];
    pair(
        &req,
        r#"read_coils {"transaction_id":1,"unit_id":1,"function_code":1,"function":"READ_COILS","is_response":false,"address":19,"quantity":19}"#,
        &resp,
        r#"read_coils {"transaction_id":1,"unit_id":1,"function_code":1,"function":"READ_COILS","is_response":true,"matched":true,"address":19,"quantity":19,"values":[1,0,1,1,0,0,1,1,1,1,0,1,0,1,1,0,1,0,1]}"#,
    );
}

#[test]
fn fc2_read_discrete_inputs() {
    #[rustfmt::skip]
    let req = [
        0x00, 0x02, 0x00, 0x00, 0x00, 0x06, 0x01, // MBAP: tid 2, pid 0, length 6, unit 1
        0x02,       // function 2 read discrete inputs
        0x00, 0xC4, // starting address 196
        0x00, 0x16, // quantity of inputs 22
    ];
    #[rustfmt::skip]
    let resp = [
        0x00, 0x02, 0x00, 0x00, 0x00, 0x06, 0x01, // MBAP: tid 2, length 6, unit 1
        0x02,             // function 2
        0x03,             // byte count 3
        0xAC, 0xDB, 0x35, // inputs 196..203, 204..211, 212..217
    ];
    pair(
        &req,
        r#"read_discrete_inputs {"transaction_id":2,"unit_id":1,"function_code":2,"function":"READ_DISCRETE_INPUTS","is_response":false,"address":196,"quantity":22}"#,
        &resp,
        r#"read_discrete_inputs {"transaction_id":2,"unit_id":1,"function_code":2,"function":"READ_DISCRETE_INPUTS","is_response":true,"matched":true,"address":196,"quantity":22,"values":[0,0,1,1,0,1,0,1,1,1,0,1,1,0,1,1,1,0,1,0,1,1]}"#,
    );
}

#[test]
fn fc3_read_holding_registers() {
    #[rustfmt::skip]
    let req = [
        0x00, 0x03, 0x00, 0x00, 0x00, 0x06, 0x01, // MBAP: tid 3, length 6, unit 1
        0x03,       // function 3 read holding registers
        0x00, 0x6B, // starting address 107
        0x00, 0x03, // quantity of registers 3
    ];
    #[rustfmt::skip]
    let resp = [
        0x00, 0x03, 0x00, 0x00, 0x00, 0x09, 0x01, // MBAP: tid 3, length 9, unit 1
        0x03,       // function 3
        0x06,       // byte count 6
        0x02, 0x2B, // register 107 = 555
        0x00, 0x00, // register 108 = 0
        0x00, 0x64, // register 109 = 100
    ];
    pair(
        &req,
        r#"read_holding_registers {"transaction_id":3,"unit_id":1,"function_code":3,"function":"READ_HOLDING_REGISTERS","is_response":false,"address":107,"quantity":3}"#,
        &resp,
        r#"read_holding_registers {"transaction_id":3,"unit_id":1,"function_code":3,"function":"READ_HOLDING_REGISTERS","is_response":true,"matched":true,"address":107,"quantity":3,"values":[555,0,100]}"#,
    );
}

#[test]
fn fc4_read_input_registers() {
    #[rustfmt::skip]
    let req = [
        0x00, 0x04, 0x00, 0x00, 0x00, 0x06, 0x01, // MBAP: tid 4, length 6, unit 1
        0x04,       // function 4 read input registers
        0x00, 0x08, // starting address 8
        0x00, 0x01, // quantity 1
    ];
    #[rustfmt::skip]
    let resp = [
        0x00, 0x04, 0x00, 0x00, 0x00, 0x05, 0x01, // MBAP: tid 4, length 5, unit 1
        0x04,       // function 4
        0x02,       // byte count 2
        0x00, 0x0A, // register 8 = 10
    ];
    pair(
        &req,
        r#"read_input_registers {"transaction_id":4,"unit_id":1,"function_code":4,"function":"READ_INPUT_REGISTERS","is_response":false,"address":8,"quantity":1}"#,
        &resp,
        r#"read_input_registers {"transaction_id":4,"unit_id":1,"function_code":4,"function":"READ_INPUT_REGISTERS","is_response":true,"matched":true,"address":8,"quantity":1,"values":[10]}"#,
    );
}

#[test]
fn fc7_read_exception_status() {
    #[rustfmt::skip]
    let req = [
        0x00, 0x07, 0x00, 0x00, 0x00, 0x02, 0x01, // MBAP: tid 7, length 2, unit 1
        0x07, // function 7 read exception status (no data)
    ];
    #[rustfmt::skip]
    let resp = [
        0x00, 0x07, 0x00, 0x00, 0x00, 0x03, 0x01, // MBAP: tid 7, length 3, unit 1
        0x07, // function 7
        0x6D, // output data 109
    ];
    pair(
        &req,
        r#"read_exception_status {"transaction_id":7,"unit_id":1,"function_code":7,"function":"READ_EXCEPTION_STATUS","is_response":false}"#,
        &resp,
        r#"read_exception_status {"transaction_id":7,"unit_id":1,"function_code":7,"function":"READ_EXCEPTION_STATUS","is_response":true,"matched":true,"values":[109]}"#,
    );
}

#[test]
fn fc11_get_comm_event_counter() {
    #[rustfmt::skip]
    let req = [
        0x00, 0x0B, 0x00, 0x00, 0x00, 0x02, 0x01, // MBAP: tid 11, length 2, unit 1
        0x0B, // function 11 (no data)
    ];
    #[rustfmt::skip]
    let resp = [
        0x00, 0x0B, 0x00, 0x00, 0x00, 0x06, 0x01, // MBAP: tid 11, length 6, unit 1
        0x0B,       // function 11
        0xFF, 0xFF, // status busy
        0x01, 0x08, // event count 264
    ];
    pair(
        &req,
        r#"get_comm_event_counter {"transaction_id":11,"unit_id":1,"function_code":11,"function":"GET_COMM_EVENT_COUNTER","is_response":false}"#,
        &resp,
        r#"get_comm_event_counter {"transaction_id":11,"unit_id":1,"function_code":11,"function":"GET_COMM_EVENT_COUNTER","is_response":true,"matched":true,"status":65535,"event_count":264}"#,
    );
}

#[test]
fn fc12_get_comm_event_log() {
    #[rustfmt::skip]
    let req = [
        0x00, 0x0C, 0x00, 0x00, 0x00, 0x02, 0x01, // MBAP: tid 12, length 2, unit 1
        0x0C, // function 12 (no data)
    ];
    #[rustfmt::skip]
    let resp = [
        0x00, 0x0C, 0x00, 0x00, 0x00, 0x0B, 0x01, // MBAP: tid 12, length 11, unit 1
        0x0C,       // function 12
        0x08,       // byte count 8
        0x00, 0x00, // status 0
        0x01, 0x08, // event count 264
        0x01, 0x21, // message count 289
        0x20, 0x00, // events
    ];
    pair(
        &req,
        r#"get_comm_event_log {"transaction_id":12,"unit_id":1,"function_code":12,"function":"GET_COMM_EVENT_LOG","is_response":false}"#,
        &resp,
        r#"get_comm_event_log {"transaction_id":12,"unit_id":1,"function_code":12,"function":"GET_COMM_EVENT_LOG","is_response":true,"matched":true,"status":0,"event_count":264,"message_count":289}"#,
    );
}

#[test]
fn fc17_report_server_id() {
    #[rustfmt::skip]
    let req = [
        0x00, 0x11, 0x00, 0x00, 0x00, 0x02, 0x01, // MBAP: tid 17, length 2, unit 1
        0x11, // function 17 (no data)
    ];
    #[rustfmt::skip]
    let resp = [
        0x00, 0x11, 0x00, 0x00, 0x00, 0x06, 0x01, // MBAP: tid 17, length 6, unit 1
        0x11, // function 17
        0x03, // byte count 3
        0x2A, // server id
        0xFF, // run indicator ON
        0x01, // additional data
    ];
    pair(
        &req,
        r#"report_server_id {"transaction_id":17,"unit_id":1,"function_code":17,"function":"REPORT_SERVER_ID","is_response":false}"#,
        &resp,
        r#"report_server_id {"transaction_id":17,"unit_id":1,"function_code":17,"function":"REPORT_SERVER_ID","is_response":true,"matched":true,"data":"2aff01"}"#,
    );
}

#[test]
fn fc20_read_file_record() {
    #[rustfmt::skip]
    let req = [
        0x00, 0x14, 0x00, 0x00, 0x00, 0x11, 0x01, // MBAP: tid 20, length 17, unit 1
        0x14,       // function 20 read file record
        0x0E,       // byte count 14
        0x06,       // sub-request 1: reference type 6
        0x00, 0x04, //   file number 4
        0x00, 0x01, //   record number 1
        0x00, 0x02, //   record length 2
        0x06,       // sub-request 2: reference type 6
        0x00, 0x03, //   file number 3
        0x00, 0x09, //   record number 9
        0x00, 0x02, //   record length 2
    ];
    #[rustfmt::skip]
    let resp = [
        0x00, 0x14, 0x00, 0x00, 0x00, 0x0F, 0x01, // MBAP: tid 20, length 15, unit 1
        0x14,       // function 20
        0x0C,       // response data length 12
        0x05,       // sub-response 1: file response length 5
        0x06,       //   reference type 6
        0x0D, 0xFE, //   register 1
        0x00, 0x20, //   register 2
        0x05,       // sub-response 2: file response length 5
        0x06,       //   reference type 6
        0x33, 0xCD, //   register 1
        0x00, 0x40, //   register 2
    ];
    pair(
        &req,
        r#"read_file_record {"transaction_id":20,"unit_id":1,"function_code":20,"function":"READ_FILE_RECORD","is_response":false,"records":[{"file":4,"record":1,"length":2},{"file":3,"record":9,"length":2}],"quantity":2}"#,
        &resp,
        // the response's quantity is the request's, replaced in place by its own record count
        r#"read_file_record {"transaction_id":20,"unit_id":1,"function_code":20,"function":"READ_FILE_RECORD","is_response":true,"matched":true,"quantity":2,"records":[{"length":2},{"length":2}]}"#,
    );
}

#[test]
fn fc24_read_fifo_queue() {
    #[rustfmt::skip]
    let req = [
        0x00, 0x18, 0x00, 0x00, 0x00, 0x04, 0x01, // MBAP: tid 24, length 4, unit 1
        0x18,       // function 24 read FIFO queue
        0x04, 0xDE, // FIFO pointer address 1246
    ];
    #[rustfmt::skip]
    let resp = [
        0x00, 0x18, 0x00, 0x00, 0x00, 0x0A, 0x01, // MBAP: tid 24, length 10, unit 1
        0x18,       // function 24
        0x00, 0x06, // byte count 6
        0x00, 0x02, // FIFO count 2
        0x01, 0xB8, // FIFO value 440
        0x12, 0x84, // FIFO value 4740
    ];
    pair(
        &req,
        r#"read_fifo_queue {"transaction_id":24,"unit_id":1,"function_code":24,"function":"READ_FIFO_QUEUE","is_response":false,"address":1246}"#,
        &resp,
        r#"read_fifo_queue {"transaction_id":24,"unit_id":1,"function_code":24,"function":"READ_FIFO_QUEUE","is_response":true,"matched":true,"address":1246,"values":[440,4740]}"#,
    );
}
