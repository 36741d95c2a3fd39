//! OPN, MSG, CLO: secure channels, chunk reassembly, aborts, encrypted and signed channels,
//! pairing, and the errors of the secure layer, on hand-labelled byte vectors. Expected values:
//! what `parsers/opcua` (the Python reference) answers for the same bytes.

mod common;

use common::*;

fn open_request() -> Vec<u8> {
    let body = cat(&[
        &type_id(446),      // OpenSecureChannelRequest
        &request_header(1), // RequestHandle 1
        &u32le(0),          // ClientProtocolVersion
        &u32le(0),          // RequestType: Issue
        &u32le(1),          // SecurityMode: None
        &u32le(0),          // ClientNonce: empty
        &u32le(3_600_000),  // RequestedLifetime
    ]);
    // channel 0 (not assigned yet), no certificate, no thumbprint, sequence 1, request 1
    asymmetric(b"OPNF", 0, POLICY_NONE, b"", b"", &body)
}

fn open_response() -> Vec<u8> {
    let body = cat(&[
        &type_id(449),          // OpenSecureChannelResponse
        &response_header(1, 0), // RequestHandle 1, Good
        &u32le(0),              // ServerProtocolVersion
        &u32le(7),              // SecurityToken.ChannelId
        &u32le(1),              // SecurityToken.TokenId
        &[0; 8],                // SecurityToken.CreatedAt: none
        &u32le(3_600_000),      // RevisedLifetime
        &NULL,                  // ServerNonce: null
    ]);
    asymmetric(b"OPNF", 7, POLICY_NONE, b"", b"", &body)
}

/// ReadRequest of ns=2;i=1234 Value and ns=1;s=speed DisplayName.
fn read_body(handle: u32) -> Vec<u8> {
    cat(&[
        &type_id(631), // ReadRequest
        &request_header(handle),
        &f64le(0.0),               // MaxAge
        &u32le(2),                 // TimestampsToReturn: Both
        &u32le(2),                 // NodesToRead count
        &[0x01, 0x02, 0xd2, 0x04], // NodeId: four-byte ns=2 i=1234
        &u32le(13),                // AttributeId: Value
        &NULL,                     // IndexRange: null
        &[0, 0],                   // DataEncoding: namespace 0
        &NULL,                     //   null name
        &[0x03, 0x01, 0x00],       // NodeId: string, ns=1
        &string("speed"),          //   identifier
        &u32le(4),                 // AttributeId: DisplayName
        &NULL,                     // IndexRange: null
        &[0, 0],                   // DataEncoding: namespace 0
        &NULL,                     //   null name
    ])
}

const READ_FIELDS: &str = r#""nodes":["ns=2;i=1234","ns=1;s=speed"],"node_count":2,"attribute_ids":[13,4],"attributes":["Value","DisplayName"]"#;

/// HEL, ACK, OPN request and response: channel 7 open under policy None.
fn open_session(flow: &mut Flow) {
    let hel = hello_null_url();
    assert_eq!(flow.one(&hel, true).0, "hello");
    let ack = acknowledge(0, 0);
    assert_eq!(flow.one(&ack, false).0, "acknowledge");
    let (action, fields) = flow.one(&open_request(), true);
    assert_eq!(action, "open_secure_channel");
    assert_eq!(
        fields,
        json(
            r#"{"message_type":"OPN","secure_channel_id":0,"security_policy":"{NONE}","sender_certificate_length":0,"receiver_thumbprint_length":0,"security_mode":"None","encrypted":false,"protected":false,"sequence_number":1,"request_id":1,"service_id":446,"service":"OpenSecureChannelRequest","is_response":false,"request_handle":1,"timeout_hint":1000,"client_protocol_version":0,"request_type":"Issue","client_nonce_length":0,"requested_lifetime":3600000}"#
        )
    );
    let (action, fields) = flow.one(&open_response(), false);
    assert_eq!(action, "open_secure_channel");
    assert_eq!(
        fields,
        json(
            r#"{"message_type":"OPN","secure_channel_id":7,"security_policy":"{NONE}","sender_certificate_length":0,"receiver_thumbprint_length":0,"security_mode":"None","encrypted":false,"protected":false,"sequence_number":1,"request_id":1,"service_id":449,"service":"OpenSecureChannelResponse","is_response":true,"request_handle":1,"status_code":0,"status":"Good","server_protocol_version":0,"token_channel_id":7,"token_id":1,"token_created_at":null,"revised_lifetime":3600000,"server_nonce_length":0,"matched":true,"request_service":"OpenSecureChannelRequest"}"#
        )
    );
}

