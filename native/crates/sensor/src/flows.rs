//! Flows and per-direction TCP reassembly (port of `sensors/flows.py`).
//!
//! A `Flow` is one TCP connection or UDP conversation, oriented client -> server. Each direction
//! (`Half`) delivers its bytes in order to the flow's parser:
//!
//! - in-order segments go straight through (the fast path, no copy);
//! - out-of-order segments wait in a bounded buffer until the hole is filled;
//! - retransmissions and overlaps keep the bytes seen first (counted);
//! - a hole that will never be filled (the peer acknowledged past it, the buffer bound is hit,
//!   or the flow ends) becomes a gap: the parser is told, and resynchronises at the next message
//!   boundary it can find.

use crate::stats::{Stat, Stats};
use icssa_core::event::Envelope;
use icssa_core::Parser;
use std::sync::Arc;

/// Out-of-order bytes buffered per direction before the hole is declared a gap.
pub const MAX_OOO_BYTES: i64 = 256 * 1024;
pub const MAX_OOO_SEGMENTS: usize = 256;

/// An IPv4 or IPv6 address as on the wire (`len` 4 or 16).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Addr {
    len: u8,
    bytes: [u8; 16],
}

impl Addr {
    pub fn v4(b: [u8; 4]) -> Self {
        let mut bytes = [0; 16];
        bytes[..4].copy_from_slice(&b);
        Addr { len: 4, bytes }
    }

    pub fn v6(bytes: [u8; 16]) -> Self {
        Addr { len: 16, bytes }
    }

    /// The address at `data[at..at + len]` (`len` 4 or 16; the caller checked the length).
    pub fn at(data: &[u8], at: usize, len: usize) -> Self {
        let mut bytes = [0; 16];
        bytes[..len].copy_from_slice(&data[at..at + len]);
        Addr {
            len: len as u8,
            bytes,
        }
    }

    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes[..self.len as usize]
    }

    pub fn is_v6(&self) -> bool {
        self.len == 16
    }
}

/// `a - b` in 32-bit sequence space, as a signed number.
pub fn seq_diff(a: u32, b: u32) -> i64 {
    i64::from(a.wrapping_sub(b) as i32)
}

/// One direction of a TCP connection.
#[derive(Debug, Default)]
pub struct Half {
    /// next expected sequence number, once known
    pub next_seq: Option<u32>,
    /// out-of-order segments by sequence number, in a Python dict's order
    pub ooo: Vec<(u32, Vec<u8>)>,
    pub ooo_bytes: i64,
    pub syn: bool,
    pub fin: bool,
    /// the sender's link-layer address (Python: `b""` when none)
    pub mac: Option<[u8; 6]>,
    /// payload-carrying segments seen (for detection limits)
    pub segments: u64,
}

impl Half {
    /// The waiting segments' (sequence number, length), sorted by distance from `base`.
    fn sorted_seqs(&self, base: u32) -> Vec<(u32, usize)> {
        let mut seqs: Vec<(u32, usize)> = self.ooo.iter().map(|(s, p)| (*s, p.len())).collect();
        seqs.sort_by_key(|&(s, _)| seq_diff(s, base));
        seqs
    }

    fn lowest_seq(&self, base: u32) -> Option<u32> {
        self.ooo
            .iter()
            .map(|(s, _)| *s)
            .min_by_key(|&s| seq_diff(s, base))
    }

    fn pop(&mut self, seq: u32) -> Option<Vec<u8>> {
        let i = self.ooo.iter().position(|(s, _)| *s == seq)?;
        Some(self.ooo.remove(i).1)
    }
}

/// A flow's protocol: undecided, detected (the registry's index) or given up (Python `"-"`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Proto {
    Undecided,
    Known(usize),
    GivenUp,
}

pub struct Flow {
    /// order of creation (a Python dict's insertion order for the flow table)
    pub seq: u64,
    pub udp: bool,
    pub client: Addr,
    pub cport: u16,
    pub server: Addr,
    pub sport: u16,
    pub c2s: Half,
    pub s2c: Half,
    pub parser: Option<Box<dyn Parser>>,
    pub proto: Proto,
    pub probes: u32,
    pub last_ns: i128,
    pub closing: bool,
    /// per direction (index 1 = to server): the envelope of its events, made once
    pub env: [Option<Arc<Envelope>>; 2],
    pub community_id: String,
    /// parse-error events emitted for this flow
    pub error_events: u32,
}

