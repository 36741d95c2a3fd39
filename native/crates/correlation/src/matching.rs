//! The transforms the engine applies to conditions (`correlation/matching.py`): the
//! dataset/action values a rule pins (the engine's index), and the specialisation of a
//! condition for one (dataset, action) bucket.

use crate::cond::{Cond, Fields, Kind, Op};
use crate::value::Val;
use std::collections::HashSet;
use std::rc::Rc;

/// The top-level AND terms of a condition.
pub fn conjuncts(cond: &Cond) -> Vec<Cond> {
    match cond {
        Cond::Group(Kind::All, children) => children.iter().flat_map(conjuncts).collect(),
        other => vec![other.clone()],
    }
}

/// Values a top-level equality/set on field `field` allows, and the condition without it
/// (None and the condition itself when it does not pin the field).
pub fn index_values(cond: &Cond, field: u32) -> (Option<HashSet<Box<str>>>, Cond) {
    let terms = conjuncts(cond);
    for (i, t) in terms.iter().enumerate() {
        let Cond::Field(f) = t else { continue };
        if f.field != field || f.exists.is_some() || f.negate || f.ops.len() != 1 {
            continue;
        }
        let values: Option<Vec<&str>> = match &f.ops[0] {
            Op::Eq(lit) => lit_str(lit).map(|s| vec![s]),
            Op::In { bools, nums, strs } if bools.is_empty() && nums.is_empty() => {
                Some(strs.iter().map(|s| &**s).collect())
            }
            _ => continue,
        };
        let Some(values) = values else { continue };
        let mut rest = terms.clone();
        rest.remove(i);
        let remaining = if rest.len() == 1 {
            rest.pop().unwrap_or_else(Cond::truth)
        } else {
            Cond::Group(Kind::All, Rc::from(rest))
        };
        return (Some(values.into_iter().map(Box::from).collect()), remaining);
    }
    (None, cond.clone())
}

fn lit_str(lit: &crate::cond::Lit) -> Option<&str> {
    match lit {
        crate::cond::Lit::Str(s) => Some(s),
        _ => None,
    }
}

/// A condition specialised: decided, or what is left to test.
#[derive(Debug, Clone)]
pub enum Spec {
    Decided(bool),
    Left(Cond),
}

/// `cond` with the fields whose values are known evaluated away. `known` maps fields (an
/// event's dataset and action in a bucket) to values; fields under the top-level objects in
/// `absent` are known missing (the objects of other datasets, the context of an engine
/// without one).
pub fn specialize(
    cond: &Cond,
    known: &[(u32, &str)],
    absent: &HashSet<&str>,
    fields: &Fields,
) -> Spec {
    match cond {
        Cond::Field(f) => {
            if let Some((_, v)) = known.iter().find(|(k, _)| *k == f.field) {
                return Spec::Decided(f.check(&Val::Str(v)));
            }
            if absent.contains(fields.get(f.field).top()) {
                return Spec::Decided(f.check(&Val::Missing));
            }
            Spec::Left(cond.clone())
        }
        Cond::Group(kind, children) => {
            let specs: Vec<Spec> = children
                .iter()
                .map(|c| specialize(c, known, absent, fields))
                .collect();
            if *kind == Kind::Not {
                return match specs.into_iter().next() {
                    Some(Spec::Decided(b)) => Spec::Decided(!b),
                    Some(Spec::Left(c)) => Spec::Left(Cond::Group(Kind::Not, Rc::from(vec![c]))),
                    None => Spec::Decided(true),
                };
            }
            let stop = *kind == Kind::Any;
            if specs
                .iter()
                .any(|s| matches!(s, Spec::Decided(b) if *b == stop))
            {
                return Spec::Decided(stop);
            }
            let mut rest: Vec<Cond> = specs
                .into_iter()
                .filter_map(|s| match s {
                    Spec::Left(c) => Some(c),
                    Spec::Decided(_) => None,
                })
                .collect();
            match rest.len() {
                0 => Spec::Decided(!stop),
                1 => Spec::Left(rest.pop().unwrap_or_else(Cond::truth)),
                _ => Spec::Left(Cond::Group(*kind, Rc::from(rest))),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parse::Parser;
    use serde_json::json;

    fn f(path: &str, id: u32, ops: serde_json::Value) -> serde_json::Value {
        json!({"field": path, "id": id, "exists": null, "negate": false, "scalar_only": true, "ops": ops})
    }

    #[test]
    fn index_values_take_the_pinned_datasets_out() {
        let mut fields = Fields::default();
        let j = json!({"group": "all", "children": [
            f("event.dataset", 0, json!([{"op": "in", "bools": [], "others": ["modbus", "cotp"]}])),
            f("network.direction_to_server", 1, json!([{"op": "eq", "value": true}])),
        ]});
        let cond = Parser::new(&mut fields).cond(&j).expect("a condition");
        let ds = fields.intern("event.dataset");
        let (values, rest) = index_values(&cond, ds);
        let mut values: Vec<_> = values.expect("pinned").into_iter().collect();
        values.sort();
        assert_eq!(values, [Box::from("cotp"), Box::from("modbus")]);
        assert!(matches!(rest, Cond::Field(ref x) if x.id == 1));
        let (none, same) = index_values(&rest, ds);
        assert!(none.is_none() && same.key() == rest.key());
    }

    #[test]
    fn specialise_decides_what_the_bucket_knows() {
        // any(all(dataset == modbus, port != 502), all(dataset == cotp, action == connection_request))
        let mut fields = Fields::default();
        let mut not502 = f("destination.port", 1, json!([{"op": "eq", "value": 502}]));
        not502["negate"] = json!(true);
        let j = json!({"group": "any", "children": [
            {"group": "all", "children": [f("event.dataset", 0, json!([{"op": "eq", "value": "modbus"}])), not502]},
            {"group": "all", "children": [f("event.dataset", 2, json!([{"op": "eq", "value": "cotp"}])),
                                          f("event.action", 3, json!([{"op": "eq", "value": "connection_request"}]))]},
        ]});
        let cond = Parser::new(&mut fields).cond(&j).expect("a condition");
        let (ds, act) = (
            fields.intern("event.dataset"),
            fields.intern("event.action"),
        );
        let absent = HashSet::new();
        match specialize(
            &cond,
            &[(ds, "modbus"), (act, "read_coils")],
            &absent,
            &fields,
        ) {
            Spec::Left(Cond::Field(x)) => assert_eq!(x.id, 1),
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            specialize(
                &cond,
                &[(ds, "cotp"), (act, "connection_request")],
                &absent,
                &fields
            ),
            Spec::Decided(true)
        ));
        assert!(matches!(
            specialize(&cond, &[(ds, "opcua")], &absent, &fields),
            Spec::Decided(false)
        ));
        // the port of an absent object is missing: != 502 holds
        let gone: HashSet<&str> = ["destination"].into_iter().collect();
        assert!(matches!(
            specialize(&cond, &[(ds, "modbus")], &gone, &fields),
            Spec::Decided(true)
        ));
    }
}
