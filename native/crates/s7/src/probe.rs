//! Payload signature of S7 on ISO-on-TCP, for finding it on ports other than 102 (port of
//! `parsers/s7_probe.py`).
//!
//! Strict on purpose: a TPKT v3 packet whose COTP DT carries S7comm (0x32, a known ROSCTR,
//! header lengths that add up to the TPKT length) or S7comm-plus (0x72, a known version, data
//! length that fits with or without the trailer); or a connection request (from the client) /
//! confirm (from the server) whose called TSAP is an S7 one: connection type PG/OP/S7 basic with
//! rack and slot, or the `SIMATIC-ROOT-...` name S7-1200/1500 use. MMS/ICCP on the same
//! transport use other TSAPs and are left alone.

use crate::cotp::DT;
use crate::py::u16_at;

/// An S7 destination TSAP: connection type PG/OP/S7 basic (+ rack/slot) or SIMATIC-ROOT-*.
fn s7_tsap(value: &[u8]) -> bool {
    if value.len() == 2 {
        return (1..=0x10).contains(&value[0]);
    }
    value.starts_with(b"SIMATIC-ROOT")
}

/// TPKT v3 + COTP DT carrying S7comm/S7comm-plus whose lengths agree, or a CR (client) / CC
/// (server) with an S7 called TSAP.
pub fn probe(data: &[u8], to_server: bool) -> bool {
    if data.len() < 9 || data[0] != 3 || data[1] != 0 {
        return false;
    }
    let length = u16_at(data, 2) as usize;
    let li = data[4] as usize;
    let ptype = data[5] >> 4;
    if length < 7 {
        return false;
    }
    if ptype == DT {
        if li != 2 {
            return false;
        }
        if data[7] == 0x32 {
            let rosctr = data[8];
            if !matches!(rosctr, 1 | 2 | 3 | 7) {
                return false;
            }
            let hlen = if matches!(rosctr, 2 | 3) { 12 } else { 10 };
            if data[6] & 0x80 == 0 || data.len() < 17 {
                return true; // a first segment, or too short to check the lengths
            }
            let (plen, dlen) = (u16_at(data, 13) as usize, u16_at(data, 15) as usize);
            return length == 7 + hlen + plen + dlen;
        }
        if data[7] != 0x72 || !matches!(data[8], 1 | 2 | 3 | 0xFE | 0xFF) {
            return false;
        }
        if data[8] == 0xFF || data.len() < 11 {
            return true;
        }
        let dlen = u16_at(data, 9) as usize;
        return length == 11 + dlen || length == 15 + dlen; // without (fragment) or with the trailer
    }
    let want = if to_server { 0xE } else { 0xD };
    if ptype != want || li < 6 || length < li + 5 || data.len() < li + 5 {
        return false;
    }
    let (mut pos, end) = (11, 5 + li);
    let mut tsap: &[u8] = b"";
    while pos + 2 <= end {
        // every step consumes at least 2 bytes
        let (code, plen) = (data[pos], data[pos + 1] as usize);
        if pos + 2 + plen > end {
            return false;
        }
        if code == 0xC2 {
            tsap = &data[pos + 2..pos + 2 + plen];
        }
        pos += 2 + plen;
    }
    pos == end && s7_tsap(tsap)
}
