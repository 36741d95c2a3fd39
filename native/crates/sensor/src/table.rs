//! The flow table (Python: `Sensor.flows`, `Sensor._lookup` and the flow lifecycle of
//! `sensors/engine.py`): flows in creation order, one lookup per packet by the direction's key,
//! new flows oriented by SYN, known port or port order, sweeps of idle flows, eviction of the
//! least recently active tenth when full, and the final flush.

use crate::engine::Sensor;
use crate::flows::{self, Addr, Flow};
use crate::stats::Stat;
use foldhash::HashMap;

pub const FLOW_TIMEOUT_NS: i128 = 600 * 1_000_000_000;
pub const CLOSED_TIMEOUT_NS: i128 = 30 * 1_000_000_000;
pub const SWEEP_EVERY_NS: i128 = 10 * 1_000_000_000;

/// The key of one direction: addresses and ports as on the wire, and the transport (Python:
/// `lookup_key`, whose UDP keys carry the protocol number so the two never meet).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Key {
    src: u128,
    dst: u128,
    ports: u32,
    /// address length, plus 1 for UDP
    tag: u8,
}

impl Key {
    pub fn new(src: &Addr, dst: &Addr, sport: u16, dport: u16, udp: bool) -> Self {
        let word = |a: &Addr| {
            let mut b = [0u8; 16];
            b[..a.as_bytes().len()].copy_from_slice(a.as_bytes());
            u128::from_be_bytes(b)
        };
        Key {
            src: word(src),
            dst: word(dst),
            ports: (u32::from(sport) << 16) | u32::from(dport),
            tag: (src.as_bytes().len() as u8) | u8::from(udp),
        }
    }

    /// The key of an IPv4/TCP packet from its 12 bytes of addresses and ports.
    pub fn v4_tcp(b: &[u8; 12]) -> Self {
        Key {
            src: u128::from(u32::from_be_bytes([b[0], b[1], b[2], b[3]])) << 96,
            dst: u128::from(u32::from_be_bytes([b[4], b[5], b[6], b[7]])) << 96,
            ports: u32::from_be_bytes([b[8], b[9], b[10], b[11]]),
            tag: 4,
        }
    }
}

/// Flows by slot, plus both directions' keys -> (slot, sent by the client?).
#[derive(Default)]
pub struct Table {
    slots: Vec<Option<Flow>>,
    free: Vec<usize>,
    pub live: usize,
    lookup: HashMap<Key, (usize, bool)>,
    created: u64,
}

impl Table {
    pub fn get(&self, key: &Key) -> Option<(usize, bool)> {
        self.lookup.get(key).copied()
    }

    pub fn flow(&mut self, id: usize) -> Option<&mut Flow> {
        self.slots.get_mut(id).and_then(Option::as_mut)
    }

    fn insert(&mut self, flow: Flow) -> usize {
        let udp = flow.udp;
        let k1 = Key::new(&flow.client, &flow.server, flow.cport, flow.sport, udp);
        let k2 = Key::new(&flow.server, &flow.client, flow.sport, flow.cport, udp);
        let id = match self.free.pop() {
            Some(id) => {
                self.slots[id] = Some(flow);
                id
            }
            None => {
                self.slots.push(Some(flow));
                self.slots.len() - 1
            }
        };
        self.live += 1;
        self.lookup.insert(k1, (id, true));
        self.lookup.insert(k2, (id, false));
        id
    }

    fn remove(&mut self, id: usize) -> Option<Flow> {
        let flow = self.slots.get_mut(id)?.take()?;
        self.lookup.remove(&Key::new(
            &flow.client,
            &flow.server,
            flow.cport,
            flow.sport,
            flow.udp,
        ));
        self.lookup.remove(&Key::new(
            &flow.server,
            &flow.client,
            flow.sport,
            flow.cport,
            flow.udp,
        ));
        self.free.push(id);
        self.live -= 1;
        Some(flow)
    }

    /// Live flows as (slot, flow).
    fn iter(&self) -> impl Iterator<Item = (usize, &Flow)> {
        self.slots
            .iter()
            .enumerate()
            .filter_map(|(i, f)| f.as_ref().map(|f| (i, f)))
    }
}

