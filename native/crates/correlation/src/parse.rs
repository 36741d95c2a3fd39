//! Conditions from the rules document (`native/tools/correlation_rules.py`): field tests,
//! groups, operators and literals as the Python loader built them.

use crate::cond::{Bound, Cond, FieldCond, Fields, Kind, Lit, Op};
use crate::net::Net;
use crate::value::Num;
use serde_json::Value as J;
use std::collections::HashMap;
use std::rc::Rc;

/// Reads conditions of the rules document (`native/tools/correlation_rules.py`); field tests
/// with the same id are shared.
pub struct Parser<'f> {
    pub fields: &'f mut Fields,
    seen: HashMap<u32, Rc<FieldCond>>,
}

impl<'f> Parser<'f> {
    pub fn new(fields: &'f mut Fields) -> Self {
        Parser {
            fields,
            seen: HashMap::new(),
        }
    }

    pub fn cond(&mut self, j: &J) -> Result<Cond, String> {
        if let Some(kind) = j.get("group") {
            let kind = match kind.as_str() {
                Some("all") => Kind::All,
                Some("any") => Kind::Any,
                Some("not") => Kind::Not,
                other => return Err(format!("unknown group {other:?}")),
            };
            let children = arr(j, "children")?
                .iter()
                .map(|c| self.cond(c))
                .collect::<Result<Vec<_>, _>>()?;
            return Ok(Cond::Group(kind, Rc::from(children)));
        }
        let id = j
            .get("id")
            .and_then(J::as_u64)
            .ok_or("a field test without an id")? as u32;
        if let Some(f) = self.seen.get(&id) {
            return Ok(Cond::Field(f.clone()));
        }
        let path = j
            .get("field")
            .and_then(J::as_str)
            .ok_or("a field test without a field")?;
        let ops = arr(j, "ops")?
            .iter()
            .map(op)
            .collect::<Result<Vec<_>, _>>()?;
        let f = Rc::new(FieldCond {
            field: self.fields.intern(path),
            ops,
            exists: j.get("exists").and_then(J::as_bool),
            negate: j.get("negate").and_then(J::as_bool).unwrap_or(false),
            scalar_only: j.get("scalar_only").and_then(J::as_bool).unwrap_or(false),
            id,
        });
        self.seen.insert(id, f.clone());
        Ok(Cond::Field(f))
    }
}

fn arr<'j>(j: &'j J, key: &str) -> Result<&'j Vec<J>, String> {
    j.get(key)
        .and_then(J::as_array)
        .ok_or_else(|| format!("'{key}' is not a list"))
}

fn op(j: &J) -> Result<Op, String> {
    let kind = j.get("op").and_then(J::as_str).unwrap_or("");
    let text = |key: &str| -> Result<Box<str>, String> {
        j.get(key)
            .and_then(J::as_str)
            .map(Box::from)
            .ok_or_else(|| format!("{kind}: '{key}' is not text"))
    };
    Ok(match kind {
        "eq" => Op::Eq(literal(j.get("value").unwrap_or(&J::Null))?),
        "in" => {
            let mut nums = Vec::new();
            let mut strs = Vec::new();
            for lit in arr(j, "others")?.iter().map(literal) {
                match lit? {
                    Lit::Num(n) => nums.push(n),
                    Lit::Str(s) => strs.push(s),
                    Lit::Bool(_) => return Err("a bool among the other members of a set".into()),
                }
            }
            Op::In {
                bools: arr(j, "bools")?.iter().filter_map(J::as_bool).collect(),
                nums,
                strs,
            }
        }
        "range" => Op::Range(
            arr(j, "bounds")?
                .iter()
                .map(|b| {
                    let kind = match b.get(0).and_then(J::as_str) {
                        Some("gt") => Bound::Gt,
                        Some("gte") => Bound::Gte,
                        Some("lt") => Bound::Lt,
                        Some("lte") => Bound::Lte,
                        other => return Err(format!("unknown bound {other:?}")),
                    };
                    match literal(b.get(1).unwrap_or(&J::Null))? {
                        Lit::Num(n) => Ok((kind, n)),
                        other => Err(format!("a bound that is not a number: {other:?}")),
                    }
                })
                .collect::<Result<_, _>>()?,
        ),
        "regex" => Op::Regex(Box::new(crate::pyre::compile(&text("pattern")?)?)),
        "cidr" => Op::Cidr(
            arr(j, "networks")?
                .iter()
                .map(network)
                .collect::<Result<_, _>>()?,
        ),
        "contains" => Op::Contains(text("value")?),
        "startswith" => Op::StartsWith(text("value")?),
        "endswith" => Op::EndsWith(text("value")?),
        other => return Err(format!("unknown operator {other:?}")),
    })
}

