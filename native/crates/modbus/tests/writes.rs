//! The writing, diagnostic and encapsulated functions' requests and responses (5, 6, 8, 15, 16,
//! 21, 22, 23, 43, and an unknown one), from hand-labelled byte vectors (most are the examples
//! of the MODBUS Application Protocol Specification V1.1b3, section 6), paired on one flow; the
//! expected fields are written out by hand from the specification.

mod common;
use common::{flow, one, pair};

#[test]
fn fc5_write_single_coil() {
    #[rustfmt::skip]
    let req = [
        0x00, 0x05, 0x00, 0x00, 0x00, 0x06, 0x01, // MBAP: tid 5, length 6, unit 1
        0x05,       // function 5 write single coil
        0x00, 0xAC, // output address 172
        0xFF, 0x00, // output value ON
    ];
    pair(
        &req,
        r#"write_single_coil {"transaction_id":5,"unit_id":1,"function_code":5,"function":"WRITE_SINGLE_COIL","is_response":false,"address":172,"quantity":1,"values":[1]}"#,
        &req, // the response echoes the request
        r#"write_single_coil {"transaction_id":5,"unit_id":1,"function_code":5,"function":"WRITE_SINGLE_COIL","is_response":true,"matched":true,"address":172,"quantity":1,"values":[1]}"#,
    );
}

#[test]
fn fc6_write_single_register() {
    #[rustfmt::skip]
    let req = [
        0x00, 0x06, 0x00, 0x00, 0x00, 0x06, 0x01, // MBAP: tid 6, length 6, unit 1
        0x06,       // function 6 write single register
        0x00, 0x01, // register address 1
        0x00, 0x03, // register value 3
    ];
    pair(
        &req,
        r#"write_single_register {"transaction_id":6,"unit_id":1,"function_code":6,"function":"WRITE_SINGLE_REGISTER","is_response":false,"address":1,"quantity":1,"values":[3]}"#,
        &req, // echo
        r#"write_single_register {"transaction_id":6,"unit_id":1,"function_code":6,"function":"WRITE_SINGLE_REGISTER","is_response":true,"matched":true,"address":1,"quantity":1,"values":[3]}"#,
    );
}

#[test]
fn fc8_diagnostics() {
    #[rustfmt::skip]
    let req = [
        0x00, 0x08, 0x00, 0x00, 0x00, 0x06, 0x01, // MBAP: tid 8, length 6, unit 1
        0x08,       // function 8 diagnostics
        0x00, 0x00, // subfunction 0 return query data
        0xA5, 0x37, // data
    ];
    pair(
        &req,
        r#"diagnostics {"transaction_id":8,"unit_id":1,"function_code":8,"function":"DIAGNOSTICS","is_response":false,"subfunction":0,"subfunction_name":"RETURN_QUERY_DATA","data":"a537"}"#,
        &req, // echo
        r#"diagnostics {"transaction_id":8,"unit_id":1,"function_code":8,"function":"DIAGNOSTICS","is_response":true,"matched":true,"subfunction":0,"subfunction_name":"RETURN_QUERY_DATA","data":"a537"}"#,
    );
}

#[test]
fn fc15_write_multiple_coils() {
    #[rustfmt::skip]
    let req = [
        0x00, 0x0F, 0x00, 0x00, 0x00, 0x09, 0x01, // MBAP: tid 15, length 9, unit 1
        0x0F,       // function 15 write multiple coils
        0x00, 0x13, // starting address 19
        0x00, 0x0A, // quantity of outputs 10
        0x02,       // byte count 2
        0xCD, 0x01, // outputs 19..26, 27..28 (LSB first)
    ];
    #[rustfmt::skip]
    let resp = [
        0x00, 0x0F, 0x00, 0x00, 0x00, 0x06, 0x01, // MBAP: tid 15, length 6, unit 1
        0x0F,       // function 15
        0x00, 0x13, // starting address 19
        0x00, 0x0A, // quantity 10
    ];
    pair(
        &req,
        r#"write_multiple_coils {"transaction_id":15,"unit_id":1,"function_code":15,"function":"WRITE_MULTIPLE_COILS","is_response":false,"address":19,"quantity":10,"values":[1,0,1,1,0,0,1,1,1,0]}"#,
        &resp,
        r#"write_multiple_coils {"transaction_id":15,"unit_id":1,"function_code":15,"function":"WRITE_MULTIPLE_COILS","is_response":true,"matched":true,"address":19,"quantity":10}"#,
    );
}

