//! The sensor: packets in, events out (port of `sensors/engine.py`).
//!
//! `Sensor::packet` is the hot path. For the common case (Ethernet, IPv4 without options or
//! fragments, TCP) it reads the IPv4 and TCP headers at once and hands the payload to the flow
//! without copying; everything else (other link types, VLAN, IPv6, fragments, out-of-order
//! segments, detection) takes a slower, shared path.
//!
//! Events are collected in the sensor and taken with `take_events` / `drain_events` (in the
//! order Python's `emit` would see them); `log` holds the warnings Python logs to
//! `icssa.sensor`, in order, for the caller to pass on.

use crate::decode::{ip6, network};
use crate::deliver::Ctx;
use crate::flows::{self, Addr, Deliver, Proto};
use crate::ipfrag::{Defragmenter, FragKey};
use crate::output::{EventMaker, Tally};
use crate::registry::{self, ProtocolSpec};
use crate::stats::Stat;
use crate::table::{Key, Table};
use icssa_core::event::Event;

fn be16(d: &[u8], at: usize) -> u16 {
    u16::from_be_bytes([d[at], d[at + 1]])
}

fn be32(d: &[u8], at: usize) -> u32 {
    u32::from_be_bytes([d[at], d[at + 1], d[at + 2], d[at + 3]])
}

/// Decodes packets, tracks flows, runs parsers and collects events.
pub struct Sensor {
    pub(crate) ctx: Ctx,
    pub(crate) table: Table,
    pub(crate) defrag: Defragmenter,
    pub(crate) by_port: Vec<u8>,
    pub(crate) max_flows: usize,
    pub(crate) next_sweep: i128,
    /// messages by dataset, set by `finish`
    pub(crate) messages: Tally<&'static str>,
}

impl Sensor {
    /// A sensor with every protocol compiled in (`registry::registry()`).
    pub fn new(observer: &str, organization: &str, capture_id: &str, max_flows: usize) -> Self {
        Self::with_specs(
            observer,
            organization,
            capture_id,
            max_flows,
            registry::registry(),
        )
    }

    pub fn with_specs(
        observer: &str,
        organization: &str,
        capture_id: &str,
        max_flows: usize,
        specs: Vec<ProtocolSpec>,
    ) -> Self {
        Sensor {
            by_port: registry::by_port(&specs),
            ctx: Ctx::new(specs, EventMaker::new(observer, organization, capture_id)),
            table: Table::default(),
            defrag: Defragmenter::new(),
            max_flows,
            next_sweep: 0,
            messages: Tally::default(),
        }
    }

    // -- results --------------------------------------------------------------------------
    /// The events made so far (taken: the sensor keeps none).
    pub fn take_events(&mut self) -> Vec<Event> {
        std::mem::take(&mut self.ctx.events)
    }