impl Sensor {
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn new_flow(
        &mut self,
        src: Addr,
        sport: u16,
        dst: Addr,
        dport: u16,
        udp: bool,
        flags: u8,
        data: &[u8],
        ethernet: bool,
    ) -> usize {
        if self.table.live >= self.max_flows {
            self.evict();
        }
        self.ctx.stats.add(Stat::Flows, 1);
        let known = |port: u16| self.by_port[port as usize] != u8::MAX;
        let client_is_src = if !udp && flags & 0x12 == 0x02 {
            true // SYN: the sender opens the connection
        } else if !udp && flags & 0x12 == 0x12 {
            false // SYN-ACK comes from the server
        } else if known(dport) {
            true
        } else if known(sport) {
            false
        } else {
            sport >= dport
        };
        let seq = self.table.created;
        self.table.created += 1;
        let ts = self.ctx.ts;
        let mut flow = if client_is_src {
            Flow::new(seq, udp, (src, sport), (dst, dport), ts)
        } else {
            Flow::new(seq, udp, (dst, dport), (src, sport), ts)
        };
        if ethernet && data.len() >= 12 {
            let dmac: [u8; 6] = [data[0], data[1], data[2], data[3], data[4], data[5]];
            let smac: [u8; 6] = [data[6], data[7], data[8], data[9], data[10], data[11]];
            let (c, s) = if client_is_src {
                (smac, dmac)
            } else {
                (dmac, smac)
            };
            flow.c2s.mac = Some(c);
            flow.s2c.mac = Some(s);
        }
        let spec = self.by_port[flow.sport as usize];
        if spec != u8::MAX {
            self.ctx.attach(&mut flow, usize::from(spec));
        }
        self.table.insert(flow)
    }

    pub(crate) fn sweep(&mut self, now: i128) {
        self.next_sweep = now.saturating_add(SWEEP_EVERY_NS);
        self.defrag.expire(now, &mut self.ctx.stats);
        let mut dead: Vec<(u64, usize)> = self
            .table
            .iter()
            .filter(|(_, f)| {
                now.saturating_sub(f.last_ns)
                    > if f.closing {
                        CLOSED_TIMEOUT_NS
                    } else {
                        FLOW_TIMEOUT_NS
                    }
            })
            .map(|(i, f)| (f.seq, i))
            .collect();
        dead.sort_unstable();
        for &(_, id) in &dead {
            self.close(id);
        }
        self.ctx.stats.add(Stat::FlowsTimedOut, dead.len() as u64);
    }

    /// The table is full: close the least recently active tenth.
    fn evict(&mut self) {
        let n = (self.table.live / 10).max(1);
        let mut order: Vec<(i128, u64, usize)> = self
            .table
            .iter()
            .map(|(i, f)| (f.last_ns, f.seq, i))
            .collect();
        if order.len() > n {
            order.select_nth_unstable(n);
            order.truncate(n);
        }
        order.sort_unstable();
        for &(_, _, id) in &order {
            self.close(id);
        }
        self.ctx.stats.add(Stat::FlowsEvicted, n as u64);
    }

    /// Flushes what waits in the flow's reassembly buffers (as gaps), then forgets the flow.
    pub(crate) fn close(&mut self, id: usize) {
        let Some(mut flow) = self.table.remove(id) else {
            return;
        };
        for to_server in [true, false] {
            while !flow.half(to_server).ooo.is_empty() && flow.half(to_server).next_seq.is_some() {
                flows::skip_gap(&mut self.ctx, &mut flow, to_server);
            }
        }
    }

    /// End of input: flushes every flow; sets `packets`, `bytes` and the messages by dataset.
    pub fn finish(&mut self) {
        let mut all: Vec<(u64, usize)> = self.table.iter().map(|(i, f)| (f.seq, i)).collect();
        all.sort_unstable();
        for (_, id) in all {
            self.close(id);
        }
        self.ctx.stats.set(Stat::Packets, self.ctx.frame);
        self.ctx.stats.set(Stat::Bytes, self.ctx.bytes);
        for ((dataset, _), n) in self.ctx.out.counts.items() {
            self.messages.add(*dataset, *n);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fast_path_key_is_the_general_key() {
        // 10.0.0.1 -> 10.0.0.2, ports 40000 -> 502, as on the wire
        let raw = [10, 0, 0, 1, 10, 0, 0, 2, 0x9c, 0x40, 0x01, 0xf6];
        let general = Key::new(
            &Addr::v4([10, 0, 0, 1]),
            &Addr::v4([10, 0, 0, 2]),
            40000,
            502,
            false,
        );
        assert_eq!(Key::v4_tcp(&raw), general);
        assert_ne!(
            general,
            Key::new(
                &Addr::v4([10, 0, 0, 1]),
                &Addr::v4([10, 0, 0, 2]),
                40000,
                502,
                true
            )
        );
        let mut v6 = [0u8; 16];
        v6[..4].copy_from_slice(&[10, 0, 0, 1]);
        let mut v6b = [0u8; 16];
        v6b[..4].copy_from_slice(&[10, 0, 0, 2]);
        assert_ne!(
            general,
            Key::new(&Addr::v6(v6), &Addr::v6(v6b), 40000, 502, false)
        );
    }
}