#[test]
fn fc16_write_multiple_registers() {
    #[rustfmt::skip]
    let req = [
        0x00, 0x10, 0x00, 0x00, 0x00, 0x0B, 0x01, // MBAP: tid 16, length 11, unit 1
        0x10,       // function 16 write multiple registers
        0x00, 0x01, // starting address 1
        0x00, 0x02, // quantity of registers 2
        0x04,       // byte count 4
        0x00, 0x0A, // register 1 = 10
        0x01, 0x02, // register 2 = 258
    ];
    #[rustfmt::skip]
    let resp = [
        0x00, 0x10, 0x00, 0x00, 0x00, 0x06, 0x01, // MBAP: tid 16, length 6, unit 1
        0x10,       // function 16
        0x00, 0x01, // starting address 1
        0x00, 0x02, // quantity 2
    ];
    pair(
        &req,
        r#"write_multiple_registers {"transaction_id":16,"unit_id":1,"function_code":16,"function":"WRITE_MULTIPLE_REGISTERS","is_response":false,"address":1,"quantity":2,"values":[10,258]}"#,
        &resp,
        r#"write_multiple_registers {"transaction_id":16,"unit_id":1,"function_code":16,"function":"WRITE_MULTIPLE_REGISTERS","is_response":true,"matched":true,"address":1,"quantity":2}"#,
    );
}

#[test]
fn fc21_write_file_record() {
    #[rustfmt::skip]
    let req = [
        0x00, 0x15, 0x00, 0x00, 0x00, 0x10, 0x01, // MBAP: tid 21, length 16, unit 1
        0x15,       // function 21 write file record
        0x0D,       // request data length 13
        0x06,       // sub-request: reference type 6
        0x00, 0x04, //   file number 4
        0x00, 0x07, //   record number 7
        0x00, 0x03, //   record length 3
        0x06, 0xAF, //   record data
        0x04, 0xBE, //   record data
        0x10, 0x0D, //   record data
    ];
    pair(
        &req,
        r#"write_file_record {"transaction_id":21,"unit_id":1,"function_code":21,"function":"WRITE_FILE_RECORD","is_response":false,"records":[{"file":4,"record":7,"length":3}],"quantity":1}"#,
        &req, // echo
        r#"write_file_record {"transaction_id":21,"unit_id":1,"function_code":21,"function":"WRITE_FILE_RECORD","is_response":true,"matched":true,"quantity":1,"records":[{"file":4,"record":7,"length":3}]}"#,
    );
}

#[test]
fn fc22_mask_write_register() {
    #[rustfmt::skip]
    let req = [
        0x00, 0x16, 0x00, 0x00, 0x00, 0x08, 0x01, // MBAP: tid 22, length 8, unit 1
        0x16,       // function 22 mask write register
        0x00, 0x04, // reference address 4
        0x00, 0xF2, // and mask 242
        0x00, 0x25, // or mask 37
    ];
    pair(
        &req,
        r#"mask_write_register {"transaction_id":22,"unit_id":1,"function_code":22,"function":"MASK_WRITE_REGISTER","is_response":false,"address":4,"and_mask":242,"or_mask":37}"#,
        &req, // echo
        r#"mask_write_register {"transaction_id":22,"unit_id":1,"function_code":22,"function":"MASK_WRITE_REGISTER","is_response":true,"matched":true,"address":4,"and_mask":242,"or_mask":37}"#,
    );
}

