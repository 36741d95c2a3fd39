//! Builders for hand-labelled OPC UA byte vectors and a driver over the public parser API.
#![allow(dead_code)] // each test file uses a part

use icssa_core::{Message, Parser, Value};

pub const POLICY_NONE: &str = "http://opcfoundation.org/UA/SecurityPolicy#None";
pub const POLICY_B256: &str = "http://opcfoundation.org/UA/SecurityPolicy#Basic256Sha256";
/// Int32 -1: a null String, ByteString or array.
pub const NULL: [u8; 4] = [0xff; 4];

pub fn u32le(v: u32) -> [u8; 4] {
    v.to_le_bytes()
}

pub fn f64le(v: f64) -> [u8; 8] {
    v.to_le_bytes()
}

/// A String (or ByteString): Int32 length, then the bytes.
pub fn string(s: &str) -> Vec<u8> {
    let mut out = (s.len() as u32).to_le_bytes().to_vec();
    out.extend_from_slice(s.as_bytes());
    out
}

pub fn cat(parts: &[&[u8]]) -> Vec<u8> {
    parts.concat()
}

/// A message: MessageType + ChunkType, MessageSize (computed), then `rest`.
pub fn message(kind: &[u8; 4], rest: &[u8]) -> Vec<u8> {
    cat(&[kind, &u32le(8 + rest.len() as u32), rest])
}

/// A MSG/CLO chunk: SecureChannelId, TokenId, SequenceNumber, RequestId, then `body`.
pub fn symmetric(
    kind: &[u8; 4],
    channel: u32,
    token: u32,
    seq: u32,
    request: u32,
    body: &[u8],
) -> Vec<u8> {
    message(
        kind,
        &cat(&[
            &u32le(channel),
            &u32le(token),
            &u32le(seq),
            &u32le(request),
            body,
        ]),
    )
}

/// An OPN chunk: SecureChannelId, asymmetric header, SequenceNumber 1, RequestId 1, then `body`.
pub fn asymmetric(
    kind: &[u8; 4],
    channel: u32,
    policy: &str,
    cert: &[u8],
    thumb: &[u8],
    body: &[u8],
) -> Vec<u8> {
    message(
        kind,
        &cat(&[
            &u32le(channel),
            &string(policy),    // SecurityPolicyUri
            &bytestring(cert),  // SenderCertificate
            &bytestring(thumb), // ReceiverCertificateThumbprint
            &u32le(1),          // SequenceNumber
            &u32le(1),          // RequestId
            body,
        ]),
    )
}

/// A ByteString, null when empty.
pub fn bytestring(b: &[u8]) -> Vec<u8> {
    if b.is_empty() {
        return NULL.to_vec();
    }
    let mut out = u32le(b.len() as u32).to_vec();
    out.extend_from_slice(b);
    out
}

/// A four-byte NodeId, namespace 0: a service encoding id.
pub fn type_id(id: u16) -> Vec<u8> {
    let b = id.to_le_bytes();
    vec![0x01, 0x00, b[0], b[1]]
}

/// HEL: version 0, buffers of 65536, no message or chunk limit, null EndpointUrl.
pub fn hello_null_url() -> Vec<u8> {
    cat(&[
        b"HELF",       // MessageType HEL, ChunkType F
        &u32le(32),    // MessageSize
        &u32le(0),     // ProtocolVersion
        &u32le(65536), // ReceiveBufferSize
        &u32le(65536), // SendBufferSize
        &u32le(0),     // MaxMessageSize: no limit
        &u32le(0),     // MaxChunkCount: no limit
        &NULL,         // EndpointUrl: null
    ])
}

/// ACK: version 0, buffers of 65536, then MaxMessageSize and MaxChunkCount.
pub fn acknowledge(max_message: u32, max_chunks: u32) -> Vec<u8> {
    cat(&[
        b"ACKF",             // MessageType ACK, ChunkType F
        &u32le(28),          // MessageSize
        &u32le(0),           // ProtocolVersion
        &u32le(65536),       // ReceiveBufferSize
        &u32le(65536),       // SendBufferSize
        &u32le(max_message), // MaxMessageSize (0: no limit)
        &u32le(max_chunks),  // MaxChunkCount (0: no limit)
    ])
}

pub fn request_header(handle: u32) -> Vec<u8> {
    cat(&[
        &[0x00, 0x00],  // AuthenticationToken: two-byte NodeId i=0
        &[0; 8],        // Timestamp
        &u32le(handle), // RequestHandle
        &u32le(0),      // ReturnDiagnostics
        &NULL,          // AuditEntryId: null
        &u32le(1000),   // TimeoutHint
        &[0, 0, 0],     // AdditionalHeader: type i=0, no body
    ])
}

pub fn response_header(handle: u32, result: u32) -> Vec<u8> {
    cat(&[
        &[0; 8],        // Timestamp
        &u32le(handle), // RequestHandle
        &u32le(result), // ServiceResult
        &[0x00],        // ServiceDiagnostics: empty mask
        &NULL,          // StringTable: null
        &[0, 0, 0],     // AdditionalHeader
    ])
}

/// One connection's parser, answering (action, fields as JSON) per message.
pub struct Flow(pub Box<dyn Parser>);

impl Flow {
    pub fn new() -> Self {
        Flow(icssa_opcua::parser())
    }

    pub fn feed(&mut self, data: &[u8], to_server: bool) -> Vec<(String, String)> {
        let mut out: Vec<Message> = Vec::new();
        self.0.feed(data, to_server, &mut out);
        out.iter()
            .map(|m| {
                assert_eq!(m.dataset, "opcua");
                assert_eq!(m.to_server, to_server);
                let json = Value::Map(m.fields.clone()).to_json();
                (
                    m.action.to_string(),
                    String::from_utf8(json).expect("UTF-8 JSON"),
                )
            })
            .collect()
    }

    /// One message expected: its action and fields.
    pub fn one(&mut self, data: &[u8], to_server: bool) -> (String, String) {
        let mut msgs = self.feed(data, to_server);
        assert_eq!(msgs.len(), 1, "{msgs:?}");
        msgs.remove(0)
    }

    /// The errors since the last call, as (reason, detail).
    pub fn errors(&mut self) -> Vec<(String, String)> {
        self.0
            .errors()
            .0
            .drain(..)
            .map(|e| (e.reason.into_owned(), e.detail))
            .collect()
    }
}

/// `expected` with `{NONE}` and `{B256}` replaced by the policy URIs.
pub fn json(expected: &str) -> String {
    expected
        .replace("{NONE}", POLICY_NONE)
        .replace("{B256}", POLICY_B256)
}
