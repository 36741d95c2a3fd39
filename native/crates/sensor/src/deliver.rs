//! In-order bytes of a flow -> its parser -> events (Python: `Sensor._deliver`, `_detect`,
//! `_attach`, `_count_errors`): protocol detection by payload signature, parse errors counted,
//! logged once per (dataset, reason) and, for the first few of each flow, emitted as events.

use crate::flows::{Deliver, Flow, Proto};
use crate::output::{EventMaker, Tally};
use crate::registry::ProtocolSpec;
use crate::stats::Stats;
use icssa_core::event::Event;
use icssa_core::{map, Message, Text};

/// Beyond this a flow's parse errors are only counted.
pub const MAX_ERROR_EVENTS_PER_FLOW: u32 = 16;
/// Payload segments per flow tried against the signatures before giving up.
pub const MAX_PROBES: u32 = 4;

/// What delivery needs besides the flow: the registry, counters and the events made.
pub struct Ctx {
    pub specs: Vec<ProtocolSpec>,
    pub stats: Stats,
    pub out: EventMaker,
    pub events: Vec<Event>,
    /// parse errors by (dataset, reason)
    pub parse_errors: Tally<(&'static str, Text)>,
    /// the warnings the Python sensor logs (logger `icssa.sensor`)
    pub log: Vec<String>,
    /// packets seen (the frame number of the current packet)
    pub frame: u64,
    pub bytes: u64,
    /// events of the current packet so far
    pub frame_msgs: u64,
    /// time of the current packet
    pub ts: i128,
    msgs: Vec<Message>,
}

impl Ctx {
    pub fn new(specs: Vec<ProtocolSpec>, out: EventMaker) -> Self {
        let names: Vec<&str> = specs.iter().map(|s| s.name).collect();
        Ctx {
            stats: Stats::new(&names),
            specs,
            out,
            events: Vec::new(),
            parse_errors: Tally::default(),
            log: Vec::new(),
            frame: 0,
            bytes: 0,
            frame_msgs: 0,
            ts: 0,
            msgs: Vec::new(),
        }
    }

    /// `flow.proto` as Python names it.
    pub fn proto_name(&self, proto: Proto) -> &'static str {
        match proto {
            Proto::Undecided => "",
            Proto::GivenUp => "-",
            Proto::Known(i) => self.specs.get(i).map_or("", |s| s.name),
        }
    }

    pub fn attach(&mut self, flow: &mut Flow, index: usize) {
        let Some(spec) = self.specs.get(index) else {
            return;
        };
        flow.proto = Proto::Known(index);
        flow.parser = Some((spec.parser)());
        self.stats.add_proto(index);
    }

    fn detect(&mut self, flow: &mut Flow, to_server: bool, payload: &[u8]) -> bool {
        for i in 0..self.specs.len() {
            if (self.specs[i].probe)(payload, to_server) {
                self.attach(flow, i);
                if flow.c2s.segments + flow.s2c.segments > 1 {
                    if let Some(parser) = flow.parser.as_mut() {
                        parser.start_midstream();
                    }
                }
                return true;
            }
        }
        flow.probes += 1;
        if flow.probes >= MAX_PROBES {
            flow.proto = Proto::GivenUp;
        }
        false
    }

    fn emit(&mut self, flow: &mut Flow, msgs: &mut Vec<Message>) {
        let protocol = self.proto_name(flow.proto);
        self.frame_msgs = self.out.events(
            flow,
            protocol,
            msgs.drain(..),
            self.ts,
            self.frame,
            self.frame_msgs,
            &mut self.events,
        );
    }

    /// Counts and logs parse errors; the first few of each flow also become events.
    fn count_errors(&mut self, flow: &mut Flow) {
        let Some(parser) = flow.parser.as_mut() else {
            return;
        };
        let dataset = match parser.dataset() {
            "" => self.proto_name(flow.proto),
            d => d,
        };
        let errors = std::mem::take(&mut parser.errors().0);
        for err in errors {
            let key = (dataset, err.reason.clone());
            if self.parse_errors.add(key, 1) == 0 {
                let client = self.out.text(&flow.client);
                let server = self.out.text(&flow.server);
                self.log.push(format!(
                    "{dataset} parse error {} ({}) in flow {client}:{} -> {server}:{}; further ones counted",
                    err.reason, err.detail, flow.cport, flow.sport
                ));
            }
            if flow.error_events < MAX_ERROR_EVENTS_PER_FLOW {
                flow.error_events += 1;
                let detail: String = match err.detail.char_indices().nth(200) {
                    Some((cut, _)) => err.detail[..cut].to_owned(),
                    None => err.detail,
                };
                let fields =
                    map! {"protocol" => dataset, "reason" => err.reason, "detail" => detail};
                let mut one = vec![Message::new("icssa", "parse_error", fields, true)];
                self.emit(flow, &mut one);
            }
        }
    }
}

impl Deliver for Ctx {
    fn deliver(&mut self, flow: &mut Flow, to_server: bool, payload: &[u8]) {
        if flow.parser.is_none()
            && (flow.proto == Proto::GivenUp || !self.detect(flow, to_server, payload))
        {
            return;
        }
        let Some(parser) = flow.parser.as_mut() else {
            return;
        };
        let mut msgs = std::mem::take(&mut self.msgs);
        parser.feed(payload, to_server, &mut msgs);
        if !parser.errors().0.is_empty() {
            self.count_errors(flow);
        }
        if !msgs.is_empty() {
            self.emit(flow, &mut msgs);
        }
        self.msgs = msgs;
    }

    fn stats(&mut self) -> &mut Stats {
        &mut self.stats
    }
}
