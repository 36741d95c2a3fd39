//! Reading events as the Python engine reads its nested dicts (`correlation.fields.getter`):
//! dotted paths through maps, lists fanning out (the values found, flattened), `MISSING` for
//! an absent field.
//!
//! `EventView` is what the engine needs from an event; it is implemented for the sensor's
//! `icssa_core::event::Event` (in `sensor`) and for `JsonEvent`, any event in the nested JSON
//! form (rule test cases, hostile input).

use crate::value::Val;
use icssa_core::json::{Map, Value};
use std::cell::Cell;
use std::sync::Arc;

/// A dotted field path, split once.
#[derive(Debug, Clone)]
pub struct FieldPath {
    pub text: Box<str>,
    pub parts: Box<[Box<str>]>,
    /// the sensor event's envelope field this path names, if any
    pub(crate) env: Env,
    /// a field the engine computes from its zone context (`context.*`)
    pub context: Option<Ctx>,
    /// under `source`, `destination` or `network`, which the generated test reads by subscript
    always_obj: bool,
    /// `source.ip`, `source.port`, `destination.ip`, `destination.port`: read by subscript
    always_field: bool,
    /// where the second part was found in the dataset's object last time (events of one
    /// kind hold their fields in one order): looked at first
    pub(crate) hint: Cell<usize>,
}

/// The fields of `correlation.vocab.CONTEXT_FIELDS`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Ctx {
    /// `context.{source,destination}.zone` (`dest` for destination)
    Zone { dest: bool },
    /// `context.{source,destination}.level`
    Level { dest: bool },
    /// `context.zone_crossing`: both zones known and different
    Crossing,
    /// `context.level_gap`: the absolute difference of both levels
    Gap,
}

/// Envelope fields of the sensor's events (`icssa_core::event::Event`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Env {
    Timestamp,
    EventObj,
    EventId,
    EventKind,
    EventDataset,
    EventAction,
    SrcObj,
    SrcIp,
    SrcPort,
    SrcMac,
    DstObj,
    DstIp,
    DstPort,
    DstMac,
    NetObj,
    Transport,
    Protocol,
    CommunityId,
    ToServer,
    ObserverObj,
    ObserverName,
    OrgObj,
    OrgId,
    /// under an envelope object, but nothing the sensor writes there
    Absent,
    /// not the envelope: the event's dataset object, or absent
    Other,
}

impl FieldPath {
    pub fn new(text: &str) -> Self {
        let parts: Box<[Box<str>]> = text.split('.').map(Box::from).collect();
        let env = match text {
            "@timestamp" => Env::Timestamp,
            "event" => Env::EventObj,
            "event.id" => Env::EventId,
            "event.kind" => Env::EventKind,
            "event.dataset" => Env::EventDataset,
            "event.action" => Env::EventAction,
            "source" => Env::SrcObj,
            "source.ip" => Env::SrcIp,
            "source.port" => Env::SrcPort,
            "source.mac" => Env::SrcMac,
            "destination" => Env::DstObj,
            "destination.ip" => Env::DstIp,
            "destination.port" => Env::DstPort,
            "destination.mac" => Env::DstMac,
            "network" => Env::NetObj,
            "network.transport" => Env::Transport,
            "network.protocol" => Env::Protocol,
            "network.community_id" => Env::CommunityId,
            "network.direction_to_server" => Env::ToServer,
            "observer" => Env::ObserverObj,
            "observer.name" => Env::ObserverName,
            "organization" => Env::OrgObj,
            "organization.id" => Env::OrgId,
            _ => match &*parts[0] {
                "@timestamp" | "event" | "source" | "destination" | "network" | "observer"
                | "organization" => Env::Absent,
                _ => Env::Other,
            },
        };
        let context = match (parts.first().map(|p| &**p), parts.get(1).map(|p| &**p)) {
            (Some("context"), Some(side @ ("source" | "destination"))) => {
                let dest = side == "destination";
                Some(if parts.get(2).is_some_and(|p| &**p == "zone") {
                    Ctx::Zone { dest }
                } else {
                    Ctx::Level { dest }
                })
            }
            (Some("context"), Some("zone_crossing")) => Some(Ctx::Crossing),
            (Some("context"), Some(_)) => Some(Ctx::Gap),
            _ => None,
        };
        let always_obj = parts.len() >= 2 && ALWAYS_OBJECTS.contains(&&*parts[0]);
        let always_field = ALWAYS_FIELDS.contains(&text);
        FieldPath {
            text: text.into(),
            parts,
            env,
            context,
            always_obj,
            always_field,
            hint: Cell::new(0),
        }
    }

    pub fn top(&self) -> &str {
        &self.parts[0]
    }
}

/// How a top-level key of an event holds its value.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Obj {
    Absent,
    /// present, not a dict (None included)
    Other,
    Dict,
}

