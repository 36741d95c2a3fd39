//! Match conditions (`correlation/conditions.py`): the tree a rule's `match` block compiles
//! to (read from the rules document by `parse`), with Python's semantics for every value type.
//!
//! A field test holds when its operators all hold (`check`); a list value holds when one
//! element does (unless the field is one of `vocab.SCALAR_FIELDS`, where a list never does);
//! an absent field satisfies only `exists: false` and negations. `check_compiled` is the same
//! test as the generated bucket code runs it: it raises (`Raise`) where that code raises (a set
//! membership of a list or a dict), and the engine then asks the interpreter (`check`).

use crate::net::{ip_address, Net};
use crate::value::{Num, Val};
use crate::view::{FieldPath, Raise};
use std::collections::HashMap;
use std::rc::Rc;

/// A rule literal.
#[derive(Debug, Clone, PartialEq)]
pub enum Lit {
    Bool(bool),
    Num(Num),
    Str(Box<str>),
}

impl Lit {
    /// Python's `x == lit` for a value that is not a bool (numbers exactly, strings).
    fn eq_val(&self, x: &Val) -> bool {
        match self {
            Lit::Bool(_) => false,
            Lit::Num(n) => x
                .num()
                .is_some_and(|v| v.py_cmp(*n) == Some(std::cmp::Ordering::Equal)),
            Lit::Str(s) => x.as_str() == Some(s),
        }
    }
}

/// A range bound.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Bound {
    Gt,
    Gte,
    Lt,
    Lte,
}

/// A test of one scalar value (`conditions.Op`).
#[derive(Debug)]
pub enum Op {
    Eq(Lit),
    /// a set: its bools, numbers and strings
    In {
        bools: Vec<bool>,
        nums: Vec<Num>,
        strs: Vec<Box<str>>,
    },
    Range(Vec<(Bound, Num)>),
    Regex(Box<fancy_regex::Regex>),
    Cidr(Vec<Net>),
    Contains(Box<str>),
    StartsWith(Box<str>),
    EndsWith(Box<str>),
}

impl Op {
    /// `Op.test(x)`.
    pub fn test(&self, x: &Val) -> bool {
        match self {
            Op::Eq(Lit::Bool(b)) => matches!(x, Val::Bool(v) if v == b),
            Op::Eq(lit) => !matches!(x, Val::Bool(_)) && lit.eq_val(x),
            Op::In { bools, nums, strs } => match x {
                Val::Bool(v) => bools.contains(v),
                _ => match (x.num(), x.as_str()) {
                    (Some(v), _) => nums
                        .iter()
                        .any(|&n| v.py_cmp(n) == Some(std::cmp::Ordering::Equal)),
                    (_, Some(s)) => strs.iter().any(|t| **t == *s),
                    _ => false,
                },
            },
            Op::Range(bounds) => match x.num() {
                Some(v) => bounds.iter().all(|&(kind, b)| {
                    let o = v.py_cmp(b);
                    match kind {
                        Bound::Gt => o == Some(std::cmp::Ordering::Greater),
                        Bound::Gte => matches!(
                            o,
                            Some(std::cmp::Ordering::Greater | std::cmp::Ordering::Equal)
                        ),
                        Bound::Lt => o == Some(std::cmp::Ordering::Less),
                        Bound::Lte => matches!(
                            o,
                            Some(std::cmp::Ordering::Less | std::cmp::Ordering::Equal)
                        ),
                    }
                }),
                None => false,
            },
            Op::Regex(rx) => x.as_str().is_some_and(|s| rx.is_match(s).unwrap_or(false)),
            Op::Cidr(nets) => x
                .as_str()
                .and_then(ip_address)
                .is_some_and(|addr| nets.iter().any(|n| n.contains(addr))),
            Op::Contains(v) => x.as_str().is_some_and(|s| s.contains(&**v)),
            Op::StartsWith(v) => x.as_str().is_some_and(|s| s.starts_with(&**v)),
            Op::EndsWith(v) => x.as_str().is_some_and(|s| s.ends_with(&**v)),
        }
    }

