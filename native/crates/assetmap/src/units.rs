//! A host record (`Unit`: one IP and MAC pair), an edge (`Edge`: one client, server and
//! protocol) and what one MAC was seen with (`MacInfo`), as `assetmap/store.py` defines them.

use crate::evidence::Evidence;
use crate::links::EdgeKey;
use crate::store::Ts;
use std::sync::Arc;

/// One (IP, MAC) pair: when it was seen, its identity evidence, its protocols and edges.
#[derive(Debug)]
pub struct Unit {
    pub ip: Arc<str>,
    pub mac: Option<Arc<str>>,
    pub first_seen: Ts,
    pub last_seen: Ts,
    pub seq: u64,
    pub evidence: Option<Box<Evidence>>,
    pub protocols: Vec<&'static str>,
    /// the record's edges (once for an edge from the record to itself)
    pub edges: Vec<u32>,
    /// edges where the record serves a controller protocol with at least one response
    pub served: u32,
}

impl Unit {
    pub fn touch(&mut self, ts: &Ts, seq: u64) {
        self.seq = seq;
        if **ts > *self.last_seen {
            self.last_seen = ts.clone();
        } else if **ts < *self.first_seen {
            self.first_seen = ts.clone();
        }
    }
}

/// Traffic of one client to one server in one protocol.
#[derive(Debug)]
pub struct Edge {
    pub client: u32,
    pub server: u32,
    pub protocol: &'static str,
    pub ports: Vec<u16>,
    pub reads: u64,
    pub writes: u64,
    pub control: u64,
    pub other: u64,
    pub control_ops: Vec<(&'static str, u64)>,
    pub identity_reads: u64,
    pub responses: u64,
    pub first_seen: Ts,
    pub last_seen: Ts,
    /// the first events of the edge, and the first writes/control operations
    pub event_ids: Vec<Box<str>>,
    pub change_ids: Vec<Box<str>>,
    /// intervals between reads (Welford): reads, last read time, mean and M2 of the gaps
    pub read_n: u64,
    pub read_last: f64,
    pub read_mean: f64,
    pub read_m2: f64,
    pub seq: u64,
    /// the keys of its links (`links`)
    pub link: Vec<EdgeKey>,
    pub(crate) slot_client: u32,
    pub(crate) slot_server: u32,
}

impl Edge {
    pub fn requests(&self) -> u64 {
        self.reads + self.writes + self.control + self.other
    }

    pub fn events(&self) -> u64 {
        self.requests() + self.responses
    }

    pub fn is_cyclic(&self) -> bool {
        crate::roles::cyclic(self.read_n, self.read_mean, self.read_m2)
    }

    /// One more read at time `t` (seconds).
    pub fn add_read_time(&mut self, t: f64) {
        if self.read_n > 0 {
            let gap = t - self.read_last;
            let delta = gap - self.read_mean;
            self.read_mean += delta / self.read_n as f64;
            self.read_m2 += delta * (gap - self.read_mean);
        }
        self.read_n += 1;
        self.read_last = t;
    }
}

/// What one host MAC was seen with: its records by IP (at most MAX_IPS_PER_MAC), and whether
/// it is shared.
#[derive(Debug, Default)]
pub struct MacInfo {
    pub ips: Vec<(Arc<str>, u32)>,
    pub shared: bool,
    pub(crate) refs: u32,
}