#[test]
fn read_request_response_and_close() {
    let mut flow = Flow::new();
    open_session(&mut flow);
    let (action, fields) = flow.one(&symmetric(b"MSGF", 7, 1, 2, 2, &read_body(2)), true);
    assert_eq!(action, "read");
    let head = r#"{"message_type":"MSG","secure_channel_id":7,"token_id":1,"security_policy":"{NONE}","security_mode":"None","encrypted":false,"protected":false,"sequence_number":2,"request_id":2,"#;
    assert_eq!(
        fields,
        json(&format!(
            r#"{head}"service_id":631,"service":"ReadRequest","is_response":false,"request_handle":2,"timeout_hint":1000,"max_age":0.0,"timestamps_to_return":"Both",{READ_FIELDS}}}"#
        ))
    );
    let body = cat(&[
        &type_id(634),          // ReadResponse
        &response_header(2, 0), // RequestHandle 2, Good
        &u32le(2),              // Results count
        &[0x01, 0x06],          // DataValue mask Value; Variant Int32
        &u32le(42),             //   42
        &[0x03, 0x0c],          // DataValue mask Value+StatusCode; Variant String
        &string("ok"),          //   "ok"
        &u32le(0x8035_0000),    //   StatusCode BadAttributeIdInvalid
        &u32le(0),              // DiagnosticInfos count
    ]);
    let (action, fields) = flow.one(&symmetric(b"MSGF", 7, 1, 2, 2, &body), false);
    assert_eq!(action, "read");
    assert_eq!(
        fields,
        json(&format!(
            r#"{head}"service_id":634,"service":"ReadResponse","is_response":true,"request_handle":2,"status_code":0,"status":"Good","values":[42,"ok"],"results":[0,2150957056],"matched":true,"request_service":"ReadRequest",{READ_FIELDS}}}"#
        ))
    );
    let close = symmetric(
        b"CLOF",
        7,
        1,
        3,
        3,
        &cat(&[&type_id(452), &request_header(3)]),
    );
    let (action, fields) = flow.one(&close, true);
    assert_eq!(action, "close_secure_channel");
    assert_eq!(
        fields,
        json(
            r#"{"message_type":"CLO","secure_channel_id":7,"token_id":1,"security_policy":"{NONE}","security_mode":"None","encrypted":false,"protected":false,"sequence_number":3,"request_id":3,"service_id":452,"service":"CloseSecureChannelRequest","is_response":false,"request_handle":3,"timeout_hint":1000}"#
        )
    );
    assert!(flow.errors().is_empty());
}

#[test]
fn chunks_reassembled() {
    let mut flow = Flow::new();
    open_session(&mut flow);
    let first = cat(&[&type_id(673), &request_header(5)]); // WriteRequest, its header
    let second = cat(&[
        &u32le(1),                 // NodesToWrite count
        &[0x01, 0x02, 0xd2, 0x04], // NodeId ns=2 i=1234
        &u32le(13),                // AttributeId: Value
        &NULL,                     // IndexRange: null
        &[0x01, 0x0b],             // DataValue mask Value; Variant Double
        &f64le(1.5),               //   1.5
    ]);
    assert!(flow
        .feed(&symmetric(b"MSGC", 7, 1, 2, 5, &first), true)
        .is_empty());
    let (action, fields) = flow.one(&symmetric(b"MSGF", 7, 1, 3, 5, &second), true);
    assert_eq!(action, "write");
    assert_eq!(
        fields,
        json(
            r#"{"message_type":"MSG","secure_channel_id":7,"token_id":1,"security_policy":"{NONE}","security_mode":"None","encrypted":false,"protected":false,"sequence_number":3,"request_id":5,"chunks":2,"service_id":673,"service":"WriteRequest","is_response":false,"request_handle":5,"timeout_hint":1000,"nodes":["ns=2;i=1234"],"node_count":1,"attribute_ids":[13],"attributes":["Value"],"values":[1.5]}"#
        )
    );
}