/// A literal of the document (`correlation_rules.literal`).
pub fn literal(j: &J) -> Result<Lit, String> {
    Ok(match j {
        J::Bool(b) => Lit::Bool(*b),
        J::String(s) => Lit::Str(s.as_str().into()),
        J::Number(n) => Lit::Num(number(n)),
        J::Object(o) => match (
            o.get("int").and_then(J::as_str),
            o.get("float").and_then(J::as_str),
        ) {
            // beyond 128 bits an int compares with event values (64-bit) as the extreme does
            (Some(digits), _) => Lit::Num(Num::Int(digits.parse::<i128>().unwrap_or(
                if digits.starts_with('-') {
                    i128::MIN
                } else {
                    i128::MAX
                },
            ))),
            (_, Some("inf")) => Lit::Num(Num::Float(f64::INFINITY)),
            (_, Some("-inf")) => Lit::Num(Num::Float(f64::NEG_INFINITY)),
            (_, Some(_)) => Lit::Num(Num::Float(f64::NAN)),
            _ => return Err(format!("not a literal: {j}")),
        },
        _ => return Err(format!("not a literal: {j}")),
    })
}

/// A JSON number: an int when written without a fraction or exponent.
pub fn number(n: &serde_json::Number) -> Num {
    if let Some(i) = n.as_i64() {
        Num::Int(i.into())
    } else if let Some(u) = n.as_u64() {
        Num::Int(u.into())
    } else {
        Num::Float(n.as_f64().unwrap_or(f64::NAN))
    }
}