    /// The events made so far, drained in order (the sensor keeps its buffer's capacity).
    pub fn drain_events(&mut self) -> std::vec::Drain<'_, Event> {
        self.ctx.events.drain(..)
    }

    /// Events waiting to be taken.
    pub fn pending_events(&self) -> usize {
        self.ctx.events.len()
    }

    /// `sensor.stats[name]` of one counter (0 when absent).
    pub fn stat(&self, stat: crate::stats::Stat) -> u64 {
        self.ctx.stats.get(stat)
    }

    /// `sensor.stats`: counters in first-insertion order under Python's names.
    pub fn stats(&self) -> Vec<(&str, u64)> {
        self.ctx.stats.items()
    }

    /// `sensor.actions`: messages by (dataset, action) in first-seen order.
    pub fn actions(&self) -> Vec<(&'static str, &str, u64)> {
        self.ctx
            .out
            .counts
            .items()
            .iter()
            .map(|((d, a), n)| (*d, a.as_ref(), *n))
            .collect()
    }

    /// `sensor.messages`: messages by dataset (filled by `finish`).
    pub fn messages(&self) -> &[(&'static str, u64)] {
        self.messages.items()
    }

    /// `sensor.parse_errors`: by (dataset, reason) in first-seen order.
    pub fn parse_errors(&self) -> Vec<(&'static str, &str, u64)> {
        self.ctx
            .parse_errors
            .items()
            .iter()
            .map(|((d, r), n)| (*d, r.as_ref(), *n))
            .collect()
    }

    /// The warnings logged since the last call (Python logger `icssa.sensor`, level WARNING).
    pub fn take_log(&mut self) -> Vec<String> {
        std::mem::take(&mut self.ctx.log)
    }

    /// Packets seen (`sensor.frame`).
    pub fn frame(&self) -> u64 {
        self.ctx.frame
    }

    /// Bytes of the packets seen (`sensor.bytes`).
    pub fn bytes(&self) -> u64 {
        self.ctx.bytes
    }

    pub fn capture_id(&self) -> &str {
        self.ctx.out.capture_id()
    }

    /// Flows in the table.
    pub fn flows(&self) -> usize {
        self.table.live
    }

    // -- packets --------------------------------------------------------------------------
    /// One packet: `ts_ns` since the epoch (pcapng times may exceed 64 bits), the capture's
    /// link type, the frame's bytes.
    pub fn packet(&mut self, ts_ns: i128, linktype: u32, data: &[u8]) {
        let ctx = &mut self.ctx;
        ctx.frame += 1;
        ctx.frame_msgs = 0;
        ctx.ts = ts_ns;
        let n = data.len();
        ctx.bytes += n as u64;
        if ts_ns >= self.next_sweep {
            self.sweep(ts_ns);
        }
        // fast path: Ethernet II, IPv4 without options or fragments, a well-formed TCP header;
        // anything else (or anything to count) takes the general path below
        let off = if linktype == 1 && n >= 54 && data[12..15] == [0x08, 0x00, 0x45] {
            let total = usize::from(be16(data, 16));
            let frag = be16(data, 20);
            let doff = data[46];
            let end = 14 + total;
            let start = 34 + usize::from(doff >> 4) * 4;
            if data[23] == 6 && frag & 0x3FFF == 0 && end <= n && doff >= 0x50 && start <= end {
                let mut raw = [0u8; 12];
                raw.copy_from_slice(&data[26..38]);
                let key = Key::v4_tcp(&raw);
                let (src, dst) = (Addr::at(data, 26, 4), Addr::at(data, 30, 4));
                let tcp = Tcp {
                    sport: be16(data, 34),
                    dport: be16(data, 36),
                    seq: be32(data, 38),
                    ack: be32(data, 42),
                    flags: data[47],
                };
                self.segment(data, start, end, key, src, dst, tcp, true);
                return;
            }
            14
        } else {
            match network(linktype, data) {
                None => {
                    self.ctx.stats.add(Stat::NonIp, 1);
                    return;
                }
                Some((off, 6)) => {
                    self.ip6(data, off);
                    return;
                }
                Some((off, _)) => {
                    if n < off + 20 || data[off] >> 4 != 4 {
                        self.ctx.stats.add(Stat::BadIp, 1);
                        return;
                    }
                    off
                }
            }
        };
        self.ip4(data, off, linktype == 1);
    }

    /// An IPv4 header at `off` (20 bytes are there) that the fast path did not take.
    fn ip4(&mut self, data: &[u8], off: usize, ethernet: bool) {
        let n = data.len();
        let ihl = usize::from(data[off] & 15) * 4;
        let total = usize::from(be16(data, off + 2));
        let ident = be16(data, off + 4);
        let frag = be16(data, off + 6);
        let proto = data[off + 9];
        let src = Addr::at(data, off + 12, 4);
        let dst = Addr::at(data, off + 16, 4);
        // total 0: segmentation offload, rest of frame
        let mut end = if total > 0 { off + total } else { n };
        if end > n {
            self.ctx.stats.add(Stat::IpTruncated, 1);
            end = n;
        }
        if ihl < 20 || end - off < ihl {
            self.ctx.stats.add(Stat::BadIp, 1);
            return;
        }
        let l4 = off + ihl;
        if frag & 0x3FFF != 0 {
            let key = FragKey {
                src,
                dst,
                ident: u32::from(ident),
                proto,
            };
            let offset = usize::from(frag & 0x1FFF) * 8;
            let more = frag & 0x2000 != 0;
            let whole = self.defrag.add(
                key,
                offset,
                more,
                &data[l4..end],
                self.ctx.ts,
                &mut self.ctx.stats,
            );
            if let Some(whole) = whole {
                self.transport(&whole, 0, whole.len(), proto, src, dst, ethernet);
            }
            return;
        }
        self.transport(data, l4, end, proto, src, dst, ethernet);
    }

    fn ip6(&mut self, data: &[u8], off: usize) {
        let Some(ip) = ip6(data, off) else {
            self.ctx.stats.add(Stat::BadIp, 1);
            return;
        };
        let src = Addr::at(data, ip.src, 16);
        let dst = Addr::at(data, ip.dst, 16);
        if let Some((ident, foff, more, start)) = ip.frag {
            let key = FragKey {
                src,
                dst,
                ident,
                proto: ip.proto,
            };
            let payload = &data[start..ip.end];
            let whole = self.defrag.add(
                key,
                usize::from(foff),
                more,
                payload,
                self.ctx.ts,
                &mut self.ctx.stats,
            );
            if let Some(whole) = whole {
                self.transport(&whole, 0, whole.len(), ip.proto, src, dst, false);
            }
            return;
        }
        self.transport(data, ip.l4, ip.end, ip.proto, src, dst, false);
    }

    #[allow(clippy::too_many_arguments)]
    fn transport(
        &mut self,
        data: &[u8],
        l4: usize,
        end: usize,
        proto: u8,
        src: Addr,
        dst: Addr,
        ethernet: bool,
    ) {
        match proto {
            6 => self.tcp(data, l4, end, src, dst, ethernet),
            17 => self.udp(data, l4, end, src, dst, ethernet),
            _ => self.ctx.stats.add(Stat::OtherIpProto, 1),
        }
    }

    /// A TCP header the fast path did not take: check it, then handle the segment.
    fn tcp(&mut self, data: &[u8], l4: usize, end: usize, src: Addr, dst: Addr, ethernet: bool) {
        if l4 + 20 > end {
            self.ctx.stats.add(Stat::TcpTruncated, 1);
            return;
        }
        let doff = data[l4 + 12] >> 4;
        let start = l4 + usize::from(doff) * 4;
        if start > end || doff < 5 {
            self.ctx.stats.add(Stat::TcpBadHeader, 1);
            return;
        }
        let tcp = Tcp {
            sport: be16(data, l4),
            dport: be16(data, l4 + 2),
            seq: be32(data, l4 + 4),
            ack: be32(data, l4 + 8),
            flags: data[l4 + 13],
        };
        let key = Key::new(&src, &dst, tcp.sport, tcp.dport, false);
        self.segment(data, start, end, key, src, dst, tcp, ethernet);
    }

    /// One TCP segment (payload `data[start..end]`) of the direction `key` names.
    #[allow(clippy::too_many_arguments)]
    fn segment(
        &mut self,
        data: &[u8],
        start: usize,
        end: usize,
        key: Key,
        src: Addr,
        dst: Addr,
        tcp: Tcp,
        ethernet: bool,
    ) {
        let mut hit = self.table.get(&key);
        if let Some((id, _)) = hit {
            if tcp.flags & 0x12 == 0x02 {
                let reused = self
                    .table
                    .flow(id)
                    .is_some_and(|old| old.closing || old.c2s.segments > 0 || old.s2c.segments > 0);
                if reused {
                    self.close(id); // a new connection reuses the 4-tuple: start clean
                    self.ctx.stats.add(Stat::TcpPortReuse, 1);
                    hit = None;
                }
            }
        }
        let (id, to_server) = match hit {
            Some(h) => h,
            None => {
                let id = self.new_flow(
                    src, tcp.sport, dst, tcp.dport, false, tcp.flags, data, ethernet,
                );
                let to_server = self
                    .table
                    .flow(id)
                    .is_some_and(|f| f.client == src && f.cport == tcp.sport);
                (id, to_server)
            }
        };
        let ctx = &mut self.ctx;
        let Some(flow) = self.table.flow(id) else {
            return;
        };
        flow.last_ns = ctx.ts;
        let flags = tcp.flags;
        if flags & 0x10 != 0 && !flow.half(!to_server).ooo.is_empty() {
            // the ACK first: a hole it closes in the other direction was sent before this payload
            flows::acked(ctx, flow, !to_server, tcp.ack);
        }
        if flags & 0x07 != 0 {
            // FIN, SYN, RST
            if flags & 0x02 != 0 {
                let half = flow.half(to_server);
                half.syn = true;
                half.next_seq = Some(tcp.seq.wrapping_add(1));
                return;
            }
            if flags & 0x04 != 0 {
                flow.closing = true;
            }
            if flags & 0x01 != 0 {
                flow.half(to_server).fin = true;
                if flow.c2s.fin && flow.s2c.fin {
                    flow.closing = true;
                }
            }
        }
        if start < end {
            if flow.proto == Proto::GivenUp {
                return;
            }
            let half = flow.half(to_server);
            half.segments += 1;
            if half.next_seq.is_none() {
                half.next_seq = Some(tcp.seq);
                if !half.syn {
                    if let Some(parser) = flow.parser.as_mut() {
                        parser.start_midstream();
                    }
                }
            }
            let half = flow.half(to_server);
            let payload = &data[start..end];
            if half.next_seq == Some(tcp.seq) && half.ooo.is_empty() {
                half.next_seq = Some(tcp.seq.wrapping_add(payload.len() as u32));
                ctx.deliver(flow, to_server, payload);
            } else {
                flows::segment(ctx, flow, to_server, tcp.seq, payload);
            }
        }
    }

    fn udp(&mut self, data: &[u8], l4: usize, end: usize, src: Addr, dst: Addr, ethernet: bool) {
        if l4 + 8 > end {
            self.ctx.stats.add(Stat::UdpTruncated, 1);
            return;
        }
        let (sport, dport) = (be16(data, l4), be16(data, l4 + 2));
        let (id, to_server) = match self.table.get(&Key::new(&src, &dst, sport, dport, true)) {
            Some(h) => h,
            None => {
                let id = self.new_flow(src, sport, dst, dport, true, 0, data, ethernet);
                let to_server = self
                    .table
                    .flow(id)
                    .is_some_and(|f| f.client == src && f.cport == sport);
                (id, to_server)
            }
        };
        let ctx = &mut self.ctx;
        let Some(flow) = self.table.flow(id) else {
            return;
        };
        flow.last_ns = ctx.ts;
        if l4 + 8 < end && flow.proto != Proto::GivenUp {
            ctx.deliver(flow, to_server, &data[l4 + 8..end]);
            if let Some(parser) = flow.parser.as_mut() {
                parser.gap(to_server); // a datagram never continues in the next one
            }
        }
    }
}

/// The TCP header fields a segment needs.
#[derive(Debug, Clone, Copy)]
struct Tcp {
    sport: u16,
    dport: u16,
    seq: u32,
    ack: u32,
    flags: u8,
}
