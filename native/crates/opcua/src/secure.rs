//! UA Secure Conversation (OPC 10000-6 6.7): security headers, sequence header, chunk reassembly
//! (port of `parsers/opcua/secure.py`).
//!
//! After the transport header, OPN, MSG and CLO chunks carry:
//!
//! | field                         | width      | meaning                                        |
//! |-------------------------------|------------|------------------------------------------------|
//! | SecureChannelId               | UInt32     | 0 in the first OpenSecureChannel request       |
//! | OPN: SecurityPolicyUri        | String     | asymmetric header, at most 255 bytes           |
//! | OPN: SenderCertificate        | ByteString | DER chain, null under policy None              |
//! | OPN: ReceiverCertThumbprint   | ByteString | SHA-1 of the receiver's certificate, or null   |
//! | MSG/CLO: TokenId              | UInt32     | symmetric header: the channel's security token |
//! | SequenceNumber                | UInt32     | +1 per chunk per direction                     |
//! | RequestId                     | UInt32     | pairs a request with its response, and chunks  |
//! | body                          |            | NodeId of the service encoding, then service   |
//!
//! An abort chunk (`A`) carries Error (StatusCode) and Reason (String) as its body.
//!
//! Protection (6.7.2): under policy `None` everything is in clear. Otherwise OPN is signed and
//! encrypted after the asymmetric header; MSG and CLO are either signed (mode `Sign`: sequence
//! header and body in clear, a signature appended) or signed and encrypted (`SignAndEncrypt`:
//! everything after the symmetric header is AES-CBC ciphertext). The mode travels inside the
//! encrypted OPN body, so the parser establishes it from facts, never from a guess:
//!
//! - the encrypted part of an AES-CBC chunk is a whole number of 16-byte blocks, so a chunk of a
//!   channel with a known policy whose size minus 16 is not a multiple of 16 is in clear (`Sign`);
//! - a chunk whose sequence header is followed by the encoding NodeId of a standard service
//!   (`plain_service_id`) is in clear; ciphertext matches that by chance with odds below 1e-7;
//! - otherwise the chunk is ciphertext: its body is marked `encrypted` and not decoded.

use icssa_core::Text;
use icssa_opcua_codec::ids::SERVICES;
use icssa_opcua_codec::types::Reader;

use icssa_opcua_codec::scalars::{u16_at, u32_at};

pub const POLICY_PREFIX: &str = "http://opcfoundation.org/UA/SecurityPolicy#";
pub const POLICY_NONE: &str = "http://opcfoundation.org/UA/SecurityPolicy#None";
/// Symmetric signature length (HMAC) of the standard policies; all encrypt with AES-CBC.
const SIGNATURE_LENGTHS: [(&str, usize); 5] = [
    (
        "http://opcfoundation.org/UA/SecurityPolicy#Basic128Rsa15",
        20,
    ), // HMAC-SHA1
    ("http://opcfoundation.org/UA/SecurityPolicy#Basic256", 20), // HMAC-SHA1
    (
        "http://opcfoundation.org/UA/SecurityPolicy#Basic256Sha256",
        32,
    ), // HMAC-SHA256
    (
        "http://opcfoundation.org/UA/SecurityPolicy#Aes128_Sha256_RsaOaep",
        32,
    ),
    (
        "http://opcfoundation.org/UA/SecurityPolicy#Aes256_Sha256_RsaPss",
        32,
    ),
];
const AES_BLOCK: usize = 16;

/// Reassembly hard caps, used when HEL/ACK negotiate 0 (no limit) or more than this.
pub const MAX_MESSAGE: u64 = 8 << 20;
pub const MAX_CHUNKS: u64 = 4096;
/// Messages being reassembled at once, per direction.
const MAX_PARTIALS: usize = 8;
/// Secure channels remembered per connection.
pub const MAX_CHANNELS: usize = 16;
/// Past this sequence number the sender may wrap to below 1024.
pub const SEQUENCE_WRAP: u32 = 4294966271;

/// A policy URI as event text: the standard ones without a copy.
pub fn policy_text(policy: &str) -> Text {
    if policy == POLICY_NONE {
        return Text::Borrowed(POLICY_NONE);
    }
    match SIGNATURE_LENGTHS.iter().find(|(p, _)| *p == policy) {
        Some((p, _)) => Text::Borrowed(p),
        None => Text::Owned(policy.to_owned()),
    }
}

fn signature_of(policy: &str) -> Option<usize> {
    SIGNATURE_LENGTHS
        .iter()
        .find(|(p, _)| *p == policy)
        .map(|&(_, n)| n)
}

