//! The rules document (`native/tools/correlation_rules.py`): the loaded rules as the engine
//! runs them, with the parts of their alert documents that never change.

use crate::cond::{Cond, Fields, Lit};
use crate::parse::{literal, Parser};
use crate::value::Num;
use icssa_core::json::{Map, Value};
use serde_json::Value as J;

/// What a rule's detector does.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum RuleKind {
    Match,
    Threshold,
    Sequence,
    FirstSeen,
    Rate,
}

#[derive(Debug, Clone)]
pub struct Threshold {
    pub count: usize,
    pub window: f64,
    pub group_by: Vec<u32>,
    pub distinct: Option<u32>,
}

#[derive(Debug, Clone)]
pub struct Sequence {
    pub window: f64,
    pub group_by: Vec<u32>,
    pub steps: Vec<(String, Cond)>,
}

#[derive(Debug, Clone)]
pub struct FirstSeen {
    pub key: Vec<u32>,
    pub known: Vec<u32>,
}

#[derive(Debug, Clone)]
pub struct Rate {
    pub window: f64,
    pub group_by: Vec<u32>,
    pub factor: f64,
    pub min_count: i128,
}

/// A loaded rule (`correlation.model.Rule`).
#[derive(Debug, Clone)]
pub struct Rule {
    pub id: String,
    pub title: String,
    pub kind: RuleKind,
    pub severity: Value,
    pub match_: Cond,
    pub threshold: Option<Threshold>,
    pub sequence: Option<Sequence>,
    pub first_seen: Option<FirstSeen>,
    pub rate: Option<Rate>,
    pub aggregate_window: f64,
    pub aggregate_group_by: Vec<u32>,
    pub suppress_window: f64,
    pub suppress_group_by: Vec<u32>,
    /// the earlier rule whose detector this one shares (same logic)
    pub shares: Option<usize>,
    /// `rule`, `threat` and `tags` of its alert documents
    pub doc_rule: Map,
    pub doc_threat: Map,
    pub doc_tags: Value,
}

/// The rules of a document, their field paths, and the datasets events may carry.
pub struct RuleSet {
    pub rules: Vec<Rule>,
    pub fields: Fields,
    pub datasets: Vec<String>,
    pub attack_version: String,
}

fn get<'j>(j: &'j J, key: &str) -> Result<&'j J, String> {
    j.get(key)
        .ok_or_else(|| format!("rules document: '{key}' is missing"))
}

fn text(j: &J, key: &str) -> Result<String, String> {
    get(j, key)?
        .as_str()
        .map(str::to_owned)
        .ok_or_else(|| format!("rules document: '{key}' is not text"))
}

fn float(j: &J, key: &str) -> Result<f64, String> {
    match literal(get(j, key)?)? {
        Lit::Num(n) => Ok(n.as_f64()),
        other => Err(format!(
            "rules document: '{key}' is not a number: {other:?}"
        )),
    }
}

fn strings(j: &J) -> Vec<Value> {
    j.as_array()
        .map(|a| {
            a.iter()
                .filter_map(J::as_str)
                .map(|s| Value::Str(s.to_owned().into()))
                .collect()
        })
        .unwrap_or_default()
}

fn fields_of(j: &J, key: &str, fields: &mut Fields) -> Result<Vec<u32>, String> {
    let a = get(j, key)?
        .as_array()
        .ok_or_else(|| format!("rules document: '{key}' is not a list"))?;
    Ok(a.iter()
        .filter_map(J::as_str)
        .map(|f| fields.intern(f))
        .collect())
}

/// ATT&CK ids, names and references of a rule: `{"id": [...], "name": [...], "reference": [...]}`.
fn attack(j: &J) -> Map {
    let mut m = Map::new();
    for key in ["id", "name", "reference"] {
        m.push(
            key,
            Value::List(j.get(key).map(strings).unwrap_or_default()),
        );
    }
    m
}

