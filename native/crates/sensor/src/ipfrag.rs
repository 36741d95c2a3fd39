//! IPv4 and IPv6 fragment reassembly, bounded in datagrams, bytes, pieces and time (port of
//! `sensors/ipfrag.py`).
//!
//! A datagram is complete when the last fragment (more-fragments clear) has arrived and the
//! pieces cover 0..end without holes. Overlapping pieces keep the first bytes seen (a later
//! fragment only fills what is still missing). When a bound is hit the oldest datagram is
//! dropped and counted; a datagram with too many pieces is dropped as hostile.

use crate::flows::Addr;
use crate::stats::{Stat, Stats};

pub const MAX_DATAGRAM: usize = 65535;
pub const MAX_PENDING: usize = 1024;
/// Bytes held in pieces over all pending datagrams.
pub const MAX_PENDING_BYTES: usize = 8 * 1024 * 1024;
/// Pieces per datagram (a 64 KiB datagram in 1280-byte IPv6 fragments needs 52).
pub const MAX_PIECES: usize = 256;
pub const TIMEOUT_NS: i128 = 30 * 1_000_000_000;

/// A datagram's identity: addresses (their length tells IPv4 from IPv6), ident, protocol.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FragKey {
    pub src: Addr,
    pub dst: Addr,
    pub ident: u32,
    pub proto: u8,
}

#[derive(Debug)]
struct Datagram {
    /// (offset, data) in arrival order
    pieces: Vec<(usize, Vec<u8>)>,
    /// known once the last fragment arrives
    total: Option<usize>,
    /// bytes held (overlaps counted twice)
    size: usize,
    first_ns: i128,
}

/// Pending datagrams in arrival order of their first fragment (a Python dict's order).
#[derive(Debug, Default)]
pub struct Defragmenter {
    pending: Vec<(FragKey, Datagram)>,
    bytes: usize,
}

impl Defragmenter {
    pub fn new() -> Self {
        Self::default()
    }

    /// Datagrams waiting for fragments.
    pub fn pending(&self) -> usize {
        self.pending.len()
    }

    fn find(&self, key: &FragKey) -> Option<usize> {
        self.pending.iter().position(|(k, _)| k == key)
    }

    fn drop_at(&mut self, i: usize) {
        let (_, dg) = self.pending.remove(i);
        self.bytes -= dg.size;
    }

    fn drop_key(&mut self, key: &FragKey) {
        if let Some(i) = self.find(key) {
            self.drop_at(i);
        }
    }

    /// Adds one fragment's payload; returns the whole payload once complete.
    pub fn add(
        &mut self,
        key: FragKey,
        offset: usize,
        more: bool,
        data: &[u8],
        ts_ns: i128,
        stats: &mut Stats,
    ) -> Option<Vec<u8>> {
        stats.add(Stat::Fragments, 1);
        let end = offset + data.len();
        if end > MAX_DATAGRAM {
            stats.add(Stat::FragmentTooLarge, 1);
            self.drop_key(&key);
            return None;
        }
        if data.is_empty() {
            stats.add(Stat::FragmentEmpty, 1);
            return None;
        }
        let mut i = match self.find(&key) {
            Some(i) => i,
            None => {
                if self.pending.len() >= MAX_PENDING {
                    self.expire(ts_ns, stats);
                    if self.pending.len() >= MAX_PENDING {
                        self.drop_at(0);
                        stats.add(Stat::FragmentsDroppedBound, 1);
                    }
                }
                let dg = Datagram {
                    pieces: Vec::new(),
                    total: None,
                    size: 0,
                    first_ns: ts_ns,
                };
                self.pending.push((key, dg));
                self.pending.len() - 1
            }
        };
        let dg = &mut self.pending[i].1;
        if dg.pieces.len() >= MAX_PIECES {
            stats.add(Stat::FragmentsTooMany, 1);
            self.drop_at(i);
            return None;
        }
        dg.pieces.push((offset, data.to_vec()));
        dg.size += data.len();
        if !more && dg.total.is_none() {
            dg.total = Some(end);
        }
        self.bytes += data.len();
        while self.bytes > MAX_PENDING_BYTES && !self.pending.is_empty() {
            self.drop_at(0);
            stats.add(Stat::FragmentsDroppedBound, 1);
            if i == 0 {
                return None; // the oldest was this datagram
            }
            i -= 1;
        }
        let dg = &self.pending[i].1;
        let total = dg.total?;
        if dg.size < total {
            return None;
        }
        let out = assemble(dg, total);
        if out.is_some() {
            self.drop_at(i);
            stats.add(Stat::DatagramsReassembled, 1);
        }
        out
    }

    /// Drops the datagrams whose first fragment is older than the timeout.
    pub fn expire(&mut self, now_ns: i128, stats: &mut Stats) {
        let before = self.pending.len();
        let mut freed = 0;
        self.pending.retain(|(_, dg)| {
            let old = now_ns.saturating_sub(dg.first_ns) > TIMEOUT_NS;
            if old {
                freed += dg.size;
            }
            !old
        });
        self.bytes -= freed;
        stats.add(
            Stat::FragmentsTimedOut,
            (before - self.pending.len()) as u64,
        );
    }
}

fn assemble(dg: &Datagram, total: usize) -> Option<Vec<u8>> {
    let mut order: Vec<(usize, usize)> = dg.pieces.iter().map(|(off, p)| (*off, p.len())).collect();
    order.sort_by_key(|p| p.0); // stable, as Python's sorted
    let mut covered = 0;
    for (off, len) in order {
        if off > covered {
            return None; // hole
        }
        covered = covered.max(off + len);
        if covered >= total {
            break;
        }
    }
    if covered < total {
        return None;
    }
    let mut out = vec![0u8; total];
    // latest first, so that the bytes seen first are written last and win
    for (off, piece) in dg.pieces.iter().rev() {
        if *off < total {
            let n = piece.len().min(total - off);
            out[*off..off + n].copy_from_slice(&piece[..n]);
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(ident: u32) -> FragKey {
        FragKey {
            src: Addr::v4([10, 0, 0, 1]),
            dst: Addr::v4([10, 0, 0, 2]),
            ident,
            proto: 6,
        }
    }

    #[test]
    fn out_of_order_with_overlap_keeps_first_bytes() {
        let mut d = Defragmenter::new();
        let mut s = Stats::new(&[]);
        assert_eq!(d.add(key(1), 8, false, b"BBBBBBBB", 0, &mut s), None);
        // overlaps the second piece by 4 bytes: those keep "BBBB"
        assert_eq!(
            d.add(key(1), 0, true, b"AAAAAAAAXXXX", 0, &mut s),
            Some(b"AAAAAAAABBBBBBBB".to_vec())
        );
        assert_eq!(d.pending(), 0);
        assert_eq!(
            s.items(),
            vec![("fragments", 2), ("datagrams_reassembled", 1)]
        );
    }

    #[test]
    fn bounds_and_timeouts() {
        let mut d = Defragmenter::new();
        let mut s = Stats::new(&[]);
        assert_eq!(d.add(key(2), 65530, false, b"123456", 0, &mut s), None);
        assert_eq!(d.add(key(3), 0, true, b"", 0, &mut s), None);
        assert_eq!(d.add(key(4), 0, true, b"x", 0, &mut s), None);
        d.expire(TIMEOUT_NS + 1, &mut s);
        assert_eq!(d.pending(), 0);
        assert_eq!(
            s.items(),
            vec![
                ("fragments", 3),
                ("fragment_too_large", 1),
                ("fragment_empty", 1),
                ("fragments_timed_out", 1)
            ]
        );
    }
}
