//! The alert document (`correlation/document.py`, DESIGN.md's alert contract, ECS names) built
//! from an alert, its id the BLAKE2b-128 of the rule id, the group key's Python `repr` and the
//! first evidence id.

use crate::alerts::OpenAlert;
use crate::value::{py_str, tuple_repr, Val};
use blake2::digest::{Update, VariableOutput};
use icssa_core::json::{Map, Value};

/// The parts of a rule's documents that never change.
#[derive(Debug, Clone)]
pub struct RuleDoc {
    pub id: String,
    pub title: String,
    pub severity: Value,
    /// `rule`: id, name, description, reference, ruleset, version, category
    pub rule: Map,
    /// `threat`: framework, technique, tactic
    pub threat: Map,
    pub tags: Value,
}

/// What documents need besides the alert.
#[derive(Debug, Clone, Default)]
pub struct Doc {
    pub rules: Vec<RuleDoc>,
    pub attack_version: String,
}

/// `alert_id`: `blake2b(f"{rule_id}\0{key!r}\0{first}", digest_size=16).hexdigest()`.
pub fn alert_id(rule_id: &str, key_repr: &str, first: &str) -> String {
    let mut h = blake2::Blake2bVar::new(16).expect("16 is a valid BLAKE2b digest size");
    h.update(rule_id.as_bytes());
    h.update(b"\x00");
    h.update(key_repr.as_bytes());
    h.update(b"\x00");
    h.update(first.as_bytes());
    let mut out = [0u8; 16];
    h.finalize_variable(&mut out)
        .expect("the buffer has the digest's size");
    icssa_core::text::hex(&out)
}

fn s(x: &str) -> Value {
    Value::Str(x.to_owned().into())
}

/// `_end(obj)`: `ip` and `port` of an alert's source or destination (those it has).
fn end(obj: &Option<(Option<Value>, Option<Value>)>) -> Map {
    let mut m = Map::new();
    if let Some((ip, port)) = obj {
        if let Some(ip) = ip {
            m.push("ip", ip.clone());
        }
        if let Some(port) = port {
            m.push("port", port.clone());
        }
    }
    m
}

/// `{src_ip or '?'}` of the message.
fn or_what(obj: &Option<(Option<Value>, Option<Value>)>, out: &mut String) {
    match obj.as_ref().and_then(|(ip, _)| ip.as_ref()) {
        Some(v) if v.truthy() => py_str(&Val::of(v), out),
        _ => out.push('?'),
    }
}

/// The alert as DESIGN.md's contract describes it.
pub fn document(a: &OpenAlert, doc: &Doc) -> Map {
    let rule = &doc.rules[a.rule];
    let evidence: Vec<Value> = a.evidence.iter().map(|e| s(e)).collect();
    let first: &str = a.evidence.first().map_or(&a.start_ts, |e| e);
    let mut key_repr = String::new();
    tuple_repr(&a.key, &mut key_repr);
    let count = a.count;
    let mut group = Map::new();
    for (name, value) in a.group.iter().zip(a.key.iter().skip(1)) {
        group.set(name.to_string(), value.to_value());
    }
    let mut extra = Map::with_capacity(7);
    extra.push("count", Value::Int(count));
    extra.push(
        "evidence_truncated",
        Value::Bool(count > evidence.len() as i64),
    );
    extra.push("group", Value::Map(group));
    extra.push("attack_version", s(&doc.attack_version));
    if !a.values.is_empty() {
        extra.push("distinct", Value::Int(a.distinct));
        extra.push(
            "values",
            Value::List(a.values.iter().map(|(_, v)| v.to_value()).collect()),
        );
    }
    if !a.steps.is_empty() {
        extra.push(
            "sequence",
            Value::List(a.steps.iter().map(|x| s(x)).collect()),
        );
    }
    let mut message = String::with_capacity(rule.title.len() + 48);
    message.push_str(&rule.title);
    message.push_str(": ");
    or_what(&a.origin.src, &mut message);
    message.push_str(" -> ");
    or_what(&a.origin.dst, &mut message);
    message.push_str(" (");
    message.push_str(itoa::Buffer::new().format(count));
    message.push_str(if count != 1 { " events)" } else { " event)" });
    let mut event = Map::with_capacity(9);
    event.push("id", alert_id(&rule.id, &key_repr, first));
    event.push("kind", "alert");
    event.push("dataset", "icssa.alert");
    event.push("module", "correlation");
    event.push("severity", rule.severity.clone());
    event.push("action", s(&rule.id));
    event.push("count", Value::Int(count));
    event.push("start", s(&a.start_ts));
    event.push("end", s(&a.end_ts));
    let mut ips: Vec<&str> = a.ips.iter().map(|x| &**x).collect();
    ips.sort_unstable();
    let mut related = Map::with_capacity(2);
    related.push("events", Value::List(evidence));
    related.push("ip", Value::List(ips.into_iter().map(s).collect()));
    let mut out = Map::with_capacity(13);
    out.push("@timestamp", s(&a.trigger_ts));
    out.push("message", message);
    out.push("event", Value::Map(event));
    out.push("rule", Value::Map(rule.rule.clone()));
    out.push("threat", Value::Map(rule.threat.clone()));
    out.push("source", Value::Map(end(&a.origin.src)));
    out.push("destination", Value::Map(end(&a.origin.dst)));
    out.push("related", Value::Map(related));
    out.push(
        "organization",
        Value::Map(icssa_core::map! {"id" => a.origin.org.clone()}),
    );
    out.push(
        "observer",
        Value::Map(icssa_core::map! {"name" => a.origin.observer.clone()}),
    );
    out.push("tags", rule.tags.clone());
    out.push(
        "icssa",
        Value::Map(icssa_core::map! {"alert" => Value::Map(extra)}),
    );
    if a.origin.community_id.truthy() {
        out.push(
            "network",
            Value::Map(icssa_core::map! {"community_id" => a.origin.community_id.clone()}),
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn alert_ids_are_python_blake2b_of_the_key_repr() {
        // expected: correlation.document.alert_id("modbus-force-listen-only",
        //   ("default", "10.100.0.17", "10.1.0.5"), "5dd96ed20a87-171-1"), the first alert of
        //   /work/notes/ref/big100k/alerts.jsonl
        assert_eq!(
            alert_id(
                "modbus-force-listen-only",
                "('default', '10.100.0.17', '10.1.0.5')",
                "5dd96ed20a87-171-1"
            ),
            "2a1b310ae063a45bc5504747c65b5577"
        );
    }
}