/// Reads the rules document.
pub fn read(doc: &J) -> Result<RuleSet, String> {
    let mut fields = Fields::default();
    let datasets: Vec<String> = get(doc, "datasets")?
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(J::as_str)
        .map(str::to_owned)
        .collect();
    let att = get(doc, "attack")?;
    let framework = text(att, "framework")?;
    let attack_version = text(att, "version")?;
    let mut rules = Vec::new();
    let list = get(doc, "rules")?
        .as_array()
        .ok_or("rules document: 'rules' is not a list")?;
    for r in list {
        let mut p = Parser::new(&mut fields);
        let match_ = p.cond(get(r, "match")?)?;
        let kind = match text(r, "kind")?.as_str() {
            "match" => RuleKind::Match,
            "threshold" => RuleKind::Threshold,
            "sequence" => RuleKind::Sequence,
            "first_seen" => RuleKind::FirstSeen,
            "rate" => RuleKind::Rate,
            other => return Err(format!("rules document: unknown kind {other:?}")),
        };
        let threshold = match r.get("threshold").filter(|t| !t.is_null()) {
            None => None,
            Some(t) => Some(Threshold {
                count: get(t, "count")?.as_u64().ok_or("threshold count")? as usize,
                window: float(t, "window")?,
                group_by: fields_of(t, "group_by", p.fields)?,
                distinct: t
                    .get("distinct")
                    .and_then(J::as_str)
                    .map(|d| p.fields.intern(d)),
            }),
        };
        let sequence = match r.get("sequence").filter(|s| !s.is_null()) {
            None => None,
            Some(s) => {
                let mut steps = Vec::new();
                for st in get(s, "steps")?.as_array().ok_or("sequence steps")? {
                    steps.push((text(st, "name")?, p.cond(get(st, "match")?)?));
                }
                Some(Sequence {
                    window: float(s, "window")?,
                    group_by: fields_of(s, "group_by", p.fields)?,
                    steps,
                })
            }
        };
        let first_seen = match r.get("first_seen").filter(|f| !f.is_null()) {
            None => None,
            Some(f) => Some(FirstSeen {
                key: fields_of(f, "key", p.fields)?,
                known: fields_of(f, "known", p.fields)?,
            }),
        };
        let rate = match r.get("rate").filter(|x| !x.is_null()) {
            None => None,
            Some(x) => Some(Rate {
                window: float(x, "window")?,
                group_by: fields_of(x, "group_by", p.fields)?,
                factor: float(x, "factor")?,
                min_count: match literal(get(x, "min_count")?)? {
                    Lit::Num(Num::Int(i)) => i,
                    other => return Err(format!("rules document: min_count {other:?}")),
                },
            }),
        };
        let has_spec = match kind {
            RuleKind::Match => true,
            RuleKind::Threshold => threshold.is_some(),
            RuleKind::Sequence => sequence.is_some(),
            RuleKind::FirstSeen => first_seen.is_some(),
            RuleKind::Rate => rate.is_some(),
        };
        if !has_spec {
            return Err(format!("rules document: a {kind:?} rule without its spec"));
        }
        let agg = get(r, "aggregate")?;
        let sup = get(r, "suppress")?;
        let id = text(r, "id")?;
        let title = text(r, "title")?;
        let mut doc_rule = Map::new();
        doc_rule.push("id", Value::Str(id.clone().into()));
        doc_rule.push("name", Value::Str(title.clone().into()));
        doc_rule.push("description", Value::Str(text(r, "description")?.into()));
        doc_rule.push("reference", Value::Str(text(r, "reference")?.into()));
        doc_rule.push("ruleset", Value::Str(text(r, "ruleset")?.into()));
        doc_rule.push("version", Value::Str(text(r, "version")?.into()));
        doc_rule.push("category", Value::Str(text(r, "kind")?.into()));
        let mut doc_threat = Map::new();
        doc_threat.push("framework", Value::Str(framework.clone().into()));
        doc_threat.push("technique", Value::Map(attack(get(r, "technique")?)));
        doc_threat.push("tactic", Value::Map(attack(get(r, "tactic")?)));
        rules.push(Rule {
            severity: icssa_core::Value::from(get(r, "severity")?.as_i64().ok_or("severity")?),
            kind,
            match_,
            threshold,
            sequence,
            first_seen,
            rate,
            aggregate_window: float(agg, "window")?,
            aggregate_group_by: fields_of(agg, "group_by", &mut fields)?,
            suppress_window: float(sup, "window")?,
            suppress_group_by: fields_of(sup, "group_by", &mut fields)?,
            shares: r.get("shares").and_then(J::as_u64).map(|s| s as usize),
            doc_rule,
            doc_threat,
            doc_tags: Value::List(strings(get(r, "tags")?)),
            id,
            title,
        });
    }
    Ok(RuleSet {
        rules,
        fields,
        datasets,
        attack_version,
    })
}
