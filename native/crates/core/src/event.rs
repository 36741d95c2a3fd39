//! Events as the native path holds them: a shared per-flow envelope plus each message's own
//! part. `write_json` gives the bytes `orjson.dumps` gives for the Python path's event dict
//! (`sensors/output.py`): `@timestamp`, `event`, `source`, `destination`, `network`,
//! `observer`, `organization`, then the protocol's fields under the dataset's name.

use crate::json::{write_map, write_str, Map, Text, Value};
use std::sync::Arc;

/// One direction of a flow as its events name it: everything but the message's own fields.
#[derive(Debug, Clone, PartialEq)]
pub struct Envelope {
    pub src_ip: String,
    pub src_port: u16,
    /// None when the capture has no link-layer address; Some("") for an all-zero one
    pub src_mac: Option<String>,
    pub dst_ip: String,
    pub dst_port: u16,
    pub dst_mac: Option<String>,
    /// "tcp" or "udp"
    pub transport: &'static str,
    /// the flow's detected protocol (`network.protocol`): "modbus", "s7comm", "opcua"
    pub protocol: &'static str,
    pub community_id: String,
    pub to_server: bool,
    pub observer: Arc<str>,
    pub organization: Arc<str>,
    /// `,"source":{...},...,"organization":{...}`: written once per envelope
    json: Vec<u8>,
}

impl Envelope {
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        src: (String, u16, Option<String>),
        dst: (String, u16, Option<String>),
        transport: &'static str,
        protocol: &'static str,
        community_id: String,
        to_server: bool,
        observer: Arc<str>,
        organization: Arc<str>,
    ) -> Self {
        let mut e = Envelope {
            src_ip: src.0,
            src_port: src.1,
            src_mac: src.2,
            dst_ip: dst.0,
            dst_port: dst.1,
            dst_mac: dst.2,
            transport,
            protocol,
            community_id,
            to_server,
            observer,
            organization,
            json: Vec::new(),
        };
        e.json = e.render();
        e
    }

    fn render(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(320);
        let host = |out: &mut Vec<u8>, name: &str, ip: &str, port: u16, mac: &Option<String>| {
            out.extend_from_slice(b",\"");
            out.extend_from_slice(name.as_bytes());
            out.extend_from_slice(b"\":{\"ip\":");
            write_str(out, ip);
            out.extend_from_slice(b",\"port\":");
            out.extend_from_slice(itoa::Buffer::new().format(port).as_bytes());
            if let Some(mac) = mac {
                out.extend_from_slice(b",\"mac\":");
                write_str(out, mac);
            }
            out.push(b'}');
        };
        host(
            &mut out,
            "source",
            &self.src_ip,
            self.src_port,
            &self.src_mac,
        );
        host(
            &mut out,
            "destination",
            &self.dst_ip,
            self.dst_port,
            &self.dst_mac,
        );
        out.extend_from_slice(b",\"network\":{\"transport\":");
        write_str(&mut out, self.transport);
        out.extend_from_slice(b",\"protocol\":");
        write_str(&mut out, self.protocol);
        out.extend_from_slice(b",\"community_id\":");
        write_str(&mut out, &self.community_id);
        out.extend_from_slice(if self.to_server {
            b",\"direction_to_server\":true}".as_slice()
        } else {
            b",\"direction_to_server\":false}".as_slice()
        });
        out.extend_from_slice(b",\"observer\":{\"name\":");
        write_str(&mut out, &self.observer);
        out.extend_from_slice(b"},\"organization\":{\"id\":");
        write_str(&mut out, &self.organization);
        out.push(b'}');
        out
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    /// packet time in ns since the epoch, clamped to years 1-9999
    pub ts_ns: i64,
    /// `@timestamp`: ISO 8601 with microseconds
    pub timestamp: Arc<str>,
    pub id: String,
    /// "event" for the sensor's events
    pub kind: &'static str,
    pub dataset: &'static str,
    pub action: Text,
    pub env: Arc<Envelope>,
    pub fields: Map,
}

/// A field read by dotted name (see `Event::get`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Field<'a> {
    Str(&'a str),
    Int(i64),
    Bool(bool),
    Value(&'a Value),
}

impl Event {
    /// Appends the event's JSON line (with its newline) to `out`.
    pub fn write_json(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(b"{\"@timestamp\":");
        write_str(out, &self.timestamp);
        out.extend_from_slice(b",\"event\":{\"id\":");
        write_str(out, &self.id);
        out.extend_from_slice(b",\"kind\":");
        write_str(out, self.kind);
        out.extend_from_slice(b",\"dataset\":");
        write_str(out, self.dataset);
        out.extend_from_slice(b",\"action\":");
        write_str(out, &self.action);
        out.push(b'}');
        out.extend_from_slice(&self.env.json);
        out.push(b',');
        write_str(out, self.dataset);
        out.push(b':');
        write_map(out, &self.fields);
        out.extend_from_slice(b"}\n");
    }

    /// The value at a dotted name, as `icssa.events.get` reads it from the Python event.
    pub fn get(&self, dotted: &str) -> Option<Field<'_>> {
        let e = &*self.env;
        Some(match dotted {
            "@timestamp" => Field::Str(&self.timestamp),
            "event.id" => Field::Str(&self.id),
            "event.kind" => Field::Str(self.kind),
            "event.dataset" => Field::Str(self.dataset),
            "event.action" => Field::Str(&self.action),
            "source.ip" => Field::Str(&e.src_ip),
            "source.port" => Field::Int(e.src_port.into()),
            "source.mac" => Field::Str(e.src_mac.as_deref()?),
            "destination.ip" => Field::Str(&e.dst_ip),
            "destination.port" => Field::Int(e.dst_port.into()),
            "destination.mac" => Field::Str(e.dst_mac.as_deref()?),
            "network.transport" => Field::Str(e.transport),
            "network.protocol" => Field::Str(e.protocol),
            "network.community_id" => Field::Str(&e.community_id),
            "network.direction_to_server" => Field::Bool(e.to_server),
            "observer.name" => Field::Str(&e.observer),
            "organization.id" => Field::Str(&e.organization),
            _ => {
                let rest = dotted.strip_prefix(self.dataset)?.strip_prefix('.')?;
                return get_path(&self.fields, rest).map(Field::Value);
            }
        })
    }
}

/// `a.b.c` inside nested maps (a key may itself hold dots: the longest match is not needed by
/// the sensor's events, whose keys never contain dots).
pub fn get_path<'a>(map: &'a Map, dotted: &str) -> Option<&'a Value> {
    let (head, rest) = match dotted.split_once('.') {
        Some((h, r)) => (h, Some(r)),
        None => (dotted, None),
    };
    let v = map.get(head)?;
    match rest {
        None => Some(v),
        Some(r) => get_path(v.as_map()?, r),
    }
}