/// `[version, network, netmask]` with the integers as decimal text.
pub fn network(j: &J) -> Result<Net, String> {
    let int = |i: usize| -> Result<u128, String> {
        j.get(i)
            .and_then(J::as_str)
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| format!("bad network {j}"))
    };
    let version = j
        .get(0)
        .and_then(J::as_u64)
        .ok_or_else(|| format!("bad network {j}"))? as u8;
    Ok(Net {
        version,
        network: int(1)?,
        netmask: int(2)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::value::Val;
    use crate::view::Raise;
    use icssa_core::json::Value;
    use serde_json::json;

    fn field(fields: &mut Fields, j: J) -> Rc<FieldCond> {
        match Parser::new(fields).cond(&j).expect("a condition") {
            Cond::Field(f) => f,
            Cond::Group(..) => panic!("a field test"),
        }
    }

    fn test(ops: J, scalar_only: bool) -> Rc<FieldCond> {
        let j = json!({"field": "x.y", "id": 0, "exists": null, "negate": false, "scalar_only": scalar_only, "ops": ops});
        field(&mut Fields::default(), j)
    }

    #[test]
    fn equality_keeps_bools_apart() {
        // conditions.Eq: True never equals 1; 1 equals 1.0
        let t = test(json!([{"op": "eq", "value": true}]), true);
        assert!(t.check(&Val::Bool(true)) && !t.check(&Val::Int(1)));
        let one = test(json!([{"op": "eq", "value": 1}]), true);
        assert!(
            one.check(&Val::Float(1.0))
                && !one.check(&Val::Bool(true))
                && !one.check(&Val::Str("1"))
        );
    }

    #[test]
    fn sets_ranges_and_lists() {
        let set = test(json!([{"op": "in", "bools": [], "others": [1, "a"]}]), true);
        assert!(
            set.check(&Val::Float(1.0))
                && set.check(&Val::Str("a"))
                && !set.check(&Val::Bool(true))
        );
        let list = Value::List(vec![1u8.into()]);
        // a list on a scalar field: no value test holds; the generated test raises on the set
        assert!(!set.check(&Val::of(&list)));
        assert_eq!(set.check_compiled(&Val::of(&list)), Err(Raise));
        let flags = test(
            json!([{"op": "in", "bools": [], "others": ["bad_length"]}]),
            false,
        );
        let v = Value::List(vec!["x".into(), "bad_length".into()]);
        assert!(flags.check(&Val::of(&v)) && flags.check_compiled(&Val::of(&v)) == Ok(true));
        let range = test(
            json!([{"op": "range", "bounds": [["gt", 5], ["lte", 10.0]]}]),
            true,
        );
        assert!(range.check(&Val::Int(10)) && range.check(&Val::Float(5.000001)));
        assert!(
            !range.check(&Val::Int(5))
                && !range.check(&Val::Bool(true))
                && !range.check(&Val::Str("7"))
        );
    }

    #[test]
    fn presence_negation_and_text() {
        let mut fields = Fields::default();
        let exists = field(
            &mut fields,
            json!({"field": "a", "id": 1, "exists": true, "negate": false, "scalar_only": false, "ops": []}),
        );
        let empty = Value::List(Vec::new());
        assert!(
            !exists.check(&Val::of(&empty))
                && !exists.check(&Val::Null)
                && exists.check(&Val::Int(0))
        );
        let not_502 = field(
            &mut fields,
            json!({"field": "b", "id": 2, "exists": null, "negate": true, "scalar_only": true, "ops": [{"op": "eq", "value": 502}]}),
        );
        assert!(not_502.check(&Val::Missing) && !not_502.check(&Val::Int(502)));
        let rx = test(json!([{"op": "regex", "pattern": "^(?!pending$)"}]), false);
        let v = Value::List(vec!["pending".into(), "bad".into()]);
        assert!(rx.check(&Val::of(&v)) && !rx.check(&Val::Str("pending")));
        // 10.0.0.0/8
        let cidr = test(
            json!([{"op": "cidr", "networks": [[4, "167772160", "4278190080"]]}]),
            true,
        );
        assert!(
            cidr.check(&Val::Str("10.2.3.4"))
                && !cidr.check(&Val::Str("11.0.0.1"))
                && !cidr.check(&Val::Str("010.1.1.1"))
        );
        let ends = test(
            json!([{"op": "endswith", "value": ".ip"}, {"op": "startswith", "value": "source"}]),
            true,
        );
        assert!(ends.check(&Val::Str("source.ip")) && !ends.check(&Val::Str("destination.ip")));
    }

    #[test]
    fn groups_short_circuit_and_share_field_tests() {
        let mut fields = Fields::default();
        let j = json!({"group": "any", "children": [
            {"field": "a", "id": 7, "exists": true, "negate": false, "scalar_only": false, "ops": []},
            {"group": "not", "children": [{"field": "a", "id": 7, "exists": true, "negate": false, "scalar_only": false, "ops": []}]}
        ]});
        let cond = Parser::new(&mut fields).cond(&j).expect("a condition");
        assert_eq!(fields.paths.len(), 1);
        let mut asked = 0;
        assert!(cond.test(&mut |f| {
            asked += 1;
            f.check(&Val::Int(1))
        }));
        assert_eq!(asked, 1); // any stops at the first that holds
        assert_eq!(cond.key(), cond.clone().key());
    }
}