#[test]
fn abort_chunk() {
    let mut flow = Flow::new();
    open_session(&mut flow);
    assert!(flow
        .feed(&symmetric(b"MSGC", 7, 1, 2, 6, &read_body(6)[..20]), true)
        .is_empty());
    let abort = symmetric(
        b"MSGA",
        7,
        1,
        3,
        6,
        &cat(&[&u32le(0x80ab_0000), &string("cancelled")]),
    );
    let (action, fields) = flow.one(&abort, true);
    assert_eq!(action, "abort");
    assert_eq!(
        fields,
        json(
            r#"{"message_type":"MSG","secure_channel_id":7,"token_id":1,"security_policy":"{NONE}","security_mode":"None","chunk_type":"A","encrypted":false,"protected":false,"sequence_number":3,"request_id":6,"status_code":2158690304,"status":"BadInvalidArgument","reason":"cancelled","chunks":2,"service_id":631}"#
        )
    );
}

#[test]
fn reassembly_bounds() {
    let mut flow = Flow::new();
    // ACK from the server: the client may send messages of 40 bytes, in at most 2 chunks
    let ack = acknowledge(40, 2);
    flow.one(&ack, false);
    let big = symmetric(b"MSGC", 3, 1, 1, 1, &read_body(1)); // 93 bytes of body
    let (action, fields) = flow.one(&big, true);
    assert_eq!(action, "read");
    assert_eq!(
        fields,
        r#"{"message_type":"MSG","secure_channel_id":3,"token_id":1,"chunk_type":"C","encrypted":false,"sequence_number":1,"request_id":1,"chunks":1,"service_id":631,"flags":["message_too_large"]}"#
    );
    assert!(flow
        .feed(&symmetric(b"MSGC", 3, 1, 2, 2, &read_body(2)[..10]), true)
        .is_empty());
    // (each chunk starts with a service id: the channel is unknown, so that is what makes it readable)
    let (action, fields) = flow.one(&symmetric(b"MSGC", 3, 1, 3, 2, &read_body(2)[..8]), true);
    assert_eq!(action, "read");
    assert_eq!(
        fields,
        r#"{"message_type":"MSG","secure_channel_id":3,"token_id":1,"chunk_type":"C","encrypted":false,"sequence_number":3,"request_id":2,"chunks":2,"service_id":631,"flags":["too_many_chunks"]}"#
    );
}