/// The service encoding id after the sequence header at `seq_pos` if it is a standard service in
/// clear, else None.
pub fn plain_service_id(buf: &[u8], seq_pos: usize, end: usize) -> Option<u32> {
    let p = seq_pos + 8;
    let first = if p < end { buf.get(p).copied() } else { None };
    if p + 4 <= end && first == Some(0x01) {
        // four-byte NodeId: namespace (Byte), identifier (UInt16)
        let ident = u32::from(u16_at(buf, p + 2));
        if buf.get(p + 1) == Some(&0) && SERVICES.get(ident).is_some() {
            return Some(ident);
        }
    } else if p + 7 <= end && first == Some(0x02) {
        // numeric NodeId: namespace (UInt16), identifier (UInt32)
        let ident = u32_at(buf, p + 3);
        if u16_at(buf, p + 1) == 0 && SERVICES.get(ident).is_some() {
            return Some(ident);
        }
    }
    None
}

/// A negotiated limit: 0 means no limit, so the hard cap applies.
pub fn negotiated(value: u32, cap: u64) -> u64 {
    let v = u64::from(value);
    if 0 < v && v <= cap {
        v
    } else {
        cap
    }
}

/// The service encoding id at the start of a message's first chunk, if readable.
pub fn first_service_id(first: &[u8]) -> Option<u32> {
    Reader::new(first, 0, first.len())
        .numeric_node_id()
        .ok()
        .flatten()
}

/// Is `seq` the sequence number after `prev`: +1, or a wrap to below 1024 once past 4294966271
/// (OPC 10000-6 6.7.2.4)?
pub fn sequence_follows(prev: u32, seq: u32) -> bool {
    if prev >= SEQUENCE_WRAP {
        return seq < 1024;
    }
    u64::from(seq) == u64::from(prev) + 1
}

/// What is known about one secure channel of a connection.
#[derive(Debug, Clone)]
pub struct Channel {
    /// SecurityPolicyUri from the asymmetric header
    pub policy: Option<Text>,
    /// `None` / `Sign` / `SignAndEncrypt` (or another name the OPN request stated), or None
    /// while not established
    pub mode: Option<Text>,
}

impl Channel {
    pub fn new(policy: Option<Text>, mode: Option<Text>) -> Self {
        Channel { policy, mode }
    }

    pub fn is_policy_none(&self) -> bool {
        self.policy.as_deref() == Some(POLICY_NONE)
    }

    /// Is this channel's chunk after its symmetric header (at `seq_pos`) in clear? Establishes
    /// the mode from facts when the OPN body was encrypted (see above).
    pub fn in_clear(&mut self, buf: &[u8], seq_pos: usize, end: usize) -> bool {
        let mode = self.mode.as_deref();
        if self.is_policy_none() || mode == Some("None") || mode == Some("Sign") {
            return true;
        }
        if mode == Some("SignAndEncrypt") {
            return false;
        }
        let aes = self.policy.as_deref().and_then(signature_of).is_some();
        let whole_blocks = end.saturating_sub(seq_pos).is_multiple_of(AES_BLOCK);
        if (aes && !whole_blocks) || plain_service_id(buf, seq_pos, end).is_some() {
            self.mode = Some(Text::Borrowed("Sign"));
            return true;
        }
        if aes {
            self.mode = Some(Text::Borrowed("SignAndEncrypt"));
        }
        false
    }

    pub fn signature_length(&self) -> Option<usize> {
        if self.is_policy_none() {
            return Some(0);
        }
        signature_of(self.policy.as_deref().unwrap_or(""))
    }
}

/// A message being reassembled from its chunks: the bodies so far, joined.
#[derive(Debug, Default)]
pub struct Partial {
    pub data: Vec<u8>,
    /// length of the first chunk's body (where the service encoding id is)
    pub first_len: usize,
    pub chunks: u64,
}

impl Partial {
    pub fn first_service_id(&self) -> Option<u32> {
        first_service_id(self.data.get(..self.first_len).unwrap_or(&[]))
    }
}

/// What adding an intermediate chunk did.
pub enum Added {
    /// kept (`too_many_partials`: the oldest other partial was dropped to make room)
    Kept { too_many_partials: bool },
    /// the partial was dropped at a bound: `message_too_large` or `too_many_chunks`
    Dropped {
        problem: &'static str,
        chunks: u64,
        service: Option<u32>,
    },
}

/// Chunks of the messages in progress in one direction, keyed by request id (bounded, in
/// insertion order as the Python dict).
#[derive(Debug, Default)]
pub struct Reassembler {
    partials: Vec<(u32, Partial)>,
}

impl Reassembler {
    fn index(&self, request_id: u32) -> Option<usize> {
        self.partials.iter().position(|(k, _)| *k == request_id)
    }

    pub fn contains(&self, request_id: u32) -> bool {
        self.index(request_id).is_some()
    }

