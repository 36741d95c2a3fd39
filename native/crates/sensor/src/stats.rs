//! The sensor's counters (Python: the `Counter` `sensor.stats` shared by the engine, the
//! reassembler and the defragmenter), kept in first-insertion order as a Python `Counter` keeps
//! its keys: a key appears the first time it is added to, even when the amount is 0.

/// A fixed counter of `sensor.stats` (`Stats::add_proto` counts `flows_<name>`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum Stat {
    NonIp,
    BadIp,
    IpTruncated,
    OtherIpProto,
    TcpTruncated,
    TcpBadHeader,
    UdpTruncated,
    TcpPortReuse,
    Flows,
    FlowsTimedOut,
    FlowsEvicted,
    Packets,
    Bytes,
    TcpRetransmissions,
    TcpOverlaps,
    TcpOutOfOrder,
    TcpOooBoundHit,
    TcpGaps,
    TcpGapBytes,
    Fragments,
    FragmentTooLarge,
    FragmentEmpty,
    FragmentsDroppedBound,
    FragmentsTooMany,
    DatagramsReassembled,
    FragmentsTimedOut,
}

/// Names of the fixed counters, in the order of `Stat`'s variants.
const NAMES: [&str; 26] = [
    "non_ip",
    "bad_ip",
    "ip_truncated",
    "other_ip_proto",
    "tcp_truncated",
    "tcp_bad_header",
    "udp_truncated",
    "tcp_port_reuse",
    "flows",
    "flows_timed_out",
    "flows_evicted",
    "packets",
    "bytes",
    "tcp_retransmissions",
    "tcp_overlaps",
    "tcp_out_of_order",
    "tcp_ooo_bound_hit",
    "tcp_gaps",
    "tcp_gap_bytes",
    "fragments",
    "fragment_too_large",
    "fragment_empty",
    "fragments_dropped_bound",
    "fragments_too_many",
    "datagrams_reassembled",
    "fragments_timed_out",
];

/// Protocols the registry may hold (`flows_<name>` slots).
const MAX_PROTOS: usize = 8;
const SLOTS: usize = NAMES.len() + MAX_PROTOS;

/// `sensor.stats`: counts by slot plus the order in which keys first appeared.
#[derive(Debug, Clone)]
pub struct Stats {
    counts: [u64; SLOTS],
    seen: [bool; SLOTS],
    order: Vec<u8>,
    /// `flows_<name>` of each protocol of the registry
    proto_names: Vec<String>,
}

impl Stats {
    pub fn new(protocols: &[&str]) -> Self {
        Stats {
            counts: [0; SLOTS],
            seen: [false; SLOTS],
            order: Vec::with_capacity(16),
            proto_names: protocols.iter().map(|p| format!("flows_{p}")).collect(),
        }
    }

    #[inline]
    fn add_slot(&mut self, slot: usize, n: u64) {
        self.counts[slot] = self.counts[slot].wrapping_add(n);
        if !self.seen[slot] {
            self.seen[slot] = true;
            self.order.push(slot as u8);
        }
    }

    /// `stats[key] += n` (the key appears even when `n` is 0).
    #[inline]
    pub fn add(&mut self, stat: Stat, n: u64) {
        self.add_slot(stat as usize, n);
    }

    /// `stats[f"flows_{name}"] += 1` for the registry's `index`-th protocol.
    pub fn add_proto(&mut self, index: usize) {
        self.add_slot(NAMES.len() + index.min(MAX_PROTOS - 1), 1);
    }

    /// `stats[key] = n`.
    pub fn set(&mut self, stat: Stat, n: u64) {
        self.counts[stat as usize] = 0;
        self.add(stat, n);
    }

    /// `stats[key]` (0 when absent, as a `Counter` reads).
    pub fn get(&self, stat: Stat) -> u64 {
        self.counts[stat as usize]
    }

    fn name(&self, slot: usize) -> &str {
        if slot < NAMES.len() {
            NAMES[slot]
        } else {
            self.proto_names
                .get(slot - NAMES.len())
                .map_or("flows_?", String::as_str)
        }
    }

    /// The counters in first-insertion order, under Python's names.
    pub fn items(&self) -> Vec<(&str, u64)> {
        self.order
            .iter()
            .map(|&s| (self.name(s as usize), self.counts[s as usize]))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_insertion_order_and_zero_adds() {
        let mut s = Stats::new(&["opcua", "modbus"]);
        s.add(Stat::FragmentsTimedOut, 0);
        s.add(Stat::Flows, 2);
        s.add_proto(1);
        s.add(Stat::FragmentsTimedOut, 3);
        s.set(Stat::Packets, 7);
        assert_eq!(
            s.items(),
            vec![
                ("fragments_timed_out", 3),
                ("flows", 2),
                ("flows_modbus", 1),
                ("packets", 7)
            ]
        );
        assert_eq!(s.get(Stat::BadIp), 0);
        assert_eq!(
            NAMES[Stat::FragmentsTimedOut as usize],
            "fragments_timed_out"
        );
    }
}
