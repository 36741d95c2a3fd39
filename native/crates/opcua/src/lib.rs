//! OPC UA binary (UA TCP, UA Secure Conversation, UA Binary encoding; OPC 10000-4 and 10000-6):
//! the upper layers of icssa's OPC UA parser, a port of `parsers/opcua/` (`transport`, `secure`,
//! `parser`, `services`, `discovery`, `subscriptions` and the SPEC/probe of `__init__`); the
//! encoding, ids, status codes and node services are in `icssa-opcua-codec`.
//!
//! One module per layer, as in Wireshark's OPC UA plugin:
//!
//! - `transport`: the 8-byte header, HEL, ACK, ERR, RHE;
//! - `secure`: security headers, sequence header, chunk reassembly, what is readable;
//! - `services`, `discovery`, `subscriptions` (and the codec's `nodes`): headers and bodies;
//! - `parser`, `channels`, `pairing`: per-connection state and the `Message` values handed to
//!   the sensor.
//!
//! `probe` recognises the protocol on a non-standard port from the first bytes of a direction.

mod channels;
mod discovery;
mod pairing;
mod parser;
mod secure;
mod services;
mod subscriptions;
mod transport;

use icssa_core::StreamParser;
use icssa_opcua_codec::scalars::{i32_at, u32_at};

pub use parser::OpcUa;
use secure::{plain_service_id, POLICY_PREFIX};
use transport::{header_size, MAX_CHUNK, MAX_URL};

/// `ProtocolSpec.name`.
pub const NAME: &str = "opcua";
/// `ProtocolSpec.ports`.
pub const PORTS: &[u16] = &[4840, 4843];

/// A strict signature of the first bytes of a direction:
///
/// - `HELF`: size 32..4128, ProtocolVersion 0, and an EndpointUrl filling the message exactly;
/// - `ACKF`: size 28 and ProtocolVersion 0;
/// - `ERRF`/`RHEF`: the first String fits in the message;
/// - `OPNF`: a SecurityPolicyUri under `http://opcfoundation.org/UA/SecurityPolicy#`;
/// - `MSG`/`CLO`, chunk `F` or `C` (picked up mid-stream): a standard service in clear after the
///   headers, or a chunk that ends exactly where the data or a next valid header begins.
pub fn probe(data: &[u8], _to_server: bool) -> bool {
    let size = header_size(data, 0, data.len());
    if size <= 0 || size as u64 > MAX_CHUNK {
        return false;
    }
    let size = size as usize;
    let n = data.len();
    match &data[..3] {
        b"HEL" => {
            if size > 32 + MAX_URL || n < 32 || u32_at(data, 8) != 0 {
                return false;
            }
            let url_length = i64::from(i32_at(data, 28));
            url_length == size as i64 - 32 || (url_length == -1 && size == 32)
        }
        b"ACK" => size == 28 && n >= 12 && u32_at(data, 8) == 0,
        kind @ (b"ERR" | b"RHE") => {
            let at = if kind == b"ERR" { 12 } else { 8 };
            if size > 16 + 2 * MAX_URL || n < at + 4 {
                return false;
            }
            (-1..=size as i64 - at as i64 - 4).contains(&i64::from(i32_at(data, at)))
        }
        b"OPN" => {
            let prefix = POLICY_PREFIX.as_bytes();
            if n < 16 + prefix.len() {
                return false;
            }
            let length = i64::from(i32_at(data, 12));
            (prefix.len() as i64..=255).contains(&length)
                && size as i64 >= 32 + length
                && data[16..].starts_with(prefix)
        }
        _ => {
            if data[3] != b'F' && data[3] != b'C' {
                return false;
            }
            if plain_service_id(data, 16, n).is_some() {
                return true;
            }
            size == n || (size + 8 <= n && header_size(data, size, n) > 0)
        }
    }
}

/// `ProtocolSpec.parser()`: a fresh parser for one TCP connection.
pub fn parser() -> Box<dyn icssa_core::Parser> {
    Box::new(StreamParser::new(OpcUa::new()))
}