    /// Adds an intermediate chunk's body.
    pub fn add(&mut self, request_id: u32, body: &[u8], max_size: u64, max_chunks: u64) -> Added {
        let mut too_many_partials = false;
        let i = match self.index(request_id) {
            Some(i) => i,
            None => {
                if self.partials.len() >= MAX_PARTIALS {
                    self.partials.remove(0);
                    too_many_partials = true;
                }
                self.partials.push((request_id, Partial::default()));
                self.partials.len() - 1
            }
        };
        let partial = &mut self.partials[i].1;
        if partial.chunks == 0 {
            partial.first_len = body.len();
        }
        partial.data.extend_from_slice(body);
        partial.chunks += 1;
        let problem = if partial.data.len() as u64 > max_size {
            "message_too_large"
        } else if partial.chunks >= max_chunks {
            "too_many_chunks"
        } else {
            return Added::Kept { too_many_partials };
        };
        let (_, partial) = self.partials.remove(i);
        Added::Dropped {
            problem,
            chunks: partial.chunks,
            service: partial.first_service_id(),
        }
    }

    /// The whole body once the final chunk arrives, and the number of chunks.
    pub fn finish(&mut self, request_id: u32, body: &[u8]) -> (Vec<u8>, u64) {
        match self.abort(request_id) {
            Some(mut partial) => {
                partial.data.extend_from_slice(body);
                (partial.data, partial.chunks + 1)
            }
            None => (body.to_vec(), 1),
        }
    }

    pub fn abort(&mut self, request_id: u32) -> Option<Partial> {
        self.index(request_id).map(|i| self.partials.remove(i).1)
    }

    pub fn clear(&mut self) {
        self.partials.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sequence_numbers() {
        // OPC 10000-6 6.7.2.4: +1, or a wrap to below 1024 once past 4294966271
        assert!(sequence_follows(1, 2));
        assert!(!sequence_follows(1, 3));
        assert!(!sequence_follows(2, 2));
        assert!(sequence_follows(4_294_966_270, 4_294_966_271));
        assert!(sequence_follows(4_294_966_271, 0));
        assert!(sequence_follows(u32::MAX, 1023));
        assert!(!sequence_follows(u32::MAX, 1024));
    }

    #[test]
    fn negotiated_limits() {
        assert_eq!(negotiated(0, MAX_MESSAGE), MAX_MESSAGE); // 0: no limit
        assert_eq!(negotiated(65536, MAX_MESSAGE), 65536);
        assert_eq!(negotiated(u32::MAX, MAX_MESSAGE), MAX_MESSAGE);
    }

    #[test]
    fn service_in_clear() {
        // sequence header (8 bytes), then a four-byte NodeId ns=0 i=631 (ReadRequest)
        let four = [0, 0, 0, 0, 0, 0, 0, 0, 0x01, 0x00, 0x77, 0x02];
        assert_eq!(plain_service_id(&four, 0, four.len()), Some(631));
        assert_eq!(plain_service_id(&four, 0, four.len() - 1), None);
        // a numeric NodeId ns=0 i=631; then ns=1: not a standard service
        let numeric = [
            0, 0, 0, 0, 0, 0, 0, 0, 0x02, 0x00, 0x00, 0x77, 0x02, 0x00, 0x00,
        ];
        assert_eq!(plain_service_id(&numeric, 0, numeric.len()), Some(631));
        let ns1 = [
            0, 0, 0, 0, 0, 0, 0, 0, 0x02, 0x01, 0x00, 0x77, 0x02, 0x00, 0x00,
        ];
        assert_eq!(plain_service_id(&ns1, 0, ns1.len()), None);
        // 632 is no service
        let other = [0, 0, 0, 0, 0, 0, 0, 0, 0x01, 0x00, 0x78, 0x02];
        assert_eq!(plain_service_id(&other, 0, other.len()), None);
    }

    #[test]
    fn reassembly_keeps_order_and_bounds() {
        let mut r = Reassembler::default();
        for id in 0..8 {
            assert!(matches!(
                r.add(id, b"ab", 100, 10),
                Added::Kept {
                    too_many_partials: false
                }
            ));
        }
        // a ninth message drops the oldest (request 0)
        assert!(matches!(
            r.add(8, b"cd", 100, 10),
            Added::Kept {
                too_many_partials: true
            }
        ));
        assert!(!r.contains(0));
        assert_eq!(r.finish(1, b"yz"), (b"abyz".to_vec(), 2));
        assert!(matches!(
            r.add(2, &[0; 99], 100, 10),
            Added::Dropped {
                problem: "message_too_large",
                chunks: 2,
                service: None
            }
        ));
        assert!(r.abort(2).is_none());
        assert_eq!(r.finish(77, b"solo"), (b"solo".to_vec(), 1));
    }
}