#[test]
fn encrypted_channel() {
    let mut flow = Flow::new();
    let hel = hello_null_url();
    flow.one(&hel, true);
    let cipher = [0xee; 48]; // sequence header and body, encrypted
    let opn = asymmetric(b"OPNF", 0, POLICY_B256, b"DER", &[0x5a; 20], &cipher[..40]);
    let (action, fields) = flow.one(&opn, true);
    assert_eq!(action, "open_secure_channel");
    assert_eq!(
        fields,
        json(
            r#"{"message_type":"OPN","secure_channel_id":0,"security_policy":"{B256}","sender_certificate_length":3,"receiver_thumbprint_length":20,"encrypted":true,"protected":true,"is_response":false}"#
        )
    );
    let opn = asymmetric(b"OPNF", 9, POLICY_B256, b"DER", &[0x5a; 20], &cipher[..40]);
    let (_, fields) = flow.one(&opn, false);
    assert!(
        fields.ends_with(r#""encrypted":true,"protected":true,"is_response":true}"#),
        "{fields}"
    );
    // 16 + 48 bytes after the symmetric header: whole AES blocks, no service in clear
    let msg = message(b"MSGF", &cat(&[&u32le(9), &u32le(1), &cipher]));
    let (action, fields) = flow.one(&msg, true);
    assert_eq!(action, "protected_message");
    assert_eq!(
        fields,
        json(
            r#"{"message_type":"MSG","secure_channel_id":9,"token_id":1,"security_policy":"{B256}","security_mode":"SignAndEncrypt","encrypted":true,"protected":true,"is_response":false}"#
        )
    );
    // two encrypted chunks make one event
    assert!(flow
        .feed(
            &message(b"MSGC", &cat(&[&u32le(9), &u32le(1), &cipher])),
            true
        )
        .is_empty());
    let (_, fields) = flow.one(&msg, true);
    assert!(
        fields.ends_with(r#""chunks":2,"encrypted":true,"protected":true,"is_response":false}"#),
        "{fields}"
    );
}

#[test]
fn signed_channel() {
    let mut flow = Flow::new();
    let cipher = [0xee; 40];
    flow.one(
        &asymmetric(b"OPNF", 0, POLICY_B256, b"DER", &[0x5a; 20], &cipher),
        true,
    );
    flow.one(
        &asymmetric(b"OPNF", 9, POLICY_B256, b"DER", &[0x5a; 20], &cipher),
        false,
    );
    // a ReadRequest in clear with a 32-byte HMAC-SHA256 signature appended
    let msg = symmetric(b"MSGF", 9, 1, 2, 2, &cat(&[&read_body(2), &[0x77; 32]]));
    let (action, fields) = flow.one(&msg, true);
    assert_eq!(action, "read");
    assert_eq!(
        fields,
        json(&format!(
            r#"{{"message_type":"MSG","secure_channel_id":9,"token_id":1,"security_policy":"{{B256}}","security_mode":"Sign","encrypted":false,"protected":true,"sequence_number":2,"request_id":2,"service_id":631,"service":"ReadRequest","is_response":false,"request_handle":2,"timeout_hint":1000,"max_age":0.0,"timestamps_to_return":"Both",{READ_FIELDS}}}"#
        ))
    );
}

#[test]
fn service_fault_takes_the_request_action() {
    let mut flow = Flow::new();
    open_session(&mut flow);
    flow.one(&symmetric(b"MSGF", 7, 1, 2, 8, &read_body(8)), true);
    let fault = cat(&[&type_id(397), &response_header(8, 0x8034_0000)]); // BadNodeIdUnknown
    let (action, fields) = flow.one(&symmetric(b"MSGF", 7, 1, 2, 8, &fault), false);
    assert_eq!(action, "read");
    assert_eq!(
        fields,
        json(&format!(
            r#"{{"message_type":"MSG","secure_channel_id":7,"token_id":1,"security_policy":"{{NONE}}","security_mode":"None","encrypted":false,"protected":false,"sequence_number":2,"request_id":8,"service_id":397,"service":"ServiceFault","is_response":true,"request_handle":8,"status_code":2150891520,"status":"BadNodeIdUnknown","matched":true,"request_service":"ReadRequest",{READ_FIELDS}}}"#
        ))
    );
}

#[test]
fn malformed_body_and_sequence_jump() {
    let mut flow = Flow::new();
    open_session(&mut flow);
    // the ReadRequest cut after TimestampsToReturn: the NodesToRead count is missing
    let cut = &read_body(2)[..4 + 29 + 12];
    let (action, fields) = flow.one(&symmetric(b"MSGF", 7, 1, 10, 2, cut), true);
    assert_eq!(action, "read");
    assert_eq!(
        fields,
        json(
            r#"{"message_type":"MSG","secure_channel_id":7,"token_id":1,"security_policy":"{NONE}","security_mode":"None","encrypted":false,"protected":false,"sequence_number":10,"request_id":2,"service_id":631,"service":"ReadRequest","is_response":false,"request_handle":2,"timeout_hint":1000,"flags":["sequence_number_jump","malformed_body"]}"#
        )
    );
    assert_eq!(
        flow.errors(),
        [("truncated".into(), "4 bytes at offset 69, 0 left".into())]
    );
}

#[test]
fn truncated_sequence_header() {
    let mut flow = Flow::new();
    let opn = asymmetric(b"OPNF", 0, POLICY_NONE, b"", b"", &[]);
    let opn = &opn[..opn.len() - 4]; // the RequestId is missing
    let mut short = opn.to_vec();
    short[4] = opn.len() as u8; // MessageSize
    assert!(flow.feed(&short, true).is_empty());
    assert_eq!(
        flow.errors(),
        [(
            "truncated".into(),
            "sequence header at offset 71, 4 left".into()
        )]
    );
}

#[test]
fn unknown_channel_picked_up_midstream() {
    let mut flow = Flow::new();
    // no OPN seen: a body that is no standard service cannot be read
    let msg = symmetric(b"MSGF", 4, 2, 3, 3, &[0x99; 16]);
    let (action, fields) = flow.one(&msg, true);
    assert_eq!(action, "unknown_service");
    assert_eq!(
        fields,
        r#"{"message_type":"MSG","secure_channel_id":4,"token_id":2,"decoded":false}"#
    );
}