/// `source` or `destination` of an event, as alerts and zones read it.
#[derive(Debug, Clone)]
pub struct End<'a> {
    pub obj: Obj,
    /// its `ip` and `port` when it is a dict holding them
    pub ip: Option<Val<'a>>,
    pub port: Option<Val<'a>>,
}

/// What the correlation engine reads from an event.
pub trait EventView {
    /// `event.get("@timestamp")` (Null when absent).
    fn timestamp(&self) -> Val<'_>;
    /// `@timestamp` as shared text, when it is a string (alerts keep it).
    fn timestamp_text(&self) -> Option<Arc<str>>;
    /// `event.dataset` and `event.action` when the event object is a dict and each a string.
    fn dataset_action(&self) -> (Option<&str>, Option<&str>);
    /// `ev.get("id")` when the event object is a dict, else None.
    fn event_id(&self) -> Val<'_>;
    /// `organization.get("id")` when the organization is a dict (Null when it has no id).
    fn organization_id(&self) -> Option<Val<'_>>;
    /// How the event holds the top-level key `key`.
    fn obj(&self, key: &str) -> Obj;
    /// `getter(path)(event)`.
    fn read(&self, path: &FieldPath) -> Val<'_>;
    /// `source` (`dest` false) or `destination`.
    fn end(&self, dest: bool) -> End<'_>;
    /// `obj.get(key)` of a top-level object when it is a dict (Null otherwise or when absent).
    fn envelope(&self, obj: &str, key: &str) -> Val<'_>;

    /// A field as the generated bucket test reads it: Err where it raises (KeyError,
    /// TypeError) and the engine falls back to the interpreter.
    fn read_compiled(&self, path: &FieldPath) -> Result<Val<'_>, Raise> {
        if path.always_obj {
            match self.obj(path.top()) {
                Obj::Absent => return Err(Raise),
                Obj::Other if path.always_field => return Err(Raise),
                Obj::Dict if path.always_field => {
                    let v = self.read(path);
                    return if matches!(v, Val::Missing) {
                        Err(Raise)
                    } else {
                        Ok(v)
                    };
                }
                _ => {}
            }
        }
        Ok(self.read(path))
    }
}

/// The top-level objects every event has: the generated bucket tests read them by subscript
/// (`e['source']`), and an event without one falls back to the interpreter.
const ALWAYS_OBJECTS: [&str; 3] = ["source", "destination", "network"];
const ALWAYS_FIELDS: [&str; 4] = [
    "source.ip",
    "source.port",
    "destination.ip",
    "destination.port",
];

/// The generated code raised: the interpreter answers instead.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Raise;

/// `walk(value, parts)`: through maps; a list fans out over its elements (lists in it are
/// skipped, None and absent values left out, lists found flattened).
pub fn walk<'a>(value: &'a Value, parts: &[Box<str>]) -> Val<'a> {
    match walk_ref(value, parts) {
        Walked::Missing => Val::Missing,
        Walked::One(v) => Val::of(v),
        Walked::Found(f) => Val::Found(f),
    }
}

enum Walked<'a> {
    Missing,
    One(&'a Value),
    Found(Vec<&'a Value>),
}

fn walk_ref<'a>(value: &'a Value, parts: &[Box<str>]) -> Walked<'a> {
    let mut cur = value;
    for (i, part) in parts.iter().enumerate() {
        match cur {
            Value::Map(m) => match lookup(m, part) {
                Some(v) => cur = v,
                None => return Walked::Missing,
            },
            Value::List(items) => {
                let mut found = Vec::new();
                for item in items {
                    if matches!(item, Value::List(_)) {
                        continue;
                    }
                    match walk_ref(item, &parts[i..]) {
                        Walked::Missing | Walked::One(Value::Null) => {}
                        Walked::One(Value::List(l)) => found.extend(l.iter()),
                        Walked::One(v) => found.push(v),
                        Walked::Found(f) => found.extend(f),
                    }
                }
                return Walked::Found(found);
            }
            _ => return Walked::Missing,
        }
    }
    Walked::One(cur)
}

/// `m.get(key)`, comparing lengths and first bytes before whole keys.
pub(crate) fn lookup<'a>(m: &'a Map, key: &str) -> Option<&'a Value> {
    let (len, first) = (key.len(), key.as_bytes().first());
    m.0.iter()
        .find(|(k, _)| k.len() == len && k.as_bytes().first() == first && **k == *key)
        .map(|(_, v)| v)
}

/// `getter(path)` on a nested map: one part reads the key (None kept), two read through a
/// dict (a None object is absent), more walk.
pub fn read_map<'a>(top: &'a Map, path: &FieldPath) -> Val<'a> {
    let parts = &path.parts;
    let Some(x) = lookup(top, &parts[0]) else {
        return Val::Missing;
    };
    if parts.len() == 1 {
        return Val::of(x);
    }
    match x {
        Value::Null => Val::Missing,
        Value::Map(m) if parts.len() == 2 => lookup(m, &parts[1]).map_or(Val::Missing, Val::of),
        _ => walk(x, &parts[1..]),
    }
}