#[test]
fn fc23_read_write_multiple_registers() {
    #[rustfmt::skip]
    let req = [
        0x00, 0x17, 0x00, 0x00, 0x00, 0x11, 0x01, // MBAP: tid 23, length 17, unit 1
        0x17,       // function 23 read/write multiple registers
        0x00, 0x03, // read starting address 3
        0x00, 0x06, // quantity to read 6
        0x00, 0x0E, // write starting address 14
        0x00, 0x03, // quantity to write 3
        0x06,       // write byte count 6
        0x00, 0xFF, // write register 14 = 255
        0x00, 0xFF, // write register 15 = 255
        0x00, 0xFF, // write register 16 = 255
    ];
    #[rustfmt::skip]
    let resp = [
        0x00, 0x17, 0x00, 0x00, 0x00, 0x0F, 0x01, // MBAP: tid 23, length 15, unit 1
        0x17,       // function 23
        0x0C,       // byte count 12
        0x00, 0xFE, // register 3 = 254
        0x0A, 0xCD, // register 4 = 2765
        0x00, 0x01, // register 5 = 1
        0x00, 0x03, // register 6 = 3
        0x00, 0x0D, // register 7 = 13
        0x00, 0xFF, // register 8 = 255
    ];
    pair(
        &req,
        r#"read_write_multiple_registers {"transaction_id":23,"unit_id":1,"function_code":23,"function":"READ_WRITE_MULTIPLE_REGISTERS","is_response":false,"read_address":3,"address":3,"read_quantity":6,"quantity":6,"write_address":14,"write_quantity":3,"values":[255,255,255]}"#,
        &resp,
        r#"read_write_multiple_registers {"transaction_id":23,"unit_id":1,"function_code":23,"function":"READ_WRITE_MULTIPLE_REGISTERS","is_response":true,"matched":true,"address":3,"quantity":6,"read_address":3,"read_quantity":6,"write_address":14,"values":[254,2765,1,3,13,255]}"#,
    );
}

#[test]
fn fc43_read_device_identification() {
    #[rustfmt::skip]
    let req = [
        0x00, 0x2B, 0x00, 0x00, 0x00, 0x05, 0x01, // MBAP: tid 43, length 5, unit 1
        0x2B, // function 43 encapsulated interface transport
        0x0E, // MEI type 14 read device identification
        0x01, // read device id code 1 (basic)
        0x00, // object id 0
    ];
    #[rustfmt::skip]
    let resp = [
        0x00, 0x2B, 0x00, 0x00, 0x00, 0x18, 0x01, // MBAP: tid 43, length 24, unit 1
        0x2B,                   // function 43
        0x0E,                   // MEI type 14
        0x01,                   // read device id code 1
        0x01,                   // conformity level 1
        0x00,                   // more follows: no
        0x00,                   // next object id 0
        0x03,                   // number of objects 3
        0x00, 0x04,             // object 0 (vendor name), length 4
        b'A', b'C', b'M', b'E', //   "ACME"
        0x01, 0x02,             // object 1 (product code), length 2
        b'X', b'1',             //   "X1"
        0x02, 0x04,             // object 2 (revision), length 4
        b'V', b'1', b'.', b'0', //   "V1.0"
    ];
    pair(
        &req,
        r#"read_device_identification {"transaction_id":43,"unit_id":1,"function_code":43,"function":"ENCAPSULATED_INTERFACE_TRANSPORT","is_response":false,"mei_type":14,"mei":"READ_DEVICE_IDENTIFICATION","read_device_id_code":1,"object_id":0}"#,
        &resp,
        r#"read_device_identification {"transaction_id":43,"unit_id":1,"function_code":43,"function":"ENCAPSULATED_INTERFACE_TRANSPORT","is_response":true,"matched":true,"mei_type":14,"mei":"READ_DEVICE_IDENTIFICATION","read_device_id_code":1,"conformity_level":1,"more_follows":false,"device_id":{"vendor_name":"ACME","product_code":"X1","revision":"V1.0"}}"#,
    );
}