impl Flow {
    pub fn new(seq: u64, udp: bool, client: (Addr, u16), server: (Addr, u16), ts_ns: i128) -> Self {
        Flow {
            seq,
            udp,
            client: client.0,
            cport: client.1,
            server: server.0,
            sport: server.1,
            c2s: Half::default(),
            s2c: Half::default(),
            parser: None,
            proto: Proto::Undecided,
            probes: 0,
            last_ns: ts_ns,
            closing: false,
            env: [None, None],
            community_id: String::new(),
            error_events: 0,
        }
    }

    pub fn half(&mut self, to_server: bool) -> &mut Half {
        if to_server {
            &mut self.c2s
        } else {
            &mut self.s2c
        }
    }
}

/// What reassembly hands bytes to: the sensor's delivery to the flow's parser, and its counters.
pub trait Deliver {
    fn deliver(&mut self, flow: &mut Flow, to_server: bool, payload: &[u8]);
    fn stats(&mut self) -> &mut Stats;
}

/// A segment that is not the next expected one (or arrives while others wait).
pub fn segment<D: Deliver>(d: &mut D, flow: &mut Flow, to_server: bool, seq: u32, payload: &[u8]) {
    let Some(nxt) = flow.half(to_server).next_seq else {
        return;
    };
    let mut diff = seq_diff(seq, nxt);
    let mut payload = payload;
    let mut seq = seq;
    if diff < 0 {
        if diff + payload.len() as i64 <= 0 {
            d.stats().add(Stat::TcpRetransmissions, 1);
            return;
        }
        d.stats().add(Stat::TcpOverlaps, 1);
        payload = &payload[(-diff) as usize..];
        seq = nxt;
        diff = 0;
    }
    let half = flow.half(to_server);
    if diff == 0 && half.ooo.is_empty() {
        half.next_seq = Some(seq.wrapping_add(payload.len() as u32));
        d.deliver(flow, to_server, payload);
        return;
    }
    // bytes already waiting were seen first: only the parts they do not cover are new
    insert(d.stats(), half, seq, payload);
    if diff == 0 {
        drain(d, flow, to_server);
        return;
    }
    d.stats().add(Stat::TcpOutOfOrder, 1);
    let half = flow.half(to_server);
    if half.ooo_bytes > MAX_OOO_BYTES || half.ooo.len() > MAX_OOO_SEGMENTS {
        d.stats().add(Stat::TcpOooBoundHit, 1);
        skip_gap(d, flow, to_server);
    }
}

/// Adds a segment to the waiting ones, keeping the bytes seen first where they overlap.
fn insert(stats: &mut Stats, half: &mut Half, seq: u32, payload: &[u8]) {
    let Some(nxt) = half.next_seq else { return };
    // offsets relative to the next expected byte
    let start = seq_diff(seq, nxt);
    let end = start + payload.len() as i64;
    let mut pieces: Vec<(i64, i64)> = Vec::new();
    let mut cur = start;
    for (s, s_len) in half.sorted_seqs(nxt) {
        let s_start = seq_diff(s, nxt);
        if s_start >= end {
            break;
        }
        let s_end = s_start + s_len as i64;
        if s_end <= cur {
            continue;
        }
        if s_start > cur {
            pieces.push((cur, s_start));
        }
        cur = s_end;
        if cur >= end {
            break;
        }
    }
    if cur < end {
        pieces.push((cur, end));
    }
    if pieces.is_empty() {
        stats.add(Stat::TcpRetransmissions, 1);
        return;
    }
    if pieces.len() > 1 || pieces[0] != (start, end) {
        stats.add(Stat::TcpOverlaps, 1);
    }
    for (a, b) in pieces {
        let key = (i64::from(nxt) + a) as u32; // & SEQ_MOD
        let bytes = payload[(a - start) as usize..(b - start) as usize].to_vec();
        // a dict assignment: an existing key keeps its place
        match half.ooo.iter_mut().find(|(k, _)| *k == key) {
            Some(slot) => slot.1 = bytes,
            None => half.ooo.push((key, bytes)),
        }
        half.ooo_bytes += b - a;
    }
}