/// An event in the nested JSON form (the form `correlation.fields.nest` gives).
#[derive(Debug, Clone)]
pub struct JsonEvent {
    pub map: Map,
    ts: Option<Arc<str>>,
}

impl JsonEvent {
    pub fn new(map: Map) -> Self {
        let ts = match map.get("@timestamp") {
            Some(Value::Str(s)) => Some(Arc::from(&**s)),
            _ => None,
        };
        JsonEvent { map, ts }
    }

    fn dict(&self, key: &str) -> Option<&Map> {
        self.map.get(key).and_then(Value::as_map)
    }
}

impl EventView for JsonEvent {
    fn timestamp(&self) -> Val<'_> {
        self.map.get("@timestamp").map_or(Val::Null, Val::of)
    }

    fn timestamp_text(&self) -> Option<Arc<str>> {
        self.ts.clone()
    }

    fn dataset_action(&self) -> (Option<&str>, Option<&str>) {
        match self.dict("event") {
            Some(ev) => (
                ev.get("dataset").and_then(Value::as_str),
                ev.get("action").and_then(Value::as_str),
            ),
            None => (None, None),
        }
    }

    fn event_id(&self) -> Val<'_> {
        self.envelope("event", "id")
    }

    fn organization_id(&self) -> Option<Val<'_>> {
        self.dict("organization")
            .map(|o| o.get("id").map_or(Val::Null, Val::of))
    }

    fn obj(&self, key: &str) -> Obj {
        match self.map.get(key) {
            None => Obj::Absent,
            Some(Value::Map(_)) => Obj::Dict,
            Some(_) => Obj::Other,
        }
    }

    fn read(&self, path: &FieldPath) -> Val<'_> {
        read_map(&self.map, path)
    }

    fn end(&self, dest: bool) -> End<'_> {
        let key = if dest { "destination" } else { "source" };
        let obj = self.obj(key);
        let d = self.dict(key);
        End {
            obj,
            ip: d.and_then(|d| d.get("ip")).map(Val::of),
            port: d.and_then(|d| d.get("port")).map(Val::of),
        }
    }

    fn envelope(&self, obj: &str, key: &str) -> Val<'_> {
        self.dict(obj)
            .and_then(|d| d.get(key))
            .map_or(Val::Null, Val::of)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use icssa_core::map;

    fn event() -> Map {
        let items = Value::List(vec![
            Value::Map(map! {"area" => "Q"}),
            Value::Map(map! {"area" => 3u8}),
            Value::List(vec![1u8.into()]),
            Value::Map(map! {"x" => 1u8}),
            Value::Map(map! {"area" => Value::Null}),
            Value::Map(map! {"area" => Value::List(vec!["P".into(), "Q".into()])}),
            "str".into(),
            Value::Map(map! {"area" => Value::Map(map! {"k" => 1u8})}),
        ]);
        map! {
            "s7comm" => Value::Map(map! {"items" => items}),
            "a" => Value::Null,
            "b" => Value::List(vec![Value::Map(map! {"c" => 1u8}), Value::Map(map! {"c" => Value::List(vec![2u8.into(), 3u8.into()])})]),
            "d" => 5u8,
        }
    }

    fn read(m: &Map, path: &str) -> String {
        let mut s = String::new();
        crate::value::py_repr(&read_map(m, &FieldPath::new(path)), &mut s);
        s
    }

    #[test]
    fn paths_read_as_the_python_getters_read_them() {
        // expected: repr(correlation.fields.getter(path)(event)) of the same event
        let m = event();
        assert_eq!(
            read(&m, "s7comm.items.area"),
            "['Q', 3, 'P', 'Q', {'k': 1}]"
        );
        assert_eq!(read(&m, "a"), "None");
        assert_eq!(read(&m, "a.x"), "MISSING");
        assert_eq!(read(&m, "b.c"), "[1, 2, 3]");
        assert_eq!(read(&m, "d.x"), "MISSING");
        assert_eq!(read(&m, "missing"), "MISSING");
        assert_eq!(read(&m, "s7comm.items.area.k"), "[1]");
    }

    #[test]
    fn compiled_reads_raise_where_the_generated_test_subscripts() {
        let e = JsonEvent::new(
            map! {"source" => Value::Map(map! {"port" => 1u8}), "network" => Value::Null},
        );
        assert!(e.read_compiled(&FieldPath::new("source.ip")).is_err()); // KeyError
        assert!(e.read_compiled(&FieldPath::new("source.mac")).is_ok()); // .get
        assert!(e
            .read_compiled(&FieldPath::new("destination.port"))
            .is_err()); // no destination
        assert!(e
            .read_compiled(&FieldPath::new("network.transport"))
            .is_ok()); // None: .get of {}
        assert!(e.read_compiled(&FieldPath::new("source")).is_ok()); // one part: e.get
    }
}