#[test]
fn fc43_device_id_unknown_repeated_and_invalid_objects() {
    #[rustfmt::skip]
    let resp = [
        0x00, 0x2C, 0x00, 0x00, 0x00, 0x13, 0x07, // MBAP: tid 44, length 19, unit 7
        0x2B,             // function 43
        0x0E,             // MEI type 14
        0x02,             // read device id code 2 (regular)
        0x82,             // conformity level 0x82
        0xFF,             // more follows: yes
        0x05,             // next object id 5
        0x03,             // number of objects 3
        0x04, 0x02,       // object 4 (product name), length 2
        b'P', b'1',       //   "P1"
        0x80, 0x01,       // object 0x80 (private), length 1
        b'z',             //   "z"
        0x04, 0x02,       // object 4 again, length 2: replaces the first in place
        0xFF, b'A',       //   invalid UTF-8 then "A"
    ];
    let mut p = flow();
    assert_eq!(
        one(&mut p, &resp, false),
        "read_device_identification {\"transaction_id\":44,\"unit_id\":7,\"function_code\":43,\"function\":\"ENCAPSULATED_INTERFACE_TRANSPORT\",\"is_response\":true,\"matched\":false,\"mei_type\":14,\"mei\":\"READ_DEVICE_IDENTIFICATION\",\"read_device_id_code\":2,\"conformity_level\":130,\"more_follows\":true,\"device_id\":{\"product_name\":\"\u{fffd}A\",\"object_0x80\":\"z\"}}"
    );
}

#[test]
fn fc43_canopen_and_unknown_mei() {
    #[rustfmt::skip]
    let canopen = [
        0x00, 0x2D, 0x00, 0x00, 0x00, 0x06, 0x01, // MBAP: tid 45, length 6, unit 1
        0x2B,             // function 43
        0x0D,             // MEI type 13 CANopen general reference
        0x01, 0x02, 0x03, // CANopen PDU
    ];
    #[rustfmt::skip]
    let other = [
        0x00, 0x2E, 0x00, 0x00, 0x00, 0x04, 0x01, // MBAP: tid 46, length 4, unit 1
        0x2B, // function 43
        0x63, // MEI type 99 (unknown)
        0xAB, // data
    ];
    let mut p = flow();
    assert_eq!(
        one(&mut p, &canopen, true),
        r#"can_open_general_reference {"transaction_id":45,"unit_id":1,"function_code":43,"function":"ENCAPSULATED_INTERFACE_TRANSPORT","is_response":false,"mei_type":13,"mei":"CANOPEN_GENERAL_REFERENCE","data":"010203"}"#
    );
    assert_eq!(
        one(&mut p, &other, true),
        r#"encapsulated_interface_transport {"transaction_id":46,"unit_id":1,"function_code":43,"function":"ENCAPSULATED_INTERFACE_TRANSPORT","is_response":false,"mei_type":99,"mei":"UNKNOWN","data":"ab"}"#
    );
    assert_eq!(
        one(&mut p, &other, false),
        r#"encapsulated_interface_transport {"transaction_id":46,"unit_id":1,"function_code":43,"function":"ENCAPSULATED_INTERFACE_TRANSPORT","is_response":true,"matched":true,"mei_type":99,"mei":"UNKNOWN","data":"ab"}"#
    );
}

#[test]
fn unknown_function_code() {
    #[rustfmt::skip]
    let req = [
        0x00, 0x41, 0x00, 0x00, 0x00, 0x04, 0x01, // MBAP: tid 65, length 4, unit 1
        0x41,       // function 65 (user defined)
        0x01, 0x02, // data
    ];
    pair(
        &req,
        r#"unknown_function {"transaction_id":65,"unit_id":1,"function_code":65,"function":"UNKNOWN","is_response":false,"data":"0102"}"#,
        &req,
        r#"unknown_function {"transaction_id":65,"unit_id":1,"function_code":65,"function":"UNKNOWN","is_response":true,"matched":true,"data":"0102"}"#,
    );
}