/// Delivers waiting segments that have become in order (one sort, then a walk).
pub fn drain<D: Deliver>(d: &mut D, flow: &mut Flow, to_server: bool) {
    let half = flow.half(to_server);
    let Some(start) = half.next_seq else { return };
    for (seq, _) in half.sorted_seqs(start) {
        let half = flow.half(to_server);
        let Some(nxt) = half.next_seq else { return };
        let diff = seq_diff(seq, nxt);
        if diff > 0 {
            return;
        }
        let Some(payload) = half.pop(seq) else {
            continue;
        };
        half.ooo_bytes -= payload.len() as i64;
        if diff + payload.len() as i64 <= 0 {
            d.stats().add(Stat::TcpRetransmissions, 1);
            continue;
        }
        let payload = &payload[(-diff) as usize..];
        half.next_seq = Some(nxt.wrapping_add(payload.len() as u32));
        d.deliver(flow, to_server, payload);
    }
}

/// Gives up on the hole before the lowest waiting segment: counts it, tells the parser.
pub fn skip_gap<D: Deliver>(d: &mut D, flow: &mut Flow, to_server: bool) {
    let half = flow.half(to_server);
    let Some(nxt) = half.next_seq else { return };
    let Some(first) = half.lowest_seq(nxt) else {
        return;
    };
    half.next_seq = Some(first);
    let stats = d.stats();
    stats.add(Stat::TcpGaps, 1);
    stats.add(Stat::TcpGapBytes, seq_diff(first, nxt).max(0) as u64);
    if let Some(parser) = flow.parser.as_mut() {
        parser.gap(to_server);
    }
    drain(d, flow, to_server);
}

/// The peer acknowledged `ack`: a hole below it will never be filled.
pub fn acked<D: Deliver>(d: &mut D, flow: &mut Flow, to_server: bool, ack: u32) {
    let half = flow.half(to_server);
    let Some(nxt) = half.next_seq else { return };
    if seq_diff(ack, nxt) > 0 {
        if let Some(first) = half.lowest_seq(nxt) {
            if seq_diff(ack, first) >= 0 {
                skip_gap(d, flow, to_server);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Sink {
        got: Vec<u8>,
        stats: Stats,
    }

    impl Deliver for Sink {
        fn deliver(&mut self, _flow: &mut Flow, _to_server: bool, payload: &[u8]) {
            self.got.extend_from_slice(payload);
        }
        fn stats(&mut self) -> &mut Stats {
            &mut self.stats
        }
    }

    fn flow() -> Flow {
        let mut f = Flow::new(
            0,
            false,
            (Addr::v4([1, 1, 1, 1]), 1000),
            (Addr::v4([2, 2, 2, 2]), 502),
            0,
        );
        f.c2s.next_seq = Some(100);
        f
    }

    #[test]
    fn out_of_order_overlap_and_retransmission() {
        let mut s = Sink {
            got: Vec::new(),
            stats: Stats::new(&[]),
        };
        let mut f = flow();
        segment(&mut s, &mut f, true, 104, b"EFGH"); // waits
        segment(&mut s, &mut f, true, 106, b"xxIJ"); // overlaps the waiting one: "IJ" is new
        segment(&mut s, &mut f, true, 104, b"EFGH"); // retransmission of a waiting segment
        segment(&mut s, &mut f, true, 100, b"ABCD"); // fills the hole
        segment(&mut s, &mut f, true, 98, b"zzAB"); // old bytes again
        assert_eq!(s.got, b"ABCDEFGHIJ");
        assert_eq!(f.c2s.next_seq, Some(110));
        assert_eq!(
            s.stats.items(),
            vec![
                ("tcp_out_of_order", 3),
                ("tcp_overlaps", 1),
                ("tcp_retransmissions", 2)
            ]
        );
    }

    #[test]
    fn gaps_on_ack_and_sequence_wrap() {
        let mut s = Sink {
            got: Vec::new(),
            stats: Stats::new(&[]),
        };
        let mut f = flow();
        f.c2s.next_seq = Some(u32::MAX - 1);
        segment(&mut s, &mut f, true, 3, b"later");
        acked(&mut s, &mut f, true, 2); // below the waiting segment: nothing given up
        assert!(s.got.is_empty());
        acked(&mut s, &mut f, true, 8);
        assert_eq!(s.got, b"later");
        assert_eq!(f.c2s.next_seq, Some(8));
        assert_eq!(
            s.stats.items(),
            vec![
                ("tcp_out_of_order", 1),
                ("tcp_gaps", 1),
                ("tcp_gap_bytes", 5)
            ]
        );
    }
}
