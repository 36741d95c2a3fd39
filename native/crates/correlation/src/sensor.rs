//! The sensor's events (`icssa_core::event::Event`) as the engine reads them: the envelope
//! from the event's own fields (every event holds `source`, `destination` and `network` with
//! both ends' addresses and ports, so the generated bucket test never raises on them), the
//! dataset's object walked as the Python getters walk it.

use crate::value::Val;
use crate::view::{walk, End, Env, EventView, FieldPath, Obj, Raise};
use icssa_core::event::Event;
use icssa_core::json::{Map, Value};
use std::sync::Arc;

impl EventView for Event {
    fn timestamp(&self) -> Val<'_> {
        Val::Str(&self.timestamp)
    }

    fn timestamp_text(&self) -> Option<Arc<str>> {
        Some(self.timestamp.clone())
    }

    fn dataset_action(&self) -> (Option<&str>, Option<&str>) {
        (Some(self.dataset), Some(&self.action))
    }

    fn event_id(&self) -> Val<'_> {
        Val::Str(&self.id)
    }

    fn organization_id(&self) -> Option<Val<'_>> {
        Some(Val::Str(&self.env.organization))
    }

    fn obj(&self, key: &str) -> Obj {
        match key {
            "@timestamp" => Obj::Other,
            "event" | "source" | "destination" | "network" | "observer" | "organization" => {
                Obj::Dict
            }
            _ if key == self.dataset => Obj::Dict,
            _ => Obj::Absent,
        }
    }

    fn read(&self, path: &FieldPath) -> Val<'_> {
        let e = &*self.env;
        match path.env {
            Env::Timestamp => Val::Str(&self.timestamp),
            Env::EventId => Val::Str(&self.id),
            Env::EventKind => Val::Str(self.kind),
            Env::EventDataset => Val::Str(self.dataset),
            Env::EventAction => Val::Str(&self.action),
            Env::SrcIp => Val::Str(&e.src_ip),
            Env::SrcPort => Val::Int(e.src_port.into()),
            Env::SrcMac => e.src_mac.as_deref().map_or(Val::Missing, Val::Str),
            Env::DstIp => Val::Str(&e.dst_ip),
            Env::DstPort => Val::Int(e.dst_port.into()),
            Env::DstMac => e.dst_mac.as_deref().map_or(Val::Missing, Val::Str),
            Env::Transport => Val::Str(e.transport),
            Env::Protocol => Val::Str(e.protocol),
            Env::CommunityId => Val::Str(&e.community_id),
            Env::ToServer => Val::Bool(e.to_server),
            Env::ObserverName => Val::Str(&e.observer),
            Env::OrgId => Val::Str(&e.organization),
            Env::EventObj
            | Env::SrcObj
            | Env::DstObj
            | Env::NetObj
            | Env::ObserverObj
            | Env::OrgObj => Val::OwnedMap(Box::new(self.envelope_map(path.top()))),
            Env::Absent => Val::Missing,
            Env::Other => {
                if path.top() != self.dataset {
                    return Val::Missing;
                }
                let parts = &path.parts;
                if parts.len() == 1 {
                    return Val::Map(&self.fields);
                }
                let key = &*parts[1];
                let hint = path.hint.get();
                let found = match self.fields.0.get(hint) {
                    Some((k, v)) if **k == *key => Some(v),
                    _ => self
                        .fields
                        .0
                        .iter()
                        .position(|(k, _)| k.len() == key.len() && **k == *key)
                        .map(|i| {
                            path.hint.set(i);
                            &self.fields.0[i].1
                        }),
                };
                match (found, parts.len()) {
                    (None, _) => Val::Missing,
                    (Some(x), 2) => Val::of(x),
                    (Some(x), _) => walk(x, &parts[2..]),
                }
            }
        }
    }

    fn end(&self, dest: bool) -> End<'_> {
        let e = &*self.env;
        let (ip, port) = if dest {
            (&e.dst_ip, e.dst_port)
        } else {
            (&e.src_ip, e.src_port)
        };
        End {
            obj: Obj::Dict,
            ip: Some(Val::Str(ip)),
            port: Some(Val::Int(port.into())),
        }
    }

    /// The sensor's events always hold `source`, `destination` and `network`, with the
    /// addresses and ports of both ends: the generated test never raises on them.
    fn read_compiled(&self, path: &FieldPath) -> Result<Val<'_>, Raise> {
        Ok(self.read(path))
    }

    fn envelope(&self, obj: &str, key: &str) -> Val<'_> {
        let e = &*self.env;
        match (obj, key) {
            ("organization", "id") => Val::Str(&e.organization),
            ("observer", "name") => Val::Str(&e.observer),
            ("network", "community_id") => Val::Str(&e.community_id),
            _ => Val::Null,
        }
    }
}

/// The envelope objects of a sensor event, as its JSON has them.
trait EnvelopeMaps {
    fn envelope_map(&self, top: &str) -> Map;
}

impl EnvelopeMaps for Event {
    fn envelope_map(&self, top: &str) -> Map {
        let e = &*self.env;
        let s = |x: &str| Value::Str(x.to_owned().into());
        let mut m = Map::new();
        match top {
            "event" => {
                m.push("id", s(&self.id));
                m.push("kind", s(self.kind));
                m.push("dataset", s(self.dataset));
                m.push("action", s(&self.action));
            }
            "source" | "destination" => {
                let (ip, port, mac) = if top == "source" {
                    (&e.src_ip, e.src_port, &e.src_mac)
                } else {
                    (&e.dst_ip, e.dst_port, &e.dst_mac)
                };
                m.push("ip", s(ip));
                m.push("port", Value::Int(port.into()));
                if let Some(mac) = mac {
                    m.push("mac", s(mac));
                }
            }
            "network" => {
                m.push("transport", s(e.transport));
                m.push("protocol", s(e.protocol));
                m.push("community_id", s(&e.community_id));
                m.push("direction_to_server", Value::Bool(e.to_server));
            }
            "observer" => m.push("name", s(&e.observer)),
            _ => m.push("id", s(&e.organization)),
        }
        m
    }
}