    /// The test as generated code runs it: a set membership (without bools in the set) of an
    /// unhashable value raises.
    fn test_compiled(&self, x: &Val) -> Result<bool, Raise> {
        if let Op::In { bools, .. } = self {
            if bools.is_empty() && (x.is_list() || x.is_map()) {
                return Err(Raise);
            }
        }
        Ok(self.test(x))
    }
}

/// Ops (all required) on one field; `exists` None means "value tests", else presence.
#[derive(Debug)]
pub struct FieldCond {
    /// index of the path in the engine's field table
    pub field: u32,
    pub ops: Vec<Op>,
    pub exists: Option<bool>,
    pub negate: bool,
    pub scalar_only: bool,
    /// equal for two field tests exactly when their Python `key()` is
    pub id: u32,
}

impl FieldCond {
    /// `FieldCond.check(value)`.
    pub fn check(&self, v: &Val) -> bool {
        let hit = if let Some(exists) = self.exists {
            v.present() == exists
        } else if v.is_list() {
            !self.scalar_only && self.any_of(v)
        } else if v.is_none() {
            false
        } else {
            self.ops.iter().all(|op| op.test(v))
        };
        hit != self.negate
    }

    /// The check as the generated bucket code makes it.
    pub fn check_compiled(&self, v: &Val) -> Result<bool, Raise> {
        let hit = if let Some(exists) = self.exists {
            v.present() == exists
        } else if v.is_list() && !self.scalar_only {
            self.any_of(v)
        } else {
            let mut all = true;
            for op in &self.ops {
                if !op.test_compiled(v)? {
                    all = false;
                    break;
                }
            }
            all
        };
        Ok(hit != self.negate)
    }

    fn any_of(&self, v: &Val) -> bool {
        v.elements()
            .iter()
            .any(|x| self.ops.iter().all(|op| op.test(x)))
    }
}

/// `all` / `any` of children, or `not` of one child.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kind {
    All,
    Any,
    Not,
}

/// A node of the condition tree.
#[derive(Debug, Clone)]
pub enum Cond {
    Field(Rc<FieldCond>),
    Group(Kind, Rc<[Cond]>),
}

/// `Cond.key()`, for comparing conditions: field tests by id, groups by kind and children.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum CondKey {
    Field(u32),
    Group(Kind, Vec<CondKey>),
}

impl Cond {
    /// `TRUE`: the empty conjunction.
    pub fn truth() -> Cond {
        Cond::Group(Kind::All, Rc::from(Vec::new()))
    }

    pub fn key(&self) -> CondKey {
        match self {
            Cond::Field(f) => CondKey::Field(f.id),
            Cond::Group(kind, children) => {
                CondKey::Group(*kind, children.iter().map(Cond::key).collect())
            }
        }
    }

    /// `Cond.test(e, read)`: the interpreter (short-circuit evaluation in order); `check`
    /// answers a field test.
    pub fn test(&self, check: &mut dyn FnMut(&FieldCond) -> bool) -> bool {
        match self {
            Cond::Field(f) => check(f),
            Cond::Group(Kind::All, children) => children.iter().all(|c| c.test(check)),
            Cond::Group(Kind::Any, children) => children.iter().any(|c| c.test(check)),
            Cond::Group(Kind::Not, children) => !children.first().is_some_and(|c| c.test(check)),
        }
    }
}

/// The engine's field paths, each once.
#[derive(Debug, Default)]
pub struct Fields {
    pub paths: Vec<FieldPath>,
    index: HashMap<String, u32>,
}

impl Fields {
    pub fn intern(&mut self, path: &str) -> u32 {
        if let Some(&i) = self.index.get(path) {
            return i;
        }
        let i = self.paths.len() as u32;
        self.paths.push(FieldPath::new(path));
        self.index.insert(path.to_owned(), i);
        i
    }

    pub fn get(&self, i: u32) -> &FieldPath {
        &self.paths[i as usize]
    }
}
