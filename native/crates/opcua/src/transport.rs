//! UA TCP transport layer (OPC 10000-6 7.1.2): the message header and HEL, ACK, ERR, RHE
//! (port of `parsers/opcua/transport.py`).
//!
//! Every message (and every chunk of a secure message) starts with an 8-byte header:
//!
//! | field       | width | meaning                                                            |
//! |-------------|-------|--------------------------------------------------------------------|
//! | MessageType | 3     | `HEL` `ACK` `ERR` `RHE` `OPN` `MSG` `CLO`                          |
//! | ChunkType   | 1     | `F` final, `C` intermediate, `A` abort (HEL/ACK/ERR/RHE: F)        |
//! | MessageSize | 4     | UInt32 LE, the whole chunk including this header                   |
//!
//! Bodies of the connection-level messages:
//!
//! | message | fields                                                                        |
//! |---------|-------------------------------------------------------------------------------|
//! | HEL     | ProtocolVersion, ReceiveBufferSize, SendBufferSize, MaxMessageSize,           |
//! |         | MaxChunkCount (UInt32 each), EndpointUrl String (at most 4096 bytes)          |
//! | ACK     | ProtocolVersion, ReceiveBufferSize, SendBufferSize, MaxMessageSize,           |
//! |         | MaxChunkCount                                                                 |
//! | ERR     | Error StatusCode (UInt32), Reason String (at most 4096 bytes)                 |
//! | RHE     | ServerUri String, EndpointUrl String (reverse connect: sent by the server)    |

use icssa_core::{map, Decoded, Map, Value, NEED_MORE, NOT_PROTOCOL};
use icssa_opcua_codec::statuscodes::status_name;
use icssa_opcua_codec::types::Reader;

use icssa_opcua_codec::scalars::u32_at;

/// The largest chunk accepted whatever was negotiated (a longer size field is hostile).
pub const MAX_CHUNK: u64 = 1 << 21;
/// Spec floor for ReceiveBufferSize / SendBufferSize.
pub const MIN_BUFFER: u32 = 8192;
/// Spec ceiling for EndpointUrl and Reason.
pub const MAX_URL: usize = 4096;

/// Every legal MessageType + ChunkType pair, as the first four bytes of a header.
const KINDS: [&[u8; 4]; 13] = [
    b"HELF", b"ACKF", b"ERRF", b"RHEF", b"OPNF", b"OPNC", b"OPNA", b"MSGF", b"MSGC", b"MSGA",
    b"CLOF", b"CLOC", b"CLOA",
];

const fn kind(tag: &[u8; 4]) -> u32 {
    u32::from_le_bytes(*tag)
}

/// The smallest legal size of a message whose first four bytes (little-endian) are `kind`, if
/// that is a legal MessageType + ChunkType pair.
fn min_size(kind_value: u32) -> Option<u32> {
    const HELF: u32 = kind(b"HELF");
    const ACKF: u32 = kind(b"ACKF");
    const ERRF: u32 = kind(b"ERRF");
    const RHEF: u32 = kind(b"RHEF");
    const OPNF: u32 = kind(b"OPNF");
    const OPNC: u32 = kind(b"OPNC");
    const OPNA: u32 = kind(b"OPNA");
    const MSGF: u32 = kind(b"MSGF");
    const MSGC: u32 = kind(b"MSGC");
    const MSGA: u32 = kind(b"MSGA");
    const CLOF: u32 = kind(b"CLOF");
    const CLOC: u32 = kind(b"CLOC");
    const CLOA: u32 = kind(b"CLOA");
    match kind_value {
        HELF => Some(32),               // header 8 + five UInt32 + String length
        ACKF => Some(28),               // header 8 + five UInt32
        ERRF | RHEF => Some(16),        // header 8 + Error + Reason length / two String lengths
        OPNF | OPNC | OPNA => Some(32), // header 8 + channel id + 3 lengths + sequence header 8
        MSGF | MSGC | MSGA | CLOF | CLOC | CLOA => Some(24), // 8 + channel + token + sequence 8
        _ => None,
    }
}

/// `NEED_MORE`, `NOT_PROTOCOL` or the MessageSize of the header at `pos`.
pub fn header_size(buf: &[u8], pos: usize, end: usize) -> i64 {
    let avail = end.saturating_sub(pos);
    if avail < 8 {
        if avail > 0 {
            // every prefix (1 to 4 bytes) a header can start with: garbage is rejected early
            let prefix = buf.get(pos..pos + avail.min(4)).unwrap_or(&[]);
            if prefix.is_empty() || !KINDS.iter().any(|k| k.starts_with(prefix)) {
                return NOT_PROTOCOL;
            }
        }
        return NEED_MORE;
    }
    let (kind_value, size) = (u32_at(buf, pos), u32_at(buf, pos + 4));
    match min_size(kind_value) {
        Some(minimum) if size >= minimum => size as i64,
        _ => NOT_PROTOCOL,
    }
}

/// The five UInt32 fields HEL and ACK share: version and the buffer/message limits.
fn limits(r: &mut Reader) -> Decoded<[u32; 5]> {
    let p = r.pos;
    r.skip(20)?;
    let mut out = [0u32; 5];
    for (i, v) in out.iter_mut().enumerate() {
        *v = u32_at(r.buf, p + 4 * i);
    }
    Ok(out)
}

fn limit_fields(l: &[u32; 5]) -> Map {
    map! {
        "version" => l[0],
        "receive_buffer_size" => l[1],
        "send_buffer_size" => l[2],
        "max_message_size" => l[3],
        "max_chunk_count" => l[4],
    }
}

fn limit_flags(l: &[u32; 5]) -> Vec<Value> {
    let mut flags = Vec::new();
    if l[0] != 0 {
        flags.push(Value::from("unknown_protocol_version"));
    }
    if l[1] < MIN_BUFFER || l[2] < MIN_BUFFER {
        flags.push(Value::from("buffer_size_below_minimum"));
    }
    flags
}

/// HEL: the fields, and the limits (for negotiation).
pub fn decode_hello(r: &mut Reader) -> Decoded<(Map, [u32; 5])> {
    let l = limits(r)?;
    let mut fields = limit_fields(&l);
    let n_pos = r.pos;
    fields.push("endpoint_url", r.string()?);
    let mut flags = limit_flags(&l);
    if r.pos.saturating_sub(n_pos + 4) > MAX_URL {
        flags.push(Value::from("endpoint_url_too_long"));
    }
    if !flags.is_empty() {
        fields.push("flags", flags);
    }
    Ok((fields, l))
}

/// ACK: the fields, and the limits (for negotiation).
pub fn decode_acknowledge(r: &mut Reader) -> Decoded<(Map, [u32; 5])> {
    let l = limits(r)?;
    let mut fields = limit_fields(&l);
    let flags = limit_flags(&l);
    if !flags.is_empty() {
        fields.push("flags", flags);
    }
    Ok((fields, l))
}

pub fn decode_error(r: &mut Reader) -> Decoded<Map> {
    let code = r.u32()?;
    Ok(map! {"status_code" => code, "status" => status_name(code), "reason" => r.string()?})
}

pub fn decode_reverse_hello(r: &mut Reader) -> Decoded<Map> {
    let server_uri = r.string()?;
    Ok(map! {"server_uri" => server_uri, "endpoint_url" => r.string()?})
}
