//! HEL, ACK, ERR, RHE, framing errors and the probe, on hand-labelled byte vectors. Expected
//! values: what `parsers/opcua` (the Python reference) answers for the same bytes.

mod common;

use common::*;

fn hello() -> Vec<u8> {
    cat(&[
        b"HELF",                             // MessageType HEL, ChunkType F
        &u32le(56),                          // MessageSize
        &u32le(0),                           // ProtocolVersion
        &u32le(65536),                       // ReceiveBufferSize
        &u32le(65536),                       // SendBufferSize
        &u32le(16777216),                    // MaxMessageSize
        &u32le(0),                           // MaxChunkCount: no limit
        &string("opc.tcp://10.0.0.1:4840/"), // EndpointUrl (24 bytes)
    ])
}

#[test]
fn hello_message() {
    let mut flow = Flow::new();
    let (action, fields) = flow.one(&hello(), true);
    assert_eq!(action, "hello");
    assert_eq!(
        fields,
        r#"{"version":0,"receive_buffer_size":65536,"send_buffer_size":65536,"max_message_size":16777216,"max_chunk_count":0,"endpoint_url":"opc.tcp://10.0.0.1:4840/","message_type":"HEL","is_response":false}"#
    );
    assert!(flow.errors().is_empty());
}

#[test]
fn acknowledge_with_flags() {
    let ack = cat(&[
        b"ACKF",       // MessageType ACK, ChunkType F
        &u32le(29),    // MessageSize: one byte more than the fields
        &u32le(1),     // ProtocolVersion: unknown
        &u32le(4096),  // ReceiveBufferSize: below the 8192 floor
        &u32le(65536), // SendBufferSize
        &u32le(0),     // MaxMessageSize
        &u32le(0),     // MaxChunkCount
        &[0xaa],       // trailing byte
    ]);
    let (action, fields) = Flow::new().one(&ack, false);
    assert_eq!(action, "acknowledge");
    assert_eq!(
        fields,
        r#"{"version":1,"receive_buffer_size":4096,"send_buffer_size":65536,"max_message_size":0,"max_chunk_count":0,"flags":["unknown_protocol_version","buffer_size_below_minimum","trailing_bytes"],"message_type":"ACK","is_response":true}"#
    );
}

#[test]
fn error_message() {
    let err = message(
        b"ERRF",
        &cat(&[
            &u32le(0x8083_0000), // Error: BadTcpEndpointUrlInvalid
            &string("bad url"),  // Reason
        ]),
    );
    let (action, fields) = Flow::new().one(&err, false);
    assert_eq!(action, "error");
    assert_eq!(
        fields,
        r#"{"status_code":2156068864,"status":"BadTcpEndpointUrlInvalid","reason":"bad url","message_type":"ERR","is_response":true}"#
    );
}

#[test]
fn reverse_hello_message() {
    let rhe = message(
        b"RHEF",
        &cat(&[
            &string("urn:server"),       // ServerUri
            &string("opc.tcp://s:4840"), // EndpointUrl
        ]),
    );
    let (action, fields) = Flow::new().one(&rhe, false);
    assert_eq!(action, "reverse_hello");
    assert_eq!(
        fields,
        r#"{"server_uri":"urn:server","endpoint_url":"opc.tcp://s:4840","message_type":"RHE","is_response":false}"#
    );
}

#[test]
fn hello_with_url_past_the_end() {
    let hel = cat(&[
        b"HELF",    // MessageType, ChunkType
        &u32le(32), // MessageSize: no room for the URL
        &[0; 20],   // ProtocolVersion and the four limits
        &u32le(10), // EndpointUrl length 10, no bytes
    ]);
    let mut flow = Flow::new();
    assert!(flow.feed(&hel, true).is_empty());
    assert_eq!(
        flow.errors(),
        [("bad_length".into(), "length 10 at offset 28, 0 left".into())]
    );
}

#[test]
fn garbage_then_resync() {
    let mut flow = Flow::new();
    assert!(flow.feed(b"GARBAGE!", true).is_empty());
    assert_eq!(
        flow.errors(),
        [("not_protocol".into(), "at offset 0".into())]
    );
    // "E!" is kept (a prefix of ERRF); the HEL after it is found and decoded
    let msgs = flow.feed(&hello(), true);
    assert_eq!(msgs.len(), 1);
    assert_eq!(msgs[0].0, "hello");
    assert!(flow.errors().is_empty());
}

#[test]
fn hostile_size() {
    let mut flow = Flow::new();
    let hel = cat(&[b"HELF", &u32le(0x7fff_ffff)]); // MessageSize beyond MAX_CHUNK
    assert!(flow.feed(&hel, true).is_empty());
    assert_eq!(flow.errors(), [("bad_length".into(), "at offset 0".into())]);
}

#[test]
fn messages_split_and_joined() {
    let mut flow = Flow::new();
    let hel = hello();
    assert!(flow.feed(&hel[..5], true).is_empty());
    assert_eq!(flow.feed(&hel[5..], true).len(), 1);
    let two = cat(&[&hel, &hel]);
    assert_eq!(flow.feed(&two, true).len(), 2);
    assert!(flow.errors().is_empty());
}

#[test]
fn probe_signatures() {
    use icssa_opcua::probe;
    assert!(probe(&hello(), true));
    // URL length disagreeing with the size
    let mut bad = hello();
    bad[28] = 23;
    assert!(!probe(&bad, true));
    let ack = cat(&[b"ACKF", &u32le(28), &u32le(0), &[0; 16]]);
    assert!(probe(&ack, false));
    assert!(!probe(b"GET / HTTP/1.1\r\n\r\n", true));
    assert!(!probe(b"HELF", true));
    assert!(!probe(b"", true));
    let opn = asymmetric(b"OPNF", 0, POLICY_NONE, b"", b"", &[0; 8]);
    assert!(probe(&opn, true));
    let opn_other = asymmetric(
        b"OPNF",
        0,
        "http://example.com/policy#None",
        b"",
        b"",
        &[0; 8],
    );
    assert!(!probe(&opn_other, true));
    // mid-stream: a ReadRequest in clear
    let read = symmetric(b"MSGF", 5, 1, 9, 9, &cat(&[&type_id(631), &[0; 10]]));
    assert!(probe(&read, true));
    // an abort chunk is not a start
    let abort = symmetric(b"MSGA", 5, 1, 9, 9, &[0; 8]);
    assert!(!probe(&abort, true));
    assert_eq!(icssa_opcua::NAME, "opcua");
    assert_eq!(icssa_opcua::PORTS, &[4840, 4843]);
}
